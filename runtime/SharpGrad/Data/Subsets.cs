namespace SharpGrad.Data;

/// <summary>
/// The items of a data set at the given indices, in that order (PyTorch: <c>torch.utils.data.Subset</c>). Item <c>i</c> is
/// <c>dataset[indices[i]]</c>; nothing is copied.
/// </summary>
public sealed class Subset<T> : IDataset<T>
{
    private readonly int[] _indices;

    /// <summary>Wraps <paramref name="dataset"/> restricted to <paramref name="indices"/> (PyTorch: <c>Subset(dataset, indices)</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside the data set.</exception>
    public Subset(IDataset<T> dataset, IEnumerable<int> indices)
    {
        Dataset = dataset ?? throw new ArgumentNullException(nameof(dataset));
        ArgumentNullException.ThrowIfNull(indices);
        _indices = indices.ToArray();
        int n = dataset.Count;
        for (int i = 0; i < _indices.Length; i++)
        {
            if (_indices[i] < 0 || _indices[i] >= n)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), _indices[i], $"Subset: index {_indices[i]} (position {i}) is out of range for a data set of {n} items.");
            }
        }
    }

    /// <summary>The underlying data set (PyTorch: <c>subset.dataset</c>).</summary>
    public IDataset<T> Dataset { get; }

    /// <summary>The indices into <see cref="Dataset"/> (PyTorch: <c>subset.indices</c>).</summary>
    public IReadOnlyList<int> Indices => _indices;

    /// <summary>The number of items (PyTorch: <c>len(subset)</c>).</summary>
    public int Count => _indices.Length;

    /// <summary><c>Dataset[Indices[index]]</c> (PyTorch: <c>subset[index]</c>); negative indices count from the end.</summary>
    public T this[int index]
    {
        get
        {
            int n = _indices.Length;
            if (index < -n || index >= n)
            {
                throw new ArgumentOutOfRangeException(nameof(index), index, $"Subset: index {index} is out of range for a subset of {n} items.");
            }
            return Dataset[_indices[index < 0 ? index + n : index]];
        }
    }
}

/// <summary>
/// Several data sets one after another (PyTorch: <c>torch.utils.data.ConcatDataset</c>): items 0 … n₀−1 come from the first,
/// the next n₁ from the second, and so on.
/// </summary>
public sealed class ConcatDataset<T> : IDataset<T>
{
    private readonly IDataset<T>[] _datasets;
    private readonly int[] _cumulativeSizes;

    /// <summary>Concatenates <paramref name="datasets"/> (PyTorch: <c>ConcatDataset(datasets)</c>).</summary>
    /// <exception cref="ArgumentException">No data sets were given.</exception>
    public ConcatDataset(IEnumerable<IDataset<T>> datasets)
    {
        ArgumentNullException.ThrowIfNull(datasets);
        _datasets = datasets.ToArray();
        if (_datasets.Length == 0) throw new ArgumentException("ConcatDataset: datasets should not be an empty list.", nameof(datasets));
        _cumulativeSizes = new int[_datasets.Length];
        long sum = 0;
        for (int i = 0; i < _datasets.Length; i++)
        {
            if (_datasets[i] is null) throw new ArgumentNullException(nameof(datasets), $"ConcatDataset: data set {i} is null.");
            sum += _datasets[i].Count;
            if (sum > int.MaxValue) throw new ArgumentException($"ConcatDataset: the data sets hold more than {int.MaxValue} items together.", nameof(datasets));
            _cumulativeSizes[i] = (int)sum;
        }
    }

    /// <summary>Concatenates <paramref name="datasets"/>.</summary>
    public ConcatDataset(params IDataset<T>[] datasets) : this((IEnumerable<IDataset<T>>)datasets)
    {
    }

    /// <summary>The concatenated data sets (PyTorch: <c>datasets</c>).</summary>
    public IReadOnlyList<IDataset<T>> Datasets => _datasets;

    /// <summary>The running totals of the data sets' sizes (PyTorch: <c>cumulative_sizes</c>).</summary>
    public IReadOnlyList<int> CumulativeSizes => _cumulativeSizes;

    /// <summary>The total number of items (PyTorch: <c>len(dataset)</c>).</summary>
    public int Count => _cumulativeSizes[^1];

