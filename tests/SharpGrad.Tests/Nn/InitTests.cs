using SharpGrad;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Nn;

/// <summary>Init: statistics of large tensors against PyTorch's formulas, exact structures, seeding.</summary>
public class InitTests
{
    private static (double Mean, double Std, double Min, double Max) Moments(Tensor t)
    {
        var v = t.ToDoubleArray();
        double m = v.Average();
        return (m, Math.Sqrt(v.Select(e => (e - m) * (e - m)).Average()), v.Min(), v.Max());
    }

    [Fact]
    public void CalculateGainAndFans()
    {
        Assert.Equal(1, Init.CalculateGain("linear"));
        Assert.Equal(1, Init.CalculateGain("conv2d"));
        Assert.Equal(1, Init.CalculateGain("sigmoid"));
        Assert.Equal(5.0 / 3, Init.CalculateGain("tanh"));
        Assert.Equal(Math.Sqrt(2), Init.CalculateGain("relu"));
        Assert.Equal(Math.Sqrt(2 / 1.0001), Init.CalculateGain("leaky_relu"));
        Assert.Equal(Math.Sqrt(2 / 6.0), Init.CalculateGain("leaky_relu", Math.Sqrt(5)), 12);
        Assert.Equal(0.75, Init.CalculateGain("selu"));
        Assert.Throws<ArgumentException>(() => Init.CalculateGain("swish"));
        Assert.Equal((3 * 5 * 7, 4 * 5 * 7), Init.CalculateFanInAndFanOut(Tensor.Zeros(4, 3, 5, 7)));
        Assert.Equal((6, 2), Init.CalculateFanInAndFanOut(Tensor.Zeros(2, 6)));
        Assert.Throws<ArgumentException>(() => Init.CalculateFanInAndFanOut(Tensor.Zeros(5)));
    }

    [Fact]
    public void UniformAndNormal()
    {
        var t = Init.Uniform(Tensor.Zeros(200, 500), -2, 3, new Rng(1));
        var (m, s, lo, hi) = Moments(t);
        Assert.InRange(m, 0.5 - 0.01, 0.5 + 0.01);
        Assert.InRange(s, 5 / Math.Sqrt(12) * 0.99, 5 / Math.Sqrt(12) * 1.01);
        Assert.True(lo >= -2 && hi <= 3);
        var n = Init.Normal(Tensor.Zeros([200, 500], DType.Float64), 1.5, 0.5, new Rng(2));
        (m, s, _, _) = Moments(n);
        Assert.InRange(m, 1.5 - 0.005, 1.5 + 0.005);
        Assert.InRange(s, 0.495, 0.505);
    }

    [Fact]
    public void XavierAndKaiming()
    {
        var shape = new[] { 300, 100, 3, 3 };            // fan_in 900, fan_out 2700
        var xu = Init.XavierUniform(Tensor.Zeros(shape), gain: 2, rng: new Rng(3));
        double a = 2 * Math.Sqrt(6.0 / (900 + 2700));
        var (_, s, lo, hi) = Moments(xu);
        Assert.True(lo >= -a && hi <= a);
        Assert.InRange(s, a / Math.Sqrt(3) * 0.99, a / Math.Sqrt(3) * 1.01);
        Assert.True(hi > 0.99 * a && lo < -0.99 * a);

        var xn = Init.XavierNormal(Tensor.Zeros(shape), rng: new Rng(4));
        Assert.InRange(Moments(xn).Std, Math.Sqrt(2.0 / 3600) * 0.99, Math.Sqrt(2.0 / 3600) * 1.01);

        var ku = Init.KaimingUniform(Tensor.Zeros(shape), a: Math.Sqrt(5), rng: new Rng(5));
        double bound = 1 / Math.Sqrt(900);               // gain √(1/3) · √3 / √fan_in
        (_, _, lo, hi) = Moments(ku);
        Assert.True(lo >= -bound && hi <= bound && hi > 0.99 * bound);

        var kn = Init.KaimingNormal(Tensor.Zeros(shape), mode: FanMode.FanOut, nonlinearity: "relu", rng: new Rng(6));
        double std = Math.Sqrt(2) / Math.Sqrt(2700);
        Assert.InRange(Moments(kn).Std, std * 0.99, std * 1.01);
        var ku2 = Init.KaimingUniform(Tensor.Zeros(shape), mode: FanMode.FanOut, nonlinearity: "relu", rng: new Rng(7));
        double bound2 = Math.Sqrt(2) * Math.Sqrt(3.0 / 2700);
        (_, _, lo, hi) = Moments(ku2);
        Assert.True(lo >= -bound2 && hi <= bound2 && hi > 0.99 * bound2);
    }

