using SharpGrad.Layers;

namespace SharpGrad.Benchmarks;

// The sequence workloads' models as [Module] classes the graph compiler takes whole (Compile().Explanation has no break):
// the same layers, names and sizes as SequenceWorkloads.Transformer()/Lstm() (WORKLOADS.md).

/// <summary>transformer_train_step_b16's model: two post-norm encoder layers (d_model 128, 4 heads, feed-forward 512, ReLU, dropout 0), the mean over the sequence, Linear(128, 10).</summary>
[Module]
public sealed partial class TransformerNet
{
    private readonly Sequential encoder = new(
        new TransformerEncoderLayer(128, 4, 512, dropout: 0.0, batchFirst: true),
        new TransformerEncoderLayer(128, 4, 512, dropout: 0.0, batchFirst: true));
    private readonly Linear head = new(128, 10);

    /// <summary>Logits for a batch of 64-token sequences of 128 features.</summary>
    public Tensor Forward([Shape("N", 64, 128)] Tensor x) => head.Forward(encoder.Forward(x).Mean(1));

    /// <summary>Mean cross-entropy of the logits; compiled with its backward fused (<c>Compiled.LossBackward</c>).</summary>
    [Compiled]
    public Tensor Loss([Shape("N", 64, 128)] Tensor x, [Shape("N")] Tensor target) => Losses.CrossEntropy(head.Forward(encoder.Forward(x).Mean(1)), target);
}

/// <summary>lstm_train_step_b32's model: Embedding(1000, 64), LSTM(64 → 128, batch first) over 35 steps, the last step's output, Linear(128, 10).</summary>
[Module]
public sealed partial class LstmNet
{
    private readonly Embedding embedding = new(1000, 64);
    private readonly LSTM lstm = new(64, 128, batchFirst: true);
    private readonly Linear head = new(128, 10);

    /// <summary>Logits for a batch of 35-token sequences.</summary>
    public Tensor Forward([Shape("N", 35)] Tensor tokens)
    {
        var (output, _) = lstm.Forward(embedding.Forward(tokens));
        return head.Forward(output.Select(1, 34));
    }

    /// <summary>Mean cross-entropy of the logits; compiled with its backward fused (<c>Compiled.LossBackward</c>).</summary>
    [Compiled]
    public Tensor Loss([Shape("N", 35)] Tensor tokens, [Shape("N")] Tensor target)
    {
        var (output, _) = lstm.Forward(embedding.Forward(tokens));
        return Losses.CrossEntropy(head.Forward(output.Select(1, 34)), target);
    }
}
