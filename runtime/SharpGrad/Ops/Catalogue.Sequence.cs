// Shared source (runtime, generator, analyzers): see Dim.cs.
using System.Collections.Generic;

namespace SharpGrad.Ops;

internal static partial class OpDefaults
{
    /// <summary>PyTorch: <c>nn.RNN/LSTM/GRU(num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False)</c>.</summary>
    public static class Recurrent
    {
        public const int NumLayers = 1;
        public const bool Bias = true;
        public const bool BatchFirst = false;
        public const double Dropout = 0.0;
        public const bool Bidirectional = false;
        public const string Nonlinearity = "tanh";
    }

    /// <summary>PyTorch: <c>nn.TransformerEncoderLayer(dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5, batch_first=False, norm_first=False)</c>.</summary>
    public static class TransformerLayer
    {
        public const int DimFeedforward = 2048;
        public const double Dropout = 0.1;
        public const string Activation = "relu";
        public const double LayerNormEps = 1e-5;
        public const bool BatchFirst = false;
        public const bool NormFirst = false;
    }
}

internal static partial class OpCatalogue
{
    /// <summary>The constructor parameters PyTorch's <c>RNNBase</c> layers share (RNN adds <c>nonlinearity</c> after num_layers).</summary>
    private static ScalarParam[] RecurrentParams(bool nonlinearity)
    {
        var list = new List<ScalarParam>
        {
            Req("inputSize", "input_size", ParamKind.Int, ParamUse.Layer) with { Property = "InputSize" },
            Req("hiddenSize", "hidden_size", ParamKind.Int, ParamUse.Layer) with { Property = "HiddenSize" },
            Opt("numLayers", "num_layers", ParamKind.Int, OpDefaults.Recurrent.NumLayers, ParamUse.Layer) with { Property = "NumLayers" },
        };
        if (nonlinearity)
        {
            list.Add(Opt("nonlinearity", "nonlinearity", ParamKind.Choice, OpDefaults.Recurrent.Nonlinearity, ParamUse.Layer) with
            {
                Property = "Nonlinearity", Choices = ["tanh", "relu"],
            });
        }
        list.Add(Opt("bias", "bias", ParamKind.Bool, OpDefaults.Recurrent.Bias, ParamUse.Layer) with { Property = "Bias" });
        list.Add(Opt("batchFirst", "batch_first", ParamKind.Bool, OpDefaults.Recurrent.BatchFirst, ParamUse.Layer) with { Property = "BatchFirst" });
        list.Add(Opt("dropout", "dropout", ParamKind.Double, OpDefaults.Recurrent.Dropout, ParamUse.Layer) with { Property = "Dropout" });
        list.Add(Opt("bidirectional", "bidirectional", ParamKind.Bool, OpDefaults.Recurrent.Bidirectional, ParamUse.Layer) with { Property = "Bidirectional" });
        return list.ToArray();
    }

    /// <summary>
    /// The output sequence of a recurrent stack: [N, T, I] (batch first) or [T, N, I] → the same with directions·hidden features.
    /// PyTorch's unbatched call: [T, I] → [T, directions·hidden] (session 13).
    /// </summary>
    private static ShapeResult RecurrentRule(ShapeCall c)
    {
        if (c.Input(0) is not { Rank: 2 or 3 } input || c.Size("hiddenSize") is not { } hidden) return ShapeResult.Unknown;
        int directions = c.Flag("bidirectional") == true ? 2 : 1;
        return ShapeRules.Linear(input, c.Size("inputSize"), hidden.Times(directions));
    }

    /// <summary>
    /// The final states h_n (and LSTM's c_n) of a recurrent stack called on an input of shape <c>c.Input(0)</c> ([N, T, I] batch
    /// first, else [T, N, I]): [num_layers · directions, N, hidden_size], the batch in dim 1 as PyTorch has it; PyTorch's h_0 and
    /// c_0 have the same shape; of an unbatched call ([T, I]) [num_layers · directions, hidden_size].
    /// </summary>
    internal static ShapeResult RecurrentStates(ShapeCall c)
    {
        // num_layers may be a size bound when the module is built (LSTM(e, h, numLayers: layers)): L·D is then 2*layers.
        if (c.Input(0) is not { Rank: 2 or 3 } input || c.Size("hiddenSize") is not { } hidden || c.Size("numLayers") is not { IsUnknown: false } layers) return ShapeResult.Unknown;
        int directions = c.Flag("bidirectional") == true ? 2 : 1;
        // Unbatched (PyTorch: input [T, I]): [num_layers · directions, hidden_size], no batch (session 13).
        if (input.Rank == 2) return new TensorShape(layers.Times(directions), hidden);
        return new TensorShape(layers.Times(directions), input[c.Flag("batchFirst") == true ? 0 : 1], hidden);
    }

