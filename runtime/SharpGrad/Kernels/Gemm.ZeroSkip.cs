using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpGrad.Kernels;

// A product that skips the exact zeros of its left operand: C = op(A)·B (+ C) over only the terms whose A element is not
// zero, each row of C a chain of FMAs over the remaining terms in their original order (restarted every 256 terms and added
// to C, as the dense kernels' k-blocks, in TrySgemmSkipZeros). A ReLU's backward makes about half
// of the gradient that reaches a Linear exactly zero (dZ = dH ⊙ (Z > 0)), so the layer's weight gradient dZᵀ·X and input
// gradient dZ·W need about half the multiply-adds, and MNIST's pixels are ~80 % zeros. The skipped terms add 0·b, which
// leaves an FMA chain from +0 unchanged when b is finite (acc + ±0 = acc, and the chain never holds −0), so each element is
// the same bits as the dense kernels' chain; C += adds that chain to C as they do. A NaN or ±Inf in B would make 0·b a
// NaN: a B with any non-finite element takes the dense path, as does an A with too few zeros to pay for the index lists.
public static partial class Gemm
{
    /// <summary>
    /// The largest fraction of nonzero elements of A for which <see cref="TrySgemmSkipZeros"/> skips: above it the dense
    /// kernels win (measured on the MLP step's fc1 weight gradient, docs/performance.md "Zero-skipping products").
    /// </summary>
    internal const float SkipZerosMaxDensity = 0.6f;

    /// <summary>
    /// The bytes of B's strip packed per k-block of the skipping kernel (for 12 vectors of 256 bits, 104 rows). Larger than
    /// L1 (32 KB): a row of C then has more terms per load and store of its accumulators, which paid more than the panel's
    /// misses (MNIST's fc1 forward 151–156 µs at 40 KB against 154–200 at 32 KB and 166–226 at 24 KB, `count zs-fc1-fwd-20`).
    /// </summary>
    private const int SkipZerosPanelBytes = 40 * 1024;

