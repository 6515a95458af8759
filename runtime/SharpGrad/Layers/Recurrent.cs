namespace SharpGrad.Layers;

/// <summary>The recurrences of RNN, LSTM and GRU, written once for the layers and their cells (PyTorch's gate order);
/// the layers run a whole sequence as one node (<see cref="Sequence"/>, Recurrent.Sequence.cs).</summary>
internal static partial class Recurrence
{
    /// <summary>The gate count of each kind: RNN 1, LSTM 4 (i, f, g, o), GRU 3 (r, z, n).</summary>
    public static int Gates(string mode) => mode switch { "LSTM" => 4, "GRU" => 3, _ => 1 };

    /// <summary>
    /// One step. <paramref name="xw"/> is the input's projection W_ih·x + b_ih [N, gates·H]; returns the new h (and c for LSTM).
    /// </summary>
    public static (Tensor H, Tensor? C) Step(string mode, Tensor xw, Tensor h, Tensor? c, Tensor wHh, Tensor? bHh)
    {
        var hw = Functional.Linear(h, wHh, bHh);
        switch (mode)
        {
            case "LSTM":
            {
                var gates = (xw + hw).Chunk(4, -1);
                var i = gates[0].Sigmoid();
                var f = gates[1].Sigmoid();
                var g = gates[2].Tanh();
                var o = gates[3].Sigmoid();
                var cNext = f * c! + i * g;
                return (o * cNext.Tanh(), cNext);
            }
            case "GRU":
            {
                var x3 = xw.Chunk(3, -1);
                var h3 = hw.Chunk(3, -1);
                var r = (x3[0] + h3[0]).Sigmoid();
                var z = (x3[1] + h3[1]).Sigmoid();
                var n = (x3[2] + r * h3[2]).Tanh();
                return (n + z * (h - n), null); // (1 − z)·n + z·h
            }
            case "RNN_RELU":
                return (Functional.Relu(xw + hw), null);
            default:
                return ((xw + hw).Tanh(), null);
        }
    }

    /// <summary>PyTorch's initialisation of every recurrent weight and bias: U(−1/√H, 1/√H).</summary>
    public static void Reset(IEnumerable<Tensor> parameters, int hiddenSize, Rng? rng)
    {
        double stdv = hiddenSize > 0 ? 1.0 / Math.Sqrt(hiddenSize) : 0;
        foreach (var p in parameters) Init.Uniform(p, -stdv, stdv, rng);
    }
}

/// <summary>
/// What <see cref="RNN"/>, <see cref="LSTM"/> and <see cref="GRU"/> share (PyTorch: <c>torch.nn.RNNBase</c>): layers × directions of
/// weights named like PyTorch's (<c>weight_ih_l0</c>, <c>weight_hh_l0</c>, <c>bias_ih_l0</c>, <c>bias_hh_l0</c>, <c>weight_ih_l0_reverse</c>, …),
/// and the loop over time, layers and directions. The input projection of a whole sequence is one Linear (one GEMM for all
/// gates and steps); the recurrence over the steps is one autograd node: per step one GEMM for the recurrent part and the
/// gate arithmetic in one pass, backwards the same, then one GEMM for W_hh's gradient over all steps.
/// </summary>
[Module]
public abstract partial class RNNBase : Module
{
    private readonly Parameter[][] _weights;   // per layer and direction: w_ih, w_hh, (b_ih, b_hh)
    private readonly string[][] _names;

