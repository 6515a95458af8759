using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// Models whose compiled programs cross a region boundary (CompiledRegionBoundaryTests, issue 13 session 11): a decoder call
// inside an expression (its own program run into a local first, the expression around it a region), and a region after a
// batch-second stack that keeps the stack's batch (N in dim 1). The input declared batch second is BatchSecondDeclaredInput
// (CompiledBatchSecondModels.cs).

/// <summary>A 2-layer TransformerDecoder under a causal tgt_mask, called inside the head's argument: <c>head.Forward(decoder.Forward(…) + x)</c>.</summary>
[Module]
public sealed partial class DecoderInsideHead
{
    private readonly TransformerDecoder decoder = new(new TransformerDecoderLayer(8, 2, 16, dropout: 0.0, batchFirst: true), 2);
    private readonly Linear head = new(8, 3);

    public Tensor Forward([Shape("N", "T", 8)] Tensor tgt, [Shape("N", "S", 8)] Tensor memory)
    {
        int t = tgt.Size(1);
        var m = Tensor.Ones([t, t], DType.Bool).Triu(1);   // true above the diagonal: a position may not see later ones
        var x = Functional.Gelu(tgt);
        return head.Forward(decoder.Forward(tgt, memory, tgtMask: m) + x);
    }
}

/// <summary>A TransformerDecoderLayer (norm_first, GELU) on a computed target inside a LayerNorm: <c>var y = norm.Forward(dec.Forward(t * 2f, mem));</c>.</summary>
[Module]
public sealed partial class DecoderLayerInsideNorm
{
    private readonly TransformerDecoderLayer dec = new(8, 2, 16, dropout: 0.0, activation: "gelu", batchFirst: true, normFirst: true);
    private readonly LayerNorm norm = new(8);

    public Tensor Forward([Shape("N", "T", 8)] Tensor t, [Shape("N", "S", 8)] Tensor mem)
    {
        var y = norm.Forward(dec.Forward(t * 2f, mem));
        return y * 0.5f;
    }
}

/// <summary>
/// A batch-second 2-layer TransformerEncoder on the transposed input ([T, N, 8]), then a batch-second encoder layer in the
/// region after it: that region takes N (dim 1) as its batch, as the region before the stack had it.
/// </summary>
[Module]
public sealed partial class BatchSecondStackThenLayer
{
    private readonly TransformerEncoder stack = new(new TransformerEncoderLayer(8, 2, 16, dropout: 0.0), 2);
    private readonly TransformerEncoderLayer last = new(8, 2, 16, dropout: 0.0);

    public Tensor Forward([Shape("N", "T", 8)] Tensor x)
    {
        var h = stack.Forward(x.Transpose(0, 1));
        return Functional.Tanh(last.Forward(h)).Transpose(0, 1);
    }
}
