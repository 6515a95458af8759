using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// Models with Transformer encoder layers for the compiled layer rule (CompiledTransformerTests): batch first, mostly dropout 0 and no masks.

/// <summary>A post-norm ReLU encoder layer (PyTorch's default placement).</summary>
[Module]
public sealed partial class CompiledEncoderLayerPostNorm
{
    private readonly TransformerEncoderLayer layer = new(16, 4, 24, dropout: 0.0, batchFirst: true);

    public Tensor Forward([Shape("N", 5, 16)] Tensor x) => layer.Forward(x);
}

/// <summary>
/// transformer_train_step_b16's layer size (d_model 128, 4 heads, feed-forward 512, 64 tokens): enough token rows at batch 5
/// for the backward's GEMMs to run in several row blocks and a remainder, and heads of 32 for the attention kernel.
/// </summary>
[Module]
public sealed partial class CompiledEncoderLayerWorkloadSize
{
    private readonly TransformerEncoderLayer layer = new(128, 4, 512, dropout: 0.0, batchFirst: true);

    public Tensor Forward([Shape("N", 64, 128)] Tensor x) => layer.Forward(x);
}

/// <summary>A pre-norm GELU encoder layer with an odd model size (3 heads of 4).</summary>
[Module]
public sealed partial class CompiledEncoderLayerPreNormGelu
{
    private readonly TransformerEncoderLayer layer = new(12, 3, 20, dropout: 0.0, activation: "gelu", batchFirst: true, normFirst: true);

    public Tensor Forward([Shape("N", 7, 12)] Tensor x) => layer.Forward(x);
}

/// <summary>The transformer_train_step_b16 model at a small size: two encoder layers in a Sequential, the mean over the sequence, a Linear head.</summary>
[Module]
public sealed partial class CompiledEncoderClassifier
{
    private readonly Sequential encoder = new(
        new TransformerEncoderLayer(8, 2, 16, dropout: 0.0, batchFirst: true),
        new TransformerEncoderLayer(8, 2, 16, dropout: 0.0, batchFirst: true));
    private readonly Linear head = new(8, 3);

    public Tensor Forward([Shape("N", 6, 8)] Tensor x) => head.Forward(encoder.Forward(x).Mean(1));
}

/// <summary>An encoder layer with the default dropout (0.1): compiled, in training (its masks drawn as eager draws them) and evaluation.</summary>
[Module]
public sealed partial class CompiledEncoderLayerWithDropout
{
    private readonly TransformerEncoderLayer layer = new(8, 2, 16, batchFirst: true);

    public Tensor Forward([Shape("N", 4, 8)] Tensor x) => layer.Forward(x);
}

/// <summary>
/// CharLM's Transformer at a small size, its sizes from the constructor: a pre-norm GELU encoder layer of d_model d with
/// heads heads and 4·d feed-forward, then a Linear head (symbols bound in <c>Compile()</c>).
/// </summary>
[Module]
public sealed partial class CtorSizedEncoderLayerHead
{
    private readonly TransformerEncoderLayer layer;
    private readonly Linear head;

    public CtorSizedEncoderLayerHead(int d, int heads, int classes)
    {
        layer = new TransformerEncoderLayer(d, heads, 4 * d, dropout: 0.0, activation: "gelu", batchFirst: true, normFirst: true);
        head = new Linear(d, classes);
    }

    public Tensor Forward([Shape("N", 5, "d")] Tensor x) => head.Forward(layer.Forward(x));
}

/// <summary>An encoder layer with both masks given as arguments of Forward (positionally): a Bool [T, T] src_mask and a Bool [N, T] key padding mask.</summary>
[Module]
public sealed partial class CompiledEncoderLayerMasked
{
    private readonly TransformerEncoderLayer layer = new(8, 2, 16, dropout: 0.0, batchFirst: true);

    public Tensor Forward([Shape("N", 5, 8)] Tensor x, [Shape(5, 5)] Tensor mask, [Shape("N", 5)] Tensor padding) => layer.Forward(x, mask, padding);
}

