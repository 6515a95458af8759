using SharpGrad.Tests.Support;
using System.Numerics;
using System.Numerics.Tensors;
using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// <see cref="NormKernel.LayerNormForward{T}"/>/<see cref="NormKernel.LayerNormBackward{T}"/> (vectorised rows, split over
/// the worker pool when there are many, each part summing its own weight and bias gradients) against a naive double
/// reference, on odd sizes, with and without weight and bias, on 1 and 2 threads, with the output written over the input.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class LayerNormKernelTests
{
    [Theory]
    [InlineData(1, 1, true, 1)]
    [InlineData(7, 13, true, 2)]
    [InlineData(301, 129, true, 2)] // several parts
    [InlineData(301, 129, false, 2)]
    [InlineData(1024, 128, true, 1)]
    [InlineData(65, 1031, true, 2)] // a row longer than the stack buffer
    public void MatchesNaive(int rows, int cols, bool affine, int threads)
    {
        var rng = new Rng(rows * 31 + cols);
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        float[] x = R(rows * cols), gy = R(rows * cols), w = affine ? R(cols) : [], b = affine ? R(cols) : [];
        var y = new float[rows * cols];
        float[] mean = new float[rows], invstd = new float[rows];
        float[] gx = R(rows * cols), gw = R(cols), gb = R(cols); // added to
        float[] gx0 = (float[])gx.Clone(), gw0 = (float[])gw.Clone(), gb0 = (float[])gb.Clone();
        int saved = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = threads;
            NormKernel.LayerNormForward<float>(x, y, rows, cols, w, b, 1e-5, mean, invstd);
            NormKernel.LayerNormBackward<float>(x, gy, gx, mean, invstd, w, affine ? gw : [], affine ? gb : [], rows, cols);
            // in place: y over x gives the same values
            var inPlace = (float[])x.Clone();
            NormKernel.LayerNormForward<float>(inPlace, inPlace, rows, cols, w, b, 1e-5, new float[rows], new float[rows]);
            Assert.Equal(y, inPlace);
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }

        var sw = new double[cols];
        var sb = new double[cols];
        for (int r = 0; r < rows; r++)
        {
            double mu = 0, v = 0;
            for (int c = 0; c < cols; c++) mu += x[r * cols + c];
            mu /= cols;
            for (int c = 0; c < cols; c++) v += (x[r * cols + c] - mu) * (x[r * cols + c] - mu);
            double inv = 1 / Math.Sqrt(v / cols + 1e-5);
            Assert.Equal(mu, mean[r], 1e-5);
            Assert.Equal(inv, invstd[r], 1e-3 * inv);
            double mg = 0, mgx = 0;
            for (int c = 0; c < cols; c++)
            {
                double xhat = (x[r * cols + c] - mu) * inv, g = gy[r * cols + c], gxhat = affine ? g * w[c] : g;
                Assert.Equal(affine ? xhat * w[c] + b[c] : xhat, y[r * cols + c], 1e-4);
                mg += gxhat / cols;
                mgx += gxhat * xhat / cols;
                sw[c] += g * xhat;
                sb[c] += g;
            }
            for (int c = 0; c < cols; c++)
            {
                double xhat = (x[r * cols + c] - mu) * inv, g = gy[r * cols + c], gxhat = affine ? g * w[c] : g;
                double expected = gx0[r * cols + c] + inv * (gxhat - mg - xhat * mgx);
                Assert.True(Math.Abs(expected - gx[r * cols + c]) <= 2e-4 * (1 + Math.Abs(expected)), $"gx[{r}, {c}]: expected {expected}, got {gx[r * cols + c]}");
            }
        }
        for (int c = 0; c < cols; c++)
        {
            double ew = affine ? gw0[c] + sw[c] : gw0[c], eb = affine ? gb0[c] + sb[c] : gb0[c];
            Assert.True(Math.Abs(ew - gw[c]) <= 1e-3 * (1 + Math.Abs(ew)), $"gWeight[{c}]: expected {ew}, got {gw[c]}");
            Assert.True(Math.Abs(eb - gb[c]) <= 1e-3 * (1 + Math.Abs(eb)), $"gBias[{c}]: expected {eb}, got {gb[c]}");
        }
    }

    /// <summary>
    /// The rows' element-wise steps as fused loops (session 21) give the bits of the <c>TensorPrimitives</c> call sequence
    /// they replaced (written out here as the reference), float and double, odd lengths around the vector widths, each of
    /// weight and bias present or absent, with and without the input's gradient, on one thread (one part).
    /// </summary>
    [Theory]
    [InlineData(3, 1)]
    [InlineData(5, 7)]
    [InlineData(4, 8)]
    [InlineData(6, 13)]
    [InlineData(3, 128)]
    [InlineData(2, 131)]
    public void FusedRowsEqualTheTensorPrimitivesSequence(int rows, int cols)
    {
        foreach (bool hasW in new[] { true, false })
        {
            foreach (bool hasB in new[] { true, false })
            {
                foreach (bool withGx in new[] { true, false })
                {
                    FusedRowsEqual<float>(rows, cols, hasW, hasB, withGx);
                    FusedRowsEqual<double>(rows, cols, hasW, hasB, withGx);
                }
            }
        }
    }

    private static void FusedRowsEqual<T>(int rows, int cols, bool hasW, bool hasB, bool withGx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng(rows * 131 + cols * 7 + (hasW ? 1 : 0) + (hasB ? 2 : 0));
        T[] R(int n) => Enumerable.Range(0, n).Select(_ => T.CreateTruncating(rng.NextDouble() * 6 - 3)).ToArray();
        T[] x = R(rows * cols), gy = R(rows * cols), w = hasW ? R(cols) : [], b = hasB ? R(cols) : [];
        T[] gx = withGx ? R(rows * cols) : [], gw = R(cols), gb = R(cols);
        T[] y = new T[rows * cols], mean = new T[rows], invstd = new T[rows];
        T[] rgx = (T[])gx.Clone(), rgw = (T[])gw.Clone(), rgb = (T[])gb.Clone();
        int saved = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = 1;
            NormKernel.LayerNormForward<T>(x, y, rows, cols, w, b, 1e-5, mean, invstd);
            NormKernel.LayerNormBackward<T>(x, gy, gx, mean, invstd, w, hasW ? gw : [], hasB ? gb : [], rows, cols);
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
        var (ry, rmean, rinv) = TensorPrimitivesSequence(x, gy, w, b, rgx, rgw, rgb, rows, cols, hasW, hasB, withGx);
        for (int r = 0; r < rows; r++)
        {
            Assert.Equal(rmean[r], mean[r]);
            Assert.Equal(rinv[r], invstd[r]);
        }
        string what = $"{typeof(T).Name} {rows}x{cols}, weight {hasW}, bias {hasB}, gx {withGx}";
        Assert.True(ry.AsSpan().SequenceEqual(y), $"y differs ({what})");
        Assert.True(rgx.AsSpan().SequenceEqual(gx), $"gx differs ({what})");
        Assert.True(rgw.AsSpan().SequenceEqual(gw), $"gWeight differs ({what})");
        Assert.True(rgb.AsSpan().SequenceEqual(gb), $"gBias differs ({what})");
    }

    /// <summary>
    /// The <c>TensorPrimitives</c> sequence the LayerNorm kernels' rows follow, row by row (the reference both this class and
    /// RowsInVectors512Tests compare with): returns y, the means and the inverse deviations; adds the weight and bias gradients
    /// into <paramref name="gw"/> / <paramref name="gb"/> (when <paramref name="hasW"/> / <paramref name="hasB"/>) and the input
    /// gradient into <paramref name="gx"/> (when <paramref name="withGx"/>).
    /// </summary>
    internal static (T[] Y, T[] Mean, T[] Invstd) TensorPrimitivesSequence<T>(T[] x, T[] gy, T[] w, T[] b, T[] gx, T[] gw, T[] gb, int rows, int cols,
        bool hasW, bool hasB, bool withGx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] y = new T[rows * cols], mean = new T[rows], invstd = new T[rows];
        T n = T.CreateTruncating(cols);
        var xhat = new T[cols];
        var gxhat = new T[cols];
        for (int r = 0; r < rows; r++)
        {
            var xr = x.AsSpan(r * cols, cols);
            var yr = y.AsSpan(r * cols, cols);
            T m = TensorPrimitives.Sum<T>(xr) / n;
            TensorPrimitives.Subtract(xr, m, yr);
            T inv = T.CreateTruncating(1.0 / Math.Sqrt(double.CreateTruncating(TensorPrimitives.SumOfSquares<T>(yr)) / cols + 1e-5));
            mean[r] = m;
            invstd[r] = inv;
            TensorPrimitives.Multiply(yr, inv, yr);
            if (hasW) TensorPrimitives.Multiply(yr, w, yr);
            if (hasB) TensorPrimitives.Add(yr, b, yr);
            var gr = gy.AsSpan(r * cols, cols);
            TensorPrimitives.Subtract(xr, m, xhat);
            TensorPrimitives.Multiply(xhat, inv, xhat);
            if (hasW) TensorPrimitives.Multiply(gr, w, gxhat);
            else gr.CopyTo(gxhat);
            if (hasW) TensorPrimitives.MultiplyAdd(gr, xhat, gw, gw);
            if (hasB) TensorPrimitives.Add(gb, gr, gb);
            if (!withGx) continue;
            T mg = TensorPrimitives.Sum<T>(gxhat) / n, mgx = TensorPrimitives.Dot<T>(gxhat, xhat) / n;
            TensorPrimitives.Subtract(gxhat, mg, gxhat);
            TensorPrimitives.MultiplyAdd(xhat, -mgx, gxhat, gxhat);
            var gxr = gx.AsSpan(r * cols, cols);
            TensorPrimitives.MultiplyAdd(gxhat, inv, gxr, gxr);
        }
        return (y, mean, invstd);
    }
}
