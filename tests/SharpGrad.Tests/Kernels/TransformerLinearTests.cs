using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The compiled encoder layer's forward linears as x·(Wᵀ) (<see cref="EncoderWeightsT"/>, session 16): against a naive
/// reference on odd sizes (with the bias, residual and ReLU of the epilogue; sizes that take the GEMM's direct and packed
/// paths), and the transposed copies refreshed at every forward — the weights changed in place between two forwards (as
/// an optimizer step does) give the output of a fresh workspace, whole and split into batch parts. And the backward's
/// <see cref="TransformerLayerKernel.LinearBackward"/> (gW from the transposed product xᵀ·gy for a wide output, whole for a
/// wide input, row blocks otherwise) against a naive reference.
/// </summary>
public class TransformerLinearTests
{
    [Theory]
    [InlineData(37, 19, 23, false, false)]
    [InlineData(37, 19, 23, true, true)]
    [InlineData(5, 33, 7, true, false)]
    [InlineData(301, 131, 257, false, true)]  // m·n·k above the direct path's limit: packed
    [InlineData(1, 17, 9, true, true)]
    public void TransposedWeightsEqualNaive(int rows, int inF, int outF, bool residual, bool relu)
    {
        var rng = new Rng(rows * 1000 + inF * 10 + outF);
        float[] R(int size) => Tensor.Randn([size], rng: rng).ToArray();
        var x = R(rows * inF);
        var w = R(outF * inF);
        var b = R(outF);
        var res = residual ? R(rows * outF) : null;
        var wt = new float[inF * outF];
        RecurrentKernel.Transpose(w, 0, outF, inF, wt);
        var y = R(rows * outF); // overwritten, whatever it held
        TransformerLayerKernel.Linear(x, w, b, y, rows, inF, outF, res, relu, weightT: wt);
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < outF; j++)
            {
                double sum = b[j] + (res is null ? 0 : res[i * outF + j]);
                for (int p = 0; p < inF; p++) sum += (double)x[i * inF + p] * w[j * inF + p];
                if (relu) sum = Math.Max(sum, 0);
                float got = y[i * outF + j];
                Assert.True(Math.Abs(got - sum) <= 1e-4 * (1 + Math.Abs(sum)), $"y[{i}, {j}]: expected {sum}, got {got} ({rows}×{inF} -> {outF})");
            }
        }
    }

    [Theory]
    [InlineData(1031, 37, 451)]  // outF ≥ 2·inF over > 2^24 multiply-adds: gW from the transposed product
    [InlineData(1031, 451, 37)]  // a wide input: whole, not in row blocks
    [InlineData(97, 13, 41)]     // small: row blocks, gW from gyᵀ·x
    public void LinearBackwardEqualsNaive(int rows, int inF, int outF)
    {
        var rng = new Rng(rows + inF * 7 + outF * 13);
        float[] R(int size) => Tensor.Randn([size], rng: rng).ToArray();
        var x = R(rows * inF);
        var w = R(outF * inF + 5);   // the weight at offset 5 of a larger array, its gradient at the same offset
        var gy = R(rows * outF);
        var gx0 = R(rows * inF);
        var gW0 = R(outF * inF + 5);
        var gb0 = R(outF + 3);
        var (gx, gW, gb) = ((float[])gx0.Clone(), (float[])gW0.Clone(), (float[])gb0.Clone());
        TransformerLayerKernel.LinearBackward(x, w, gy, gx, accumulate: true, gW, gb, rows, inF, outF, weightOffset: 5, biasOffset: 3);
        for (int r = 0; r < rows; r += 7)
        {
            for (int i = 0; i < inF; i++)
            {
                double sum = gx0[r * inF + i];
                for (int o = 0; o < outF; o++) sum += (double)gy[r * outF + o] * w[5 + o * inF + i];
                Assert.True(Math.Abs(gx[r * inF + i] - sum) <= 1e-4 * (1 + Math.Abs(sum)), $"gx[{r}, {i}]: expected {sum}, got {gx[r * inF + i]}");
            }
        }
        for (int o = 0; o < outF; o++)
        {
            double bias = gb0[3 + o];
            for (int r = 0; r < rows; r++) bias += gy[r * outF + o];
            Assert.True(Math.Abs(gb[3 + o] - bias) <= 1e-3 * (1 + Math.Abs(bias)), $"gb[{o}]: expected {bias}, got {gb[3 + o]}");
            for (int i = 0; i < inF; i++)
            {
                double sum = gW0[5 + o * inF + i];
                for (int r = 0; r < rows; r++) sum += (double)gy[r * outF + o] * x[r * inF + i];
                Assert.True(Math.Abs(gW[5 + o * inF + i] - sum) <= 1e-3 * (1 + Math.Abs(sum)), $"gW[{o}, {i}]: expected {sum}, got {gW[5 + o * inF + i]}");
            }
        }
        for (int i = 0; i < 5; i++) Assert.Equal(gW0[i], gW[i]);   // nothing before the offset touched
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 1)]
    [InlineData(false, 3)]
    [InlineData(true, 2)]
    public void WeightsChangedInPlaceAreSeenByTheNextForward(bool normFirst, int parts)
    {
        const int n = 5, t = 7, d = 12, heads = 3, ff = 20;
        var shape = new EncoderLayerShape(d, heads, ff, t, normFirst, Gelu: false, 1e-5);
        var rng = new Rng(17 + parts + (normFirst ? 100 : 0));
        float[] R(int size, float scale = 0.3f) => (Tensor.Randn([size], rng: rng) * scale).ToArray();
        int[] sizes = [3 * d * d, 3 * d, d * d, d, ff * d, ff, d * ff, d, d, d, d, d];
        var w = sizes.Select(size => R(size)).ToArray();
        for (int i = 8; i < 12; i += 2) w[i] = w[i].Select(v => 1f + v).ToArray();
        var x = R(n * t * d, 1f);
        var ws = new EncoderLayerWorkspace();
        var y = new float[n * t * d];
        TransformerLayerKernel.t_forcedParts = parts;
        try
        {
            TransformerLayerKernel.Forward(shape, x, y, n, w, ws);
            // An optimizer step: every linear weight changed in place (same arrays).
            foreach (int i in new[] { 0, 2, 4, 6 })
            {
                var delta = R(sizes[i]);
                for (int j = 0; j < sizes[i]; j++) w[i][j] += delta[j];
            }
            TransformerLayerKernel.Forward(shape, x, y, n, w, ws);
            var fresh = new float[n * t * d];
            TransformerLayerKernel.Forward(shape, x, fresh, n, w, new EncoderLayerWorkspace());
            for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(y[i] - fresh[i]) <= 1e-5, $"y[{i}]: reused workspace {y[i]}, fresh {fresh[i]}");
        }
        finally
        {
            TransformerLayerKernel.t_forcedParts = 0;
        }
    }
}
