using SharpGrad.Kernels;

namespace SharpGrad.Tests.Nn;

/// <summary>
/// The LSTM recurrence kernel (RecurrentKernel.Forward/Backward with the fused cell of Recurrent.Lstm.cs) in float against
/// the definition written out in double, on odd sizes: hidden sizes below, at and past the vector widths (the scalar tail and
/// the 256/512-bit bodies), one and several rows, with and without biases and initial states, both time directions.
/// </summary>
public class LstmKernelTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (int h in new[] { 1, 5, 16, 17, 37 })
        {
            yield return [h, 3, 4, true, true, false];
            yield return [h, 1, 2, false, false, true];
        }
        yield return [33, 5, 7, true, false, true];
        yield return [8, 2, 1, false, true, false];
        // W_hh's gradient reads h_{t−1} from the outputs in place and h_0 separately: a non-zero h_0 in reverse (its rows are
        // the last time block) and one step from h_0 = 0 (no product at all)
        yield return [19, 3, 5, true, true, true];
        yield return [16, 4, 1, true, false, false];
    }

    private static double Sig(double x) => 1 / (1 + Math.Exp(-x));

    /// <summary>The forward and backward in double, straight from the equations (PyTorch's nn.LSTM, gates i, f, g, o).</summary>
    private static (double[] Out, double[] CLast, double[] DXw, double[] DH0, double[] DC0, double[] DW, double[] DB) Reference(
        int steps, int n, int h, bool reverse, double[] xw, double[] h0, double[] c0, double[] w, double[]? b, double[] gOut, double[] gC)
    {
        int g = 4 * h, nh = n * h;
        var output = new double[steps * nh];
        var cs = new double[steps * nh];
        var acts = new double[steps * n * g];
        int T(int k) => reverse ? steps - 1 - k : k;
        for (int k = 0; k < steps; k++)
        {
            int t = T(k);
            for (int r = 0; r < n; r++)
            {
                for (int q = 0; q < g; q++)
                {
                    double s = xw[(t * n + r) * g + q] + (b?[q] ?? 0);
                    for (int p = 0; p < h; p++) s += w[q * h + p] * (k == 0 ? h0[r * h + p] : output[T(k - 1) * nh + r * h + p]);
                    int gate = q / h;
                    acts[(t * n + r) * g + q] = gate == 2 ? Math.Tanh(s) : Sig(s);
                }
                for (int j = 0; j < h; j++)
                {
                    int a = (t * n + r) * g;
                    double cp = k == 0 ? c0[r * h + j] : cs[T(k - 1) * nh + r * h + j];
                    double c = acts[a + h + j] * cp + acts[a + j] * acts[a + 2 * h + j];
                    cs[t * nh + r * h + j] = c;
                    output[t * nh + r * h + j] = acts[a + 3 * h + j] * Math.Tanh(c);
                }
            }
        }
        var dXw = new double[steps * n * g];
        var dW = new double[g * h];
        var dB = new double[g];
        var dh = new double[nh];
        var dc = (double[])gC.Clone();
        for (int k = steps - 1; k >= 0; k--)
        {
            int t = T(k);
            var dhPrev = new double[nh];
            for (int r = 0; r < n; r++)
            {
                int a = (t * n + r) * g;
                for (int j = 0; j < h; j++)
                {
                    int e = r * h + j;
                    double dhj = gOut[t * nh + e] + dh[e];
                    double i = acts[a + j], f = acts[a + h + j], gg = acts[a + 2 * h + j], o = acts[a + 3 * h + j];
                    double th = Math.Tanh(cs[t * nh + e]);
                    double cp = k == 0 ? c0[e] : cs[T(k - 1) * nh + e];
                    double dcj = dc[e] + dhj * o * (1 - th * th);
                    dXw[a + j] = dcj * gg * i * (1 - i);
                    dXw[a + h + j] = dcj * cp * f * (1 - f);
                    dXw[a + 2 * h + j] = dcj * i * (1 - gg * gg);
                    dXw[a + 3 * h + j] = dhj * th * o * (1 - o);
                    dc[e] = dcj * f;
                }
                for (int q = 0; q < g; q++)
                {
                    double d = dXw[a + q];
                    dB[q] += d;
                    for (int p = 0; p < h; p++)
                    {
                        double hp = k == 0 ? h0[r * h + p] : output[T(k - 1) * nh + r * h + p];
                        dW[q * h + p] += d * hp;
                        dhPrev[r * h + p] += d * w[q * h + p];
                    }
                }
            }
            dh = dhPrev;
        }
        var cLast = new double[nh];
        if (steps > 0) Array.Copy(cs, T(steps - 1) * nh, cLast, 0, nh);
        return (output, cLast, dXw, dh, dc, dW, dB);
    }

    private static double[] Random(int count, Random rng, double scale = 1) =>
        Enumerable.Range(0, count).Select(_ => (rng.NextDouble() * 2 - 1) * scale).ToArray();

    private static float[] F(double[] v) => v.Select(x => (float)x).ToArray();

    private static void Close(double[] expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.True(actual.Length >= expected.Length, $"{what}: {actual.Length} values, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            double tol = 2e-5 + 2e-5 * Math.Abs(expected[i]);
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FloatKernelMatchesTheDoubleDefinition(int h, int n, int steps, bool bias, bool initial, bool reverse)
        => CheckFloatKernel(h, n, steps, bias, initial, reverse);

    public static IEnumerable<object[]> SplitCases()
    {
        // The batch split into blocks, each run through all steps on its own (RecurrentKernel.BatchParts): odd batches into
        // blocks of unequal sizes, more blocks than threads, one-row blocks, with and without h_0/c_0 and biases, both directions.
        yield return [17, 7, 4, true, true, false, 2];
        yield return [37, 9, 3, true, false, true, 3];
        yield return [5, 5, 5, false, true, true, 5];
        yield return [16, 11, 2, true, true, true, 4];
    }

    [Theory]
    [MemberData(nameof(SplitCases))]
    public void BatchSplitKernelMatchesTheDoubleDefinition(int h, int n, int steps, bool bias, bool initial, bool reverse, int parts)
    {
        RecurrentKernel.t_forcedBatchParts = parts;
        try
        {
            CheckFloatKernel(h, n, steps, bias, initial, reverse);
        }
        finally
        {
            RecurrentKernel.t_forcedBatchParts = 0;
        }
    }

    public static IEnumerable<object[]> FusedCases()
    {
        // The fused loops (Recurrent.Fused.cs) at both widths (512 emulated on an AVX2 machine): row pairs and a lone last row
        // (odd batches), 4-row backward tiles with 1–3 rows left over, two-vector and one-vector backward tiles (h a multiple
        // of 2w or only of w), one step, one row, h_0/c_0 and biases on and off, both directions, batch blocks.
        foreach (int width in new[] { 256, 512 })
        {
            yield return [width, 16, 5, 7, true, true, false, 1];
            yield return [width, 32, 3, 4, false, false, true, 1];
            yield return [width, 48, 7, 3, true, false, true, 2];
            yield return [width, 16, 9, 1, true, true, true, 3];
            yield return [width, 64, 1, 5, true, true, false, 1];
            yield return [width, 32, 6, 2, false, true, false, 4];
        }
        yield return [256, 8, 11, 3, true, true, true, 1];
        yield return [256, 24, 5, 4, true, false, false, 2];
    }

    [Theory]
    [MemberData(nameof(FusedCases))]
    public void FusedKernelMatchesTheDoubleDefinition(int width, int h, int n, int steps, bool bias, bool initial, bool reverse, int parts)
    {
        RecurrentKernel.t_forcedLstmWidth = width;
        RecurrentKernel.t_forcedBatchParts = parts;
        try
        {
            Assert.Equal(width, RecurrentKernel.FusedLstmWidth<float>(new RecurrenceShape(RecurrentMode.Lstm, steps, n, h, reverse)));
            CheckFloatKernel(h, n, steps, bias, initial, reverse);
        }
        finally
        {
            RecurrentKernel.t_forcedLstmWidth = 0;
            RecurrentKernel.t_forcedBatchParts = 0;
        }
    }

    public static IEnumerable<object[]> SixRowTileCases()
    {
        // The backward's 6-row × 2-vector tiles (h a multiple of 2w) at both widths, and the 4-row tiles after them: 6 rows (one
        // tile), 12 (two), 16 (two + one 4-row tile), 13 (two + a 4-row tile of 1 row), 23 (three + 4 + 1), 20 (two + 4 + 4),
        // 32 split in 2 blocks of 16, 17 in blocks of 9 (6 + 3) and 8 (4 + 4).
        foreach (int width in new[] { 256, 512 })
        {
            yield return [width, 32, 6, 3, true, true, false, 1];
            yield return [width, 64, 12, 2, false, false, true, 1];
            yield return [width, 32, 16, 4, true, false, false, 1];
            yield return [width, 32, 13, 3, true, true, true, 1];
            yield return [width, 64, 23, 2, false, true, false, 1];
            yield return [width, 32, 32, 3, true, true, false, 2];
            yield return [width, 32, 17, 2, true, false, true, 2];
        }
        yield return [256, 16, 20, 5, true, true, true, 1];
    }

    [Theory]
    [MemberData(nameof(SixRowTileCases))]
    public void SixRowBackwardTilesMatchTheDoubleDefinition(int width, int h, int n, int steps, bool bias, bool initial, bool reverse, int parts)
        => FusedKernelMatchesTheDoubleDefinition(width, h, n, steps, bias, initial, reverse, parts);

    public static IEnumerable<object[]> FourRowTileCases()
    {
        // The backward's 4-row tiles (LstmBackwardTile4), split on the two-vector flag, at both widths: one-vector blocks (h a
        // multiple of w only) and two-vector blocks without or after 6-row tiles, with 4 rows and 1–3 rows left over (odd row
        // counts), one step, batch blocks.
        foreach (int width in new[] { 256, 512 })
        {
            int w = width / 32;
            yield return [width, 3 * w, 7, 3, true, true, false, 1];    // one vector: 4 + 3
            yield return [width, 5 * w, 6, 2, false, false, true, 1];   // 4 + 2
            yield return [width, 3 * w, 9, 1, true, false, true, 2];    // blocks of 5 (4 + 1) and 4
            yield return [width, 2 * w, 5, 3, true, true, false, 1];    // two vectors, no 6-row tile: 4 + 1
            yield return [width, 4 * w, 11, 2, false, true, true, 1];   // 6 + 4 + 1
            yield return [width, 2 * w, 3, 4, true, false, false, 1];   // 3 rows
        }
    }

    [Theory]
    [MemberData(nameof(FourRowTileCases))]
    public void FourRowBackwardTilesMatchTheDoubleDefinition(int width, int h, int n, int steps, bool bias, bool initial, bool reverse, int parts)
        => FusedKernelMatchesTheDoubleDefinition(width, h, n, steps, bias, initial, reverse, parts);

    public static IEnumerable<object[]> ForwardTileCases()
    {
        // The forward's tiles (LstmForwardTile: 6-row and 4-row × 2-vector tiles over blocks of 2w pre-activation columns) at
        // both widths: h a multiple of w only (the blocks then straddle two gates), odd row counts (6 + 1, 6·2 + 1, 6 + 4,
        // a 4-row tile of 3 rows), one row, the first step with and without h_0 (no product from h_0 = 0), batch blocks of 9
        // (6 + 3) and 8 (4 + 4) rows.
        foreach (int width in new[] { 256, 512 })
        {
            int w = width / 32;
            yield return [width, 3 * w, 7, 3, true, true, false, 1];
            yield return [width, 3 * w, 13, 2, false, false, true, 1];
            yield return [width, 2 * w, 7, 4, true, false, false, 1];
            yield return [width, 4 * w, 13, 2, true, true, true, 1];
            yield return [width, w, 1, 3, false, true, false, 1];
            yield return [width, 5 * w, 17, 2, true, false, true, 2];
            yield return [width, 3 * w, 10, 3, true, true, false, 1];   // 6 + 4
            yield return [width, 2 * w, 3, 2, false, true, true, 1];    // one 4-row tile of 3 rows
        }
    }

    [Theory]
    [MemberData(nameof(ForwardTileCases))]
    public void ForwardTilesMatchTheDoubleDefinition(int width, int h, int n, int steps, bool bias, bool initial, bool reverse, int parts)
        => FusedKernelMatchesTheDoubleDefinition(width, h, n, steps, bias, initial, reverse, parts);

    [Theory]
    [InlineData(32, 4)]   // 6·4 + 4·2
    [InlineData(16, 2)]   // 6·2 + 4
    [InlineData(12, 2)]
    [InlineData(13, 2)]   // no count leaves a multiple of 4: as many as fit
    [InlineData(10, 1)]   // 6 + 4
    [InlineData(8, 0)]    // 4 + 4
    [InlineData(5, 0)]
    public void SixRowTilesLeaveWholeFourRowTiles(int rows, int six) => Assert.Equal(six, RecurrentKernel.LstmSixRowTiles(rows));

    [Theory]
    [InlineData(16, 5, 4, true, true, false)]
    [InlineData(32, 7, 3, false, false, true)]
    public void GenericLoopsStillMatchTheDoubleDefinition(int h, int n, int steps, bool bias, bool initial, bool reverse)
    {
        // The hidden sizes the fused loops take, through the generic per-step GEMM and cell instead (−1: fusion off).
        RecurrentKernel.t_forcedLstmWidth = -1;
        try
        {
            Assert.Equal(0, RecurrentKernel.FusedLstmWidth<float>(new RecurrenceShape(RecurrentMode.Lstm, steps, n, h, reverse)));
            CheckFloatKernel(h, n, steps, bias, initial, reverse);
        }
        finally
        {
            RecurrentKernel.t_forcedLstmWidth = 0;
        }
    }

    [Fact]
    public void TheWorkloadSizeIsSplitOnlyWithSeveralThreads()
    {
        var s = new RecurrenceShape(RecurrentMode.Lstm, 35, 32, 128, false);
        // min(threads, 32 rows / 4, 2·35·32·128·512 flops / 4e6)
        Assert.Equal(Math.Min(Parallelism.MaxThreads, 8), RecurrentKernel.BatchParts(s));
        // A short sequence of few rows stays on one thread.
        Assert.Equal(1, RecurrentKernel.BatchParts(new RecurrenceShape(RecurrentMode.Lstm, 2, 4, 16, false)));
    }

    /// <summary>W_hhᵀ: the float transpose (8 × 8 AVX blocks and scalar edges) and the double one against the definition, odd shapes.</summary>
    [Theory]
    [InlineData(512, 128, 0)]
    [InlineData(8, 8, 3)]
    [InlineData(23, 17, 5)]
    [InlineData(9, 40, 1)]
    [InlineData(7, 30, 0)]
    [InlineData(3, 5, 2)]
    public void TransposeMatchesTheDefinition(int rows, int cols, int offset)
    {
        var src = Enumerable.Range(0, offset + rows * cols + 4).Select(i => (float)i).ToArray();
        var dst = Enumerable.Repeat(float.NaN, rows * cols + 2).ToArray();
        RecurrentKernel.Transpose(src, offset, rows, cols, dst);
        var srcD = src.Select(v => (double)v).ToArray();
        var dstD = new double[rows * cols];
        RecurrentKernel.Transpose(srcD, offset, rows, cols, dstD);
        for (int q = 0; q < rows; q++)
        {
            for (int p = 0; p < cols; p++)
            {
                Assert.True(src[offset + q * cols + p] == dst[p * rows + q], $"[{rows}, {cols}] float: dst[{p}, {q}] = {dst[p * rows + q]}");
                Assert.Equal(srcD[offset + q * cols + p], dstD[p * rows + q]);
            }
        }
        Assert.True(float.IsNaN(dst[rows * cols]), "wrote past the end");
    }

    private static void CheckFloatKernel(int h, int n, int steps, bool bias, bool initial, bool reverse)
    {
        var rng = new Random(h * 1000 + n * 10 + steps);
        int g = 4 * h, nh = n * h;
        // Pre-activations up to ±3 reach the flat ends of σ and tanh; W scaled so h·Wᵀ stays in that range.
        double[] xw = Random(steps * n * g, rng, 2), w = Random(g * h, rng, 1.5 / Math.Sqrt(h)), b = Random(g, rng, 0.5);
        double[] h0 = initial ? Random(nh, rng) : new double[nh], c0 = initial ? Random(nh, rng) : new double[nh];
        double[] gOut = Random(steps * nh, rng), gC = initial ? Random(nh, rng) : new double[nh];
        var want = Reference(steps, n, h, reverse, xw, h0, c0, w, bias ? b : null, gOut, gC);

        var shape = new RecurrenceShape(RecurrentMode.Lstm, steps, n, h, reverse);
        var buffers = new RecurrenceBuffers<float>();
        // W_hh at an offset inside a larger array, as a layer's weight view can be.
        var wf = new float[g * h + 3];
        F(w).CopyTo(wf, 3);
        var output = new float[steps * nh];
        var cLast = new float[nh];
        var h0f = F(h0);
        var c0f = F(c0);
        RecurrentKernel.Forward<float>(shape, F(xw), h0f, initial ? c0f : default, wf, 3, bias ? F(b) : default, output, cLast, buffers);
        Close(want.Out, output, "output");
        Close(want.CLast, cLast, "c_T");

        // dXw starts as NaN: the kernel must write every element. dW and dB are accumulated into.
        var dXw = Enumerable.Repeat(float.NaN, steps * n * g).ToArray();
        var dH0 = new float[nh];
        var dC0 = new float[nh];
        var dW = Enumerable.Repeat(0.25f, g * h).ToArray();
        var dB = Enumerable.Repeat(-0.5f, g).ToArray();
        RecurrentKernel.Backward<float>(shape, F(gOut), initial ? F(gC) : default, output, h0f, initial ? c0f : default, wf, 3, dXw, dH0, dC0, dW,
            bias ? dB : default, buffers);
        Close(want.DXw, dXw, "dXw");
        Close(want.DH0, dH0, "dh_0");
        Close(want.DC0, dC0, "dc_0");
        Close(want.DW.Select(v => v + 0.25).ToArray(), dW, "dW_hh");
        if (bias) Close(want.DB.Select(v => v - 0.5).ToArray(), dB, "db_hh");
    }

    [Theory]
    [InlineData(5, 3)]
    [InlineData(37, 2)]
    public void DoubleKernelMatchesTheDoubleDefinition(int h, int n)
    {
        var rng = new Random(7 + h);
        int steps = 3, g = 4 * h, nh = n * h;
        double[] xw = Random(steps * n * g, rng, 2), w = Random(g * h, rng, 1.5 / Math.Sqrt(h)), b = Random(g, rng, 0.5);
        double[] h0 = Random(nh, rng), c0 = Random(nh, rng), gOut = Random(steps * nh, rng), gC = new double[nh];
        var want = Reference(steps, n, h, false, xw, h0, c0, w, b, gOut, gC);
        var shape = new RecurrenceShape(RecurrentMode.Lstm, steps, n, h, false);
        var buffers = new RecurrenceBuffers<double>();
        var output = new double[steps * nh];
        RecurrentKernel.Forward<double>(shape, xw, h0, c0, w, 0, b, output, default, buffers);
        var dXw = new double[steps * n * g];
        var dW = new double[g * h];
        RecurrentKernel.Backward<double>(shape, gOut, default, output, h0, c0, w, 0, dXw, default, default, dW, default, buffers);
        for (int i = 0; i < output.Length; i++) Assert.Equal(want.Out[i], output[i], 1e-12);
        for (int i = 0; i < dXw.Length; i++) Assert.Equal(want.DXw[i], dXw[i], 1e-12);
        for (int i = 0; i < dW.Length; i++) Assert.Equal(want.DW[i], dW[i], 1e-12);
    }
}
