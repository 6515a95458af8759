using System.Collections;

namespace SharpGrad.Data;

/// <summary>
/// Decides the order in which a <see cref="DataLoader{TItem, TBatch}"/> visits a data set (PyTorch:
/// <c>torch.utils.data.Sampler</c>): each enumeration is one epoch and yields sample indices (<c>ISampler&lt;int&gt;</c>,
/// passed as <c>sampler:</c>) or whole batches of indices (<c>ISampler&lt;int[]&gt;</c>, passed as <c>batchSampler:</c>).
/// </summary>
/// <typeparam name="T">What one step of an epoch yields: an index, or a batch of indices.</typeparam>
public interface ISampler<out T> : IEnumerable<T>
{
    /// <summary>How many items one epoch yields (PyTorch: <c>len(sampler)</c>).</summary>
    int Count { get; }
}

/// <summary>Yields 0, 1, …, length − 1 in order (PyTorch: <c>torch.utils.data.SequentialSampler</c>).</summary>
public sealed class SequentialSampler : ISampler<int>
{
    /// <summary>Samples the indices of a data set of <paramref name="length"/> items (PyTorch: <c>SequentialSampler(data_source)</c>).</summary>
    public SequentialSampler(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Count = length;
    }

    /// <summary>Samples the indices of <paramref name="dataSource"/> (its <c>Count</c> when the sampler is created).</summary>
    public SequentialSampler(IDataset<object> dataSource) : this(Samplers.LengthOf(dataSource)) { }

    /// <inheritdoc/>
    public int Count { get; }

