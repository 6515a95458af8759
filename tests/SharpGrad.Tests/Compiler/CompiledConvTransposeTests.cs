using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// The compiled ConvTranspose1d/2d rule (issue 13): strided, padded, output-padded, grouped, dilated and bias-free transposed
/// convolutions compiled with no graph break give the eager layers' outputs and gradients at batch 1, 3 and 64 (the eager
/// layers are checked against PyTorch in the primitive-layer fixtures), and a constant-size U-Net compiles whole.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledConvTransposeTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void StridedConvTranspose2dMatchesEager(int batch)
    {
        Rng.ManualSeed(91);
        var model = new CompiledConvTranspose2dNet();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 4, 5, 6], seed: 92);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void GroupedConvTranspose2dWithoutBiasMatchesEager(int batch)
    {
        Rng.ManualSeed(93);
        var model = new CompiledGroupedConvTranspose2d();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 4, 3, 5], seed: 94);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void DilatedConvTranspose1dMatchesEager(int batch)
    {
        Rng.ManualSeed(95);
        var model = new CompiledConvTranspose1dNet();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 3, 7], seed: 96);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(64)]
    public void TinyUNetCompilesWholeAndMatchesEagerInEvaluation(int batch)
    {
        Rng.ManualSeed(97);
        var model = new CompiledTinyUNet();
        model.Eval();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 1, 8, 8], seed: 98);
    }
}
