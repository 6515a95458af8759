using SharpGrad.Layers;
using SharpGrad.Tests.Support;
using SharpGrad.Tests.Zoo;

namespace SharpGrad.Tests.Compiler;

/// <summary>A built-in decoder layer called as a statement of its own, then a Linear: the layer's own program runs between two regions.</summary>
[Module]
public sealed partial class DecoderLayerStatement
{
    private readonly TransformerDecoderLayer layer = new(8, 2, 16, dropout: 0.0, batchFirst: true);
    private readonly Linear head = new(8, 3);

    public Tensor Forward([Shape("N", 4, 8)] Tensor x, [Shape("N", 6, 8)] Tensor memory)
    {
        var h = layer.Forward(Functional.Gelu(x), memory);
        return head.Forward(h);
    }
}

/// <summary>A TransformerDecoder stack of a count from the constructor, called as a statement of its own under a causal mask.</summary>
[Module]
public sealed partial class DecoderStackStatement
{
    private readonly Linear proj;
    private readonly TransformerDecoder decoder;
    private readonly Linear head;

    public DecoderStackStatement(int d, int layers)
    {
        proj = new Linear(5, d);
        decoder = new TransformerDecoder(new TransformerDecoderLayer(d, 2, 2 * d, dropout: 0.0, batchFirst: true, normFirst: true), layers);
        head = new Linear(d, 3);
    }

    public Tensor Forward([Shape("N", "T", 5)] Tensor x, Tensor memory)
    {
        int t = x.Size(1);
        var causal = Tensor.Ones([t, t], DType.Bool).Triu(1);
        var h = decoder.Forward(proj.Forward(x), memory, tgtMask: causal);
        return head.Forward(h);
    }
}

/// <summary>
/// Issue 13's GPT-style zoo model compiled whole: the block compiled on its own infers its input [N, T, d] through its first
/// LayerNorm from the MultiheadAttention after it; in <c>Gpt</c> the length read, the causal mask and the embeddings are one
/// region (the mask computed again after it), the loop over the blocks runs each block's program, and the head after the loop
/// is a region that knows the loop's output shape. Outputs, input gradients and parameter gradients equal eager's at batch
/// 1, 3 and 64 and two sequence lengths (PyTorch's fixtures: CompiledZooSequenceTests). Also a TransformerDecoderLayer and a
/// TransformerDecoder called as statements of a [Module] Forward run their own programs there.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledGptTests
{
    [Theory]
    [InlineData(1, 5)]
    [InlineData(3, 5)]
    [InlineData(64, 5)]
    [InlineData(3, 11)]
    public void GptBlockCompiledOnItsOwnMatchesEager(int batch, int t)
    {
        Rng.ManualSeed(151);
        var model = new GptBlock(16, 4);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var causal = Tensor.Ones([t, t], DType.Bool).Triu(1);
        CompiledLayerTests.Compare(model, model, x => model.Forward(x, causal), x => compiled.Forward(x, causal), [batch, t, 16], seed: 152 + t);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void GptCompiledWholeMatchesEagerAtTwoLengths(int batch)
    {
        Rng.ManualSeed(161);
        var model = new Gpt();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        // One program at lengths 5 and 11 (and 5 again: the workspaces follow the call's T).
        foreach (int t in new[] { 5, 11, 5 })
        {
            var tokens = Tensor.RandInt(0, 20, [batch, t], new Rng(162 + t));
            var pe = model.Parameters().ToList();
            foreach (var p in pe) p.Grad = null;
            var ye = model.Forward(tokens);
            var g = Tensor.Randn(ye.Shape, rng: new Rng(163));
            ye.Backward(g);
            var eagerGrads = pe.Select(p => p.Grad!.Detach().Clone()).ToList();
            foreach (var p in pe) p.Grad = null;
            var yc = compiled.Forward(tokens);
            yc.Backward(g);
            TensorAssert.Close(ye.Detach(), yc.Detach(), 1e-4, 1e-5, $"output at T={t}");
            for (int i = 0; i < pe.Count; i++) TensorAssert.Close(eagerGrads[i], pe[i].Grad!, 1e-4, 1e-5, $"gradient of parameter {i} at T={t}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void DecoderLayerCalledAsAStatementRunsItsProgramAndMatchesEager(int batch)
    {
        Rng.ManualSeed(171);
        var model = new DecoderLayerStatement();
        var twin = new DecoderLayerStatement();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Contains("layer", compiled.Explanation.ToString(), StringComparison.Ordinal);
        var rng = new Rng(172);
        CompiledAttentionBreakTests.Compare(model, twin, a => model.Forward(a[0], a[1]), a => compiled.Forward(a[0], a[1]),
            [Tensor.Randn([batch, 4, 8], rng: rng), Tensor.Randn([batch, 6, 8], rng: rng)]);
    }

    [Theory]
    [InlineData(1, 4)]
    [InlineData(3, 4)]
    [InlineData(64, 4)]
    [InlineData(3, 7)]
    public void DecoderStackOfAConstructorCountMatchesEager(int batch, int t)
    {
        Rng.ManualSeed(181);
        var model = new DecoderStackStatement(8, 2);
        var twin = new DecoderStackStatement(8, 2);
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(182 + t);
        CompiledAttentionBreakTests.Compare(model, twin, a => model.Forward(a[0], a[1]), a => compiled.Forward(a[0], a[1]),
            [Tensor.Randn([batch, t, 5], rng: rng), Tensor.Randn([batch, 6, 8], rng: rng)]);
    }
}
