using SharpGrad;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Ops;

/// <summary>Float64 finite-difference checks of every pointwise op's gradient.</summary>
public class GradCheckMathTests
{
    private static Tensor R(params int[] shape) => Tensor.Randn(shape, DType.Float64);

    /// <summary>Values in [0.5, 2): inside the domain of Log, Sqrt, Pow with fractional exponents, …</summary>
    private static Tensor Positive(params int[] shape) => Tensor.Rand(shape, DType.Float64) * 1.5f + 0.5f;

    [Fact] public void Exp() => GradCheck.Check(xs => xs[0].Exp(), R(3, 4));
    [Fact] public void Log() => GradCheck.Check(xs => xs[0].Log(), Positive(3, 4));
    [Fact] public void Sqrt() => GradCheck.Check(xs => xs[0].Sqrt(), Positive(3, 4));
    [Fact] public void Rsqrt() => GradCheck.Check(xs => xs[0].Rsqrt(), Positive(3, 4));
    [Fact] public void Abs() => GradCheck.Check(xs => xs[0].Abs(), R(3, 4));
    [Fact] public void PowScalar() => GradCheck.Check(xs => xs[0].Pow(2.5), Positive(3, 4));
    [Fact] public void PowIntegerOnNegativeBase() => GradCheck.Check(xs => xs[0].Pow(3), R(3, 4));
    [Fact] public void PowTensorBroadcast() => GradCheck.Check(xs => xs[0].Pow(xs[1]), Positive(3, 4), R(4));
    [Fact] public void Square() => GradCheck.Check(xs => xs[0].Square(), R(3, 4));
    [Fact] public void Reciprocal() => GradCheck.Check(xs => xs[0].Reciprocal(), Positive(3, 4));
    [Fact] public void Sin() => GradCheck.Check(xs => xs[0].Sin(), R(3, 4));
    [Fact] public void Cos() => GradCheck.Check(xs => xs[0].Cos(), R(3, 4));
    [Fact] public void Log1p() => GradCheck.Check(xs => xs[0].Log1p(), Positive(3, 4));
    [Fact] public void Expm1() => GradCheck.Check(xs => xs[0].Expm1(), R(3, 4));
    [Fact] public void Erf() => GradCheck.Check(xs => xs[0].Erf(), R(3, 4));
    [Fact] public void Clamp() => GradCheck.Check(xs => xs[0].Clamp(-0.5, 0.7), R(4, 5));
    [Fact] public void ClampMinOnly() => GradCheck.Check(xs => xs[0].Clamp(min: 0.1), R(4, 5));
    [Fact] public void ClampMaxOnly() => GradCheck.Check(xs => xs[0].ClampMax(0.1), R(4, 5));
    [Fact] public void ClampWithTensorBounds() => GradCheck.Check(xs => xs[0].Clamp(xs[1], xs[2]), R(3, 4), R(4) - 0.5f, R(3, 1) + 0.5f);
    [Fact] public void Relu() => GradCheck.Check(xs => xs[0].Relu(), R(4, 5));
    [Fact] public void Sigmoid() => GradCheck.Check(xs => xs[0].Sigmoid(), R(4, 5));
    [Fact] public void Tanh() => GradCheck.Check(xs => xs[0].Tanh(), R(4, 5));
    [Fact] public void OnNonContiguousInput() => GradCheck.Check(xs => xs[0].Transpose(0, 1).Exp(), R(4, 5));

    [Fact]
    public void InPlaceVariantsRecordTheirGradient()
    {
        GradCheck.Check(xs => (xs[0] * 1f).Relu_(), R(4, 5));
        GradCheck.Check(xs => (xs[0] * 1f).Sigmoid_(), R(4, 5));
        GradCheck.Check(xs => (xs[0] * 1f).Tanh_(), R(4, 5));
        GradCheck.Check(xs => (xs[0] * 1f).Exp_(), R(4, 5));
        GradCheck.Check(xs => (xs[0] * 1f).Clamp_(-0.3, 0.4), R(4, 5));
    }

    [Fact]
    public void SignHasZeroGradient() => GradCheck.Check(xs => xs[0].Sign() * xs[0], R(3, 4));

