using SharpGrad.Layers;

namespace SharpGrad.Onnx.Tests;

// The sequence and attention test models: SharpGrad's eager RNN, LSTM, GRU, MultiheadAttention and Transformer layers,
// each with a hand-written BuildOnnxGraph (one builder call per layer of Forward). Every model takes its Rng, so no test
// reseeds Rng.Default. Each has Compile() (SequenceModelsCompileTests: compiled = eager), compiled where the compiler
// covers its Forward and run eagerly inside Compile() where it breaks the graph.

/// <summary>A 2-layer bidirectional batch-first LSTM from given states; output, h_n and c_n are all graph outputs.</summary>
[Module]
public sealed partial class LstmWithStates : IOnnxExportable
{
    public const int T = 7, In = 5, H = 6, States = 4;
    private readonly LSTM lstm;

    public LstmWithStates(Rng rng) => lstm = new LSTM(In, H, numLayers: 2, batchFirst: true, bidirectional: true, rng: rng);

    public Tensor[] Forward([Shape("N", T, In)] Tensor x, [Shape(States, "N", H)] Tensor h0, [Shape(States, "N", H)] Tensor c0)
    {
        var (output, (hn, cn)) = lstm.Forward(x, (h0, c0));
        return [output, hn, cn];
    }

    public void BuildOnnxGraph(OnnxGraphBuilder graph)
    {
        var (output, hn, cn) = graph.Layer("lstm", lstm, graph.Input("input", "N", T, In), graph.Input("h0", States, "N", H), graph.Input("c0", States, "N", H));
        graph.Output(output, "output");
        graph.Output(hn, "h_n");
        graph.Output(cn, "c_n");
    }
}

/// <summary>Embedding, a bidirectional batch-first LSTM from zero states, the mean over time and a classifier.</summary>
[Module]
public sealed partial class BiLstmClassifier : IOnnxExportable
{
    public const int T = 9;
    private readonly Embedding embed;
    private readonly LSTM lstm;
    private readonly Linear fc;

    public BiLstmClassifier(Rng rng)
    {
        embed = new Embedding(30, 8, rng: rng);
        lstm = new LSTM(8, 10, batchFirst: true, bidirectional: true, rng: rng);
        fc = new Linear(20, 3, rng: rng);
    }

    public Tensor Forward([Shape("N", T)] Tensor tokens) => fc.Forward(lstm.Forward(embed.Forward(tokens)).Output.Mean(1));

    public void BuildOnnxGraph(OnnxGraphBuilder graph)
    {
        var h = graph.Layer("embed", embed, graph.Input("tokens", OnnxElementType.Int64, "N", T));
        graph.Output(graph.Layer("fc", fc, graph.Mean(graph.Layer("lstm", lstm, h).Output, [1])), "output");
    }
}

/// <summary>A 3-layer sequence-first GRU from a given state: output and h_n.</summary>
[Module]
public sealed partial class GruWithState : IOnnxExportable
{
    public const int T = 5, In = 4, H = 8;
    private readonly GRU gru;

    public GruWithState(Rng rng) => gru = new GRU(In, H, numLayers: 3, rng: rng);

    public Tensor[] Forward([Shape(T, "N", In)] Tensor x, [Shape(3, "N", H)] Tensor h0)
    {
        var (output, hn) = gru.Forward(x, h0);
        return [output, hn];
    }

    public void BuildOnnxGraph(OnnxGraphBuilder graph)
    {
        var (output, hn) = graph.Layer("gru", gru, graph.Input("input", T, "N", In), graph.Input("h0", 3, "N", H));
        graph.Output(output, "output");
        graph.Output(hn, "h_n");
    }
}

/// <summary>A 2-layer bidirectional GRU over one unbatched sequence [L, H_in] from a given state [4, H].</summary>
[Module]
public sealed partial class UnbatchedBiGru : IOnnxExportable
{
    public const int T = 6, In = 3, H = 5;
    private readonly GRU gru;

