using SharpGrad.Serialization;

// How the attention, Transformer and recurrent layers (and Unflatten, CTCLoss) describe themselves for Module.Save /
// Sequential.Load (see LayerRegistry): the kind, the constructor arguments by PyTorch name, and the factory.

namespace SharpGrad.Layers
{
    public sealed partial class MultiheadAttention : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "MultiheadAttention";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["embed_dim"] = EmbedDim, ["num_heads"] = NumHeads, ["dropout"] = Dropout, ["bias"] = InProjBias is not null, ["kdim"] = Kdim,
            ["vdim"] = Vdim, ["batch_first"] = BatchFirst, ["dtype"] = OutProj.Weight.DType.ToString(),
        };
    }

    public sealed partial class TransformerEncoderLayer : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "TransformerEncoderLayer";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => SequenceLayerArgs.Transformer(this, Linear1.Weight.DType);
    }

    public sealed partial class TransformerDecoderLayer : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "TransformerDecoderLayer";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => SequenceLayerArgs.Transformer(this, Linear1.Weight.DType);
    }

    public sealed partial class TransformerEncoder : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "TransformerEncoder";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => SequenceLayerArgs.Stack(Layers[0], Layers[0].Linear1.Weight.DType, NumLayers, Norm);
    }

    public sealed partial class TransformerDecoder : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "TransformerDecoder";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => SequenceLayerArgs.Stack(Layers[0], Layers[0].Linear1.Weight.DType, NumLayers, Norm);
    }

    public sealed partial class Transformer : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "Transformer";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments
        {
            get
            {
                var d = SequenceLayerArgs.Transformer(Encoder.Layers[0], Encoder.Layers[0].Linear1.Weight.DType);
                d["num_encoder_layers"] = Encoder.NumLayers;
                d["num_decoder_layers"] = Decoder.NumLayers;
                return d;
            }
        }
    }

    public sealed partial class RNN : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "RNN";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments
        {
            get
            {
                var d = SequenceLayerArgs.Recurrent(this);
                d["nonlinearity"] = Nonlinearity;
                return d;
            }
        }
    }

    public sealed partial class LSTM : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "LSTM";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => SequenceLayerArgs.Recurrent(this);
    }

    public sealed partial class GRU : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "GRU";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => SequenceLayerArgs.Recurrent(this);
    }

    public sealed partial class RNNCell : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "RNNCell";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["input_size"] = InputSize, ["hidden_size"] = HiddenSize, ["bias"] = BiasIh is not null, ["nonlinearity"] = Nonlinearity, ["dtype"] = WeightIh.DType.ToString(),
        };
    }

    public sealed partial class LSTMCell : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "LSTMCell";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["input_size"] = InputSize, ["hidden_size"] = HiddenSize, ["bias"] = BiasIh is not null, ["dtype"] = WeightIh.DType.ToString(),
        };
    }

    public sealed partial class GRUCell : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "GRUCell";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?>
        {
            ["input_size"] = InputSize, ["hidden_size"] = HiddenSize, ["bias"] = BiasIh is not null, ["dtype"] = WeightIh.DType.ToString(),
        };
    }

    public sealed partial class Unflatten : ISerializableLayer
    {
        string ISerializableLayer.LayerKind => "Unflatten";

        IReadOnlyDictionary<string, object?> ISerializableLayer.LayerArguments => new Dictionary<string, object?> { ["dim"] = Dim, ["unflattened_size"] = UnflattenedSize };
    }

    internal static class SequenceLayerArgs
    {
        public static Dictionary<string, object?> Transformer(TransformerLayerBase l, DType dtype) => new()
        {
            ["d_model"] = l.DModel, ["nhead"] = l.Nhead, ["dim_feedforward"] = l.DimFeedforward, ["dropout"] = l.DropoutP, ["activation"] = l.Activation,
            ["layer_norm_eps"] = l.LayerNormEps, ["batch_first"] = l.BatchFirst, ["norm_first"] = l.NormFirst, ["dtype"] = dtype.ToString(),
        };

        /// <summary>A stack's arguments: its layers' settings, the layer count and the final LayerNorm's eps (absent without one).</summary>
        public static Dictionary<string, object?> Stack(TransformerLayerBase first, DType dtype, int numLayers, LayerNorm? norm)
        {
            var d = Transformer(first, dtype);
            d["num_layers"] = numLayers;
            d["norm_eps"] = norm?.Eps;
            return d;
        }

        public static Dictionary<string, object?> Recurrent(RNNBase r) => new()
        {
            ["input_size"] = r.InputSize, ["hidden_size"] = r.HiddenSize, ["num_layers"] = r.NumLayers, ["bias"] = r.Bias, ["batch_first"] = r.BatchFirst,
            ["dropout"] = r.Dropout, ["bidirectional"] = r.Bidirectional, ["dtype"] = r.AllWeights[0][0].DType.ToString(),
        };

        public static TransformerEncoderLayer EncoderLayer(LayerArguments a) => new(a.GetInt("d_model"), a.GetInt("nhead"), a.GetInt("dim_feedforward", 2048),
            a.GetDouble("dropout", 0.1), a.GetString("activation", "relu"), a.GetDouble("layer_norm_eps", 1e-5), a.GetBool("batch_first", false),
            a.GetBool("norm_first", false), dtype: LayerArgs.DType(a));

        public static TransformerDecoderLayer DecoderLayer(LayerArguments a) => new(a.GetInt("d_model"), a.GetInt("nhead"), a.GetInt("dim_feedforward", 2048),
            a.GetDouble("dropout", 0.1), a.GetString("activation", "relu"), a.GetDouble("layer_norm_eps", 1e-5), a.GetBool("batch_first", false),
            a.GetBool("norm_first", false), dtype: LayerArgs.DType(a));

        public static LayerNorm? FinalNorm(LayerArguments a) =>
            a.Has("norm_eps") ? new LayerNorm(a.GetInt("d_model"), a.GetDouble("norm_eps"), dtype: LayerArgs.DType(a)) : null;
    }
}

