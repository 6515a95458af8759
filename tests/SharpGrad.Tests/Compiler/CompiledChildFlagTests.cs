using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// A block whose LayerNorm's <c>elementwise_affine</c> and Linear's <c>bias</c> are its constructor's flag
/// (<c>nn.LayerNorm(d, elementwise_affine=affine)</c>, <c>nn.Linear(d, d, bias=affine)</c>).
/// </summary>
[Module]
public sealed partial class FlagBlock
{
    private readonly LayerNorm ln;
    private readonly Linear fc;

    public FlagBlock(int d, bool affine)
    {
        ln = new LayerNorm(d, elementwiseAffine: affine);
        fc = new Linear(d, d, bias: affine);
    }

    public Tensor Forward([Shape("N", "d")] Tensor x) => fc.Forward(ln.Forward(x));
}

/// <summary>A parent passing its own flag on to the block (<c>self.block = Block(d, affine)</c>).</summary>
[Module]
public sealed partial class FlagNet
{
    private readonly FlagBlock block;
    private readonly Linear head;

    public FlagNet(int d, bool affine)
    {
        block = new FlagBlock(d, affine);
        head = new Linear(d, 2);
    }

    public Tensor Forward([Shape("N", "d")] Tensor x) => head.Forward(block.Forward(x)).Relu();
}

/// <summary>The same parent passing a constant (<c>Block(d, True)</c>).</summary>
[Module]
public sealed partial class ConstantFlagNet
{
    private readonly FlagBlock block;
    private readonly Linear head;

    public ConstantFlagNet(int d)
    {
        block = new FlagBlock(d, true);
        head = new Linear(d, 2);
    }

    public Tensor Forward([Shape("N", "d")] Tensor x) => head.Forward(block.Forward(x)).Relu();
}

/// <summary>A block whose width the flag chooses (<c>nn.Linear(d, 2 * d if wide else d, bias=wide)</c>, a LayerNorm of it).</summary>
[Module]
public sealed partial class WideFlagBlock
{
    private readonly Linear up;
    private readonly LayerNorm ln;

    public WideFlagBlock(int d, bool wide)
    {
        up = new Linear(d, wide ? 2 * d : d, bias: wide);
        ln = new LayerNorm(wide ? 2 * d : d);
    }

    public Tensor Forward(Tensor x) => ln.Forward(up.Forward(x));
}

/// <summary>A parent of the wide block whose head is sized by the same flag.</summary>
[Module]
public sealed partial class WideFlagNet
{
    private readonly WideFlagBlock block;
    private readonly Linear head;

    public WideFlagNet(int d, bool wide)
    {
        block = new WideFlagBlock(d, wide);
        head = new Linear(wide ? 2 * d : d, 3);
    }

    public Tensor Forward([Shape("N", "d")] Tensor x) => head.Forward(block.Forward(x) * 2f);
}

/// <summary>A stage passing the flag on to its block (Net → Stage → Block).</summary>
[Module]
public sealed partial class FlagStage
{
    private readonly FlagBlock block;
    private readonly Linear proj;

    public FlagStage(int d, bool affine)
    {
        block = new FlagBlock(d, affine);
        proj = new Linear(d, d);
    }

    public Tensor Forward([Shape("N", "d")] Tensor x) => proj.Forward(block.Forward(x)).Relu();
}

/// <summary>The flag passed through two levels of blocks.</summary>
[Module]
public sealed partial class DeepFlagNet
{
    private readonly FlagStage stage;
    private readonly Linear head;

    public DeepFlagNet(int d, bool affine)
    {
        stage = new FlagStage(d, affine);
        head = new Linear(d, 2);
    }

    public Tensor Forward([Shape("N", "d")] Tensor x) => head.Forward(stage.Forward(x));
}

/// <summary>A block whose GRU's <c>bidirectional</c> is its flag (<c>nn.GRU(d, h, batch_first=True, bidirectional=bidi)</c>): an option that changes the output's width.</summary>
[Module]
public sealed partial class BidiFlagBlock
{
    private readonly GRU gru;

    public BidiFlagBlock(int d, int h, bool bidirectional) => gru = new GRU(d, h, batchFirst: true, bidirectional: bidirectional);

    public Tensor Forward(Tensor x)
    {
        var (y, _) = gru.Forward(x);
        return y;
    }
}

