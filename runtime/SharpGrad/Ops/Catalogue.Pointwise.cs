// Shared source (runtime, generator, analyzers): see Dim.cs.
using System.Collections.Generic;

namespace SharpGrad.Ops;

/// <summary>
/// The defaults of the ops' scalar parameters, written once: the Functional signatures, the layer constructors, the
/// serialization registry and the catalogue rows all name these constants.
/// </summary>
internal static partial class OpDefaults
{
    /// <summary>PyTorch: <c>leaky_relu(negative_slope=0.01)</c>.</summary>
    public static class LeakyRelu
    {
        public const double NegativeSlope = 0.01;
    }

    /// <summary>PyTorch: <c>elu(alpha=1.0)</c>.</summary>
    public static class Elu
    {
        public const double Alpha = 1.0;
    }

    /// <summary>PyTorch: <c>celu(alpha=1.0)</c>.</summary>
    public static class Celu
    {
        public const double Alpha = 1.0;
    }

    /// <summary>PyTorch: <c>gelu(approximate='none')</c>.</summary>
    public static class Gelu
    {
        public const string Approximate = "none";
    }

    /// <summary>PyTorch: <c>softplus(beta=1.0, threshold=20.0)</c>.</summary>
    public static class Softplus
    {
        public const double Beta = 1.0;
        public const double Threshold = 20.0;
    }

    /// <summary>PyTorch: <c>hardtanh(min_val=-1.0, max_val=1.0)</c>.</summary>
    public static class Hardtanh
    {
        public const double MinVal = -1.0;
        public const double MaxVal = 1.0;
    }

    /// <summary>PyTorch: <c>softshrink(lambd=0.5)</c>.</summary>
    public static class Softshrink
    {
        public const double Lambd = 0.5;
    }

    /// <summary>PyTorch: <c>hardshrink(lambd=0.5)</c>.</summary>
    public static class Hardshrink
    {
        public const double Lambd = 0.5;
    }
}

internal static partial class OpCatalogue
{
    private static OpRow Pointwise(string name, string pyTorchName, OpSurface surface, BackwardReads reads, params ScalarParam[] parameters)
        => new(name, pyTorchName, OpFamily.Pointwise, surface)
        {
            Params = parameters,
            Inputs = In("input"),
            Shape = ShapeRules.SameAsInput,
            Reads = reads,
            Kernel = name + "Op",
            Compiled = true,
        };

    private static OpRow Composite(string name, string pyTorchName, OpSurface surface, params ScalarParam[] parameters)
        => new(name, pyTorchName, OpFamily.Composite, surface)
        {
            Params = parameters,
            Inputs = In("input"),
            Shape = ShapeRules.SameAsInput,
        };

    private const OpSurface F = OpSurface.Functional;
    private const OpSurface T = OpSurface.Tensor;
    private const OpSurface TF = OpSurface.Tensor | OpSurface.Functional;

