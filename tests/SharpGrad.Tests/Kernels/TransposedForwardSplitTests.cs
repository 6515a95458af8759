using SharpGrad;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// x·Wᵀ on the direct path's transposed product (Gemm.Direct.cs, Transposed) with its xᵀ built by two halves on the pool
/// (TransposeHalves, from 32 K elements of x when the product splits): the values of a double-precision reference at 1, 2
/// and 3 threads, and with AVX-512 the same bits at each, on the MLP's fc1 and odd sizes (k not a multiple of 16, m not a multiple of 8).
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class TransposedForwardSplitTests
{
    public static TheoryData<int, int, int> Sizes => new()
    {
        { 64, 256, 784 }, { 61, 200, 530 }, { 40, 96, 1000 }, { 33, 72, 1009 }, { 128, 64, 300 },
    };

    private static float[] Run(int threads, int m, int n, int k, float[] x, float[] w)
    {
        int saved = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = threads;
            var y = new float[m * n];
            Array.Fill(y, float.NaN); // beta = 0 overwrites
            Gemm.Sgemm(false, true, m, n, k, 1f, x, 0, k, w, 0, k, 0f, y, 0, n);
            return y;
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void SplitTransposeGivesTheSameBitsAtEveryThreadCount(int m, int n, int k)
    {
        var rnd = new Random(m * 31 + k);
        var x = new float[m * k];
        var w = new float[n * k];
        for (int i = 0; i < x.Length; i++) x[i] = rnd.NextSingle() - 0.25f;
        for (int i = 0; i < w.Length; i++) w[i] = rnd.NextSingle() - 0.5f;
        var reference = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double r = 0;
                for (int p = 0; p < k; p++) r += (double)x[i * k + p] * w[j * k + p];
                reference[i * n + j] = r;
            }
        void Near(float[] y, int threads)
        {
            for (int i = 0; i < y.Length; i++)
                Assert.True(Math.Abs(y[i] - reference[i]) <= 1e-4 * (1 + Math.Abs(reference[i])), $"{threads} threads, element {i}: {y[i]} against {reference[i]}");
        }
        var one = Run(1, m, n, k, x, w);
        Near(one, 1);
        var other = new float[x.Length];
        for (int i = 0; i < other.Length; i++) other[i] = rnd.NextSingle();
        foreach (int threads in new[] { 2, 3 })
        {
            // the pooled scratch of xᵀ then holds another x's transpose: a row the halves left unwritten shows
            Run(1, m, n, k, other, w);
            var many = Run(threads, m, n, k, x, w);
            Near(many, threads);
            // With AVX-512 the product's row split is at whole 8-row tiles for these n, so every thread count gives the same
            // bits; on AVX2 (6-row tiles) a part's last rows may take another kernel than in one call (as before the split).
            if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) continue;
            for (int i = 0; i < one.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(one[i]) == BitConverter.SingleToInt32Bits(many[i]), $"{threads} threads, element {i}: {many[i]} against {one[i]}");
        }
    }
}
