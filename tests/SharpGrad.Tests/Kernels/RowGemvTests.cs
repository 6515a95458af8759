using SharpGrad;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The one-row x·Wᵀ kernel (batch-1 inference, Gemm.Gemv.cs): eight rows of W per pass, the rows left over, the masked
/// last vector of k, the fused bias/ReLU epilogue and the split of a large W over the worker pool, against the naive
/// triple loop in double, on odd sizes with offsets and leading dimensions larger than the rows.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class RowGemvTests
{
    public static IEnumerable<object[]> Shapes()
    {
        // n: below, at and past blocks of 8 and of a part (32); k: one vector, a vector plus a tail, the MLP's 784 and 256
        foreach (var n in new[] { 1, 7, 8, 13, 37, 130 })
            foreach (var k in new[] { 16, 17, 45, 256, 785 })
                yield return [n, k];
        yield return [256, 784];   // fc1 of the workloads' MLP (803 KB: split over the pool with two threads)
        yield return [300, 787];   // a large W whose columns do not divide into the parts
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void RowTimesWeightTransposedMatchesNaive(int n, int k)
    {
        int saved = Parallelism.MaxThreads;
        try
        {
            foreach (int threads in new[] { 1, 2, 3 })
            {
                Parallelism.MaxThreads = threads;
                var rng = new Rng(n * 1009 + k * 7 + threads);
                int ldb = k + 3, aOff = 5, bOff = 2, cOff = 3;
                var a = SmallGemmTests.Random(aOff + k, rng);
                var b = SmallGemmTests.Random(bOff + n * ldb, rng);
                var bias = SmallGemmTests.Random(n + 1, rng);
                var c = SmallGemmTests.Random(cOff + n + 4, rng);
                var plain = (float[])c.Clone();
                var expected = (float[])c.Clone();
                SmallGemmTests.Naive(false, true, 1, n, k, 0.75f, a, aOff, k, b, bOff, ldb, -0.5f, expected, cOff, n);
                Gemm.Sgemm(false, true, 1, n, k, 0.75f, a, aOff, k, b, bOff, ldb, -0.5f, plain, cOff, n);
                TensorAssert.Close(expected, plain, 1e-4, 1e-4, $"x·Wᵀ n={n} k={k} threads={threads}");

                // bias (from offset 1) and ReLU fused, beta = 0 (what a Linear + ReLU runs on one sample)
                var fused = (float[])c.Clone();
                var reference = (float[])c.Clone();
                SmallGemmTests.Naive(false, true, 1, n, k, 1f, a, aOff, k, b, bOff, ldb, 0f, reference, cOff, n);
                for (int j = 0; j < n; j++) reference[cOff + j] = Math.Max(0f, reference[cOff + j] + bias[1 + j]);
                Gemm.Sgemm(false, true, 1, n, k, 1f, a, aOff, k, b, bOff, ldb, 0f, fused, cOff, n,
                    new GemmEpilogue(bias, biasOffset: 1, activation: GemmActivation.Relu));
                TensorAssert.Close(reference, fused, 1e-4, 1e-4, $"relu(x·Wᵀ + bias) n={n} k={k} threads={threads}");
            }
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }

    [Fact]
    public void InfinityInTheOverlapOfTheLastVectorStaysInfinityAndNaNPropagates()
    {
        // k = 20: the last vector starts at 4 and overlaps elements 4..15 already summed; they are masked in both operands.
        int n = 9, k = 20;
        var a = new float[k];
        var b = new float[n * k];
        Array.Fill(a, 1f);
        Array.Fill(b, 0.5f);
        b[1 * k + 6] = float.PositiveInfinity;
        b[2 * k + 0] = float.NaN;
        b[8 * k + 19] = float.NegativeInfinity;  // the ninth row goes through the leftover path
        var c = new float[n];
        Gemm.Sgemm(false, true, 1, n, k, 1f, a, 0, k, b, 0, k, 0f, c, 0, n);
        Assert.Equal(0.5f * k, c[0], 1e-3);
        Assert.Equal(float.PositiveInfinity, c[1]);
        Assert.True(float.IsNaN(c[2]), $"a NaN in W must give NaN, got {c[2]}");
        for (int j = 3; j < 8; j++) Assert.Equal(0.5f * k, c[j], 1e-3);
        Assert.Equal(float.NegativeInfinity, c[8]);
    }
}
