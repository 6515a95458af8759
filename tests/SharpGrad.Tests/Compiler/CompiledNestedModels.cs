using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// Models built from other modules, compiled as one program (the children are inlined at build time):
// nested [Module] children, a [Sequential] class child, a Sequential field initialiser, and the PyTorch fixture CNN.

/// <summary>A residual block: LayerNorm(fc2(relu(fc1(x))) + x). Not shape-checked on its own; its shapes come from the parent.</summary>
[Module]
public sealed partial class CompiledResidualBlock
{
    private readonly Linear fc1 = new(16, 16);
    private readonly Linear fc2 = new(16, 16);
    private readonly LayerNorm norm = new(16);

    public Tensor Forward(Tensor x) => norm.Forward(fc2.Forward(Functional.Relu(fc1.Forward(x))) + x);
}

/// <summary>A [Sequential] class: its fields run in order.</summary>
[Sequential]
public sealed partial class CompiledHead
{
    private readonly Linear fc = new(16, 8);
    private readonly Tanh act = new();
    private readonly Linear output = new(8, 3);
}

/// <summary>Two nested residual blocks (the same class twice), a [Sequential] head, a stem from a Sequential initialiser, and a [Compiled] loss.</summary>
[Module]
public sealed partial class CompiledNestedNet
{
    private readonly Sequential stem = new(new Linear(10, 16), new ReLU());
    private readonly CompiledResidualBlock block1 = new();
    private readonly CompiledResidualBlock block2 = new();
    private readonly CompiledHead head = new();

    public Tensor Forward(Tensor x) => head.Forward(block2.Forward(block1.Forward(stem.Forward(x))));

    [Compiled]
    public Tensor Loss(Tensor x, Tensor target) => Losses.CrossEntropy(Forward(x), target);
}

/// <summary>The CNN of the PyTorch fixtures (same parameter names), with its input shape declared so it compiles.</summary>
[Module]
public sealed partial class CompiledFixtureCnn
{
    private readonly Sequential conv = new Sequential()
        .Add("conv1", new Conv2d(3, 32, 3, 1, 1))
        .Add("relu1", new ReLU())
        .Add("pool1", new MaxPool2d(2));

    private readonly Sequential dense = new(
        ("dense1", new Linear(512, 64)),
        ("relu2", new ReLU()),
        ("dense2", new Linear(64, 10)));

    public Tensor Forward([Shape("N", 3, 8, 8)] Tensor x)
    {
        var h = conv.Forward(x);
        return dense.Forward(h.View(h.Size(0), -1));
    }

    [Compiled]
    public Tensor Loss([Shape("N", 3, 8, 8)] Tensor x, [Shape("N")] Tensor target) => Losses.CrossEntropy(Forward(x), target);
}

/// <summary>A foreach over a readonly array of children, unrolled at build time (PyTorch: a loop over a ModuleList).</summary>
[Module]
public sealed partial class CompiledTower
{
    private readonly Linear stem = new(6, 16);
    private readonly Linear[] layers = [new(16, 16), new(16, 16), new(16, 16)];
    private readonly Linear head = new(16, 2);

    public Tensor Forward([Shape("N", 6)] Tensor x)
    {
        var h = Functional.Relu(stem.Forward(x));
        foreach (var layer in layers)
        {
            h = Functional.Tanh(layer.Forward(h)) + h;
        }
        return head.Forward(h);
    }
}

/// <summary>The same tower with a ModuleList of children.</summary>
[Module]
public sealed partial class CompiledListTower
{
    private readonly Linear stem = new(6, 16);
    private readonly ModuleList<Linear> layers = new(new Linear(16, 16), new Linear(16, 16));
    private readonly Linear head = new(16, 2);

    public Tensor Forward([Shape("N", 6)] Tensor x)
    {
        var h = Functional.Relu(stem.Forward(x));
        foreach (var layer in layers) h = Functional.Tanh(layer.Forward(h)) + h;
        return head.Forward(h);
    }
}
