namespace SharpGrad.Layers;

/// <summary>2-d max pooling (PyTorch: <c>torch.nn.MaxPool2d</c>); the stride defaults to the kernel size.</summary>
[Module]
public sealed partial class MaxPool2d : Module
{
    private readonly string _repr;

    /// <summary>Creates the layer with square settings (PyTorch: <c>nn.MaxPool2d(kernel_size, stride, padding, dilation, ceil_mode)</c>).</summary>
    public MaxPool2d(int kernelSize, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false)
        : this((kernelSize, kernelSize), stride is null ? null : (stride.Value, stride.Value), (padding, padding), (dilation, dilation), ceilMode)
    {
        _repr = $"kernel_size={kernelSize}, stride={stride ?? kernelSize}, padding={padding}, dilation={dilation}, ceil_mode={Py.Bool(ceilMode)}";
    }

    /// <summary>Creates the layer with (height, width) settings.</summary>
    public MaxPool2d((int H, int W) kernelSize, (int H, int W)? stride = null, (int H, int W)? padding = null, (int H, int W)? dilation = null, bool ceilMode = false)
    {
        KernelSize = kernelSize;
        Stride = stride ?? kernelSize;
        Padding = padding ?? (0, 0);
        Dilation = dilation ?? (1, 1);
        CeilMode = ceilMode;
        _repr = $"kernel_size={Py.Tuple(KernelSize.H, KernelSize.W)}, stride={Py.Tuple(Stride.H, Stride.W)}, padding={Py.Tuple(Padding.H, Padding.W)}, " +
                $"dilation={Py.Tuple(Dilation.H, Dilation.W)}, ceil_mode={Py.Bool(ceilMode)}";
    }

    /// <summary>Window size (PyTorch: <c>kernel_size</c>).</summary>
    public (int H, int W) KernelSize { get; }
    /// <summary>Window stride (PyTorch: <c>stride</c>).</summary>
    public (int H, int W) Stride { get; }
    /// <summary>Implicit −∞ padding (PyTorch: <c>padding</c>).</summary>
    public (int H, int W) Padding { get; }
    /// <summary>Spacing inside the window (PyTorch: <c>dilation</c>).</summary>
    public (int H, int W) Dilation { get; }
    /// <summary>Use ceil instead of floor for the output size (PyTorch: <c>ceil_mode</c>).</summary>
    public bool CeilMode { get; }

    /// <summary>Pools [N, C, H, W] input (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.MaxPool2d(input, KernelSize, Stride, Padding, Dilation, CeilMode);

    /// <inheritdoc/>
    protected override string ExtraRepr() => _repr;
}

/// <summary>2-d average pooling (PyTorch: <c>torch.nn.AvgPool2d</c>); the stride defaults to the kernel size.</summary>
[Module]
public sealed partial class AvgPool2d : Module
{
    private readonly string _repr;

    /// <summary>Creates the layer with square settings (PyTorch: <c>nn.AvgPool2d(kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)</c>).</summary>
    public AvgPool2d(int kernelSize, int? stride = null, int padding = 0, bool ceilMode = false, bool countIncludePad = true, int? divisorOverride = null)
        : this((kernelSize, kernelSize), stride is null ? null : (stride.Value, stride.Value), (padding, padding), ceilMode, countIncludePad, divisorOverride)
    {
        _repr = $"kernel_size={kernelSize}, stride={stride ?? kernelSize}, padding={padding}";
    }

    /// <summary>Creates the layer with (height, width) settings.</summary>
    public AvgPool2d((int H, int W) kernelSize, (int H, int W)? stride = null, (int H, int W)? padding = null, bool ceilMode = false,
        bool countIncludePad = true, int? divisorOverride = null)
    {
        KernelSize = kernelSize;
        Stride = stride ?? kernelSize;
        Padding = padding ?? (0, 0);
        CeilMode = ceilMode;
        CountIncludePad = countIncludePad;
        DivisorOverride = divisorOverride;
        _repr = $"kernel_size={Py.Tuple(KernelSize.H, KernelSize.W)}, stride={Py.Tuple(Stride.H, Stride.W)}, padding={Py.Tuple(Padding.H, Padding.W)}";
    }

