using System.ComponentModel;
using System.Numerics;

namespace SharpGrad.Kernels;

/// <summary>
/// The variance and standard deviation over the middle dim of a contiguous tensor viewed as [outer, size, inner], with
/// Bessel's correction (PyTorch: <c>var(dim, correction, keepdim)</c>, <c>std</c>), and their backward. Eager
/// <c>Tensor.Var</c>/<c>Std</c> and generated code call these kernels: the one definition of the op.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class VarianceKernel
{
    /// <summary>Float32 for generated code: y[o, i] = Σₛ (x[o, s, i] − mean)² / max(0, size − correction), its square root when <paramref name="std"/>.</summary>
    public static void Forward(float[] x, float[] y, int outer, int size, int inner, double correction, bool std)
        => Forward<float>(new ReadOnlySpan<float>(x, 0, outer * size * inner), new Span<float>(y, 0, outer * inner), outer, size, inner, correction, std);

    /// <summary>Float32 for generated code: gx += the gradient of <see cref="Forward(float[], float[], int, int, int, double, bool)"/> (nothing when null).</summary>
    public static void Backward(float[] x, float[] y, float[] gy, float[]? gx, int outer, int size, int inner, double correction, bool std)
    {
        if (gx is null) return;
        Backward<float>(new ReadOnlySpan<float>(x, 0, outer * size * inner), new ReadOnlySpan<float>(y, 0, outer * inner), new ReadOnlySpan<float>(gy, 0, outer * inner),
            new Span<float>(gx, 0, outer * size * inner), outer, size, inner, correction, std);
    }

    /// <summary>The mean of x[o, ·, i].</summary>
    private static T Mean<T>(ReadOnlySpan<T> x, int o, int i, int size, int inner) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T sum = T.Zero;
        for (int s = 0; s < size; s++) sum += x[(o * size + s) * inner + i];
        return sum / T.CreateChecked(size);
    }

    /// <summary>y[o, i] = Σₛ (x[o, s, i] − mean)² / max(0, size − correction) (two passes, for accuracy); √ of it when <paramref name="std"/>.</summary>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, int outer, int size, int inner, double correction, bool std)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T denominator = T.CreateChecked(Math.Max(0, size - correction));
        for (int o = 0; o < outer; o++)
        {
            for (int i = 0; i < inner; i++)
            {
                T mean = Mean(x, o, i, size, inner), ss = T.Zero;
                for (int s = 0; s < size; s++)
                {
                    T d = x[(o * size + s) * inner + i] - mean;
                    ss += d * d;
                }
                T v = ss / denominator;
                y[o * inner + i] = std ? T.Sqrt(v) : v;
            }
        }
    }

    /// <summary>gx[o, s, i] += gy[o, i] · 2 (x − mean) / max(0, size − correction); for the standard deviation, divided by 2 y[o, i].</summary>
    public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> gy, Span<T> gx, int outer, int size, int inner, double correction, bool std)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T denominator = T.CreateChecked(Math.Max(0, size - correction));
        T two = T.CreateChecked(2);
        for (int o = 0; o < outer; o++)
        {
            for (int i = 0; i < inner; i++)
            {
                T mean = Mean(x, o, i, size, inner);
                T scale = std ? gy[o * inner + i] / (denominator * y[o * inner + i]) : two * gy[o * inner + i] / denominator;
                for (int s = 0; s < size; s++)
                {
                    int k = (o * size + s) * inner + i;
                    gx[k] += scale * (x[k] - mean);
                }
            }
        }
    }
}
