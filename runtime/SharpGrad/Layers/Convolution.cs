namespace SharpGrad.Layers;

/// <summary>
/// 1-d convolution over [N, C_in, L] input (PyTorch: <c>torch.nn.Conv1d</c>). Weight [C_out, C_in / groups, k], bias [C_out];
/// initialised like PyTorch (kaiming_uniform(a = √5), bias U(±1/√fan_in)).
/// </summary>
[Module]
public sealed partial class Conv1d : Module
{
    /// <summary>Creates the layer (PyTorch: <c>nn.Conv1d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)</c>).</summary>
    public Conv1d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1, int groups = 1,
        bool bias = true, Rng? rng = null, DType dtype = DType.Float32)
    {
        ConvChecks.Channels("Conv1d", inChannels, outChannels, groups);
        if (kernelSize <= 0) throw new ArgumentException($"Conv1d: kernel_size must be positive, but got {kernelSize}.");
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        Dilation = dilation;
        Groups = groups;
        Weight = new Parameter(Tensor.Empty([outChannels, inChannels / groups, kernelSize], dtype));
        Bias = bias ? new Parameter(Tensor.Empty([outChannels], dtype)) : null;
        ResetParameters(rng);
    }

    /// <summary>Input channels (PyTorch: <c>in_channels</c>).</summary>
    public int InChannels { get; }
    /// <summary>Output channels (PyTorch: <c>out_channels</c>).</summary>
    public int OutChannels { get; }
    /// <summary>Kernel length (PyTorch: <c>kernel_size</c>).</summary>
    public int KernelSize { get; }
    /// <summary>Stride (PyTorch: <c>stride</c>).</summary>
    public int Stride { get; }
    /// <summary>Zero padding on both sides (PyTorch: <c>padding</c>).</summary>
    public int Padding { get; }
    /// <summary>Spacing between kernel taps (PyTorch: <c>dilation</c>).</summary>
    public int Dilation { get; }
    /// <summary>Blocked connections from input to output channels (PyTorch: <c>groups</c>).</summary>
    public int Groups { get; }

    /// <summary>The kernel [C_out, C_in / groups, k] (PyTorch: <c>weight</c>).</summary>
    public Parameter Weight { get; }

    /// <summary>The bias [C_out], or null (PyTorch: <c>bias</c>).</summary>
    public Parameter? Bias { get; }

    /// <summary>Re-initialises the parameters like PyTorch's <c>reset_parameters()</c>.</summary>
    public void ResetParameters(Rng? rng = null) => LayerInit.KaimingDefault(Weight, Bias, rng);

    /// <summary>Convolves [N, C_in, L] input (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Conv1d(input, Weight, Bias, Stride, Padding, Dilation, Groups);

    /// <inheritdoc/>
    protected override string ExtraRepr() => ConvChecks.Repr(InChannels, OutChannels, [KernelSize], [Stride], [Padding], [Dilation], [0], Groups, Bias is not null);
}

