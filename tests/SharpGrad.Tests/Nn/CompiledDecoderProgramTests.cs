using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Nn;

/// <summary>
/// The compiled programs of the built-in <see cref="TransformerDecoderLayer"/> and <see cref="TransformerDecoder"/>
/// (<c>Compile()</c>, Layers/Transformer.Compiled.cs over Kernels/TransformerDecoderLayer.cs): equal to PyTorch's fixtures
/// (Fixtures/arch/layers.safetensors: outputs, target, memory and parameter gradients), and to the eager layers with every
/// mask, post- and pre-norm, relu and gelu, batch first and second, batch 1 and 3 and two pairs of sequence lengths; hooks on
/// a layer's submodules run under Compile() as eagerly (the call runs the eager layer while one is registered).
/// </summary>
public class CompiledDecoderProgramTests
{
    private static Tensor? Opt(Dictionary<string, Tensor> a, string name) => a.TryGetValue(name, out var t) ? t : null;

    [Theory]
    [InlineData("dec_layer_post")]
    [InlineData("dec_layer_pre_gelu_bf")]
    [InlineData("decoder_stack")]
    [InlineData("dec_layer_post_b1_all_masks")]
    [InlineData("dec_layer_pre_relu_bf_b1")]
    [InlineData("decoder_stack_pre_gelu_bf_norm")]
    [InlineData("enc_layer_post")]
    public void CompiledProgramMatchesPyTorch(string caseName)
    {
        var m = SequenceLayerFixtureTests.Build(caseName);
        Func<Dictionary<string, Tensor>, Dictionary<string, Tensor>> call;
        switch (m)
        {
            case TransformerDecoderLayer layer:
            {
                var c = layer.Compile();
                Assert.True(c.Explanation.IsFullyCompiled, c.Explanation.ToString());
                call = a => new()
                {
                    ["out"] = c.Forward(a["tgt"], a["memory"], Opt(a, "tgt_mask"), Opt(a, "memory_mask"), Opt(a, "tgt_key_padding_mask"),
                        Opt(a, "memory_key_padding_mask")),
                };
                break;
            }
            case TransformerDecoder decoder:
            {
                var c = decoder.Compile();
                Assert.True(c.Explanation.IsFullyCompiled, c.Explanation.ToString());
                call = a => new()
                {
                    ["out"] = c.Forward(a["tgt"], a["memory"], Opt(a, "tgt_mask"), Opt(a, "memory_mask"), Opt(a, "tgt_key_padding_mask"),
                        Opt(a, "memory_key_padding_mask")),
                };
                break;
            }
            case TransformerEncoderLayer layer:
            {
                var c = layer.Compile();
                Assert.True(c.Explanation.IsFullyCompiled, c.Explanation.ToString());
                call = a => new() { ["out"] = c.Forward(a["src"], Opt(a, "src_mask"), Opt(a, "src_key_padding_mask")) };
                break;
            }
            default:
                throw new NotSupportedException(m.GetType().Name);
        }
        SequenceLayerFixtureTests.CheckAgainstPyTorch(caseName, m, call, masksAreData: true);
    }

    public static IEnumerable<object[]> EagerCases()
    {
        foreach (int batch in new[] { 1, 3 })
        {
            foreach (var (l, s) in new[] { (5, 6), (3, 8) })
            {
                yield return [batch, l, s, false, "relu", true, true];
                yield return [batch, l, s, true, "gelu", true, false];
                yield return [batch, l, s, true, "relu", false, true];
                yield return [batch, l, s, false, "gelu", false, false];
            }
        }
    }

