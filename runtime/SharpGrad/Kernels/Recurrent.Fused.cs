using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SharpGrad.Kernels;

// The LSTM time loops with the step's product and the cell in one kernel (float, hidden size a multiple of the vector width).
//   forward:  per step and pair of batch rows, per block of w hidden units (w = 8 with AVX2, 16 with AVX-512): the four
//             gates' pre-activations of the block, h_{t−1}·W_hhᵀ, in 2 × 4 vector accumulators over k = 0..H, plus x·W_ihᵀ
//             and the bias, stored into the gates' rows; then per row the nonlinearities and the cell in loops of
//             independent iterations (LstmActivateRow). W_hh is packed once per sequence so the block's four gate
//             columns are one contiguous panel [k][gate][w] (16 KB at H = 128).
//   backward: per step, the gradient reaching h_{t−1} = dGates_t·W_hh in 4-row × 2-vector tiles over k = 0..4H, and in the
//             tile's epilogue the cell backward of step t − 1 for those rows and units (dh_{t−1} = that sum + the output's
//             gradient), which writes dGates_{t−1}: the next step's operand. W_hh is packed once per sequence into panels
//             [k][2w] of each block of 2w units.
// Both replace the generic path's per-step Gemm calls, whose 6-row tiles left 2 of the 32 rows to a slower remainder
// kernel, and its separate cell pass (docs/performance.md, "LSTM step, session 16"). The batch split over threads
// (RecurrentKernel.BatchParts) calls them per block of rows, as it calls the generic loops.
public static partial class RecurrentKernel
{
    /// <summary>Tests: the vector width of the fused LSTM loops for kernels called on this thread (0: the machine's; 256 or 512: that width, emulated if the machine lacks it; −1: the generic loops).</summary>
    [ThreadStatic] internal static int t_forcedLstmWidth;

    /// <summary>The vector width in bits of the fused LSTM loops for <paramref name="s"/> (0: the generic loops): float LSTM whose hidden size is a multiple of the vector's lanes.</summary>
    internal static int FusedLstmWidth<T>(in RecurrenceShape s) where T : unmanaged
    {
        if (typeof(T) != typeof(float) || s.Mode != RecurrentMode.Lstm || t_forcedLstmWidth < 0 || s.Hidden <= 0 || s.Steps <= 0 || s.Batch <= 0) return 0;
        int width = t_forcedLstmWidth > 0 ? t_forcedLstmWidth
            : Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 0;
        return width > 0 && s.Hidden % (width / 32) == 0 ? width : 0;
    }

    /// <summary>Packs W_hh for the fused forward: [block of w units][k][gate][w], from W_hhᵀ in <see cref="RecurrenceBuffers{T}.WeightT"/>.</summary>
    private static void PackLstmForward<T>(int width, int h, RecurrenceBuffers<T> buffers) where T : unmanaged, INumber<T>
    {
        if (width == 512) PackLstmForward<T, Gemm.Simd512<T>, Vector512<T>>(h, buffers);
        else PackLstmForward<T, Gemm.Simd256<T>, Vector256<T>>(h, buffers);
    }

