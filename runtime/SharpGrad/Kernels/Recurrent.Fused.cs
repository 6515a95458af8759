using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SharpGrad.Kernels;

// The LSTM time loops with the step's product and the cell in one kernel (float, hidden size a multiple of the vector width).
//   forward:  per step, per block of 2w pre-activation columns (w = 8 with AVX2, 16 with AVX-512), 6-row then 4-row × 2-vector
//             tiles: h_{t−1}·W_hhᵀ over k = 0..H (LstmTileSums6/4), plus x·W_ihᵀ and the bias, stored into the gates' rows;
//             then per row the nonlinearities and the cell in loops of independent iterations (LstmActivateRow). W_hh is
//             packed once per sequence into panels [k][2w] of each column block (8 KB at H = 128 with AVX2). The compiled
//             stack's LSTM may pass its input and W_ih instead of x·W_ihᵀ (TileProjection): each tile then first sums x·W_ihᵀ
//             from W_ih's panels [I][2w] into the gates' rows (the projection GEMM's elements, CanProjectInTiles).
//   backward: per step, the gradient reaching h_{t−1} = dGates_t·W_hh in 6-row then 4-row × 2-vector tiles over k = 0..4H
//             (the same k loops), and in the tile's epilogue the cell backward of step t − 1 for those rows and units
//             (dh_{t−1} = that sum + the output's gradient), which writes dGates_{t−1}: the next step's operand. W_hh is
//             packed once per sequence into panels [k][2w] of each block of 2w units.
// The tiles' k loops are methods of their own (not inlined): inside the time loops the JIT spilled the row pointers, and each
// inlined tile cleared its sums' struct (384 bytes) twice (docs/performance.md, "LSTM step, session 18").
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

    /// <summary>
    /// Packs W_hh for the fused forward: panels [block of 2w of the 4h pre-activation columns][k][2w], from W_hhᵀ in
    /// <see cref="RecurrenceBuffers{T}.WeightT"/> (8 KB at H = 128 with AVX2).
    /// </summary>
    private static void PackLstmForward<T>(int width, int h, RecurrenceBuffers<T> buffers) where T : unmanaged, INumber<T>
    {
        if (width == 512) PackPanels<T, Gemm.Simd512<T>, Vector512<T>>(buffers.WeightT, 0, h, 4 * h, 2 * Vector512<T>.Count, buffers.Packed);
        else PackPanels<T, Gemm.Simd256<T>, Vector256<T>>(buffers.WeightT, 0, h, 4 * h, 2 * Vector256<T>.Count, buffers.Packed);
    }

    /// <summary>
    /// Packs the [<paramref name="k"/>, <paramref name="cols"/>] matrix at <paramref name="offset"/> of <paramref name="src"/>
    /// into panels [block of <paramref name="u"/> columns][k][u] (u a multiple of the vector width dividing cols): the
    /// B operand of the fused loops' tiles, each panel read contiguously down k.
    /// </summary>
    private static void PackPanels<T, V, TV>(T[] src, int offset, int k, int cols, int u, T[] packed) where T : unmanaged, INumber<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        int vw = V.Count;
        if (offset < 0 || (long)offset + (long)k * cols > src.Length || packed.Length < k * cols || u % vw != 0 || cols % u != 0)
            throw new ArgumentException($"LSTM weight packing: [{k}, {cols}] at {offset} in {src.Length} elements into {packed.Length}, panels of {u}.");
        ref T s0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(src), offset);
        ref T dst = ref MemoryMarshal.GetArrayDataReference(packed);
        nint d = 0;
        for (int j = 0; j < cols; j += u)
        {
            for (int p = 0; p < k; p++)
            {
                for (int l = 0; l < u; l += vw, d += vw) V.Store(V.Load(ref s0, (nuint)(p * cols + j + l)), ref dst, (nuint)d);
            }
        }
    }

    /// <summary>
    /// The layer's input and W_ih when the fused forward computes the input projection x·W_ihᵀ in its tiles (empty: the
    /// projection is given). Session 19: the separate product wrote 2.3 MB of pre-activations that every step read back
    /// (lstm_train_step_b32), and with two threads it was one more split of its own.
    /// </summary>
    internal readonly record struct TileProjection<T>(T[]? X, int InF, T[]? W) where T : unmanaged
    {
        /// <summary>
        /// With no <see cref="X"/>: the given projection holds distinct rows, and time-major row r (step t, batch row b: r = t·N + b)
        /// reads its row <c>Rows[r]</c> (an Embedding → LSTM's distinct tokens, each projected once); null: row r reads row r.
        /// </summary>
        public int[]? Rows { get; init; }
    }

    /// <summary>
    /// Whether the fused forward's tiles give the elements of the projection GEMM x·W_ihᵀ ([<paramref name="rows"/>, 4H] of
    /// <paramref name="inF"/> features) that <c>RecurrentStack</c> would run: the fused loop runs the shape, and the GEMM takes
    /// its packed path in one k-block (each element one FMA chain over the inputs in order from 0, as the tiles' k loops;
    /// its direct x·Wᵀ kernel sums in vector lanes, and a second k-block is added to the first's sum).
    /// </summary>
    internal static bool CanProjectInTiles(in RecurrenceShape s, int rows, int inF)
        => FusedLstmWidth<float>(s) > 0 && inF > 0 && inF <= Kernels.Gemm.PackedKC && Kernels.Gemm.PathOf<float>(false, true, rows, s.GateWidth, inF) == Kernels.Gemm.PackedPath;

    /// <summary>Packs W_ih [4H, I] for the tiles: panels [block of 2w of the 4H columns][k = 0..I][2w] (as W_hh's, <see cref="PackLstmForward{T}"/>).</summary>
    private static void PackLstmProjection<T>(int width, TileProjection<T> projection, int g, RecurrenceBuffers<T> buffers) where T : unmanaged, INumber<T>
    {
        int inF = projection.InF;
        buffers.EnsureProjection(inF, g);
        Transpose(projection.W!, 0, g, inF, buffers.InputWeightT);
        if (width == 512) PackPanels<T, Gemm.Simd512<T>, Vector512<T>>(buffers.InputWeightT, 0, inF, g, 2 * Vector512<T>.Count, buffers.PackedInput);
        else PackPanels<T, Gemm.Simd256<T>, Vector256<T>>(buffers.InputWeightT, 0, inF, g, 2 * Vector256<T>.Count, buffers.PackedInput);
    }

    /// <summary>The fused forward time loop for batch rows [<paramref name="r0"/>, r0 + <paramref name="nr"/>) at <paramref name="width"/> bits (W_hh packed).</summary>
    private static void LstmFusedForward<T>(int width, in RecurrenceShape s, int r0, int nr, ReadOnlySpan<T> xw, TileProjection<T> projection, T[] h0, bool zeroH0,
        ReadOnlySpan<T> c0, ReadOnlySpan<T> bias, T[] output, RecurrenceBuffers<T> buffers) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (width == 512) LstmFusedForward<T, Gemm.Simd512<T>, Vector512<T>>(s, r0, nr, xw, projection, h0, zeroH0, c0, bias, output, buffers);
        else LstmFusedForward<T, Gemm.Simd256<T>, Vector256<T>>(s, r0, nr, xw, projection, h0, zeroH0, c0, bias, output, buffers);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LstmFusedForward<T, V, TV>(in RecurrenceShape s, int r0, int nr, ReadOnlySpan<T> xw, TileProjection<T> projection, T[] h0, bool zeroH0,
        ReadOnlySpan<T> c0, ReadOnlySpan<T> bias, T[] output, RecurrenceBuffers<T> buffers) where T : unmanaged, IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        int n = s.Batch, h = s.Hidden, g = 4 * h, nh = n * h, u = 2 * V.Count, inF = projection.InF;
        bool projecting = projection.X is not null;
        bool mapped = !projecting && projection.Rows is not null;
        if ((projecting ? projection.X!.Length < s.Steps * n * inF || buffers.PackedInput.Length < g * inF : mapped ? projection.Rows!.Length < s.Steps * n : xw.Length < s.Steps * n * g)
            || (!bias.IsEmpty && bias.Length < g) || buffers.Packed.Length < g * h)
            throw new ArgumentException($"LSTM forward: the arrays are too small for {s.Steps} steps of {n} rows of hidden size {h}.");
        ref T wp0 = ref MemoryMarshal.GetArrayDataReference(buffers.Packed);
        ref T ip0 = ref projecting ? ref MemoryMarshal.GetArrayDataReference(buffers.PackedInput) : ref Unsafe.NullRef<T>();
        ref T in0 = ref projecting ? ref MemoryMarshal.GetArrayDataReference(projection.X!) : ref Unsafe.NullRef<T>();
        ref T x0 = ref projecting ? ref MemoryMarshal.GetArrayDataReference(buffers.Gates) : ref MemoryMarshal.GetReference(xw);
        ref T b0 = ref MemoryMarshal.GetReference(bias);
        ref int map0 = ref mapped ? ref MemoryMarshal.GetArrayDataReference(projection.Rows!) : ref Unsafe.NullRef<int>();
        bool hasBias = !bias.IsEmpty;
        ref T out0 = ref MemoryMarshal.GetArrayDataReference(output);
        ref T act0 = ref MemoryMarshal.GetArrayDataReference(buffers.Gates);
        ref T aux0 = ref MemoryMarshal.GetArrayDataReference(buffers.Aux);
        ref T tc0 = ref MemoryMarshal.GetArrayDataReference(buffers.TanhC);
        ref T hInit = ref MemoryMarshal.GetArrayDataReference(h0);
        ref T cInit = ref MemoryMarshal.GetReference(c0);
        int six = LstmSixRowTiles(nr);
        // The tiles' sums, one frame slot for all of them (a struct local of each inlined tile was cleared per tile).
        TileSums<TV> sums = default;
        for (int k = 0; k < s.Steps; k++)
        {
            int t = s.TimeOf(k), prev = s.TimeOf(k - 1);
            bool product = k > 0 || !zeroH0, hasPrev = k > 0 || !c0.IsEmpty;
            ref T hp = ref k == 0 ? ref hInit : ref Unsafe.Add(ref out0, prev * nh);
            ref T cp = ref k == 0 ? ref cInit : ref Unsafe.Add(ref aux0, prev * nh);
            ref T xT = ref mapped ? ref x0 : ref Unsafe.Add(ref x0, t * n * g);
            ref int mapT = ref mapped ? ref Unsafe.Add(ref map0, t * n) : ref map0;
            ref T actT = ref Unsafe.Add(ref act0, t * n * g);
            ref T inT = ref projecting ? ref Unsafe.Add(ref in0, t * n * inF) : ref in0;
            // Block of 2w columns outer, row tiles inner: the block's 8 KB panel stays in L1 while every row tile uses it.
            // 6-row × 2-vector tiles (12 accumulators; the 2-row × 4-gate tile's 8 left the FMAs waiting on their latency),
            // then 4-row tiles for the rest (32 rows: 6·4 + 4·2), as the backward's.
            for (int j = 0; j < g; j += u)
            {
                ref T panel = ref Unsafe.Add(ref wp0, j * h);
                int r = 0;
                if (projecting)
                {
                    // x·W_ihᵀ of the tile first, stored where the tile's sums go (the gates' rows stand in for xw), from W_ih's panel.
                    ref T inPanel = ref Unsafe.Add(ref ip0, j * inF);
                    for (; r < 6 * six; r += 6)
                    {
                        LstmProjectTile<T, V, TV>(r0 + r, 6, j, g, inF, ref inT, ref inPanel, ref actT, ref sums);
                        LstmForwardTile<T, V, TV>(r0 + r, 6, j, g, h, ref hp, ref panel, product, ref actT, ref b0, hasBias, ref actT, ref Unsafe.NullRef<int>(), false, ref sums);
                    }
                    for (; r < nr; r += 4)
                    {
                        LstmProjectTile<T, V, TV>(r0 + r, Math.Min(4, nr - r), j, g, inF, ref inT, ref inPanel, ref actT, ref sums);
                        LstmForwardTile<T, V, TV>(r0 + r, Math.Min(4, nr - r), j, g, h, ref hp, ref panel, product, ref actT, ref b0, hasBias, ref actT, ref Unsafe.NullRef<int>(), false, ref sums);
                    }
                    continue;
                }
                for (; r < 6 * six; r += 6) LstmForwardTile<T, V, TV>(r0 + r, 6, j, g, h, ref hp, ref panel, product, ref xT, ref b0, hasBias, ref actT, ref mapT, mapped, ref sums);
                for (; r < nr; r += 4) LstmForwardTile<T, V, TV>(r0 + r, Math.Min(4, nr - r), j, g, h, ref hp, ref panel, product, ref xT, ref b0, hasBias, ref actT, ref mapT, mapped, ref sums);
            }
            // The pre-activations are complete: the nonlinearities and the cell, row by row.
            for (int row = r0; row < r0 + nr; row++)
            {
                LstmActivateRow<T, V, TV>(h, ref Unsafe.Add(ref actT, row * g), ref Unsafe.Add(ref cp, hasPrev ? row * h : 0), hasPrev,
                    ref Unsafe.Add(ref aux0, t * nh + row * h), ref Unsafe.Add(ref tc0, t * nh + row * h), ref Unsafe.Add(ref out0, t * nh + row * h));
            }
        }
    }

    /// <summary>
    /// One tile of the fused forward's step: rows [<paramref name="ra"/>, ra + <paramref name="rows"/>) (6, or 1–4) and
    /// pre-activation columns [<paramref name="j"/>, j + 2w): h_{t−1}·W_hhᵀ over k = 0..h from the block's panel (one FMA chain
    /// per element in order of k; none when not <paramref name="product"/>: h_0 = 0), + x·W_ihᵀ (+ the bias), stored into
    /// the gates' rows. <paramref name="hp"/>, <paramref name="xT"/> and <paramref name="actT"/> are the step's row 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LstmForwardTile<T, V, TV>(int ra, int rows, int j, int g, int h, ref T hp, ref T panel, bool product, ref T xT, ref T bias,
        bool hasBias, ref T actT, ref int mapT, bool mapped, ref TileSums<TV> sums) where T : unmanaged, IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        if (!product) { /* h_0 = 0: the sums are not read */ }
        else if (rows == 6) LstmTileSums6<T, V, TV>(ref Unsafe.Add(ref hp, ra * h), h, ref panel, h, ref sums);
        else LstmTileSums4<T, V, TV, TwoVectors>(ref Unsafe.Add(ref hp, ra * h), Math.Min(1, rows - 1) * h, Math.Min(2, rows - 1) * h, Math.Min(3, rows - 1) * h,
            ref panel, h, ref sums);
        nuint ji = (nuint)j, jw = ji + (nuint)V.Count;
        for (int q = 0; q < rows; q++)
        {
            int e = (ra + q) * g;
            ref T x = ref mapped ? ref Unsafe.Add(ref xT, Unsafe.Add(ref mapT, ra + q) * g) : ref Unsafe.Add(ref xT, e);
            var v0 = V.Add(product ? sums[2 * q] : default, V.Load(ref x, ji));
            var v1 = V.Add(product ? sums[2 * q + 1] : default, V.Load(ref x, jw));
            if (hasBias)
            {
                v0 = V.Add(v0, V.Load(ref bias, ji));
                v1 = V.Add(v1, V.Load(ref bias, jw));
            }
            ref T act = ref Unsafe.Add(ref actT, e);
            V.Store(v0, ref act, ji);
            V.Store(v1, ref act, jw);
        }
    }

    /// <summary>
    /// The input projection of one tile of the fused forward: x·W_ihᵀ of rows [<paramref name="ra"/>, ra + <paramref name="rows"/>)
    /// (6, or 1–4) and pre-activation columns [<paramref name="j"/>, j + 2w) over k = 0..<paramref name="inF"/> from the block's
    /// W_ih panel (one FMA chain per element in order of k, from 0: the projection GEMM's in one k-block), stored into the
    /// gates' rows, where <see cref="LstmForwardTile{T, V, TV}"/> then reads it as x·W_ihᵀ.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LstmProjectTile<T, V, TV>(int ra, int rows, int j, int g, int inF, ref T inT, ref T inPanel, ref T actT, ref TileSums<TV> sums)
        where T : unmanaged, IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        if (rows == 6) LstmTileSums6<T, V, TV>(ref Unsafe.Add(ref inT, ra * inF), inF, ref inPanel, inF, ref sums);
        else LstmTileSums4<T, V, TV, TwoVectors>(ref Unsafe.Add(ref inT, ra * inF), Math.Min(1, rows - 1) * inF, Math.Min(2, rows - 1) * inF,
            Math.Min(3, rows - 1) * inF, ref inPanel, inF, ref sums);
        nuint ji = (nuint)j, jw = ji + (nuint)V.Count;
        for (int q = 0; q < rows; q++)
        {
            ref T act = ref Unsafe.Add(ref actT, (ra + q) * g);
            V.Store(sums[2 * q], ref act, ji);
            V.Store(sums[2 * q + 1], ref act, jw);
        }
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
    /// <paramref name="lastStepOnly"/>: <paramref name="gOutput"/> is the last step's [N, H]; the steps before it add the
    /// buffers' zero rows (one [N, H] block read at every step, in L1, instead of a [T, N, H] array of zeros).
    /// </summary>
    private static void LstmFusedBackward<T>(int width, in RecurrenceShape s, int r0, int nr, ReadOnlySpan<T> gOutput, bool lastStepOnly, ReadOnlySpan<T> gCLast,
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
        LstmStepBackward(nr, h, gOutput.Slice((lastStepOnly ? 0 : tl * nh) + rh, ph), dhNext, buffers.Gates.AsSpan((tl * n + r0) * g, nr * g), buffers.TanhC.AsSpan(tl * nh + rh, ph),
            steps == 1 ? (c0.IsEmpty ? default : c0.Slice(rh, ph)) : buffers.Aux.AsSpan(s.TimeOf(steps - 2) * nh + rh, ph), dc, dXw.AsSpan((tl * n + r0) * g, nr * g));
        // The steps before the last read the output's gradient of their time at stride N·H, or the zero rows at stride 0.
        var gSteps = lastStepOnly ? buffers.ZeroRows : gOutput;
        int gStride = lastStepOnly ? 0 : nh;
        if (width == 512) LstmFusedBackwardSteps<T, Gemm.Simd512<T>, Vector512<T>>(s, r0, nr, gSteps, gStride, c0, dXw, dB, buffers);
        else LstmFusedBackwardSteps<T, Gemm.Simd256<T>, Vector256<T>>(s, r0, nr, gSteps, gStride, c0, dXw, dB, buffers);
        int t0 = s.TimeOf(0);
        AddRows(dB, dXw, (t0 * n + r0) * g, nr, g);
        if (wantDh0) Gemm<T>(false, false, nr, h, g, dXw, (t0 * n + r0) * g, g, w, wOffset, h, buffers.DhNext, rh, h, beta: false);
    }

    /// <summary>Adds the <paramref name="rows"/> rows of <paramref name="g"/> elements at <paramref name="offset"/> into <paramref name="sum"/> (none when empty).</summary>
    private static void AddRows<T>(Span<T> sum, T[] a, int offset, int rows, int g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (sum.IsEmpty) return;
        ReduceKernel.AddColumnSums(a, offset, g, rows, sum[..g]);
    }

    /// <summary>
    /// The backward's steps T − 1 … 1: each step's dGates·W_hh with the cell backward of the step before in its epilogue
    /// (the output's gradient of time t at <paramref name="gOutput"/>[t·<paramref name="gStride"/>]).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LstmFusedBackwardSteps<T, V, TV>(in RecurrenceShape s, int r0, int nr, ReadOnlySpan<T> gOutput, int gStride, ReadOnlySpan<T> c0, T[] dXw,
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
        // The tiles' sums, one frame slot for all of them (a struct local of each inlined tile was cleared per tile).
        TileSums<TV> sums = default;
        for (int k = s.Steps - 1; k >= 1; k--)
        {
            int t = s.TimeOf(k), tp = s.TimeOf(k - 1);
            AddRows(dB, dXw, (t * n + r0) * g, nr, g);
            bool hasPrev = k > 1 || !c0.IsEmpty;
            ref T cp = ref k == 1 ? ref cInit : ref Unsafe.Add(ref aux0, s.TimeOf(k - 2) * nh);
            // Block of units outer, row tiles inner: the block's panel is read from L2 once per step, not once per row tile.
            // Two-vector blocks: 6-row tiles first (12 accumulators: the 4-row tile's 8 left the FMAs waiting on their own
            // latency), as many as leave a multiple of 4 rows to the 4-row tiles when possible (32 rows: 6·4 + 4·2, 16: 6·2 + 4).
            int six = two ? LstmSixRowTiles(nr) : 0;
            for (int j = 0; j < h; j += u)
            {
                for (int r = 0; r < 6 * six; r += 6)
                {
                    LstmBackwardTile6<T, V, TV>(r0 + r, j, g, h, ref Unsafe.Add(ref d0, t * n * g), ref Unsafe.Add(ref wp0, j * g),
                        ref Unsafe.Add(ref go0, tp * gStride), ref Unsafe.Add(ref act0, tp * n * g), ref Unsafe.Add(ref tc0, tp * nh), ref cp, hasPrev, ref dc0,
                        ref Unsafe.Add(ref d0, tp * n * g), ref sums);
                }
                // The 4-row tiles, one compiled copy per vector count (the flag tested once per tile, not per k).
                for (int r = 6 * six; r < nr; r += 4)
                {
                    int rows = Math.Min(4, nr - r);
                    if (two)
                    {
                        LstmBackwardTile4<T, V, TV, TwoVectors>(r0 + r, rows, j, g, h, ref Unsafe.Add(ref d0, t * n * g), ref Unsafe.Add(ref wp0, j * g),
                            ref Unsafe.Add(ref go0, tp * gStride), ref Unsafe.Add(ref act0, tp * n * g), ref Unsafe.Add(ref tc0, tp * nh), ref cp, hasPrev, ref dc0,
                            ref Unsafe.Add(ref d0, tp * n * g), ref sums);
                    }
                    else
                    {
                        LstmBackwardTile4<T, V, TV, OneVector>(r0 + r, rows, j, g, h, ref Unsafe.Add(ref d0, t * n * g), ref Unsafe.Add(ref wp0, j * g),
                            ref Unsafe.Add(ref go0, tp * gStride), ref Unsafe.Add(ref act0, tp * n * g), ref Unsafe.Add(ref tc0, tp * nh), ref cp, hasPrev, ref dc0,
                            ref Unsafe.Add(ref d0, tp * n * g), ref sums);
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
        ref T tcP, ref T cp, bool hasPrev, ref T dc0, ref T dgP, ref TileSums<TV> sums) where T : unmanaged, IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
        where TW : struct, ITileVectors
    {
        LstmTileSums4<T, V, TV, TW>(ref Unsafe.Add(ref dT, ra * g), Math.Min(1, rows - 1) * g, Math.Min(2, rows - 1) * g, Math.Min(3, rows - 1) * g,
            ref panel, g, ref sums);
        for (int q = 0; q < rows; q++)
            LstmTileRowBackward<T, V, TV, TW>(sums[2 * q], sums[2 * q + 1], ra + q, j, g, h, ref goP, ref actP, ref tcP, ref cp, hasPrev, ref dc0, ref dgP);
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
    /// How many 6-row tiles the two-vector blocks (forward and backward) of <paramref name="nr"/> rows take: the most that leave a multiple
    /// of 4 rows (for the 4-row tiles), or with none such the most that fit.
    /// </summary>
    internal static int LstmSixRowTiles(int nr)
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
        ref T cp, bool hasPrev, ref T dc0, ref T dgP, ref TileSums<TV> sums) where T : unmanaged, IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        LstmTileSums6<T, V, TV>(ref Unsafe.Add(ref dT, ra * g), g, ref panel, g, ref sums);
        for (int q = 0; q < 6; q++)
            LstmTileRowBackward<T, V, TV, TwoVectors>(sums[2 * q], sums[2 * q + 1], ra + q, j, g, h, ref goP, ref actP, ref tcP, ref cp, hasPrev, ref dc0, ref dgP);
    }

    /// <summary>The 12 accumulators of a backward tile (row q's two vectors at 2q, 2q + 1), handed back through memory by the k loops.</summary>
    [InlineArray(12)]
    private struct TileSums<TV> where TV : struct
    {
        private TV _e0;
    }

    /// <summary>
    /// The k loop of <see cref="LstmBackwardTile6{T, V, TV}"/>: sums[2q + v] = Σ_p dT[q·g + p]·panel[p][v·w..] over p = 0..<paramref name="kCount"/>
    /// for the 6 rows at <paramref name="a0"/> (<paramref name="g"/> apart), each sum one FMA chain in order of p. Not inlined:
    /// inside the time loop the JIT kept the tile's epilogue arguments in registers and reloaded 5 of the 6 row pointers from
    /// the stack on every k; alone, the rows are one moving pointer and 5 offsets in the addressing modes.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void LstmTileSums6<T, V, TV>(ref T a0, nint g, ref T panel, int kCount, ref TileSums<TV> sums)
        where T : unmanaged, IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        nint g2 = 2 * g, g3 = 3 * g, g4 = 4 * g, g5 = 5 * g;
        TV s00 = default, s01 = default, s10 = default, s11 = default, s20 = default, s21 = default;
        TV s30 = default, s31 = default, s40 = default, s41 = default, s50 = default, s51 = default;
        nuint w = (nuint)V.Count, u = 2 * w;
        ref T ap = ref a0;
        ref T wk = ref panel;
        for (int p = 0; p < kCount; p++)
        {
            var w0 = V.Load(ref wk, 0);
            var w1 = V.Load(ref wk, w);
            var v = V.Broadcast(ap);
            s00 = V.MultiplyAdd(v, w0, s00); s01 = V.MultiplyAdd(v, w1, s01);
            v = V.Broadcast(Unsafe.Add(ref ap, g));
            s10 = V.MultiplyAdd(v, w0, s10); s11 = V.MultiplyAdd(v, w1, s11);
            v = V.Broadcast(Unsafe.Add(ref ap, g2));
            s20 = V.MultiplyAdd(v, w0, s20); s21 = V.MultiplyAdd(v, w1, s21);
            v = V.Broadcast(Unsafe.Add(ref ap, g3));
            s30 = V.MultiplyAdd(v, w0, s30); s31 = V.MultiplyAdd(v, w1, s31);
            v = V.Broadcast(Unsafe.Add(ref ap, g4));
            s40 = V.MultiplyAdd(v, w0, s40); s41 = V.MultiplyAdd(v, w1, s41);
            v = V.Broadcast(Unsafe.Add(ref ap, g5));
            s50 = V.MultiplyAdd(v, w0, s50); s51 = V.MultiplyAdd(v, w1, s51);
            ap = ref Unsafe.Add(ref ap, 1);
            wk = ref Unsafe.Add(ref wk, u);
        }
        sums[0] = s00; sums[1] = s01; sums[2] = s10; sums[3] = s11; sums[4] = s20; sums[5] = s21;
        sums[6] = s30; sums[7] = s31; sums[8] = s40; sums[9] = s41; sums[10] = s50; sums[11] = s51;
    }

    /// <summary>
    /// The k loop of <see cref="LstmBackwardTile4{T, V, TV, TW}"/>, as <see cref="LstmTileSums6{T, V, TV}"/>: rows at
    /// <paramref name="a0"/> and <paramref name="o1"/>, <paramref name="o2"/>, <paramref name="o3"/> after it (a row past the
    /// tile's end repeats the last); one or two vectors (<typeparamref name="TW"/>) into sums[2q] (and sums[2q + 1]).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void LstmTileSums4<T, V, TV, TW>(ref T a0, nint o1, nint o2, nint o3, ref T panel, int kCount, ref TileSums<TV> sums)
        where T : unmanaged, IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct where TW : struct, ITileVectors
    {
        bool two = TW.Two;
        TV s00 = default, s01 = default, s10 = default, s11 = default, s20 = default, s21 = default, s30 = default, s31 = default;
        nuint w = (nuint)V.Count, u = two ? 2 * w : w;
        ref T ap = ref a0;
        ref T wk = ref panel;
        for (int p = 0; p < kCount; p++)
        {
            var w0 = V.Load(ref wk, 0);
            var w1 = two ? V.Load(ref wk, w) : default;
            var v = V.Broadcast(ap);
            s00 = V.MultiplyAdd(v, w0, s00);
            if (two) s01 = V.MultiplyAdd(v, w1, s01);
            v = V.Broadcast(Unsafe.Add(ref ap, o1));
            s10 = V.MultiplyAdd(v, w0, s10);
            if (two) s11 = V.MultiplyAdd(v, w1, s11);
            v = V.Broadcast(Unsafe.Add(ref ap, o2));
            s20 = V.MultiplyAdd(v, w0, s20);
            if (two) s21 = V.MultiplyAdd(v, w1, s21);
            v = V.Broadcast(Unsafe.Add(ref ap, o3));
            s30 = V.MultiplyAdd(v, w0, s30);
            if (two) s31 = V.MultiplyAdd(v, w1, s31);
            ap = ref Unsafe.Add(ref ap, 1);
            wk = ref Unsafe.Add(ref wk, u);
        }
        sums[0] = s00; sums[1] = s01; sums[2] = s10; sums[3] = s11; sums[4] = s20; sums[5] = s21; sums[6] = s30; sums[7] = s31;
    }

    /// <summary>Packs W_hh for <see cref="LstmFusedBackward{T}"/> at <paramref name="width"/> bits into the buffers' Packed.</summary>
    private static void PackLstmBackward<T>(int width, T[] w, int wOffset, int h, RecurrenceBuffers<T> buffers) where T : unmanaged, INumber<T>
    {
        // W_hh [4h, h] at wOffset into panels [block of u units][k = 0..4h][u].
        if (width == 512) PackPanels<T, Gemm.Simd512<T>, Vector512<T>>(w, wOffset, 4 * h, h, h % (2 * Vector512<T>.Count) == 0 ? 2 * Vector512<T>.Count : Vector512<T>.Count, buffers.Packed);
        else PackPanels<T, Gemm.Simd256<T>, Vector256<T>>(w, wOffset, 4 * h, h, h % (2 * Vector256<T>.Count) == 0 ? 2 * Vector256<T>.Count : Vector256<T>.Count, buffers.Packed);
    }
}
