// Shared source (runtime, generator, analyzers): see Dim.cs.
using System.Collections.Generic;

namespace SharpGrad.Ops;

internal static partial class OpDefaults
{
    /// <summary>PyTorch: <c>conv2d(stride=1, padding=0, dilation=1, groups=1)</c>, <c>nn.Conv2d(…, bias=True)</c>.</summary>
    public static class Conv
    {
        public const int Stride = 1;
        public const int Padding = 0;
        public const int Dilation = 1;
        public const int Groups = 1;
        public const int OutputPadding = 0;
        public const bool Bias = true;
    }

    /// <summary>PyTorch: <c>max_pool2d(padding=0, dilation=1, ceil_mode=False)</c>, <c>avg_pool2d(count_include_pad=True)</c>.</summary>
    public static class Pool
    {
        public const int Padding = 0;
        public const int Dilation = 1;
        public const bool CeilMode = false;
        public const bool CountIncludePad = true;
    }

    /// <summary>PyTorch: <c>batch_norm(momentum=0.1, eps=1e-5)</c>, <c>layer_norm(eps=1e-5)</c>.</summary>
    public static class Norm
    {
        public const double Eps = 1e-5;
        public const double Momentum = 0.1;
    }

    /// <summary>PyTorch: <c>dropout(p=0.5)</c>.</summary>
    public static class Dropout
    {
        public const double P = 0.5;
    }

    /// <summary>PyTorch: <c>glu(dim=-1)</c>.</summary>
    public static class Glu
    {
        public const int Dim = -1;
    }

    /// <summary>PyTorch: <c>nn.PReLU(num_parameters=1, init=0.25)</c>.</summary>
    public static class Prelu
    {
        public const int NumParameters = 1;
        public const double Init = 0.25;
    }
}

internal static partial class OpCatalogue
{
    private static readonly Dim Batch = Dim.Sym("N");

    private static (int H, int W) PairOr(ShapeCall c, string name, (int H, int W) fallback) => c.Pair(name) ?? fallback;

    private static ShapeResult ConvRule(ShapeCall c, int spatial)
    {
        if (!c.IsLayer) return FunctionalConvRule(c, spatial);
        return ShapeRules.Conv(c.Input(0), spatial, c.Op.Layer!, c.Size("inChannels"), c.Size("outChannels"), c.Pair("kernelSize"),
            PairOr(c, "stride", (1, 1)), PairOr(c, "padding", (0, 0)), PairOr(c, "dilation", (1, 1)));
    }

    /// <summary>
    /// <c>Functional.Conv1d/Conv2d(x, weight, bias, …)</c>: the weight [out, in / groups, kH(, kW)] decides the channels and the
    /// window; unknown when its shape is not known at build time, or when x's channels are not the weight's (eager's error).
    /// </summary>
    private static ShapeResult FunctionalConvRule(ShapeCall c, int spatial)
    {
        if (c.Input(1) is not { } w || w.Rank != spatial + 2 || c.Int("groups") is not { } groups || groups < 1) return ShapeResult.Unknown;
        for (int d = 0; d < w.Rank; d++) if (!w[d].IsFixed) return ShapeResult.Unknown;
        if (c.Input(0) is not { } x || x.Rank != spatial + 2 || !x[1].IsFixed || x[1].Size != w[1].Size * groups || w[0].Size % groups != 0) return ShapeResult.Unknown;
        if (c.Inputs.Count > 2 && c.Input(2) is { } b && !(b.Rank == 1 && b[0].IsFixed && b[0].Size == w[0].Size)) return ShapeResult.Unknown;
        var kernel = spatial == 1 ? (w[2].Size, 1) : (w[2].Size, w[3].Size);
        return ShapeRules.Conv(x, spatial, c.Op.Layer!, null, w[0], kernel, PairOr(c, "stride", (1, 1)), PairOr(c, "padding", (0, 0)), PairOr(c, "dilation", (1, 1)));
    }