    private protected RNNBase(string mode, int inputSize, int hiddenSize, int numLayers, bool bias, bool batchFirst, double dropout,
        bool bidirectional, Rng? rng, DType dtype)
    {
        string kind = mode.StartsWith("RNN", StringComparison.Ordinal) ? "RNN" : mode;
        if (inputSize <= 0) throw new ArgumentException($"{kind}: input_size must be positive, but got {inputSize}.");
        if (hiddenSize <= 0) throw new ArgumentException($"{kind}: hidden_size must be positive, but got {hiddenSize}.");
        if (numLayers <= 0) throw new ArgumentException($"{kind}: num_layers must be positive, but got {numLayers}.");
        if (!(dropout >= 0 && dropout <= 1)) throw new ArgumentException($"{kind}: dropout should be a number in range [0, 1] representing the probability of an element being zeroed, but got {dropout}.");
        Mode = mode;
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        NumLayers = numLayers;
        Bias = bias;
        BatchFirst = batchFirst;
        Dropout = dropout;
        Bidirectional = bidirectional;
        int dirs = bidirectional ? 2 : 1, gateSize = Recurrence.Gates(mode) * hiddenSize;
        _weights = new Parameter[numLayers * dirs][];
        _names = new string[numLayers * dirs][];
        for (int layer = 0; layer < numLayers; layer++)
        {
            int layerInput = layer == 0 ? inputSize : hiddenSize * dirs;
            for (int dir = 0; dir < dirs; dir++)
            {
                string suffix = "_l" + layer.ToString(System.Globalization.CultureInfo.InvariantCulture) + (dir == 1 ? "_reverse" : "");
                var ws = new List<Parameter>
                {
                    new(Tensor.Empty([gateSize, layerInput], dtype)),
                    new(Tensor.Empty([gateSize, hiddenSize], dtype)),
                };
                var names = new List<string> { "weight_ih" + suffix, "weight_hh" + suffix };
                if (bias)
                {
                    ws.Add(new(Tensor.Empty([gateSize], dtype)));
                    ws.Add(new(Tensor.Empty([gateSize], dtype)));
                    names.Add("bias_ih" + suffix);
                    names.Add("bias_hh" + suffix);
                }
                _weights[layer * dirs + dir] = ws.ToArray();
                _names[layer * dirs + dir] = names.ToArray();
            }
        }
        ResetParameters(rng);
    }

    private protected string Mode { get; }

    /// <summary>The size of each input step (PyTorch: <c>input_size</c>).</summary>
    public int InputSize { get; }
    /// <summary>The size of the hidden state (PyTorch: <c>hidden_size</c>).</summary>
    public int HiddenSize { get; }
    /// <summary>The number of stacked layers (PyTorch: <c>num_layers</c>).</summary>
    public int NumLayers { get; }
    /// <summary>Whether the layers have biases (PyTorch: <c>bias</c>).</summary>
    public bool Bias { get; }
    /// <summary>Whether input and output are [N, L, …] rather than [L, N, …] (PyTorch: <c>batch_first</c>); the states stay [layers, N, H].</summary>
    public bool BatchFirst { get; }
    /// <summary>Dropout on the outputs of every layer but the last, in training (PyTorch: <c>dropout</c>).</summary>
    public double Dropout { get; }
    /// <summary>Whether each layer also runs backwards in time (PyTorch: <c>bidirectional</c>).</summary>
    public bool Bidirectional { get; }
    /// <summary>The generator of the dropout masks, or null for <see cref="SharpGrad.Rng.Default"/>.</summary>
    public Rng? Rng { get; set; }

    /// <summary>The weights of each layer and direction, [w_ih, w_hh, b_ih, b_hh] (PyTorch: <c>all_weights</c>).</summary>
    public IReadOnlyList<IReadOnlyList<Parameter>> AllWeights => _weights;

    /// <inheritdoc/>
    protected override IEnumerable<(string Name, Parameter Parameter)> NamedDirectParameters()
    {
        for (int i = 0; i < _weights.Length; i++)
        {
            for (int j = 0; j < _weights[i].Length; j++) yield return (_names[i][j], _weights[i][j]);
        }
    }

    /// <summary>Re-initialises every weight and bias to U(−1/√H, 1/√H), like PyTorch's <c>reset_parameters()</c>.</summary>
    public void ResetParameters(Rng? rng = null) => Recurrence.Reset(_weights.SelectMany(w => w), HiddenSize, rng);

