using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpGrad.Kernels;

// The direct (unpacked) path: GEMMs of the sizes a layer meets in training — a batch of 32…256 rows against weights of a
// few hundred columns (x·Wᵀ, g·W, gᵀ·x), a convolution's per-sample product — where packing the operands would cost as
// much as the product itself (packing B for m = 64 is one read and write of B for 64 rows of work). Two register-blocked
// micro-kernels read the operands where they are:
//  - op(B) = B (no transB): C[8 rows, 2 vectors] += Σ_p op(A)[i, p] · B[p, j..], op(A) broadcast from memory (its rows or
//    its columns: transA only changes the strides), the rows of B streamed; a strip of B (k × 2 vectors) stays in L1
//    while the row blocks of A pass;
//  - op(B) = Bᵀ (x·Wᵀ, no transA): dot products, 4 rows of A × 4 rows of B with 16 vector accumulators, both read along
//    their contiguous k; 4 rows of B stay in L1 while the rows of A pass.
// The rows and columns left over at the edges go through the one-row kernels of the small path.
public static partial class Gemm
{
    /// <summary>Where the rows of an operand start (element offsets), so that one micro-kernel serves a strided matrix and an implicit im2col.</summary>
    internal interface IRowOffsets
    {
        /// <summary>The element offset of row <paramref name="p"/>.</summary>
        nint Offset(int p);
    }

    /// <summary>Rows <c>ld</c> elements apart (a row-major matrix).</summary>
    internal readonly struct StridedRows(int ld) : IRowOffsets
    {
        /// <summary>The distance between two rows, in elements.</summary>
        public int Ld => ld;

        public nint Offset(int p) => (nint)p * ld;
    }

