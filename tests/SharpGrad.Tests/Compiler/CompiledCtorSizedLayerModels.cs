using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// Convolution, normalisation and pooling layers sized from constructor parameters, as a PyTorch user writes __init__
// (CompiledCtorSizedLayerTests): the channel counts are symbols the compiled program binds in Compile().

/// <summary>
/// A ResNet/MobileNet-style block with its channels from the constructor: 3×3 conv + BatchNorm + ReLU, a depthwise 3×3 conv
/// (groups = planes) + GroupNorm, a 1×1 shortcut added back, max pooling, global average pooling and a Linear head.
/// </summary>
[Module]
public sealed partial class CtorSizedConvBlock
{
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly Conv2d conv2;
    private readonly GroupNorm gn;
    private readonly Conv2d shortcut;
    private readonly MaxPool2d pool = new(2);
    private readonly AdaptiveAvgPool2d avg = new(1);
    private readonly Linear fc;

    public CtorSizedConvBlock(int cin, int planes, int classes)
    {
        conv1 = new Conv2d(cin, planes, 3, padding: 1, bias: false);
        bn1 = new BatchNorm2d(planes);
        conv2 = new Conv2d(planes, planes, 3, padding: 1, groups: planes);
        gn = new GroupNorm(2, planes);
        shortcut = new Conv2d(cin, planes, 1, bias: false);
        fc = new Linear(planes, classes);
    }

    public Tensor Forward([Shape("N", "cin", 8, 8)] Tensor x)
    {
        var h = Functional.Relu(bn1.Forward(conv1.Forward(x)));
        h = gn.Forward(conv2.Forward(h)) + shortcut.Forward(x);
        h = pool.Forward(Functional.Relu(h));
        return fc.Forward(avg.Forward(h).Flatten(1));
    }
}

/// <summary>A 1-d encoder–decoder step: Conv1d to 2·width channels, BatchNorm1d, ReLU, MaxPool1d, then ConvTranspose1d back up to width.</summary>
[Module]
public sealed partial class CtorSizedConv1dUp
{
    private readonly Conv1d conv;
    private readonly BatchNorm1d bn;
    private readonly MaxPool1d pool = new(2);
    private readonly ConvTranspose1d up;

    public CtorSizedConv1dUp(int cin, int width)
    {
        conv = new Conv1d(cin, 2 * width, 3, padding: 1);
        bn = new BatchNorm1d(2 * width);
        up = new ConvTranspose1d(2 * width, width, 2, stride: 2);
    }

    public Tensor Forward([Shape("N", "cin", 12)] Tensor x) => up.Forward(pool.Forward(Functional.Relu(bn.Forward(conv.Forward(x)))));
}

/// <summary>A constructor-sized block whose second convolution was built with the wrong input channels for some sizes: Compile() must say so.</summary>
[Module]
public sealed partial class CtorSizedMismatchedConvs
{
    private readonly Conv2d conv1;
    private readonly Conv2d conv2;

    public CtorSizedMismatchedConvs(int planes, int width)
    {
        conv1 = new Conv2d(3, planes, 3, padding: 1);
        conv2 = new Conv2d(width, 4, 3, padding: 1);
    }

    public Tensor Forward([Shape("N", 3, 6, 6)] Tensor x) => conv2.Forward(conv1.Forward(x));
}

/// <summary>
/// An input declared with a size name no constructor parameter has (<c>F</c>, where the constructor says <c>input</c>): the
/// Linear's in_features binds it when the module is built, and each call checks the input against it.
/// </summary>
[Module]
public sealed partial class CtorSizedOtherNameLinear
{
    private readonly Linear fc;

    public CtorSizedOtherNameLinear(int input) { fc = new Linear(input, 4); }

    public Tensor Forward([Shape("N", "F")] Tensor x) => fc.Forward(x).Relu();
}

/// <summary>The same with a sequence: <c>[N, T, F]</c> in front of an LSTM built with <c>input</c> and constructor-sized layers.</summary>
[Module]
public sealed partial class CtorSizedOtherNameLstm
{
    private readonly LSTM lstm;
    private readonly Linear head;

    public CtorSizedOtherNameLstm(int input, int hidden, int layers)
    {
        lstm = new LSTM(input, hidden, numLayers: layers, batchFirst: true);
        head = new Linear(hidden, 3);
    }

    public Tensor Forward([Shape("N", "T", "F")] Tensor x) => head.Forward(lstm.Forward(x).Output);
}
