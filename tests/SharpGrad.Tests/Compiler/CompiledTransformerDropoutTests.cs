using SharpGrad.Kernels;
using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>A generated program around an encoder layer with the default dropout (0.1), batch first, post-norm ReLU.</summary>
[Module]
public sealed partial class DropoutEncoderLayerModel
{
    internal readonly TransformerEncoderLayer layer = new(8, 2, 16, batchFirst: true);
    private readonly Linear head = new(8, 3);

    public Tensor Forward([Shape("N", "T", 8)] Tensor x) => head.Forward(layer.Forward(x));
}

/// <summary>A generated program around a pre-norm GELU encoder layer with dropout 0.5, batch second ([T, N, E] from a transpose).</summary>
[Module]
public sealed partial class DropoutBatchSecondEncoderLayerModel
{
    internal readonly TransformerEncoderLayer layer = new(12, 3, 20, dropout: 0.5, activation: "gelu", normFirst: true);

    public Tensor Forward([Shape("N", "T", 12)] Tensor x) => layer.Forward(x.Transpose(0, 1)).Transpose(0, 1);
}

/// <summary>
/// Dropout in training inside the fused Transformer layer kernels (issue 13): the encoder layer's four dropouts (self-attention
/// weights, dropout1, the feed-forward's, dropout2) and the decoder layer's six (self-attention, dropout1, cross-attention,
/// dropout2, the feed-forward's, dropout3) draw their masks from their modules' generators in eager's order, so with the same
/// seed the compiled layer's output, input gradients and parameter gradients equal eager's: the layers' own
/// <c>Compile()</c>, the stacks', and generated programs (no graph break), post-norm and norm_first, ReLU and GELU, batch first
/// and second, at batch 1, 3 and 64 and two lengths, with the encoder run whole and split into two batch parts (the split
/// draws the whole batch's masks before its parts run). The masks do drop (the output differs from evaluation's).
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledTransformerDropoutTests
{
    public static IEnumerable<object[]> EncoderCases()
    {
        foreach (int batch in new[] { 1, 3, 64 })
        {
            foreach (int t in new[] { 5, 3 })
            {
                foreach (int parts in new[] { 1, 2 })
                {
                    yield return [batch, t, 0.1, false, "relu", true, parts];
                    yield return [batch, t, 0.5, true, "gelu", false, parts];
                    yield return [batch, t, 0.5, false, "gelu", false, parts];
                    yield return [batch, t, 0.1, true, "relu", true, parts];
                }
            }
        }
    }

    /// <summary>Runs <paramref name="forward"/> (after reseeding the default generator) on fresh inputs and back-propagates <paramref name="seed"/>.</summary>
    internal static (Tensor Out, Tensor[] InputGrads, Dictionary<string, Tensor> Grads) Run(Module model, Func<Tensor[], Tensor> forward, Tensor[] inputs, Tensor seed,
        int rngSeed, int parts = 0)
    {
        model.ZeroGrad();
        var fresh = inputs.Select(x => x.Detach().Clone().RequiresGrad_()).ToArray();
        Rng.ManualSeed(rngSeed);
        Tensor y;
        TransformerLayerKernel.t_forcedParts = parts;
        try
        {
            y = forward(fresh);
            (y * seed).Sum().Backward();
        }
        finally
        {
            TransformerLayerKernel.t_forcedParts = 0;
        }
        return (y.Detach(), fresh.Select(x => x.Grad!).ToArray(), model.NamedParameters().ToDictionary(p => p.Name, p => p.Value.Grad!.Clone()));
    }

    internal static void AssertSame((Tensor Out, Tensor[] InputGrads, Dictionary<string, Tensor> Grads) eager, (Tensor Out, Tensor[] InputGrads, Dictionary<string, Tensor> Grads) compiled,
        string what)
    {
        TensorAssert.Close(eager.Out, compiled.Out, 1e-4, 1e-5, what + ": output");
        for (int k = 0; k < eager.InputGrads.Length; k++) TensorAssert.Close(eager.InputGrads[k], compiled.InputGrads[k], 1e-3, 1e-5, $"{what}: gradient of input {k}");
        Assert.Equal(eager.Grads.Keys, compiled.Grads.Keys);
        foreach (var (name, g) in eager.Grads) TensorAssert.Close(g, compiled.Grads[name], 1e-3, 1e-5, $"{what}: gradient of {name}");
    }

    /// <summary>Random weights (the stacks' layers start as copies of one layer; training would make them differ).</summary>
    internal static void Randomize(Module model, Rng rng)
    {
        foreach (var p in model.Parameters()) (Tensor.Randn(p.Shape, rng: rng) * 0.3f).Data<float>().AsSpan().CopyTo(p.Data<float>());
    }

    /// <summary>The encoder stack (2 layers and a final norm) through its <c>Compile()</c>: each layer one fused kernel, dropout in training included.</summary>
    [Theory]
    [MemberData(nameof(EncoderCases))]
    public void EncoderStackInTrainingEqualsEager(int batch, int t, double p, bool normFirst, string activation, bool batchFirst, int parts)
    {
        const int d = 8, heads = 2, ff = 16;
        var rng = new Rng(201);
        var encoder = new TransformerEncoder(new TransformerEncoderLayer(d, heads, ff, p, activation, batchFirst: batchFirst, normFirst: normFirst, rng: rng), 2,
            new LayerNorm(d));
        Randomize(encoder, rng);
        int[] shape = batchFirst ? [batch, t, d] : [t, batch, d];
        var x = Tensor.Randn(shape, rng: rng);
        var seed = Tensor.Randn(shape, rng: rng);
        var program = encoder.Compile();
        Assert.True(program.Explanation.IsFullyCompiled, program.Explanation.ToString());

        var eager = Run(encoder, a => encoder.Forward(a[0]), [x], seed, 202);
        var compiled = Run(encoder, a => program.Forward(a[0]), [x], seed, 202, parts);
        AssertSame(eager, compiled, "encoder stack");
        // one fused node per layer (the dropout did not send the call to the eager layer)
        Rng.ManualSeed(202);
        var node = program.Forward(x.Detach().RequiresGrad_());
        Assert.Equal("NativeLayerNormBackward", node.GradFn!.Name);
        Assert.Contains(CollectNodes(node), n => n == "TransformerEncoderLayerCompiledBackward");

        // the masks drop: evaluation (nothing drawn) differs
        encoder.Eval();
        Tensor evaluated;
        using (Autograd.NoGrad()) evaluated = program.Forward(x);
        encoder.Train();
        Assert.True((evaluated - eager.Out).Abs().Max().Item() > 1e-3, "dropout changed nothing");
    }

    private static List<string> CollectNodes(Tensor y)
    {
        var names = new List<string>();
        var stack = new Stack<Node>();
        var seen = new HashSet<Node>();
        stack.Push(y.GradFn!);
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            if (!seen.Add(node)) continue;
            names.Add(node.Name);
            foreach (var next in node.NextFunctions) if (next is not null) stack.Push(next);
        }
        return names;
    }

    public static IEnumerable<object[]> DecoderCases()
    {
        foreach (int batch in new[] { 1, 3, 64 })
        {
            foreach (var (l, s) in new[] { (5, 6), (3, 8) })
            {
                yield return [batch, l, s, 0.1, false, "relu", true, false];
                yield return [batch, l, s, 0.5, true, "gelu", false, true];
                yield return [batch, l, s, 0.5, false, "gelu", false, false];
                yield return [batch, l, s, 0.1, true, "relu", true, true];
            }
        }
    }

    /// <summary>
    /// The decoder stack (2 layers and a final norm) through its <c>Compile()</c>: the target's, the memory's and every
    /// parameter's gradient equal eager's in training; with masks too (a causal target mask and a memory padding mask).
    /// </summary>
    [Theory]
    [MemberData(nameof(DecoderCases))]
    public void DecoderStackInTrainingEqualsEager(int batch, int l, int s, double p, bool normFirst, string activation, bool batchFirst, bool masks)
    {
        const int d = 8, heads = 2, ff = 16;
        var rng = new Rng(211);
        var decoder = new TransformerDecoder(new TransformerDecoderLayer(d, heads, ff, p, activation, batchFirst: batchFirst, normFirst: normFirst, rng: rng), 2,
            new LayerNorm(d));
        Randomize(decoder, rng);
        int[] Shape(int steps) => batchFirst ? [batch, steps, d] : [steps, batch, d];
        var tgt = Tensor.Randn(Shape(l), rng: rng);
        var memory = Tensor.Randn(Shape(s), rng: rng);
        var seed = Tensor.Randn(Shape(l), rng: rng);
        Tensor? tgtMask = masks ? Tensor.Ones([l, l], DType.Bool).Triu(1) : null;
        Tensor? memoryPadding = null;
        if (masks)
        {
            var pad = new bool[batch * s];
            pad[batch * s - 1] = true;
            memoryPadding = Tensor.FromArray(pad, batch, s);
        }
        var program = decoder.Compile();
        Assert.True(program.Explanation.IsFullyCompiled, program.Explanation.ToString());

        var eager = Run(decoder, a => decoder.Forward(a[0], a[1], tgtMask, null, null, memoryPadding), [tgt, memory], seed, 212);
        var compiled = Run(decoder, a => program.Forward(a[0], a[1], tgtMask, null, null, memoryPadding), [tgt, memory], seed, 212);
        AssertSame(eager, compiled, "decoder stack");

        decoder.Eval();
        Tensor evaluated;
        using (Autograd.NoGrad()) evaluated = program.Forward(tgt, memory, tgtMask, null, null, memoryPadding);
        decoder.Train();
        Assert.True((evaluated - eager.Out).Abs().Max().Item() > 1e-3, "dropout changed nothing");
    }

    /// <summary>
    /// Each dropout draws from its own module's generator (here six different ones, none the default), as eager: the
    /// decoder layer's compiled program equals eager with each generator reset to the same state before each run.
    /// </summary>
    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void EachDropoutDrawsFromItsModulesGenerator(bool normFirst, bool batchFirst)
    {
        var rng = new Rng(221);
        var layer = new TransformerDecoderLayer(8, 2, 16, 0.3, "relu", batchFirst: batchFirst, normFirst: normFirst, rng: rng);
        var encoderLayer = new TransformerEncoderLayer(8, 2, 16, 0.3, "gelu", batchFirst: batchFirst, normFirst: normFirst, rng: rng);
        int[] Shape(int steps) => batchFirst ? [3, steps, 8] : [steps, 3, 8];
        var (tgt, memory, seed) = (Tensor.Randn(Shape(4), rng: rng), Tensor.Randn(Shape(6), rng: rng), Tensor.Randn(Shape(4), rng: rng));
        void Reseed()
        {
            layer.SelfAttn.Rng = new Rng(1);
            layer.Dropout1.Rng = new Rng(2);
            layer.MultiheadAttn.Rng = new Rng(3);
            layer.Dropout2.Rng = new Rng(4);
            layer.Dropout.Rng = new Rng(5);
            layer.Dropout3.Rng = new Rng(6);
            encoderLayer.SelfAttn.Rng = new Rng(7);
            encoderLayer.Dropout1.Rng = new Rng(8);
            encoderLayer.Dropout.Rng = new Rng(9);
            encoderLayer.Dropout2.Rng = new Rng(10);
        }
        var (program, encoderProgram) = (layer.Compile(), encoderLayer.Compile());
        Reseed();
        var eager = Run(layer, a => layer.Forward(a[0], a[1]), [tgt, memory], seed, 222);
        var eagerEncoder = Run(encoderLayer, a => encoderLayer.Forward(a[0]), [tgt], seed, 223);
        Reseed();
        // the default generator's state differs from eager's run: it must not matter
        var compiled = Run(layer, a => program.Forward(a[0], a[1]), [tgt, memory], seed, 999);
        var compiledEncoder = Run(encoderLayer, a => encoderProgram.Forward(a[0]), [tgt], seed, 998, parts: 2);
        AssertSame(eager, compiled, "decoder layer");
        AssertSame(eagerEncoder, compiledEncoder, "encoder layer");
    }

    /// <summary>One submodule in evaluation (dropout2 here) draws nothing in either mode; the others still drop.</summary>
    [Fact]
    public void ASubmoduleInEvaluationDrawsNothing()
    {
        var rng = new Rng(231);
        var layer = new TransformerEncoderLayer(8, 2, 16, 0.5, batchFirst: true, rng: rng);
        layer.Dropout2.Eval();
        var (x, seed) = (Tensor.Randn([3, 5, 8], rng: rng), Tensor.Randn([3, 5, 8], rng: rng));
        var program = layer.Compile();
        var eager = Run(layer, a => layer.Forward(a[0]), [x], seed, 232);
        var compiled = Run(layer, a => program.Forward(a[0]), [x], seed, 232);
        AssertSame(eager, compiled, "encoder layer with dropout2 in evaluation");
    }

    public static IEnumerable<object[]> ProgramCases()
    {
        foreach (int batch in new[] { 1, 3, 64 })
        {
            foreach (int t in new[] { 5, 3 })
            {
                foreach (int parts in new[] { 1, 2 }) yield return [batch, t, parts];
            }
        }
    }

    /// <summary>A generated program with an encoder layer of dropout 0.1 in training: no graph break, eager's masks, output and gradients.</summary>
    [Theory]
    [MemberData(nameof(ProgramCases))]
    public void GeneratedProgramWithDropoutEqualsEager(int batch, int t, int parts)
    {
        Rng.ManualSeed(241);
        var model = new DropoutEncoderLayerModel();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(242);
        var x = Tensor.Randn([batch, t, 8], rng: rng);
        var seed = Tensor.Randn([batch, t, 3], rng: rng);
        var eager = Run(model, a => model.Forward(a[0]), [x], seed, 243);
        var program = Run(model, a => compiled.Forward(a[0]), [x], seed, 243, parts);
        AssertSame(eager, program, "generated program");
    }

    /// <summary>The same for a batch-second pre-norm GELU layer with dropout 0.5 (the masks drawn over [T, N, ·] as eager's tensors).</summary>
    [Theory]
    [MemberData(nameof(ProgramCases))]
    public void GeneratedBatchSecondProgramWithDropoutEqualsEager(int batch, int t, int parts)
    {
        Rng.ManualSeed(251);
        var model = new DropoutBatchSecondEncoderLayerModel();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(252);
        var x = Tensor.Randn([batch, t, 12], rng: rng);
        var seed = Tensor.Randn([batch, t, 12], rng: rng);
        var eager = Run(model, a => model.Forward(a[0]), [x], seed, 253);
        var program = Run(model, a => compiled.Forward(a[0]), [x], seed, 253, parts);
        AssertSame(eager, program, "generated batch-second program");

        // evaluation: dropout is the identity, compiled too
        model.Eval();
        using var noGrad = Autograd.NoGrad();
        TensorAssert.Close(model.Forward(x), compiled.Forward(x), 1e-5, 1e-5, "evaluation");
    }
}

