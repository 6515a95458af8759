using System.Text.Json;
using SharpGrad.Layers;

namespace SharpGrad.Distributed.Tests;

/// <summary>
/// A program started without a launcher is a group of one (no MPI needed): the collectives leave tensors as they are,
/// and DistributedDataParallel runs its whole reducer — buckets, hooks, the end-of-backward callback — averaging over
/// one rank, so gradients equal those of the plain model in every mode. Also the bucket assignment against PyTorch's,
/// and the API's errors.
/// </summary>
[Collection(InProcessGroupCollection.Name)]
public class SingleProcessTests
{
    [Fact]
    public void WithoutALauncherTheGroupIsRankZeroOfOne()
    {
        using var group = ProcessGroup.InitMpi();
        Assert.Equal(0, group.Rank);
        Assert.Equal(1, group.Size);
        Assert.StartsWith("self", group.Backend);
        Assert.Equal(ProcessGroup.DefaultTimeout, group.Timeout);
        Assert.Equal(TimeSpan.FromMinutes(30), group.Timeout);
    }

    [Fact]
    public void CollectivesOfOneLeaveTheValues()
    {
        using var group = ProcessGroup.InitMpi();
        foreach (var op in Enum.GetValues<ReduceOp>())
        {
            var t = Tensor.FromArray(new double[] { 1.5, -2, 3 });
            group.AllReduce(t, op);
            Assert.Equal(new double[] { 1.5, -2, 3 }, t.ToDoubleArray());
        }
        var b = Tensor.FromArray(new long[] { 4, 5 });
        group.Broadcast(b);
        Assert.Equal(new long[] { 4, 5 }, b.ToLongArray());
        var source = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        var parts = group.AllGather(source.Transpose(0, 1));
        Assert.Single(parts);
        Assert.Equal(new[] { 3, 2 }, parts[0].Shape);
        Assert.Equal(new float[] { 1, 4, 2, 5, 3, 6 }, parts[0].ToArray());
        group.Barrier();
        int saved = 0;
        group.Checkpoint(() => saved++);
        Assert.Equal(1, saved);
        var e = Assert.Throws<IOException>(() => group.Checkpoint(() => throw new IOException("disk full")));
        Assert.Equal("disk full", e.Message);
    }

    [Fact]
    public void ASamplerOfOneRankYieldsTheWholeDataSet()
    {
        using var group = ProcessGroup.InitMpi();
        var dataset = new SharpGrad.Data.TensorDataset(Tensor.Zeros(7, 2));
        var sampler = new DistributedSampler(dataset, group, shuffle: false);
        Assert.Equal([0, 1, 2, 3, 4, 5, 6], sampler.ToArray());
        var shuffled = new DistributedSampler(dataset, group, seed: 4);
        Assert.Equal(TorchRandPerm.Permutation(7, 4), shuffled.ToArray());
    }