/// <summary>
/// 2-d convolution over [N, C_in, H, W] input (PyTorch: <c>torch.nn.Conv2d</c>). Weight [C_out, C_in / groups, kH, kW], bias [C_out];
/// initialised like PyTorch (kaiming_uniform(a = √5), bias U(±1/√fan_in)).
/// </summary>
[Module]
public sealed partial class Conv2d : Module
{
    /// <summary>Creates the layer with square kernel, stride, padding and dilation (PyTorch: <c>nn.Conv2d</c>).</summary>
    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1, int groups = 1,
        bool bias = true, Rng? rng = null, DType dtype = DType.Float32)
        : this(inChannels, outChannels, (kernelSize, kernelSize), (stride, stride), (padding, padding), (dilation, dilation), groups, bias, rng, dtype)
    {
    }

    /// <summary>Creates the layer with (height, width) kernel, stride, padding and dilation (PyTorch: <c>nn.Conv2d</c> with tuples).</summary>
    public Conv2d(int inChannels, int outChannels, (int H, int W) kernelSize, (int H, int W)? stride = null, (int H, int W)? padding = null,
        (int H, int W)? dilation = null, int groups = 1, bool bias = true, Rng? rng = null, DType dtype = DType.Float32)
    {
        ConvChecks.Channels("Conv2d", inChannels, outChannels, groups);
        if (kernelSize.H <= 0 || kernelSize.W <= 0) throw new ArgumentException($"Conv2d: kernel_size must be positive, but got ({kernelSize.H}, {kernelSize.W}).");
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride ?? (1, 1);
        Padding = padding ?? (0, 0);
        Dilation = dilation ?? (1, 1);
        Groups = groups;
        Weight = new Parameter(Tensor.Empty([outChannels, inChannels / groups, kernelSize.H, kernelSize.W], dtype));
        Bias = bias ? new Parameter(Tensor.Empty([outChannels], dtype)) : null;
        ResetParameters(rng);
    }

    /// <summary>Input channels (PyTorch: <c>in_channels</c>).</summary>
    public int InChannels { get; }
    /// <summary>Output channels (PyTorch: <c>out_channels</c>).</summary>
    public int OutChannels { get; }
    /// <summary>Kernel (height, width) (PyTorch: <c>kernel_size</c>).</summary>
    public (int H, int W) KernelSize { get; }
    /// <summary>Stride (PyTorch: <c>stride</c>).</summary>
    public (int H, int W) Stride { get; }
    /// <summary>Zero padding (PyTorch: <c>padding</c>).</summary>
    public (int H, int W) Padding { get; }
    /// <summary>Spacing between kernel taps (PyTorch: <c>dilation</c>).</summary>
    public (int H, int W) Dilation { get; }
    /// <summary>Blocked connections from input to output channels (PyTorch: <c>groups</c>).</summary>
    public int Groups { get; }

    /// <summary>The kernel [C_out, C_in / groups, kH, kW] (PyTorch: <c>weight</c>).</summary>
    public Parameter Weight { get; }

    /// <summary>The bias [C_out], or null (PyTorch: <c>bias</c>).</summary>
    public Parameter? Bias { get; }

    /// <summary>Re-initialises the parameters like PyTorch's <c>reset_parameters()</c>.</summary>
    public void ResetParameters(Rng? rng = null) => LayerInit.KaimingDefault(Weight, Bias, rng);

    /// <summary>Convolves [N, C_in, H, W] input (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Conv2d(input, Weight, Bias, Stride, Padding, Dilation, Groups);

    /// <inheritdoc/>
    protected override string ExtraRepr() => ConvChecks.Repr(InChannels, OutChannels, [KernelSize.H, KernelSize.W], [Stride.H, Stride.W],
        [Padding.H, Padding.W], [Dilation.H, Dilation.W], [0, 0], Groups, Bias is not null);
}

