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

    [Theory]
    [InlineData(1, 5)]
    [InlineData(3, 12)]
    [InlineData(64, 7)]
    public void AnInputSizeNamedOtherThanTheConstructorsIsBoundByTheLayer(int batch, int input)
    {
        // [Shape("N", "F")] in front of Linear(input, …): F is the layer's in_features, bound in Compile() (it used to be
        // taken as a size read at each call, and Compile() threw "needs it to be F = 0").
        Rng.ManualSeed(105);
        var model = new CtorSizedOtherNameLinear(input);
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, input], seed: 106);
        var error = Assert.Throws<ArgumentException>(() => model.Compile().Forward(Tensor.Randn([batch, input + 1])));
        Assert.Contains($"[{batch}, {input + 1}]", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, 5, 2)]
    [InlineData(3, 6, 1)]
    [InlineData(64, 4, 3)]
    public void AnLstmInputSizeNamedOtherThanTheConstructorsIsBoundByTheLayer(int batch, int input, int layers)
    {
        Rng.ManualSeed(107);
        var model = new CtorSizedOtherNameLstm(input, 8, layers);
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        foreach (int t in new[] { 3, 7 })
        {
            CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, t, input], seed: 108 + t);
        }
    }
}
