using System.Numerics;

namespace SharpGrad.Kernels;

/// <summary>
/// Root-mean-square normalisation (PyTorch 2.4: <c>F.rms_norm</c>) per row of <c>cols</c> elements:
/// y = x · rsqrt(mean(x²) + eps) · weight. The mean of squares is accumulated in double.
/// </summary>
internal static class RmsNormKernel
{
    /// <summary>Normalises each row; <paramref name="saveInvrms"/> (rows values) receives rsqrt(mean(x²) + eps).</summary>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, int rows, int cols, ReadOnlySpan<T> weight, double eps, Span<T> saveInvrms)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * cols, cols);
            double sq = 0;
            for (int k = 0; k < cols; k++)
            {
                double v = double.CreateTruncating(xr[k]);
                sq += v * v;
            }
            T inv = T.CreateTruncating(1.0 / Math.Sqrt(sq / Math.Max(1, cols) + eps));
            saveInvrms[r] = inv;
            var yr = y.Slice(r * cols, cols);
            for (int k = 0; k < cols; k++) yr[k] = weight.IsEmpty ? xr[k] * inv : xr[k] * inv * weight[k];
        }
    }

    /// <summary>
    /// Gradients of <see cref="Forward{T}"/>: gx = invrms·(ĝ − x̂·mean(ĝ·x̂)) with x̂ = x·invrms, ĝ = gy·weight;
    /// <paramref name="gx"/> and <paramref name="gWeight"/> (cols values) are added to when not empty.
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx, ReadOnlySpan<T> saveInvrms, ReadOnlySpan<T> weight,
        Span<T> gWeight, int rows, int cols)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
        {
            T inv = saveInvrms[r];
            int o = r * cols;
            double sgx = 0;
            for (int k = 0; k < cols; k++)
            {
                T xhat = x[o + k] * inv;
                T g = gy[o + k];
                sgx += double.CreateTruncating((weight.IsEmpty ? g : g * weight[k]) * xhat);
                if (!gWeight.IsEmpty) gWeight[k] += g * xhat;
            }
            if (gx.IsEmpty) continue;
            T mgx = T.CreateTruncating(sgx / cols);
            for (int k = 0; k < cols; k++)
            {
                T g = gy[o + k];
                gx[o + k] += inv * ((weight.IsEmpty ? g : g * weight[k]) - x[o + k] * inv * mgx);
            }
        }
    }
}
