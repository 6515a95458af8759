using System.ComponentModel;
using System.Numerics;

namespace SharpGrad.Kernels;

/// <summary>
/// <c>MaskedFill</c> (PyTorch: <c>Tensor.masked_fill</c>) of a contiguous tensor: the input where a boolean mask is false,
/// a scalar where it is true. The mask covers the input's trailing dims and is repeated over the leading ones (a causal
/// mask [T, T] over scores [B, H, T, T]); eager code passes a mask expanded to the input's shape. The gradient passes where
/// the mask is false. Eager <c>Tensor.MaskedFill</c> and generated code call the same kernels. Not meant to be called by hand.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class MaskedFillKernel
{
    /// <summary>Float32 forward for generated code over the first <paramref name="count"/> elements.</summary>
    public static void Forward(float[] x, ReadOnlySpan<bool> mask, double value, float[] y, int count)
        => Forward<float>(new ReadOnlySpan<float>(x, 0, count), mask, (float)value, new Span<float>(y, 0, count));

    /// <summary>Float32 backward for generated code: <paramref name="gx"/> += the gradient (nothing when it is null).</summary>
    public static void Backward(ReadOnlySpan<bool> mask, float[] gy, float[]? gx, int count)
    {
        if (gx is null) return;
        Backward<float>(mask, new ReadOnlySpan<float>(gy, 0, count), new Span<float>(gx, 0, count), accumulate: true);
    }

    /// <summary>y = mask ? value : x, the mask repeated over x (its length divides x's).</summary>
    public static void Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<bool> mask, T value, Span<T> y)
    {
        int m = mask.Length;
        if (m == 0) return;
        for (int start = 0; start < x.Length; start += m)
        {
            var xs = x.Slice(start, m);
            var ys = y.Slice(start, m);
            for (int j = 0; j < m; j++) ys[j] = mask[j] ? value : xs[j];
        }
    }

    /// <summary>gx = (or +=, when <paramref name="accumulate"/>) gy where the mask is false, 0 where it is true.</summary>
    public static void Backward<T>(ReadOnlySpan<bool> mask, ReadOnlySpan<T> gy, Span<T> gx, bool accumulate) where T : INumber<T>
    {
        int m = mask.Length;
        if (m == 0) return;
        for (int start = 0; start < gy.Length; start += m)
        {
            var gs = gy.Slice(start, m);
            var xs = gx.Slice(start, m);
            for (int j = 0; j < m; j++)
            {
                var g = mask[j] ? T.Zero : gs[j];
                xs[j] = accumulate ? xs[j] + g : g;
            }
        }
    }
}

/// <summary>
/// <c>Where(condition, x, y)</c> (PyTorch: <c>torch.where</c>) of contiguous operands: x where the condition is true, y
/// elsewhere; the condition covers the trailing dims and is repeated over the leading ones (eager code passes it expanded
/// to the output's shape). The gradient goes to x where true and to y where false. Eager <c>Tensor.Where</c> and generated
/// code call the same kernels. Not meant to be called by hand.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class WhereKernel
{
    /// <summary>o = condition ? x : o, the condition repeated over o (its length divides o's).</summary>
    public static void Select<T>(ReadOnlySpan<bool> condition, ReadOnlySpan<T> x, Span<T> o)
    {
        int m = condition.Length;
        if (m == 0) return;
        for (int start = 0; start < o.Length; start += m)
        {
            var xs = x.Slice(start, m);
            var os = o.Slice(start, m);
            for (int j = 0; j < m; j++) if (condition[j]) os[j] = xs[j];
        }
    }

    /// <summary>Float32 forward for generated code over the first <paramref name="count"/> elements.</summary>
    public static void Forward(ReadOnlySpan<bool> condition, float[] x, float[] y, float[] o, int count)
    {
        Array.Copy(y, o, count);
        Select<float>(condition, new ReadOnlySpan<float>(x, 0, count), new Span<float>(o, 0, count));
    }

    /// <summary>Float32 backward for generated code: gx += g where true, gy += g where false (a null gradient is skipped).</summary>
    public static void Backward(ReadOnlySpan<bool> condition, float[] g, float[]? gx, float[]? gy, int count)
    {
        int m = condition.Length;
        if (m == 0) return;
        for (int start = 0; start < count; start += m)
        {
            for (int j = 0; j < m; j++)
            {
                if (condition[j]) { if (gx is not null) gx[start + j] += g[start + j]; }
                else if (gy is not null) gy[start + j] += g[start + j];
            }
        }
    }
}
