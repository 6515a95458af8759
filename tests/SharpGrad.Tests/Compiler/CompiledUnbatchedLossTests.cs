using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

/// <summary>Mse of an unbatched GRU's last step through a Linear (<c>head(y[-1])</c>, [3], no batch) against a target [3].</summary>
[Module]
public sealed partial class UnbatchedLastStepMseNet
{
    private readonly GRU gru = new(5, 8);
    private readonly Linear head = new(8, 3);

    public Tensor Forward([Shape("T", 5)] Tensor x, [Shape(3)] Tensor target)
    {
        var (y, _) = gru.Forward(x);
        return Losses.Mse(head.Forward(y.Select(0, -1)), target);
    }
}

/// <summary>L1 (sum) of an unbatched LSTM's last hidden state <c>h_n[-1]</c> ([8]) against a target [8].</summary>
[Module]
public sealed partial class UnbatchedStateL1Net
{
    private readonly LSTM lstm = new(5, 8, numLayers: 2);

    public Tensor Forward([Shape("T", 5)] Tensor x, [Shape(8)] Tensor target)
    {
        var (_, (h, _)) = lstm.Forward(x);
        return Losses.L1(h.Select(0, -1), target, Reduction.Sum);
    }
}

/// <summary>CrossEntropy of a Linear of an unbatched bidirectional GRU's states h_n ([2, 4], no batch) against class indices [2].</summary>
[Module]
public sealed partial class UnbatchedStatesCrossEntropyNet
{
    private readonly GRU gru = new(5, 8, bidirectional: true);
    private readonly Linear head = new(8, 4);

    public Tensor Forward([Shape("T", 5)] Tensor x, [Shape(2)] Tensor labels)
    {
        var (_, h) = gru.Forward(x);
        return Losses.CrossEntropy(head.Forward(h), labels);
    }
}

/// <summary>
/// A loss of a value without the batch inside the module (issue 13, session 15): <c>Losses.Mse(head(y[-1]), t)</c> of an
/// unbatched sequence (the rows of the program's batch; <c>SliceRule.BatchRow</c>) against a target of a fixed shape compiles
/// (LossPlan: the elementwise losses take a target of the input's shape, CrossEntropy [k, C] against [k]), no break, equal to eager: the loss, the input's and every parameter's gradient, in training and evaluation.
/// </summary>
public class CompiledUnbatchedLossTests
{
    public static TheoryData<int, bool> Lengths => new() { { 1, true }, { 4, true }, { 6, false } };

    private static void Compare(Module model, Func<Tensor, Tensor, Tensor> forward, Func<Tensor, Tensor, Tensor> compiled, int t, Tensor target, bool training, int seed)
    {
        if (training) model.Train();
        else model.Eval();
        CompiledLayerTests.Compare(model, model, x => forward(x, target), x => compiled(x, target), [t, 5], seed);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void MseOfTheLastStepMatchesEager(int t, bool training)
    {
        Rng.ManualSeed(1561);
        var model = new UnbatchedLastStepMseNet();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Compare(model, model.Forward, compiled.Forward, t, Tensor.Randn([3], rng: new Rng(1562)), training, 1563);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void L1OfTheLastHiddenStateMatchesEager(int t, bool training)
    {
        Rng.ManualSeed(1571);
        var model = new UnbatchedStateL1Net();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Compare(model, model.Forward, compiled.Forward, t, Tensor.Randn([8], rng: new Rng(1572)), training, 1573);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void CrossEntropyOfTheStatesMatchesEager(int t, bool training)
    {
        Rng.ManualSeed(1581);
        var model = new UnbatchedStatesCrossEntropyNet();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Compare(model, model.Forward, compiled.Forward, t, Tensor.RandInt(0, 4, [2], new Rng(1582)), training, 1583);
    }
}
