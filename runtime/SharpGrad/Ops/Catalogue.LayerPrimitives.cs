// Shared source (runtime, generator, analyzers): see Dim.cs.
using System.Collections.Generic;

namespace SharpGrad.Ops;

internal static partial class OpDefaults
{
    /// <summary>PyTorch: <c>interpolate(mode='nearest')</c>, <c>nn.Upsample(mode='nearest')</c>.</summary>
    public static class Interpolate
    {
        public const string Mode = "nearest";
    }

    /// <summary>PyTorch: <c>pad(mode='constant', value=0)</c>.</summary>
    public static class Pad
    {
        public const string Mode = "constant";
        public const double Value = 0.0;
    }

    /// <summary>PyTorch: <c>nn.GroupNorm(eps=1e-5, affine=True)</c>.</summary>
    public static class GroupNorm
    {
        public const bool Affine = true;
    }

    /// <summary>PyTorch: <c>nn.InstanceNorm1d/2d(eps=1e-5, momentum=0.1, affine=False, track_running_stats=False)</c>.</summary>
    public static class InstanceNorm
    {
        public const bool Affine = false;
        public const bool TrackRunningStats = false;
    }

    /// <summary>PyTorch 2.4: <c>nn.RMSNorm(eps=None, elementwise_affine=True)</c> (a null eps is the dtype's machine epsilon).</summary>
    public static class RmsNorm
    {
        public const bool ElementwiseAffine = true;
    }
}

internal static partial class OpCatalogue
{
    /// <summary>PyTorch's <c>ConvTranspose*d(in, out, kernel_size, stride, padding, output_padding, groups, bias, dilation)</c>: the convolution's parameters in this order.</summary>
    private static ScalarParam[] ConvTransposeParams(ParamKind window)
    {
        var conv = ConvParams(window);   // in, out, kernel, stride, padding, dilation, groups, bias
        var outputPadding = Opt("outputPadding", "output_padding", window, OpDefaults.Conv.OutputPadding) with { Property = "OutputPadding" };
        return [conv[0], conv[1], conv[2], conv[3], conv[4], outputPadding, conv[6], conv[7], conv[5]];
    }

    private static ScalarParam[] InstanceNormParams() =>
    [
        Req("numFeatures", "num_features", ParamKind.Int, ParamUse.Layer) with { Property = "NumFeatures" },
        Opt("eps", "eps", ParamKind.Double, OpDefaults.Norm.Eps) with { Property = "Eps" },
        Opt("momentum", "momentum", ParamKind.Double, OpDefaults.Norm.Momentum) with { Property = "Momentum" },
        Opt("affine", "affine", ParamKind.Bool, OpDefaults.InstanceNorm.Affine, ParamUse.Layer) with { Property = "Affine" },
        Opt("trackRunningStats", "track_running_stats", ParamKind.Bool, OpDefaults.InstanceNorm.TrackRunningStats, ParamUse.Layer) with { Property = "TrackRunningStats" },
    ];

