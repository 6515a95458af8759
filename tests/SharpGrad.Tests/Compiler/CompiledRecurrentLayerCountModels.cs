using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// Recurrent layers whose num_layers (and input and hidden sizes) come from the constructor, as a PyTorch user writes
// `self.lstm = nn.LSTM(input_size, hidden, num_layers=layers, …)` in __init__ (CompiledRecurrentLayerCountTests): the
// layer's parameters are one group the compiled program reads when the module is built, the kernel loops over the layers
// at run time. Each kind (RNN, LSTM, GRU) has bidirectional and not, batch first and batch second (the input declared batch
// first, transposed for the layer), initial states given and not; every sequence length T is read at each call. The
// results with several parts (output, last step, final states) are one tensor (Cat along the features) so that one random
// seed gradient reaches all of them.

/// <summary>A bidirectional batch-first LSTM from given (h_0, c_0) [2·layers, N, hidden]: all steps summed, the first step, h_n's last layer-direction and c_n's first.</summary>
[Module]
public sealed partial class LayersLstmBiStates
{
    private readonly LSTM lstm;

    public LayersLstmBiStates(int inputSize, int hidden, int layers)
    {
        lstm = new LSTM(inputSize, hidden, numLayers: layers, batchFirst: true, bidirectional: true);
    }

    public Tensor Forward([Shape("N", "T", "inputSize")] Tensor x, [Shape("2*layers", "N", "hidden")] Tensor h0, [Shape("2*layers", "N", "hidden")] Tensor c0)
    {
        var (y, (h, c)) = lstm.Forward(x, (h0, c0));
        return Tensor.Cat([y.Sum(1), y.Select(1, 0), h.Select(0, -1), c.Select(0, 0)], 1);
    }
}

/// <summary>A batch-second LSTM (zero initial states) over the transposed input: its output sequence, back to batch first.</summary>
[Module]
public sealed partial class LayersLstmBatchSecond
{
    private readonly LSTM lstm;

    public LayersLstmBatchSecond(int inputSize, int hidden, int layers)
    {
        lstm = new LSTM(inputSize, hidden, numLayers: layers);
    }

    public Tensor Forward([Shape("N", "T", "inputSize")] Tensor x)
    {
        var (y, _) = lstm.Forward(x.Transpose(0, 1));
        return y.Transpose(0, 1);
    }
}

/// <summary>A batch-first LSTM from zero states: its final hidden states h_n [layers, N, hidden], whole.</summary>
[Module]
public sealed partial class LayersLstmHidden
{
    private readonly LSTM lstm;

    public LayersLstmHidden(int inputSize, int hidden, int layers)
    {
        lstm = new LSTM(inputSize, hidden, numLayers: layers, batchFirst: true);
    }

    public Tensor Forward([Shape("N", "T", "inputSize")] Tensor x)
    {
        var (_, (h, _)) = lstm.Forward(x);
        return h;
    }
}

/// <summary>A bidirectional batch-second LSTM from given (h_0, c_0): its final cell states c_n [2·layers, N, hidden], whole.</summary>
[Module]
public sealed partial class LayersLstmCell
{
    private readonly LSTM lstm;

    public LayersLstmCell(int inputSize, int hidden, int layers)
    {
        lstm = new LSTM(inputSize, hidden, numLayers: layers, bidirectional: true);
    }

    public Tensor Forward([Shape("N", "T", "inputSize")] Tensor x, [Shape("2*layers", "N", "hidden")] Tensor h0, [Shape("2*layers", "N", "hidden")] Tensor c0)
    {
        var (_, (_, c)) = lstm.Forward(x.Transpose(0, 1), (h0, c0));
        return c;
    }
}

/// <summary>A bidirectional batch-second GRU from a given h_0 [2·layers, N, hidden]: its output sequence (batch first again) and h_n, both whole.</summary>
[Module]
public sealed partial class LayersGruBiStates
{
    private readonly GRU gru;

    public LayersGruBiStates(int inputSize, int hidden, int layers)
    {
        gru = new GRU(inputSize, hidden, numLayers: layers, bidirectional: true);
    }

    public Tensor Forward([Shape("N", "T", "inputSize")] Tensor x, [Shape("2*layers", "N", "hidden")] Tensor h0)
    {
        var (y, h) = gru.Forward(x.Transpose(0, 1), h0);
        return Tensor.Cat([y.Transpose(0, 1).Sum(1), h.Select(0, -1), h.Select(0, 0)], 1);
    }
}

/// <summary>A batch-first GRU from a zero state into a Linear over every step (CharLM's shape with a GRU).</summary>
[Module]
public sealed partial class LayersGruHead
{
    private readonly GRU gru;
    private readonly Linear fc;

    public LayersGruHead(int inputSize, int hidden, int layers)
    {
        gru = new GRU(inputSize, hidden, numLayers: layers, batchFirst: true);
        fc = new Linear(hidden, 3);
    }