    public UnbatchedBiGru(Rng rng) => gru = new GRU(In, H, numLayers: 2, bidirectional: true, rng: rng);

    public Tensor[] Forward([Shape(T, In)] Tensor x, [Shape(4, H)] Tensor h0)
    {
        var (output, hn) = gru.Forward(x, h0);
        return [output, hn];
    }

    public void BuildOnnxGraph(OnnxGraphBuilder graph)
    {
        var (output, hn) = graph.Layer("gru", gru, graph.Input("input", T, In), graph.Input("h0", 4, H));
        graph.Output(output, "output");
        graph.Output(hn, "h_n");
    }
}

/// <summary>A 2-layer bidirectional ReLU RNN (batch first), then a tanh RNN, then a classifier on the last step.</summary>
[Module]
public sealed partial class ElmanRnnStack : IOnnxExportable
{
    public const int T = 6;
    private readonly RNN rnn1, rnn2; // ReLU bidirectional [N, T, 4] → [N, T, 12], then tanh → [N, T, 5]
    private readonly Linear fc;

    public ElmanRnnStack(Rng rng) => (rnn1, rnn2, fc) = (
        new RNN(4, 6, numLayers: 2, nonlinearity: "relu", batchFirst: true, bidirectional: true, rng: rng),
        new RNN(12, 5, batchFirst: true, rng: rng),
        new Linear(5, 2, rng: rng));

    public Tensor Forward(Tensor x) => fc.Forward(rnn2.Forward(rnn1.Forward(x).Output).Output.Select(1, T - 1));

    public void BuildOnnxGraph(OnnxGraphBuilder graph)
    {
        var h = graph.Layer("rnn1", rnn1, graph.Input("input", "N", T, 4)).Output;
        graph.Output(graph.Layer("fc", fc, graph.Select(graph.Layer("rnn2", rnn2, h).Output, 1, T - 1)), "output");
    }
}

/// <summary>Batch-first cross-attention with separate q/k/v projections (kdim, vdim ≠ embed_dim), a Bool key padding
/// mask (a graph input) and a float attention mask (a constant).</summary>
[Module]
public sealed partial class CrossAttention : IOnnxExportable
{
    public const int L = 5, S = 7, E = 16, KDim = 10, VDim = 12;
    private readonly MultiheadAttention attn;
    private readonly Tensor bias;

    public CrossAttention(Rng rng)
    {
        attn = new MultiheadAttention(E, 4, kdim: KDim, vdim: VDim, batchFirst: true, rng: rng);
        bias = Tensor.Randn([L, S], rng: rng);
    }

    public Tensor Forward(Tensor query, Tensor key, Tensor value, Tensor keyPaddingMask) =>
        attn.Forward(query, key, value, keyPaddingMask, needWeights: false, attnMask: bias).Output;

    public void BuildOnnxGraph(OnnxGraphBuilder graph)
    {
        var query = graph.Input("query", "N", L, E);
        var key = graph.Input("key", "N", S, KDim);
        var value = graph.Input("value", "N", S, VDim);
        var padding = graph.Input("key_padding_mask", OnnxElementType.Bool, "N", S);
        graph.Output(graph.Layer("attn", attn, query, key, value, padding, graph.Parameter("bias", bias)), "output");
    }
}

/// <summary>Sequence-first self-attention (the packed in_proj_weight) under a Bool causal mask, then a classifier.</summary>
[Module]
public sealed partial class CausalSelfAttention : IOnnxExportable
{
    public const int T = 6, E = 12;
    private readonly MultiheadAttention attn;
    private readonly Linear fc;
    private readonly Tensor causal = Tensor.Ones([T, T]).Triu(1).To(DType.Bool); // true above the diagonal: may not attend

    public CausalSelfAttention(Rng rng)
    {
        attn = new MultiheadAttention(E, 3, rng: rng);
        fc = new Linear(E, 4, rng: rng);
    }

