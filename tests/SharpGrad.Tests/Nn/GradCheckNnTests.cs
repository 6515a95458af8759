using SharpGrad;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Nn;

/// <summary>Float64 finite-difference checks of every differentiable input of every op in this area.</summary>
public class GradCheckNnTests
{
    private static Tensor R(Rng rng, params int[] shape) => Tensor.Randn(shape, DType.Float64, rng: rng);

    [Fact]
    public void MatMulVariants()
    {
        var rng = new Rng(1);
        GradCheck.Check(t => t[0].MatMul(t[1]), R(rng, 3, 4), R(rng, 4, 2));
        GradCheck.Check(t => t[0].MatMul(t[1]), R(rng, 2, 1, 3, 4), R(rng, 3, 4, 2));   // broadcast batch on both sides
        GradCheck.Check(t => t[0].MatMul(t[1]), R(rng, 2, 3, 4), R(rng, 4, 5));         // folded batch
        GradCheck.Check(t => t[0].MatMul(t[1]), R(rng, 4), R(rng, 4));                  // dot
        GradCheck.Check(t => t[0].MatMul(t[1]), R(rng, 4), R(rng, 2, 4, 3));            // vector · batch
        GradCheck.Check(t => t[0].MatMul(t[1]), R(rng, 2, 3, 4), R(rng, 4));            // batch · vector
        GradCheck.Check(t => t[0].Transpose(0, 1).MatMul(t[1]), R(rng, 4, 3), R(rng, 4, 2)); // strided operand
        GradCheck.Check(t => Tensor.Bmm(t[0], t[1]), R(rng, 2, 3, 4), R(rng, 2, 4, 2));
        GradCheck.Check(t => t[0].Mm(t[1]), R(rng, 3, 4), R(rng, 4, 2));
    }

    [Fact]
    public void MatMulDoubleBackward()
    {
        // d/da Σ (a·b) = Σ_j b[k, j] broadcast — differentiate that again w.r.t. b.
        var rng = new Rng(2);
        var a = R(rng, 3, 4).RequiresGrad_();
        var b = R(rng, 4, 2).RequiresGrad_();
        var ga = Autograd.Grad(a.MatMul(b).Sum(), a, createGraph: true);
        ga.Sum().Backward();
        // Σ_{i,k} Σ_j b[k, j] = 3 · Σ b, so d/db = 3 everywhere.
        TensorAssert.Close(Tensor.Full([4, 2], 3.0, DType.Float64), b.Grad!, 1e-12, 1e-12, "second derivative");
    }

    [Fact]
    public void Linear()
    {
        var rng = new Rng(3);
        GradCheck.Check(t => Functional.Linear(t[0], t[1], t[2]), R(rng, 2, 3, 4), R(rng, 5, 4), R(rng, 5));
        GradCheck.Check(t => Functional.Linear(t[0], t[1]), R(rng, 3, 4), R(rng, 2, 4));
    }

    [Theory]
    [InlineData(1, 0, 1, 1)]
    [InlineData(2, 1, 1, 1)]
    [InlineData(1, 2, 2, 1)]
    [InlineData(2, 1, 1, 2)]
    [InlineData(3, 2, 2, 3)]
    public void Conv2d(int stride, int padding, int dilation, int groups)
    {
        var rng = new Rng(4);
        int cin = 2 * groups, cout = 2 * groups;
        GradCheck.Check(t => Functional.Conv2d(t[0], t[1], t[2], stride, padding, dilation, groups),
            R(rng, 2, cin, 7, 6), R(rng, cout, cin / groups, 3, 2), R(rng, cout));
    }

    [Fact]
    public void Conv2dRectangularSettingsAndPointwise()
    {
        var rng = new Rng(5);
        GradCheck.Check(t => Functional.Conv2d(t[0], t[1], t[2], (2, 1), (1, 0), (1, 2)), R(rng, 1, 3, 6, 7), R(rng, 2, 3, 3, 2), R(rng, 2));
        GradCheck.Check(t => Functional.Conv2d(t[0], t[1]), R(rng, 2, 3, 4, 5), R(rng, 4, 3, 1, 1)); // 1×1 fast path, no bias
        GradCheck.Check(t => Functional.Conv2d(t[0], t[1], t[2], padding: 1), R(rng, 3, 5, 4), R(rng, 2, 3, 3, 3), R(rng, 2)); // unbatched
    }