    /// <summary>
    /// A 2-layer decoder stack with a final norm: the compiled program's output and the gradients of the target, the memory
    /// and every parameter equal the eager stack's.
    /// </summary>
    [Theory]
    [MemberData(nameof(EagerCases))]
    public void CompiledStackEqualsEager(int batch, int l, int s, bool normFirst, string activation, bool batchFirst, bool masks)
    {
        const int d = 8, heads = 2, ff = 16;
        var rng = new Rng(11);
        var decoder = new TransformerDecoder(new TransformerDecoderLayer(d, heads, ff, 0.0, activation, batchFirst: batchFirst, normFirst: normFirst, rng: rng), 2,
            new LayerNorm(d));
        // the layers start as copies of one layer: give them different weights, as training would
        foreach (var p in decoder.Parameters()) (Tensor.Randn(p.Shape, rng: rng) * 0.3f).Data<float>().AsSpan().CopyTo(p.Data<float>());
        int[] Shape(int steps) => batchFirst ? [batch, steps, d] : [steps, batch, d];
        var tgt = Tensor.Randn(Shape(l), rng: rng);
        var memory = Tensor.Randn(Shape(s), rng: rng);
        Tensor? tgtMask = null, memoryMask = null, tgtPadding = null, memoryPadding = null;
        if (masks)
        {
            tgtMask = Tensor.Ones([l, l], DType.Bool).Triu(1);
            memoryMask = Tensor.Randn([batch * heads, l, s], rng: rng);
            var pad = new bool[batch * l];
            pad[batch * l - 1] = true;   // the last sequence's last target token is padding
            tgtPadding = Tensor.FromArray(pad, batch, l);
            var memPad = new float[batch * s];
            memPad[s - 1] = float.NegativeInfinity;   // the first sequence's last memory token, as a float mask
            memoryPadding = Tensor.FromArray(memPad, batch, s);
        }
        var seed = Tensor.Randn(Shape(l), rng: rng);

        (Tensor Out, Tensor GradTgt, Tensor GradMemory, Dictionary<string, Tensor> Grads) Run(Func<Tensor, Tensor, Tensor> forward)
        {
            decoder.ZeroGrad();
            var ti = tgt.Detach().RequiresGrad_();
            var mi = memory.Detach().RequiresGrad_();
            var y = forward(ti, mi);
            (y * seed).Sum().Backward();
            return (y.Detach(), ti.Grad!, mi.Grad!, decoder.NamedParameters().ToDictionary(p => p.Name, p => p.Value.Grad!.Clone()));
        }

        var eager = Run((t, m) => decoder.Forward(t, m, tgtMask, memoryMask, tgtPadding, memoryPadding));
        var program = decoder.Compile();
        Assert.True(program.Explanation.IsFullyCompiled, program.Explanation.ToString());
        var compiled = Run((t, m) => program.Forward(t, m, tgtMask, memoryMask, tgtPadding, memoryPadding));
        TensorAssert.Close(eager.Out, compiled.Out, 1e-5, 1e-5, "output");
        TensorAssert.Close(eager.GradTgt, compiled.GradTgt, 1e-4, 1e-5, "gradient of the target");
        TensorAssert.Close(eager.GradMemory, compiled.GradMemory, 1e-4, 1e-5, "gradient of the memory");
        Assert.Equal(eager.Grads.Count, compiled.Grads.Count);
        foreach (var (name, g) in eager.Grads) TensorAssert.Close(g, compiled.Grads[name], 1e-4, 1e-5, "gradient of " + name);
    }

