using SharpGrad;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Nn;

/// <summary>The GEMM kernel and MatMul against naive triple loops, on odd sizes and layouts.</summary>
public class GemmKernelTests
{
    private static double[] Random(int n, Rng rng)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = rng.NextDouble() * 2 - 1;
        return v;
    }

    /// <summary>C = alpha·op(A)·op(B) + beta·C, the definition, in double (beta = 0: C's old values, NaN included, are not read, as in BLAS).</summary>
    internal static void Naive(bool ta, bool tb, int m, int n, int k, double alpha, double[] a, int aOff, int lda, double[] b, int bOff, int ldb,
        double beta, double[] c, int cOff, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                {
                    double av = ta ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                    double bv = tb ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
                    s += av * bv;
                }
                c[cOff + i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * c[cOff + i * ldc + j]);
            }
        }
    }

    public static IEnumerable<object[]> Sizes()
    {
        int[] sizes = [1, 3, 17, 63, 129];
        var rng = new Rng(3);
        foreach (var m in sizes)
            foreach (var n in sizes)
                foreach (var k in sizes)
                {
                    // all m×n×k combinations would be 125 × 4 cases; keep every size in every role, with a deterministic subsample.
                    if ((m * 7 + n * 3 + k) % 4 != 0 && !(m == n && n == k)) continue;
                    yield return [m, n, k, rng.NextInt(4)];
                }
    }

    /// <summary>Matrix–vector shapes (m = 1 or n = 1), which take the unpacked path.</summary>
    public static IEnumerable<object[]> VectorSizes() =>
    [
        [1, 129, 63, 0], [1, 17, 129, 1], [1, 63, 17, 2], [63, 1, 129, 3], [129, 1, 17, 0], [17, 1, 63, 2], [1, 1, 129, 1],
    ];

    [Theory]
    [MemberData(nameof(Sizes))]
    [MemberData(nameof(VectorSizes))]
    public void DgemmMatchesNaive(int m, int n, int k, int variant)
    {
        foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            var rng = new Rng(m * 1000 + n * 10 + k);
            // leading dims larger than needed and non-zero offsets
            int pad = variant + 1;
            int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + 2 * pad, ldc = n + 3;
            int aOff = 5, bOff = 2, cOff = 7;
            var a = Random(aOff + (ta ? k : m) * lda, rng);
            var b = Random(bOff + (tb ? n : k) * ldb, rng);
            var c = Random(cOff + m * ldc, rng);
            var expected = (double[])c.Clone();
            double alpha = variant == 0 ? 1 : 0.75, beta = variant switch { 0 => 0, 1 => 1, _ => -0.5 };
            Naive(ta, tb, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, expected, cOff, ldc);
            Gemm.Dgemm(ta, tb, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
            TensorAssert.Close(expected, c, 1e-12, 1e-12, $"dgemm m={m} n={n} k={k} transA={ta} transB={tb}");
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    [MemberData(nameof(VectorSizes))]
    public void SgemmMatchesNaive(int m, int n, int k, int variant)
    {
        foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            var rng = new Rng(m * 1000 + n * 10 + k + 1);
            int lda = (ta ? m : k) + variant, ldb = (tb ? k : n) + 1, ldc = n;
            var a = Random((ta ? k : m) * lda, rng);
            var b = Random((tb ? n : k) * ldb, rng);
            var c = Random(m * ldc, rng);
            var expected = (double[])c.Clone();
            Naive(ta, tb, m, n, k, 1.5, a, 0, lda, b, 0, ldb, 0.5, expected, 0, ldc);
            var cf = c.Select(v => (float)v).ToArray();
            Gemm.Sgemm(ta, tb, m, n, k, 1.5f, a.Select(v => (float)v).ToArray(), 0, lda, b.Select(v => (float)v).ToArray(), 0, ldb, 0.5f, cf, 0, ldc);
            // float32 dot products of up to 129 terms of size ≤ 1: 1e-4 absolute.
            TensorAssert.Close(expected, cf.Select(v => (double)v).ToArray(), 1e-4, 1e-4, $"sgemm m={m} n={n} k={k} transA={ta} transB={tb}");
        }
    }

    /// <summary>
    /// Shapes past the direct path's size limit (m·n·k &gt; 2^24): the packed path (full 6-row tiles written to C by the
    /// kernel, edge tiles through its buffer, both packings of A) and the narrow direct path (n ≤ 128 without transB: an
    /// LSTM's input and weight gradients), each with offsets, padded leading dimensions, alpha and beta.
    /// </summary>
    [Theory]
    [InlineData(131, 263, 517)]
    [InlineData(700, 67, 390)]
    [InlineData(1121, 64, 257)]
    public void LargeShapesMatchNaive(int m, int n, int k)
    {
        foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            var rng = new Rng(m + n + k);
            int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
            int aOff = 4, bOff = 1, cOff = 3;
            // Inputs that are exact in float, so the float and double products see the same operands.
            var a = Random(aOff + (ta ? k : m) * lda, rng).Select(v => (double)(float)v).ToArray();
            var b = Random(bOff + (tb ? n : k) * ldb, rng).Select(v => (double)(float)v).ToArray();
            var c = Random(cOff + m * ldc, rng).Select(v => (double)(float)v).ToArray();
            var expected = (double[])c.Clone();
            Naive(ta, tb, m, n, k, 0.75, a, aOff, lda, b, bOff, ldb, -0.5, expected, cOff, ldc);
            var cd = (double[])c.Clone();
            Gemm.Dgemm(ta, tb, m, n, k, 0.75, a, aOff, lda, b, bOff, ldb, -0.5, cd, cOff, ldc);
            TensorAssert.Close(expected, cd, 1e-12, 1e-12, $"dgemm m={m} n={n} k={k} transA={ta} transB={tb}");
            var cf = c.Select(v => (float)v).ToArray();
            Gemm.Sgemm(ta, tb, m, n, k, 0.75f, a.Select(v => (float)v).ToArray(), aOff, lda, b.Select(v => (float)v).ToArray(), bOff, ldb, -0.5f, cf, cOff, ldc);
            // float32 sums of up to 517 products of size ≤ 1.
            TensorAssert.Close(expected, cf.Select(v => (double)v).ToArray(), 2e-4, 2e-4, $"sgemm m={m} n={n} k={k} transA={ta} transB={tb}");
        }
    }

    [Fact]
    public void BetaZeroOverwritesNaN()
    {
        var a = new double[] { 1, 2, 3, 4 };
        var b = new double[] { 1, 0, 0, 1 };
        var c = new double[] { double.NaN, double.NaN, double.NaN, double.NaN };
        Gemm.Dgemm(false, false, 2, 2, 2, 1, a, 0, 2, b, 0, 2, 0, c, 0, 2);
        Assert.Equal(a, c);
    }

    [Fact]
    public void LargeParallelProblemMatchesNaive()
    {
        // 200×150×300 is 18 MFLOP: split over cores.
        int m = 200, n = 150, k = 300;
        var rng = new Rng(11);
        var a = Random(m * k, rng);
        var b = Random(k * n, rng);
        var c = new double[m * n];
        var expected = new double[m * n];
        Naive(false, true, m, n, k, 1, a, 0, k, b, 0, k, 0, expected, 0, n);
        Gemm.Dgemm(false, true, m, n, k, 1, a, 0, k, b, 0, k, 0, c, 0, n);
        TensorAssert.Close(expected, c, 1e-12, 1e-12, "parallel dgemm");
    }

    [Fact]
    public void BadLeadingDimensionIsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 2, 3, 1, new float[6], 0, 2, new float[6], 0, 2, 0, new float[4], 0, 2));
        Assert.Contains("lda", ex.Message);
    }

    // ---------------- MatMul on tensors ----------------

    /// <summary>The definition of batched, broadcast matmul on [..., m, k] × [..., k, n], via per-element loops on double arrays.</summary>
    private static Tensor NaiveMatMul(Tensor a, Tensor b)
    {
        var sa = a.Shape;
        var sb = b.Shape;
        int m = sa[^2], k = sa[^1], n = sb[^1];
        var batch = BroadcastShape(sa[..^2], sb[..^2]);
        int count = batch.Aggregate(1, (x, y) => x * y);
        var ad = a.Contiguous().ToDoubleArray();
        var bd = b.Contiguous().ToDoubleArray();
        var result = new double[count * m * n];
        var idx = new int[batch.Length];
        for (int bi = 0; bi < count; bi++)
        {
            int offA = BatchOffset(idx, sa[..^2], batch) * m * k;
            int offB = BatchOffset(idx, sb[..^2], batch) * k * n;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += ad[offA + i * k + p] * bd[offB + p * n + j];
                    result[bi * m * n + i * n + j] = s;
                }
            for (int d = batch.Length - 1; d >= 0; d--)
            {
                if (++idx[d] < batch[d]) break;
                idx[d] = 0;
            }
        }
        return Tensor.FromArray(result, [.. batch, m, n]);
    }

    private static int[] BroadcastShape(int[] a, int[] b)
    {
        int r = Math.Max(a.Length, b.Length);
        var s = new int[r];
        for (int i = 0; i < r; i++)
        {
            int x = i - (r - a.Length) >= 0 ? a[i - (r - a.Length)] : 1;
            int y = i - (r - b.Length) >= 0 ? b[i - (r - b.Length)] : 1;
            s[i] = Math.Max(x, y);
        }
        return s;
    }

    private static int BatchOffset(int[] idx, int[] shape, int[] batch)
    {
        int off = 0;
        int lead = batch.Length - shape.Length;
        for (int d = 0; d < shape.Length; d++) off = off * shape[d] + (shape[d] == 1 ? 0 : idx[d + lead]);
        return off;
    }

    [Theory]
    [InlineData(new[] { 3, 17 }, new[] { 17, 5 })]
    [InlineData(new[] { 2, 1, 4, 6 }, new[] { 3, 6, 63 })]
    [InlineData(new[] { 5, 3, 7 }, new[] { 7, 2 })]
    [InlineData(new[] { 1, 9 }, new[] { 4, 9, 1 })]
    [InlineData(new[] { 2, 3, 0 }, new[] { 0, 4 })]
    public void MatMulMatchesNaive(int[] shapeA, int[] shapeB)
    {
        var rng = new Rng(5);
        var a = Tensor.Randn(shapeA, DType.Float64, rng: rng);
        var b = Tensor.Randn(shapeB, DType.Float64, rng: rng);
        var y = a.MatMul(b);
        var expected = NaiveMatMul(a, b);
        Assert.Equal(expected.Shape, y.Shape);
        TensorAssert.Close(expected, y, 1e-12, 1e-12, "matmul");
    }

    [Fact]
    public void MatMulOnStridedViews()
    {
        var rng = new Rng(8);
        // transposed (column-major) operands
        var a = Tensor.Randn([17, 6], DType.Float64, rng: rng).T();          // [6, 17], strides [1, 6]
        var b = Tensor.Randn([9, 17], DType.Float64, rng: rng).T();          // [17, 9]
        TensorAssert.Close(NaiveMatMul(a, b), a.MatMul(b), 1e-12, 1e-12, "transposed");
        // a slice with a row stride larger than its width, and a column step of 2 (needs a copy)
        var big = Tensor.Randn([10, 40], DType.Float64, rng: rng);
        var sliced = big.Narrow(1, 3, 17);                                  // [10, 17], row stride 40
        var stepped = big.Slice(1, 0, 34, 2).Narrow(0, 1, 5);               // [5, 17], col stride 2
        TensorAssert.Close(NaiveMatMul(sliced, b), sliced.MatMul(b), 1e-12, 1e-12, "narrowed");
        TensorAssert.Close(NaiveMatMul(stepped, b), stepped.MatMul(b), 1e-12, 1e-12, "stepped");
        // an expanded (stride-0) batch and a permuted batch
        var e = Tensor.Randn([1, 4, 17], DType.Float64, rng: rng).Expand(3, 4, 17);
        var p = Tensor.Randn([17, 3, 5], DType.Float64, rng: rng).Permute(1, 0, 2); // [3, 17, 5]
        TensorAssert.Close(NaiveMatMul(e, p), e.MatMul(p), 1e-12, 1e-12, "expanded·permuted");
        // float32 path on a transposed batch
        var af = Tensor.Randn([3, 7, 5], rng: rng).Transpose(1, 2);
        var bf = Tensor.Randn([3, 7, 2], rng: rng);
        TensorAssert.Close(NaiveMatMul(af, bf), af.MatMul(bf), 1e-5, 1e-5, "float32 transposed batch");
    }

    [Fact]
    public void MatMulOneDimensionalOperands()
    {
        var rng = new Rng(9);
        var v = Tensor.Randn([4], DType.Float64, rng: rng);
        var w = Tensor.Randn([4], DType.Float64, rng: rng);
        var m = Tensor.Randn([2, 4, 3], DType.Float64, rng: rng);
        var dot = v.MatMul(w);
        Assert.Empty(dot.Shape);
        Assert.Equal(v.ToDoubleArray().Zip(w.ToDoubleArray(), (x, y) => x * y).Sum(), dot.ItemDouble(), 12);
        var vm = v.MatMul(m);                                               // [2, 3]
        Assert.Equal(new[] { 2, 3 }, vm.Shape);
        TensorAssert.Close(NaiveMatMul(v.Unsqueeze(0), m).Squeeze(1), vm, 1e-12, 1e-12, "vector·batch");
        var mv = m.Transpose(1, 2).MatMul(v);                               // [2, 3]
        Assert.Equal(new[] { 2, 3 }, mv.Shape);
        TensorAssert.Close(NaiveMatMul(m.Transpose(1, 2), v.Unsqueeze(1)).Squeeze(2), mv, 1e-12, 1e-12, "batch·vector");
    }

    [Fact]
    public void MatMulShapeErrorsNameBothShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Zeros(3, 4).MatMul(Tensor.Zeros(5, 2)));
        Assert.Contains("[3, 4]", ex.Message);
        Assert.Contains("[5, 2]", ex.Message);
        Assert.Contains("transpose", ex.Message);
        var ex2 = Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 3, 4).MatMul(Tensor.Zeros(3, 4, 2)));
        Assert.Contains("[2, 3, 4]", ex2.Message);
        Assert.Contains("[3, 4, 2]", ex2.Message);
        Assert.Throws<ArgumentException>(() => Tensor.Bmm(Tensor.Zeros(2, 3, 4), Tensor.Zeros(3, 4, 2)));
        Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 3, 4).Mm(Tensor.Zeros(4, 2)));
    }
}
