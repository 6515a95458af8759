using SharpGrad.Layers;

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
}
