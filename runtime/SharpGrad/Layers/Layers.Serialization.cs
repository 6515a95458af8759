using SharpGrad.Serialization;

// How the built-in layers describe themselves for Module.Save / Sequential.Load (see LayerRegistry).
// One partial per layer: its kind and constructor arguments by PyTorch name, and its factory.

namespace SharpGrad.Layers
{
    public sealed partial class ReLU : ISerializableLayer
    {
        /// <inheritdoc/>
        string ISerializableLayer.LayerKind => "ReLU";

        /// <inheritdoc/>
        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> { ["inplace"] = Inplace };
    }

    public sealed partial class LeakyReLU : ISerializableLayer
    {
        /// <inheritdoc/>
        string ISerializableLayer.LayerKind => "LeakyReLU";

        /// <inheritdoc/>
        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> { ["negative_slope"] = NegativeSlope, ["inplace"] = Inplace };
    }

    public sealed partial class ELU : ISerializableLayer
    {
        /// <inheritdoc/>
        string ISerializableLayer.LayerKind => "ELU";

        /// <inheritdoc/>
        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> { ["alpha"] = Alpha, ["inplace"] = Inplace };
    }

    public sealed partial class GELU : ISerializableLayer
    {
        /// <inheritdoc/>
        string ISerializableLayer.LayerKind => "GELU";

        /// <inheritdoc/>
        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> { ["approximate"] = Approximate };
    }

    public sealed partial class SiLU : ISerializableLayer
    {
        /// <inheritdoc/>
        string ISerializableLayer.LayerKind => "SiLU";

        /// <inheritdoc/>
        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> { ["inplace"] = Inplace };
    }

    public sealed partial class Sigmoid : ISerializableLayer
    {
        /// <inheritdoc/>
        string ISerializableLayer.LayerKind => "Sigmoid";

        /// <inheritdoc/>
        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> {  };
    }

    public sealed partial class Tanh : ISerializableLayer
    {
        /// <inheritdoc/>
        string ISerializableLayer.LayerKind => "Tanh";

        /// <inheritdoc/>
        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> {  };
    }

    public sealed partial class Softplus : ISerializableLayer
    {
        /// <inheritdoc/>
        string ISerializableLayer.LayerKind => "Softplus";

        /// <inheritdoc/>
        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> { ["beta"] = Beta, ["threshold"] = Threshold };
    }

    public sealed partial class Hardtanh : ISerializableLayer
    {
        /// <inheritdoc/>
        string ISerializableLayer.LayerKind => "Hardtanh";

        /// <inheritdoc/>
        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> { ["min_val"] = MinVal, ["max_val"] = MaxVal, ["inplace"] = Inplace };
    }

    public sealed partial class ReLU6 : ISerializableLayer
    {
        /// <inheritdoc/>
        string ISerializableLayer.LayerKind => "ReLU6";

        /// <inheritdoc/>
        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> { ["inplace"] = Inplace };
    }

    public sealed partial class Softmax : ISerializableLayer
    {
        /// <inheritdoc/>
        string ISerializableLayer.LayerKind => "Softmax";

        /// <inheritdoc/>
        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> { ["dim"] = Dim };
    }

    public sealed partial class LogSoftmax : ISerializableLayer
    {
        /// <inheritdoc/>
        string ISerializableLayer.LayerKind => "LogSoftmax";

        /// <inheritdoc/>
        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> { ["dim"] = Dim };
    }

    public sealed partial class Identity : ISerializableLayer
    {
        /// <inheritdoc/>
        string ISerializableLayer.LayerKind => "Identity";

        /// <inheritdoc/>
        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> {  };
    }

    public sealed partial class Flatten : ISerializableLayer
    {
        /// <inheritdoc/>
        string ISerializableLayer.LayerKind => "Flatten";

        /// <inheritdoc/>
        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> { ["start_dim"] = StartDim, ["end_dim"] = EndDim };
    }

    public sealed partial class Softshrink : ISerializableLayer
    {
        /// <inheritdoc/>
        string ISerializableLayer.LayerKind => "Softshrink";

        /// <inheritdoc/>
        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> { ["lambd"] = Lambd };
    }

    public sealed partial class Hardshrink : ISerializableLayer
    {
        /// <inheritdoc/>
        string ISerializableLayer.LayerKind => "Hardshrink";

        /// <inheritdoc/>
        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> { ["lambd"] = Lambd };
    }

    public sealed partial class GLU : ISerializableLayer
    {
        /// <inheritdoc/>
        string ISerializableLayer.LayerKind => "GLU";