    /// <summary>
    /// C[m×n] = op(A)·B (<paramref name="accumulate"/>: C += op(A)·B) for float32, skipping the terms whose element of A is
    /// exactly zero (PyTorch: the same value as <c>torch.mm</c>/<c>addmm</c>; used for a Linear's gradients after a ReLU).
    /// op(A) is A [m×k] (row stride <paramref name="lda"/>) or, with <paramref name="transA"/>, Aᵀ of A stored [k×m]; B is
    /// [k×n] row-major (row stride <paramref name="ldb"/>); C row stride <paramref name="ldc"/>. Each element of C is the
    /// FMA chain over the nonzero terms in order of p, so it equals the dense chain over every term. Returns false and writes
    /// nothing when more than <paramref name="maxDensity"/> of A's elements are nonzero or when B holds a NaN or ±Inf (0·NaN
    /// must stay NaN): the caller then runs the dense product. <paramref name="nonZero"/>: A's nonzero count when the caller
    /// already has it (<see cref="CountNonZero"/>: two products of one gradient count it once), or −1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TrySgemmSkipZeros(bool transA, int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
        float[] c, int cOff, int ldc, bool accumulate, bool allowParallel, float maxDensity = SkipZerosMaxDensity, long nonZero = -1)
        => TrySgemmSkipZerosAnyWidth(transA, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate, allowParallel, maxDensity, nonZero, transC: false);

    /// <summary>
    /// <see cref="TrySgemmSkipZeros(bool, int, int, int, float[], int, int, float[], int, int, float[], int, int, bool, bool, float, long)"/>
    /// in the widest hardware vectors, with <paramref name="transC"/> as <see cref="TrySgemmSkipZeros{V, TV}"/> takes it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TrySgemmSkipZerosAnyWidth(bool transA, int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
        float[] c, int cOff, int ldc, bool accumulate, bool allowParallel, float maxDensity, long nonZero, bool transC)
    {
        if (Vector512.IsHardwareAccelerated)
            return TrySgemmSkipZeros<Simd512<float>, Vector512<float>>(transA, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate, allowParallel, maxDensity, nonZero, transC);
        if (Vector256.IsHardwareAccelerated)
            return TrySgemmSkipZeros<Simd256<float>, Vector256<float>>(transA, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate, allowParallel, maxDensity, nonZero, transC);
        return false;
    }

    /// <summary>
    /// <see cref="TrySgemmSkipZeros(bool, int, int, int, float[], int, int, float[], int, int, float[], int, int, bool, bool, float, long)"/>
    /// in vectors of one width; with <paramref name="transC"/> (not with <paramref name="accumulate"/>) C is stored
    /// transposed, [n×m] with ldc = m (a weight gradient xᵀ·g in the weight's layout). <paramref name="maxDensity"/> ≥ 1: A is
    /// not counted (the caller has decided to skip). <paramref name="epi"/> (not with transC): applied to each finished block of
    /// C's columns, all rows, while it is in cache (as the direct kernels apply theirs per column range). <paramref name="lists"/>:
    /// when built for this shape, its positions are walked instead of listing A (A must be zero wherever they do not point:
    /// see <see cref="SkipZerosListCache"/>), else this product's lists are kept in it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool TrySgemmSkipZeros<V, TV>(bool transA, int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
        float[] c, int cOff, int ldc, bool accumulate, bool allowParallel, float maxDensity, long nonZero = -1, bool transC = false, Epi<float> epi = default,
        SkipZerosListCache? lists = null)
        where V : struct, ISimd<TV, float> where TV : struct
    {
        if (transC && accumulate) throw new ArgumentException("A zero-skipping product stored transposed cannot accumulate into C.", nameof(accumulate));
        if (transC && !epi.IsNone) throw new ArgumentException("A zero-skipping product stored transposed takes no epilogue.", nameof(epi));
        if (m <= 0 || n <= 0) return true;
        if (k <= 0)
        {
            if (transC) ClearColumns(c, cOff, ldc, 0, n, 0, m);
            else if (!accumulate) ClearColumns(c, cOff, ldc, 0, m, 0, n);
            if (!epi.IsNone) epi.ApplyRows(c, cOff, ldc, 0, m, 0, n);
            return true;
        }
        // maxDensity ≥ 1: the caller has decided (no counting pass)
        if (maxDensity < 1f)
        {
            long total = (long)m * k;
            if (nonZero < 0) nonZero = CountNonZero(a, aOff, transA ? k : m, transA ? m : k, lda);
            if (nonZero > maxDensity * total) return false;
        }
        if (!AllFinite(b, bOff, k, n, ldb)) return false;
        SkipZerosProduct<V, TV>(transA, false, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, allowParallel, checkFinite: false, transC, accumulate,
            DirectKC, epi, lists);
        return true;
    }

    /// <summary>
    /// C = op(A)·B over A's nonzero terms. B is [k×n] at <paramref name="bOff"/> with row stride <paramref name="ldb"/>, or
    /// with <paramref name="transB"/> Wᵀ of W [n×k] (row stride <paramref name="ldb"/>: a Linear's weight, read in its own
    /// layout). With <paramref name="transC"/> C is stored transposed, element (i, j) at c[cOff + j·m + i] (ldc must be m:
    /// a weight gradient xᵀ·g written in the weight's layout [n×m] directly). With <paramref name="checkFinite"/> B's
    /// elements are checked as they are packed and the result is false when one is a NaN or ±Inf (C then holds partial
    /// sums: the caller overwrites it with the dense product); without it the caller has checked B.
    /// <paramref name="restartK"/> &gt; 0 (a power of two: the dense kernels' k-block, 256): each element's chain starts from +0
    /// at every block of that many terms and the block's chain is added to C (the first block's written unless
    /// <paramref name="accumulate"/>), as the direct and packed kernels do, so a product over k &gt; 256 has their bits;
    /// 0: one chain over all of k (written, or added to C with <paramref name="accumulate"/>). <paramref name="epi"/>: applied
    /// to each finished block of C's columns (not with transC). <paramref name="lists"/>: built for this shape, its positions
    /// are walked and A's values read at them (no lists built); unbuilt, this product's lists are kept in it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool SkipZerosProduct<V, TV>(bool transA, bool transB, int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
        float[] c, int cOff, int ldc, bool allowParallel, bool checkFinite, bool transC = false, bool accumulate = false, int restartK = 0,
        Epi<float> epi = default, SkipZerosListCache? lists = null)
        where V : struct, ISimd<TV, float> where TV : struct
    {
        if (restartK < 0 || (restartK & (restartK - 1)) != 0)
            throw new ArgumentException($"The skipping chain's restart block must be 0 or a power of two, got {restartK}.", nameof(restartK));
        if (transC && (ldc != m || cOff < 0 || (long)cOff + (long)n * m > c.Length))
            throw new ArgumentException($"C stored transposed ([{n}×{m}] at {cOff}) needs ldc = m = {m} (got {ldc}) and {(long)n * m} elements after cOff in an array of {c.Length}.", nameof(ldc));
        // Per row i of op(A): its nonzero values and the rows p of B they multiply, in order of p, the rows' lists one after
        // the other from values/rows[i0·s] (s = k, or k + ListStagger for transA) for a part of the rows [i0, i1) (so that parts can be listed at once); B's strip
        // is packed kb rows at a time (SkipZerosPanelBytes), ends[i·(nkb + 1)] is where row i's terms start and
        // ends[i·(nkb + 1) + 1 + q] one past its last term in k-blocks 0..q, so the kernel's loop over a block's terms has
        // no test of p. ends[m·(nkb + 1)]: set by a part that met a NaN or ±Inf in B.
        // Blocks of C's columns of at most 12 vectors (n = 256 at 256 bits: 11 + 11 + 10; blocks of 8 keep only 8 FMA chains,
        // each one FMA latency per term: since the term loop keeps its pointers in registers, MNIST's fc1 forward ran 151–156
        // µs in 12-vector blocks with 104-row k-blocks against 160–162 in blocks of 8 with 96-row ones, its weight gradient
        // over x's zeros (k = 64, one k-block) 147–148 against 157–162, fc2's input gradient 46 against 52–60).
        // Where those blocks would have at most 8 vectors (n = 128 at 256 bits: 8 + 8, the transformer's feed-forward products),
        // two rows of C at a time in blocks of at most 6 vectors (8 with 32 registers) instead: 12 chains per two terms
        // (BlockPair; session 21, `count xfmr-zs-fwd` 1431–1436 µs against 1472–1527 for 8 + 8 single rows, with the next
        // pair's lists prefetched 1354–1403). MNIST's shapes (11–12-vector blocks) stay on single rows: paired they lost
        // (`zs-fc1-dw-50` 238–247 against 220 µs, `zs-fc1-dwx-20` 173–175 against 163).
        int vectorsOfC = n / V.Count, singleBlocks = (vectorsOfC + 11) / 12;
        bool pairRows = m > 1 && vectorsOfC > 0 && (vectorsOfC + singleBlocks - 1) / singleBlocks <= 8;
        int maxVectors = pairRows ? (V.Count >= 16 ? 8 : 6) : 12;
        int kb = Math.Max(8, SkipZerosPanelBytes / (12 * V.Count * sizeof(float)) & ~7);
        // chains restarted every restartK terms: panels of a power of two rows ≤ restartK, so that a panel never spans a
        // restart (104 → 128 rows at 256 bits: 32 KB at 8 vectors, 48 KB at 12; 48 → 64 at 512 bits)
        if (restartK > 0 && k > restartK) kb = Math.Min(restartK, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)kb));
        int nkb = (k + kb - 1) / kb;
        // a transposed product's lists: row i's from slot i·(k + 16), so that ListColumns8's eight rows' lists are not 4 KB
        // apart at k = 1024 (all in one L1 set, and each store a false 4K-alias of the next loads)
        int listStride = transA ? k + ListStagger : k;
        int slots = m * listStride, flag = m * (nkb + 1);
        // another product's lists of the same positions: A's values read at them (ValuesFromA); else this one's lists,
        // kept in the cache when it is given unbuilt
        bool reuse = lists is not null && lists.Fits(transA, m, k, kb, listStride), keep = lists is not null && !lists.Built;
        if (reuse) lists!.Reuses++;
        float[] values = reuse ? lists!.Values! : Scratch<float>.Pool.Rent(slots);
        int[] rows = reuse ? lists!.Rows! : Scratch<int>.Pool.Rent(slots);
        int[] ends = reuse ? lists!.Ends! : Scratch<int>.Pool.Rent(flag + 1);
        // (with AVX2 only a part's rows after its last eight are transposed into aT: ListColumns8 lists the others from A)
        float[]? aT = transA && !reuse ? Scratch<float>.Pool.Rent(m * k) : null;
        bool kept = false;
        try
        {
            // The lists (for transA, op(A)'s rows transposed out of Aᵀ first), split by rows over the workers when large:
            // each part lists its own rows into their own slots (MNIST's x, 64×784, took 12 µs on one core; its transpose
            // and lists for the weight gradient 16 µs: the largest serial parts of the 2-thread step).
            if (!reuse)
            {
                var build = new SkipZerosLists(a, aOff, lda, aT, m, k, kb, nkb, values, rows, ends, m, listStride);
                int listParts = allowParallel ? Parallelism.Parts((double)m * k, SkipZerosListElementsPerPart, partsPerThread: 2) : 1;
                if (listParts <= 1) build.Invoke(0);
                else
                {
                    int perPart = (m + listParts - 1) / listParts;
                    Parallelism.For((m + perPart - 1) / perPart, build with { PerPart = perPart });
                }
            }
            long nonZero = 0;
            for (int i = 0, s = 0; i < m; i++, s += nkb + 1) nonZero += ends[s + nkb] - ends[s];
            ends[flag] = 0;
            var body = new SkipZerosPart<V, TV>(m, k, kb, nkb, maxVectors, values, rows, ends, b, bOff, ldb, transB, checkFinite, transC, c, cOff, ldc, 0)
            {
                Accumulate = accumulate,
                PairRows = pairRows,
                RestartK = restartK,
                Epilogue = epi,
                ValuesFromA = reuse,
                A = a,
                AOff = aOff,
                Lda = lda,
                TransA = transA,
            };
            double flops = 2.0 * nonZero * n;
            // One range of C's columns per thread (every column has the same terms, so the parts are even): item i runs on
            // the same thread at every call, so a Linear's units (W's rows in the forward, gW's in the weight gradient stored
            // transposed) stay with the core that also updates them (Gemm.OwnerRow, Sgd.UpdateAll); with two items per thread
            // claimed by whichever came first, about half of mnist's fc1 weight and gradient crossed between the cores per step.
            int parts = allowParallel && flops >= SkipZerosParallelFlops ? Parallelism.Parts(flops, DirectFlopsPerPart, partsPerThread: 1) : 1;
            int chunk = RoundUp((n + parts - 1) / parts, V.Count);
            parts = (n + chunk - 1) / chunk;
            if (parts <= 1) body.Columns(0, n);
            else Parallelism.For(parts, body with { Chunk = chunk, N = n });
            bool finite = Volatile.Read(ref ends[flag]) == 0;
            if (keep)
            {
                lists!.Keep(values, rows, ends, transA, m, k, kb, listStride);
                kept = true;
            }
            return finite;
        }
        finally
        {
            if (!reuse && !kept)
            {
                Scratch<float>.Pool.Return(values);
                Scratch<int>.Pool.Return(rows);
                Scratch<int>.Pool.Return(ends);
            }
            if (aT is not null) Scratch<float>.Pool.Return(aT);
        }
    }

    /// <summary>
    /// The fewest elements of op(A) per part when a skipping product's lists are built over the workers (below two parts'
    /// worth they are built on the calling thread): ~2–3 µs of listing, several times a loop's hand-off.
    /// </summary>
    internal const double SkipZerosListElementsPerPart = 8192;

    /// <summary>
    /// The lists of a skipping product's rows [index·PerPart, …) of op(A) (<see cref="ListRows"/>; with Aᵀ given, those
    /// rows are A's columns, listed eight at a time by <see cref="ListColumns8"/>, the rest first transposed into
    /// <paramref name="aT"/>'s rows): an item of the lists' loop, or the
    /// whole of it with PerPart = m.
    /// </summary>
    private readonly struct SkipZerosLists(float[] a, int aOff, int lda, float[]? aT, int m, int k, int kb, int nkb, float[] values, int[] rows, int[] ends, int perPart,
        int listStride)
        : IParallelBody
    {
        public int PerPart { get; init; } = perPart;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int index)
        {
            int i0 = index * PerPart, i1 = Math.Min(m, i0 + PerPart);
            if (i0 >= i1) return;
            if (aT is null)
            {
                ListRows(a, aOff, lda, i0, i1, k, kb, nkb, values, rows, ends, listStride);
                return;
            }
            // op(A)'s rows i0..i1 are A's columns (A [k×m], row stride lda): eight at a time transposed in registers and
            // listed from there (ListColumns8); the rows after the last eight transposed into aT's rows (stride k) and listed
            if (Avx2.IsSupported)
            {
                for (; i0 + 8 <= i1; i0 += 8) ListColumns8(a, aOff, lda, i0, k, kb, nkb, values, rows, ends, listStride);
                if (i0 >= i1) return;
            }
            if (Avx.IsSupported) RecurrentKernel.TransposeAvx(ref a[aOff + i0], lda, k, i1 - i0, ref aT[i0 * k]);
            else
            {
                for (int p = 0; p < k; p++)
                    for (int i = i0; i < i1; i++) aT[i * k + p] = a[aOff + p * lda + i];
            }
            ListRows(aT, 0, k, i0, i1, k, kb, nkb, values, rows, ends, listStride);
        }
    }

    /// <summary>
    /// The fewest multiply-adds (rows·inF·outF) for which a Linear's products skip zeros: below it (fc2 of the MLP, 2.1 M)
    /// the lists and checks cost more than the skipped half saves (`count zs-fc2-dw-50` against `gemm-fc2-dw`).
    /// </summary>
    internal const long SkipZerosMinMacs = 4_000_000;

    /// <summary>
    /// The longest reduction for which a Linear's gradients skip zeros: up to the direct kernels' k-block (256) the dense
    /// product is one FMA chain per element, which the skipping chain equals bit for bit; beyond it the dense kernels add
    /// per-block partial sums, which round differently (the workload-sized encoder layer's linear1, k = 1024, differed from
    /// the compiled layer by 1.1e-5 in CompiledTransformerTests). <see cref="TrySgemmSkipZeros"/> now restarts its chains every
    /// 256 terms as they do (session 20, used by the transformer's feed-forward block over k = 512 and 1024); these Linear
    /// entries keep the limit (their k ≤ 256 products are one block).
    /// </summary>
    internal const int SkipZerosMaxK = DirectKC;

    /// <summary>The largest fraction of nonzero inputs for which a weight gradient skips the input's zeros (<see cref="TryLinearWeightGradSkipZeros"/>).</summary>
    internal const float SkipInputZerosMaxDensity = 0.4f;

    /// <summary>
    /// A Linear layer's weight gradient gW (=, or += with <paramref name="accumulate"/>) gᵀ·x for float32 (PyTorch: the
    /// weight's gradient of <c>F.linear</c>), g [rows×outF] at <paramref name="gOff"/>, x [rows×inF] at
    /// <paramref name="xOff"/>, gW [outF×inF] from index 0: skipping the exact zeros of the operand that has more of them —
    /// x's (MNIST's pixels) as xᵀ·g, each block of its columns transposed into gW's rows as it is done (with
    /// <paramref name="accumulate"/>: the whole product, then transposed and added), else g's (a ReLU's backward). False
    /// (nothing written) when the product is small or neither operand has enough zeros: the caller runs the dense GEMM.
    /// <paramref name="gNonZero"/>: g's nonzero count if known, or −1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryLinearWeightGradSkipZeros(float[] g, int gOff, float[] x, int xOff, float[] gw, int rows, int inF, int outF,
        bool accumulate, bool allowParallel, long gNonZero = -1)
    {
        if (rows <= 0 || inF <= 0 || outF <= 0 || rows > SkipZerosMaxK || (long)rows * inF * outF < SkipZerosMinMacs) return false;
        if (gNonZero < 0) gNonZero = CountNonZero(g, gOff, rows, outF, outF);
        long xNonZero = CountNonZeroUpTo(x, xOff, rows, inF, inF, SkipInputZerosMaxDensity * ((double)rows * inF) + 1); // above it: not this path
        double gDensity = gNonZero / ((double)rows * outF), xDensity = xNonZero / ((double)rows * inF);
        if (xDensity <= SkipInputZerosMaxDensity && xDensity < gDensity)
        {
            // (xᵀ·g)ᵀ written in gW's layout block by block (no inF × outF product to transpose afterwards); to add it to
            // gW, the whole product first, then transposed and added
            if (!accumulate)
            {
                if (TrySgemmSkipZerosAnyWidth(true, inF, outF, rows, x, xOff, inF, g, gOff, outF, gw, 0, inF, false, allowParallel, 1f, xNonZero, transC: true))
                    return true;
            }
            else
            {
                float[] t = Scratch<float>.Pool.Rent(inF * outF);
                try
                {
                    if (TrySgemmSkipZeros(true, inF, outF, rows, x, xOff, inF, g, gOff, outF, t, 0, outF, false, allowParallel, 1f, xNonZero))
                    {
                        StoreTransposed(t, inF, outF, gw, 0, accumulate: true);
                        return true;
                    }
                }
                finally
                {
                    Scratch<float>.Pool.Return(t);
                }
            }
        }
        return TrySgemmSkipZeros(true, outF, inF, rows, g, gOff, outF, x, xOff, inF, gw, 0, inF, accumulate, allowParallel, SkipZerosMaxDensity, gNonZero);
    }

    /// <summary>
    /// A Linear layer's input gradient gx (=, or += with <paramref name="accumulate"/>) g·W for float32, g [rows×outF] at
    /// <paramref name="gOff"/>, W [outF×inF] at <paramref name="wOff"/>, gx [rows×inF] at <paramref name="gxOff"/>,
    /// skipping g's exact zeros (a ReLU's backward: the transformer FFN's first linear). False when the product is small or
    /// g has too few zeros: the caller runs the dense GEMM.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryLinearInputGradSkipZeros(float[] g, int gOff, float[] w, int wOff, float[] gx, int gxOff, int rows, int inF, int outF,
        bool accumulate, bool allowParallel, long gNonZero = -1)
    {
        if (rows <= 0 || inF <= 0 || outF <= 0 || outF > SkipZerosMaxK || (long)rows * inF * outF < SkipZerosMinMacs) return false;
        return TrySgemmSkipZeros(false, rows, inF, outF, g, gOff, outF, w, wOff, inF, gx, gxOff, inF, accumulate, allowParallel, SkipZerosMaxDensity, gNonZero);
    }

    /// <summary>
    /// For each lane mask of eight floats, the lanes whose bit is set, in order, then the others: Avx2.PermuteVar8x32 by
    /// this row packs a vector's nonzero elements to its front (and the row itself, plus p, is their indices).
    /// </summary>
    private static readonly int[] CompressLanes = BuildCompressLanes();

    private static int[] BuildCompressLanes()
    {
        var table = new int[256 * 8];
        for (int mask = 0; mask < 256; mask++)
        {
            int t = 0;
            for (int lane = 0; lane < 8; lane++) if ((mask >> lane & 1) != 0) table[mask * 8 + t++] = lane;
            for (int lane = 0; lane < 8; lane++) if ((mask >> lane & 1) == 0) table[mask * 8 + t++] = lane;
        }
        return table;
    }

    /// <summary>
    /// The lists of A's rows [<paramref name="i0"/>, <paramref name="i1"/>) (A [·×k] at <paramref name="aOff"/>, row i at
    /// aOff + i·lda): row i's nonzero values and their p, in order of p, the rows' lists one after the other from i0·s
    /// (s = <paramref name="listStride"/>, 0: k);
    /// ends[i·(nkb + 1)] where row i's list starts and ends[i·(nkb + 1) + 1 + q] one past its last term with p &lt; (q + 1)·kb
    /// (kb a multiple of 8). Eight elements at a time without a branch on the data (the nonzero lanes packed to the front
    /// by a permutation and all eight stored, the list advanced by their count: the bit-walking loop's exits mispredicted
    /// about once per eight elements at MNIST's 20 % density; with AVX-512 sixteen at a time by a compress); the eight (sixteen)
    /// stored at the list's end t ≤ i·s + p stay below i1·s, since p + 8 ≤ k (p + 16). Parts of the rows listed by different threads touch disjoint ranges. Returns the rows' nonzero count.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static long ListRows(float[] a, int aOff, int lda, int i0, int i1, int k, int kb, int nkb, float[] values, int[] rows, int[] ends, int listStride = 0)
    {
        if (listStride == 0) listStride = k;
        if (i0 < 0 || listStride < k || (long)i1 * listStride > values.Length || (long)i1 * listStride > rows.Length || (long)i1 * (nkb + 1) > ends.Length)
            throw new ArgumentException($"Zero-skip lists of rows [{i0}, {i1}) of length {k}: need {(long)i1 * listStride} values and rows and {(long)i1 * (nkb + 1)} ends, got {values.Length}, {rows.Length}, {ends.Length}.");
        ref float vv = ref MemoryMarshal.GetArrayDataReference(values);
        ref int rv = ref MemoryMarshal.GetArrayDataReference(rows);
        ref int lanes = ref MemoryMarshal.GetArrayDataReference(CompressLanes);
        int t = i0 * listStride;
        for (int i = i0; i < i1; i++)
        {
            ref float ar = ref a[aOff + i * lda];
            int e = i * (nkb + 1);
            ends[e] = t;
            for (int q = 0, p = 0; q < nkb; q++)
            {
                int pEnd = Math.Min(k, p + kb);
                if (Avx512F.IsSupported)
                {
                    // sixteen at a time: the nonzero lanes packed to the front by a compress in registers (to memory it is
                    // microcoded on Zen 4) and all sixteen stored, as the eight-lane loop below does with its permutation
                    for (; p + 16 <= pEnd; p += 16)
                    {
                        var v = Vector512.LoadUnsafe(ref ar, (nuint)p);
                        var keep = ~Vector512.Equals(v, Vector512<float>.Zero);
                        Avx512F.Compress(Vector512<float>.Zero, keep, v).StoreUnsafe(ref vv, (nuint)t);
                        Avx512F.Compress(Vector512<int>.Zero, keep.AsInt32(), Vector512<int>.Indices + Vector512.Create(p)).StoreUnsafe(ref rv, (nuint)t);
                        t += System.Numerics.BitOperations.PopCount(keep.ExtractMostSignificantBits());
                    }
                }
                if (Avx2.IsSupported)
                {
                    for (; p + 8 <= pEnd; p += 8) Append8(Vector256.LoadUnsafe(ref ar, (nuint)p), Vector256.Create(p), ref vv, ref rv, ref lanes, ref t);
                }
                for (; p < pEnd; p++) AppendOne(Unsafe.Add(ref ar, p), p, ref vv, ref rv, ref t);
                ends[e + 1 + q] = t;
            }
        }
        return t - (long)i0 * listStride;
    }

    /// <summary>
    /// <see cref="ListRows"/> of op(A)'s rows [<paramref name="i0"/>, i0 + 8) when op(A) = Aᵀ, A [k×·] at
    /// <paramref name="aOff"/> with row stride <paramref name="lda"/>: those rows are A's columns i0.., read as 8 × 8 blocks
    /// (eight of A's rows p.. of eight columns) transposed in registers, each transposed vector (eight consecutive p of one
    /// row of op(A)) listed as ListRows lists eight elements; the rows' lists and ends are the same as ListRows gives for a
    /// transposed copy of A, without that copy (2 MB for the feed-forward's weight gradients, written past L2 and read back).
    /// The p after the last whole eight of a k-block (only in the last one: kb is a multiple of 8) element by element. Row i's
    /// list from slot i·<paramref name="listStride"/> (0: k).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ListColumns8(float[] a, int aOff, int lda, int i0, int k, int kb, int nkb, float[] values, int[] rows, int[] ends, int listStride = 0)
    {
        if (listStride == 0) listStride = k;
        if (i0 < 0 || aOff < 0 || listStride < k || (long)(i0 + 8) * listStride > values.Length || (long)(i0 + 8) * listStride > rows.Length || (long)(i0 + 8) * (nkb + 1) > ends.Length
            || (k > 0 && (long)aOff + (long)(k - 1) * lda + i0 + 8 > a.Length))
            throw new ArgumentException($"Zero-skip lists of A's columns [{i0}, {i0 + 8}) over {k} rows: out of range.");
        ref float vv = ref MemoryMarshal.GetArrayDataReference(values);
        ref int rv = ref MemoryMarshal.GetArrayDataReference(rows);
        ref int lanes = ref MemoryMarshal.GetArrayDataReference(CompressLanes);
        ref float a0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(a), (nint)aOff + i0);
        int stride = nkb + 1;
        int ls = listStride;
        int t0 = i0 * ls, t1 = t0 + ls, t2 = t1 + ls, t3 = t2 + ls, t4 = t3 + ls, t5 = t4 + ls, t6 = t5 + ls, t7 = t6 + ls;
        for (int r = 0; r < 8; r++) ends[(i0 + r) * stride] = (i0 + r) * ls;
        for (int q = 0, p = 0; q < nkb; q++)
        {
            int pEnd = Math.Min(k, p + kb);
            for (; p + 8 <= pEnd; p += 8)
            {
                Transpose8x8(ref Unsafe.Add(ref a0, (nint)p * lda), (nuint)lda, out var c0, out var c1, out var c2, out var c3, out var c4, out var c5, out var c6, out var c7);
                var pv = Vector256.Create(p);
                Append8(c0, pv, ref vv, ref rv, ref lanes, ref t0);
                Append8(c1, pv, ref vv, ref rv, ref lanes, ref t1);
                Append8(c2, pv, ref vv, ref rv, ref lanes, ref t2);
                Append8(c3, pv, ref vv, ref rv, ref lanes, ref t3);
                Append8(c4, pv, ref vv, ref rv, ref lanes, ref t4);
                Append8(c5, pv, ref vv, ref rv, ref lanes, ref t5);
                Append8(c6, pv, ref vv, ref rv, ref lanes, ref t6);
                Append8(c7, pv, ref vv, ref rv, ref lanes, ref t7);
            }
            for (; p < pEnd; p++)
            {
                ref float sp = ref Unsafe.Add(ref a0, (nint)p * lda);
                AppendOne(sp, p, ref vv, ref rv, ref t0);
                AppendOne(Unsafe.Add(ref sp, 1), p, ref vv, ref rv, ref t1);
                AppendOne(Unsafe.Add(ref sp, 2), p, ref vv, ref rv, ref t2);
                AppendOne(Unsafe.Add(ref sp, 3), p, ref vv, ref rv, ref t3);
                AppendOne(Unsafe.Add(ref sp, 4), p, ref vv, ref rv, ref t4);
                AppendOne(Unsafe.Add(ref sp, 5), p, ref vv, ref rv, ref t5);
                AppendOne(Unsafe.Add(ref sp, 6), p, ref vv, ref rv, ref t6);
                AppendOne(Unsafe.Add(ref sp, 7), p, ref vv, ref rv, ref t7);
            }
            int e = i0 * stride + 1 + q;
            ends[e] = t0;
            ends[e + stride] = t1;
            ends[e + 2 * stride] = t2;
            ends[e + 3 * stride] = t3;
            ends[e + 4 * stride] = t4;
            ends[e + 5 * stride] = t5;
            ends[e + 6 * stride] = t6;
            ends[e + 7 * stride] = t7;
        }
    }

    /// <summary>The slots between two rows' lists of a transposed skipping product past k (<see cref="ListColumns8"/>).</summary>
    private const int ListStagger = 16;

    /// <summary>
    /// Eight elements of one row at p.. appended to its list at t (ListRows' and ListColumns8's eight-lane step): the nonzero
    /// lanes packed to the front by the permutation CompressLanes gives for their mask, all eight stored, t advanced by
    /// their count.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Append8(Vector256<float> v, Vector256<int> p, ref float vv, ref int rv, ref int lanes, ref int t)
    {
        uint mask = ~Vector256.Equals(v, Vector256<float>.Zero).ExtractMostSignificantBits() & 0xFF;
        var perm = Vector256.LoadUnsafe(ref lanes, (nuint)(mask * 8));
        Avx2.PermuteVar8x32(v, perm).StoreUnsafe(ref vv, (nuint)t);
        (perm + p).StoreUnsafe(ref rv, (nuint)t);
        t += System.Numerics.BitOperations.PopCount(mask);
    }

    /// <summary>One element at p appended to its row's list at t when it is not zero (stored either way: ListRows' and ListColumns8's tails).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AppendOne(float v, int p, ref float vv, ref int rv, ref int t)
    {
        Unsafe.Add(ref vv, t) = v;
        Unsafe.Add(ref rv, t) = p;
        t += v != 0f ? 1 : 0;
    }

    /// <summary>
    /// The largest fraction of nonzero inputs for which <see cref="TryLinearSkipZeros"/> skips: it transposes all of W into
    /// its panels (800 KB for fc1 of the MLP), so it needs more zeros than the gradients do (MNIST's pixels: ~80 % zeros).
    /// </summary>
    internal const float SkipZerosForwardMaxDensity = 0.3f;

    /// <summary>
    /// A Linear layer's y = x·Wᵀ then its epilogue (bias, ReLU, residual) for float32, skipping the exact zeros of x
    /// (PyTorch: <c>F.linear</c>, same values): x [rows×inF], W [outF×inF], y [rows×outF], all contiguous. Blocks of W's
    /// rows are transposed into the kernel's panels so each nonzero x[r, q] adds x[r, q]·Wᵀ[q, :] to y's row. False when
    /// x has more than <paramref name="maxDensity"/> nonzeros (nothing written) or W holds a NaN or ±Inf (y then holds
    /// partial sums, found as W is packed): the caller runs the dense GEMM, which overwrites y.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool TryLinearSkipZeros(float[] x, int xOff, float[] w, int wOff, float[] y, int yOff, int rows, int inF, int outF,
        Epi<float> epi, bool allowParallel, float maxDensity = SkipZerosForwardMaxDensity, long minMacs = SkipZerosMinMacs)
    {
        if (rows <= 1 || inF <= 0 || outF <= 0 || (long)rows * inF * outF < minMacs) return false;
        long nonZero = CountNonZeroUpTo(x, xOff, rows, inF, inF, maxDensity * ((long)rows * inF));
        if (nonZero > maxDensity * ((long)rows * inF)) return false;
        // W is read in its own layout: each block of its rows is transposed into the kernel's panel (and checked for
        // NaN/±Inf there) as the product goes, not copied whole into a transposed scratch array first.
        // The epilogue is applied by the product's column parts, to each row of a block of columns when its last term is in
        // (on the core that wrote it, while it is in cache; it ran on the calling thread after the product's loop before).
        return Vector512.IsHardwareAccelerated
            ? LinearSkipZeros<Simd512<float>, Vector512<float>>(x, xOff, w, wOff, y, yOff, rows, inF, outF, allowParallel, epi)
            : Vector256.IsHardwareAccelerated && LinearSkipZeros<Simd256<float>, Vector256<float>>(x, xOff, w, wOff, y, yOff, rows, inF, outF, allowParallel, epi);
    }

    /// <summary>
    /// y = x·Wᵀ over x's nonzero terms in vectors of one width (<see cref="TryLinearSkipZeros"/> without its size and density
    /// tests), then <paramref name="epi"/> on every element: false, y then holding partial sums, when W holds a NaN or ±Inf.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool LinearSkipZeros<V, TV>(float[] x, int xOff, float[] w, int wOff, float[] y, int yOff, int rows, int inF, int outF, bool allowParallel,
        Epi<float> epi = default)
        where V : struct, ISimd<TV, float> where TV : struct
        => SkipZerosProduct<V, TV>(false, true, rows, outF, inF, x, xOff, inF, w, wOff, inF, y, yOff, outF, allowParallel, checkFinite: true, epi: epi);

    /// <summary>The nonzero elements (NaN counts, ±0 does not) of the <paramref name="rows"/> × <paramref name="cols"/> block at <paramref name="off"/> (row stride <paramref name="ld"/>): <see cref="CountNonZeroUpTo"/> without a bound.</summary>
    internal static long CountNonZero(float[] x, int off, int rows, int cols, int ld) => CountNonZeroUpTo(x, off, rows, cols, ld, double.PositiveInfinity);

    /// <summary>
    /// The nonzero elements (NaN counts, ±0 does not) of the <paramref name="rows"/> × <paramref name="cols"/> block at
    /// <paramref name="off"/> (row stride <paramref name="ld"/>), row by row, returning as soon as the count passes
    /// <paramref name="stopAbove"/> (a count above it then, not the whole block's). For the zero-skipping products' density
    /// tests, which only compare the count with a bound: a dense block (the MLP step's torch.rand batch, 64×784, counted on
    /// the calling thread by fc1's forward and again by its weight gradient) is read only up to the bound. Zeros counted by
    /// two vector accumulators of compare masks (one compare and one subtraction per 8 floats).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static long CountNonZeroUpTo(float[] x, int off, int rows, int cols, int ld, double stopAbove)
    {
        if (rows <= 0 || cols <= 0) return 0;
        if (off < 0 || ld < cols || (long)off + (long)(rows - 1) * ld + cols > x.Length)
            throw new ArgumentException($"CountNonZeroUpTo: [{rows}, {cols}] at {off} with row stride {ld} does not fit an array of {x.Length}.", nameof(x));
        ref float x0 = ref MemoryMarshal.GetArrayDataReference(x);
        long count = 0;
        for (int r = 0; r < rows; r++)
        {
            ref float row = ref Unsafe.Add(ref x0, (nint)off + (nint)r * ld);
            int j = 0;
            long zeros = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                Vector256<int> z0 = default, z1 = default;
                for (; j + 16 <= cols; j += 16)
                {
                    z0 += Vector256.Equals(Vector256.LoadUnsafe(ref row, (nuint)j), Vector256<float>.Zero).AsInt32();
                    z1 += Vector256.Equals(Vector256.LoadUnsafe(ref row, (nuint)(j + 8)), Vector256<float>.Zero).AsInt32();
                }
                if (j + 8 <= cols)
                {
                    z0 += Vector256.Equals(Vector256.LoadUnsafe(ref row, (nuint)j), Vector256<float>.Zero).AsInt32();
                    j += 8;
                }
                zeros = -(long)Vector256.Sum(z0 + z1);
            }
            for (; j < cols; j++) zeros += Unsafe.Add(ref row, j) == 0f ? 1 : 0;
            count += cols - zeros;
            if (count > stopAbove) return count;
        }
        return count;
    }

    /// <summary>
    /// The <paramref name="rows"/> × <paramref name="cols"/> block at s0 (row stride <paramref name="ld"/>) transposed into d0
    /// (cols rows of <paramref name="rows"/>), as RecurrentKernel.TransposeAvx does it (8 × 8 blocks down the source rows, then
    /// the edges), returning whether every element is finite: each transposed vector is checked in its register (x − x is 0
    /// only for finite x) instead of a second pass over the destination (the skipping forward's W panels: fc2's, 128 KB per
    /// call on the calling thread, AllFinite ~4 % of `count mnist-fc2-fwd`'s profile).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool TransposeFinite(ref float s0, nint ld, int rows, int cols, ref float d0)
    {
        int r8 = rows & ~7, c8 = cols & ~7;
        nint ldd = rows;
        var bad = Vector256<float>.Zero;
        for (int p0 = 0; p0 < c8; p0 += 8)
        {
            for (int q0 = 0; q0 < r8; q0 += 8)
            {
                Transpose8x8(ref Unsafe.Add(ref s0, (nint)q0 * ld + p0), (nuint)ld, out var c0, out var c1, out var c2, out var c3, out var c4, out var c5, out var c6, out var c7);
                ref float dp = ref Unsafe.Add(ref d0, (nint)p0 * ldd + q0);
                c0.StoreUnsafe(ref dp);
                c1.StoreUnsafe(ref dp, (nuint)ldd);
                c2.StoreUnsafe(ref dp, (nuint)(2 * ldd));
                c3.StoreUnsafe(ref dp, (nuint)(3 * ldd));
                c4.StoreUnsafe(ref dp, (nuint)(4 * ldd));
                c5.StoreUnsafe(ref dp, (nuint)(5 * ldd));
                c6.StoreUnsafe(ref dp, (nuint)(6 * ldd));
                c7.StoreUnsafe(ref dp, (nuint)(7 * ldd));
                bad |= ~Vector256.Equals((c0 - c0) + (c1 - c1) + (c2 - c2) + (c3 - c3), Vector256<float>.Zero);
                bad |= ~Vector256.Equals((c4 - c4) + (c5 - c5) + (c6 - c6) + (c7 - c7), Vector256<float>.Zero);
            }
        }
        bool finite = bad == Vector256<float>.Zero;
        for (int q = 0; q < rows; q++)
        {
            ref float sq = ref Unsafe.Add(ref s0, (nint)q * ld);
            for (int p = q < r8 ? c8 : 0; p < cols; p++)
            {
                float v = Unsafe.Add(ref sq, p);
                Unsafe.Add(ref d0, (nint)p * ldd + q) = v;
                finite &= float.IsFinite(v);
            }
        }
        return finite;
    }

    /// <summary>Whether every element of the <paramref name="rows"/> × <paramref name="cols"/> block at <paramref name="off"/> is finite.</summary>
    internal static bool AllFinite(float[] x, int off, int rows, int cols, int ld)
    {
        if (cols <= 0) return true;
        for (int r = 0; r < rows; r++)
        {
            if (!AllFinite(new ReadOnlySpan<float>(x, off + r * ld, cols))) return false;
        }
        return true;
    }

    /// <summary>Whether every element of <paramref name="x"/> is finite (x − x is 0 only for finite x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool AllFinite(ReadOnlySpan<float> x)
    {
        ref float row = ref MemoryMarshal.GetReference(x);
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var bad = Vector256<float>.Zero;
            for (; j + Vector256<float>.Count <= x.Length; j += Vector256<float>.Count)
            {
                var v = Vector256.LoadUnsafe(ref row, (nuint)j);
                bad |= ~Vector256.Equals(v - v, Vector256<float>.Zero);
            }
            if (bad != Vector256<float>.Zero) return false;
        }
        for (; j < x.Length; j++)
        {
            if (!float.IsFinite(Unsafe.Add(ref row, j))) return false;
        }
        return true;
    }

    /// <summary>
    /// One part of the skipping product: columns [index·Chunk, …) of C, every row. B's strip for a block of C's columns is
    /// packed, one k-block at a time, into an aligned panel (rows of the block's width, contiguous): the kernel's loads
    /// of B then never straddle a cache line and the strip's rows do not fall into a few L1 sets (B's own rows of 1 KB
    /// did, for x·Wᵀ's Wᵀ of 256 columns), and W of a Linear is transposed into it directly. With transC each block's
    /// columns of C are computed into a tile of m rows and transposed into C's rows j.. (C [n×m]).
    /// </summary>
    private readonly struct SkipZerosPart<V, TV>(int m, int k, int kb, int nkb, int maxVectors, float[] values, int[] rows, int[] ends, float[] b, int bOff, int ldb,
        bool transB, bool checkFinite, bool transC, float[] c, int cOff, int ldc, int chunk) : IParallelBody
        where V : struct, ISimd<TV, float> where TV : struct
    {
        public int Chunk { get; init; } = chunk;

        public int N { get; init; }

        /// <summary>C += the product (each restart block's chain added to C), instead of C = it.</summary>
        public bool Accumulate { get; init; }

        /// <summary>Two rows of C at a time (<see cref="BlockPair{TN, TA}"/>): blocks of ≤ 6 vectors (8 with 32 registers).</summary>
        public bool PairRows { get; init; }

        /// <summary>The chains restart from +0 every this many terms (a power of two; 0: one chain over all of k).</summary>
        public int RestartK { get; init; }

        /// <summary>Applied to each row of a block of C's columns when its last term is in (not with transC).</summary>
        public Epi<float> Epilogue { get; init; }

        /// <summary>
        /// The terms' values read from A at the listed positions (op(A)'s element (i, p): A[AOff + i·Lda + p], or with TransA
        /// A[AOff + p·Lda + i]) instead of from the lists' values: lists of another matrix's nonzeros (<see cref="SkipZerosListCache"/>).
        /// </summary>
        public bool ValuesFromA { get; init; }

        public float[]? A { get; init; }

        public int AOff { get; init; }

        public int Lda { get; init; }

        public bool TransA { get; init; }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int index)
        {
            int j0 = index * Chunk;
            Columns(j0, Math.Min(N, j0 + Chunk));
        }

        /// <summary>
        /// Columns [j0, j1): blocks of at most maxVectors (12) vectors, as equal as possible (each FMA chain's latency is hidden by the
        /// block's other chains: a 2-vector remainder block would run at a quarter of the rate), every row of C per block
        /// and B's rows in k-blocks of a packed strip of SkipZerosPanelBytes; then the columns after the last whole vector one by one.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public unsafe void Columns(int j0, int j1)
        {
            int w = V.Count;
            int vectors = (j1 - j0) / w;
            int blocks = (vectors + maxVectors - 1) / maxVectors;
            int j = j0;
            // kb rows of the widest block (more than SkipZerosPanelBytes when kb was rounded up to a restart's divisor)
            float* panel = (float*)NativeMemory.AlignedAlloc((nuint)Math.Max(SkipZerosPanelBytes, kb * maxVectors * w * sizeof(float)) + 8 * 12 * 64, 64);
            // transC: the block's columns of C, m rows of the block's width, transposed into C's rows when done
            float[]? tile = transC && blocks > 0 ? Scratch<float>.Pool.Rent(m * Math.Min(vectors, maxVectors) * w) : null;
            // a row's chain of a restart block that spans several panels, carried between them (C holds the earlier blocks'
            // sum, or its own values when accumulating); in C itself within the first block when C is overwritten
            int restart = RestartK > 0 ? RestartK : k;
            float[]? carry = blocks > 0 && (Accumulate || k > restart) && kb < Math.Min(k, restart) ? Scratch<float>.Pool.Rent(m * Math.Min(vectors, maxVectors) * w) : null;
            bool finite = true;
            try
            {
                for (int blk = 0; blk < blocks; blk++)
                {
                    int nv = vectors / blocks + (blk < vectors % blocks ? 1 : 0);
                    var (cc, ccOff, ccLd) = tile is null ? (c, cOff + j, ldc) : (tile, 0, nv * w);
                    finite &= ValuesFromA ? Run<FlagOn>(nv, j, panel, cc, ccOff, ccLd, carry) : Run<FlagOff>(nv, j, panel, cc, ccOff, ccLd, carry);
                    // C's rows [j, j + nv·w) of m elements (ldc = m) are the tile's columns
                    if (tile is not null) RecurrentKernel.TransposeAvx(ref tile[0], nv * w, m, nv * w, ref c[cOff + j * ldc]);
                    j += nv * w;
                }
            }
            finally
            {
                NativeMemory.AlignedFree(panel);
                if (tile is not null) Scratch<float>.Pool.Return(tile);
                if (carry is not null) Scratch<float>.Pool.Return(carry);
            }
            // B's element (p, j): B[p·ldb + j], or W[j·ldb + p] for transB; panels per restart block (kb divides RestartK when k exceeds it)
            int panelsPerChain = RestartK > 0 && k > RestartK ? RestartK / kb : nkb;
            int sp = transB ? 1 : ldb, sj = transB ? ldb : 1;
            for (; j < j1; j++)
            {
                if (checkFinite && !(transB ? AllFinite(b, bOff + j * ldb, 1, k, ldb) : AllFinite(b, bOff + j, k, 1, ldb))) finite = false;
                for (int i = 0; i < m; i++)
                {
                    ref float ci = ref c[transC ? cOff + j * ldc + i : cOff + i * ldc + j];
                    // one chain per restart block (kb divides it when k exceeds it), each added to C after the first
                    for (int q0 = 0; q0 < nkb; )
                    {
                        int q1 = Math.Min(nkb, q0 + panelsPerChain);
                        float s = 0f;
                        int t0 = ends[i * (nkb + 1) + q0], t1 = ends[i * (nkb + 1) + q1];
                        for (int t = t0; t < t1; t++)
                        {
                            float v = !ValuesFromA ? values[t] : TransA ? A![AOff + rows[t] * Lda + i] : A![AOff + i * Lda + rows[t]];
                            s = MathF.FusedMultiplyAdd(v, b[bOff + rows[t] * sp + j * sj], s);
                        }
                        ci = q0 == 0 && !Accumulate ? s : ci + s;
                        q0 = q1;
                    }
                    if (!transC && !Epilogue.IsNone) Epilogue.ApplyRow(new Span<float>(ref ci), i, j);
                }
            }
            if (!finite) Volatile.Write(ref ends[m * (nkb + 1)], 1);
        }

        /// <summary>One block of nv vectors of C's columns from j (<see cref="BlockPair{TN, TA}"/> or <see cref="Block{TN, TA}"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private unsafe bool Run<TA>(int nv, int j, float* panel, float[] cc, int ccOff, int ccLd, float[]? carry) where TA : struct, IFlag
        {
            if (PairRows)
            {
                return nv switch
                {
                    1 => BlockPair<Lanes1, TA>(j, panel, cc, ccOff, ccLd, carry),
                    2 => BlockPair<Lanes2, TA>(j, panel, cc, ccOff, ccLd, carry),
                    3 => BlockPair<Lanes3, TA>(j, panel, cc, ccOff, ccLd, carry),
                    4 => BlockPair<Lanes4, TA>(j, panel, cc, ccOff, ccLd, carry),
                    5 => BlockPair<Lanes5, TA>(j, panel, cc, ccOff, ccLd, carry),
                    6 => BlockPair<Lanes6, TA>(j, panel, cc, ccOff, ccLd, carry),
                    7 => BlockPair<Lanes7, TA>(j, panel, cc, ccOff, ccLd, carry),
                    _ => BlockPair<Lanes8, TA>(j, panel, cc, ccOff, ccLd, carry),
                };
            }
            return nv switch
            {
                1 => Block<Lanes1, TA>(j, panel, cc, ccOff, ccLd, carry),
                2 => Block<Lanes2, TA>(j, panel, cc, ccOff, ccLd, carry),
                3 => Block<Lanes3, TA>(j, panel, cc, ccOff, ccLd, carry),
                4 => Block<Lanes4, TA>(j, panel, cc, ccOff, ccLd, carry),
                5 => Block<Lanes5, TA>(j, panel, cc, ccOff, ccLd, carry),
                6 => Block<Lanes6, TA>(j, panel, cc, ccOff, ccLd, carry),
                7 => Block<Lanes7, TA>(j, panel, cc, ccOff, ccLd, carry),
                8 => Block<Lanes8, TA>(j, panel, cc, ccOff, ccLd, carry),
                9 => Block<Lanes9, TA>(j, panel, cc, ccOff, ccLd, carry),
                10 => Block<Lanes10, TA>(j, panel, cc, ccOff, ccLd, carry),
                11 => Block<Lanes11, TA>(j, panel, cc, ccOff, ccLd, carry),
                _ => Block<Lanes12, TA>(j, panel, cc, ccOff, ccLd, carry),
            };
        }

        /// <summary>
        /// B's rows [p0, p1) of the columns [j, j + width) into <paramref name="panel"/> (row stride width): copied, or for
        /// transB transposed from W's rows [j, j + width); false when <c>checkFinite</c> and one is a NaN or ±Inf.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private unsafe bool Pack(int j, int width, int p0, int p1, float* panel)
        {
            int count = (p1 - p0) * width;
            if (transB)
            {
                // a Linear's forward (checkFinite): W checked in the registers that transpose it, not in a second pass over the panel
                if (checkFinite) return TransposeFinite(ref b[bOff + j * ldb + p0], ldb, width, p1 - p0, ref Unsafe.AsRef<float>(panel));
                RecurrentKernel.TransposeAvx(ref b[bOff + j * ldb + p0], ldb, width, p1 - p0, ref Unsafe.AsRef<float>(panel));
            }
            else
            {
                for (int p = p0; p < p1; p++)
                    new ReadOnlySpan<float>(b, bOff + p * ldb + j, width).CopyTo(new Span<float>(panel + (nint)(p - p0) * width, width));
            }
            return !checkFinite || AllFinite(new ReadOnlySpan<float>(panel, count));
        }

        /// <summary>
        /// TN.Count vectors of columns from <paramref name="j"/>, every row of C, over B's rows in k-blocks of a packed strip
        /// of SkipZerosPanelBytes (all of k at once for a weight gradient over a batch of 64; 104 rows for x·Wᵀ over 784
        /// features with 256-bit vectors): each row of C is carried from block to block through memory, its terms still in order of p
        /// (ends: where each row's terms of a k-block end). False when B held a NaN or ±Inf (<c>checkFinite</c>).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private unsafe bool Block<TN, TA>(int j, float* panel, float[] cc, int ccOff, int ccLd, float[]? carry) where TN : struct, IVectorCount where TA : struct, IFlag
        {
            nuint w = (nuint)V.Count;
            int width = TN.Count * V.Count;
            bool finite = true;
            ref int ev = ref MemoryMarshal.GetArrayDataReference(ends);
            // the lists through pinned pointers, each row's walked by its own pointers (by refs into the arrays the JIT kept
            // the two bases on the stack and reloaded both on every trip of the term loop)
            int restart = RestartK > 0 ? RestartK : k;
            bool epilogue = !transC && !Epilogue.IsNone;
            fixed (float* pv = values)
            fixed (int* pr = rows)
            fixed (float* pc = cc)
            fixed (float* pk = carry)
            fixed (float* pa0 = A)
            {
                // ValuesFromA (TA): op(A)'s row i at pa + i·rs, its term p at + p·ps
                float* pa = TA.Value ? pa0 + AOff : null;
                nint rs = TransA ? 1 : Lda, ps = TransA ? Lda : 1;
                for (int q = 0, p0 = 0; q < nkb; q++, p0 += kb)
                {
                    int p1 = Math.Min(k, p0 + kb);
                    finite &= Pack(j, width, p0, p1, panel);
                    float* bp = panel - (nint)p0 * width;   // row p of the strip at bp + p·width (p0 ≤ p < p1)
                    // a chain restarts from +0 at every restart block (first); its last panel adds it to C (or writes it:
                    // the first block of an overwritten C, whose chain is carried in C itself); between panels it is carried
                    bool first = p0 % restart == 0, last = p1 == k || p1 % restart == 0, inC = !Accumulate && p0 < restart;
                    bool addToC = last && !inC, final = q == nkb - 1 && epilogue;
                    for (int i = 0; i < m; i++)
                    {
                        float* crp = pc + ccOff + (nint)i * ccLd;
                        ref float cr = ref Unsafe.AsRef<float>(crp);
                        // where the chain is read from (when not first) and written to (C when last)
                        ref float kr = ref Unsafe.AsRef<float>(inC ? crp : pk + (nint)i * width);
                        TV c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
                        TV c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
                        if (!first)
                        {
                            c0 = V.Load(ref kr, 0);
                            if (TN.Count > 1) c1 = V.Load(ref kr, w);
                            if (TN.Count > 2) c2 = V.Load(ref kr, 2 * w);
                            if (TN.Count > 3) c3 = V.Load(ref kr, 3 * w);
                            if (TN.Count > 4) c4 = V.Load(ref kr, 4 * w);
                            if (TN.Count > 5) c5 = V.Load(ref kr, 5 * w);
                            if (TN.Count > 6) c6 = V.Load(ref kr, 6 * w);
                            if (TN.Count > 7) c7 = V.Load(ref kr, 7 * w);
                            if (TN.Count > 8) c8 = V.Load(ref kr, 8 * w);
                            if (TN.Count > 9) c9 = V.Load(ref kr, 9 * w);
                            if (TN.Count > 10) c10 = V.Load(ref kr, 10 * w);
                            if (TN.Count > 11) c11 = V.Load(ref kr, 11 * w);
                        }
                        int t = Unsafe.Add(ref ev, i * (nkb + 1) + q), count = Unsafe.Add(ref ev, i * (nkb + 1) + q + 1) - t;
                        float* vp = pv + t;
                        int* rp = pr + t;
                        float* ai = pa + i * rs;
                        // two terms per trip (the loop's own compare and branch once per 16–24 FMAs), in order
                        for (float* vEnd = vp + (count & ~1); vp < vEnd; vp += 2, rp += 2)
                        {
                            var s = V.Broadcast(TA.Value ? ai[rp[0] * ps] : vp[0]);
                            ref float br = ref Unsafe.AsRef<float>(bp + (nint)rp[0] * width);
                            c0 = V.MultiplyAdd(s, V.Load(ref br, 0), c0);
                            if (TN.Count > 1) c1 = V.MultiplyAdd(s, V.Load(ref br, w), c1);
                            if (TN.Count > 2) c2 = V.MultiplyAdd(s, V.Load(ref br, 2 * w), c2);
                            if (TN.Count > 3) c3 = V.MultiplyAdd(s, V.Load(ref br, 3 * w), c3);
                            if (TN.Count > 4) c4 = V.MultiplyAdd(s, V.Load(ref br, 4 * w), c4);
                            if (TN.Count > 5) c5 = V.MultiplyAdd(s, V.Load(ref br, 5 * w), c5);
                            if (TN.Count > 6) c6 = V.MultiplyAdd(s, V.Load(ref br, 6 * w), c6);
                            if (TN.Count > 7) c7 = V.MultiplyAdd(s, V.Load(ref br, 7 * w), c7);
                            if (TN.Count > 8) c8 = V.MultiplyAdd(s, V.Load(ref br, 8 * w), c8);
                            if (TN.Count > 9) c9 = V.MultiplyAdd(s, V.Load(ref br, 9 * w), c9);
                            if (TN.Count > 10) c10 = V.MultiplyAdd(s, V.Load(ref br, 10 * w), c10);
                            if (TN.Count > 11) c11 = V.MultiplyAdd(s, V.Load(ref br, 11 * w), c11);
                            s = V.Broadcast(TA.Value ? ai[rp[1] * ps] : vp[1]);
                            br = ref Unsafe.AsRef<float>(bp + (nint)rp[1] * width);
                            c0 = V.MultiplyAdd(s, V.Load(ref br, 0), c0);
                            if (TN.Count > 1) c1 = V.MultiplyAdd(s, V.Load(ref br, w), c1);
                            if (TN.Count > 2) c2 = V.MultiplyAdd(s, V.Load(ref br, 2 * w), c2);
                            if (TN.Count > 3) c3 = V.MultiplyAdd(s, V.Load(ref br, 3 * w), c3);
                            if (TN.Count > 4) c4 = V.MultiplyAdd(s, V.Load(ref br, 4 * w), c4);
                            if (TN.Count > 5) c5 = V.MultiplyAdd(s, V.Load(ref br, 5 * w), c5);
                            if (TN.Count > 6) c6 = V.MultiplyAdd(s, V.Load(ref br, 6 * w), c6);
                            if (TN.Count > 7) c7 = V.MultiplyAdd(s, V.Load(ref br, 7 * w), c7);
                            if (TN.Count > 8) c8 = V.MultiplyAdd(s, V.Load(ref br, 8 * w), c8);
                            if (TN.Count > 9) c9 = V.MultiplyAdd(s, V.Load(ref br, 9 * w), c9);
                            if (TN.Count > 10) c10 = V.MultiplyAdd(s, V.Load(ref br, 10 * w), c10);
                            if (TN.Count > 11) c11 = V.MultiplyAdd(s, V.Load(ref br, 11 * w), c11);
                        }
                        if ((count & 1) != 0)
                        {
                            var s = V.Broadcast(TA.Value ? ai[rp[0] * ps] : vp[0]);
                            ref float br = ref Unsafe.AsRef<float>(bp + (nint)rp[0] * width);
                            c0 = V.MultiplyAdd(s, V.Load(ref br, 0), c0);
                            if (TN.Count > 1) c1 = V.MultiplyAdd(s, V.Load(ref br, w), c1);
                            if (TN.Count > 2) c2 = V.MultiplyAdd(s, V.Load(ref br, 2 * w), c2);
                            if (TN.Count > 3) c3 = V.MultiplyAdd(s, V.Load(ref br, 3 * w), c3);
                            if (TN.Count > 4) c4 = V.MultiplyAdd(s, V.Load(ref br, 4 * w), c4);
                            if (TN.Count > 5) c5 = V.MultiplyAdd(s, V.Load(ref br, 5 * w), c5);
                            if (TN.Count > 6) c6 = V.MultiplyAdd(s, V.Load(ref br, 6 * w), c6);
                            if (TN.Count > 7) c7 = V.MultiplyAdd(s, V.Load(ref br, 7 * w), c7);
                            if (TN.Count > 8) c8 = V.MultiplyAdd(s, V.Load(ref br, 8 * w), c8);
                            if (TN.Count > 9) c9 = V.MultiplyAdd(s, V.Load(ref br, 9 * w), c9);
                            if (TN.Count > 10) c10 = V.MultiplyAdd(s, V.Load(ref br, 10 * w), c10);
                            if (TN.Count > 11) c11 = V.MultiplyAdd(s, V.Load(ref br, 11 * w), c11);
                        }
                        if (addToC)
                        {
                            c0 = V.Add(V.Load(ref cr, 0), c0);
                            if (TN.Count > 1) c1 = V.Add(V.Load(ref cr, w), c1);
                            if (TN.Count > 2) c2 = V.Add(V.Load(ref cr, 2 * w), c2);
                            if (TN.Count > 3) c3 = V.Add(V.Load(ref cr, 3 * w), c3);
                            if (TN.Count > 4) c4 = V.Add(V.Load(ref cr, 4 * w), c4);
                            if (TN.Count > 5) c5 = V.Add(V.Load(ref cr, 5 * w), c5);
                            if (TN.Count > 6) c6 = V.Add(V.Load(ref cr, 6 * w), c6);
                            if (TN.Count > 7) c7 = V.Add(V.Load(ref cr, 7 * w), c7);
                            if (TN.Count > 8) c8 = V.Add(V.Load(ref cr, 8 * w), c8);
                            if (TN.Count > 9) c9 = V.Add(V.Load(ref cr, 9 * w), c9);
                            if (TN.Count > 10) c10 = V.Add(V.Load(ref cr, 10 * w), c10);
                            if (TN.Count > 11) c11 = V.Add(V.Load(ref cr, 11 * w), c11);
                            kr = ref cr;
                        }
                        V.Store(c0, ref kr, 0);
                        if (TN.Count > 1) V.Store(c1, ref kr, w);
                        if (TN.Count > 2) V.Store(c2, ref kr, 2 * w);
                        if (TN.Count > 3) V.Store(c3, ref kr, 3 * w);
                        if (TN.Count > 4) V.Store(c4, ref kr, 4 * w);
                        if (TN.Count > 5) V.Store(c5, ref kr, 5 * w);
                        if (TN.Count > 6) V.Store(c6, ref kr, 6 * w);
                        if (TN.Count > 7) V.Store(c7, ref kr, 7 * w);
                        if (TN.Count > 8) V.Store(c8, ref kr, 8 * w);
                        if (TN.Count > 9) V.Store(c9, ref kr, 9 * w);
                        if (TN.Count > 10) V.Store(c10, ref kr, 10 * w);
                        if (TN.Count > 11) V.Store(c11, ref kr, 11 * w);
                        // the row's block of C is done: its epilogue while it is in L1 (as the dense kernels' tiles)
                        if (final) Epilogue.ApplyRow(new Span<float>(crp, width), i, j);
                    }
                }
            }
            return finite;
        }

        /// <summary>
        /// <see cref="Block{TN, TA}"/> for two rows of C at a time, their lists walked side by side: each trip runs one term of
        /// row i (TN FMAs) and one of row i + 1 (TN more), so 2·TN independent chains are in flight (with 8 vectors for one row
        /// the 8 chains are exactly one FMA latency per term, and any stall shows); the longer list's remaining terms then run
        /// alone. Each row's chain is still its own terms in order of p (restarted, carried and finished as in Block). An odd
        /// last row is paired with itself, its partner's list empty and its partner's stores overwritten by its own.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private unsafe bool BlockPair<TN, TA>(int j, float* panel, float[] cc, int ccOff, int ccLd, float[]? carry) where TN : struct, IVectorCount where TA : struct, IFlag
        {
            nuint w = (nuint)V.Count;
            int width = TN.Count * V.Count;
            bool finite = true;
            int restart = RestartK > 0 ? RestartK : k;
            bool epilogue = !transC && !Epilogue.IsNone;
            int stride = nkb + 1;
            fixed (int* pe = ends)
            fixed (float* pv = values)
            fixed (int* pr = rows)
            fixed (float* pc = cc)
            fixed (float* pk = carry)
            fixed (float* pa0 = A)
            {
                // ValuesFromA (TA): op(A)'s row i at pa + i·rs, its term p at + p·ps
                float* pa = TA.Value ? pa0 + AOff : null;
                nint rs = TransA ? 1 : Lda, ps = TransA ? Lda : 1;
                for (int q = 0, p0 = 0; q < nkb; q++, p0 += kb)
                {
                    int p1 = Math.Min(k, p0 + kb);
                    finite &= Pack(j, width, p0, p1, panel);
                    float* bp = panel - (nint)p0 * width;
                    bool first = p0 % restart == 0, last = p1 == k || p1 % restart == 0, inC = !Accumulate && p0 < restart;
                    bool addToC = last && !inC, final = q == nkb - 1 && epilogue;
                    for (int i = 0; i < m; i += 2)
                    {
                        // an odd last row: its partner is itself with an empty list, stored first and then overwritten
                        int i1 = Math.Min(i + 1, m - 1);
                        int tA = pe[i * stride + q], nA = pe[i * stride + q + 1] - tA;
                        int tB = pe[i1 * stride + q], nB = i1 == i ? 0 : pe[i1 * stride + q + 1] - tB;
                        // the longer list's row runs as A (swapped without a branch), so after the paired trips only A's remaining
                        // terms are left: one remainder loop per pair instead of two, each entered at random (each row's chain is
                        // unchanged; session 22: `count xfmr-zs-fwd` 1341–1353 µs against 1361–1376, `xfmr-zs-gx` 1328–1343
                        // against 1361–1372)
                        int swap = -(nB > nA ? 1 : 0), rA = i ^ ((i ^ i1) & swap), rB = i1 ^ ((i ^ i1) & swap);
                        int dt = (tA ^ tB) & swap, dn = (nA ^ nB) & swap;
                        tA ^= dt; tB ^= dt; nA ^= dn; nB ^= dn;
                        float* crA = pc + ccOff + (nint)rA * ccLd, crB = pc + ccOff + (nint)rB * ccLd;
                        float* krA = inC ? crA : pk + (nint)rA * width, krB = inC ? crB : pk + (nint)rB * width;
                        TV a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
                        TV b0 = default, b1 = default, b2 = default, b3 = default, b4 = default, b5 = default, b6 = default, b7 = default;
                        if (!first)
                        {
                            a0 = V.Load(ref *krA, 0); b0 = V.Load(ref *krB, 0);
                            if (TN.Count > 1) { a1 = V.Load(ref *krA, w); b1 = V.Load(ref *krB, w); }
                            if (TN.Count > 2) { a2 = V.Load(ref *krA, 2 * w); b2 = V.Load(ref *krB, 2 * w); }
                            if (TN.Count > 3) { a3 = V.Load(ref *krA, 3 * w); b3 = V.Load(ref *krB, 3 * w); }
                            if (TN.Count > 4) { a4 = V.Load(ref *krA, 4 * w); b4 = V.Load(ref *krB, 4 * w); }
                            if (TN.Count > 5) { a5 = V.Load(ref *krA, 5 * w); b5 = V.Load(ref *krB, 5 * w); }
                            if (TN.Count > 6) { a6 = V.Load(ref *krA, 6 * w); b6 = V.Load(ref *krB, 6 * w); }
                            if (TN.Count > 7) { a7 = V.Load(ref *krA, 7 * w); b7 = V.Load(ref *krB, 7 * w); }
                        }
                        // the next pair's lists of this k-block (two lines of each): the rows' lists lie k slots apart, a stride the
                        // hardware's prefetch did not follow (`count xfmr-zs-fwd` 1354–1403 µs with, 1431–1436 without)
                        if (Sse.IsSupported && i + 2 < m)
                        {
                            int tn = pe[(i + 2) * stride + q], tm = pe[Math.Min(m - 1, i + 3) * stride + q];
                            Sse.Prefetch0(pv + tn);
                            Sse.Prefetch0(pv + tn + 16);
                            Sse.Prefetch0(pr + tn);
                            Sse.Prefetch0(pr + tn + 16);
                            Sse.Prefetch0(pv + tm);
                            Sse.Prefetch0(pv + tm + 16);
                            Sse.Prefetch0(pr + tm);
                            Sse.Prefetch0(pr + tm + 16);
                        }
                        float* va = pv + tA, vb = pv + tB;
                        int* ra = pr + tA, rb = pr + tB;
                        float* aA = pa + rA * rs, aB = pa + rB * rs;
                        nint both = nB;   // ≤ nA
                        for (nint t = 0; t < both; t++)
                        {
                            var s = V.Broadcast(TA.Value ? aA[ra[t] * ps] : va[t]);
                            float* ba = bp + (nint)ra[t] * width;
                            var u = V.Broadcast(TA.Value ? aB[rb[t] * ps] : vb[t]);
                            float* bb = bp + (nint)rb[t] * width;
                            a0 = V.MultiplyAdd(s, V.Load(ref *ba, 0), a0);
                            b0 = V.MultiplyAdd(u, V.Load(ref *bb, 0), b0);
                            if (TN.Count > 1) { a1 = V.MultiplyAdd(s, V.Load(ref *ba, w), a1); b1 = V.MultiplyAdd(u, V.Load(ref *bb, w), b1); }
                            if (TN.Count > 2) { a2 = V.MultiplyAdd(s, V.Load(ref *ba, 2 * w), a2); b2 = V.MultiplyAdd(u, V.Load(ref *bb, 2 * w), b2); }
                            if (TN.Count > 3) { a3 = V.MultiplyAdd(s, V.Load(ref *ba, 3 * w), a3); b3 = V.MultiplyAdd(u, V.Load(ref *bb, 3 * w), b3); }
                            if (TN.Count > 4) { a4 = V.MultiplyAdd(s, V.Load(ref *ba, 4 * w), a4); b4 = V.MultiplyAdd(u, V.Load(ref *bb, 4 * w), b4); }
                            if (TN.Count > 5) { a5 = V.MultiplyAdd(s, V.Load(ref *ba, 5 * w), a5); b5 = V.MultiplyAdd(u, V.Load(ref *bb, 5 * w), b5); }
                            if (TN.Count > 6) { a6 = V.MultiplyAdd(s, V.Load(ref *ba, 6 * w), a6); b6 = V.MultiplyAdd(u, V.Load(ref *bb, 6 * w), b6); }
                            if (TN.Count > 7) { a7 = V.MultiplyAdd(s, V.Load(ref *ba, 7 * w), a7); b7 = V.MultiplyAdd(u, V.Load(ref *bb, 7 * w), b7); }
                        }
                        for (nint t = both; t < nA; t++)
                        {
                            var s = V.Broadcast(TA.Value ? aA[ra[t] * ps] : va[t]);
                            float* ba = bp + (nint)ra[t] * width;
                            a0 = V.MultiplyAdd(s, V.Load(ref *ba, 0), a0);
                            if (TN.Count > 1) a1 = V.MultiplyAdd(s, V.Load(ref *ba, w), a1);
                            if (TN.Count > 2) a2 = V.MultiplyAdd(s, V.Load(ref *ba, 2 * w), a2);
                            if (TN.Count > 3) a3 = V.MultiplyAdd(s, V.Load(ref *ba, 3 * w), a3);
                            if (TN.Count > 4) a4 = V.MultiplyAdd(s, V.Load(ref *ba, 4 * w), a4);
                            if (TN.Count > 5) a5 = V.MultiplyAdd(s, V.Load(ref *ba, 5 * w), a5);
                            if (TN.Count > 6) a6 = V.MultiplyAdd(s, V.Load(ref *ba, 6 * w), a6);
                            if (TN.Count > 7) a7 = V.MultiplyAdd(s, V.Load(ref *ba, 7 * w), a7);
                        }
                        if (addToC)
                        {
                            a0 = V.Add(V.Load(ref *crA, 0), a0); b0 = V.Add(V.Load(ref *crB, 0), b0);
                            if (TN.Count > 1) { a1 = V.Add(V.Load(ref *crA, w), a1); b1 = V.Add(V.Load(ref *crB, w), b1); }
                            if (TN.Count > 2) { a2 = V.Add(V.Load(ref *crA, 2 * w), a2); b2 = V.Add(V.Load(ref *crB, 2 * w), b2); }
                            if (TN.Count > 3) { a3 = V.Add(V.Load(ref *crA, 3 * w), a3); b3 = V.Add(V.Load(ref *crB, 3 * w), b3); }
                            if (TN.Count > 4) { a4 = V.Add(V.Load(ref *crA, 4 * w), a4); b4 = V.Add(V.Load(ref *crB, 4 * w), b4); }
                            if (TN.Count > 5) { a5 = V.Add(V.Load(ref *crA, 5 * w), a5); b5 = V.Add(V.Load(ref *crB, 5 * w), b5); }
                            if (TN.Count > 6) { a6 = V.Add(V.Load(ref *crA, 6 * w), a6); b6 = V.Add(V.Load(ref *crB, 6 * w), b6); }
                            if (TN.Count > 7) { a7 = V.Add(V.Load(ref *crA, 7 * w), a7); b7 = V.Add(V.Load(ref *crB, 7 * w), b7); }
                            krA = crA;
                            krB = crB;
                        }
                        // row B first: for an odd last row (i1 == i, its partner's list empty, never swapped) row i's values are stored last
                        V.Store(b0, ref *krB, 0);
                        if (TN.Count > 1) V.Store(b1, ref *krB, w);
                        if (TN.Count > 2) V.Store(b2, ref *krB, 2 * w);
                        if (TN.Count > 3) V.Store(b3, ref *krB, 3 * w);
                        if (TN.Count > 4) V.Store(b4, ref *krB, 4 * w);
                        if (TN.Count > 5) V.Store(b5, ref *krB, 5 * w);
                        if (TN.Count > 6) V.Store(b6, ref *krB, 6 * w);
                        if (TN.Count > 7) V.Store(b7, ref *krB, 7 * w);
                        V.Store(a0, ref *krA, 0);
                        if (TN.Count > 1) V.Store(a1, ref *krA, w);
                        if (TN.Count > 2) V.Store(a2, ref *krA, 2 * w);
                        if (TN.Count > 3) V.Store(a3, ref *krA, 3 * w);
                        if (TN.Count > 4) V.Store(a4, ref *krA, 4 * w);
                        if (TN.Count > 5) V.Store(a5, ref *krA, 5 * w);
                        if (TN.Count > 6) V.Store(a6, ref *krA, 6 * w);
                        if (TN.Count > 7) V.Store(a7, ref *krA, 7 * w);
                        if (final)
                        {
                            Epilogue.ApplyRow(new Span<float>(crA, width), rA, j);
                            if (rB != rA) Epilogue.ApplyRow(new Span<float>(crB, width), rB, j);
                        }
                    }
                }
            }
            return finite;
        }
    }

    /// <summary>A number of vectors as a type argument (a register block's width, folded to a constant by the JIT).</summary>
    internal interface IVectorCount
    {
        static abstract int Count { get; }
    }

    private readonly struct Lanes1 : IVectorCount { public static int Count => 1; }
    private readonly struct Lanes2 : IVectorCount { public static int Count => 2; }
    private readonly struct Lanes3 : IVectorCount { public static int Count => 3; }
    private readonly struct Lanes4 : IVectorCount { public static int Count => 4; }
    private readonly struct Lanes5 : IVectorCount { public static int Count => 5; }
    private readonly struct Lanes6 : IVectorCount { public static int Count => 6; }
    private readonly struct Lanes7 : IVectorCount { public static int Count => 7; }
    private readonly struct Lanes8 : IVectorCount { public static int Count => 8; }
    private readonly struct Lanes9 : IVectorCount { public static int Count => 9; }
    private readonly struct Lanes10 : IVectorCount { public static int Count => 10; }
    private readonly struct Lanes11 : IVectorCount { public static int Count => 11; }
    private readonly struct Lanes12 : IVectorCount { public static int Count => 12; }
}
