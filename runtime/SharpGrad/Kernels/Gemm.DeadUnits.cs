using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SharpGrad.Kernels;

// A Linear's weight gradient gW = gᵀ·x when some output units are dead for the whole batch: a ReLU after the layer whose
// pre-activation is ≤ 0 for every sample makes that unit's column of g all zeros, so its row of gW is zero. On the MLP
// step's fc1 (torch.rand input, all positive) the units split into always-on, always-off and mixed ones: after warm-up
// ~20 % of the 256 units are dead and g is ~68 % nonzero, too dense for the term-skipping kernel (Gemm.ZeroSkip.cs), so
// the whole product ran dense. Here only the live units' rows are computed, by the same dense kernel on g's live columns
// gathered side by side, and the dead rows are written as zeros.
public static partial class Gemm
{
    /// <summary>
    /// The fewest multiply-adds (rows·inF·outF) for which a Linear's gradients below <see cref="SkipZerosMinMacs"/> skip g's
    /// zeros (<see cref="IsSmallSkipZerosProduct"/>): fc3 of the MLP (82 K) stays dense.
    /// </summary>
    internal const long SmallSkipZerosMinMacs = 1_000_000;

    /// <summary>
    /// The largest fraction of nonzero elements of g for which a Linear's gradients of <see cref="SmallSkipZerosMinMacs"/> to
    /// <see cref="SkipZerosMinMacs"/> multiply-adds skip its zeros. Session 16 kept the MLP's fc2 (2.1 M) dense, measured at
    /// 50 % nonzero; on Zen 3 with session 18's kernel (`count … --threads 1`, min µs) `zs-fc2-dw-25` 25.9 / `-50` 39.5
    /// against `gemm-fc2-dw` 51.7, `zs-fc2-dx-25` 37.8 / `-50` 45.7 against `gemm-fc2-dx` 49.2; mnist_mlp_5_epochs' fc2
    /// gradient is ~36 % nonzero, the MLP step's (torch.rand input) ~76 %.
    /// </summary>
    internal const float SmallSkipZerosMaxDensity = 0.5f;

    /// <summary>
    /// Whether a Linear of these sizes is below <see cref="SkipZerosMinMacs"/> but at least
    /// <see cref="SmallSkipZerosMinMacs"/>, with both reductions (rows for the weight gradient, outF for the input gradient)
    /// within one k-block, so that its skipping chains equal the dense ones bit for bit.
    /// </summary>
    internal static bool IsSmallSkipZerosProduct(int rows, int inF, int outF)
    {
        long macs = (long)rows * inF * outF;
        return rows > 0 && inF > 0 && outF > 0 && macs >= SmallSkipZerosMinMacs && macs < SkipZerosMinMacs && rows <= SkipZerosMaxK && outF <= SkipZerosMaxK;
    }

    /// <summary>
    /// Whether a Linear's gradients of <see cref="SmallSkipZerosMinMacs"/> to <see cref="SkipZerosMinMacs"/> multiply-adds
    /// may skip g's zeros: the input gradient g·W (<paramref name="inputGrad"/>) or the weight gradient gᵀ·x, when the dense
    /// product is one FMA chain per element (<see cref="DenseProductIsOneChain"/>), which the skipping chain equals bit for bit.
    /// </summary>
    internal static bool SmallGradSkipsZeros(bool inputGrad, int rows, int inF, int outF)
        => IsSmallSkipZerosProduct(rows, inF, outF)
           && (inputGrad ? DenseProductIsOneChain(false, rows, inF, outF) : DenseProductIsOneChain(true, outF, inF, rows));

    /// <summary>
    /// The fewest dead units, as a fraction of the layer's outputs (1/<c>this</c>), for which
    /// <see cref="TryLinearWeightGradSkipDeadUnits"/> computes only the live rows: below it the gather and the move of the
    /// rows cost about what the skipped rows save.
    /// </summary>
    internal const int DeadUnitsMinShare = 8;

