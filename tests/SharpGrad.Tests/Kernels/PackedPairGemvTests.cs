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
[Collection(ThreadCountCollection.Name)]
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
                    Assert.True(pair == (PackedPathRuns && call >= 4), $"{what}: pair ran = {pair}");
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

    /// <summary>The packed paths run with 512- or 256-bit vectors (AVX-512 or AVX2).</summary>
    private static bool PackedPathRuns => System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated || System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated;

    /// <summary>
    /// The pass gives the same bits with 1, 2 and 3 threads, and when run inside another loop's item (where loops run
    /// serially, so one thread runs every part), on sizes with 2, 3, 4 and 5 panels (some partial) and about half of h
    /// zero; a new input at every call, so that a partial left over from an earlier call (on whichever thread) is seen.
    /// (Session 13 tried moving one partial of the second layer from the worker's part to the caller's, and kept this test
    /// when it reverted that: with that move's fallback removed, 2 of the 4 sizes failed.)
    /// </summary>
    [Theory]
    [InlineData(130, 257, 37)]
    [InlineData(128, 785, 129)]
    [InlineData(257, 45, 17)]
    [InlineData(256, 784, 128)]
    public void TheSameBitsWithAnyThreadCountAndInsideALoopItem(int n1, int k, int n2)
    {
        int saved = Parallelism.MaxThreads;
        try
        {
            var rng = new Rng(n1 * 13 + k + 3 * n2);
            var (w1d, w2d, b2d) = (SmallGemmTests.Random(n1 * k, rng), SmallGemmTests.Random(n2 * n1, rng), SmallGemmTests.Random(n2, rng));
            var inputs = Enumerable.Range(0, 6).Select(_ => SmallGemmTests.Random(k, rng)).ToArray();
            var b1d = Naive(inputs[0], w1d, new float[n1], n1, k, relu: false);
            for (int j = 0; j < n1; j++) b1d[j] = j % 3 == 0 ? -b1d[j] - 0.25f : -b1d[j] + 0.25f * (j % 2 == 0 ? 1 : -1);
            var (w1, b1, w2, b2) = (Tensor.FromArray(w1d, n1, k), Tensor.FromArray(b1d, n1), Tensor.FromArray(w2d, n2, n1), Tensor.FromArray(b2d, n2));
            var h = new float[n1];
            var y = new float[n2];
            float[][] Run(int threads, bool nested)
            {
                Parallelism.MaxThreads = threads;
                var ys = new float[inputs.Length][];
                for (int call = 0; call < inputs.Length; call++)
                {
                    bool pair = false;
                    var input = inputs[call];
                    if (nested) Parallelism.For(2, new Nested(() => pair = Call(input, w1, b1, h, w2, b2, y, relu2: false)));
                    else pair = Call(input, w1, b1, h, w2, b2, y, relu2: false);
                    Assert.Equal(PackedPathRuns, pair);
                    var yExpected = Naive(Naive(input, w1d, b1d, n1, k, relu: true), w2d, b2d, n2, n1, relu: false);
                    TensorAssert.Close(yExpected, y, 1e-4, 1e-4, $"n1={n1} k={k} n2={n2} threads={threads} nested={nested} call {call}");
                    ys[call] = (float[])y.Clone();
                }
                return ys;
            }
            Parallelism.MaxThreads = 1;
            for (int call = 0; call < 4; call++) Call(inputs[0], w1, b1, h, w2, b2, y, relu2: false); // packs both weights
            var one = Run(1, nested: false);
            for (int round = 0; round < 20; round++) Assert.Equal(one, Run(2, nested: false));
            Assert.Equal(one, Run(2, nested: true));
            Assert.Equal(one, Run(3, nested: false));
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }

    /// <summary>A loop of two items whose first runs an action (which then runs inside an item, where loops run serially).</summary>
    private readonly struct Nested(Action action) : IParallelBody
    {
        public void Invoke(int index)
        {
            if (index == 0) action();
        }
    }

    /// <summary>
    /// The second layer skips the rows of W2ᵀ whose ReLU output is 0 only while every element of W2 is finite: a NaN or ∞ of
    /// W2 in a column that meets h = 0 still makes the output NaN (0·NaN = 0·∞ = NaN), a NaN of h (from a NaN in W1) is not
    /// skipped, and with finite weights the skipping pass equals the naive sums (about half of h is 0 here).
    /// </summary>
    [Theory]
    [InlineData(130, 257, 37, 1)]
    [InlineData(130, 257, 37, 2)]
    [InlineData(65, 785, 129, 2)]
    [InlineData(256, 784, 128, 1)]
    public void TheSecondLayerSkipsZeroInputsOnlyWhenItsWeightsAreFinite(int n1, int k, int n2, int threads)
    {
        int saved = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = threads;
            var rng = new Rng(n1 + 3 * k + 5 * n2 + threads);
            var (w1d, w2d, b2d) = (SmallGemmTests.Random(n1 * k, rng), SmallGemmTests.Random(n2 * n1, rng), SmallGemmTests.Random(n2, rng));
            var x = SmallGemmTests.Random(k, rng);
            // a bias that sends about half of h below zero
            var b1d = Naive(x, w1d, new float[n1], n1, k, relu: false);
            for (int j = 0; j < n1; j++) b1d[j] = j % 2 == 0 ? -b1d[j] - 0.25f : -b1d[j] + 0.25f;
            var hExpected = Naive(x, w1d, b1d, n1, k, relu: true);
            int zeros = hExpected.Count(v => v == 0f);
            Assert.True(zeros >= n1 / 3, $"{zeros} of {n1} h are zero");
            int zeroColumn = Array.IndexOf(hExpected, 0f), zeroColumn2 = Array.LastIndexOf(hExpected, 0f);

            void Run(string what, float[] w1v, float[] w2v, Func<float[], bool> expectY)
            {
                var (w1, b1, w2, b2) = (Tensor.FromArray(w1v, n1, k), Tensor.FromArray(b1d, n1), Tensor.FromArray(w2v, n2, n1), Tensor.FromArray(b2d, n2));
                var hNaive = Naive(x, w1v, b1d, n1, k, relu: true);
                var yNaive = Naive(hNaive, w2v, b2d, n2, n1, relu: false);
                Assert.True(expectY(yNaive), $"{what}: the naive y is not what the case is about");
                var (h, y) = (new float[n1], new float[n2]);
                bool pair = false;
                for (int call = 1; call <= 5; call++)
                {
                    pair = Call(x, w1, b1, h, w2, b2, y, relu2: false);
                    TensorAssert.Close(hNaive, h, 1e-4, 1e-4, $"{what}, {threads} thread(s), call {call} (h)");
                    TensorAssert.Close(yNaive, y, 1e-4, 1e-4, $"{what}, {threads} thread(s), call {call} (y)");
                }
                Assert.Equal(PackedPathRuns, pair);
            }

            Run("finite weights", w1d, w2d, y => y.All(float.IsFinite));
            var w2NaN = (float[])w2d.Clone();
            w2NaN[(n2 / 2) * n1 + zeroColumn] = float.NaN;       // meets h = 0: y[n2 / 2] is NaN
            w2NaN[(n2 - 1) * n1 + zeroColumn2] = float.PositiveInfinity; // meets h = 0: y[n2 − 1] is NaN
            Run("NaN and ∞ in W2 where h = 0", w1d, w2NaN, y => float.IsNaN(y[n2 / 2]) && float.IsNaN(y[n2 - 1]) && y.Count(float.IsNaN) == (n2 > 2 ? 2 : 1));
            var w2Inf = (float[])w2d.Clone();
            int live = Array.FindIndex(hExpected, v => v > 0f);
            w2Inf[live] = float.NegativeInfinity;                 // meets h > 0: y[0] is −∞
            Run("−∞ in W2 where h > 0", w1d, w2Inf, y => float.IsNegativeInfinity(y[0]) && y.Skip(1).All(float.IsFinite));
            var w1NaN = (float[])w1d.Clone();
            w1NaN[zeroColumn * k] = float.NaN;                    // h[zeroColumn] is NaN: every y is NaN
            Run("NaN in W1 (a NaN of h)", w1NaN, w2d, y => y.All(float.IsNaN));
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }

    /// <summary>The packed copies start on a 64-byte boundary (one cache line per 512-bit load), whatever the array's own offset.</summary>
    [Fact]
    public void PackedCopiesAreAlignedToACacheLine()
    {
        var rng = new Rng(11);
        for (int trial = 0; trial < 8; trial++)
        {
            int n1 = 64 + trial * 9, k = 129 + trial * 31, n2 = 3 + trial;
            var (w1, b1, w2, b2) = (Tensor.FromArray(SmallGemmTests.Random(n1 * k, rng), n1, k), Tensor.FromArray(SmallGemmTests.Random(n1, rng), n1),
                Tensor.FromArray(SmallGemmTests.Random(n2 * n1, rng), n2, n1), Tensor.FromArray(SmallGemmTests.Random(n2, rng), n2));
            var (x, h, y) = (SmallGemmTests.Random(k, rng), new float[n1], new float[n2]);
            for (int call = 0; call < 4; call++) Call(x, w1, b1, h, w2, b2, y, relu2: false);
            if (!PackedPathRuns) return;
            Assert.True(Gemm.RowPackAddresses(w1, w2) is ({ } a1, { } a2) && a1 % 64 == 0 && a2 % 64 == 0,
                $"trial {trial}: the packed copies start at {Gemm.RowPackAddresses(w1, w2)}");
        }
    }

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
            Assert.Equal(PackedPathRuns, again);
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
/// The compiled batch-1 MLP (the pair, whose second layer skips the rows a zero of the ReLU multiplies while its weights are
/// finite) against eager, in eval mode without gradients and in train mode through the backward, with finite weights and
/// with a NaN and an ∞ of fc2's weight where the ReLU output is 0 (the output must be NaN as eager's is), over calls that
/// run before and after the packed copies exist and after each in-place change of the weight.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class CompiledPairNonFiniteTests
{
    [Theory]
    [InlineData(false, 1)]
    [InlineData(false, 2)]
    [InlineData(true, 1)]
    [InlineData(true, 2)]
    public void CompiledEqualsEagerWithNonFiniteSecondWeights(bool train, int threads)
    {
        int saved = Parallelism.MaxThreads;
        Parallelism.MaxThreads = threads;
        try
        {
            Rng.ManualSeed(5 + threads);
            var model = new PairMlp();
            if (train) model.Train(); else model.Eval();
            var net = model.Compile();
            var x = Tensor.Randn([1, 150]);
            float[] h;
            using (Autograd.NoGrad()) h = Functional.Relu(model.fc1.Forward(x)).ToArray();
            int zero = Array.IndexOf(h, 0f), zero2 = Array.LastIndexOf(h, 0f);
            Assert.True(zero >= 0 && zero2 != zero, "the case needs two zeros of fc1's ReLU");

            void Compare(string what, int[] nanOutputs)
            {
                for (int call = 1; call <= 5; call++)
                {
                    string where = $"{what}, {(train ? "train" : "eval")}, {threads} thread(s), call {call}";
                    if (!train)
                    {
                        using (Autograd.NoGrad())
                        {
                            var (e, c) = (model.Forward(x).ToArray(), net.Forward(x).ToArray());
                            TensorAssert.Close(e, c, 1e-5, 1e-5, where);
                            for (int j = 0; j < c.Length; j++) Assert.True(float.IsNaN(c[j]) == nanOutputs.Contains(j), $"{where}: output {j} = {c[j]}");
                        }
                        continue;
                    }
                    var xc = x.Clone().RequiresGrad_();
                    var yc = net.Forward(xc);
                    yc.Sum().Backward();
                    var (gc, g1c) = (xc.Grad!.ToArray(), model.fc1.Weight.Grad!.ToArray());
                    model.ZeroGrad();
                    var xe = x.Clone().RequiresGrad_();
                    var ye = model.Forward(xe);
                    ye.Sum().Backward();
                    TensorAssert.Close(ye.ToArray(), yc.ToArray(), 1e-5, 1e-5, where + " (y)");
                    var c2 = yc.ToArray();
                    for (int j = 0; j < c2.Length; j++) Assert.True(float.IsNaN(c2[j]) == nanOutputs.Contains(j), $"{where}: output {j} = {c2[j]}");
                    TensorAssert.Close(xe.Grad!.ToArray(), gc, 1e-5, 1e-5, where + " (d x)");
                    TensorAssert.Close(model.fc1.Weight.Grad!.ToArray(), g1c, 1e-5, 1e-5, where + " (d fc1.weight)");
                    model.ZeroGrad();
                }
            }

            Compare("finite weights", []);
            var w2 = model.fc2.Weight.ToArray();
            w2[3 * 70 + zero] = float.NaN;
            w2[7 * 70 + zero2] = float.PositiveInfinity;
            using (Autograd.NoGrad()) model.fc2.Weight.Copy_(Tensor.FromArray(w2, 19, 70));
            // fc2's outputs 3 and 7 are NaN; after fc3 (which mixes all 19), every output is NaN
            Compare("NaN and ∞ in fc2.weight where fc1's ReLU is 0", [0, 1, 2, 3, 4]);
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }
}

/// <summary>
/// Eager Sequential under no_grad runs a Linear and the ReLU after it as one GEMM, and on one sample Linear → ReLU →
/// Linear (→ ReLU) as one pass (Layers/Sequential.Fusion.cs): equal to the naive sums in double, with a hook that turns
/// the fusion off, and the same network recording a tape when gradients are on.
/// </summary>
[Collection(ThreadCountCollection.Name)]
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