    /// <summary>Rows at the offsets of a table (the im2col rows of a stride-1 convolution: shifted windows of the padded input).</summary>
    internal readonly struct TableRows(int[] table) : IRowOffsets
    {
        public nint Offset(int p) => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(table), p);
    }

    /// <summary>Up to this many multiply-adds (m·n·k) a GEMM takes the direct path (a 2^24 product is ~0.2 ms on one core).</summary>
    private const long DirectMaxMacs = 1L << 24;

    /// <summary>Up to this many columns a product without transB takes the direct path whatever its size (see <see cref="UseDirect"/>).</summary>
    private const int DirectNarrowN = 128;

    /// <summary>Below this many flops per part a direct GEMM is not split further (~5 µs of work on one core).</summary>
    private const double DirectFlopsPerPart = 1e6;

    /// <summary>
    /// Below this many flops a direct GEMM stays on the calling thread. The MLP step's fc2 products (64×256×128, 4.2 MFLOP)
    /// took ~25 µs on the AVX-512 machine of session 6, where splitting them gained nothing (`count gemm-fc2-fwd`, min 27.7
    /// against 28.8 µs; the bound was 8 MFLOP then); on the AVX2 Zen 3 machine they take ~50 µs each (`count gemm-fc2-fwd`,
    /// `-dx`, `-dw`, session 17), three of them per step left serial at two threads, so the bound is just below their size
    /// (docs/performance.md, "two threads, session 17"). Every hand-off is still a chance for the caller to wait on a worker
    /// the operating system has descheduled.
    /// </summary>
    private const double DirectParallelFlops = 4e6;

    /// <summary>
    /// How a direct product of <paramref name="flops"/> over <paramref name="n"/> columns splits over the cores: column ranges
    /// of Chunk columns (a multiple of <paramref name="align"/>, the kernel's strip width, so that each element is the
    /// same chain as in one call), Parts of them; one part (Chunk = n) below <see cref="DirectParallelFlops"/>
    /// or without <paramref name="allowParallel"/>. Shared by <see cref="Direct{T}"/>, <see cref="Transposed{T}"/> and the
    /// dead-units weight gradient (Gemm.DeadUnits.cs).
    /// </summary>
    private static (int Parts, int Chunk) DirectSplit(double flops, int n, int align, bool allowParallel)
    {
        int parts = allowParallel && flops >= DirectParallelFlops ? Parallelism.Parts(flops, DirectFlopsPerPart, partsPerThread: 4) : 1;
        parts = Math.Min(parts, (n + align - 1) / align);
        if (parts <= 1) return (1, n);
        int chunk = RoundUp((n + parts - 1) / parts, align);
        return ((n + chunk - 1) / chunk, chunk);
    }

    /// <summary>The k-block of the broadcast kernel: a strip of B (k × 2 vectors, 128 B per k) stays in the 48 KB L1.</summary>
    private const int DirectKC = 256;

    /// <summary>Rows of the broadcast kernel's tile: 8 with 32 vector registers (AVX-512: 16 accumulators), 6 with 16 (AVX2: 12).</summary>
    private static int DirectMR => Vector512.IsHardwareAccelerated ? 8 : 6;

    private static bool DirectVectors => Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated;

    /// <summary>Whether a product takes the direct path.</summary>
    private static bool UseDirect(bool transA, bool transB, int m, int n, int k)
    {
        if (transA && transB) return m <= SmallM;                  // gathered to x·Wᵀ (small path)
        if (m <= SmallM || (transB && n <= SmallN && k >= 16) || (!transB && k <= SmallK)) return true;
        // A narrow op(A)·B (an LSTM's input gradient 1120×512·512×64, its weight gradients (1120×512)ᵀ·1120×{64, 128}):
        // packing A would copy m·k elements for only n/… multiply-adds each, while the broadcast kernel reads A where it is.
        if (DirectVectors && !transB && n <= DirectNarrowN) return true;
        return DirectVectors && (long)m * n * k <= DirectMaxMacs;
    }

    /// <summary>
    /// The direct path (see the comment above), split over column ranges on the worker pool when the product is large
    /// enough to pay for the second core.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Direct<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        T[] a, int aOff, int lda, T[] b, int bOff, int ldb, T[] c, int cOff, int ldc, bool allowParallel, Epi<T> epi, bool overwrite)
        where T : unmanaged, INumber<T>
    {
        T[]? gathered = null;
        if (transB && transA)
        {
            // Dot products want contiguous rows of op(A): gather the m (≤ SmallM) columns of A.
            gathered = Scratch<T>.Pool.Rent(m * k);
            for (int p = 0; p < k; p++)
            {
                int si = aOff + p * lda;
                for (int i = 0; i < m; i++) gathered[i * k + p] = a[si + i];
            }
            a = gathered;
            aOff = 0;
            lda = k;
            transA = false;
        }
        try
        {
            if (transB && UseTransposedProduct<T>(m, n, k, lda))
            {
                Transposed(m, n, k, alpha, a, aOff, b, bOff, ldb, c, cOff, ldc, allowParallel, epi, overwrite);
                return;
            }
            // Column ranges aligned to the kernels' widths (4 dot products, 2 vectors of axpy).
            int align = transB ? 16 : 2 * Math.Max(Vector512.IsHardwareAccelerated ? Vector512<T>.Count : Vector256<T>.Count, 1);
            var (parts, chunk) = DirectSplit(2.0 * m * n * k, n, align, allowParallel);
            if (parts <= 1)
            {
                DirectRange(transA, transB, m, k, alpha, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, epi, 0, n, overwrite);
                return;
            }
            Parallelism.For(parts, new DirectPart<T>(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, epi, chunk, overwrite));
        }
        finally
        {
            if (gathered is not null) Scratch<T>.Pool.Return(gathered);
        }
    }

    // ---------------- x·Wᵀ with few rows of x: (W·xᵀ)ᵀ through the broadcast kernel ----------------

    /// <summary>
    /// Whether x·Wᵀ (A m×k contiguous, B n×k) runs as Cᵀ = B·Aᵀ on the broadcast kernel instead of as dot products. A
    /// layer's training forward (64×784·(256×784)ᵀ, fc1 of the MLP) ran at ~150 GFLOP/s in <see cref="Dot4x4{T, TRows}"/>
    /// and at ~205 as W·xᵀ in <see cref="AxpyTile{T, TRows}"/> (`count gemm-fc1-fwd` / `gemm-fc1-fwd-t`, one core); the two
    /// transposes it needs (x: m·k elements, the m×n result) are a small fraction of m·n·k when W has many rows. With AVX2
    /// (session 15, Zen 3) the same holds more so (the 4×4 dot kernel spilled there): fc1's forward 465 → 318 µs. Float only
    /// (where it was measured); x with few rows (the transposed copy of x stays in L2 and the broadcast kernel's
    /// strips of it in L1).
    /// </summary>
    private static bool UseTransposedProduct<T>(int m, int n, int k, int lda) where T : unmanaged
        => typeof(T) == typeof(float) && DirectVectors && lda == k
           && m >= TransposedMinM && m <= TransposedMaxM && n >= TransposedMinN && k >= TransposedMinK;

    /// <summary>
    /// Whether the dense y = x·Wᵀ (x [rows×inF], W [outF×inF], float) computes each element as one FMA chain over inF in
    /// order, as a zero-skipping product does: the transposed product on the broadcast kernel, a reduction of one k-block,
    /// and no row of W on <c>SmallAxpy</c> (whose sums round differently): outF a multiple of the tile's rows (the split
    /// over threads cuts at whole tiles), or on AVX2 rows a multiple of two vectors (the last rows then take the tail tile).
    /// </summary>
    internal static bool DenseLinearForwardIsOneChain(int rows, int inF, int outF)
        => PathOf<float>(false, true, rows, outF, inF) == DirectPath && UseTransposedProduct<float>(rows, outF, inF, inF) && inF <= DirectKC
           && NoRowsOnSmallAxpy(outF, rows);

    /// <summary>
    /// Whether the dense C = op(A)·B (B not transposed, float) computes each element as one FMA chain over k in order, as a
    /// zero-skipping product does: the direct path's broadcast kernel, k within one k-block, and no row on <c>SmallAxpy</c>.
    /// </summary>
    internal static bool DenseProductIsOneChain(bool transA, int m, int n, int k)
        => PathOf<float>(transA, false, m, n, k) == DirectPath && k <= DirectKC && NoRowsOnSmallAxpy(m, n);

    /// <summary>
    /// Whether none of the m rows of a direct broadcast product of n columns goes through <c>SmallAxpy</c>: m a multiple of
    /// the tile's rows (the split over threads cuts at whole tiles), or on AVX2 n a multiple of two vectors (the rows after
    /// the last tile then take the tail tile, and there are no edge columns). Since session 24 the tail tile also takes the
    /// tail rows' edge columns, so on AVX2 the second condition is stricter than needed; it is kept, as the zero-skipping
    /// callers were measured with it.
    /// </summary>
    private static bool NoRowsOnSmallAxpy(int m, int n)
        => m % DirectMR == 0 || (!Vector512.IsHardwareAccelerated && n % (2 * Vector256<float>.Count) == 0);

    /// <summary>The fewest rows of x for <see cref="UseTransposedProduct{T}"/> (one 32-column strip of xᵀ).</summary>
    private const int TransposedMinM = 32;

    /// <summary>The most rows of x for <see cref="UseTransposedProduct{T}"/> (xᵀ of 256×1024 floats is 1 MB, the L2).</summary>
    private const int TransposedMaxM = 256;

    /// <summary>The fewest rows of W for <see cref="UseTransposedProduct{T}"/> (eight 8-row tiles of the broadcast kernel).</summary>
    private const int TransposedMinN = 64;

    /// <summary>
    /// The shortest k for <see cref="UseTransposedProduct{T}"/>: fc1's k = 784 gains (min 156 → 124 µs), and so does fc2's
    /// 64×256·(128×256)ᵀ (min 28.5 → 21.8 µs, `count gemm-fc2-fwd 20000`, s13-steps). Session 10 measured fc2 slower this
    /// way (27.2 → 30.4 µs) in `count` runs of ~30 ms, in which the transpose still ran as tier-0 code (it is
    /// AggressiveOptimization since); the dot kernel's four horizontal sums per 4×4 block are a fifth of its work at k = 256.
    /// </summary>
    private const int TransposedMinK = 256;

    /// <summary>
    /// C (=|+=) alpha·A·Bᵀ computed as T = alpha·B·Aᵀ (n×m, the broadcast kernel over B's rows, Aᵀ's rows streamed), then
    /// C[i, j] (=|+=) T[j, i] and the epilogue. Split over the cores by owner ranges of B's rows (C's columns,
    /// <see cref="OwnerRow"/>), one per thread: each thread reads the same rows of W at every call (they stay in its L2
    /// between training steps, as the rows the dead-units weight gradient and the SGD update of the same layer give it), and
    /// transposes its own copy of A when A is large; each part transposes its own block of T into C.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transposed<T>(int m, int n, int k, T alpha, T[] a, int aOff, T[] b, int bOff, int ldb,
        T[] c, int cOff, int ldc, bool allowParallel, Epi<T> epi, bool overwrite) where T : unmanaged, INumber<T>
    {
        var (parts, _) = DirectSplit(2.0 * m * n * k, n, DirectMR, allowParallel);
        if (parts > 1) parts = OwnerParts(n);
        // Aᵀ once on the calling thread, or, when A is large, by each part for itself (the MLP step's x, 64×784: transposed
        // by two halves on the pool before session 25, each part then read the other's half of Aᵀ from the other core,
        // ~300 ns a line when the two vCPUs sit on different L3s)
        bool ownAt = parts > 1 && (long)m * k >= TransposeSplitMinElements;
        int atStride = RoundUp(k * m, 16), backStride = RoundUp(m * n, 16);
        // every buffer taken here, in this order, so that each part gets the same ones at every call (the pool hands them
        // out last in, first out) and the lines it writes stay in its core's caches
        var at = Scratch<T>.Pool.Rent(ownAt ? parts * atStride : k * m);
        var t = Scratch<T>.Pool.Rent(n * m);
        var back = Scratch<T>.Pool.Rent(m * n + 16 * parts);
        // which thread transposed each part's copy of A (0: none yet), so that a thread running a second part (the worker
        // late) reads the copy it made instead of transposing A again
        var doneBy = Scratch<int>.Pool.Rent(parts);
        try
        {
            doneBy.AsSpan(0, parts).Clear();
            if (!ownAt) RecurrentKernel.Transpose(a, aOff, m, k, at);
            if (parts <= 1)
            {
                TransposedRange(m, k, alpha, at, 0, b, bOff, ldb, t, c, cOff, ldc, epi, 0, n, overwrite, back, 0);
                return;
            }
            Parallelism.For(parts, new TransposedPart<T>(m, n, k, alpha, a, aOff, at, ownAt ? atStride : 0, b, bOff, ldb, t, c, cOff, ldc, epi, parts, overwrite, back, doneBy));
        }
        finally
        {
            Scratch<int>.Pool.Return(doneBy);
            Scratch<T>.Pool.Return(back);
            Scratch<T>.Pool.Return(t);
            Scratch<T>.Pool.Return(at);
        }
    }

    /// <summary>
    /// The fewest elements of A (m·k) for which each part of a split <see cref="Transposed{T}"/> transposes its own copy of A:
    /// the MLP step's x (64×784 = 50 K); fc2's h1 (64×256 = 16 K) is transposed once on the calling thread.
    /// </summary>
    private const long TransposeSplitMinElements = 32768;

    /// <summary>
    /// How many owner ranges a product split over the cores by units (<see cref="OwnerRow"/>) has: one per thread, at most one
    /// per tile of <paramref name="n"/> rows.
    /// </summary>
    internal static int OwnerParts(int n) => Math.Max(1, Math.Min(Parallelism.MaxThreads, n / DirectMR));

    /// <summary>
    /// Where owner range <paramref name="part"/> of <paramref name="parts"/> over <paramref name="n"/> units (a Linear's output
    /// units: rows of its weight, of the weight's gradient and momentum) starts: n·part/parts rounded to whole tiles of the
    /// direct kernels (<see cref="DirectMR"/> rows), n for part = parts. Item i of a loop of one item per thread runs on the
    /// same thread at every call (item 0 on the caller; with two threads item 1 on the worker unless it is late), so the
    /// products and the optimizer's update that split a layer's units by these ranges keep each row with one core.
    /// </summary>
    internal static int OwnerRow(int n, int part, int parts)
    {
        if (part <= 0) return 0;
        if (part >= parts) return n;
        long mr = DirectMR;
        return (int)Math.Min(n, ((long)n * part + parts * mr / 2) / (parts * mr) * mr);
    }

    /// <summary>
    /// One owner range of B's rows of <see cref="Transposed{T}"/>, as an item of <see cref="Parallelism.For{TBody}(int, TBody)"/>:
    /// its own Aᵀ first when <paramref name="atStride"/> &gt; 0 (at its slot of <paramref name="at"/>), else the shared one.
    /// </summary>
    private readonly struct TransposedPart<T>(int m, int n, int k, T alpha, T[] a, int aOff, T[] at, int atStride, T[] b, int bOff, int ldb, T[] t,
        T[] c, int cOff, int ldc, Epi<T> epi, int parts, bool overwrite, T[] back, int[] doneBy) : IParallelBody
        where T : unmanaged, INumber<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int index)
        {
            int j0 = OwnerRow(n, index, parts), j1 = OwnerRow(n, index + 1, parts);
            if (j1 <= j0) return;
            int atOff = index * atStride;
            if (atStride > 0)
            {
                // a copy this thread made for another part of this call (each thread reads only the entries it wrote)
                int me = Environment.CurrentManagedThreadId, mine = -1;
                for (int s = 0; s < parts && mine < 0; s++)
                {
                    if (doneBy[s] == me) mine = s;
                }
                if (mine >= 0) atOff = mine * atStride;
                else
                {
                    TransposeInto(a, aOff, m, k, at, atOff);
                    doneBy[index] = me;
                }
            }
            // the part's block of the back-transposed buffer: m × (j1 − j0) from m·j0 (+ 16 per part: no line shared)
            TransposedRange(m, k, alpha, at, atOff, b, bOff, ldb, t, c, cOff, ldc, epi, j0, j1, overwrite, back, m * j0 + 16 * index);
        }
    }

    /// <summary>
    /// Rows [j0, j1) of T = alpha·B·Aᵀ (<paramref name="at"/> = Aᵀ, k×m), then columns [j0, j1) of C from them and the
    /// epilogue on those columns.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransposedRange<T>(int m, int k, T alpha, T[] at, int atOff, T[] b, int bOff, int ldb, T[] t,
        T[] c, int cOff, int ldc, Epi<T> epi, int j0, int j1, bool overwrite, T[] back, int backOff) where T : unmanaged, INumber<T>
    {
        int rows = j1 - j0;
        // T's rows [j0, j1) = alpha·W[j0..j1)·Aᵀ: 8-row tiles of W, each against every 2-vector strip of Aᵀ before the next
        // tile (the tile's k-block, 8 KB, stays in L1 and W is read once; DirectAxpy's order, strips outside, would read W
        // once per strip, from L3 in a training step where the optimizer's pass has pushed it out of L2).
        int mr = DirectMR, w2 = 2 * (Vector512.IsHardwareAccelerated ? Vector512<T>.Count : Vector256<T>.Count);
        int rowsFull = rows / mr * mr, colsFull = m / w2 * w2;
        ref T b0 = ref MemoryMarshal.GetArrayDataReference(b);
        ref T at0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(at), atOff);
        ref T t0 = ref MemoryMarshal.GetArrayDataReference(t);
        // AVX2: the rows of W after the last full tile as one more tile over the last 6 rows, into a buffer of which only
        // those rows are kept (as in DirectAxpy: SmallAxpy's one-row kernel runs at a quarter of the rate on 256-bit vectors).
        // AVX-512 too when k > DirectKC (session 24): the rows after the last tile would otherwise take SmallAxpy, one chain
        // over all of k, not the tiles' sums per k-block (a row's bits would depend on where it sits; DirectTailRowsTests).
        bool tailTile = rowsFull < rows && rows >= mr && (!Vector512.IsHardwareAccelerated || k > DirectKC);
        Span<T> tile = tailTile ? stackalloc T[8 * 32] : default;
        if (tailTile) tile = tile[..(mr * w2)];
        for (int pc = 0; pc < k; pc += DirectKC)
        {
            int kc = Math.Min(DirectKC, k - pc);
            for (int i = 0; i < rowsFull; i += mr)
            {
                ref T wTile = ref Unsafe.Add(ref b0, bOff + (j0 + i) * ldb + pc);
                for (int q = 0; q < colsFull; q += w2)
                {
                    AxpyTile(ref wTile, ldb, 1, ref Unsafe.Add(ref at0, pc * m + q), new StridedRows(m), 0, kc, alpha,
                        ref Unsafe.Add(ref t0, (j0 + i) * m + q), m, accumulate: pc > 0);
                }
            }
            if (tailTile)
            {
                ref T wTail = ref Unsafe.Add(ref b0, bOff + (j0 + rows - mr) * ldb + pc);
                for (int q = 0; q < colsFull; q += w2)
                {
                    AxpyTile(ref wTail, ldb, 1, ref Unsafe.Add(ref at0, pc * m + q), new StridedRows(m), 0, kc, alpha,
                        ref MemoryMarshal.GetReference(tile), w2, accumulate: false);
                    for (int r = rowsFull; r < rows; r++)
                    {
                        var src = tile.Slice((r - (rows - mr)) * w2, w2);
                        var dst = t.AsSpan((j0 + r) * m + q, w2);
                        if (pc == 0) src.CopyTo(dst);
                        else AddRow<T>(src, dst);
                    }
                }
            }
        }
        // The columns of T after the last full strip (rows of W in full tiles, or all rows after the tail tiles), then
        // the rows of W after the last tile.
        int edgeRows = tailTile ? rows : rowsFull;
        if (colsFull < m && edgeRows > 0) DirectAxpy(false, edgeRows, k, alpha, b, bOff + j0 * ldb, ldb, at, atOff, m, t, j0 * m, m, colsFull, m, overwrite: true);
        if (rowsFull < rows && !tailTile) DirectAxpy(false, rows - rowsFull, k, alpha, b, bOff + (j0 + rowsFull) * ldb, ldb, at, atOff, m, t, (j0 + rowsFull) * m, m, 0, m, overwrite: true);
        // The block back into C through a transposed copy (m×rows, at backOff of the caller's buffer), row by row (C's rows are ldc apart).
        TransposeInto(t, j0 * m, rows, m, back, backOff);
        for (int i = 0; i < m; i++)
        {
            var src = back.AsSpan(backOff + i * rows, rows);
            var dst = c.AsSpan(cOff + i * ldc + j0, rows);
            if (overwrite) src.CopyTo(dst);
            else AddRow<T>(src, dst);
        }
        if (!epi.IsNone) epi.ApplyRows(c, cOff, ldc, 0, m, j0, j1);
    }

    /// <summary>
    /// <paramref name="dst"/>[dstOff + p·rows + q] = <paramref name="src"/>[offset + q·cols + p] ([rows, cols] → [cols, rows]
    /// at an offset; <see cref="RecurrentKernel.Transpose{T}"/> writes from index 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransposeInto<T>(T[] src, int offset, int rows, int cols, T[] dst, int dstOff) where T : unmanaged
    {
        if (offset < 0 || dstOff < 0 || (long)offset + (long)rows * cols > src.Length || (long)dstOff + (long)rows * cols > dst.Length)
            throw new ArgumentException($"Transpose of [{rows}, {cols}] at {offset} into {dstOff}: the arrays hold {src.Length} and {dst.Length} elements.");
        if (typeof(T) == typeof(float) && Avx.IsSupported && rows >= 8 && cols >= 8)
        {
            RecurrentKernel.TransposeAvx(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Unsafe.As<float[]>(src)), offset), cols, rows, cols,
                ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Unsafe.As<float[]>(dst)), dstOff));
            return;
        }
        for (int q = 0; q < rows; q++)
            for (int p = 0; p < cols; p++) dst[dstOff + p * rows + q] = src[offset + q * cols + p];
    }

    /// <summary>One column range of a direct GEMM, as an item of <see cref="Parallelism.For{TBody}(int, TBody)"/>.</summary>
    private readonly struct DirectPart<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        T[] a, int aOff, int lda, T[] b, int bOff, int ldb, T[] c, int cOff, int ldc, Epi<T> epi, int chunk, bool overwrite) : IParallelBody
        where T : unmanaged, INumber<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int index)
        {
            int j0 = index * chunk, j1 = Math.Min(n, j0 + chunk);
            DirectRange(transA, transB, m, k, alpha, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, epi, j0, j1, overwrite);
        }
    }

    /// <summary>
    /// Columns [j0, j1) of C (all m rows), then the epilogue on them. <paramref name="overwrite"/> (β = 0, C not cleared by
    /// the caller): the broadcast kernel stores its full tiles instead of adding them, and only what the other kernels add
    /// to is cleared first (a weight gradient gᵀ·x of 800 KB is written once instead of cleared, read and written).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DirectRange<T>(bool transA, bool transB, int m, int k, T alpha,
        T[] a, int aOff, int lda, T[] b, int bOff, int ldb, T[] c, int cOff, int ldc, Epi<T> epi, int j0, int j1, bool overwrite)
        where T : unmanaged, INumber<T>
    {
        if (transB)
        {
            if (overwrite) ClearColumns(c, cOff, ldc, 0, m, j0, j1);
            DirectDot(m, k, alpha, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, j0, j1);
        }
        else
        {
            // the epilogue on each full tile while it is in L1 (DirectAxpy), the rest after
            DirectAxpy(transA, m, k, alpha, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, j0, j1, overwrite, epi);
            return;
        }
        if (!epi.IsNone) epi.ApplyRows(c, cOff, ldc, 0, m, j0, j1);
    }

    /// <summary>C[i, j] = 0 for rows [i0, i1) and columns [j0, j1).</summary>
    private static void ClearColumns<T>(T[] c, int cOff, int ldc, int i0, int i1, int j0, int j1) where T : unmanaged
    {
        for (int i = i0; i < i1; i++) c.AsSpan(cOff + i * ldc + j0, j1 - j0).Clear();
    }

    // ---------------- x·Wᵀ: dot products ----------------

    /// <summary>C[i, j] += alpha · A[i, :]·B[j, :] for i in [0, m), j in [j0, j1): 4×4 blocks, then the edges.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DirectDot<T>(int m, int k, T alpha, T[] a, int aOff, int lda, T[] b, int bOff, int ldb,
        T[] c, int cOff, int ldc, int j0, int j1) where T : unmanaged, INumber<T>
    {
        bool wide = Vector512.IsHardwareAccelerated ? k >= Vector512<T>.Count : Vector256.IsHardwareAccelerated && k >= Vector256<T>.Count;
        if (m < 4 || !wide)
        {
            SmallDot(m, k, alpha, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, j0, j1);
            return;
        }
        ref T a0 = ref MemoryMarshal.GetArrayDataReference(a);
        ref T b0 = ref MemoryMarshal.GetArrayDataReference(b);
        int m4 = m & ~3;
        int j = j0;
        for (; j + 4 <= j1; j += 4)
        {
            ref T bj = ref Unsafe.Add(ref b0, bOff + j * ldb);
            for (int i = 0; i < m4; i += 4)
            {
                ref T ai = ref Unsafe.Add(ref a0, aOff + i * lda);
                ref T ci = ref MemoryMarshal.GetArrayDataReference(c);
                ci = ref Unsafe.Add(ref ci, cOff + i * ldc + j);
                Dot4x4(ref ai, lda, ref bj, new StridedRows(ldb), 0, k, alpha, ref ci, ldc);
            }
        }
        // The rows below the last block of 4 (all columns), and the columns after the last block of 4 (the 4-row blocks).
        if (m4 < m) SmallDot(m - m4, k, alpha, a, aOff + m4 * lda, lda, b, bOff, ldb, c, cOff + m4 * ldc, ldc, j0, j1);
        if (j < j1) SmallDot(m4, k, alpha, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, j, j1);
    }

    /// <summary>
    /// C[r, q] += alpha · Σ_p x_r[p]·y_q[p] for rows x_0..3 (<paramref name="ldx"/> apart) and y_q at
    /// <paramref name="y"/> + rows.Offset(q0 + q), r, q &lt; 4, C's rows <paramref name="ldc"/> apart; k ≥ one vector of
    /// <typeparamref name="V"/> (<see cref="Simd512{T}"/> or <see cref="Simd256{T}"/>: 16 accumulators either way).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Dot4x4<T, TRows, V, TV>(ref T x, int ldx, ref T y, TRows rows, int q0, int k, T alpha, ref T c, int ldc)
        where T : unmanaged, INumber<T> where TRows : struct, IRowOffsets where V : struct, ISimd<TV, T> where TV : struct
    {
        int w = V.Count;
        ref T x1 = ref Unsafe.Add(ref x, ldx); ref T x2 = ref Unsafe.Add(ref x, 2 * ldx); ref T x3 = ref Unsafe.Add(ref x, 3 * ldx);
        ref T y0 = ref Unsafe.Add(ref y, rows.Offset(q0));
        ref T y1 = ref Unsafe.Add(ref y, rows.Offset(q0 + 1)); ref T y2 = ref Unsafe.Add(ref y, rows.Offset(q0 + 2)); ref T y3 = ref Unsafe.Add(ref y, rows.Offset(q0 + 3));
        if (V.AxpyRows != 8)
        {
            // 16 vector registers (AVX2): 16 accumulators + 4 rows of y + 1 of x do not fit, and the JIT spilled six
            // accumulators (12 stack loads and stores per 16 FMAs). Two passes of 2 rows × 4 instead (13 registers); the
            // 4 rows of y are read twice, from L1.
            Dot2x4<T, V, TV>(ref x, ref x1, ref y0, ref y1, ref y2, ref y3, k, alpha, ref c, ldc);
            Dot2x4<T, V, TV>(ref x2, ref x3, ref y0, ref y1, ref y2, ref y3, k, alpha, ref Unsafe.Add(ref c, 2 * ldc), ldc);
            return;
        }
        TV c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        TV c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
        int p = 0;
        for (; p <= k - w; p += w)
        {
            var u0 = V.Load(ref y0, (nuint)p); var u1 = V.Load(ref y1, (nuint)p);
            var u2 = V.Load(ref y2, (nuint)p); var u3 = V.Load(ref y3, (nuint)p);
            var v = V.Load(ref x, (nuint)p);
            c00 = V.MultiplyAdd(v, u0, c00); c01 = V.MultiplyAdd(v, u1, c01); c02 = V.MultiplyAdd(v, u2, c02); c03 = V.MultiplyAdd(v, u3, c03);
            v = V.Load(ref x1, (nuint)p);
            c10 = V.MultiplyAdd(v, u0, c10); c11 = V.MultiplyAdd(v, u1, c11); c12 = V.MultiplyAdd(v, u2, c12); c13 = V.MultiplyAdd(v, u3, c13);
            v = V.Load(ref x2, (nuint)p);
            c20 = V.MultiplyAdd(v, u0, c20); c21 = V.MultiplyAdd(v, u1, c21); c22 = V.MultiplyAdd(v, u2, c22); c23 = V.MultiplyAdd(v, u3, c23);
            v = V.Load(ref x3, (nuint)p);
            c30 = V.MultiplyAdd(v, u0, c30); c31 = V.MultiplyAdd(v, u1, c31); c32 = V.MultiplyAdd(v, u2, c32); c33 = V.MultiplyAdd(v, u3, c33);
        }
        if (p < k)
        {
            // The last k mod w elements: one more vector ending at k, its lanes before p (already counted) masked off in both
            // operands (0·0, so that an infinity there cannot turn into NaN).
            nuint q = (nuint)(k - w);
            var mask = V.LanesFrom(p - (k - w));
            var u0 = V.And(V.Load(ref y0, q), mask); var u1 = V.And(V.Load(ref y1, q), mask);
            var u2 = V.And(V.Load(ref y2, q), mask); var u3 = V.And(V.Load(ref y3, q), mask);
            var v = V.And(V.Load(ref x, q), mask);
            c00 = V.MultiplyAdd(v, u0, c00); c01 = V.MultiplyAdd(v, u1, c01); c02 = V.MultiplyAdd(v, u2, c02); c03 = V.MultiplyAdd(v, u3, c03);
            v = V.And(V.Load(ref x1, q), mask);
            c10 = V.MultiplyAdd(v, u0, c10); c11 = V.MultiplyAdd(v, u1, c11); c12 = V.MultiplyAdd(v, u2, c12); c13 = V.MultiplyAdd(v, u3, c13);
            v = V.And(V.Load(ref x2, q), mask);
            c20 = V.MultiplyAdd(v, u0, c20); c21 = V.MultiplyAdd(v, u1, c21); c22 = V.MultiplyAdd(v, u2, c22); c23 = V.MultiplyAdd(v, u3, c23);
            v = V.And(V.Load(ref x3, q), mask);
            c30 = V.MultiplyAdd(v, u0, c30); c31 = V.MultiplyAdd(v, u1, c31); c32 = V.MultiplyAdd(v, u2, c32); c33 = V.MultiplyAdd(v, u3, c33);
        }
        V.AddSums(ref c, alpha, c00, c01, c02, c03);
        V.AddSums(ref Unsafe.Add(ref c, ldc), alpha, c10, c11, c12, c13);
        V.AddSums(ref Unsafe.Add(ref c, 2 * ldc), alpha, c20, c21, c22, c23);
        V.AddSums(ref Unsafe.Add(ref c, 3 * ldc), alpha, c30, c31, c32, c33);
    }

    /// <summary>
    /// C[r, q] += alpha · Σ_p x_r[p]·y_q[p] for r &lt; 2 and q &lt; 4 (8 accumulators): <see cref="Dot4x4{T, TRows, V, TV}"/>'s
    /// halves on 16 vector registers, in the same order of summation.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot2x4<T, V, TV>(ref T x0, ref T x1, ref T y0, ref T y1, ref T y2, ref T y3, int k, T alpha, ref T c, int ldc)
        where T : unmanaged, INumber<T> where V : struct, ISimd<TV, T> where TV : struct
    {
        int w = V.Count;
        TV c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        int p = 0;
        for (; p <= k - w; p += w)
        {
            var u0 = V.Load(ref y0, (nuint)p); var u1 = V.Load(ref y1, (nuint)p);
            var u2 = V.Load(ref y2, (nuint)p); var u3 = V.Load(ref y3, (nuint)p);
            var v = V.Load(ref x0, (nuint)p);
            c00 = V.MultiplyAdd(v, u0, c00); c01 = V.MultiplyAdd(v, u1, c01); c02 = V.MultiplyAdd(v, u2, c02); c03 = V.MultiplyAdd(v, u3, c03);
            v = V.Load(ref x1, (nuint)p);
            c10 = V.MultiplyAdd(v, u0, c10); c11 = V.MultiplyAdd(v, u1, c11); c12 = V.MultiplyAdd(v, u2, c12); c13 = V.MultiplyAdd(v, u3, c13);
        }
        if (p < k)
        {
            // The last k mod w elements, masked as in Dot4x4.
            nuint q = (nuint)(k - w);
            var mask = V.LanesFrom(p - (k - w));
            var u0 = V.And(V.Load(ref y0, q), mask); var u1 = V.And(V.Load(ref y1, q), mask);
            var u2 = V.And(V.Load(ref y2, q), mask); var u3 = V.And(V.Load(ref y3, q), mask);
            var v = V.And(V.Load(ref x0, q), mask);
            c00 = V.MultiplyAdd(v, u0, c00); c01 = V.MultiplyAdd(v, u1, c01); c02 = V.MultiplyAdd(v, u2, c02); c03 = V.MultiplyAdd(v, u3, c03);
            v = V.And(V.Load(ref x1, q), mask);
            c10 = V.MultiplyAdd(v, u0, c10); c11 = V.MultiplyAdd(v, u1, c11); c12 = V.MultiplyAdd(v, u2, c12); c13 = V.MultiplyAdd(v, u3, c13);
        }
        V.AddSums(ref c, alpha, c00, c01, c02, c03);
        V.AddSums(ref Unsafe.Add(ref c, ldc), alpha, c10, c11, c12, c13);
    }

    /// <summary><see cref="Dot4x4{T, TRows, V, TV}"/> at the widest vectors the machine has (AVX-512, else AVX2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Dot4x4<T, TRows>(ref T x, int ldx, ref T y, TRows rows, int q0, int k, T alpha, ref T c, int ldc)
        where T : unmanaged, INumber<T> where TRows : struct, IRowOffsets
    {
        if (Vector512.IsHardwareAccelerated) Dot4x4<T, TRows, Simd512<T>, Vector512<T>>(ref x, ldx, ref y, rows, q0, k, alpha, ref c, ldc);
        else Dot4x4<T, TRows, Simd256<T>, Vector256<T>>(ref x, ldx, ref y, rows, q0, k, alpha, ref c, ldc);
    }

    // ---------------- op(A)·B: broadcast op(A), stream the rows of B ----------------

    /// <summary>
    /// C[i, j0..j1) += alpha · Σ_p op(A)[i, p] · B[p, j0..j1): 8-row (6 with AVX2) × 2-vector tiles over k-blocks of <see cref="DirectKC"/>,
    /// the strip of B outside the row loop (it stays in L1); the last rows and columns through <see cref="SmallAxpy{T}"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DirectAxpy<T>(bool transA, int m, int k, T alpha, T[] a, int aOff, int lda, T[] b, int bOff, int ldb,
        T[] c, int cOff, int ldc, int j0, int j1, bool overwrite, Epi<T> epi = default) where T : unmanaged, INumber<T>
    {
        int w2 = 2 * (Vector512.IsHardwareAccelerated ? Vector512<T>.Count : Vector256<T>.Count);
        int mr = DirectMR;
        int m6 = m / mr * mr;
        int jEnd = j0 + (j1 - j0) / w2 * w2;
        if (m6 == 0 || !DirectVectors)
        {
            if (overwrite) ClearColumns(c, cOff, ldc, 0, m, j0, j1);
            SmallAxpy(transA, m, k, alpha, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, j0, j1);
            if (!epi.IsNone) epi.ApplyRows(c, cOff, ldc, 0, m, j0, j1);
            return;
        }
        // op(A)[i, p] is at aOff + i·ai + p·ap.
        int ai = transA ? 1 : lda;
        int ap = transA ? lda : 1;
        ref T a0 = ref MemoryMarshal.GetArrayDataReference(a);
        ref T b0 = ref MemoryMarshal.GetArrayDataReference(b);
        ref T c0 = ref MemoryMarshal.GetArrayDataReference(c);
        // The columns after the last full strip (fewer than two vectors) go through the same kernel on a zero-padded copy
        // of that strip of B, into a tile whose valid columns are then added to C: vector speed for an edge that is an
        // eighth of the work when n = 196 (a 14×14 convolution's output).
        int rem = j1 - jEnd;
        if (overwrite)
        {
            // The full tiles of the first k-block store; the edge columns and the rows after the last block are added to.
            if (rem > 0) ClearColumns(c, cOff, ldc, 0, m6, jEnd, j1);
            if (m6 < m) ClearColumns(c, cOff, ldc, m6, m, j0, j1);
        }
        T[]? edge = rem > 0 ? Scratch<T>.Pool.Rent(Math.Min(DirectKC, k) * w2) : null;
        // The full strips of B (kc rows × 2 vectors each) packed contiguous per k-block (PackB: B's rows read whole, in
        // order) before the row tiles pass over them, when enough tiles pass (DirectStripMinTiles): a strip's rows ldb
        // apart fall into few of L1's sets when ldb is a multiple of a few lines (a 1024-token layer's Wᵀ [128, 512]: 2 KB
        // apart, 2 of L1's 64 sets, 16 lines for the strip's 128), so the strip did not stay in L1 and every tile read it
        // from L2 (docs/performance.md, "Dense GEMMs of the transformer step, session 21").
        bool packStrips = m6 / mr >= DirectStripMinTiles && jEnd > j0;
        T[]? strips = packStrips ? Scratch<T>.Pool.Rent(Math.Min(DirectKC, k) * (jEnd - j0) + Pad<T>()) : null;
        int stripsBase = strips is null ? 0 : Align64(strips);
        Span<T> tile = stackalloc T[8 * 32];
        tile = tile[..(mr * w2)];
        ref T t0 = ref MemoryMarshal.GetReference(tile);
        // AVX2: the rows after the last block (m mod 6) of the full strips as one more tile over the last 6 rows, into the
        // buffer, of which only those rows are added to C. SmallAxpy's one-row kernel has only two accumulators per row on
        // 256-bit vectors (bound by the FMA latency, a quarter of the kernel's rate), and its rows were up to 6 % of a
        // training product's (fc2's input gradient: 4 of 64 rows). AVX-512 keeps SmallAxpy (four accumulators per row) up
        // to one k-block: SmallAxpy chains over all of k, so past DirectKC its rows would not be the tiles' k-blocks of 256,
        // each added to C (nor the zero-skipping kernel's, which restarts as the tiles do: TransformerFeedForwardSkipTests
        // at 100 rows failed on AVX-512 by a few ulp in rows 96–99 of linear2's k = 512 forward).
        bool tailTile = m6 < m && (!Vector512.IsHardwareAccelerated || k > DirectKC);
        int iTail = m - mr;
        // AVX-512 floats with a column epilogue: applied to the full tiles' accumulators of the last k-block before their one store
        bool fusedEpi = typeof(T) == typeof(float) && Vector512.IsHardwareAccelerated && mr == 8 && !epi.IsNone && !epi.RowBias && !t_epilogueAfterTile;
        if (fusedEpi) epi.Check(m, j1);
        for (int pc = 0; pc < k; pc += DirectKC)
        {
            int kc = Math.Min(DirectKC, k - pc);
            bool lastBlock = pc + kc >= k && !epi.IsNone;
            if (strips is not null) PackB(false, b, bOff, ldb, pc, kc, j0, jEnd - j0, w2, strips, stripsBase);
            int ldStrip = strips is null ? ldb : w2;
            for (int j = j0; j < jEnd; j += w2)
            {
                ref T bp = ref strips is null ? ref Unsafe.Add(ref b0, bOff + pc * ldb + j)
                    : ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(strips), stripsBase + (j - j0) * kc);
                for (int i = 0; i < m6; i += mr)
                {
                    ref T ap0 = ref Unsafe.Add(ref a0, aOff + i * ai + pc * ap);
                    ref T cp = ref Unsafe.Add(ref c0, cOff + i * ldc + j);
                    // C's tile requested now (its rows far apart, out of the hardware prefetcher's reach), as the packed kernel does:
                    // its lines arrive while the k loop runs instead of stalling the stores and the epilogue after it
                    if (strips is not null) PrefetchTile(ref cp, ldc, mr, w2);
                    if (lastBlock && fusedEpi)
                    {
                        // the epilogue on the accumulators, stored once (AVX-512 floats)
                        AxpyTileEpi512(ref Unsafe.As<T, float>(ref ap0), ai, ap, ref Unsafe.As<T, float>(ref bp), ldStrip, kc, float.CreateTruncating(alpha),
                            ref Unsafe.As<T, float>(ref cp), ldc, accumulate: !overwrite || pc > 0, Unsafe.As<Epi<T>, Epi<float>>(ref epi), i, j);
                        continue;
                    }
                    AxpyTile(ref ap0, ai, ap, ref bp, new StridedRows(ldStrip), 0, kc, alpha, ref cp, ldc, accumulate: !overwrite || pc > 0);
                    // the tile's rows are in L1: bias, residual and activation now (not in a pass over C after the product)
                    if (lastBlock) epi.ApplyTile(ref cp, ldc, mr, i, j, w2);
                }
                if (tailTile)
                {
                    AxpyTile(ref Unsafe.Add(ref a0, aOff + iTail * ai + pc * ap), ai, ap, ref bp, new StridedRows(ldStrip), 0, kc, alpha, ref t0, w2, false);
                    for (int i = m6; i < m; i++) AddRow<T>(tile.Slice((i - iTail) * w2, w2), c.AsSpan(cOff + i * ldc + j, w2));
                }
            }
            if (edge is not null)
            {
                for (int p = 0; p < kc; p++)
                {
                    b.AsSpan(bOff + (pc + p) * ldb + jEnd, rem).CopyTo(edge.AsSpan(p * w2, rem));
                    edge.AsSpan(p * w2 + rem, w2 - rem).Clear();
                }
                ref T e0 = ref MemoryMarshal.GetArrayDataReference(edge);
                for (int i = 0; i < m6; i += mr)
                {
                    ref T ap0 = ref Unsafe.Add(ref a0, aOff + i * ai + pc * ap);
                    AxpyTile(ref ap0, ai, ap, ref e0, new StridedRows(w2), 0, kc, alpha, ref t0, w2, false);
                    for (int r = 0; r < mr; r++) AddRow<T>(tile.Slice(r * w2, rem), c.AsSpan(cOff + (i + r) * ldc + jEnd, rem));
                }
                // the tail rows' edge columns as the tail tile over the last mr rows, summed per k-block as every other
                // element (before session 24 they went through SmallAxpy, one chain over all of k)
                if (tailTile)
                {
                    AxpyTile(ref Unsafe.Add(ref a0, aOff + iTail * ai + pc * ap), ai, ap, ref e0, new StridedRows(w2), 0, kc, alpha, ref t0, w2, false);
                    for (int i = m6; i < m; i++) AddRow<T>(tile.Slice((i - iTail) * w2, rem), c.AsSpan(cOff + i * ldc + jEnd, rem));
                }
            }
        }
        if (edge is not null) Scratch<T>.Pool.Return(edge);
        if (strips is not null) Scratch<T>.Pool.Return(strips);
        // The rows after the last block, when the tail tile did not take them.
        if (m6 < m && !tailTile) SmallAxpy(transA, m - m6, k, alpha, a, aOff + m6 * ai, lda, b, bOff, ldb, c, cOff + m6 * ldc, ldc, j0, j1);
        if (!epi.IsNone)
        {
            // the full tiles had theirs: the edge columns of their rows, then the rows after the last tile
            if (jEnd < j1) epi.ApplyRows(c, cOff, ldc, 0, m6, jEnd, j1);
            if (m6 < m) epi.ApplyRows(c, cOff, ldc, m6, m, j0, j1);
        }
    }

    /// <summary>
    /// Fewest full row tiles of a strip for which <see cref="DirectAxpy{T}"/> packs the strips of B contiguous first (and
    /// prefetches C's tiles): 96 rows on AVX2, 128 on AVX-512. With 4 (session 21, 1 thread, `count`, min, load ~20) the
    /// attention's 64-row head products were ~5 % slower (`gemm-xfmr-attn-fwd` 440, 462 → 468, 499 µs; `-bwd` 894, 887 →
    /// 922, 922) and the MLP's fc2 input gradient 64×128·128×256 no faster (49 → 51–64 µs): a strip read by 10 tiles does
    /// not pay for its copy, while the transformer layer's 128…1024-row products gained 10–25 %.
    /// </summary>
    private const int DirectStripMinTiles = 16;

    /// <summary>
    /// C[0..R, 0..2w) += alpha · Σ_{p &lt; k} A(r, p) · B(p)[0..2w) (= instead of += when not <paramref name="accumulate"/>), A(r, p) at
    /// a + r·ai + p·ap, row p of B at b + rows.Offset(p0 + p) (a strided matrix, or an implicit im2col: Conv.cs); w and
    /// R = <c>V.AxpyRows</c> from <typeparamref name="V"/> (8 rows of 512-bit vectors, 6 of 256-bit: the accumulators
    /// fill the registers; rows 6 and 7 compile away in the 6-row instantiation).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void AxpyTile<T, TRows, V, TV>(ref T a, int ai, int ap, ref T b, TRows rows, int p0, int k, T alpha, ref T c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T> where TRows : struct, IRowOffsets where V : struct, ISimd<TV, T> where TV : struct
    {
        int w = V.Count;
        bool eight = V.AxpyRows == 8;
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        TV c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        // A's 8 rows addressed from two moving pointers and three index registers (row r at ar + r·ai, row 4 + r at
        // ar4 + r·ai), and a strided B's row by a moving pointer (the implicit im2col's rows come from its table). The
        // loop this replaced kept eight row pointers and recomputed B's row offset; the JIT spilled four of its registers
        // to the stack and reloaded them every iteration (5 loads and 2 stores per 16 FMAs on top of the 10 operand loads:
        // docs/performance.md, s13-steps).
        bool strided = typeof(TRows) == typeof(StridedRows);
        nint ldb = strided ? Unsafe.As<TRows, StridedRows>(ref rows).Ld : 0;
        nint ai1 = ai, ai2 = 2 * (nint)ai, ai3 = 3 * (nint)ai, aStep = ap;
        ref T ar = ref a;
        ref T ar4 = ref Unsafe.Add(ref a, 4 * (nint)ai);
        ref T bRow = ref Unsafe.Add(ref b, (nint)p0 * ldb);
        for (int p = 0; p < k; p++)
        {
            ref T bp = ref strided ? ref bRow : ref Unsafe.Add(ref b, rows.Offset(p0 + p));
            var b0 = V.Load(ref bp, 0);
            var b1 = V.Load(ref bp, (nuint)w);
            var v = V.Broadcast(ar);
            c00 = V.MultiplyAdd(v, b0, c00); c01 = V.MultiplyAdd(v, b1, c01);
            v = V.Broadcast(Unsafe.Add(ref ar, ai1));
            c10 = V.MultiplyAdd(v, b0, c10); c11 = V.MultiplyAdd(v, b1, c11);
            v = V.Broadcast(Unsafe.Add(ref ar, ai2));
            c20 = V.MultiplyAdd(v, b0, c20); c21 = V.MultiplyAdd(v, b1, c21);
            v = V.Broadcast(Unsafe.Add(ref ar, ai3));
            c30 = V.MultiplyAdd(v, b0, c30); c31 = V.MultiplyAdd(v, b1, c31);
            v = V.Broadcast(ar4);
            c40 = V.MultiplyAdd(v, b0, c40); c41 = V.MultiplyAdd(v, b1, c41);
            v = V.Broadcast(Unsafe.Add(ref ar4, ai1));
            c50 = V.MultiplyAdd(v, b0, c50); c51 = V.MultiplyAdd(v, b1, c51);
            if (eight)
            {
                v = V.Broadcast(Unsafe.Add(ref ar4, ai2));
                c60 = V.MultiplyAdd(v, b0, c60); c61 = V.MultiplyAdd(v, b1, c61);
                v = V.Broadcast(Unsafe.Add(ref ar4, ai3));
                c70 = V.MultiplyAdd(v, b0, c70); c71 = V.MultiplyAdd(v, b1, c71);
            }
            ar = ref Unsafe.Add(ref ar, aStep);
            ar4 = ref Unsafe.Add(ref ar4, aStep);
            if (strided) bRow = ref Unsafe.Add(ref bRow, ldb);
        }
        var va = V.Broadcast(alpha);
        AddTile<T, V, TV>(ref c, va, accumulate, c00, c01, w);
        AddTile<T, V, TV>(ref Unsafe.Add(ref c, ldc), va, accumulate, c10, c11, w);
        AddTile<T, V, TV>(ref Unsafe.Add(ref c, 2 * ldc), va, accumulate, c20, c21, w);
        AddTile<T, V, TV>(ref Unsafe.Add(ref c, 3 * ldc), va, accumulate, c30, c31, w);
        AddTile<T, V, TV>(ref Unsafe.Add(ref c, 4 * ldc), va, accumulate, c40, c41, w);
        AddTile<T, V, TV>(ref Unsafe.Add(ref c, 5 * ldc), va, accumulate, c50, c51, w);
        if (eight)
        {
            AddTile<T, V, TV>(ref Unsafe.Add(ref c, 6 * ldc), va, accumulate, c60, c61, w);
            AddTile<T, V, TV>(ref Unsafe.Add(ref c, 7 * ldc), va, accumulate, c70, c71, w);
        }
    }

    /// <summary>Tests: the direct kernel's epilogue applied after each tile's store (the path before session 27) on this thread.</summary>
    [ThreadStatic] internal static bool t_epilogueAfterTile;

    /// <summary>
    /// <see cref="AxpyTile{T, TRows, V, TV}"/> (8 rows × 2 vectors of 512 bits, B's rows <paramref name="ldb"/> apart) for the
    /// last k-block of a product with a column epilogue: each accumulator times alpha (added to C when
    /// <paramref name="accumulate"/>, as AddTile), then + bias, + residual, max(·, 0) — <see cref="Epi{T}.ApplyTile"/>'s
    /// operations in its order, on the registers — and stored once, instead of stored, read back, and stored again.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AxpyTileEpi512(ref float a, int ai, int ap, ref float b, int ldb, int k, float alpha, ref float c, int ldc, bool accumulate,
        Epi<float> epi, int i0, int j0)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        nint ai1 = ai, ai2 = 2 * (nint)ai, ai3 = 3 * (nint)ai, aStep = ap, lb = ldb;
        ref float ar = ref a;
        ref float ar4 = ref Unsafe.Add(ref a, 4 * (nint)ai);
        ref float bRow = ref b;
        for (int p = 0; p < k; p++)
        {
            var b0 = Vector512.LoadUnsafe(ref bRow);
            var b1 = Vector512.LoadUnsafe(ref bRow, 16);
            var v = Vector512.Create(ar);
            c00 = Vector512.FusedMultiplyAdd(v, b0, c00); c01 = Vector512.FusedMultiplyAdd(v, b1, c01);
            v = Vector512.Create(Unsafe.Add(ref ar, ai1));
            c10 = Vector512.FusedMultiplyAdd(v, b0, c10); c11 = Vector512.FusedMultiplyAdd(v, b1, c11);
            v = Vector512.Create(Unsafe.Add(ref ar, ai2));
            c20 = Vector512.FusedMultiplyAdd(v, b0, c20); c21 = Vector512.FusedMultiplyAdd(v, b1, c21);
            v = Vector512.Create(Unsafe.Add(ref ar, ai3));
            c30 = Vector512.FusedMultiplyAdd(v, b0, c30); c31 = Vector512.FusedMultiplyAdd(v, b1, c31);
            v = Vector512.Create(ar4);
            c40 = Vector512.FusedMultiplyAdd(v, b0, c40); c41 = Vector512.FusedMultiplyAdd(v, b1, c41);
            v = Vector512.Create(Unsafe.Add(ref ar4, ai1));
            c50 = Vector512.FusedMultiplyAdd(v, b0, c50); c51 = Vector512.FusedMultiplyAdd(v, b1, c51);
            v = Vector512.Create(Unsafe.Add(ref ar4, ai2));
            c60 = Vector512.FusedMultiplyAdd(v, b0, c60); c61 = Vector512.FusedMultiplyAdd(v, b1, c61);
            v = Vector512.Create(Unsafe.Add(ref ar4, ai3));
            c70 = Vector512.FusedMultiplyAdd(v, b0, c70); c71 = Vector512.FusedMultiplyAdd(v, b1, c71);
            ar = ref Unsafe.Add(ref ar, aStep);
            ar4 = ref Unsafe.Add(ref ar4, aStep);
            bRow = ref Unsafe.Add(ref bRow, lb);
        }
        var va = Vector512.Create(alpha);
        bool hasBias = epi.Bias is not null, hasRes = epi.Residual is not null;
        Vector512<float> bias0 = default, bias1 = default;
        if (hasBias)
        {
            ref float bias = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(epi.Bias!), epi.BiasOff + j0);
            bias0 = Vector512.LoadUnsafe(ref bias);
            bias1 = Vector512.LoadUnsafe(ref bias, 16);
        }
        ref float res = ref hasRes ? ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(epi.Residual!), epi.ResOff + (nint)i0 * epi.ResLd + j0) : ref Unsafe.NullRef<float>();
        nint resLd = epi.ResLd;
        EpiRow(ref c, va, accumulate, c00, c01, hasBias, bias0, bias1, hasRes, ref res, epi.Relu);
        EpiRow(ref Unsafe.Add(ref c, ldc), va, accumulate, c10, c11, hasBias, bias0, bias1, hasRes, ref hasRes ? ref Unsafe.Add(ref res, resLd) : ref res, epi.Relu);
        EpiRow(ref Unsafe.Add(ref c, 2 * ldc), va, accumulate, c20, c21, hasBias, bias0, bias1, hasRes, ref hasRes ? ref Unsafe.Add(ref res, 2 * resLd) : ref res, epi.Relu);
        EpiRow(ref Unsafe.Add(ref c, 3 * ldc), va, accumulate, c30, c31, hasBias, bias0, bias1, hasRes, ref hasRes ? ref Unsafe.Add(ref res, 3 * resLd) : ref res, epi.Relu);
        EpiRow(ref Unsafe.Add(ref c, 4 * ldc), va, accumulate, c40, c41, hasBias, bias0, bias1, hasRes, ref hasRes ? ref Unsafe.Add(ref res, 4 * resLd) : ref res, epi.Relu);
        EpiRow(ref Unsafe.Add(ref c, 5 * ldc), va, accumulate, c50, c51, hasBias, bias0, bias1, hasRes, ref hasRes ? ref Unsafe.Add(ref res, 5 * resLd) : ref res, epi.Relu);
        EpiRow(ref Unsafe.Add(ref c, 6 * ldc), va, accumulate, c60, c61, hasBias, bias0, bias1, hasRes, ref hasRes ? ref Unsafe.Add(ref res, 6 * resLd) : ref res, epi.Relu);
        EpiRow(ref Unsafe.Add(ref c, 7 * ldc), va, accumulate, c70, c71, hasBias, bias0, bias1, hasRes, ref hasRes ? ref Unsafe.Add(ref res, 7 * resLd) : ref res, epi.Relu);
    }

    /// <summary>One row of <see cref="AxpyTileEpi512"/>: AddTile's value, then the epilogue's + bias, + residual, max(·, 0), stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void EpiRow(ref float c, Vector512<float> alpha, bool accumulate, Vector512<float> v0, Vector512<float> v1, bool hasBias,
        Vector512<float> bias0, Vector512<float> bias1, bool hasRes, ref float res, bool relu)
    {
        v0 = accumulate ? Vector512.FusedMultiplyAdd(alpha, v0, Vector512.LoadUnsafe(ref c)) : alpha * v0;
        v1 = accumulate ? Vector512.FusedMultiplyAdd(alpha, v1, Vector512.LoadUnsafe(ref c, 16)) : alpha * v1;
        if (hasBias)
        {
            v0 += bias0;
            v1 += bias1;
        }
        if (hasRes)
        {
            v0 += Vector512.LoadUnsafe(ref res);
            v1 += Vector512.LoadUnsafe(ref res, 16);
        }
        if (relu)
        {
            v0 = Vector512.Max(v0, Vector512<float>.Zero);
            v1 = Vector512.Max(v1, Vector512<float>.Zero);
        }
        v0.StoreUnsafe(ref c);
        v1.StoreUnsafe(ref c, 16);
    }

    /// <summary><see cref="AxpyTile{T, TRows, V, TV}"/> at the widest vectors the machine has (<see cref="DirectMR"/> rows).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void AxpyTile<T, TRows>(ref T a, int ai, int ap, ref T b, TRows rows, int p0, int k, T alpha, ref T c, int ldc, bool accumulate)
        where T : unmanaged, INumber<T> where TRows : struct, IRowOffsets
    {
        if (Vector512.IsHardwareAccelerated) AxpyTile<T, TRows, Simd512<T>, Vector512<T>>(ref a, ai, ap, ref b, rows, p0, k, alpha, ref c, ldc, accumulate);
        else AxpyTile<T, TRows, Simd256<T>, Vector256<T>>(ref a, ai, ap, ref b, rows, p0, k, alpha, ref c, ldc, accumulate);
    }

    /// <summary>C[0..2w) = alpha · (v0, v1), or += when <paramref name="accumulate"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddTile<T, V, TV>(ref T c, TV alpha, bool accumulate, TV v0, TV v1, int w)
        where T : unmanaged, INumber<T> where V : struct, ISimd<TV, T> where TV : struct
    {
        if (accumulate)
        {
            V.Store(V.MultiplyAdd(alpha, v0, V.Load(ref c, 0)), ref c, 0);
            V.Store(V.MultiplyAdd(alpha, v1, V.Load(ref c, (nuint)w)), ref c, (nuint)w);
        }
        else
        {
            V.Store(V.Multiply(alpha, v0), ref c, 0);
            V.Store(V.Multiply(alpha, v1), ref c, (nuint)w);
        }
    }
}