    [Fact]
    public void SecondDerivativeOfTanhAndSigmoid()
    {
        // d²/dx² tanh = -2 tanh (1 - tanh²); d²/dx² sigmoid = s(1-s)(1-2s): compare create-graph backward with the formula.
        var x = R(6).RequiresGrad_();
        var g1 = Autograd.Grad(x.Tanh().Sum(), x, createGraph: true);
        var g2 = Autograd.Grad(g1.Sum(), x);
        var t = x.Detach().ToDoubleArray().Select(Math.Tanh).ToArray();
        TensorAssert.Close(t.Select(v => -2 * v * (1 - v * v)).ToArray(), g2.ToDoubleArray(), 1e-10, 1e-12, "tanh''");

        var h1 = Autograd.Grad(x.Sigmoid().Sum(), x, createGraph: true);
        var h2 = Autograd.Grad(h1.Sum(), x);
        var s = x.Detach().ToDoubleArray().Select(v => 1 / (1 + Math.Exp(-v))).ToArray();
        TensorAssert.Close(s.Select(v => v * (1 - v) * (1 - 2 * v)).ToArray(), h2.ToDoubleArray(), 1e-10, 1e-12, "sigmoid''");
    }

    [Fact]
    public void SecondDerivativesOfPointwiseOps()
    {
        SecondOrder.Check(x => x.Exp().Sum(), R(4));
        SecondOrder.Check(x => (x.Abs() + 0.5f).Log().Sum(), R(4));
        SecondOrder.Check(x => (x.Abs() + 0.5f).Sqrt().Sum(), R(4));
        SecondOrder.Check(x => (x.Abs() + 0.5f).Rsqrt().Sum(), R(4));
        SecondOrder.Check(x => (x.Abs() + 0.5f).Pow(2.5).Sum(), R(4));
        SecondOrder.Check(x => (x.Abs() + 0.5f).Reciprocal().Sum(), R(4));
        SecondOrder.Check(x => (x.Sin() * x.Cos()).Sum(), R(4));
        SecondOrder.Check(x => x.Erf().Sum(), R(4));
        SecondOrder.Check(x => (x.Expm1() + x.Abs().Log1p()).Sum(), R(4));
        SecondOrder.Check(x => x.LogSumExp(0), R(4));
    }

    [Fact]
    public void ValuesMatchSystemMath()
    {
        // Naive references from System.Math, in double precision.
        var v = new double[] { -3.5, -1, -1e-8, 0, 1e-9, 0.3, 2, 5.5 };
        var x = Tensor.FromArray(v);
        TensorAssert.Close(v.Select(Math.Exp).ToArray(), x.Exp().ToDoubleArray(), 1e-14, 0, "exp");
        TensorAssert.Close(v.Select(Math.Sin).ToArray(), x.Sin().ToDoubleArray(), 1e-14, 1e-300, "sin");
        TensorAssert.Close(v.Select(Math.Tanh).ToArray(), x.Tanh().ToDoubleArray(), 1e-14, 1e-300, "tanh");
        TensorAssert.Close(v.Select(a => 1 / (1 + Math.Exp(-a))).ToArray(), x.Sigmoid().ToDoubleArray(), 1e-14, 0, "sigmoid");
        TensorAssert.Close(v.Select(a => Math.Max(a, 0)).ToArray(), x.Relu().ToDoubleArray(), 0, 0, "relu");
        TensorAssert.Close(v.Select(a => Math.Clamp(a, -1.5, 1.0)).ToArray(), x.Clamp(-1.5, 1.0).ToDoubleArray(), 0, 0, "clamp");
        TensorAssert.Close(v.Select(a => (double)Math.Sign(a)).ToArray(), x.Sign().ToDoubleArray(), 0, 0, "sign");
        // expm1/log1p stay accurate near 0, where exp(x) - 1 would lose every digit.
        // Taylor: expm1(x) = x + x²/2 + …, log1p(x) = x − x²/2 + …
        Assert.Equal(1.0000000005e-9, Tensor.FromArray(new[] { 1e-9 }).Expm1().ToDoubleArray()[0], 1e-24);
        Assert.Equal(0.9999999995e-9, Tensor.FromArray(new[] { 1e-9 }).Log1p().ToDoubleArray()[0], 1e-24);
        Assert.Equal(1e-6f, Tensor.FromArray(new[] { 1e-6f }).Tanh().ToArray()[0], 1e-12f);
    }

