using System.ComponentModel;
using System.Numerics;
using System.Numerics.Tensors;

namespace SharpGrad.Kernels;

// The activations: one type each, its forward over a span and its derivative, written once (IPointwiseOp). Eager
// Functional/Tensor methods and generated code call them; their rows are in Ops/Catalogue.Pointwise.cs.

/// <summary>ReLU (PyTorch: <c>torch.relu</c>): max(x, 0), keeping NaN; the derivative reads the output.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct ReluOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static bool PiecewiseConstantDerivative => true;

    /// <inheritdoc/>
    public static bool ZeroDerivativeSelects => true;

    /// <inheritdoc/>
    public static string Name => "Relu";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
        => TensorPrimitives.Max(x, T.Zero, y);

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => TA.Above(y, 0);
}

/// <summary>ReLU6 (PyTorch: <c>F.relu6</c>): min(max(x, 0), 6); the derivative is 1 strictly inside (0, 6).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Relu6Op : IPointwiseOp
{
    /// <inheritdoc/>
    public static bool PiecewiseConstantDerivative => true;

    /// <inheritdoc/>
    public static bool ZeroDerivativeSelects => true;

    /// <inheritdoc/>
    public static string Name => "Relu6";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
        => HardtanhOp.Forward(x, y, 0, 6);

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => HardtanhOp.Derivative(x, y, 0, 6);
}

/// <summary>Sigmoid (PyTorch: <c>torch.sigmoid</c>): 1 / (1 + e⁻ˣ); the derivative y·(1 − y) reads the output.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct SigmoidOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Sigmoid";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
        => TensorPrimitives.Sigmoid(x, y);

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => y * (1.0 - y);
}

/// <summary>Tanh (PyTorch: <c>torch.tanh</c>); the derivative 1 − y² reads the output.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct TanhOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Tanh";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Not TensorPrimitives.Tanh: in .NET 10 it loses most digits for small |x| (4% relative error at 1e-6 in float).
        for (int i = 0; i < x.Length; i++) y[i] = T.Tanh(x[i]);
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => 1.0 - (y * y);
}

/// <summary>LeakyReLU (PyTorch: <c>F.leaky_relu</c>): x where x &gt; 0, else a·x (a = negative_slope).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct LeakyReluOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static bool PiecewiseConstantDerivative => true;

    /// <inheritdoc/>
    public static string Name => "LeakyRelu";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = T.CreateChecked(a);
        for (int i = 0; i < x.Length; i++)
        {
            var v = x[i];
            y[i] = v > T.Zero ? v : v * s;
        }
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA>
        => TA.Select(TA.Above(x, 0), TA.Constant(x, 1), TA.Constant(x, a));
}

/// <summary>ELU (PyTorch: <c>F.elu</c>): x where x &gt; 0, else a·(eˣ − 1); the derivative y + a below 0 reads both.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct EluOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Elu";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            var v = x[i];
            y[i] = v > T.Zero ? v : T.CreateTruncating(a * MathExtra.Expm1(double.CreateTruncating(v)));
        }
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA>
        => TA.Select(TA.Above(x, 0), TA.Constant(x, 1), y + a);
}

/// <summary>
/// GELU (PyTorch: <c>F.gelu</c>): x·Φ(x) with the exact normal CDF (a = 0, <c>approximate='none'</c>) or the tanh
/// approximation (a = 1, <c>'tanh'</c>).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct GeluOp : IPointwiseOp
{
    /// <summary>√(2/π), the tanh approximation's scale (read by the ONNX builder's decomposition too).</summary>
    internal const double Sqrt2OverPi = 0.7978845608028654;

    /// <summary>1/√2, the exact form's erf scale.</summary>
    internal const double InvSqrt2 = 0.7071067811865476;
    private const double InvSqrt2Pi = 0.3989422804014327;

    /// <summary>The tanh approximation's cubic coefficient, 0.044715.</summary>
    internal const double Cubic = 0.044715;

    /// <inheritdoc/>
    public static string Name => "Gelu";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            double v = double.CreateTruncating(x[i]);
            double r = a == 0
                ? 0.5 * v * (1 + MathExtra.Erf(v * InvSqrt2))
                : 0.5 * v * (1 + Math.Tanh(Sqrt2OverPi * (v + Cubic * v * v * v)));
            y[i] = T.CreateTruncating(r);
        }
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA>
    {
        if (a == 0) return ((TA.Erf(x * InvSqrt2) + 1) * 0.5) + (x * TA.Exp(x * x * -0.5) * InvSqrt2Pi);
        var t = TA.Tanh((x + (x * x * x * Cubic)) * Sqrt2OverPi);
        return ((t + 1) * 0.5) + (x * (1.0 - (t * t)) * ((x * x * (3 * Cubic)) + 1) * (0.5 * Sqrt2OverPi));
    }
}