    /// <summary>
    /// A Linear layer's weight gradient gW = gᵀ·x (float32, overwriting gW; PyTorch: the weight's gradient of
    /// <c>F.linear</c>) computing only the rows whose column of g holds a nonzero: g [rows×outF] at <paramref name="gOff"/>,
    /// x [rows×inF] at <paramref name="xOff"/>, gW [outF×inF] from index 0. The live rows are the dense kernel's product over
    /// g's live columns (each element the same FMA chain over the batch in order, since rows ≤ the direct kernels' k-block:
    /// the same bits as the dense product of all rows); a dead row is +0, the dense chain's value over zero terms when x is
    /// finite. Returns false (nothing written) when the product is small, the batch is longer than one k-block, fewer than
    /// 1/<see cref="DeadUnitsMinShare"/> of the units are dead, or x holds a NaN or ±Inf (0·NaN must stay NaN): the caller
    /// runs the dense GEMM. From <see cref="SmallSkipZerosMinMacs"/> multiply-adds: the MLP step's fc2 (2.1 M) has ~21 of
    /// its 128 units dead after warm-up.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool TryLinearWeightGradSkipDeadUnits(float[] g, int gOff, float[] x, int xOff, float[] gw, int rows, int inF, int outF)
    {
        if (rows <= 0 || inF <= 0 || outF <= 0 || rows > DirectKC || (long)rows * inF * outF < SmallSkipZerosMinMacs) return false;
        if (gOff < 0 || (long)gOff + (long)rows * outF > g.Length) throw new ArgumentException($"g [{rows}, {outF}] at {gOff} does not fit its array of {g.Length}.", nameof(g));
        if ((long)outF * inF > gw.Length) throw new ArgumentException($"The weight gradient needs {(long)outF * inF} elements ([{outF}, {inF}]) but its array holds {gw.Length}.", nameof(gw));
        int[] live = Scratch<int>.Pool.Rent(outF);
        try
        {
            // On AVX-512 the direct kernel's rows after its last 8-row tile take another loop (SmallAxpy) when k is within
            // one k-block (on AVX2, and past one k-block, a tail tile over the last rows), whose sums may round differently
            // from the tiles': a row's bits would depend on where it sits. So the full product must have no such rows (outF a multiple of the
            // tile's rows, or on AVX2 no edge columns), and the live rows are padded with dead ones to whole tiles (a dead
            // row's product is +0, as the dense one).
            if (!DenseProductIsOneChain(true, outF, inF, rows)) return false;
            int nl = LiveColumns(g, gOff, rows, outF, live);
            if (outF - nl < Math.Max(1, outF / DeadUnitsMinShare) || !AllFinite(x, xOff, rows, inF, inF)) return false;
            nl = PadToTiles(live, nl, outF, DirectMR);
            if (nl > 0 && !DenseProductIsOneChain(true, nl, inF, rows)) return false;
            if (nl == 0)
            {
                gw.AsSpan(0, outF * inF).Clear();
                return true;
            }
            // g's live columns side by side ([rows×nl]); the live units cut into owner ranges of whole tiles of live rows, one
            // per thread (balanced by live rows; each range's units [u0, u1) from its first live unit): each part's product
            // goes to gW's rows from u0, then each row moves to its unit (last first: live[t] ≥ u0 + t − t0, so a row is moved
            // before anything lands on it) and the range's dead rows are cleared. Each part writes only its own units' rows,
            // all of their columns, the rows the SGD update of the same part reads next (Sgd.UpdateAll: owner ranges of the
            // weight's rows, one per thread): before session 25 the parts were ranges of gW's columns, each claimed by
            // whichever thread came first, and every step half of fc1's 800 KB gradient crossed between the cores.
            float[] gc = Scratch<float>.Pool.Rent(rows * nl);
            try
            {
                CheckArgs(true, false, nl, inF, rows, gc.Length, nl, x.Length - xOff, inF, gw.Length, inF);
                var (parts, _) = DirectSplit(2.0 * nl * inF * rows, inF, DirectMR, allowParallel: true);
                if (parts > 1) parts = OwnerParts(nl);
                var body = new DeadUnitsPart(g, gOff, gc, nl, x, xOff, gw, rows, inF, outF, live, parts);
                if (parts <= 1) body.Invoke(0);
                else Parallelism.For(parts, body);
            }
            finally
            {
                Scratch<float>.Pool.Return(gc);
            }
            return true;
        }
        finally
        {
            Scratch<int>.Pool.Return(live);
        }
    }

