using SharpGrad;
using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.ColdStart;

/// <summary>
/// The start-up path of an inference program: <see cref="Module.SkipInit{TModule}(Func{TModule})"/> / <see cref="Init.Skip"/>
/// (PyTorch's torch.nn.utils.skip_init) and max pooling without indices under no-grad.
/// </summary>
public class SkipInitTests
{
    private static bool AllZero(Tensor t) => t.ToDoubleArray().All(v => v == 0);

    [Fact]
    public void SkipInitLeavesParametersZeroAndDrawsNothingFromTheGenerator()
    {
        var rng = new Rng(7);
        var conv = Module.SkipInit(() => new Conv2d(3, 4, 3, rng: rng));
        var linear = Module.SkipInit(() => new Linear(5, 2, rng: rng));
        Assert.All(conv.Parameters().Concat(linear.Parameters()), p => Assert.True(AllZero(p), "a parameter was initialised"));
        // Nothing was drawn: the generator is where a fresh one with the same seed starts.
        Assert.Equal(new Rng(7).NextDouble(), rng.NextDouble());
        Assert.False(Init.IsSkipping);

        // Outside the scope the layers initialise as before (the same draws for the same seed, not zeros).
        var a = new Linear(5, 2, rng: new Rng(3));
        var b = new Linear(5, 2, rng: new Rng(3));
        Assert.False(AllZero(a.Weight));
        Assert.Equal(a.Weight.ToDoubleArray(), b.Weight.ToDoubleArray());
        Assert.Equal(a.Bias!.ToDoubleArray(), b.Bias!.ToDoubleArray());
    }

    [Fact]
    public void InitialisersDoNothingInsideSkipAndScopesNest()
    {
        var t = Tensor.Ones(3, 4);
        var rng = new Rng(1);
        using (Init.Skip())
        {
            using (Init.Skip())
            {
                Init.Uniform(t, -1, 1, rng);
            }
            Assert.True(Init.IsSkipping); // the outer scope is still open
            Init.Normal(t, rng: rng);
            Init.TruncNormal(t, rng: rng);
            Init.KaimingUniform(t, rng: rng);
            Init.KaimingNormal(t, rng: rng);
            Init.XavierUniform(t, rng: rng);
            Init.XavierNormal(t, rng: rng);
            Init.Orthogonal(t, rng: rng);
            Init.Constant(t, 5);
            Init.Zeros(t);
            Init.Eye(t);
            Init.Dirac(Tensor.Ones(2, 2, 3));
            // Argument checks still run.
            Assert.Throws<ArgumentNullException>(() => Init.Uniform(null!));
            Assert.Throws<ArgumentException>(() => Init.Eye(Tensor.Ones(2, 2, 2)));
        }
        Assert.False(Init.IsSkipping);
        Assert.All(t.ToDoubleArray(), v => Assert.Equal(1.0, v));
        Assert.Equal(new Rng(1).NextDouble(), rng.NextDouble());
        Init.Constant(t, 2);
        Assert.All(t.ToDoubleArray(), v => Assert.Equal(2.0, v));
    }

    [Fact]
    public void SkipInitThenLoadStateDictGivesTheOriginalModel()
    {
        var original = new Sequential(new Conv2d(2, 3, 3, padding: 1, rng: new Rng(11)), new ReLU(), new Flatten(), new Linear(3 * 5 * 5, 4, rng: new Rng(12)));
        #pragma warning disable SG2009 // this test exercises a run-time Sequential on purpose
        var copy = Module.SkipInit(() => new Sequential(new Conv2d(2, 3, 3, padding: 1), new ReLU(), new Flatten(), new Linear(3 * 5 * 5, 4)));
        #pragma warning restore SG2009
        Assert.All(copy.Parameters(), p => Assert.True(AllZero(p)));
        copy.LoadStateDict(original.StateDict());
        var x = Tensor.Randn([2, 2, 5, 5], rng: new Rng(13));
        using (Autograd.NoGrad())
        {
            // The same weights and the same kernels: identical outputs.
            Assert.Equal(original.Forward(x).ToDoubleArray(), copy.Forward(x).ToDoubleArray());
        }
    }

    /// <summary>Naive max pooling (square window k, stride s, padding p that never wins), the reference for the no-grad path.</summary>
    private static double[] NaiveMaxPool(double[] x, int planes, int h, int w, int k, int s, int p, out int ho, out int wo)
    {
        ho = (h + 2 * p - k) / s + 1;
        wo = (w + 2 * p - k) / s + 1;
        var y = new double[planes * ho * wo];
        for (int c = 0; c < planes; c++)
            for (int i = 0; i < ho; i++)
                for (int j = 0; j < wo; j++)
                {
                    double best = double.NegativeInfinity;
                    for (int a = 0; a < k; a++)
                        for (int b = 0; b < k; b++)
                        {
                            int r = i * s - p + a, q = j * s - p + b;
                            if (r >= 0 && r < h && q >= 0 && q < w) best = Math.Max(best, x[(c * h + r) * w + q]);
                        }
                    y[(c * ho + i) * wo + j] = best;
                }
        return y;
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void MaxPool2dWithoutGradMatchesNaiveMaxAndTheIndexedPath(DType dtype)
    {
        var x = Tensor.Randn([2, 3, 7, 9], dtype, rng: new Rng(5));
        var expected = NaiveMaxPool(x.ToDoubleArray(), 6, 7, 9, 3, 2, 1, out int ho, out int wo);
        Tensor plain;
        using (Autograd.NoGrad()) plain = Functional.MaxPool2d(x, 3, 2, padding: 1);
        Assert.Equal([2, 3, ho, wo], plain.Shape);
        Assert.Equal(expected, plain.ToDoubleArray());
        var (indexed, indices) = Functional.MaxPool2dWithIndices(x, 3, 2, padding: 1);
        Assert.Equal(expected, indexed.ToDoubleArray());
        Assert.Equal(DType.Int64, indices.DType);

        // With grad recorded the plain call still keeps what its backward needs.
        var xg = x.Clone();
        xg.RequiresGrad = true;
        var y = Functional.MaxPool2d(xg, 3, 2, padding: 1);
        Assert.Equal(expected, y.ToDoubleArray());
        y.Sum().Backward();
        Assert.Equal(x.NumElements, xg.Grad!.NumElements);
    }
}
