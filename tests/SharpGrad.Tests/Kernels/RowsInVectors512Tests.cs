using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using SharpGrad;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The float rows of one to eight whole 512-bit vectors that LayerNorm and the attention's softmax take through registers
/// (<see cref="NormKernel.RowsInVectors512"/>, session 25) against the <c>TensorPrimitives</c> sequences they replace, bit for
/// bit, and against the same kernels with that path off: every width it takes (16…128), the widths around it (which keep the
/// old path), odd row counts, constant rows, ±0, masked (−∞), +∞ and NaN entries. Where the machine has no AVX-512 (or
/// <c>DOTNET_EnableAVX512=0</c>) both sides run the old path and the tests check that path.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class RowsInVectors512Tests
{
    public static IEnumerable<object[]> Widths() => new[] { 15, 16, 17, 32, 48, 64, 80, 96, 112, 128, 131, 144 }.Select(n => new object[] { n });

    [Fact]
    public void ThePathIsTakenWhereAvx512Is()
    {
        Assert.Equal(Vector512.IsHardwareAccelerated, NormKernel.RowsInVectors512(128));
        Assert.Equal(Vector512.IsHardwareAccelerated, NormKernel.RowsInVectors512(16));
        Assert.False(NormKernel.RowsInVectors512(144));
        Assert.False(NormKernel.RowsInVectors512(17));
        Assert.False(NormKernel.RowsInVectors512(0));
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void LayerNormRowsEqualTheTensorPrimitivesSequence(int cols)
    {
        foreach (int rows in new[] { 1, 5, 33 })
            foreach (bool hasW in new[] { true, false })
                foreach (bool hasB in new[] { true, false })
                    foreach (bool withGx in new[] { true, false })
                        LayerNormRows(rows, cols, hasW, hasB, withGx);
    }

    private static void LayerNormRows(int rows, int cols, bool hasW, bool hasB, bool withGx)
    {
        var rng = new Rng(rows * 131 + cols * 7 + (hasW ? 1 : 0) + (hasB ? 2 : 0) + (withGx ? 4 : 0));
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray();
        float[] x = R(rows * cols), gy = R(rows * cols), w = hasW ? R(cols) : [], b = hasB ? R(cols) : [];
        // a constant row (variance 0: inv = 1/√eps), a row of ±0, a row shifted far from 0
        if (rows > 2)
        {
            Array.Fill(x, 1.25f, 0, cols);
            for (int j = 0; j < cols; j++) x[cols + j] = j % 2 == 0 ? -0f : 0f;
            for (int j = 0; j < cols; j++) x[2 * cols + j] += 1000f;
        }
        float[] gx = withGx ? R(rows * cols) : [], gw = R(cols), gb = R(cols);
        float[] y = new float[rows * cols], mean = new float[rows], invstd = new float[rows];
        float[] rgx = (float[])gx.Clone(), rgw = (float[])gw.Clone(), rgb = (float[])gb.Clone();
        // the same kernels with the register rows off
        float[] oy = new float[rows * cols], omean = new float[rows], oinv = new float[rows];
        float[] ogx = (float[])gx.Clone(), ogw = (float[])gw.Clone(), ogb = (float[])gb.Clone();
        int saved = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = 1;
            NormKernel.LayerNormForward<float>(x, y, rows, cols, w, b, 1e-5, mean, invstd);
            NormKernel.LayerNormBackward<float>(x, gy, gx, mean, invstd, w, hasW ? gw : [], hasB ? gb : [], rows, cols);
            NormKernel.t_rows512Off = true;
            NormKernel.LayerNormForward<float>(x, oy, rows, cols, w, b, 1e-5, omean, oinv);
            NormKernel.LayerNormBackward<float>(x, gy, ogx, omean, oinv, w, hasW ? ogw : [], hasB ? ogb : [], rows, cols);
        }
        finally
        {
            NormKernel.t_rows512Off = false;
            Parallelism.MaxThreads = saved;
        }
        var (ry, rmean, rinv) = LayerNormKernelTests.TensorPrimitivesSequence(x, gy, w, b, rgx, rgw, rgb, rows, cols, hasW, hasB, withGx);
        string what = $"{rows}x{cols}, weight {hasW}, bias {hasB}, gx {withGx}";
        SameBits(rmean, mean, $"mean ({what})");
        SameBits(rinv, invstd, $"invstd ({what})");
        SameBits(ry, y, $"y ({what})");
        SameBits(rgx, gx, $"gx ({what})");
        SameBits(rgw, gw, $"gWeight ({what})");
        SameBits(rgb, gb, $"gBias ({what})");
        SameBits(oy, y, $"y against the path off ({what})");
        SameBits(omean, mean, $"mean against the path off ({what})");
        SameBits(oinv, invstd, $"invstd against the path off ({what})");
        SameBits(ogx, gx, $"gx against the path off ({what})");
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void SoftmaxRowsEqualTheTensorPrimitivesSequence(int count)
    {
        var rng = new Rng(count * 11 + 3);
        for (int c = 0; c < 8; c++)
        {
            var x = SmallGemmTests.Random(count, rng);
            for (int i = 0; i < count; i++) x[i] *= 8f;
            switch (c)
            {
                case 1: for (int i = 0; i < count; i += 3) x[i] = float.NegativeInfinity; break;
                case 2: Array.Fill(x, float.NegativeInfinity); break;
                case 3: x[count / 2] = float.PositiveInfinity; break;
                case 4: x[count - 1] = float.NaN; break;
                case 5: for (int i = 0; i < count; i++) x[i] = -Math.Abs(x[i]) - 1f; x[0] = -0f; x[count - 1] = 0f; break;
                case 6: for (int i = 0; i < count; i++) x[i] = -Math.Abs(x[i]) - 1f; x[count - 1] = -0f; break;
                case 7: for (int i = 0; i < count; i++) x[i] += 80f; break;   // large scores: e^(x − m) spans the range
            }
            var expected = (float[])x.Clone();
            float m = TensorPrimitives.Max<float>(expected);
            if (float.IsInfinity(m)) m = 0;
            AttentionKernel.ExpShifted(expected, m);
            TensorPrimitives.Multiply(expected, 1f / TensorPrimitives.Sum<float>(expected), expected);
            var actual = (float[])x.Clone();
            AttentionKernel.SoftmaxRow(actual);
            SameBits(expected, actual, $"softmax case {c}, {count}");
            var off = (float[])x.Clone();
            NormKernel.t_rows512Off = true;
            try { AttentionKernel.SoftmaxRow(off); }
            finally { NormKernel.t_rows512Off = false; }
            SameBits(off, actual, $"softmax case {c}, {count}, against the path off");
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void SoftmaxBackwardRowsEqualTheTensorPrimitivesSequence(int count)
    {
        var rng = new Rng(count * 13 + 5);
        for (int c = 0; c < 3; c++)
        {
            var y = SmallGemmTests.Random(count, rng);
            for (int i = 0; i < count; i++) y[i] = Math.Abs(y[i]);
            for (int i = c; i < count; i += 4) y[i] = 0f;
            var g = SmallGemmTests.Random(count, rng);
            if (c == 2) g[count / 3] = -0f;
            const float scale = 0.1767767f;
            var expected = (float[])g.Clone();
            float dot = TensorPrimitives.Dot<float>(expected, y);
            TensorPrimitives.Subtract(expected, dot, expected);
            TensorPrimitives.Multiply(expected, y, expected);
            TensorPrimitives.Multiply(expected, scale, expected);
            var actual = (float[])g.Clone();
            AttentionKernel.SoftmaxBackwardRow(y, actual, scale);
            SameBits(expected, actual, $"softmax backward case {c}, {count}");
        }
    }

    /// <summary>
    /// The post-norm encoder layer's backward with LayerNorm's input gradients written (and copied, and added to gx) in the
    /// rows' pass (<c>NormKernel.LayerNormBackwardStore</c>) against the clears, adds, copy and add it replaced (the path off),
    /// bit for bit: whole and in two batch parts, with gx and without, at an odd number of token rows.
    /// </summary>
    [Theory]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(1, false)]
    public void EncoderLayerBackwardWithStoredRowsEqualsClearsAndAdds(int parts, bool withGx)
    {
        const int D = 128, F = 512, N = 3, T = 37;
        var shape = new EncoderLayerShape(D, 4, F, T, NormFirst: false, Gelu: false, LayerNormEps: 1e-5);
        var rng = new Rng(parts * 2 + (withGx ? 1 : 0) + 70);
        float[] Randn(int size, float scale) => (Tensor.Randn([size], rng: rng) * scale).ToArray();
        int[] sizes = [3 * D * D, 3 * D, D * D, D, F * D, F, D * F, D, D, D, D, D];
        var w = sizes.Select(size => Randn(size, 0.1f)).ToArray();
        for (int i = 8; i < 12; i += 2) for (int j = 0; j < D; j++) w[i][j] += 1f;
        var x = Randn(N * T * D, 1f);
        var gy = Randn(N * T * D, 1f);
        var gx0 = Randn(N * T * D, 1f);
        (float[] Y, float[]? Gx, float[][] G) Run(bool off)
        {
            var ws = new EncoderLayerWorkspace();
            var y = new float[x.Length];
            var gx = withGx ? (float[])gx0.Clone() : null;
            var g = sizes.Select(size => (float[]?)new float[size]).ToArray();
            int saved = Parallelism.MaxThreads;
            Parallelism.MaxThreads = 1;
            TransformerLayerKernel.t_forcedParts = parts;
            NormKernel.t_rows512Off = off;
            try
            {
                TransformerLayerKernel.Forward(shape, x, y, N, w, ws);
                TransformerLayerKernel.Backward(shape, gy, gx, N, w, g, ws);
            }
            finally
            {
                TransformerLayerKernel.t_forcedParts = 0;
                NormKernel.t_rows512Off = false;
                Parallelism.MaxThreads = saved;
            }
            return (y, gx, g.Select(a => a!).ToArray());
        }
        var on = Run(off: false);
        var offRun = Run(off: true);
        SameBits(offRun.Y, on.Y, $"y, parts={parts}");
        if (withGx) SameBits(offRun.Gx!, on.Gx!, $"gx, parts={parts}");
        for (int i = 0; i < sizes.Length; i++) SameBits(offRun.G[i], on.G[i], $"g[{i}], parts={parts}");
    }

    private static void SameBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: element {i} is {actual[i]:R} ({BitConverter.SingleToInt32Bits(actual[i]):X8}), expected {expected[i]:R} ({BitConverter.SingleToInt32Bits(expected[i]):X8})");
        }
    }
}
