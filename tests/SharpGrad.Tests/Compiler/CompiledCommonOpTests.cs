namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Former eager composites compiled (issue 12 item 3, session 9): each model compiles with no graph break and equals eager
/// (outputs, input gradients, parameter gradients) at batch 1, 3 and 64.
/// </summary>
public class CompiledCommonOpTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void MmBmmAndSoftminMatchEager(int batch)
    {
        var model = new CompiledCommonOpsNet();
        var explanation = model.Compile().Explanation;
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 6], seed: 970);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void ClampMinClampMaxAndSquareMatchEager(int batch)
    {
        var model = new CompiledPointwiseCatalogue();
        var explanation = model.Compile().Explanation;
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 6], seed: 971);
    }
}
