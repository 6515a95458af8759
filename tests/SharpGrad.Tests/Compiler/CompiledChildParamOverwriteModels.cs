using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// Models whose parameters live in inlined children (a user [Module] child, a Sequential): their gradients' first writers
// overwrite a fresh gradient as the parent's own do (EmitContext.FirstWriter; session 26, before which any boundary node in
// the method made every parameter's gradient cleared and added to). CompiledChildParamOverwriteTests.

/// <summary>A child block: Linear, ReLU, a residual.</summary>
[Module]
public sealed partial class OverwriteChildBlock
{
    private readonly Linear fc = new(12, 12);

    public Tensor Forward([Shape("N", 12)] Tensor x) => Functional.Relu(fc.Forward(x)) + x;
}

/// <summary>
/// A stem Linear, a Sequential of Linear–ReLU–Linear, and a [Module] child called twice (its fc's first writer is the second
/// call's backward, which overwrites; the first call's adds), then a head.
/// </summary>
[Module]
public sealed partial class OverwriteChildNet
{
    private readonly Linear stem = new(9, 12);
    private readonly Sequential body = new(new Linear(12, 20), new ReLU(), new Linear(20, 12));
    private readonly OverwriteChildBlock block = new();
    private readonly Linear head = new(12, 4);

    public Tensor Forward([Shape("N", 9)] Tensor x) => head.Forward(block.Forward(block.Forward(body.Forward(stem.Forward(x)))));

    /// <summary>Mean cross-entropy of the logits; compiled with its backward fused.</summary>
    [Compiled]
    public Tensor Loss([Shape("N", 9)] Tensor x, [Shape("N")] Tensor target)
        => Losses.CrossEntropy(head.Forward(block.Forward(block.Forward(body.Forward(stem.Forward(x))))), target);
}

/// <summary>
/// An LSTM as the first writer of its input's gradient (RecurrentRule.OverwritesInputGrad): fc's output feeds the LSTM (the
/// later node, so its backward writes h's gradient first) and a mean that adds to it after; the LSTM's last step into a head.
/// </summary>
[Module]
public sealed partial class OverwriteLstmNet
{
    private readonly Linear fc = new(6, 5);
    private readonly LSTM lstm = new(5, 16, batchFirst: true);
    private readonly Linear head = new(16, 3);
    private readonly Linear side = new(5, 3);

    public Tensor Forward([Shape("N", 7, 6)] Tensor x)
    {
        var h = fc.Forward(x);
        var skip = side.Forward(h.Mean(1));
        var (y, _) = lstm.Forward(h);
        return head.Forward(y.Select(1, 6)) + skip;
    }

    /// <summary>Mean cross-entropy of the logits; compiled with its backward fused.</summary>
    [Compiled]
    public Tensor Loss([Shape("N", 7, 6)] Tensor x, [Shape("N")] Tensor target)
    {
        var h = fc.Forward(x);
        var skip = side.Forward(h.Mean(1));
        var (y, _) = lstm.Forward(h);
        return Losses.CrossEntropy(head.Forward(y.Select(1, 6)) + skip, target);
    }
}

/// <summary>
/// A two-layer bidirectional LSTM (the input's gradient from both directions of layer 0, the second added) as the only reader
/// of fc's output, so the one writer of its gradient; the whole output's mean into a head.
/// </summary>
[Module]
public sealed partial class OverwriteBiLstmNet
{
    private readonly Linear fc = new(6, 5);
    private readonly LSTM lstm = new(5, 16, numLayers: 2, bidirectional: true, batchFirst: true);
    private readonly Linear head = new(32, 3);

    public Tensor Forward([Shape("N", 7, 6)] Tensor x) => head.Forward(lstm.Forward(fc.Forward(x)).Output.Mean(1));
}
