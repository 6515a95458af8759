using System.ComponentModel;
using System.Numerics;
using System.Numerics.Tensors;

namespace SharpGrad.Kernels;

/// <summary>
/// The embedding lookup (PyTorch: <c>F.embedding</c>): rows of a [num, dim] table gathered by index, and its backward,
/// which adds each output row's gradient into its table row (except the padding row). Eager <c>Functional.Embedding</c>
/// and generated code call the same kernels.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class EmbeddingKernel
{
    /// <summary>Every index is in [0, num); throws eager's message otherwise.</summary>
    internal static void CheckRange(Indices indices, int num, int[] weightShape)
    {
        for (int r = 0; r < indices.Count; r++)
        {
            long i = indices[r];
            if (i < 0 || i >= num)
            {
                throw new ArgumentException($"Embedding: index {i} is out of range for an embedding table of shape {ShapeUtil.Format(weightShape)}: indices must be in [0, {num - 1}].");
            }
        }
    }

    /// <summary>y[r, :] = weight[indices[r], :] for every index (the indices checked already).</summary>
    internal static void Gather<T>(ReadOnlySpan<T> weight, Indices indices, int dim, Span<T> y) where T : unmanaged
    {
        for (int r = 0; r < indices.Count; r++) weight.Slice((int)indices[r] * dim, dim).CopyTo(y.Slice(r * dim, dim));
    }

    /// <summary>gWeight[indices[r], :] += gy[r, :], except for the row <paramref name="paddingIdx"/>.</summary>
    internal static void ScatterAdd<T>(ReadOnlySpan<T> gy, Indices indices, int dim, long paddingIdx, Span<T> gWeight) where T : unmanaged, INumber<T>
    {
        for (int r = 0; r < indices.Count; r++)
        {
            long row = indices[r];
            if (row == paddingIdx) continue;
            var d = gWeight.Slice((int)row * dim, dim);
            TensorPrimitives.Add(d, gy.Slice(r * dim, dim), d);
        }
    }
}
