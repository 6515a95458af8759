using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Memory;

/// <summary>
/// The compiled loss head: <c>Losses.CrossEntropy(c.Forward(x), y, …)</c> on a compiled program is rerouted by the
/// generator to <c>CompiledSupport.CrossEntropy</c>, which records the loss on the program's own node (one node whose
/// inputs are the program's). Each case runs the fused call, the unfused one (the output held in a local first, which the
/// generator leaves alone) and the eager model, and compares the losses and every gradient.
/// </summary>
[Collection(AllocationCollection.Name)]
public class CompiledLossHeadTests
{
    private const int ProgramInputs = 7; // x and the three layers' weights and biases

    private static (WorkloadMlp Model, WorkloadMlp.Compiled C, List<Tensor> P, Tensor X, Tensor Y) Setup(int seed = 11)
    {
        var rng = new Rng(seed);
        var model = new WorkloadMlp();
        return (model, model.Compile(), model.Parameters().ToList(), Tensor.Rand([9, 784], rng: rng), Tensor.RandInt(0, 10, [9], rng));
    }

    private static void ZeroGrad(List<Tensor> ps)
    {
        foreach (var p in ps) p.Grad = null;
    }

    private static List<Tensor> Grads(List<Tensor> ps) => ps.Select(p => p.Grad!.Clone()).ToList();

