using SharpGrad;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Nn;

/// <summary>Convolution and pooling against direct loops written from their definitions.</summary>
public class ConvKernelTests
{
    public sealed record ConvCase(int N, int Cin, int H, int W, int Cout, int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW, int G);

    /// <summary>y, and for a given gy the gradients gx, gw, gb, of a convolution, from the definition.</summary>
    private static (double[] Y, double[] Gx, double[] Gw, double[] Gb, int HO, int WO) NaiveConv(ConvCase c, double[] x, double[] w, double[] b, Func<int, double> gy)
    {
        int ho = (c.H + 2 * c.PH - c.DH * (c.KH - 1) - 1) / c.SH + 1;
        int wo = (c.W + 2 * c.PW - c.DW * (c.KW - 1) - 1) / c.SW + 1;
        int cg = c.Cin / c.G, og = c.Cout / c.G;
        var y = new double[c.N * c.Cout * ho * wo];
        var gx = new double[x.Length];
        var gw = new double[w.Length];
        var gb = new double[c.Cout];
        for (int n = 0; n < c.N; n++)
            for (int o = 0; o < c.Cout; o++)
                for (int oh = 0; oh < ho; oh++)
                    for (int ow = 0; ow < wo; ow++)
                    {
                        int yi = ((n * c.Cout + o) * ho + oh) * wo + ow;
                        double s = b[o];
                        double g = gy(yi);
                        gb[o] += g;
                        int grp = o / og;
                        for (int ci = 0; ci < cg; ci++)
                            for (int i = 0; i < c.KH; i++)
                                for (int j = 0; j < c.KW; j++)
                                {
                                    int ih = oh * c.SH - c.PH + i * c.DH, iw = ow * c.SW - c.PW + j * c.DW;
                                    if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                                    int xi = ((n * c.Cin + grp * cg + ci) * c.H + ih) * c.W + iw;
                                    int wi = ((o * cg + ci) * c.KH + i) * c.KW + j;
                                    s += x[xi] * w[wi];
                                    gx[xi] += g * w[wi];
                                    gw[wi] += g * x[xi];
                                }
                        y[yi] = s;
                    }
        return (y, gx, gw, gb, ho, wo);
    }

