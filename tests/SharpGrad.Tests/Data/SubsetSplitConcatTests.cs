using SharpGrad.Data;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Data;

/// <summary>Subset, ConcatDataset and Dataset.RandomSplit (PyTorch: torch.utils.data.Subset, ConcatDataset, random_split).</summary>
public class SubsetSplitConcatTests
{
    private static TensorDataset Numbers(int n, int start = 0) =>
        new(Tensor.FromArray(Enumerable.Range(start, n).Select(i => (float)i).ToArray(), n), Tensor.FromArray(Enumerable.Range(start, n).Select(i => (long)i).ToArray(), n));

    private static long Label(Tensor[] item) => item[1].ToLongArray()[0];

    public static IEnumerable<object[]> SplitCases() => ArchFixtures.CaseNames("training.safetensors", "random_split");

    [Theory]
    [MemberData(nameof(SplitCases))]
    public void FractionLengthsMatchPyTorch(string name)
    {
        var c = ArchFixtures.Case("training.safetensors", name);
        int n = c.GetProperty("n").GetInt32();
        var fractions = c.GetProperty("fractions").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var expected = c.GetProperty("lengths").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(expected, Dataset.SplitLengths(n, fractions));
        var splits = Dataset.RandomSplit(Numbers(n), fractions, new Rng(3));
        Assert.Equal(expected, splits.Select(s => s.Count));
    }

    [Fact]
    public void RandomSplitIsADisjointCoverAndReproducible()
    {
        var data = Numbers(25);
        var a = Dataset.RandomSplit(data, [10, 5, 10], new Rng(7));
        var labels = a.SelectMany(s => Enumerable.Range(0, s.Count).Select(i => Label(s[i]))).ToArray();
        Assert.Equal(Enumerable.Range(0, 25).Select(i => (long)i), labels.Order());
        Assert.NotEqual(Enumerable.Range(0, 25).Select(i => (long)i), labels); // shuffled
        var b = Dataset.RandomSplit(data, [10, 5, 10], new Rng(7));
        Assert.Equal(a.Select(s => s.Indices.ToArray()), b.Select(s => s.Indices.ToArray()));
        Rng.ManualSeed(11);
        var c = Dataset.RandomSplit(data, [0.6, 0.4]);
        Rng.ManualSeed(11);
        var d = Dataset.RandomSplit(data, [0.6, 0.4]);
        Assert.Equal(c[0].Indices, d[0].Indices);
        Assert.Equal([15, 10], c.Select(s => s.Count));
    }

    [Fact]
    public void RandomSplitRejectsWrongLengths()
    {
        var data = Numbers(10);
        Assert.Contains("add up to 9", Assert.Throws<ArgumentException>(() => Dataset.RandomSplit(data, [4, 5])).Message);
        Assert.Contains("negative", Assert.Throws<ArgumentException>(() => Dataset.RandomSplit(data, [11, -1])).Message);
        Assert.Contains("not 1", Assert.Throws<ArgumentException>(() => Dataset.RandomSplit(data, [0.5, 0.4])).Message);
        Assert.Contains("between 0 and 1", Assert.Throws<ArgumentException>(() => Dataset.RandomSplit(data, [1.5, -0.5])).Message);
    }

    [Fact]
    public void SubsetIndexesTheUnderlyingDataSet()
    {
        var s = new Subset<Tensor[]>(Numbers(10), [7, 2, 2, 9]);
        Assert.Equal(4, s.Count);
        Assert.Equal([7L, 2, 2, 9], Enumerable.Range(0, 4).Select(i => Label(s[i])));
        Assert.Equal(9, Label(s[-1]));
        Assert.Equal(2, Label(((IDataset<Tensor[]>)s).Get(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => s[4]);
        Assert.Contains("out of range", Assert.Throws<ArgumentOutOfRangeException>(() => new Subset<Tensor[]>(Numbers(3), [0, 3])).Message);
    }

    [Fact]
    public void ConcatDatasetChainsDataSets()
    {
        var cat = new ConcatDataset<Tensor[]>(Numbers(3), Numbers(0, 100), Numbers(4, 10));
        Assert.Equal(7, cat.Count);
        Assert.Equal([3, 3, 7], cat.CumulativeSizes);
        Assert.Equal([0L, 1, 2, 10, 11, 12, 13], Enumerable.Range(0, 7).Select(i => Label(cat[i])));
        Assert.Equal(13, Label(cat[-1]));
        Assert.Equal(0, Label(cat[-7]));
        Assert.Throws<ArgumentOutOfRangeException>(() => cat[7]);
        Assert.Throws<ArgumentOutOfRangeException>(() => cat[-8]);
        Assert.Throws<ArgumentException>(() => new ConcatDataset<Tensor[]>());
    }

    [Fact]
    public void DataLoaderBatchesASplit()
    {
        var train = Dataset.RandomSplit(Numbers(10), [8, 2], new Rng(1))[0];
        var seen = new List<long>();
        foreach (var batch in new DataLoader(train, batchSize: 3))
        {
            Assert.Equal(2, batch.Length);
            seen.AddRange(batch[1].ToLongArray());
        }
        Assert.Equal(train.Indices.Select(i => (long)i), seen);
    }
}
