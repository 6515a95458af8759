using SharpGrad.Tests.Support;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.Bench;

[Collection(ThreadCountCollection.Name)]
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

    private readonly struct CountItems(int[] hits) : IParallelBody
    {
        public void Invoke(int index) => Interlocked.Increment(ref hits[index]);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1000)]
    [InlineData(3, 7)]
    [InlineData(8, 100)]
    public void ForRunsEveryItemExactlyOnce(int threads, int count)
    {
        int before = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = threads;
            for (int round = 0; round < 20; round++)
            {
                var hits = new int[count];
                Parallelism.For(count, new CountItems(hits));
                Assert.All(hits, h => Assert.Equal(1, h));
            }
        }
        finally
        {
            Parallelism.MaxThreads = before;
        }
    }

    private readonly struct ThrowAt(int bad, int[] hits) : IParallelBody
    {
        public void Invoke(int index)
        {
            Interlocked.Increment(ref hits[index]);
            if (index == bad) throw new InvalidOperationException($"item {index} failed");
        }
    }

    [Fact]
    public void AnItemsExceptionIsRethrownAfterTheOtherItemsRan()
    {
        int before = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = 2;
            var hits = new int[50];
            var e = Assert.Throws<InvalidOperationException>(() => Parallelism.For(50, new ThrowAt(17, hits)));
            Assert.Equal("item 17 failed", e.Message);
            Assert.All(hits, h => Assert.Equal(1, h));
            // the pool still works afterwards
            var again = new int[10];
            Parallelism.For(10, new CountItems(again));
            Assert.All(again, h => Assert.Equal(1, h));
        }
        finally
        {
            Parallelism.MaxThreads = before;
        }
    }

    private readonly struct Block(ManualResetEventSlim started, ManualResetEventSlim release) : IParallelBody
    {
        public void Invoke(int index)
        {
            started.Set();
            release.Wait();
        }
    }

    [Fact]
    public void ALoopThatFindsTheWorkersBusyStillRunsEveryItemAndRethrowsTheFirstException()
    {
        int before = Parallelism.MaxThreads;
        using var started = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        try
        {
            Parallelism.MaxThreads = 2;
            // another thread's loop holds the workers until released, so this thread's loop runs on this thread alone
            var holder = new Thread(() => Parallelism.For(2, new Block(started, release)));
            holder.Start();
            Assert.True(started.Wait(TimeSpan.FromSeconds(30)), "the holding loop did not start");
            var hits = new int[20];
            var e = Assert.Throws<InvalidOperationException>(() => Parallelism.For(20, new ThrowAt(5, hits)));
            release.Set();
            Assert.True(holder.Join(TimeSpan.FromSeconds(30)), "the holding loop did not finish");
            Assert.Equal("item 5 failed", e.Message);
            Assert.All(hits, h => Assert.Equal(1, h));
        }
        finally
        {
            release.Set();
            Parallelism.MaxThreads = before;
        }
    }

    private readonly struct Slice(int[] hits, int offset) : IParallelBody
    {
        public void Invoke(int index) => Interlocked.Increment(ref hits[offset + index]);
    }

    [Fact]
    public void NestedAndConcurrentLoopsComplete()
    {
        int before = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = 2;
            // a loop inside an item runs on that item's thread
            var nested = new int[100];
            Parallelism.For(10, new NestedSlices(nested));
            Assert.All(nested, h => Assert.Equal(1, h));
            // several threads starting loops at once: one holds the workers, the others run theirs serially
            var results = new int[4][];
            Parallel.For(0, 4, t =>
            {
                var hits = new int[64];
                for (int round = 0; round < 50; round++) Parallelism.For(64, new CountItems(hits));
                results[t] = hits;
            });
            Assert.All(results, r => Assert.All(r, h => Assert.Equal(50, h)));
        }
        finally
        {
            Parallelism.MaxThreads = before;
        }
    }

    private readonly struct NestedSlices(int[] hits) : IParallelBody
    {
        public void Invoke(int index) => Parallelism.For(10, new Slice(hits, index * 10));
    }
}

