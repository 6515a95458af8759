using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// Models with RNN/LSTM/GRU layers for the compiled recurrent rule (CompiledRecurrentTests): batch first, the output
// sequence taken by deconstruction or .Output (initial and final states: CompiledRecurrentStateModels.cs).

/// <summary>A 2-layer bidirectional LSTM's output sequence, deconstructed.</summary>
[Module]
public sealed partial class CompiledLstmStack
{
    private readonly LSTM lstm = new(5, 7, numLayers: 2, batchFirst: true, bidirectional: true);

    public Tensor Forward([Shape("N", 6, 5)] Tensor x)
    {
        var (y, _) = lstm.Forward(x);
        return y;
    }
}

/// <summary>A 2-layer GRU's output sequence (by .Output) into a Linear over every step.</summary>
[Module]
public sealed partial class CompiledGruHead
{
    private readonly GRU gru = new(5, 7, numLayers: 2, batchFirst: true);
    private readonly Linear fc = new(7, 3);

    public Tensor Forward([Shape("N", 9, 5)] Tensor x) => fc.Forward(gru.Forward(x).Output);
}

/// <summary>A 2-layer bidirectional ReLU RNN without biases.</summary>
[Module]
public sealed partial class CompiledRnnStack
{
    private readonly RNN rnn = new(5, 6, numLayers: 2, nonlinearity: "relu", bias: false, batchFirst: true, bidirectional: true);

    public Tensor Forward([Shape("N", 4, 5)] Tensor x) => Functional.Tanh(rnn.Forward(x).Output);
}

/// <summary>PyTorch's <c>lstm_bf</c> fixture layer: LSTM(4, 5, batch_first=True).</summary>
[Module]
public sealed partial class CompiledLstmFixture
{
    private readonly LSTM lstm = new(4, 5, batchFirst: true);

    public Tensor Forward([Shape("N", 6, 4)] Tensor x) => lstm.Forward(x).Output;
}

/// <summary>PyTorch's <c>rnn_relu_bi_bf_nobias</c> fixture layer.</summary>
[Module]
public sealed partial class CompiledRnnFixture
{
    private readonly RNN rnn = new(4, 5, nonlinearity: "relu", bias: false, batchFirst: true, bidirectional: true);

    public Tensor Forward([Shape("N", 6, 4)] Tensor x) => rnn.Forward(x).Output;
}

/// <summary>Token ids through an Embedding and an LSTM, every step's output flattened into a classifier.</summary>
[Module]
public sealed partial class CompiledLstmClassifier
{
    private readonly Embedding emb = new(30, 8);
    private readonly LSTM lstm = new(8, 12, batchFirst: true);
    private readonly Linear fc = new(5 * 12, 4);

    public Tensor Forward([Shape("N", 5)] Tensor tokens)
    {
        var (y, _) = lstm.Forward(emb.Forward(tokens));
        return fc.Forward(y.Flatten(1));
    }
}

/// <summary>A GRU whose final state is summed over its layer-directions (dim 0, beside the batch in dim 1): a named graph break.</summary>
[Module]
public sealed partial class CompiledGruWithState
{
    private readonly GRU gru = new(4, 5, batchFirst: true);

    public Tensor Forward([Shape("N", 6, 4)] Tensor x)
    {
        var (y, h) = gru.Forward(x);
        return y.Sum(1) + h.Sum(0);
    }
}

/// <summary>
/// A constructor-sized 2-layer bidirectional LSTM (sizes from the constructor, as a PyTorch user writes <c>__init__</c>) into
/// a Linear over 2·hidden features: the sizes are symbols bound in <c>Compile()</c>.
/// </summary>
[Module]
public sealed partial class CtorSizedLstmHead
{
    private readonly LSTM lstm;
    private readonly Linear fc;

    public CtorSizedLstmHead(int inputSize, int hidden, int classes)
    {
        lstm = new LSTM(inputSize, hidden, numLayers: 2, batchFirst: true, bidirectional: true);
        fc = new Linear(2 * hidden, classes);
    }

    public Tensor Forward([Shape("N", 6, "inputSize")] Tensor x) => fc.Forward(lstm.Forward(x).Output);
}

/// <summary>Embedding → constructor-sized GRU → Linear over every step (CharLM's shape, with a GRU).</summary>
[Module]
public sealed partial class CtorSizedGruTagger
{
    private readonly Embedding emb;
    private readonly GRU gru;
    private readonly Linear head;

    public CtorSizedGruTagger(int vocabulary, int embedding, int hidden)
    {
        emb = new Embedding(vocabulary, embedding);
        gru = new GRU(embedding, hidden, batchFirst: true);
        head = new Linear(hidden, vocabulary);
    }

    public Tensor Forward([Shape("N", 7)] Tensor tokens) => head.Forward(gru.Forward(emb.Forward(tokens)).Output);
}

/// <summary>
/// An LSTM started from given states (h_0, c_0 [1, N, 5], batch second as in PyTorch) whose final states (h_n, c_n) are
/// used: compiled with no break.
/// </summary>
[Module]
public sealed partial class CompiledLstmWithStates
{
    private readonly LSTM lstm = new(4, 5, batchFirst: true);

    public Tensor Forward([Shape("N", 6, 4)] Tensor x, [Shape(1, "N", 5)] Tensor h0, [Shape(1, "N", 5)] Tensor c0)
    {
        var (y, (hN, cN)) = lstm.Forward(x, (h0, c0));
        return y.Sum(1) + hN.Select(0, 0) + cN.Select(0, 0);
    }
}

/// <summary>A GRU started from a given h_0 [1, N, 5], its output sequence only (<c>.Output</c>).</summary>
[Module]
public sealed partial class CompiledGruFromInitialState
{
    private readonly GRU gru = new(4, 5, batchFirst: true);

    public Tensor Forward([Shape("N", 6, 4)] Tensor x, [Shape(1, "N", 5)] Tensor h0) => gru.Forward(x, h0).Output.Sum(1);
}