    /// <summary>
    /// <c>Functional.ConvTranspose1d/2d(x, weight, bias, …)</c>: the weight [in, out / groups, kH(, kW)] decides the channels
    /// (out = its dim 1 × groups) and the window; unknown when its shape is not known at build time, when x's channels are not
    /// the weight's dim 0 (eager's error) or when the output would be empty.
    /// </summary>
    private static ShapeResult FunctionalConvTransposeRule(ShapeCall c, int spatial)
    {
        if (c.Input(1) is not { } w || w.Rank != spatial + 2 || c.Int("groups") is not { } groups || groups < 1) return ShapeResult.Unknown;
        for (int d = 0; d < w.Rank; d++) if (!w[d].IsFixed) return ShapeResult.Unknown;
        if (c.Input(0) is not { } x || x.Rank != spatial + 2 || !x[1].IsFixed || x[1].Size != w[0].Size || w[0].Size % groups != 0) return ShapeResult.Unknown;
        int outChannels = w[1].Size * groups;
        if (c.Inputs.Count > 2 && c.Input(2) is { } b && !(b.Rank == 1 && b[0].IsFixed && b[0].Size == outChannels)) return ShapeResult.Unknown;
        var k = spatial == 1 ? (H: w[2].Size, W: 1) : (H: w[2].Size, W: w[3].Size);
        var stride = PairOr(c, "stride", (1, 1));
        var padding = PairOr(c, "padding", (0, 0));
        var dilation = PairOr(c, "dilation", (1, 1));
        var outputPadding = PairOr(c, "outputPadding", (0, 0));
        Dim Out(Dim size, int kk, int st, int pad, int dil, int op)
            => size.IsFixed && ShapeRules.TransposedOutputSize(size.Size, kk, st, pad, dil, op) is var o && o > 0 ? Dim.Of(o) : Dim.Unknown;
        return spatial == 1
            ? new TensorShape(x[0], Dim.Of(outChannels), Out(x[2], k.H, stride.H, padding.H, dilation.H, outputPadding.H))
            : new TensorShape(x[0], Dim.Of(outChannels), Out(x[2], k.H, stride.H, padding.H, dilation.H, outputPadding.H),
                Out(x[3], k.W, stride.W, padding.W, dilation.W, outputPadding.W));
    }

    private static ShapeResult PoolRule(ShapeCall c, bool max, int spatial)
    {
        var kernel = c.Pair("kernelSize");
        var stride = c.Pair("stride") ?? kernel;
        return ShapeRules.Pool(c.Input(0), kernel, stride, PairOr(c, "padding", (0, 0)), max ? PairOr(c, "dilation", (1, 1)) : (1, 1), c.Flag("ceilMode") ?? false,
            spatial);
    }

    /// <summary>
    /// The MaxPool1d/MaxPool2d row (<paramref name="spatial"/> 1 or 2): PyTorch's <c>max_pool{1,2}d</c> arguments, ints for
    /// 1-d and pairs for 2-d; the 1-d pool runs as the 2-d pool of a [·, 1, L] view, eager and compiled.
    /// </summary>
    private static OpRow MaxPoolRow(int spatial)
    {
        var window = spatial == 1 ? ParamKind.Int : ParamKind.IntPair;
        return new OpRow($"MaxPool{spatial}d", $"max_pool{spatial}d", OpFamily.MaxPool, OpSurface.Functional)
        {
            Layer = $"MaxPool{spatial}d", Inputs = In("input"),
            Params =
            [
                Req("kernelSize", "kernel_size", window) with { Property = "KernelSize" },
                Opt("stride", "stride", window, null) with { Property = "Stride" },
                Opt("padding", "padding", window, OpDefaults.Pool.Padding) with { Property = "Padding" },
                Opt("dilation", "dilation", window, OpDefaults.Pool.Dilation) with { Property = "Dilation" },
                Opt("ceilMode", "ceil_mode", ParamKind.Bool, OpDefaults.Pool.CeilMode) with { Property = "CeilMode" },
            ],
            Shape = c => PoolRule(c, max: true, spatial), Reads = BackwardReads.Saved, Saves = ["indices"], Compiled = true, Onnx = "MaxPool",
        };
    }

