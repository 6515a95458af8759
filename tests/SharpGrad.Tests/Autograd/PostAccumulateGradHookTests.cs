using SharpGrad;
using SharpGrad.Layers;
using SharpGrad.Tests.Compiler;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Semantics;

/// <summary>
/// <c>Tensor.RegisterPostAccumulateGradHook</c> (PyTorch: <c>register_post_accumulate_grad_hook</c>) and
/// <c>Autograd.QueueCallback</c> (PyTorch: <c>queue_callback</c>): what DistributedDataParallel builds on. The hook runs
/// once per backward with <c>.Grad</c> already updated, from the eager engine, a compiled program's tape node and a fused
/// <c>LossBackward</c>.
/// </summary>
public class PostAccumulateGradHookTests
{
    [Fact]
    public void RunsAfterGradIsAccumulatedAndSeesTheTotal()
    {
        var x = Tensor.FromArray(new float[] { 1, 2, 3 }).RequiresGrad_();
        var seen = new List<float[]>();
        using var h = x.RegisterPostAccumulateGradHook(t => seen.Add(t.Grad!.ToArray()));
        (x * x).Sum().Backward();
        (x * 10f).Sum().Backward();
        Assert.Equal(2, seen.Count);
        Assert.Equal(new float[] { 2, 4, 6 }, seen[0]);
        Assert.Equal(new float[] { 12, 14, 16 }, seen[1]); // the accumulated total, not the increment
    }

    [Fact]
    public void RunsOnceWithTheSumWhenSeveralOpsUseTheLeaf()
    {
        // A weight used twice (as by a shared layer applied twice): PyTorch sums both uses before AccumulateGrad.
        var w = Tensor.FromArray(new float[] { 2 }).RequiresGrad_();
        var x = Tensor.FromArray(new float[] { 3 });
        int calls = 0;
        float? grad = null;
        using var h = w.RegisterPostAccumulateGradHook(t => { calls++; grad = t.Grad!.Item(); });
        var y = (w * x) * w + w; // d/dw = 2·w·x + 1 = 13
        y.Sum().Backward();
        Assert.Equal(1, calls);
        Assert.Equal(13f, grad);
    }

    [Fact]
    public void LeafTensorHookAlsoSeesTheSummedGradientOnce()
    {
        var w = Tensor.FromArray(new float[] { 2 }).RequiresGrad_();
        var seen = new List<float>();
        using var h = w.RegisterHook(g => seen.Add(g.Item()));
        (w * 3f + w * 4f).Sum().Backward();
        Assert.Equal(new[] { 7f }, seen);
        Assert.Equal(7f, w.Grad!.Item());
    }

    [Fact]
    public void AnOutputThatIsALeafAndAlsoUsedGetsOneSummedDelivery()
    {
        var x = Tensor.FromArray(new float[] { 5 }).RequiresGrad_();
        int calls = 0;
        using var h = x.RegisterPostAccumulateGradHook(_ => calls++);
        Engine.Run([x, x * 2f], null, false, false, null);
        Assert.Equal(1, calls);
        Assert.Equal(3f, x.Grad!.Item());
    }

    [Fact]
    public void DisposedHookNoLongerRuns()
    {
        var x = Tensor.FromArray(new float[] { 1 }).RequiresGrad_();
        int calls = 0;
        var h = x.RegisterPostAccumulateGradHook(_ => calls++);
        (x * 2f).Sum().Backward();
        h.Dispose();
        (x * 2f).Sum().Backward();
        Assert.Equal(1, calls);
    }

