using SharpGrad.Data;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Mask builders compiled (CompiledMaskModels.cs): each model's Compile() output, input gradient and parameter gradients
/// equal its eager Forward's at batch 1, 3 and 64, with no graph break.
/// </summary>
public class CompiledMaskTests
{
    /// <summary>The data rows (catalogue family Data) the models exercise; CatalogueTests checks it is all of them.</summary>
    public static readonly string[] Ops =
    [
        "Arange", "Ones", "Zeros", "Full", "OnesLike", "ZerosLike", "FullLike", "Triu", "Tril", "Eq", "EqTensor", "Ne", "NeTensor", "Lt", "LtTensor",
        "Le", "LeTensor", "Gt", "GtTensor", "Ge", "GeTensor", "To",
    ];

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void CausalAndSegmentMasksBuiltInForwardMatchEager(int batch)
    {
        var model = new CompiledMaskBuilderNet(pad: 3);
        var explanation = model.Compile().Explanation;
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        var tokens = Tensor.RandInt(0, 6, [batch, 5], new Rng(301));
        CompiledLayerTests.Compare(model, model, x => model.Forward(x, tokens), x => model.Compile().Forward(x, tokens), [batch, 5, 6], seed: 302);
    }

    [Fact]
    public void AFieldSetInTheConstructorIsReadWhenTheProgramRuns()
    {
        // pad = 0 makes every token segment 1, pad = 100 none: the compiled programs differ as the eager ones do.
        var tokens = Tensor.RandInt(0, 6, [2, 5], new Rng(303));
        var x = Tensor.Randn([2, 5, 6], rng: new Rng(304));
        var low = new CompiledMaskBuilderNet(pad: 0);
        var high = new CompiledMaskBuilderNet(pad: 100);
        high.LoadStateDict(low.StateDict());
        low.Eval();
        high.Eval();
        using (Autograd.NoGrad())
        {
            var (eagerLow, eagerHigh) = (low.Forward(x, tokens), high.Forward(x, tokens));
            TensorAssert.Close(eagerLow, low.Compile().Forward(x, tokens), 1e-4, 1e-5, "pad = 0");
            TensorAssert.Close(eagerHigh, high.Compile().Forward(x, tokens), 1e-4, 1e-5, "pad = 100");
            Assert.True((eagerLow - eagerHigh).Abs().Sum().Item() > 1e-3, "the two pads should give different outputs");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void CreationLikeAndComparisonMasksMatchEager(int batch)
    {
        var model = new CompiledMaskCatalogueNet();
        var explanation = model.Compile().Explanation;
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        var keep = Tensor.RandInt(0, 4, [4, 4], new Rng(305)).To(DType.Float32);
        CompiledLayerTests.Compare(model, model, x => model.Forward(x, keep), x => model.Compile().Forward(x, keep), [batch, 4, 4], seed: 306);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void WhereWithAScalarBranchMatchesEager(int batch)
    {
        var model = new CompiledWhereScalarNet();
        var explanation = model.Compile().Explanation;
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        var keep = Tensor.Rand([3, 6], rng: new Rng(307)).Gt(0.5);
        CompiledLayerTests.Compare(model, model, x => model.Forward(x, keep), x => model.Compile().Forward(x, keep), [batch, 3, 6], seed: 308);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void PaddingMaskMadeNumbersMatchesEager(int batch)
    {
        var model = new CompiledPaddingPoolNet(pad: 0);
        var explanation = model.Compile().Explanation;
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        var tokens = Tensor.RandInt(0, 3, [batch, 5], new Rng(311));
        CompiledLayerTests.Compare(model, model, x => model.Forward(x, tokens), x => model.Compile().Forward(x, tokens), [batch, 5, 4], seed: 312);
    }

    [Fact]
    public void ADataValueOfTheWrongBatchSaysWhichShapeItNeeds()
    {
        // The tokens' batch differs from x's: the data value built from them is refused with both shapes named.
        var net = new CompiledPaddingPoolNet().Compile();
        var ex = Assert.ThrowsAny<ArgumentException>(() => net.Forward(Tensor.Randn([2, 5, 4], rng: new Rng(313)), Tensor.RandInt(0, 3, [3, 5], new Rng(314))));
        Assert.Contains("[3, 5, 1]", ex.Message, StringComparison.Ordinal);
    }
}
