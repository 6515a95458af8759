using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// Models with transposed convolutions for the compiled ConvTranspose rule (CompiledConvTransposeTests).

/// <summary>A strided, padded ConvTranspose2d with output padding, ReLU, then a convolution.</summary>
[Module]
public sealed partial class CompiledConvTranspose2dNet
{
    private readonly ConvTranspose2d up = new(4, 3, 3, stride: 2, padding: 1, outputPadding: 1);
    private readonly Conv2d conv = new(3, 2, 3, padding: 1);

    public Tensor Forward([Shape("N", 4, 5, 6)] Tensor x) => conv.Forward(Functional.Relu(up.Forward(x)));
}

/// <summary>A grouped ConvTranspose2d with a rectangular kernel and stride, no bias.</summary>
[Module]
public sealed partial class CompiledGroupedConvTranspose2d
{
    private readonly ConvTranspose2d up = new(4, 6, (2, 3), stride: (2, 1), groups: 2, bias: false);

    public Tensor Forward([Shape("N", 4, 3, 5)] Tensor x) => up.Forward(x);
}

/// <summary>A dilated ConvTranspose1d.</summary>
[Module]
public sealed partial class CompiledConvTranspose1dNet
{
    private readonly ConvTranspose1d up = new(3, 4, 3, stride: 2, dilation: 2);

    public Tensor Forward([Shape("N", 3, 7)] Tensor x) => up.Forward(x);
}

/// <summary>The zoo's two-level U-Net at constant sizes (ConvTranspose2d up, Cat skips): compiled whole.</summary>
[Module]
public sealed partial class CompiledTinyUNet
{
    private readonly Sequential enc1 = new(new Conv2d(1, 4, 3, padding: 1, bias: false), new BatchNorm2d(4), new ReLU());
    private readonly Sequential enc2 = new(new Conv2d(4, 8, 3, padding: 1, bias: false), new BatchNorm2d(8), new ReLU());
    private readonly MaxPool2d pool = new(2);
    private readonly Sequential bottleneck = new(new Conv2d(8, 16, 3, padding: 1, bias: false), new BatchNorm2d(16), new ReLU());
    private readonly ConvTranspose2d up2 = new(16, 8, 2, stride: 2);
    private readonly Sequential dec2 = new(new Conv2d(16, 8, 3, padding: 1, bias: false), new BatchNorm2d(8), new ReLU());
    private readonly ConvTranspose2d up1 = new(8, 4, 2, stride: 2);
    private readonly Sequential dec1 = new(new Conv2d(8, 4, 3, padding: 1, bias: false), new BatchNorm2d(4), new ReLU());
    private readonly Conv2d head = new(4, 3, 1);

    public Tensor Forward([Shape("N", 1, 8, 8)] Tensor x)
    {
        var e1 = enc1.Forward(x);
        var e2 = enc2.Forward(pool.Forward(e1));
        var b = bottleneck.Forward(pool.Forward(e2));
        var d2 = dec2.Forward(Tensor.Cat([up2.Forward(b), e2], 1));
        var d1 = dec1.Forward(Tensor.Cat([up1.Forward(d2), e1], 1));
        return head.Forward(d1);
    }
}