/// <summary>
/// A constructor-sized pre-norm encoder layer under a causal mask built in Forward and a key padding mask given by name (the
/// zoo's and CharLM's use), then a Linear head.
/// </summary>
[Module]
public sealed partial class CtorSizedMaskedEncoder
{
    private readonly TransformerEncoderLayer layer;
    private readonly Linear head;

    public CtorSizedMaskedEncoder(int d, int heads)
    {
        layer = new TransformerEncoderLayer(d, heads, 2 * d, dropout: 0.0, batchFirst: true, normFirst: true);
        head = new Linear(d, 3);
    }

    public Tensor Forward([Shape("N", 6, "d")] Tensor x, [Shape("N", 6)] Tensor padding)
    {
        var causal = Tensor.Ones([6, 6], DType.Bool).Triu(1);
        return head.Forward(layer.Forward(x, srcMask: causal, srcKeyPaddingMask: padding));
    }
}

/// <summary>An encoder layer with only the key padding mask, given by name (the src_mask parameter skipped).</summary>
[Module]
public sealed partial class CompiledEncoderLayerPaddingOnly
{
    private readonly TransformerEncoderLayer layer = new(8, 4, 16, dropout: 0.0, activation: "gelu", batchFirst: true);

    public Tensor Forward([Shape("N", 5, 8)] Tensor x, [Shape("N", 5)] Tensor padding) => layer.Forward(x, srcKeyPaddingMask: padding);
}

/// <summary>
/// The zoo's GPT block with its sizes from the constructor and declared input shapes: pre-norm causal self-attention through a
/// standalone MultiheadAttention (<c>.Output</c>, need_weights=False) and a GELU MLP in a Sequential, each around a residual.
/// </summary>
[Module]
public sealed partial class CtorSizedGptBlock
{
    private readonly LayerNorm ln1;
    private readonly MultiheadAttention attn;
    private readonly LayerNorm ln2;
    private readonly Sequential mlp;

    public CtorSizedGptBlock(int d, int heads)
    {
        ln1 = new LayerNorm(d);
        attn = new MultiheadAttention(d, heads, batchFirst: true);
        ln2 = new LayerNorm(d);
        mlp = new Sequential(new Linear(d, 4 * d), new GELU(), new Linear(4 * d, d));
    }

    public Tensor Forward([Shape("N", 6, "d")] Tensor x, [Shape(6, 6)] Tensor causal)
    {
        var h = ln1.Forward(x);
        x = x + attn.Forward(h, h, h, attnMask: causal, needWeights: false).Output;
        return x + mlp.Forward(ln2.Forward(x));
    }
}

/// <summary>A standalone MultiheadAttention with a key padding mask, need_weights left at its default, the output deconstructed.</summary>
[Module]
public sealed partial class CompiledSelfAttentionPadded
{
    private readonly MultiheadAttention attn = new(12, 3, batchFirst: true);

    public Tensor Forward([Shape("N", 5, 12)] Tensor x, [Shape("N", 5)] Tensor padding)
    {
        var (y, _) = attn.Forward(x, x, x, padding);
        return y;
    }
}

/// <summary>
/// A sequence length read at each call (T) through a constructor-sized LSTM, an encoder layer under a key padding mask
/// [N, T] and a self-attention, then a Linear head: the whole-layer kernels size their workspaces from the call's T.
/// </summary>
[Module]
public sealed partial class SequenceLengthEncoder
{
    private readonly LSTM lstm;
    private readonly TransformerEncoderLayer layer;
    private readonly MultiheadAttention attn;
    private readonly Linear head;

    public SequenceLengthEncoder(int d, int heads)
    {
        lstm = new LSTM(d, d, batchFirst: true);
        layer = new TransformerEncoderLayer(d, heads, 2 * d, dropout: 0.0, batchFirst: true);
        attn = new MultiheadAttention(d, heads, batchFirst: true);
        head = new Linear(d, 3);
    }

    public Tensor Forward([Shape("N", "T", "d")] Tensor x, [Shape("N", "T")] Tensor padding)
    {
        var (y, _) = lstm.Forward(x);
        var h = layer.Forward(y, srcKeyPaddingMask: padding);
        return head.Forward(attn.Forward(h, h, h, padding, needWeights: false).Output);
    }
}
