namespace SharpGrad.Data;

/// <summary>
/// A map-style data set: a fixed number of items, each fetched by index
/// (PyTorch: <c>torch.utils.data.Dataset</c> with <c>__len__</c> and <c>__getitem__</c>).
/// Implementations used with <c>numWorkers &gt; 0</c> must allow concurrent reads from several threads.
/// </summary>
/// <typeparam name="T">The item type; <c>Tensor[]</c> for the data sets the default <see cref="DataLoader"/> collates.</typeparam>
public interface IDataset<out T>
{
    /// <summary>The number of items (PyTorch: <c>len(dataset)</c>).</summary>
    int Count { get; }

    /// <summary>The item at <paramref name="index"/>, 0 ≤ index &lt; <see cref="Count"/> (PyTorch: <c>dataset[index]</c>).</summary>
    T this[int index] { get; }

    /// <summary>The item at <paramref name="index"/>; the same as the indexer (PyTorch: <c>dataset.__getitem__(index)</c>).</summary>
    T Get(int index) => this[index];
}

/// <summary>
/// A data set whose items are the rows of one or more tensors that share their first dimension
/// (PyTorch: <c>torch.utils.data.TensorDataset</c>). Item <c>i</c> is <c>[t0[i], t1[i], …]</c> — views, not copies.
/// </summary>
public sealed class TensorDataset : IDataset<Tensor[]>
{
    private readonly Tensor[] _tensors;

    /// <summary>Wraps <paramref name="tensors"/> (PyTorch: <c>TensorDataset(*tensors)</c>); their first dimensions must agree.</summary>
    /// <exception cref="ArgumentException">No tensors, a 0-dimensional tensor, or first dimensions that differ.</exception>
    public TensorDataset(params Tensor[] tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Length == 0) throw new ArgumentException("TensorDataset needs at least one tensor, e.g. new TensorDataset(features, labels).", nameof(tensors));
        for (int i = 0; i < tensors.Length; i++)
        {
            if (tensors[i] is null) throw new ArgumentNullException(nameof(tensors), $"TensorDataset: tensor {i} is null.");
            if (tensors[i].Rank == 0)
            {
                throw new ArgumentException($"TensorDataset: tensor {i} is 0-dimensional (shape []); every tensor needs a first dimension indexing the samples.", nameof(tensors));
            }
        }
        int n = tensors[0]._shape[0];
        for (int i = 1; i < tensors.Length; i++)
        {
            if (tensors[i]._shape[0] != n)
            {
                var shapes = string.Join(", ", tensors.Select(t => ShapeUtil.Format(t._shape)));
                throw new ArgumentException(
                    $"TensorDataset: size mismatch between tensors: tensor 0 has {n} samples (shape {ShapeUtil.Format(tensors[0]._shape)}) but tensor {i} has {tensors[i]._shape[0]} (shape {ShapeUtil.Format(tensors[i]._shape)}). " +
                    $"All tensors must have the same size in dimension 0; shapes: {shapes}.", nameof(tensors));
            }
        }
        _tensors = (Tensor[])tensors.Clone();
    }

    /// <summary>The wrapped tensors (PyTorch: <c>TensorDataset.tensors</c>).</summary>
    public IReadOnlyList<Tensor> Tensors => _tensors;

    /// <summary>The number of samples: the shared first dimension (PyTorch: <c>len(dataset)</c>).</summary>
    public int Count => _tensors[0]._shape[0];

    /// <summary>Row <paramref name="index"/> of every tensor; the same as the indexer (PyTorch: <c>dataset.__getitem__(index)</c>).</summary>
    public Tensor[] Get(int index) => this[index];

    /// <summary>Row <paramref name="index"/> of every tensor (PyTorch: <c>dataset[index]</c>); negative indices count from the end.</summary>
    public Tensor[] this[int index]
    {
        get
        {
            int n = Count;
            if (index < -n || index >= n)
            {
                throw new ArgumentOutOfRangeException(nameof(index), index, $"TensorDataset: index {index} is out of range for a data set of {n} samples.");
            }
            var row = new Tensor[_tensors.Length];
            for (int i = 0; i < row.Length; i++) row[i] = _tensors[i].Select(0, index);
            return row;
        }
    }
}