    public static IEnumerable<object[]> Cases() =>
    [
        [new ConvCase(2, 3, 9, 8, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1)],
        [new ConvCase(1, 4, 11, 7, 6, 3, 2, 2, 3, 1, 0, 2, 1, 2)],
        [new ConvCase(3, 6, 5, 5, 6, 1, 1, 1, 1, 0, 0, 1, 1, 3)],   // pointwise, depthwise-like groups
        [new ConvCase(2, 3, 6, 17, 4, 1, 5, 1, 2, 0, 2, 1, 3, 1)],
        [new ConvCase(8, 8, 16, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1)], // 4.7 MFLOP: the batch runs in parallel
        [new ConvCase(1, 16, 24, 24, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1)], // one image: the GEMM runs in parallel
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Conv2dMatchesDefinition(ConvCase c)
    {
        var rng = new Rng(c.GetHashCode());
        var x = Tensor.Randn([c.N, c.Cin, c.H, c.W], DType.Float64, rng: rng).RequiresGrad_();
        var w = Tensor.Randn([c.Cout, c.Cin / c.G, c.KH, c.KW], DType.Float64, rng: rng).RequiresGrad_();
        var b = Tensor.Randn([c.Cout], DType.Float64, rng: rng).RequiresGrad_();
        var y = Functional.Conv2d(x, w, b, (c.SH, c.SW), (c.PH, c.PW), (c.DH, c.DW), c.G);
        var gy = Tensor.Randn(y.Shape, DType.Float64, rng: rng);
        var gyd = gy.ToDoubleArray();
        var (ey, egx, egw, egb, ho, wo) = NaiveConv(c, x.ToDoubleArray(), w.ToDoubleArray(), b.ToDoubleArray(), i => gyd[i]);
        Assert.Equal(new[] { c.N, c.Cout, ho, wo }, y.Shape);
        TensorAssert.Close(ey, y.ToDoubleArray(), 1e-10, 1e-10, "y");
        y.Backward(gy);
        TensorAssert.Close(egx, x.Grad!.ToDoubleArray(), 1e-10, 1e-10, "gx");
        TensorAssert.Close(egw, w.Grad!.ToDoubleArray(), 1e-10, 1e-10, "gw");
        TensorAssert.Close(egb, b.Grad!.ToDoubleArray(), 1e-10, 1e-10, "gb");
    }

    [Fact]
    public void Conv2dFloat32MatchesFloat64()
    {
        var rng = new Rng(21);
        var x = Tensor.Randn([4, 8, 12, 12], rng: rng);
        var w = Tensor.Randn([16, 4, 3, 3], rng: rng);
        var y32 = Functional.Conv2d(x, w, null, 2, 1, 1, 2);
        var y64 = Functional.Conv2d(x.To(DType.Float64), w.To(DType.Float64), null, 2, 1, 1, 2);
        // float32 sums of 36 products: 1e-4.
        TensorAssert.Close(y64, y32, 1e-4, 1e-4, "float32 conv");
    }

    [Fact]
    public void ConvTranspose2dMatchesDefinition()
    {
        // The definition: every input pixel scatters its weighted kernel into the output.
        var rng = new Rng(22);
        int n = 2, cin = 4, h = 4, wd = 3, coutg = 3, g = 2, kh = 3, kw = 2, sh = 2, sw = 3, ph = 1, pw = 0, oph = 1, opw = 2, dh = 1, dw = 2;
        var x = Tensor.Randn([n, cin, h, wd], DType.Float64, rng: rng);
        var w = Tensor.Randn([cin, coutg, kh, kw], DType.Float64, rng: rng);
        var b = Tensor.Randn([coutg * g], DType.Float64, rng: rng);
        var y = Functional.ConvTranspose2d(x, w, b, (sh, sw), (ph, pw), (oph, opw), g, (dh, dw));
        int ho = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1, wo = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1;
        Assert.Equal(new[] { n, coutg * g, ho, wo }, y.Shape);
        var xd = x.ToDoubleArray();
        var wdd = w.ToDoubleArray();
        var bd = b.ToDoubleArray();
        var e = new double[n * coutg * g * ho * wo];
        int cing = cin / g;
        for (int bn = 0; bn < n; bn++)
            for (int co = 0; co < coutg * g; co++)
                for (int oh = 0; oh < ho; oh++)
                    for (int ow = 0; ow < wo; ow++)
                        e[((bn * coutg * g + co) * ho + oh) * wo + ow] = bd[co];
        for (int bn = 0; bn < n; bn++)
            for (int ci = 0; ci < cin; ci++)
                for (int ih = 0; ih < h; ih++)
                    for (int iw = 0; iw < wd; iw++)
                        for (int cog = 0; cog < coutg; cog++)
                            for (int i = 0; i < kh; i++)
                                for (int j = 0; j < kw; j++)
                                {
                                    int oh = ih * sh - ph + i * dh, ow = iw * sw - pw + j * dw;
                                    if (oh < 0 || oh >= ho || ow < 0 || ow >= wo) continue;
                                    int co = ci / cing * coutg + cog;
                                    e[((bn * coutg * g + co) * ho + oh) * wo + ow] += xd[((bn * cin + ci) * h + ih) * wd + iw] * wdd[((ci * coutg + cog) * kh + i) * kw + j];
                                }
        TensorAssert.Close(e, y.ToDoubleArray(), 1e-10, 1e-10, "conv_transpose2d");
    }

    [Fact]
    public void ConvErrorsNameShapesAndFix()
    {
        var ex = Assert.Throws<ArgumentException>(() => Functional.Conv2d(Tensor.Zeros(2, 4, 9, 8), Tensor.Zeros(5, 3, 3, 3)));
        Assert.Contains("[2, 4, 9, 8]", ex.Message);
        Assert.Contains("[5, 3, 3, 3]", ex.Message);
        Assert.Contains("3 channels", ex.Message);
        var ex2 = Assert.Throws<ArgumentException>(() => Functional.Conv2d(Tensor.Zeros(2, 4, 9, 8), Tensor.Zeros(5, 2, 3, 3), groups: 2));
        Assert.Contains("divisible by groups", ex2.Message);
        var ex3 = Assert.Throws<ArgumentException>(() => Functional.Linear(Tensor.Zeros(3, 6), Tensor.Zeros(5, 7)));
        Assert.Contains("[3, 6]", ex3.Message);
        Assert.Contains("[5, 7]", ex3.Message);
        Assert.Contains("in_features", ex3.Message);
        var ex4 = Assert.Throws<ArgumentException>(() => Functional.Conv2d(Tensor.Zeros(1, 1, 2, 2), Tensor.Zeros(1, 1, 3, 3)));
        Assert.Contains("too small", ex4.Message);
        Assert.Throws<ArgumentException>(() => new Layers.Conv2d(3, 4, 3, groups: 2));
    }

    // ---------------- pooling ----------------

    [Theory]
    [InlineData(8, 3, 2, 0, 1, false, 3)]
    [InlineData(8, 3, 2, 0, 1, true, 4)]
    [InlineData(5, 2, 2, 1, 1, true, 3)]   // the last window would start in the padding: dropped, like PyTorch
    [InlineData(6, 2, 2, 1, 1, true, 4)]
    [InlineData(7, 3, 2, 1, 2, false, 3)]
    public void PoolOutputSizeFollowsPyTorch(int h, int k, int s, int p, int d, bool ceil, int expected)
    {
        var y = Functional.MaxPool2d(Tensor.Zeros(1, 1, h, h), k, s, p, d, ceil);
        Assert.Equal(expected, y.Shape[2]);
        if (d == 1) Assert.Equal(expected, Functional.AvgPool2d(Tensor.Zeros(1, 1, h, h), k, s, p, ceil).Shape[2]);
    }

    [Theory]
    [InlineData(3, 2, 1, 1, false)]
    [InlineData(2, 1, 1, 2, true)]
    [InlineData(3, 3, 1, 1, true)]
    public void MaxPoolWithIndicesMatchesDefinition(int k, int s, int p, int d, bool ceil)
    {
        var rng = new Rng(23);
        int n = 2, c = 3, h = 7, w = 6;
        var x = Tensor.Randn([n, c, h, w], DType.Float64, rng: rng);
        var (y, idx) = Functional.MaxPool2dWithIndices(x, k, s, p, d, ceil);
        Assert.Equal(DType.Int64, idx.DType);
        int ho = y.Shape[2], wo = y.Shape[3];
        var xd = x.ToDoubleArray();
        var yd = y.ToDoubleArray();
        var id = idx.ToLongArray();
        for (int pl = 0; pl < n * c; pl++)
            for (int oh = 0; oh < ho; oh++)
                for (int ow = 0; ow < wo; ow++)
                {
                    double best = double.NegativeInfinity;
                    long bestIdx = -1;
                    for (int i = 0; i < k; i++)
                        for (int j = 0; j < k; j++)
                        {
                            int ih = oh * s - p + i * d, iw = ow * s - p + j * d;
                            if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                            if (xd[pl * h * w + ih * w + iw] > best) { best = xd[pl * h * w + ih * w + iw]; bestIdx = ih * w + iw; }
                        }
                    int o = (pl * ho + oh) * wo + ow;
                    Assert.Equal(best, yd[o]);
                    Assert.Equal(bestIdx, id[o]);
                }
    }

    [Fact]
    public void AvgPoolDivisorRules()
    {
        // 3×3 ones, kernel 2, stride 2, padding 1: each output window covers one, two or four real pixels.
        var x = Tensor.Ones(1, 1, 3, 3);
        Assert.Equal(new float[] { 0.25f, 0.5f, 0.5f, 1f }, Functional.AvgPool2d(x, 2, 2, 1).ToArray());
        Assert.Equal(new float[] { 1, 1, 1, 1 }, Functional.AvgPool2d(x, 2, 2, 1, countIncludePad: false).ToArray());
        Assert.Equal(new float[] { 1, 2, 2, 4 }, Functional.AvgPool2d(x, 2, 2, 1, divisorOverride: 1).ToArray());
        // ceil mode, no padding: the last window is clipped to the input and divides by what it covers
        var r = Functional.AvgPool2d(Tensor.Arange(0.0, 9.0).View(1, 1, 3, 3), 2, 2, 0, ceilMode: true).ToArray();
        Assert.Equal(new float[] { (0 + 1 + 3 + 4) / 4f, (2 + 5) / 2f, (6 + 7) / 2f, 8 }, r);
    }

    [Fact]
    public void AdaptiveAvgPoolWindows()
    {
        // 5 → 3: windows [0,2), [1,4), [3,5)
        var x = Tensor.Arange(0.0, 5.0).View(1, 1, 1, 5);
        Assert.Equal(new float[] { 0.5f, 2f, 3.5f }, Functional.AdaptiveAvgPool2d(x, (1, 3)).ToArray());
    }
}
