using SharpGrad;
using SharpGrad.Layers;

namespace SharpGradConsole;

/// <summary>A small MLP classifier. [Module] makes the generator write its plumbing (parameters named fc1.weight, …,
/// train/eval, state dicts) and, from [Shape], a compiled forward and backward: model.Compile().</summary>
[Module]
public sealed partial class Classifier
{
    private readonly Linear fc1 = new(2, 32);
    private readonly Linear fc2 = new(32, 32);
    private readonly Linear fc3 = new(32, 2);

    public Tensor Forward([Shape("N", 2)] Tensor x)
        => fc3.Forward(Functional.Relu(fc2.Forward(Functional.Relu(fc1.Forward(x)))));
}
