using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Constructor-sized convolution, normalisation and pooling layers (issue 13): one generated program per class, instances of
/// different channel counts compiled with no graph break give eager's outputs, input gradients and parameter gradients at
/// batch 1, 3 and 64; a size the build could not prove is checked once in Compile() with a clear message.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledCtorSizedLayerTests
{
    [Theory]
    [InlineData(1, 3, 4)]
    [InlineData(3, 2, 6)]
    [InlineData(64, 3, 4)]
    public void ConvBatchNormGroupNormPoolBlockMatchesEager(int batch, int cin, int planes)
    {
        Rng.ManualSeed(101);
        var model = new CtorSizedConvBlock(cin, planes, 5);
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, cin, 8, 8], seed: 102);
    }

    [Theory]
    [InlineData(1, 2, 3)]
    [InlineData(3, 4, 5)]
    [InlineData(64, 2, 3)]
    public void Conv1dBatchNormPoolConvTransposeMatchesEager(int batch, int cin, int width)
    {
        Rng.ManualSeed(103);
        var model = new CtorSizedConv1dUp(cin, width);
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, cin, 12], seed: 104);
    }

    [Fact]
    public void ChannelsThatDoNotFitAreReportedByCompile()
    {
        var fits = new CtorSizedMismatchedConvs(5, 5);
        Assert.True(fits.Compile().Explanation.IsFullyCompiled, fits.Compile().Explanation.ToString());
        var error = Assert.Throws<InvalidOperationException>(() => new CtorSizedMismatchedConvs(5, 6).Compile());
        Assert.Contains("conv2.in_channels is 6", error.Message, StringComparison.Ordinal);
    }
}
