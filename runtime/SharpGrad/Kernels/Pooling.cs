using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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
        if (g.KH < 1 || g.KW < 1 || g.SH < 1 || g.SW < 1 || g.DH < 1 || g.DW < 1 || g.PH < 0 || g.PW < 0 || g.HO < 0 || g.WO < 0
            || x.Length < (long)g.Planes * g.H * g.W || y.Length < (long)g.Planes * lo || (idx is not null && idx.Length < (long)g.Planes * lo))
        {
            throw new ArgumentException($"MaxPool2d: the geometry {g} does not fit the arrays (input {x.Length}, output {y.Length}, indices {idx?.Length}).");
        }
        if ((long)g.Planes * lo * g.KH * g.KW > ParallelWork && Parallelism.MaxThreads > 1)
        {
            Parallelism.For(g.Planes, new MaxPlanes<T>(g, x, y, idx));
        }
        else
        {
            for (int p = 0; p < g.Planes; p++) MaxPlane(g, p, x, y, idx);
        }
    }

    private readonly struct MaxPlanes<T>(PoolGeometry g, T[] x, T[] y, long[]? idx) : IParallelBody where T : unmanaged, INumber<T>
    {
        public void Invoke(int plane) => MaxPlane(g, plane, x, y, idx);
    }

    private static void MaxPlane<T>(in PoolGeometry g, int p, T[] x, T[] y, long[]? idx) where T : unmanaged, INumber<T>
    {
        int xOff = p * g.H * g.W, yOff = p * g.HO * g.WO, lo = g.HO * g.WO;
        var inside = InteriorOutputs(g);
        if (typeof(T) == typeof(float) && Vector256.IsHardwareAccelerated)
        {
            MaxPlaneFloat(g, inside, Unsafe.As<float[]>(x), xOff, Unsafe.As<float[]>(y), yOff, idx);
            return;
        }
        for (int oh = 0; oh < g.HO; oh++)
        {
            for (int ow = 0; ow < g.WO; ow++) MaxAt(g, inside, oh, ow, x, xOff, y, yOff, idx);
        }
    }

    /// <summary>The outputs whose windows lie inside the input: OhLo ≤ oh &lt; OhHi and OwLo ≤ ow &lt; OwHi.</summary>
    private static (int OhLo, int OhHi, int OwLo, int OwHi) InteriorOutputs(in PoolGeometry g)
    {
        static (int, int) Range(int size, int outSize, int k, int s, int pad, int d)
        {
            int lo = Math.Min(outSize, (pad + s - 1) / s);
            int lastStart = size - 1 - (k - 1) * d + pad;   // the largest o·s whose window ends inside
            int hi = lastStart < 0 ? lo : Math.Max(lo, Math.Min(outSize, lastStart / s + 1));
            return (lo, hi);
        }
        var (ohLo, ohHi) = Range(g.H, g.HO, g.KH, g.SH, g.PH, g.DH);
        var (owLo, owHi) = Range(g.W, g.WO, g.KW, g.SW, g.PW, g.DW);
        return (ohLo, ohHi, owLo, owHi);
    }

    /// <summary>
    /// One output: the maximum over the window in scan order; the first maximum wins, a NaN wins and ends the scan; an
    /// empty window gives −∞ at index 0. Interior windows skip the bounds checks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MaxAt<T>(in PoolGeometry g, (int OhLo, int OhHi, int OwLo, int OwHi) inside, int oh, int ow, T[] x, int xOff, T[] y, int yOff, long[]? idx)
        where T : unmanaged, INumber<T>
    {
        int h0 = oh * g.SH - g.PH, w0 = ow * g.SW - g.PW;
        T best;
        long bestIdx;
        if (oh >= inside.OhLo && oh < inside.OhHi && ow >= inside.OwLo && ow < inside.OwHi)
        {
            int start = h0 * g.W + w0;
            ref T win = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x), xOff + start);
            best = win;
            int bestOff = 0;
            if (!T.IsNaN(best))
            {
                for (int i = 0; i < g.KH; i++)
                {
                    int rowOff = i * g.DH * g.W;
                    for (int j = 0; j < g.KW; j++)
                    {
                        int off = rowOff + j * g.DW;
                        T v = Unsafe.Add(ref win, off);
                        if (v > best) { best = v; bestOff = off; }
                        else if (T.IsNaN(v)) { best = v; bestOff = off; goto found; }
                    }
                }
            }
        found:
            bestIdx = start + bestOff;
        }
        else
        {
            best = T.Zero;
            bestIdx = -1;
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
            if (bestIdx < 0) best = T.CreateTruncating(double.NegativeInfinity);
        }
        y[yOff + oh * g.WO + ow] = best;
        if (idx is not null) idx[yOff + oh * g.WO + ow] = Math.Max(bestIdx, 0);
    }

    /// <summary>
    /// A float plane eight outputs at a time, in flat output order (so narrow outputs, e.g. 7 wide, still fill the
    /// vectors): a group whose eight windows are all interior takes the taps in scan order, each a vector of eight loads,
    /// folded with compare-and-select — no branch on the data, which mispredicts on about every other tap. The rule is
    /// <see cref="MaxAt"/>'s: a tap replaces the maximum when greater, or when NaN while the maximum is not yet NaN.
    /// Groups touching the border, and the last few outputs, go through <see cref="MaxAt"/>.
    /// </summary>
    private static void MaxPlaneFloat(in PoolGeometry g, (int OhLo, int OhHi, int OwLo, int OwHi) inside, float[] x, int xOff, float[] y, int yOff, long[]? idx)
    {
        int lo = g.HO * g.WO;
        ref float plane = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x), xOff);
        ref float yp = ref MemoryMarshal.GetArrayDataReference(y);
        Span<int> origin = stackalloc int[8];
        int oh = 0, ow = 0;   // the output at flat index o
        int o = 0;
        for (; o + 8 <= lo; o += 8)
        {
            int gh = oh, gw = ow;
            bool interior = true;
            for (int k = 0; k < 8; k++)
            {
                interior &= oh >= inside.OhLo && oh < inside.OhHi && ow >= inside.OwLo && ow < inside.OwHi;
                origin[k] = (oh * g.SH - g.PH) * g.W + ow * g.SW - g.PW;
                if (++ow == g.WO) { ow = 0; oh++; }
            }
            if (!interior)
            {
                for (int k = 0; k < 8; k++)
                {
                    MaxAt(g, inside, gh, gw, x, xOff, y, yOff, idx);
                    if (++gw == g.WO) { gw = 0; gh++; }
                }
                continue;
            }
            var best = Gather(ref plane, origin, 0);
            var bestOff = Vector256<int>.Zero;
            for (int i = 0; i < g.KH; i++)
            {
                for (int j = i == 0 ? 1 : 0; j < g.KW; j++)
                {
                    int off = i * g.DH * g.W + j * g.DW;
                    var v = Gather(ref plane, origin, off);
                    var take = Vector256.GreaterThan(v, best) | (~Vector256.Equals(v, v) & Vector256.Equals(best, best));
                    best = Vector256.ConditionalSelect(take, v, best);
                    bestOff = Vector256.ConditionalSelect(take.AsInt32(), Vector256.Create(off), bestOff);
                }
            }
            best.StoreUnsafe(ref yp, (nuint)(yOff + o));
            if (idx is not null)
            {
                var (low, high) = Vector256.Widen(Vector256.Create<int>(origin) + bestOff);
                ref long ip = ref MemoryMarshal.GetArrayDataReference(idx);
                low.StoreUnsafe(ref ip, (nuint)(yOff + o));
                high.StoreUnsafe(ref ip, (nuint)(yOff + o + 4));
            }
        }
        for (; o < lo; o++)
        {
            MaxAt(g, inside, oh, ow, x, xOff, y, yOff, idx);
            if (++ow == g.WO) { ow = 0; oh++; }
        }
    }

    /// <summary>plane[origin[k] + off] for the eight lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Gather(ref float plane, ReadOnlySpan<int> origin, int off) => Vector256.Create(
        Unsafe.Add(ref plane, origin[0] + off), Unsafe.Add(ref plane, origin[1] + off), Unsafe.Add(ref plane, origin[2] + off), Unsafe.Add(ref plane, origin[3] + off),
        Unsafe.Add(ref plane, origin[4] + off), Unsafe.Add(ref plane, origin[5] + off), Unsafe.Add(ref plane, origin[6] + off), Unsafe.Add(ref plane, origin[7] + off));

    /// <summary>gx[p, idx] += gy[p, ·] (gx cleared first); the planes are split over the workers when there are many.</summary>
    public static void MaxBackward<T>(int planes, int hw, int lo, T[] gy, long[] idx, T[] gx) where T : unmanaged, INumber<T>
    {
        if ((long)planes * hw > ParallelWork && Parallelism.MaxThreads > 1)
        {
            Parallelism.For(planes, new MaxBackwardPlanes<T>(hw, lo, gy, idx, gx));
        }
        else
        {
            for (int p = 0; p < planes; p++) MaxBackwardPlane(p, hw, lo, gy, idx, gx);
        }
    }

    private readonly struct MaxBackwardPlanes<T>(int hw, int lo, T[] gy, long[] idx, T[] gx) : IParallelBody where T : unmanaged, INumber<T>
    {
        public void Invoke(int plane) => MaxBackwardPlane(plane, hw, lo, gy, idx, gx);
    }

    private static void MaxBackwardPlane<T>(int p, int hw, int lo, T[] gy, long[] idx, T[] gx) where T : unmanaged, INumber<T>
    {
        var plane = gx.AsSpan(p * hw, hw);
        plane.Clear();
        var gyPlane = gy.AsSpan(p * lo, lo);
        var idxPlane = idx.AsSpan(p * lo, lo);
        for (int o = 0; o < gyPlane.Length; o++) plane[(int)idxPlane[o]] += gyPlane[o];
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
