using SharpGrad;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The convolution kernels (the implicit GEMM of stride-1 convolutions, im2col + GEMM otherwise) against the definition
/// computed in double: forward with bias and ReLU, weight, bias and input gradients, on odd sizes, paddings, dilations,
/// strides, groups and channel counts (1 and 16 input channels, as in the workloads' CNN), for 1 and 2 threads.
/// </summary>
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
}
