using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// Real [Module] classes that opt into the compiler with [Shape] on Forward; the generator emits a nested Compiled
// class for each (CompiledDifferentialTests compares it with eager Forward).

/// <summary>A small 784-256-128-10-style MLP: Linear → Functional.Relu → Linear → ReLU child → Linear.</summary>
[Module]
public sealed partial class CompiledMlp
{
    private readonly Linear fc1 = new(40, 32);
    private readonly Linear fc2 = new(32, 16);
    private readonly ReLU act = new();
    private readonly Linear fc3 = new(16, 10);

    public Tensor Forward([Shape("N", 40)] Tensor x)
        => fc3.Forward(act.Forward(fc2.Forward(Functional.Relu(fc1.Forward(x)))));
}

/// <summary>An MLP with a residual add, products with a tensor and a constant, subtraction, negation and a bias-free head.</summary>
[Module]
public sealed partial class CompiledResidualMlp
{
    private readonly Linear fc1 = new(12, 24);
    private readonly Linear fc2 = new(24, 24);
    private readonly Linear gate = new(24, 24);
    private readonly Linear head = new(24, 5, bias: false);

    public Tensor Forward([Shape("N", 12)] Tensor x)
    {
        var h = Functional.Relu(fc1.Forward(x));
        h = h + Functional.Relu(fc2.Forward(h)) * 0.5f;
        var g = gate.Forward(h);
        h = h * g - 1f;
        h = 2f - h;
        return head.Forward(-h);
    }
}

/// <summary>Views: a [N, 3, 4] input flattened by a Flatten child, a View with -1 and a Reshape, and a ReLU after the last Linear.</summary>
[Module]
public sealed partial class CompiledViewMlp
{
    private readonly Flatten flatten = new();
    private readonly Linear fc1 = new(12, 8);
    private readonly Linear fc2 = new(8, 6);

    public Tensor Forward([Shape("N", 3, 4)] Tensor x)
    {
        var h = fc1.Forward(flatten.Forward(x));
        h = h.View(-1, 2, 4);
        h = Functional.Relu(h.Reshape(-1, 8));
        return Functional.Relu(fc2.Forward(h)).View(-1, 3, 2);
    }
}

/// <summary>The CNN of DESIGN.md §2 (smaller): Conv2d → ReLU → MaxPool2d → View → Linear → ReLU → Linear.</summary>
[Module]
public sealed partial class CompiledCnn
{
    private readonly Conv2d conv1 = new(3, 6, kernelSize: 3, stride: 1, padding: 1);
    private readonly MaxPool2d pool = new(2);
    private readonly Linear dense1 = new(6 * 4 * 4, 16);
    private readonly Linear dense2 = new(16, 10);

    public Tensor Forward([Shape("N", 3, 8, 8)] Tensor x)
    {
        var h = pool.Forward(Functional.Relu(conv1.Forward(x)));
        h = h.View(-1, 6 * 4 * 4);
        return dense2.Forward(Functional.Relu(dense1.Forward(h)));
    }
}

/// <summary>Stride, padding, groups, no bias, a second conv fed by a pool with stride/padding, and a Flatten child.</summary>
[Module]
public sealed partial class CompiledStridedCnn
{
    private readonly Conv2d conv1 = new(4, 8, kernelSize: 3, stride: 2, padding: 1, groups: 2, bias: false);
    private readonly MaxPool2d pool = new(3, stride: 2, padding: 1);
    private readonly Conv2d conv2 = new(8, 4, kernelSize: 1);
    private readonly Flatten flatten = new();
    private readonly Linear head = new(4 * 3 * 3, 3);

    public Tensor Forward([Shape("N", 4, 11, 11)] Tensor x)
    {
        var h = conv2.Forward(pool.Forward(conv1.Forward(x)));
        return head.Forward(flatten.Forward(Functional.Relu(h) + h * 0.25f));
    }
}
