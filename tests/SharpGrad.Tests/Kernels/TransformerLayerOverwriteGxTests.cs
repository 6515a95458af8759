using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The encoder layer's backward with <c>overwriteGx</c> (the generated program's first writer of the input gradient, whose
/// buffer it does not clear): into a gx of NaNs, whole and in batch parts, post- and pre-norm, it gives bit for bit what the
/// backward adding into a cleared gx gives (the residual's gradient copied instead of added to zeros).
/// </summary>
public class TransformerLayerOverwriteGxTests
{
    [Theory]
    [InlineData(false, false, 1)]
    [InlineData(false, false, 2)]
    [InlineData(false, true, 3)]
    [InlineData(true, true, 1)]
    [InlineData(true, false, 2)]
    public void OverwritingEqualsAddingIntoZeros(bool normFirst, bool gelu, int parts)
    {
        var shape = new EncoderLayerShape(12, 3, 20, 7, normFirst, gelu, 1e-5);
        int n = 5, t = shape.Steps, d = shape.DModel, ff = shape.FeedForward;
        var rng = new Rng(parts * 10 + (normFirst ? 1 : 0) + (gelu ? 2 : 0) + 700);
        float[] R(int size, float scale) => (Tensor.Randn([size], rng: rng) * scale).ToArray();
        int[] sizes = [3 * d * d, 3 * d, d * d, d, ff * d, ff, d * ff, d, d, d, d, d];
        var w = sizes.Select(size => R(size, 0.3f)).ToArray();
        for (int i = 8; i < 12; i += 2) w[i] = w[i].Select(v => 1f + v).ToArray();
        var x = R(n * t * d, 1f);
        var gy = R(n * t * d, 1f);

        float[] Run(bool overwrite)
        {
            var ws = new EncoderLayerWorkspace();
            var y = new float[n * t * d];
            var gx = new float[n * t * d];
            if (overwrite) Array.Fill(gx, float.NaN);
            var g = sizes.Select(size => (float[]?)new float[size]).ToArray();
            TransformerLayerKernel.t_forcedParts = parts;
            try
            {
                TransformerLayerKernel.Forward(shape, x, y, n, w, ws);
                TransformerLayerKernel.Backward(shape, gy, gx, n, w, g, ws, overwriteGx: overwrite);
                Assert.Equal(parts > 1 ? parts : 0, ws.Split?.Count ?? 0);
            }
            finally
            {
                TransformerLayerKernel.t_forcedParts = 0;
            }
            return gx;
        }

        var added = Run(overwrite: false);
        var overwritten = Run(overwrite: true);
        for (int i = 0; i < added.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(added[i]) == BitConverter.SingleToInt32Bits(overwritten[i]), $"[{i}]: added {added[i]}, overwritten {overwritten[i]}");
    }
}
