using System.ComponentModel;
using System.Numerics;
using SharpGrad.Ops;

namespace SharpGrad.Kernels;

/// <summary>
/// The arithmetic a derivative is written in, so that each op writes its derivative once and gets it three ways: over
/// <c>float</c> and <c>double</c> elements in the kernels (eager first-order backward, compiled programs) and over
/// tensors when a backward is itself recorded (<c>createGraph</c>: the derivative is then differentiable again).
/// No PyTorch counterpart (PyTorch writes each derivative in derivatives.yaml over tensors, and again in its kernels).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IGradAlgebra<TSelf> where TSelf : IGradAlgebra<TSelf>
{
    /// <summary>a + b.</summary>
    static abstract TSelf operator +(TSelf a, TSelf b);

    /// <summary>a − b.</summary>
    static abstract TSelf operator -(TSelf a, TSelf b);

    /// <summary>a · b.</summary>
    static abstract TSelf operator *(TSelf a, TSelf b);

    /// <summary>a / b.</summary>
    static abstract TSelf operator /(TSelf a, TSelf b);

    /// <summary>−a.</summary>
    static abstract TSelf operator -(TSelf a);

    /// <summary>a + c.</summary>
    static abstract TSelf operator +(TSelf a, double c);

    /// <summary>a · c.</summary>
    static abstract TSelf operator *(TSelf a, double c);

    /// <summary>c − a.</summary>
    static abstract TSelf operator -(double c, TSelf a);

    /// <summary>c / a.</summary>
    static abstract TSelf operator /(double c, TSelf a);

    /// <summary>The constant <paramref name="c"/>, of the kind (dtype) of <paramref name="like"/>.</summary>
    static abstract TSelf Constant(TSelf like, double c);

    /// <summary>eˣ.</summary>
    static abstract TSelf Exp(TSelf x);

    /// <summary>tanh x.</summary>
    static abstract TSelf Tanh(TSelf x);

    /// <summary>1 / (1 + e⁻ˣ).</summary>
    static abstract TSelf Sigmoid(TSelf x);

    /// <summary>The error function.</summary>
    static abstract TSelf Erf(TSelf x);

    /// <summary>sin x.</summary>
    static abstract TSelf Sin(TSelf x);

    /// <summary>cos x.</summary>
    static abstract TSelf Cos(TSelf x);

    /// <summary>The sign (−1, 0, 1; NaN stays NaN); its derivative is 0.</summary>
    static abstract TSelf Sign(TSelf x);

    /// <summary>log(1 + eˣ): PyTorch's softplus with its default beta and threshold (<see cref="SoftplusOp"/> with <c>OpDefaults.Softplus</c>).</summary>
    static abstract TSelf Softplus(TSelf x);

    /// <summary>xᵖ.</summary>
    static abstract TSelf Pow(TSelf x, double p);

    /// <summary>xʸ elementwise (both operands values of the algebra).</summary>
    static abstract TSelf Pow(TSelf x, TSelf y);

    /// <summary>The natural logarithm.</summary>
    static abstract TSelf Log(TSelf x);

    /// <summary>1 where x &gt; t, else 0 (a step: its derivative is 0).</summary>
    static abstract TSelf Above(TSelf x, double t);

    /// <summary>1 where x &lt; t, else 0.</summary>
    static abstract TSelf Below(TSelf x, double t);

    /// <summary>1 where a &gt; b, 0.5 where a = b, else 0 (the share of a maximum; a minimum swaps the arguments).</summary>
    static abstract TSelf Wins(TSelf a, TSelf b);

    /// <summary>Where <paramref name="mask"/> is non-zero, <paramref name="whenTrue"/>, else <paramref name="whenFalse"/>.</summary>
    static abstract TSelf Select(TSelf mask, TSelf whenTrue, TSelf whenFalse);
}

/// <summary>A scalar algebra over elements of type <typeparamref name="T"/> (the kernels' view of F32 and F64).</summary>
internal interface IScalarAlgebra<TSelf, T> : IGradAlgebra<TSelf>
    where TSelf : IScalarAlgebra<TSelf, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    static abstract TSelf Of(T value);

    T Value { get; }
}