    private static void PackLstmForward<T, V, TV>(int h, RecurrenceBuffers<T> buffers) where T : unmanaged, INumber<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        int w = V.Count, g = 4 * h;
        ref T src = ref MemoryMarshal.GetArrayDataReference(buffers.WeightT);   // [h, 4h]
        ref T dst = ref MemoryMarshal.GetArrayDataReference(buffers.Packed);
        nint d = 0;
        for (int j = 0; j < h; j += w)
        {
            for (int k = 0; k < h; k++)
            {
                for (int q = 0; q < 4; q++, d += w) V.Store(V.Load(ref src, (nuint)(k * g + q * h + j)), ref dst, (nuint)d);
            }
        }
    }

    /// <summary>Packs W_hh [4h, h] (at <paramref name="wOffset"/>) for the fused backward: [block of <paramref name="u"/> units][k][u].</summary>
    private static void PackLstmBackward<T, V, TV>(T[] w, int wOffset, int h, int u, T[] packed) where T : unmanaged, INumber<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        int vw = V.Count, g = 4 * h;
        if ((long)wOffset + (long)g * h > w.Length || packed.Length < g * h)
            throw new ArgumentException($"LSTM backward: W_hh of [{g}, {h}] at {wOffset} does not fit its array of {w.Length}.");
        ref T src = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(w), wOffset);
        ref T dst = ref MemoryMarshal.GetArrayDataReference(packed);
        nint d = 0;
        for (int j = 0; j < h; j += u)
        {
            for (int k = 0; k < g; k++)
            {
                for (int l = 0; l < u; l += vw, d += vw) V.Store(V.Load(ref src, (nuint)(k * h + j + l)), ref dst, (nuint)d);
            }
        }
    }

    /// <summary>The fused forward time loop for batch rows [<paramref name="r0"/>, r0 + <paramref name="nr"/>) at <paramref name="width"/> bits (W_hh packed).</summary>
    private static void LstmFusedForward<T>(int width, in RecurrenceShape s, int r0, int nr, ReadOnlySpan<T> xw, T[] h0, bool zeroH0, ReadOnlySpan<T> c0,
        ReadOnlySpan<T> bias, T[] output, RecurrenceBuffers<T> buffers) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (width == 512) LstmFusedForward<T, Gemm.Simd512<T>, Vector512<T>>(s, r0, nr, xw, h0, zeroH0, c0, bias, output, buffers);
        else LstmFusedForward<T, Gemm.Simd256<T>, Vector256<T>>(s, r0, nr, xw, h0, zeroH0, c0, bias, output, buffers);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LstmFusedForward<T, V, TV>(in RecurrenceShape s, int r0, int nr, ReadOnlySpan<T> xw, T[] h0, bool zeroH0, ReadOnlySpan<T> c0,
        ReadOnlySpan<T> bias, T[] output, RecurrenceBuffers<T> buffers) where T : unmanaged, IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        int n = s.Batch, h = s.Hidden, g = 4 * h, nh = n * h, w = V.Count, panel = 4 * w;
        nuint uh = (nuint)h;
        ref T wp0 = ref MemoryMarshal.GetArrayDataReference(buffers.Packed);
        ref T x0 = ref MemoryMarshal.GetReference(xw);
        ref T b0 = ref MemoryMarshal.GetReference(bias);
        bool hasBias = !bias.IsEmpty;
        ref T out0 = ref MemoryMarshal.GetArrayDataReference(output);
        ref T act0 = ref MemoryMarshal.GetArrayDataReference(buffers.Gates);
        ref T aux0 = ref MemoryMarshal.GetArrayDataReference(buffers.Aux);
        ref T tc0 = ref MemoryMarshal.GetArrayDataReference(buffers.TanhC);
        ref T hInit = ref MemoryMarshal.GetArrayDataReference(h0);
        ref T cInit = ref MemoryMarshal.GetReference(c0);
        for (int k = 0; k < s.Steps; k++)
        {
            int t = s.TimeOf(k), prev = s.TimeOf(k - 1);
            bool product = k > 0 || !zeroH0, hasPrev = k > 0 || !c0.IsEmpty;
            ref T hp = ref k == 0 ? ref hInit : ref Unsafe.Add(ref out0, prev * nh);
            ref T cp = ref k == 0 ? ref cInit : ref Unsafe.Add(ref aux0, prev * nh);
            // Block of units outer, row pairs inner: the block's 16 KB panel stays in L1 while every row pair uses it (rows
            // outer streamed all of W_hh from L2 for each pair: the loop then ran at L2's bandwidth, ~60 GFLOP/s).
            for (int j = 0; j < h; j += w)
            {
                nuint ji = (nuint)j;
                ref T wj = ref Unsafe.Add(ref wp0, j * 4 * h);
                for (int r = 0; r < nr; r += 2)
                {
                    int ra = r0 + r;
                    bool pair = r + 1 < nr;
                    int rb = pair ? ra + 1 : ra;
                    ref T pa = ref Unsafe.Add(ref hp, ra * h);
                    ref T pb = ref Unsafe.Add(ref hp, rb * h);
                    TV a0 = default, a1 = default, a2 = default, a3 = default, c0v = default, c1v = default, c2v = default, c3v = default;
                    if (product)
                    {
                        ref T wk = ref wj;
                        for (int p = 0; p < h; p++)
                        {
                            var w0 = V.Load(ref wk, 0);
                            var w1 = V.Load(ref wk, (nuint)w);
                            var w2 = V.Load(ref wk, (nuint)(2 * w));
                            var w3 = V.Load(ref wk, (nuint)(3 * w));
                            var v = V.Broadcast(Unsafe.Add(ref pa, p));
                            a0 = V.MultiplyAdd(v, w0, a0); a1 = V.MultiplyAdd(v, w1, a1); a2 = V.MultiplyAdd(v, w2, a2); a3 = V.MultiplyAdd(v, w3, a3);
                            v = V.Broadcast(Unsafe.Add(ref pb, p));
                            c0v = V.MultiplyAdd(v, w0, c0v); c1v = V.MultiplyAdd(v, w1, c1v); c2v = V.MultiplyAdd(v, w2, c2v); c3v = V.MultiplyAdd(v, w3, c3v);
                            wk = ref Unsafe.Add(ref wk, panel);
                        }
                    }
                    LstmFusedPre<T, V, TV>(a0, a1, a2, a3, ji, uh, ref Unsafe.Add(ref x0, (t * n + ra) * g), ref b0, hasBias, ref Unsafe.Add(ref act0, (t * n + ra) * g));
                    if (pair) LstmFusedPre<T, V, TV>(c0v, c1v, c2v, c3v, ji, uh, ref Unsafe.Add(ref x0, (t * n + rb) * g), ref b0, hasBias, ref Unsafe.Add(ref act0, (t * n + rb) * g));
                }
            }
            // The pre-activations are complete: the nonlinearities and the cell, row by row.
            for (int row = r0; row < r0 + nr; row++)
            {
                LstmActivateRow<T, V, TV>(h, ref Unsafe.Add(ref act0, (t * n + row) * g), ref Unsafe.Add(ref cp, hasPrev ? row * h : 0), hasPrev,
                    ref Unsafe.Add(ref aux0, t * nh + row * h), ref Unsafe.Add(ref tc0, t * nh + row * h), ref Unsafe.Add(ref out0, t * nh + row * h));
            }
        }
    }

    /// <summary>The pre-activations of one vector of units of one row: the product's sums + x (+ the bias), stored into the gates' row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LstmFusedPre<T, V, TV>(TV si, TV sf, TV sg, TV so, nuint ji, nuint uh, ref T x, ref T bias, bool hasBias, ref T act)
        where T : unmanaged, IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        nuint jf = ji + uh, jg = jf + uh, jo = jg + uh;
        var ai = V.Add(si, V.Load(ref x, ji));
        var af = V.Add(sf, V.Load(ref x, jf));
        var ag = V.Add(sg, V.Load(ref x, jg));
        var ao = V.Add(so, V.Load(ref x, jo));
        if (hasBias)
        {
            ai = V.Add(ai, V.Load(ref bias, ji));
            af = V.Add(af, V.Load(ref bias, jf));
            ag = V.Add(ag, V.Load(ref bias, jg));
            ao = V.Add(ao, V.Load(ref bias, jo));
        }
        V.Store(ai, ref act, ji);
        V.Store(af, ref act, jf);
        V.Store(ag, ref act, jg);
        V.Store(ao, ref act, jo);
    }

    /// <summary>
    /// One row's gates from their pre-activations (in place: σ on i, f, o, tanh on g), then c, tanh(c) and h, as
    /// <see cref="LstmCellForward{T, V, TV}"/> computes them, but in loops of one nonlinearity each: the iterations are
    /// independent, so the core overlaps their exponentials' long dependency chains (the one-pass cell, ~300 instructions per
    /// vector with σ → c → tanh(c) in series, ran at the chains' latency: about half of the forward's time).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void LstmActivateRow<T, V, TV>(int h, ref T act, ref T cPrev, bool hasPrev, ref T c, ref T tanhC, ref T hOut)
        where T : unmanaged, IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        nuint w = (nuint)V.Count, uh = (nuint)h;
        var one = V.Broadcast(T.One);
        var two = V.Broadcast(T.One + T.One);
        var zero = V.Broadcast(T.Zero);
        for (nuint j = 0; j < 2 * uh; j += w)
            V.Store(V.Divide(one, V.Add(one, RecurrentMath.CellExp<T, V, TV>(V.Subtract(zero, V.Load(ref act, j))))), ref act, j);
        for (nuint j = 2 * uh; j < 3 * uh; j += w)
        {
            var a = V.Load(ref act, j);
            V.Store(V.Subtract(one, V.Divide(two, V.Add(RecurrentMath.CellExp<T, V, TV>(V.Add(a, a)), one))), ref act, j);
        }
        for (nuint j = 3 * uh; j < 4 * uh; j += w)
            V.Store(V.Divide(one, V.Add(one, RecurrentMath.CellExp<T, V, TV>(V.Subtract(zero, V.Load(ref act, j))))), ref act, j);
        for (nuint j = 0; j < uh; j += w)
        {
            var ig = V.Multiply(V.Load(ref act, j), V.Load(ref act, j + 2 * uh));
            var cc = hasPrev ? V.MultiplyAdd(V.Load(ref act, j + uh), V.Load(ref cPrev, j), ig) : ig;
            V.Store(cc, ref c, j);
            var tc = V.Subtract(one, V.Divide(two, V.Add(RecurrentMath.CellExp<T, V, TV>(V.Add(cc, cc)), one)));
            V.Store(tc, ref tanhC, j);
            V.Store(V.Multiply(V.Load(ref act, j + 3 * uh), tc), ref hOut, j);
        }
    }

    /// <summary>
    /// The fused backward time loop for batch rows [<paramref name="r0"/>, r0 + <paramref name="nr"/>) at <paramref name="width"/>
    /// bits: dGates into <paramref name="dXw"/>, the cell gradient left in the buffers' Dc (dc_0 at the end), b_hh's gradient of
    /// the rows added into <paramref name="dB"/>, and, when <paramref name="wantDh0"/>, dh_0 into the buffers' DhNext.
    /// </summary>
    private static void LstmFusedBackward<T>(int width, in RecurrenceShape s, int r0, int nr, ReadOnlySpan<T> gOutput, ReadOnlySpan<T> gCLast,
        ReadOnlySpan<T> c0, T[] w, int wOffset, T[] dXw, bool wantDh0, Span<T> dB, RecurrenceBuffers<T> buffers) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (nr <= 0) return;
        int n = s.Batch, h = s.Hidden, g = 4 * h, nh = n * h, steps = s.Steps, ph = nr * h, rh = r0 * h;
        var dc = buffers.Dc.AsSpan(rh, ph);
        if (gCLast.IsEmpty) dc.Clear();
        else gCLast.Slice(rh, ph).CopyTo(dc);
        var dhNext = buffers.DhNext.AsSpan(rh, ph);
        dhNext.Clear();
        // The last step's cell: dh is the output's gradient alone.
        int tl = s.TimeOf(steps - 1);
        LstmStepBackward(nr, h, gOutput.Slice(tl * nh + rh, ph), dhNext, buffers.Gates.AsSpan((tl * n + r0) * g, nr * g), buffers.TanhC.AsSpan(tl * nh + rh, ph),
            steps == 1 ? (c0.IsEmpty ? default : c0.Slice(rh, ph)) : buffers.Aux.AsSpan(s.TimeOf(steps - 2) * nh + rh, ph), dc, dXw.AsSpan((tl * n + r0) * g, nr * g));
        if (width == 512) LstmFusedBackwardSteps<T, Gemm.Simd512<T>, Vector512<T>>(s, r0, nr, gOutput, c0, dXw, dB, buffers);
        else LstmFusedBackwardSteps<T, Gemm.Simd256<T>, Vector256<T>>(s, r0, nr, gOutput, c0, dXw, dB, buffers);
        int t0 = s.TimeOf(0);
        AddRows(dB, dXw, (t0 * n + r0) * g, nr, g);
        if (wantDh0) Gemm<T>(false, false, nr, h, g, dXw, (t0 * n + r0) * g, g, w, wOffset, h, buffers.DhNext, rh, h, beta: false);
    }

    /// <summary>Adds the <paramref name="rows"/> rows of <paramref name="g"/> elements at <paramref name="offset"/> into <paramref name="sum"/> (none when empty).</summary>
    private static void AddRows<T>(Span<T> sum, T[] a, int offset, int rows, int g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (sum.IsEmpty) return;
        for (int r = 0; r < rows; r++) System.Numerics.Tensors.TensorPrimitives.Add(sum[..g], a.AsSpan(offset + r * g, g), sum[..g]);
    }

    /// <summary>The backward's steps T − 1 … 1: each step's dGates·W_hh with the cell backward of the step before in its epilogue.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LstmFusedBackwardSteps<T, V, TV>(in RecurrenceShape s, int r0, int nr, ReadOnlySpan<T> gOutput, ReadOnlySpan<T> c0, T[] dXw,
        Span<T> dB, RecurrenceBuffers<T> buffers) where T : unmanaged, IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        int n = s.Batch, h = s.Hidden, g = 4 * h, nh = n * h, w = V.Count;
        bool two = h % (2 * w) == 0;
        int u = two ? 2 * w : w;
        ref T wp0 = ref MemoryMarshal.GetArrayDataReference(buffers.Packed);
        ref T d0 = ref MemoryMarshal.GetArrayDataReference(dXw);
        ref T go0 = ref MemoryMarshal.GetReference(gOutput);
        ref T act0 = ref MemoryMarshal.GetArrayDataReference(buffers.Gates);
        ref T aux0 = ref MemoryMarshal.GetArrayDataReference(buffers.Aux);
        ref T tc0 = ref MemoryMarshal.GetArrayDataReference(buffers.TanhC);
        ref T dc0 = ref MemoryMarshal.GetArrayDataReference(buffers.Dc);
        ref T cInit = ref MemoryMarshal.GetReference(c0);
        for (int k = s.Steps - 1; k >= 1; k--)
        {
            int t = s.TimeOf(k), tp = s.TimeOf(k - 1);
            AddRows(dB, dXw, (t * n + r0) * g, nr, g);
            bool hasPrev = k > 1 || !c0.IsEmpty;
            ref T cp = ref k == 1 ? ref cInit : ref Unsafe.Add(ref aux0, s.TimeOf(k - 2) * nh);
            // Block of units outer, row tiles inner: the block's panel is read from L2 once per step, not once per row tile.
            // Two-vector blocks: 6-row tiles first (12 accumulators: the 4-row tile's 8 left the FMAs waiting on their own
            // latency), as many as leave a multiple of 4 rows to the 4-row tiles when possible (32 rows: 6·4 + 4·2, 16: 6·2 + 4).
            int six = two ? LstmBackwardSixRowTiles(nr) : 0;
            for (int j = 0; j < h; j += u)
            {
                for (int r = 0; r < 6 * six; r += 6)
                {
                    LstmBackwardTile6<T, V, TV>(r0 + r, j, g, h, ref Unsafe.Add(ref d0, t * n * g), ref Unsafe.Add(ref wp0, j * g),
                        ref Unsafe.Add(ref go0, tp * nh), ref Unsafe.Add(ref act0, tp * n * g), ref Unsafe.Add(ref tc0, tp * nh), ref cp, hasPrev, ref dc0,
                        ref Unsafe.Add(ref d0, tp * n * g));
                }
                // The 4-row tiles, one compiled copy per vector count (the flag tested once per tile, not per k).
                for (int r = 6 * six; r < nr; r += 4)
                {
                    int rows = Math.Min(4, nr - r);
                    if (two)
                    {
                        LstmBackwardTile4<T, V, TV, TwoVectors>(r0 + r, rows, j, g, h, ref Unsafe.Add(ref d0, t * n * g), ref Unsafe.Add(ref wp0, j * g),
                            ref Unsafe.Add(ref go0, tp * nh), ref Unsafe.Add(ref act0, tp * n * g), ref Unsafe.Add(ref tc0, tp * nh), ref cp, hasPrev, ref dc0,
                            ref Unsafe.Add(ref d0, tp * n * g));
                    }
                    else
                    {
                        LstmBackwardTile4<T, V, TV, OneVector>(r0 + r, rows, j, g, h, ref Unsafe.Add(ref d0, t * n * g), ref Unsafe.Add(ref wp0, j * g),
                            ref Unsafe.Add(ref go0, tp * nh), ref Unsafe.Add(ref act0, tp * n * g), ref Unsafe.Add(ref tc0, tp * nh), ref cp, hasPrev, ref dc0,
                            ref Unsafe.Add(ref d0, tp * n * g));
                    }
                }
            }
        }
    }

    /// <summary>The vector count of a backward tile (<see cref="OneVector"/>, <see cref="TwoVectors"/>), a constant in each compiled copy.</summary>
    private interface ITileVectors { static abstract bool Two { get; } }

    /// <summary>Tiles one vector wide (h a multiple of w but not of 2w).</summary>
    private readonly struct OneVector : ITileVectors { public static bool Two => false; }

    /// <summary>Tiles two vectors wide (h a multiple of 2w).</summary>
    private readonly struct TwoVectors : ITileVectors { public static bool Two => true; }

    /// <summary>
    /// One tile of up to 4 rows (<paramref name="rows"/>, 1–4) × 1 or 2 vectors (<typeparamref name="TW"/>) of the backward's
    /// step, as <see cref="LstmBackwardTile6{T, V, TV}"/>: rows past the tile's end repeat its last row (their sums are not used).
    /// The vector count is a type, so each copy's k loop carries no test of it (with a bool the JIT, which does not inline the
    /// tile, tested it per k: 5 branches and 2 stack reloads).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LstmBackwardTile4<T, V, TV, TW>(int ra, int rows, int j, int g, int h, ref T dT, ref T panel, ref T goP, ref T actP,
        ref T tcP, ref T cp, bool hasPrev, ref T dc0, ref T dgP) where T : unmanaged, IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
        where TW : struct, ITileVectors
    {
        bool two = TW.Two;
        ref T a0 = ref Unsafe.Add(ref dT, ra * g);
        ref T a1 = ref Unsafe.Add(ref a0, Math.Min(1, rows - 1) * g);
        ref T a2 = ref Unsafe.Add(ref a0, Math.Min(2, rows - 1) * g);
        ref T a3 = ref Unsafe.Add(ref a0, Math.Min(3, rows - 1) * g);
        TV s00 = default, s01 = default, s10 = default, s11 = default, s20 = default, s21 = default, s30 = default, s31 = default;
        nuint w = (nuint)V.Count, u = two ? 2 * w : w;
        ref T wk = ref panel;
        for (int p = 0; p < g; p++)
        {
            var w0 = V.Load(ref wk, 0);
            var w1 = two ? V.Load(ref wk, w) : default;
            var v = V.Broadcast(Unsafe.Add(ref a0, p));
            s00 = V.MultiplyAdd(v, w0, s00);
            if (two) s01 = V.MultiplyAdd(v, w1, s01);
            v = V.Broadcast(Unsafe.Add(ref a1, p));
            s10 = V.MultiplyAdd(v, w0, s10);
            if (two) s11 = V.MultiplyAdd(v, w1, s11);
            v = V.Broadcast(Unsafe.Add(ref a2, p));
            s20 = V.MultiplyAdd(v, w0, s20);
            if (two) s21 = V.MultiplyAdd(v, w1, s21);
            v = V.Broadcast(Unsafe.Add(ref a3, p));
            s30 = V.MultiplyAdd(v, w0, s30);
            if (two) s31 = V.MultiplyAdd(v, w1, s31);
            wk = ref Unsafe.Add(ref wk, u);
        }
        for (int q = 0; q < rows; q++)
        {
            var (v0, v1) = q switch { 0 => (s00, s01), 1 => (s10, s11), 2 => (s20, s21), _ => (s30, s31) };
            LstmTileRowBackward<T, V, TV, TW>(v0, v1, ra + q, j, g, h, ref goP, ref actP, ref tcP, ref cp, hasPrev, ref dc0, ref dgP);
        }
    }

    /// <summary>
    /// The epilogue of a backward tile for one row: its sums (<paramref name="v0"/>, and <paramref name="v1"/> when
    /// <typeparamref name="TW"/> is two vectors) + the output's gradient = dh_{t−1} of units [<paramref name="j"/>, …), then the
    /// cell backward of step t − 1 for them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LstmTileRowBackward<T, V, TV, TW>(TV v0, TV v1, int row, int j, int g, int h, ref T goP, ref T actP, ref T tcP,
        ref T cp, bool hasPrev, ref T dc0, ref T dgP) where T : unmanaged, IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
        where TW : struct, ITileVectors
    {
        nuint ji = (nuint)j, uh = (nuint)h, w = (nuint)V.Count;
        int e = row * h;
        ref T go = ref Unsafe.Add(ref goP, e);
        ref T act = ref Unsafe.Add(ref actP, row * g);
        ref T tc = ref Unsafe.Add(ref tcP, e);
        ref T cpr = ref Unsafe.Add(ref cp, hasPrev ? e : 0);
        ref T dcr = ref Unsafe.Add(ref dc0, e);
        ref T dg = ref Unsafe.Add(ref dgP, row * g);
        LstmCellBackward<T, V, TV>(V.Add(v0, V.Load(ref go, ji)), ji, uh, ref act, ref tc, ref cpr, hasPrev, ref dcr, ref dg);
        if (TW.Two) LstmCellBackward<T, V, TV>(V.Add(v1, V.Load(ref go, ji + w)), ji + w, uh, ref act, ref tc, ref cpr, hasPrev, ref dcr, ref dg);
    }

    /// <summary>
    /// How many 6-row tiles the backward's two-vector blocks of <paramref name="nr"/> rows take: the most that leave a multiple
    /// of 4 rows (for the 4-row tiles), or with none such the most that fit.
    /// </summary>
    internal static int LstmBackwardSixRowTiles(int nr)
    {
        for (int k = nr / 6; k >= 0; k--)
        {
            if ((nr - 6 * k) % 4 == 0) return k;
        }
        return nr / 6;
    }

    /// <summary>
    /// One 6-row × 2-vector tile of the backward's step: dh_{t−1} of rows [<paramref name="ra"/>, ra + 6) and units
    /// [<paramref name="j"/>, j + 2w) = dGates_t·W_hh over k = 0..4h from the block's panel [4h][2w], then the cell backward of
    /// step t − 1 for those rows and units. <paramref name="dT"/>, <paramref name="goP"/>, <paramref name="actP"/>,
    /// <paramref name="tcP"/> and <paramref name="dgP"/> are the steps' blocks (row 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LstmBackwardTile6<T, V, TV>(int ra, int j, int g, int h, ref T dT, ref T panel, ref T goP, ref T actP, ref T tcP,
        ref T cp, bool hasPrev, ref T dc0, ref T dgP) where T : unmanaged, IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        ref T a0 = ref Unsafe.Add(ref dT, ra * g);
        ref T a1 = ref Unsafe.Add(ref a0, g);
        ref T a2 = ref Unsafe.Add(ref a1, g);
        ref T a3 = ref Unsafe.Add(ref a2, g);
        ref T a4 = ref Unsafe.Add(ref a3, g);
        ref T a5 = ref Unsafe.Add(ref a4, g);
        TV s00 = default, s01 = default, s10 = default, s11 = default, s20 = default, s21 = default;
        TV s30 = default, s31 = default, s40 = default, s41 = default, s50 = default, s51 = default;
        nuint w = (nuint)V.Count, u = 2 * w;
        ref T wk = ref panel;
        for (int p = 0; p < g; p++)
        {
            var w0 = V.Load(ref wk, 0);
            var w1 = V.Load(ref wk, w);
            var v = V.Broadcast(Unsafe.Add(ref a0, p));
            s00 = V.MultiplyAdd(v, w0, s00); s01 = V.MultiplyAdd(v, w1, s01);
            v = V.Broadcast(Unsafe.Add(ref a1, p));
            s10 = V.MultiplyAdd(v, w0, s10); s11 = V.MultiplyAdd(v, w1, s11);
            v = V.Broadcast(Unsafe.Add(ref a2, p));
            s20 = V.MultiplyAdd(v, w0, s20); s21 = V.MultiplyAdd(v, w1, s21);
            v = V.Broadcast(Unsafe.Add(ref a3, p));
            s30 = V.MultiplyAdd(v, w0, s30); s31 = V.MultiplyAdd(v, w1, s31);
            v = V.Broadcast(Unsafe.Add(ref a4, p));
            s40 = V.MultiplyAdd(v, w0, s40); s41 = V.MultiplyAdd(v, w1, s41);
            v = V.Broadcast(Unsafe.Add(ref a5, p));
            s50 = V.MultiplyAdd(v, w0, s50); s51 = V.MultiplyAdd(v, w1, s51);
            wk = ref Unsafe.Add(ref wk, u);
        }
        for (int q = 0; q < 6; q++)
        {
            var (v0, v1) = q switch { 0 => (s00, s01), 1 => (s10, s11), 2 => (s20, s21), 3 => (s30, s31), 4 => (s40, s41), _ => (s50, s51) };
            LstmTileRowBackward<T, V, TV, TwoVectors>(v0, v1, ra + q, j, g, h, ref goP, ref actP, ref tcP, ref cp, hasPrev, ref dc0, ref dgP);
        }
    }

    /// <summary>Packs W_hh for <see cref="LstmFusedBackward{T}"/> at <paramref name="width"/> bits into the buffers' Packed.</summary>
    private static void PackLstmBackward<T>(int width, T[] w, int wOffset, int h, RecurrenceBuffers<T> buffers) where T : unmanaged, INumber<T>
    {
        if (width == 512) PackLstmBackward<T, Gemm.Simd512<T>, Vector512<T>>(w, wOffset, h, h % (2 * Vector512<T>.Count) == 0 ? 2 * Vector512<T>.Count : Vector512<T>.Count, buffers.Packed);
        else PackLstmBackward<T, Gemm.Simd256<T>, Vector256<T>>(w, wOffset, h, h % (2 * Vector256<T>.Count) == 0 ? 2 * Vector256<T>.Count : Vector256<T>.Count, buffers.Packed);
    }
}