    /// <summary>
    /// The attention weights a MultiheadAttention returns (PyTorch's <c>attn_output_weights</c>) for a query <c>c.Input(0)</c> ([N, L, E]
    /// batch first, else [L, N, E]) and a key <c>c.Input(1)</c> ([N, S, kdim] or [S, N, kdim]): batch first whatever the layer's
    /// batch_first, as PyTorch returns them — [N, L, S] averaged over the heads (<paramref name="average"/>), [N, num_heads, L, S] per head.
    /// </summary>
    internal static ShapeResult AttentionWeights(ShapeCall c, bool average)
    {
        // Unbatched (PyTorch: a 2-d query [L, E] and key [S, kdim], batch_first ignored): [L, S] averaged, [num_heads, L, S] per head.
        if (c.Input(0) is { Rank: 2 } q2 && c.Input(1) is { Rank: 2 } k2)
        {
            if (average) return new TensorShape(q2[0], k2[0]);
            return c.Size("numHeads") is { } h ? new TensorShape(h, q2[0], k2[0]) : ShapeResult.Unknown;
        }
        if (c.Input(0) is not { Rank: 3 } query || c.Input(1) is not { Rank: 3 } key) return ShapeResult.Unknown;
        int batch = c.Flag("batchFirst") == true ? 0 : 1, step = 1 - batch;
        if (average) return new TensorShape(query[batch], query[step], key[step]);
        return c.Size("numHeads") is { } heads ? new TensorShape(query[batch], heads, query[step], key[step]) : ShapeResult.Unknown;
    }