/// <summary>
/// 2-d transposed convolution (PyTorch: <c>torch.nn.ConvTranspose2d</c>). Weight [C_in, C_out / groups, kH, kW], bias [C_out];
/// initialised like PyTorch (kaiming_uniform(a = √5) with fan_in computed from the weight, i.e. C_out/groups·kH·kW).
/// </summary>
[Module]
public sealed partial class ConvTranspose2d : Module
{
    /// <summary>Creates the layer with square settings (PyTorch: <c>nn.ConvTranspose2d</c>).</summary>
    public ConvTranspose2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int outputPadding = 0, int groups = 1,
        bool bias = true, int dilation = 1, Rng? rng = null, DType dtype = DType.Float32)
        : this(inChannels, outChannels, (kernelSize, kernelSize), (stride, stride), (padding, padding), (outputPadding, outputPadding), groups, bias, (dilation, dilation), rng, dtype)
    {
    }

    /// <summary>Creates the layer with (height, width) settings (PyTorch: <c>nn.ConvTranspose2d</c> with tuples).</summary>
    public ConvTranspose2d(int inChannels, int outChannels, (int H, int W) kernelSize, (int H, int W)? stride = null, (int H, int W)? padding = null,
        (int H, int W)? outputPadding = null, int groups = 1, bool bias = true, (int H, int W)? dilation = null, Rng? rng = null, DType dtype = DType.Float32)
    {
        ConvChecks.Channels("ConvTranspose2d", inChannels, outChannels, groups);
        if (kernelSize.H <= 0 || kernelSize.W <= 0) throw new ArgumentException($"ConvTranspose2d: kernel_size must be positive, but got ({kernelSize.H}, {kernelSize.W}).");
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride ?? (1, 1);
        Padding = padding ?? (0, 0);
        OutputPadding = outputPadding ?? (0, 0);
        Dilation = dilation ?? (1, 1);
        Groups = groups;
        Weight = new Parameter(Tensor.Empty([inChannels, outChannels / groups, kernelSize.H, kernelSize.W], dtype));
        Bias = bias ? new Parameter(Tensor.Empty([outChannels], dtype)) : null;
        ResetParameters(rng);
    }

    /// <summary>Input channels (PyTorch: <c>in_channels</c>).</summary>
    public int InChannels { get; }
    /// <summary>Output channels (PyTorch: <c>out_channels</c>).</summary>
    public int OutChannels { get; }
    /// <summary>Kernel (height, width) (PyTorch: <c>kernel_size</c>).</summary>
    public (int H, int W) KernelSize { get; }
    /// <summary>Stride (PyTorch: <c>stride</c>).</summary>
    public (int H, int W) Stride { get; }
    /// <summary>Implicit padding removed from the output (PyTorch: <c>padding</c>).</summary>
    public (int H, int W) Padding { get; }
    /// <summary>Extra size added to one side of the output (PyTorch: <c>output_padding</c>).</summary>
    public (int H, int W) OutputPadding { get; }
    /// <summary>Spacing between kernel taps (PyTorch: <c>dilation</c>).</summary>
    public (int H, int W) Dilation { get; }
    /// <summary>Blocked connections (PyTorch: <c>groups</c>).</summary>
    public int Groups { get; }

    /// <summary>The kernel [C_in, C_out / groups, kH, kW] (PyTorch: <c>weight</c>).</summary>
    public Parameter Weight { get; }

    /// <summary>The bias [C_out], or null (PyTorch: <c>bias</c>).</summary>
    public Parameter? Bias { get; }

    /// <summary>Re-initialises the parameters like PyTorch's <c>reset_parameters()</c>.</summary>
    public void ResetParameters(Rng? rng = null) => LayerInit.KaimingDefault(Weight, Bias, rng);

    /// <summary>Applies the transposed convolution to [N, C_in, H, W] input (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.ConvTranspose2d(input, Weight, Bias, Stride, Padding, OutputPadding, Groups, Dilation);

    /// <inheritdoc/>
    protected override string ExtraRepr() => ConvChecks.Repr(InChannels, OutChannels, [KernelSize.H, KernelSize.W], [Stride.H, Stride.W],
        [Padding.H, Padding.W], [Dilation.H, Dilation.W], [OutputPadding.H, OutputPadding.W], Groups, Bias is not null);
}

internal static class ConvChecks
{
    public static void Channels(string op, int inChannels, int outChannels, int groups)
    {
        if (groups <= 0) throw new ArgumentException($"{op}: groups must be a positive integer, but got {groups}.");
        if (inChannels <= 0 || outChannels <= 0) throw new ArgumentException($"{op}: in_channels ({inChannels}) and out_channels ({outChannels}) must be positive.");
        if (inChannels % groups != 0) throw new ArgumentException($"{op}: in_channels ({inChannels}) must be divisible by groups ({groups}).");
        if (outChannels % groups != 0) throw new ArgumentException($"{op}: out_channels ({outChannels}) must be divisible by groups ({groups}).");
    }

    /// <summary>PyTorch's <c>_ConvNd.extra_repr</c>.</summary>
    public static string Repr(int inC, int outC, int[] k, int[] s, int[] p, int[] d, int[] op, int groups, bool bias)
    {
        var sb = new System.Text.StringBuilder($"{inC}, {outC}, kernel_size={Py.Tuple(k)}, stride={Py.Tuple(s)}");
        if (p.Any(v => v != 0)) sb.Append($", padding={Py.Tuple(p)}");
        if (d.Any(v => v != 1)) sb.Append($", dilation={Py.Tuple(d)}");
        if (op.Any(v => v != 0)) sb.Append($", output_padding={Py.Tuple(op)}");
        if (groups != 1) sb.Append($", groups={groups}");
        if (!bias) sb.Append(", bias=False");
        return sb.ToString();
    }
}