        /// <inheritdoc/>
        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> { ["dim"] = Dim };
    }

    public sealed partial class PReLU : ISerializableLayer
    {
        /// <inheritdoc/>
        string ISerializableLayer.LayerKind => "PReLU";

        /// <inheritdoc/>
        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["num_parameters"] = NumParameters, ["init"] = Init, ["dtype"] = Weight.DType.ToString(),
        };
    }
}

namespace SharpGrad.Serialization
{
    internal static partial class BuiltInLayers
    {
        static partial void RegisterLayers()
        {
            RegisterActivationsAndBasics();
            RegisterNnLayers();
            RegisterSequenceLayers();
            RegisterPrimitiveLayers();
        }

        private static void RegisterActivationsAndBasics()
        {
            LayerRegistry.Register("ReLU", a => new SharpGrad.Layers.ReLU(SharpGrad.Layers.LayerArgs.Bool(a, "inplace")));
            LayerRegistry.Register("LeakyReLU", a => new SharpGrad.Layers.LeakyReLU(SharpGrad.Layers.LayerArgs.Double(a, "negative_slope"), SharpGrad.Layers.LayerArgs.Bool(a, "inplace")));
            LayerRegistry.Register("ELU", a => new SharpGrad.Layers.ELU(SharpGrad.Layers.LayerArgs.Double(a, "alpha"), SharpGrad.Layers.LayerArgs.Bool(a, "inplace")));
            LayerRegistry.Register("GELU", a => new SharpGrad.Layers.GELU(SharpGrad.Layers.LayerArgs.String(a, "approximate")));
            LayerRegistry.Register("SiLU", a => new SharpGrad.Layers.SiLU(SharpGrad.Layers.LayerArgs.Bool(a, "inplace")));
            LayerRegistry.Register("Sigmoid", a => new SharpGrad.Layers.Sigmoid());
            LayerRegistry.Register("Tanh", a => new SharpGrad.Layers.Tanh());
            LayerRegistry.Register("Softplus", a => new SharpGrad.Layers.Softplus(SharpGrad.Layers.LayerArgs.Double(a, "beta"), SharpGrad.Layers.LayerArgs.Double(a, "threshold")));
            LayerRegistry.Register("Hardtanh", a => new SharpGrad.Layers.Hardtanh(SharpGrad.Layers.LayerArgs.Double(a, "min_val"), SharpGrad.Layers.LayerArgs.Double(a, "max_val"), SharpGrad.Layers.LayerArgs.Bool(a, "inplace")));
            LayerRegistry.Register("ReLU6", a => new SharpGrad.Layers.ReLU6(SharpGrad.Layers.LayerArgs.Bool(a, "inplace")));
            LayerRegistry.Register("Softmax", a => new SharpGrad.Layers.Softmax(a.GetInt("dim")));
            LayerRegistry.Register("LogSoftmax", a => new SharpGrad.Layers.LogSoftmax(a.GetInt("dim")));
            LayerRegistry.Register("Identity", a => new SharpGrad.Layers.Identity());
            LayerRegistry.Register("Flatten", a => new SharpGrad.Layers.Flatten(SharpGrad.Layers.LayerArgs.Int(a, "start_dim"), SharpGrad.Layers.LayerArgs.Int(a, "end_dim")));
            LayerRegistry.Register("Softshrink", a => new SharpGrad.Layers.Softshrink(SharpGrad.Layers.LayerArgs.Double(a, "lambd")));
            LayerRegistry.Register("Hardshrink", a => new SharpGrad.Layers.Hardshrink(SharpGrad.Layers.LayerArgs.Double(a, "lambd")));
            LayerRegistry.Register("GLU", a => new SharpGrad.Layers.GLU(SharpGrad.Layers.LayerArgs.Int(a, "dim")));
            LayerRegistry.Register("PReLU", a => new SharpGrad.Layers.PReLU(
                SharpGrad.Layers.LayerArgs.Int(a, "num_parameters"), SharpGrad.Layers.LayerArgs.Double(a, "init"), SharpGrad.Layers.LayerArgs.DType(a)));
        }

        /// <summary>Linear, convolution and pooling layers; filled in once they exist.</summary>
        static partial void RegisterNnLayers();

        /// <summary>Attention, Transformer and recurrent layers (SequenceLayers.Serialization.cs).</summary>
        static partial void RegisterSequenceLayers();

        /// <summary>Resampling, padding, group/instance/RMS norm, Dropout2d, 1-d pooling, ConvTranspose1d (PrimitiveLayers.Serialization.cs).</summary>
        static partial void RegisterPrimitiveLayers();
    }
}
