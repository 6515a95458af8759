using SharpGrad;
using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Ops;

public class GradCheckActivationTests
{
    private static Tensor R(params int[] shape) => Tensor.Randn(shape, DType.Float64);

    [Fact] public void LeakyRelu() => GradCheck.Check(xs => Functional.LeakyRelu(xs[0], 0.2), R(4, 5));
    [Fact] public void Elu() => GradCheck.Check(xs => Functional.Elu(xs[0], 1.3), R(4, 5));
    [Fact] public void GeluExact() => GradCheck.Check(xs => Functional.Gelu(xs[0]), R(4, 5));
    [Fact] public void GeluTanh() => GradCheck.Check(xs => Functional.Gelu(xs[0], "tanh"), R(4, 5));
    [Fact] public void Silu() => GradCheck.Check(xs => Functional.Silu(xs[0]), R(4, 5));
    [Fact] public void Softplus() => GradCheck.Check(xs => Functional.Softplus(xs[0]), R(4, 5));
    [Fact] public void SoftplusWithBetaAndThreshold() => GradCheck.Check(xs => Functional.Softplus(xs[0] * 3f, beta: 2, threshold: 1.5), R(4, 5));
    [Fact] public void Hardtanh() => GradCheck.Check(xs => Functional.Hardtanh(xs[0], -0.5, 0.8), R(4, 5));
    [Fact] public void Relu6() => GradCheck.Check(xs => Functional.Relu6(xs[0] * 5f), R(4, 5));

    [Fact] public void LogSigmoid() => GradCheck.Check(xs => Functional.LogSigmoid(xs[0] * 5f), R(4, 5));
    [Fact] public void Softmin() => GradCheck.Check(xs => Functional.Softmin(xs[0], 1), R(3, 4));
    [Fact] public void Softsign() => GradCheck.Check(xs => Functional.Softsign(xs[0]), R(3, 4));
    [Fact] public void SeluCelu() => GradCheck.Check(xs => Functional.Selu(xs[0]) + Functional.Celu(xs[0], 0.7), R(3, 4));
    [Fact] public void Mish() => GradCheck.Check(xs => Functional.Mish(xs[0]), R(3, 4));
    [Fact] public void HardsigmoidHardswish() => GradCheck.Check(xs => Functional.Hardswish(xs[0] * 4f) + Functional.Hardsigmoid(xs[0] * 4f), R(3, 4));