    [Fact]
    public void NotRunByAutogradGradWhichAccumulatesNothing()
    {
        var x = Tensor.FromArray(new float[] { 1, 2 }).RequiresGrad_();
        int calls = 0;
        using var h = x.RegisterPostAccumulateGradHook(_ => calls++);
        var g = Autograd.Grad((x * x).Sum(), x);
        Assert.Equal(new float[] { 2, 4 }, g.ToArray());
        Assert.Equal(0, calls);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void RefusedOnNonLeavesAndOnTensorsWithoutGrad()
    {
        var x = Tensor.FromArray(new float[] { 1, 2 }).RequiresGrad_();
        var e = Assert.Throws<InvalidOperationException>(() => (x * 2f).RegisterPostAccumulateGradHook(_ => { }));
        Assert.Contains("leaf", e.Message);
        Assert.Contains("MulBackward", e.Message);
        var e2 = Assert.Throws<InvalidOperationException>(() => Tensor.Zeros(2).RegisterPostAccumulateGradHook(_ => { }));
        Assert.Contains("does not require grad", e2.Message);
    }

    [Fact]
    public void RunsForEveryParameterFromACompiledTapeNodeAndFromLossBackward()
    {
        var model = new CompiledClassifier();
        var net = model.Compile();
        var parameters = model.Parameters().ToList();
        var calls = new int[parameters.Count];
        var seen = new Tensor?[parameters.Count];
        for (int i = 0; i < parameters.Count; i++)
        {
            int k = i;
            parameters[i].RegisterPostAccumulateGradHook(t => { calls[k]++; seen[k] = t.Grad!.Clone(); });
        }
        var x = Tensor.Randn([4, 20], rng: new Rng(3));
        var target = Tensor.FromArray(new long[] { 0, 1, 4, 2 });

        Losses.CrossEntropy(net.Forward(x), target).Backward(); // the tape node
        Assert.All(calls, c => Assert.Equal(1, c));
        for (int i = 0; i < parameters.Count; i++) TensorAssert.Close(parameters[i].Grad!, seen[i]!, 0, 0, $"tape: parameter {i}");

        model.ZeroGrad();
        net.LossBackward(x, target); // the fused program: the hook sees the freshly delivered .Grad
        Assert.All(calls, c => Assert.Equal(2, c));
        for (int i = 0; i < parameters.Count; i++) TensorAssert.Close(parameters[i].Grad!, seen[i]!, 0, 0, $"fused: parameter {i}");

        net.LossBackward(x, target); // .Grad already exists: accumulated in place, then the hook
        Assert.All(calls, c => Assert.Equal(3, c));
        for (int i = 0; i < parameters.Count; i++) TensorAssert.Close(parameters[i].Grad!, seen[i]!, 0, 0, $"fused, accumulated: parameter {i}");
    }

    [Fact]
    public void QueuedCallbackRunsAfterEveryGradientWasAccumulated()
    {
        var a = Tensor.FromArray(new float[] { 1 }).RequiresGrad_();
        var b = Tensor.FromArray(new float[] { 2 }).RequiresGrad_();
        var log = new List<string>();
        using var ha = a.RegisterPostAccumulateGradHook(_ =>
        {
            log.Add("a");
            Assert.True(Autograd.IsBackwardRunning);
            Autograd.QueueCallback(() =>
            {
                log.Add($"end a={a.Grad!.Item()} b={b.Grad!.Item()}");
                Autograd.QueueCallback(() => log.Add("queued by a callback"));
            });
        });
        using var hb = b.RegisterPostAccumulateGradHook(_ => log.Add("b"));
        (a * 3f + (b * b) * 5f).Sum().Backward();
        Assert.Equal(4, log.Count);
        Assert.Equal(["a", "b"], log.Take(2).Order());
        Assert.Equal(["end a=3 b=20", "queued by a callback"], log.Skip(2));
        Assert.False(Autograd.IsBackwardRunning);
    }

    [Fact]
    public void QueueCallbackOutsideABackwardThrows()
    {
        Assert.False(Autograd.IsBackwardRunning);
        var e = Assert.Throws<InvalidOperationException>(() => Autograd.QueueCallback(() => { }));
        Assert.Contains("while a backward pass runs", e.Message);
    }

    [Fact]
    public void AnUnusedLinearGetsNoHookCall()
    {
        var used = new Linear(3, 2);
        var unused = new Linear(3, 2);
        int calls = 0;
        using var h = unused.Weight.RegisterPostAccumulateGradHook(_ => calls++);
        used.Forward(Tensor.Randn([4, 3])).Sum().Backward();
        Assert.Equal(0, calls);
        Assert.Null(unused.Weight.Grad);
    }
}
