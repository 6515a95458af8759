using SharpGrad.Serialization;

// How the built-in parametric layers describe themselves for Module.Save / Sequential.Load (see LayerRegistry).

namespace SharpGrad.Layers
{
    public sealed partial class Linear : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "Linear";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["in_features"] = InFeatures, ["out_features"] = OutFeatures, ["bias"] = Bias is not null, ["dtype"] = Weight.DType.ToString(),
        };
    }

    public sealed partial class Conv1d : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "Conv1d";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["in_channels"] = InChannels, ["out_channels"] = OutChannels, ["kernel_size"] = KernelSize, ["stride"] = Stride,
            ["padding"] = Padding, ["dilation"] = Dilation, ["groups"] = Groups, ["bias"] = Bias is not null, ["dtype"] = Weight.DType.ToString(),
        };
    }

    public sealed partial class Conv2d : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "Conv2d";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["in_channels"] = InChannels, ["out_channels"] = OutChannels, ["kernel_size"] = LayerArgs.Pair(KernelSize), ["stride"] = LayerArgs.Pair(Stride),
            ["padding"] = LayerArgs.Pair(Padding), ["dilation"] = LayerArgs.Pair(Dilation), ["groups"] = Groups, ["bias"] = Bias is not null,
            ["dtype"] = Weight.DType.ToString(),
        };
    }

    public sealed partial class ConvTranspose2d : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "ConvTranspose2d";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["in_channels"] = InChannels, ["out_channels"] = OutChannels, ["kernel_size"] = LayerArgs.Pair(KernelSize), ["stride"] = LayerArgs.Pair(Stride),
            ["padding"] = LayerArgs.Pair(Padding), ["output_padding"] = LayerArgs.Pair(OutputPadding), ["groups"] = Groups, ["bias"] = Bias is not null,
            ["dilation"] = LayerArgs.Pair(Dilation), ["dtype"] = Weight.DType.ToString(),
        };
    }

    public sealed partial class Dropout : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "Dropout";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> { ["p"] = P };
    }

    public sealed partial class Embedding : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "Embedding";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["num_embeddings"] = NumEmbeddings, ["embedding_dim"] = EmbeddingDim, ["padding_idx"] = PaddingIdx, ["dtype"] = Weight.DType.ToString(),
        };
    }

    public sealed partial class BatchNorm1d : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "BatchNorm1d";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => LayerArgs.BatchNorm(NumFeatures, Eps, Momentum, Affine, TrackRunningStats, Weight ?? RunningMean);
    }

    public sealed partial class BatchNorm2d : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "BatchNorm2d";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => LayerArgs.BatchNorm(NumFeatures, Eps, Momentum, Affine, TrackRunningStats, Weight ?? RunningMean);
    }

    public sealed partial class LayerNorm : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "LayerNorm";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["normalized_shape"] = NormalizedShape, ["eps"] = Eps, ["elementwise_affine"] = ElementwiseAffine, ["bias"] = Bias is not null,
            ["dtype"] = (Weight?.DType ?? DType.Float32).ToString(),
        };
    }

    public sealed partial class MaxPool2d : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "MaxPool2d";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["kernel_size"] = LayerArgs.Pair(KernelSize), ["stride"] = LayerArgs.Pair(Stride), ["padding"] = LayerArgs.Pair(Padding),
            ["dilation"] = LayerArgs.Pair(Dilation), ["ceil_mode"] = CeilMode,
        };
    }

    public sealed partial class AvgPool2d : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "AvgPool2d";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["kernel_size"] = LayerArgs.Pair(KernelSize), ["stride"] = LayerArgs.Pair(Stride), ["padding"] = LayerArgs.Pair(Padding),
            ["ceil_mode"] = CeilMode, ["count_include_pad"] = CountIncludePad, ["divisor_override"] = DivisorOverride,
        };
    }

    public sealed partial class AdaptiveAvgPool2d : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "AdaptiveAvgPool2d";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> { ["output_size"] = LayerArgs.Pair(OutputSize) };
    }

    internal static class LayerArgs
    {
        /// <summary>The default of the layer's constructor argument <paramref name="name"/> (PyTorch's name), from its catalogue row.</summary>
        private static object? Default(LayerArguments a, string name)
            => Ops.OpCatalogue.ForLayer(a.Kind)?.Params.FirstOrDefault(p => p.PyTorchName == name && p.HasDefault && (p.Use & Ops.ParamUse.Layer) != 0)?.Default
               ?? throw new InvalidOperationException($"The op catalogue has no default for the {a.Kind} layer's argument '{name}'.");

        /// <summary>A floating-point argument, or its catalogue default when absent.</summary>
        public static double Double(LayerArguments a, string name) => a.Has(name) ? a.GetDouble(name) : Convert.ToDouble(Default(a, name), System.Globalization.CultureInfo.InvariantCulture);

        /// <summary>An integer argument, or its catalogue default when absent.</summary>
        public static int Int(LayerArguments a, string name) => a.Has(name) ? a.GetInt(name) : Convert.ToInt32(Default(a, name), System.Globalization.CultureInfo.InvariantCulture);

        /// <summary>A boolean argument, or its catalogue default when absent.</summary>
        public static bool Bool(LayerArguments a, string name) => a.Has(name) ? a.GetBool(name) : (bool)Default(a, name)!;

        /// <summary>A string argument, or its catalogue default when absent.</summary>
        public static string String(LayerArguments a, string name) => a.Has(name) ? a.GetString(name) : (string)Default(a, name)!;

        public static int[] Pair((int H, int W) v) => [v.H, v.W];

        public static (int H, int W) Pair(LayerArguments a, string name)
        {
            var v = a.GetInts(name);
            return v.Length switch
            {
                1 => (v[0], v[0]),
                2 => (v[0], v[1]),
                _ => throw new InvalidDataException($"The saved architecture of a {a.Kind} layer has '{name}' with {v.Length} values; expected 1 or 2."),
            };
        }

        public static bool Square(LayerArguments a, params string[] names) => names.All(n => !a.Has(n) || Pair(a, n) is var p && p.H == p.W);

        public static DType DType(LayerArguments a) => a.GetString("dtype", "Float32") switch
        {
            "Float32" => SharpGrad.DType.Float32,
            "Float64" => SharpGrad.DType.Float64,
            var other => throw new InvalidDataException($"The saved architecture of a {a.Kind} layer has dtype '{other}'; layers hold Float32 or Float64 weights."),
        };

        public static Dictionary<string, object?> BatchNorm(int numFeatures, double eps, double? momentum, bool affine, bool track, Tensor? sample) => new()
        {
            ["num_features"] = numFeatures, ["eps"] = eps, ["momentum"] = momentum, ["affine"] = affine, ["track_running_stats"] = track,
            ["dtype"] = (sample?.DType ?? SharpGrad.DType.Float32).ToString(),
        };

        public static double? NullableDouble(LayerArguments a, string name, double? fallback) =>
            a.Has(name) ? a.GetDouble(name) : (a.HasNull(name) ? null : fallback);

        public static int? NullableInt(LayerArguments a, string name) => a.Has(name) ? a.GetInt(name) : null;
    }
}

