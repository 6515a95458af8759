namespace SharpGrad;

// Chunk, Split, Unbind, Tril and Triu, written as compositions of existing differentiable ops (Narrow, Select, Where):
// their gradients come from those ops.
public partial class Tensor
{
    /// <summary>
    /// Splits the tensor into <paramref name="chunks"/> views along <paramref name="dim"/>, each of size ⌈size/chunks⌉ except
    /// possibly the last (fewer chunks when the size is too small) (PyTorch: <c>torch.chunk</c>).
    /// </summary>
    public Tensor[] Chunk(int chunks, int dim = 0)
    {
        if (chunks <= 0) throw new ArgumentException($"Chunk: chunks must be positive, but got {chunks}.", nameof(chunks));
        int d = NormalizeDim(dim, Rank);
        int size = _shape[d];
        int each = (size + chunks - 1) / chunks;
        return Split(Math.Max(each, 1), d);
    }

    /// <summary>
    /// Splits the tensor into views of <paramref name="splitSize"/> along <paramref name="dim"/>; the last may be smaller
    /// (PyTorch: <c>torch.split(tensor, split_size)</c>).
    /// </summary>
    public Tensor[] Split(int splitSize, int dim = 0)
    {
        if (splitSize <= 0) throw new ArgumentException($"Split: splitSize must be positive, but got {splitSize}.", nameof(splitSize));
        int d = NormalizeDim(dim, Rank);
        int size = _shape[d];
        if (size == 0) return [this];
        var parts = new Tensor[(size + splitSize - 1) / splitSize];
        for (int i = 0; i < parts.Length; i++) parts[i] = Narrow(d, i * splitSize, Math.Min(splitSize, size - i * splitSize));
        return parts;
    }

    /// <summary>Splits the tensor into views of the given sizes along <paramref name="dim"/> (PyTorch: <c>torch.split(tensor, [s0, s1, …])</c>).</summary>
    public Tensor[] Split(int[] splitSizes, int dim = 0)
    {
        ArgumentNullException.ThrowIfNull(splitSizes);
        int d = NormalizeDim(dim, Rank);
        long total = 0;
        foreach (var s in splitSizes)
        {
            if (s < 0) throw new ArgumentException($"Split: split sizes must be non-negative, but got [{string.Join(", ", splitSizes)}].", nameof(splitSizes));
            total += s;
        }
        if (total != _shape[d])
        {
            throw new ArgumentException(
                $"Split: the split sizes [{string.Join(", ", splitSizes)}] add up to {total}, but dimension {d} of the tensor (shape {ShapeUtil.Format(_shape)}) has size {_shape[d]}.",
                nameof(splitSizes));
        }
        var parts = new Tensor[splitSizes.Length];
        int start = 0;
        for (int i = 0; i < parts.Length; i++)
        {
            parts[i] = Narrow(d, start, splitSizes[i]);
            start += splitSizes[i];
        }
        return parts;
    }

    /// <summary>The slices along <paramref name="dim"/>, each without that dimension (PyTorch: <c>torch.unbind</c>).</summary>
    public Tensor[] Unbind(int dim = 0)
    {
        int d = NormalizeDim(dim, Rank);
        var parts = new Tensor[_shape[d]];
        for (int i = 0; i < parts.Length; i++) parts[i] = Select(d, i);
        return parts;
    }

    /// <summary>
    /// The lower triangle of the last two dimensions: elements with column − row ≤ <paramref name="diagonal"/> are kept, the
    /// rest are zero (PyTorch: <c>torch.tril</c>).
    /// </summary>
    public Tensor Tril(int diagonal = 0) => Triangle(diagonal, lower: true);

    /// <summary>
    /// The upper triangle of the last two dimensions: elements with column − row ≥ <paramref name="diagonal"/> are kept, the
    /// rest are zero (PyTorch: <c>torch.triu</c>, e.g. <c>Tensor.Full([n, n], double.NegativeInfinity).Triu(1)</c> for a causal mask).
    /// </summary>
    public Tensor Triu(int diagonal = 0) => Triangle(diagonal, lower: false);

    private Tensor Triangle(int diagonal, bool lower)
    {
        if (Rank < 2)
        {
            throw new ArgumentException($"{(lower ? "Tril" : "Triu")}: the tensor needs at least 2 dimensions, but has shape {ShapeUtil.Format(_shape)}.");
        }
        var keep = TriangleMask(_shape[^2], _shape[^1], diagonal, lower);
        // Where(keep, x, 0) keeps -inf entries above a causal mask's diagonal as they are (multiplying by a 0/1 mask would give NaN).
        return Where(keep, this, Zeros([], DType));
    }

    /// <summary>A Bool [rows, cols] mask: true where column − row ≤ diagonal (lower) or ≥ diagonal (upper).</summary>
    internal static Tensor TriangleMask(int rows, int cols, int diagonal, bool lower)
    {
        var m = new bool[rows * cols];
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < cols; j++) m[i * cols + j] = lower ? j - i <= diagonal : j - i >= diagonal;
        }
        return Wrap(m, rows, cols);
    }
}
