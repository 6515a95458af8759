using System.ComponentModel;
using System.Numerics;
using System.Numerics.Tensors;

namespace SharpGrad.Kernels;

/// <summary>
/// Softmax and log-softmax of a contiguous tensor viewed as [outer, size, inner], over the middle dim (PyTorch:
/// <c>F.softmax</c>/<c>F.log_softmax</c>), computed stably; the backward reads the output. Eager <c>Functional.Softmax</c>
/// and generated code call the same kernels. Not meant to be called by hand.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class SoftmaxKernel
{
    /// <summary>Float32 forward for generated code: <paramref name="y"/> = softmax (or log-softmax) of <paramref name="x"/>.</summary>
    public static void Forward(float[] x, float[] y, int outer, int size, int inner, bool log)
    {
        int n = outer * size * inner;
        Forward<float>(new ReadOnlySpan<float>(x, 0, n), new Span<float>(y, 0, n), outer, size, inner, log);
    }

    /// <summary>Float32 backward for generated code: <paramref name="gx"/> += the gradient (nothing when it is null).</summary>
    public static void Backward(float[] y, float[] gy, float[]? gx, int outer, int size, int inner, bool log)
    {
        if (gx is null) return;
        int n = outer * size * inner;
        Backward<float>(new ReadOnlySpan<float>(y, 0, n), new ReadOnlySpan<float>(gy, 0, n), new Span<float>(gx, 0, n), outer, size, inner, log, accumulate: true);
    }

    /// <summary>y = softmax over the middle dim of x viewed as [outer, size, inner]; a row of −∞ (or an infinite maximum) shifts by 0.</summary>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, int outer, int size, int inner, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++) Row(x.Slice(o * size, size), y.Slice(o * size, size), log);
            return;
        }
        for (int o = 0; o < outer; o++)
        {
            for (int i = 0; i < inner; i++)
            {
                int b = o * size * inner + i;
                T m = T.NegativeInfinity;
                for (int s = 0; s < size; s++)
                {
                    T v = x[b + s * inner];
                    if (v > m || T.IsNaN(v)) m = v;
                    if (T.IsNaN(v)) break;
                }
                if (T.IsInfinity(m)) m = T.Zero;
                T sum = T.Zero;
                if (log)
                {
                    for (int s = 0; s < size; s++) sum += T.Exp(x[b + s * inner] - m);
                    T ls = T.Log(sum);
                    for (int s = 0; s < size; s++) y[b + s * inner] = (x[b + s * inner] - m) - ls;
                }
                else
                {
                    for (int s = 0; s < size; s++)
                    {
                        T e = T.Exp(x[b + s * inner] - m);
                        y[b + s * inner] = e;
                        sum += e;
                    }
                    for (int s = 0; s < size; s++) y[b + s * inner] /= sum;
                }
            }
        }
    }

    /// <summary>One contiguous row.</summary>
    private static void Row<T>(ReadOnlySpan<T> xr, Span<T> yr, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (xr.Length == 0) return;
        T m = TensorPrimitives.Max(xr);
        if (T.IsInfinity(m)) m = T.Zero;
        TensorPrimitives.Subtract(xr, m, yr);
        if (log)
        {
            // (x − m) − log Σ exp(x − m), summing exp without storing it.
            T s = T.Zero;
            for (int i = 0; i < yr.Length; i++) s += T.Exp(yr[i]);
            TensorPrimitives.Subtract(yr, T.Log(s), yr);
        }
        else
        {
            TensorPrimitives.Exp(yr, yr);
            T s = TensorPrimitives.Sum<T>(yr);
            TensorPrimitives.Divide(yr, s, yr);
        }
    }

    /// <summary>
    /// The gradient from the output y: softmax gx = y·(gy − Σ gy·y); log-softmax gx = gy − exp(y)·Σ gy (added into
    /// <paramref name="gx"/> when <paramref name="accumulate"/>).
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> gy, Span<T> gx, int outer, int size, int inner, bool log, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!accumulate) gx.Clear();
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++)
            {
                var gr = gy.Slice(o * size, size);
                var yr = y.Slice(o * size, size);
                var xr = gx.Slice(o * size, size);
                if (log)
                {
                    T s = TensorPrimitives.Sum(gr);
                    for (int k = 0; k < size; k++) xr[k] += gr[k] - T.Exp(yr[k]) * s;
                }
                else
                {
                    T dot = TensorPrimitives.Dot(gr, yr);
                    for (int k = 0; k < size; k++) xr[k] += yr[k] * (gr[k] - dot);
                }
            }
            return;
        }
        for (int o = 0; o < outer; o++)
        {
            for (int i = 0; i < inner; i++)
            {
                int b = o * size * inner + i;
                T sum = T.Zero;
                if (log)
                {
                    for (int k = 0; k < size; k++) sum += gy[b + k * inner];
                    for (int k = 0; k < size; k++) gx[b + k * inner] += gy[b + k * inner] - T.Exp(y[b + k * inner]) * sum;
                }
                else
                {
                    for (int k = 0; k < size; k++) sum += gy[b + k * inner] * y[b + k * inner];
                    for (int k = 0; k < size; k++) gx[b + k * inner] += y[b + k * inner] * (gy[b + k * inner] - sum);
                }
            }
        }
    }

    /// <summary>The same gradient over tensors, recorded (when the backward is itself differentiated: <c>createGraph</c>).</summary>
    internal static Tensor DifferentiableBackward(Tensor g, Tensor y, int dim, bool log)
        => log ? g - y.Exp() * g.Sum(dim, keepDim: true) : y * (g - (g * y).Sum(dim, keepDim: true));
}
