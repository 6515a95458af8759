using SharpGrad.Layers;

namespace SharpGrad.Benchmarks;

// The workloads' models as [Module] classes that opt into the graph compiler ([Shape] on Forward): the generator
// emits a nested Compiled class whose Forward is straight-line code over SharpGrad.Kernels entering the tape as one
// node (docs/compiler.md). Same layers, names and initialisation as Workloads.Mlp()/Cnn().

/// <summary>MLP 784-256-128-10 (Linear, ReLU, Linear, ReLU, Linear), the peers' fc1/fc2/fc3.</summary>
[Module]
public sealed partial class MlpNet
{
    private readonly Linear fc1 = new(784, 256);
    private readonly Linear fc2 = new(256, 128);
    private readonly Linear fc3 = new(128, 10);

    /// <summary>Logits for a batch of flattened 28×28 images.</summary>
    public Tensor Forward([Shape("N", 784)] Tensor x)
        => fc3.Forward(Functional.Relu(fc2.Forward(Functional.Relu(fc1.Forward(x)))));
}

/// <summary>Conv2d(1,16,3,pad 1), ReLU, MaxPool2d(2), Conv2d(16,32,3,pad 1), ReLU, MaxPool2d(2), Flatten, Linear(1568,10).</summary>
[Module]
public sealed partial class CnnNet
{
    private readonly Conv2d conv1 = new(1, 16, kernelSize: 3, padding: 1);
    private readonly MaxPool2d pool1 = new(2);
    private readonly Conv2d conv2 = new(16, 32, kernelSize: 3, padding: 1);
    private readonly MaxPool2d pool2 = new(2);
    private readonly Flatten flatten = new();
    private readonly Linear fc = new(32 * 7 * 7, 10);

    /// <summary>Logits for a batch of 1×28×28 images.</summary>
    public Tensor Forward([Shape("N", 1, 28, 28)] Tensor x)
    {
        var h = pool1.Forward(Functional.Relu(conv1.Forward(x)));
        h = pool2.Forward(Functional.Relu(conv2.Forward(h)));
        return fc.Forward(flatten.Forward(h));
    }
}
