using System.ComponentModel;
using System.Numerics;
using System.Numerics.Tensors;

namespace SharpGrad.Kernels;

// Elementwise math: one type each, its forward and its derivative (IPointwiseOp); rows in Ops/Catalogue.Pointwise.cs.

/// <summary>eˣ (PyTorch: <c>torch.exp</c>); the derivative reads the output.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct ExpOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Exp";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Exp(x, y);

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => y;
}

/// <summary>Natural logarithm (PyTorch: <c>torch.log</c>).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct LogOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Log";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Log(x, y);

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => 1.0 / x;
}

/// <summary>√x (PyTorch: <c>torch.sqrt</c>); the derivative 1 / (2y) reads the output.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct SqrtOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Sqrt";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Sqrt(x, y);

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => 0.5 / y;
}

/// <summary>1/√x (PyTorch: <c>torch.rsqrt</c>); the derivative −y³/2 reads the output.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct RsqrtOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Rsqrt";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
        => TensorPrimitives.ReciprocalSqrt(x, y);

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => y * y * y * -0.5;
}

/// <summary>|x| (PyTorch: <c>torch.abs</c>); the derivative is the sign (0 at 0).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct AbsOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static bool PiecewiseConstantDerivative => true;

    /// <inheritdoc/>
    public static string Name => "Abs";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Abs(x, y);

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => TA.Sign(x);
}

/// <summary>−x (PyTorch: <c>torch.neg</c>); computed as 0 − x like PyTorch, so −0 is +0.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct NegOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static bool PiecewiseConstantDerivative => true;

    /// <inheritdoc/>
    public static string Name => "Neg";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
        => TensorPrimitives.Subtract(T.Zero, x, y);

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => TA.Constant(x, -1);
}

/// <summary>The sign −1, 0 or 1, NaN kept (PyTorch: <c>torch.sign</c>); its derivative is 0.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct SignOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static bool PiecewiseConstantDerivative => true;

    /// <inheritdoc/>
    public static bool ZeroDerivativeSelects => true;

    /// <inheritdoc/>
    public static string Name => "Sign";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            var v = x[i];
            y[i] = T.IsNaN(v) ? v : v > T.Zero ? T.One : v < T.Zero ? -T.One : T.Zero;
        }
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => TA.Constant(x, 0);
}

/// <summary>1/x (PyTorch: <c>torch.reciprocal</c>); the derivative −y² reads the output.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct ReciprocalOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Reciprocal";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
        => TensorPrimitives.Reciprocal(x, y);

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => -(y * y);
}

/// <summary>sin x (PyTorch: <c>torch.sin</c>).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct SinOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Sin";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Sin(x, y);

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => TA.Cos(x);
}

/// <summary>cos x (PyTorch: <c>torch.cos</c>).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct CosOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Cos";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Cos(x, y);

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => -TA.Sin(x);
}

/// <summary>log(1 + x), accurate for small x (PyTorch: <c>torch.log1p</c>).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Log1pOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Log1p";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // TensorPrimitives.LogP1 is log(x + 1), which loses precision for tiny x; use the compensated form.
        for (int i = 0; i < x.Length; i++) y[i] = T.CreateTruncating(MathExtra.Log1p(double.CreateTruncating(x[i])));
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => 1.0 / (x + 1);
}

/// <summary>eˣ − 1, accurate for small x (PyTorch: <c>torch.expm1</c>); the derivative y + 1 reads the output.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Expm1Op : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Expm1";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = T.CreateTruncating(MathExtra.Expm1(double.CreateTruncating(x[i])));
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => y + 1;
}

/// <summary>The error function (PyTorch: <c>torch.erf</c>); the derivative is 2/√π · e^(−x²).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct ErfOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Erf";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = T.CreateTruncating(MathExtra.Erf(double.CreateTruncating(x[i])));
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => TA.Exp(-(x * x)) * 1.1283791670955126;
}

/// <summary>xᵃ for a scalar exponent a (PyTorch: <c>torch.pow(input, exponent)</c>).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct PowScalarOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "PowScalar";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (a == 2) TensorPrimitives.Multiply(x, x, y);
        else if (a == 1) x.CopyTo(y);
        else if (a == 0.5) TensorPrimitives.Sqrt(x, y);
        else TensorPrimitives.Pow(x, T.CreateChecked(a), y);
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA>
        => a == 0 ? TA.Constant(x, 0) : a == 1 ? TA.Constant(x, 1) : TA.Pow(x, a - 1) * a;
}

/// <summary>
/// The remainder of x divided by a scalar a with the sign of the divisor (PyTorch: <c>torch.remainder(input, other)</c>,
/// Python's <c>%</c>): fmod(x, a), plus a where that is nonzero and its sign differs from a's (PyTorch's kernel); NaN for a = 0.
/// Its derivative in x is 1 (PyTorch's).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct RemainderScalarOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static bool PiecewiseConstantDerivative => true;

    /// <inheritdoc/>
    public static string Name => "RemainderScalar";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T d = T.CreateChecked(a);
        bool negative = a < 0;
        for (int i = 0; i < x.Length; i++)
        {
            T r = x[i] % d;
            y[i] = r != T.Zero && T.IsNegative(r) != negative ? r + d : r;
        }
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => TA.Constant(x, 1);
}

/// <summary>
/// The remainder of x divided by a scalar a with the sign of the dividend (PyTorch: <c>torch.fmod(input, other)</c>, C's
/// <c>fmod</c>); NaN for a = 0. Its derivative in x is 1 (PyTorch's).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct FmodScalarOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static bool PiecewiseConstantDerivative => true;

    /// <inheritdoc/>
    public static string Name => "FmodScalar";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T d = T.CreateChecked(a);
        for (int i = 0; i < x.Length; i++) y[i] = x[i] % d;
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA> => TA.Constant(x, 1);
}

/// <summary>
/// Clamp to [a, b] (PyTorch: <c>torch.clamp</c>); a NaN bound means "no bound", NaN inputs stay NaN. The derivative is 1
/// where a ≤ x ≤ b (bounds included, like PyTorch).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct ClampOp : IPointwiseOp
{
    /// <inheritdoc/>
    public static bool PiecewiseConstantDerivative => true;

    /// <inheritdoc/>
    public static bool ZeroDerivativeSelects => true;

    /// <inheritdoc/>
    public static string Name => "Clamp";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!double.IsNaN(a))
        {
            TensorPrimitives.Max(x, T.CreateChecked(a), y);
            x = y;
        }
        if (!double.IsNaN(b)) TensorPrimitives.Min(x, T.CreateChecked(b), y);
        else if (double.IsNaN(a)) x.CopyTo(y);
    }

    /// <inheritdoc/>
    public static TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA>
    {
        var inside = TA.Constant(x, 1);
        if (!double.IsNaN(a)) inside = inside * (1.0 - TA.Below(x, a));
        if (!double.IsNaN(b)) inside = inside * (1.0 - TA.Above(x, b));
        return inside;
    }
}
