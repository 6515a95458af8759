using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

/// <summary>Embedding (padding_idx 1) → Linear on every position: the lookup's own scatter (not fused into a recurrent layer).</summary>
[Module]
public sealed partial class EmbeddingLinearHookNet
{
    internal readonly Embedding emb = new(11, 6, paddingIdx: 1);
    internal readonly Linear head = new(6, 3);

    public Tensor Forward([Shape("N", 5)] Tensor tokens) => head.Forward(emb.Forward(tokens));

    /// <summary>Mean cross-entropy of the last position's logits; compiled with its backward fused.</summary>
    [Compiled]
    public Tensor Loss([Shape("N", 5)] Tensor tokens, [Shape("N")] Tensor target)
        => Losses.CrossEntropy(head.Forward(emb.Forward(tokens)).Select(1, 4), target);
}
