using SharpGrad.Serialization;

// How the resampling, padding, group/instance/RMS normalisation, channel-dropout, 1-d pooling and 1-d transposed-convolution
// layers describe themselves for Module.Save / Sequential.Load (see LayerRegistry). Defaults come from the op catalogue.

namespace SharpGrad.Layers
{
    public sealed partial class Upsample : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "Upsample";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["size"] = Size, ["scale_factor"] = ScaleFactor, ["mode"] = Mode, ["align_corners"] = AlignCorners, ["recompute_scale_factor"] = RecomputeScaleFactor,
        };
    }

    public sealed partial class ZeroPad2d : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "ZeroPad2d";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["padding"] = new[] { Padding.Left, Padding.Right, Padding.Top, Padding.Bottom },
        };
    }

    public sealed partial class GroupNorm : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "GroupNorm";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["num_groups"] = NumGroups, ["num_channels"] = NumChannels, ["eps"] = Eps, ["affine"] = Affine, ["dtype"] = (Weight?.DType ?? DType.Float32).ToString(),
        };
    }

    public abstract partial class InstanceNormBase : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => GetType().Name;

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => LayerArgs.BatchNorm(NumFeatures, Eps, Momentum, Affine, TrackRunningStats, Weight ?? RunningMean);
    }

    public sealed partial class RMSNorm : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "RMSNorm";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["normalized_shape"] = NormalizedShape, ["eps"] = Eps, ["elementwise_affine"] = ElementwiseAffine, ["dtype"] = (Weight?.DType ?? DType.Float32).ToString(),
        };
    }

    public sealed partial class Dropout2d : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "Dropout2d";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> { ["p"] = P, ["inplace"] = Inplace };
    }

    public sealed partial class MaxPool1d : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "MaxPool1d";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["kernel_size"] = KernelSize, ["stride"] = Stride, ["padding"] = Padding, ["dilation"] = Dilation, ["ceil_mode"] = CeilMode,
        };
    }

    public sealed partial class AvgPool1d : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "AvgPool1d";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["kernel_size"] = KernelSize, ["stride"] = Stride, ["padding"] = Padding, ["ceil_mode"] = CeilMode, ["count_include_pad"] = CountIncludePad,
        };
    }

    public sealed partial class AdaptiveMaxPool2d : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "AdaptiveMaxPool2d";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> { ["output_size"] = LayerArgs.Pair(OutputSize) };
    }

    public sealed partial class ConvTranspose1d : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "ConvTranspose1d";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["in_channels"] = InChannels, ["out_channels"] = OutChannels, ["kernel_size"] = KernelSize, ["stride"] = Stride, ["padding"] = Padding,
            ["output_padding"] = OutputPadding, ["groups"] = Groups, ["bias"] = Bias is not null, ["dilation"] = Dilation, ["dtype"] = Weight.DType.ToString(),
        };
    }
}

namespace SharpGrad.Serialization
{
    using SharpGrad.Layers;

    internal static partial class BuiltInLayers
    {
        static partial void RegisterPrimitiveLayers()
        {
            LayerRegistry.Register("Upsample", a => new Upsample(a.Has("size") ? a.GetInts("size") : null, a.Has("scale_factor") ? a.GetDoubles("scale_factor") : null,
                LayerArgs.String(a, "mode"), a.Has("align_corners") ? a.GetBool("align_corners") : null,
                a.Has("recompute_scale_factor") ? a.GetBool("recompute_scale_factor") : null));
            LayerRegistry.Register("ZeroPad2d", a => a.GetInts("padding") switch
            {
                [var p] => new ZeroPad2d(p),
                [var l, var r, var t, var b] => new ZeroPad2d((l, r, t, b)),
                var v => throw new InvalidDataException($"The saved architecture of a ZeroPad2d layer has 'padding' with {v.Length} values; expected 1 or 4."),
            });
            LayerRegistry.Register("GroupNorm", a => new GroupNorm(a.GetInt("num_groups"), a.GetInt("num_channels"), LayerArgs.Double(a, "eps"), LayerArgs.Bool(a, "affine"),
                LayerArgs.DType(a)));
            LayerRegistry.Register("InstanceNorm1d", a => new InstanceNorm1d(a.GetInt("num_features"), LayerArgs.Double(a, "eps"), LayerArgs.Double(a, "momentum"),
                LayerArgs.Bool(a, "affine"), LayerArgs.Bool(a, "track_running_stats"), LayerArgs.DType(a)));
            LayerRegistry.Register("InstanceNorm2d", a => new InstanceNorm2d(a.GetInt("num_features"), LayerArgs.Double(a, "eps"), LayerArgs.Double(a, "momentum"),
                LayerArgs.Bool(a, "affine"), LayerArgs.Bool(a, "track_running_stats"), LayerArgs.DType(a)));
            LayerRegistry.Register("RMSNorm", a => new RMSNorm(a.GetInts("normalized_shape"), LayerArgs.NullableDouble(a, "eps", null),
                LayerArgs.Bool(a, "elementwise_affine"), LayerArgs.DType(a)));
            LayerRegistry.Register("Dropout2d", a => new Dropout2d(LayerArgs.Double(a, "p"), LayerArgs.Bool(a, "inplace")));
            LayerRegistry.Register("MaxPool1d", a => new MaxPool1d(a.GetInt("kernel_size"), LayerArgs.NullableInt(a, "stride"), LayerArgs.Int(a, "padding"),
                LayerArgs.Int(a, "dilation"), LayerArgs.Bool(a, "ceil_mode")));
            LayerRegistry.Register("AvgPool1d", a => new AvgPool1d(a.GetInt("kernel_size"), LayerArgs.NullableInt(a, "stride"), LayerArgs.Int(a, "padding"),
                LayerArgs.Bool(a, "ceil_mode"), LayerArgs.Bool(a, "count_include_pad")));
            LayerRegistry.Register("AdaptiveMaxPool2d", a => LayerArgs.Square(a, "output_size")
                ? new AdaptiveMaxPool2d(LayerArgs.Pair(a, "output_size").H)
                : new AdaptiveMaxPool2d(LayerArgs.Pair(a, "output_size")));
            LayerRegistry.Register("ConvTranspose1d", a => new ConvTranspose1d(a.GetInt("in_channels"), a.GetInt("out_channels"), a.GetInt("kernel_size"),
                LayerArgs.Int(a, "stride"), LayerArgs.Int(a, "padding"), LayerArgs.Int(a, "output_padding"), LayerArgs.Int(a, "groups"), LayerArgs.Bool(a, "bias"),
                LayerArgs.Int(a, "dilation"), dtype: LayerArgs.DType(a)));
        }
    }
}
