using System.Numerics;
using System.Numerics.Tensors;

namespace SharpGrad.Kernels;

/// <summary>
/// Group normalisation (PyTorch: <c>F.group_norm</c>) over [n, c, l] data in <c>groups</c> groups of c/groups channels,
/// with a per-channel affine; instance normalisation is the case groups = c (PyTorch: <c>F.instance_norm</c> with input
/// statistics). Statistics are accumulated in double; the variance is biased.
/// </summary>
internal static class GroupNormKernel
{
    /// <summary>
    /// y = (x − mean)·invstd·weight[ch] + bias[ch], with mean and invstd of each (sample, group) block of c/groups·l
    /// elements; <paramref name="saveMean"/>/<paramref name="saveInvstd"/> (n·groups values) receive them, and
    /// <paramref name="saveVar"/> (when not empty) the biased variance. Empty weight/bias mean none.
    /// </summary>
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, int n, int c, int l, int groups, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, double eps,
        Span<T> saveMean, Span<T> saveInvstd, Span<double> saveVar)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cg = c / groups, m = cg * l;
        for (int i = 0; i < n; i++)
        {
            for (int g = 0; g < groups; g++)
            {
                int s = i * groups + g, o = (i * c + g * cg) * l;
                var block = x.Slice(o, m);
                double meanD = m == 0 ? 0 : double.CreateTruncating(TensorPrimitives.Sum(block)) / m;
                T mean = T.CreateTruncating(meanD);
                double sq = 0;
                for (int k = 0; k < m; k++)
                {
                    double d = double.CreateTruncating(block[k] - mean);
                    sq += d * d;
                }
                double variance = m == 0 ? 0 : sq / m;
                T invstd = T.CreateTruncating(1.0 / Math.Sqrt(variance + eps));
                saveMean[s] = mean;
                saveInvstd[s] = invstd;
                if (!saveVar.IsEmpty) saveVar[s] = variance;
                for (int ch = g * cg; ch < (g + 1) * cg; ch++)
                {
                    T w = weight.IsEmpty ? T.One : weight[ch], b = bias.IsEmpty ? T.Zero : bias[ch];
                    int co = (i * c + ch) * l;
                    for (int k = 0; k < l; k++) y[co + k] = (x[co + k] - mean) * invstd * w + b;
                }
            }
        }
    }

    /// <summary>
    /// Gradients of <see cref="Forward{T}"/> from the saved statistics: <paramref name="gx"/> (when not empty),
    /// <paramref name="gWeight"/> and <paramref name="gBias"/> (c values, when not empty) are added to.
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx, ReadOnlySpan<T> saveMean, ReadOnlySpan<T> saveInvstd,
        ReadOnlySpan<T> weight, Span<T> gWeight, Span<T> gBias, int n, int c, int l, int groups)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cg = c / groups, m = cg * l;
        for (int i = 0; i < n; i++)
        {
            for (int g = 0; g < groups; g++)
            {
                int s = i * groups + g;
                T mean = saveMean[s], invstd = saveInvstd[s];
                double sg = 0, sgx = 0;
                for (int ch = g * cg; ch < (g + 1) * cg; ch++)
                {
                    T w = weight.IsEmpty ? T.One : weight[ch];
                    int co = (i * c + ch) * l;
                    double sw = 0, sb = 0;
                    for (int k = 0; k < l; k++)
                    {
                        T gk = gy[co + k];
                        T xhat = (x[co + k] - mean) * invstd;
                        T gxhat = gk * w;
                        sg += double.CreateTruncating(gxhat);
                        sgx += double.CreateTruncating(gxhat * xhat);
                        sw += double.CreateTruncating(gk * xhat);
                        sb += double.CreateTruncating(gk);
                    }
                    if (!gWeight.IsEmpty) gWeight[ch] += T.CreateTruncating(sw);
                    if (!gBias.IsEmpty) gBias[ch] += T.CreateTruncating(sb);
                }
                if (gx.IsEmpty || m == 0) continue;
                T mg = T.CreateTruncating(sg / m), mgx = T.CreateTruncating(sgx / m);
                for (int ch = g * cg; ch < (g + 1) * cg; ch++)
                {
                    T w = weight.IsEmpty ? T.One : weight[ch];
                    int co = (i * c + ch) * l;
                    for (int k = 0; k < l; k++)
                    {
                        T xhat = (x[co + k] - mean) * invstd;
                        gx[co + k] += invstd * (gy[co + k] * w - mg - xhat * mgx);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Instance normalisation's running statistics (PyTorch's <c>instance_norm</c>: <c>batch_norm</c> over [1, n·c, *]
    /// updates n copies of them, then averages): running = (1 − momentum)·running + momentum·(the mean over the n samples
    /// of each channel's statistic), the unbiased variance (l/(l − 1) of the biased <paramref name="variance"/>) for
    /// <paramref name="runningVar"/>. <paramref name="saveMean"/> and <paramref name="variance"/> hold n·c values, sample-major.
    /// </summary>
    public static void UpdateInstanceRunningStats<T>(ReadOnlySpan<T> saveMean, ReadOnlySpan<double> variance, int n, int c, int l, double momentum,
        Span<T> runningMean, Span<T> runningVar)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double unbias = l / (double)(l - 1);
        for (int ch = 0; ch < c; ch++)
        {
            double m = 0, v = 0;
            for (int i = 0; i < n; i++)
            {
                m += double.CreateTruncating(saveMean[i * c + ch]);
                v += variance[i * c + ch] * unbias;
            }
            runningMean[ch] = T.CreateTruncating((1 - momentum) * double.CreateTruncating(runningMean[ch]) + momentum * m / n);
            runningVar[ch] = T.CreateTruncating((1 - momentum) * double.CreateTruncating(runningVar[ch]) + momentum * v / n);
        }
    }
}
