using SharpGrad.Layers;

namespace SharpGrad.Samples.Mnist;

/// <summary>A small CNN for 1x28x28 digits: conv(1→16)-relu-pool, conv(16→32)-relu-pool, linear(32·7·7→10)
/// (the CNN of the standard workloads).</summary>
/// <remarks>
/// <c>[Shape("N", 1, 28, 28)]</c> declares the input (the generator could infer only <c>[N, 1, ?, ?]</c> from <c>conv1</c>),
/// so <c>Forward</c> is shape-checked at build time down to the Linear, and — every op being one the code generator covers
/// (Conv2d, ReLU, MaxPool2d children, Flatten keeping the batch dim, Linear) — the generator also emits
/// <c>MnistCnn.Compiled</c> (<c>model.Compile()</c>; see docs/compiler-walkthrough.md). One pooling child per use. The pools
/// have no parameters, so the state-dict names are conv1.weight, conv1.bias, conv2.weight, conv2.bias, fc.weight, fc.bias.
/// </remarks>
[Module]
public sealed partial class MnistCnn : Module
{
    private readonly Conv2d conv1 = new(1, 16, 3, padding: 1);
    private readonly MaxPool2d pool1 = new(2);
    private readonly Conv2d conv2 = new(16, 32, 3, padding: 1);
    private readonly MaxPool2d pool2 = new(2);
    private readonly Dropout drop = new(0.25); // regularises the classifier: 8,000 training images overfit without it
    private readonly Linear fc = new(32 * 7 * 7, 10);

    public Tensor Forward([Shape("N", 1, 28, 28)] Tensor x)
    {
        var h = pool1.Forward(Functional.Relu(conv1.Forward(x)));
        h = pool2.Forward(Functional.Relu(conv2.Forward(h)));
        return fc.Forward(drop.Forward(h.Flatten(1)));
    }
}