    [Fact]
    public void TruncNormal()
    {
        var t = Init.TruncNormal(Tensor.Zeros([100000], DType.Float64), mean: 1, std: 2, a: 0, b: 2, rng: new Rng(8));
        var (m, s, lo, hi) = Moments(t);
        Assert.True(lo >= 0 && hi <= 2);
        // N(1, 4) truncated symmetrically to ±0.5σ: mean 1; variance σ²(1 − 2·0.5·φ(0.5)/(2Φ(0.5) − 1))
        double phi = Math.Exp(-0.125) / Math.Sqrt(2 * Math.PI);
        double z = 0.3829249225480262;                  // 2Φ(0.5) − 1
        double expectedStd = 2 * Math.Sqrt(1 - 2 * 0.5 * phi / z);
        Assert.InRange(m, 0.99, 1.01);
        Assert.InRange(s, expectedStd * 0.99, expectedStd * 1.01);
        // a far-tail interval still gives values inside it
        var tail = Init.TruncNormal(Tensor.Zeros(100), 0, 1, 8, 9, new Rng(9));
        Assert.All(tail.ToDoubleArray(), v => Assert.InRange(v, 8, 9));
    }

    [Fact]
    public void ConstantEyeDirac()
    {
        Assert.All(Init.Constant(Tensor.Zeros(3, 4), 0.25).ToArray(), v => Assert.Equal(0.25f, v));
        Assert.All(Init.Ones(Tensor.Zeros(5)).ToArray(), v => Assert.Equal(1f, v));
        Assert.All(Init.Zeros(Tensor.Ones(5)).ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(new float[] { 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0 }, Init.Eye(Tensor.Ones(3, 4)).ToArray());
        // Dirac: convolving with it returns the input channels (and zeros for extra outputs)
        var w = Init.Dirac(Tensor.Ones(4, 3, 3, 3));
        var x = Tensor.Randn([2, 3, 5, 5], rng: new Rng(10));
        var y = Functional.Conv2d(x, w, null, padding: 1);
        TensorAssert.Close(x, y.Narrow(1, 0, 3), 0, 1e-6, "dirac identity");
        Assert.All(y.Select(1, 3).ToArray(), v => Assert.Equal(0f, v));
        var wg = Init.Dirac(Tensor.Zeros(4, 2, 3), groups: 2);       // each group of 2 outputs keeps 2 inputs
        var xg = Tensor.Randn([1, 2, 6], rng: new Rng(11));
        var yg = Functional.Conv1d(xg, wg, null, padding: 1);
        TensorAssert.Close(xg, yg.Narrow(1, 0, 2), 0, 1e-6, "dirac group 0");
        TensorAssert.Close(xg, yg.Narrow(1, 2, 2), 0, 1e-6, "dirac group 1");
    }

    [Theory]
    [InlineData(6, 4)]
    [InlineData(4, 6)]
    [InlineData(5, 5)]
    public void OrthogonalRowsOrColumnsAreOrthonormal(int rows, int cols)
    {
        var w = Init.Orthogonal(Tensor.Zeros([rows, cols], DType.Float64), gain: 2, rng: new Rng(12));
        // W·Wᵀ = gain²·I when rows ≤ cols; Wᵀ·W = gain²·I when rows ≥ cols.
        var prod = rows <= cols ? w.MatMul(w.T()) : w.T().MatMul(w);
        int k = Math.Min(rows, cols);
        TensorAssert.Close(Tensor.Eye(k, dtype: DType.Float64) * 4f, prod, 1e-12, 1e-12, "orthogonality");
    }

    [Fact]
    public void OrthogonalOnConvWeightFlattensTrailingDims()
    {
        var w = Init.Orthogonal(Tensor.Zeros([4, 2, 3, 3], DType.Float64), rng: new Rng(13));
        var flat = w.Reshape(4, 18);
        TensorAssert.Close(Tensor.Eye(4, dtype: DType.Float64), flat.MatMul(flat.T()), 1e-12, 1e-12, "W·Wᵀ");
    }

    [Fact]
    public void SameSeedSameValuesAndDefaultRng()
    {
        var a = Init.KaimingUniform(Tensor.Zeros(5, 7), rng: new Rng(42));
        var b = Init.KaimingUniform(Tensor.Zeros(5, 7), rng: new Rng(42));
        var c = Init.KaimingUniform(Tensor.Zeros(5, 7), rng: new Rng(43));
        Assert.Equal(a.ToArray(), b.ToArray());
        Assert.NotEqual(a.ToArray(), c.ToArray());
        Rng.ManualSeed(7);
        var d = Init.Normal(Tensor.Zeros(10));
        Rng.ManualSeed(7);
        var e = Init.Normal(Tensor.Zeros(10));
        Assert.Equal(d.ToArray(), e.ToArray());
    }

    [Fact]
    public void InitWorksOnParametersAndStridedViewsWithoutRecording()
    {
        var p = new Parameter(Tensor.Zeros(4, 6));
        int version = p.Version;
        Init.Uniform(p, 1, 2);
        Assert.True(p.IsLeaf);
        Assert.True(p.Version > version);
        Assert.All(p.ToArray(), v => Assert.InRange(v, 1f, 2f));
        var big = Tensor.Zeros(4, 6);
        Init.Constant(big.Narrow(1, 2, 2), 5);
        Init.Normal(big.T().Narrow(0, 0, 1), 0, 1, new Rng(1));             // column 0 of big, strided
        var rows = big.ToArray();
        for (int r = 0; r < 4; r++)
        {
            Assert.Equal(5f, rows[r * 6 + 2]);
            Assert.Equal(5f, rows[r * 6 + 3]);
            Assert.Equal(0f, rows[r * 6 + 5]);
            Assert.NotEqual(0f, rows[r * 6]);
        }
    }
}
