using System.Numerics;
using System.Numerics.Tensors;

namespace SharpGrad.Kernels;

/// <summary>
/// A pointwise map over a dense span of floating-point values, with up to two scalar parameters
/// (slope, alpha, bounds, exponent…). Implementations use <see cref="TensorPrimitives"/> where it has the op.
/// </summary>
internal interface IFloatMap
{
    static abstract void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>;
}

internal readonly struct ExpMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Exp(x, y);
}

internal readonly struct LogMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Log(x, y);
}

internal readonly struct SqrtMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Sqrt(x, y);
}

internal readonly struct RsqrtMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.ReciprocalSqrt(x, y);
}

internal readonly struct AbsMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Abs(x, y);
}

internal readonly struct SignMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            var v = x[i];
            y[i] = T.IsNaN(v) ? v : v > T.Zero ? T.One : v < T.Zero ? -T.One : T.Zero;
        }
    }
}

internal readonly struct PowScalarMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (a == 2) TensorPrimitives.Multiply(x, x, y);
        else if (a == 1) x.CopyTo(y);
        else if (a == 0.5) TensorPrimitives.Sqrt(x, y);
        else TensorPrimitives.Pow(x, T.CreateChecked(a), y);
    }
}

internal readonly struct ReciprocalMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Reciprocal(x, y);
}

internal readonly struct SinMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Sin(x, y);
}

internal readonly struct CosMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Cos(x, y);
}

internal readonly struct Log1pMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // TensorPrimitives.LogP1 is log(x + 1), which loses precision for tiny x; use the compensated form.
        for (int i = 0; i < x.Length; i++) y[i] = T.CreateTruncating(MathExtra.Log1p(double.CreateTruncating(x[i])));
    }
}

internal readonly struct Expm1Map : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = T.CreateTruncating(MathExtra.Expm1(double.CreateTruncating(x[i])));
    }
}

internal readonly struct ErfMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = T.CreateTruncating(MathExtra.Erf(double.CreateTruncating(x[i])));
    }
}

internal readonly struct TanhMap : IFloatMap
{
    // Not TensorPrimitives.Tanh: in .NET 10 it loses most digits for small |x| (4% relative error at 1e-6 in float).
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = T.Tanh(x[i]);
    }
}

internal readonly struct SigmoidMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Sigmoid(x, y);
}

/// <summary>max(x, 0), keeping NaN.</summary>
internal readonly struct ReluMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Max(x, T.Zero, y);
}

/// <summary>Clamp to [a, b]; a NaN bound means "no bound". NaN inputs stay NaN.</summary>
internal readonly struct ClampMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!double.IsNaN(a))
        {
            TensorPrimitives.Max(x, T.CreateChecked(a), y);
            x = y;
        }
        if (!double.IsNaN(b)) TensorPrimitives.Min(x, T.CreateChecked(b), y);
        else if (double.IsNaN(a)) x.CopyTo(y);
    }
}

/// <summary>x &gt; 0 ? x : a·x.</summary>
internal readonly struct LeakyReluMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = T.CreateChecked(a);
        for (int i = 0; i < x.Length; i++)
        {
            var v = x[i];
            y[i] = v > T.Zero ? v : v * s;
        }
    }
}

/// <summary>The derivative of LeakyReLU: x &gt; 0 ? 1 : a.</summary>
internal readonly struct LeakyReluGradMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = T.CreateChecked(a);
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > T.Zero ? T.One : s;
    }
}

/// <summary>x &gt; 0 ? x : a·(exp(x) − 1).</summary>
internal readonly struct EluMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            var v = x[i];
            y[i] = v > T.Zero ? v : T.CreateTruncating(a * MathExtra.Expm1(double.CreateTruncating(v)));
        }
    }
}

/// <summary>x·Φ(x) with the exact normal CDF (a = 0) or the tanh approximation (a = 1).</summary>
internal readonly struct GeluMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const double k = 0.7978845608028654; // sqrt(2/pi)
        for (int i = 0; i < x.Length; i++)
        {
            double v = double.CreateTruncating(x[i]);
            double r = a == 0
                ? 0.5 * v * (1 + MathExtra.Erf(v * 0.7071067811865476))
                : 0.5 * v * (1 + Math.Tanh(k * (v + 0.044715 * v * v * v)));
            y[i] = T.CreateTruncating(r);
        }
    }
}

/// <summary>x·sigmoid(x).</summary>
internal readonly struct SiluMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TensorPrimitives.Sigmoid(x, y);
        TensorPrimitives.Multiply(x, y, y);
    }
}

/// <summary>log(1 + exp(a·x)) / a, or x where a·x &gt; b (threshold).</summary>
internal readonly struct SoftplusMap : IFloatMap
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            double v = double.CreateTruncating(x[i]);
            double z = v * a;
            y[i] = z > b ? x[i] : T.CreateTruncating(MathExtra.Log1p(Math.Exp(z)) / a);
        }
    }
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