    /// <summary>Window size (PyTorch: <c>kernel_size</c>).</summary>
    public (int H, int W) KernelSize { get; }
    /// <summary>Window stride (PyTorch: <c>stride</c>).</summary>
    public (int H, int W) Stride { get; }
    /// <summary>Implicit zero padding (PyTorch: <c>padding</c>).</summary>
    public (int H, int W) Padding { get; }
    /// <summary>Use ceil instead of floor for the output size (PyTorch: <c>ceil_mode</c>).</summary>
    public bool CeilMode { get; }
    /// <summary>Count the zero padding in the divisor (PyTorch: <c>count_include_pad</c>).</summary>
    public bool CountIncludePad { get; }
    /// <summary>A fixed divisor instead of the window size (PyTorch: <c>divisor_override</c>).</summary>
    public int? DivisorOverride { get; }

    /// <summary>Pools [N, C, H, W] input (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.AvgPool2d(input, KernelSize, Stride, Padding, CeilMode, CountIncludePad, DivisorOverride);

    /// <inheritdoc/>
    protected override string ExtraRepr() => _repr;
}

/// <summary>2-d adaptive average pooling to a fixed output size (PyTorch: <c>torch.nn.AdaptiveAvgPool2d</c>).</summary>
[Module]
public sealed partial class AdaptiveAvgPool2d : Module
{
    private readonly string _repr;

    /// <summary>Creates the layer for a square output (PyTorch: <c>nn.AdaptiveAvgPool2d(output_size)</c>).</summary>
    public AdaptiveAvgPool2d(int outputSize)
    {
        OutputSize = (outputSize, outputSize);
        _repr = $"output_size={outputSize}";
    }

    /// <summary>Creates the layer for an output of (height, width).</summary>
    public AdaptiveAvgPool2d((int H, int W) outputSize)
    {
        OutputSize = outputSize;
        _repr = $"output_size={Py.Tuple(outputSize.H, outputSize.W)}";
    }

    /// <summary>The output (height, width) (PyTorch: <c>output_size</c>).</summary>
    public (int H, int W) OutputSize { get; }

    /// <summary>Pools [N, C, H, W] input to [N, C, oH, oW] (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.AdaptiveAvgPool2d(input, OutputSize);

    /// <inheritdoc/>
    protected override string ExtraRepr() => _repr;
}

/// <summary>1-d max pooling over [N, C, L] input (PyTorch: <c>torch.nn.MaxPool1d</c>); the stride defaults to the kernel size.</summary>
[Module]
public sealed partial class MaxPool1d : Module
{
    /// <summary>Creates the layer (PyTorch: <c>nn.MaxPool1d(kernel_size, stride, padding, dilation, ceil_mode=ceil_mode)</c>).</summary>
    public MaxPool1d(int kernelSize, int? stride = null, int padding = Ops.OpDefaults.Pool.Padding, int dilation = Ops.OpDefaults.Pool.Dilation,
        bool ceilMode = Ops.OpDefaults.Pool.CeilMode)
    {
        if (kernelSize <= 0) throw new ArgumentException($"MaxPool1d: kernel_size must be positive, but got {kernelSize}.");
        KernelSize = kernelSize;
        Stride = stride ?? kernelSize;
        Padding = padding;
        Dilation = dilation;
        CeilMode = ceilMode;
    }

    /// <summary>Window size (PyTorch: <c>kernel_size</c>).</summary>
    public int KernelSize { get; }
    /// <summary>Window stride (PyTorch: <c>stride</c>).</summary>
    public int Stride { get; }
    /// <summary>Implicit −∞ padding on both ends (PyTorch: <c>padding</c>).</summary>
    public int Padding { get; }
    /// <summary>Spacing inside the window (PyTorch: <c>dilation</c>).</summary>
    public int Dilation { get; }
    /// <summary>Use ceil instead of floor for the output size (PyTorch: <c>ceil_mode</c>).</summary>
    public bool CeilMode { get; }