/// <summary>The algebra over one float32 element (transcendental functions in double where float32 would lose digits).</summary>
internal readonly struct F32(float value) : IScalarAlgebra<F32, float>
{
    public float Value { get; } = value;

    public static F32 Of(float value) => new(value);

    public static F32 operator +(F32 a, F32 b) => new(a.Value + b.Value);
    public static F32 operator -(F32 a, F32 b) => new(a.Value - b.Value);
    public static F32 operator *(F32 a, F32 b) => new(a.Value * b.Value);
    public static F32 operator /(F32 a, F32 b) => new(a.Value / b.Value);
    public static F32 operator -(F32 a) => new(-a.Value);
    public static F32 operator +(F32 a, double c) => new(a.Value + (float)c);
    public static F32 operator *(F32 a, double c) => new(a.Value * (float)c);
    public static F32 operator -(double c, F32 a) => new((float)c - a.Value);
    public static F32 operator /(double c, F32 a) => new((float)c / a.Value);
    public static F32 Constant(F32 like, double c) => new((float)c);
    public static F32 Exp(F32 x) => new(MathF.Exp(x.Value));
    public static F32 Tanh(F32 x) => new(MathF.Tanh(x.Value));
    public static F32 Sigmoid(F32 x) => new(1f / (1f + MathF.Exp(-x.Value)));
    public static F32 Erf(F32 x) => new((float)MathExtra.Erf(x.Value));
    public static F32 Sin(F32 x) => new(MathF.Sin(x.Value));
    public static F32 Cos(F32 x) => new(MathF.Cos(x.Value));
    public static F32 Sign(F32 x) => new(float.IsNaN(x.Value) ? x.Value : x.Value > 0f ? 1f : x.Value < 0f ? -1f : 0f);
    public static F32 Softplus(F32 x)
    {
        float v = x.Value, y = 0;
        SoftplusOp.Forward(new ReadOnlySpan<float>(in v), new Span<float>(ref y), OpDefaults.Softplus.Beta, OpDefaults.Softplus.Threshold);
        return new(y);
    }

    public static F32 Pow(F32 x, double p) => new(p == 2 ? x.Value * x.Value : MathF.Pow(x.Value, (float)p));
    public static F32 Pow(F32 x, F32 y) => new(MathF.Pow(x.Value, y.Value));
    public static F32 Log(F32 x) => new(MathF.Log(x.Value));
    // the threshold rounded to float first, as PyTorch casts a Scalar bound to the tensor's dtype (clamp, hardtanh, the shrinks)
    public static F32 Above(F32 x, double t) => new(x.Value > (float)t ? 1f : 0f);
    public static F32 Below(F32 x, double t) => new(x.Value < (float)t ? 1f : 0f);
    public static F32 Wins(F32 a, F32 b) => new(a.Value > b.Value ? 1f : a.Value == b.Value ? 0.5f : 0f);
    public static F32 Select(F32 mask, F32 whenTrue, F32 whenFalse) => mask.Value != 0f ? whenTrue : whenFalse;
}

/// <summary>The algebra over one float64 element.</summary>
internal readonly struct F64(double value) : IScalarAlgebra<F64, double>
{
    public double Value { get; } = value;

    public static F64 Of(double value) => new(value);

    public static F64 operator +(F64 a, F64 b) => new(a.Value + b.Value);
    public static F64 operator -(F64 a, F64 b) => new(a.Value - b.Value);
    public static F64 operator *(F64 a, F64 b) => new(a.Value * b.Value);
    public static F64 operator /(F64 a, F64 b) => new(a.Value / b.Value);
    public static F64 operator -(F64 a) => new(-a.Value);
    public static F64 operator +(F64 a, double c) => new(a.Value + c);
    public static F64 operator *(F64 a, double c) => new(a.Value * c);
    public static F64 operator -(double c, F64 a) => new(c - a.Value);
    public static F64 operator /(double c, F64 a) => new(c / a.Value);
    public static F64 Constant(F64 like, double c) => new(c);
    public static F64 Exp(F64 x) => new(Math.Exp(x.Value));
    public static F64 Tanh(F64 x) => new(Math.Tanh(x.Value));
    public static F64 Sigmoid(F64 x) => new(1.0 / (1.0 + Math.Exp(-x.Value)));
    public static F64 Erf(F64 x) => new(MathExtra.Erf(x.Value));
    public static F64 Sin(F64 x) => new(Math.Sin(x.Value));
    public static F64 Cos(F64 x) => new(Math.Cos(x.Value));
    public static F64 Sign(F64 x) => new(double.IsNaN(x.Value) ? x.Value : x.Value > 0 ? 1 : x.Value < 0 ? -1 : 0);
    public static F64 Softplus(F64 x)
    {
        double v = x.Value, y = 0;
        SoftplusOp.Forward(new ReadOnlySpan<double>(in v), new Span<double>(ref y), OpDefaults.Softplus.Beta, OpDefaults.Softplus.Threshold);
        return new(y);
    }

    public static F64 Pow(F64 x, double p) => new(p == 2 ? x.Value * x.Value : Math.Pow(x.Value, p));
    public static F64 Pow(F64 x, F64 y) => new(Math.Pow(x.Value, y.Value));
    public static F64 Log(F64 x) => new(Math.Log(x.Value));
    public static F64 Above(F64 x, double t) => new(x.Value > t ? 1 : 0);
    public static F64 Below(F64 x, double t) => new(x.Value < t ? 1 : 0);
    public static F64 Wins(F64 a, F64 b) => new(a.Value > b.Value ? 1 : a.Value == b.Value ? 0.5 : 0);
    public static F64 Select(F64 mask, F64 whenTrue, F64 whenFalse) => mask.Value != 0 ? whenTrue : whenFalse;
}

