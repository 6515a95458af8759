using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Functional forms called in Forward compile with no graph break, and the compiled program equals eager (outputs, input
/// and parameter gradients) at batch 1, 3 and 64: the same kernels as the layers' rules, the window read from the call.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledFunctionalTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void FunctionalPoolsMatchEager(int batch)
    {
        Rng.ManualSeed(211);
        var model = new FunctionalPoolNet();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 1, 10, 10], seed: 212);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void FunctionalPools1dMatchEager(int batch)
    {
        Rng.ManualSeed(213);
        var model = new FunctionalPool1dNet();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 2, 11], seed: 214);
    }
}
