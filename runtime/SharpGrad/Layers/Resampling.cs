using SharpGrad.Ops;

namespace SharpGrad.Layers;

/// <summary>
/// Resizes the spatial dims of [N, C, L] or [N, C, H, W] input (PyTorch: <c>torch.nn.Upsample</c>): nearest, linear or
/// bilinear, to a fixed <see cref="Size"/> or by a <see cref="ScaleFactor"/>. See <see cref="Functional.Interpolate(Tensor, int[], double[], string, bool?, bool?)"/>.
/// </summary>
[Module]
public sealed partial class Upsample : Module
{
    /// <summary>
    /// Creates the layer (PyTorch: <c>nn.Upsample(size, scale_factor, mode, align_corners, recompute_scale_factor)</c>): give exactly
    /// one of <paramref name="size"/> and <paramref name="scaleFactor"/> (one value, or one per spatial dim).
    /// </summary>
    public Upsample(int[]? size = null, double[]? scaleFactor = null, string mode = OpDefaults.Interpolate.Mode, bool? alignCorners = null,
        bool? recomputeScaleFactor = null)
    {
        ArgumentNullException.ThrowIfNull(mode);
        if ((size is null) == (scaleFactor is null)) throw new ArgumentException("Upsample: give exactly one of size and scaleFactor.");
        if (size is not null && (size.Length is 0 or > 2 || size.Any(s => s <= 0)))
        {
            throw new ArgumentException($"Upsample: size must have 1 or 2 positive values, but got {ShapeUtil.Format(size)}.");
        }
        if (scaleFactor is not null && (scaleFactor.Length is 0 or > 2 || scaleFactor.Any(s => !(s > 0) || double.IsInfinity(s))))
        {
            throw new ArgumentException($"Upsample: scaleFactor must have 1 or 2 positive finite values, but got [{string.Join(", ", scaleFactor)}].");
        }
        if (mode is not ("nearest" or "nearest-exact" or "linear" or "bilinear"))
        {
            throw new ArgumentException($"Upsample: mode '{mode}' is not supported; use 'nearest', 'nearest-exact', 'linear' or 'bilinear'.");
        }
        if (alignCorners is not null && mode is not ("linear" or "bilinear"))
        {
            throw new ArgumentException($"Upsample: alignCorners can only be set with the interpolating modes 'linear' and 'bilinear', not with '{mode}'.");
        }
        Size = size is null ? null : (int[])size.Clone();
        ScaleFactor = scaleFactor is null ? null : (double[])scaleFactor.Clone();
        Mode = mode;
        AlignCorners = alignCorners;
        RecomputeScaleFactor = recomputeScaleFactor;
    }

    /// <summary>Creates the layer with one scale factor for every spatial dim (PyTorch: <c>nn.Upsample(scale_factor=s, mode=…)</c>).</summary>
    public Upsample(double scaleFactor, string mode = OpDefaults.Interpolate.Mode, bool? alignCorners = null, bool? recomputeScaleFactor = null)
        : this(null, [scaleFactor], mode, alignCorners, recomputeScaleFactor)
    {
    }

    /// <summary>The output spatial size, or null (PyTorch: <c>size</c>).</summary>
    public int[]? Size { get; }
    /// <summary>The multiplier of the spatial size, or null (PyTorch: <c>scale_factor</c>).</summary>
    public double[]? ScaleFactor { get; }
    /// <summary>The interpolation (PyTorch: <c>mode</c>).</summary>
    public string Mode { get; }
    /// <summary>Whether the corner pixels of input and output are aligned; null unless a linear mode (PyTorch: <c>align_corners</c>).</summary>
    public bool? AlignCorners { get; }
    /// <summary>Whether the source coordinates use in/out instead of 1/scale_factor (PyTorch: <c>recompute_scale_factor</c>).</summary>
    public bool? RecomputeScaleFactor { get; }

    /// <summary>Resizes the input (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Interpolate(input, Size, ScaleFactor, Mode, AlignCorners, RecomputeScaleFactor);

    /// <inheritdoc/>
    protected override string ExtraRepr()
    {
        string info = ScaleFactor is not null
            ? "scale_factor=" + (ScaleFactor.Length == 1 ? Py.Float(ScaleFactor[0]) : "(" + string.Join(", ", ScaleFactor.Select(Py.Float)) + ")")
            : "size=" + (Size!.Length == 1 ? Size[0].ToString(System.Globalization.CultureInfo.InvariantCulture) : Py.Tuple(Size));
        return $"{info}, mode='{Mode}'";
    }
}

/// <summary>Pads the last two dims of the input with zeros (PyTorch: <c>torch.nn.ZeroPad2d</c>).</summary>
[Module]
public sealed partial class ZeroPad2d : Module
{
    /// <summary>Creates the layer padding every side by <paramref name="padding"/> (PyTorch: <c>nn.ZeroPad2d(padding)</c>).</summary>
    public ZeroPad2d(int padding)
        : this((padding, padding, padding, padding))
    {
    }

    /// <summary>Creates the layer with (left, right, top, bottom) padding (PyTorch: <c>nn.ZeroPad2d((left, right, top, bottom))</c>); negative values crop.</summary>
    public ZeroPad2d((int Left, int Right, int Top, int Bottom) padding) => Padding = padding;

    /// <summary>The (left, right, top, bottom) padding (PyTorch: <c>padding</c>).</summary>
    public (int Left, int Right, int Top, int Bottom) Padding { get; }

    /// <summary>Pads [N, C, H, W] or [C, H, W] input (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Pad(input, [Padding.Left, Padding.Right, Padding.Top, Padding.Bottom], "constant", 0);

    /// <inheritdoc/>
    protected override string ExtraRepr() => Py.Tuple(Padding.Left, Padding.Right, Padding.Top, Padding.Bottom);
}
