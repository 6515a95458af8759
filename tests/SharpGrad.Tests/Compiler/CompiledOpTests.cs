using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// The common ops of issue 12 compiled (CompiledOpModels.cs): each model's Compile() output, input gradient and parameter
/// gradients equal its eager Forward's (float32 on both sides, 1e-4 relative) at batch 1, 3 and 64.
/// </summary>
public class CompiledOpTests
{
    private static Tensor CausalMask(int t) => Tensor.Ones([t, t]).Triu(1).Gt(0);

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void CausalSelfAttentionMatchesEager(int batch)
    {
        var model = new CompiledCausalSelfAttention();
        var mask = CausalMask(6);
        var explanation = model.Compile().Explanation;
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x, mask), x => model.Compile().Forward(x, mask), [batch, 6, 16], seed: 120);
    }

    [Fact]
    public void CausalMaskHidesTheFuture()
    {
        // Changing the last time step must not change the compiled outputs of the earlier ones (the mask is applied).
        var model = new CompiledCausalSelfAttention();
        var mask = CausalMask(6);
        var x = Tensor.Randn([2, 6, 16], rng: new Rng(121));
        var changed = Tensor.Cat([x.Narrow(1, 0, 5), Tensor.Randn([2, 1, 16], rng: new Rng(122))], 1);
        var net = model.Compile();
        var a = net.Forward(x, mask).Detach().Clone();
        var b = net.Forward(changed, mask).Detach();
        TensorAssert.Close(a.Narrow(1, 0, 5), b.Narrow(1, 0, 5), 1e-6, 1e-6, "outputs before the changed step");
        double lastChange = (a.Narrow(1, 5, 1) - b.Narrow(1, 5, 1)).Abs().Max().Item();
        Assert.True(lastChange > 1e-3, $"the changed step's own output must change (it changed by {lastChange})");
    }

    [Fact]
    public void CompiledMaskOfTheWrongShapeSaysWhichShapeItNeeds()
    {
        var net = new CompiledCausalSelfAttention().Compile();
        var ex = Assert.Throws<ArgumentException>(() => net.Forward(Tensor.Randn([2, 6, 16], rng: new Rng(123)), CausalMask(5)));
        Assert.Contains("[5, 5]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[6, 6]", ex.Message, StringComparison.Ordinal);
    }
}
