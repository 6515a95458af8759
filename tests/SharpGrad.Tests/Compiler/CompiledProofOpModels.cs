using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// The ops added by catalogue rows and kernels alone (issue 11: PReLU, Softshrink, Hardshrink, GLU) in compiled models,
// as layers and as Functional calls; ProofOpTests checks them against the eager models.

/// <summary>The four ops as layers after Linear layers (PReLU with one slope per feature).</summary>
[Module]
public sealed partial class CompiledProofOpsMlp
{
    private readonly Linear fc1 = new(6, 8);
    private readonly PReLU prelu = new(8);
    private readonly Softshrink shrink = new(0.3);
    private readonly Linear fc2 = new(8, 8);
    private readonly Hardshrink hard = new(0.2);
    private readonly GLU glu = new();
    private readonly Linear head = new(4, 3);

    public Tensor Forward([Shape("N", 6)] Tensor x)
    {
        var h = shrink.Forward(prelu.Forward(fc1.Forward(x)));
        h = glu.Forward(hard.Forward(fc2.Forward(h)));
        return head.Forward(h);
    }
}

/// <summary>PReLU per channel after a convolution, then GLU over the channels and the shrinks as Functional calls.</summary>
[Module]
public sealed partial class CompiledProofOpsCnn
{
    private readonly Conv2d conv = new(2, 4, 3, padding: 1);
    private readonly PReLU prelu = new(4, init: 0.1);
    private readonly Linear fc = new(2 * 5 * 5, 3);

    public Tensor Forward([Shape("N", 2, 5, 5)] Tensor x)
    {
        var h = Functional.Glu(prelu.Forward(conv.Forward(x)), 1);
        h = Functional.Softshrink(h, 0.1) + Functional.Hardshrink(h);
        return fc.Forward(h.Flatten(1));
    }
}

/// <summary>
/// Every compiled pointwise op of the catalogue in one model (CatalogueTests checks that the list in
/// <see cref="Ops"/> is every compiled Pointwise row, so a new row without a compiled check fails there).
/// </summary>
[Module]
public sealed partial class CompiledPointwiseCatalogue
{
    /// <summary>The catalogue rows this model's Forward calls (by <c>OpRow.Name</c>).</summary>
    public static readonly string[] Ops =
    [
        "Relu", "Relu6", "Sigmoid", "Tanh", "LeakyRelu", "Elu", "Gelu", "Silu", "Softplus", "Hardtanh", "LogSigmoid", "Softshrink",
        "Hardshrink", "Exp", "Log", "Sqrt", "Rsqrt", "Abs", "Neg", "Sign", "Reciprocal", "Sin", "Cos", "Log1p", "Expm1", "Erf",
        "PowScalar", "Clamp", "Selu", "Celu", "Mish", "Softsign", "Hardsigmoid", "Hardswish", "RemainderScalar", "FmodScalar",
        "ClampMin", "ClampMax", "Square",
    ];

    private readonly Linear fc = new(6, 6);

    public Tensor Forward([Shape("N", 6)] Tensor x)
    {
        var h = fc.Forward(x) * 2f;
        var p = Functional.Softplus(h) + 0.5f;   // positive: for the ops defined on x > 0
        var activations = Functional.Relu(h) + Functional.Relu6(h * 4f) + Functional.Sigmoid(h) + Functional.Tanh(h)
            + Functional.LeakyRelu(h, 0.2) + Functional.Elu(h, 0.7) + Functional.Gelu(h) + Functional.Gelu(h, "tanh") + Functional.Silu(h)
            + Functional.Softplus(h, 2.0, 1.5) + Functional.Hardtanh(h, -0.5, 0.8) + Functional.LogSigmoid(h) + Functional.Softshrink(h, 0.3)
            + Functional.Hardshrink(h, 0.3) + Functional.Selu(h) + Functional.Celu(h, 0.6) + Functional.Mish(h) + Functional.Softsign(h)
            + Functional.Hardsigmoid(h * 3f) + Functional.Hardswish(h * 3f);
        var math = h.Exp() * 0.01f + p.Log() + p.Sqrt() + p.Rsqrt() + h.Abs() + h.Neg() + h.Sign() + p.Reciprocal() + h.Sin() + h.Cos()
            + p.Log1p() + (h * 0.1f).Expm1() + h.Erf() + p.Pow(2.5) + h.Clamp(-0.5, 0.7) + h.Remainder(1.5) + h.Fmod(-0.8)
            + h.ClampMin(-0.3) + h.ClampMax(0.4) + h.Square();
        return activations + math;
    }
}
