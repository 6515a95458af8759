using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// (BatchSecondEncoderLayer, the guide's example, is in Docs/DocModels.cs.)
// Models whose Forward calls layers built with batch_first=False (PyTorch's default) inside a generated program
// (CompiledBatchSecondTests): the batch-first input is transposed to [T, N, E] (the batch in dim 1), the layers take and
// give batch-second values, and the result is transposed back — the program as PyTorch code written before batch_first has it.

/// <summary>Two pre-norm batch-second encoder layers (GELU, ReLU), the second under a causal src_mask ([T, T], data), the input read [T, N, E] by a Permute.</summary>
[Module]
public sealed partial class BatchSecondPreNormEncoder
{
    private readonly TransformerEncoderLayer first = new(8, 2, 16, dropout: 0.0, activation: "gelu", normFirst: true);
    private readonly TransformerEncoderLayer second = new(8, 2, 16, dropout: 0.0, normFirst: true);

    public Tensor Forward([Shape("N", "T", 8)] Tensor x)
    {
        int t = x.Size(1);
        var causal = Tensor.Ones([t, t], DType.Bool).Triu(1);   // true above the diagonal: a position may not see later ones
        var h = first.Forward(x.Permute(1, 0, 2));
        h = second.Forward(h, causal);
        return Functional.Tanh(h).Permute(1, 0, 2);
    }
}

/// <summary>A batch-second 2-layer LSTM over [T, N, 5] from the transposed input, its output sequence back to batch first.</summary>
[Module]
public sealed partial class BatchSecondLstm
{
    private readonly LSTM lstm = new(5, 7, numLayers: 2);
    private readonly Linear fc = new(7, 3);

    public Tensor Forward([Shape("N", "T", 5)] Tensor x)
    {
        var (y, _) = lstm.Forward(x.Transpose(0, 1));
        return fc.Forward(y.Transpose(0, 1));
    }
}

/// <summary>A batch-second bidirectional GRU whose final state ([2, N, H]) starts a second batch-second GRU.</summary>
[Module]
public sealed partial class BatchSecondGruPair
{
    private readonly GRU encoder = new(4, 6, bidirectional: true);
    private readonly GRU decoder = new(12, 6, numLayers: 2);

    public Tensor Forward([Shape("N", "T", 4)] Tensor x)
    {
        var s = x.Transpose(0, 1);
        var (y, h) = encoder.Forward(s);
        var (z, _) = decoder.Forward(y, h);
        return z.Transpose(0, 1) * 2f;
    }
}

/// <summary>A batch-second layer reading an input declared batch second ([T, N, 8]: the batch N in dim 1, T read at each call), compiled whole (CompiledRegionBoundaryTests).</summary>
[Module]
public sealed partial class BatchSecondDeclaredInput
{
    private readonly TransformerEncoderLayer layer = new(8, 2, 16, dropout: 0.0);

    public Tensor Forward([Shape("T", "N", 8)] Tensor x) => Functional.Relu(layer.Forward(x));
}

/// <summary>
/// A batch-second MultiheadAttention (PyTorch's default batch_first=False) as self-attention over the transposed input
/// ([T, N, 8]), a second one under a causal attn_mask ([T, T], data) and a key padding mask-free call, back to batch first.
/// </summary>
[Module]
public sealed partial class BatchSecondSelfAttention
{
    private readonly MultiheadAttention attn = new(8, 2);
    private readonly MultiheadAttention causalAttn = new(8, 4);

    public Tensor Forward([Shape("N", "T", 8)] Tensor x)
    {
        int t = x.Size(1);
        var causal = Tensor.Ones([t, t], DType.Bool).Triu(1);   // true above the diagonal: a position may not see later ones
        var s = x.Transpose(0, 1);
        var h = attn.Forward(s, s, s).Output;
        var g = Functional.Tanh(h) + s;
        var z = causalAttn.Forward(g, g, g, attnMask: causal).Output;
        return z.Permute(1, 0, 2);
    }
}

/// <summary>
/// Batch-second MultiheadAttentions over keys ≠ values: separate projections (kdim 5, vdim 7) with key [S, N, 5] and value
/// [S, N, 7] from Linear layers of the input, then a packed layer whose key and value are one other value ([S, N, 8], not the query).
/// </summary>
[Module]
public sealed partial class BatchSecondCrossAttention
{
    private readonly Linear toKey = new(6, 5);
    private readonly Linear toValue = new(6, 7);
    private readonly Linear toQuery = new(6, 8);
    private readonly MultiheadAttention attn = new(8, 2, kdim: 5, vdim: 7);
    private readonly MultiheadAttention memoryAttn = new(8, 2);

    public Tensor Forward([Shape("N", "T", 6)] Tensor x)
    {
        var q = toQuery.Forward(x).Transpose(0, 1);
        var k = toKey.Forward(x).Transpose(0, 1);
        var v = toValue.Forward(x).Permute(1, 0, 2);
        var y = attn.Forward(q, k, v).Output;
        var memory = Functional.Tanh(q * 0.5f);
        var z = memoryAttn.Forward(y, memory, memory).Output;
        return z.Transpose(0, 1);
    }
}
