using System.Runtime.CompilerServices;
using System.Numerics;

namespace SharpGrad.Kernels;

/// <summary>The geometry of a 2-d pooling window over <see cref="Planes"/> planes of H×W.</summary>
internal readonly record struct PoolGeometry(
    int Planes, int H, int W, int HO, int WO, int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW);

/// <summary>Max, average and adaptive-average pooling kernels on contiguous [planes, H, W] data.</summary>
internal static class Pooling
{
    /// <summary>Below this many window reads (planes · outputs · kernel taps) pooling stays on the calling thread.</summary>
    private const long ParallelWork = 200_000;

    /// <summary>
    /// y[p, oh, ow] = max over the window; idx = flat h·W + w of the maximum in its plane (NaN wins, like PyTorch).
    /// <paramref name="idx"/> may be null when the indices are not needed (inference). Small problems run on the calling
    /// thread without touching the thread pool.
    /// </summary>
    public static void MaxForward<T>(PoolGeometry g, T[] x, T[] y, long[]? idx) where T : unmanaged, INumber<T>
    {
        int lo = g.HO * g.WO;
        if ((long)g.Planes * lo * g.KH * g.KW > ParallelWork && Parallelism.MaxThreads > 1)
        {
            System.Threading.Tasks.Parallel.For(0, g.Planes, Parallelism.Options, p => MaxPlane(g, p, x, y, idx));
        }
        else
        {
            for (int p = 0; p < g.Planes; p++) MaxPlane(g, p, x, y, idx);
        }
    }

    private static void MaxPlane<T>(in PoolGeometry g, int p, T[] x, T[] y, long[]? idx) where T : unmanaged, INumber<T>
    {
        int xOff = p * g.H * g.W, yOff = p * g.HO * g.WO;
        for (int oh = 0; oh < g.HO; oh++)
        {
            int h0 = oh * g.SH - g.PH;
            for (int ow = 0; ow < g.WO; ow++)
            {
                int w0 = ow * g.SW - g.PW;
                T best = T.Zero;
                long bestIdx = -1;
                for (int i = 0; i < g.KH; i++)
                {
                    int ih = h0 + i * g.DH;
                    if ((uint)ih >= (uint)g.H) continue;
                    for (int j = 0; j < g.KW; j++)
                    {
                        int iw = w0 + j * g.DW;
                        if ((uint)iw >= (uint)g.W) continue;
                        T v = x[xOff + ih * g.W + iw];
                        if (bestIdx < 0 || v > best || T.IsNaN(v))
                        {
                            best = v;
                            bestIdx = ih * g.W + iw;
                            if (T.IsNaN(v)) goto done;
                        }
                    }
                }
            done:
                y[yOff + oh * g.WO + ow] = bestIdx < 0 ? T.CreateTruncating(double.NegativeInfinity) : best;
                if (idx is not null) idx[yOff + oh * g.WO + ow] = Math.Max(bestIdx, 0);
            }
        }
    }

    /// <summary>gx[p, idx] += gy[p, ·] (gx cleared first).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaxBackward<T>(int planes, int hw, int lo, T[] gy, long[] idx, T[] gx) where T : unmanaged, INumber<T>
    {
        Array.Clear(gx);
        for (int p = 0; p < planes; p++)
        {
            int xOff = p * hw, yOff = p * lo;
            for (int o = 0; o < lo; o++) gx[xOff + (int)idx[yOff + o]] += gy[yOff + o];
        }
    }

    private static (int H0, int H1, int W0, int W1, int Divisor) AvgWindow(in PoolGeometry g, int oh, int ow, bool countIncludePad)
    {
        int hstart = oh * g.SH - g.PH, wstart = ow * g.SW - g.PW;
        int hend = Math.Min(hstart + g.KH, g.H + g.PH), wend = Math.Min(wstart + g.KW, g.W + g.PW);
        int poolSize = (hend - hstart) * (wend - wstart);
        hstart = Math.Max(hstart, 0);
        wstart = Math.Max(wstart, 0);
        hend = Math.Min(hend, g.H);
        wend = Math.Min(wend, g.W);
        int div = countIncludePad ? poolSize : (hend - hstart) * (wend - wstart);
        return (hstart, hend, wstart, wend, div);
    }