    /// <summary>Pools [N, C, L] input (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.MaxPool1d(input, KernelSize, Stride, Padding, Dilation, CeilMode);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"kernel_size={KernelSize}, stride={Stride}, padding={Padding}, dilation={Dilation}, ceil_mode={Py.Bool(CeilMode)}";
}

/// <summary>1-d average pooling over [N, C, L] input (PyTorch: <c>torch.nn.AvgPool1d</c>); the stride defaults to the kernel size.</summary>
[Module]
public sealed partial class AvgPool1d : Module
{
    /// <summary>Creates the layer (PyTorch: <c>nn.AvgPool1d(kernel_size, stride, padding, ceil_mode, count_include_pad)</c>).</summary>
    public AvgPool1d(int kernelSize, int? stride = null, int padding = Ops.OpDefaults.Pool.Padding, bool ceilMode = Ops.OpDefaults.Pool.CeilMode,
        bool countIncludePad = Ops.OpDefaults.Pool.CountIncludePad)
    {
        if (kernelSize <= 0) throw new ArgumentException($"AvgPool1d: kernel_size must be positive, but got {kernelSize}.");
        KernelSize = kernelSize;
        Stride = stride ?? kernelSize;
        Padding = padding;
        CeilMode = ceilMode;
        CountIncludePad = countIncludePad;
    }

    /// <summary>Window size (PyTorch: <c>kernel_size</c>).</summary>
    public int KernelSize { get; }
    /// <summary>Window stride (PyTorch: <c>stride</c>).</summary>
    public int Stride { get; }
    /// <summary>Implicit zero padding on both ends (PyTorch: <c>padding</c>).</summary>
    public int Padding { get; }
    /// <summary>Use ceil instead of floor for the output size (PyTorch: <c>ceil_mode</c>).</summary>
    public bool CeilMode { get; }
    /// <summary>Count the zero padding in the divisor (PyTorch: <c>count_include_pad</c>).</summary>
    public bool CountIncludePad { get; }

    /// <summary>Pools [N, C, L] input (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.AvgPool1d(input, KernelSize, Stride, Padding, CeilMode, CountIncludePad);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"kernel_size=({KernelSize},), stride=({Stride},), padding=({Padding},)";
}

/// <summary>2-d adaptive max pooling to a fixed output size (PyTorch: <c>torch.nn.AdaptiveMaxPool2d</c>).</summary>
[Module]
public sealed partial class AdaptiveMaxPool2d : Module
{
    private readonly string _repr;

    /// <summary>Creates the layer for a square output (PyTorch: <c>nn.AdaptiveMaxPool2d(output_size)</c>).</summary>
    public AdaptiveMaxPool2d(int outputSize)
    {
        OutputSize = (outputSize, outputSize);
        _repr = $"output_size={outputSize}";
    }

    /// <summary>Creates the layer for an output of (height, width).</summary>
    public AdaptiveMaxPool2d((int H, int W) outputSize)
    {
        OutputSize = outputSize;
        _repr = $"output_size={Py.Tuple(outputSize.H, outputSize.W)}";
    }

    /// <summary>The output (height, width) (PyTorch: <c>output_size</c>).</summary>
    public (int H, int W) OutputSize { get; }

    /// <summary>Pools [N, C, H, W] input to [N, C, oH, oW] (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.AdaptiveMaxPool2d(input, OutputSize);

    /// <summary>Pools and returns the flat position of each maximum in its plane (PyTorch: <c>forward</c> with <c>return_indices=True</c>).</summary>
    public (Tensor Output, Tensor Indices) ForwardWithIndices(Tensor input) => Functional.AdaptiveMaxPool2dWithIndices(input, OutputSize);

    /// <inheritdoc/>
    protected override string ExtraRepr() => _repr;
}