namespace SharpGrad.Serialization
{
    using SharpGrad.Layers;

    internal static partial class BuiltInLayers
    {
        static partial void RegisterNnLayers()
        {
            LayerRegistry.Register("Linear", a => new Linear(a.GetInt("in_features"), a.GetInt("out_features"), LayerArgs.Bool(a, "bias"), dtype: LayerArgs.DType(a)));
            LayerRegistry.Register("Conv1d", a => new Conv1d(a.GetInt("in_channels"), a.GetInt("out_channels"), a.GetInt("kernel_size"), LayerArgs.Int(a, "stride"),
                LayerArgs.Int(a, "padding"), LayerArgs.Int(a, "dilation"), LayerArgs.Int(a, "groups"), LayerArgs.Bool(a, "bias"), dtype: LayerArgs.DType(a)));
            LayerRegistry.Register("Conv2d", a => new Conv2d(a.GetInt("in_channels"), a.GetInt("out_channels"), LayerArgs.Pair(a, "kernel_size"),
                a.Has("stride") ? LayerArgs.Pair(a, "stride") : null, a.Has("padding") ? LayerArgs.Pair(a, "padding") : null,
                a.Has("dilation") ? LayerArgs.Pair(a, "dilation") : null, LayerArgs.Int(a, "groups"), LayerArgs.Bool(a, "bias"), dtype: LayerArgs.DType(a)));
            LayerRegistry.Register("ConvTranspose2d", a => new ConvTranspose2d(a.GetInt("in_channels"), a.GetInt("out_channels"), LayerArgs.Pair(a, "kernel_size"),
                a.Has("stride") ? LayerArgs.Pair(a, "stride") : null, a.Has("padding") ? LayerArgs.Pair(a, "padding") : null,
                a.Has("output_padding") ? LayerArgs.Pair(a, "output_padding") : null, a.GetInt("groups", 1), a.GetBool("bias", true),
                a.Has("dilation") ? LayerArgs.Pair(a, "dilation") : null, dtype: LayerArgs.DType(a)));
            LayerRegistry.Register("Dropout", a => new Dropout(LayerArgs.Double(a, "p")));
            LayerRegistry.Register("Embedding", a => new Embedding(a.GetInt("num_embeddings"), a.GetInt("embedding_dim"), LayerArgs.NullableInt(a, "padding_idx"),
                dtype: LayerArgs.DType(a)));
            LayerRegistry.Register("BatchNorm1d", a => new BatchNorm1d(a.GetInt("num_features"), LayerArgs.Double(a, "eps"), LayerArgs.NullableDouble(a, "momentum", LayerArgs.Double(a, "momentum")),
                LayerArgs.Bool(a, "affine"), LayerArgs.Bool(a, "track_running_stats"), LayerArgs.DType(a)));
            LayerRegistry.Register("BatchNorm2d", a => new BatchNorm2d(a.GetInt("num_features"), LayerArgs.Double(a, "eps"), LayerArgs.NullableDouble(a, "momentum", LayerArgs.Double(a, "momentum")),
                LayerArgs.Bool(a, "affine"), LayerArgs.Bool(a, "track_running_stats"), LayerArgs.DType(a)));
            LayerRegistry.Register("LayerNorm", a => new LayerNorm(a.GetInts("normalized_shape"), LayerArgs.Double(a, "eps"), LayerArgs.Bool(a, "elementwise_affine"),
                LayerArgs.Bool(a, "bias"), LayerArgs.DType(a)));
            LayerRegistry.Register("MaxPool2d", a => LayerArgs.Square(a, "kernel_size", "stride", "padding", "dilation")
                ? new MaxPool2d(LayerArgs.Pair(a, "kernel_size").H, a.Has("stride") ? LayerArgs.Pair(a, "stride").H : null,
                    a.Has("padding") ? LayerArgs.Pair(a, "padding").H : Ops.OpDefaults.Pool.Padding, a.Has("dilation") ? LayerArgs.Pair(a, "dilation").H : Ops.OpDefaults.Pool.Dilation, LayerArgs.Bool(a, "ceil_mode"))
                : new MaxPool2d(LayerArgs.Pair(a, "kernel_size"), a.Has("stride") ? LayerArgs.Pair(a, "stride") : null,
                    a.Has("padding") ? LayerArgs.Pair(a, "padding") : null, a.Has("dilation") ? LayerArgs.Pair(a, "dilation") : null, LayerArgs.Bool(a, "ceil_mode")));
            LayerRegistry.Register("AvgPool2d", a => LayerArgs.Square(a, "kernel_size", "stride", "padding")
                ? new AvgPool2d(LayerArgs.Pair(a, "kernel_size").H, a.Has("stride") ? LayerArgs.Pair(a, "stride").H : null,
                    a.Has("padding") ? LayerArgs.Pair(a, "padding").H : Ops.OpDefaults.Pool.Padding, LayerArgs.Bool(a, "ceil_mode"), LayerArgs.Bool(a, "count_include_pad"),
                    LayerArgs.NullableInt(a, "divisor_override"))
                : new AvgPool2d(LayerArgs.Pair(a, "kernel_size"), a.Has("stride") ? LayerArgs.Pair(a, "stride") : null,
                    a.Has("padding") ? LayerArgs.Pair(a, "padding") : null, LayerArgs.Bool(a, "ceil_mode"), LayerArgs.Bool(a, "count_include_pad"),
                    LayerArgs.NullableInt(a, "divisor_override")));
            LayerRegistry.Register("AdaptiveAvgPool2d", a => LayerArgs.Square(a, "output_size")
                ? new AdaptiveAvgPool2d(LayerArgs.Pair(a, "output_size").H)
                : new AdaptiveAvgPool2d(LayerArgs.Pair(a, "output_size")));
        }
    }
}