    /// <summary>The item at <paramref name="index"/> of the concatenation (PyTorch: <c>dataset[index]</c>); negative indices count from the end.</summary>
    public T this[int index]
    {
        get
        {
            int n = Count;
            if (index < -n || index >= n)
            {
                throw new ArgumentOutOfRangeException(nameof(index), index, $"ConcatDataset: index {index} is out of range for {n} items.");
            }
            if (index < 0) index += n;
            // The first data set whose running total exceeds the index (PyTorch: bisect_right).
            int lo = 0, hi = _cumulativeSizes.Length;
            while (lo < hi)
            {
                int mid = (lo + hi) / 2;
                if (_cumulativeSizes[mid] <= index) lo = mid + 1;
                else hi = mid;
            }
            int start = lo == 0 ? 0 : _cumulativeSizes[lo - 1];
            return _datasets[lo][index - start];
        }
    }
}

/// <summary>Functions on data sets (PyTorch: <c>torch.utils.data.random_split</c>).</summary>
public static class Dataset
{
    /// <summary>
    /// Splits <paramref name="dataset"/> into non-overlapping random subsets of the given <paramref name="lengths"/>, which must add up
    /// to its size (PyTorch: <c>random_split(dataset, lengths, generator)</c>). The permutation comes from <paramref name="rng"/>
    /// (default <see cref="Rng.Default"/>), so <c>Rng.ManualSeed</c> makes it reproducible (SharpGrad's stream, not PyTorch's).
    /// </summary>
    public static Subset<T>[] RandomSplit<T>(IDataset<T> dataset, IReadOnlyList<int> lengths, Rng? rng = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(lengths);
        long sum = 0;
        for (int i = 0; i < lengths.Count; i++)
        {
            if (lengths[i] < 0) throw new ArgumentException($"RandomSplit: length {lengths[i]} at index {i} is negative.", nameof(lengths));
            sum += lengths[i];
        }
        if (sum != dataset.Count)
        {
            throw new ArgumentException(
                $"RandomSplit: the lengths [{string.Join(", ", lengths)}] add up to {sum}, but the data set has {dataset.Count} items; they must be equal (or pass fractions that add up to 1).",
                nameof(lengths));
        }
        var perm = (rng ?? Rng.Default).Permutation(dataset.Count);
        var result = new Subset<T>[lengths.Count];
        int offset = 0;
        for (int i = 0; i < lengths.Count; i++)
        {
            result[i] = new Subset<T>(dataset, new ArraySegment<int>(perm, offset, lengths[i]));
            offset += lengths[i];
        }
        return result;
    }

    /// <summary>
    /// Splits <paramref name="dataset"/> by <paramref name="fractions"/> that add up to 1 (PyTorch: <c>random_split(dataset, [0.8, 0.2])</c>):
    /// each split gets ⌊fraction·n⌋ items and the remainder is handed out one by one, round-robin from the first split.
    /// </summary>
    public static Subset<T>[] RandomSplit<T>(IDataset<T> dataset, IReadOnlyList<double> fractions, Rng? rng = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return RandomSplit(dataset, SplitLengths(dataset.Count, fractions), rng);
    }

    /// <summary>The lengths <see cref="RandomSplit{T}(IDataset{T}, IReadOnlyList{double}, Rng?)"/> uses for <paramref name="n"/> items.</summary>
    public static int[] SplitLengths(int n, IReadOnlyList<double> fractions)
    {
        ArgumentNullException.ThrowIfNull(fractions);
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "SplitLengths: the number of items must be >= 0.");
        double total = 0;
        for (int i = 0; i < fractions.Count; i++)
        {
            if (!(fractions[i] >= 0 && fractions[i] <= 1)) throw new ArgumentException($"RandomSplit: fraction {fractions[i]} at index {i} is not between 0 and 1.", nameof(fractions));
            total += fractions[i];
        }
        // PyTorch: math.isclose(sum, 1) (relative tolerance 1e-9) and sum <= 1.
        if (!(Math.Abs(total - 1) <= 1e-9 && total <= 1))
        {
            throw new ArgumentException($"RandomSplit: the fractions [{string.Join(", ", fractions)}] add up to {total}, not 1.", nameof(fractions));
        }
        var lengths = new int[fractions.Count];
        int assigned = 0;
        for (int i = 0; i < lengths.Length; i++)
        {
            lengths[i] = (int)Math.Floor(n * fractions[i]);
            assigned += lengths[i];
        }
        for (int i = 0; i < n - assigned; i++) lengths[i % lengths.Length]++;
        return lengths;
    }
}
