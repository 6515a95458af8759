namespace SharpGrad.Data;

/// <summary>
/// Collation: turning a list of samples into one batch (PyTorch: <c>torch.utils.data.default_collate</c>).
/// </summary>
public static class Collate
{
    /// <summary>
    /// The default collation of <c>Tensor[]</c> samples (PyTorch: <c>default_collate</c> on tuples of tensors):
    /// field <c>j</c> of the batch is field <c>j</c> of every sample stacked along a new dimension 0, with the dtype preserved.
    /// The batch is a fresh copy that does not share memory with the samples and records no autograd history.
    /// </summary>
    /// <exception cref="ArgumentException">The samples differ in their number of fields, or a field differs in shape or dtype.</exception>
    public static Tensor[] Default(IReadOnlyList<Tensor[]> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (samples.Count == 0) throw new ArgumentException("Collate: cannot collate an empty list of samples.", nameof(samples));
        var first = samples[0] ?? throw new ArgumentException("Collate: sample 0 is null.", nameof(samples));
        int fields = first.Length;
        for (int i = 1; i < samples.Count; i++)
        {
            if (samples[i] is null) throw new ArgumentException($"Collate: sample {i} is null.", nameof(samples));
            if (samples[i].Length != fields)
            {
                throw new ArgumentException($"Collate: sample {i} has {samples[i].Length} tensors but sample 0 has {fields}; every sample of a batch must have the same number of fields.", nameof(samples));
            }
        }
        var batch = new Tensor[fields];
        for (int j = 0; j < fields; j++) batch[j] = StackField(samples, j);
        return batch;
    }

    /// <summary>Stacks <paramref name="tensors"/> (equal shapes and dtypes) along a new dimension 0 into a fresh tensor, without autograd
    /// (PyTorch: <c>torch.stack(tensors)</c> as <c>default_collate</c> uses it).</summary>
    /// <exception cref="ArgumentException">The tensors differ in shape or dtype.</exception>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0) throw new ArgumentException("Collate.Stack: cannot stack an empty list of tensors.", nameof(tensors));
        var wrapped = new Tensor[tensors.Count][];
        for (int i = 0; i < wrapped.Length; i++) wrapped[i] = [tensors[i]];
        return StackField(wrapped, 0);
    }

    private static Tensor StackField(IReadOnlyList<Tensor[]> samples, int field)
    {
        var t0 = samples[0][field] ?? throw new ArgumentException($"Collate: field {field} of sample 0 is null.");
        var shape = t0._shape;
        var dtype = t0.DType;
        var outShape = new int[shape.Length + 1];
        outShape[0] = samples.Count;
        shape.CopyTo(outShape, 1);
        var result = Tensor.Empty(outShape, dtype);
        int rowSize = ShapeUtil.Count(shape);
        var rowStrides = Tensor.ContiguousStrides(shape);
        var dst = result.Storage.Array;
        for (int i = 0; i < samples.Count; i++)
        {
            var t = samples[i][field] ?? throw new ArgumentException($"Collate: field {field} of sample {i} is null.");
            if (!ShapeUtil.SameShape(t._shape, shape))
            {
                throw new ArgumentException(
                    $"Collate: field {field} of sample {i} has shape {ShapeUtil.Format(t._shape)} but in sample 0 it has shape {ShapeUtil.Format(shape)}; " +
                    "the default collation stacks samples, so their shapes must be equal (pad them, or pass your own collate function).");
            }
            if (t.DType != dtype)
            {
                throw new ArgumentException($"Collate: field {field} of sample {i} has dtype {t.DType} but in sample 0 it has dtype {dtype}; convert them with To(dtype) first.");
            }
            if (t.IsContiguous)
            {
                Array.Copy(t.Storage.Array, t.Offset, dst, i * rowSize, rowSize);
            }
            else
            {
                Tensor.CopyRaw(t, new Tensor(result.Storage, (int[])shape.Clone(), rowStrides, i * rowSize));
            }
        }
        return result;
    }

    /// <summary>Gathers rows <paramref name="indices"/> of the contiguous tensor <paramref name="source"/> into a new tensor of
    /// shape [indices.Length, …] (PyTorch: <c>source[indices]</c> / <c>index_select(0, indices)</c>), without autograd.</summary>
    internal static Tensor GatherRows(Tensor source, ReadOnlySpan<int> indices)
    {
        var shape = (int[])source._shape.Clone();
        int rowSize = shape.Length == 1 ? 1 : ShapeUtil.Count(shape.AsSpan(1));
        shape[0] = indices.Length;
        var result = Tensor.Empty(shape, source.DType);
        switch (result.Storage)
        {
            case Storage<float> d: Gather(source.Data<float>(), source.Offset, rowSize, indices, d.Data); break;
            case Storage<double> d: Gather(source.Data<double>(), source.Offset, rowSize, indices, d.Data); break;
            case Storage<long> d: Gather(source.Data<long>(), source.Offset, rowSize, indices, d.Data); break;
            case Storage<int> d: Gather(source.Data<int>(), source.Offset, rowSize, indices, d.Data); break;
            case Storage<bool> d: Gather(source.Data<bool>(), source.Offset, rowSize, indices, d.Data); break;
            case Storage<byte> d: Gather(source.Data<byte>(), source.Offset, rowSize, indices, d.Data); break;
        }
        return result;
    }

    private static void Gather<T>(T[] src, int offset, int rowSize, ReadOnlySpan<int> indices, T[] dst)
    {
        if (rowSize == 1)
        {
            for (int i = 0; i < indices.Length; i++) dst[i] = src[offset + indices[i]];
            return;
        }
        for (int i = 0; i < indices.Length; i++)
        {
            src.AsSpan(offset + indices[i] * rowSize, rowSize).CopyTo(dst.AsSpan(i * rowSize, rowSize));
        }
    }
}

/// <summary>Deconstruction of <c>Tensor[]</c> batches, so that <c>foreach (var (x, y) in loader)</c> works
/// (PyTorch: <c>for x, y in loader</c>).</summary>
public static class BatchExtensions
{
    /// <summary>Splits a batch of two tensors into its parts (PyTorch: <c>x, y = batch</c>).</summary>
    /// <exception cref="ArgumentException">The batch does not have exactly two tensors.</exception>
    public static void Deconstruct(this Tensor[] batch, out Tensor first, out Tensor second)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Length != 2) throw Mismatch(batch.Length, 2);
        first = batch[0];
        second = batch[1];
    }

    /// <summary>Splits a batch of three tensors into its parts (PyTorch: <c>x, y, z = batch</c>).</summary>
    /// <exception cref="ArgumentException">The batch does not have exactly three tensors.</exception>
    public static void Deconstruct(this Tensor[] batch, out Tensor first, out Tensor second, out Tensor third)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Length != 3) throw Mismatch(batch.Length, 3);
        first = batch[0];
        second = batch[1];
        third = batch[2];
    }

    private static ArgumentException Mismatch(int actual, int wanted) =>
        new($"Cannot deconstruct a batch of {actual} tensor(s) into {wanted} variables; the data set's samples have {actual} field(s). " +
            $"Use {actual} variables in the deconstruction, or index the batch array instead.", "batch");
}
