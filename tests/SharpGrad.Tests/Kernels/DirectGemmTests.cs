using SharpGrad;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The direct (unpacked) GEMM path of training-sized products — the 4×4 dot-product blocks of x·Wᵀ, the 8-row (6 with
/// AVX2) broadcast tiles of op(A)·B, their edges and k tails, the split over column ranges on the worker pool — against the
/// naive triple loop in double, on odd sizes, all four transpose combinations, leading dimensions larger than the rows
/// and non-zero offsets.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class DirectGemmTests
{
    public static IEnumerable<object[]> Shapes()
    {
        // rows: below one block, blocks plus an edge; columns: edges of 4 and of two vectors; k: below one vector, a vector
        // plus a tail (the masked last vector), several k-blocks of the broadcast kernel (256)
        int[] ms = [5, 8, 13, 64, 67];
        int[] ns = [4, 7, 33, 100];
        int[] ks = [3, 16, 17, 63, 300];
        int i = 0;
        foreach (var m in ms)
            foreach (var n in ns)
                foreach (var k in ks)
                    if (i++ % 3 == 0 || m == 67) yield return [m, n, k];
        // the MLP's training products (forward, input gradient, weight gradient) and the CNN's per-sample convolutions
        yield return [64, 256, 784];
        yield return [64, 784, 256];
        yield return [256, 784, 64];
        yield return [32, 196, 144];
        yield return [16, 784, 9];
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void SgemmMatchesNaive(int m, int n, int k)
    {
        foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            var rng = new Rng(m * 10007 + n * 101 + k);
            int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;
            int aOff = 4, bOff = 1, cOff = 6;
            var a = SmallGemmTests.Random(aOff + (ta ? k : m) * lda, rng);
            var b = SmallGemmTests.Random(bOff + (tb ? n : k) * ldb, rng);
            var c = SmallGemmTests.Random(cOff + m * ldc, rng);
            var expected = (float[])c.Clone();
            SmallGemmTests.Naive(ta, tb, m, n, k, 0.75f, a, aOff, lda, b, bOff, ldb, -0.5f, expected, cOff, ldc);
            Gemm.Sgemm(ta, tb, m, n, k, 0.75f, a, aOff, lda, b, bOff, ldb, -0.5f, c, cOff, ldc);
            // float32 sums of up to 784 products of size ≤ 1; the whole of C is compared (the gaps between rows must stay).
            TensorAssert.Close(expected, c, 1e-4, 1e-4, $"sgemm m={m} n={n} k={k} transA={ta} transB={tb}");
        }
    }

    /// <summary>
    /// β = 0 on the direct path writes C without clearing it first (the full tiles store, the edges and leftover rows are
    /// cleared and added to): C filled with NaN must come out as the product, with the gaps between rows untouched, on
    /// every shape above and on 1–3 threads (the split ranges clear only their own columns).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void BetaZeroOverwritesWhatCHeld(int threads)
    {
        int saved = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = threads;
            foreach (var shape in Shapes().Append([67, 300, 300]).Append([64, 130, 600]))
            {
                int m = (int)shape[0], n = (int)shape[1], k = (int)shape[2];
                foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
                {
                    var rng = new Rng(m * 31 + n * 7 + k + threads);
                    int lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 3;
                    var a = SmallGemmTests.Random((ta ? k : m) * lda, rng);
                    var b = SmallGemmTests.Random((tb ? n : k) * ldb, rng);
                    var c = new float[m * ldc];
                    Array.Fill(c, float.NaN);
                    var expected = (float[])c.Clone();
                    for (int i = 0; i < m; i++) Array.Clear(expected, i * ldc, n);
                    SmallGemmTests.Naive(ta, tb, m, n, k, 1.5f, a, 0, lda, b, 0, ldb, 1f, expected, 0, ldc);
                    Gemm.Sgemm(ta, tb, m, n, k, 1.5f, a, 0, lda, b, 0, ldb, 0f, c, 0, ldc);
                    for (int i = 0; i < m; i++)
                        for (int j = n; j < ldc && i * ldc + j < c.Length; j++)
                            Assert.True(float.IsNaN(c[i * ldc + j]), $"the gap after row {i} was written (m={m} n={n} k={k})");
                    var rows = Enumerable.Range(0, m).SelectMany(i => c.Skip(i * ldc).Take(n)).ToArray();
                    var want = Enumerable.Range(0, m).SelectMany(i => expected.Skip(i * ldc).Take(n)).ToArray();
                    TensorAssert.Close(want, rows, 1e-4, 1e-4, $"beta=0 threads={threads} m={m} n={n} k={k} transA={ta} transB={tb}");
                }
            }
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ColumnRangesOnTheWorkerPoolMatchNaive(int threads)
    {
        int saved = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = threads;
            foreach (var (m, n, k) in new[] { (64, 257, 300), (67, 300, 230) }) // above the 8 MFLOP of a split
            {
                foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true) })
                {
                    var rng = new Rng(threads * 7 + m + n);
                    int lda = ta ? m : k, ldb = tb ? k : n;
                    var a = SmallGemmTests.Random((ta ? k : m) * lda, rng);
                    var b = SmallGemmTests.Random((tb ? n : k) * ldb, rng);
                    var bias = SmallGemmTests.Random(n, rng);
                    var c = new float[m * n];
                    var expected = new float[m * n];
                    SmallGemmTests.Naive(ta, tb, m, n, k, 1f, a, 0, lda, b, 0, ldb, 0f, expected, 0, n);
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < n; j++) expected[i * n + j] = Math.Max(0, expected[i * n + j] + bias[j]);
                    Gemm.Sgemm(ta, tb, m, n, k, 1f, a, 0, lda, b, 0, ldb, 0f, c, 0, n, new GemmEpilogue(bias, activation: GemmActivation.Relu));
                    TensorAssert.Close(expected, c, 1e-4, 1e-4, $"threads={threads} m={m} n={n} k={k} transA={ta} transB={tb}");
                }
            }
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }

    [Theory]
    [InlineData(17)]
    [InlineData(31)]
    [InlineData(40)]
    public void InfinityInTheOverlapOfTheLastVectorStaysInfinity(int k)
    {
        // The dot kernel's last vector ends at k and overlaps elements already summed; they are masked in both operands, so
        // an infinity there counts once (inf, not inf·0 = NaN) — and a NaN elsewhere still propagates.
        int m = 4, n = 4;
        var a = new float[m * k];
        var b = new float[n * k];
        Array.Fill(a, 1f);
        Array.Fill(b, 0.5f);
        b[1 * k + k - 16 + 1] = float.PositiveInfinity;   // in the overlap of the last vector for row 1 of B (Vector512 and 256)
        b[2 * k + 0] = float.NaN;
        var c = new float[m * n];
        Gemm.Sgemm(false, true, m, n, k, 1f, a, 0, k, b, 0, k, 0f, c, 0, n);
        for (int i = 0; i < m; i++)
        {
            Assert.Equal(0.5f * k, c[i * n + 0], 1e-3);
            Assert.Equal(float.PositiveInfinity, c[i * n + 1]);
            Assert.True(float.IsNaN(c[i * n + 2]), $"row {i}: a NaN in B must give NaN, got {c[i * n + 2]}");
            Assert.Equal(0.5f * k, c[i * n + 3], 1e-3);
        }
    }
    [Theory]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(37)]
    [InlineData(300)]
    public void BothVectorWidthsOfTheMicroKernelsMatchNaive(int k)
    {
        // The one generic definition of each micro-kernel, instantiated for 512- and 256-bit vectors (both run anywhere: a
        // width the machine lacks is emulated), on a strided tile with an offset, accumulating and overwriting.
        CheckDot<Gemm.Simd512<float>, System.Runtime.Intrinsics.Vector512<float>>(k);
        CheckDot<Gemm.Simd256<float>, System.Runtime.Intrinsics.Vector256<float>>(k);
        foreach (bool accumulate in new[] { true, false })
        {
            CheckAxpy<Gemm.Simd512<float>, System.Runtime.Intrinsics.Vector512<float>>(k, accumulate);
            CheckAxpy<Gemm.Simd256<float>, System.Runtime.Intrinsics.Vector256<float>>(k, accumulate);
            CheckPacked<float, Gemm.Simd512<float>, System.Runtime.Intrinsics.Vector512<float>>(k, accumulate);
            CheckPacked<float, Gemm.Simd256<float>, System.Runtime.Intrinsics.Vector256<float>>(k, accumulate);
            CheckPacked<double, Gemm.Simd512<double>, System.Runtime.Intrinsics.Vector512<double>>(k, accumulate);
            CheckPacked<double, Gemm.Simd256<double>, System.Runtime.Intrinsics.Vector256<double>>(k, accumulate);
        }
    }

    /// <summary>
    /// The packed path's micro-kernel (<c>Gemm.PackedTile</c>: a 6-row × 2-vector tile of packed panels added to a strided
    /// C, or stored) at one width, against the naive sum in double; the row after the tile and the columns after its
    /// two vectors must stay as they are.
    /// </summary>
    private static void CheckPacked<T, V, TV>(int k, bool accumulate)
        where T : unmanaged, System.Numerics.INumber<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        var rng = new Rng(k * 41 + V.Count + (accumulate ? 1 : 0));
        int rows = 6, w2 = 2 * V.Count, ldc = w2 + 3;
        var ap = SmallGemmTests.Random(k * rows, rng).Select(T.CreateChecked).ToArray();   // panel: p, then row
        var bp = SmallGemmTests.Random(k * w2, rng).Select(T.CreateChecked).ToArray();     // panel: p, then column
        var c = SmallGemmTests.Random((rows + 1) * ldc, rng).Select(T.CreateChecked).ToArray();
        var expected = c.Select(double.CreateChecked).ToArray();
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < w2; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++) sum += double.CreateChecked(ap[p * rows + r]) * double.CreateChecked(bp[p * w2 + j]);
                expected[r * ldc + j] = -0.75 * sum + (accumulate ? expected[r * ldc + j] : 0);
            }
        Gemm.PackedTile<T, V, TV>(ref ap[0], ref bp[0], k, ref c[0], ldc, T.CreateChecked(-0.75), accumulate);
        TensorAssert.Close(expected, c.Select(double.CreateChecked).ToArray(), 1e-4, 1e-4,
            $"PackedTile<{typeof(T).Name}> with {V.Count}-element vectors, k={k}, accumulate={accumulate}");
    }

    /// <summary>
    /// The packed path (m·n·k above the direct path's limit) on 1–3 threads: B's panels packed by the workers in parts
    /// (a last part with fewer panels and a partial panel), the row blocks split, both transposes of B, against the naive
    /// triple loop in double.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void PackedPathOnTheWorkerPoolMatchesNaive(int threads)
    {
        int saved = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = threads;
            foreach (var (m, n, k) in new[] { (131, 263, 517), (250, 301, 300) })
            {
                foreach (var (ta, tb) in new[] { (false, false), (true, true), (false, true) })
                {
                    var rng = new Rng(threads * 13 + m + n + (tb ? 1 : 0));
                    int lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 3;
                    var a = SmallGemmTests.Random((ta ? k : m) * lda, rng);
                    var b = SmallGemmTests.Random((tb ? n : k) * ldb, rng);
                    var c = SmallGemmTests.Random(m * ldc, rng);
                    var expected = (float[])c.Clone();
                    SmallGemmTests.Naive(ta, tb, m, n, k, 0.5f, a, 0, lda, b, 0, ldb, 1f, expected, 0, ldc);
                    Gemm.Sgemm(ta, tb, m, n, k, 0.5f, a, 0, lda, b, 0, ldb, 1f, c, 0, ldc);
                    TensorAssert.Close(expected, c, 2e-4, 2e-4, $"threads={threads} m={m} n={n} k={k} transA={ta} transB={tb}");
                }
            }
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }

    private static void CheckDot<V, TV>(int k) where V : struct, Gemm.ISimd<TV, float> where TV : struct
    {
        var rng = new Rng(k * 31 + V.Count);
        int ldx = k + 3, ldy = k + 1, ldc = 7, off = 2;
        var x = SmallGemmTests.Random(4 * ldx, rng);
        var y = SmallGemmTests.Random(off + 4 * ldy, rng);
        var c = SmallGemmTests.Random(4 * ldc, rng);
        var expected = (float[])c.Clone();
        for (int r = 0; r < 4; r++)
            for (int q = 0; q < 4; q++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++) sum += (double)x[r * ldx + p] * y[off + q * ldy + p];
                expected[r * ldc + q] += (float)(0.5 * sum);
            }
        Gemm.Dot4x4<float, Gemm.StridedRows, V, TV>(ref x[0], ldx, ref y[off], new Gemm.StridedRows(ldy), 0, k, 0.5f, ref c[0], ldc);
        TensorAssert.Close(expected, c, 1e-4, 1e-4, $"Dot4x4 with {V.Count}-float vectors, k={k}");
    }

    private static void CheckAxpy<V, TV>(int k, bool accumulate) where V : struct, Gemm.ISimd<TV, float> where TV : struct
    {
        var rng = new Rng(k * 37 + V.Count);
        int rows = V.AxpyRows, w2 = 2 * V.Count, lda = k + 2, ldb = w2 + 5, ldc = w2 + 3;
        var a = SmallGemmTests.Random(rows * lda, rng);
        var b = SmallGemmTests.Random(1 + k * ldb, rng);
        var c = SmallGemmTests.Random((rows + 1) * ldc, rng);   // the row after the tile must stay as it is
        var expected = (float[])c.Clone();
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < w2; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++) sum += (double)a[r * lda + p] * b[1 + p * ldb + j];
                expected[r * ldc + j] = (float)(0.75 * sum) + (accumulate ? c[r * ldc + j] : 0f);
            }
        Gemm.AxpyTile<float, Gemm.StridedRows, V, TV>(ref a[0], lda, 1, ref b[1], new Gemm.StridedRows(ldb), 0, k, 0.75f, ref c[0], ldc, accumulate);
        TensorAssert.Close(expected, c, 1e-4, 1e-4, $"AxpyTile with {V.Count}-float vectors, k={k}, accumulate={accumulate}");
    }

    /// <summary>
    /// x·Wᵀ with a contiguous x of 32…256 rows, W of ≥ 64 rows and k ≥ 512 (a layer's training forward) runs as (W·xᵀ)ᵀ on the
    /// broadcast kernel (Gemm.Direct.cs, <c>Transposed</c>): odd sizes around its bounds and the kernels' blocks, W strided
    /// with an offset, C strided with an offset, β = 0 over NaN (overwritten, the gaps between C's rows untouched) and
    /// β ≠ 0 (added to), with and without a bias + ReLU epilogue, on 1–3 threads (the split over W's rows), against the
    /// naive triple loop in double. (Also the transA·transB case, which gathers A's columns into contiguous rows first.)
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void TransposedProductOfAFewRowsTimesWTransposedMatchesNaive(int threads)
    {
        int saved = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = threads;
            foreach (var (m, n, k) in new[] { (32, 64, 512), (33, 65, 513), (45, 77, 600), (64, 256, 784), (67, 129, 700), (100, 257, 530), (256, 64, 520), (31, 100, 600), (64, 63, 600), (64, 100, 511), (257, 64, 512),
                (64, 128, 256), (33, 65, 257), (45, 70, 255), (39, 129, 300) })
            {
                foreach (var (beta, epilogue, transA) in new[] { (0f, false, false), (-0.5f, false, false), (0f, true, false), (1f, true, false), (0f, false, true) })
                {
                    var rng = new Rng(m * 131 + n * 17 + k + threads + (int)(beta * 4) + (epilogue ? 1000 : 0));
                    int lda = transA ? m : k, ldb = k + 2, ldc = n + 3;
                    int aOff = transA ? 0 : 5, bOff = 3, cOff = 2;
                    var a = SmallGemmTests.Random(aOff + (transA ? k : m) * lda, rng);
                    var b = SmallGemmTests.Random(bOff + n * ldb, rng);
                    var bias = SmallGemmTests.Random(n, rng);
                    var c = SmallGemmTests.Random(cOff + m * ldc, rng);
                    if (beta == 0) Array.Fill(c, float.NaN);
                    var expected = (float[])c.Clone();
                    if (beta == 0)
                        for (int i = 0; i < m; i++) Array.Clear(expected, cOff + i * ldc, n);
                    SmallGemmTests.Naive(transA, true, m, n, k, 0.75f, a, aOff, lda, b, bOff, ldb, beta == 0 ? 1f : beta, expected, cOff, ldc);
                    if (epilogue)
                        for (int i = 0; i < m; i++)
                            for (int j = 0; j < n; j++) expected[cOff + i * ldc + j] = Math.Max(0, expected[cOff + i * ldc + j] + bias[j]);
                    if (epilogue) Gemm.Sgemm(transA, true, m, n, k, 0.75f, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc, new GemmEpilogue(bias, activation: GemmActivation.Relu));
                    else Gemm.Sgemm(transA, true, m, n, k, 0.75f, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
                    string what = $"threads={threads} m={m} n={n} k={k} beta={beta} epilogue={epilogue} transA={transA}";
                    for (int i = 0; i < m; i++)
                        for (int j = n; j < ldc && cOff + i * ldc + j < c.Length; j++)
                            Assert.True(c[cOff + i * ldc + j].Equals(expected[cOff + i * ldc + j]), $"the gap after row {i} was written ({what})");
                    Assert.True(c.AsSpan(0, cOff).SequenceEqual(expected.AsSpan(0, cOff)), $"C before its offset was written ({what})");
                    TensorAssert.Close(expected, c, 1e-4, 1e-4, what);
                }
            }
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }

    /// <summary>
    /// The broadcast kernel's strips of B copied contiguous before the row tiles (<c>DirectAxpy</c>, ≥ 4 full tiles) keep the
    /// chains: at the transformer layer's shapes (forward x·(Wᵀ) in 256-row blocks, input gradients g·W, the narrow weight
    /// gradient gᵀ·x; leading dimensions that are multiples of L1's way size) and odd ones, the direct path's C equals the
    /// packed path's bit for bit (both chain each element over k in order, restarted every 256 terms, each block added to C)
    /// where the paths share their chains: one k-block, or whole row tiles, or AVX2's tail tile; within rounding elsewhere.
    /// </summary>
    [Theory]
    [InlineData(false, 256, 384, 128)]
    [InlineData(false, 256, 512, 128)]
    [InlineData(false, 256, 128, 512)]
    [InlineData(false, 1024, 128, 128)]
    [InlineData(false, 336, 128, 384)]
    [InlineData(true, 128, 128, 1024)]
    [InlineData(true, 67, 100, 300)]
    [InlineData(false, 31, 48, 700)]
    [InlineData(false, 23, 64, 40)]
    public void CopiedStripsEqualThePackedPath(bool transA, int m, int n, int k)
    {
        var rng = new Rng(m * 13 + n * 7 + k + (transA ? 1 : 0));
        int lda = transA ? m : k;
        var a = SmallGemmTests.Random(3 + m * k, rng);
        var b = SmallGemmTests.Random(5 + k * n, rng);
        var c0 = SmallGemmTests.Random(2 + m * n, rng);
        int mr = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? 8 : 6;
        bool sameBits = (k <= 256 || m % mr == 0 || mr == 6) && n % (2 * (mr == 8 ? 16 : 8)) == 0;
        foreach (bool accumulate in new[] { true, false })
        {
            var expected = (float[])c0.Clone();
            var actual = (float[])c0.Clone();
            if (!accumulate) Array.Fill(actual, float.NaN, 2, m * n);
            Gemm.SgemmPacked(transA, m, n, k, a, 3, lda, b, 5, n, expected, 2, n, accumulate);
            Gemm.Sgemm(transA, false, m, n, k, 1f, a, 3, lda, b, 5, n, accumulate ? 1f : 0f, actual, 2, n);
            for (int i = 0; i < expected.Length; i++)
            {
                bool ok = sameBits ? BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i])
                    : Math.Abs(expected[i] - actual[i]) <= 1e-4 * (1 + Math.Abs(expected[i]));
                Assert.True(ok, $"transA={transA} m={m} n={n} k={k} accumulate={accumulate}: C[{i}] direct {actual[i]:R}, packed {expected[i]:R}");
            }
        }
    }

    /// <summary>
    /// The direct broadcast path applies the epilogue to each full tile as it is finished (<c>Epi.ApplyTile</c>) and to its
    /// edges after: bit for bit the product followed by the epilogue written out element by element (bias, residual, ReLU), with
    /// NaN and negative values in the residual for the ReLU, bias and residual alone or together, on 1 and 2 threads.
    /// </summary>
    [Theory]
    [InlineData(256, 384, 128)]
    [InlineData(256, 128, 512)]
    [InlineData(67, 100, 300)]
    [InlineData(13, 37, 17)]
    [InlineData(48, 33, 64)]
    public void EpilogueOnTheTilesEqualsTheEpilogueAfter(int m, int n, int k)
    {
        int saved = Parallelism.MaxThreads;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                Parallelism.MaxThreads = threads;
                foreach (bool transA in new[] { false, true })
                    foreach (var (useBias, useResidual, relu) in new[] { (true, false, true), (true, true, false), (false, true, true), (false, false, true) })
                    {
                        var rng = new Rng(m + n * 3 + k * 5 + (transA ? 7 : 0) + threads);
                        int lda = (transA ? m : k) + 1, ldb = n + 2, ldc = n + 3, resLd = n + 1;
                        var a = SmallGemmTests.Random((transA ? k : m) * lda, rng);
                        var b = SmallGemmTests.Random(k * ldb, rng);
                        var bias = useBias ? SmallGemmTests.Random(n + 2, rng) : null;
                        var residual = useResidual ? SmallGemmTests.Random(4 + m * resLd, rng) : null;
                        if (residual is not null) residual[4 + (m / 2) * resLd + n / 2] = float.NaN;
                        var epilogue = new GemmEpilogue(bias, 2, residual, 4, resLd, relu ? GemmActivation.Relu : GemmActivation.None);
                        var expected = new float[m * ldc];
                        var actual = new float[m * ldc];
                        Array.Fill(actual, float.NaN);
                        Gemm.Sgemm(transA, false, m, n, k, 1f, a, 0, lda, b, 0, ldb, 0f, expected, 0, ldc);
                        // the epilogue written out (bias, residual, ReLU keeping NaN, as torch.relu), not the kernel's own pass
                        for (int i = 0; i < m; i++)
                            for (int j = 0; j < n; j++)
                            {
                                float e = expected[i * ldc + j];
                                if (bias is not null) e += bias[2 + j];
                                if (residual is not null) e += residual[4 + i * resLd + j];
                                if (relu && e < 0f) e = 0f;
                                expected[i * ldc + j] = e;
                            }
                        Gemm.Sgemm(transA, false, m, n, k, 1f, a, 0, lda, b, 0, ldb, 0f, actual, 0, ldc, epilogue);
                        for (int i = 0; i < m; i++)
                            for (int j = 0; j < n; j++)
                            {
                                float e = expected[i * ldc + j], g = actual[i * ldc + j];
                                Assert.True(BitConverter.SingleToInt32Bits(e) == BitConverter.SingleToInt32Bits(g),
                                    $"threads={threads} transA={transA} m={m} n={n} k={k} bias={useBias} residual={useResidual} relu={relu}: C[{i}, {j}] {g:R}, the product then the epilogue {e:R}");
                            }
                    }
            }
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }
}
