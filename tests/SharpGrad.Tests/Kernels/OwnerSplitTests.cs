using System.Runtime.Intrinsics;
using SharpGrad;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The owner-computes splits of session 25 (a Linear's units cut into one range per thread, <c>Gemm.OwnerRow</c>, by the
/// transposed forward, the dead-units weight gradient and SGD's update): the ranges cover every unit once at whole tiles;
/// SGD over matrices (rows split) and vectors gives the same bits at 1, 2 and 3 threads and the update's formula per
/// element; the dead-units gradient with the live units all in one half (the ranges' unit bounds far from the middle)
/// gives the dense product's bits at every thread count.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class OwnerSplitTests
{
    private static int Tile => Vector512.IsHardwareAccelerated ? 8 : 6;

    /// <summary>A float32 tensor's values (widened to float64 and back: exact).</summary>
    private static float[] F(Tensor t) => t.ToDoubleArray().Select(v => (float)v).ToArray();

    [Fact]
    public void OwnerRangesCoverEveryUnitOnceAtWholeTiles()
    {
        foreach (int n in new[] { 0, 1, 7, 8, 12, 13, 24, 100, 128, 250, 256, 257, 600 })
            foreach (int parts in new[] { 1, 2, 3, 4 })
            {
                Assert.Equal(0, Gemm.OwnerRow(n, 0, parts));
                Assert.Equal(n, Gemm.OwnerRow(n, parts, parts));
                for (int q = 1; q < parts; q++)
                {
                    int b = Gemm.OwnerRow(n, q, parts);
                    Assert.True(b >= Gemm.OwnerRow(n, q - 1, parts) && b <= n, $"n={n} parts={parts}: bound {q} at {b}");
                    Assert.True(b == n || b % Tile == 0, $"n={n} parts={parts}: bound {q} at {b} is not at a whole tile of {Tile}");
                    // as even as whole tiles allow
                    Assert.True(Math.Abs(b - (double)n * q / parts) <= Tile / 2.0 + 1e-9 || b == n, $"n={n} parts={parts}: bound {q} at {b}");
                }
            }
        // the MLP's layers split at their middle with two threads (at 8-row tiles; at 6-row ones (AVX2) the nearest tile)
        Assert.Equal(Vector512.IsHardwareAccelerated ? 128 : 126, Gemm.OwnerRow(256, 1, 2));
        Assert.Equal(Vector512.IsHardwareAccelerated ? 64 : 66, Gemm.OwnerRow(128, 1, 2));
    }

    /// <summary>SGD's owner ranges over matrices (whole rows per part) and vectors: every element updated once, by the formula.</summary>
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void SgdOverMatricesEqualsOneThreadAndTheFormula(int threads)
    {
        int[][] shapes = [[256, 784], [256], [128, 256], [128], [10, 128], [33, 1001], [7, 5000], [70_001], [3, 11_000, 2]];
        foreach (double momentum in new[] { 0.0, 0.9 })
        {
            (float[][] Before, float[][] Grads, float[][] After) Run(int t)
            {
                var rng = new Rng(shapes.Length + (int)(momentum * 10));
                var ps = shapes.Select(s => new Parameter(Tensor.FromArray(SmallGemmTests.Random(s.Aggregate(1, (a, b) => a * b), rng)).Reshape(s))).ToList();
                var opt = new SharpGrad.Optimizers.Sgd(ps, 0.05, momentum);
                float[][] before = [], grads = [];
                return TwoThreadSplitTests.WithThreads(t, () =>
                {
                    for (int step = 0; step < 2; step++)
                    {
                        before = ps.Select(p => F(p)).ToArray();
                        foreach (var p in ps) p.Grad = Tensor.FromArray(SmallGemmTests.Random(p.NumElements, rng)).Reshape(p.Shape);
                        grads = ps.Select(p => F(p.Grad!)).ToArray();
                        opt.Step();
                    }
                    return (before, grads, ps.Select(p => F(p)).ToArray());
                });
            }
            var one = Run(1);
            var several = Run(threads);
            for (int i = 0; i < shapes.Length; i++)
            {
                string what = $"threads={threads} momentum={momentum} parameter [{string.Join(", ", shapes[i])}]";
                for (int e = 0; e < one.After[i].Length; e++)
                {
                    if (BitConverter.SingleToInt32Bits(one.After[i][e]) != BitConverter.SingleToInt32Bits(several.After[i][e]))
                        Assert.Fail($"{what}: element {e} is {several.After[i][e]:R} on several threads, {one.After[i][e]:R} on one");
                }
                if (momentum != 0) continue;
                // plain SGD: p − lr·g in float32, each element once
                for (int e = 0; e < one.After[i].Length; e++)
                {
                    float expected = several.Before[i][e] - 0.05f * several.Grads[i][e];
                    if (BitConverter.SingleToInt32Bits(expected) != BitConverter.SingleToInt32Bits(several.After[i][e]))
                        Assert.Fail($"{what}: element {e} is {several.After[i][e]:R}, p − lr·g = {expected:R}");
                }
            }
        }
    }

    /// <summary>
    /// The dead-units weight gradient's owner ranges follow the live units (whole tiles of them): with every live unit in
    /// one half, in runs at both ends, or a single live tile, each range's units start at its first live unit, and the
    /// rows moved and cleared stay in it. Same bits as the dense product at 1, 2 and 3 threads.
    /// </summary>
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void DeadUnitsOwnerRangesFollowTheLiveUnits(int threads)
    {
        foreach (var (rows, inF, outF) in new[] { (64, 784, 256), (37, 530, 264) })
        {
            var patterns = new (string Name, Func<int, bool> Live)[]
            {
                ("upper half live", j => j >= outF / 2),
                ("lower half live", j => j < outF / 2),
                ("ends live", j => j < outF / 5 || j >= outF - outF / 7),
                ("every third live", j => j % 3 == 0),
                ("one tile live", j => j >= outF - 11 && j < outF - 3),
            };
            foreach (var (name, isLive) in patterns)
            {
                var rng = new Rng(rows + inF + outF + name.Length);
                var x = SmallGemmTests.Random(rows * inF, rng);
                var g = ZeroSkipGemmTests.Sparse(rows * outF, 0.4, rng);
                for (int j = 0; j < outF; j++)
                {
                    if (isLive(j)) g[(j * 7 % rows) * outF + j] = 0.5f + j; // at least one nonzero
                    else
                        for (int r = 0; r < rows; r++) g[r * outF + j] = 0f;
                }
                float[] Run()
                {
                    var gw = new float[outF * inF];
                    Array.Fill(gw, float.NaN);
                    Assert.True(Gemm.TryLinearWeightGradSkipDeadUnits(g, 0, x, 0, gw, rows, inF, outF), $"{name}: expected the dead-units path");
                    return gw;
                }
                string what = $"threads={threads} rows={rows} inF={inF} outF={outF} {name}";
                var dense = new float[outF * inF];
                Array.Fill(dense, float.NaN);
                TwoThreadSplitTests.WithThreads(1, () => { Gemm.Sgemm(true, false, outF, inF, rows, 1f, g, 0, outF, x, 0, inF, 0f, dense, 0, inF); return 0; });
                foreach (int t in new[] { 1, threads })
                {
                    var gw = TwoThreadSplitTests.WithThreads(t, Run);
                    for (int e = 0; e < dense.Length; e++)
                    {
                        if (BitConverter.SingleToInt32Bits(dense[e]) != BitConverter.SingleToInt32Bits(gw[e]))
                            Assert.Fail($"{what}, {t} thread(s): gW[{e / inF}, {e % inF}] is {gw[e]:R}, the dense product {dense[e]:R}");
                    }
                }
            }
        }
    }

    /// <summary>Runs Sgemm(x·Wᵀ) as item 0 of a pool loop (so its own loop runs serially: one thread runs every part).</summary>
    private struct NestedForward(float[] x, float[] w, float[] y, int m, int n, int k) : IParallelBody
    {
        public void Invoke(int index)
        {
            if (index == 0) Gemm.Sgemm(false, true, m, n, k, 1f, x, 0, k, w, 0, k, 0f, y, 0, n);
        }
    }

    /// <summary>
    /// The transposed forward's parts each transpose their own copy of a large x; a thread that runs a second part (the
    /// worker late, or a loop nested in another's item) reads the copy it made. Same bits as one thread, with the pooled
    /// copies first filled from another x (a part reading a slot nobody wrote shows).
    /// </summary>
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void TransposedForwardOnOneThreadForEveryPartEqualsOneThread(int threads)
    {
        foreach (var (m, n, k) in new[] { (64, 256, 784), (61, 200, 530) })
        {
            var rnd = new Random(m + n + k);
            var x = new float[m * k];
            var other = new float[m * k];
            var w = new float[n * k];
            for (int i = 0; i < x.Length; i++) (x[i], other[i]) = (rnd.NextSingle() - 0.25f, rnd.NextSingle() + 3f);
            for (int i = 0; i < w.Length; i++) w[i] = rnd.NextSingle() - 0.5f;
            var one = new float[m * n];
            TwoThreadSplitTests.WithThreads(1, () => { Gemm.Sgemm(false, true, m, n, k, 1f, x, 0, k, w, 0, k, 0f, one, 0, n); return 0; });
            var nested = new float[m * n];
            TwoThreadSplitTests.WithThreads(threads, () =>
            {
                var scratch = new float[m * n];
                Gemm.Sgemm(false, true, m, n, k, 1f, other, 0, k, w, 0, k, 0f, scratch, 0, n); // the pooled copies hold other's xᵀ
                Array.Fill(nested, float.NaN);
                Parallelism.For(2, new NestedForward(x, w, nested, m, n, k));
                return 0;
            });
            for (int i = 0; i < one.Length; i++)
            {
                if (BitConverter.SingleToInt32Bits(one[i]) != BitConverter.SingleToInt32Bits(nested[i]))
                    Assert.Fail($"threads={threads} m={m} n={n} k={k}: element {i} is {nested[i]:R} with every part on one thread, {one[i]:R} on one thread");
            }
        }
    }
}
