using SharpGrad;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// Batch-1 Linear from the packed copy of W (Gemm.Gemv.Packed.cs): against the naive sum in double on odd sizes (panels
/// of 64 columns with a partial last one, odd k for the unrolled-by-two loop, a column offset for x), with 1–3 threads;
/// the copy is made on the second call at one version and dropped for the row kernel as soon as W changes in place;
/// consecutive packed calls (which read the panels in alternating order) give the same bits.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class PackedRowGemvTests
{
    public static IEnumerable<object[]> Shapes()
    {
        // (n, k) with n·k ≥ 8192 (smaller weights keep the row kernel): whole and partial panels, k = 1, odd and even k
        yield return [64, 129];
        yield return [65, 785];
        yield return [100, 101];
        yield return [130, 257];
        yield return [257, 45];
        yield return [8200, 1];
        yield return [256, 784];   // fc1 of the workloads' MLP (split over the pool with two threads)
        yield return [300, 787];
    }

    private static float[] NaiveLinear(float[] x, int xOff, float[] w, float[] b, int n, int k, bool relu)
    {
        var y = new float[n];
        for (int j = 0; j < n; j++)
        {
            double s = b[j];
            for (int p = 0; p < k; p++) s += (double)x[xOff + p] * w[j * k + p];
            y[j] = relu ? (float)Math.Max(0, s) : (float)s;
        }
        return y;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void LinearOnOneSampleMatchesNaiveBeforeAndAfterPacking(int n, int k)
    {
        int saved = Parallelism.MaxThreads;
        try
        {
            foreach (int threads in new[] { 1, 2, 3 })
            {
                Parallelism.MaxThreads = threads;
                var rng = new Rng(n * 31 + k * 7 + threads);
                var wData = SmallGemmTests.Random(n * k, rng);
                var bData = SmallGemmTests.Random(n, rng);
                var xData = SmallGemmTests.Random(k + 3, rng);
                var weight = Tensor.FromArray(wData, n, k);
                var bias = Tensor.FromArray(bData, n);
                // a row of a larger tensor: x starts at element 3 of its storage
                var x = Tensor.FromArray(xData, 1, k + 3).Narrow(1, 3, k);
                var expected = NaiveLinear(xData, 3, wData, bData, n, k, relu: false);
                using (Autograd.NoGrad())
                {
                    float[]? packed = null;
                    for (int call = 1; call <= 4; call++)
                    {
                        var xc = x.Contiguous();
                        var y = Functional.Linear(xc, weight, bias).ToArray();
                        TensorAssert.Close(expected, y, 1e-4, 1e-4, $"Linear n={n} k={k} threads={threads} call {call}");
                        Assert.Equal(call >= 2, Gemm.HasCurrentRowPack(weight));
                        // the packed calls alternate the order of the panels (for the cache), never the result: bit for bit
                        if (call == 2) packed = y;
                        else if (call > 2) Assert.Equal(packed, y);
                    }
                }
            }
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }

    [Fact]
    public void AnInPlaceChangeOfTheWeightIsSeenByTheNextCall()
    {
        int n = 70, k = 150;
        var rng = new Rng(5);
        var wData = SmallGemmTests.Random(n * k, rng);
        var bData = SmallGemmTests.Random(n, rng);
        var xData = SmallGemmTests.Random(k, rng);
        var layer = new SharpGrad.Layers.Linear(k, n);
        using (Autograd.NoGrad())
        {
            layer.Weight.Copy_(Tensor.FromArray(wData, n, k));
            layer.Bias!.Copy_(Tensor.FromArray(bData, n));
        }
        var x = Tensor.FromArray(xData, 1, k);
        using (Autograd.NoGrad())
        {
            layer.Forward(x);
            layer.Forward(x);
            Assert.True(Gemm.HasCurrentRowPack(layer.Weight), "the second call at one version packs W");
            layer.Weight.Mul_(-2f);
            Assert.False(Gemm.HasCurrentRowPack(layer.Weight), "an in-place change makes the packed copy stale");
            var scaled = wData.Select(v => -2f * v).ToArray();
            var expected = NaiveLinear(xData, 0, scaled, bData, n, k, relu: false);
            TensorAssert.Close(expected, layer.Forward(x).ToArray(), 1e-4, 1e-4, "first call after W *= -2 (row kernel)");
            TensorAssert.Close(expected, layer.Forward(x).ToArray(), 1e-4, 1e-4, "second call after W *= -2 (repacked)");
            Assert.True(Gemm.HasCurrentRowPack(layer.Weight));
        }

        // an optimizer step between calls (a batch-1 training loop): every call sees a new version and never packs
        var opt = new SharpGrad.Optimizers.Sgd(layer.Parameters(), 0.1);
        for (int step = 0; step < 3; step++)
        {
            opt.ZeroGrad();
            layer.Forward(x).Sum().Backward();
            opt.Step();
            Assert.False(Gemm.HasCurrentRowPack(layer.Weight), $"step {step}: no copy at a version seen once");
        }
        using (Autograd.NoGrad())
        {
            var w = layer.Weight.ToArray();
            var b = layer.Bias!.ToArray();
            var expected = NaiveLinear(xData, 0, w, b, n, k, relu: false);
            TensorAssert.Close(expected, layer.Forward(x).ToArray(), 1e-4, 1e-4, "after the steps, call 1");
            TensorAssert.Close(expected, layer.Forward(x).ToArray(), 1e-4, 1e-4, "after the steps, call 2 (packed)");
        }
    }

    [Fact]
    public void CompiledLinearReluOnOneSampleUsesThePackedCopyWithTheEpilogue()
    {
        // CompiledSupport.LinearForward is what a compiled program runs for Linear (+ ReLU in the epilogue, + a residual)
        int n = 96, k = 130;
        var rng = new Rng(11);
        var wData = SmallGemmTests.Random(n * k, rng);
        var bData = SmallGemmTests.Random(n, rng);
        var xData = SmallGemmTests.Random(k, rng);
        var residual = SmallGemmTests.Random(n, rng);
        var weight = Tensor.FromArray(wData, n, k);
        var bias = Tensor.FromArray(bData, n);
        var shape = new LinearShape(InFeatures: k, OutFeatures: n, RowsPerItem: 1);
        var expected = NaiveLinear(xData, 0, wData, bData, n, k, relu: false);
        for (int j = 0; j < n; j++) expected[j] = Math.Max(0f, expected[j] + residual[j]);
        for (int call = 1; call <= 3; call++)
        {
            var y = new float[n];
            CompiledSupport.LinearForward(xData, weight, bias, y, 1, shape, GemmActivation.Relu, residual);
            TensorAssert.Close(expected, y, 1e-4, 1e-4, $"compiled relu(x·Wᵀ + b + r), call {call}");
            Assert.Equal(call >= 2, Gemm.HasCurrentRowPack(weight));
        }
    }
}