    /// <summary>
    /// Runs the stack over <paramref name="input"/> from the states <paramref name="h0"/> (and <paramref name="c0"/> for LSTM);
    /// returns the last layer's outputs and the final states [layers·directions, N, H].
    /// </summary>
    private protected (Tensor Output, Tensor HN, Tensor? CN) Run(Tensor input, Tensor? h0, Tensor? c0)
    {
        ArgumentNullException.ThrowIfNull(input);
        string kind = GetType().Name;
        bool batched = input.Rank == 3;
        if (input.Rank is not (2 or 3))
        {
            throw new ArgumentException($"{kind}: expected input of 3 dims ({(BatchFirst ? "[N, L, H_in]" : "[L, N, H_in]")}) or 2 dims (unbatched [L, H_in]), but got shape {ShapeUtil.Format(input._shape)}.");
        }
        if (input._shape[^1] != InputSize)
        {
            throw new ArgumentException($"{kind}: input.size(-1) must be equal to input_size. Expected {InputSize}, got {input._shape[^1]} (input shape {ShapeUtil.Format(input._shape)}).");
        }
        var x = batched ? (BatchFirst ? input.Transpose(0, 1) : input) : input.Unsqueeze(1);
        int n = x._shape[1], dirs = Bidirectional ? 2 : 1, h = HiddenSize;
        int[] stateShape = batched ? [NumLayers * dirs, n, h] : [NumLayers * dirs, h];
        Tensor Initial(Tensor? s, string name)
        {
            if (s is null) return Tensor.Zeros([NumLayers * dirs, n, h], input.DType);
            if (!ShapeUtil.SameShape(s._shape, stateShape))
            {
                throw new ArgumentException($"{kind}: expected {name} of shape {ShapeUtil.Format(stateShape)} (num_layers·num_directions, batch, hidden_size), but got {ShapeUtil.Format(s._shape)}.");
            }
            if (s.DType != input.DType)
            {
                throw new ArgumentException($"{kind}: the input and {name} must have the same dtype, but the input is {input.DType} and {name} is {s.DType}; convert one with .To(dtype).");
            }
            return batched ? s : s.Unsqueeze(1);
        }
        var hInit = Initial(h0, "hidden state h_0");
        var cInit = Mode == "LSTM" ? Initial(c0, "cell state c_0") : null;

        var hN = new Tensor[NumLayers * dirs];
        var cN = new Tensor[NumLayers * dirs];
        var layerInput = x;
        for (int layer = 0; layer < NumLayers; layer++)
        {
            var outputs = new Tensor[dirs];
            for (int dir = 0; dir < dirs; dir++)
            {
                int idx = layer * dirs + dir;
                var w = _weights[idx];
                Tensor? bIh = Bias ? w[2] : null, bHh = Bias ? w[3] : null;
                // The input projection of every step at once: [L, N, gates·H]; then the recurrence as one node.
                var xw = Functional.Linear(layerInput, w[0], bIh);
                // Only the recurrence's node reads the projection (it saves it): back to the caching allocator on its release.
                xw.Storage.Internal = true;
                var (o, hs, cs) = Recurrence.Sequence(Mode, xw, hInit.Select(0, idx), cInit?.Select(0, idx), w[1], bHh, reverse: dir == 1);
                outputs[dir] = o;
                hN[idx] = hs;
                if (cs is not null) cN[idx] = cs;
            }
            layerInput = dirs == 1 ? outputs[0] : Tensor.Cat(outputs, 2);
            if (layer < NumLayers - 1 && Dropout > 0) layerInput = Functional.Dropout(layerInput, Dropout, Training, Rng);
        }
        var output = layerInput;
        var hOut = Tensor.Stack(hN, 0);
        var cOut = Mode == "LSTM" ? Tensor.Stack(cN, 0) : null;
        if (!batched)
        {
            output = output.Squeeze(1);
            hOut = hOut.Squeeze(1);
            cOut = cOut?.Squeeze(1);
        }
        else if (BatchFirst)
        {
            output = output.Transpose(0, 1);
        }
        return (output, hOut, cOut);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr()
    {
        var s = $"{InputSize}, {HiddenSize}";
        if (NumLayers != 1) s += $", num_layers={NumLayers}";
        if (!Bias) s += ", bias=False";
        if (BatchFirst) s += ", batch_first=True";
        if (Dropout != 0) s += $", dropout={Py.Float(Dropout)}";
        if (Bidirectional) s += ", bidirectional=True";
        return s;
    }
}

/// <summary>
/// An Elman RNN: h_t = tanh(W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh) (or ReLU) (PyTorch: <c>torch.nn.RNN</c>).
/// </summary>
[Module]
public sealed partial class RNN : RNNBase
{
    /// <summary>
    /// Creates the layer (PyTorch: <c>nn.RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True, batch_first=False,
    /// dropout=0.0, bidirectional=False)</c>).
    /// </summary>
    public RNN(int inputSize, int hiddenSize, int numLayers = 1, string nonlinearity = "tanh", bool bias = true, bool batchFirst = false,
        double dropout = 0.0, bool bidirectional = false, Rng? rng = null, DType dtype = DType.Float32)
        : base(ModeOf(nonlinearity), inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, rng, dtype)
    {
        Nonlinearity = nonlinearity;
    }