    /// <summary>
    /// gc [rows×nl] = g's columns <paramref name="live"/>[0..nl) side by side (g [rows×cols] at <paramref name="gOff"/>, every
    /// live[t] &lt; cols, ascending, checked by the caller). The live set is the same for every row, so each 8-column block of
    /// g's row is packed by one permutation chosen once per block (the live lanes to the front, ZeroSkip's CompressLanes
    /// table, as ListRows packs a row's nonzeros) and stored whole, the row advanced by the block's live count: one load,
    /// one permute and one store per 8 columns. Session 22's AVX2 gathers (8 columns per instruction) took ~5 µs of the
    /// 1-thread MLP step on Zen 4 (fc1's 64×~210 and fc2's 64×~110, on the calling thread: serial at 2 threads); a gather's
    /// lanes are loaded one by one there. The same copy either way.
    /// </summary>
    internal static void GatherColumns(float[] g, int gOff, int rows, int cols, int[] live, int nl, float[] gc)
        => GatherColumns(g, gOff, rows, cols, live, 0, nl, gc, 0);

    /// <summary>
    /// <see cref="GatherColumns(float[], int, int, int, int[], int, float[])"/> of the columns live[liveStart..liveStart + nl)
    /// into gc [rows×nl] from <paramref name="gcOff"/> (a part of the dead-units gradient's live columns).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void GatherColumns(float[] g, int gOff, int rows, int cols, int[] live, int liveStart, int nl, float[] gc, int gcOff)
    {
        if (gOff < 0 || (long)gOff + (long)rows * cols > g.Length || gcOff < 0 || liveStart < 0 || (long)gcOff + (long)rows * nl > gc.Length
            || (long)liveStart + nl > live.Length || nl > cols)
            throw new ArgumentException($"GatherColumns: g [{rows}, {cols}] at {gOff} ({g.Length}), {nl} live columns from {liveStart} ({live.Length}), gc {gc.Length} from {gcOff}.");
        if (nl == 0 || rows <= 0) return;
        ReadOnlySpan<int> lv = live.AsSpan(liveStart, nl);
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported)
        {
            for (int b = 0; b < rows; b++)
                for (int t = 0; t < nl; t++) gc[gcOff + b * nl + t] = g[gOff + b * cols + lv[t]];
            return;
        }
        // Per block of 8 columns with a live one (blocks past the last full one are left to the scalar tail): its mask and
        // where its live columns start in a row of gc; the blocks in order, so the permuted stores of a row land in order.
        int fullBlocks = cols / 8, tailStart = nl;
        Span<byte> masks = fullBlocks <= 256 ? stackalloc byte[fullBlocks] : new byte[fullBlocks];
        masks.Clear();
        for (int t = 0; t < nl; t++)
        {
            int c = lv[t];
            if ((uint)c >= (uint)cols || (t > 0 && c <= lv[t - 1]))
                throw new ArgumentException($"GatherColumns: the live columns must be ascending and below {cols} (live[{liveStart + t}] = {c}).", nameof(live));
            if (c < fullBlocks * 8) masks[c >> 3] |= (byte)(1 << (c & 7));
            else if (tailStart == nl) tailStart = t;
        }
        Span<int> blocks = fullBlocks <= 256 ? stackalloc int[fullBlocks] : new int[fullBlocks];
        int nb = 0;
        for (int q = 0; q < fullBlocks; q++)
            if (masks[q] != 0) blocks[nb++] = q;
        ref int lanes = ref MemoryMarshal.GetArrayDataReference(CompressLanes);
        fixed (float* g0 = g, c0 = gc)
        {
            for (int b = 0; b < rows; b++)
            {
                float* src = g0 + gOff + (long)b * cols, dst = c0 + gcOff + (long)b * nl;
                // the last row's whole-vector stores may not pass the end of gc's rows (another part's from there): its blocks
                // that would are stored lane by lane
                long room = (long)(rows - b) * nl;
                int d = 0;
                for (int i = 0; i < nb; i++)
                {
                    int q = blocks[i];
                    uint mask = masks[q];
                    if (d + 8 <= room)
                    {
                        var perm = Vector256.LoadUnsafe(ref lanes, (nuint)(mask * 8));
                        System.Runtime.Intrinsics.X86.Avx2.PermuteVar8x32(Vector256.Load(src + 8 * q), perm).Store(dst + d);
                        d += System.Numerics.BitOperations.PopCount(mask);
                    }
                    else
                    {
                        for (; mask != 0; mask &= mask - 1) dst[d++] = src[8 * q + System.Numerics.BitOperations.TrailingZeroCount(mask)];
                    }
                }
                for (int t = tailStart; t < nl; t++) dst[t] = src[lv[t]];
            }
        }
    }

    /// <summary>
    /// One owner range (the item's index) of <see cref="TryLinearWeightGradSkipDeadUnits"/>'s gradient, as an item of
    /// <see cref="Parallelism.For{TBody}(int, TBody)"/>: live rows [t0, t1) (whole tiles, <see cref="OwnerRow"/> over the
    /// nl live rows) and the units [u0, u1) from the first of them to the next range's first; the live rows' product over
    /// all columns (the direct kernel, overwriting) into gW's rows from u0, each row moved to its unit (last first), the
    /// range's dead rows cleared. Each element is the same chain over the batch as in one call.
    /// </summary>
    private readonly struct DeadUnitsPart(float[] g, int gOff, float[] gc, int nl, float[] x, int xOff, float[] gw, int rows, int inF, int outF, int[] live, int parts)
        : IParallelBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int index)
        {
            int t0 = OwnerRow(nl, index, parts), t1 = OwnerRow(nl, index + 1, parts);
            int u0 = index == 0 ? 0 : t0 < nl ? live[t0] : outF;
            int u1 = index + 1 >= parts ? outF : t1 < nl ? live[t1] : outF;
            int n = t1 - t0;
            if (n > 0)
            {
                // the range's live columns of g side by side ([rows×n] from rows·t0 of gc: gathered here, not on the calling thread)
                GatherColumns(g, gOff, rows, outF, live, t0, n, gc, rows * t0);
                DirectRange(true, false, n, rows, 1f, gc, rows * t0, n, x, xOff, inF, gw, u0 * inF, inF, default(Epi<float>), 0, inF, overwrite: true);
            }
            for (int r = n - 1; r >= 0 && live[t0 + r] != u0 + r; r--) gw.AsSpan((u0 + r) * inF, inF).CopyTo(gw.AsSpan(live[t0 + r] * inF, inF));
            for (int j = u0, t = t0; j < u1; j++)
            {
                if (t < t1 && live[t] == j) t++;
                else gw.AsSpan(j * inF, inF).Clear();
            }
        }
    }

    /// <summary>
    /// <paramref name="live"/>'s first <paramref name="nl"/> units (ascending, of <paramref name="count"/>) with the first
    /// units not in it added until their number is a multiple of <paramref name="mr"/> (or all units), still ascending;
    /// returns the new number.
    /// </summary>
    private static int PadToTiles(int[] live, int nl, int count, int mr)
    {
        int target = Math.Min(count, (nl + mr - 1) / mr * mr);
        if (target == nl) return nl;
        Span<bool> chosen = count <= 1024 ? stackalloc bool[count] : new bool[count];
        chosen.Clear();
        for (int t = 0; t < nl; t++) chosen[live[t]] = true;
        for (int j = 0, added = nl; j < count && added < target; j++)
        {
            if (chosen[j]) continue;
            chosen[j] = true;
            added++;
        }
        int n = 0;
        for (int j = 0; j < count; j++)
        {
            if (chosen[j]) live[n++] = j;
        }
        return n;
    }

    /// <summary>
    /// The columns of g [rows×cols] at <paramref name="off"/> that hold an element other than ±0 (a NaN counts as live),
    /// in order, into <paramref name="live"/>; returns how many.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int LiveColumns(float[] g, int off, int rows, int cols, int[] live)
    {
        int n = 0, j = 0;
        ref float g0 = ref MemoryMarshal.GetArrayDataReference(g);
        if (Vector256.IsHardwareAccelerated)
        {
            for (; j + Vector256<float>.Count <= cols; j += Vector256<float>.Count)
            {
                // a lane is live when some row's element is not equal to zero (NaN ≠ 0)
                var any = Vector256<float>.Zero;
                for (int r = 0; r < rows; r++)
                    any |= ~Vector256.Equals(Vector256.LoadUnsafe(ref g0, (nuint)(off + r * cols + j)), Vector256<float>.Zero);
                uint bits = any.ExtractMostSignificantBits();
                for (; bits != 0; bits &= bits - 1) live[n++] = j + System.Numerics.BitOperations.TrailingZeroCount(bits);
            }
        }
        for (; j < cols; j++)
        {
            for (int r = 0; r < rows; r++)
            {
                if (Unsafe.Add(ref g0, off + r * cols + j) != 0f)
                {
                    live[n++] = j;
                    break;
                }
            }
        }
        return n;
    }
}