    public Tensor Forward(Tensor x) => fc.Forward(attn.Forward(x, x, x, needWeights: false, attnMask: causal).Output);

    public void BuildOnnxGraph(OnnxGraphBuilder graph)
    {
        var x = graph.Input("input", T, "N", E);
        graph.Output(graph.Layer("fc", fc, graph.Layer("attn", attn, x, x, x, attnMask: graph.Parameter("causal", causal))), "output");
    }
}

/// <summary>nn.TransformerEncoderLayer as PyTorch builds it by default: post-norm, ReLU, sequence first.</summary>
[Module]
public sealed partial class EncoderLayerPostNorm : IOnnxExportable
{
    public const int T = 6, E = 16;
    private readonly TransformerEncoderLayer layer;

    public EncoderLayerPostNorm(Rng rng) => layer = new TransformerEncoderLayer(E, 2, dimFeedforward: 24, rng: rng);

    public Tensor Forward(Tensor src) => layer.Forward(src);

    public void BuildOnnxGraph(OnnxGraphBuilder graph) => graph.Output(graph.Layer("layer", layer, graph.Input("src", T, "N", E)), "output");
}

/// <summary>nn.TransformerEncoder of two pre-norm GELU batch-first layers and a final LayerNorm, with a causal float
/// mask (constant) and a Bool key padding mask (graph input), then the mean over time and a classifier.</summary>
[Module]
public sealed partial class TransformerEncoderClassifier : IOnnxExportable
{
    public const int T = 6, E = 16;
    private readonly TransformerEncoder encoder;
    private readonly Linear head;
    private readonly Tensor causal = Transformer.GenerateSquareSubsequentMask(T);

    public TransformerEncoderClassifier(Rng rng)
    {
        encoder = new TransformerEncoder(new TransformerEncoderLayer(E, 4, dimFeedforward: 32, activation: "gelu", batchFirst: true, normFirst: true, rng: rng),
            2, new LayerNorm(E));
        head = new Linear(E, 3, rng: rng);
    }

    public Tensor Forward(Tensor src, Tensor padding) => head.Forward(encoder.Forward(src, causal, padding).Mean(1));

    public void BuildOnnxGraph(OnnxGraphBuilder graph)
    {
        var src = graph.Input("src", "N", T, E);
        var padding = graph.Input("src_key_padding_mask", OnnxElementType.Bool, "N", T);
        var h = graph.Layer("encoder", encoder, src, graph.Parameter("causal", causal), padding);
        graph.Output(graph.Layer("head", head, graph.Mean(h, [1])), "output");
    }
}

/// <summary>nn.Transformer (one encoder and one decoder layer, batch first) with a causal target mask and the source's
/// key padding mask used for the encoder and for the decoder's memory.</summary>
[Module]
public sealed partial class TinyTransformer : IOnnxExportable
{
    public const int S = 5, T = 4, E = 8;
    private readonly Transformer transformer;
    private readonly Tensor causal = Transformer.GenerateSquareSubsequentMask(T);

    public TinyTransformer(Rng rng) => transformer = new Transformer(E, 2, 1, 1, dimFeedforward: 16, batchFirst: true, rng: rng);

    public Tensor Forward([Shape("N", S, E)] Tensor src, [Shape("N", T, E)] Tensor tgt, [Shape("N", S)] Tensor srcPadding) =>
        transformer.Forward(src, tgt, tgtMask: causal, srcKeyPaddingMask: srcPadding, memoryKeyPaddingMask: srcPadding);

    public void BuildOnnxGraph(OnnxGraphBuilder graph)
    {
        var src = graph.Input("src", "N", S, E);
        var tgt = graph.Input("tgt", "N", T, E);
        var padding = graph.Input("src_key_padding_mask", OnnxElementType.Bool, "N", S);
        graph.Output(graph.Layer("transformer", transformer, src, tgt, tgtMask: graph.Parameter("causal", causal),
            srcKeyPaddingMask: padding, memoryKeyPaddingMask: padding), "output");
    }
}
