using System.Runtime.Intrinsics;
using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The encoder layer's bias gradients as column sums in 512-bit registers and linear1's ReLU backward fused with its bias
/// gradient (TransformerLayer.Rows.cs, session 25) against the per-row adds of <see cref="ReduceKernel.Sum{T}"/> and
/// <c>Pointwise.Backward&lt;ReluOp&gt;</c> they replace, bit for bit: odd row counts, column counts of whole vectors (one,
/// three, eight, nine, 24, 32 vectors) and not (the old path), values of mixed magnitude (so that the order shows), ±0, ±∞
/// and NaN gradients, act's zeros and NaN; and the feed-forward block's backward with and without the fused path.
/// </summary>
public class TransformerColumnSumsTests
{
    private static float[] Mixed(Rng rng, int n) => Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.NextDouble() * 8 - 4))).ToArray();

    [Theory]
    [InlineData(1, 16)]
    [InlineData(7, 48)]
    [InlineData(33, 128)]
    [InlineData(101, 144)]
    [InlineData(1024, 384)]
    [InlineData(65, 512)]
    [InlineData(9, 17)]
    [InlineData(5, 8)]
    public void ColumnSumsEqualThePerRowAdds(int rows, int cols)
    {
        var rng = new Rng(rows * 7 + cols);
        var g = Mixed(rng, rows * cols);
        g[0] = -0f;
        if (rows > 2) (g[cols + 1], g[2 * cols + 1]) = (float.PositiveInfinity, float.NaN);
        var start = Mixed(rng, cols + 5);
        var expected = (float[])start.Clone();
        ReduceKernel.Sum<float>(g, expected.AsSpan(3, cols), 1, rows, cols, 1f, accumulate: true);
        var actual = (float[])start.Clone();
        TransformerLayerKernel.AddColumnSums(g, rows, cols, actual, 3);
        AssertBits(expected, actual, $"column sums {rows}x{cols}");
        Assert.Equal(Vector512.IsHardwareAccelerated && cols % 16 == 0, TransformerLayerKernel.ColumnSumsInRegisters(cols));
    }

    [Theory]
    [InlineData(1, 16)]
    [InlineData(37, 144)]
    [InlineData(100, 512)]
    public void ReluBackwardWithColumnSumsEqualsPointwiseThenSums(int rows, int cols)
    {
        if (!TransformerLayerKernel.ColumnSumsInRegisters(cols)) return;   // no AVX-512: the layer keeps the old path
        var rng = new Rng(rows * 3 + cols);
        var act = Mixed(rng, rows * cols).Select(v => Math.Max(v, 0f)).ToArray();
        act[1] = float.NaN;
        act[2] = -0f;
        var g = Mixed(rng, rows * cols);
        for (int i = 0; i < g.Length; i += 5) g[i] = -g[i];
        g[2] = -3f;   // masked: +0 (PyTorch's threshold_backward selects)
        g[3] = float.NegativeInfinity;
        if (act[3] <= 0) act[3] = 0f;   // masked: +0, not −∞·0 = NaN
        var bias = Mixed(rng, cols);
        var expectedG = (float[])g.Clone();
        Pointwise.Backward<ReluOp, float, F32>(act, act, expectedG, expectedG, accumulate: false, 0, 0);
        var expectedB = (float[])bias.Clone();
        ReduceKernel.Sum<float>(expectedG, expectedB, 1, rows, cols, 1f, accumulate: true);
        var actualG = (float[])g.Clone();
        var actualB = (float[])bias.Clone();
        TransformerLayerKernel.ReluBackwardAddColumnSums(act, actualG, rows, cols, actualB);
        AssertBits(expectedG, actualG, $"ReLU backward {rows}x{cols}");
        AssertBits(expectedB, actualB, $"bias {rows}x{cols}");
    }

    /// <summary>The feed-forward block's backward (ReLU, no dropout) with the fused ReLU backward and the register sums, and without them.</summary>
    [Theory]
    [InlineData(100)]
    [InlineData(333)]
    public void FeedForwardBackwardEqualsThePerRowPath(int rows)
    {
        const int D = 128, F = 512;
        var shape = new EncoderLayerShape(D, 4, F, 1, NormFirst: false, Gelu: false, LayerNormEps: 1e-5);
        var rng = new Rng(rows);
        float[] Randn(int size, float scale) => (Tensor.Randn([size], rng: rng) * scale).ToArray();
        var x = Randn(rows * D, 1f);
        var w1 = Randn(F * D, 0.1f);
        var w2 = Randn(D * F, 0.1f);
        var act = Randn(rows * F, 1f).Select(v => Math.Max(v, 0f)).ToArray();
        var gy = Randn(rows * D, 1f);
        var gx0 = Randn(rows * D, 1f);
        var b0 = Randn(F + D, 1f);
        (float[] Gx, float[] GW1, float[] GB1, float[] GW2, float[] GB2) Run(bool off)
        {
            var (gx, gW1, gB1, gW2, gB2) = ((float[])gx0.Clone(), new float[F * D], b0[..F], new float[D * F], b0[F..]);
            TransformerLayerKernel.t_columnSumsOff = off;
            try
            {
                TransformerLayerKernel.FeedForwardBackward(shape, x, gy, gx, rows, w1, w2, gW1, gB1, gW2, gB2, new float[rows * F], act,
                    new float[rows * F], new float[rows * F]);
            }
            finally
            {
                TransformerLayerKernel.t_columnSumsOff = false;
            }
            return (gx, gW1, gB1, gW2, gB2);
        }
        var fused = Run(off: false);
        var perRow = Run(off: true);
        AssertBits(perRow.Gx, fused.Gx, $"gx, rows={rows}");
        AssertBits(perRow.GW1, fused.GW1, $"gW1, rows={rows}");
        AssertBits(perRow.GB1, fused.GB1, $"gB1, rows={rows}");
        AssertBits(perRow.GW2, fused.GW2, $"gW2, rows={rows}");
        AssertBits(perRow.GB2, fused.GB2, $"gB2, rows={rows}");
    }

    private static void AssertBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R}");
        }
    }
}
