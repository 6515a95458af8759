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
}
