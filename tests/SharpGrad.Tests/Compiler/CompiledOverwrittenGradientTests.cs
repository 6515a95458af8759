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
        Assert.True(new OverwriteLinearNet().Compile().Explanation.IsFullyCompiled);
    }

    public static IEnumerable<object[]> LinearCases()
    {
        foreach (int threads in new[] { 1, 2 })
            foreach (int batch in new[] { 5, 64 })
                yield return [threads, batch];
    }

    /// <summary>
    /// Linears as the first writers of their input's gradient (fc3 of h, which fc2 adds to after; head and head2 of their
    /// ReLUs' outputs), through the tape: batch 5 (direct kernels) and 64 (the skipping kernels on the ReLUs' zeros, and at
    /// 2 threads the input and weight gradients side by side), 3 steps on one instance.
    /// </summary>
    [Theory]
    [MemberData(nameof(LinearCases))]
    public void LinearsAsTheFirstWritersMatchEagerOverSteps(int threads, int batch)
    {
        var model = SparseLinearNet();
        var twin = new OverwriteLinearNet();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        int before = Parallelism.MaxThreads;
        Parallelism.MaxThreads = threads;
        try
        {
            Steps(model, twin, model.Forward, compiled.Forward, [batch, 20], seed: 3161 + batch);
        }
        finally
        {
            Parallelism.MaxThreads = before;
        }
    }

    /// <summary>The same Linears through the fused LossBackward (no input gradient wanted), 3 steps on one instance.</summary>
    [Theory]
    [MemberData(nameof(LinearCases))]
    public void LinearLossBackwardMatchesEagerOverSteps(int threads, int batch)
    {
        var model = SparseLinearNet();
        var twin = new OverwriteLinearNet();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        int before = Parallelism.MaxThreads;
        Parallelism.MaxThreads = threads;
        try
        {
            LossSteps(model, twin, model.Forward, compiled.LossBackward, [batch, 20], classes: 5, seed: 3171 + batch);
        }
        finally
        {
            Parallelism.MaxThreads = before;
        }
    }

    /// <summary>
    /// An <see cref="OverwriteLinearNet"/> whose fc2 and fc3 have a negative bias, so that their ReLUs pass well under half of
    /// the units (~30 %) and those Linears' input gradients at batch 64 take the skipping kernel (SmallSkipZerosMaxDensity 0.5).
    /// </summary>
    private static OverwriteLinearNet SparseLinearNet()
    {
        var model = new OverwriteLinearNet();
        using (Autograd.NoGrad())
        {
            foreach (var (name, p) in model.NamedParameters())
                if (name is "fc2.bias" or "fc3.bias") p.Fill_(-0.15);
        }
        return model;
    }

    /// <summary>
    /// Full backward hooks on fc3 and head2, Linears that overwrite their input's gradient (the compiled program clears it
    /// first only for the hooks' snapshot): their grad_input equals eager's over three steps on one compiled instance.
    /// </summary>
    [Fact]
    public void HooksOnOverwritingLinearsSeeWhatEagerSees()
    {
        var model = SparseLinearNet();
        var twin = new OverwriteLinearNet();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        var eagerSeen = new List<Tensor>();
        var compiledSeen = new List<Tensor>();
        foreach (var name in new[] { "fc3", "head2" })
        {
            Child(model, name).RegisterFullBackwardHook((m, gin, gout) => eagerSeen.Add(gin[0]!.Detach().Clone()));
            Child(twin, name).RegisterFullBackwardHook((m, gin, gout) => compiledSeen.Add(gin[0]!.Detach().Clone()));
        }
        Steps(model, twin, model.Forward, compiled.Forward, [7, 20], seed: 3191);
        Assert.Equal(6, eagerSeen.Count);
        Assert.Equal(6, compiledSeen.Count);
        for (int i = 0; i < eagerSeen.Count; i++) TensorAssert.Close(eagerSeen[i], compiledSeen[i], 1e-3, 1e-5, $"hook call {i}: grad_input");

        static Module Child(Module m, string name) => m.NamedModules().Single(c => c.Name == name).Module;
    }

    public static IEnumerable<object[]> LinearBackwardShapes()
    {
        // rows, inF, outF, density of gy's nonzeros: the naive and direct kernels (edge columns, AVX2's tail tile, k over one
        // k-block), the matrix-vector path (inF 1), the small skipping product (1–4 M multiply-adds, density ≤ 0.5), the large
        // one (≥ 4 M, over one k-block too) and the dense ones above it (packed, split over the threads)
        foreach (int threads in new[] { 1, 2 })
        {
            yield return [threads, 1, 37, 29, 1.0];
            yield return [threads, 5, 300, 96, 1.0];
            yield return [threads, 13, 70, 300, 1.0];
            yield return [threads, 100, 1, 50, 1.0];
            yield return [threads, 64, 300, 96, 0.3];
            yield return [threads, 64, 300, 96, 1.0];
            yield return [threads, 200, 257, 100, 0.3];
            yield return [threads, 300, 513, 300, 0.2];
            yield return [threads, 200, 257, 300, 1.0];
            yield return [threads, 301, 515, 520, 1.0];
        }
    }

    /// <summary>
    /// CompiledSupport.LinearBackward's overwriteInput (β = 0) into a stale gx (NaNs and large values) gives the bits the
    /// β = 1 path gives over a cleared gx, in every kernel path it takes; the weight and bias gradients beside it unchanged.
    /// </summary>
    [Theory]
    [MemberData(nameof(LinearBackwardShapes))]
    public void LinearBackwardOverwritingTheInputGradientGivesTheBitsOfAddingToZeros(int threads, int rows, int inF, int outF, double density)
    {
        var rng = new Rng(3181 + rows + inF + outF);
        var x = Tensor.Randn([rows, inF], rng: rng).ToArray();
        var weight = Tensor.Randn([outF, inF], rng: rng);
        var gy = Tensor.Randn([rows, outF], rng: rng).ToArray();
        var keep = Tensor.Rand([rows, outF], rng: rng).ToArray();
        for (int i = 0; i < gy.Length; i++) if (keep[i] >= density) gy[i] = 0f;
        var shape = new LinearShape(inF, outF);
        int before = Parallelism.MaxThreads;
        Parallelism.MaxThreads = threads;
        try
        {
            var added = new float[rows * inF];
            var gwAdded = new float[outF * inF];
            var gbAdded = new float[outF];
            CompiledSupport.LinearBackward(x, weight, gy, added, gwAdded, gbAdded, rows, shape);
            var written = new float[rows * inF];
            for (int i = 0; i < written.Length; i++) written[i] = i % 3 == 0 ? float.NaN : 1e30f * (i % 2 == 0 ? 1 : -1);
            var gwWritten = new float[outF * inF];
            var gbWritten = new float[outF];
            CompiledSupport.LinearBackward(x, weight, gy, written, gwWritten, gbWritten, rows, shape, overwriteInput: true);
            AssertSameBits(added, written, "input gradient");
            AssertSameBits(gwAdded, gwWritten, "weight gradient");
            AssertSameBits(gbAdded, gbWritten, "bias gradient");
        }
        finally
        {
            Parallelism.MaxThreads = before;
        }

        static void AssertSameBits(float[] expected, float[] actual, string what)
        {
            for (int i = 0; i < expected.Length; i++)
            {
                if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                    Assert.Fail($"{what}[{i}]: β = 1 over zeros {expected[i]:R}, β = 0 {actual[i]:R}");
            }
        }
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
            LossSteps(model, twin, model.Forward, compiled.LossBackward, [5, 6, 8], classes: 3, seed: 3141 + parts);
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

    /// <summary>
    /// Three cross-entropy steps (inputs of different scales) through the compiled fused <c>LossBackward</c> on one instance of
    /// <paramref name="twin"/>'s program: the loss and the parameter gradients equal eager's on <paramref name="eagerModel"/>.
    /// </summary>
    private static void LossSteps(Module eagerModel, Module twin, Func<Tensor, Tensor> eager, Func<Tensor, Tensor, float> lossBackward,
        int[] shape, int classes, int seed)
    {
        var rng = new Rng(seed);
        for (int step = 0; step < 3; step++)
        {
            var x = Tensor.Randn(shape, rng: rng) * (1f + step);
            var target = Tensor.RandInt(0, classes, [shape[0]], rng);
            foreach (var p in eagerModel.Parameters()) p.Grad = null;
            var loss = Losses.CrossEntropy(eager(x), target);
            loss.Backward();
            foreach (var p in twin.Parameters()) p.Grad = null;
            float value = lossBackward(x, target);
            Assert.True(Math.Abs(loss.Item() - value) <= 1e-5f * (1 + Math.Abs(value)), $"step {step}: loss eager {loss.Item()}, compiled {value}");
            var pe = eagerModel.NamedParameters().ToList();
            var pc = twin.NamedParameters().ToList();
            for (int i = 0; i < pe.Count; i++)
                TensorAssert.Close(pe[i].Value.Grad!, pc[i].Value.Grad!, 1e-3, 1e-5, $"step {step}: gradient of {pe[i].Name}");
        }
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
