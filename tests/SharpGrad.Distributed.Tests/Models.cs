using SharpGrad.Layers;

namespace SharpGrad.Distributed.Tests;

/// <summary>A small CNN with a [Compiled] loss: trained eagerly, through its compiled Forward (one tape node) and through
/// its fused LossBackward in the DDP equivalence checks.</summary>
[Module]
public sealed partial class DdpNet
{
    private readonly Conv2d conv = new(1, 4, 3, padding: 1);
    private readonly MaxPool2d pool = new(2);
    private readonly Linear fc1 = new(4 * 4 * 4, 16);
    private readonly Linear fc2 = new(16, 3);

    public Tensor Forward([Shape("N", 1, 8, 8)] Tensor x)
    {
        var h = pool.Forward(Functional.Relu(conv.Forward(x)));
        return fc2.Forward(Functional.Relu(fc1.Forward(h.Flatten(1))));
    }

    [Compiled]
    public Tensor Loss([Shape("N", 1, 8, 8)] Tensor x, [Shape("N")] Tensor target) => Losses.CrossEntropy(Forward(x), target);
}

/// <summary><c>extra</c> is used when <see cref="UseExtra"/> is set (one rank may use it, the other not: a graph break)
/// and <c>never</c> is never used.</summary>
[Module]
public sealed partial class BranchNet
{
    private readonly Linear stem = new(6, 8);
    private readonly Linear extra = new(8, 8);
    private readonly Linear head = new(8, 2);
    private readonly Linear never = new(8, 2);

    public bool UseExtra { get; set; }

    public Tensor Forward(Tensor x)
    {
        var h = Functional.Relu(stem.Forward(x));
        if (UseExtra) h = h + extra.Forward(h);
        return head.Forward(h);
    }
}

/// <summary>BatchNorm's running statistics are buffers: DDP copies rank 0's to the other ranks.</summary>
[Module]
public sealed partial class NormNet
{
    private readonly Linear fc = new(6, 8);
    private readonly BatchNorm1d bn = new(8);
    private readonly Linear head = new(8, 2);

    public Tensor Forward([Shape("N", 6)] Tensor x) => head.Forward(Functional.Relu(bn.Forward(fc.Forward(x))));
}

/// <summary>Its compiled loss uses <c>fc1</c> only, so the fused LossBackward gives <c>fc2</c> no gradient.</summary>
[Module]
public sealed partial class PartialLossNet
{
    private readonly Linear fc1 = new(4, 3);
    private readonly Linear fc2 = new(3, 2);

    public Tensor Forward([Shape("N", 4)] Tensor x) => fc2.Forward(fc1.Forward(x));

    [Compiled]
    public Tensor Loss([Shape("N", 4)] Tensor x, [Shape("N", 3)] Tensor target) => Losses.Mse(fc1.Forward(x), target);
}
