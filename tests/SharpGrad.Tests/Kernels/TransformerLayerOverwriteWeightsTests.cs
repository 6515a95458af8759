using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The encoder layer's backward with <c>overwriteWeights</c> (generated code's first writer of fresh parameter gradients, which
/// it does not clear): the gradients it is told are fresh, filled with NaN and ±1e30 here, come out bit for bit as the backward
/// adding into cleared arrays gives them, and the others are added to (pre-filled with 0.5 in both runs). Shapes that take
/// the skipping weight gradients (linear2's stored transposed, linear1's written by the product), the wide in-projection's
/// whole (AVX-512) or transposed (AVX2) product, the dense feed-forward products, the split into batch parts (which clears
/// the fresh gradients first), post- and pre-norm, ReLU and GELU.
/// </summary>
public class TransformerLayerOverwriteWeightsTests
{
    [Theory]
    // d_model 48, 61 × 41 = 2501 token rows: the in-projection's weight gradient is one wide product; the feed-forward's skip
    [InlineData(48, 4, 112, 61, 41, false, false, 1, 0xFFF, false)]
    [InlineData(48, 4, 112, 61, 41, false, false, 1, 0x055, false)]
    // d_model 40 (not whole 512-bit vectors), pre-norm; the same with the feed-forward's products dense
    [InlineData(40, 4, 104, 33, 31, true, false, 1, 0xFFF, false)]
    [InlineData(40, 4, 104, 33, 31, true, false, 1, 0xFFF, true)]
    [InlineData(40, 4, 104, 33, 31, false, false, 1, 0xAAA, true)]
    // small, GELU, and in batch parts
    [InlineData(12, 3, 20, 7, 5, false, true, 1, 0xFFF, false)]
    [InlineData(12, 3, 20, 7, 5, true, false, 2, 0xFFF, false)]
    [InlineData(40, 4, 104, 33, 31, false, false, 2, 0x0F3, false)]
    public void OverwritingFreshGradientsEqualsAddingIntoZeros(int d, int heads, int ff, int t, int n, bool normFirst, bool gelu, int parts, int mask,
        bool denseFeedForward)
    {
        var shape = new EncoderLayerShape(d, heads, ff, t, normFirst, gelu, 1e-5);
        var rng = new Rng(d * 1000 + n * 10 + parts + mask);
        float[] R(int size, float scale) => (Tensor.Randn([size], rng: rng) * scale).ToArray();
        int[] sizes = [3 * d * d, 3 * d, d * d, d, ff * d, ff, d * ff, d, d, d, d, d];
        var w = sizes.Select(size => R(size, 0.3f)).ToArray();
        for (int i = 8; i < 12; i += 2) w[i] = w[i].Select(v => 1f + v).ToArray();
        var x = R(n * t * d, 1f);
        var gy = R(n * t * d, 1f);
        bool skips = !gelu && !denseFeedForward && d >= 40 && parts == 1;

        (float[]?[] G, float[] Gx) Run(bool overwrite)
        {
            var ws = new EncoderLayerWorkspace();
            var y = new float[n * t * d];
            var gx = new float[n * t * d];
            var g = new float[]?[12];
            for (int i = 0; i < 12; i++)
            {
                g[i] = new float[sizes[i]];
                if ((mask & (1 << i)) == 0) Array.Fill(g[i]!, 0.5f);
                else if (overwrite) for (int j = 0; j < sizes[i]; j++) g[i]![j] = (j % 3) switch { 0 => float.NaN, 1 => 1e30f, _ => -1e30f };
            }
            TransformerLayerKernel.t_forcedParts = parts;
            TransformerLayerKernel.t_denseFeedForward = denseFeedForward;
            TransformerLayerKernel.t_skippedProducts = 0;
            try
            {
                TransformerLayerKernel.Forward(shape, x, y, n, w, ws);
                TransformerLayerKernel.Backward(shape, gy, gx, n, w, g, ws, overwriteWeights: overwrite ? mask : 0);
                Assert.Equal(parts > 1 ? parts : 0, ws.Split?.Count ?? 0);
                if (skips) Assert.True(TransformerLayerKernel.t_skippedProducts >= 3, $"{TransformerLayerKernel.t_skippedProducts} products skipped zeros");
            }
            finally
            {
                TransformerLayerKernel.t_forcedParts = 0;
                TransformerLayerKernel.t_denseFeedForward = false;
            }
            return (g, gx);
        }

        var (added, addedGx) = Run(overwrite: false);
        var (overwritten, overwrittenGx) = Run(overwrite: true);
        for (int k = 0; k < 12; k++) AssertBits(added[k]!, overwritten[k]!, $"weight {k}");
        AssertBits(addedGx, overwrittenGx, "gx");
    }

    private static void AssertBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"{what} [{i}]: added into zeros {expected[i]}, overwritten {actual[i]}");
        }
    }
}