/// <summary>
/// The algebra over tensors: each operation is a recorded tensor op, so a derivative written in it is differentiable
/// (PyTorch: <c>create_graph=True</c>). Steps (<see cref="Above"/>, <see cref="Wins"/>) are never recorded.
/// </summary>
internal readonly struct TensorAlgebra(Tensor value) : IGradAlgebra<TensorAlgebra>
{
    public Tensor Value { get; } = value;

    private static Tensor K(Tensor like, double c) => Tensor.ScalarLike(like, c);

    private static TensorAlgebra Mask(Tensor condition, Tensor like) => new(Tensor.MaskOf(condition, like.DType));

    public static TensorAlgebra operator +(TensorAlgebra a, TensorAlgebra b) => new(a.Value + b.Value);
    public static TensorAlgebra operator -(TensorAlgebra a, TensorAlgebra b) => new(a.Value - b.Value);
    public static TensorAlgebra operator *(TensorAlgebra a, TensorAlgebra b) => new(a.Value * b.Value);
    public static TensorAlgebra operator /(TensorAlgebra a, TensorAlgebra b) => new(a.Value / b.Value);
    public static TensorAlgebra operator -(TensorAlgebra a) => new(a.Value.Neg());
    public static TensorAlgebra operator +(TensorAlgebra a, double c) => new(a.Value.Add(K(a.Value, c)));
    public static TensorAlgebra operator *(TensorAlgebra a, double c) => new(a.Value.Mul(K(a.Value, c)));
    public static TensorAlgebra operator -(double c, TensorAlgebra a) => new(K(a.Value, c).Sub(a.Value));
    public static TensorAlgebra operator /(double c, TensorAlgebra a) => new(K(a.Value, c).Div(a.Value));
    public static TensorAlgebra Constant(TensorAlgebra like, double c) => new(K(like.Value, c));
    public static TensorAlgebra Exp(TensorAlgebra x) => new(x.Value.Exp());
    public static TensorAlgebra Tanh(TensorAlgebra x) => new(x.Value.Tanh());
    public static TensorAlgebra Sigmoid(TensorAlgebra x) => new(x.Value.Sigmoid());
    public static TensorAlgebra Erf(TensorAlgebra x) => new(x.Value.Erf());
    public static TensorAlgebra Sin(TensorAlgebra x) => new(x.Value.Sin());
    public static TensorAlgebra Cos(TensorAlgebra x) => new(x.Value.Cos());
    public static TensorAlgebra Sign(TensorAlgebra x) => new(x.Value.Sign());
    public static TensorAlgebra Softplus(TensorAlgebra x) => new(Functional.Softplus(x.Value));
    public static TensorAlgebra Pow(TensorAlgebra x, double p) => new(x.Value.Pow(p));
    public static TensorAlgebra Pow(TensorAlgebra x, TensorAlgebra y) => new(x.Value.Pow(y.Value));
    public static TensorAlgebra Log(TensorAlgebra x) => new(x.Value.Log());
    public static TensorAlgebra Above(TensorAlgebra x, double t) => Mask(x.Value.Gt(t), x.Value);
    public static TensorAlgebra Below(TensorAlgebra x, double t) => Mask(x.Value.Lt(t), x.Value);

    public static TensorAlgebra Wins(TensorAlgebra a, TensorAlgebra b)
    {
        var wins = Tensor.MaskOf(a.Value.Gt(b.Value), a.Value.DType);
        var ties = Tensor.MaskOf(a.Value.Eq(b.Value), a.Value.DType);
        return new(Tensor.BinaryRaw(wins, Tensor.BinaryRaw(ties, K(ties, 0.5), BinaryKind.Mul), BinaryKind.Add));
    }

    public static TensorAlgebra Select(TensorAlgebra mask, TensorAlgebra whenTrue, TensorAlgebra whenFalse)
        => new(Tensor.Where(mask.Value.Ne(0.0), whenTrue.Value, whenFalse.Value));
}
