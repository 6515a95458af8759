using SharpGrad;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The packed GEMM path (products past the direct path's limits: sgemm_1024, a transformer's 1024-row projections, the
/// weight gradients Aᵀ·B) against the naive triple loop in double: the packing of A eight columns at a time (and its
/// scalar k tail), the packing of B four panels at a time (and the edge panel), the first k-block writing C itself when
/// beta = 0 (C full of NaN must not leak, edge tiles included), on one thread and on two, all four transposes, offsets and
/// padded leading dimensions (whose padding must stay untouched).
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class PackedGemmTests
{
    /// <summary>
    /// m·n·k above 2^24 (the direct path's limit) and n above 128: every case runs packed. m mod 6 ≠ 0 (an edge tile of
    /// rows); n: full panels in groups of four plus a partial group and an edge panel; k: two or three k-blocks of 256, the
    /// last with a tail after its multiples of eight (333 = 256 + 77, 517 = 256 + 256 + 5, 300 = 256 + 44).
    /// </summary>
    public static IEnumerable<object[]> Shapes() =>
    [
        [137, 389, 333],
        [263, 130, 517],
        [131, 1031, 300],
    ];

    [Theory]
    [MemberData(nameof(Shapes))]
    public void PackedPathMatchesNaiveAtBothThreadCounts(int m, int n, int k)
    {
        int before = Parallelism.MaxThreads;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                Parallelism.MaxThreads = threads;
                foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
                {
                    foreach (double beta in new[] { 0.0, 1.0, -0.5 })
                    {
                        Check(m, n, k, ta, tb, beta, threads);
                    }
                }
            }
        }
        finally
        {
            Parallelism.MaxThreads = before;
        }
    }

    private static void Check(int m, int n, int k, bool ta, bool tb, double beta, int threads)
    {
        var rng = new Rng(m * 7 + n * 3 + k + (ta ? 1 : 0) + (tb ? 2 : 0) + threads * 11);
        int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
        int aOff = 5, bOff = 2, cOff = 3;
        // Operands exact in float, so that the float and double products see the same numbers.
        var a = Random(aOff + (ta ? k : m) * lda, rng);
        var b = Random(bOff + (tb ? n : k) * ldb, rng);
        var c = Random(cOff + m * ldc, rng);
        if (beta == 0)
        {
            // beta = 0 overwrites: NaN in C (product and padding) must not reach the product.
            for (int i = 0; i < c.Length; i++) c[i] = double.NaN;
        }
        var expected = (double[])c.Clone();
        SharpGrad.Tests.Nn.GemmKernelTests.Naive(ta, tb, m, n, k, 0.75, a, aOff, lda, b, bOff, ldb, beta, expected, cOff, ldc);
        string what = $"m={m} n={n} k={k} transA={ta} transB={tb} beta={beta} threads={threads}";

        var cd = (double[])c.Clone();
        Gemm.Dgemm(ta, tb, m, n, k, 0.75, a, aOff, lda, b, bOff, ldb, beta, cd, cOff, ldc);
        AssertSame(expected, cd, 1e-11, "dgemm " + what);

        var cf = c.Select(v => (float)v).ToArray();
        Gemm.Sgemm(ta, tb, m, n, k, 0.75f, a.Select(v => (float)v).ToArray(), aOff, lda, b.Select(v => (float)v).ToArray(), bOff, ldb,
            (float)beta, cf, cOff, ldc);
        // float32 sums of up to 517 products of size ≤ 1.
        AssertSame(expected, cf.Select(v => (double)v).ToArray(), 3e-4, "sgemm " + what);
    }

    /// <summary>Every element within <paramref name="tolerance"/>; a NaN only where one is expected (the untouched padding).</summary>
    private static void AssertSame(double[] expected, double[] actual, double tolerance, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            bool ok = double.IsNaN(expected[i]) ? double.IsNaN(actual[i]) : Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i]));
            Assert.True(ok, $"{what}: element {i} is {actual[i]}, expected {expected[i]}");
        }
    }

    private static double[] Random(int n, Rng rng)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = (float)(rng.NextDouble() * 2 - 1);
        return v;
    }
}
