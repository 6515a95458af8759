using System.ComponentModel;
using System.Numerics;

namespace SharpGrad.Kernels;

/// <summary>
/// Copies slabs along one axis of contiguous tensors seen as [outer, size, inner]: the one kernel of the slicing ops
/// (Narrow, Slice, Select and the parts of Chunk, Split and Unbind read a window of their input; their backward adds the
/// gradient back into that window) and of the joining ops (Cat and Stack place each input at its offset along the axis;
/// their backward reads each input's gradient back out of that range). Eager <c>Tensor.Cat</c> and generated code call
/// it. Not meant to be called by hand.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class AxisCopyKernel
{
    /// <summary>
    /// For each of <paramref name="outer"/> blocks and k &lt; <paramref name="count"/>: the <paramref name="inner"/>
    /// elements at axis position <c>srcStart + k·srcStep</c> of <paramref name="src"/> (axis size <paramref name="srcSize"/>)
    /// go to axis position <c>dstStart + k·dstStep</c> of <paramref name="dst"/> (axis size <paramref name="dstSize"/>),
    /// written, or added when <paramref name="accumulate"/>.
    /// </summary>
    public static void Copy<T>(ReadOnlySpan<T> src, int srcSize, int srcStart, int srcStep, Span<T> dst, int dstSize, int dstStart, int dstStep,
        int outer, int count, int inner, bool accumulate) where T : INumber<T>
    {
        for (int o = 0; o < outer; o++)
        {
            int srcBlock = o * srcSize, dstBlock = o * dstSize;
            for (int k = 0; k < count; k++)
            {
                var from = src.Slice((srcBlock + srcStart + k * srcStep) * inner, inner);
                var to = dst.Slice((dstBlock + dstStart + k * dstStep) * inner, inner);
                if (!accumulate)
                {
                    from.CopyTo(to);
                    continue;
                }
                for (int j = 0; j < inner; j++) to[j] += from[j];
            }
        }
    }

    /// <summary>
    /// Float32 window read for generated code (a slicing op's forward, a joining op's backward into its input's gradient,
    /// added): <paramref name="dst"/>[o, k, ·] (axis size <paramref name="count"/>) = src[o, start + k·step, ·]. Nothing
    /// when <paramref name="dst"/> is null (a gradient nobody wants).
    /// </summary>
    public static void Read(float[] src, int srcSize, int start, int step, float[]? dst, int outer, int count, int inner, bool accumulate)
    {
        if (dst is null) return;
        Copy<float>(src, srcSize, start, step, dst, count, 0, 1, outer, count, inner, accumulate);
    }

    /// <summary>
    /// Float32 window write for generated code (a joining op's forward, a slicing op's backward into its input's gradient,
    /// added): dst[o, start + k·step, ·] (axis size <paramref name="dstSize"/>) = <paramref name="src"/>[o, k, ·]. Nothing
    /// when <paramref name="dst"/> is null.
    /// </summary>
    public static void Write(float[] src, float[]? dst, int dstSize, int start, int step, int outer, int count, int inner, bool accumulate)
    {
        if (dst is null) return;
        Copy<float>(src, count, 0, 1, dst, dstSize, start, step, outer, count, inner, accumulate);
    }

    /// <summary>
    /// <paramref name="dst"/>[j, i, ·] = (or +=) <paramref name="src"/>[i, j, ·] for <paramref name="src"/> [a, b, inner]:
    /// the two leading dims swapped (batch first [N, T, E] ↔ batch second [T, N, E]), each row of <paramref name="inner"/>
    /// copied or, when <paramref name="accumulate"/>, added.
    /// </summary>
    internal static void SwapLeading(float[] src, float[] dst, int a, int b, int inner, bool accumulate)
    {
        for (int i = 0; i < a; i++)
        {
            for (int j = 0; j < b; j++)
            {
                var from = src.AsSpan((i * b + j) * inner, inner);
                var to = dst.AsSpan((j * a + i) * inner, inner);
                if (accumulate) System.Numerics.Tensors.TensorPrimitives.Add(to, from, to);
                else from.CopyTo(to);
            }
        }
    }
}
