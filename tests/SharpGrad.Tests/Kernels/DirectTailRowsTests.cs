using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The direct broadcast kernel's rows after its last full tile (m not a multiple of the tile's 8 rows, 6 with AVX2) and its
/// edge columns (n not a multiple of two vectors), with k past one k-block (256): every element of C is the same sum of
/// per-k-block chains wherever its row falls, so a row's result does not depend on its position in A. Checked by
/// reversing op(A)'s rows (the tail rows move into the first tile) and comparing bits, and against the naive sum in double.
/// Before session 24, the tail rows' edge columns went through SmallAxpy as one chain over all of k.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class DirectTailRowsTests
{
    public static TheoryData<int, int, int, bool, bool> Shapes()
    {
        var data = new TheoryData<int, int, int, bool, bool>();
        foreach (var (m, n, k) in new[] { (29, 37, 600), (13, 45, 300), (61, 100, 513), (29, 7, 777) })
            foreach (bool transA in new[] { false, true })
                foreach (bool accumulate in new[] { false, true })
                    data.Add(m, n, k, transA, accumulate);
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void RowResultDoesNotDependOnItsPosition(int m, int n, int k, bool transA, bool accumulate)
    {
        Assert.Equal(Gemm.DirectPath, Gemm.PathOf<float>(transA, false, m, n, k));
        var rng = new Random(m * 1000 + n + k);
        // op(A)[i, p]: A[i·k + p], or A[p·m + i] when transposed; rev is op(A) with its rows in reverse order
        var a = Fill(rng, m * k);
        var rev = new float[m * k];
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++)
            {
                if (transA) rev[p * m + (m - 1 - i)] = a[p * m + i];
                else rev[(m - 1 - i) * k + p] = a[i * k + p];
            }
        var b = Fill(rng, k * n);
        var c0 = Fill(rng, m * n);
        var c = (float[])c0.Clone();
        var cRev = new float[m * n];
        for (int i = 0; i < m; i++) Array.Copy(c0, i * n, cRev, (m - 1 - i) * n, n);
        int lda = transA ? m : k;
        float beta = accumulate ? 1f : 0f;
        int saved = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = 1;
            Gemm.Sgemm(transA, false, m, n, k, 1f, a, 0, lda, b, 0, n, beta, c, 0, n);
            Gemm.Sgemm(transA, false, m, n, k, 1f, rev, 0, lda, b, 0, n, beta, cRev, 0, n);
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double want = accumulate ? c0[i * n + j] : 0;
                for (int p = 0; p < k; p++) want += (double)(transA ? a[p * m + i] : a[i * k + p]) * b[p * n + j];
                Assert.True(Math.Abs(c[i * n + j] - want) <= 1e-4 * (1 + Math.Abs(want)), $"C[{i}, {j}] = {c[i * n + j]}, naive {want}");
                Assert.True(BitConverter.SingleToInt32Bits(c[i * n + j]) == BitConverter.SingleToInt32Bits(cRev[(m - 1 - i) * n + j]),
                    $"row {i} (at {m - 1 - i} when reversed), column {j}: {c[i * n + j]:R} against {cRev[(m - 1 - i) * n + j]:R}");
            }
    }

    public static TheoryData<int, int, int> TransposedShapes() => new() { { 40, 100, 600 }, { 70, 77, 300 }, { 33, 69, 513 } };

    /// <summary>
    /// The same for x·Wᵀ on the transposed product (the rows of W are the tiles' rows there, x's rows their columns): W's
    /// rows and x's rows both reversed, each element compared with its mirror, bit for bit.
    /// </summary>
    [Theory]
    [MemberData(nameof(TransposedShapes))]
    public void TransposedProductElementDoesNotDependOnItsPosition(int m, int n, int k)
    {
        Assert.Equal(Gemm.DirectPath, Gemm.PathOf<float>(false, true, m, n, k));
        var rng = new Random(m * 1000 + n + k);
        var x = Fill(rng, m * k);
        var w = Fill(rng, n * k);
        var xRev = new float[m * k];
        var wRev = new float[n * k];
        for (int i = 0; i < m; i++) Array.Copy(x, i * k, xRev, (m - 1 - i) * k, k);
        for (int o = 0; o < n; o++) Array.Copy(w, o * k, wRev, (n - 1 - o) * k, k);
        var c = new float[m * n];
        var cRev = new float[m * n];
        int saved = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = 1;
            Gemm.Sgemm(false, true, m, n, k, 1f, x, 0, k, w, 0, k, 0f, c, 0, n);
            Gemm.Sgemm(false, true, m, n, k, 1f, xRev, 0, k, wRev, 0, k, 0f, cRev, 0, n);
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
        for (int i = 0; i < m; i++)
            for (int o = 0; o < n; o++)
            {
                double want = 0;
                for (int p = 0; p < k; p++) want += (double)x[i * k + p] * w[o * k + p];
                float got = c[i * n + o], mirror = cRev[(m - 1 - i) * n + (n - 1 - o)];
                Assert.True(Math.Abs(got - want) <= 1e-4 * (1 + Math.Abs(want)), $"C[{i}, {o}] = {got}, naive {want}");
                Assert.True(BitConverter.SingleToInt32Bits(got) == BitConverter.SingleToInt32Bits(mirror),
                    $"C[{i}, {o}] = {got:R} against {mirror:R} with x's and W's rows reversed");
            }
    }

    private static float[] Fill(Random rng, int count)
    {
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
