using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// A model whose encoder layers are the first writers of their 12 parameters' gradients (TransformerLayerRule.OverwritesFreshParams):
// CompiledEncoderOverwriteTests.

/// <summary>Two post-norm encoder layers in a Sequential (d_model 16, 2 heads, feed-forward 24, ReLU, dropout 0), the mean over the sequence, a head.</summary>
[Module]
public sealed partial class FreshGradEncoderNet
{
    private readonly Sequential encoder = new(
        new TransformerEncoderLayer(16, 2, 24, dropout: 0.0, batchFirst: true),
        new TransformerEncoderLayer(16, 2, 24, dropout: 0.0, batchFirst: true));
    private readonly Linear head = new(16, 3);

    public Tensor Forward([Shape("N", 5, 16)] Tensor x) => head.Forward(encoder.Forward(x).Mean(1));

    /// <summary>Mean cross-entropy of the logits; compiled with its backward fused.</summary>
    [Compiled]
    public Tensor Loss([Shape("N", 5, 16)] Tensor x, [Shape("N")] Tensor target) => Losses.CrossEntropy(head.Forward(encoder.Forward(x).Mean(1)), target);
}