    /// <summary>The AvgPool1d/AvgPool2d row (<paramref name="spatial"/> 1 or 2); only the 2-d pool has PyTorch's <c>divisor_override</c>.</summary>
    private static OpRow AvgPoolRow(int spatial)
    {
        var window = spatial == 1 ? ParamKind.Int : ParamKind.IntPair;
        ScalarParam[] common =
        [
            Req("kernelSize", "kernel_size", window) with { Property = "KernelSize" },
            Opt("stride", "stride", window, null) with { Property = "Stride" },
            Opt("padding", "padding", window, OpDefaults.Pool.Padding) with { Property = "Padding" },
            Opt("ceilMode", "ceil_mode", ParamKind.Bool, OpDefaults.Pool.CeilMode) with { Property = "CeilMode" },
            Opt("countIncludePad", "count_include_pad", ParamKind.Bool, OpDefaults.Pool.CountIncludePad) with { Property = "CountIncludePad" },
        ];
        return new OpRow($"AvgPool{spatial}d", $"avg_pool{spatial}d", OpFamily.AvgPool, OpSurface.Functional)
        {
            Layer = $"AvgPool{spatial}d", Inputs = In("input"),
            Params = spatial == 1 ? common : [.. common, Opt("divisorOverride", "divisor_override", ParamKind.Int, null) with { Property = "DivisorOverride" }],
            Shape = c => PoolRule(c, max: false, spatial), Compiled = true, Onnx = "AveragePool",
        };
    }

    /// <summary>
    /// The output of a ConvTranspose1d/2d layer: [N, out_channels, (H−1)·s − 2p + d·(k−1) + output_padding + 1, …] (PyTorch's
    /// formula, <see cref="ShapeRules.TransposedOutputSize"/>); for the functional form the weight decides the channels and
    /// the window (<see cref="FunctionalConvTransposeRule"/>).
    /// </summary>
    internal static ShapeResult ConvTransposeRule(ShapeCall c, int spatial)
    {
        if (!c.IsLayer) return FunctionalConvTransposeRule(c, spatial);
        if (c.Input(0) is not { } s || s.Rank != spatial + 2 || c.Size("outChannels") is not { } outChannels) return ShapeResult.Unknown;
        if (c.Size("inChannels") is { } inChannels && s[1].DefinitelyDiffers(inChannels)) return ShapeResult.Unknown;
        var kernel = c.Pair("kernelSize");
        var stride = PairOr(c, "stride", (1, 1));
        var padding = PairOr(c, "padding", (0, 0));
        var dilation = PairOr(c, "dilation", (1, 1));
        var outputPadding = PairOr(c, "outputPadding", (0, 0));
        if (kernel is not { } k) return ShapeResult.Unknown;
        Dim Out(Dim size, int kk, int st, int pad, int dil, int op)
            => size.IsFixed && ShapeRules.TransposedOutputSize(size.Size, kk, st, pad, dil, op) is var o && o > 0 ? Dim.Of(o) : Dim.Unknown;
        return spatial == 1
            ? new TensorShape(s[0], outChannels, Out(s[2], k.H, stride.H, padding.H, dilation.H, outputPadding.H))
            : new TensorShape(s[0], outChannels, Out(s[2], k.H, stride.H, padding.H, dilation.H, outputPadding.H),
                Out(s[3], k.W, stride.W, padding.W, dilation.W, outputPadding.W));
    }

