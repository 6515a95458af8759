using SharpGrad.Data;
using SharpGrad.Layers;
using SharpGrad.Optimizers;

namespace SharpGrad.Distributed.Tests.Worker;

/// <summary>
/// DistributedDataParallel under <c>mpiexec -n 2</c>. The acceptance check: 20 SGD steps (momentum 0.9) with 2 ranks ×
/// batch 32 give the parameters of 20 steps of one process on the whole batch of 64 (1e-5 relative), for the eager model,
/// the compiled Forward's tape node and the compiled LossBackward, and the same with NoSync() accumulation over 2
/// micro-batches. The ranks start from different weights: DDP must copy rank 0's. Also: parameters used by one rank only
/// or by none, buffers copied from rank 0, models that differ across ranks, and DistributedSampler's shards.
/// </summary>
public static class DdpScenarios
{
    private const int Steps = 20;
    private const int GlobalBatch = 64;

    public enum Mode
    {
        Eager,
        CompiledTape,
        LossBackward,
    }

    public static void Run(ProcessGroup group, Report report)
    {
        foreach (var mode in Enum.GetValues<Mode>())
        {
            TrainsLikeOneProcessOnTheWholeBatch(group, report, mode, microBatches: 1);
            TrainsLikeOneProcessOnTheWholeBatch(group, report, mode, microBatches: 2);
        }
        ParametersUsedByOneRankOrByNone(group, report);
        BuffersComeFromRankZero(group, report);
        ModelsThatDifferAcrossRanksAreRefused(group, report);
        SamplerShardsTheDataSet(group, report);
    }

    /// <summary>The same inputs and labels on every rank (a fixed generator), <paramref name="count"/> samples.</summary>
    private static (Tensor X, Tensor Y) Data(int count)
    {
        var rng = new Rng(1234);
        return (Tensor.Randn([count, 1, 8, 8], rng: rng), Tensor.RandInt(0, 3, [count], rng: rng));
    }

    private static void Backward(Mode mode, DdpNet model, DdpNet.Compiled? net, Tensor x, Tensor y)
    {
        switch (mode)
        {
            case Mode.Eager: Losses.CrossEntropy(model.Forward(x), y).Backward(); break;
            case Mode.CompiledTape: Losses.CrossEntropy(net!.Forward(x), y).Backward(); break;
            default: net!.LossBackward(x, y); break;
        }
    }

    private static void TrainsLikeOneProcessOnTheWholeBatch(ProcessGroup group, Report report, Mode mode, int microBatches)
    {
        string name = $"ddp {mode}" + (microBatches > 1 ? $" NoSync over {microBatches} micro-batches" : "");
        Rng.ManualSeed(100 + group.Rank); // different weights on each rank: DDP copies rank 0's
        var model = new DdpNet();
        using var ddp = new DistributedDataParallel(model, group);
        var reference = new DdpNet();
        reference.LoadStateDict(model.StateDict());
        var net = mode == Mode.Eager ? null : model.Compile();
        var referenceNet = mode == Mode.Eager ? null : reference.Compile();
        var optimizer = new Sgd(model.Parameters(), lr: 0.1, momentum: 0.9);
        var referenceOptimizer = new Sgd(reference.Parameters(), lr: 0.1, momentum: 0.9);
        var (x, y) = Data(Steps * GlobalBatch);
        int local = GlobalBatch / group.Size, micro = local / microBatches, referenceMicro = GlobalBatch / microBatches;
        for (int step = 0; step < Steps; step++)
        {
            optimizer.ZeroGrad();
            for (int m = 0; m < microBatches; m++)
            {
                int start = step * GlobalBatch + group.Rank * local + m * micro;
                using (m < microBatches - 1 ? ddp.NoSync() : null)
                {
                    Backward(mode, model, net, x.Narrow(0, start, micro), y.Narrow(0, start, micro));
                }
            }
            optimizer.Step();

            // One process, the whole batch, split into the same number of micro-batches.
            referenceOptimizer.ZeroGrad();
            for (int m = 0; m < microBatches; m++)
            {
                int start = step * GlobalBatch + m * referenceMicro;
                Backward(mode, reference, referenceNet, x.Narrow(0, start, referenceMicro), y.Narrow(0, start, referenceMicro));
            }
            referenceOptimizer.Step();
        }
        var expected = reference.NamedParameters().ToDictionary(p => p.Name, p => p.Value);
        foreach (var (pname, p) in model.NamedParameters()) report.Close(expected[pname].Detach(), p.Detach(), 1e-5, $"{name}: {pname}");
        report.True(ddp.SynchronizedSteps == Steps, $"{name}: synchronised steps", $"{ddp.SynchronizedSteps} instead of {Steps}");
        // The replicas are identical, bit for bit: the same averaged gradients, the same optimizer.
        var flat = Tensor.Cat(model.Parameters().Select(p => p.Detach().Flatten()).ToArray(), 0);
        var both = group.AllGather(flat);
        report.Close(both[0], both[1], 0, $"{name}: the ranks hold the same parameters");
    }

