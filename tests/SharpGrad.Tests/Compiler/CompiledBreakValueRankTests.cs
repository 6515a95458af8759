using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>Session 14's reproduction: a break's value in a local of its own, read by a Linear in the next statement.</summary>
[Module]
public sealed partial class StatementPadNet
{
    private readonly Linear fc = new(6, 4);

    public Tensor Forward([Shape("N", 3, 4)] Tensor x)
    {
        var p = Functional.Pad(x.Tanh(), [1, 1], mode: "reflect");
        return fc.Forward(p);
    }
}

/// <summary>A break's value (Lift, a helper the compiler does not parse) read by rank-agnostic layers before a Linear.</summary>
[Module]
public sealed partial class BreakValueReaders
{
    private readonly LayerNorm ln = new(6);
    private readonly Dropout drop = new(0.5);
    private readonly Linear fc = new(6, 4);

    public Tensor Forward(Tensor x)
    {
        var p = Lift(x);
        var h = drop.Forward(Functional.Relu(ln.Forward(p)));
        return fc.Forward(h.Tanh()) * 2f + fc.Forward(p);
    }

    private static Tensor Lift(Tensor t) => t.Sigmoid();
}

/// <summary>A break's value read by a Conv1d, which takes [N, C, L] and an unbatched [C, L].</summary>
[Module]
public sealed partial class BreakValueConv
{
    private readonly Conv1d conv = new(3, 4, 3, padding: 1);

    public Tensor Forward(Tensor x)
    {
        var p = Lift(x);
        return Functional.Relu(conv.Forward(p));
    }

    private static Tensor Lift(Tensor t) => t.Sigmoid();
}

/// <summary>A break's value read only by layers that keep any shape (LayerNorm over the last dim, an activation): no shape to compile it for.</summary>
[Module]
public sealed partial class BreakValueShapeless
{
    private readonly LayerNorm ln = new(6);

    public Tensor Forward(Tensor x)
    {
        var p = Lift(x);
        return Functional.Gelu(ln.Forward(p)) * 2f;
    }

    private static Tensor Lift(Tensor t) => t.Sigmoid();
}

/// <summary>
/// The statement form of a break's value read by a layer (issue 13, session 15): <c>var p = Break(x); return fc.Forward(p);</c>.
/// The region after the break is compiled for the rank the layer reading p suggests ([N, in] for a Linear); the runner calls it
/// when p has that rank and runs the statements as written when it has another (a Linear takes any leading dims, a Conv1d an
/// unbatched [C, L]) — compiled equals eager either way (output, input and parameter gradients), never a shape error.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledBreakValueRankTests
{
    /// <summary>Session 14's reproduction: p is [N, 3, 6], the region was compiled for [N, 6] and threw "expected p of shape [N, 6]".</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void StatementPadEqualsEager(int batch)
    {
        Rng.ManualSeed(1501);
        var model = new StatementPadNet();
        var compiled = model.Compile();
        var b = Assert.Single(compiled.Explanation.Breaks);
        Assert.Contains("Pad", b.Construct, StringComparison.Ordinal);
        CompiledLayerTests.Compare(model, model, model.Forward, compiled.Forward, [batch, 3, 4], seed: 1502);
    }

    /// <summary>LayerNorm, ReLU, Dropout and Tanh before a Linear, a product and a sum after it: the region for [N, 6], the statements eagerly for [N, 3, 6] and [2, N, 5, 6]; training and evaluation.</summary>
    [Theory]
    [InlineData(1, true)]
    [InlineData(3, true)]
    [InlineData(1, false)]
    [InlineData(3, false)]
    public void RankAgnosticReadersEqualEagerAtEachRank(int batch, bool training)
    {
        Rng.ManualSeed(1511);
        var model = new BreakValueReaders();
        var compiled = model.Compile();
        var b = Assert.Single(compiled.Explanation.Breaks);
        Assert.Contains("Lift", b.Construct, StringComparison.Ordinal);
        Assert.Single(compiled.Explanation.Regions);
        foreach (var shape in new[] { new[] { batch, 6 }, new[] { batch, 3, 6 }, new[] { 2, batch, 5, 6 } })
        {
            CompiledInOrderHoistTests.Compare(model, i => model.Forward(i[0]), i => compiled.Forward(i[0]), [shape], training, seed: 1512 + shape.Length);
        }
    }

    /// <summary>A Conv1d reading the break's value ([N, 3, L] batched, [3, L] unbatched as PyTorch takes it): equal to eager at both ranks.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void ConvReaderEqualsEagerBatchedAndUnbatched(int batch)
    {
        Rng.ManualSeed(1521);
        var model = new BreakValueConv();
        var compiled = model.Compile();
        Assert.Single(compiled.Explanation.Breaks);
        CompiledLayerTests.Compare(model, model, model.Forward, compiled.Forward, [batch, 3, 7], seed: 1522);
        CompiledLayerTests.Compare(model, model, model.Forward, compiled.Forward, [3, 7 + batch], seed: 1523);
    }

    /// <summary>Readers that keep any shape and no layer fixing one: the statement after the break runs eagerly (a second break naming p), equal to eager at any rank.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void ShapelessReadersRunEagerly(int batch)
    {
        Rng.ManualSeed(1531);
        var model = new BreakValueShapeless();
        var compiled = model.Compile();
        Assert.False(compiled.Explanation.IsFullyCompiled);
        Assert.Empty(compiled.Explanation.Regions);
        CompiledLayerTests.Compare(model, model, model.Forward, compiled.Forward, [batch, 6], seed: 1532);
        CompiledLayerTests.Compare(model, model, model.Forward, compiled.Forward, [batch, 3, 6], seed: 1533);
    }
}
