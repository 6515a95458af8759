namespace SharpGrad;

public static partial class Functional
{
    /// <summary>
    /// Looks up rows of <paramref name="weight"/> [num_embeddings, embedding_dim] by integer <paramref name="indices"/>
    /// (PyTorch: <c>torch.nn.functional.embedding</c>); the result has shape indices.shape + [embedding_dim].
    /// The gradient adds into the selected rows, except the row <paramref name="paddingIdx"/>, which gets none.
    /// </summary>
    public static Tensor Embedding(Tensor indices, Tensor weight, int? paddingIdx = null)
    {
        const string op = "Embedding";
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentNullException.ThrowIfNull(weight);
        if (indices.DType is not (DType.Int64 or DType.Int32))
        {
            throw new ArgumentException($"{op}: indices must be Int64 (or Int32), but got a {indices.DType} tensor of shape {ShapeUtil.Format(indices._shape)}. Convert with .To(DType.Int64).");
        }
        if (weight.Rank != 2)
        {
            throw new ArgumentException($"{op}: weight must be 2-d [num_embeddings, embedding_dim], but got shape {ShapeUtil.Format(weight._shape)}.");
        }
        int num = weight._shape[0], dim = weight._shape[1];
        int? pad = paddingIdx;
        if (pad is int pi)
        {
            if (pi < -num || pi >= num)
            {
                throw new ArgumentException($"{op}: paddingIdx {pi} must be within [{-num}, {num - 1}] for {num} embeddings.");
            }
            if (pi < 0) pad = pi + num;
        }
        var dtype = FloatDType(op, weight);
        var idx = indices.ToLongArray();
        foreach (var i in idx)
        {
            if (i < 0 || i >= num)
            {
                throw new ArgumentException($"{op}: index {i} is out of range for an embedding table of shape {ShapeUtil.Format(weight._shape)}: indices must be in [0, {num - 1}].");
            }
        }
        var outShape = new int[indices.Rank + 1];
        indices._shape.CopyTo(outShape, 0);
        outShape[^1] = dim;
        var result = Tensor.Empty(outShape, dtype);
        if (dtype == DType.Float32) Gather(Dense<float>(weight), idx, dim, result.Data<float>());
        else Gather(Dense<double>(weight), idx, dim, result.Data<double>());
        if (!Tensor.ShouldRecord(weight)) return result;
        return Tensor.Record(result, "EmbeddingBackward", [weight], (g, node) =>
        {
            var gw = Tensor.Zeros([num, dim], dtype);
            var gr = As(g, dtype);
            if (dtype == DType.Float32) Scatter(Dense<float>(gr), idx, dim, pad, gw.Data<float>());
            else Scatter(Dense<double>(gr), idx, dim, pad, gw.Data<double>());
            return [gw];
        });

        static void Gather<T>(T[] w, long[] idx, int dim, T[] dst) where T : unmanaged
        {
            for (int r = 0; r < idx.Length; r++) w.AsSpan((int)idx[r] * dim, dim).CopyTo(dst.AsSpan(r * dim, dim));
        }

        static void Scatter<T>(T[] g, long[] idx, int dim, int? pad, T[] gw) where T : unmanaged, System.Numerics.INumber<T>
        {
            for (int r = 0; r < idx.Length; r++)
            {
                int row = (int)idx[r];
                if (row == pad) continue;
                var d = gw.AsSpan(row * dim, dim);
                System.Numerics.Tensors.TensorPrimitives.Add(d, g.AsSpan(r * dim, dim), d);
            }
        }
    }
}