    private static void SameGrads(List<Tensor> expected, List<Tensor> actual, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++) TensorAssert.Close(expected[i], actual[i], 1e-4, 1e-5, $"{what}: parameter {i}");
    }

    private static void Fused(Tensor loss) => Assert.True(
        loss.GradFn is { Name: "CrossEntropyLossBackward", NextFunctions.Count: ProgramInputs },
        $"expected the loss on the program's own node ({ProgramInputs} inputs), got {loss.GradFn} with {loss.GradFn?.NextFunctions.Count} inputs");

    private static void NotFused(Tensor loss) => Assert.Single(loss.GradFn!.NextFunctions);

    /// <summary>Three steps: a fresh gradient, then one accumulated without ZeroGrad, then a fresh one again.</summary>
    private static (List<float> Losses, List<List<Tensor>> Grads) Run(List<Tensor> ps, Func<Tensor> loss, Action<Tensor>? check = null)
    {
        var losses = new List<float>();
        var grads = new List<List<Tensor>>();
        ZeroGrad(ps);
        for (int step = 0; step < 3; step++)
        {
            if (step == 2) ZeroGrad(ps);
            var l = loss();
            check?.Invoke(l);
            losses.Add(l.Item());
            l.Backward();
            grads.Add(Grads(ps));
        }
        ZeroGrad(ps);
        return (losses, grads);
    }

    private static void Same((List<float> Losses, List<List<Tensor>> Grads) expected, (List<float> Losses, List<List<Tensor>> Grads) actual, string what)
    {
        for (int step = 0; step < expected.Losses.Count; step++)
        {
            Assert.True(Math.Abs(expected.Losses[step] - actual.Losses[step]) <= 1e-5f * Math.Max(1, Math.Abs(expected.Losses[step])),
                $"{what}, step {step}: loss {actual.Losses[step]}, expected {expected.Losses[step]}");
            SameGrads(expected.Grads[step], actual.Grads[step], $"{what}, step {step}");
        }
    }

    [Fact]
    public void TheFusedHeadIsOneNodeAndEqualsTheUnfusedPathAndEagerOverStepsWithAccumulation()
    {
        var (model, c, ps, x, y) = Setup();
        var eager = Run(ps, () => Losses.CrossEntropy(model.Forward(x), y), NotFused);
        var unfused = Run(ps, () =>
        {
            var logits = c.Forward(x);
            return Losses.CrossEntropy(logits, y);
        }, NotFused);
        var fused = Run(ps, () => Losses.CrossEntropy(c.Forward(x), y), Fused);
        Same(eager, unfused, "unfused vs eager");
        Same(eager, fused, "fused vs eager");
        // accumulation: step 1's gradient is twice step 0's (same batch), in every path
        SameGrads(fused.Grads[0].Select(g => g * 2).ToList(), fused.Grads[1], "fused accumulation");
    }

    [Theory]
    [InlineData(0.0, false, Reduction.Mean, -100L)]
    [InlineData(0.1, false, Reduction.Mean, -100L)]
    [InlineData(0.0, true, Reduction.Mean, -100L)]
    [InlineData(0.2, true, Reduction.Sum, -100L)]
    [InlineData(0.0, false, Reduction.Sum, 3L)]
    [InlineData(0.1, true, Reduction.Mean, 3L)]
    public void LabelSmoothingWeightsReductionAndIgnoreIndexAreFusedAndEqualEager(double smoothing, bool weighted, Reduction reduction, long ignore)
    {
        var (model, c, ps, x, _) = Setup();
        // targets with the ignored class present (3), so ignoreIndex changes the loss
        var y = Tensor.FromArray(new long[] { 3, 1, 0, 3, 9, 2, 3, 5, 7 }, 9);
        var w = weighted ? Tensor.Rand([10], rng: new Rng(3)) + 0.5f : null;
        var eager = Run(ps, () => Losses.CrossEntropy(model.Forward(x), y, w, ignore, smoothing, reduction), NotFused);
        var fused = Run(ps, () => Losses.CrossEntropy(c.Forward(x), y, w, ignore, smoothing, reduction), Fused);
        Same(eager, fused, $"smoothing {smoothing}, weighted {weighted}, {reduction}, ignore {ignore}");
    }

    [Fact]
    public void ArgumentsTheHeadDoesNotFuseRunTheEagerLoss()
    {
        var (model, c, ps, x, y) = Setup();
        // reduction None: a loss per sample
        var eagerNone = Losses.CrossEntropy(model.Forward(x), y, reduction: Reduction.None);
        var none = Losses.CrossEntropy(c.Forward(x), y, reduction: Reduction.None);
        NotFused(none);
        TensorAssert.Close(eagerNone, none, 1e-5, 1e-6, "reduction None");
        // class probabilities as targets
        var probs = Tensor.Rand([9, 10], rng: new Rng(4)).Softmax(1);
        var eager = Run(ps, () => Losses.CrossEntropy(model.Forward(x), probs), null);
        var fused = Run(ps, () => Losses.CrossEntropy(c.Forward(x), probs), l => Assert.False(l.GradFn is { NextFunctions.Count: ProgramInputs }, "fused"));
        Same(eager, fused, "probability targets");
        // bad input: the eager loss's own message
        var bad = Assert.Throws<ArgumentException>(() => Losses.CrossEntropy(c.Forward(x), Tensor.FromArray(new long[] { 0, 1 }, 2)));
        Assert.Contains("expected a target of shape [9]", bad.Message);
        var range = Assert.Throws<ArgumentException>(() => Losses.CrossEntropy(c.Forward(x), Tensor.FromArray(new long[] { 0, 1, 2, 3, 4, 5, 6, 7, 10 }, 9)));
        Assert.Contains("out of bounds", range.Message);
    }

    [Fact]
    public void WithoutGradModeOrParametersThatRequireGradItIsThePlainLoss()
    {
        var (model, c, ps, x, y) = Setup();
        float expected;
        using (Autograd.NoGrad()) expected = Losses.CrossEntropy(model.Forward(x), y).Item();
        using (Autograd.NoGrad())
        {
            var l = Losses.CrossEntropy(c.Forward(x), y);
            Assert.Null(l.GradFn);
            Assert.Equal(expected, l.Item(), 1e-5f);
        }
        foreach (var p in ps) p.RequiresGrad = false;
        var frozen = Losses.CrossEntropy(c.Forward(x), y);
        Assert.Null(frozen.GradFn);
        Assert.Equal(expected, frozen.Item(), 1e-5f);
        // x alone requires grad: the program's node, fused, delivers x's gradient only
        var xg = x.Clone().RequiresGrad_();
        var loss = Losses.CrossEntropy(c.Forward(xg), y);
        Fused(loss);
        loss.Backward();
        Assert.NotNull(xg.Grad);
        Assert.All(ps, p => Assert.Null(p.Grad));
    }

    [Fact]
    public void RetainGraphTwiceHooksAndAutogradGradMatchEager()
    {
        var (model, c, ps, x, y) = Setup();
        ZeroGrad(ps);
        Losses.CrossEntropy(model.Forward(x), y).Backward();
        var expected = Grads(ps);
        ZeroGrad(ps);

        var loss = Losses.CrossEntropy(c.Forward(x), y);
        Fused(loss);
        loss.Backward(retainGraph: true);
        loss.Backward();
        SameGrads(expected.Select(g => g * 2).ToList(), Grads(ps), "retainGraph twice");
        var again = Assert.Throws<InvalidOperationException>(() => loss.Backward());
        Assert.Contains("backward through the graph a second time", again.Message);
        ZeroGrad(ps);

        var seen = new List<Tensor>();
        int post = 0;
        using (ps[2].RegisterHook(g => { seen.Add(g.Clone()); return g * 3; }))
        using (ps[5].RegisterPostAccumulateGradHook(_ => post++))
        {
            var l = Losses.CrossEntropy(c.Forward(x), y);
            Fused(l);
            l.Backward();
        }
        Assert.Single(seen);
        TensorAssert.Close(expected[2], seen[0], 1e-4, 1e-5, "what the hook saw");
        TensorAssert.Close(expected[2] * 3, ps[2].Grad!, 1e-4, 1e-5, "the hook's result");
        Assert.Equal(1, post);
        ZeroGrad(ps);

        var got = Autograd.Grad([Losses.CrossEntropy(c.Forward(x), y)], ps);
        Assert.All(ps, p => Assert.Null(p.Grad));
        SameGrads(expected, got.Select(g => g!).ToList(), "Autograd.Grad");
    }

    [Fact]
    public void TheInputGradientAndAHookOnTheLossMatchEager()
    {
        var (model, c, ps, x, y) = Setup();
        var xe = x.Clone().RequiresGrad_();
        var le = Losses.CrossEntropy(model.Forward(xe), y) * 0.5f;
        le.Backward();
        var xc = x.Clone().RequiresGrad_();
        var loss = Losses.CrossEntropy(c.Forward(xc), y);
        Fused(loss);
        float seen = float.NaN;
        loss.RegisterHook(g => { seen = g.Item(); return g * 0.5f; });
        loss.RetainGrad();
        ZeroGrad(ps);
        loss.Backward();
        Assert.Equal(1f, seen);
        Assert.Equal(0.5f, loss.Grad!.Item()); // the retained gradient is the hook's result, as in PyTorch
        TensorAssert.Close(xe.Grad!, xc.Grad!, 1e-5, 1e-6, "x's gradient (the loss hook halves it)");
    }

    [Fact]
    public void TheLossTheUserHoldsSurvivesTheNextStepAndATargetChangedInPlaceIsAnError()
    {
        var (model, c, ps, x, y) = Setup();
        var held = Losses.CrossEntropy(c.Forward(x), y);
        float value = held.Item();
        held.Backward();
        var x2 = Tensor.Rand([9, 784], rng: new Rng(12));
        Losses.CrossEntropy(c.Forward(x2), y).Backward();
        Assert.Equal(value, held.Item());
        using (Autograd.NoGrad()) Assert.Equal(Losses.CrossEntropy(model.Forward(x), y).Item(), value, 1e-5f);

        var stale = Losses.CrossEntropy(c.Forward(x), y);
        Losses.CrossEntropy(c.Forward(x2), y);
        Assert.Contains("earlier call", Assert.Throws<InvalidOperationException>(() => stale.Backward()).Message);

        var target = y.Clone();
        var l = Losses.CrossEntropy(c.Forward(x), target);
        target.Fill_(0);
        Assert.Contains("modified by an in-place operation", Assert.Throws<InvalidOperationException>(() => l.Backward()).Message);
    }
}