    /// <inheritdoc/>
    public IEnumerator<int> GetEnumerator()
    {
        for (int i = 0; i < Count; i++) yield return i;
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>
/// Yields the indices of a data set in random order (PyTorch: <c>torch.utils.data.RandomSampler</c>): without
/// replacement, permutations of 0 … length − 1, as many as <c>numSamples</c> needs (the last one cut short); with
/// replacement, <c>numSamples</c> independent uniform draws. With a <c>generator</c> every epoch continues its stream;
/// without one every epoch draws a fresh seed from <see cref="Rng.Default"/> (so <see cref="Rng.ManualSeed"/> makes the
/// epochs reproducible), as PyTorch does. The numbers are SharpGrad's (DESIGN.md §8), not PyTorch's.
/// </summary>
public sealed class RandomSampler : ISampler<int>
{
    private readonly int _length;
    private readonly Rng? _generator;
    private readonly long _loaderSeed;
    private readonly bool _seededPerEpoch;
    private long _epoch;

    /// <summary>Creates the sampler (PyTorch: <c>RandomSampler(data_source, replacement, num_samples, generator)</c>).</summary>
    /// <param name="length">The number of items of the data set.</param>
    /// <param name="replacement">Draw with replacement (an index may come several times in an epoch).</param>
    /// <param name="numSamples">Indices per epoch; defaults to <paramref name="length"/>.</param>
    /// <param name="generator">The generator to draw from; null draws a seed per epoch from <see cref="Rng.Default"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="numSamples"/> is not positive, or the data set is empty.</exception>
    public RandomSampler(int length, bool replacement = false, int? numSamples = null, Rng? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length == 0 && numSamples is not null)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"RandomSampler: cannot draw {numSamples} samples from an empty data set.");
        }
        int count = numSamples ?? length;
        if (count <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(numSamples), count,
                $"RandomSampler: numSamples should be a positive integer, but got {count}" + (numSamples is null ? " (the data set is empty)." : "."));
        }
        _length = length;
        Replacement = replacement;
        Count = count;
        _generator = generator;
    }

    /// <summary>Samples the indices of <paramref name="dataSource"/> (its <c>Count</c> when the sampler is created).</summary>
    public RandomSampler(IDataset<object> dataSource, bool replacement = false, int? numSamples = null, Rng? generator = null)
        : this(Samplers.LengthOf(dataSource), replacement, numSamples, generator) { }

    /// <summary>The sampler a <c>DataLoader(shuffle: true, seed: …)</c> uses: epoch k draws from a generator seeded by (seed, k).</summary>
    internal RandomSampler(int length, long loaderSeed)
    {
        _length = length;
        Count = length;
        _loaderSeed = loaderSeed;
        _seededPerEpoch = true;
    }

    /// <summary>Whether indices are drawn with replacement (PyTorch: <c>replacement</c>).</summary>
    public bool Replacement { get; }

    /// <summary>Indices per epoch (PyTorch: <c>num_samples</c>).</summary>
    public int Count { get; }

    /// <inheritdoc/>
    public IEnumerator<int> GetEnumerator()
    {
        long epoch = Interlocked.Increment(ref _epoch) - 1;
        return ((IEnumerable<int>)Indices(epoch)).GetEnumerator();
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The indices of epoch <paramref name="epoch"/> (which only matters for a loader's own sampler).</summary>
    internal int[] Indices(long epoch)
    {
        var rng = _seededPerEpoch ? new Rng(Samplers.MixSeed(_loaderSeed, epoch)) : _generator ?? new Rng((long)Rng.Default.NextUInt64());
        var result = new int[Count];
        if (Replacement)
        {
            for (int i = 0; i < result.Length; i++) result[i] = rng.NextInt(_length);
            return result;
        }
        for (int start = 0; start < result.Length; start += _length)
        {
            var permutation = rng.Permutation(_length);
            permutation.AsSpan(0, Math.Min(_length, result.Length - start)).CopyTo(result.AsSpan(start));
        }
        return result;
    }
}

/// <summary>
/// Yields the given indices in a random order, without replacement (PyTorch: <c>torch.utils.data.SubsetRandomSampler</c>);
/// each epoch is a new permutation drawn from the generator (<see cref="Rng.Default"/> when none is given).
/// </summary>
public sealed class SubsetRandomSampler : ISampler<int>
{
    private readonly int[] _indices;
    private readonly Rng? _generator;

    /// <summary>Creates the sampler (PyTorch: <c>SubsetRandomSampler(indices, generator)</c>). The indices are copied.</summary>
    public SubsetRandomSampler(IReadOnlyList<int> indices, Rng? generator = null)
    {
        ArgumentNullException.ThrowIfNull(indices);
        _indices = indices.ToArray();
        _generator = generator;
    }

    /// <summary>The indices sampled from (PyTorch: <c>indices</c>).</summary>
    public IReadOnlyList<int> Indices => _indices;

    /// <inheritdoc/>
    public int Count => _indices.Length;

    /// <inheritdoc/>
    public IEnumerator<int> GetEnumerator()
    {
        var permutation = (_generator ?? Rng.Default).Permutation(_indices.Length);
        for (int i = 0; i < permutation.Length; i++) yield return _indices[permutation[i]];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>
/// Yields <c>numSamples</c> indices of 0 … weights.Count − 1, index i with probability proportional to
/// <c>weights[i]</c> (PyTorch: <c>torch.utils.data.WeightedRandomSampler</c>, through <c>torch.multinomial</c>). Without
/// replacement an index comes at most once per epoch; a weight of 0 is never drawn.
/// </summary>
public sealed class WeightedRandomSampler : ISampler<int>
{
    private readonly double[] _weights;
    private readonly double[] _cumulative;
    private readonly Rng? _generator;

    /// <summary>Creates the sampler (PyTorch: <c>WeightedRandomSampler(weights, num_samples, replacement, generator)</c>).</summary>
    /// <param name="weights">One non-negative, finite weight per index (need not sum to 1), at least one positive.</param>
    /// <param name="numSamples">Indices per epoch, positive; without replacement at most the number of positive weights.</param>
    /// <param name="replacement">Draw with replacement (the default, as in PyTorch).</param>
    /// <param name="generator">The generator to draw from; <see cref="Rng.Default"/> when null.</param>
    /// <exception cref="ArgumentException">A weight is negative, infinite or NaN; all are zero; or too few are positive to draw
    /// <paramref name="numSamples"/> without replacement.</exception>
    public WeightedRandomSampler(IReadOnlyList<double> weights, int numSamples, bool replacement = true, Rng? generator = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (numSamples <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(numSamples), numSamples, $"WeightedRandomSampler: numSamples should be a positive integer, but got {numSamples}.");
        }
        _weights = weights.ToArray();
        _cumulative = new double[_weights.Length];
        double total = 0;
        int positive = 0;
        for (int i = 0; i < _weights.Length; i++)
        {
            double w = _weights[i];
            if (!double.IsFinite(w) || w < 0)
            {
                throw new ArgumentException($"WeightedRandomSampler: weight {i} is {w}; every weight must be finite and non-negative.", nameof(weights));
            }
            if (w > 0) positive++;
            total += w;
            _cumulative[i] = total;
        }
        if (positive == 0)
        {
            throw new ArgumentException($"WeightedRandomSampler: the {_weights.Length} weights sum to 0; at least one must be positive.", nameof(weights));
        }
        if (!replacement && numSamples > positive)
        {
            throw new ArgumentException(
                $"WeightedRandomSampler: cannot draw {numSamples} samples without replacement from {positive} indices with a positive weight; " +
                "draw fewer, or pass replacement: true.", nameof(numSamples));
        }
        Count = numSamples;
        Replacement = replacement;
        _generator = generator;
    }

    /// <summary>The weights (PyTorch: <c>weights</c>).</summary>
    public IReadOnlyList<double> Weights => _weights;

    /// <summary>Whether indices are drawn with replacement (PyTorch: <c>replacement</c>).</summary>
    public bool Replacement { get; }

    /// <summary>Indices per epoch (PyTorch: <c>num_samples</c>).</summary>
    public int Count { get; }

    /// <inheritdoc/>
    public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)Draw(_generator ?? Rng.Default)).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private int[] Draw(Rng rng)
    {
        var result = new int[Count];
        double total = _cumulative[^1];
        if (Replacement)
        {
            for (int i = 0; i < result.Length; i++)
            {
                // The first index whose cumulative weight exceeds u (zero weights are never chosen: their range is empty).
                double u = rng.NextDouble() * total;
                int lo = 0, hi = _cumulative.Length - 1;
                while (lo < hi)
                {
                    int mid = (lo + hi) >> 1;
                    if (_cumulative[mid] > u) hi = mid;
                    else lo = mid + 1;
                }
                result[i] = lo;
            }
            return result;
        }
        // Without replacement: the smallest keys E_i / w_i with E_i ~ Exp(1) (the distribution of drawing one at a time and
        // renormalising; torch.multinomial's own method).
        var keys = new List<(double Key, int Index)>(_weights.Length);
        for (int i = 0; i < _weights.Length; i++)
        {
            if (_weights[i] > 0) keys.Add((-Math.Log(1.0 - rng.NextDouble()) / _weights[i], i));
        }
        keys.Sort((a, b) => a.Key.CompareTo(b.Key));
        for (int i = 0; i < result.Length; i++) result[i] = keys[i].Index;
        return result;
    }
}

