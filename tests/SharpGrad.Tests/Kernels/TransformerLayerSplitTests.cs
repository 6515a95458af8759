using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The compiled encoder layer's batch split (Kernels/TransformerLayer.Split.cs: whole sequences per thread, the weight
/// gradients deferred and summed over the parts afterwards) against the same layer run whole (itself checked against eager
/// and PyTorch by <c>CompiledEncoderProgramTests</c>): output, input gradient added into a non-zero gx, every weight gradient
/// added into non-zero gradients, a null gradient skipped; odd batch, parts of unequal sizes, one-sequence parts.
/// </summary>
public class TransformerLayerSplitTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (bool normFirst in new[] { false, true })
        {
            foreach (bool gelu in new[] { false, true })
            {
                foreach (int parts in new[] { 2, 3, 5 }) yield return [normFirst, gelu, parts, 0];
                yield return [normFirst, gelu, 2, 5]; // the weight gradients summed in blocks of 5 output rows (a last block shorter)
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SplitEqualsWhole(bool normFirst, bool gelu, int parts, int weightGradRows)
    {
        const int n = 5, t = 7, d = 12, heads = 3, ff = 20;
        var shape = new EncoderLayerShape(d, heads, ff, t, normFirst, gelu, 1e-5);
        var rng = new Rng(parts * 10 + weightGradRows * 100 + (normFirst ? 1 : 0) + (gelu ? 2 : 0));
        float[] R(int size, float scale = 0.3f) => (Tensor.Randn([size], rng: rng) * scale).ToArray();
        int[] sizes = [3 * d * d, 3 * d, d * d, d, ff * d, ff, d * ff, d, d, d, d, d];
        var w = sizes.Select(size => R(size)).ToArray();
        for (int i = 8; i < 12; i += 2) w[i] = w[i].Select(v => 1f + v).ToArray(); // LayerNorm weights near 1
        var x = R(n * t * d, 1f);
        var gy = R(n * t * d, 1f);
        var gx0 = R(n * t * d, 1f);
        var g0 = sizes.Select(size => R(size)).ToArray();

        (float[] Y, float[] Gx, float[]?[] G) Run(int forced)
        {
            var ws = new EncoderLayerWorkspace();
            var y = new float[n * t * d];
            var gx = (float[])gx0.Clone();
            var g = g0.Select(a => (float[]?)a.Clone()).ToArray();
            g[TransformerBiasIndex] = null; // a gradient nobody asked for is skipped
            TransformerLayerKernel.t_forcedParts = forced;
            TransformerLayerKernel.t_forcedWeightGradRows = weightGradRows;
            try
            {
                TransformerLayerKernel.Forward(shape, x, y, n, w, ws);
                TransformerLayerKernel.Backward(shape, gy, gx, n, w, g, ws);
                Assert.Equal(forced > 1 ? forced : 0, ws.Split?.Count ?? 0);
            }
            finally
            {
                TransformerLayerKernel.t_forcedParts = 0;
                TransformerLayerKernel.t_forcedWeightGradRows = 0;
            }
            return (y, gx, g);
        }

        var whole = Run(1);
        var split = Run(parts);
        AssertClose(whole.Y, split.Y, "output");
        AssertClose(whole.Gx, split.Gx, "input gradient");
        for (int i = 0; i < sizes.Length; i++)
        {
            if (whole.G[i] is null)
            {
                Assert.Null(split.G[i]);
                continue;
            }
            AssertClose(whole.G[i]!, split.G[i]!, $"gradient {i}");
        }
    }

    /// <summary>out_proj.bias's gradient is not asked for in these runs.</summary>
    private const int TransformerBiasIndex = 3;

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double tol = 1e-5 + 1e-5 * Math.Abs(expected[i]);
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"{what}[{i}]: whole {expected[i]}, split {actual[i]}");
        }
    }
}