    [Fact]
    public void ErfMatchesTabulatedValues()
    {
        // erf from Abramowitz & Stegun table 7.1 / high-precision references (not from the code under test).
        var xs = new double[] { 0, 0.1, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, -0.5, -2.7 };
        var expected = new double[]
        {
            0, 0.1124629160182849, 0.5204998778130465, 0.8427007929497149, 0.9661051464753108, 0.9953222650189527,
            0.9995930479825550, 0.9999779095030014, 0.9999992569016276, 0.9999999845827421, -0.5204998778130465, -0.9998656672600594,
        };
        TensorAssert.Close(expected, Tensor.FromArray(xs).Erf().ToDoubleArray(), 1e-14, 1e-16, "erf (double)");
        TensorAssert.Close(expected, Tensor.FromArray(xs.Select(v => (float)v).ToArray()).Erf().ToDoubleArray(), 1e-6, 1e-7, "erf (float)");
    }

    [Fact]
    public void ClampWithTensorBoundsMatchesScalarClamp()
    {
        var x = Tensor.Randn([4, 5]);
        TensorAssert.Close(x.Clamp(-0.3, 0.6), x.Clamp(Tensor.Full([5], -0.3), Tensor.Full([4, 1], 0.6)), 0, 0);
        TensorAssert.Close(x.Clamp(min: -0.3), x.Clamp(Tensor.Full([5], -0.3), null), 0, 0);
        TensorAssert.Close(x.ClampMax(0.2), x.Clamp(null, Tensor.Full([1], 0.2)), 0, 0);
    }

    [Fact]
    public void IntegerInputsArePromotedOrKept()
    {
        var i = Tensor.FromArray(new long[] { -2, 0, 3 });
        Assert.Equal(DType.Float32, i.Exp().DType);
        Assert.Equal(DType.Int64, i.Abs().DType);
        Assert.Equal(new long[] { 2, 0, 3 }, i.Abs().ToLongArray());
        Assert.Equal(new long[] { 0, 0, 3 }, i.Relu().ToLongArray());
        Assert.Equal(new long[] { -1, 0, 1 }, i.Clamp(-1, 1).ToLongArray());
    }

    [Fact]
    public void InPlaceOpsWriteIntoStorageAndBumpTheVersion()
    {
        var x = Tensor.FromArray(new float[] { -1, 2, -3, 4 });
        var view = x.View(2, 2);
        int v0 = x.Version;
        view.Relu_();
        Assert.Equal(new float[] { 0, 2, 0, 4 }, x.ToArray());
        Assert.True(x.Version > v0);
        var strided = Tensor.FromArray(new float[] { 0, 1, 2, 3, 4, 5 }).View(2, 3).Transpose(0, 1);
        strided.Clamp_(1, 3);
        Assert.Equal(new float[] { 1, 3, 1, 3, 2, 3 }, strided.Contiguous().ToArray());
    }

    [Fact]
    public void InPlaceOnLeafRequiringGradThrows()
    {
        var x = Tensor.Randn([3], requiresGrad: true);
        var ex = Assert.Throws<InvalidOperationException>(() => x.Relu_());
        Assert.Contains("Relu_", ex.Message);
    }

    [Fact]
    public void ModifyingASavedOutputInPlaceIsCaught()
    {
        var x = Tensor.Randn([3], requiresGrad: true);
        var y = x.Exp();
        y.Mul_(2f);
        Assert.ThrowsAny<Exception>(() => y.Sum().Backward());
    }
}

/// <summary>
/// Second-order check: the gradient of w·∇f (computed with createGraph) against central differences of w·∇f.
/// </summary>
internal static class SecondOrder
{
    public static void Check(Func<Tensor, Tensor> f, Tensor x0)
    {
        var w = Tensor.Randn(x0.Shape, DType.Float64, rng: new Rng(5));
        var x = x0.Detach().Clone().RequiresGrad_();
        var g1 = Autograd.Grad(f(x), x, createGraph: true);
        var analytic = Autograd.Grad((g1 * w).Sum(), x).ToDoubleArray();
        var values = x0.ToDoubleArray();
        var numeric = new double[values.Length];
        const double eps = 1e-6;
        for (int i = 0; i < values.Length; i++)
        {
            numeric[i] = (GradDot(f, values, i, eps, w) - GradDot(f, values, i, -eps, w)) / (2 * eps);
        }
        TensorAssert.Close(numeric, analytic, 1e-5, 1e-7, "second derivative");
    }

    private static double GradDot(Func<Tensor, Tensor> f, double[] values, int i, double delta, Tensor w)
    {
        var v = (double[])values.Clone();
        v[i] += delta;
        var x = Tensor.FromArray(v, w.Shape).RequiresGrad_();
        return (Autograd.Grad(f(x), x) * w).Sum().ItemDouble();
    }
}
