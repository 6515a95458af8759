using SharpGrad.Kernels;

namespace SharpGrad.Tests.Bench;

public class ParallelismTests
{
    [Fact]
    public void MaxThreadsRejectsLessThanOne()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Parallelism.MaxThreads = 0);
        Assert.Contains("at least 1", e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void GemmLargeEnoughToGoParallelMatchesTheNaiveProductForAnyThreadLimit(int threads)
    {
        int before = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = threads;
            Assert.Equal(threads, Parallelism.MaxThreads);
            const int m = 129, k = 63, n = 257;   // 4 MFLOP: above the parallel threshold, odd sizes
            var r = new Random(threads);
            var a = Enumerable.Range(0, m * k).Select(_ => r.NextSingle() - 0.5f).ToArray();
            var b = Enumerable.Range(0, k * n).Select(_ => r.NextSingle() - 0.5f).ToArray();
            var c = new float[m * n];
            Gemm.Sgemm(false, false, m, n, k, 1f, a, 0, k, b, 0, n, 0f, c, 0, n);
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += (double)a[i * k + p] * b[p * n + j];
                    Assert.Equal(s, c[i * n + j], 1e-4);   // float32 sums of 63 terms
                }
            }
        }
        finally
        {
            Parallelism.MaxThreads = before;
        }
    }
}
