using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

/// <summary>Embedding (padding_idx 2) → LSTM, batch first, its last step into a head: the lookup read by the LSTM alone (fused).</summary>
[Module]
public sealed partial class EmbeddedLstmNet
{
    private readonly Embedding emb = new(13, 7, paddingIdx: 2);
    private readonly LSTM lstm = new(7, 9, batchFirst: true);
    private readonly Linear head = new(9, 3);

    public Tensor Forward([Shape("N", 5)] Tensor tokens)
    {
        var (y, _) = lstm.Forward(emb.Forward(tokens));
        return head.Forward(y.Select(1, 4));
    }

    /// <summary>Mean cross-entropy of the logits; compiled with its backward fused.</summary>
    [Compiled]
    public Tensor Loss([Shape("N", 5)] Tensor tokens, [Shape("N")] Tensor target)
    {
        var (y, _) = lstm.Forward(emb.Forward(tokens));
        return Losses.CrossEntropy(head.Forward(y.Select(1, 4)), target);
    }
}

/// <summary>Embedding → two-layer bidirectional LSTM → every step flattened into a head (fused; no padding).</summary>
[Module]
public sealed partial class EmbeddedBiLstmNet
{
    private readonly Embedding emb = new(11, 6);
    private readonly LSTM lstm = new(6, 5, numLayers: 2, batchFirst: true, bidirectional: true);
    private readonly Linear head = new(4 * 10, 3);

    public Tensor Forward([Shape("N", 4)] Tensor tokens)
    {
        var (y, _) = lstm.Forward(emb.Forward(tokens));
        return head.Forward(y.Flatten(1));
    }

    /// <summary>Mean cross-entropy of the logits; compiled with its backward fused.</summary>
    [Compiled]
    public Tensor Loss([Shape("N", 4)] Tensor tokens, [Shape("N")] Tensor target)
    {
        var (y, _) = lstm.Forward(emb.Forward(tokens));
        return Losses.CrossEntropy(head.Forward(y.Flatten(1)), target);
    }
}

/// <summary>Embedding (padding_idx 0) → GRU, and the lookup's mean into the head too: a second reader, so not fused (today's path).</summary>
[Module]
public sealed partial class EmbeddedGruSharedNet
{
    private readonly Embedding emb = new(9, 5, paddingIdx: 0);
    private readonly GRU gru = new(5, 6, batchFirst: true);
    private readonly Linear head = new(6, 3);
    private readonly Linear side = new(5, 3);

    public Tensor Forward([Shape("N", 6)] Tensor tokens)
    {
        var e = emb.Forward(tokens);
        var (y, _) = gru.Forward(e);
        return head.Forward(y.Select(1, 5)) + side.Forward(e.Mean(1));
    }

    /// <summary>Mean cross-entropy of the logits; compiled with its backward fused.</summary>
    [Compiled]
    public Tensor Loss([Shape("N", 6)] Tensor tokens, [Shape("N")] Tensor target)
    {
        var e = emb.Forward(tokens);
        var (y, _) = gru.Forward(e);
        return Losses.CrossEntropy(head.Forward(y.Select(1, 5)) + side.Forward(e.Mean(1)), target);
    }
}