    [Fact]
    public void ExtraActivationValuesMatchNaiveFormulas()
    {
        var v = new double[] { -40, -3.5, -1, 0.2, 2, 4, 40 };
        var x = Tensor.FromArray(v);
        // softplus with log(1 + e) ≈ e for tiny e (where 1 + e rounds to 1)
        double Sp(double a) { double e = Math.Exp(-Math.Abs(a)); return Math.Max(a, 0) + (e < 1e-12 ? e : Math.Log(1 + e)); }
        TensorAssert.Close(v.Select(a => -Sp(-a)).ToArray(), Functional.LogSigmoid(x).ToDoubleArray(), 1e-13, 1e-300, "logsigmoid");
        TensorAssert.Close(v.Select(a => a / (1 + Math.Abs(a))).ToArray(), Functional.Softsign(x).ToDoubleArray(), 1e-14, 0, "softsign");
        TensorAssert.Close(v.Select(a => 1.0507009873554805 * (a > 0 ? a : 1.6732632423543772 * (Math.Exp(a) - 1))).ToArray(), Functional.Selu(x).ToDoubleArray(), 1e-12, 1e-300, "selu");
        TensorAssert.Close(v.Select(a => a > 0 ? a : 0.5 * (Math.Exp(a / 0.5) - 1)).ToArray(), Functional.Celu(x, 0.5).ToDoubleArray(), 1e-12, 1e-300, "celu");
        TensorAssert.Close(v.Select(a => a * Math.Tanh(Sp(a))).ToArray(), Functional.Mish(x).ToDoubleArray(), 1e-12, 1e-300, "mish");
        TensorAssert.Close(v.Select(a => Math.Clamp(a + 3, 0, 6) / 6).ToArray(), Functional.Hardsigmoid(x).ToDoubleArray(), 1e-15, 0, "hardsigmoid");
        TensorAssert.Close(v.Select(a => a * Math.Clamp(a + 3, 0, 6) / 6).ToArray(), Functional.Hardswish(x).ToDoubleArray(), 1e-15, 0, "hardswish");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(-1)]
    public void Softmax(int dim) => GradCheck.Check(xs => Functional.Softmax(xs[0], dim), R(3, 4, 5));

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(-1)]
    public void LogSoftmax(int dim) => GradCheck.Check(xs => Functional.LogSoftmax(xs[0], dim), R(3, 4, 5));

    [Fact]
    public void SoftmaxSecondOrder() => SecondOrder.Check(x => (Functional.Softmax(x, 1) * x).Sum(), R(2, 4));

    [Fact]
    public void LogSoftmaxSecondOrder() => SecondOrder.Check(x => (Functional.LogSoftmax(x, 0) * x.Sin()).Sum(), R(3, 2));

    [Fact]
    public void GeluSiluEluSoftplusSecondOrder()
    {
        SecondOrder.Check(x => Functional.Gelu(x).Sum(), R(5));
        SecondOrder.Check(x => Functional.Gelu(x, "tanh").Sum(), R(5));
        SecondOrder.Check(x => Functional.Silu(x).Sum(), R(5));
        SecondOrder.Check(x => Functional.Elu(x).Sum(), R(5));
        SecondOrder.Check(x => Functional.Softplus(x).Sum(), R(5));
    }

    [Fact]
    public void SoftmaxIsStableForHugeLogits()
    {
        var x = Tensor.FromArray(new float[] { 1000, 1001, 1002, -1000 }, 1, 4);
        var p = Functional.Softmax(x, 1).ToDoubleArray();
        var lp = Functional.LogSoftmax(x, 1).ToDoubleArray();
        // Reference: exp(x - max) / Σ, computed by hand in double.
        double z = Math.Exp(-2) + Math.Exp(-1) + 1;
        TensorAssert.Close(new[] { Math.Exp(-2) / z, Math.Exp(-1) / z, 1 / z, 0 }, p, 1e-6, 1e-30, "softmax");
        TensorAssert.Close(new[] { -2 - Math.Log(z), -1 - Math.Log(z), -Math.Log(z), -2002 - Math.Log(z) }, lp, 1e-6, 1e-6, "log_softmax");
    }

    [Fact]
    public void ActivationValuesMatchNaiveFormulas()
    {
        var v = new double[] { -30, -2, -0.5, 0, 0.25, 1, 3, 25 };
        var x = Tensor.FromArray(v);
        double Sig(double a) => 1 / (1 + Math.Exp(-a));
        TensorAssert.Close(v.Select(a => a > 0 ? a : 0.2 * a).ToArray(), Functional.LeakyRelu(x, 0.2).ToDoubleArray(), 1e-15, 0, "leaky_relu");
        TensorAssert.Close(v.Select(a => a > 0 ? a : 1.3 * (Math.Exp(a) - 1)).ToArray(), Functional.Elu(x, 1.3).ToDoubleArray(), 1e-12, 1e-15, "elu");
        TensorAssert.Close(v.Select(a => a * Sig(a)).ToArray(), Functional.Silu(x).ToDoubleArray(), 1e-12, 1e-300, "silu");
        TensorAssert.Close(v.Select(a => a > 20 ? a : a < -20 ? Math.Exp(a) - Math.Exp(2 * a) / 2 : Math.Log(1 + Math.Exp(a))).ToArray(), Functional.Softplus(x).ToDoubleArray(), 1e-12, 1e-300, "softplus");
        TensorAssert.Close(v.Select(a => 0.5 * a * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (a + 0.044715 * a * a * a)))).ToArray(),
            Functional.Gelu(x, "tanh").ToDoubleArray(), 1e-12, 1e-300, "gelu tanh");
        TensorAssert.Close(v.Select(a => Math.Clamp(a, -1, 1)).ToArray(), Functional.Hardtanh(x).ToDoubleArray(), 0, 0, "hardtanh");
        // Exact GELU at points with known Φ: Φ(1) = 0.8413447460685429, Φ(-0.5) = 0.3085375387259869.
        var g = Functional.Gelu(Tensor.FromArray(new[] { 1.0, -0.5 })).ToDoubleArray();
        TensorAssert.Close(new[] { 0.8413447460685429, -0.5 * 0.3085375387259869 }, g, 1e-13, 0, "gelu exact");
    }

    [Fact]
    public void BoundaryGradientsFollowPyTorch()
    {
        // clamp: gradient 1 at the bounds; hardtanh: 0 at the bounds; relu: 0 at 0.
        var x = Tensor.FromArray(new double[] { -1, 0, 1 }).RequiresGrad_();
        x.Clamp(-1, 1).Sum().Backward();
        Assert.Equal(new double[] { 1, 1, 1 }, x.Grad!.ToDoubleArray());
        x.Grad = null;
        Functional.Hardtanh(x).Sum().Backward();
        Assert.Equal(new double[] { 0, 1, 0 }, x.Grad!.ToDoubleArray());
        x.Grad = null;
        x.Relu().Sum().Backward();
        Assert.Equal(new double[] { 0, 0, 1 }, x.Grad!.ToDoubleArray());
    }

    [Fact]
    public void GeluRejectsUnknownApproximation()
    {
        var ex = Assert.Throws<ArgumentException>(() => Functional.Gelu(Tensor.Zeros(2), "fast"));
        Assert.Contains("\"fast\"", ex.Message);
    }

    [Fact]
    public void LayersApplyTheirFunctionAndPrintLikePyTorch()
    {
        var x = Tensor.Randn([2, 3, 4]);
        TensorAssert.Close(Functional.Relu(x), new ReLU().Forward(x), 0, 0);
        TensorAssert.Close(Functional.LeakyRelu(x, 0.3), new LeakyReLU(0.3).Forward(x), 0, 0);
        TensorAssert.Close(Functional.Elu(x, 0.5), new ELU(0.5).Forward(x), 0, 0);
        TensorAssert.Close(Functional.Gelu(x, "tanh"), new GELU("tanh").Forward(x), 0, 0);
        TensorAssert.Close(Functional.Silu(x), new SiLU().Forward(x), 0, 0);
        TensorAssert.Close(Functional.Sigmoid(x), new Sigmoid().Forward(x), 0, 0);
        TensorAssert.Close(Functional.Tanh(x), new Tanh().Forward(x), 0, 0);
        TensorAssert.Close(Functional.Softplus(x, 2, 10), new Softplus(2, 10).Forward(x), 0, 0);
        TensorAssert.Close(Functional.Hardtanh(x, -0.5, 0.5), new Hardtanh(-0.5, 0.5).Forward(x), 0, 0);
        TensorAssert.Close(Functional.Softmax(x, 1), new Softmax(1).Forward(x), 0, 0);
        TensorAssert.Close(Functional.LogSoftmax(x, -1), new LogSoftmax(-1).Forward(x), 0, 0);
        TensorAssert.Close(Functional.LogSigmoid(x), new LogSigmoid().Forward(x), 0, 0);
        TensorAssert.Close(Functional.Softmin(x, 2), new Softmin(2).Forward(x), 0, 0);
        TensorAssert.Close(Functional.Softsign(x), new Softsign().Forward(x), 0, 0);
        TensorAssert.Close(Functional.Selu(x), new SELU().Forward(x), 0, 0);
        TensorAssert.Close(Functional.Celu(x, 0.4), new CELU(0.4).Forward(x), 0, 0);
        TensorAssert.Close(Functional.Mish(x), new Mish().Forward(x), 0, 0);
        TensorAssert.Close(Functional.Hardsigmoid(x), new Hardsigmoid().Forward(x), 0, 0);
        TensorAssert.Close(Functional.Hardswish(x), new Hardswish().Forward(x), 0, 0);
        Assert.Equal("CELU(alpha=0.4)", new CELU(0.4).ToString());
        Assert.Equal("Softmin(dim=2)", new Softmin(2).ToString());
        Assert.Same(x, new Identity().Forward(x));
        Assert.Equal(new[] { 2, 12 }, new Flatten().Forward(x).Shape);
        Assert.Equal(new[] { 6, 4 }, new Flatten(0, 1).Forward(x).Shape);

        Assert.Equal("ReLU()", new ReLU().ToString());
        Assert.Equal("ReLU(inplace=True)", new ReLU(inplace: true).ToString());
        Assert.Equal("LeakyReLU(negative_slope=0.01)", new LeakyReLU().ToString());
        Assert.Equal("ELU(alpha=1.0)", new ELU().ToString());
        Assert.Equal("GELU(approximate='none')", new GELU().ToString());
        Assert.Equal("Softplus(beta=1, threshold=20)", new Softplus().ToString());
        Assert.Equal("Hardtanh(min_val=-1.0, max_val=1.0)", new Hardtanh().ToString());
        Assert.Equal("Softmax(dim=1)", new Softmax(1).ToString());
        Assert.Equal("LogSoftmax(dim=-1)", new LogSoftmax(-1).ToString());
        Assert.Equal("Flatten(start_dim=1, end_dim=-1)", new Flatten().ToString());
        Assert.Equal("Identity()", new Identity().ToString());
        Assert.Equal("Sigmoid()", new Sigmoid().ToString());
    }

    [Fact]
    public void LayersRunThroughCallAndSequentialAndHaveNoParameters()
    {
        var x = Tensor.Randn([2, 3, 4]);
        Module[] layers = [new ReLU(), new LeakyReLU(), new ELU(), new GELU(), new SiLU(), new Sigmoid(), new Tanh(), new Softplus(), new Hardtanh(), new ReLU6(), new Softmax(1), new LogSoftmax(1), new Identity(), new Flatten()];
        foreach (var layer in layers)
        {
            Assert.Empty(layer.NamedParameters());
            Assert.NotNull(layer.Call(x));
        }
        #pragma warning disable SG2009 // this test exercises a run-time Sequential on purpose
        var seq = new Sequential(new Flatten(), new Tanh(), new Softmax(-1));
        #pragma warning restore SG2009
        TensorAssert.Close(Functional.Softmax(x.Flatten(1).Tanh(), -1), seq.Call(x), 0, 0);
    }

    [Fact]
    public void InPlaceReluLayerModifiesItsInput()
    {
        var x = Tensor.FromArray(new float[] { -1, 2 });
        var y = new ReLU(inplace: true).Forward(x);
        Assert.Same(x, y);
        Assert.Equal(new float[] { 0, 2 }, x.ToArray());
    }
}
