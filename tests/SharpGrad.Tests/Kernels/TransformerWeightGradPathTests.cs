using System.Runtime.Intrinsics;
using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// A wide-output Linear's weight gradient in <c>TransformerLayerKernel.LinearBackward</c> (the in-projection, linear1): as
/// (xᵀ·gy)ᵀ (the AVX2 choice) or as gyᵀ·x over all rows in one product (the AVX-512 choice, session 23). Both chain each
/// element over 256-row blocks from row 0 and add the blocks in order, so from a zeroed gradient they give the same bits;
/// both equal the naive sum to rounding. Row counts that are not a multiple of 256 (a short last block) and of the row
/// blocks the input gradient takes (336 for the in-projection), odd feature counts. The same bits are asserted where the
/// whole product is the production choice (AVX-512); on AVX2 it is not used, and there the rows after the last 6-row tile
/// sum their edge columns (a feature count not a multiple of 8) in one chain over all rows (Gemm.SmallAxpy), not in
/// 256-row blocks, so the two paths agree to rounding only (2300x37x200: gW[198, 32] differs in the last bits).
/// </summary>
public class TransformerWeightGradPathTests
{
    private static float[] Randn(Rng rng, int size) => Tensor.Randn([size], rng: rng).ToArray();

    private static float[] WeightGrad(bool transposed, float[] x, float[] w, float[] gy, int rows, int inF, int outF)
    {
        var gW = new float[outF * inF];
        var gx = new float[rows * inF];
        TransformerLayerKernel.t_transposedWeightGrad = transposed;
        try { TransformerLayerKernel.LinearBackward(x, w, gy, gx, accumulate: false, gW, null, rows, inF, outF); }
        finally { TransformerLayerKernel.t_transposedWeightGrad = null; }
        return gW;
    }

    [Theory]
    [InlineData(400, 128, 384)]    // the in-projection's features: blocks 256 + 144
    [InlineData(1024, 128, 384)]   // the workload's layer
    [InlineData(2300, 37, 200)]    // odd features, a short last block
    public void BothPathsGiveTheSameBitsAndTheNaiveSum(int rows, int inF, int outF)
    {
        var rng = new Rng(rows + inF + outF);
        var x = Randn(rng, rows * inF);
        var w = Randn(rng, outF * inF);
        var gy = Randn(rng, rows * outF);
        var whole = WeightGrad(false, x, w, gy, rows, inF, outF);
        var transposed = WeightGrad(true, x, w, gy, rows, inF, outF);
        for (int o = 0; o < outF; o++)
        {
            for (int i = 0; i < inF; i++)
            {
                int at = o * inF + i;
                if (Vector512.IsHardwareAccelerated && BitConverter.SingleToInt32Bits(whole[at]) != BitConverter.SingleToInt32Bits(transposed[at]))
                    Assert.Fail($"gW[{o}, {i}] ({rows}x{inF}x{outF}): whole {whole[at]:R}, transposed {transposed[at]:R}");
                double s = 0;
                for (int r = 0; r < rows; r++) s += (double)gy[r * outF + o] * x[r * inF + i];
                Assert.True(Math.Abs(whole[at] - s) <= 1e-4 * (1 + Math.Abs(s)), $"gW[{o}, {i}]: {whole[at]:R}, naive {s:R}");
                Assert.True(Math.Abs(transposed[at] - s) <= 1e-4 * (1 + Math.Abs(s)), $"gW[{o}, {i}] transposed: {transposed[at]:R}, naive {s:R}");
            }
        }
    }
}
