using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// [Module] classes for a sequence length read in Forward (issue 12 item 3, CompiledLengthReadTests): the Forward bodies of
// the zoo's TransformerClassifier and Gpt, with children of their own, and a hand-written causal attention over a length
// read with Size(1). Token inputs carry no [Shape]: their length is a size read at each call.

/// <summary>
/// The zoo TransformerClassifier's Forward over one encoder layer: a key-padding mask and the positions built from the
/// tokens (<c>tokens.Eq(pad)</c>, <c>Tensor.Arange(tokens.Size(1))</c>), mean pooling over the non-padding tokens.
/// </summary>
[Module]
public sealed partial class LengthReadClassifier
{
    private readonly long pad;
    private readonly Embedding embed;
    private readonly Embedding pos;
    private readonly TransformerEncoderLayer layer;
    private readonly Linear head;

    public LengthReadClassifier(int vocab = 20, int dModel = 16, int nhead = 4, int ff = 32, int maxLen = 10, int classes = 3, int pad = 0)
    {
        this.pad = pad;
        embed = new Embedding(vocab, dModel, paddingIdx: pad);
        pos = new Embedding(maxLen, dModel);
        layer = new TransformerEncoderLayer(dModel, nhead, ff, dropout: 0.0, batchFirst: true);
        head = new Linear(dModel, classes);
    }

    public Tensor Forward(Tensor tokens)
    {
        var mask = tokens.Eq(pad);
        var positions = Tensor.Arange(tokens.Size(1)).Unsqueeze(0);
        var h = layer.Forward(embed.Forward(tokens) + pos.Forward(positions), srcKeyPaddingMask: mask);
        var keep = tokens.Ne(pad).Unsqueeze(-1).To(DType.Float32);
        return head.Forward((h * keep).Sum(1) / keep.Sum(1));
    }
}

/// <summary>The zoo Gpt's Forward over the zoo's own GptBlock (two blocks): <c>int t = tokens.Size(1)</c>, a causal mask and positions of length t.</summary>
[Module]
public sealed partial class LengthReadGpt
{
    private readonly Embedding tok;
    private readonly Embedding pos;
    private readonly ModuleList<Zoo.GptBlock> blocks;
    private readonly LayerNorm ln_f;
    private readonly Linear head;

    public LengthReadGpt(int vocab = 20, int d = 16, int heads = 4, int maxLen = 12)
    {
        tok = new Embedding(vocab, d);
        pos = new Embedding(maxLen, d);
        blocks = new ModuleList<Zoo.GptBlock>();
        for (int i = 0; i < 2; i++) blocks.Append(new Zoo.GptBlock(d, heads));
        ln_f = new LayerNorm(d);
        head = new Linear(d, vocab, bias: false);
    }

    public Tensor Forward(Tensor tokens)
    {
        int t = tokens.Size(1);
        var causal = Tensor.Ones([t, t], DType.Bool).Triu(1);
        var x = tok.Forward(tokens) + pos.Forward(Tensor.Arange(t).Unsqueeze(0));
        foreach (var block in blocks) x = block.Forward(x, causal);
        return head.Forward(ln_f.Forward(x));
    }
}

/// <summary>
/// Causal multi-head attention written out from Linear, View, Transpose, MatMul, MaskedFill and Softmax over a length read
/// with <c>Size(1)</c>, then a mean over the positions: every op over the symbolic length.
/// </summary>
[Module]
public sealed partial class LengthReadAttention
{
    private const int D = 8;
    private const int H = 2;
    private readonly Linear q = new(D, D);
    private readonly Linear k = new(D, D);
    private readonly Linear v = new(D, D);
    private readonly Linear head = new(D, 3);

    public Tensor Forward([Shape("N", "T", D)] Tensor x)
    {
        int n = x.Size(0);
        int t = x.Size(1);
        var qh = q.Forward(x).View(n, t, H, D / H).Transpose(1, 2);
        var kh = k.Forward(x).View(n, t, H, D / H).Transpose(1, 2);
        var vh = v.Forward(x).View(n, t, H, D / H).Transpose(1, 2);
        var scores = qh.MatMul(kh.Transpose(-2, -1)) * 0.5f;
        scores = scores.MaskedFill(Tensor.Ones([t, t], DType.Bool).Triu(1), float.NegativeInfinity);
        var y = Functional.Softmax(scores, -1).MatMul(vh).Transpose(1, 2).Reshape(n, t, D);
        return head.Forward(y).Mean(1) + y.Sum(1).Sum(1, keepDim: true);
    }
}
