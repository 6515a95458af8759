using SharpGrad.Serialization;
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

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void PowOfTwoTensorsMatchesEager(int batch)
    {
        Rng.ManualSeed(215);
        var model = new PowTensorNet();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 5], seed: 216);
    }

    private static readonly Lazy<StateDict> PowFixture = new(() =>
        StateDict.Load(Path.Combine(AppContext.BaseDirectory, "Fixtures", "catalogue", "pow.safetensors")));

    /// <summary>Eager Pow(tensor, tensor) (the kernel the compiled program calls) equals PyTorch 1.13, its special cases at 0 included.</summary>
    [Theory]
    [InlineData("zero_base_and_exponent")]
    [InlineData("broadcast_exponent")]
    [InlineData("broadcast_base")]
    public void PowOfTwoTensorsMatchesPyTorch(string name)
    {
        Tensor Fixture(string key) => PowFixture.Value.TryGetValue($"{name}.{key}", out var t) ? t.Clone() : throw new KeyNotFoundException($"{name}.{key}");
        var x = Fixture("x").RequiresGrad_();
        var y = Fixture("y").RequiresGrad_();
        var output = x.Pow(y);
        TensorAssert.Close(Fixture("out"), output, 1e-12, 1e-14, $"{name}: out");
        output.Backward(Fixture("seed_grad"));
        TensorAssert.Close(Fixture("grad_x"), x.Grad!, 1e-12, 1e-14, $"{name}: grad_x");
        TensorAssert.Close(Fixture("grad_y"), y.Grad!, 1e-12, 1e-14, $"{name}: grad_y");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void BatchedMasksIntoMaskedFillAndWhereMatchEager(int batch)
    {
        Rng.ManualSeed(217);
        var model = new PaddingMaskNet();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        var padding = Tensor.Rand([batch, 4], rng: new Rng(218)).Gt(0.6);
        var rows = Tensor.Rand([batch, 4, 1], rng: new Rng(219)).Gt(0.3);
        CompiledLayerTests.Compare(model, model, x => model.Forward(x, padding, rows), x => model.Compile().Forward(x, padding, rows), [batch, 4, 6], seed: 220);
    }

    [Fact]
    public void ABatchedMaskOfAnotherBatchSizeSaysWhichShapeItNeeds()
    {
        var net = new PaddingMaskNet().Compile();
        var x = Tensor.Randn([3, 4, 6], rng: new Rng(221));
        var e = Assert.Throws<ArgumentException>(() => net.Forward(x, Tensor.Ones([2, 4], DType.Bool), Tensor.Ones([3, 4, 1], DType.Bool)));
        Assert.Contains("the mask has shape [2, 1, 4], but the compiled program was built for [3, 1, 4]", e.Message);
    }
}