    private static string ModeOf(string nonlinearity) => nonlinearity switch
    {
        "tanh" => "RNN_TANH",
        "relu" => "RNN_RELU",
        _ => throw new ArgumentException($"RNN: unknown nonlinearity '{nonlinearity}'; select from 'tanh' or 'relu'."),
    };

    /// <summary>"tanh" or "relu" (PyTorch: <c>nonlinearity</c>).</summary>
    public string Nonlinearity { get; }

    /// <summary>
    /// Runs the RNN (PyTorch: <c>forward(input, hx=None)</c>): <paramref name="input"/> [L, N, H_in] ([N, L, H_in] with batch_first,
    /// [L, H_in] unbatched), <paramref name="hx"/> [layers·directions, N, H] or zeros. Returns the output [L, N, directions·H] and h_n.
    /// </summary>
    public (Tensor Output, Tensor HN) Forward(Tensor input, Tensor? hx = null)
    {
        var (output, hn, _) = Run(input, hx, null);
        return (output, hn);
    }
}

/// <summary>
/// Long short-term memory (PyTorch: <c>torch.nn.LSTM</c>): gates i, f, g, o in that order in each weight's rows;
/// c_t = f·c_{t−1} + i·g, h_t = o·tanh(c_t). (PyTorch's <c>proj_size</c> is not supported.)
/// </summary>
[Module]
public sealed partial class LSTM : RNNBase
{
    /// <summary>
    /// Creates the layer (PyTorch: <c>nn.LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    /// bidirectional=False)</c>).
    /// </summary>
    public LSTM(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, bool batchFirst = false, double dropout = 0.0,
        bool bidirectional = false, Rng? rng = null, DType dtype = DType.Float32)
        : base("LSTM", inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, rng, dtype)
    {
    }

    /// <summary>
    /// Runs the LSTM (PyTorch: <c>forward(input, (h_0, c_0)=None)</c>); returns the output [L, N, directions·H] and (h_n, c_n),
    /// each [layers·directions, N, H]. <code>var (output, (hn, cn)) = lstm.Forward(x);</code>
    /// </summary>
    public (Tensor Output, (Tensor HN, Tensor CN) State) Forward(Tensor input, (Tensor H0, Tensor C0)? hx = null)
    {
        var (output, hn, cn) = Run(input, hx?.H0, hx?.C0);
        return (output, (hn, cn!));
    }
}

/// <summary>
/// Gated recurrent unit (PyTorch: <c>torch.nn.GRU</c>): gates r, z, n in that order; n = tanh(W_in·x + b_in + r·(W_hn·h + b_hn)),
/// h_t = (1 − z)·n + z·h_{t−1}.
/// </summary>
[Module]
public sealed partial class GRU : RNNBase
{
    /// <summary>
    /// Creates the layer (PyTorch: <c>nn.GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    /// bidirectional=False)</c>).
    /// </summary>
    public GRU(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, bool batchFirst = false, double dropout = 0.0,
        bool bidirectional = false, Rng? rng = null, DType dtype = DType.Float32)
        : base("GRU", inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, rng, dtype)
    {
    }

