using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Encoder layers as the first writers of fresh parameter gradients (no clear; the kernel's <c>overwriteWeights</c>): compiled
/// equals eager over three steps on one compiled instance, whose reused gradient arrays hold the previous step's values from
/// the second step on (a first writer that added would keep them), through the fused LossBackward and the tape, at 1 and 2
/// threads and with the layers split into batch parts; without ZeroGrad the steps' gradients add up.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class CompiledEncoderOverwriteTests
{
    [Fact]
    public void TheModelCompilesWithoutABreak() => Assert.True(new FreshGradEncoderNet().Compile().Explanation.IsFullyCompiled);

    [Theory]
    [InlineData(1, 3, 0)]
    [InlineData(1, 8, 0)]
    [InlineData(2, 8, 0)]
    [InlineData(1, 8, 2)]
    public void LossBackwardMatchesEagerOverSteps(int threads, int batch, int parts)
    {
        var model = new FreshGradEncoderNet();
        var twin = new FreshGradEncoderNet();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        WithThreads(threads, parts, () =>
        {
            var rng = new Rng(4401 + batch);
            float[][]? previous = null;
            for (int step = 0; step < 3; step++)
            {
                var x = Tensor.Randn([batch, 5, 16], rng: rng) * (1f + step);
                var target = Tensor.RandInt(0, 3, [batch], rng);
                foreach (var p in model.Parameters()) p.Grad = null;
                var loss = Losses.CrossEntropy(model.Forward(x), target);
                loss.Backward();
                foreach (var p in twin.Parameters()) p.Grad = null;
                float value = compiled.LossBackward(x, target);
                Assert.True(Math.Abs(loss.Item() - value) <= 1e-5f * (1 + Math.Abs(value)), $"step {step}: loss eager {loss.Item()}, compiled {value}");
                CompiledChildParamOverwriteTests.AssertGrads(model, twin, $"step {step}");
                var arrays = CompiledChildParamOverwriteTests.Arrays(twin);
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
        var model = new FreshGradEncoderNet();
        var twin = new FreshGradEncoderNet();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        WithThreads(threads, 0, () =>
        {
            var rng = new Rng(4411);
            for (int step = 0; step < 3; step++)
            {
                var input = Tensor.Randn([6, 5, 16], rng: rng) * (1f + step);
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
                CompiledChildParamOverwriteTests.AssertGrads(model, twin, $"step {step}");
            }
        });
    }

    /// <summary>Without ZeroGrad between the steps nothing is fresh: after three steps the gradients are eager's sums.</summary>
    [Fact]
    public void ExistingGradientsAreAddedTo()
    {
        var model = new FreshGradEncoderNet();
        var twin = new FreshGradEncoderNet();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        var rng = new Rng(4421);
        for (int step = 0; step < 3; step++)
        {
            var x = Tensor.Randn([4, 5, 16], rng: rng);
            var target = Tensor.RandInt(0, 3, [4], rng);
            Losses.CrossEntropy(model.Forward(x), target).Backward();
            compiled.LossBackward(x, target);
        }
        CompiledChildParamOverwriteTests.AssertGrads(model, twin, "after 3 steps");
    }

    private static void WithThreads(int threads, int parts, Action body) => ThreadCountCollection.WithThreads(threads, () =>
    {
        TransformerLayerKernel.t_forcedParts = parts;
        try { body(); }
        finally { TransformerLayerKernel.t_forcedParts = 0; }
    });
}
