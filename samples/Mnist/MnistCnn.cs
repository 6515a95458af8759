using SharpGrad.Layers;

namespace SharpGrad.Samples.Mnist;

/// <summary>A small CNN for 1x28x28 digits: conv(1→16)-relu-pool, conv(16→32)-relu-pool, linear(32·7·7→10)
/// (the CNN of the standard workloads).</summary>
[Module]
public sealed partial class MnistCnn : Module
{
    private readonly Conv2d conv1 = new(1, 16, 3, padding: 1);
    private readonly Conv2d conv2 = new(16, 32, 3, padding: 1);
    private readonly MaxPool2d pool = new(2);
    private readonly Linear fc = new(32 * 7 * 7, 10);

    public Tensor Forward(Tensor x)
    {
        var h = pool.Forward(Functional.Relu(conv1.Forward(x)));
        h = pool.Forward(Functional.Relu(conv2.Forward(h)));
        return fc.Forward(h.Flatten(1));
    }
}