    /// <summary>Activations and pointwise math: one <c>IPointwiseOp</c> kernel each (runtime/SharpGrad/Kernels/Pointwise*.cs).</summary>
    private static IEnumerable<OpRow> PointwiseRows() =>
    [
        Pointwise("Relu", "relu", TF, BackwardReads.Output) with { Layer = "ReLU", Params = [Inplace()], Onnx = "Relu", FusesIntoGemm = true },
        Pointwise("Relu6", "relu6", F, BackwardReads.Input) with { Layer = "ReLU6", Params = [Inplace()] },
        Pointwise("Sigmoid", "sigmoid", TF, BackwardReads.Output) with { Layer = "Sigmoid", Onnx = "Sigmoid" },
        Pointwise("Tanh", "tanh", TF, BackwardReads.Output) with { Layer = "Tanh", Onnx = "Tanh" },
        Pointwise("LeakyRelu", "leaky_relu", F, BackwardReads.Input,
            Opt("negativeSlope", "negative_slope", ParamKind.Double, OpDefaults.LeakyRelu.NegativeSlope) with { Property = "NegativeSlope", KernelSlot = 0 },
            Inplace()) with { Layer = "LeakyReLU", Onnx = "LeakyRelu" },
        Pointwise("Elu", "elu", F, BackwardReads.Input | BackwardReads.Output,
            Opt("alpha", "alpha", ParamKind.Double, OpDefaults.Elu.Alpha) with { Property = "Alpha", KernelSlot = 0 },
            Inplace()) with { Layer = "ELU", Onnx = "Elu" },
        Pointwise("Gelu", "gelu", F, BackwardReads.Input,
            Opt("approximate", "approximate", ParamKind.Choice, OpDefaults.Gelu.Approximate) with
            {
                Property = "Approximate", KernelSlot = 0, Choices = ["none", "tanh"],
            }) with { Layer = "GELU", Onnx = "Gelu" },
        Pointwise("Silu", "silu", F, BackwardReads.Input, Inplace()) with { Layer = "SiLU" },
        Pointwise("Softplus", "softplus", F, BackwardReads.Input,
            Opt("beta", "beta", ParamKind.Double, OpDefaults.Softplus.Beta) with { Property = "Beta", KernelSlot = 0 },
            Opt("threshold", "threshold", ParamKind.Double, OpDefaults.Softplus.Threshold) with { Property = "Threshold", KernelSlot = 1 })
            with { Layer = "Softplus", Onnx = "Softplus" },
        Pointwise("Hardtanh", "hardtanh", F, BackwardReads.Input,
            Opt("minVal", "min_val", ParamKind.Double, OpDefaults.Hardtanh.MinVal) with { Property = "MinVal", KernelSlot = 0 },
            Opt("maxVal", "max_val", ParamKind.Double, OpDefaults.Hardtanh.MaxVal) with { Property = "MaxVal", KernelSlot = 1 },
            Inplace()) with { Layer = "Hardtanh", Onnx = "Clip" },
        Pointwise("LogSigmoid", "logsigmoid", F, BackwardReads.Input) with { Layer = "LogSigmoid" },
        Pointwise("Softshrink", "softshrink", F, BackwardReads.Input,
            Opt("lambd", "lambd", ParamKind.Double, OpDefaults.Softshrink.Lambd) with { Property = "Lambd", KernelSlot = 0 })
            with { Layer = "Softshrink", Onnx = "Shrink" },
        Pointwise("Hardshrink", "hardshrink", F, BackwardReads.Input,
            Opt("lambd", "lambd", ParamKind.Double, OpDefaults.Hardshrink.Lambd) with { Property = "Lambd", KernelSlot = 0 })
            with { Layer = "Hardshrink", Onnx = "Shrink" },

        Pointwise("Exp", "exp", T, BackwardReads.Output) with { Onnx = "Exp" },
        Pointwise("Log", "log", T, BackwardReads.Input) with { Onnx = "Log" },
        Pointwise("Sqrt", "sqrt", T, BackwardReads.Output) with { Onnx = "Sqrt" },
        Pointwise("Rsqrt", "rsqrt", T, BackwardReads.Output),
        Pointwise("Abs", "abs", T, BackwardReads.Input) with { Onnx = "Abs" },
        Pointwise("Neg", "neg", T, BackwardReads.None) with { Operator = "-", Onnx = "Neg" },
        Pointwise("Sign", "sign", T, BackwardReads.None) with { Onnx = "Sign" },
        Pointwise("Reciprocal", "reciprocal", T, BackwardReads.Output) with { Onnx = "Reciprocal" },
        Pointwise("Sin", "sin", T, BackwardReads.Input) with { Onnx = "Sin" },
        Pointwise("Cos", "cos", T, BackwardReads.Input) with { Onnx = "Cos" },
        Pointwise("Log1p", "log1p", T, BackwardReads.Input),
        Pointwise("Expm1", "expm1", T, BackwardReads.Output),
        Pointwise("Erf", "erf", T, BackwardReads.Input) with { Onnx = "Erf" },
        Pointwise("PowScalar", "pow", T, BackwardReads.Input,
            Req("exponent", "exponent", ParamKind.Double) with { KernelSlot = 0 }) with { Method = "Pow", Onnx = "Pow" },
        Pointwise("RemainderScalar", "remainder", T, BackwardReads.None,
            Req("other", "other", ParamKind.Double) with { KernelSlot = 0 }) with { Method = "Remainder" },
        Pointwise("FmodScalar", "fmod", T, BackwardReads.None,
            Req("other", "other", ParamKind.Double) with { KernelSlot = 0 }) with { Method = "Fmod" },
        Pointwise("Clamp", "clamp", T, BackwardReads.Input,
            Opt("min", "min", ParamKind.Double, null) with { KernelSlot = 0 },
            Opt("max", "max", ParamKind.Double, null) with { KernelSlot = 1 }) with { Onnx = "Clip" },

        // Clamp with one bound and pow with exponent 2: the kernels of Clamp and PowScalar with the row's fixed arguments.
        Pointwise("ClampMin", "clamp_min", T, BackwardReads.Input, Req("min", "min", ParamKind.Double) with { KernelSlot = 0 })
            with { Kernel = "ClampOp", KernelArguments = [double.NaN, double.NaN] },
        Pointwise("ClampMax", "clamp_max", T, BackwardReads.Input, Req("max", "max", ParamKind.Double) with { KernelSlot = 1 })
            with { Kernel = "ClampOp", KernelArguments = [double.NaN, double.NaN] },
        Pointwise("Square", "square", T, BackwardReads.Input) with { Kernel = "PowScalarOp", KernelArguments = [2.0] },
        Pointwise("Selu", "selu", F, BackwardReads.Input | BackwardReads.Output, Inplace()) with { Layer = "SELU" },
        Pointwise("Celu", "celu", F, BackwardReads.Input | BackwardReads.Output,
            Opt("alpha", "alpha", ParamKind.Double, OpDefaults.Celu.Alpha) with { Property = "Alpha", KernelSlot = 0 }, Inplace())
            with { Layer = "CELU" },
        Pointwise("Mish", "mish", F, BackwardReads.Input, Inplace()) with { Layer = "Mish" },
        Pointwise("Softsign", "softsign", F, BackwardReads.Input) with { Layer = "Softsign" },
        Pointwise("Hardsigmoid", "hardsigmoid", F, BackwardReads.Input, Inplace()) with { Layer = "Hardsigmoid" },
        Pointwise("Hardswish", "hardswish", F, BackwardReads.Input, Inplace()) with { Layer = "Hardswish" },
        // softmin(x) = softmax(−x): the softmax kernel of the negated input (KernelArguments: the input's scale, −1).
        new OpRow("Softmin", "softmin", OpFamily.Softmax, F)
        {
            Layer = "Softmin", Inputs = In("input"), Params = [Req("dim", "dim", ParamKind.Int) with { Property = "Dim" }],
            Shape = ShapeRules.SameAsInput, Reads = BackwardReads.Output, KernelArguments = [-1.0], Compiled = true,
        },
    ];
}