/// <summary>SiLU (PyTorch: <c>F.silu</c>): x·σ(x).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct SiluOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Silu";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TensorPrimitives.Sigmoid(x, y);
        TensorPrimitives.Multiply(x, y, y);
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA>
    {
        var s = TA.Sigmoid(x);
        return s * ((x * (1.0 - s)) + 1);
    }
}

/// <summary>Softplus (PyTorch: <c>F.softplus</c>): log(1 + e^(a·x)) / a, or x where a·x &gt; b (a = beta, b = threshold).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct SoftplusOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Softplus";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            double z = double.CreateTruncating(x[i]) * a;
            y[i] = z > b ? x[i] : T.CreateTruncating(MathExtra.Log1p(Math.Exp(z)) / a);
        }
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA>
    {
        var z = x * a;
        return TA.Select(TA.Above(z, b), TA.Constant(x, 1), TA.Sigmoid(z));
    }
}

/// <summary>
/// Hardtanh (PyTorch: <c>F.hardtanh</c>): x clamped to [a, b]; the derivative is 1 strictly inside the interval, 0 at and
/// beyond the bounds (PyTorch's convention). Throws when a &gt; b.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct HardtanhOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static bool PiecewiseConstantDerivative => true;

    /// <inheritdoc/>
    public static bool ZeroDerivativeSelects => true;

    /// <inheritdoc/>
    public static string Name => "Hardtanh";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (a > b) throw new ArgumentException($"Hardtanh: minVal ({a}) must not be greater than maxVal ({b}).");
        ClampOp.Forward(x, y, a, b);
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => TA.Above(x, a) * TA.Below(x, b);
}

/// <summary>LogSigmoid (PyTorch: <c>F.logsigmoid</c>): log σ(x), computed stably as min(x, 0) − log(1 + e^−|x|).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct LogSigmoidOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "LogSigmoid";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            var v = x[i];
            var l = T.CreateTruncating(MathExtra.Log1p(double.CreateTruncating(T.Exp(-T.Abs(v)))));
            y[i] = (v > T.Zero ? T.Zero : v) - l;
        }
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => TA.Sigmoid(-x);
}

/// <summary>Softshrink (PyTorch: <c>F.softshrink</c>): x − a where x &gt; a, x + a where x &lt; −a, else 0 (a = lambd).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct SoftshrinkOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static bool PiecewiseConstantDerivative => true;

    /// <inheritdoc/>
    public static bool ZeroDerivativeSelects => true;

    /// <inheritdoc/>
    public static string Name => "Softshrink";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!(a >= 0)) throw new ArgumentException($"Softshrink: lambd must be non-negative, but got {a}.");
        var l = T.CreateChecked(a);
        for (int i = 0; i < x.Length; i++)
        {
            var v = x[i];
            y[i] = v > l ? v - l : v < -l ? v + l : T.IsNaN(v) ? v : T.Zero;
        }
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => TA.Above(x, a) + TA.Below(x, -a);
}

/// <summary>Hardshrink (PyTorch: <c>F.hardshrink</c>): x where |x| &gt; a, else 0 (a = lambd).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct HardshrinkOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static bool PiecewiseConstantDerivative => true;

    /// <inheritdoc/>
    public static bool ZeroDerivativeSelects => true;

    /// <inheritdoc/>
    public static string Name => "Hardshrink";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var l = T.CreateChecked(a);
        for (int i = 0; i < x.Length; i++)
        {
            var v = x[i];
            y[i] = v > l || v < -l || T.IsNaN(v) ? v : T.Zero;
        }
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => TA.Above(x, a) + TA.Below(x, -a);
}

/// <summary>Shared scalar special functions (double precision).</summary>
internal static class MathExtra
{
    /// <summary>log(1 + x), accurate for small x.</summary>
    public static double Log1p(double x)
    {
        double u = 1 + x;
        if (u == 1) return x;
        if (double.IsInfinity(u)) return Math.Log(u);
        return Math.Log(u) * x / (u - 1);
    }

    /// <summary>exp(x) − 1, accurate for small x.</summary>
    public static double Expm1(double x)
    {
        if (Math.Abs(x) < 1e-5) return x + 0.5 * x * x + x * x * x / 6;
        double u = Math.Exp(x);
        if (u == 1) return x;
        double um1 = u - 1;
        if (um1 == -1) return -1;
        if (double.IsInfinity(u)) return u;
        return um1 * x / Math.Log(u);
    }

