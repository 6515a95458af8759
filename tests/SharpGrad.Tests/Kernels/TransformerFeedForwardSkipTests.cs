using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The feed-forward block's products that skip a ReLU's exact zeros (TransformerLayer.Skip.cs, session 17): linear2's
/// forward act·W2ᵀ and weight gradient, linear1's input and weight gradients. Each equals the dense product bit for bit
/// (the same k-blocks of 256, each block's chain added to the output as the dense kernels add it), at sizes with one and
/// several k-blocks and with rows that leave the dense kernels' tiles a remainder; a NaN in the operand whose zeros are not
/// skipped still makes NaN wherever it meets a skipped zero (0·NaN, as PyTorch); the whole encoder layer at the workload's
/// width gives the same bits with and without skipping.
/// </summary>
public class TransformerFeedForwardSkipTests
{
    private const int D = 128, F = 512;

    private static float[] Randn(Rng rng, int size, float scale = 0.1f) => (Tensor.Randn([size], rng: rng) * scale).ToArray();

    /// <summary>A ReLU's output: about half exact zeros.</summary>
    private static float[] Relu(Rng rng, int size) => Randn(rng, size, 1f).Select(v => Math.Max(v, 0f)).ToArray();

    /// <summary>The products skipping up to Gemm's limit of nonzeros (a ReLU's ~50 %; the layer's own limits are the same since session 23), and dense.</summary>
    private static (T Skipped, T Dense, int Skips) Both<T>(Func<T> run)
    {
        TransformerLayerKernel.t_skippedProducts = 0;
        TransformerLayerKernel.t_skipMaxDensity = Gemm.SkipZerosMaxDensity;
        try
        {
            var skipped = run();
            int skips = TransformerLayerKernel.t_skippedProducts;
            TransformerLayerKernel.t_denseFeedForward = true;
            return (skipped, run(), skips);
        }
        finally
        {
            TransformerLayerKernel.t_denseFeedForward = false;
            TransformerLayerKernel.t_skipMaxDensity = 0;
        }
    }

