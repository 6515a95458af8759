using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpGrad.Kernels;

/// <summary>
/// General matrix multiply, row-major (BLAS: <c>sgemm</c>/<c>dgemm</c>): <c>C = alpha * op(A) * op(B) + beta * C</c>,
/// where op(X) is X or Xᵀ. A is m×k after op, B is k×n after op, C is m×n. Leading dimensions are row strides.
/// Cache-blocked with packed panels and a register-blocked micro-kernel (Vector512/Vector256 with FMA when the
/// hardware has them); large problems are split over cores by row blocks.
/// </summary>
public static partial class Gemm
{
    /// <summary>Single-precision GEMM on arrays with element offsets (BLAS: <c>sgemm</c>, row-major).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float[] a, int aOffset, int lda, float[] b, int bOffset, int ldb, float beta, float[] c, int cOffset, int ldc)
        => Run(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc, allowParallel: true);

    /// <summary>
    /// C (+)= op(A)·B (added when <paramref name="accumulate"/>) on the packed path whatever the size (the size rules would send
    /// it to the direct path), on the calling thread. The packed and direct kernels both add each k-block's chain (256 terms)
    /// to C: the direct path's bits when n is whole strips of two vectors and, beyond one k-block, m whole row tiles (the
    /// paths' edge tiles and AVX-512's last rows sum differently, within rounding). For a split encoder layer's batch parts (TransformerLayer.Split.cs): over a
    /// part's 256 token rows the weight gradients gᵀ·x with x of ≤ 128 columns and linear2's g·W fall on the direct path,
    /// which is slower for them than packing (docs/performance.md, "The transformer step, session 19").
    /// </summary>
    internal static void SgemmPacked(bool transA, int m, int n, int k, float[] a, int aOffset, int lda, float[] b, int bOffset, int ldb,
        float[] c, int cOffset, int ldc, bool accumulate)
    {
        if (m <= 0 || n <= 0) return;
        if (!DirectVectors || (long)m * n * k <= 4096)
        {
            Run(transA, false, m, n, k, 1f, a, aOffset, lda, b, bOffset, ldb, accumulate ? 1f : 0f, c, cOffset, ldc, allowParallel: false);
            return;
        }
        CheckArgs(transA, false, m, n, k, a.Length - aOffset, lda, b.Length - bOffset, ldb, c.Length - cOffset, ldc);
        Packed(transA, false, m, n, k, 1f, a, aOffset, lda, b, bOffset, ldb, c, cOffset, ldc, allowParallel: false, default(Epi<float>), NR<float>(),
            overwrite: !accumulate);
    }

    /// <summary>
    /// Single-precision GEMM with a fused epilogue: <c>C = act(alpha·op(A)·op(B) + beta·C + bias + residual)</c>, the bias,
    /// residual and activation applied to each output tile while it is still in cache (PyTorch:
    /// <c>torch.relu(torch.addmm(bias, a, b) + residual)</c>; <c>addmm</c> + <c>relu</c> is what a <c>Linear</c> followed
    /// by <c>ReLU</c> runs). See <see cref="GemmEpilogue"/>.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float[] a, int aOffset, int lda, float[] b, int bOffset, int ldb, float beta, float[] c, int cOffset, int ldc, in GemmEpilogue epilogue)
        => Run(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc, allowParallel: true, epilogue.ToEpi());

    /// <summary>Double-precision GEMM on arrays with element offsets (BLAS: <c>dgemm</c>, row-major).</summary>
    public static void Dgemm(bool transA, bool transB, int m, int n, int k, double alpha,
        double[] a, int aOffset, int lda, double[] b, int bOffset, int ldb, double beta, double[] c, int cOffset, int ldc)
        => Run(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc, allowParallel: true);

    private const int MR = 6;
    private const int KC = 256;

    /// <summary>Rows of B the packing of B requests ahead of the row it copies (see <see cref="PackBRows{T}"/>).</summary>
    private const int PackBAhead = 8;
    /// <summary>
    /// Below this many flops a GEMM stays on the calling thread. Splitting costs a thread-pool dispatch and a wake-up of the
    /// workers (tens of µs warm; at process start the pool's first threads are created, ~1 ms), while 4 MFLOP takes only
    /// ~0.1 ms on one core: a one-image convolution (e.g. 32×144×196, 1.8 MFLOP) is faster and starts sooner serial.
    /// </summary>
    private const double ParallelFlops = 4e6;

    /// <summary>
    /// Below this many flops (over the nonzero terms only) a zero-skipping product (<see cref="TrySgemmSkipZeros"/>) stays
    /// on the calling thread. The skipping kernel runs at about half the dense kernels' rate, so a product of this size
    /// is ~45 µs of one core; with the dense path's 8 MFLOP (<see cref="DirectParallelFlops"/>) MNIST's fc1 forward and
    /// weight gradient (64×784 pixels, ~19 % nonzero: ~4.9 MFLOP each) both ran serially, and the second core had
    /// nothing to do in mnist_mlp_5_epochs but the optimizer's update (docs/performance.md, session 17).
    /// </summary>
    internal const double SkipZerosParallelFlops = 2e6;

    /// <summary>The number of columns of the micro-kernel (two vectors).</summary>
    private static int NR<T>() where T : unmanaged => Vector512.IsHardwareAccelerated ? 2 * Vector512<T>.Count
        : Vector256.IsHardwareAccelerated ? 2 * Vector256<T>.Count
        : Vector128.IsHardwareAccelerated ? 2 * Vector128<T>.Count : 8;

    /// <summary>The generic entry point (T is float or double).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Run<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        T[] a, int aOffset, int lda, T[] b, int bOffset, int ldb, T beta, T[] c, int cOffset, int ldc, bool allowParallel)
        where T : unmanaged, INumber<T>
        => Run(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc, allowParallel, default(Epi<T>));

