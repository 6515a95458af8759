using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Gradient buffers the generated backward does not clear because their first writer overwrites them (a reduction's spread,
/// an encoder layer's input gradient, whole or in batch parts): compiled equals eager over several steps on one compiled
/// instance (from the second step on, the buffers hold the previous step's gradients, which a writer that added instead of
/// overwriting would keep), where a second reader of the same value still adds, and with a backward hook on the overwriting
/// layer (its snapshot of the gradient before it must be zeros).
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class CompiledOverwrittenGradientTests
{
    /// <summary>The models compile whole (no graph break), so what the tests below compare is the generated program.</summary>
    [Fact]
    public void TheModelsCompileWithoutABreak()
    {
        Assert.True(new OverwriteMeanNet().Compile().Explanation.IsFullyCompiled);
        Assert.True(new OverwriteTwoReadersNet().Compile().Explanation.IsFullyCompiled);
        Assert.True(new OverwriteEncoderNet().Compile().Explanation.IsFullyCompiled);
    }

    [Fact]
    public void MeanAsTheOnlyWriterMatchesEagerOverSteps()
    {
        var model = new OverwriteMeanNet();
        var twin = new OverwriteMeanNet();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        Steps(model, twin, model.Forward, compiled.Forward, [5, 7, 6], seed: 3101);
    }

    [Fact]
    public void TwoReadersAddAfterTheFirstWriterOverwritesOverSteps()
    {
        var model = new OverwriteTwoReadersNet();
        var twin = new OverwriteTwoReadersNet();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        Steps(model, twin, model.Forward, compiled.Forward, [4, 7, 6], seed: 3111);
    }

    /// <summary>The ReLU's backward as the first writer of h's gradient (another reader adds after it), whole and in parts over the pool.</summary>
    [Theory]
    [InlineData(1, 5)]
    [InlineData(1, 64)]
    [InlineData(2, 64)]
    public void ReluAsTheFirstWriterMatchesEagerOverSteps(int threads, int batch)
    {
        var model = new OverwriteReluNet();
        var twin = new OverwriteReluNet();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        int before = Parallelism.MaxThreads;
        Parallelism.MaxThreads = threads;
        try
        {
            Steps(model, twin, model.Forward, compiled.Forward, [batch, 6], seed: 3151 + batch);
        }
        finally
        {
            Parallelism.MaxThreads = before;
        }
    }

    public static IEnumerable<object[]> EncoderCases()
    {
        foreach (int threads in new[] { 1, 2 })
            foreach (int parts in new[] { 0, 2, 3 })
                yield return [threads, parts];
    }

    /// <summary>The encoder layers whole (parts 0 at these sizes) and in batch parts, at 1 and 2 threads: the tape backward (x's gradient wanted).</summary>
    [Theory]
    [MemberData(nameof(EncoderCases))]
    public void EncoderLayersMatchEagerOverSteps(int threads, int parts)
    {
        var model = new OverwriteEncoderNet();
        var twin = new OverwriteEncoderNet();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        int before = Parallelism.MaxThreads;
        Parallelism.MaxThreads = threads;
        TransformerLayerKernel.t_forcedParts = parts;
        try
        {
            Steps(model, twin, model.Forward, compiled.Forward, [5, 6, 8], seed: 3121 + parts);
        }
        finally
        {
            TransformerLayerKernel.t_forcedParts = 0;
            Parallelism.MaxThreads = before;
        }
    }

    /// <summary>The fused LossBackward (no input gradient: layer0 writes none, layer1 overwrites layer0's output gradient), whole and in parts.</summary>
    [Theory]
    [MemberData(nameof(EncoderCases))]
    public void EncoderLossBackwardMatchesEagerOverSteps(int threads, int parts)
    {
        var model = new OverwriteEncoderNet();
        var twin = new OverwriteEncoderNet();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        int before = Parallelism.MaxThreads;
        Parallelism.MaxThreads = threads;
        TransformerLayerKernel.t_forcedParts = parts;
        try
        {
            var rng = new Rng(3141 + parts);
            for (int step = 0; step < 3; step++)
            {
                var x = Tensor.Randn([5, 6, 8], rng: rng) * (1f + step);
                var target = Tensor.RandInt(0, 3, [5], rng);
                foreach (var p in model.Parameters()) p.Grad = null;
                var loss = Losses.CrossEntropy(model.Forward(x), target);
                loss.Backward();
                foreach (var p in twin.Parameters()) p.Grad = null;
                float value = compiled.LossBackward(x, target);
                Assert.True(Math.Abs(loss.Item() - value) <= 1e-5f * (1 + Math.Abs(value)), $"step {step}: loss eager {loss.Item()}, compiled {value}");
                var pe = model.NamedParameters().ToList();
                var pc = twin.NamedParameters().ToList();
                for (int i = 0; i < pe.Count; i++)
                    TensorAssert.Close(pe[i].Value.Grad!, pc[i].Value.Grad!, 1e-3, 1e-5, $"step {step}: gradient of {pe[i].Name}");
            }
        }
        finally
        {
            TransformerLayerKernel.t_forcedParts = 0;
            Parallelism.MaxThreads = before;
        }
    }

    /// <summary>
    /// A full backward hook on layer0, the first writer of h's gradient, whose buffer (shared by liveness with layer1's output
    /// gradient, which the backward wrote just before) is not cleared: the hook's grad_input is what layer0 gave its input,
    /// computed eagerly as h's gradient with the other reader (the mean of h) cut off, over three steps. (Eager's own hooks are
    /// not called for a TransformerEncoderLayer's direct <c>Forward(x)</c> with its masks left out: the generator's
    /// interceptors need every argument given.)
    /// </summary>
    [Fact]
    public void AHookOnTheOverwritingLayerSeesWhatItAdded()
    {
        var model = new OverwriteEncoderNet();
        var compiled = model.Compile();
        var seen = new List<Tensor>();
        Child(model, "layer0").RegisterFullBackwardHook((m, gin, gout) => seen.Add(gin[0]!.Detach().Clone()));
        var reference = new OverwriteEncoderNet();
        reference.LoadStateDict(model.StateDict());
        var fc = (Layers.Linear)Child(reference, "fc");
        var layer0 = (Layers.TransformerEncoderLayer)Child(reference, "layer0");
        var layer1 = (Layers.TransformerEncoderLayer)Child(reference, "layer1");
        var head = (Layers.Linear)Child(reference, "head");
        var rng = new Rng(3131);
        for (int step = 0; step < 3; step++)
        {
            var x = Tensor.Randn([3, 6, 8], rng: rng) * (1f + step);
            var g = Tensor.Randn([3, 3], rng: rng) * (3f - step);
            var h = fc.Forward(x).Detach().RequiresGrad_();
            var skip = fc.Forward(x).Detach().Mean(1);
            (head.Forward(layer1.Forward(layer0.Forward(h)).Mean(1) + skip) * g).Sum().Backward();
            (compiled.Forward(x.Clone().RequiresGrad_()) * g).Sum().Backward();
            Assert.Equal(step + 1, seen.Count);
            TensorAssert.Close(h.Grad!, seen[step], 1e-3, 1e-5, $"step {step}: layer0's grad_input seen by its hook");
        }

        static Module Child(Module m, string name) => m.NamedModules().Single(c => c.Name == name).Module;
    }

    /// <summary>Three steps (inputs and output gradients of different scales) on one compiled instance: outputs, input and parameter gradients equal eager's.</summary>
    private static void Steps(Module eagerModel, Module compiledModel, Func<Tensor, Tensor> eager, Func<Tensor, Tensor> compiled, int[] shape, int seed)
    {
        var rng = new Rng(seed);
        for (int step = 0; step < 3; step++)
        {
            var input = Tensor.Randn(shape, rng: rng) * (1f + step);
            foreach (var p in eagerModel.Parameters()) p.Grad = null;
            var xe = input.Detach().Clone().RequiresGrad_();
            var ye = eager(xe);
            var seedGrad = Tensor.Randn(ye.Shape, rng: rng) * (3f - step);
            ye.Backward(seedGrad);
            foreach (var p in compiledModel.Parameters()) p.Grad = null;
            var xc = input.Detach().Clone().RequiresGrad_();
            var yc = compiled(xc);
            yc.Backward(seedGrad);
            TensorAssert.Close(ye.Detach(), yc.Detach(), 1e-4, 1e-5, $"step {step}: output");
            TensorAssert.Close(xe.Grad!, xc.Grad!, 1e-3, 1e-5, $"step {step}: input gradient");
            var pe = eagerModel.NamedParameters().ToList();
            var pc = compiledModel.NamedParameters().ToList();
            for (int i = 0; i < pe.Count; i++)
                TensorAssert.Close(pe[i].Value.Grad!, pc[i].Value.Grad!, 1e-3, 1e-5, $"step {step}: gradient of {pe[i].Name}");
        }
    }
}
