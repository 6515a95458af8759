using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// The compiled catalogue rows that CompiledPointwiseCatalogue does not call, in three more [Module]s; CatalogueTests
// (Ops/CatalogueTests.Rows.cs) compiles each with no graph break, compares it with its eager Forward, and checks that
// every compiled row is listed in some model's Ops.

/// <summary>Binary ops, views and permutations, reductions, MatMul, MaskedFill and the softmaxes on a Linear's output.</summary>
[Module]
public sealed partial class CompiledTensorCatalogue
{
    /// <summary>The catalogue rows this model's Forward calls (by <c>OpRow.Name</c>).</summary>
    public static readonly string[] Ops =
    [
        "Linear", "Identity", "Add", "Sub", "Mul", "Div", "Maximum", "Minimum", "View", "Reshape", "Transpose", "Contiguous", "Permute",
        "MatMul", "MaskedFill", "Softmax", "LogSoftmax", "Unsqueeze", "Squeeze", "Sum", "Mean", "MaxDim", "MinDim", "Flatten",
    ];

    private readonly Linear fc = new(6, 8);
    private readonly Identity id = new();

    public Tensor Forward([Shape("N", 6)] Tensor x, [Shape(2, 4)] Tensor mask)
    {
        var h = id.Forward(fc.Forward(x));
        var b = Functional.Tanh(h);
        var e = h + b - (h * b / (b * b + 1f)) + h.Maximum(b * 0.5f) + h.Minimum(b * 0.5f);
        var r = e.View(-1, 2, 4);
        var q = e.Reshape(-1, 4, 2).Transpose(1, 2).Contiguous();
        var m = q.MatMul(r.Permute(0, 2, 1));
        var s = Functional.Softmax(r.MaskedFill(mask, -1.0), 2) + Functional.LogSoftmax(q, -1);
        var u = s.Unsqueeze(1).Squeeze(1);
        var reduced = u.Sum(2) + u.Mean(2) + u.Max(2).Values + u.Min(2).Values + m.Sum(2);
        return reduced + m.Flatten(1).Mean(1, keepDim: true);
    }
}

/// <summary>Conv2d, max, average and adaptive average pooling, Conv1d over the flattened plane and LayerNorm.</summary>
[Module]
public sealed partial class CompiledWindowCatalogue
{
    /// <summary>The catalogue rows this model's Forward calls (by <c>OpRow.Name</c>).</summary>
    public static readonly string[] Ops = ["Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Conv1d", "LayerNorm"];

    private readonly Conv2d conv = new(2, 4, 3, padding: 1);
    private readonly MaxPool2d maxPool = new(2);
    private readonly AvgPool2d avgPool = new(2);
    private readonly AdaptiveAvgPool2d gap = new(1);
    private readonly Conv1d conv1 = new(2, 3, 3, stride: 2);
    private readonly LayerNorm norm = new(17);
    private readonly Linear fcPooled = new(4 * 3 * 3, 3);
    private readonly Linear fcGlobal = new(4, 3);
    private readonly Linear fcLine = new(3 * 17, 3);

    public Tensor Forward([Shape("N", 2, 6, 6)] Tensor x)
    {
        var c = Functional.Tanh(conv.Forward(x));
        var pooled = maxPool.Forward(c) + avgPool.Forward(c);
        var line = norm.Forward(conv1.Forward(x.Flatten(2)));
        return fcPooled.Forward(pooled.Flatten(1)) + fcGlobal.Forward(gap.Forward(c).Flatten(1)) + fcLine.Forward(line.Flatten(1));
    }
}

/// <summary>The compiled elementwise and class-index losses besides CrossEntropy, each a [Compiled] method.</summary>
[Module]
public sealed partial class CompiledLossCatalogue
{
    /// <summary>The catalogue rows this model's [Compiled] methods call (by <c>OpRow.Name</c>).</summary>
    public static readonly string[] Ops = ["Nll", "Mse", "L1", "BinaryCrossEntropyWithLogits"];

    private readonly Linear fc = new(6, 4);

    public Tensor Forward([Shape("N", 6)] Tensor x) => fc.Forward(x);

    [Compiled]
    public Tensor NllLoss([Shape("N", 6)] Tensor x, [Shape("N")] Tensor target) => Losses.Nll(Functional.LogSoftmax(fc.Forward(x), 1), target);

    [Compiled]
    public Tensor MseLoss([Shape("N", 6)] Tensor x, [Shape("N", 4)] Tensor expected) => Losses.Mse(fc.Forward(x), expected);

    [Compiled]
    public Tensor L1Loss([Shape("N", 6)] Tensor x, [Shape("N", 4)] Tensor expected) => Losses.L1(fc.Forward(x), expected);

    [Compiled]
    public Tensor BceLoss([Shape("N", 6)] Tensor x, [Shape("N", 4)] Tensor expected) => Losses.BinaryCrossEntropyWithLogits(fc.Forward(x), expected);
}