    [Fact]
    public void Conv1d()
    {
        var rng = new Rng(6);
        GradCheck.Check(t => Functional.Conv1d(t[0], t[1], t[2], stride: 2, padding: 1, dilation: 2, groups: 2), R(rng, 2, 4, 9), R(rng, 4, 2, 3), R(rng, 4));
        GradCheck.Check(t => Functional.Conv1d(t[0], t[1]), R(rng, 3, 8), R(rng, 2, 3, 3)); // unbatched
    }

    [Theory]
    [InlineData(1, 0, 0, 1, 1)]
    [InlineData(2, 1, 1, 1, 1)]
    [InlineData(2, 1, 0, 2, 1)]
    [InlineData(3, 0, 2, 1, 2)]
    [InlineData(2, 2, 1, 2, 2)]
    public void ConvTranspose2d(int stride, int padding, int outputPadding, int groups, int dilation)
    {
        var rng = new Rng(7);
        int cin = 2 * groups, coutg = 2;
        GradCheck.Check(t => Functional.ConvTranspose2d(t[0], t[1], t[2], stride, padding, outputPadding, groups, dilation),
            R(rng, 2, cin, 4, 3), R(rng, cin, coutg, 3, 2), R(rng, coutg * groups));
    }

    [Theory]
    [InlineData(2, null, 0, 1, false)]
    [InlineData(3, 2, 1, 1, false)]
    [InlineData(3, 2, 1, 1, true)]
    [InlineData(2, 1, 1, 2, true)]
    [InlineData(3, 3, 0, 1, true)]
    public void MaxPool2d(int kernel, int? stride, int padding, int dilation, bool ceilMode)
    {
        var rng = new Rng(8);
        GradCheck.Check(t => Functional.MaxPool2d(t[0], kernel, stride, padding, dilation, ceilMode), R(rng, 2, 2, 7, 8));
    }

    [Theory]
    [InlineData(2, null, 0, false, true)]
    [InlineData(3, 2, 1, false, true)]
    [InlineData(3, 2, 1, false, false)]
    [InlineData(3, 2, 1, true, true)]
    [InlineData(3, 2, 1, true, false)]
    public void AvgPool2d(int kernel, int? stride, int padding, bool ceilMode, bool countIncludePad)
    {
        var rng = new Rng(9);
        GradCheck.Check(t => Functional.AvgPool2d(t[0], kernel, stride, padding, ceilMode, countIncludePad), R(rng, 2, 2, 6, 7));
    }

    [Fact]
    public void AdaptiveAvgPool2d()
    {
        var rng = new Rng(10);
        GradCheck.Check(t => Functional.AdaptiveAvgPool2d(t[0], (3, 2)), R(rng, 2, 2, 5, 7));
        GradCheck.Check(t => Functional.AdaptiveAvgPool2d(t[0], 4), R(rng, 3, 3, 5)); // upsampling windows overlap
    }

    [Fact]
    public void BatchNormTrainingAndEval()
    {
        var rng = new Rng(11);
        foreach (var shape in new[] { new[] { 5, 3 }, new[] { 4, 3, 2 }, new[] { 2, 3, 3, 2 } })
        {
            GradCheck.Check(t => Functional.BatchNorm(t[0], null, null, t[1], t[2], training: true), R(rng, shape), R(rng, 3), R(rng, 3));
            GradCheck.Check(t => Functional.BatchNorm(t[0], null, null, training: true), R(rng, shape));
            var rm = R(rng, 3);
            var rv = Tensor.Rand([3], DType.Float64, rng: rng) + 0.5f;
            GradCheck.Check(t => Functional.BatchNorm(t[0], rm, rv, t[1], t[2], training: false), R(rng, shape), R(rng, 3), R(rng, 3));
        }
    }

    [Fact]
    public void LayerNorm()
    {
        var rng = new Rng(12);
        GradCheck.Check(t => Functional.LayerNorm(t[0], [4], t[1], t[2]), R(rng, 3, 4), R(rng, 4), R(rng, 4));
        GradCheck.Check(t => Functional.LayerNorm(t[0], [3, 4], t[1], t[2]), R(rng, 2, 3, 4), R(rng, 3, 4), R(rng, 3, 4));
        GradCheck.Check(t => Functional.LayerNorm(t[0], [5]), R(rng, 2, 2, 5));
    }