    /// <summary>
    /// The error function to double precision: a positive-term series for |x| &lt; 2.5 (no cancellation) and a
    /// continued fraction for erfc above.
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double ax = Math.Abs(x);
        if (ax < 2.5)
        {
            // erf(x) = 2/sqrt(pi) · exp(-x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1))
            double x2 = x * x;
            double term = x, sum = x;
            for (int n = 1; n < 200; n++)
            {
                term *= 2 * x2 / (2 * n + 1);
                sum += term;
                if (Math.Abs(term) <= Math.Abs(sum) * 1e-17) break;
            }
            return 1.1283791670955126 * Math.Exp(-x2) * sum;
        }
        if (ax > 6) return Math.Sign(x);
        double erfc = Erfc(ax);
        return x > 0 ? 1 - erfc : erfc - 1;
    }

    /// <summary>erfc(x) for x ≥ 2 by the Laplace continued fraction (modified Lentz).</summary>
    private static double Erfc(double x)
    {
        // erfc(x) = exp(-x²)/sqrt(pi) · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …)))))
        const double tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int n = 1; n < 500; n++)
        {
            double an = n * 0.5;
            d = x + an * d;
            if (d == 0) d = tiny;
            c = x + an / c;
            if (c == 0) c = tiny;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        return Math.Exp(-x * x) / (f * 1.7724538509055160);
    }
}

/// <summary>Softsign (PyTorch: <c>F.softsign</c>): x / (1 + |x|); the derivative is 1 / (1 + |x|)².</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct SoftsignOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Softsign";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] / (T.Abs(x[i]) + T.One);
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA>
    {
        var d = (x * TA.Sign(x)) + 1;
        return 1.0 / (d * d);
    }
}

/// <summary>
/// SELU (PyTorch: <c>F.selu</c>): scale·(max(0, x) + min(0, α·(eˣ − 1))) with PyTorch's fixed α ≈ 1.6733 and scale ≈ 1.0507;
/// the derivative is scale for x &gt; 0, else y + scale·α.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct SeluOp : IPointwiseOp
{
    /// <summary>PyTorch's α.</summary>
    internal const double Alpha = 1.6732632423543772848170429916717;

    /// <summary>PyTorch's scale.</summary>
    internal const double Scale = 1.0507009873554804934193349852946;

    /// <inheritdoc/>
    public static string Name => "Selu";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            double v = double.CreateTruncating(x[i]);
            y[i] = T.CreateTruncating(Scale * (v > 0 ? v : Alpha * MathExtra.Expm1(v)));
        }
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA>
        => TA.Select(TA.Above(x, 0), TA.Constant(x, Scale), y + (Scale * Alpha));
}

/// <summary>
/// CELU (PyTorch: <c>F.celu</c>): max(0, x) + min(0, α·(e^(x/α) − 1)) with α = a; the derivative is 1 for x &gt; 0, else
/// y/α + 1 (= e^(x/α)). Throws when α = 0.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct CeluOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Celu";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (a == 0) throw new ArgumentException("Celu: alpha must not be 0.");
        for (int i = 0; i < x.Length; i++)
        {
            double v = double.CreateTruncating(x[i]);
            y[i] = v > 0 ? x[i] : T.CreateTruncating(a * MathExtra.Expm1(v / a));
        }
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA>
        => TA.Select(TA.Above(x, 0), TA.Constant(x, 1), (y * (1.0 / a)) + 1);
}

/// <summary>
/// Mish (PyTorch: <c>F.mish</c>): x·tanh(softplus(x)) (softplus with PyTorch's default threshold 20); the derivative is
/// tanh(sp) + x·(1 − tanh²(sp))·σ(x).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct MishOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Mish";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            double v = double.CreateTruncating(x[i]);
            double sp = v > SharpGrad.Ops.OpDefaults.Softplus.Threshold ? v : MathExtra.Log1p(Math.Exp(v));
            y[i] = T.CreateTruncating(v * Math.Tanh(sp));
        }
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA>
    {
        var t = TA.Tanh(TA.Softplus(x));
        return t + (x * (1.0 - (t * t)) * TA.Sigmoid(x));
    }
}

/// <summary>
/// Hardsigmoid (PyTorch: <c>F.hardsigmoid</c>): relu6(x + 3) / 6; the derivative is 1/6 strictly between −3 and 3, else 0
/// (PyTorch's <c>hardsigmoid_backward</c>).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct HardsigmoidOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static bool PiecewiseConstantDerivative => true;

    /// <inheritdoc/>
    public static bool ZeroDerivativeSelects => true;

    /// <inheritdoc/>
    public static string Name => "Hardsigmoid";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T three = T.CreateTruncating(3), six = T.CreateTruncating(6);
        for (int i = 0; i < x.Length; i++) y[i] = T.Min(T.Max(x[i] + three, T.Zero), six) / six;
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => TA.Above(x, -3) * TA.Below(x, 3) * (1.0 / 6);
}

/// <summary>
/// Hardswish (PyTorch: <c>F.hardswish</c>): x·relu6(x + 3) / 6; the derivative is 0 below −3, 1 above 3, and x/3 + 1/2
/// between them, bounds included (PyTorch's <c>hardswish_backward</c>).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct HardswishOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Hardswish";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T three = T.CreateTruncating(3), six = T.CreateTruncating(6);
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * T.Min(T.Max(x[i] + three, T.Zero), six) / six;
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA>
        => TA.Select(TA.Below(x, -3), TA.Constant(x, 0), TA.Select(TA.Above(x, 3), TA.Constant(x, 1), (x * (1.0 / 3)) + 0.5));
}
