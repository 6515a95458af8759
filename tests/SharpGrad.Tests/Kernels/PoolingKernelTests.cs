using SharpGrad.Tests.Support;
using SharpGrad.Ops;
using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// Max pooling (the vectorised float path over interior windows and the scalar path at the borders) against the
/// definition written out in double: values and argmax indices, ties (the first maximum in scan order wins), NaNs (the
/// first NaN wins), paddings, dilations, strides and odd sizes, narrow outputs (fewer than eight columns), for 1 and 2
/// threads; the backward scatter against the definition too. The float and double kernels must agree with it exactly
/// (max and argmax involve no rounding).
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class PoolingKernelTests
{
    [Theory]
    [InlineData(3, 13, 11, 2, 2, 2, 2, 0, 0, 1, 1)]
    [InlineData(4, 28, 28, 2, 2, 2, 2, 0, 0, 1, 1)]
    [InlineData(5, 14, 14, 2, 2, 2, 2, 0, 0, 1, 1)]
    [InlineData(2, 17, 19, 3, 3, 2, 2, 1, 1, 1, 1)]
    [InlineData(3, 15, 13, 3, 3, 1, 1, 1, 1, 2, 2)]
    [InlineData(2, 10, 23, 2, 3, 1, 2, 1, 0, 1, 1)]
    [InlineData(1, 7, 7, 7, 7, 7, 7, 3, 3, 1, 1)]
    [InlineData(700, 5, 9, 2, 2, 2, 2, 0, 0, 1, 1)]
    [InlineData(2, 6, 34, 2, 2, 2, 2, 0, 0, 1, 1)]
    [InlineData(3, 7, 30, 2, 2, 2, 2, 0, 0, 1, 1)]
    [InlineData(2, 8, 16, 2, 2, 2, 2, 0, 0, 1, 1)]
    [InlineData(3, 9, 12, 2, 2, 2, 2, 0, 0, 1, 1)]
    [InlineData(2, 4, 3, 2, 2, 2, 2, 0, 0, 1, 1)]
    [InlineData(2, 9, 22, 2, 2, 2, 2, 0, 0, 2, 2)]
    public void MaxPoolMatchesTheDefinition(int planes, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw)
    {
        int ho = ShapeRules.OutputSize(h, kh, sh, ph, dh, false)!.Value, wo = ShapeRules.OutputSize(w, kw, sw, pw, dw, false)!.Value;
        var g = new PoolGeometry(planes, h, w, ho, wo, kh, kw, sh, sw, ph, pw, dh, dw);
        var rnd = new Random(planes * 1000 + h * 31 + w);
        foreach (bool nans in new[] { false, true })
        {
            // Few distinct values, so that windows hold ties; some NaNs in the second pass.
            var x = new double[planes * h * w];
            for (int i = 0; i < x.Length; i++) x[i] = nans && rnd.Next(7) == 0 ? double.NaN : rnd.Next(-4, 5) * 0.25;
            var (y, idx) = Definition(g, x);

            int saved = Parallelism.MaxThreads;
            try
            {
                foreach (int threads in new[] { 1, 2 })
                {
                    Parallelism.MaxThreads = threads;
                    string what = $"maxpool planes={planes} {h}x{w} k={kh}x{kw} s={sh}x{sw} p={ph}x{pw} d={dh}x{dw} nans={nans} threads={threads}";
                    var yf = new float[y.Length]; var idf = new long[y.Length];
                    Array.Fill(yf, 123f); Array.Fill(idf, -7);   // every output must be written
                    Pooling.MaxForward(g, x.Select(v => (float)v).ToArray(), yf, idf);
                    var yd = new double[y.Length]; var idd = new long[y.Length];
                    Pooling.MaxForward(g, x, yd, idd);
                    for (int i = 0; i < y.Length; i++)
                    {
                        Assert.True(double.IsNaN(y[i]) ? float.IsNaN(yf[i]) : yf[i] == (float)y[i], $"{what}: float y[{i}] = {yf[i]}, expected {y[i]}");
                        Assert.True(idf[i] == idx[i], $"{what}: float index[{i}] = {idf[i]}, expected {idx[i]}");
                        Assert.True(double.IsNaN(y[i]) ? double.IsNaN(yd[i]) : yd[i] == y[i], $"{what}: double y[{i}] = {yd[i]}, expected {y[i]}");
                        Assert.True(idd[i] == idx[i], $"{what}: double index[{i}] = {idd[i]}, expected {idx[i]}");
                    }

                    // Backward: each output gradient lands on its window's maximum (several may land on one input).
                    var gy = new double[y.Length];
                    for (int i = 0; i < gy.Length; i++) gy[i] = rnd.Next(1, 9) * 0.125;
                    var gx = new double[x.Length];
                    for (int p = 0; p < planes; p++)
                        for (int o = 0; o < ho * wo; o++) gx[p * h * w + idx[p * ho * wo + o]] += gy[p * ho * wo + o];
                    var gxf = new float[x.Length];
                    Array.Fill(gxf, 5f);   // overwritten, not accumulated
                    Pooling.MaxBackward(planes, h * w, ho * wo, gy.Select(v => (float)v).ToArray(), idx, gxf);
                    for (int i = 0; i < gx.Length; i++) Assert.True(gxf[i] == (float)gx[i], $"{what}: gx[{i}] = {gxf[i]}, expected {gx[i]}");

                    // The geometry's entry point: overwriting (eager) and adding to what gx holds (the compiled backward).
                    var gyf = gy.Select(v => (float)v).ToArray();
                    Array.Fill(gxf, 5f);
                    Pooling.MaxBackward(g, gyf, idx, gxf, accumulate: false);
                    for (int i = 0; i < gx.Length; i++) Assert.True(gxf[i] == (float)gx[i], $"{what}: overwriting gx[{i}] = {gxf[i]}, expected {gx[i]}");
                    var held = new float[x.Length];
                    for (int i = 0; i < held.Length; i++) held[i] = rnd.Next(-8, 9) * 0.5f;
                    var gxa = (float[])held.Clone();
                    Pooling.MaxBackward(g, gyf, idx, gxa, accumulate: true);
                    for (int i = 0; i < gx.Length; i++) Assert.True(gxa[i] == held[i] + (float)gx[i], $"{what}: accumulating gx[{i}] = {gxa[i]}, expected {held[i]} + {gx[i]}");
                    var gxd = new double[x.Length];
                    Array.Fill(gxd, 3.0);
                    Pooling.MaxBackward(g, gy, idx, gxd, accumulate: true);
                    for (int i = 0; i < gx.Length; i++) Assert.True(gxd[i] == 3.0 + gx[i], $"{what}: double accumulating gx[{i}] = {gxd[i]}, expected 3 + {gx[i]}");
                }
            }
            finally
            {
                Parallelism.MaxThreads = saved;
            }
        }
    }

    /// <summary>
    /// The 2×2 backward adds a window's gradients with vectors only when every index of the group lies in its window; an
    /// index elsewhere in the plane is scattered as given (the scatter's definition), one outside the plane throws.
    /// </summary>
    [Fact]
    public void HalvingBackwardScattersIndicesOutsideTheirWindowAsGiven()
    {
        var g = new PoolGeometry(2, 6, 26, 3, 13, 2, 2, 2, 2, 0, 0, 1, 1);
        int lo = g.HO * g.WO, hw = g.H * g.W;
        var rnd = new Random(5);
        var idx = new long[2 * lo];
        for (int p = 0; p < 2; p++)
            for (int oh = 0; oh < g.HO; oh++)
                for (int ow = 0; ow < g.WO; ow++) idx[p * lo + oh * g.WO + ow] = (2 * oh + rnd.Next(2)) * g.W + 2 * ow + rnd.Next(2);
        idx[3] = 77; idx[lo + 10] = 0; idx[lo + 12] = hw - 1;   // in the plane, not in their windows (an 8-group, a 4-group, the tail)
        var gy = new float[2 * lo];
        for (int i = 0; i < gy.Length; i++) gy[i] = rnd.Next(1, 9) * 0.25f;
        var expected = new float[2 * hw];
        for (int p = 0; p < 2; p++)
            for (int o = 0; o < lo; o++) expected[p * hw + idx[p * lo + o]] += gy[p * lo + o];
        var gx = new float[2 * hw];
        Pooling.MaxBackward(g, gy, idx, gx, accumulate: true);
        for (int i = 0; i < gx.Length; i++) Assert.True(gx[i] == expected[i], $"gx[{i}] = {gx[i]}, expected {expected[i]}");
        idx[5] = hw + 3;
        Assert.ThrowsAny<IndexOutOfRangeException>(() => Pooling.MaxBackward(g, gy, idx, gx, accumulate: true));
    }

    [Fact]
    public void MaxPoolRefusesArraysThatDoNotFitTheGeometry()
    {
        var g = new PoolGeometry(2, 4, 4, 2, 2, 2, 2, 2, 2, 0, 0, 1, 1);
        var ex = Assert.Throws<ArgumentException>(() => Pooling.MaxForward(g, new float[31], new float[8], new long[8]));
        Assert.Contains("does not fit", ex.Message);
    }

    /// <summary>The definition: scan each window row by row; a value replaces the maximum when greater, the first NaN wins.</summary>
    private static (double[] Y, long[] Idx) Definition(PoolGeometry g, double[] x)
    {
        var y = new double[g.Planes * g.HO * g.WO];
        var idx = new long[y.Length];
        for (int p = 0; p < g.Planes; p++)
            for (int oh = 0; oh < g.HO; oh++)
                for (int ow = 0; ow < g.WO; ow++)
                {
                    double best = double.NegativeInfinity;
                    long at = -1;
                    bool nan = false;
                    for (int i = 0; i < g.KH && !nan; i++)
                        for (int j = 0; j < g.KW && !nan; j++)
                        {
                            int ih = oh * g.SH - g.PH + i * g.DH, iw = ow * g.SW - g.PW + j * g.DW;
                            if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                            double v = x[(p * g.H + ih) * g.W + iw];
                            if (at < 0 || v > best || double.IsNaN(v))
                            {
                                best = v;
                                at = ih * g.W + iw;
                                nan = double.IsNaN(v);
                            }
                        }
                    y[(p * g.HO + oh) * g.WO + ow] = best;
                    idx[(p * g.HO + oh) * g.WO + ow] = Math.Max(at, 0);
                }
        return (y, idx);
    }
}
