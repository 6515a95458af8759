using SharpGrad;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>The convolution kernel's fused bias + ReLU against eager <c>Conv2d</c> followed by a separate <c>Relu</c>.</summary>
public class ConvEpilogueTests
{
    [Theory]
    [InlineData(2, 3, 9, 8, 5, 3, 1, 1, 1, true)]
    [InlineData(3, 4, 7, 7, 6, 3, 2, 1, 2, true)]
    [InlineData(1, 16, 14, 14, 32, 3, 1, 1, 1, true)]
    [InlineData(2, 3, 5, 6, 4, 1, 1, 0, 1, false)]
    public void FusedBiasReluMatchesConvThenRelu(int n, int c, int h, int w, int o, int k, int stride, int pad, int groups, bool hasBias)
    {
        Rng.ManualSeed(n * 100 + c * 10 + o);
        var x = Tensor.Randn(n, c, h, w);
        var weight = Tensor.Randn(o, c / groups, k, k);
        var bias = hasBias ? Tensor.Randn(o) : null;
        var expected = Functional.Relu(Functional.Conv2d(x, weight, bias, stride: stride, padding: pad, groups: groups));
        int ho = (h + 2 * pad - k) / stride + 1, wo = (w + 2 * pad - k) / stride + 1;
        var y = new float[n * o * ho * wo];
        Conv.Forward(new ConvGeometry(n, c, h, w, o, k, k, stride, stride, pad, pad, 1, 1, groups, ho, wo),
            x.ToArray(), weight.ToArray(), bias?.ToArray(), y, relu: true);
        Assert.Contains(y, v => v == 0f);
        // float32 sums of up to 144 products: 1e-4.
        TensorAssert.Close(expected, Tensor.Wrap(y, [n, o, ho, wo]), 1e-4, 1e-4, "conv + bias + relu fused");
    }

    /// <summary>
    /// The fused ReLU on values the arithmetic cannot hide: a NaN input stays NaN where it reaches the output (torch.relu
    /// keeps NaN), an output of exactly −0 (a zero weight and bias −0) becomes +0, and negatives become +0 — on rows of 28,
    /// 14, 9 and 3 outputs (vector widths, a last vector ending at the row's end, no whole vector).
    /// </summary>
    [Theory]
    [InlineData(28)]
    [InlineData(14)]
    [InlineData(9)]
    [InlineData(3)]
    public void FusedReluKeepsNaNAndClearsNegativeZero(int width)
    {
        int h = 4, o = 3;
        var x = new float[h * width];
        for (int i = 0; i < x.Length; i++) x[i] = (i % 5) - 2f;
        x[width + 1] = float.NaN;
        // output channel 0: the identity tap (NaN reaches the output); 1: the negated tap; 2: zero weights, bias −0
        var weight = new float[o * 9];
        weight[4] = 1f;
        weight[9 + 4] = -1f;
        var bias = new float[] { 0f, 0f, -0f };
        var y = new float[o * h * width];
        Conv.Forward(new ConvGeometry(1, 1, h, width, o, 3, 3, 1, 1, 1, 1, 1, 1, 1, h, width), x, weight, bias, y, relu: true);
        for (int i = 0; i < h * width; i++)
        {
            // 0 · NaN is NaN: every output whose 3×3 window holds the NaN is NaN in every channel
            bool nan = Math.Abs(i / width - 1) <= 1 && Math.Abs(i % width - 1) <= 1;
            for (int ch = 0; ch < o; ch++)
            {
                float got = y[ch * h * width + i];
                float want = ch switch { 0 => Math.Max(0f, x[i]), 1 => Math.Max(0f, -x[i]), _ => 0f };
                string what = $"width {width}, channel {ch} [{i}]: {got}";
                if (nan) Assert.True(float.IsNaN(got), what + ", expected NaN");
                else Assert.True(got == want && BitConverter.SingleToInt32Bits(got) != BitConverter.SingleToInt32Bits(-0f), what + $", expected {want} (not −0)");
            }
        }
    }
}
