using SharpGrad;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The unpacked small-M / small-N / small-K GEMM paths and the fused epilogue, against a naive triple loop in double
/// (the epilogue against GEMM followed by separate bias, residual and ReLU loops).
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class SmallGemmTests
{
    internal static float[] Random(int n, Rng rng)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(rng.NextDouble() * 2 - 1);
        return v;
    }

    /// <summary>C = alpha·op(A)·op(B) + beta·C by the definition, accumulated in double.</summary>
    internal static void Naive(bool ta, bool tb, int m, int n, int k, float alpha, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
        float beta, float[] c, int cOff, int ldc)
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
                double old = beta == 0 ? 0 : beta * (double)c[cOff + i * ldc + j];
                c[cOff + i * ldc + j] = (float)(alpha * s + old);
            }
        }
    }

    public static IEnumerable<object[]> SmallShapes()
    {
        int[] ms = [1, 2, 3, 4];
        int[] sizes = [1, 3, 17, 63, 129];
        foreach (var m in ms)
            foreach (var n in sizes)
                foreach (var k in sizes)
                    yield return [m, n, k];
        // few columns of x·Wᵀ with many rows; tiny k with many rows; the MLP's b1 shapes
        yield return [63, 10, 129];
        yield return [129, 3, 17];
        yield return [64, 16, 256];
        yield return [63, 129, 3];
        yield return [129, 17, 1];
        yield return [1, 256, 784];
        yield return [1, 128, 256];
        yield return [1, 10, 128];
        yield return [3, 300, 777];
    }

    [Theory]
    [MemberData(nameof(SmallShapes))]
    public void SgemmMatchesNaive(int m, int n, int k)
    {
        foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            var rng = new Rng(m * 10007 + n * 101 + k);
            // strided: leading dims larger than the rows, non-zero offsets
            int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;
            int aOff = 4, bOff = 1, cOff = 6;
            var a = Random(aOff + (ta ? k : m) * lda, rng);
            var b = Random(bOff + (tb ? n : k) * ldb, rng);
            var c = Random(cOff + m * ldc, rng);
            var expected = (float[])c.Clone();
            Naive(ta, tb, m, n, k, 0.75f, a, aOff, lda, b, bOff, ldb, -0.5f, expected, cOff, ldc);
            Gemm.Sgemm(ta, tb, m, n, k, 0.75f, a, aOff, lda, b, bOff, ldb, -0.5f, c, cOff, ldc);
            // float32 sums of up to 777 products of size ≤ 1: 1e-4 relative/absolute.
            TensorAssert.Close(expected.Select(v => (double)v).ToArray(), c.Select(v => (double)v).ToArray(), 1e-4, 1e-4,
                $"sgemm m={m} n={n} k={k} transA={ta} transB={tb}");
        }
    }

    [Theory]
    [InlineData(1, 17, 63)]
    [InlineData(3, 129, 17)]
    [InlineData(63, 10, 129)]
    public void DgemmSmallPathMatchesNaive(int m, int n, int k)
    {
        foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            var rng = new Rng(m + n + k);
            int lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 1;
            var a = Random((ta ? k : m) * lda, rng).Select(v => (double)v).ToArray();
            var b = Random((tb ? n : k) * ldb, rng).Select(v => (double)v).ToArray();
            var c = new double[m * ldc];
            var expected = new double[m * ldc];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += (ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
                    expected[i * ldc + j] = s;
                }
            Gemm.Dgemm(ta, tb, m, n, k, 1, a, 0, lda, b, 0, ldb, 0, c, 0, ldc);
            TensorAssert.Close(expected, c, 1e-12, 1e-12, $"dgemm m={m} n={n} k={k} transA={ta} transB={tb}");
        }
    }

    public static IEnumerable<object[]> EpilogueShapes()
    {
        // small path, few-columns path, tiny-k path, matrix-vector (n = 1), naive (tiny), packed (k > one k-block), k = 0
        int[][] shapes = [[1, 129, 63], [3, 17, 17], [63, 10, 129], [63, 129, 3], [17, 1, 63], [3, 5, 7], [129, 63, 300], [70, 129, 17], [5, 9, 0]];
        foreach (var s in shapes)
            for (int variant = 0; variant < 4; variant++)
                yield return [s[0], s[1], s[2], variant];
    }

    [Theory]
    [MemberData(nameof(EpilogueShapes))]
    public void EpilogueMatchesGemmThenLoops(int m, int n, int k, int variant)
    {
        bool hasBias = variant != 1, hasResidual = variant >= 1, relu = variant != 2;
        foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            var rng = new Rng(m * 31 + n * 7 + k + variant);
            int lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 3, ldr = n + 4;
            int biasOff = 2, resOff = 5;
            var a = Random(Math.Max(1, (ta ? k : m) * lda), rng);
            var b = Random(Math.Max(1, (tb ? n : k) * ldb), rng);
            var c = Random(m * ldc, rng);
            var bias = Random(biasOff + n, rng);
            var residual = Random(resOff + m * ldr, rng);
            float beta = variant == 3 ? 0.5f : 0f;

            // reference: the plain GEMM, then one loop per epilogue step
            var expected = (float[])c.Clone();
            Gemm.Sgemm(ta, tb, m, n, k, 1.25f, a, 0, lda, b, 0, ldb, beta, expected, 0, ldc);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    ref float e = ref expected[i * ldc + j];
                    if (hasBias) e += bias[biasOff + j];
                    if (hasResidual) e += residual[resOff + i * ldr + j];
                    if (relu) e = Math.Max(e, 0);
                }
            var epi = new GemmEpilogue(hasBias ? bias : null, biasOff, hasResidual ? residual : null, resOff, ldr,
                relu ? GemmActivation.Relu : GemmActivation.None);
            Gemm.Sgemm(ta, tb, m, n, k, 1.25f, a, 0, lda, b, 0, ldb, beta, c, 0, ldc, epi);
            // the fused GEMM sums in the same order as the plain one (the whole array is compared, so the padding
            // between rows of C is checked too); 1e-5 allows for a different rounding of the epilogue's additions.
            TensorAssert.Close(expected.Select(v => (double)v).ToArray(), c.Select(v => (double)v).ToArray(), 1e-5, 1e-5,
                $"sgemm+epilogue m={m} n={n} k={k} transA={ta} transB={tb} bias={hasBias} residual={hasResidual} relu={relu}");
        }
    }

    [Fact]
    public void EpilogueChecksItsArrays()
    {
        var a = new float[6]; var b = new float[6]; var c = new float[4];
        var ex = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 2, 3, 1, a, 0, 3, b, 0, 2, 0, c, 0, 2, new GemmEpilogue(bias: new float[1])));
        Assert.Contains("bias", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 2, 3, 1, a, 0, 3, b, 0, 2, 0, c, 0, 2, new GemmEpilogue(residual: new float[4], residualLd: 1)));
        Assert.Contains("residual", ex.Message);
    }

    [Fact]
    public void SmallPathIsParallelSafe()
    {
        // A product large enough for the column-parallel small path (m = 2, n = 2048, k = 1024), against the naive loop.
        int m = 2, n = 2048, k = 1024;
        var rng = new Rng(9);
        var a = Random(m * k, rng);
        var b = Random(n * k, rng);
        var c = new float[m * n];
        var expected = new float[m * n];
        Naive(false, true, m, n, k, 1, a, 0, k, b, 0, k, 0, expected, 0, n);
        int saved = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = 2;
            Gemm.Sgemm(false, true, m, n, k, 1, a, 0, k, b, 0, k, 0, c, 0, n);
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
        // float32 sums of 1024 products: 1e-4.
        TensorAssert.Close(expected.Select(v => (double)v).ToArray(), c.Select(v => (double)v).ToArray(), 1e-4, 1e-4, "parallel small path");
    }
}