    private static ScalarParam[] ConvParams(ParamKind window) =>
    [
        Req("inChannels", "in_channels", ParamKind.Int, ParamUse.Layer) with { Property = "InChannels" },
        Req("outChannels", "out_channels", ParamKind.Int, ParamUse.Layer) with { Property = "OutChannels" },
        Req("kernelSize", "kernel_size", window, ParamUse.Layer) with { Property = "KernelSize" },
        Opt("stride", "stride", window, OpDefaults.Conv.Stride) with { Property = "Stride" },
        Opt("padding", "padding", window, OpDefaults.Conv.Padding) with { Property = "Padding" },
        Opt("dilation", "dilation", window, OpDefaults.Conv.Dilation) with { Property = "Dilation" },
        Opt("groups", "groups", ParamKind.Int, OpDefaults.Conv.Groups) with { Property = "Groups" },
        Opt("bias", "bias", ParamKind.Bool, OpDefaults.Conv.Bias, ParamUse.Layer),
    ];

    private static ScalarParam[] BatchNormParams() =>
    [
        Req("numFeatures", "num_features", ParamKind.Int, ParamUse.Layer) with { Property = "NumFeatures" },
        Opt("eps", "eps", ParamKind.Double, OpDefaults.Norm.Eps) with { Property = "Eps" },
        Opt("momentum", "momentum", ParamKind.Double, OpDefaults.Norm.Momentum) with { Property = "Momentum" },
        Opt("affine", "affine", ParamKind.Bool, true, ParamUse.Layer) with { Property = "Affine" },
        Opt("trackRunningStats", "track_running_stats", ParamKind.Bool, true, ParamUse.Layer) with { Property = "TrackRunningStats" },
        Opt("training", "training", ParamKind.Bool, false, ParamUse.Function),
    ];

