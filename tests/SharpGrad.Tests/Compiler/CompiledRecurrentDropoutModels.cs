using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// Recurrent layers with dropout between their layers (PyTorch: nn.LSTM(…, num_layers=2, dropout=0.2)), compiled
// (CompiledRecurrentDropoutTests). The first group takes p and num_layers from the constructor, as a PyTorch user writes
// `self.lstm = nn.LSTM(input_size, hidden, num_layers=layers, dropout=dropout)` in __init__; the second has constants. Each
// kind (RNN tanh and relu, LSTM, GRU) is there bidirectional and not, batch first and second, with initial states given
// and not. Results with several parts are one tensor (Cat along the features) so that one seed gradient reaches them all;
// the final states of the first layers (before the dropout) are among them.

/// <summary>A bidirectional batch-first LSTM from given (h_0, c_0): the first, last and summed steps, h_n's first and last layer-directions, c_n's first.</summary>
[Module]
public sealed partial class DropLstmBiStates
{
    private readonly LSTM lstm;

    public DropLstmBiStates(int inputSize, int hidden, int layers, double dropout)
    {
        lstm = new LSTM(inputSize, hidden, numLayers: layers, batchFirst: true, dropout: dropout, bidirectional: true);
    }

    public Tensor Forward([Shape("N", "T", "inputSize")] Tensor x, [Shape("2*layers", "N", "hidden")] Tensor h0, [Shape("2*layers", "N", "hidden")] Tensor c0)
    {
        var (y, (h, c)) = lstm.Forward(x, (h0, c0));
        return Tensor.Cat([y.Select(1, 0), y.Select(1, -1), y.Sum(1), h.Select(0, 0), h.Select(0, -1), c.Select(0, 0)], 1);
    }
}

/// <summary>A batch-second LSTM (zero initial states) over the transposed input: its output sequence, back to batch first.</summary>
[Module]
public sealed partial class DropLstmBatchSecond
{
    private readonly LSTM lstm;

    public DropLstmBatchSecond(int inputSize, int hidden, int layers, double dropout)
    {
        lstm = new LSTM(inputSize, hidden, layers, true, false, dropout);
    }

    public Tensor Forward([Shape("N", "T", "inputSize")] Tensor x)
    {
        var (y, _) = lstm.Forward(x.Transpose(0, 1));
        return y.Transpose(0, 1);
    }
}

/// <summary>A bidirectional batch-second GRU from a given h_0: its output sequence (batch first again) summed and at its last step, and h_n's first and last.</summary>
[Module]
public sealed partial class DropGruBiStates
{
    private readonly GRU gru;

    public DropGruBiStates(int inputSize, int hidden, int layers, double dropout)
    {
        gru = new GRU(inputSize, hidden, numLayers: layers, dropout: dropout, bidirectional: true);
    }

    public Tensor Forward([Shape("N", "T", "inputSize")] Tensor x, [Shape("2*layers", "N", "hidden")] Tensor h0)
    {
        var (y, h) = gru.Forward(x.Transpose(0, 1), h0);
        var yb = y.Transpose(0, 1);
        return Tensor.Cat([yb.Sum(1), yb.Select(1, -1), h.Select(0, -1), h.Select(0, 0)], 1);
    }
}

/// <summary>A batch-first GRU from a zero state into a Linear over every step (CharLM's shape with a GRU).</summary>
[Module]
public sealed partial class DropGruHead
{
    private readonly GRU gru;
    private readonly Linear fc;

    public DropGruHead(int inputSize, int hidden, int layers, double dropout)
    {
        gru = new GRU(inputSize, hidden, numLayers: layers, batchFirst: true, dropout: dropout);
        fc = new Linear(hidden, 3);
    }

    public Tensor Forward([Shape("N", "T", "inputSize")] Tensor x) => fc.Forward(gru.Forward(x).Output);
}

/// <summary>A bidirectional batch-first tanh RNN from a zero state: its output sequence.</summary>
[Module]
public sealed partial class DropRnnBi
{
    private readonly RNN rnn;

    public DropRnnBi(int inputSize, int hidden, int layers, double dropout)
    {
        rnn = new RNN(inputSize, hidden, numLayers: layers, batchFirst: true, dropout: dropout, bidirectional: true);
    }

    public Tensor Forward([Shape("N", "T", "inputSize")] Tensor x) => rnn.Forward(x).Output;
}

/// <summary>A batch-second ReLU RNN from a given h_0: the output sequence summed, the last step and h_n's first and last layers.</summary>
[Module]
public sealed partial class DropRnnReluStates
{
    private readonly RNN rnn;

    public DropRnnReluStates(int inputSize, int hidden, int layers, double dropout)
    {
        rnn = new RNN(inputSize, hidden, numLayers: layers, nonlinearity: "relu", dropout: dropout);
    }

    public Tensor Forward([Shape("N", "T", "inputSize")] Tensor x, [Shape("layers", "N", "hidden")] Tensor h0)
    {
        var (y, h) = rnn.Forward(x.Transpose(0, 1), h0);
        return Tensor.Cat([y.Transpose(0, 1).Sum(1), y.Select(0, -1), h.Select(0, 0), h.Select(0, -1)], 1);
    }
}

/// <summary>Constant sizes and p: a 2-layer batch-first LSTM with dropout 0.3 from zero states, its output sequence.</summary>
[Module]
public sealed partial class ConstDropLstm
{
    private readonly LSTM lstm = new(4, 6, numLayers: 2, batchFirst: true, dropout: 0.3);

    public Tensor Forward([Shape("N", "T", 4)] Tensor x) => lstm.Forward(x).Output;
}

/// <summary>Constant sizes and p: a 3-layer bidirectional batch-second GRU with dropout 0.5 from a given h_0, its output sequence (batch first again).</summary>
[Module]
public sealed partial class ConstDropGruBi
{
    private readonly GRU gru = new(5, 4, numLayers: 3, dropout: 0.5, bidirectional: true);

    public Tensor Forward([Shape("N", "T", 5)] Tensor x, [Shape(6, "N", 4)] Tensor h0) => gru.Forward(x.Transpose(0, 1), h0).Output.Transpose(0, 1);
}

/// <summary>Constant sizes and p: a 3-layer batch-first ReLU RNN with dropout 0.3 from a given h_0, its output and h_n's middle layer.</summary>
[Module]
public sealed partial class ConstDropRnnRelu
{
    private readonly RNN rnn = new(3, 5, 3, "relu", batchFirst: true, dropout: 0.3);

    public Tensor Forward([Shape("N", "T", 3)] Tensor x, [Shape(3, "N", 5)] Tensor h0)
    {
        var (y, h) = rnn.Forward(x, h0);
        return Tensor.Cat([y.Sum(1), h.Select(0, 1)], 1);
    }
}

/// <summary>
/// Dropout modules before and after a 2-layer bidirectional tanh RNN with dropout, all drawing from the default generator:
/// the draws' order (drop1's mask, the RNN's, drop2's) is eager's.
/// </summary>
[Module]
public sealed partial class ConstDropBetweenDropouts
{
    private readonly Dropout drop1 = new(0.2);
    private readonly RNN rnn = new(4, 5, numLayers: 2, batchFirst: true, dropout: 0.4, bidirectional: true);
    private readonly Dropout drop2 = new(0.3);
    private readonly Linear fc = new(10, 2);

    public Tensor Forward([Shape("N", "T", 4)] Tensor x) => fc.Forward(drop2.Forward(rnn.Forward(drop1.Forward(x)).Output));
}
