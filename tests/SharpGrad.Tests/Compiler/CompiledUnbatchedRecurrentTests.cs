using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>An unbatched 2-layer bidirectional LSTM ([T, 6]) from given (h_0, c_0) [4, 8], dropout between its layers, its output through a Linear.</summary>
[Module]
public sealed partial class UnbatchedLstmHeadNet
{
    private readonly LSTM lstm = new(6, 8, numLayers: 2, bidirectional: true, dropout: 0.3);
    private readonly Linear head = new(16, 3);

    public Tensor Forward([Shape("T", 6)] Tensor x, [Shape(4, 8)] Tensor h0, [Shape(4, 8)] Tensor c0)
        => head.Forward(lstm.Forward(x, (h0, c0)).Output);
}

/// <summary>An unbatched 2-layer GRU ([T, 6], batch_first=True, which PyTorch ignores for a 2-d input) from h_0 [2, 8], then a Linear and a ReLU.</summary>
[Module]
public sealed partial class UnbatchedGruHeadNet
{
    private readonly Linear embed = new(5, 6);
    private readonly GRU gru = new(6, 8, numLayers: 2, batchFirst: true);
    private readonly Linear head = new(8, 3);

    public Tensor Forward([Shape("T", 5)] Tensor x, [Shape(2, 8)] Tensor h0)
        => Functional.Relu(head.Forward(gru.Forward(embed.Forward(x), h0).Output));
}

/// <summary>An unbatched bidirectional RNN (relu) after a Linear: its final hidden states h_n [2, 8] (no batch).</summary>
[Module]
public sealed partial class UnbatchedRnnHiddenNet
{
    private readonly Linear embed = new(5, 6);
    private readonly RNN rnn = new(6, 8, nonlinearity: "relu", bidirectional: true);

    public Tensor Forward([Shape("T", 5)] Tensor x)
    {
        var (_, h) = rnn.Forward(embed.Forward(x));
        return h;
    }
}

/// <summary>An unbatched LSTM's final cell states c_n [2, 5] (2 layers, zero initial states).</summary>
[Module]
public sealed partial class UnbatchedLstmCellNet
{
    private readonly LSTM lstm = new(6, 5, numLayers: 2);

    public Tensor Forward([Shape("T", 6)] Tensor x)
    {
        var (_, (_, c)) = lstm.Forward(x);
        return c;
    }
}

/// <summary>
/// A sequence classifier without batch (session 14): an unbatched 2-layer bidirectional LSTM ([T, 6], dropout between its layers),
/// the last step of its output `y.Select(0, -1)` ([16], PyTorch's <c>y[-1]</c>), a Dropout, a Linear and a ReLU.
/// </summary>
[Module]
public sealed partial class UnbatchedLstmLastStepNet
{
    private readonly Linear embed = new(5, 6);
    private readonly LSTM lstm = new(6, 8, numLayers: 2, bidirectional: true, dropout: 0.3);
    private readonly Dropout drop = new(0.2);
    private readonly Linear head = new(16, 3);

    public Tensor Forward([Shape("T", 5)] Tensor x)
    {
        var (y, _) = lstm.Forward(embed.Forward(x));
        return Functional.Relu(head.Forward(drop.Forward(y.Select(0, -1))));
    }
}

/// <summary>An unbatched GRU's first step `y.Select(0, 0)` ([8]) into a Linear and a Tanh, plus the mean of its steps through the same Linear.</summary>
[Module]
public sealed partial class UnbatchedGruFirstStepNet
{
    private readonly GRU gru = new(6, 8);
    private readonly Linear head = new(8, 4);

    public Tensor Forward([Shape("T", 6)] Tensor x)
    {
        var (y, _) = gru.Forward(x);
        return head.Forward(y.Select(0, 0)).Tanh() + head.Forward(y.Mean(0));
    }
}

/// <summary>
/// Ops on an unbatched 2-layer bidirectional LSTM's states h_n/c_n [4, 8] (no batch): the two directions' last hidden states
/// joined (`Cat([h[-2], h[-1]])`, [16]) into a Linear, plus a Linear of the cell states' mean over the layers and directions.
/// </summary>
[Module]
public sealed partial class UnbatchedLstmStatesHeadNet
{
    private readonly LSTM lstm = new(6, 8, numLayers: 2, bidirectional: true);
    private readonly Linear head = new(16, 3);
    private readonly Linear cell = new(8, 3);

