using System.ComponentModel;
using System.Numerics;
using System.Numerics.Tensors;

namespace SharpGrad.Kernels;

/// <summary>
/// Batch normalisation (PyTorch: <c>F.batch_norm</c>) over [n, c, l] and layer normalisation (PyTorch: <c>F.layer_norm</c>)
/// over [rows, cols], forward and backward. Statistics are accumulated in double. Eager <c>Functional.BatchNorm</c>,
/// <c>Functional.LayerNorm</c> and generated code call the same kernels.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class NormKernel
{
    /// <summary>
    /// y = (x − mean)·invstd·weight + bias per channel, with the batch statistics (biased variance) when
    /// <paramref name="useBatchStats"/>, else the running ones. With batch statistics and running statistics given,
    /// they are updated: running = (1 − momentum)·running + momentum·batch (the unbiased variance for running_var).
    /// <paramref name="saveMean"/>/<paramref name="saveInvstd"/> (c values) receive the statistics used.
    /// Empty <paramref name="weight"/>/<paramref name="bias"/>/<paramref name="runningMean"/>/<paramref name="runningVar"/> mean none.
    /// </summary>
    public static void BatchNormForward<T>(ReadOnlySpan<T> x, Span<T> y, int n, int c, int l, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias,
        Span<T> runningMean, Span<T> runningVar, bool useBatchStats, double momentum, double eps, Span<T> saveMean, Span<T> saveInvstd)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int count = n * l;
        bool update = useBatchStats && !runningMean.IsEmpty;
        T keep = T.CreateTruncating(1 - momentum), mom = T.CreateTruncating(momentum);
        T unbias = T.CreateTruncating(count / (double)Math.Max(count - 1, 1));
        for (int ch = 0; ch < c; ch++)
        {
            T mean, variance;
            if (useBatchStats)
            {
                double sum = 0;
                for (int i = 0; i < n; i++) sum += double.CreateTruncating(TensorPrimitives.Sum(x.Slice((i * c + ch) * l, l)));
                mean = T.CreateTruncating(sum / count);
                double sq = 0;
                for (int i = 0; i < n; i++)
                {
                    var row = x.Slice((i * c + ch) * l, l);
                    for (int k = 0; k < l; k++)
                    {
                        double d = double.CreateTruncating(row[k] - mean);
                        sq += d * d;
                    }
                }
                variance = T.CreateTruncating(sq / count);
                if (update)
                {
                    runningMean[ch] = runningMean[ch] * keep + mean * mom;
                    runningVar[ch] = runningVar[ch] * keep + variance * unbias * mom;
                }
            }
            else
            {
                mean = runningMean[ch];
                variance = runningVar[ch];
            }
            T invstd = T.CreateTruncating(1.0 / Math.Sqrt(double.CreateTruncating(variance) + eps));
            saveMean[ch] = mean;
            saveInvstd[ch] = invstd;
            T w = weight.IsEmpty ? T.One : weight[ch];
            T b = bias.IsEmpty ? T.Zero : bias[ch];
            for (int i = 0; i < n; i++)
            {
                int o = (i * c + ch) * l;
                for (int k = 0; k < l; k++)
                {
                    T v = (x[o + k] - mean) * invstd;
                    if (!weight.IsEmpty) v *= w;
                    if (!bias.IsEmpty) v += b;
                    y[o + k] = v;
                }
            }
        }
    }

    /// <summary>
    /// Gradients of <see cref="BatchNormForward{T}"/> from the saved statistics: <paramref name="gx"/> (when not empty),
    /// <paramref name="gWeight"/> and <paramref name="gBias"/> (c values, when not empty) are added to.
    /// </summary>
    public static void BatchNormBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx, ReadOnlySpan<T> saveMean, ReadOnlySpan<T> saveInvstd,
        ReadOnlySpan<T> weight, Span<T> gWeight, Span<T> gBias, int n, int c, int l, bool useBatchStats)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int count = n * l;
        for (int ch = 0; ch < c; ch++)
        {
            T mean = saveMean[ch], invstd = saveInvstd[ch];
            T w = weight.IsEmpty ? T.One : weight[ch];
            double sg = 0, sgx = 0, sgw = 0, sgb = 0;
            for (int i = 0; i < n; i++)
            {
                int o = (i * c + ch) * l;
                for (int k = 0; k < l; k++)
                {
                    T g = gy[o + k];
                    T xhat = (x[o + k] - mean) * invstd;
                    T gxhat = weight.IsEmpty ? g : g * w;
                    sg += double.CreateTruncating(gxhat);
                    sgx += double.CreateTruncating(gxhat * xhat);
                    sgw += double.CreateTruncating(g * xhat);
                    sgb += double.CreateTruncating(g);
                }
            }
            if (!gWeight.IsEmpty) gWeight[ch] += T.CreateTruncating(sgw);
            if (!gBias.IsEmpty) gBias[ch] += T.CreateTruncating(sgb);
            if (gx.IsEmpty) continue;
            T mg = T.CreateTruncating(sg / count), mgx = T.CreateTruncating(sgx / count);
            for (int i = 0; i < n; i++)
            {
                int o = (i * c + ch) * l;
                for (int k = 0; k < l; k++)
                {
                    T g = gy[o + k];
                    T gxhat = weight.IsEmpty ? g : g * w;
                    if (useBatchStats)
                    {
                        T xhat = (x[o + k] - mean) * invstd;
                        gx[o + k] += invstd * (gxhat - mg - xhat * mgx);
                    }
                    else gx[o + k] += gxhat * invstd;
                }
            }
        }
    }

    /// <summary>
    /// y = (x − mean)·invstd·weight + bias per row of <paramref name="cols"/> elements (the biased variance);
    /// <paramref name="saveMean"/>/<paramref name="saveInvstd"/> (rows values) receive the statistics.
    /// </summary>
    public static void LayerNormForward<T>(ReadOnlySpan<T> x, Span<T> y, int rows, int cols, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, double eps,
        Span<T> saveMean, Span<T> saveInvstd)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * cols, cols);
            T mean = T.CreateTruncating(double.CreateTruncating(TensorPrimitives.Sum(xr)) / Math.Max(1, cols));
            double sq = 0;
            for (int k = 0; k < cols; k++)
            {
                double d = double.CreateTruncating(xr[k] - mean);
                sq += d * d;
            }
            T invstd = T.CreateTruncating(1.0 / Math.Sqrt(sq / Math.Max(1, cols) + eps));
            saveMean[r] = mean;
            saveInvstd[r] = invstd;
            var yr = y.Slice(r * cols, cols);
            for (int k = 0; k < cols; k++)
            {
                T v = (xr[k] - mean) * invstd;
                if (!weight.IsEmpty) v *= weight[k];
                if (!bias.IsEmpty) v += bias[k];
                yr[k] = v;
            }
        }
    }

    /// <summary>
    /// Gradients of <see cref="LayerNormForward{T}"/>: <paramref name="gx"/> (when not empty), <paramref name="gWeight"/> and
    /// <paramref name="gBias"/> (cols values, when not empty) are added to.
    /// </summary>
    public static void LayerNormBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx, ReadOnlySpan<T> saveMean, ReadOnlySpan<T> saveInvstd,
        ReadOnlySpan<T> weight, Span<T> gWeight, Span<T> gBias, int rows, int cols)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
        {
            T mean = saveMean[r], invstd = saveInvstd[r];
            int o = r * cols;
            double sg = 0, sgx = 0;
            for (int k = 0; k < cols; k++)
            {
                T g = gy[o + k];
                T xhat = (x[o + k] - mean) * invstd;
                T gxhat = weight.IsEmpty ? g : g * weight[k];
                sg += double.CreateTruncating(gxhat);
                sgx += double.CreateTruncating(gxhat * xhat);
                if (!gWeight.IsEmpty) gWeight[k] += g * xhat;
                if (!gBias.IsEmpty) gBias[k] += g;
            }
            if (gx.IsEmpty) continue;
            T mg = T.CreateTruncating(sg / cols), mgx = T.CreateTruncating(sgx / cols);
            for (int k = 0; k < cols; k++)
            {
                T g = gy[o + k];
                T xhat = (x[o + k] - mean) * invstd;
                T gxhat = weight.IsEmpty ? g : g * weight[k];
                gx[o + k] += invstd * (gxhat - mg - xhat * mgx);
            }
        }
    }

    /// <summary>
    /// The normalisation's gradients over tensors, recorded (when a backward is itself differentiated: <c>createGraph</c>):
    /// the statistics rebuilt from <paramref name="x"/> (viewed as [n, c, l] for batch norm or [rows, cols] for layer norm,
    /// reduced over <paramref name="dims"/>) with differentiable ops, then the kernels' formulas; the weight and bias
    /// gradients sum over <paramref name="parameterDims"/>. With fixed (running) statistics the mean and invstd are those given.
    /// </summary>
    internal static (Tensor Gx, Tensor Gw, Tensor Gb) DifferentiableBackward(Tensor x, Tensor g, Tensor? weight, int[] dims, int[] parameterDims,
        double eps, Tensor? fixedMean, Tensor? fixedInvstd)
    {
        Tensor xhat, invstd;
        if (fixedMean is not null)
        {
            invstd = fixedInvstd!;
            xhat = (x - fixedMean) * invstd;
        }
        else
        {
            var xc = x - x.Mean(dims, keepDim: true);
            invstd = (xc * xc).Mean(dims, keepDim: true).Add(Tensor.ScalarLike(xc, eps)).Rsqrt();
            xhat = xc * invstd;
        }
        var gxhat = weight is null ? g : g * weight;
        var gx = fixedMean is not null
            ? gxhat * invstd
            : invstd * (gxhat - gxhat.Mean(dims, keepDim: true) - xhat * (gxhat * xhat).Mean(dims, keepDim: true));
        return (gx, (g * xhat).Sum(parameterDims), g.Sum(parameterDims));
    }
}
