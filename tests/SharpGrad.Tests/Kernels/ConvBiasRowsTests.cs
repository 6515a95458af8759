using System.Numerics.Tensors;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// Session 23: a convolution's bias gradient on the implicit path is summed per sample and channel inside the weight
/// gradient's parallel parts and added in sample order afterwards (Conv.Backward, Conv.BiasRows). It must be bitwise what
/// the serial loop gave — gb[o] = 0 + Σ_n sum(gy[n, o, ·]) in sample order — at any thread count and both vector widths, on
/// the lanes path (O a multiple of two vectors) and the dot-product path (other O); and the ReLU-gradient split of
/// Pointwise.Backward (parts of whole 64-element blocks) bitwise the one-thread pass.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class ConvBiasRowsTests
{
    public static IEnumerable<object[]> Geometries() =>
    [
        // n, c, h, w, o, pad
        [32, 1, 28, 28, 16, 1],   // the CNN's conv1 (dot-product path at 512 bits, lanes at 256)
        [32, 16, 14, 14, 32, 1],  // the CNN's conv2 (lanes)
        [3, 3, 9, 8, 5, 1],       // O = 5: dot-product path
        [5, 2, 7, 11, 32, 0],     // 5 samples over 4 and 6 parts, no padding
        [7, 3, 5, 6, 17, 2],      // O = 17, 7 samples
    ];

    private static float[] Rand(int n, Random rng)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(rng.NextDouble() * 2 - 1);
        return v;
    }

    /// <summary>gb as the serial loop sums it: 0, then each sample's row sum in sample order.</summary>
    private static float[] SerialBias(int n, int o, int l, float[] gy)
    {
        var gb = new float[o];
        for (int ni = 0; ni < n; ni++)
            for (int oi = 0; oi < o; oi++)
                gb[oi] += TensorPrimitives.Sum<float>(gy.AsSpan((ni * o + oi) * l, l));
        return gb;
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void BiasGradientEqualsTheSerialSumAtAnyThreadCount(int n, int c, int h, int w, int o, int pad)
    {
        var rng = new Random(n * 1000 + o);
        int ho = h + 2 * pad - 2, wo = w + 2 * pad - 2;
        var g = new ConvGeometry(n, c, h, w, o, 3, 3, 1, 1, pad, pad, 1, 1, 1, ho, wo);
        float[] x = Rand(n * c * h * w, rng), wt = Rand(o * c * 9, rng), gy = Rand(n * o * ho * wo, rng);
        var expected = SerialBias(n, o, ho * wo, gy);
        int saved = Parallelism.MaxThreads;
        try
        {
            foreach (int threads in new[] { 1, 2, 3 })
            {
                Parallelism.MaxThreads = threads;
                // with the weight gradient (the rows summed in its parts), with the input gradient too, and alone (the serial loop)
                var gb = new float[o];
                Conv.Backward(g, x, wt, gy, null, new float[o * c * 9], gb);
                Assert.True(expected.AsSpan().SequenceEqual(gb), $"n={n} o={o} threads={threads}: bias with the weight gradient");
                var gb2 = new float[o];
                Conv.Backward(g, x, wt, gy, new float[x.Length], new float[o * c * 9], gb2, accumulateInput: true);
                Assert.True(expected.AsSpan().SequenceEqual(gb2), $"n={n} o={o} threads={threads}: bias with both gradients");
                var gb3 = new float[o];
                Conv.Backward(g, x, wt, gy, null, null, gb3);
                Assert.True(expected.AsSpan().SequenceEqual(gb3), $"n={n} o={o} threads={threads}: bias alone");
            }
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }

    /// <summary>The lanes weight gradient's row sums at both widths (each emulated where the machine lacks it), 1–3 threads.</summary>
    [Theory]
    [InlineData(32, 16, 14, 14, 32)]
    [InlineData(5, 2, 7, 11, 32)]
    [InlineData(3, 1, 6, 5, 64)]
    public void LanesWeightGradRowSumsAreEachSamplesChannelSums(int n, int c, int h, int w, int o)
    {
        var rng = new Random(o + n);
        var g = new ConvGeometry(n, c, h, w, o, 3, 3, 1, 1, 1, 1, 1, 1, 1, h, w);
        float[] x = Rand(n * c * h * w, rng), gy = Rand(n * o * h * w, rng);
        int saved = Parallelism.MaxThreads;
        try
        {
            foreach (int threads in new[] { 1, 2, 3 })
            {
                Parallelism.MaxThreads = threads;
                foreach (int bits in new[] { 256, 512 })
                {
                    var rows = new float[n * o];
                    var gw = new float[o * c * 9];
                    if (bits == 512) Conv.WeightGradLanes<float, Gemm.Simd512<float>, System.Runtime.Intrinsics.Vector512<float>>(g, x, gy, gw, rows);
                    else Conv.WeightGradLanes<float, Gemm.Simd256<float>, System.Runtime.Intrinsics.Vector256<float>>(g, x, gy, gw, rows);
                    for (int r = 0; r < n * o; r++)
                        Assert.True(TensorPrimitives.Sum<float>(gy.AsSpan(r * h * w, h * w)) == rows[r], $"row {r}, {bits}-bit, threads={threads}");
                }
            }
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }

    [Theory]
    [InlineData(401408)]   // the CNN's conv1 ReLU gradient (32·16·28·28)
    [InlineData(200707)]   // odd: a scalar tail in the last part
    [InlineData(65600)]
    [InlineData(1000)]     // one part
    public void PointwiseBackwardSplitEqualsOneThread(int count)
    {
        var rng = new Random(count);
        float[] x = Rand(count, rng), gy = Rand(count, rng), g0 = Rand(count, rng);
        for (int i = 0; i < count; i += 7) x[i] = 0f;
        float[] y = x.Select(v => MathF.Max(v, 0f)).ToArray();
        int saved = Parallelism.MaxThreads;
        try
        {
            float[] Run<TOp>(int threads) where TOp : IPointwiseOp
            {
                Parallelism.MaxThreads = threads;
                var gx = (float[])g0.Clone();
                Pointwise.Backward<TOp>(x, y, gy, gx, count);
                return gx;
            }
            var relu = Run<ReluOp>(1);
            var leaky = Run<LeakyReluOp>(1);
            var tanh = Run<TanhOp>(1);
            // the one-thread pass against the element-by-element definition (accumulated into g0)
            for (int i = 0; i < count; i++) Assert.Equal(g0[i] + gy[i] * (y[i] > 0 ? 1f : 0f), relu[i]);
            foreach (int threads in new[] { 2, 3 })
            {
                Assert.True(relu.AsSpan().SequenceEqual(Run<ReluOp>(threads)), $"ReLU, {threads} threads");
                Assert.True(leaky.AsSpan().SequenceEqual(Run<LeakyReluOp>(threads)), $"LeakyReLU, {threads} threads");
                Assert.True(tanh.AsSpan().SequenceEqual(Run<TanhOp>(threads)), $"tanh, {threads} threads");
            }
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }
}
