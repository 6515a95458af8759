using System.ComponentModel;
using System.Numerics;
using System.Numerics.Tensors;

namespace SharpGrad.Kernels;

/// <summary>
/// Reductions over the middle dim of a contiguous tensor viewed as [outer, size, inner]: sums and means (PyTorch:
/// <c>sum(dim)</c>, <c>mean(dim)</c>) and the values and positions of maxima and minima (PyTorch: <c>max(dim)</c>),
/// with their backward kernels. Eager <c>Tensor.Sum</c>/<c>Max(dim)</c> and generated code call the same kernels.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class ReduceKernel
{
    /// <summary>Float32 for generated code: y[o, i] = scale · Σₛ x[o, s, i] (or += when <paramref name="accumulate"/>).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Sum(float[] x, float[] y, int outer, int size, int inner, float scale, bool accumulate = false)
        => Sum<float>(new ReadOnlySpan<float>(x, 0, outer * size * inner), new Span<float>(y, 0, outer * inner), outer, size, inner, scale, accumulate);

    /// <summary>
    /// Float32 for generated code: gx[o, s, i] += scale · gy[o, i] (the backward of <see cref="Sum(float[], float[], int, int, int, float, bool)"/>);
    /// = when <paramref name="overwrite"/> (gx's first writer: its old contents are not read, so it need not be cleared).
    /// </summary>
    public static void Spread(float[] gy, float[]? gx, int outer, int size, int inner, float scale, bool overwrite = false)
    {
        if (gx is null) return;
        Spread<float>(new ReadOnlySpan<float>(gy, 0, outer * inner), new Span<float>(gx, 0, outer * size * inner), outer, size, inner, scale, overwrite);
    }

    /// <summary>y[o, i] = scale · Σₛ x[o, s, i] (or += when <paramref name="accumulate"/>).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Sum<T>(ReadOnlySpan<T> x, Span<T> y, int outer, int size, int inner, T scale, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int o = 0; o < outer; o++)
        {
            if (inner == 1)
            {
                T s = TensorPrimitives.Sum(x.Slice(o * size, size)) * scale;
                y[o] = accumulate ? y[o] + s : s;
                continue;
            }
            var yr = y.Slice(o * inner, inner);
            if (!accumulate) yr.Clear();
            for (int s = 0; s < size; s++)
            {
                var xr = x.Slice((o * size + s) * inner, inner);
                if (scale == T.One) TensorPrimitives.Add(yr, xr, yr);
                else TensorPrimitives.MultiplyAdd(xr, scale, yr, yr);
            }
        }
    }

    /// <summary>gx[o, s, i] += scale · gy[o, i] (= when <paramref name="overwrite"/>).</summary>
    public static void Spread<T>(ReadOnlySpan<T> gy, Span<T> gx, int outer, int size, int inner, T scale, bool overwrite = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int o = 0; o < outer; o++)
        {
            for (int s = 0; s < size; s++)
            {
                var xr = gx.Slice((o * size + s) * inner, inner);
                if (overwrite)
                {
                    if (inner == 1) xr[0] = scale * gy[o];
                    else TensorPrimitives.Multiply(gy.Slice(o * inner, inner), scale, xr);
                }
                else if (inner == 1) xr[0] += scale * gy[o];
                else TensorPrimitives.MultiplyAdd(gy.Slice(o * inner, inner), scale, xr, xr);
            }
        }
    }

    /// <summary>Float32 for generated code: y[0] = the max (or min) of x's first <paramref name="size"/> elements (NaN wins), PyTorch's <c>max()</c>.</summary>
    public static void ExtremeAll(float[] x, float[] y, int size, bool max)
    {
        Span<long> index = stackalloc long[1];
        ArgExtreme<float>(new ReadOnlySpan<float>(x, 0, size), new Span<float>(y, 0, 1), index, 1, size, 1, max);
    }

    /// <summary>Float32 for generated code: the backward of <see cref="ExtremeAll"/> (see the generic overload).</summary>
    public static void SpreadExtremeAll(float[] x, float[] y, float[] gy, float[]? gx, int size)
    {
        if (gx is null) return;
        SpreadExtremeAll<float>(new ReadOnlySpan<float>(x, 0, size), y[0], gy[0], new Span<float>(gx, 0, size));
    }

    /// <summary>
    /// The backward of <c>max()</c>/<c>min()</c> of all elements: gx[k] += gy / c where x[k] equals the result
    /// <paramref name="y"/> and c is how many elements do (PyTorch splits the gradient evenly among ties).
    /// </summary>
    public static void SpreadExtremeAll<T>(ReadOnlySpan<T> x, T y, T gy, Span<T> gx) where T : unmanaged, INumber<T>
    {
        int count = 0;
        foreach (var v in x) if (v == y) count++;
        if (count == 0) return;
        var share = gy / T.CreateChecked(count);
        for (int k = 0; k < x.Length; k++) if (x[k] == y) gx[k] += share;
    }

    /// <summary>Float32 for generated code: the extremes along the middle dim and their positions.</summary>
    public static void ArgExtreme(float[] x, float[] values, long[] indices, int outer, int size, int inner, bool max)
        => ArgExtreme<float>(new ReadOnlySpan<float>(x, 0, outer * size * inner), new Span<float>(values, 0, outer * inner),
            new Span<long>(indices, 0, outer * inner), outer, size, inner, max);

    /// <summary>Float32 for generated code: gx[o, indices[o, i], i] += gy[o, i] (the backward of the extremes' values).</summary>
    public static void ScatterExtreme(float[] gy, long[] indices, float[]? gx, int outer, int size, int inner)
    {
        if (gx is null) return;
        ScatterExtreme<float>(new ReadOnlySpan<float>(gy, 0, outer * inner), new ReadOnlySpan<long>(indices, 0, outer * inner),
            new Span<float>(gx, 0, outer * size * inner), outer, size, inner);
    }

    /// <summary>gx[o, indices[o, i], i] += gy[o, i].</summary>
    public static void ScatterExtreme<T>(ReadOnlySpan<T> gy, ReadOnlySpan<long> indices, Span<T> gx, int outer, int size, int inner)
        where T : unmanaged, INumber<T>
    {
        for (int o = 0; o < outer; o++)
        {
            for (int i = 0; i < inner; i++)
            {
                int k = o * inner + i;
                gx[((o * size) + (int)indices[k]) * inner + i] += gy[k];
            }
        }
    }

    /// <summary>
    /// values[o, i] = max (or min) over s of x[o, s, i] and indices[o, i] its position: the first on ties, NaN wins (as
    /// PyTorch's <c>max(dim)</c>). Works for integer types too. The size must be positive.
    /// </summary>
    public static void ArgExtreme<T>(ReadOnlySpan<T> x, Span<T> values, Span<long> indices, int outer, int size, int inner, bool max)
        where T : unmanaged, INumber<T>
    {
        for (int o = 0; o < outer; o++)
        {
            for (int i = 0; i < inner; i++)
            {
                int b = o * size * inner + i;
                T best = x[b];
                int bi = 0;
                if (!T.IsNaN(best))
                {
                    for (int s = 1; s < size; s++)
                    {
                        var v = x[b + s * inner];
                        if (T.IsNaN(v)) { best = v; bi = s; break; }
                        if (max ? v > best : v < best) { best = v; bi = s; }
                    }
                }
                values[o * inner + i] = best;
                indices[o * inner + i] = bi;
            }
        }
    }

    /// <summary>
    /// sum[j] += x[off + j] + x[off + ld + j] + … over <paramref name="rows"/> rows <paramref name="ld"/> apart (a bias
    /// gradient: the rows of gy summed into gb; each element's sum in row order): one <c>TensorPrimitives.Add</c> per row.
    /// Sums kept in registers across the rows (session 21's split) were slower: their two vector chains per column pass wait
    /// on the add's latency every row (`count colsum-lstm`, the LSTM's 1120 × 512: 94–102 µs against 42–46 per row;
    /// `colsum-split`, the transformer split's 256 rows × 128 of 512 columns: 10–14 against 6–9; 1 thread, min).
    /// Used by the transformer, cross-attention and recurrent backward passes.
    /// </summary>
    internal static void AddColumnSums<T>(T[] x, int off, int ld, int rows, Span<T> sum) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int m = sum.Length;
        if (rows > 0 && (off < 0 || (long)(rows - 1) * ld + off + m > x.Length))
            throw new ArgumentException($"AddColumnSums: {rows} rows of {m} columns from element {off}, {ld} apart, need {(long)(rows - 1) * ld + off + m} elements, but the array has {x.Length}.");
        for (int r = 0; r < rows; r++) TensorPrimitives.Add(sum, x.AsSpan(off + r * ld, m), sum);
    }
}
