using System.Text.Json;

namespace SharpGrad.Distributed.Tests;

/// <summary>
/// DistributedSampler against torch.utils.data.distributed.DistributedSampler (Fixtures/distributed_sampler.json, written
/// by Fixtures/make_fixtures.py): every rank's indices for lengths 0–100, 1–8 ranks, with and without shuffle (several
/// seeds and epochs, a negative seed) and drop_last — the same indices, in the same order, since the shuffle reproduces
/// torch.randperm.
/// </summary>
public class DistributedSamplerTests
{
    private static readonly JsonElement Fixture = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "distributed_sampler.json"))).RootElement;

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(v => v.GetInt32()).ToArray();

    [Fact]
    public void TorchRandPermIsReproduced()
    {
        foreach (var c in Fixture.GetProperty("randperm").EnumerateArray())
        {
            int n = c.GetProperty("n").GetInt32();
            long seed = c.GetProperty("seed").GetInt64();
            Assert.Equal(Ints(c.GetProperty("permutation")), TorchRandPerm.Permutation(n, seed));
        }
    }

    [Fact]
    public void EveryRanksIndicesMatchPyTorch()
    {
        int cases = 0;
        foreach (var c in Fixture.GetProperty("sampler").EnumerateArray())
        {
            var sampler = new DistributedSampler(c.GetProperty("length").GetInt32(), c.GetProperty("size").GetInt32(), c.GetProperty("rank").GetInt32(),
                shuffle: c.GetProperty("shuffle").GetBoolean(), seed: c.GetProperty("seed").GetInt32(), dropLast: c.GetProperty("drop_last").GetBoolean());
            sampler.SetEpoch(c.GetProperty("epoch").GetInt32());
            string what = c.ToString();
            Assert.True(c.GetProperty("len").GetInt32() == sampler.Count, what);
            Assert.True(c.GetProperty("total_size").GetInt32() == sampler.TotalSize, what);
            Assert.True(Ints(c.GetProperty("indices")).SequenceEqual(sampler.ToArray()), $"{what}\ngot [{string.Join(", ", sampler)}]");
            cases++;
        }
        Assert.True(cases > 1000, $"only {cases} cases were read");
    }

    [Fact]
    public void TheEpochChangesTheShuffleAndNothingElse()
    {
        var sampler = new DistributedSampler(20, 2, 1, shuffle: true, seed: 5);
        var first = sampler.ToArray();
        Assert.Equal(first, sampler.ToArray());
        sampler.SetEpoch(1);
        Assert.NotEqual(first, sampler.ToArray());
        sampler.SetEpoch(0);
        Assert.Equal(first, sampler.ToArray());
        Assert.Equal(0, sampler.Epoch);
    }

    [Fact]
    public void BadArgumentsAreRefusedWithPyTorchsMessage()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(10, 2, 2));
        Assert.Contains("invalid rank 2; rank should be in the interval [0, 1]", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(10, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(-1, 2, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(10, 2, -1));
    }
}
