using SharpGrad.Data;

namespace SharpGrad.Tests.Data;

public class DataLoaderDataTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>Sample i: features [i, 10i + 0.5, -i] (Float32) and label i (Int64) — every value is a known function of i.</summary>
    private static TensorDataset Numbered(int n)
    {
        var x = new float[n * 3];
        var y = new long[n];
        for (int i = 0; i < n; i++)
        {
            x[3 * i] = i;
            x[3 * i + 1] = 10 * i + 0.5f;
            x[3 * i + 2] = -i;
            y[i] = i;
        }
        return new TensorDataset(Tensor.FromArray(x, n, 3), Tensor.FromArray(y, n));
    }

    /// <summary>The same samples through the generic path (not a TensorDataset), optionally slow, counting reads, throwing at one index.</summary>
    private sealed class Generic(int n, int throwAt = -1, bool jitter = false) : IDataset<Tensor[]>
    {
        private int _reads;

        public int Reads => Volatile.Read(ref _reads);

        public int Count => n;

        public Tensor[] this[int i]
        {
            get
            {
                Interlocked.Increment(ref _reads);
                if (i == throwAt) throw new FormatException($"bad sample {i}");
                // Vary the cost per sample so that workers finish batches out of order.
                if (jitter && (i * 7919) % 5 == 0) Thread.Sleep(1);
                return [Tensor.FromArray(new float[] { i, 10 * i + 0.5f, -i }), Tensor.FromArray(new long[] { i }).View()];
            }
        }
    }

    /// <summary>Checks each batch row against the definition of the samples, returns the labels in order.</summary>
    private static List<long> CheckBatches(IEnumerable<Tensor[]> loader, List<int> sizes)
    {
        var labels = new List<long>();
        foreach (var (x, y) in loader)
        {
            Assert.Equal(DType.Float32, x.DType);
            Assert.Equal(DType.Int64, y.DType);
            Assert.Equal(2, x.Rank);
            Assert.Equal(3, x.Size(1));
            Assert.Equal(new[] { x.Size(0) }, y.Shape);
            var xs = x.ToArray();
            var ys = y.ToLongArray();
            for (int r = 0; r < ys.Length; r++)
            {
                long i = ys[r];
                Assert.Equal(new float[] { i, 10 * i + 0.5f, -i }, xs.AsSpan(3 * r, 3).ToArray());
            }
            sizes.Add(ys.Length);
            labels.AddRange(ys);
        }
        return labels;
    }

    [Theory]
    [InlineData(10, 3, false, new[] { 3, 3, 3, 1 })]
    [InlineData(10, 3, true, new[] { 3, 3, 3 })]
    [InlineData(9, 3, false, new[] { 3, 3, 3 })]
    [InlineData(9, 3, true, new[] { 3, 3, 3 })]
    [InlineData(2, 5, false, new[] { 2 })]
    [InlineData(2, 5, true, new int[0])]
    public void BatchSizesAndCount(int n, int batchSize, bool dropLast, int[] expected)
    {
        foreach (IDataset<Tensor[]> ds in new IDataset<Tensor[]>[] { Numbered(n), new Generic(n) })
        {
            var loader = new DataLoader(ds, batchSize, dropLast: dropLast);
            Assert.Equal(expected.Length, loader.Count);
            var sizes = new List<int>();
            var labels = CheckBatches(loader, sizes);
            Assert.Equal(expected, sizes);
            // Not shuffled: samples in order.
            Assert.Equal(Enumerable.Range(0, expected.Sum()).Select(i => (long)i), labels);
        }
    }

    [Fact]
    public void ShuffleVisitsEverySampleOncePerEpoch()
    {
        var loader = new DataLoader(Numbered(103), batchSize: 8, shuffle: true, seed: 7);
        var orders = new List<List<long>>();
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var labels = CheckBatches(loader, []);
            Assert.Equal(Enumerable.Range(0, 103).Select(i => (long)i), labels.Order());
            Assert.NotEqual(Enumerable.Range(0, 103).Select(i => (long)i), labels); // actually shuffled
            orders.Add(labels);
        }
        Assert.NotEqual(orders[0], orders[1]);
        Assert.NotEqual(orders[1], orders[2]);
        Assert.Equal(3, loader.Epoch);

        // dropLast with shuffle: every sample at most once, 12 full batches.
        var dropping = new DataLoader(Numbered(103), batchSize: 8, shuffle: true, dropLast: true, seed: 7);
        var sizes = new List<int>();
        var seen = CheckBatches(dropping, sizes);
        Assert.Equal(Enumerable.Repeat(8, 12), sizes);
        Assert.Equal(96, seen.Distinct().Count());
    }

    [Fact]
    public void SameSeedSameOrders()
    {
        List<long> Epoch(DataLoader l) => CheckBatches(l, []);
        var a = new DataLoader(Numbered(50), batchSize: 4, shuffle: true, seed: 123);
        var b = new DataLoader(Numbered(50), batchSize: 4, shuffle: true, seed: 123);
        var c = new DataLoader(Numbered(50), batchSize: 4, shuffle: true, seed: 124);
        var a0 = Epoch(a);
        var a1 = Epoch(a);
        Assert.Equal(a0, Epoch(b));
        Assert.Equal(a1, Epoch(b));
        Assert.NotEqual(a0, a1);
        Assert.NotEqual(a0, Epoch(c));
        // Replaying an epoch.
        a.Epoch = 0;
        Assert.Equal(a0, Epoch(a));
        // The generic path (fetch + collate) with the same seed gives the same order as the TensorDataset fast path.
        var g = new DataLoader(new Generic(50), batchSize: 4, shuffle: true, seed: 123);
        Assert.Equal(a0, Epoch(g));
    }

    [Fact]
    public async Task WorkersGiveTheSameBatchesAsSynchronousLoading()
    {
        foreach (bool fast in new[] { true, false })
        {
            IDataset<Tensor[]> Make() => fast ? Numbered(203) : new Generic(203, jitter: true);
            var sync = new DataLoader(Make(), batchSize: 5, shuffle: true, seed: 99);
            var async = new DataLoader(Make(), batchSize: 5, shuffle: true, seed: 99, numWorkers: 2, prefetchFactor: 2);
            var run = Task.Run(() =>
            {
                for (int epoch = 0; epoch < 2; epoch++)
                {
                    var expected = sync.ToList();
                    var actual = async.ToList();
                    Assert.Equal(expected.Count, actual.Count);
                    Assert.Equal(41, actual.Count);
                    for (int b = 0; b < expected.Count; b++)
                    {
                        Assert.Equal(expected[b][0].Shape, actual[b][0].Shape);
                        Assert.Equal(expected[b][0].ToArray(), actual[b][0].ToArray());
                        Assert.Equal(expected[b][1].ToLongArray(), actual[b][1].ToLongArray());
                    }
                }
            });
            await run.WaitAsync(Timeout); // TimeoutException if the loader hangs
        }
    }

    [Fact]
    public async Task EarlyBreakStopsWorkers()
    {
        var ds = new Generic(10_000);
        var loader = new DataLoader(ds, batchSize: 4, numWorkers: 2, prefetchFactor: 2);
        var run = Task.Run(() =>
        {
            int batches = 0;
            foreach (var batch in loader)
            {
                if (++batches == 3) break;
            }
            return ds.Reads;
        });
        int readsAtBreak = await run.WaitAsync(Timeout); // TimeoutException if breaking out hangs
        // At most the consumed batches plus the bounded prefetch (2 workers × 2) plus one in flight per worker.
        Assert.True(readsAtBreak <= (3 + 4 + 2) * 4, $"{readsAtBreak} samples were read for 3 batches");
        // Dispose waited for the workers: nothing reads after the enumeration ended.
        Thread.Sleep(100);
        Assert.Equal(readsAtBreak, ds.Reads);
    }

    [Fact]
    public async Task WorkerExceptionSurfacesOnConsumer()
    {
        var loader = new DataLoader(new Generic(100, throwAt: 57), batchSize: 10, numWorkers: 2);
        var run = Task.Run(() =>
        {
            var received = new List<long>();
            var ex = Assert.Throws<FormatException>(() =>
            {
                foreach (var (_, y) in loader) received.AddRange(y.ToLongArray());
            });
            Assert.Equal("bad sample 57", ex.Message);
            // Batches before the failing one were delivered, in order; the failing batch was not.
            Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), received);
        });
        await run.WaitAsync(Timeout); // TimeoutException if a failing worker hangs the loader

        // The synchronous loader throws the same exception at the same point.
        var sync = new DataLoader(new Generic(100, throwAt: 57), batchSize: 10);
        int got = 0;
        Assert.Throws<FormatException>(() => { foreach (var _ in sync) got++; });
        Assert.Equal(5, got);
    }

    [Fact]
    public async Task GenericLoaderWithCollateFunction()
    {
        var ds = new Generic(7);
        var loader = new DataLoader<Tensor[], long>(ds, items => items.Sum(s => s[1].ToLongArray()[0]), batchSize: 3, numWorkers: 1);
        Assert.Equal(3, loader.Count);
        var run = Task.Run(() => loader.ToList());
        Assert.Equal(new long[] { 0 + 1 + 2, 3 + 4 + 5, 6 }, await run.WaitAsync(Timeout));
    }

    [Fact]
    public void CollationPreservesDTypesAndStacksViews()
    {
        var bytes = Tensor.FromArray(Enumerable.Range(0, 24).Select(i => (byte)i).ToArray(), 4, 2, 3);
        // A non-contiguous field: the transpose of a [3, 4] tensor, so sample i is column i.
        var t = Tensor.FromArray(Enumerable.Range(0, 12).Select(i => (double)i).ToArray(), 3, 4).Transpose(0, 1);
        var ds = new TensorDataset(bytes, t);
        Assert.Equal(4, ds.Count);
        foreach (var loader in new[] { new DataLoader(ds, batchSize: 3), new DataLoader(new Generic2(ds), batchSize: 3) })
        {
            var batches = loader.ToList();
            Assert.Equal(2, batches.Count);
            var (b, d) = batches[0];
            Assert.Equal(DType.UInt8, b.DType);
            Assert.Equal(new[] { 3, 2, 3 }, b.Shape);
            Assert.Equal(Enumerable.Range(0, 18).Select(i => (byte)i), b.ToByteArray());
            Assert.Equal(DType.Float64, d.DType);
            Assert.Equal(new[] { 3, 3 }, d.Shape);
            // Row i of t is column i of the original: i, 4 + i, 8 + i.
            Assert.Equal(new double[] { 0, 4, 8, 1, 5, 9, 2, 6, 10 }, d.ToDoubleArray());
            Assert.Equal(new double[] { 3, 7, 11 }, batches[1][1].ToDoubleArray());
        }
    }

    private sealed class Generic2(TensorDataset inner) : IDataset<Tensor[]>
    {
        public int Count => inner.Count;
        public Tensor[] this[int index] => inner[index];
    }

    [Fact]
    public void TensorDatasetRowsAndErrors()
    {
        var ds = Numbered(5);
        var row = ds.Get(2);
        Assert.Equal(new float[] { 2, 20.5f, -2 }, row[0].ToArray());
        Assert.Equal(2L, row[1].ToLongArray()[0]);
        Assert.Equal(Array.Empty<int>(), row[1].Shape);
        Assert.Equal(new float[] { 4, 40.5f, -4 }, ds[-1][0].ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => ds[5]);

        var ex = Assert.Throws<ArgumentException>(() => new TensorDataset(Tensor.Zeros(5, 3), Tensor.Zeros(4)));
        Assert.Contains("[5, 3]", ex.Message);
        Assert.Contains("[4]", ex.Message);

        var ex2 = Assert.Throws<ArgumentException>(() => Collate.Default([[Tensor.Zeros(2)], [Tensor.Zeros(3)]]));
        Assert.Contains("[3]", ex2.Message);
        Assert.Contains("[2]", ex2.Message);

        var ex3 = Assert.Throws<ArgumentException>(() => { foreach (var (a, b) in new DataLoader(new TensorDataset(Tensor.Zeros(2)))) { } });
        Assert.Contains("1 tensor", ex3.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(ds, batchSize: 0));
    }
}
