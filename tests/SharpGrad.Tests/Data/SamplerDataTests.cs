using System.Text.Json;
using SharpGrad.Data;

namespace SharpGrad.Tests.Data;

/// <summary>
/// The samplers (PyTorch: <c>torch.utils.data.sampler</c>) and <c>DataLoader(…, sampler:, batchSampler:)</c>. The orders
/// that do not depend on random numbers are checked against PyTorch (Fixtures/samplers/samplers.json, written by
/// make_samplers.py); random ones by their defining properties, with fixed generators.
/// </summary>
public class SamplerDataTests
{
    private static readonly JsonElement Fixture = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "samplers", "samplers.json"))).RootElement;

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(v => v.GetInt32()).ToArray();

    private static TensorDataset Numbered(int n) => new(Tensor.FromArray(Enumerable.Range(0, n).Select(i => (long)i).ToArray(), n));

    /// <summary>The sample labels of each batch of a loader over <see cref="Numbered"/>.</summary>
    private static List<long[]> Labels(IEnumerable<Tensor[]> loader) => loader.Select(b => b[0].ToLongArray()).ToList();

    [Fact]
    public void BatchSamplerMatchesPyTorch()
    {
        foreach (var c in Fixture.GetProperty("batch_sampler").EnumerateArray())
        {
            int n = c.GetProperty("n").GetInt32(), bs = c.GetProperty("batch_size").GetInt32();
            bool dropLast = c.GetProperty("drop_last").GetBoolean();
            var expected = c.GetProperty("batches").EnumerateArray().Select(Ints).ToList();
            var sampler = new BatchSampler(new SequentialSampler(n), bs, dropLast);
            Assert.Equal(c.GetProperty("len").GetInt32(), sampler.Count);
            Assert.Equal(expected, sampler.ToList());
        }
    }

    [Fact]
    public void DataLoaderWithASamplerBatchesItsOrderLikePyTorch()
    {
        foreach (var c in Fixture.GetProperty("loader_with_sampler").EnumerateArray())
        {
            int n = c.GetProperty("n").GetInt32(), bs = c.GetProperty("batch_size").GetInt32();
            bool dropLast = c.GetProperty("drop_last").GetBoolean();
            var order = Ints(c.GetProperty("order"));
            var expected = c.GetProperty("batches").EnumerateArray().Select(b => Ints(b).Select(i => (long)i).ToArray()).ToList();
            foreach (int workers in new[] { 0, 2 })
            {
                var loader = new DataLoader(Numbered(n), batchSize: bs, dropLast: dropLast, numWorkers: workers, sampler: new FixedOrder(order));
                Assert.Equal(c.GetProperty("len").GetInt32(), loader.Count);
                Assert.Equal(expected, Labels(loader));
            }
        }
    }

    /// <summary>A sampler yielding a fixed list (PyTorch accepts any iterable with a length, e.g. a list).</summary>
    private sealed class FixedOrder(int[] order) : ISampler<int>
    {
        public int Count => order.Length;

        public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)order).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    [Fact]
    public void SequentialSamplerYieldsZeroToLength()
    {
        Assert.Equal([0, 1, 2, 3], new SequentialSampler(4).ToArray());
        Assert.Empty(new SequentialSampler(0));
        Assert.Equal(5, new SequentialSampler(Numbered(5)).Count);
    }

    [Fact]
    public void RandomSamplerGivesAPermutationPerEpochAndContinuesItsGenerator()
    {
        var sampler = new RandomSampler(50, generator: new Rng(7));
        var first = sampler.ToArray();
        var second = sampler.ToArray();
        Assert.Equal(Enumerable.Range(0, 50), first.Order());
        Assert.Equal(Enumerable.Range(0, 50), second.Order());
        Assert.NotEqual(first, second);
        // The same generator state gives the same orders.
        var again = new RandomSampler(50, generator: new Rng(7));
        Assert.Equal(first, again.ToArray());
        Assert.Equal(second, again.ToArray());
    }

    [Fact]
    public void RandomSamplerWithMoreSamplesThanItemsRepeatsPermutations()
    {
        var indices = new RandomSampler(10, numSamples: 25, generator: new Rng(1)).ToArray();
        Assert.Equal(25, indices.Length);
        Assert.Equal(Enumerable.Range(0, 10), indices[..10].Order());
        Assert.Equal(Enumerable.Range(0, 10), indices[10..20].Order());
        Assert.Equal(5, indices[20..].Distinct().Count());
        var fewer = new RandomSampler(10, numSamples: 4, generator: new Rng(1)).ToArray();
        Assert.Equal(4, fewer.Distinct().Count());
    }

    [Fact]
    public void RandomSamplerWithReplacementDrawsUniformly()
    {
        var indices = new RandomSampler(4, replacement: true, numSamples: 40_000, generator: new Rng(3)).ToArray();
        Assert.Equal(40_000, indices.Length);
        var counts = new int[4];
        foreach (int i in indices) counts[i]++;
        // Each count is Binomial(40000, 1/4): mean 10000, standard deviation ≈ 87.
        Assert.All(counts, c => Assert.InRange(c, 9_600, 10_400));
    }

    [Fact]
    public void RandomSamplerRejectsBadArguments()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new RandomSampler(5, numSamples: 0));
        Assert.Contains("positive", e.Message);
        var empty = Assert.Throws<ArgumentOutOfRangeException>(() => new RandomSampler(0));
        Assert.Contains("empty", empty.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RandomSampler(0, replacement: true, numSamples: 3));
    }

    [Fact]
    public void SubsetRandomSamplerPermutesTheGivenIndices()
    {
        int[] subset = [3, 9, 27, 81, 243];
        var sampler = new SubsetRandomSampler(subset, new Rng(11));
        Assert.Equal(5, sampler.Count);
        var orders = Enumerable.Range(0, 5).Select(_ => sampler.ToArray()).ToList();
        Assert.All(orders, o => Assert.Equal(subset, o.Order()));
        Assert.True(orders.Distinct(new SequenceComparer()).Count() > 1, "every epoch gave the same order");
    }

    private sealed class SequenceComparer : IEqualityComparer<int[]>
    {
        public bool Equals(int[]? a, int[]? b) => a!.SequenceEqual(b!);

        public int GetHashCode(int[] a) => a.Aggregate(17, (h, v) => h * 31 + v);
    }

    [Fact]
    public void WeightedRandomSamplerDrawsInProportionToTheWeights()
    {
        double[] weights = [0.1, 0.9, 0.0, 3.0];
        var indices = new WeightedRandomSampler(weights, 40_000, generator: new Rng(5)).ToArray();
        var counts = new int[4];
        foreach (int i in indices) counts[i]++;
        Assert.Equal(0, counts[2]);
        // Expected 1000, 9000, 0, 30000 (standard deviations ≈ 31, 91, 0, 87).
        Assert.InRange(counts[0], 850, 1150);
        Assert.InRange(counts[1], 8_650, 9_350);
        Assert.InRange(counts[3], 29_650, 30_350);
    }

    [Fact]
    public void WeightedRandomSamplerWithoutReplacementNeverRepeatsAndPrefersHeavyIndices()
    {
        double[] weights = [1, 1, 1, 1, 100, 0];
        var sampler = new WeightedRandomSampler(weights, 5, replacement: false, generator: new Rng(9));
        int heavyFirst = 0;
        for (int epoch = 0; epoch < 200; epoch++)
        {
            var drawn = sampler.ToArray();
            Assert.Equal([0, 1, 2, 3, 4], drawn.Order()); // every positive weight once, never the zero one
            if (drawn[0] == 4) heavyFirst++;
        }
        // P(index 4 first) = 100/104.
        Assert.InRange(heavyFirst, 180, 200);
    }

    [Fact]
    public void WeightedRandomSamplerRejectsBadWeights()
    {
        Assert.Contains("non-negative", Assert.Throws<ArgumentException>(() => new WeightedRandomSampler([1, -1], 2)).Message);
        Assert.Contains("finite", Assert.Throws<ArgumentException>(() => new WeightedRandomSampler([1, double.NaN], 2)).Message);
        Assert.Contains("sum to 0", Assert.Throws<ArgumentException>(() => new WeightedRandomSampler([0, 0], 2)).Message);
        var tooMany = Assert.Throws<ArgumentException>(() => new WeightedRandomSampler([1, 0, 1], 3, replacement: false));
        Assert.Contains("cannot draw 3 samples without replacement from 2", tooMany.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new WeightedRandomSampler([1], 0));
    }

    [Fact]
    public void DataLoaderRefusesSamplerWithShuffleAndBatchSamplerWithWhatItReplaces()
    {
        var ds = Numbered(10);
        var e = Assert.Throws<ArgumentException>(() => new DataLoader(ds, shuffle: true, sampler: new SequentialSampler(10)));
        Assert.Contains("mutually exclusive with shuffle", e.Message);
        var batches = new BatchSampler(new SequentialSampler(10), 3, false);
        Assert.Contains("mutually exclusive", Assert.Throws<ArgumentException>(() => new DataLoader(ds, batchSize: 3, batchSampler: batches)).Message);
        Assert.Throws<ArgumentException>(() => new DataLoader(ds, shuffle: true, batchSampler: batches));
        Assert.Throws<ArgumentException>(() => new DataLoader(ds, dropLast: true, batchSampler: batches));
        Assert.Throws<ArgumentException>(() => new DataLoader(ds, sampler: new SequentialSampler(10), batchSampler: batches));
    }

    [Fact]
    public void DataLoaderWithABatchSamplerLoadsItsBatches()
    {
        var batches = new BatchSampler(new SubsetRandomSampler([1, 3, 5, 7, 9], new Rng(2)), 2, dropLast: false);
        var loader = new DataLoader(Numbered(10), batchSampler: batches);
        Assert.Equal(3, loader.Count);
        Assert.Same(batches, loader.BatchSampler);
        Assert.Null(loader.Sampler);
        var labels = Labels(loader);
        Assert.Equal([2, 2, 1], labels.Select(b => b.Length));
        Assert.Equal([1L, 3, 5, 7, 9], labels.SelectMany(b => b).Order());
    }

    [Fact]
    public void DataLoaderExposesItsOwnSampler()
    {
        var ds = Numbered(10);
        Assert.IsType<SequentialSampler>(new DataLoader(ds).Sampler);
        Assert.IsType<RandomSampler>(new DataLoader(ds, shuffle: true, seed: 1).Sampler);
        var weighted = new WeightedRandomSampler(Enumerable.Repeat(1.0, 10).ToArray(), 30, generator: new Rng(4));
        var loader = new DataLoader(ds, batchSize: 8, sampler: weighted);
        Assert.Same(weighted, loader.Sampler);
        Assert.Equal(4, loader.Count); // 30 indices in batches of 8
        Assert.Equal(30, Labels(loader).Sum(b => b.Length));
    }

    [Fact]
    public void ASamplerYieldingAnIndexOutsideTheDataSetIsAClearError()
    {
        // The data set is a view of the first 6 rows of a larger tensor: an unchecked index 7 would read row 7 silently.
        var all = Tensor.FromArray(Enumerable.Range(0, 10).Select(i => (long)i).ToArray(), 10);
        var ds = new TensorDataset(all.Narrow(0, 0, 6));
        var loader = new DataLoader(ds, batchSize: 2, sampler: new FixedOrder([0, 7]));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Labels(loader));
        Assert.Contains("index 7", e.Message);
        Assert.Contains("6 samples", e.Message);
        var empty = new DataLoader(ds, batchSampler: new FixedBatches([[0], []]));
        Assert.Contains("empty", Assert.Throws<InvalidOperationException>(() => Labels(empty)).Message);
    }

    private sealed class FixedBatches(int[][] batches) : ISampler<int[]>
    {
        public int Count => batches.Length;

        public IEnumerator<int[]> GetEnumerator() => ((IEnumerable<int[]>)batches).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    [Fact]
    public void ShuffleStillReplaysAnEpochFromTheSeed()
    {
        var loader = new DataLoader(Numbered(20), batchSize: 20, shuffle: true, seed: 42);
        var e0 = Labels(loader)[0];
        var e1 = Labels(loader)[0];
        Assert.NotEqual(e0, e1);
        loader.Epoch = 0;
        Assert.Equal(e0, Labels(loader)[0]);
        Assert.Equal(e0, Labels(new DataLoader(Numbered(20), batchSize: 20, shuffle: true, seed: 42))[0]);
    }
}