/// <summary>
/// Groups the indices of another sampler into batches (PyTorch: <c>torch.utils.data.BatchSampler</c>): batches of
/// <c>batchSize</c> in the sampler's order, the last one smaller unless <c>dropLast</c>. Pass it to a DataLoader as
/// <c>batchSampler:</c>.
/// </summary>
public sealed class BatchSampler : ISampler<int[]>
{
    /// <summary>Creates the sampler (PyTorch: <c>BatchSampler(sampler, batch_size, drop_last)</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is not positive.</exception>
    public BatchSampler(ISampler<int> sampler, int batchSize, bool dropLast)
    {
        ArgumentNullException.ThrowIfNull(sampler);
        if (batchSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"BatchSampler: batchSize should be a positive integer, but got {batchSize}.");
        }
        Sampler = sampler;
        BatchSize = batchSize;
        DropLast = dropLast;
    }

    /// <summary>The sampler whose indices are grouped (PyTorch: <c>sampler</c>).</summary>
    public ISampler<int> Sampler { get; }

    /// <summary>Indices per batch (PyTorch: <c>batch_size</c>).</summary>
    public int BatchSize { get; }

    /// <summary>Whether an incomplete last batch is dropped (PyTorch: <c>drop_last</c>).</summary>
    public bool DropLast { get; }

    /// <summary>Batches per epoch (PyTorch: <c>len(batch_sampler)</c>).</summary>
    public int Count => DropLast ? Sampler.Count / BatchSize : (int)(((long)Sampler.Count + BatchSize - 1) / BatchSize);

    /// <inheritdoc/>
    public IEnumerator<int[]> GetEnumerator()
    {
        var batch = new int[BatchSize];
        int filled = 0;
        foreach (int index in Sampler)
        {
            batch[filled++] = index;
            if (filled == BatchSize)
            {
                yield return batch;
                batch = new int[BatchSize];
                filled = 0;
            }
        }
        if (filled > 0 && !DropLast) yield return batch[..filled];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Helpers shared by the samplers and the DataLoader.</summary>
internal static class Samplers
{
    internal static int LengthOf(IDataset<object> dataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        return dataSource.Count;
    }

    /// <summary>A seed per (seed, epoch) pair: distinct epochs give unrelated streams (not overlapping SplitMix sequences).</summary>
    internal static long MixSeed(long seed, long epoch)
    {
        ulong z = (ulong)seed * 0xD1342543DE82EF95UL ^ ((ulong)epoch + 1) * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 32)) * 0xD6E8FEB86659FD93UL;
        z = (z ^ (z >> 32)) * 0xD6E8FEB86659FD93UL;
        return (long)(z ^ (z >> 32));
    }
}