    private static void ParametersUsedByOneRankOrByNone(ProcessGroup group, Report report)
    {
        Rng.ManualSeed(7 + group.Rank);
        var model = new BranchNet { UseExtra = group.Rank == 0 };
        using var ddp = new DistributedDataParallel(model, group);
        var start = model.StateDict();
        Tensor Input(int rank) => Tensor.Randn([5, 6], rng: new Rng(50 + rank));

        // What each rank's backward gives on its own (computed here for both ranks from rank 0's weights).
        var local = new Dictionary<string, Tensor?>[2];
        for (int r = 0; r < 2; r++)
        {
            var copy = new BranchNet { UseExtra = r == 0 };
            copy.LoadStateDict(start);
            copy.Forward(Input(r)).Sum().Backward();
            local[r] = copy.NamedParameters().ToDictionary(p => p.Name, p => p.Value.Grad);
        }

        model.Forward(Input(group.Rank)).Sum().Backward();
        foreach (var (pname, p) in model.NamedParameters())
        {
            var (a, b) = (local[0][pname], local[1][pname]);
            if (a is null && b is null)
            {
                report.True(p.Grad is null, $"ddp unused by every rank: {pname} keeps no gradient", $"it has {p.Grad}");
                continue;
            }
            var expected = ((a ?? Tensor.ZerosLike(b!)) + (b ?? Tensor.ZerosLike(a!))) / 2f;
            if (p.Grad is null) report.Fail($"ddp used by {(a is null || b is null ? "one rank" : "both ranks")}: {pname}", "no gradient");
            else report.Close(expected, p.Grad, 1e-6, $"ddp used by {(a is null || b is null ? "one rank" : "both ranks")}: {pname}");
        }
    }

    private static void BuffersComeFromRankZero(ProcessGroup group, Report report)
    {
        Rng.ManualSeed(11 + group.Rank);
        var model = new NormNet();
        using var ddp = new DistributedDataParallel(model, group);
        var x = Tensor.Randn([16, 6], rng: new Rng(60 + group.Rank)); // each rank's own batch: different batch statistics
        model.Forward(x).Sum().Backward();
        foreach (var (bname, buffer) in model.NamedBuffers())
        {
            var both = group.AllGather(buffer.Detach());
            report.Close(both[0], both[1], 0, $"ddp buffer {bname} is rank 0's on every rank");
        }
        var mean = model.NamedBuffers().Single(b => b.Name.EndsWith("running_mean", StringComparison.Ordinal)).Value;
        report.True(mean.ToArray().Any(v => v != 0), "ddp buffers were updated by the forward", "running_mean is still zero");
    }

    private static void ModelsThatDifferAcrossRanksAreRefused(ProcessGroup group, Report report)
    {
        var model = new Linear(3, group.Rank == 0 ? 2 : 4);
        report.Throws<DistributedException>(() => new DistributedDataParallel(model, group), "ddp different models on the ranks",
            "rank 0: new DistributedDataParallel(…) of a model with 2 parameters and buffers (8 elements",
            "rank 1: new DistributedDataParallel(…) of a model with 2 parameters and buffers (16 elements");
    }

    private static void SamplerShardsTheDataSet(ProcessGroup group, Report report)
    {
        const int length = 11;
        var sampler = new DistributedSampler(length, group, shuffle: true, seed: 3);
        sampler.SetEpoch(2);
        var dataset = new TensorDataset(Tensor.FromArray(Enumerable.Range(0, length).Select(i => (long)i).ToArray(), length));
        var seen = new DataLoader(dataset, batchSize: 4, sampler: sampler).SelectMany(b => b[0].ToLongArray()).ToArray();
        report.True(seen.SequenceEqual(sampler.Indices().Select(i => (long)i)), "sampler: the loader visits the sampler's indices",
            $"{string.Join(",", seen)} vs {string.Join(",", sampler.Indices())}");
        var shards = group.AllGather(Tensor.FromArray(seen, seen.Length));
        var all = shards.SelectMany(s => s.ToLongArray()).ToList();
        report.True(all.Count == 12 && all.Distinct().Count() == length, "sampler: the ranks' shards cover the data set, padded to 12",
            string.Join(",", all));
        for (int r = 0; r < 2; r++)
        {
            var expected = new DistributedSampler(length, 2, r, shuffle: true, seed: 3);
            expected.SetEpoch(2);
            report.True(shards[r].ToLongArray().SequenceEqual(expected.Indices().Select(i => (long)i)), $"sampler: rank {r}'s shard",
                string.Join(",", shards[r].ToLongArray()));
        }
    }
}
