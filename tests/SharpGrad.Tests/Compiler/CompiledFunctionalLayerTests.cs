namespace SharpGrad.Tests.Compiler;

/// <summary>
/// <c>Functional.Linear(x, weight, bias)</c> and <c>Functional.LayerNorm</c> with the module's own parameters are compiled with no graph break
/// (CompiledFunctionalLayerModels.cs): one program equals eager — output, input gradient and the parameters' gradients —
/// at batch 1, 3 and 64, and over two sequence lengths.
/// </summary>
public class CompiledFunctionalLayerTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void FunctionalLinearWithTheModulesOwnParametersMatchesEager(int batch)
    {
        Rng.ManualSeed(601);
        var model = new FunctionalLinearMlp();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => compiled.Forward(x), [batch, 5], seed: 602);
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => compiled.Forward(x), [batch, 5], seed: 603);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void FunctionalLinearOverASequenceLengthMatchesEager(int batch)
    {
        Rng.ManualSeed(611);
        var model = new FunctionalLinearOverLength();
        var compiled = model.Compile();
        CompiledLengthOpTests.EqualAtEachLength(model, model.Forward, compiled.Explanation, compiled.Forward, batch, features: 4, lengths: [4, 7, 2], seed: 612);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void FunctionalLayerNormWithAndWithoutTheModulesOwnParametersMatchesEager(int batch)
    {
        Rng.ManualSeed(621);
        var model = new FunctionalLayerNormNet();
        var compiled = model.Compile();
        CompiledLengthOpTests.EqualAtEachLength(model, model.Forward, compiled.Explanation, compiled.Forward, batch, features: 4, lengths: [5, 2, 5], seed: 622);
    }
}