    /// <summary>The generic entry point with a fused epilogue (T is float or double).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Run<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        T[] a, int aOffset, int lda, T[] b, int bOffset, int ldb, T beta, T[] c, int cOffset, int ldc, bool allowParallel, Epi<T> epi)
        where T : unmanaged, INumber<T>
    {
        if (m <= 0 || n <= 0) return;
        CheckArgs(transA, transB, m, n, k, a.Length - aOffset, lda, b.Length - bOffset, ldb, c.Length - cOffset, ldc);
        epi.Check(m, n);
        // The sizes of a layer's training step (and anything with few rows, few columns of x·Wᵀ or a tiny k): no packing.
        int path = PathOf<T>(transA, transB, m, n, k);
        bool direct = path == DirectPath, packed = path == PackedPath;
        // With beta == 0 the direct and packed paths write C themselves (Gemm.Direct.cs, DirectRange) instead of C being cleared first.
        bool overwrite = (direct || packed) && beta == T.Zero && k > 0 && alpha != T.Zero;
        // C = beta * C first; beta == 0 overwrites (so NaNs in C do not survive, like BLAS).
        if (beta != T.One && !overwrite)
        {
            for (int i = 0; i < m; i++)
            {
                var row = c.AsSpan(cOffset + i * ldc, n);
                if (beta == T.Zero) row.Clear();
                else ScaleRow(beta, row);
            }
        }
        if (k <= 0 || alpha == T.Zero)
        {
            if (!epi.IsNone) epi.ApplyRows(c, cOffset, ldc, 0, m, 0, n);
            return;
        }

        // One row times Wᵀ (a layer applied to one sample): the eight-row kernel, W split over the cores when it is large.
        if (path == RowGemvPath)
        {
            RowGemv(n, k, alpha, a, aOffset, b, bOffset, ldb, c, cOffset, allowParallel, epi);
            return;
        }

        if (path == GemvPath)
        {
            Gemv(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, c, cOffset, ldc);
            if (!epi.IsNone) epi.ApplyRows(c, cOffset, ldc, 0, m, 0, n);
            return;
        }

        if (direct)
        {
            Direct(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, c, cOffset, ldc, allowParallel, epi, overwrite);
            return;
        }

        int nr = NR<T>();
        // Tiny problems: the packing overhead is not worth it.
        if (path == NaivePath)
        {
            Naive(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, c, cOffset, ldc);
            if (!epi.IsNone) epi.ApplyRows(c, cOffset, ldc, 0, m, 0, n);
            return;
        }

        Packed(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, c, cOffset, ldc, allowParallel, epi, nr, overwrite);
    }

    /// <summary>
    /// The kernel path <c>Run</c> takes for a product of these sizes (<see cref="RowGemvPath"/>, <see cref="GemvPath"/>,
    /// <see cref="DirectPath"/>, <see cref="NaivePath"/>, <see cref="PackedPath"/>): <c>Run</c> dispatches on it. A caller
    /// splitting one product into row or column ranges (RecurrentStack's LSTM products over two threads) checks that the
    /// parts take the whole's path: the paths' sums differ (the direct x·Wᵀ kernel sums in vector lanes), while tile-aligned
    /// ranges of one path give the same elements.
    /// </summary>
    internal static int PathOf<T>(bool transA, bool transB, int m, int n, int k) where T : unmanaged
        => UseRowGemv<T>(transA, transB, m, k) ? RowGemvPath
            : n == 1 && m > SmallM ? GemvPath
            : UseDirect(transA, transB, m, n, k) ? DirectPath
            : (long)m * n * k <= 4096 ? NaivePath
            : PackedPath;

    /// <summary><see cref="PathOf{T}"/>'s values: one row times Wᵀ, a matrix-vector product, the direct (unpacked) kernels, the naive loop for tiny products, the packed path.</summary>
    internal const int RowGemvPath = 0, GemvPath = 1, DirectPath = 2, NaivePath = 3, PackedPath = 4;

    /// <summary>The packed path's k-block: up to this k each element is one FMA chain from 0 (past it, each block's sum is added to C).</summary>
    internal const int PackedKC = KC;

    /// <summary>The packed, cache-blocked path (BLIS's five loops around the micro-kernel).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Packed<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        T[] a, int aOffset, int lda, T[] b, int bOffset, int ldb, T[] c, int cOffset, int ldc, bool allowParallel, Epi<T> epi, int nr, bool overwrite)
        where T : unmanaged, INumber<T>
    {
        int mc = PackedMC<T>(), nc = PackedNC(n, nr);
        double flops = 2.0 * m * n * k;
        int threads = Parallelism.MaxThreads;
        bool parallel = allowParallel && flops > ParallelFlops && threads > 1;
        int parts = 1;
        if (parallel)
        {
            // One item per thread, each a contiguous share of the MR-row tiles (sizes differing by at most one tile), cut
            // into row blocks of at most mc rows. Item p is the same rows at every k-block, and the caller runs item 0,
            // so a thread's rows of C stay in its own cache between k-blocks. Before: 9 blocks of ≤ 120 rows for
            // m = 1024, claimed dynamically at each k-block (544 rows against 480, and C's rows moved between the cores).
            parts = Math.Min(threads, (m + MR - 1) / MR);
            parallel = parts > 1;
        }

        int kcMax = Math.Min(KC, k); // a small k (a 3×3 convolution over one channel: 9) needs a small panel
        var bPack = Scratch<T>.Pool.Rent(kcMax * nc + Pad<T>());
        int bBase = Align64(bPack);
        try
        {
            for (int jc = 0; jc < n; jc += nc)
            {
                int ncur = Math.Min(nc, n - jc);
                for (int pc = 0; pc < k; pc += KC)
                {
                    int kcur = Math.Min(KC, k - pc);
                    bool last = pc + kcur >= k;
                    bool first = overwrite && pc == 0;
                    if (parallel)
                    {
                        // The panels of B packed by both cores (one core packing 1 MB per k-block of a 1024² product left
                        // the other idle for ~5 % of the time), then the row blocks.
                        int panels = (ncur + nr - 1) / nr;
                        int perPart = (panels + 2 * threads - 1) / (2 * threads);
                        Parallelism.For((panels + perPart - 1) / perPart, new PackBPart<T>(transB, b, bOffset, ldb, pc, kcur, jc, ncur, nr, bPack, bBase, perPart));
                        ParallelBlocks(transA, m, mc, parts, a, aOffset, lda, pc, kcur, jc, ncur, nr, alpha, bPack, bBase, c, cOffset, ldc, first, last, epi);
                    }
                    else
                    {
                        PackB(transB, b, bOffset, ldb, pc, kcur, jc, ncur, nr, bPack, bBase);
                        var aPack = Scratch<T>.Pool.Rent(kcMax * mc + 2 * Pad<T>());
                        for (int ic = 0; ic < m; ic += mc)
                        {
                            Block(transA, a, aOffset, lda, ic, Math.Min(mc, m - ic), pc, kcur, jc, ncur, nr, alpha, aPack, bPack, bBase, c, cOffset, ldc, first, last, epi);
                        }
                        Scratch<T>.Pool.Return(aPack);
                    }
                }
            }
        }
        finally
        {
            Scratch<T>.Pool.Return(bPack);
        }
    }

