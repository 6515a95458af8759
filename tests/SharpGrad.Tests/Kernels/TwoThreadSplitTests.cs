using System.Runtime.Intrinsics;
using SharpGrad;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The products that session 17 lets split over the worker threads (docs/performance.md, "Two threads, session 17"): the
/// direct GEMMs of 4–8 MFLOP (the MLP's fc2 products, serial before) and the zero-skipping products of 2–8 MFLOP over
/// their nonzero terms (MNIST's fc1 forward and weight gradient, 64×784 pixels ~80 % zeros). A split is over column
/// ranges and keeps every element's summation order, so 2 and 3 threads must give the same bits as 1 thread. Odd sizes
/// around the split's bounds, both layouts, β = 0 over NaN and β = 1, the Linear epilogue.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class TwoThreadSplitTests
{
    /// <summary>Runs <paramref name="body"/> with <paramref name="threads"/> kernel threads, then restores the setting.</summary>
    internal static T WithThreads<T>(int threads, Func<T> body)
    {
        int saved = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = threads;
            return body();
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }

    private static void AssertSameBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: element {i} is {actual[i]:R} on several threads, {expected[i]:R} on one");
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void DirectProductsOfFourToEightMflopEqualOneThread(int threads)
    {
        // (m, n, k, transA, transB): fc2's forward x·Wᵀ (the transposed path), input gradient g·W, weight gradient gᵀ·x, and odd neighbours
        var cases = new[]
        {
            (64, 128, 256, false, true), (63, 129, 257, false, true), (61, 131, 263, false, true),
            (64, 256, 128, false, false), (65, 257, 127, false, false),
            (128, 256, 64, true, false), (129, 255, 65, true, false),
        };
        foreach (var (m, n, k, ta, tb) in cases)
        {
            Assert.True(2.0 * m * n * k >= 4e6, "each case is above the split's bound");
            foreach (bool epilogue in new[] { false, true })
                foreach (float beta in new[] { 0f, 1f })
                {
                    var rng = new Rng(m * 131 + n * 7 + k + (epilogue ? 1 : 0) + (int)beta * 2);
                    int lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 3, ldc = n + 2;
                    var a = SmallGemmTests.Random((ta ? k : m) * lda, rng);
                    var b = SmallGemmTests.Random((tb ? n : k) * ldb, rng);
                    var bias = SmallGemmTests.Random(n, rng);
                    var c0 = SmallGemmTests.Random(m * ldc, rng);
                    if (beta == 0f) Array.Fill(c0, float.NaN);
                    float[] Run()
                    {
                        var c = (float[])c0.Clone();
                        if (epilogue) Gemm.Sgemm(ta, tb, m, n, k, 1f, a, 0, lda, b, 0, ldb, beta, c, 0, ldc, new GemmEpilogue(bias, activation: GemmActivation.Relu));
                        else Gemm.Sgemm(ta, tb, m, n, k, 1f, a, 0, lda, b, 0, ldb, beta, c, 0, ldc);
                        return c;
                    }
                    var one = WithThreads(1, Run);
                    AssertSameBits(one, WithThreads(threads, Run), $"threads={threads} m={m} n={n} k={k} transA={ta} transB={tb} beta={beta} epilogue={epilogue}");
                }
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void ZeroSkippingProductsOfTwoToEightMflopEqualOneThread(int threads)
    {
        // (m, n, k, transA): MNIST's fc1 forward x·(Wᵀ) over 64×784 pixels, its weight gradient as xᵀ·g, and odd neighbours
        var cases = new[] { (64, 256, 784, false), (63, 261, 785, false), (784, 256, 64, true), (781, 259, 63, true) };
        foreach (var (m, n, k, ta) in cases)
            foreach (bool accumulate in new[] { false, true })
            {
                var rng = new Rng(m * 17 + n * 5 + k + (accumulate ? 1 : 0));
                int lda = (ta ? m : k) + 2, ldb = n + 1, ldc = n + 3;
                var a = ZeroSkipGemmTests.Sparse((ta ? k : m) * lda, 0.8, rng);
                var b = SmallGemmTests.Random(k * ldb, rng);
                var c0 = SmallGemmTests.Random(m * ldc, rng);
                float[] RunWidth<V, TV>() where V : struct, Gemm.ISimd<TV, float> where TV : struct
                {
                    var c = (float[])c0.Clone();
                    Assert.True(Gemm.TrySgemmSkipZeros<V, TV>(ta, m, n, k, a, 0, lda, b, 0, ldb, c, 0, ldc, accumulate, allowParallel: true, maxDensity: 0.6f),
                        $"an 80 % sparse A ({m}×{k}) should take the skipping path");
                    return c;
                }
                string what = $"threads={threads} m={m} n={n} k={k} transA={ta} accumulate={accumulate}";
                AssertSameBits(WithThreads(1, RunWidth<Gemm.Simd256<float>, Vector256<float>>), WithThreads(threads, RunWidth<Gemm.Simd256<float>, Vector256<float>>), "256-bit " + what);
                AssertSameBits(WithThreads(1, RunWidth<Gemm.Simd512<float>, Vector512<float>>), WithThreads(threads, RunWidth<Gemm.Simd512<float>, Vector512<float>>), "512-bit " + what);
            }
    }

    /// <summary>The Linear entries MNIST's compiled step takes (forward with bias + ReLU, weight gradient over the pixels' zeros).</summary>
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void MnistLinearSkipZerosEqualOneThread(int threads)
    {
        foreach (var (rows, inF, outF) in new[] { (64, 784, 256), (63, 785, 257) })
        {
            var rng = new Rng(rows + inF + outF);
            var x = ZeroSkipGemmTests.Sparse(rows * inF, 0.81, rng);
            var w = SmallGemmTests.Random(outF * inF, rng);
            var bias = SmallGemmTests.Random(outF, rng);
            var g = ZeroSkipGemmTests.Sparse(rows * outF, 0.5, rng);
            var held = SmallGemmTests.Random(outF * inF, rng);
            float[] Forward()
            {
                var y = new float[rows * outF];
                Array.Fill(y, float.NaN);
                var epi = new GemmEpilogue(bias, activation: GemmActivation.Relu).ToEpi();
                Assert.True(Gemm.TryLinearSkipZeros(x, 0, w, 0, y, 0, rows, inF, outF, epi, allowParallel: true), "MNIST-like input should take the skipping forward");
                return y;
            }
            float[] WeightGrad(bool accumulate)
            {
                var gw = accumulate ? (float[])held.Clone() : new float[outF * inF];
                Assert.True(Gemm.TryLinearWeightGradSkipZeros(g, 0, x, 0, gw, rows, inF, outF, accumulate, allowParallel: true), "MNIST-like input should take the skipping weight gradient");
                return gw;
            }
            AssertSameBits(WithThreads(1, Forward), WithThreads(threads, Forward), $"forward threads={threads} rows={rows} inF={inF} outF={outF}");
            foreach (bool accumulate in new[] { false, true })
                AssertSameBits(WithThreads(1, () => WeightGrad(accumulate)), WithThreads(threads, () => WeightGrad(accumulate)), $"weight gradient threads={threads} rows={rows} accumulate={accumulate}");
        }
    }

    /// <summary>
    /// A compiled Linear's backward whose input and weight gradients run as one loop of two items (session 22: the MLP's and
    /// mnist's fc2, 1–4 M multiply-adds): gx, gW and the bias's gradient the same bits on several threads as on one, for a
    /// dense g with dead units (the MLP step's: the dead-units weight gradient when fresh), a sparse g (mnist's: the skipping
    /// products), a fresh and an accumulated gradient, and odd sizes.
    /// </summary>
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void LinearBackwardGradientPairEqualsOneThread(int threads)
    {
        foreach (var (rows, inF, outF) in new[] { (64, 256, 128), (63, 255, 130), (48, 200, 120) })
            foreach (double zeros in new[] { 0.0, 0.64 })
                foreach (bool fresh in new[] { true, false })
                {
                    long macs = (long)rows * inF * outF;
                    Assert.True(macs >= 1_000_000 && macs <= 4_000_000, "each case is within the pair's bounds");
                    var rng = new Rng(rows + inF * 3 + outF * 7 + (fresh ? 1 : 0) + (zeros > 0 ? 2 : 0));
                    var x = ZeroSkipGemmTests.Sparse(rows * inF, 0.3, rng);
                    var w = Tensor.FromArray(SmallGemmTests.Random(outF * inF, rng), [outF, inF]);
                    var g = zeros > 0 ? ZeroSkipGemmTests.Sparse(rows * outF, zeros, rng) : SmallGemmTests.Random(rows * outF, rng);
                    // a sixth of the units dead for the whole batch (a ReLU's all-zero columns of g)
                    for (int r = 0; r < rows; r++)
                        for (int j = 0; j < outF; j += 6) g[r * outF + j] = 0f;
                    var gx0 = SmallGemmTests.Random(rows * inF, rng);
                    var gw0 = SmallGemmTests.Random(outF * inF, rng);
                    var gb0 = SmallGemmTests.Random(outF, rng);
                    if (fresh)
                    {
                        Array.Fill(gw0, float.NaN);
                        Array.Fill(gb0, float.NaN);
                    }
                    float[][] Run()
                    {
                        var (gx, gw, gb) = ((float[])gx0.Clone(), (float[])gw0.Clone(), (float[])gb0.Clone());
                        CompiledSupport.LinearBackward(x, w, g, gx, gw, gb, rows, new LinearShape(inF, outF), overwriteWeight: fresh, overwriteBias: fresh);
                        return [gx, gw, gb];
                    }
                    var one = WithThreads(1, Run);
                    var several = WithThreads(threads, Run);
                    string what = $"threads={threads} rows={rows} inF={inF} outF={outF} zeros={zeros} fresh={fresh}";
                    AssertSameBits(one[0], several[0], "gx " + what);
                    AssertSameBits(one[1], several[1], "gW " + what);
                    AssertSameBits(one[2], several[2], "gBias " + what);
                }
    }

    /// <summary>
    /// The dead-units weight gradient (the MLP step's fc1, 64×784→256 with ~51 units dead) computes, moves and clears its rows
    /// by column ranges in one loop over the cores (session 22): the same bits on several threads as on one, and as the dense
    /// product (β = 0 over NaN), at fc1's sizes and odd ones; a batch with every unit dead writes zeros.
    /// </summary>
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void DeadUnitsWeightGradientByColumnRangesEqualsOneThread(int threads)
    {
        foreach (var (rows, inF, outF, deadEvery) in new[] { (64, 784, 256, 5), (61, 800, 240, 4), (64, 784, 256, 1) })
        {
            var rng = new Rng(rows + inF + outF + deadEvery);
            var x = SmallGemmTests.Random(rows * inF, rng);
            var g = ZeroSkipGemmTests.Sparse(rows * outF, 0.3, rng);
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < outF; j += deadEvery) g[r * outF + j] = 0f;
            float[] Run()
            {
                var gw = new float[outF * inF];
                Array.Fill(gw, float.NaN);
                Assert.True(Gemm.TryLinearWeightGradSkipDeadUnits(g, 0, x, 0, gw, rows, inF, outF), $"{outF / deadEvery} of {outF} units dead should take the dead-units path");
                return gw;
            }
            string what = $"threads={threads} rows={rows} inF={inF} outF={outF} dead every {deadEvery}";
            var one = WithThreads(1, Run);
            AssertSameBits(one, WithThreads(threads, Run), what);
            var dense = new float[outF * inF];
            Array.Fill(dense, float.NaN);
            WithThreads(1, () => { Gemm.Sgemm(true, false, outF, inF, rows, 1f, g, 0, outF, x, 0, inF, 0f, dense, 0, inF); return 0; });
            AssertSameBits(dense, one, "dense " + what);
        }
    }

    /// <summary>
    /// SGD's step over a group of float32 parameters (session 18: one parallel loop over all of them, each cut into ranges):
    /// the MLP's sizes and odd ones, momentum (the first step creates the buffer), dampening, weight decay, Nesterov and
    /// maximize; a float64 parameter in the group keeps its own path. Several steps, each parameter's values and momentum
    /// buffer the same bits on several threads as on one.
    /// </summary>
    /// <summary>
    /// The gathered float32 updates that write the same elements (one tensor twice in a group, two leaves on one storage) are
    /// found, so they run one after the other as a serial step does; disjoint ranges of one array and distinct arrays are not.
    /// </summary>
    [Fact]
    public void SgdFindsUpdatesThatWriteTheSameElements()
    {
        float[] shared = new float[100], other = new float[100], g = new float[100];
        var o = new SharpGrad.Optimizers.Sgd.Options(false, 0.1, 0, 0, 0, false, false);
        SharpGrad.Optimizers.Sgd.Job Job(float[] p, int off, int count) => new(p, off, g, 0, null, 0, count, o);
        Assert.True(SharpGrad.Optimizers.Sgd.WritesOverlap([Job(shared, 0, 100), Job(other, 0, 100), Job(shared, 0, 100)]));
        Assert.True(SharpGrad.Optimizers.Sgd.WritesOverlap([Job(shared, 0, 50), Job(shared, 49, 51)]));
        Assert.True(SharpGrad.Optimizers.Sgd.WritesOverlap([Job(shared, 40, 20), Job(shared, 0, 100)]));
        Assert.False(SharpGrad.Optimizers.Sgd.WritesOverlap([Job(shared, 0, 50), Job(shared, 50, 50), Job(other, 0, 100)]));
        Assert.False(SharpGrad.Optimizers.Sgd.WritesOverlap([Job(shared, 0, 100)]));
    }

    /// <summary>A tensor listed twice in a group is updated twice in order, with several threads as with one.</summary>
    [Fact]
    public void SgdStepWithATensorListedTwiceEqualsOneThread()
    {
        double[] Run()
        {
            var rng = new Rng(11);
            var w = new Parameter(Tensor.FromArray(SmallGemmTests.Random(70_001, rng)));
            var b = new Parameter(Tensor.FromArray(SmallGemmTests.Random(33, rng)));
            var opt = new SharpGrad.Optimizers.Sgd([w, b, w], 0.05, 0.9, 0, 1e-3, false, false);
            for (int step = 0; step < 3; step++)
            {
                w.Grad = Tensor.FromArray(SmallGemmTests.Random(w.NumElements, rng));
                b.Grad = Tensor.FromArray(SmallGemmTests.Random(b.NumElements, rng));
                opt.Step();
            }
            return [.. w.ToDoubleArray(), .. opt.StateOf(w)["momentum_buffer"].ToDoubleArray()];
        }
        var one = WithThreads(1, Run);
        var two = WithThreads(2, Run);
        Assert.True(one.Select(BitConverter.DoubleToInt64Bits).SequenceEqual(two.Select(BitConverter.DoubleToInt64Bits)));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void SgdStepOverAGroupEqualsOneThread(int threads)
    {
        int[] sizes = [784 * 256, 256, 256 * 128, 128, 1280, 10, 70_001, 33, 32_769];
        var options = new (double Momentum, double Dampening, double Wd, bool Nesterov, bool Maximize)[]
        {
            (0.9, 0, 0, false, false), (0, 0, 0, false, false), (0.9, 0.1, 1e-3, false, true), (0.8, 0, 1e-2, true, false),
        };
        foreach (var o in options)
        {
            (double[][] Values, double[][] Buffers) Run()
            {
                var rng = new Rng(sizes.Length + (int)(o.Momentum * 10) + (o.Nesterov ? 1 : 0) + (o.Maximize ? 2 : 0));
                var ps = sizes.Select(n => new Parameter(Tensor.FromArray(SmallGemmTests.Random(n, rng)))).ToList();
                var extra = new Parameter(Tensor.FromArray(Enumerable.Range(0, 37).Select(i => 0.01 * i).ToArray()));
                var all = ps.Cast<Tensor>().Append(extra).ToList();
                var opt = new SharpGrad.Optimizers.Sgd(all, 0.05, o.Momentum, o.Dampening, o.Wd, o.Nesterov, o.Maximize);
                for (int step = 0; step < 3; step++)
                {
                    foreach (var p in ps) p.Grad = Tensor.FromArray(SmallGemmTests.Random(p.NumElements, rng));
                    extra.Grad = Tensor.FromArray(Enumerable.Range(0, 37).Select(i => 0.1 * (i - step)).ToArray());
                    opt.Step();
                }
                // float32 values widen to float64 exactly, so comparing the widened bits compares the float32 bits
                var values = all.Select(p => p.ToDoubleArray()).ToArray();
                var buffers = all.Select(p => opt.StateOf(p).TryGetValue("momentum_buffer", out var b) ? b.ToDoubleArray() : []).ToArray();
                return (values, buffers);
            }
            var one = WithThreads(1, Run);
            var several = WithThreads(threads, Run);
            for (int i = 0; i < one.Values.Length; i++)
            {
                string what = $"threads={threads} momentum={o.Momentum} dampening={o.Dampening} wd={o.Wd} nesterov={o.Nesterov} maximize={o.Maximize} parameter {i}";
                Assert.True(one.Values[i].Select(BitConverter.DoubleToInt64Bits).SequenceEqual(several.Values[i].Select(BitConverter.DoubleToInt64Bits)), what);
                Assert.True(one.Buffers[i].Select(BitConverter.DoubleToInt64Bits).SequenceEqual(several.Buffers[i].Select(BitConverter.DoubleToInt64Bits)), what + " momentum buffer");
            }
        }
    }

    /// <summary>
    /// The zero-skip lists built by parts of the rows (session 19: the workers list their own rows before the product):
    /// parts listed last first, each row's terms in its own slot in order of p, the k-block ends right, whatever was listed
    /// before. Rows all zero, dense and ~20 % nonzero at the parts' edges, k neither a multiple of 8 nor of the k-block.
    /// </summary>
    [Fact]
    public void ZeroSkipListsBuiltByPartsInAnyOrderGiveEveryRowItsTerms()
    {
        const int m = 37, k = 203, kb = 64, nkb = 4;
        var a = ZeroSkipGemmTests.Sparse(m * k, 0.8, new Rng(19));
        for (int p = 0; p < k; p++)
        {
            a[12 * k + p] = p + 1f;       // the last row of the first part: dense
            a[13 * k + p] = 0f;           // the first of the second: empty
            a[24 * k + p] = -(p + 1f);    // the last of the second: dense
        }
        var values = new float[m * k];
        var rows = new int[m * k];
        var ends = new int[m * (nkb + 1)];
        long listed = 0;
        foreach (var (i0, i1) in new[] { (25, 37), (13, 25), (0, 13) })
            listed += Gemm.ListRows(a, 0, k, i0, i1, k, kb, nkb, values, rows, ends);
        long expectedTotal = 0;
        for (int i = 0; i < m; i++)
        {
            for (int q = 0; q < nkb; q++)
            {
                int t = ends[i * (nkb + 1) + q], t1 = ends[i * (nkb + 1) + q + 1];
                for (int p = q * kb; p < Math.Min(k, (q + 1) * kb); p++)
                {
                    if (a[i * k + p] == 0f) continue;
                    Assert.True(t < t1, $"row {i}, k-block {q}: the list ends before p = {p}");
                    Assert.Equal(p, rows[t]);
                    Assert.Equal(a[i * k + p], values[t]);
                    t++;
                    expectedTotal++;
                }
                Assert.Equal(t1, t);
            }
        }
        Assert.Equal(expectedTotal, listed);
    }
}