namespace SharpGrad.Serialization
{
    using SharpGrad.Layers;

    internal static partial class BuiltInLayers
    {
        static partial void RegisterSequenceLayers()
        {
            LayerRegistry.Register("MultiheadAttention", a => new MultiheadAttention(a.GetInt("embed_dim"), a.GetInt("num_heads"), a.GetDouble("dropout", 0),
                a.GetBool("bias", true), LayerArgs.NullableInt(a, "kdim"), LayerArgs.NullableInt(a, "vdim"), a.GetBool("batch_first", false), dtype: LayerArgs.DType(a)));
            LayerRegistry.Register("TransformerEncoderLayer", SequenceLayerArgs.EncoderLayer);
            LayerRegistry.Register("TransformerDecoderLayer", SequenceLayerArgs.DecoderLayer);
            LayerRegistry.Register("TransformerEncoder", a => new TransformerEncoder(Module.SkipInit(() => SequenceLayerArgs.EncoderLayer(a)), a.GetInt("num_layers"),
                SequenceLayerArgs.FinalNorm(a)));
            LayerRegistry.Register("TransformerDecoder", a => new TransformerDecoder(Module.SkipInit(() => SequenceLayerArgs.DecoderLayer(a)), a.GetInt("num_layers"),
                SequenceLayerArgs.FinalNorm(a)));
            LayerRegistry.Register("Transformer", a => new Transformer(a.GetInt("d_model"), a.GetInt("nhead"), a.GetInt("num_encoder_layers", 6),
                a.GetInt("num_decoder_layers", 6), a.GetInt("dim_feedforward", 2048), a.GetDouble("dropout", 0.1), a.GetString("activation", "relu"),
                a.GetDouble("layer_norm_eps", 1e-5), a.GetBool("batch_first", false), a.GetBool("norm_first", false), dtype: LayerArgs.DType(a)));
            LayerRegistry.Register("RNN", a => new RNN(a.GetInt("input_size"), a.GetInt("hidden_size"), a.GetInt("num_layers", 1), a.GetString("nonlinearity", "tanh"),
                a.GetBool("bias", true), a.GetBool("batch_first", false), a.GetDouble("dropout", 0), a.GetBool("bidirectional", false), dtype: LayerArgs.DType(a)));
            LayerRegistry.Register("LSTM", a => new LSTM(a.GetInt("input_size"), a.GetInt("hidden_size"), a.GetInt("num_layers", 1), a.GetBool("bias", true),
                a.GetBool("batch_first", false), a.GetDouble("dropout", 0), a.GetBool("bidirectional", false), dtype: LayerArgs.DType(a)));
            LayerRegistry.Register("GRU", a => new GRU(a.GetInt("input_size"), a.GetInt("hidden_size"), a.GetInt("num_layers", 1), a.GetBool("bias", true),
                a.GetBool("batch_first", false), a.GetDouble("dropout", 0), a.GetBool("bidirectional", false), dtype: LayerArgs.DType(a)));
            LayerRegistry.Register("RNNCell", a => new RNNCell(a.GetInt("input_size"), a.GetInt("hidden_size"), a.GetBool("bias", true), a.GetString("nonlinearity", "tanh"),
                dtype: LayerArgs.DType(a)));
            LayerRegistry.Register("LSTMCell", a => new LSTMCell(a.GetInt("input_size"), a.GetInt("hidden_size"), a.GetBool("bias", true), dtype: LayerArgs.DType(a)));
            LayerRegistry.Register("GRUCell", a => new GRUCell(a.GetInt("input_size"), a.GetInt("hidden_size"), a.GetBool("bias", true), dtype: LayerArgs.DType(a)));
            LayerRegistry.Register("Unflatten", a => new Unflatten(a.GetInt("dim"), a.GetInts("unflattened_size")));
        }
    }
}
