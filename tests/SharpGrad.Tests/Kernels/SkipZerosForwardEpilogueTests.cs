using System.Runtime.Intrinsics;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The skipping forward y = x·Wᵀ (Gemm.TryLinearSkipZeros) applies its epilogue (bias, ReLU, residual) in the product's
/// column parts, to each row of a finished block of columns (session 26; before, on the calling thread after the loop):
/// mnist's fc1 and fc2 forwards (bias + ReLU). Checked: the same
/// bits as the product without an epilogue followed by <see cref="Epi{T}.ApplyRows"/> over all of y, at both vector widths,
/// 1, 2 and 3 threads, odd sizes (single-row and paired-row blocks, a remainder column), into a NaN-filled y.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class SkipZerosForwardEpilogueTests
{
    [Theory]
    [InlineData(64, 784, 256, 0.81)]  // mnist's fc1
    [InlineData(64, 256, 128, 0.75)]  // mnist's fc2 (below SkipZerosMinMacs: the small product)
    [InlineData(63, 255, 131, 0.75)]  // odd: paired rows, a column after the last vector
    [InlineData(37, 301, 75, 0.8)]    // odd, single rows at 256 bits
    public void EpilogueInThePartsEqualsTheEpilogueAfterTheProduct(int rows, int inF, int outF, double zeros)
    {
        var rng = new Rng(rows * 7 + inF * 3 + outF);
        var x = ZeroSkipGemmTests.Sparse(rows * inF, zeros, rng);
        var w = SmallGemmTests.Random(outF * inF, rng);
        var bias = SmallGemmTests.Random(outF, rng);
        var residual = SmallGemmTests.Random(rows * outF, rng);
        foreach (bool withResidual in new[] { false, true })
        {
            var epi = new GemmEpilogue(bias, residual: withResidual ? residual : null, residualLd: withResidual ? outF : 0, activation: GemmActivation.Relu).ToEpi();
            float[] Run<V, TV>(bool fused) where V : struct, Gemm.ISimd<TV, float> where TV : struct
            {
                var y = new float[rows * outF];
                Array.Fill(y, float.NaN);
                Assert.True(Gemm.LinearSkipZeros<V, TV>(x, 0, w, 0, y, 0, rows, inF, outF, allowParallel: true, fused ? epi : default));
                if (!fused) epi.ApplyRows(y, 0, outF, 0, rows, 0, outF);
                return y;
            }
            foreach (int threads in new[] { 1, 2, 3 })
            {
                string what = $"threads={threads} rows={rows} inF={inF} outF={outF} residual={withResidual}";
                var expected256 = TwoThreadSplitTests.WithThreads(1, () => Run<Gemm.Simd256<float>, Vector256<float>>(fused: false));
                AssertSameBits(expected256, TwoThreadSplitTests.WithThreads(threads, () => Run<Gemm.Simd256<float>, Vector256<float>>(fused: true)), "256-bit " + what);
                var expected512 = TwoThreadSplitTests.WithThreads(1, () => Run<Gemm.Simd512<float>, Vector512<float>>(fused: false));
                AssertSameBits(expected512, TwoThreadSplitTests.WithThreads(threads, () => Run<Gemm.Simd512<float>, Vector512<float>>(fused: true)), "512-bit " + what);
            }
            // the entry the compiled step calls (the widest vectors; any size: minMacs 1)
            var viaEntry = new float[rows * outF];
            Array.Fill(viaEntry, float.NaN);
            Assert.True(TwoThreadSplitTests.WithThreads(2, () => Gemm.TryLinearSkipZeros(x, 0, w, 0, viaEntry, 0, rows, inF, outF, epi, allowParallel: true,
                minMacs: 1)));
            var reference = new float[rows * outF];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < outF; j++)
                {
                    double s = bias[j] + (withResidual ? residual[i * outF + j] : 0);
                    for (int p = 0; p < inF; p++) s += (double)x[i * inF + p] * w[j * inF + p];
                    reference[i * outF + j] = (float)Math.Max(0, s);
                }
            for (int i = 0; i < reference.Length; i++)
                Assert.True(Math.Abs(reference[i] - viaEntry[i]) <= 1e-4f * (1 + Math.Abs(reference[i])), $"element {i}: {viaEntry[i]} against the double reference {reference[i]} (residual={withResidual})");
        }
    }

    private static void AssertSameBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: element {i} is {actual[i]}, expected {expected[i]} (bit for bit)");
        }
    }
}
