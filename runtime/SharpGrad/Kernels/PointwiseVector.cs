using System.Numerics;

namespace SharpGrad.Kernels;

/// <summary>
/// The gradient algebra over one SIMD vector of elements: <see cref="Pointwise"/>'s backward evaluates a piecewise-constant
/// derivative (<see cref="IPointwiseOp.PiecewiseConstantDerivative"/>: ReLU, LeakyReLU, Hardtanh, ReLU6, the shrinks,
/// Clamp, Abs, Neg, Sign) with it a vector at a time, from the same <c>Derivative</c> the scalar and tensor algebras evaluate.
/// Masks, selects, signs and arithmetic are vector instructions; the transcendental functions are not offered (an op
/// whose derivative needs them is not piecewise constant and runs on the scalar algebra).
/// </summary>
internal readonly struct VectorAlgebra<T>(Vector<T> value) : IGradAlgebra<VectorAlgebra<T>>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public Vector<T> Value { get; } = value;

    private static Vector<T> K(double c) => new(T.CreateTruncating(c));

    private static Vector<T> Mask(Vector<T> condition) => Vector.ConditionalSelect(condition, Vector<T>.One, Vector<T>.Zero);

    private static NotSupportedException Transcendental(string name) =>
        new($"{name}: the vector gradient algebra evaluates piecewise-constant derivatives only; an op whose derivative uses {name} "
            + "must not declare IPointwiseOp.PiecewiseConstantDerivative.");

    public static VectorAlgebra<T> operator +(VectorAlgebra<T> a, VectorAlgebra<T> b) => new(a.Value + b.Value);
    public static VectorAlgebra<T> operator -(VectorAlgebra<T> a, VectorAlgebra<T> b) => new(a.Value - b.Value);
    public static VectorAlgebra<T> operator *(VectorAlgebra<T> a, VectorAlgebra<T> b) => new(a.Value * b.Value);
    public static VectorAlgebra<T> operator /(VectorAlgebra<T> a, VectorAlgebra<T> b) => new(a.Value / b.Value);
    public static VectorAlgebra<T> operator -(VectorAlgebra<T> a) => new(-a.Value);
    public static VectorAlgebra<T> operator +(VectorAlgebra<T> a, double c) => new(a.Value + K(c));
    public static VectorAlgebra<T> operator *(VectorAlgebra<T> a, double c) => new(a.Value * K(c));
    public static VectorAlgebra<T> operator -(double c, VectorAlgebra<T> a) => new(K(c) - a.Value);
    public static VectorAlgebra<T> operator /(double c, VectorAlgebra<T> a) => new(K(c) / a.Value);
    public static VectorAlgebra<T> Constant(VectorAlgebra<T> like, double c) => new(K(c));
    public static VectorAlgebra<T> Exp(VectorAlgebra<T> x) => throw Transcendental(nameof(Exp));
    public static VectorAlgebra<T> Tanh(VectorAlgebra<T> x) => throw Transcendental(nameof(Tanh));
    public static VectorAlgebra<T> Sigmoid(VectorAlgebra<T> x) => throw Transcendental(nameof(Sigmoid));
    public static VectorAlgebra<T> Erf(VectorAlgebra<T> x) => throw Transcendental(nameof(Erf));
    public static VectorAlgebra<T> Sin(VectorAlgebra<T> x) => throw Transcendental(nameof(Sin));
    public static VectorAlgebra<T> Cos(VectorAlgebra<T> x) => throw Transcendental(nameof(Cos));
    public static VectorAlgebra<T> Softplus(VectorAlgebra<T> x) => throw Transcendental(nameof(Softplus));
    public static VectorAlgebra<T> Pow(VectorAlgebra<T> x, double p) => throw Transcendental(nameof(Pow));
    public static VectorAlgebra<T> Pow(VectorAlgebra<T> x, VectorAlgebra<T> y) => throw Transcendental(nameof(Pow));
    public static VectorAlgebra<T> Log(VectorAlgebra<T> x) => throw Transcendental(nameof(Log));

    /// <summary>−1, 0 or 1, NaN kept (as <see cref="F32.Sign"/>).</summary>
    public static VectorAlgebra<T> Sign(VectorAlgebra<T> x)
    {
        var v = x.Value;
        var sign = Vector.ConditionalSelect(Vector.GreaterThan(v, Vector<T>.Zero), Vector<T>.One,
            Vector.ConditionalSelect(Vector.LessThan(v, Vector<T>.Zero), -Vector<T>.One, Vector<T>.Zero));
        return new(Vector.ConditionalSelect(Vector.Equals(v, v), sign, v));
    }

    /// <summary>1 where x &gt; t, t rounded to T first as the scalar algebras do (PyTorch casts a Scalar bound to the tensor's dtype).</summary>
    public static VectorAlgebra<T> Above(VectorAlgebra<T> x, double t) => new(Mask(Vector.GreaterThan(x.Value, K(t))));

    /// <summary>1 where x &lt; t, t rounded to T first.</summary>
    public static VectorAlgebra<T> Below(VectorAlgebra<T> x, double t) => new(Mask(Vector.LessThan(x.Value, K(t))));

    public static VectorAlgebra<T> Wins(VectorAlgebra<T> a, VectorAlgebra<T> b)
        => new(Vector.ConditionalSelect(Vector.GreaterThan(a.Value, b.Value), Vector<T>.One,
            Vector.ConditionalSelect(Vector.Equals(a.Value, b.Value), K(0.5), Vector<T>.Zero)));

    public static VectorAlgebra<T> Select(VectorAlgebra<T> mask, VectorAlgebra<T> whenTrue, VectorAlgebra<T> whenFalse)
        => new(Vector.ConditionalSelect(Vector.Equals(mask.Value, Vector<T>.Zero), whenFalse.Value, whenTrue.Value));
}
