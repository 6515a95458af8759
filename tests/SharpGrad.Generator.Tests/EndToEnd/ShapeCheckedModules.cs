using SharpGrad.Layers;

namespace SharpGrad.Generator.Tests.EndToEnd;

// Real shape-checked [Module] classes: the generator infers their output shapes at build time (ShapeInfo), and
// ShapeInferenceAgreesWithRuntimeTests runs them eagerly to check that the runtime produces exactly those shapes.

/// <summary>The CNN of DESIGN.md §2.</summary>
[Module]
public sealed partial class DesignCnn
{
    private readonly Conv2d conv1 = new(3, 32, kernelSize: 3, stride: 1, padding: 1);
    private readonly MaxPool2d pool = new(2);
    private readonly Linear dense1 = new(32 * 4 * 4, 64);
    private readonly Linear dense2 = new(64, 10);

    public Tensor Forward([Shape("N", 3, 8, 8)] Tensor x)
    {
        var h = pool.Forward(Functional.Relu(conv1.Forward(x)));
        h = h.View(-1, 32 * 4 * 4);
        return dense2.Forward(Functional.Relu(dense1.Forward(h)));
    }
}

/// <summary>Stride, padding, ceil-mode max pooling, average pooling, a Flatten child, Transpose and a keepDim reduction.</summary>
[Module]
public sealed partial class StridedCnn
{
    private readonly Conv2d conv = new(3, 8, kernelSize: 5, stride: 2, padding: 1);
    private readonly MaxPool2d maxPool = new(3, stride: 2, padding: 1, ceilMode: true);
    private readonly AvgPool2d avgPool = new(2);
    private readonly Flatten flatten = new();
    private readonly Linear head = new(32, 4);

    public Tensor Forward([Shape("N", 3, 17, 17)] Tensor x)
    {
        var h = avgPool.Forward(maxPool.Forward(conv.Forward(x)));
        var logits = head.Forward(flatten.Forward(h));
        return logits.Transpose(0, 1).Sum(1, keepDim: true) + logits.Mean();
    }
}

/// <summary>Attention-like: batched MatMul with a transposed operand, Softmax, broadcasting, Unsqueeze and a reduction over dims.</summary>
[Module]
public sealed partial class AttentionLike
{
    private readonly Linear query = new(16, 8);
    private readonly Linear key = new(16, 8);

    public Tensor Forward([Shape("N", 5, 16)] Tensor x, [Shape(5)] Tensor bias)
    {
        var q = query.Forward(x);
        var scores = q.MatMul(key.Forward(x).Transpose(1, 2)) / 4f;
        var weights = Functional.Softmax(scores + bias.Unsqueeze(0), -1);
        return weights.MatMul(q).Permute(0, 2, 1).Reshape(-1, 40);
    }
}