    /// <summary>Runs the GRU (PyTorch: <c>forward(input, hx=None)</c>); returns the output and h_n.</summary>
    public (Tensor Output, Tensor HN) Forward(Tensor input, Tensor? hx = null)
    {
        var (output, hn, _) = Run(input, hx, null);
        return (output, hn);
    }
}

/// <summary>What the recurrent cells share (PyTorch: <c>torch.nn.RNNCellBase</c>): weight_ih, weight_hh, bias_ih, bias_hh.</summary>
[Module]
public abstract partial class RNNCellBase : Module
{
    private protected RNNCellBase(string mode, int inputSize, int hiddenSize, bool bias, Rng? rng, DType dtype)
    {
        string kind = mode.StartsWith("RNN", StringComparison.Ordinal) ? "RNNCell" : mode + "Cell";
        if (inputSize <= 0 || hiddenSize <= 0) throw new ArgumentException($"{kind}: input_size ({inputSize}) and hidden_size ({hiddenSize}) must be positive.");
        Mode = mode;
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        int gateSize = Recurrence.Gates(mode) * hiddenSize;
        WeightIh = new Parameter(Tensor.Empty([gateSize, inputSize], dtype));
        WeightHh = new Parameter(Tensor.Empty([gateSize, hiddenSize], dtype));
        BiasIh = bias ? new Parameter(Tensor.Empty([gateSize], dtype)) : null;
        BiasHh = bias ? new Parameter(Tensor.Empty([gateSize], dtype)) : null;
        ResetParameters(rng);
    }

    private protected string Mode { get; }

    /// <summary>The size of the input (PyTorch: <c>input_size</c>).</summary>
    public int InputSize { get; }
    /// <summary>The size of the hidden state (PyTorch: <c>hidden_size</c>).</summary>
    public int HiddenSize { get; }

    /// <summary>[gates·H, input_size] (PyTorch: <c>weight_ih</c>).</summary>
    public Parameter WeightIh { get; }
    /// <summary>[gates·H, H] (PyTorch: <c>weight_hh</c>).</summary>
    public Parameter WeightHh { get; }
    /// <summary>[gates·H], or null (PyTorch: <c>bias_ih</c>).</summary>
    public Parameter? BiasIh { get; }
    /// <summary>[gates·H], or null (PyTorch: <c>bias_hh</c>).</summary>
    public Parameter? BiasHh { get; }

    /// <summary>Re-initialises every weight and bias to U(−1/√H, 1/√H) (PyTorch: <c>reset_parameters()</c>).</summary>
    public void ResetParameters(Rng? rng = null) =>
        Recurrence.Reset(new Tensor?[] { WeightIh, WeightHh, BiasIh, BiasHh }.OfType<Tensor>(), HiddenSize, rng);

