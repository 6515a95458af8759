using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// Models whose gradient buffers the generated backward does not clear because their first writer overwrites them in full
// (NodePlan.GradOverwriter: a reduction's spread, an encoder layer's input gradient), and models where a second reader must
// still add to what the first wrote (CompiledOverwrittenGradientTests).

/// <summary>The mean's spread is the only writer of relu's gradient: it overwrites it.</summary>
[Module]
public sealed partial class OverwriteMeanNet
{
    private readonly Linear fc = new(6, 5);
    private readonly Linear head = new(5, 3);

    public Tensor Forward([Shape("N", 7, 6)] Tensor x) => head.Forward(Functional.Relu(fc.Forward(x)).Mean(1));
}

/// <summary>h has two readers: the sum's spread (the later node, so h's gradient's first writer) overwrites it, the mean's adds to it.</summary>
[Module]
public sealed partial class OverwriteTwoReadersNet
{
    private readonly Linear fc = new(6, 5);
    private readonly Linear head = new(5, 3);
    private readonly Linear head2 = new(5, 3);

    public Tensor Forward([Shape("N", 7, 6)] Tensor x)
    {
        var h = fc.Forward(x);
        return head.Forward(h.Mean(1)) + head2.Forward(h.Sum(1));
    }
}

/// <summary>
/// Two encoder layers (fields, not a Sequential): layer0 is the first writer of h's gradient, which the mean of h (an earlier
/// node, so a later writer) adds to; layer1 overwrites layer0's output gradient; the mean of the encoder's output overwrites
/// layer1's. A [Compiled] loss for the fused LossBackward.
/// </summary>
[Module]
public sealed partial class OverwriteEncoderNet
{
    private readonly Linear fc = new(8, 8);
    private readonly TransformerEncoderLayer layer0 = new(8, 2, 16, dropout: 0.0, batchFirst: true);
    private readonly TransformerEncoderLayer layer1 = new(8, 2, 16, dropout: 0.0, batchFirst: true);
    private readonly Linear head = new(8, 3);

    public Tensor Forward([Shape("N", 6, 8)] Tensor x)
    {
        var h = fc.Forward(x);
        var skip = h.Mean(1);
        return head.Forward(layer1.Forward(layer0.Forward(h)).Mean(1) + skip);
    }

    /// <summary>Mean cross-entropy of the logits; compiled with its backward fused.</summary>
    [Compiled]
    public Tensor Loss([Shape("N", 6, 8)] Tensor x, [Shape("N")] Tensor target)
    {
        var h = fc.Forward(x);
        var skip = h.Mean(1);
        return Losses.CrossEntropy(head.Forward(layer1.Forward(layer0.Forward(h)).Mean(1) + skip), target);
    }
}

/// <summary>
/// h read by head2 (an earlier node) and by the ReLU (the later one, so h's gradient's first writer): the ReLU's backward
/// overwrites h's gradient, head2's adds to it. 1100 features: at batch 64, 70 400 elements, so the ReLU's backward runs in
/// parts over the pool at 2 threads.
/// </summary>
[Module]
public sealed partial class OverwriteReluNet
{
    private readonly Linear fc = new(6, 1100);
    private readonly Linear head = new(1100, 3);
    private readonly Linear head2 = new(1100, 3);

    public Tensor Forward([Shape("N", 6)] Tensor x)
    {
        var h = fc.Forward(x);
        var side = head2.Forward(h);
        return head.Forward(Functional.Relu(h)) + side;
    }
}

/// <summary>
/// Linears as the first writers of their input's gradient (CompiledOverwrittenGradientTests): h = ReLU(fc1(x)) is read by fc2
/// (an earlier node, which adds) and by fc3 (the later one, so h's gradient's first writer, which overwrites it); head and head2
/// overwrite their ReLU inputs' gradients. fc2's and fc3's output gradients come through ReLUs (exact zeros: the skipping
/// kernels); at batch 64, 64×300×96 = 1.8 M multiply-adds each, so at 2 threads their input and weight gradients run side by side.
/// A [Compiled] loss for the fused LossBackward.
/// </summary>
[Module]
public sealed partial class OverwriteLinearNet
{
    private readonly Linear fc1 = new(20, 300);
    private readonly Linear fc2 = new(300, 96);
    private readonly Linear fc3 = new(300, 96);
    private readonly Linear head = new(96, 5);
    private readonly Linear head2 = new(96, 5);

    public Tensor Forward([Shape("N", 20)] Tensor x)
    {
        var h = Functional.Relu(fc1.Forward(x));
        var side = head.Forward(Functional.Relu(fc2.Forward(h)));
        return head2.Forward(Functional.Relu(fc3.Forward(h))) + side;
    }

    /// <summary>Mean cross-entropy of the logits; compiled with its backward fused.</summary>
    [Compiled]
    public Tensor Loss([Shape("N", 20)] Tensor x, [Shape("N")] Tensor target)
    {
        var h = Functional.Relu(fc1.Forward(x));
        var side = head.Forward(Functional.Relu(fc2.Forward(h)));
        return Losses.CrossEntropy(head2.Forward(Functional.Relu(fc3.Forward(h))) + side, target);
    }
}
