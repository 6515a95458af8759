using SharpGrad;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// Linear → ReLU → Linear on one sample in one pass (Gemm.Gemv.Pair.cs, <c>CompiledSupport.LinearReluLinearForward</c>,
/// what a compiled MLP runs at batch 1): against the naive sums in double on odd sizes (partial panels, odd k, outputs
/// that are not a multiple of a vector), with 1–3 threads, driven the way generated code drives it (the pair, else the two
/// layers one by one); the pass starts once both weights are packed at their versions, gives the same bits on every call,
/// and stops as soon as either weight changes in place.
/// </summary>
public class PackedPairGemvTests
{
    public static IEnumerable<object[]> Shapes()
    {
        // (n1, k, n2): the first layer large enough to pack (n1·k ≥ 8192, n1 ≥ 64)
        yield return [64, 129, 10];
        yield return [65, 785, 17];
        yield return [130, 257, 128];
        yield return [100, 101, 200];
        yield return [257, 45, 1];
        yield return [256, 784, 128];   // fc1 → fc2 of the workloads' MLP
    }

    private static float[] Naive(float[] x, float[] w, float[] b, int n, int k, bool relu)
    {
        var y = new float[n];
        for (int j = 0; j < n; j++)
        {
            double s = b[j];
            for (int p = 0; p < k; p++) s += (double)x[p] * w[j * k + p];
            y[j] = relu ? (float)Math.Max(0, s) : (float)s;
        }
        return y;
    }