    /// <summary>The layers of <c>torch.nn</c> and their functional forms.</summary>
    private static IEnumerable<OpRow> LayerRows() =>
    [
        new OpRow("Linear", "linear", OpFamily.Linear, OpSurface.Functional)
        {
            Layer = "Linear", Inputs = In("input", "weight", "bias?"), TensorArity = -1,
            Params =
            [
                Req("inFeatures", "in_features", ParamKind.Int, ParamUse.Layer) with { Property = "InFeatures" },
                Req("outFeatures", "out_features", ParamKind.Int, ParamUse.Layer) with { Property = "OutFeatures" },
                Opt("bias", "bias", ParamKind.Bool, true, ParamUse.Layer),
            ],
            // Functional.Linear(x, weight, bias): the sizes are the weight's [out, in].
            Shape = static c => c.IsLayer ? ShapeRules.Linear(c.Input(0), c.Size("inFeatures"), c.Size("outFeatures"))
                : c.Inputs.Count >= 2 && c.Input(1) is { Rank: 2 } w ? ShapeRules.Linear(c.Input(0), w[1], w[0]) : ShapeResult.Unknown,
            InputHint = static c => c.Size("inFeatures") is { } f ? new TensorShape(Batch, f) : null,
            Reads = BackwardReads.Input | BackwardReads.OtherInputs, Compiled = true, Onnx = "Gemm",
        },
        new OpRow("Conv1d", "conv1d", OpFamily.Conv, OpSurface.Functional)
        {
            Layer = "Conv1d", Inputs = In("input", "weight", "bias?"), TensorArity = -1, Params = ConvParams(ParamKind.Int),
            Shape = static c => ConvRule(c, 1),
            InputHint = static c => c.Size("inChannels") is { } ch ? new TensorShape(Batch, ch, Dim.Unknown) : null,
            Reads = BackwardReads.Input | BackwardReads.OtherInputs, Kernel = "Conv", Compiled = true, Onnx = "Conv",
        },
        new OpRow("Conv2d", "conv2d", OpFamily.Conv, OpSurface.Functional)
        {
            Layer = "Conv2d", Inputs = In("input", "weight", "bias?"), TensorArity = -1, Params = ConvParams(ParamKind.IntPair),
            Shape = static c => ConvRule(c, 2),
            InputHint = static c => c.Size("inChannels") is { } ch ? new TensorShape(Batch, ch, Dim.Unknown, Dim.Unknown) : null,
            Reads = BackwardReads.Input | BackwardReads.OtherInputs, Kernel = "Conv", Compiled = true, Onnx = "Conv",
        },
        new OpRow("ConvTranspose2d", "conv_transpose2d", OpFamily.ConvTranspose, OpSurface.Functional)
        {
            Layer = "ConvTranspose2d", Inputs = In("input", "weight", "bias?"), TensorArity = -1, Params = ConvTransposeParams(ParamKind.IntPair),
            Shape = static c => ConvTransposeRule(c, 2), Reads = BackwardReads.Input | BackwardReads.OtherInputs, Kernel = "Conv", Compiled = true,
            Onnx = "ConvTranspose",
        },
        MaxPoolRow(2),
        AvgPoolRow(2),
        new OpRow("AdaptiveAvgPool2d", "adaptive_avg_pool2d", OpFamily.AdaptivePool, OpSurface.Functional)
        {
            Layer = "AdaptiveAvgPool2d", Inputs = In("input"),
            Params = [Req("outputSize", "output_size", ParamKind.IntPair) with { Property = "OutputSize" }],
            Shape = static c => ShapeRules.AdaptivePool(c.Input(0), c.Pair("outputSize")), Compiled = true, Onnx = "GlobalAveragePool",
        },
        // The BatchNorm layers' rule and kernel, with the running statistics, weight and bias the call passes.
        new OpRow("BatchNorm", "batch_norm", OpFamily.BatchNorm, OpSurface.Functional)
        {
            Inputs = In("input", "!runningMean?", "!runningVar?", "weight?", "bias?"), TensorArity = -1, Params = BatchNormParams(),
            Shape = ShapeRules.SameAsInput, Reads = BackwardReads.Input | BackwardReads.Saved, Saves = ["mean", "invstd"],
            TensorsByName = true, Compiled = true,
        },
        new OpRow("BatchNorm1d", "batch_norm", OpFamily.BatchNorm, OpSurface.None)
        {
            Layer = "BatchNorm1d", Inputs = In("input"), Params = BatchNormParams(), Shape = ShapeRules.SameAsInput,
            InputHint = static c => c.Size("numFeatures") is { } f ? new TensorShape(Batch, f) : null,
            Reads = BackwardReads.Input | BackwardReads.Saved, Saves = ["mean", "invstd"], Compiled = true, Onnx = "BatchNormalization",
        },
        new OpRow("BatchNorm2d", "batch_norm", OpFamily.BatchNorm, OpSurface.None)
        {
            Layer = "BatchNorm2d", Inputs = In("input"), Params = BatchNormParams(), Shape = ShapeRules.SameAsInput,
            InputHint = static c => c.Size("numFeatures") is { } f ? new TensorShape(Batch, f, Dim.Unknown, Dim.Unknown) : null,
            Reads = BackwardReads.Input | BackwardReads.Saved, Saves = ["mean", "invstd"], Compiled = true, Onnx = "BatchNormalization",
        },
        new OpRow("LayerNorm", "layer_norm", OpFamily.LayerNorm, OpSurface.Functional)
        {
            Layer = "LayerNorm", Inputs = In("input", "weight?", "bias?"), TensorArity = -1,
            Params =
            [
                Req("normalizedShape", "normalized_shape", ParamKind.Ints) with { Property = "NormalizedShape" },
                Opt("eps", "eps", ParamKind.Double, OpDefaults.Norm.Eps) with { Property = "Eps" },
                Opt("elementwiseAffine", "elementwise_affine", ParamKind.Bool, true, ParamUse.Layer) with { Property = "ElementwiseAffine" },
                Opt("bias", "bias", ParamKind.Bool, true, ParamUse.Layer),
            ],
            Shape = ShapeRules.SameAsInput, Reads = BackwardReads.Input | BackwardReads.Saved, Saves = ["mean", "invstd"], Compiled = true,
            Onnx = "LayerNormalization",
        },
        new OpRow("Embedding", "embedding", OpFamily.Embedding, OpSurface.Functional)
        {
            Layer = "Embedding", Inputs = In("!indices", "weight"), TensorArity = 2,
            Params =
            [
                Req("numEmbeddings", "num_embeddings", ParamKind.Int, ParamUse.Layer) with { Property = "NumEmbeddings" },
                Req("embeddingDim", "embedding_dim", ParamKind.Int, ParamUse.Layer) with { Property = "EmbeddingDim" },
                Opt("paddingIdx", "padding_idx", ParamKind.Int, null) with { Property = "PaddingIdx" },
            ],
            Shape = static c => c.IsLayer ? ShapeRules.Embedding(c.Input(0), c.Size("embeddingDim")) : ShapeResult.Unknown,
            InputHint = static _ => new TensorShape(Batch, Dim.Unknown),
            Reads = BackwardReads.Input, Compiled = true, Onnx = "Gather",
        },
        new OpRow("Dropout", "dropout", OpFamily.Dropout, OpSurface.Functional)
        {
            Layer = "Dropout", Inputs = In("input"),
            Params =
            [
                Opt("p", "p", ParamKind.Double, OpDefaults.Dropout.P) with { Property = "P" },
                Opt("training", "training", ParamKind.Bool, true, ParamUse.Function),
            ],
            Shape = ShapeRules.SameAsInput, Reads = BackwardReads.Saved, Saves = ["mask"], Compiled = true, Onnx = "Dropout",
        },
        new OpRow("Softmax", "softmax", OpFamily.Softmax, OpSurface.Tensor | OpSurface.Functional)
        {
            Layer = "Softmax", Inputs = In("input"), Params = [Req("dim", "dim", ParamKind.Int) with { Property = "Dim" }],
            Shape = ShapeRules.SameAsInput, Reads = BackwardReads.Output, Compiled = true, Onnx = "Softmax",
        },
        new OpRow("LogSoftmax", "log_softmax", OpFamily.Softmax, OpSurface.Tensor | OpSurface.Functional)
        {
            Layer = "LogSoftmax", Inputs = In("input"), Params = [Req("dim", "dim", ParamKind.Int) with { Property = "Dim" }],
            Shape = ShapeRules.SameAsInput, Reads = BackwardReads.Output, Variant = true, Compiled = true, Onnx = "LogSoftmax",
        },
        new OpRow("Identity", "identity", OpFamily.Identity, OpSurface.None)
        {
            Layer = "Identity", Inputs = In("input"), Shape = ShapeRules.SameAsInput, Compiled = true, Onnx = "Identity",
        },
        new OpRow("Glu", "glu", OpFamily.Glu, OpSurface.Functional)
        {
            Layer = "GLU", Inputs = In("input"),
            Params = [Opt("dim", "dim", ParamKind.Int, OpDefaults.Glu.Dim) with { Property = "Dim" }],
            Shape = static c => c.Int("dim") is { } d ? ShapeRules.Glu(c.Input(0), d) : ShapeResult.Unknown,
            Reads = BackwardReads.Input, Kernel = "GluKernel", Compiled = true,
        },
        new OpRow("Prelu", "prelu", OpFamily.Prelu, OpSurface.Functional)
        {
            Layer = "PReLU", Inputs = In("input", "weight"), TensorArity = 2,
            Params =
            [
                Opt("numParameters", "num_parameters", ParamKind.Int, OpDefaults.Prelu.NumParameters, ParamUse.Layer) with { Property = "NumParameters" },
                Opt("init", "init", ParamKind.Double, OpDefaults.Prelu.Init, ParamUse.Layer),
            ],
            Shape = ShapeRules.SameAsInput, Reads = BackwardReads.Input | BackwardReads.OtherInputs, Kernel = "PreluOp", Compiled = true,
            Onnx = "PRelu",
        },
    ];
}