    private static void AssertBits(float[] dense, float[] skipped, string what)
    {
        Assert.Equal(dense.Length, skipped.Length);
        for (int i = 0; i < dense.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(dense[i]) != BitConverter.SingleToInt32Bits(skipped[i]))
                Assert.Fail($"{what}[{i}]: dense {dense[i]:R}, skipping {skipped[i]:R}");
        }
    }

    [Theory]
    [InlineData(100)]    // one k-block over the rows; 100 = 16·6 + 4: the dense tiles' remainder rows
    [InlineData(320)]    // two k-blocks over the rows (256 + 64)
    [InlineData(1024)]   // the workload's rows: the dense weight gradients packed
    public void SkippedProductsEqualDenseBitwise(int rows)
    {
        var rng = new Rng(rows);
        var x = Randn(rng, rows * D, 1f);
        var act = Relu(rng, rows * F);
        var w1 = Randn(rng, F * D);
        var w2 = Randn(rng, D * F);
        var w2T = new float[F * D];
        RecurrentKernel.Transpose(w2, 0, D, F, w2T);
        var b2 = Randn(rng, D);
        var residual = Randn(rng, rows * D, 1f);
        var gy = Randn(rng, rows * D, 1f);
        var gFf = Relu(rng, rows * F).Select((v, i) => act[i] == 0f ? 0f : v - 0.5f).ToArray();   // zero where act is, and more
        var gx0 = Randn(rng, rows * D, 1f);

        // linear2's forward with its bias and residual epilogue
        var (y, yDense, fwdSkips) = Both(() =>
        {
            var y = new float[rows * D];
            TransformerLayerKernel.Linear(act, w2, b2, y, rows, F, D, residual, weightT: w2T, skipZeros: true);
            return y;
        });
        Assert.Equal(1, fwdSkips);
        AssertBits(yDense, y, "linear2 y");

        // linear2's backward: x = act (its zeros skipped in the weight gradient), the input gradient dense
        var (l2, l2Dense, l2Skips) = Both(() =>
        {
            var (gAct, gW, gb) = (new float[rows * F], new float[D * F], new float[D]);
            TransformerLayerKernel.LinearBackward(act, w2, gy, gAct, accumulate: false, gW, gb, rows, F, D, zerosInX: true);
            return (gAct, gW, gb);
        });
        Assert.Equal(1, l2Skips);
        AssertBits(l2Dense.gAct, l2.gAct, "linear2 gx");
        AssertBits(l2Dense.gW, l2.gW, "linear2 gW");
        AssertBits(l2Dense.gb, l2.gb, "linear2 gb");

        // linear1's backward: gy = gFf (its zeros skipped in both products), gx added to
        var (l1, l1Dense, l1Skips) = Both(() =>
        {
            var (gx, gW, gb) = ((float[])gx0.Clone(), new float[F * D], new float[F]);
            TransformerLayerKernel.LinearBackward(x, w1, gFf, gx, accumulate: true, gW, gb, rows, D, F, zerosInGy: true);
            return (gx, gW, gb);
        });
        Assert.Equal(2, l1Skips);
        AssertBits(l1Dense.gx, l1.gx, "linear1 gx");
        AssertBits(l1Dense.gW, l1.gW, "linear1 gW");
        AssertBits(l1Dense.gb, l1.gb, "linear1 gb");
    }

    /// <summary>
    /// A weight gradient added to a held one (a second backward without zero_grad): the skipping path sums its product in a
    /// scratch and adds it once, as the dense transposed weight gradient does; the dense packed path adds each k-block's chain
    /// to the held gradient in turn, which rounds differently (measured: see the tolerance), so this compares to a tolerance.
    /// </summary>
    [Fact]
    public void WeightGradientsAddedToAHeldGradient()
    {
        const int rows = 1024;
        var rng = new Rng(5);
        var act = Relu(rng, rows * F);
        var w2 = Randn(rng, D * F);
        var gy = Randn(rng, rows * D, 1f);
        var held = Randn(rng, D * F, 1f);
        var (gW, gWDense, skips) = Both(() =>
        {
            var gW = (float[])held.Clone();
            TransformerLayerKernel.LinearBackward(act, w2, gy, null, accumulate: false, gW, null, rows, F, D, zerosInX: true);
            return gW;
        });
        Assert.Equal(1, skips);
        for (int i = 0; i < gW.Length; i++)
            Assert.True(Math.Abs(gW[i] - gWDense[i]) <= 4e-6f * (1 + Math.Abs(gWDense[i])), $"gW[{i}]: dense {gWDense[i]:R}, skipping {gW[i]:R}");
    }

    [Theory]
    [InlineData("linear2 forward: a NaN in W2")]
    [InlineData("linear2 weight gradient: a NaN in gy")]
    [InlineData("linear1 input gradient: a NaN in W1")]
    [InlineData("linear1 weight gradient: a NaN in x")]
    public void ANaNMeetingASkippedZeroStaysNaN(string product)
    {
        const int rows = 96;
        TransformerLayerKernel.t_skipMaxDensity = Gemm.SkipZerosMaxDensity;
        try
        {
            NaNCase(product, rows);
        }
        finally
        {
            TransformerLayerKernel.t_skipMaxDensity = 0;
        }
    }

    private static void NaNCase(string product, int rows)
    {
        var rng = new Rng(product.Length);
        var zeros = Relu(rng, rows * F);   // the operand whose zeros would be skipped
        const int r0 = 7, o0 = 3, i0 = 5;
        zeros[r0 * F + o0] = 0f;           // the NaN below meets this zero
        var other = Randn(rng, rows * D, 1f);
        var w = Randn(rng, F * D);
        switch (product)
        {
            case "linear2 forward: a NaN in W2":
            {
                // y = act·W2ᵀ, W2ᵀ [F, D]: W2ᵀ[o0, i0] NaN → column i0 NaN in every row, also row r0 where act[r0, o0] = 0
                w[o0 * D + i0] = float.NaN;
                var y = new float[rows * D];
                TransformerLayerKernel.Linear(zeros, w, new float[D], y, rows, F, D, weightT: w, skipZeros: true);
                for (int r = 0; r < rows; r++) Assert.True(float.IsNaN(y[r * D + i0]), $"y[{r}, {i0}] = {y[r * D + i0]}");
                break;
            }
            case "linear2 weight gradient: a NaN in gy":
            {
                // gW2 [D, F] += gyᵀ·act: gy[r0, i0] NaN → row i0 of gW2 NaN, also column o0 where act[r0, o0] = 0
                other[r0 * D + i0] = float.NaN;
                var gW = new float[D * F];
                TransformerLayerKernel.LinearBackward(zeros, w, other, null, accumulate: false, gW, null, rows, F, D, zerosInX: true);
                for (int o = 0; o < F; o++) Assert.True(float.IsNaN(gW[i0 * F + o]), $"gW[{i0}, {o}] = {gW[i0 * F + o]}");
                break;
            }
            case "linear1 input gradient: a NaN in W1":
            {
                // gx [rows, D] += gFf·W1, W1 [F, D]: W1[o0, i0] NaN → column i0 of gx NaN, also row r0 where gFf[r0, o0] = 0
                w[o0 * D + i0] = float.NaN;
                var gx = new float[rows * D];
                TransformerLayerKernel.LinearBackward(other, w, zeros, gx, accumulate: true, null, null, rows, D, F, zerosInGy: true);
                for (int r = 0; r < rows; r++) Assert.True(float.IsNaN(gx[r * D + i0]), $"gx[{r}, {i0}] = {gx[r * D + i0]}");
                break;
            }
            default:
            {
                // gW1 [F, D] += gFfᵀ·x: x[r0, i0] NaN → column i0 of gW1 NaN, also row o0 where gFf[r0, o0] = 0
                other[r0 * D + i0] = float.NaN;
                var gW = new float[F * D];
                TransformerLayerKernel.LinearBackward(other, w, zeros, null, accumulate: false, gW, null, rows, D, F, zerosInGy: true);
                for (int o = 0; o < F; o++) Assert.True(float.IsNaN(gW[o * D + i0]), $"gW[{o}, {i0}] = {gW[o * D + i0]}");
                break;
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EncoderLayerAtTheWorkloadWidthGivesTheSameBits(bool normFirst)
    {
        const int n = 3, t = 64, heads = 4;
        var shape = new EncoderLayerShape(D, heads, F, t, normFirst, Gelu: false, 1e-5);
        var rng = new Rng(normFirst ? 31 : 30);
        int[] sizes = [3 * D * D, 3 * D, D * D, D, F * D, F, D * F, D, D, D, D, D];
        var w = sizes.Select(size => Randn(rng, size)).ToArray();
        for (int i = 8; i < 12; i += 2) w[i] = w[i].Select(v => 1f + v).ToArray();
        var x = Randn(rng, n * t * D, 1f);
        var gy = Randn(rng, n * t * D, 1f);
        TransformerLayerKernel.t_forcedParts = 1;
        try
        {
            var (skipped, dense, skips) = Both(() =>
            {
                var ws = new EncoderLayerWorkspace();
                var y = new float[n * t * D];
                TransformerLayerKernel.Forward(shape, x, y, n, w, ws);
                var gx = new float[n * t * D];
                var g = sizes.Select(size => new float[size]).ToArray();
                TransformerLayerKernel.Backward(shape, gy, gx, n, w, g, ws);
                return (y, gx, g);
            });
            Assert.Equal(4, skips);
            AssertBits(dense.y, skipped.y, "y");
            AssertBits(dense.gx, skipped.gx, "gx");
            for (int i = 0; i < sizes.Length; i++) AssertBits(dense.g[i], skipped.g[i], $"g[{i}]");
        }
        finally
        {
            TransformerLayerKernel.t_forcedParts = 0;
        }
    }
}