    [Fact]
    public void EachLayerIsOneTapeNodeAndAStaleBackwardThrows()
    {
        var layer = new TransformerDecoderLayer(8, 2, 16, 0.0, batchFirst: true, rng: new Rng(1));
        var c = layer.Compile();
        var memory = Tensor.Randn([2, 4, 8]);
        var first = c.Forward(Tensor.Randn([2, 3, 8], requiresGrad: true), memory);
        Assert.Equal("TransformerDecoderLayerCompiledBackward", first.GradFn!.Name);
        c.Forward(Tensor.Randn([2, 3, 8], requiresGrad: true), memory);
        var e = Assert.Throws<InvalidOperationException>(() => first.Sum().Backward());
        Assert.Contains("earlier call", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DropoutCompilesAndBadInputsAreNamed()
    {
        var rng = new Rng(3);
        var withDropout = new TransformerDecoderLayer(8, 2, 16, 0.5, batchFirst: true, rng: rng);
        var c = withDropout.Compile();
        Assert.True(c.Explanation.IsFullyCompiled, "dropout in training compiles (CompiledTransformerDropoutTests)");
        withDropout.Eval();
        var (x, memory) = (Tensor.Randn([2, 3, 8], rng: rng), Tensor.Randn([2, 5, 8], rng: rng));
        TensorAssert.Close(withDropout.Forward(x, memory), c.Forward(x, memory), 1e-5, 1e-5, "dropout layer in eval mode, compiled");
        var wrong = Assert.Throws<ArgumentException>(() => c.Forward(Tensor.Randn([2, 3, 6]), memory));
        Assert.Contains("[N, T, 8]", wrong.Message, StringComparison.Ordinal);
        var batches = Assert.Throws<ArgumentException>(() => c.Forward(x, Tensor.Randn([3, 5, 8])));
        Assert.Contains("batch", batches.Message, StringComparison.Ordinal);
        var mask = Assert.Throws<ArgumentException>(() => c.Forward(x, memory, memoryMask: Tensor.Zeros([3, 4])));
        Assert.Contains("[3, 5]", mask.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Forward hooks on a built-in layer's submodules run under its hand-written Compile() as they run eagerly (PyTorch's
    /// torch.compile runs them too): the same calls in the same order, and a hook that replaces an output changes the
    /// compiled result as it changes the eager one. Without hooks the call is the fused kernel again.
    /// </summary>
    [Fact]
    public void HooksOnSubmodulesRunUnderCompile()
    {
        var rng = new Rng(5);
        var encoder = new TransformerEncoderLayer(8, 2, 16, 0.0, batchFirst: true, rng: rng);
        var decoder = new TransformerDecoderLayer(8, 2, 16, 0.0, batchFirst: true, normFirst: true, rng: rng);
        var (x, memory) = (Tensor.Randn([2, 3, 8], rng: rng), Tensor.Randn([2, 4, 8], rng: rng));
        var log = new List<string>();
        var hooks = new List<HookHandle>
        {
            encoder.Norm1.RegisterForwardHook((m, i, o) => log.Add($"enc norm1 {o.Sum().Item():F5}")),
            encoder.Linear1.RegisterForwardHook((m, i, o) => o * 2f),   // replaces linear1's output
            decoder.MultiheadAttn.OutProj.RegisterForwardHook((m, i, o) => log.Add($"dec cross out_proj {o.Sum().Item():F5}")),
            decoder.Norm3.RegisterForwardPreHook((m, i) => log.Add($"dec norm3 pre {i[0].Sum().Item():F5}")),
        };
        var eagerEnc = encoder.Forward(x);
        var eagerDec = decoder.Forward(x, memory);
        var eagerLog = log.ToList();
        Assert.Equal(3, eagerLog.Count);   // the eager layers run their submodules' hooks
        log.Clear();
        var (ce, cd) = (encoder.Compile(), decoder.Compile());
        TensorAssert.Close(eagerEnc, ce.Forward(x), 1e-6, 1e-6, "encoder layer with hooks, compiled");
        TensorAssert.Close(eagerDec, cd.Forward(x, memory), 1e-6, 1e-6, "decoder layer with hooks, compiled");
        Assert.Equal(eagerLog, log);
        foreach (var h in hooks) h.Dispose();
        log.Clear();
        var plain = cd.Forward(x.Detach().RequiresGrad_(), memory);
        Assert.Empty(log);
        Assert.Equal("TransformerDecoderLayerCompiledBackward", plain.GradFn!.Name);
        // the replacing hook changed the eager output, so the comparison above can fail
        using (Autograd.NoGrad()) Assert.True((encoder.Forward(x) - eagerEnc).Abs().Max().Item() > 1e-3, "linear1's replacing hook had no effect");
    }

    /// <summary>A float mask that requires grad gets PyTorch's gradient under Compile() (the call runs the eager layer).</summary>
    [Fact]
    public void FloatMaskThatRequiresGradGetsItsGradient()
    {
        var rng = new Rng(9);
        var decoder = new TransformerDecoderLayer(8, 2, 16, 0.0, batchFirst: false, rng: rng);
        var (x, memory) = (Tensor.Randn([3, 2, 8], rng: rng), Tensor.Randn([5, 2, 8], rng: rng));
        var mask = Tensor.Randn([3, 5], rng: rng);
        Tensor Grad(Func<Tensor, Tensor> f)
        {
            var m = mask.Detach().RequiresGrad_();
            (f(m) * x).Sum().Backward();
            return m.Grad!;
        }
        var c = decoder.Compile();
        TensorAssert.Close(Grad(m => decoder.Forward(x, memory, memoryMask: m)), Grad(m => c.Forward(x, memory, memoryMask: m)), 1e-5, 1e-6, "memory mask gradient");
    }
}