    public Tensor Forward([Shape("T", 6)] Tensor x)
    {
        var (_, (h, c)) = lstm.Forward(x);
        return head.Forward(Tensor.Cat([h.Select(0, -2), h.Select(0, -1)], 0)) + cell.Forward(c.Mean(0));
    }
}

/// <summary>An unbatched bidirectional RNN's h_n [2, 8] through a Linear on each row, a softmax, and the sum over the directions.</summary>
[Module]
public sealed partial class UnbatchedRnnStatesSoftmaxNet
{
    private readonly RNN rnn = new(6, 8, bidirectional: true);
    private readonly Linear head = new(8, 5);

    public Tensor Forward([Shape("T", 6)] Tensor x)
    {
        var (_, h) = rnn.Forward(x);
        return Functional.Softmax(head.Forward(h), -1).Sum(0);
    }
}

/// <summary>
/// Issue 13, session 13: PyTorch's unbatched RNN/LSTM/GRU call (input [T, H_in], h_0/c_0 and h_n/c_n [L·D, H]) inside a module's
/// compiled graph, followed by other ops: the input's rows are the program's batch, run by the recurrent kernels as one sequence
/// (<c>unbatched: true</c>). No graph break; output, the inputs' (x, h_0, c_0) and every parameter's gradients equal eager's at several
/// lengths, in training (the LSTM's dropout between its layers drawn as eager draws it) and evaluation. Eager's unbatched recurrent calls
/// are checked against PyTorch in the layer fixture tests.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledUnbatchedRecurrentTests
{
    public static TheoryData<int, bool> Lengths => new() { { 1, true }, { 4, true }, { 7, false }, { 4, false } };

    private static void Compare<TModel>(Func<TModel> create, Func<TModel, Tensor[], Tensor> run, Func<TModel, Func<Tensor[], Tensor>> compile, Tensor[] floats, bool training)
        where TModel : Module
    {
        Rng.ManualSeed(501);
        var (model, twin) = CompiledAttentionOptionsTests.Twins(create);
        var compiled = compile(twin);
        if (!training)
        {
            model.Eval();
            twin.Eval();
        }
        CompiledAttentionOptionsTests.Compare(model, twin, a => run(model, a), compiled, floats, () => Rng.ManualSeed(502));
    }

    private static Tensor[] Inputs(int seed, params int[][] shapes)
    {
        var rng = new Rng(seed);
        return shapes.Select(s => Tensor.Randn(s, rng: rng)).ToArray();
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void TwoLayerBidirectionalLstmFromStatesIntoALinearMatchesEager(int t, bool training)
        => Compare(() => new UnbatchedLstmHeadNet(), (m, a) => m.Forward(a[0], a[1], a[2]),
            m => { var c = m.Compile(); CompiledRecurrentLayerCountTests.AssertWhole(c.Explanation); return a => c.Forward(a[0], a[1], a[2]); },
            Inputs(511, [t, 6], [4, 8], [4, 8]), training);

    [Theory]
    [MemberData(nameof(Lengths))]
    public void TwoLayerGruFromAStateIntoALinearMatchesEager(int t, bool training)
        => Compare(() => new UnbatchedGruHeadNet(), (m, a) => m.Forward(a[0], a[1]),
            m => { var c = m.Compile(); CompiledRecurrentLayerCountTests.AssertWhole(c.Explanation); return a => c.Forward(a[0], a[1]); },
            Inputs(512, [t, 5], [2, 8]), training);

    [Theory]
    [MemberData(nameof(Lengths))]
    public void BidirectionalRnnFinalStatesMatchEager(int t, bool training)
        => Compare(() => new UnbatchedRnnHiddenNet(), (m, a) => m.Forward(a[0]),
            m => { var c = m.Compile(); CompiledRecurrentLayerCountTests.AssertWhole(c.Explanation); return a => c.Forward(a[0]); },
            Inputs(513, [t, 5]), training);

    [Theory]
    [MemberData(nameof(Lengths))]
    public void LstmFinalCellStatesMatchEager(int t, bool training)
        => Compare(() => new UnbatchedLstmCellNet(), (m, a) => m.Forward(a[0]),
            m => { var c = m.Compile(); CompiledRecurrentLayerCountTests.AssertWhole(c.Explanation); return a => c.Forward(a[0]); },
            Inputs(514, [t, 6]), training);

    /// <summary>
    /// Session 14: the last step of an unbatched output (`y.Select(0, -1)`, a row of the program's batch, a value without the batch)
    /// into Dropout, Linear, ReLU: compiled whole, equal to eager (training with eager's dropout masks, and evaluation).
    /// </summary>
    [Theory]
    [MemberData(nameof(Lengths))]
    public void LastStepOfABidirectionalLstmIntoALinearMatchesEager(int t, bool training)
        => Compare(() => new UnbatchedLstmLastStepNet(), (m, a) => m.Forward(a[0]),
            m => { var c = m.Compile(); CompiledRecurrentLayerCountTests.AssertWhole(c.Explanation); return a => c.Forward(a[0]); },
            Inputs(515, [t, 5]), training);

    [Theory]
    [MemberData(nameof(Lengths))]
    public void FirstStepOfAGruIntoALinearMatchesEager(int t, bool training)
        => Compare(() => new UnbatchedGruFirstStepNet(), (m, a) => m.Forward(a[0]),
            m => { var c = m.Compile(); CompiledRecurrentLayerCountTests.AssertWhole(c.Explanation); return a => c.Forward(a[0]); },
            Inputs(516, [t, 6]), training);

    /// <summary>Session 14: ops on the unbatched states [L·D, H] (rows selected and joined, a mean over dim 0, a Linear of each row, a softmax).</summary>
    [Theory]
    [MemberData(nameof(Lengths))]
    public void LstmStatesIntoLinearsMatchEager(int t, bool training)
        => Compare(() => new UnbatchedLstmStatesHeadNet(), (m, a) => m.Forward(a[0]),
            m => { var c = m.Compile(); CompiledRecurrentLayerCountTests.AssertWhole(c.Explanation); return a => c.Forward(a[0]); },
            Inputs(517, [t, 6]), training);

    [Theory]
    [MemberData(nameof(Lengths))]
    public void RnnStatesThroughALinearAndSoftmaxMatchEager(int t, bool training)
        => Compare(() => new UnbatchedRnnStatesSoftmaxNet(), (m, a) => m.Forward(a[0]),
            m => { var c = m.Compile(); CompiledRecurrentLayerCountTests.AssertWhole(c.Explanation); return a => c.Forward(a[0]); },
            Inputs(518, [t, 6]), training);

    /// <summary>The selected step's shape is PyTorch's ([D·H]: [16] for the bidirectional LSTM's y[-1]), the head's [3].</summary>
    [Fact]
    public void TheLastStepHasPyTorchsShape()
    {
        var compiled = new UnbatchedLstmLastStepNet().Compile();
        Assert.Equal([3], compiled.Forward(Tensor.Randn(4, 5)).Shape);
    }

    /// <summary>A step index outside the rows at this call is eager's IndexOutOfRangeException in both modes.</summary>
    [Fact]
    public void AnEmptySequenceIsAClearErrorInBothModes()
    {
        var model = new UnbatchedGruFirstStepNet();
        var compiled = model.Compile();
        var x = Tensor.Zeros(0, 6);
        Assert.ThrowsAny<Exception>(() => model.Forward(x));
        Assert.ThrowsAny<Exception>(() => compiled.Forward(x));
    }

    /// <summary>An initial state of the wrong shape (batched [4, 1, 8] for an unbatched input) is a clear error in both modes.</summary>
    [Fact]
    public void ABatchedStateForAnUnbatchedInputIsAClearError()
    {
        var model = new UnbatchedLstmHeadNet();
        var compiled = model.Compile();
        var (x, h0, c0) = (Tensor.Randn(3, 6), Tensor.Randn(4, 1, 8), Tensor.Randn(4, 1, 8));
        Assert.ThrowsAny<ArgumentException>(() => model.Forward(x, h0, c0));
        var e = Assert.ThrowsAny<ArgumentException>(() => compiled.Forward(x, h0, c0));
        Assert.True(e.Message.Contains("h0", StringComparison.Ordinal) && e.Message.Contains("[4, 1, 8]", StringComparison.Ordinal), e.Message);
    }
}
