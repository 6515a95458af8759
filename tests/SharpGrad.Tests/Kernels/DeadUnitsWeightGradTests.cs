using SharpGrad;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// A Linear's weight gradient over only the units that are live in the batch (<c>Gemm.TryLinearWeightGradSkipDeadUnits</c>,
/// Gemm.DeadUnits.cs) against the dense product of all units (<c>Gemm.Sgemm</c>, what ran before) and the naive FMA chain,
/// bit for bit: odd sizes, g's dead columns at the edges, in runs and scattered, g ~50 % zeros in the live columns, a NaN
/// in g (live), 1–3 threads; the dense fallbacks (few dead units, a NaN or ±Inf in x, a batch past one k-block) write nothing.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class DeadUnitsWeightGradTests
{
    public static IEnumerable<object[]> Cases()
    {
        // [rows, inF, outF, dead fraction]: the MLP step's fc1 (64, 784, 256) with ~20 % and more dead units; odd inF (edge
        // columns after the kernels' last two-vector strip) with outF a multiple of 24 (whole 6- and 8-row tiles)
        int[][] shapes = [[64, 784, 256], [33, 530, 264], [7, 1001, 600], [256, 131, 120], [64, 800, 192], [64, 256, 128], [37, 257, 120]];
        foreach (var s in shapes)
            foreach (double dead in new[] { 0.2, 0.5, 0.97, 1.0 })
                foreach (int threads in new[] { 1, 2, 3 })
                    yield return [s[0], s[1], s[2], dead, threads];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LiveRowsEqualTheDenseProductAndDeadRowsAreZero(int rows, int inF, int outF, double dead, int threads)
    {
        var rng = new Rng(rows * 7 + inF * 31 + outF + (int)(dead * 100) + threads);
        int gOff = 3, xOff = 5;
        var g = ZeroSkipGemmTests.Sparse(gOff + rows * outF, 0.5, rng);
        var x = SmallGemmTests.Random(xOff + rows * inF, rng);
        bool[] isDead = new bool[outF];
        for (int j = 0; j < outF; j++) isDead[j] = rng.NextDouble() < dead;
        if (dead < 1.0) (isDead[0], isDead[outF - 1]) = (true, false);
        for (int j = 0; j < outF; j++)
        {
            if (!isDead[j]) continue;
            for (int b = 0; b < rows; b++) g[gOff + b * outF + j] = (b & 1) == 0 ? 0f : -0f;
        }
        if (dead < 1.0) g[gOff + (rows - 1) * outF + outF - 1] = float.NaN; // a NaN makes its unit live (NaN·x stays NaN)
        var dense = new float[outF * inF];
        TwoThreadSplitTests.WithThreads(threads, () =>
        {
            Gemm.Sgemm(true, false, outF, inF, rows, 1f, g, gOff, outF, x, xOff, inF, 0f, dense, 0, inF);
            return 0;
        });
        var gw = new float[outF * inF + 7];
        Array.Fill(gw, float.NaN);
        bool done = TwoThreadSplitTests.WithThreads(threads, () => Gemm.TryLinearWeightGradSkipDeadUnits(g, gOff, x, xOff, gw, rows, inF, outF));
        Assert.True(done, $"{isDead.Count(d => d)} of {outF} units dead: expected the live-rows path");
        for (int j = 0; j < outF; j++)
            for (int i = 0; i < inF; i++)
            {
                float s = 0f;
                for (int b = 0; b < rows; b++) s = MathF.FusedMultiplyAdd(g[gOff + b * outF + j], x[xOff + b * inF + i], s);
                int e = j * inF + i;
                if (BitConverter.SingleToInt32Bits(gw[e]) != BitConverter.SingleToInt32Bits(dense[e]) || !s.Equals(gw[e]))
                    Assert.Fail($"rows={rows} inF={inF} outF={outF} dead={dead} threads={threads}: gW[{j}, {i}] (unit {(isDead[j] ? "dead" : "live")}) is {gw[e]:R}, the dense product {dense[e]:R}, the chain {s:R}");
            }
        for (int e = outF * inF; e < gw.Length; e++) Assert.True(float.IsNaN(gw[e]), "wrote past the weight gradient");
    }

    [Fact]
    public void FallsBackWithoutWritingWhenItDoesNotPayOrXIsNotFinite()
    {
        var rng = new Rng(5);
        int rows = 64, inF = 784, outF = 256;
        var g = ZeroSkipGemmTests.Sparse(rows * outF, 0.5, rng);
        var x = SmallGemmTests.Random(rows * inF, rng);
        var gw = new float[outF * inF];
        // fewer than 1/8 of the units dead
        for (int j = 0; j < outF / 8 - 1; j++)
            for (int b = 0; b < rows; b++) g[b * outF + j] = 0f;
        Assert.False(Gemm.TryLinearWeightGradSkipDeadUnits(g, 0, x, 0, gw, rows, inF, outF));
        for (int j = 0; j < outF / 2; j++)
            for (int b = 0; b < rows; b++) g[b * outF + j] = 0f;
        // a NaN or ±Inf in x: a dead unit's row would be 0·NaN = NaN on the dense path
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            var xb = (float[])x.Clone();
            xb[rows * inF - 1] = bad;
            Assert.False(Gemm.TryLinearWeightGradSkipDeadUnits(g, 0, xb, 0, gw, rows, inF, outF));
        }
        // rows after the direct kernel's last tile over edge columns (outF 250, inF 530): their sums depend on the position
        var g3 = ZeroSkipGemmTests.Sparse(33 * 250, 0.5, rng);
        for (int j = 0; j < 125; j++)
            for (int b = 0; b < 33; b++) g3[b * 250 + j] = 0f;
        Assert.False(Gemm.TryLinearWeightGradSkipDeadUnits(g3, 0, SmallGemmTests.Random(33 * 530, rng), 0, gw, 33, 530, 250));
        // a batch longer than the direct kernels' k-block (its dense product adds per-block sums)
        var g2 = new float[300 * outF];
        var x2 = SmallGemmTests.Random(300 * inF, rng);
        g2[0] = 1f;
        Assert.False(Gemm.TryLinearWeightGradSkipDeadUnits(g2, 0, x2, 0, gw, 300, inF, outF));
        Assert.All(gw, v => Assert.Equal(0f, v));
        Assert.True(Gemm.TryLinearWeightGradSkipDeadUnits(g, 0, x, 0, gw, rows, inF, outF));
    }

    /// <summary>
    /// A Linear's gradients below <c>Gemm.SkipZerosMinMacs</c> (the MLP's fc2, 64×256→128) through
    /// <c>CompiledSupport.LinearBackward</c>: g's zeros skipped when it is ≤ 50 % nonzero (mnist's fc2, ~36 %), the dense
    /// products otherwise; either way the same bits as the dense Sgemm calls (gx += g·W, gW = or += gᵀ·x), on 1–3 threads,
    /// with a NaN in W taking the dense path (0·NaN = NaN).
    /// </summary>
    [Theory]
    [InlineData(64, 256, 128, 0.64, 1)]
    [InlineData(64, 256, 128, 0.64, 2)]
    [InlineData(64, 256, 128, 0.3, 1)]
    [InlineData(37, 250, 131, 0.7, 3)]
    [InlineData(64, 256, 128, 0.64, 1, true)]
    public void SmallLinearGradientsEqualTheDenseProducts(int rows, int inF, int outF, double zeros, int threads, bool nanInW = false)
    {
        var rng = new Rng(rows + inF * 3 + outF * 7 + threads + (int)(zeros * 100));
        var g = ZeroSkipGemmTests.Sparse(rows * outF, zeros, rng);
        var x = ZeroSkipGemmTests.Sparse(rows * inF, 0.5, rng);
        var w = SmallGemmTests.Random(outF * inF, rng);
        if (nanInW) w[outF * inF / 2] = float.NaN;
        var gx0 = SmallGemmTests.Random(rows * inF, rng);
        var gw0 = SmallGemmTests.Random(outF * inF, rng);
        foreach (bool overwrite in new[] { true, false })
        {
            var (gx, gw, gxD, gwD) = ((float[])gx0.Clone(), (float[])gw0.Clone(), (float[])gx0.Clone(), (float[])gw0.Clone());
            TwoThreadSplitTests.WithThreads(threads, () =>
            {
                CompiledSupport.LinearBackward(x, Tensor.FromArray(w, outF, inF), g, gx, gw, null, rows, new LinearShape(inF, outF), overwriteWeight: overwrite);
                Gemm.Sgemm(false, false, rows, inF, outF, 1f, g, 0, outF, w, 0, inF, 1f, gxD, 0, inF);
                Gemm.Sgemm(true, false, outF, inF, rows, 1f, g, 0, outF, x, 0, inF, overwrite ? 0f : 1f, gwD, 0, inF);
                return 0;
            });
            for (int e = 0; e < gx.Length; e++)
                if (BitConverter.SingleToInt32Bits(gx[e]) != BitConverter.SingleToInt32Bits(gxD[e]) && !(float.IsNaN(gx[e]) && float.IsNaN(gxD[e])))
                    Assert.Fail($"{rows}x{inF}->{outF} zeros={zeros} threads={threads} overwrite={overwrite}: gx[{e}] is {gx[e]:R}, dense {gxD[e]:R}");
            for (int e = 0; e < gw.Length; e++)
                if (BitConverter.SingleToInt32Bits(gw[e]) != BitConverter.SingleToInt32Bits(gwD[e]))
                    Assert.Fail($"{rows}x{inF}->{outF} zeros={zeros} threads={threads} overwrite={overwrite}: gW[{e}] is {gw[e]:R}, dense {gwD[e]:R}");
        }
    }

    /// <summary>
    /// A Linear's forward below <c>Gemm.SkipZerosMinMacs</c> (the MLP's fc2, 64×256→128) through
    /// <c>CompiledSupport.LinearForward</c>: x's zeros skipped when x is ≤ 30 % nonzero (mnist's fc2 input, ~25 %), the same
    /// bits as the dense Sgemm x·Wᵀ (one reduction of ≤ 256, one FMA chain per element), on 1–3 threads; a NaN in W.
    /// </summary>
    [Theory]
    [InlineData(64, 256, 128, 0.75, 1, false)]
    [InlineData(64, 256, 128, 0.75, 2, false)]
    [InlineData(64, 256, 128, 0.75, 1, true)]
    [InlineData(37, 250, 131, 0.8, 3, false)]
    public void SmallLinearForwardEqualsTheDenseProduct(int rows, int inF, int outF, double zeros, int threads, bool nanInW)
    {
        var rng = new Rng(rows + inF * 5 + outF * 3 + threads);
        var x = ZeroSkipGemmTests.Sparse(rows * inF, zeros, rng);
        var w = SmallGemmTests.Random(outF * inF, rng);
        if (nanInW) w[outF * inF - 3] = float.NaN;
        var y = new float[rows * outF];
        var yD = new float[rows * outF];
        Array.Fill(y, 7f);
        TwoThreadSplitTests.WithThreads(threads, () =>
        {
            CompiledSupport.LinearForward(x, Tensor.FromArray(w, outF, inF), null, y, rows, new LinearShape(inF, outF));
            Gemm.Sgemm(false, true, rows, outF, inF, 1f, x, 0, inF, w, 0, inF, 0f, yD, 0, outF);
            return 0;
        });
        for (int e = 0; e < y.Length; e++)
            if (BitConverter.SingleToInt32Bits(y[e]) != BitConverter.SingleToInt32Bits(yD[e]) && !(float.IsNaN(y[e]) && float.IsNaN(yD[e])))
                Assert.Fail($"{rows}x{inF}->{outF} zeros={zeros} threads={threads}: y[{e}] is {y[e]:R}, dense {yD[e]:R}");
    }
}