    /// <summary>One step from <paramref name="h"/> (and <paramref name="c"/>), for [N, H_in] or unbatched [H_in] input; zeros when no state is given.</summary>
    private protected (Tensor H, Tensor? C) Cell(Tensor input, Tensor? h, Tensor? c)
    {
        ArgumentNullException.ThrowIfNull(input);
        string kind = GetType().Name;
        if (input.Rank is not (1 or 2) || input._shape[^1] != InputSize)
        {
            throw new ArgumentException($"{kind}: expected input of shape [N, {InputSize}] or [{InputSize}], but got {ShapeUtil.Format(input._shape)}.");
        }
        bool batched = input.Rank == 2;
        var x = batched ? input : input.Unsqueeze(0);
        int n = x._shape[0];
        Tensor State(Tensor? s, string name)
        {
            if (s is null) return Tensor.Zeros([n, HiddenSize], input.DType);
            int[] expected = batched ? [n, HiddenSize] : [HiddenSize];
            if (!ShapeUtil.SameShape(s._shape, expected))
            {
                throw new ArgumentException($"{kind}: expected {name} of shape {ShapeUtil.Format(expected)}, but got {ShapeUtil.Format(s._shape)}.");
            }
            return batched ? s : s.Unsqueeze(0);
        }
        var hs = State(h, "hidden state");
        var cs = Mode == "LSTM" ? State(c, "cell state") : null;
        var (hNext, cNext) = Recurrence.Step(Mode, Functional.Linear(x, WeightIh, BiasIh), hs, cs, WeightHh, BiasHh);
        return batched ? (hNext, cNext) : (hNext.Squeeze(0), cNext?.Squeeze(0));
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{InputSize}, {HiddenSize}" + (BiasIh is null ? ", bias=False" : "");
}

/// <summary>One step of an Elman RNN (PyTorch: <c>torch.nn.RNNCell</c>).</summary>
[Module]
public sealed partial class RNNCell : RNNCellBase
{
    /// <summary>Creates the cell (PyTorch: <c>nn.RNNCell(input_size, hidden_size, bias=True, nonlinearity='tanh')</c>).</summary>
    public RNNCell(int inputSize, int hiddenSize, bool bias = true, string nonlinearity = "tanh", Rng? rng = null, DType dtype = DType.Float32)
        : base(nonlinearity switch
        {
            "tanh" => "RNN_TANH",
            "relu" => "RNN_RELU",
            _ => throw new ArgumentException($"RNNCell: unknown nonlinearity '{nonlinearity}'; select from 'tanh' or 'relu'."),
        }, inputSize, hiddenSize, bias, rng, dtype)
    {
        Nonlinearity = nonlinearity;
    }

    /// <summary>"tanh" or "relu" (PyTorch: <c>nonlinearity</c>).</summary>
    public string Nonlinearity { get; }

    /// <summary>h' = tanh(W_ih·x + b_ih + W_hh·h + b_hh) (PyTorch: <c>forward(input, hx=None)</c>).</summary>
    public Tensor Forward(Tensor input, Tensor? hx = null) => Cell(input, hx, null).H;
}

/// <summary>One step of an LSTM (PyTorch: <c>torch.nn.LSTMCell</c>).</summary>
[Module]
public sealed partial class LSTMCell : RNNCellBase
{
    /// <summary>Creates the cell (PyTorch: <c>nn.LSTMCell(input_size, hidden_size, bias=True)</c>).</summary>
    public LSTMCell(int inputSize, int hiddenSize, bool bias = true, Rng? rng = null, DType dtype = DType.Float32)
        : base("LSTM", inputSize, hiddenSize, bias, rng, dtype)
    {
    }

    /// <summary>Returns (h', c') (PyTorch: <c>forward(input, (h, c)=None)</c>).</summary>
    public (Tensor H, Tensor C) Forward(Tensor input, (Tensor H, Tensor C)? hx = null)
    {
        var (h, c) = Cell(input, hx?.H, hx?.C);
        return (h, c!);
    }
}

/// <summary>One step of a GRU (PyTorch: <c>torch.nn.GRUCell</c>).</summary>
[Module]
public sealed partial class GRUCell : RNNCellBase
{
    /// <summary>Creates the cell (PyTorch: <c>nn.GRUCell(input_size, hidden_size, bias=True)</c>).</summary>
    public GRUCell(int inputSize, int hiddenSize, bool bias = true, Rng? rng = null, DType dtype = DType.Float32)
        : base("GRU", inputSize, hiddenSize, bias, rng, dtype)
    {
    }

    /// <summary>Returns h' (PyTorch: <c>forward(input, hx=None)</c>).</summary>
    public Tensor Forward(Tensor input, Tensor? hx = null) => Cell(input, hx, null).H;
}