/// <summary>
/// A fused backward map o = f(g, s) over dense spans (g the output gradient, s a saved tensor), used when the backward
/// itself is not recorded (no createGraph), so the common activations cost one pass instead of three.
/// </summary>
internal interface IGradMap
{
    static abstract void Apply<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> s, Span<T> o, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>g where the saved output is &gt; 0, else 0 (ReLU).</summary>
internal readonly struct ReluGrad : IGradMap
{
    public static void Apply<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> s, Span<T> o, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
        => Masked(g, s, o, accumulate: false);

    /// <summary>o[i] = (or, with <paramref name="accumulate"/>, +=) s[i] &gt; 0 ? g[i] : 0, a vector at a time.</summary>
    public static void Masked<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> s, Span<T> o, bool accumulate) where T : unmanaged, INumber<T>
    {
        int n = o.Length, i = 0;
        if (g.Length < n || s.Length < n) throw new ArgumentException($"ReLU backward: the gradient ({g.Length}) and the saved output ({s.Length}) must have at least the {n} elements of the result.");
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            var zero = Vector<T>.Zero;
            for (; i <= n - Vector<T>.Count; i += Vector<T>.Count)
            {
                var v = Vector.ConditionalSelect(Vector.GreaterThan(new Vector<T>(s[i..]), zero), new Vector<T>(g[i..]), zero);
                if (accumulate) v += new Vector<T>(o[i..]);
                v.CopyTo(o[i..]);
            }
        }
        for (; i < n; i++)
        {
            T v = s[i] > T.Zero ? g[i] : T.Zero;
            o[i] = accumulate ? o[i] + v : v;
        }
    }
}

/// <summary>g·s·(1 − s) with s the saved sigmoid output.</summary>
internal readonly struct SigmoidGrad : IGradMap
{
    public static void Apply<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> s, Span<T> o, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < o.Length; i++) o[i] = g[i] * s[i] * (T.One - s[i]);
    }
}

/// <summary>g·(1 − s²) with s the saved tanh output.</summary>
internal readonly struct TanhGrad : IGradMap
{
    public static void Apply<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> s, Span<T> o, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < o.Length; i++) o[i] = g[i] * (T.One - s[i] * s[i]);
    }
}

/// <summary>g·(Φ(x) + x·φ(x)) with x the saved input (exact GELU).</summary>
internal readonly struct GeluGrad : IGradMap
{
    public static void Apply<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> s, Span<T> o, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < o.Length; i++)
        {
            double x = double.CreateTruncating(s[i]);
            double d = 0.5 * (1 + MathExtra.Erf(x * 0.7071067811865476)) + x * Math.Exp(-0.5 * x * x) * 0.3989422804014327;
            o[i] = g[i] * T.CreateTruncating(d);
        }
    }
}

/// <summary>g·sigmoid(x)·(1 + x·(1 − sigmoid(x))) with x the saved input (SiLU).</summary>
internal readonly struct SiluGrad : IGradMap
{
    public static void Apply<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> s, Span<T> o, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < o.Length; i++)
        {
            var x = s[i];
            var sig = T.One / (T.One + T.Exp(-x));
            o[i] = g[i] * sig * (T.One + x * (T.One - sig));
        }
    }
}

/// <summary>Row-wise softmax / log-softmax forward and backward over contiguous rows (the last dimension).</summary>
internal static class SoftmaxRows
{
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, int n, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = n == 0 ? 0 : x.Length / n;
        for (int r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * n, n);
            var yr = y.Slice(r * n, n);
            T m = TensorPrimitives.Max(xr);
            if (T.IsInfinity(m)) m = T.Zero;
            TensorPrimitives.Subtract(xr, m, yr);
            if (log)
            {
                // (x - m) - log Σ exp(x - m), summing exp without storing it.
                T s = T.Zero;
                for (int i = 0; i < n; i++) s += T.Exp(yr[i]);
                TensorPrimitives.Subtract(yr, T.Log(s), yr);
            }
            else
            {
                TensorPrimitives.Exp(yr, yr);
                T s = TensorPrimitives.Sum<T>(yr);
                TensorPrimitives.Divide(yr, s, yr);
            }
        }
    }

    /// <summary>softmax: o = y·(g − Σ g·y); log-softmax: o = g − exp(y)·Σ g.</summary>
    public static void Backward<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> y, Span<T> o, int n, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = n == 0 ? 0 : y.Length / n;
        for (int r = 0; r < rows; r++)
        {
            var gr = g.Slice(r * n, n);
            var yr = y.Slice(r * n, n);
            var or = o.Slice(r * n, n);
            if (log)
            {
                T s = TensorPrimitives.Sum(gr);
                for (int i = 0; i < n; i++) or[i] = gr[i] - T.Exp(yr[i]) * s;
            }
            else
            {
                T dot = TensorPrimitives.Dot(gr, yr);
                for (int i = 0; i < n; i++) or[i] = yr[i] * (gr[i] - dot);
            }
        }
    }
}
