using SharpGrad.Optimizers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Where the compiled backward writes the parameters' gradients (CompiledSupport.BindGrad / DeliverGrad / RentGrad): into
/// <c>.Grad</c>'s own array, into the tensor that becomes <c>.Grad</c>, or into an array the engine takes as it is. Each
/// case is checked against the eager model's gradients, including accumulation across two backward calls.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledGradientBindingTests
{
    private static (CompiledClassifier Model, CompiledClassifier.Compiled Net, List<Tensor> Params, Tensor X, Tensor Target) Setup(int seed)
    {
        var model = new CompiledClassifier();
        var x = Tensor.Randn([7, 20], rng: new Rng(seed));
        var target = Tensor.RandInt(0, 5, [7], new Rng(seed + 1));
        return (model, model.Compile(), model.Parameters().ToList(), x, target);
    }

    /// <summary>The eager gradients of the classifier's loss at (x, target), each parameter's .Grad left as it was.</summary>
    private static List<Tensor> EagerGradients(CompiledClassifier model, List<Tensor> ps, Tensor x, Tensor target)
    {
        var saved = ps.Select(p => p.Grad).ToList();
        foreach (var p in ps) p.Grad = null;
        Losses.CrossEntropy(model.Forward(x), target).Backward();
        var grads = ps.Select(p => p.Grad!.Clone()).ToList();
        for (int i = 0; i < ps.Count; i++) ps[i].Grad = saved[i];
        return grads;
    }

    /// <summary>The eager gradients of <paramref name="twin"/> loaded with <paramref name="model"/>'s parameters (the model's
    /// .Grad is not read, so its gradient tensors stay the compiled program's to reuse).</summary>
    private static List<Tensor> TwinGradients(Module twin, Module model, Tensor x, Tensor target)
    {
        twin.LoadStateDict(model.StateDict());
        Losses.CrossEntropy(twin switch
        {
            CompiledClassifier c => c.Forward(x),
            CompiledSharedLinearLoss s => s.Forward(x),
            _ => throw new ArgumentException("unknown twin"),
        }, target).Backward();
        return twin.Parameters().Select(p => p.Grad!).ToList();
    }

    [Fact]
    public void TheFusedBackwardAccumulatesIntoTheUsersGradTensorInPlace()
    {
        var (model, net, ps, x, target) = Setup(60);
        var eager = EagerGradients(model, ps, x, target);
        var grads = ps.Select(p => Tensor.Full(p.Shape, 0.25f)).ToList();
        var arrays = grads.Select(g => g.Data<float>()).ToList();
        for (int i = 0; i < ps.Count; i++) ps[i].Grad = grads[i];
        var versions = grads.Select(g => g.Version).ToList();

        net.LossBackward(x, target);
        for (int i = 0; i < ps.Count; i++)
        {
            Assert.Same(grads[i], ps[i].Grad);
            Assert.Same(arrays[i], ps[i].Grad!.Data<float>());   // written in place: no new array, no copy
            Assert.True(ps[i].Grad!.Version > versions[i], "the in-place accumulation bumps .Grad's version");
            TensorAssert.Close(eager[i] + 0.25f, ps[i].Grad!, 1e-4, 1e-5, $"parameter {i} after one backward");
        }

        // a second backward adds the same gradient again (PyTorch: gradients accumulate until zero_grad)
        net.LossBackward(x, target);
        for (int i = 0; i < ps.Count; i++) TensorAssert.Close(eager[i] * 2f + 0.25f, ps[i].Grad!, 1e-4, 1e-5, $"parameter {i} after two backwards");
    }

    [Fact]
    public void TheFusedBackwardGivesTheEagerGradientWhenGradIsNullAndAccumulatesOnTheNextCall()
    {
        var (model, net, ps, x, target) = Setup(62);
        var eager = EagerGradients(model, ps, x, target);
        foreach (var p in ps) p.Grad = null;
        net.LossBackward(x, target);
        for (int i = 0; i < ps.Count; i++) TensorAssert.Close(eager[i], ps[i].GradInternal!, 1e-4, 1e-5, $"parameter {i}");
        net.LossBackward(x, target);
        for (int i = 0; i < ps.Count; i++) TensorAssert.Close(eager[i] * 2f, ps[i].GradInternal!, 1e-4, 1e-5, $"parameter {i}, accumulated");
    }

    [Fact]
    public void TheFusedLoopReusesOneGradientTensorPerParameter()
    {
        var (_, net, ps, x, target) = Setup(64);
        var opt = new Sgd(ps, 0.01);
        var first = new Tensor?[ps.Count];
        for (int step = 0; step < 3; step++)
        {
            opt.ZeroGrad();
            net.LossBackward(x, target);
            for (int i = 0; i < ps.Count; i++)
            {
                first[i] ??= ps[i].GradInternal;
                Assert.Same(first[i], ps[i].GradInternal);
            }
            opt.Step();
        }
    }

    [Fact]
    public void AGradientUserCodeKeptKeepsItsValuesAfterZeroGradAndTheNextFusedBackward()
    {
        var (model, net, ps, x, target) = Setup(66);
        var opt = new Sgd(ps, 0.01);
        net.LossBackward(x, target);
        var kept = ps[0].Grad!;   // PyTorch: g = p.grad — stays valid after zero_grad(set_to_none=True)
        var values = kept.ToArray();
        opt.ZeroGrad();
        var x2 = Tensor.Randn([7, 20], rng: new Rng(67));
        var eager = EagerGradients(model, ps, x2, target);
        net.LossBackward(x2, target);
        Assert.Equal(values, kept.ToArray());
        Assert.NotSame(kept, ps[0].GradInternal);
        TensorAssert.Close(eager[0], ps[0].GradInternal!, 1e-4, 1e-5, "the new gradient");
    }

    [Fact]
    public void ANonContiguousGradIsAccumulatedThroughTheEngine()
    {
        var (model, net, ps, x, target) = Setup(68);
        var eager = EagerGradients(model, ps, x, target);
        var weight = ps[0];   // fc1.weight [32, 20]
        var transposed = Tensor.Full([weight.Shape[1], weight.Shape[0]], 0.5f).T();
        Assert.False(transposed.IsContiguous);
        weight.Grad = transposed;
        net.LossBackward(x, target);
        TensorAssert.Close(eager[0] + 0.5f, weight.Grad!, 1e-4, 1e-5, "the transposed .Grad plus the gradient");
    }

    [Fact]
    public void TheTapeBackwardTwiceAccumulatesLikeEager()
    {
        var (model, net, ps, x, target) = Setup(70);
        var eager = EagerGradients(model, ps, x, target);
        foreach (var p in ps) p.Grad = null;
        Losses.CrossEntropy(net.Forward(x), target).Backward();
        for (int i = 0; i < ps.Count; i++) TensorAssert.Close(eager[i], ps[i].GradInternal!, 1e-4, 1e-5, $"parameter {i}, tape");
        Losses.CrossEntropy(net.Forward(x), target).Backward();
        for (int i = 0; i < ps.Count; i++) TensorAssert.Close(eager[i] * 2f, ps[i].GradInternal!, 1e-4, 1e-5, $"parameter {i}, tape twice");
        // and the fused backward adds to what the tape left
        net.LossBackward(x, target);
        for (int i = 0; i < ps.Count; i++) TensorAssert.Close(eager[i] * 3f, ps[i].GradInternal!, 1e-4, 1e-5, $"parameter {i}, tape twice then fused");
    }

    /// <summary>
    /// After ZeroGrad the fused backward reuses the previous step's gradient tensor without clearing it: the first writer
    /// overwrites it. Each step's gradient must be that step's eager gradient, not the sum with the last one.
    /// </summary>
    [Fact]
    public void EachFusedStepAfterZeroGradGivesThatStepsGradientInTheReusedTensor()
    {
        var (model, net, ps, _, target) = Setup(72);
        var opt = new Sgd(ps, 0.05);
        var first = new Tensor?[ps.Count];
        for (int step = 0; step < 3; step++)
        {
            var x = Tensor.Randn([7, 20], rng: new Rng(100 + step));
            var eager = TwinGradients(new CompiledClassifier(), model, x, target);
            opt.ZeroGrad();
            net.LossBackward(x, target);
            for (int i = 0; i < ps.Count; i++)
            {
                first[i] ??= ps[i].GradInternal;
                Assert.Same(first[i], ps[i].GradInternal);   // the uncleared tensor was reused: the overwrite path ran
                TensorAssert.Close(eager[i], ps[i].GradInternal!, 1e-4, 1e-5, $"parameter {i}, step {step}");
            }
            opt.Step();
        }
    }

    /// <summary>A Linear applied twice: its gradient's first writer overwrites the reused tensor, the second adds to it.</summary>
    [Fact]
    public void ALinearUsedTwiceGetsBothContributionsAfterZeroGrad()
    {
        var model = new CompiledSharedLinearLoss();
        var net = model.Compile();
        var ps = model.Parameters().ToList();
        var target = Tensor.RandInt(0, 3, [5], new Rng(81));
        var opt = new Sgd(ps, 0.05);
        for (int step = 0; step < 3; step++)
        {
            var x = Tensor.Randn([5, 6], rng: new Rng(90 + step));
            var eager = TwinGradients(new CompiledSharedLinearLoss(), model, x, target);
            opt.ZeroGrad();
            net.LossBackward(x, target);
            for (int i = 0; i < ps.Count; i++) TensorAssert.Close(eager[i], ps[i].GradInternal!, 1e-4, 1e-5, $"parameter {i}, step {step}");
            opt.Step();
        }
    }

    /// <summary>ZeroGrad(setToNone: false) leaves zeroed .Grad tensors: the fused backward adds to them (no overwrite), twice.</summary>
    [Fact]
    public void ZeroGradToZerosIsAddedToLikeEager()
    {
        var (model, net, ps, x, target) = Setup(74);
        var opt = new Sgd(ps, 0.05);
        net.LossBackward(x, target);
        opt.ZeroGrad(setToNone: false);
        var eager = EagerGradients(model, ps, x, target);
        net.LossBackward(x, target);
        net.LossBackward(x, target);
        for (int i = 0; i < ps.Count; i++) TensorAssert.Close(eager[i] * 2f, ps[i].GradInternal!, 1e-4, 1e-5, $"parameter {i}");
    }
}