    /// <summary>
    /// Issue 13's primitive layers. Compiled (sharing the eager kernels): Upsample, ZeroPad2d, Unflatten, group/instance/RMS
    /// normalisation, channel dropout, the 1-d pools (the 2-d rows' builder), adaptive max pooling and the 1-d transposed
    /// convolution. Eager only so far: the Functional forms (Pad, Interpolate, GroupNorm, …) called in Forward.
    /// </summary>
    private static IEnumerable<OpRow> PrimitiveLayerRows() =>
    [
        new OpRow("Interpolate", "interpolate", OpFamily.Resample, OpSurface.Functional)
        {
            Layer = "Upsample", Inputs = In("input"),
            Params =
            [
                Opt("size", "size", ParamKind.Ints, null) with { Property = "Size" },
                Opt("scaleFactor", "scale_factor", ParamKind.Double, null) with { Property = "ScaleFactor" },
                Opt("mode", "mode", ParamKind.Choice, OpDefaults.Interpolate.Mode) with
                {
                    Property = "Mode", Choices = ["nearest", "nearest-exact", "linear", "bilinear"],
                },
                Opt("alignCorners", "align_corners", ParamKind.Bool, null) with { Property = "AlignCorners" },
                Opt("recomputeScaleFactor", "recompute_scale_factor", ParamKind.Bool, null) with { Property = "RecomputeScaleFactor" },
            ],
            Shape = static c => c.IsLayer ? ShapeRules.Interpolate(c.Input(0), c.Ints("size"), c.Number("scaleFactor")) : ShapeResult.Unknown,
            Kernel = "Resample", Compiled = true, Onnx = "Resize",
        },
        new OpRow("Unflatten", "unflatten", OpFamily.View, OpSurface.None)
        {
            Layer = "Unflatten", Inputs = In("input"),
            Params =
            [
                Req("dim", "dim", ParamKind.Int, ParamUse.Layer) with { Property = "Dim" },
                Req("unflattenedSize", "unflattened_size", ParamKind.Ints, ParamUse.Layer) with { Property = "UnflattenedSize" },
            ],
            Shape = static c => c.Int("dim") is { } d && c.Ints("unflattenedSize") is { } sizes ? ShapeRules.Unflatten(c.Input(0), d, sizes) : ShapeResult.Unknown,
            Compiled = true, Onnx = "Reshape",
        },
        new OpRow("Pad", "pad", OpFamily.Eager, OpSurface.Functional)
        {
            Inputs = In("input"),
            Params =
            [
                Req("pad", "pad", ParamKind.Ints, ParamUse.Function),
                Opt("mode", "mode", ParamKind.Choice, OpDefaults.Pad.Mode, ParamUse.Function) with { Choices = ["constant", "reflect", "replicate", "circular"] },
                Opt("value", "value", ParamKind.Double, OpDefaults.Pad.Value, ParamUse.Function),
            ],
            Onnx = "Pad",
        },
        new OpRow("ZeroPad2d", "pad", OpFamily.Pad, OpSurface.None)
        {
            Layer = "ZeroPad2d", Inputs = In("input"), Params = [Req("padding", "padding", ParamKind.Ints, ParamUse.Layer) with { Property = "Padding" }],
            Shape = static c => ShapeRules.ZeroPad2d(c.Input(0), c.Ints("padding")), Kernel = "PadKernel", Compiled = true, Onnx = "Pad",
        },
        new OpRow("GroupNorm", "group_norm", OpFamily.GroupNorm, OpSurface.Functional)
        {
            Layer = "GroupNorm", Inputs = In("input", "weight?", "bias?"), TensorArity = -1,
            Params =
            [
                Req("numGroups", "num_groups", ParamKind.Int) with { Property = "NumGroups" },
                Req("numChannels", "num_channels", ParamKind.Int, ParamUse.Layer) with { Property = "NumChannels" },
                Opt("eps", "eps", ParamKind.Double, OpDefaults.Norm.Eps) with { Property = "Eps" },
                Opt("affine", "affine", ParamKind.Bool, OpDefaults.GroupNorm.Affine, ParamUse.Layer) with { Property = "Affine" },
            ],
            Shape = ShapeRules.SameAsInput, Reads = BackwardReads.Input | BackwardReads.Saved, Saves = ["mean", "invstd"], Kernel = "GroupNormKernel", Compiled = true,
            TensorsByName = true, Onnx = "GroupNormalization",
        },
        // The GroupNorm kernel with a group per channel (Variant), as the InstanceNorm layers; with running statistics, updated
        // from the instance statistics in training and normalising with them (BatchNorm's eval kernel) otherwise.
        new OpRow("InstanceNorm", "instance_norm", OpFamily.GroupNorm, OpSurface.Functional)
        {
            Kernel = "GroupNormKernel", Variant = true, Compiled = true, TensorsByName = true,
            Inputs = In("input", "!runningMean?", "!runningVar?", "weight?", "bias?"), TensorArity = -1,
            Params =
            [
                Opt("useInputStats", "use_input_stats", ParamKind.Bool, true, ParamUse.Function),
                Opt("momentum", "momentum", ParamKind.Double, OpDefaults.Norm.Momentum, ParamUse.Function),
                Opt("eps", "eps", ParamKind.Double, OpDefaults.Norm.Eps, ParamUse.Function),
            ],
            Shape = ShapeRules.SameAsInput, Reads = BackwardReads.Input | BackwardReads.Saved, Saves = ["mean", "invstd"],
        },
        new OpRow("InstanceNorm1d", "instance_norm", OpFamily.GroupNorm, OpSurface.None)
        {
            Layer = "InstanceNorm1d", Inputs = In("input"), Params = InstanceNormParams(), Shape = ShapeRules.SameAsInput,
            Reads = BackwardReads.Input | BackwardReads.Saved, Saves = ["mean", "invstd"], Kernel = "GroupNormKernel", Compiled = true, Onnx = "InstanceNormalization",
        },
        new OpRow("InstanceNorm2d", "instance_norm", OpFamily.GroupNorm, OpSurface.None)
        {
            Layer = "InstanceNorm2d", Inputs = In("input"), Params = InstanceNormParams(), Shape = ShapeRules.SameAsInput,
            Reads = BackwardReads.Input | BackwardReads.Saved, Saves = ["mean", "invstd"], Kernel = "GroupNormKernel", Compiled = true, Onnx = "InstanceNormalization",
        },
        new OpRow("RmsNorm", "rms_norm", OpFamily.RmsNorm, OpSurface.Functional)
        {
            Layer = "RMSNorm", Inputs = In("input", "weight?"), TensorArity = -1,
            Params =
            [
                Req("normalizedShape", "normalized_shape", ParamKind.Ints) with { Property = "NormalizedShape" },
                Opt("eps", "eps", ParamKind.Double, null) with { Property = "Eps" },
                Opt("elementwiseAffine", "elementwise_affine", ParamKind.Bool, OpDefaults.RmsNorm.ElementwiseAffine, ParamUse.Layer) with { Property = "ElementwiseAffine" },
            ],
            Shape = ShapeRules.SameAsInput, Reads = BackwardReads.Input | BackwardReads.Saved, Saves = ["invrms"], Kernel = "RmsNormKernel", Compiled = true,
            Onnx = "RMSNormalization",
        },
        new OpRow("Dropout2d", "dropout2d", OpFamily.ChannelDropout, OpSurface.Functional)
        {
            Layer = "Dropout2d", Inputs = In("input"),
            Params =
            [
                Opt("p", "p", ParamKind.Double, OpDefaults.Dropout.P) with { Property = "P" },
                Opt("training", "training", ParamKind.Bool, true, ParamUse.Function),
                Inplace(),
            ],
            Shape = ShapeRules.SameAsInput, Reads = BackwardReads.Saved, Saves = ["mask"], Kernel = "DropoutKernel", Compiled = true, Onnx = "Dropout",
        },
        MaxPoolRow(1),
        AvgPoolRow(1),
        new OpRow("AdaptiveMaxPool2d", "adaptive_max_pool2d", OpFamily.AdaptiveMaxPool, OpSurface.Functional)
        {
            Layer = "AdaptiveMaxPool2d", Inputs = In("input"),
            Params = [Req("outputSize", "output_size", ParamKind.IntPair) with { Property = "OutputSize" }],
            Shape = static c => ShapeRules.AdaptivePool(c.Input(0), c.Pair("outputSize")), Reads = BackwardReads.Saved, Saves = ["indices"], Compiled = true,
        },
        new OpRow("ConvTranspose1d", "conv_transpose1d", OpFamily.ConvTranspose, OpSurface.Functional)
        {
            Layer = "ConvTranspose1d", Inputs = In("input", "weight", "bias?"), TensorArity = -1, Params = ConvTransposeParams(ParamKind.Int),
            Shape = static c => ConvTransposeRule(c, 1), Reads = BackwardReads.Input | BackwardReads.OtherInputs, Kernel = "Conv", Compiled = true,
            Onnx = "ConvTranspose",
        },
    ];
}