    /// <summary>Average pooling (PyTorch's divisor rules for padding and ceil mode).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AvgForward<T>(PoolGeometry g, bool countIncludePad, int? divisorOverride, T[] x, T[] y) where T : unmanaged, INumber<T>
    {
        int hw = g.H * g.W, lo = g.HO * g.WO;
        for (int p = 0; p < g.Planes; p++)
        {
            int xOff = p * hw, yOff = p * lo;
            for (int oh = 0; oh < g.HO; oh++)
            {
                for (int ow = 0; ow < g.WO; ow++)
                {
                    var (h0, h1, w0, w1, div) = AvgWindow(g, oh, ow, countIncludePad);
                    T s = T.Zero;
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) s += x[xOff + ih * g.W + iw];
                    y[yOff + oh * g.WO + ow] = s / T.CreateChecked(divisorOverride ?? div);
                }
            }
        }
    }

    /// <summary>The gradient of <see cref="AvgForward{T}"/> (gx cleared first, unless <paramref name="accumulate"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AvgBackward<T>(PoolGeometry g, bool countIncludePad, int? divisorOverride, T[] gy, T[] gx, bool accumulate = false) where T : unmanaged, INumber<T>
    {
        if (!accumulate) Array.Clear(gx);
        int hw = g.H * g.W, lo = g.HO * g.WO;
        for (int p = 0; p < g.Planes; p++)
        {
            int xOff = p * hw, yOff = p * lo;
            for (int oh = 0; oh < g.HO; oh++)
            {
                for (int ow = 0; ow < g.WO; ow++)
                {
                    var (h0, h1, w0, w1, div) = AvgWindow(g, oh, ow, countIncludePad);
                    T v = gy[yOff + oh * g.WO + ow] / T.CreateChecked(divisorOverride ?? div);
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) gx[xOff + ih * g.W + iw] += v;
                }
            }
        }
    }

    private static int Start(int o, int outSize, int inSize) => (int)((long)o * inSize / outSize);

    private static int End(int o, int outSize, int inSize) => (int)(((long)(o + 1) * inSize + outSize - 1) / outSize);

    /// <summary>Adaptive average pooling: window [floor(o·H/HO), ceil((o+1)·H/HO)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AdaptiveAvgForward<T>(int planes, int H, int W, int HO, int WO, T[] x, T[] y) where T : unmanaged, INumber<T>
    {
        for (int p = 0; p < planes; p++)
        {
            int xOff = p * H * W, yOff = p * HO * WO;
            for (int oh = 0; oh < HO; oh++)
            {
                int h0 = Start(oh, HO, H), h1 = End(oh, HO, H);
                for (int ow = 0; ow < WO; ow++)
                {
                    int w0 = Start(ow, WO, W), w1 = End(ow, WO, W);
                    T s = T.Zero;
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) s += x[xOff + ih * W + iw];
                    y[yOff + oh * WO + ow] = s / T.CreateChecked((h1 - h0) * (w1 - w0));
                }
            }
        }
    }

    /// <summary>The gradient of <see cref="AdaptiveAvgForward{T}"/> (gx cleared first, unless <paramref name="accumulate"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AdaptiveAvgBackward<T>(int planes, int H, int W, int HO, int WO, T[] gy, T[] gx, bool accumulate = false) where T : unmanaged, INumber<T>
    {
        if (!accumulate) Array.Clear(gx);
        for (int p = 0; p < planes; p++)
        {
            int xOff = p * H * W, yOff = p * HO * WO;
            for (int oh = 0; oh < HO; oh++)
            {
                int h0 = Start(oh, HO, H), h1 = End(oh, HO, H);
                for (int ow = 0; ow < WO; ow++)
                {
                    int w0 = Start(ow, WO, W), w1 = End(ow, WO, W);
                    T v = gy[yOff + oh * WO + ow] / T.CreateChecked((h1 - h0) * (w1 - w0));
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) gx[xOff + ih * W + iw] += v;
                }
            }
        }
    }

    /// <summary>
    /// Adaptive max pooling (PyTorch: <c>adaptive_max_pool2d</c>): the maximum of window [⌊o·H/HO⌋, ⌈(o+1)·H/HO⌉) × the same
    /// for columns; idx = flat h·W + w of the maximum in its plane (the first on ties; NaN wins, like PyTorch).
    /// </summary>
    public static void AdaptiveMaxForward<T>(int planes, int H, int W, int HO, int WO, T[] x, T[] y, long[]? idx) where T : unmanaged, INumber<T>
    {
        for (int p = 0; p < planes; p++)
        {
            int xOff = p * H * W, yOff = p * HO * WO;
            for (int oh = 0; oh < HO; oh++)
            {
                int h0 = Start(oh, HO, H), h1 = End(oh, HO, H);
                for (int ow = 0; ow < WO; ow++)
                {
                    int w0 = Start(ow, WO, W), w1 = End(ow, WO, W);
                    int best = h0 * W + w0;
                    T bestValue = x[xOff + best];
                    for (int ih = h0; ih < h1 && !T.IsNaN(bestValue); ih++)
                    {
                        for (int iw = w0; iw < w1; iw++)
                        {
                            T v = x[xOff + ih * W + iw];
                            if (v > bestValue || T.IsNaN(v))
                            {
                                bestValue = v;
                                best = ih * W + iw;
                                if (T.IsNaN(v)) break;
                            }
                        }
                    }
                    y[yOff + oh * WO + ow] = bestValue;
                    if (idx is not null) idx[yOff + oh * WO + ow] = best;
                }
            }
        }
    }
}
