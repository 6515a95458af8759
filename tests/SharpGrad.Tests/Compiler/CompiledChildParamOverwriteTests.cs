using SharpGrad.Kernels;
using SharpGrad.Tests.Support;
using static SharpGrad.Tests.Support.ThreadCountCollection;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Parameters of inlined children (a Sequential's items, a [Module] child called twice) whose first writer overwrites a fresh
/// gradient (no clear, β = 0): compiled equals eager over three steps on one compiled instance — from the second step on the
/// reused gradient arrays hold the previous step's values, which a first writer that added would keep, and a writer after
/// the first (the child's first call) that overwrote would lose the second call's part — through the fused LossBackward and
/// the tape, at 1 and 2 threads; with an existing <c>.Grad</c> (not fresh) the step's gradient is added to it.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class CompiledChildParamOverwriteTests
{
    [Fact]
    public void TheModelCompilesWithoutABreak() => Assert.True(new OverwriteChildNet().Compile().Explanation.IsFullyCompiled);

    [Theory]
    [InlineData(1, 5)]
    [InlineData(1, 64)]
    [InlineData(2, 64)]
    public void LossBackwardMatchesEagerOverSteps(int threads, int batch)
    {
        var model = new OverwriteChildNet();
        var twin = new OverwriteChildNet();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        WithThreads(threads, () =>
        {
            var rng = new Rng(3301 + batch);
            float[][]? previous = null;   // the gradient arrays of the step before: reused uncleared (fresh) from step 2 on
            for (int step = 0; step < 3; step++)
            {
                var x = Tensor.Randn([batch, 9], rng: rng) * (1f + step);
                var target = Tensor.RandInt(0, 4, [batch], rng);
                foreach (var p in model.Parameters()) p.Grad = null;
                var loss = Losses.CrossEntropy(model.Forward(x), target);
                loss.Backward();
                foreach (var p in twin.Parameters()) p.Grad = null;
                float value = compiled.LossBackward(x, target);
                Assert.True(Math.Abs(loss.Item() - value) <= 1e-5f * (1 + Math.Abs(value)), $"step {step}: loss eager {loss.Item()}, compiled {value}");
                AssertGrads(model, twin, $"step {step}");
                var arrays = Arrays(twin);
                if (previous is not null) for (int i = 0; i < arrays.Length; i++) Assert.Same(previous[i], arrays[i]);
                previous = arrays;
            }
        });
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void TapeBackwardMatchesEagerOverSteps(int threads)
    {
        var model = new OverwriteChildNet();
        var twin = new OverwriteChildNet();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        WithThreads(threads, () =>
        {
            var rng = new Rng(3311);
            for (int step = 0; step < 3; step++)
            {
                var input = Tensor.Randn([7, 9], rng: rng) * (1f + step);
                foreach (var p in model.Parameters()) p.Grad = null;
                var xe = input.Detach().Clone().RequiresGrad_();
                var ye = model.Forward(xe);
                var seed = Tensor.Randn(ye.Shape, rng: rng) * (3f - step);
                ye.Backward(seed);
                foreach (var p in twin.Parameters()) p.Grad = null;
                var xc = input.Detach().Clone().RequiresGrad_();
                var yc = compiled.Forward(xc);
                yc.Backward(seed);
                TensorAssert.Close(ye.Detach(), yc.Detach(), 1e-4, 1e-5, $"step {step}: output");
                TensorAssert.Close(xe.Grad!, xc.Grad!, 1e-3, 1e-5, $"step {step}: input gradient");
                AssertGrads(model, twin, $"step {step}");
            }
        });
    }

    /// <summary>
    /// An LSTM writes its input's gradient instead of adding it (the first writer; fc's output, which a mean adds to after it), and a
    /// two-layer bidirectional one as the only writer: compiled equals eager over three steps on one instance, through the tape
    /// (with x's gradient) and the fused LossBackward, at 1 and 2 threads.
    /// </summary>
    [Theory]
    [InlineData(1, 5)]
    [InlineData(1, 32)]
    [InlineData(2, 32)]
    public void LstmsAsTheFirstWritersOfTheirInputGradientMatchEagerOverSteps(int threads, int batch)
    {
        var model = new OverwriteLstmNet();
        var twin = new OverwriteLstmNet();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        var bi = new OverwriteBiLstmNet();
        var biTwin = new OverwriteBiLstmNet();
        biTwin.LoadStateDict(bi.StateDict());
        var biCompiled = biTwin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled);
        Assert.True(biCompiled.Explanation.IsFullyCompiled);
        WithThreads(threads, () =>
        {
            var rng = new Rng(3331 + batch);
            float[][]? previous = null;
            for (int step = 0; step < 3; step++)
            {
                var input = Tensor.Randn([batch, 7, 6], rng: rng) * (1f + step);
                foreach (var (eager, twinModel, forward) in new (Module, Module, Func<Tensor, Tensor>)[] { (model, twin, compiled.Forward), (bi, biTwin, biCompiled.Forward) })
                {
                    foreach (var p in eager.Parameters()) p.Grad = null;
                    var xe = input.Detach().Clone().RequiresGrad_();
                    var ye = eager is OverwriteLstmNet m ? m.Forward(xe) : ((OverwriteBiLstmNet)eager).Forward(xe);
                    var seed = Tensor.Randn(ye.Shape, rng: rng) * (3f - step);
                    ye.Backward(seed);
                    foreach (var p in twinModel.Parameters()) p.Grad = null;
                    var xc = input.Detach().Clone().RequiresGrad_();
                    var yc = forward(xc);
                    yc.Backward(seed);
                    TensorAssert.Close(ye.Detach(), yc.Detach(), 1e-4, 1e-5, $"step {step}: output");
                    TensorAssert.Close(xe.Grad!, xc.Grad!, 1e-3, 1e-5, $"step {step}: input gradient");
                    AssertGrads(eager, twinModel, $"step {step}");
                }
                var target = Tensor.RandInt(0, 3, [batch], rng);
                foreach (var p in model.Parameters()) p.Grad = null;
                var loss = Losses.CrossEntropy(model.Forward(input), target);
                loss.Backward();
                foreach (var p in twin.Parameters()) p.Grad = null;
                float value = compiled.LossBackward(input, target);
                Assert.True(Math.Abs(loss.Item() - value) <= 1e-5f * (1 + Math.Abs(value)), $"step {step}: loss eager {loss.Item()}, compiled {value}");
                AssertGrads(model, twin, $"step {step}, LossBackward");
                var arrays = Arrays(twin);
                if (previous is not null) for (int i = 0; i < arrays.Length; i++) Assert.Same(previous[i], arrays[i]);
                previous = arrays;
            }
        });
    }

    /// <summary>Without ZeroGrad between the steps the gradients add up (nothing is fresh): after three steps, eager's sums (the Linears, the LSTM's group).</summary>
    [Fact]
    public void ExistingGradientsAreAddedTo()
    {
        var model = new OverwriteChildNet();
        var twin = new OverwriteChildNet();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        var rng = new Rng(3321);
        for (int step = 0; step < 3; step++)
        {
            var x = Tensor.Randn([6, 9], rng: rng);
            var target = Tensor.RandInt(0, 4, [6], rng);
            Losses.CrossEntropy(model.Forward(x), target).Backward();
            compiled.LossBackward(x, target);
        }
        AssertGrads(model, twin, "after 3 steps");

        var lstm = new OverwriteLstmNet();
        var lstmTwin = new OverwriteLstmNet();
        lstmTwin.LoadStateDict(lstm.StateDict());
        var lstmCompiled = lstmTwin.Compile();
        for (int step = 0; step < 3; step++)
        {
            var x = Tensor.Randn([6, 7, 6], rng: rng);
            var target = Tensor.RandInt(0, 3, [6], rng);
            Losses.CrossEntropy(lstm.Forward(x), target).Backward();
            lstmCompiled.LossBackward(x, target);
        }
        AssertGrads(lstm, lstmTwin, "LSTM, after 3 steps");
    }

    /// <summary>
    /// The compiled model's gradients against eager's, read through <c>GradInternal</c>: reading <c>.Grad</c> marks the program's
    /// gradient tensor as held by user code, so the next step would allocate a cleared one instead of reusing it uncleared
    /// (the fresh path these tests are about).
    /// </summary>
    internal static void AssertGrads(Module eager, Module compiled, string what)
    {
        var pe = eager.NamedParameters().ToList();
        var pc = compiled.NamedParameters().ToList();
        Assert.Equal(pe.Count, pc.Count);
        for (int i = 0; i < pe.Count; i++)
            TensorAssert.Close(pe[i].Value.Grad!, pc[i].Value.GradInternal!, 1e-3, 1e-5, $"{what}: gradient of {pe[i].Name}");
    }

    /// <summary>Each parameter's gradient array of the compiled model (to check the program reused it: the fresh path).</summary>
    internal static float[][] Arrays(Module compiled) => compiled.Parameters().Select(p => p.GradInternal!.Data<float>()).ToArray();
}
