using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The compiled encoder layer's batch split (Kernels/TransformerLayer.Split.cs: whole sequences per thread, the weight
/// gradients deferred and summed over the parts afterwards) against the same layer run whole (itself checked against eager
/// and PyTorch by <c>CompiledEncoderProgramTests</c>): output, input gradient added into a non-zero gx, every weight gradient
/// added into non-zero gradients, a null gradient skipped; odd batch, parts of unequal sizes, one-sequence parts.
/// </summary>
public class TransformerLayerSplitTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (bool normFirst in new[] { false, true })
        {
            foreach (bool gelu in new[] { false, true })
            {
                foreach (int parts in new[] { 2, 3, 5 }) yield return [normFirst, gelu, parts, 0];
                yield return [normFirst, gelu, 2, 5]; // the weight gradients summed in blocks of 5 output rows (a last block shorter)
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SplitEqualsWhole(bool normFirst, bool gelu, int parts, int weightGradRows)
        => CheckSplitEqualsWhole(new EncoderLayerShape(12, 3, 20, 7, normFirst, gelu, 1e-5), n: 5, parts, weightGradRows,
            new Rng(parts * 10 + weightGradRows * 100 + (normFirst ? 1 : 0) + (gelu ? 2 : 0)), weightScale: 0.3f);

    /// <summary>
    /// The workload's width (d_model 128, 4 heads, feed-forward 512, ReLU, post-norm) over 4 sequences of 64 tokens in 2 and 4
    /// parts: the weight-gradient items then run their products on the packed path (<see cref="Gemm.SgemmPacked"/>)
    /// at the sizes of transformer_train_step_b16's parts.
    /// </summary>
    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void SplitEqualsWholeAtTheWorkloadWidth(int parts)
        => CheckSplitEqualsWhole(new EncoderLayerShape(128, 4, 512, 64, NormFirst: false, Gelu: false, 1e-5), n: 4, parts, weightGradRows: 0,
            new Rng(19 + parts), weightScale: 0.08f);

    /// <summary>
    /// The layer over <paramref name="n"/> sequences whole and in <paramref name="parts"/> parts (weight gradients summed in
    /// blocks of <paramref name="weightGradRows"/> output rows, 0: the default): output, input gradient added into a non-zero
    /// gx, every weight gradient added into non-zero gradients, out_proj.bias's not asked for.
    /// </summary>
    private static void CheckSplitEqualsWhole(EncoderLayerShape shape, int n, int parts, int weightGradRows, Rng rng, float weightScale)
    {
        int t = shape.Steps, d = shape.DModel, ff = shape.FeedForward;
        float[] R(int size, float scale) => (Tensor.Randn([size], rng: rng) * scale).ToArray();
        int[] sizes = [3 * d * d, 3 * d, d * d, d, ff * d, ff, d * ff, d, d, d, d, d];
        var w = sizes.Select(size => R(size, weightScale)).ToArray();
        for (int i = 8; i < 12; i += 2) w[i] = w[i].Select(v => 1f + v).ToArray(); // LayerNorm weights near 1
        var x = R(n * t * d, 1f);
        var gy = R(n * t * d, 1f);
        var gx0 = R(n * t * d, 1f);
        var g0 = sizes.Select(size => R(size, 0.3f)).ToArray();

        (float[] Y, float[] Gx, float[]?[] G) Run(int forced)
        {
            var ws = new EncoderLayerWorkspace();
            var y = new float[n * t * d];
            var gx = (float[])gx0.Clone();
            var g = g0.Select(a => (float[]?)a.Clone()).ToArray();
            g[TransformerBiasIndex] = null; // a gradient nobody asked for is skipped
            TransformerLayerKernel.t_forcedParts = forced;
            TransformerLayerKernel.t_forcedWeightGradRows = weightGradRows;
            try
            {
                TransformerLayerKernel.Forward(shape, x, y, n, w, ws);
                TransformerLayerKernel.Backward(shape, gy, gx, n, w, g, ws);
                Assert.Equal(forced > 1 ? forced : 0, ws.Split?.Count ?? 0);
            }
            finally
            {
                TransformerLayerKernel.t_forcedParts = 0;
                TransformerLayerKernel.t_forcedWeightGradRows = 0;
            }
            return (y, gx, g);
        }

        var whole = Run(1);
        var split = Run(parts);
        AssertClose(whole.Y, split.Y, "output");
        AssertClose(whole.Gx, split.Gx, "input gradient");
        for (int i = 0; i < sizes.Length; i++)
        {
            if (whole.G[i] is null)
            {
                Assert.Null(split.G[i]);
                continue;
            }
            AssertClose(whole.G[i]!, split.G[i]!, $"gradient {i}");
        }
    }

    /// <summary>
    /// <see cref="Gemm.SgemmPacked"/> (the split's weight-gradient items and linear2's g·W in a part) against the same
    /// C (+)= op(A)·B on the path the size rules choose (direct at these sizes), written over a C of NaNs or added: bit for
    /// bit when n is whole strips of two vectors (the workload's 128 and 512 columns; both paths add each 256-term chain to
    /// C) and, beyond one 256-term block, m is whole row tiles (AVX-512's direct path chains its last rows over all of k);
    /// within rounding with edge columns, tail rows over several k-blocks or a product small enough for the naive path.
    /// </summary>
    [Theory]
    [InlineData(true, 176, 128, 256, true)]
    [InlineData(true, 43, 512, 256, true)]
    [InlineData(true, 48, 128, 600, true)]
    [InlineData(true, 50, 128, 600, false)]
    [InlineData(false, 250, 512, 128, true)]
    [InlineData(false, 50, 130, 257, false)]
    [InlineData(true, 13, 37, 600, false)]
    [InlineData(true, 7, 5, 9, false)]
    public void PackedEqualsTheChosenPath(bool transA, int m, int n, int k, bool sameBits)
    {
        var rng = new Rng(m * 7 + n + k);
        float[] R(int size) => Tensor.Randn([size], rng: rng).ToArray();
        var a = R(m * k + 3);
        var b = R(k * n + 5);
        var c0 = R(m * n + 2);
        int lda = transA ? m : k;
        foreach (bool accumulate in new[] { true, false })
        {
            var expected = (float[])c0.Clone();
            var actual = (float[])c0.Clone();
            if (!accumulate) Array.Fill(actual, float.NaN, 2, m * n); // overwritten, as the dense product with beta 0
            Gemm.Sgemm(transA, false, m, n, k, 1f, a, 3, lda, b, 5, n, accumulate ? 1f : 0f, expected, 2, n);
            Gemm.SgemmPacked(transA, m, n, k, a, 3, lda, b, 5, n, actual, 2, n, accumulate);
            if (sameBits)
            {
                Assert.Equal(expected, actual);
                continue;
            }
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4 * (1 + Math.Abs(expected[i])), $"C[{i}]: chosen path {expected[i]}, packed {actual[i]}");
        }
    }

    /// <summary>out_proj.bias's gradient is not asked for in these runs.</summary>
    private const int TransformerBiasIndex = 3;

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double tol = 1e-5 + 1e-5 * Math.Abs(expected[i]);
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"{what}[{i}]: whole {expected[i]}, split {actual[i]}");
        }
    }

    /// <summary>
    /// The bias-gradient sums (<see cref="ReduceKernel.AddColumnSums{T}"/>, shared by the split, cross-attention and the
    /// recurrent kernels) against one <c>TensorPrimitives.Add</c> per row written out here, bit for bit: widths around the vector
    /// width and two of it, a column offset inside longer rows, one row and a part's 256.
    /// </summary>
    [Theory]
    [InlineData(1, 1, 0, 1)]
    [InlineData(5, 7, 3, 12)]
    [InlineData(3, 8, 0, 8)]
    [InlineData(9, 17, 5, 40)]
    [InlineData(256, 33, 16, 384)]
    [InlineData(256, 176, 336, 512)]
    public void ColumnSumsEqualThePerRowAdds(int rows, int m, int c0, int ld)
    {
        var rng = new Rng(rows * 7 + m);
        var gy = SmallGemmTests.Random(rows * ld, rng);
        var start = SmallGemmTests.Random(m + 2, rng);
        var expected = (float[])start.Clone();
        for (int r = 0; r < rows; r++)
            System.Numerics.Tensors.TensorPrimitives.Add(expected.AsSpan(1, m), gy.AsSpan(r * ld + c0, m), expected.AsSpan(1, m));
        var actual = (float[])start.Clone();
        ReduceKernel.AddColumnSums(gy, c0, ld, rows, actual.AsSpan(1, m));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]), $"sum[{i}]: {actual[i]}, expected {expected[i]}");
        Assert.Throws<ArgumentException>(() => ReduceKernel.AddColumnSums(gy, c0 + ld, ld, rows, actual.AsSpan(1, m)));
    }

    /// <summary><see cref="ReduceKernel.AddColumnSums{T}"/> in double (the recurrent kernels' double instantiation) against the per-row adds, bit for bit.</summary>
    [Theory]
    [InlineData(7, 9, 2, 13)]
    [InlineData(35, 20, 0, 20)]
    public void ColumnSumsInDoubleEqualThePerRowAdds(int rows, int m, int c0, int ld)
    {
        var rng = new Random(rows * 31 + m);
        var gy = new double[rows * ld];
        for (int i = 0; i < gy.Length; i++) gy[i] = rng.NextDouble() * 2 - 1;
        var expected = new double[m + 2];
        for (int i = 0; i < expected.Length; i++) expected[i] = rng.NextDouble();
        var actual = (double[])expected.Clone();
        for (int r = 0; r < rows; r++)
            System.Numerics.Tensors.TensorPrimitives.Add(expected.AsSpan(1, m), gy.AsSpan(r * ld + c0, m), expected.AsSpan(1, m));
        ReduceKernel.AddColumnSums(gy, c0, ld, rows, actual.AsSpan(1, m));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.DoubleToInt64Bits(expected[i]) == BitConverter.DoubleToInt64Bits(actual[i]), $"sum[{i}]: {actual[i]}, expected {expected[i]}");
    }
}
