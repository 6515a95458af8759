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
        var idx = new Kernels.Indices(indices.ToLongArray());
        Kernels.EmbeddingKernel.CheckRange(idx, num, weight._shape);
        var outShape = new int[indices.Rank + 1];
        indices._shape.CopyTo(outShape, 0);
        outShape[^1] = dim;
        var result = Tensor.Empty(outShape, dtype);
        if (dtype == DType.Float32) Kernels.EmbeddingKernel.Gather<float>(Dense<float>(weight), idx, dim, result.Span<float>());
        else Kernels.EmbeddingKernel.Gather<double>(Dense<double>(weight), idx, dim, result.Span<double>());
        if (!Tensor.ShouldRecord(weight)) return result;
        long padding = pad ?? -1;
        return Tensor.Record(result, "EmbeddingBackward", [weight], (g, node) =>
        {
            var gw = Tensor.Zeros([num, dim], dtype);
            var gr = CastRaw(g, dtype).ContiguousRaw();
            if (dtype == DType.Float32) Kernels.EmbeddingKernel.ScatterAdd(gr.Span<float>(), idx, dim, padding, gw.Span<float>());
            else Kernels.EmbeddingKernel.ScatterAdd(gr.Span<double>(), idx, dim, padding, gw.Span<double>());
            return [gw];
        });
    }
}