    /// <summary>
    /// RNN, LSTM and GRU (family <see cref="OpFamily.Recurrent"/>) and the Transformer encoder layer (family
    /// <see cref="OpFamily.TransformerLayer"/>; kernel <c>Kernels/TransformerLayer.cs</c>, no masks and dropout 0 compiled).
    /// The recurrent layers (family <see cref="OpFamily.Recurrent"/>): the layer's <c>Forward</c> returns the output sequence
    /// and the final states; the rows' shape rule is the output's. Kernel: <c>Kernels/Recurrent.cs</c> (one layer and
    /// direction, eager and compiled) and <c>Kernels/RecurrentStack.cs</c> (the compiled stack).
    /// </summary>
    private static IEnumerable<OpRow> SequenceRows() =>
    [
        new OpRow("Rnn", "rnn", OpFamily.Recurrent, OpSurface.None)
        {
            Layer = "RNN", Inputs = In("input", "hx?"), Params = RecurrentParams(nonlinearity: true), Shape = RecurrentRule,
            Outputs = ["output", "h_n"], Reads = BackwardReads.Input | BackwardReads.Output | BackwardReads.Saved, Kernel = "RecurrentKernel",
            Compiled = true, Onnx = "RNN",
        },
        new OpRow("Lstm", "lstm", OpFamily.Recurrent, OpSurface.None)
        {
            Layer = "LSTM", Inputs = In("input", "h_0?", "c_0?"), Params = RecurrentParams(nonlinearity: false), Shape = RecurrentRule,
            Outputs = ["output", "h_n", "c_n"], Reads = BackwardReads.Input | BackwardReads.Output | BackwardReads.Saved, Kernel = "RecurrentKernel",
            Compiled = true, Onnx = "LSTM",
        },
        new OpRow("Gru", "gru", OpFamily.Recurrent, OpSurface.None)
        {
            Layer = "GRU", Inputs = In("input", "hx?"), Params = RecurrentParams(nonlinearity: false), Shape = RecurrentRule,
            Outputs = ["output", "h_n"], Reads = BackwardReads.Input | BackwardReads.Output | BackwardReads.Saved, Kernel = "RecurrentKernel",
            Compiled = true, Onnx = "GRU",
        },
        new OpRow("MultiheadAttention", "multi_head_attention", OpFamily.Attention, OpSurface.None)
        {
            // Forward(query, key, value, keyPaddingMask, needWeights, attnMask, averageAttnWeights) → (output, weights); the
            // rows' shape rule is the output's. Compiled (batch first or second, or unbatched [L, E] run as one sequence): self-attention with the packed in-projection,
            // biases and dropout 0 (Kernels/TransformerLayer.cs), every other call — key = value ≠ query, key ≠ value, kdim/vdim,
            // bias=False, dropout on the weights in training — by Kernels/CrossAttention.cs (both over Kernels/Attention.cs).
            Layer = "MultiheadAttention", Inputs = In("query", "key", "value", "!keyPaddingMask?", "!attnMask?"),
            Params =
            [
                Req("embedDim", "embed_dim", ParamKind.Int, ParamUse.Layer) with { Property = "EmbedDim" },
                Req("numHeads", "num_heads", ParamKind.Int, ParamUse.Layer) with { Property = "NumHeads" },
                Opt("dropout", "dropout", ParamKind.Double, 0.0, ParamUse.Layer) with { Property = "Dropout" },
                Opt("bias", "bias", ParamKind.Bool, true, ParamUse.Layer),
                Opt("batchFirst", "batch_first", ParamKind.Bool, false, ParamUse.Layer) with { Property = "BatchFirst" },
                Opt("needWeights", "need_weights", ParamKind.Bool, true, ParamUse.Function),
                Opt("averageAttnWeights", "average_attn_weights", ParamKind.Bool, true, ParamUse.Function),
            ],
            // Batched [N, L, E] / [L, N, E], or unbatched [L, E] (key and value 2-d too, as PyTorch's): the query's shape.
            Shape = static c => c.Input(0) is { Rank: 3 or 2 } s && (c.Input(1) is not { } k || k.Rank == s.Rank) && (c.Input(2) is not { } v || v.Rank == s.Rank)
                ? ShapeRules.Linear(s, c.Size("embedDim"), c.Size("embedDim")) : ShapeResult.Unknown,
            // The query of a batch-first layer is [N, L, E] (the rank is the layer's, so an input read through a LayerNorm may take it).
            InputHint = static c => c.Flag("batchFirst") == true && c.Size("embedDim") is { } e ? new TensorShape(Batch, Dim.Unknown, e) : null,
            Outputs = ["attn_output", "attn_output_weights"], Reads = BackwardReads.Saved, Kernel = "AttentionKernel", Compiled = true,
        },
        new OpRow("TransformerEncoderLayer", "transformer_encoder_layer", OpFamily.TransformerLayer, OpSurface.None)
        {
            Layer = "TransformerEncoderLayer", Inputs = In("src", "!srcMask?", "!srcKeyPaddingMask?"),
            Params =
            [
                Req("dModel", "d_model", ParamKind.Int, ParamUse.Layer) with { Property = "DModel" },
                Req("nhead", "nhead", ParamKind.Int, ParamUse.Layer) with { Property = "Nhead" },
                Opt("dimFeedforward", "dim_feedforward", ParamKind.Int, OpDefaults.TransformerLayer.DimFeedforward, ParamUse.Layer) with { Property = "DimFeedforward" },
                Opt("dropout", "dropout", ParamKind.Double, OpDefaults.TransformerLayer.Dropout, ParamUse.Layer) with { Property = "DropoutP" },
                Opt("activation", "activation", ParamKind.Choice, OpDefaults.TransformerLayer.Activation, ParamUse.Layer) with
                {
                    Property = "Activation", Choices = ["relu", "gelu"],
                },
                Opt("layerNormEps", "layer_norm_eps", ParamKind.Double, OpDefaults.TransformerLayer.LayerNormEps, ParamUse.Layer) with { Property = "LayerNormEps" },
                Opt("batchFirst", "batch_first", ParamKind.Bool, OpDefaults.TransformerLayer.BatchFirst, ParamUse.Layer) with { Property = "BatchFirst" },
                Opt("normFirst", "norm_first", ParamKind.Bool, OpDefaults.TransformerLayer.NormFirst, ParamUse.Layer) with { Property = "NormFirst" },
            ],
            // Batched [N, T, E] / [T, N, E], or unbatched [T, E] (PyTorch's 2-d src): the input's shape.
            Shape = static c => c.Input(0) is { Rank: 3 or 2 } s ? ShapeRules.Linear(s, c.Size("dModel"), c.Size("dModel")) : ShapeResult.Unknown,
            InputHint = static c => c.Flag("batchFirst") == true && c.Size("dModel") is { } e ? new TensorShape(Batch, Dim.Unknown, e) : null,
            Reads = BackwardReads.Saved, Kernel = "TransformerLayerKernel", Compiled = true,
        },
    ];
}