    public Tensor Forward([Shape("N", "T", "inputSize")] Tensor x) => fc.Forward(gru.Forward(x).Output);
}

/// <summary>A bidirectional batch-first GRU from a zero state: its final hidden states h_n [2·layers, N, hidden], whole.</summary>
[Module]
public sealed partial class LayersGruHidden
{
    private readonly GRU gru;

    public LayersGruHidden(int inputSize, int hidden, int layers)
    {
        gru = new GRU(inputSize, hidden, numLayers: layers, batchFirst: true, bidirectional: true);
    }

    public Tensor Forward([Shape("N", "T", "inputSize")] Tensor x)
    {
        var (_, h) = gru.Forward(x);
        return h;
    }
}

/// <summary>A bidirectional batch-first tanh RNN from a zero state: its output sequence.</summary>
[Module]
public sealed partial class LayersRnnBi
{
    private readonly RNN rnn;

    public LayersRnnBi(int inputSize, int hidden, int layers)
    {
        rnn = new RNN(inputSize, hidden, numLayers: layers, batchFirst: true, bidirectional: true);
    }

    public Tensor Forward([Shape("N", "T", "inputSize")] Tensor x) => rnn.Forward(x).Output;
}

/// <summary>A batch-second ReLU RNN without biases from a given h_0 [layers, N, hidden]: the last step and h_n's last layer.</summary>
[Module]
public sealed partial class LayersRnnReluStates
{
    private readonly RNN rnn;

    public LayersRnnReluStates(int inputSize, int hidden, int layers)
    {
        rnn = new RNN(inputSize, hidden, numLayers: layers, nonlinearity: "relu", bias: false);
    }

    public Tensor Forward([Shape("N", "T", "inputSize")] Tensor x, [Shape("layers", "N", "hidden")] Tensor h0)
    {
        var (y, h) = rnn.Forward(x.Transpose(0, 1), h0);
        return Tensor.Cat([y.Select(0, -1), h.Select(0, -1)], 1);
    }
}

/// <summary>A batch-first tanh RNN from a given h_0: its final hidden states h_n [layers, N, hidden], whole.</summary>
[Module]
public sealed partial class LayersRnnHidden
{
    private readonly RNN rnn;

    public LayersRnnHidden(int inputSize, int hidden, int layers)
    {
        rnn = new RNN(inputSize, hidden, numLayers: layers, batchFirst: true);
    }

    public Tensor Forward([Shape("N", "T", "inputSize")] Tensor x, [Shape("layers", "N", "hidden")] Tensor h0)
    {
        var (_, h) = rnn.Forward(x, h0);
        return h;
    }
}

/// <summary>A bidirectional batch-first LSTM classifier with a fused loss (<c>LossBackward</c>): the group's gradients bound into <c>.Grad</c>.</summary>
[Module]
public sealed partial class LayersLstmClassifier
{
    private readonly LSTM lstm;
    private readonly Linear fc;

    public LayersLstmClassifier(int inputSize, int hidden, int layers)
    {
        lstm = new LSTM(inputSize, hidden, numLayers: layers, batchFirst: true, bidirectional: true);
        fc = new Linear(2 * hidden, 4);
    }

    public Tensor Forward([Shape("N", "T", "inputSize")] Tensor x) => fc.Forward(lstm.Forward(x).Output.Select(1, -1));

    [Compiled]
    public Tensor Loss([Shape("N", "T", "inputSize")] Tensor x, [Shape("N")] Tensor target)
        => Losses.CrossEntropy(fc.Forward(lstm.Forward(x).Output.Select(1, -1)), target);
}

/// <summary>An LSTM whose bidirectional flag is a constructor parameter: compiled on its own a named break (the output width D·hidden is not a size).</summary>
[Module]
public sealed partial class FlaggedLstmBlock
{
    private readonly LSTM lstm;

    public FlaggedLstmBlock(int inputSize, int hidden, int layers, bool bidirectional)
    {
        lstm = new LSTM(inputSize, hidden, numLayers: layers, batchFirst: true, bidirectional: bidirectional);
    }

    public Tensor Forward([Shape("N", "T", "inputSize")] Tensor x) => lstm.Forward(x).Output;
}

/// <summary>A parent that builds <see cref="FlaggedLstmBlock"/> bidirectional (a constant flag) with constructor-sized layers: compiled whole.</summary>
[Module]
public sealed partial class FlaggedLstmParent
{
    private readonly FlaggedLstmBlock block;
    private readonly Linear fc;

    public FlaggedLstmParent(int inputSize, int hidden, int layers)
    {
        block = new FlaggedLstmBlock(inputSize, hidden, layers, true);
        fc = new Linear(2 * hidden, 3);
    }

    public Tensor Forward([Shape("N", "T", "inputSize")] Tensor x) => fc.Forward(block.Forward(x));
}
