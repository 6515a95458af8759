using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaxForward<T>(PoolGeometry g, T[] x, T[] y, long[]? idx) where T : unmanaged, INumber<T>
    {
        int lo = g.HO * g.WO;
        if (g.KH < 1 || g.KW < 1 || g.SH < 1 || g.SW < 1 || g.DH < 1 || g.DW < 1 || g.PH < 0 || g.PW < 0 || g.HO < 0 || g.WO < 0
            || x.Length < (long)g.Planes * g.H * g.W || y.Length < (long)g.Planes * lo || (idx is not null && idx.Length < (long)g.Planes * lo))
        {
            throw new ArgumentException($"MaxPool2d: the geometry {g} does not fit the arrays (input {x.Length}, output {y.Length}, indices {idx?.Length}).");
        }
        int parts = PlaneParts(g.Planes, (long)g.Planes * lo * g.KH * g.KW);
        if (parts > 1)
        {
            Parallelism.For(parts, new MaxPlanes<T>(g, parts, x, y, idx));
        }
        else
        {
            for (int p = 0; p < g.Planes; p++) MaxPlane(g, p, x, y, idx);
        }
    }

    /// <summary>
    /// How many ranges of planes a pooling pass of <paramref name="work"/> window reads is split into (1 = the calling thread):
    /// two per thread above <see cref="ParallelWork"/>, so that a hand-off moves many planes, not one.
    /// </summary>
    private static int PlaneParts(int planes, long work) =>
        work > ParallelWork && Parallelism.MaxThreads > 1 ? Math.Min(planes, 2 * Parallelism.MaxThreads) : 1;

    private readonly struct MaxPlanes<T>(PoolGeometry g, int parts, T[] x, T[] y, long[]? idx) : IParallelBody where T : unmanaged, INumber<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int part)
        {
            for (int p = (int)((long)g.Planes * part / parts); p < (int)((long)g.Planes * (part + 1) / parts); p++) MaxPlane(g, p, x, y, idx);
        }
    }

    /// <summary>
    /// The usual MaxPool2d(2): 2×2 windows of stride 2 without padding or dilation, all inside the input. These planes take
    /// <see cref="MaxPlaneHalving"/> (and the backward <see cref="MaxBackwardPlaneHalving"/>) on x86 with AVX2.
    /// </summary>
    private static bool IsHalving(in PoolGeometry g) =>
        g.KH == 2 && g.KW == 2 && g.SH == 2 && g.SW == 2 && g.PH == 0 && g.PW == 0 && g.DH == 1 && g.DW == 1
        && 2 * g.HO <= g.H && 2 * g.WO <= g.W && Avx2.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MaxPlane<T>(in PoolGeometry g, int p, T[] x, T[] y, long[]? idx) where T : unmanaged, INumber<T>
    {
        int xOff = p * g.H * g.W, yOff = p * g.HO * g.WO, lo = g.HO * g.WO;
        if (typeof(T) == typeof(float) && IsHalving(g))
        {
            MaxPlaneHalving(g, Unsafe.As<float[]>(x), xOff, Unsafe.As<float[]>(y), yOff, idx);
            return;
        }
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

    /// <summary>
    /// gx[p, idx] += gy[p, ·] over the planes of <paramref name="g"/>, into gx as it is (<paramref name="accumulate"/>, what the
    /// compiled backward needs: no scratch buffer and no extra pass to add it), or into a cleared gx. The indices must be
    /// those <see cref="MaxForward{T}"/> wrote for this geometry: 2×2 windows of stride 2 (<see cref="IsHalving"/>) then add
    /// each window's four gradients (gy at the maximum, 0 elsewhere) with vectors instead of scattering one by one (a lane
    /// whose index is outside its window is scattered as given).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaxBackward<T>(in PoolGeometry g, T[] gy, long[] idx, T[] gx, bool accumulate) where T : unmanaged, INumber<T>
    {
        int hw = g.H * g.W, lo = g.HO * g.WO;
        if (gy.Length < (long)g.Planes * lo || idx.Length < (long)g.Planes * lo || gx.Length < (long)g.Planes * hw)
        {
            throw new ArgumentException($"MaxPool2d backward: the geometry {g} does not fit the arrays (output gradient {gy.Length}, indices {idx.Length}, input gradient {gx.Length}).");
        }
        if (typeof(T) != typeof(float) || !IsHalving(g))
        {
            ScatterPlanes(g.Planes, hw, lo, gy, idx, gx, clear: !accumulate);
            return;
        }
        int parts = PlaneParts(g.Planes, (long)g.Planes * hw);
        var halving = new MaxBackwardHalving(g, Unsafe.As<float[]>(gy), idx, Unsafe.As<float[]>(gx), parts, accumulate);
        if (parts > 1) Parallelism.For(parts, halving);
        else halving.Invoke(0);
    }

    private readonly struct MaxBackwardHalving(PoolGeometry g, float[] gy, long[] idx, float[] gx, int parts, bool accumulate) : IParallelBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int part)
        {
            int hw = g.H * g.W;
            for (int p = (int)((long)g.Planes * part / parts); p < (int)((long)g.Planes * (part + 1) / parts); p++)
            {
                if (!accumulate) gx.AsSpan(p * hw, hw).Clear();
                MaxBackwardPlaneHalving(g, p, gy, idx, gx);
            }
        }
    }

    /// <summary>gx[p, idx] += gy[p, ·] (gx cleared first); the planes are split over the workers when there are many.</summary>
    public static void MaxBackward<T>(int planes, int hw, int lo, T[] gy, long[] idx, T[] gx) where T : unmanaged, INumber<T> =>
        ScatterPlanes(planes, hw, lo, gy, idx, gx, clear: true);

    /// <summary>gx[p, idx] += gy[p, ·] for every plane, each plane cleared first when <paramref name="clear"/>; the planes are split over the workers when there are many.</summary>
    private static void ScatterPlanes<T>(int planes, int hw, int lo, T[] gy, long[] idx, T[] gx, bool clear) where T : unmanaged, INumber<T>
    {
        int parts = PlaneParts(planes, (long)planes * hw);
        var body = new MaxBackwardPlanes<T>(hw, lo, gy, idx, gx, parts, planes, clear);
        if (parts > 1) Parallelism.For(parts, body);
        else body.Invoke(0);
    }

    private readonly struct MaxBackwardPlanes<T>(int hw, int lo, T[] gy, long[] idx, T[] gx, int parts, int planes, bool clear) : IParallelBody
        where T : unmanaged, INumber<T>
    {
        public void Invoke(int part)
        {
            for (int p = (int)((long)planes * part / parts); p < (int)((long)planes * (part + 1) / parts); p++) MaxBackwardPlane(p, hw, lo, gy, idx, gx, clear);
        }
    }

    private static void MaxBackwardPlane<T>(int p, int hw, int lo, T[] gy, long[] idx, T[] gx, bool clear) where T : unmanaged, INumber<T>
    {
        var plane = gx.AsSpan(p * hw, hw);
        if (clear) plane.Clear();
        var gyPlane = gy.AsSpan(p * lo, lo);
        var idxPlane = idx.AsSpan(p * lo, lo);
        for (int o = 0; o < gyPlane.Length; o++) plane[(int)idxPlane[o]] += gyPlane[o];
    }

    /// <summary>
    /// One plane of the usual MaxPool2d(2) (<see cref="IsHalving"/>), eight (then four) outputs of a row at a time: the two
    /// input rows are loaded as vectors and split into even and odd columns, giving the four taps a, b (upper row), c, d
    /// (lower row) of eight windows in four registers, folded in scan order with <see cref="MaxPlaneFloat"/>'s rule (a tap
    /// replaces the maximum when greater, or when NaN while the maximum is not yet NaN). The last outputs of a row go one
    /// by one with the same rule.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MaxPlaneHalving(in PoolGeometry g, float[] x, int xOff, float[] y, int yOff, long[]? idx)
    {
        int w = g.W, wo = g.WO;
        ref float x0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x), xOff);
        ref float y0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(y), yOff);
        ref long i0 = ref idx is null ? ref Unsafe.NullRef<long>() : ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(idx), yOff);
        bool withIdx = idx is not null;
        var lanes8 = Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14);
        var lanes4 = Vector128.Create(0, 2, 4, 6);
        for (int oh = 0; oh < g.HO; oh++)
        {
            int r0 = 2 * oh * w;
            ref float row0 = ref Unsafe.Add(ref x0, r0);
            ref float row1 = ref Unsafe.Add(ref row0, w);
            ref float yr = ref Unsafe.Add(ref y0, oh * wo);
            int ow = 0;
            for (; ow < wo && wo >= 8; ow += 8)
            {
                // The last eight outputs of a row end at the row's end (recomputing a few: y and the indices are only written)
                // instead of going through the 4-wide and the scalar steps, whose data-dependent branches mispredict.
                if (ow + 8 > wo) ow = wo - 8;
                var (a, b) = Split(Vector256.LoadUnsafe(ref row0, (nuint)(2 * ow)), Vector256.LoadUnsafe(ref row0, (nuint)(2 * ow + 8)));
                var (c, d) = Split(Vector256.LoadUnsafe(ref row1, (nuint)(2 * ow)), Vector256.LoadUnsafe(ref row1, (nuint)(2 * ow + 8)));
                var best = a;
                var off = Vector256<int>.Zero;
                Fold(b, 1, ref best, ref off);
                Fold(c, w, ref best, ref off);
                Fold(d, w + 1, ref best, ref off);
                best.StoreUnsafe(ref yr, (nuint)ow);
                if (withIdx)
                {
                    var (low, high) = Vector256.Widen(off + lanes8 + Vector256.Create(r0 + 2 * ow));
                    ref long ir = ref Unsafe.Add(ref i0, oh * wo + ow);
                    low.StoreUnsafe(ref ir);
                    high.StoreUnsafe(ref ir, 4);
                }
            }
            for (; ow < wo && wo >= 4; ow += 4)
            {
                if (ow + 4 > wo) ow = wo - 4;   // the last four end at the row's end, as above
                var (a, b) = Split(Vector128.LoadUnsafe(ref row0, (nuint)(2 * ow)), Vector128.LoadUnsafe(ref row0, (nuint)(2 * ow + 4)));
                var (c, d) = Split(Vector128.LoadUnsafe(ref row1, (nuint)(2 * ow)), Vector128.LoadUnsafe(ref row1, (nuint)(2 * ow + 4)));
                var best = a;
                var off = Vector128<int>.Zero;
                Fold(b, 1, ref best, ref off);
                Fold(c, w, ref best, ref off);
                Fold(d, w + 1, ref best, ref off);
                best.StoreUnsafe(ref yr, (nuint)ow);
                if (withIdx)
                {
                    var (low, high) = Vector128.Widen(off + lanes4 + Vector128.Create(r0 + 2 * ow));
                    ref long ir = ref Unsafe.Add(ref i0, oh * wo + ow);
                    low.StoreUnsafe(ref ir);
                    high.StoreUnsafe(ref ir, 2);
                }
            }
            for (; ow < wo; ow++)
            {
                float best = Unsafe.Add(ref row0, 2 * ow);
                int off = 0;
                Fold1(Unsafe.Add(ref row0, 2 * ow + 1), 1, ref best, ref off);
                Fold1(Unsafe.Add(ref row1, 2 * ow), w, ref best, ref off);
                Fold1(Unsafe.Add(ref row1, 2 * ow + 1), w + 1, ref best, ref off);
                Unsafe.Add(ref yr, ow) = best;
                if (withIdx) Unsafe.Add(ref i0, oh * wo + ow) = r0 + 2 * ow + off;
            }
        }
    }

    /// <summary>The even and the odd elements of the 16 floats lo:hi (AVX: a shuffle within the 128-bit halves, then a 64-bit permute).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> Even, Vector256<float> Odd) Split(Vector256<float> lo, Vector256<float> hi)
    {
        var even = Avx.Shuffle(lo, hi, 0b10_00_10_00);   // lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6
        var odd = Avx.Shuffle(lo, hi, 0b11_01_11_01);
        return (Avx2.Permute4x64(even.AsDouble(), 0b11_01_10_00).AsSingle(), Avx2.Permute4x64(odd.AsDouble(), 0b11_01_10_00).AsSingle());
    }

    /// <summary>The even and the odd elements of the 8 floats lo:hi.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector128<float> Even, Vector128<float> Odd) Split(Vector128<float> lo, Vector128<float> hi)
        => (Sse.Shuffle(lo, hi, 0b10_00_10_00), Sse.Shuffle(lo, hi, 0b11_01_11_01));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fold(Vector256<float> v, int off, ref Vector256<float> best, ref Vector256<int> bestOff)
    {
        var take = Vector256.GreaterThan(v, best) | (~Vector256.Equals(v, v) & Vector256.Equals(best, best));
        best = Vector256.ConditionalSelect(take, v, best);
        bestOff = Vector256.ConditionalSelect(take.AsInt32(), Vector256.Create(off), bestOff);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fold(Vector128<float> v, int off, ref Vector128<float> best, ref Vector128<int> bestOff)
    {
        var take = Vector128.GreaterThan(v, best) | (~Vector128.Equals(v, v) & Vector128.Equals(best, best));
        best = Vector128.ConditionalSelect(take, v, best);
        bestOff = Vector128.ConditionalSelect(take.AsInt32(), Vector128.Create(off), bestOff);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fold1(float v, int off, ref float best, ref int bestOff)
    {
        if (v > best || (float.IsNaN(v) && !float.IsNaN(best)))
        {
            best = v;
            bestOff = off;
        }
    }

    /// <summary>
    /// gx[p, ·] += the scatter of gy[p, ·] for 2×2 windows of stride 2 (<see cref="IsHalving"/>), eight (then four) outputs
    /// at a time: each window's four gradients (gy where the index points, 0 elsewhere) are interleaved back into the two
    /// rows and added with vector loads and stores. A group with an index outside its window, and the last outputs of a
    /// row, are scattered one by one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MaxBackwardPlaneHalving(in PoolGeometry g, int p, float[] gy, long[] idx, float[] gx)
    {
        int w = g.W, wo = g.WO, lo = g.HO * wo;
        var plane = gx.AsSpan(p * g.H * w, g.H * w);
        ref float gx0 = ref MemoryMarshal.GetReference(plane);
        ref float gy0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(gy), p * lo);
        ref long i0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(idx), p * lo);
        var lanes8 = Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14);
        var lanes4 = Vector128.Create(0, 2, 4, 6);
        for (int oh = 0; oh < g.HO; oh++)
        {
            int r0 = 2 * oh * w;
            ref float row0 = ref Unsafe.Add(ref gx0, r0);
            ref float row1 = ref Unsafe.Add(ref row0, w);
            int o = oh * wo, ow = 0;
            for (; ow + 8 <= wo; ow += 8)
            {
                ref long ir = ref Unsafe.Add(ref i0, o + ow);
                var origin = Vector256.Create((long)(r0 + 2 * ow));
                var off = Vector256.Narrow(Vector256.LoadUnsafe(ref ir) - origin, Vector256.LoadUnsafe(ref ir, 4) - origin) - lanes8;
                var ma = Vector256.Equals(off, Vector256<int>.Zero);
                var mb = Vector256.Equals(off, Vector256.Create(1));
                var mc = Vector256.Equals(off, Vector256.Create(w));
                var md = Vector256.Equals(off, Vector256.Create(w + 1));
                if ((ma | mb | mc | md) != Vector256<int>.AllBitsSet)
                {
                    ScatterOne(ref gy0, ref i0, plane, o + ow, 8);
                    continue;
                }
                var v = Vector256.LoadUnsafe(ref gy0, (nuint)(o + ow));
                AddPairs(v & ma.AsSingle(), v & mb.AsSingle(), ref row0, 2 * ow);
                AddPairs(v & mc.AsSingle(), v & md.AsSingle(), ref row1, 2 * ow);
            }
            for (; ow + 4 <= wo; ow += 4)
            {
                ref long ir = ref Unsafe.Add(ref i0, o + ow);
                var origin = Vector128.Create((long)(r0 + 2 * ow));
                var off = Vector128.Narrow(Vector128.LoadUnsafe(ref ir) - origin, Vector128.LoadUnsafe(ref ir, 2) - origin) - lanes4;
                var ma = Vector128.Equals(off, Vector128<int>.Zero);
                var mb = Vector128.Equals(off, Vector128.Create(1));
                var mc = Vector128.Equals(off, Vector128.Create(w));
                var md = Vector128.Equals(off, Vector128.Create(w + 1));
                if ((ma | mb | mc | md) != Vector128<int>.AllBitsSet)
                {
                    ScatterOne(ref gy0, ref i0, plane, o + ow, 4);
                    continue;
                }
                var v = Vector128.LoadUnsafe(ref gy0, (nuint)(o + ow));
                AddPairs(v & ma.AsSingle(), v & mb.AsSingle(), ref row0, 2 * ow);
                AddPairs(v & mc.AsSingle(), v & md.AsSingle(), ref row1, 2 * ow);
            }
            ScatterOne(ref gy0, ref i0, plane, o + ow, wo - ow);
        }
    }

    /// <summary>gx[idx[o]] += gy[o] for <paramref name="count"/> outputs from <paramref name="o"/> (the scatter's definition).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScatterOne(ref float gy0, ref long i0, Span<float> plane, int o, int count)
    {
        for (int k = o; k < o + count; k++) plane[(int)Unsafe.Add(ref i0, k)] += Unsafe.Add(ref gy0, k);
    }

    /// <summary>row[at .. at + 16) += a0 b0 a1 b1 … a7 b7 (the two taps of a row of eight windows, interleaved).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddPairs(Vector256<float> a, Vector256<float> b, ref float row, int at)
    {
        var lo = Avx.UnpackLow(a, b);    // a0 b0 a1 b1 | a4 b4 a5 b5
        var hi = Avx.UnpackHigh(a, b);   // a2 b2 a3 b3 | a6 b6 a7 b7
        ref float r = ref Unsafe.Add(ref row, at);
        (Vector256.LoadUnsafe(ref r) + Avx.Permute2x128(lo, hi, 0x20)).StoreUnsafe(ref r);
        (Vector256.LoadUnsafe(ref r, 8) + Avx.Permute2x128(lo, hi, 0x31)).StoreUnsafe(ref r, 8);
    }

    /// <summary>row[at .. at + 8) += a0 b0 a1 b1 a2 b2 a3 b3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddPairs(Vector128<float> a, Vector128<float> b, ref float row, int at)
    {
        ref float r = ref Unsafe.Add(ref row, at);
        (Vector128.LoadUnsafe(ref r) + Sse.UnpackLow(a, b)).StoreUnsafe(ref r);
        (Vector128.LoadUnsafe(ref r, 4) + Sse.UnpackHigh(a, b)).StoreUnsafe(ref r, 4);
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
