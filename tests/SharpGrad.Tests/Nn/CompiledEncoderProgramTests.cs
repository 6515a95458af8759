using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Nn;

/// <summary>
/// The compiled programs of the built-in <see cref="TransformerEncoderLayer"/> and <see cref="TransformerEncoder"/>
/// (<c>Compile()</c>, Layers/Transformer.Compiled.cs): equal to PyTorch's fixtures (Fixtures/arch/layers.safetensors), and to
/// the eager layers (outputs, input and parameter gradients) with masks, post- and pre-norm, batch 1 and 3.
/// </summary>
public class CompiledEncoderProgramTests
{
    [Theory]
    [InlineData("enc_layer_pre_gelu_bf")]
    [InlineData("encoder_stack")]
    public void CompiledProgramMatchesPyTorch(string caseName)
    {
        var m = SequenceLayerFixtureTests.Build(caseName);
        Func<Dictionary<string, Tensor>, Dictionary<string, Tensor>> call;
        Tensor? Opt(Dictionary<string, Tensor> a, string name) => a.TryGetValue(name, out var t) ? t : null;
        switch (m)
        {
            case TransformerEncoderLayer layer:
            {
                var c = layer.Compile();
                Assert.True(c.Explanation.IsFullyCompiled, c.Explanation.ToString());
                call = a => new() { ["out"] = c.Forward(a["src"], Opt(a, "src_mask"), Opt(a, "src_key_padding_mask")) };
                break;
            }
            case TransformerEncoder encoder:
            {
                var c = encoder.Compile();
                Assert.True(c.Explanation.IsFullyCompiled, c.Explanation.ToString());
                call = a => new() { ["out"] = c.Forward(a["src"], Opt(a, "mask"), Opt(a, "src_key_padding_mask")) };
                break;
            }
            default:
                throw new NotSupportedException(m.GetType().Name);
        }
        SequenceLayerFixtureTests.CheckAgainstPyTorch(caseName, m, call);
    }

    public static IEnumerable<object[]> EagerCases()
    {
        foreach (int batch in new[] { 1, 3 })
        {
            foreach (bool normFirst in new[] { false, true })
            {
                yield return [batch, normFirst, "relu", true];
                yield return [batch, normFirst, "gelu", false];
            }
        }
    }

    /// <summary>A 2-layer stack with a final norm: the compiled program's output and every gradient equal the eager stack's.</summary>
    [Theory]
    [MemberData(nameof(EagerCases))]
    public void CompiledStackEqualsEager(int batch, bool normFirst, string activation, bool masks)
    {
        const int d = 8, heads = 2, ff = 16, t = 5;
        var rng = new Rng(7);
        var encoder = new TransformerEncoder(new TransformerEncoderLayer(d, heads, ff, 0.0, activation, batchFirst: true, normFirst: normFirst, rng: rng), 2,
            new LayerNorm(d));
        // the layers start as copies of one layer: give them different weights, as training would
        foreach (var p in encoder.Parameters()) (Tensor.Randn(p.Shape, rng: rng) * 0.3f).Data<float>().AsSpan().CopyTo(p.Data<float>());
        var x = Tensor.Randn([batch, t, d], rng: rng);
        Tensor? causal = masks ? Tensor.Ones([t, t], DType.Bool).Triu(1) : null;
        Tensor? padding = null;
        if (masks)
        {
            var pad = new bool[batch * t];
            pad[batch * t - 1] = true;   // the last sequence's last token is padding
            padding = Tensor.FromArray(pad, batch, t);
        }
        var seed = Tensor.Randn([batch, t, d], rng: rng);

        (Tensor Out, Tensor GradX, Dictionary<string, Tensor> Grads) Run(Func<Tensor, Tensor> forward)
        {
            encoder.ZeroGrad();
            var xi = x.Detach().RequiresGrad_();
            var y = forward(xi);
            (y * seed).Sum().Backward();
            return (y.Detach(), xi.Grad!, encoder.NamedParameters().ToDictionary(p => p.Name, p => p.Value.Grad!.Clone()));
        }

        var eager = Run(xi => encoder.Forward(xi, causal, padding));
        var program = encoder.Compile();
        Assert.True(program.Explanation.IsFullyCompiled, program.Explanation.ToString());
        var compiled = Run(xi => program.Forward(xi, causal, padding));
        TensorAssert.Close(eager.Out, compiled.Out, 1e-5, 1e-5, "output");
        TensorAssert.Close(eager.GradX, compiled.GradX, 1e-4, 1e-5, "gradient of the input");
        Assert.Equal(eager.Grads.Count, compiled.Grads.Count);
        foreach (var (name, g) in eager.Grads) TensorAssert.Close(g, compiled.Grads[name], 1e-4, 1e-5, "gradient of " + name);
    }

    [Fact]
    public void EachLayerIsOneTapeNodeAndAStaleBackwardThrows()
    {
        var layer = new TransformerEncoderLayer(8, 2, 16, 0.0, batchFirst: true, rng: new Rng(1));
        var c = layer.Compile();
        var first = c.Forward(Tensor.Randn([2, 3, 8], requiresGrad: true));
        Assert.Equal("TransformerEncoderLayerCompiledBackward", first.GradFn!.Name);
        c.Forward(Tensor.Randn([2, 3, 8], requiresGrad: true));
        var e = Assert.Throws<InvalidOperationException>(() => first.Sum().Backward());
        Assert.Contains("earlier call", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BatchSecondAndDropoutCompileAndBadInputsAreNamed()
    {
        var rng = new Rng(3);
        // batch second compiles: the kernel runs on the [N, T, E] view, the output is transposed back
        var batchSecond = new TransformerEncoderLayer(8, 2, 16, 0.0, rng: rng);
        var c = batchSecond.Compile();
        Assert.True(c.Explanation.IsFullyCompiled, c.Explanation.ToString());
        var x = Tensor.Randn([3, 2, 8], rng: rng);
        TensorAssert.Close(batchSecond.Forward(x), c.Forward(x), 1e-5, 1e-5, "batch-second layer, compiled");
        Assert.Contains("[T, N, 8]", Assert.Throws<ArgumentException>(() => c.Forward(Tensor.Randn([3, 2, 6]))).Message, StringComparison.Ordinal);

        var withDropout = new TransformerEncoderLayer(8, 2, 16, 0.5, batchFirst: true, rng: rng);
        Assert.True(withDropout.Compile().Explanation.IsFullyCompiled, "dropout in training compiles (CompiledTransformerDropoutTests)");
        withDropout.Eval();
        var y = Tensor.Randn([2, 3, 8], rng: rng);
        TensorAssert.Close(withDropout.Forward(y), withDropout.Compile().Forward(y), 1e-5, 1e-5, "dropout layer in eval mode, compiled");
        var wrong = Assert.Throws<ArgumentException>(() => withDropout.Compile().Forward(Tensor.Randn([2, 3, 6])));
        Assert.Contains("[N, T, 8]", wrong.Message, StringComparison.Ordinal);
    }
}