    [Fact]
    public void Embedding()
    {
        var rng = new Rng(13);
        var idx = Tensor.FromArray(new long[] { 0, 2, 2, 4, 1, 0 }, 2, 3);
        GradCheck.Check(t => Functional.Embedding(idx, t[0]), R(rng, 5, 3));
        // paddingIdx 3 never occurs in idx, so the gradient is the true one; the padding row itself is checked below.
        GradCheck.Check(t => Functional.Embedding(idx, t[0], paddingIdx: 3), R(rng, 5, 3));
        // and the padding row really gets none
        var w = R(rng, 5, 3).RequiresGrad_();
        Functional.Embedding(idx, w, paddingIdx: -3).Sum().Backward();
        Assert.All(w.Grad!.Select(0, 2).ToDoubleArray(), v => Assert.Equal(0.0, v));
        Assert.All(w.Grad!.Select(0, 0).ToDoubleArray(), v => Assert.Equal(2.0, v));
    }

    [Fact]
    public void DropoutTraining()
    {
        var rng = new Rng(14);
        // A fresh generator with the same seed on every evaluation gives the same mask.
        GradCheck.Check(t => Functional.Dropout(t[0], 0.3, training: true, rng: new Rng(99)), R(rng, 4, 5));
    }

    /// <summary>
    /// The gradient of Σ f(x)·w with respect to x, recorded (createGraph) so that GradCheck can differentiate it again:
    /// a finite-difference check of the second derivative.
    /// </summary>
    private static Tensor GradOf(Func<Tensor, Tensor> f, Tensor x, Tensor w)
    {
        using var _ = Autograd.EnableGrad();
        var xx = x.RequiresGrad ? x : x.Detach().RequiresGrad_();
        return Autograd.Grad((f(xx) * w).Sum(), xx, createGraph: true);
    }

    [Fact]
    public void SecondDerivatives()
    {
        var rng = new Rng(15);
        var w1 = R(rng, 3, 4);
        var gamma = R(rng, 4);
        GradCheck.Check(t => GradOf(x => Functional.LayerNorm(x, [4], gamma), t[0], w1), R(rng, 3, 4));
        var w2 = R(rng, 4, 3);
        var bnGamma = R(rng, 3);
        GradCheck.Check(t => GradOf(x => Functional.BatchNorm(x, null, null, bnGamma, null, training: true), t[0], w2), R(rng, 4, 3));
        var m = R(rng, 4, 2);
        var w3 = R(rng, 3, 2);
        // x·m is linear in x, so make it curve: (x·m)² summed
        GradCheck.Check(t => GradOf(x => { var y = x.MatMul(m); return y * y; }, t[0], w3), R(rng, 3, 4));
    }

    /// <summary>The recorded gradient of Σ f(x, p)·w with respect to x, as a function of both x and p.</summary>
    private static Tensor GradOf2(Func<Tensor, Tensor, Tensor> f, Tensor x, Tensor p, Tensor w)
    {
        using var _ = Autograd.EnableGrad();
        var xx = x.RequiresGrad ? x : x.Detach().RequiresGrad_();
        return Autograd.Grad((f(xx, p) * w).Sum(), xx, createGraph: true);
    }

    [Fact]
    public void SecondDerivativesThroughConvolutionAndPooling()
    {
        var rng = new Rng(16);
        // conv: square the output so the gradient depends on x; differentiate the input gradient w.r.t. x and the weight
        var wc = R(rng, 2, 4, 3, 3);
        GradCheck.Check(t => GradOf2((x, k) => { var y = Functional.Conv2d(x, k, null, 2, 1, 1, 2); return y * y; }, t[0], t[1], wc),
            R(rng, 2, 4, 6, 5), R(rng, 4, 2, 3, 2));
        var wt = R(rng, 2, 4, 8, 5);
        GradCheck.Check(t => GradOf2((x, k) => { var y = Functional.ConvTranspose2d(x, k, null, 2, 1, 1, 2); return y * y; }, t[0], t[1], wt),
            R(rng, 2, 4, 4, 3), R(rng, 4, 2, 3, 2));
        var wm = R(rng, 2, 2, 3, 3);
        GradCheck.Check(t => GradOf(x => { var y = Functional.MaxPool2d(x, 3, 2, 1); return y * y; }, t[0], wm), R(rng, 2, 2, 6, 5));
        GradCheck.Check(t => GradOf(x => { var y = Functional.AvgPool2d(x, 3, 2, 1, ceilMode: true, countIncludePad: false); return y * y; }, t[0], R(new Rng(17), 2, 2, 4, 3)), R(rng, 2, 2, 6, 5));
        GradCheck.Check(t => GradOf(x => { var y = Functional.AdaptiveAvgPool2d(x, 3); return y * y; }, t[0], wm), R(rng, 2, 2, 6, 5));
    }
}