/// <summary>
/// The encoder layer kernel with dropout allocates nothing more than without it in a steady state: its masks and the buffers
/// they need are drawn into workspace arrays kept across steps (run alone, see <see cref="AllocationCollection"/>).
/// </summary>
[Collection(AllocationCollection.Name)]
public class TransformerDropoutAllocationTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void DropoutAddsNoAllocationPerStep(int parts)
    {
        const int n = 4, t = 6, d = 8, heads = 2, ff = 16;
        var shape = new EncoderLayerShape(d, heads, ff, t, false, false, 1e-5);
        var rng = new Rng(261);
        int[] sizes = [3 * d * d, 3 * d, d * d, d, ff * d, ff, d * ff, d, d, d, d, d];
        var w = sizes.Select(size => (Tensor.Randn([size], rng: rng) * 0.3f).ToArray()).ToArray();
        var g = sizes.Select(size => (float[]?)new float[size]).ToArray();
        var x = Tensor.Randn([n * t * d], rng: rng).ToArray();
        var (y, gx) = (new float[n * t * d], new float[n * t * d]);
        var site = new DropoutSite(0.2, new Rng(262));
        var dropout = new TransformerDropout(site, site, site, site);

        long Allocated(TransformerDropout drop)
        {
            var ws = new EncoderLayerWorkspace();
            TransformerLayerKernel.t_forcedParts = parts;
            try
            {
                for (int i = 0; i < 3; i++) Step(ws, drop);
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 20; i++) Step(ws, drop);
                return GC.GetAllocatedBytesForCurrentThread() - before;
            }
            finally
            {
                TransformerLayerKernel.t_forcedParts = 0;
            }
        }

        void Step(EncoderLayerWorkspace ws, TransformerDropout drop)
        {
            TransformerLayerKernel.Forward(shape, x, y, n, w, ws, default, drop);
            TransformerLayerKernel.Backward(shape, y, gx, n, w, g, ws);
        }

        long without = Allocated(default), with = Allocated(dropout);
        Assert.True(with <= without, $"20 steps with dropout allocated {with} bytes, without {without}.");
    }
}