    /// <summary>The packed path's row block (rows of A packed at a time).</summary>
    private static int PackedMC<T>() => Math.Max(MR, (typeof(T) == typeof(float) ? 120 : 60) / MR * MR);

    /// <summary>The packed path's column block (columns of B packed at a time).</summary>
    private static int PackedNC(int n, int nr) => Math.Min(RoundUp(n, nr), 4096 / nr * nr);

    /// <summary>The length of a buffer for <see cref="PackRowsOfB"/> of <paramref name="k"/> rows and <paramref name="n"/> columns.</summary>
    internal static int PackedBLength(int k, int n) => RoundUp(n, NR<float>()) * k + Pad<float>();

    /// <summary>
    /// <paramref name="k"/> rows and <paramref name="n"/> columns of B (not transposed, from <paramref name="bOffset"/>, rows
    /// <paramref name="ldb"/> apart) packed into <paramref name="buffer"/> (<see cref="PackedBLength"/> long) as one block over
    /// all k rows, for <see cref="PackedOnB"/> products that read ranges of its rows (the LSTM's weight gradients Hᵀ·dG and
    /// xᵀ·dG share dG): <see cref="PackB{T}"/>'s panels over the whole k, so any k-block of any row range holds the panel
    /// contents the packed path's own packing would. Returns the first panel's index.
    /// </summary>
    internal static int PackRowsOfB(float[] b, int bOffset, int ldb, int k, int n, float[] buffer)
    {
        int nr = NR<float>();
        if (buffer.Length < PackedBLength(k, n)) throw new ArgumentException($"a packed B of {k}×{n} needs {PackedBLength(k, n)} elements, the buffer has {buffer.Length}.", nameof(buffer));
        CheckArgs(false, false, 1, n, k, k, k, b.Length - bOffset, ldb, n, n);
        int bBase = Align64(buffer);
        for (int jc = 0, nc = PackedNC(n, nr); jc < n; jc += nc) PackB(false, b, bOffset, ldb, 0, k, jc, Math.Min(nc, n - jc), nr, buffer, bBase + jc * k);
        return bBase;
    }

    /// <summary>
    /// C (+)= op(A)·B[<paramref name="r0"/>.., ] on the packed path, on the calling thread, with B's rows r0..r0 + k taken
    /// from <see cref="PackRowsOfB"/>'s buffer (packed whole over <paramref name="bRows"/> rows) instead of packed per k-block:
    /// the same k-blocks, row blocks and tiles as <c>Run</c>'s serial packed path, so every element is its FMA chains
    /// (a caller checks that <c>Run</c> would take <see cref="PackedPath"/>). C overwritten unless <paramref name="accumulate"/>.
    /// </summary>
    internal static void PackedOnB(bool transA, int m, int n, int k, float[] a, int aOffset, int lda, float[] bPack, int bBase, int bRows, int r0,
        float[] c, int cOffset, int ldc, bool accumulate)
    {
        if (m <= 0 || n <= 0 || k <= 0) return;
        if (r0 < 0 || r0 + k > bRows) throw new ArgumentOutOfRangeException(nameof(r0), $"rows [{r0}, {r0 + k}) of a B packed over {bRows} rows.");
        CheckArgs(transA, false, m, n, k, a.Length - aOffset, lda, k * n, n, c.Length - cOffset, ldc);
        int nr = NR<float>(), mc = PackedMC<float>(), nc = PackedNC(n, nr);
        var aPack = Scratch<float>.Pool.Rent(Math.Min(KC, k) * mc + 2 * Pad<float>());
        try
        {
            for (int jc = 0; jc < n; jc += nc)
            {
                int ncur = Math.Min(nc, n - jc);
                for (int pc = 0; pc < k; pc += KC)
                {
                    int kcur = Math.Min(KC, k - pc);
                    int panels = bBase + jc * bRows + (r0 + pc) * nr;
                    for (int ic = 0; ic < m; ic += mc)
                    {
                        Block(transA, a, aOffset, lda, ic, Math.Min(mc, m - ic), pc, kcur, jc, ncur, nr, 1f, aPack, bPack, panels, c, cOffset, ldc,
                            first: !accumulate && pc == 0, last: pc + kcur >= k, default(Epi<float>), bPanelStride: bRows * nr);
                    }
                }
            }
        }
        finally
        {
            Scratch<float>.Pool.Return(aPack);
        }
    }