/// <summary>
/// A parent passing its flag to the GRU block and reading the block's output in later statements, its head sized by the same flag:
/// the flag changes shapes, so each value's region runs to the end of the method (ChildParser.InnerOptions' ChangesShapes).
/// </summary>
[Module]
public sealed partial class BidiFlagNet
{
    private readonly BidiFlagBlock block;
    private readonly Linear head;

    public BidiFlagNet(int d, int h, bool bidirectional)
    {
        block = new BidiFlagBlock(d, h, bidirectional);
        head = new Linear(bidirectional ? 2 * h : h, 2);
    }

    public Tensor Forward([Shape("N", 5, "d")] Tensor x)
    {
        var y = block.Forward(x);
        var pooled = y.Mean(1);
        return head.Forward(pooled);
    }
}

/// <summary>
/// A parent [Module] passing its own constructor flag on to a child [Module] block: each instance, built with each value, is fully
/// compiled (one program per value, the runner testing the block's built layer) and equals eager — output, input gradient and
/// every parameter's gradient — in training and in evaluation.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledChildFlagTests
{
    public static IEnumerable<object[]> FlagCases()
    {
        foreach (bool flag in new[] { false, true })
            foreach (bool training in new[] { true, false })
                foreach (int batch in new[] { 1, 3 })
                    yield return [flag, training, batch];
    }

    [Theory]
    [MemberData(nameof(FlagCases))]
    public void AFlagPassedToABlockCompilesAndEqualsEager(bool affine, bool training, int batch)
    {
        const int d = 6;
        var model = new FlagNet(d, affine);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(701));
        model.Train(training);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Equal(2, compiled.Explanation.Regions.Count);
        Assert.Equal(affine, model.NamedParameters().Any(p => p.Name == "block.ln.weight"));
        Assert.Equal(affine, model.NamedParameters().Any(p => p.Name == "block.fc.bias"));
        CompiledConstructorOptionTests.AssertEqualsEager(model, x => compiled.Forward(x), x => model.Forward(x), [batch, d], [batch, 2], 702,
            $"flag passed to a block (affine {affine}, training {training}, batch {batch})");
    }

    [Theory]
    [MemberData(nameof(FlagCases))]
    public void AFlagThatChangesTheBlocksOutputWidthCompilesAndEqualsEager(bool bidirectional, bool training, int batch)
    {
        const int d = 4, h = 3;
        var model = new BidiFlagNet(d, h, bidirectional);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(741));
        model.Train(training);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Equal(2, compiled.Explanation.Regions.Count);
        Assert.Equal(bidirectional, model.NamedParameters().Any(p => p.Name == "block.gru.weight_ih_l0_reverse"));
        CompiledConstructorOptionTests.AssertEqualsEager(model, x => compiled.Forward(x), x => model.Forward(x), [batch, 5, d], [batch, 2], 742,
            $"bidirectional flag passed to a block (bidirectional {bidirectional}, training {training}, batch {batch})");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AConstantFlagStillCompilesAsOneProgram(bool training)
    {
        const int d = 5;
        var model = new ConstantFlagNet(d);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(711));
        model.Train(training);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        CompiledConstructorOptionTests.AssertEqualsEager(model, x => compiled.Forward(x), x => model.Forward(x), [3, d], [3, 2], 712, $"constant flag (training {training})");
    }

    [Theory]
    [MemberData(nameof(FlagCases))]
    public void ASizeTheFlagChoosesInsideTheBlockCompilesAndEqualsEager(bool wide, bool training, int batch)
    {
        const int d = 4;
        var model = new WideFlagNet(d, wide);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(721));
        model.Train(training);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Equal(2, compiled.Explanation.Regions.Count);
        CompiledConstructorOptionTests.AssertEqualsEager(model, x => compiled.Forward(x), x => model.Forward(x), [batch, d], [batch, 3], 722,
            $"width chosen in a block (wide {wide}, training {training}, batch {batch})");
    }

    [Theory]
    [MemberData(nameof(FlagCases))]
    public void AFlagPassedThroughTwoBlocksCompilesAndEqualsEager(bool affine, bool training, int batch)
    {
        const int d = 5;
        var model = new DeepFlagNet(d, affine);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(731));
        model.Train(training);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Equal(2, compiled.Explanation.Regions.Count);
        CompiledConstructorOptionTests.AssertEqualsEager(model, x => compiled.Forward(x), x => model.Forward(x), [batch, d], [batch, 2], 732,
            $"flag through two blocks (affine {affine}, training {training}, batch {batch})");
    }
}
