using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// More real [Module] classes for the differential suite (CompiledLayerTests): normalisation, dropout and
// `if (Training)`, activations, softmax, transposes and broadcasting, embeddings, attention-style batched MatMul,
// average pooling and a [Compiled] loss.

/// <summary>BatchNorm2d after a conv and BatchNorm1d after a Linear (train: batch statistics; eval: running statistics).</summary>
[Module]
public sealed partial class CompiledBatchNormCnn
{
    private readonly Conv2d conv = new(3, 8, 3, padding: 1);
    private readonly BatchNorm2d bn = new(8);
    private readonly ReLU act = new();
    private readonly MaxPool2d pool = new(2);
    private readonly Flatten flat = new();
    private readonly Linear fc = new(8 * 4 * 4, 16);
    private readonly BatchNorm1d bn1 = new(16);
    private readonly Linear head = new(16, 5);

    public Tensor Forward([Shape("N", 3, 8, 8)] Tensor x)
    {
        var h = pool.Forward(act.Forward(bn.Forward(conv.Forward(x))));
        h = Functional.Relu(bn1.Forward(fc.Forward(flat.Forward(h))));
        return head.Forward(h);
    }
}

/// <summary>Dropout and a branch on <c>Training</c>, with GELU and tanh.</summary>
[Module]
public sealed partial class CompiledDropoutMlp
{
    private readonly Linear fc1 = new(20, 32);
    private readonly Dropout drop = new(0.3);
    private readonly Linear fc2 = new(32, 4);

    public Tensor Forward([Shape("N", 20)] Tensor x)
    {
        var h = drop.Forward(Functional.Gelu(fc1.Forward(x)));
        if (Training)
        {
            h = h * 2f;
        }
        else
        {
            h = Functional.Tanh(h);
        }
        return fc2.Forward(h);
    }
}

/// <summary>A Linear on a 3-d input, LayerNorm, sigmoid·leaky-ReLU, a transpose, softmax, broadcasting against a keepDim mean, a sum.</summary>
[Module]
public sealed partial class CompiledLayerNormMixer
{
    private readonly Linear proj = new(8, 16);
    private readonly LayerNorm norm = new(16);
    private readonly Linear head = new(16, 3);

    public Tensor Forward([Shape("N", 4, 8)] Tensor x)
    {
        var h = norm.Forward(proj.Forward(x));
        h = Functional.Sigmoid(h) * Functional.LeakyRelu(h, 0.2);
        var t = h.Transpose(1, 2);
        var s = Functional.Softmax(t, 2);
        var c = s - s.Mean(2, keepDim: true);
        return head.Forward(Functional.Tanh(c.Sum(2)));
    }
}

/// <summary>Token ids through an Embedding, flattened into a Linear.</summary>
[Module]
public sealed partial class CompiledEmbeddingModel
{
    private readonly Embedding emb = new(50, 8);
    private readonly Linear fc = new(6 * 8, 4);

    public Tensor Forward([Shape("N", 6)] Tensor tokens) => fc.Forward(Functional.Silu(emb.Forward(tokens).Flatten(1)));
}

/// <summary>Self-attention-style batched MatMuls: softmax(q·kᵀ)·v.</summary>
[Module]
public sealed partial class CompiledAttention
{
    private readonly Linear q = new(8, 8);
    private readonly Linear k = new(8, 8);
    private readonly Linear v = new(8, 8);
    private readonly Linear head = new(4 * 8, 3);

    public Tensor Forward([Shape("N", 4, 8)] Tensor x)
    {
        var scores = Functional.Softmax(q.Forward(x).MatMul(k.Forward(x).Transpose(1, 2)) * 0.35f, 2);
        return head.Forward(scores.MatMul(v.Forward(x)).Flatten(1));
    }
}

/// <summary>A strided conv, ELU, average pooling and adaptive average pooling.</summary>
[Module]
public sealed partial class CompiledAvgPoolCnn
{
    private readonly Conv2d conv = new(2, 6, 3, stride: 2, padding: 1);
    private readonly ELU elu = new();
    private readonly AvgPool2d pool = new(2);
    private readonly AdaptiveAvgPool2d gap = new(2);
    private readonly Linear fc = new(6 * 2 * 2, 3);

    public Tensor Forward([Shape("N", 2, 17, 17)] Tensor x)
        => fc.Forward(gap.Forward(pool.Forward(elu.Forward(conv.Forward(x)))).Flatten(1));
}

/// <summary>A classifier with a [Compiled] loss: softmax + cross-entropy fused in the generated code.</summary>
[Module]
public sealed partial class CompiledClassifier
{
    private readonly Linear fc1 = new(20, 32);
    private readonly Linear fc2 = new(32, 5);

    public Tensor Forward([Shape("N", 20)] Tensor x) => fc2.Forward(Functional.Relu(fc1.Forward(x)));

    [Compiled]
    public Tensor Loss([Shape("N", 20)] Tensor x, [Shape("N")] Tensor target)
        => Losses.CrossEntropy(fc2.Forward(Functional.Relu(fc1.Forward(x))), target);
}

/// <summary>Max(dim).Values over time, Min(dim, keepDim).Values broadcast back, a sum: the extremes' gradients go to their positions.</summary>
[Module]
public sealed partial class CompiledMaxOverTime
{
    private readonly Linear proj = new(8, 12);
    private readonly Linear head = new(12, 3);

    public Tensor Forward([Shape("N", 5, 8)] Tensor x)
    {
        var h = Functional.Tanh(proj.Forward(x));
        var m = h.Max(1).Values;
        var k = h.Min(2, keepDim: true).Values;
        return head.Forward(m + (h - k).Sum(1) * 0.1f);
    }
}

/// <summary>A [Compiled] loss through one Linear applied twice: the backward's first writer of its gradient overwrites a
/// fresh gradient, the second adds to it.</summary>
[Module]
public sealed partial class CompiledSharedLinearLoss
{
    private readonly Linear fc = new(6, 6);
    private readonly Linear head = new(6, 3);

    public Tensor Forward([Shape("N", 6)] Tensor x) => head.Forward(Functional.Relu(fc.Forward(Functional.Relu(fc.Forward(x)))));

    [Compiled]
    public Tensor Loss([Shape("N", 6)] Tensor x, [Shape("N")] Tensor target)
        => Losses.CrossEntropy(head.Forward(Functional.Relu(fc.Forward(Functional.Relu(fc.Forward(x))))), target);
}