    /// <summary>Panels [index·perPart, …) of <see cref="PackB{T}"/>'s k-block, as an item of <see cref="Parallelism.For{TBody}(int, TBody)"/>.</summary>
    private readonly struct PackBPart<T>(bool transB, T[] b, int bOff, int ldb, int pc, int kc, int jc, int nc, int nr, T[] dst, int dstBase, int perPart) : IParallelBody
        where T : unmanaged, INumber<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int index)
        {
            int j0 = index * perPart * nr;
            PackB(transB, b, bOff, ldb, pc, kc, jc + j0, Math.Min(perPart * nr, nc - j0), nr, dst, dstBase + index * perPart * kc * nr);
        }
    }

    /// <summary>The row blocks of one packed panel on the worker pool (each item packs its own block of A).</summary>
    private static void ParallelBlocks<T>(bool transA, int m, int mc, int parts, T[] a, int aOffset, int lda, int pc, int kcur, int jc, int ncur, int nr,
        T alpha, T[] bPack, int bBase, T[] c, int cOffset, int ldc, bool first, bool last, Epi<T> epi)
        where T : unmanaged, INumber<T>
        => Parallelism.For(parts, new PackedRowBlock<T>(transA, m, mc, parts, a, aOffset, lda, pc, kcur, jc, ncur, nr, alpha, bPack, bBase, c, cOffset, ldc, first, last, epi));

    /// <summary>
    /// Share <c>part</c> of a packed panel's rows (the MR-row tiles cut into <c>parts</c> contiguous shares of sizes differing
    /// by at most one tile), in row blocks of at most <c>mc</c> rows, as an item of <see cref="Parallelism.For{TBody}(int, TBody)"/>.
    /// </summary>
    private readonly struct PackedRowBlock<T>(bool transA, int m, int mc, int parts, T[] a, int aOffset, int lda, int pc, int kcur, int jc, int ncur, int nr,
        T alpha, T[] bPack, int bBase, T[] c, int cOffset, int ldc, bool first, bool last, Epi<T> epi) : IParallelBody
        where T : unmanaged, INumber<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int part)
        {
            var aPack = Scratch<T>.Pool.Rent(kcur * mc + 2 * Pad<T>());
            var (t0, tn) = Parallelism.PartRange((m + MR - 1) / MR, parts, part);
            int blocks = (tn * MR + mc - 1) / mc;
            for (int i = 0; i < blocks; i++)
            {
                var (s0, sn) = Parallelism.PartRange(tn, blocks, i);
                int ic = (t0 + s0) * MR;
                Block(transA, a, aOffset, lda, ic, Math.Min(sn * MR, m - ic), pc, kcur, jc, ncur, nr, alpha, aPack, bPack, bBase, c, cOffset, ldc, first, last, epi);
            }
            Scratch<T>.Pool.Return(aPack);
        }
    }

    /// <summary>
    /// Matrix–vector products (m == 1 or n == 1) without packing: contiguous dot products or row updates
    /// (a layer applied to one sample is this case).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gemv<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        T[] a, int aOff, int lda, T[] b, int bOff, int ldb, T[] c, int cOff, int ldc) where T : unmanaged, INumber<T>
    {
        if (m == 1)
        {
            // x = row 0 of op(A) (length k); C[0, j] += alpha · Σ_p x[p] · op(B)[p, j]
            ReadOnlySpan<T> x = transA ? Gather(a, aOff, lda, k) : a.AsSpan(aOff, k);
            var crow = c.AsSpan(cOff, n);
            if (transB)
            {
                for (int j = 0; j < n; j++) crow[j] += alpha * DotRow(x, b.AsSpan(bOff + j * ldb, k));
            }
            else
            {
                for (int p = 0; p < k; p++) AxpyRow(alpha * x[p], b.AsSpan(bOff + p * ldb, n), crow);
            }
            return;
        }
        // n == 1: y = column 0 of op(B) (length k); C[i, 0] += alpha · Σ_p op(A)[i, p] · y[p]
        ReadOnlySpan<T> y = transB ? b.AsSpan(bOff, k) : Gather(b, bOff, ldb, k);
        if (!transA)
        {
            for (int i = 0; i < m; i++) c[cOff + i * ldc] += alpha * DotRow(a.AsSpan(aOff + i * lda, k), y);
        }
        else
        {
            var acc = new T[m];
            for (int p = 0; p < k; p++) AxpyRow(y[p], a.AsSpan(aOff + p * lda, m), acc);
            for (int i = 0; i < m; i++) c[cOff + i * ldc] += alpha * acc[i];
        }
    }

    private static T[] Gather<T>(T[] src, int off, int stride, int count) where T : unmanaged
    {
        var v = new T[count];
        for (int i = 0; i < count; i++) v[i] = src[off + i * stride];
        return v;
    }

    /// <summary>Σ x·y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static T DotRow<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y) where T : unmanaged, INumber<T>
    {
        int i = 0;
        T s = T.Zero;
        if (Vector.IsHardwareAccelerated && x.Length >= 2 * Vector<T>.Count)
        {
            var acc0 = Vector<T>.Zero;
            var acc1 = Vector<T>.Zero;
            int w = Vector<T>.Count;
            for (; i <= x.Length - 2 * w; i += 2 * w)
            {
                acc0 += new Vector<T>(x[i..]) * new Vector<T>(y[i..]);
                acc1 += new Vector<T>(x[(i + w)..]) * new Vector<T>(y[(i + w)..]);
            }
            s = Vector.Sum(acc0 + acc1);
        }
        for (; i < x.Length; i++) s += x[i] * y[i];
        return s;
    }

    /// <summary>y += alpha·x (own loop: TensorPrimitives is slow until the JIT tiers it up).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void AxpyRow<T>(T alpha, ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, INumber<T>
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<T>.Count)
        {
            var va = new Vector<T>(alpha);
            for (; i <= x.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                var vy = new Vector<T>(y[i..]) + va * new Vector<T>(x[i..]);
                vy.CopyTo(y[i..]);
            }
        }
        for (; i < x.Length; i++) y[i] += alpha * x[i];
    }

    /// <summary>y *= beta.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ScaleRow<T>(T beta, Span<T> y) where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < y.Length; i++) y[i] *= beta;
    }

    /// <summary>y += x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void AddRow<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, INumber<T> => AxpyRow(T.One, x, y);

    /// <summary>
    /// <paramref name="dst"/>[dstOff + j·rows + i] = (or += with <paramref name="accumulate"/>) <paramref name="src"/>[i·cols + j]:
    /// a weight gradient computed transposed (xᵀ·g, [rows = inF, cols = outF]) stored in the weight's layout [outF, inF]
    /// (the encoder layer's wide-output weight gradients, a Linear's weight gradient over a sparse input).
    /// </summary>
    internal static void StoreTransposed(float[] src, int rows, int cols, float[] dst, int dstOff, bool accumulate)
    {
        if (!accumulate && dstOff == 0)
        {
            RecurrentKernel.Transpose(src, 0, rows, cols, dst);
            return;
        }
        int size = rows * cols;
        float[] back = Scratch<float>.Pool.Rent(size);
        try
        {
            RecurrentKernel.Transpose(src, 0, rows, cols, back);
            if (accumulate) AddRow<float>(back.AsSpan(0, size), dst.AsSpan(dstOff, size));
            else back.AsSpan(0, size).CopyTo(dst.AsSpan(dstOff, size));
        }
        finally
        {
            Scratch<float>.Pool.Return(back);
        }
    }

    /// <summary>y += s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void AddScalar<T>(T s, Span<T> y) where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < y.Length; i++) y[i] += s;
    }

    /// <summary>Σ x.</summary>
    internal static T SumRow<T>(ReadOnlySpan<T> x) where T : unmanaged, INumber<T> => TensorPrimitives.Sum<T>(x);

    /// <summary>Extra elements a packing buffer is rented with, so that its packs can start on a 64-byte boundary.</summary>
    private static int Pad<T>() where T : unmanaged => 64 / Unsafe.SizeOf<T>();

    /// <summary>The first index of <paramref name="buffer"/> on a 64-byte boundary (a cache line): the packed panels' vector loads then never straddle two lines.</summary>
    private static unsafe int Align64<T>(T[] buffer) where T : unmanaged
    {
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        return (int)((-address & 63) / Unsafe.SizeOf<T>());
    }

    private static int RoundUp(int x, int to) => (x + to - 1) / to * to;

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void CheckArgs(bool transA, bool transB, int m, int n, int k, int aLen, int lda, int bLen, int ldb, int cLen, int ldc)
    {
        int aRows = transA ? k : m, aCols = transA ? m : k;
        int bRows = transB ? n : k, bCols = transB ? k : n;
        if (k > 0 && (lda < aCols || (long)(aRows - 1) * lda + aCols > aLen))
            throw new ArgumentException($"Gemm: A ({aRows}×{aCols}, lda {lda}) does not fit in its buffer of {aLen} elements.");
        if (k > 0 && (ldb < bCols || (long)(bRows - 1) * ldb + bCols > bLen))
            throw new ArgumentException($"Gemm: B ({bRows}×{bCols}, ldb {ldb}) does not fit in its buffer of {bLen} elements.");
        if (ldc < n || (long)(m - 1) * ldc + n > cLen)
            throw new ArgumentException($"Gemm: C ({m}×{n}, ldc {ldc}) does not fit in its buffer of {cLen} elements.");
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Naive<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        T[] a, int aOff, int lda, T[] b, int bOff, int ldb, T[] c, int cOff, int ldc) where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                T s = T.Zero;
                for (int p = 0; p < k; p++)
                {
                    T av = transA ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                    T bv = transB ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
                    s += av * bv;
                }
                c[cOff + i * ldc + j] += alpha * s;
            }
        }
    }

    /// <summary>Packs op(B)[pc..pc+kc, jc..jc+nc] into panels of nr columns: panel-major, then p, then column (zero padded), the first panel at dst[dstOff].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB<T>(bool transB, T[] b, int bOff, int ldb, int pc, int kc, int jc, int nc, int nr, T[] dst, int dstOff = 0)
        where T : unmanaged, INumber<T>
    {
        int panels = (nc + nr - 1) / nr;
        int jp0 = 0;
        if (!transB && Vector256.IsHardwareAccelerated && nr % Vector256<T>.Count == 0)
        {
            jp0 = nc / nr;
            PackBRows(b, bOff, ldb, pc, kc, jc, jp0, nr, dst, dstOff);
        }
        for (int jp = jp0; jp < panels; jp++)
        {
            int j0 = jc + jp * nr;
            int w = Math.Min(nr, jc + nc - j0);
            int baseIdx = dstOff + jp * kc * nr;
            if (!transB)
            {
                for (int p = 0; p < kc; p++)
                {
                    var src = b.AsSpan(bOff + (pc + p) * ldb + j0, w);
                    var d = dst.AsSpan(baseIdx + p * nr, nr);
                    src.CopyTo(d);
                    if (w < nr) d[w..].Clear();
                }
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    int di = baseIdx + p * nr;
                    int si = bOff + j0 * ldb + pc + p;
                    for (int j = 0; j < w; j++) dst[di + j] = b[si + j * ldb];
                    for (int j = w; j < nr; j++) dst[di + j] = T.Zero;
                }
            }
        }
    }

    /// <summary>
    /// The <paramref name="full"/> full panels of B (not transposed) for <see cref="PackB{T}"/>, in groups of four: each row of
    /// B is read four panels wide (four cache lines of the row per visit of its page, the rows being 4 KB apart in a
    /// 1024-column B) while the same columns <see cref="PackBAhead"/> rows further are requested (the hardware prefetcher
    /// does not cross pages). Before session 16 each panel was copied on its own, one 64-byte span copy per row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackBRows<T>(T[] b, int bOff, int ldb, int pc, int kc, int jc, int full, int nr, T[] dst, int dstOff)
        where T : unmanaged, INumber<T>
    {
        const int Group = 4;
        int vc = Vector256<T>.Count;
        ref T b0 = ref MemoryMarshal.GetArrayDataReference(b);
        ref T d0 = ref MemoryMarshal.GetArrayDataReference(dst);
        nint rowBytes = (nint)ldb * Unsafe.SizeOf<T>();
        const int ahead = PackBAhead;
        for (int g = 0; g < full; g += Group)
        {
            int gp = Math.Min(Group, full - g);
            int width = gp * nr;
            nint bytes = (nint)width * Unsafe.SizeOf<T>();
            ref T sg = ref Unsafe.Add(ref b0, bOff + pc * ldb + jc + g * nr);
            ref T dg = ref Unsafe.Add(ref d0, dstOff + g * kc * nr);
            for (int p = 0; p < kc; p++)
            {
                ref T sp = ref Unsafe.Add(ref sg, p * ldb);
                if (p + ahead < kc) PrefetchRow(ref sp, ahead * rowBytes, bytes);
                ref T dp = ref Unsafe.Add(ref dg, p * nr);
                for (int q = 0; q < gp; q++)
                {
                    ref T sq = ref Unsafe.Add(ref sp, q * nr);
                    ref T dq = ref Unsafe.Add(ref dp, q * kc * nr);
                    for (int v = 0; v < nr; v += vc) Vector256.LoadUnsafe(ref sq, (nuint)v).StoreUnsafe(ref dq, (nuint)v);
                }
            }
        }
    }

    /// <summary>Requests the <paramref name="bytes"/> bytes <paramref name="offset"/> bytes after <paramref name="row"/> (a row of a packing's source some rows ahead) into L1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PrefetchRow<T>(ref T row, nint offset, nint bytes)
    {
        if (!Sse.IsSupported) return;
        byte* f = (byte*)Unsafe.AsPointer(ref row) + offset;
        for (nint o = 0; o < bytes; o += 64) Sse.Prefetch0(f + o);
        Sse.Prefetch0(f + bytes - 1);
    }

    /// <summary>
    /// The first <paramref name="blocks"/>·8 columns of a full six-row panel of A (not transposed), eight columns at a time:
    /// six rows of eight loaded, transposed as an 8×8 block with two zero rows (unpack, shuffle, lane permute: 22 shuffles
    /// for 48 elements instead of 48 scalar copies), and column j stored as 8 floats at d[6·j], each store's last two lanes
    /// overwritten by the next one. The last store writes two floats past the block: the next block, the scalar tail or
    /// the next panel overwrites them, and the buffer has room for them after the last panel (rented with 2·Pad).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA6x8(ref float a, int lda, int blocks, ref float d)
    {
        var z = Vector256<float>.Zero;
        nint l = lda;
        for (int q = 0; q < blocks; q++)
        {
            ref float s = ref Unsafe.Add(ref a, q * 8);
            var r0 = Vector256.LoadUnsafe(ref s);
            var r1 = Vector256.LoadUnsafe(ref Unsafe.Add(ref s, l));
            var r2 = Vector256.LoadUnsafe(ref Unsafe.Add(ref s, 2 * l));
            var r3 = Vector256.LoadUnsafe(ref Unsafe.Add(ref s, 3 * l));
            var r4 = Vector256.LoadUnsafe(ref Unsafe.Add(ref s, 4 * l));
            var r5 = Vector256.LoadUnsafe(ref Unsafe.Add(ref s, 5 * l));
            var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
            var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
            var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
            var s0 = Avx.Shuffle(t0, t2, 0x44); var s1 = Avx.Shuffle(t0, t2, 0xEE);
            var s2 = Avx.Shuffle(t1, t3, 0x44); var s3 = Avx.Shuffle(t1, t3, 0xEE);
            var s4 = Avx.Shuffle(t4, z, 0x44); var s5 = Avx.Shuffle(t4, z, 0xEE);
            var s6 = Avx.Shuffle(t5, z, 0x44); var s7 = Avx.Shuffle(t5, z, 0xEE);
            ref float o = ref Unsafe.Add(ref d, q * 48);
            Avx.Permute2x128(s0, s4, 0x20).StoreUnsafe(ref o);
            Avx.Permute2x128(s1, s5, 0x20).StoreUnsafe(ref o, 6);
            Avx.Permute2x128(s2, s6, 0x20).StoreUnsafe(ref o, 12);
            Avx.Permute2x128(s3, s7, 0x20).StoreUnsafe(ref o, 18);
            Avx.Permute2x128(s0, s4, 0x31).StoreUnsafe(ref o, 24);
            Avx.Permute2x128(s1, s5, 0x31).StoreUnsafe(ref o, 30);
            Avx.Permute2x128(s2, s6, 0x31).StoreUnsafe(ref o, 36);
            Avx.Permute2x128(s3, s7, 0x31).StoreUnsafe(ref o, 42);
        }
    }

    /// <summary>Packs op(A)[ic..ic+mc, pc..pc+kc] into panels of MR rows: panel-major, then p, then row (zero padded).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA<T>(bool transA, T[] a, int aOff, int lda, int ic, int mc, int pc, int kc, T[] dst, int dstOff)
        where T : unmanaged, INumber<T>
    {
        if (transA)
        {
            PackATransposed(a, aOff, lda, ic, mc, pc, kc, dst, dstOff);
            return;
        }
        int panels = (mc + MR - 1) / MR;
        for (int ip = 0; ip < panels; ip++)
        {
            int i0 = ic + ip * MR;
            int h = Math.Min(MR, ic + mc - i0);
            int baseIdx = dstOff + ip * kc * MR;
            // The bounds were checked once (CheckArgs; dst holds the panels): element copies without per-element checks.
            ref T d = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(dst), baseIdx);
            ref T a0 = ref MemoryMarshal.GetArrayDataReference(a);
            // Eight columns at a time first (its last store spills two floats into the columns after, which the scalar
            // tail below then writes).
            bool eights = h == MR && typeof(T) == typeof(float) && Avx.IsSupported;
            if (eights) PackA6x8(ref Unsafe.As<T, float>(ref Unsafe.Add(ref a0, aOff + i0 * lda + pc)), lda, kc / 8, ref Unsafe.As<T, float>(ref d));
            int p0 = eights ? kc / 8 * 8 : 0;
            for (int r = 0; r < h; r++)
            {
                ref T sr = ref Unsafe.Add(ref a0, aOff + (i0 + r) * lda + pc);
                ref T dr = ref Unsafe.Add(ref d, r);
                for (int p = p0; p < kc; p++) Unsafe.Add(ref dr, p * MR) = Unsafe.Add(ref sr, p);
            }
            for (int r = h; r < MR; r++)
            {
                for (int p = 0; p < kc; p++) Unsafe.Add(ref d, p * MR + r) = T.Zero;
            }
        }
    }

    /// <summary>
    /// <see cref="PackA{T}"/> for a transposed A (op(A)[i, p] = a[p·lda + i]: a weight gradient's gᵀ or xᵀ): each of A's
    /// stored rows p is read once, <paramref name="mc"/> contiguous elements, and its six-element pieces written to every
    /// panel's slot p. Until session 22 each panel walked all kc stored rows on its own (six elements per row, rows lda
    /// apart): at lda = 512 floats those 2 KB-apart rows fall into 2 of L1's 64 sets, so every panel re-read its rows from L2.
    /// A pure copy: the same panels as before.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackATransposed<T>(T[] a, int aOff, int lda, int ic, int mc, int pc, int kc, T[] dst, int dstOff)
        where T : unmanaged, INumber<T>
    {
        int full = mc / MR, h = mc - full * MR;
        nint panel = kc * MR;
        // The bounds were checked once (CheckArgs; dst holds the panels): element copies without per-element checks.
        ref T d = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(dst), dstOff);
        ref T s0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(a), aOff + pc * lda + ic);
        nint rowBytes = (nint)lda * Unsafe.SizeOf<T>(), bytes = (nint)mc * Unsafe.SizeOf<T>();
        const int ahead = PackBAhead;
        for (int p = 0; p < kc; p++)
        {
            ref T sp = ref Unsafe.Add(ref s0, p * lda);
            if (p + ahead < kc) PrefetchRow(ref sp, ahead * rowBytes, bytes);
            ref T dp = ref Unsafe.Add(ref d, p * MR);
            if (typeof(T) == typeof(float) && Vector128.IsHardwareAccelerated)
            {
                // Four elements as a vector, two as one 8-byte move: nothing read or written outside the six.
                for (int ip = 0; ip < full; ip++)
                {
                    ref byte sb = ref Unsafe.As<T, byte>(ref Unsafe.Add(ref sp, ip * MR));
                    ref byte db = ref Unsafe.As<T, byte>(ref Unsafe.Add(ref dp, ip * panel));
                    Vector128.LoadUnsafe(ref sb).StoreUnsafe(ref db);
                    Unsafe.WriteUnaligned(ref Unsafe.Add(ref db, 16), Unsafe.ReadUnaligned<long>(ref Unsafe.Add(ref sb, 16)));
                }
            }
            else
            {
                for (int ip = 0; ip < full; ip++)
                {
                    ref T si = ref Unsafe.Add(ref sp, ip * MR);
                    ref T di = ref Unsafe.Add(ref dp, ip * panel);
                    for (int r = 0; r < MR; r++) Unsafe.Add(ref di, r) = Unsafe.Add(ref si, r);
                }
            }
            if (h > 0)
            {
                ref T si = ref Unsafe.Add(ref sp, full * MR);
                ref T di = ref Unsafe.Add(ref dp, full * panel);
                for (int r = 0; r < h; r++) Unsafe.Add(ref di, r) = Unsafe.Add(ref si, r);
                for (int r = h; r < MR; r++) Unsafe.Add(ref di, r) = T.Zero;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block<T>(bool transA, T[] a, int aOff, int lda, int ic, int mc, int pc, int kc, int jc, int nc, int nr,
        T alpha, T[] aPack, T[] bPack, int bBase, T[] c, int cOff, int ldc, bool first, bool last, Epi<T> epi, int bPanelStride = 0) where T : unmanaged, INumber<T>
    {
        int aBase = Align64(aPack);
        // B's panels kc·nr apart (PackB of this k-block), or bPanelStride apart (B packed over more rows: PackRowsOfB).
        int bStride = bPanelStride > 0 ? bPanelStride : kc * nr;
        PackA(transA, a, aOff, lda, ic, mc, pc, kc, aPack, aBase);
        Span<T> tile = stackalloc T[MR * 64];
        int nPanels = (nc + nr - 1) / nr;
        int mPanels = (mc + MR - 1) / MR;
        for (int jp = 0; jp < nPanels; jp++)
        {
            int j0 = jc + jp * nr;
            int w = Math.Min(nr, jc + nc - j0);
            var bp = bPack.AsSpan(bBase + jp * bStride, kc * nr);
            for (int ip = 0; ip < mPanels; ip++)
            {
                int i0 = ic + ip * MR;
                int h = Math.Min(MR, ic + mc - i0);
                var ap = aPack.AsSpan(aBase + ip * kc * MR, kc * MR);
                if (h == MR && w == nr && (Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated))
                {
                    // A full tile: the kernel adds alpha·A·B to C itself.
                    PackedTile(ap, bp, kc, ref c[cOff + i0 * ldc + j0], ldc, alpha, accumulate: !first);
                    if (last && !epi.IsNone)
                    {
                        for (int r = 0; r < MR; r++) epi.ApplyRow(c.AsSpan(cOff + (i0 + r) * ldc + j0, nr), i0 + r, j0);
                    }
                    continue;
                }
                var t = tile[..(MR * nr)];
                MicroKernel(ap, bp, kc, nr, t);
                for (int r = 0; r < h; r++)
                {
                    var crow = c.AsSpan(cOff + (i0 + r) * ldc + j0, w);
                    if (first) crow.Clear();
                    AxpyRow(alpha, t.Slice(r * nr, w), crow);
                    // The tile row is in L1 now: bias, residual and activation while it is hot.
                    if (last && !epi.IsNone) epi.ApplyRow(crow, i0 + r, j0);
                }
            }
        }
    }

    /// <summary>tile[MR×nr] = Apanel[kc×MR]ᵀ · Bpanel[kc×nr].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MicroKernel<T>(ReadOnlySpan<T> ap, ReadOnlySpan<T> bp, int kc, int nr, Span<T> tile)
        where T : unmanaged, INumber<T>
    {
        if (Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated)
        {
            PackedTile(ap, bp, kc, ref MemoryMarshal.GetReference(tile), nr, T.One, accumulate: false);
            return;
        }
        // NativeAOT's default x64 target (SSE4.2, no AVX) lands here: still vectorised, 4 floats wide.
        if (Vector128.IsHardwareAccelerated) { Kernel128(ap, bp, kc, tile); return; }
        tile.Clear();
        for (int p = 0; p < kc; p++)
        {
            for (int r = 0; r < MR; r++)
            {
                T av = ap[p * MR + r];
                for (int j = 0; j < nr; j++) tile[r * nr + j] += av * bp[p * nr + j];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma<T>(Vector512<T> a, Vector512<T> b, Vector512<T> c) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Vector512.FusedMultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.FusedMultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();
        return a * b + c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fma<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Vector256.FusedMultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.FusedMultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();
        return a * b + c;
    }

    /// <summary>
    /// The packed path's micro-kernel, defined once for both vector widths (<typeparamref name="V"/> = <see cref="Simd512{T}"/>
    /// or <see cref="Simd256{T}"/>): C[0..MR, 0..2w) += alpha · Apanel[kc×MR]ᵀ · Bpanel[kc×2w] (= alpha·… when not
    /// <paramref name="accumulate"/>), C's rows <paramref name="ldc"/> apart. A full tile is added to C by the kernel itself
    /// (no tile buffer, no second pass); an edge tile goes to a buffer (alpha = 1, not accumulating: the raw sums). 12
    /// accumulators, the two vectors of B and one broadcast of A: 15 of AVX2's 16 registers. The panels are walked by
    /// moving pointers: indexing them by p·MR and p·2w cost ~20 integer instructions per 12 FMAs on AVX2 (sign extensions
    /// and index arithmetic per broadcast, seen with <c>DOTNET_JitDisasm=Kernel256</c>), so the loop was issue-bound.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackedTile<T, V, TV>(ref T a, ref T b, int kc, ref T c, int ldc, T alpha, bool accumulate)
        where T : unmanaged, INumber<T> where V : struct, ISimd<TV, T> where TV : struct
    {
        int w = V.Count;
        nint bStep = 2 * w;
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        TV c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        // The tile of C is read when the sums are done: requested now, its lines arrive while the k loop runs. C's rows
        // are far apart (4 KB in a 1024-column C: every row of the tile in another page, out of the hardware
        // prefetcher's reach), and without this the kernel waited for ~12 lines from L3 or memory at the end of each
        // tile (sgemm_1024, 1 thread: ~+15 %, docs/performance.md "The packed GEMM, session 16").
        PrefetchTile(ref c, ldc, MR, 2 * w);
        for (int p = 0; p < kc; p++)
        {
            var b0 = V.Load(ref b, 0);
            var b1 = V.Load(ref b, (nuint)w);
            var v = V.Broadcast(a);
            c00 = V.MultiplyAdd(v, b0, c00); c01 = V.MultiplyAdd(v, b1, c01);
            v = V.Broadcast(Unsafe.Add(ref a, 1));
            c10 = V.MultiplyAdd(v, b0, c10); c11 = V.MultiplyAdd(v, b1, c11);
            v = V.Broadcast(Unsafe.Add(ref a, 2));
            c20 = V.MultiplyAdd(v, b0, c20); c21 = V.MultiplyAdd(v, b1, c21);
            v = V.Broadcast(Unsafe.Add(ref a, 3));
            c30 = V.MultiplyAdd(v, b0, c30); c31 = V.MultiplyAdd(v, b1, c31);
            v = V.Broadcast(Unsafe.Add(ref a, 4));
            c40 = V.MultiplyAdd(v, b0, c40); c41 = V.MultiplyAdd(v, b1, c41);
            v = V.Broadcast(Unsafe.Add(ref a, 5));
            c50 = V.MultiplyAdd(v, b0, c50); c51 = V.MultiplyAdd(v, b1, c51);
            a = ref Unsafe.Add(ref a, MR);
            b = ref Unsafe.Add(ref b, bStep);
        }
        var va = V.Broadcast(alpha);
        AddTile<T, V, TV>(ref c, va, accumulate, c00, c01, w);
        AddTile<T, V, TV>(ref Unsafe.Add(ref c, ldc), va, accumulate, c10, c11, w);
        AddTile<T, V, TV>(ref Unsafe.Add(ref c, 2 * ldc), va, accumulate, c20, c21, w);
        AddTile<T, V, TV>(ref Unsafe.Add(ref c, 3 * ldc), va, accumulate, c30, c31, w);
        AddTile<T, V, TV>(ref Unsafe.Add(ref c, 4 * ldc), va, accumulate, c40, c41, w);
        AddTile<T, V, TV>(ref Unsafe.Add(ref c, 5 * ldc), va, accumulate, c50, c51, w);
    }

    /// <summary>Requests the lines of the <paramref name="rows"/> × <paramref name="width"/> tile of C at <paramref name="c"/> (rows <paramref name="ldc"/> apart) into L1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void PrefetchTile<T>(ref T c, int ldc, int rows, int width) where T : unmanaged
    {
        if (!Sse.IsSupported) return;
        byte* row = (byte*)Unsafe.AsPointer(ref c);
        nint rowBytes = (nint)ldc * Unsafe.SizeOf<T>(), last = (nint)width * Unsafe.SizeOf<T>() - 1;
        for (int r = 0; r < rows; r++, row += rowBytes)
        {
            for (nint o = 0; o < last; o += 64) Sse.Prefetch0(row + o);
            Sse.Prefetch0(row + last);
        }
    }

    /// <summary><see cref="PackedTile{T, V, TV}"/> at the widest vectors the machine has (AVX-512, else AVX2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PackedTile<T>(ReadOnlySpan<T> ap, ReadOnlySpan<T> bp, int kc, ref T c, int ldc, T alpha, bool accumulate)
        where T : unmanaged, INumber<T>
    {
        ref T a = ref MemoryMarshal.GetReference(ap);
        ref T b = ref MemoryMarshal.GetReference(bp);
        if (Vector512.IsHardwareAccelerated) PackedTile<T, Simd512<T>, Vector512<T>>(ref a, ref b, kc, ref c, ldc, alpha, accumulate);
        else PackedTile<T, Simd256<T>, Vector256<T>>(ref a, ref b, kc, ref c, ldc, alpha, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel128<T>(ReadOnlySpan<T> ap, ReadOnlySpan<T> bp, int kc, Span<T> tile) where T : unmanaged
    {
        int W = Vector128<T>.Count;
        int nr = 2 * W;
        ref T a = ref MemoryMarshal.GetReference(ap);
        ref T b = ref MemoryMarshal.GetReference(bp);
        Vector128<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector128<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector128.LoadUnsafe(ref b, (nuint)(p * nr));
            var b1 = Vector128.LoadUnsafe(ref b, (nuint)(p * nr + W));
            int ai = p * MR;
            var a0 = Vector128.Create(Unsafe.Add(ref a, ai));
            c00 = MulAdd(a0, b0, c00); c01 = MulAdd(a0, b1, c01);
            var a1 = Vector128.Create(Unsafe.Add(ref a, ai + 1));
            c10 = MulAdd(a1, b0, c10); c11 = MulAdd(a1, b1, c11);
            var a2 = Vector128.Create(Unsafe.Add(ref a, ai + 2));
            c20 = MulAdd(a2, b0, c20); c21 = MulAdd(a2, b1, c21);
            var a3 = Vector128.Create(Unsafe.Add(ref a, ai + 3));
            c30 = MulAdd(a3, b0, c30); c31 = MulAdd(a3, b1, c31);
            var a4 = Vector128.Create(Unsafe.Add(ref a, ai + 4));
            c40 = MulAdd(a4, b0, c40); c41 = MulAdd(a4, b1, c41);
            var a5 = Vector128.Create(Unsafe.Add(ref a, ai + 5));
            c50 = MulAdd(a5, b0, c50); c51 = MulAdd(a5, b1, c51);
        }
        ref T t = ref MemoryMarshal.GetReference(tile);
        c00.StoreUnsafe(ref t, 0); c01.StoreUnsafe(ref t, (nuint)W);
        c10.StoreUnsafe(ref t, (nuint)nr); c11.StoreUnsafe(ref t, (nuint)(nr + W));
        c20.StoreUnsafe(ref t, (nuint)(2 * nr)); c21.StoreUnsafe(ref t, (nuint)(2 * nr + W));
        c30.StoreUnsafe(ref t, (nuint)(3 * nr)); c31.StoreUnsafe(ref t, (nuint)(3 * nr + W));
        c40.StoreUnsafe(ref t, (nuint)(4 * nr)); c41.StoreUnsafe(ref t, (nuint)(4 * nr + W));
        c50.StoreUnsafe(ref t, (nuint)(5 * nr)); c51.StoreUnsafe(ref t, (nuint)(5 * nr + W));
    }

    /// <summary>a·b + c for the 128-bit kernel: a multiply and an add (the baseline x64 target has no FMA instruction, and a
    /// software-emulated fused multiply-add would be far slower).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<T> MulAdd<T>(Vector128<T> a, Vector128<T> b, Vector128<T> c) where T : unmanaged => a * b + c;
}
