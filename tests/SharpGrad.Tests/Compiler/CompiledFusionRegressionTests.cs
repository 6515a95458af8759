using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// A negation fused into a multiplication by a constant (<c>p.Exp().Neg() * 0.1f</c>): the backward of the product read
/// the fused operand's buffer for the constant's gradient, which it never needs, and emitted
/// <c>float[] neg_out = ;</c> (found by the ONNX engineer's TensorOps model).
/// </summary>
[Module]
public sealed partial class CompiledNegTimesConstant
{
    private readonly Linear fc = new(5, 7);

    public Tensor Forward([Shape("N", 5)] Tensor x)
    {
        var h = fc.Forward(x);
        return h.Exp().Neg() * 0.1f + h * 0.5f - 2f * h.Neg();
    }
}

/// <summary>
/// A [Compiled] loss whose parameters are named like the generated entry's own locals (<c>y</c>, <c>result</c>,
/// <c>value</c>, <c>inputs</c>, <c>g</c>): the generated code once declared a local <c>y</c> beside the parameter
/// <c>y</c> (CS0136).
/// </summary>
[Module]
public sealed partial class CompiledLossWithTargetNamedY
{
    private readonly Linear fc = new(5, 3);

    public Tensor Forward([Shape("N", 5)] Tensor x) => fc.Forward(x);

    [Compiled]
    public Tensor Loss([Shape("N", 5)] Tensor g, [Shape("N", 3)] Tensor y) => Losses.Mse(Forward(g), y);

    [Compiled]
    public Tensor Scaled([Shape("N", 5)] Tensor result, [Shape("N", 5)] Tensor value) => fc.Forward(result * value);
}

/// <summary>Compiled-program regressions: each model's Compile() equals its eager Forward (outputs and all gradients).</summary>
public class CompiledFusionRegressionTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void NegationFusedIntoAProductWithAConstantMatchesEager(int batch)
    {
        var model = new CompiledNegTimesConstant();
        var explanation = model.Compile().Explanation;
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 5], seed: 131);
    }

    [Fact]
    public void ParametersNamedLikeTheGeneratedLocalsCompileAndMatchEager()
    {
        var model = new CompiledLossWithTargetNamedY();
        var compiled = model.Compile();
        var x = Tensor.Randn([4, 5], rng: new Rng(140));
        var target = Tensor.Randn([4, 3], rng: new Rng(141));
        var eager = model.Loss(x, target);
        eager.Backward();
        var grads = model.Parameters().Select(p => p.Grad!.Clone()).ToList();
        model.ZeroGrad();
        float fused = compiled.LossBackward(x, target);
        Assert.Equal(eager.Item(), fused, 5);
        var parameters = model.Parameters().ToList();
        for (int i = 0; i < grads.Count; i++) TensorAssert.Close(grads[i], parameters[i].Grad!, 1e-4, 1e-6, $"gradient of parameter {i}");
        var other = Tensor.Randn([4, 5], rng: new Rng(142));
        TensorAssert.Close(model.Scaled(x, other), compiled.Scaled(x, other), 1e-5, 1e-6, "Scaled");
    }
}
