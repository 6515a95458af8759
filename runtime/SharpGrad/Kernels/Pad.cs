using System.Numerics;

namespace SharpGrad.Kernels;

/// <summary>How <c>Functional.Pad</c> fills the border (PyTorch: <c>F.pad</c>'s <c>mode</c>).</summary>
internal enum PadMode
{
    /// <summary>A constant value (negative padding crops).</summary>
    Constant,

    /// <summary>The input mirrored without repeating the edge (PyTorch <c>reflect</c>): [a b c] → b [a b c] b.</summary>
    Reflect,

    /// <summary>The edge repeated (PyTorch <c>replicate</c>).</summary>
    Replicate,

    /// <summary>The input wrapped around (PyTorch <c>circular</c>).</summary>
    Circular,
}

/// <summary>
/// Padding of the last one to three dims of dense data, forward and adjoint. Each padded axis is a source map (output
/// index → input index, or −1 for the constant), combined into one flat source per output element, so every mode is the
/// same gather and its backward the same scatter.
/// </summary>
internal static class PadKernel
{
    /// <summary>The source index of each output position of an axis of <paramref name="size"/> padded by (<paramref name="before"/>, <paramref name="after"/>).</summary>
    public static int[] SourceMap(int size, int before, int after, PadMode mode)
    {
        var map = new int[size + before + after];
        for (int o = 0; o < map.Length; o++)
        {
            int i = o - before;
            map[o] = mode switch
            {
                PadMode.Constant => (uint)i < (uint)size ? i : -1,
                PadMode.Reflect => i < 0 ? -i : i >= size ? 2 * (size - 1) - i : i,
                PadMode.Replicate => Math.Clamp(i, 0, size - 1),
                _ => ((i % size) + size) % size,
            };
        }
        return map;
    }

    /// <summary>
    /// The flat input index of each output element (−1 where the constant goes): output [outer, |ma|, |mb|, |mc|] from input
    /// [outer, <paramref name="inner"/>.A, .B, .C] through the three axis maps (leading ones are [0] when fewer dims are padded).
    /// </summary>
    public static int[] Sources(int outer, (int A, int B, int C) inner, int[] ma, int[] mb, int[] mc)
    {
        var sources = new int[outer * ma.Length * mb.Length * mc.Length];
        int inPlane = inner.A * inner.B * inner.C, k = 0;
        for (int o = 0; o < outer; o++)
        {
            for (int a = 0; a < ma.Length; a++)
            {
                for (int b = 0; b < mb.Length; b++)
                {
                    bool rowInside = ma[a] >= 0 && mb[b] >= 0;
                    int row = o * inPlane + (ma[a] * inner.B + mb[b]) * inner.C;
                    for (int c = 0; c < mc.Length; c++) sources[k++] = rowInside && mc[c] >= 0 ? row + mc[c] : -1;
                }
            }
        }
        return sources;
    }

    /// <summary>y[k] = x[sources[k]], or <paramref name="value"/> where the source is −1.</summary>
    public static void Forward<T>(int[] sources, T value, ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, INumber<T>
    {
        for (int k = 0; k < sources.Length; k++) y[k] = sources[k] >= 0 ? x[sources[k]] : value;
    }

    /// <summary>The adjoint of <see cref="Forward{T}"/>: gx (cleared first) accumulates each gy at its source.</summary>
    public static void Backward<T>(int[] sources, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, INumber<T>
    {
        gx.Clear();
        for (int k = 0; k < sources.Length; k++)
        {
            if (sources[k] >= 0) gx[sources[k]] += gy[k];
        }
    }
}