    /// <summary>One call as a compiled program makes it: the pair, else fc1 (+ ReLU) and fc2 one by one. Returns whether the pair ran.</summary>
    private static bool Call(float[] x, Tensor w1, Tensor b1, float[] h, Tensor w2, Tensor b2, float[] y, bool relu2)
    {
        var (s1, s2) = (new LinearShape(w1.Size(1), w1.Size(0)), new LinearShape(w2.Size(1), w2.Size(0)));
        var act2 = relu2 ? GemmActivation.Relu : GemmActivation.None;
        Array.Fill(h, float.NaN);
        Array.Fill(y, float.NaN);
        if (CompiledSupport.LinearReluLinearForward(x, w1, b1, h, w2, b2, y, 1, s1, s2, act2)) return true;
        CompiledSupport.LinearForward(x, w1, b1, h, 1, s1, GemmActivation.Relu);
        CompiledSupport.LinearForward(h, w2, b2, y, 1, s2, act2);
        return false;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void PairOnOneSampleMatchesNaiveAndStartsOnceBothWeightsArePacked(int n1, int k, int n2)
    {
        int saved = Parallelism.MaxThreads;
        try
        {
            foreach (int threads in new[] { 1, 2, 3 })
            {
                Parallelism.MaxThreads = threads;
                var rng = new Rng(n1 * 31 + k * 7 + n2 + threads);
                var (w1d, b1d, w2d, b2d) = (SmallGemmTests.Random(n1 * k, rng), SmallGemmTests.Random(n1, rng), SmallGemmTests.Random(n2 * n1, rng), SmallGemmTests.Random(n2, rng));
                var x = SmallGemmTests.Random(k, rng);
                var (w1, b1, w2, b2) = (Tensor.FromArray(w1d, n1, k), Tensor.FromArray(b1d, n1), Tensor.FromArray(w2d, n2, n1), Tensor.FromArray(b2d, n2));
                bool relu2 = threads != 2;
                var h = new float[n1];
                var y = new float[n2];
                var hExpected = Naive(x, w1d, b1d, n1, k, relu: true);
                var yExpected = Naive(hExpected, w2d, b2d, n2, n1, relu2);
                float[]? first = null;
                for (int call = 1; call <= 6; call++)
                {
                    bool pair = Call(x, w1, b1, h, w2, b2, y, relu2);
                    string what = $"n1={n1} k={k} n2={n2} threads={threads} call {call}";
                    // call 2 packs W1 (its second call at one version), call 3 sees W2's version first, call 4 packs W2ᵀ
                    Assert.True(pair == (Vector512Accelerated && call >= 4), $"{what}: pair ran = {pair}");
                    TensorAssert.Close(hExpected, h, 1e-4, 1e-4, what + " (h)");
                    TensorAssert.Close(yExpected, y, 1e-4, 1e-4, what + " (y)");
                    // the panels are read in alternating order from call to call, and the parts added in one order: same bits
                    if (pair && first is null) first = (float[])y.Clone();
                    else if (pair) Assert.Equal(first, y);
                }
            }
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }

    private static bool Vector512Accelerated => System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;

    [Fact]
    public void AnInPlaceChangeOfEitherWeightIsSeenByTheNextCall()
    {
        int n1 = 70, k = 150, n2 = 19;
        var rng = new Rng(3);
        var (w1d, b1d, w2d, b2d) = (SmallGemmTests.Random(n1 * k, rng), SmallGemmTests.Random(n1, rng), SmallGemmTests.Random(n2 * n1, rng), SmallGemmTests.Random(n2, rng));
        var x = SmallGemmTests.Random(k, rng);
        var (w1, b1, w2, b2) = (Tensor.FromArray(w1d, n1, k), Tensor.FromArray(b1d, n1), Tensor.FromArray(w2d, n2, n1), Tensor.FromArray(b2d, n2));
        var (h, y) = (new float[n1], new float[n2]);
        for (int call = 0; call < 4; call++) Call(x, w1, b1, h, w2, b2, y, relu2: false);
        void Check(string what, float[] w1v, float[] w2v)
        {
            var hExpected = Naive(x, w1v, b1d, n1, k, relu: true);
            TensorAssert.Close(hExpected, h, 1e-4, 1e-4, what + " (h)");
            TensorAssert.Close(Naive(hExpected, w2v, b2d, n2, n1, relu: false), y, 1e-4, 1e-4, what + " (y)");
        }
        using (Autograd.NoGrad())
        {
            w2.Mul_(-2f);
            var w2v = w2d.Select(v => -2f * v).ToArray();
            Assert.False(Call(x, w1, b1, h, w2, b2, y, relu2: false), "W2 changed: its transposed copy is stale");
            Check("after W2 *= -2", w1d, w2v);
            Call(x, w1, b1, h, w2, b2, y, relu2: false);
            Check("after W2 *= -2, second call", w1d, w2v);
            w1.Mul_(0.5f);
            var w1v = w1d.Select(v => 0.5f * v).ToArray();
            Assert.False(Call(x, w1, b1, h, w2, b2, y, relu2: false), "W1 changed: its packed copy is stale");
            Check("after W1 *= 0.5", w1v, w2v);
            bool again = false;
            for (int call = 0; call < 3; call++)
            {
                again = Call(x, w1, b1, h, w2, b2, y, relu2: false);
                Check($"after W1 *= 0.5, call {call + 2}", w1v, w2v);
            }
            Assert.Equal(Vector512Accelerated, again);
        }
    }
}

/// <summary>An MLP whose first layer is large enough to pack (150·70 ≥ 8192): its compiled batch-1 forward runs fc1 + fc2 as a pair.</summary>
[Module]
public sealed partial class PairMlp
{
    internal readonly SharpGrad.Layers.Linear fc1 = new(150, 70);
    internal readonly SharpGrad.Layers.Linear fc2 = new(70, 19);
    private readonly SharpGrad.Layers.Linear fc3 = new(19, 5);

    public Tensor Forward([Shape("N", 150)] Tensor x)
        => fc3.Forward(Functional.Relu(fc2.Forward(Functional.Relu(fc1.Forward(x)))));
}

/// <summary>The pair inside a compiled program: compiled = eager at batch 1 over many calls, with a hook on the second layer, at batch 3, and through the backward.</summary>
public class CompiledPairTests
{
    [Fact]
    public void CompiledBatchOneMlpEqualsEagerBeforeAndAfterThePairStarts()
    {
        Rng.ManualSeed(21);
        var model = new PairMlp();
        model.Eval();
        var net = model.Compile();
        var x = Tensor.Randn([1, 150]);
        using (Autograd.NoGrad())
        {
            for (int call = 1; call <= 6; call++)
                TensorAssert.Close(model.Forward(x).ToArray(), net.Forward(x).ToArray(), 1e-5, 1e-5, $"batch 1, call {call}");
            Tensor? seen = null;
            using (model.fc2.RegisterForwardHook((m, inputs, output) => { seen = output.Clone(); }))
            {
                var expected = model.Forward(x).ToArray();
                var hooked = seen!.ToArray();
                seen = null;
                TensorAssert.Close(expected, net.Forward(x).ToArray(), 1e-5, 1e-5, "batch 1 with a hook on fc2");
                TensorAssert.Close(hooked, seen!.ToArray(), 1e-5, 1e-5, "fc2's output as the hook sees it");
            }
            var x3 = Tensor.Randn([3, 150]);
            TensorAssert.Close(model.Forward(x3).ToArray(), net.Forward(x3).ToArray(), 1e-5, 1e-5, "batch 3");
            TensorAssert.Close(model.Forward(x).ToArray(), net.Forward(x).ToArray(), 1e-5, 1e-5, "batch 1 again");
        }
        // the backward of a pair's forward reads the h it wrote (fc1's output after the ReLU)
        var xg = x.Clone().RequiresGrad_();
        net.Forward(xg).Sum().Backward();
        var compiledGrad = xg.Grad!.ToArray();
        var compiledW1 = model.fc1.Weight.Grad!.ToArray();
        model.ZeroGrad();
        var xe = x.Clone().RequiresGrad_();
        model.Forward(xe).Sum().Backward();
        TensorAssert.Close(xe.Grad!.ToArray(), compiledGrad, 1e-5, 1e-5, "d x");
        TensorAssert.Close(model.fc1.Weight.Grad!.ToArray(), compiledW1, 1e-5, 1e-5, "d fc1.weight");
    }
}

/// <summary>
/// Eager Sequential under no_grad runs a Linear and the ReLU after it as one GEMM, and on one sample Linear → ReLU →
/// Linear (→ ReLU) as one pass (Layers/Sequential.Fusion.cs): equal to the naive sums in double, with a hook that turns
/// the fusion off, and the same network recording a tape when gradients are on.
/// </summary>
public class SequentialFusionTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 2)]
    [InlineData(3, 2)]
    public void FusedChildrenEqualTheLayersOneByOne(int batch, int threads)
    {
        int saved = Parallelism.MaxThreads;
        Parallelism.MaxThreads = threads;
        try
        {
            Rng.ManualSeed(7);
            var (l1, l2, l3) = (new SharpGrad.Layers.Linear(150, 70), new SharpGrad.Layers.Linear(70, 33), new SharpGrad.Layers.Linear(33, 5));
            var relu2 = new SharpGrad.Layers.ReLU();
            var seq = new SharpGrad.Layers.Sequential(l1, new SharpGrad.Layers.ReLU(), l2, relu2, l3);
            var x = Tensor.Randn([batch, 150]);
            float[] Layer(float[] input, SharpGrad.Layers.Linear l, bool relu)
            {
                var (w, b) = (l.Weight.ToArray(), l.Bias!.ToArray());
                var y = new float[batch * l.OutFeatures];
                for (int r = 0; r < batch; r++)
                    for (int j = 0; j < l.OutFeatures; j++)
                    {
                        double s = b[j];
                        for (int p = 0; p < l.InFeatures; p++) s += (double)input[r * l.InFeatures + p] * w[j * l.InFeatures + p];
                        y[r * l.OutFeatures + j] = relu ? (float)Math.Max(0, s) : (float)s;
                    }
                return y;
            }
            var h2 = Layer(Layer(x.ToArray(), l1, true), l2, true);
            var expected = Layer(h2, l3, false);
            using (Autograd.NoGrad())
            {
                for (int call = 1; call <= 6; call++)
                    TensorAssert.Close(expected, seq.Forward(x).ToArray(), 1e-4, 1e-4, $"batch {batch}, {threads} thread(s), call {call}");
                float[]? seen = null;
                using (relu2.RegisterForwardHook((m, inputs, output) => { seen = output.ToArray(); }))
                    TensorAssert.Close(expected, seq.Forward(x).ToArray(), 1e-4, 1e-4, "with a hook on the second ReLU");
                TensorAssert.Close(h2, seen!, 1e-4, 1e-4, "the hook sees the second ReLU's output");
            }
            var y = seq.Forward(x);
            Assert.NotNull(y.GradFn);
            TensorAssert.Close(expected, y.ToArray(), 1e-4, 1e-4, "with gradients on (recorded, not fused)");
            y.Sum().Backward();
            Assert.True(l1.Weight.Grad is not null && l2.Weight.Grad is not null,
                "with gradients on, every Linear is on the tape (the fused path records nothing)");
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }
}