    [Fact]
    public void BadUseIsRefusedClearly()
    {
        using (var group = ProcessGroup.InitMpi())
        {
            Assert.Contains("already initialised", Assert.Throws<InvalidOperationException>(() => ProcessGroup.InitMpi()).Message);
            Assert.Contains("not contiguous", Assert.Throws<ArgumentException>(() => group.AllReduce(Tensor.Zeros(2, 3).Transpose(0, 1))).Message);
            Assert.Contains("Average needs a floating-point tensor", Assert.Throws<ArgumentException>(() => group.AllReduce(Tensor.FromArray(new long[] { 1 }), ReduceOp.Average)).Message);
            Assert.Contains("Bool tensor", Assert.Throws<ArgumentException>(() => group.AllReduce(Tensor.FromArray(new bool[] { true }), ReduceOp.Sum)).Message);
            Assert.Contains("root 1 is not a rank", Assert.Throws<ArgumentOutOfRangeException>(() => group.Broadcast(Tensor.Zeros(1), 1)).Message);
            Assert.Throws<ArgumentOutOfRangeException>(() => group.Timeout = TimeSpan.Zero);
            Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedDataParallel(new Linear(2, 2), group, bucketCapMb: 0));
            group.Dispose();
            Assert.Throws<ObjectDisposedException>(() => group.AllReduce(Tensor.Zeros(1)));
            Assert.Throws<ObjectDisposedException>(() => new DistributedDataParallel(new Linear(2, 2), group));
        }
        using var again = ProcessGroup.InitMpi(); // a group of one can be created again after disposing the previous one
        Assert.Equal(1, again.Size);
    }

    [Fact]
    public void BucketsAreAssignedAsPyTorchAssignsThem()
    {
        using var group = ProcessGroup.InitMpi();
        var fixture = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "ddp_buckets.json"))).RootElement;
        int cases = 0;
        foreach (var c in fixture.GetProperty("cases").EnumerateArray())
        {
            var layers = c.GetProperty("layers").EnumerateArray().Select(l => (Module)new Linear(l[0].GetInt32(), l[1].GetInt32())).ToArray();
            using var ddp = new DistributedDataParallel(new Sequential(layers), group, bucketCapMb: c.GetProperty("bucket_cap_mb").GetInt32());
            var expected = c.GetProperty("buckets").EnumerateArray().Select(b => b.EnumerateArray().Select(n => n.GetString()!).ToArray()).ToList();
            Assert.Equal(expected, ddp.Buckets.Select(b => b.ToArray()).ToList());
            cases++;
        }
        Assert.Equal(9, cases);
    }

    [Fact]
    public void ABucketsAllReduceStartsDuringTheBackwardAsSoonAsItsGradientsAreReady()
    {
        using var group = ProcessGroup.InitMpi();
        // Buckets (as PyTorch makes them with a 1 MiB cap): [1.bias, 2.*, 3.*], [0.bias, 1.weight], [0.weight].
#pragma warning disable SG2009 // the test needs PyTorch's run-time Sequential names (0.weight, 1.bias) for the bucket layout
        var model = new Sequential(new Linear(512, 512), new Linear(512, 512), new Linear(512, 100), new Linear(100, 10));
#pragma warning restore SG2009
        using var ddp = new DistributedDataParallel(model, group, bucketCapMb: 1);
        Assert.Equal(3, ddp.Buckets.Count);
        var firstBias = model.NamedParameters().Single(p => p.Name == "0.bias").Value;
        (int Started, bool Running, long Finished)? seen = null;
        // Runs after DDP's own hook on 0.bias (the bias add is the last op of layer 0, so its gradient comes before
        // 0.weight's): the first two buckets are complete, the engine still has 0.weight to deliver.
        using var hook = firstBias.RegisterPostAccumulateGradHook(_ => seen = (ddp.StartedBuckets, Autograd.IsBackwardRunning, ddp.SynchronizedSteps));
        model.Forward(Tensor.Randn([2, 512], rng: new Rng(5))).Sum().Backward();
        Assert.Equal((2, true, 0L), seen); // two buckets' all-reduces started mid-backward; the step not finished yet
        Assert.Equal(1, ddp.SynchronizedSteps);
        Assert.Equal(0, ddp.StartedBuckets); // reset for the next step
    }

    private static DdpNet Copy(DdpNet model)
    {
        var copy = new DdpNet();
        copy.LoadStateDict(model.StateDict());
        return copy;
    }

    [Fact]
    public void GradientsOfOneRankAreThePlainModelsInEveryMode()
    {
        using var group = ProcessGroup.InitMpi();
        var rng = new Rng(3);
        var x = Tensor.Randn([6, 1, 8, 8], rng: rng);
        var y = Tensor.RandInt(0, 3, [6], rng: rng);
        var model = new DdpNet();
        var plain = Copy(model);
        using var ddp = new DistributedDataParallel(model, group);
        Losses.CrossEntropy(plain.Forward(x), y).Backward();
        var expected = plain.Parameters().Select(p => p.Grad!.Clone()).ToList();

        void Check(string what)
        {
            var grads = model.Parameters().Select(p => p.Grad).ToList();
            for (int i = 0; i < grads.Count; i++)
            {
                Assert.NotNull(grads[i]);
                var e = expected[i].ToArray();
                var a = grads[i]!.ToArray();
                for (int j = 0; j < e.Length; j++) Assert.True(Math.Abs(e[j] - a[j]) <= 1e-5 * (1 + Math.Abs(e[j])), $"{what}: parameter {i}, element {j}: {e[j]} vs {a[j]}");
            }
            model.ZeroGrad();
        }

        Losses.CrossEntropy(model.Forward(x), y).Backward();
        Check("eager");
        var net = model.Compile();
        Losses.CrossEntropy(net.Forward(x), y).Backward();
        Check("compiled tape");
        net.LossBackward(x, y);
        Check("LossBackward");
        Assert.Equal(3, ddp.SynchronizedSteps);
        Assert.True(ddp.CommunicationWait >= TimeSpan.Zero);

        using (ddp.NoSync())
        {
            net.LossBackward(x, y);
            Losses.CrossEntropy(model.Forward(x), y).Backward();
        }
        Assert.Equal(3, ddp.SynchronizedSteps); // nothing was averaged
        Losses.CrossEntropy(net.Forward(x), y).Backward();
        Assert.Equal(4, ddp.SynchronizedSteps);
        expected = expected.Select(g => g * 3f).ToList();
        Check("two NoSync backward passes and a synchronised one accumulate");
    }

    [Fact]
    public void ParametersThatGetNoGradientKeepNone()
    {
        using var group = ProcessGroup.InitMpi();
        var model = new BranchNet { UseExtra = false };
        using var ddp = new DistributedDataParallel(model, group);
        model.Forward(Tensor.Randn([3, 6], rng: new Rng(1))).Sum().Backward();
        var grads = model.NamedParameters().ToDictionary(p => p.Name, p => p.Value.Grad);
        Assert.Null(grads["extra.weight"]);
        Assert.Null(grads["never.bias"]);
        Assert.NotNull(grads["stem.weight"]);
        Assert.NotNull(grads["head.bias"]);
        Assert.Equal(1, ddp.SynchronizedSteps);
    }

    [Fact]
    public void FrozenParametersAreNotReduced()
    {
        using var group = ProcessGroup.InitMpi();
#pragma warning disable SG2009 // the test needs PyTorch's run-time Sequential names (0.weight, 1.bias) for the bucket layout
        var model = new Sequential(new Linear(4, 3), new Linear(3, 2));
#pragma warning restore SG2009
        model.Parameters().First().RequiresGrad = false;
        using var ddp = new DistributedDataParallel(model, group);
        Assert.DoesNotContain("0.weight", ddp.Buckets.SelectMany(b => b));
        Assert.Contains("0.bias", ddp.Buckets.SelectMany(b => b));
    }

    [Fact]
    public void ALossBackwardThatLeavesParametersWithoutGradientIsReportedAtTheNextStep()
    {
        using var group = ProcessGroup.InitMpi();
        var model = new PartialLossNet();
        using var ddp = new DistributedDataParallel(model, group);
        var net = model.Compile();
        var x = Tensor.Randn([5, 4], rng: new Rng(2));
        var target = Tensor.Randn([5, 3], rng: new Rng(4));
        net.LossBackward(x, target);
        var e = Assert.Throws<InvalidOperationException>(() => net.LossBackward(x, target));
        Assert.Contains("fc2.weight", e.Message);
        Assert.Contains("RequiresGrad = false", e.Message);
        // With fc2 frozen (before wrapping) the compiled loss gives every reduced parameter its gradient.
        ddp.Dispose();
        foreach (var p in model.NamedParameters().Where(p => p.Name.StartsWith("fc2", StringComparison.Ordinal))) p.Value.RequiresGrad = false;
        using var frozen = new DistributedDataParallel(model, group);
        model.ZeroGrad();
        net.LossBackward(x, target);
        net.LossBackward(x, target);
        Assert.Equal(2, frozen.SynchronizedSteps);
    }

    [Fact]
    public void ABackwardThatFailedHalfwayIsReportedAtTheNextOne()
    {
        using var group = ProcessGroup.InitMpi();
        var model = new Linear(3, 2);
        using var ddp = new DistributedDataParallel(model, group);
        bool fail = true;
        // Registered after DDP's hook: DDP has taken the weight's gradient when this one throws and aborts the backward.
        using var hook = model.Weight.RegisterPostAccumulateGradHook(_ =>
        {
            if (fail) throw new InvalidOperationException("a hook failed on purpose");
        });
        var x = Tensor.Randn([4, 3], rng: new Rng(1));
        Assert.Throws<InvalidOperationException>(() => model.Forward(x).Sum().Backward());
        fail = false;
        model.ZeroGrad();
        var e = Assert.Throws<InvalidOperationException>(() => model.Forward(x).Sum().Backward());
        Assert.Contains("the previous backward failed", e.Message);
        model.ZeroGrad();
        model.Forward(x).Sum().Backward(); // and the step after that works again
        Assert.Equal(1, ddp.SynchronizedSteps);
        Assert.NotNull(model.Weight.Grad);
    }

    [Fact]
    public void AModelIsWrappedOnceAtATime()
    {
        using var group = ProcessGroup.InitMpi();
        var model = new Linear(3, 2);
        var first = new DistributedDataParallel(model, group);
        Assert.Contains("already wrapped", Assert.Throws<ArgumentException>(() => new DistributedDataParallel(model, group)).Message);
        first.Dispose();
        using var second = new DistributedDataParallel(model, group);
        Assert.Same(model, second.Module);
        Assert.Same(group, second.Group);
    }
}

/// <summary>Tests that create this process's (single) process group run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class InProcessGroupCollection
{
    public const string Name = "In-process group";
}
