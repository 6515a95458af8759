using SharpGrad;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The convolution kernels (the implicit GEMM of stride-1 convolutions, im2col + GEMM otherwise) against the definition
/// computed in double: forward with bias and ReLU, weight, bias and input gradients, on odd sizes, paddings, dilations,
/// strides, groups and channel counts (1 and 16 input channels, as in the workloads' CNN), for 1 and 2 threads.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class ConvKernelTests
{
    public static IEnumerable<object[]> Geometries() =>
    [
        // n, c, h, w, o, kh, kw, stride, pad, dilation, groups
        [32, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1],   // the CNN's conv1
        [32, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1],  // the CNN's conv2
        [3, 3, 9, 8, 5, 3, 3, 1, 1, 1, 1],
        [2, 5, 7, 11, 7, 3, 2, 1, 0, 1, 1],      // no padding, rectangular kernel
        [2, 4, 10, 9, 9, 3, 3, 1, 2, 2, 1],      // dilation
        [2, 3, 6, 5, 3, 5, 5, 1, 2, 1, 1],       // 5×5
        [1, 2, 5, 5, 3, 3, 3, 1, 3, 1, 1],       // padding larger than the kernel's reach (input gradient by im2col)
        [3, 4, 7, 7, 6, 3, 3, 2, 1, 1, 1],       // stride 2
        [2, 6, 5, 6, 4, 3, 3, 1, 1, 1, 2],       // groups
        [2, 3, 5, 6, 4, 1, 1, 1, 0, 1, 1],       // pointwise
        [2, 13, 6, 4, 17, 1, 3, 1, 1, 1, 1],     // 13 channels, 17 outputs (not multiples of the kernel's blocks)
        [2, 2, 5, 19, 3, 3, 3, 1, 1, 1, 1],      // rows of 19 (a vector of 16 and one ending at the row's end)
        [2, 1, 4, 3, 2, 3, 3, 1, 1, 1, 1],       // rows of 3 (no whole vector)
    ];

    private static double[] Rand(int n, Rng rng)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = rng.NextDouble() * 2 - 1;
        return v;
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void ForwardAndGradientsMatchTheDefinition(int n, int c, int h, int w, int o, int kh, int kw, int s, int p, int d, int groups)
    {
        int ho = (h + 2 * p - d * (kh - 1) - 1) / s + 1, wo = (w + 2 * p - d * (kw - 1) - 1) / s + 1;
        var g = new ConvGeometry(n, c, h, w, o, kh, kw, s, s, p, p, d, d, groups, ho, wo);
        var rng = new Rng(n * 1000 + c * 100 + o * 10 + kh);
        int cg = c / groups, og = o / groups;
        var x = Rand(n * c * h * w, rng);
        var wt = Rand(o * cg * kh * kw, rng);
        var b = Rand(o, rng);
        var gy = Rand(n * o * ho * wo, rng);

        // the definition, in double
        var y = new double[gy.Length];
        var gx = new double[x.Length];
        var gw = new double[wt.Length];
        var gb = new double[o];
        for (int ni = 0; ni < n; ni++)
            for (int oi = 0; oi < o; oi++)
            {
                int grp = oi / og;
                for (int oh = 0; oh < ho; oh++)
                    for (int ow = 0; ow < wo; ow++)
                    {
                        int yi = ((ni * o + oi) * ho + oh) * wo + ow;
                        double acc = b[oi];
                        for (int ci = 0; ci < cg; ci++)
                            for (int i = 0; i < kh; i++)
                                for (int j = 0; j < kw; j++)
                                {
                                    int ih = oh * s - p + i * d, iw = ow * s - p + j * d;
                                    if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                                    int xi = ((ni * c + grp * cg + ci) * h + ih) * w + iw;
                                    int wi = ((oi * cg + ci) * kh + i) * kw + j;
                                    acc += x[xi] * wt[wi];
                                    gx[xi] += gy[yi] * wt[wi];
                                    gw[wi] += gy[yi] * x[xi];
                                }
                        y[yi] = acc;
                        gb[oi] += gy[yi];
                    }
            }

        float[] F(double[] v) => v.Select(e => (float)e).ToArray();
        int saved = Parallelism.MaxThreads;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                Parallelism.MaxThreads = threads;
                string what = $"conv n={n} c={c} {h}x{w} o={o} k={kh}x{kw} s={s} p={p} d={d} groups={groups} threads={threads}";
                foreach (bool relu in new[] { false, true })
                {
                    var yf = new float[y.Length];
                    Array.Fill(yf, float.NaN);   // every output must be written
                    Conv.Forward(g, F(x), F(wt), F(b), yf, relu);
                    var expected = relu ? y.Select(v => Math.Max(0, v)).ToArray() : y;
                    TensorAssert.Close(expected, yf.Select(v => (double)v).ToArray(), 1e-4, 1e-4, what + $" forward relu={relu}");
                }
                var gxf = new float[x.Length];
                var gwf = new float[wt.Length];
                var gbf = new float[o];
                Array.Fill(gxf, float.NaN);
                Array.Fill(gwf, float.NaN);
                Conv.Backward(g, F(x), F(wt), F(gy), gxf, gwf, gbf);
                // sums of up to n·ho·wo = 25,088 float32 products for the weight gradient: 1e-4 relative.
                TensorAssert.Close(gx, gxf.Select(v => (double)v).ToArray(), 1e-4, 1e-4, what + " input gradient");
                TensorAssert.Close(gw, gwf.Select(v => (double)v).ToArray(), 1e-4, 1e-3, what + " weight gradient");
                TensorAssert.Close(gb, gbf.Select(v => (double)v).ToArray(), 1e-4, 1e-3, what + " bias gradient");
                // each gradient alone (the kernels skip the others)
                var gwOnly = new float[wt.Length];
                Conv.Backward(g, F(x), F(wt), F(gy), null, gwOnly, null);
                TensorAssert.Close(gw, gwOnly.Select(v => (double)v).ToArray(), 1e-4, 1e-3, what + " weight gradient alone");
                var gxOnly = new float[x.Length];
                Conv.Backward(g, F(x), F(wt), F(gy), gxOnly, null, null);
                TensorAssert.Close(gx, gxOnly.Select(v => (double)v).ToArray(), 1e-4, 1e-4, what + " input gradient alone");
                // the compiled backward's entry: the input gradient added to what gx holds
                var held = Rand(x.Length, rng);
                var gxAcc = F(held);
                var gwAcc = new float[wt.Length];
                Conv.Backward(g, F(x), F(wt), F(gy), gxAcc, gwAcc, null, accumulateInput: true);
                TensorAssert.Close(gx.Select((v, i) => v + (float)held[i]).ToArray(), gxAcc.Select(v => (double)v).ToArray(), 1e-4, 1e-4,
                    what + " input gradient added to a held one");
                TensorAssert.Close(gw, gwAcc.Select(v => (double)v).ToArray(), 1e-4, 1e-3, what + " weight gradient beside an added input gradient");
            }
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }

    public static IEnumerable<object[]> LaneGeometries() =>
    [
        // n, c, h, w, o, kh, kw, pad, dilation: O a multiple of 32 (two vectors at both widths)
        [3, 16, 14, 14, 32, 3, 3, 1, 1],   // the CNN's conv2
        [2, 1, 9, 7, 32, 3, 3, 1, 1],      // one input channel, odd sizes (K = 9: the last row block reads zeros)
        [3, 5, 7, 11, 64, 3, 2, 0, 1],     // no padding, rectangular kernel, two lane blocks
        [2, 3, 10, 9, 32, 3, 3, 2, 2],     // dilation
        [2, 2, 5, 6, 32, 5, 5, 2, 1],      // 5×5
        [1, 7, 3, 19, 32, 1, 3, 1, 1],     // 1×3 kernel, rows of 19
    ];

    /// <summary>
    /// The weight gradient with the output channels in the vector lanes (<c>Conv.WeightGradLanes</c>, Conv.WeightGrad.cs) at
    /// both vector widths (512-bit emulated on an AVX2 machine) and 1 and 2 threads, against the definition in double; it
    /// adds to what gw holds.
    /// </summary>
    [Theory]
    [MemberData(nameof(LaneGeometries))]
    public void WeightGradientWithChannelsInLanesMatchesTheDefinitionAtBothWidths(int n, int c, int h, int w, int o, int kh, int kw, int p, int d)
    {
        int ho = h + 2 * p - d * (kh - 1), wo = w + 2 * p - d * (kw - 1);
        var g = new ConvGeometry(n, c, h, w, o, kh, kw, 1, 1, p, p, d, d, 1, ho, wo);
        var rng = new Rng(n * 1000 + c * 100 + o * 10 + kh + 7);
        var x = Rand(n * c * h * w, rng);
        var gy = Rand(n * o * ho * wo, rng);
        var held = Rand(o * c * kh * kw, rng);
        var gw = (double[])held.Clone();
        for (int ni = 0; ni < n; ni++)
            for (int oi = 0; oi < o; oi++)
                for (int oh = 0; oh < ho; oh++)
                    for (int ow = 0; ow < wo; ow++)
                        for (int ci = 0; ci < c; ci++)
                            for (int i = 0; i < kh; i++)
                                for (int j = 0; j < kw; j++)
                                {
                                    int ih = oh - p + i * d, iw = ow - p + j * d;
                                    if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                                    gw[((oi * c + ci) * kh + i) * kw + j] += gy[((ni * o + oi) * ho + oh) * wo + ow] * x[((ni * c + ci) * h + ih) * w + iw];
                                }
        float[] F(double[] v) => v.Select(e => (float)e).ToArray();
        int saved = Parallelism.MaxThreads;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                Parallelism.MaxThreads = threads;
                string what = $"n={n} c={c} {h}x{w} o={o} k={kh}x{kw} p={p} d={d} threads={threads}";
                var g512 = F(held);
                Conv.WeightGradLanes<float, Gemm.Simd512<float>, System.Runtime.Intrinsics.Vector512<float>>(g, F(x), F(gy), g512);
                TensorAssert.Close(gw, g512.Select(v => (double)v).ToArray(), 1e-4, 1e-3, what + " 512-bit");
                var g256 = F(held);
                Conv.WeightGradLanes<float, Gemm.Simd256<float>, System.Runtime.Intrinsics.Vector256<float>>(g, F(x), F(gy), g256);
                TensorAssert.Close(gw, g256.Select(v => (double)v).ToArray(), 1e-4, 1e-3, what + " 256-bit");
            }
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }

    /// <summary>
    /// The forward with the output channels in the vector lanes (<c>Conv.ForwardLanes</c>, Conv.ForwardLanes.cs) at both
    /// vector widths and 1 and 2 threads, against the definition in double: with the bias and ReLU (NaN inputs must stay
    /// NaN, like torch.relu), and accumulated into what y holds (the input gradient's form).
    /// </summary>
    [Theory]
    [MemberData(nameof(LaneGeometries))]
    public void ForwardWithChannelsInLanesMatchesTheDefinitionAtBothWidths(int n, int c, int h, int w, int o, int kh, int kw, int p, int d)
    {
        int ho = h + 2 * p - d * (kh - 1), wo = w + 2 * p - d * (kw - 1);
        var g = new ConvGeometry(n, c, h, w, o, kh, kw, 1, 1, p, p, d, d, 1, ho, wo);
        var rng = new Rng(n * 1000 + c * 100 + o * 10 + kh + 11);
        var x = Rand(n * c * h * w, rng);
        x[x.Length / 2] = double.NaN;   // one NaN input: the outputs it reaches are NaN, with or without ReLU
        var wt = Rand(o * c * kh * kw, rng);
        var b = Rand(o, rng);
        var held = Rand(n * o * ho * wo, rng);
        var y = new double[n * o * ho * wo];
        for (int ni = 0; ni < n; ni++)
            for (int oi = 0; oi < o; oi++)
                for (int oh = 0; oh < ho; oh++)
                    for (int ow = 0; ow < wo; ow++)
                    {
                        double acc = 0;
                        for (int ci = 0; ci < c; ci++)
                            for (int i = 0; i < kh; i++)
                                for (int j = 0; j < kw; j++)
                                {
                                    int ih = oh - p + i * d, iw = ow - p + j * d;
                                    if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                                    acc += x[((ni * c + ci) * h + ih) * w + iw] * wt[((oi * c + ci) * kh + i) * kw + j];
                                }
                        y[((ni * o + oi) * ho + oh) * wo + ow] = acc;
                    }
        float[] F(double[] v) => v.Select(e => (float)e).ToArray();
        double[] D(float[] v) => v.Select(e => (double)e).ToArray();
        var withBias = y.Select((v, i) => v + b[i / (ho * wo) % o]).ToArray();
        var relu = withBias.Select(v => double.IsNaN(v) ? v : Math.Max(0, v)).ToArray();
        var added = y.Select((v, i) => v + (float)held[i]).ToArray();
        int saved = Parallelism.MaxThreads;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                Parallelism.MaxThreads = threads;
                string what = $"n={n} c={c} {h}x{w} o={o} k={kh}x{kw} p={p} d={d} threads={threads}";
                foreach (int bits in new[] { 512, 256 })
                {
                    void Run(float[]? bias, float[] yf, bool act, bool accumulate)
                    {
                        if (bits == 512) Conv.ForwardLanes<float, Gemm.Simd512<float>, System.Runtime.Intrinsics.Vector512<float>>(g, F(x), F(wt), bias, yf, act, accumulate);
                        else Conv.ForwardLanes<float, Gemm.Simd256<float>, System.Runtime.Intrinsics.Vector256<float>>(g, F(x), F(wt), bias, yf, act, accumulate);
                    }
                    var yb = new float[y.Length];
                    Array.Fill(yb, float.NaN);   // every output must be written
                    Run(F(b), yb, false, false);
                    TensorAssert.Close(withBias, D(yb), 1e-4, 1e-4, $"{what} {bits}-bit bias");
                    var yr = new float[y.Length];
                    Array.Fill(yr, float.NaN);
                    Run(F(b), yr, true, false);
                    TensorAssert.Close(relu, D(yr), 1e-4, 1e-4, $"{what} {bits}-bit bias + relu");
                    var ya = F(held);
                    Run(null, ya, false, true);
                    TensorAssert.Close(added, D(ya), 1e-4, 1e-4, $"{what} {bits}-bit accumulated");
                }
            }
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }
}
