using SharpGrad;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// <see cref="AttentionKernel"/> (multi-head softmax(scale·q·kᵀ)·v on strided rows, parallel over sequences × heads) against
/// a naive double-precision reference, forward and backward, on odd sizes (l ≠ s, heads of odd size), with q, k, v read
/// from a packed batch-first projection and from separate sequence-first arrays with offsets, on 1 and 2 threads.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class AttentionKernelTests
{
    public static IEnumerable<object[]> Shapes()
    {
        // n, heads, l, s, head_dim, threads
        yield return [1, 1, 1, 1, 1, 1];
        yield return [3, 2, 5, 7, 3, 2];
        yield return [2, 3, 9, 4, 17, 1];
        yield return [5, 4, 13, 13, 8, 2];
        yield return [2, 4, 64, 64, 32, 2]; // the workload's head size
    }

    /// <summary>The shapes, each with the products by kᵀ and vᵀ as dot products (false) and by a transposed copy (true), whatever the machine picks.</summary>
    public static IEnumerable<object[]> ShapesAndProductForms() => Shapes().SelectMany(shape => new[] { false, true }.Select(t => shape.Append(t).ToArray()));

    [Theory]
    [MemberData(nameof(Shapes))]
    public void PackedBatchFirstMatchesNaive(int n, int heads, int l, int s, int d, int threads) => PackedBatchFirst(n, heads, l, s, d, threads, null);

    [Theory]
    [MemberData(nameof(ShapesAndProductForms))]
    public void PackedBatchFirstMatchesNaiveInBothProductForms(int n, int heads, int l, int s, int d, int threads, bool transposed)
        => PackedBatchFirst(n, heads, l, s, d, threads, transposed);

    [Theory]
    [MemberData(nameof(ShapesAndProductForms))]
    public void SeparateSequenceFirstMatchesNaiveInBothProductForms(int n, int heads, int l, int s, int d, int threads, bool transposed)
        => SeparateSequenceFirst(n, heads, l, s, d, threads, transposed);

    private static void PackedBatchFirst(int n, int heads, int l, int s, int d, int threads, bool? transposed)
    {
        if (l != s) return; // a packed self-attention projection has one length
        int e = heads * d, stride = 3 * e;
        var rng = new Rng(n * 1000 + heads * 100 + l * 10 + d);
        var qkv = SmallGemmTests.Random(n * l * stride, rng);
        var q = new HeadRows(qkv, 0, l * stride, stride);
        var k = new HeadRows(qkv, e, l * stride, stride);
        var v = new HeadRows(qkv, 2 * e, l * stride, stride);
        var gCtx = SmallGemmTests.Random(n * l * e, rng);
        var context = new float[n * l * e];
        var gqkv = new float[n * l * stride];
        RunAndCompare(n, heads, l, s, d, threads, q, k, v, new HeadRows(context, 0, l * e, e), new HeadRows(gCtx, 0, l * e, e),
            new HeadRows(gqkv, 0, l * stride, stride), new HeadRows(gqkv, e, l * stride, stride), new HeadRows(gqkv, 2 * e, l * stride, stride), transposed);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void SeparateSequenceFirstMatchesNaive(int n, int heads, int l, int s, int d, int threads) => SeparateSequenceFirst(n, heads, l, s, d, threads, null);

    private static void SeparateSequenceFirst(int n, int heads, int l, int s, int d, int threads, bool? transposed)
    {
        // [L, N, E] with an offset and a row stride E + 2 (gaps the kernel must not write)
        int e = heads * d, ld = e + 2, off = 3;
        var rng = new Rng(n * 7 + heads * 11 + l * 13 + s * 17 + d);
        HeadRows Rows(int len, float[] data) => new(data, off, ld, n * ld);
        float[] New(int len, bool random) => random ? SmallGemmTests.Random(off + len * n * ld, rng) : new float[off + len * n * ld];
        RunAndCompare(n, heads, l, s, d, threads, Rows(l, New(l, true)), Rows(s, New(s, true)), Rows(s, New(s, true)), Rows(l, New(l, false)),
            Rows(l, New(l, true)), Rows(l, New(l, false)), Rows(s, New(s, false)), Rows(s, New(s, false)), transposed);
    }

    /// <summary>Runs the kernel (the public entry when <paramref name="transposed"/> is null, else that product form) and checks it against the naive reference.</summary>
    private static void RunAndCompare(int n, int heads, int l, int s, int d, int threads, HeadRows q, HeadRows k, HeadRows v, HeadRows context,
        HeadRows gContext, HeadRows gq, HeadRows gk, HeadRows gv, bool? transposed)
    {
        float scale = 1f / MathF.Sqrt(d);
        var probs = new float[n * heads * l * s];
        var gqBefore = (float[])gq.Data.Clone();
        int saved = Parallelism.MaxThreads;
        try
        {
            Parallelism.MaxThreads = threads;
            if (transposed is { } form)
            {
                AttentionKernel.ForwardWith(form, n, heads, l, s, d, scale, q, k, v, probs, context);
                AttentionKernel.BackwardWith(form, n, heads, l, s, d, scale, q, k, v, probs, gContext, gq, gk, gv);
            }
            else
            {
                AttentionKernel.Forward(n, heads, l, s, d, scale, q, k, v, probs, context);
                AttentionKernel.Backward(n, heads, l, s, d, scale, q, k, v, probs, gContext, gq, gk, gv);
            }
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }

        AssertMatchesNaive(n, heads, l, s, d, scale, q, k, v, probs, context, gContext, gq, gk, gv);
        // The gaps between the rows of the gradient are not written.
        if (gq.BatchStride < gq.StepStride)
        {
            // sequence-first rows BatchStride apart, with gaps after each row's E features
            for (int i = 0; i < gq.Data.Length; i++)
            {
                int r = i - gq.Offset;
                bool inside = r >= 0 && r % gq.BatchStride < heads * d;
                if (!inside) Assert.Equal(gqBefore[i], gq.Data[i]);
            }
        }
    }

    /// <summary>The softmax's exp (<see cref="AttentionKernel.ExpShifted(Span{float}, float)"/>) at both vector widths and the scalar tail, against Math.Exp, on odd lengths and the limits.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(13)]
    [InlineData(16)]
    [InlineData(37)]
    [InlineData(64)]
    public void ExpShiftedMatchesExpAtBothWidths(int count)
    {
        var rng = new Rng(count);
        var x = SmallGemmTests.Random(count, rng);
        for (int i = 0; i < count; i++) x[i] *= 40f;
        if (count > 3) (x[0], x[1], x[2]) = (float.NegativeInfinity, float.NaN, -200f);
        const float shift = 1.5f;
        void Check(float[] y, int done)
        {
            for (int i = 0; i < count; i++)
            {
                double expected = Math.Exp(x[i] - shift);   // the difference rounded to float, as the kernel takes it
                if (float.IsNaN(x[i])) Assert.True(float.IsNaN(y[i]));
                else if (expected < 1e-37) Assert.Equal(0f, y[i], 1e-37f);
                else Assert.True(Math.Abs(y[i] - expected) <= 4e-7 * expected, $"exp({x[i]} - {shift}) at {i} of {count} (vectors up to {done}): {y[i]}, expected {expected}");
            }
        }
        var all = (float[])x.Clone();
        AttentionKernel.ExpShifted(all, shift);
        Check(all, -1);
        ExpAtWidth<Gemm.Simd256<float>, System.Runtime.Intrinsics.Vector256<float>>(System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated, x, shift, Check);
        ExpAtWidth<Gemm.Simd512<float>, System.Runtime.Intrinsics.Vector512<float>>(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated, x, shift, Check);
    }

    /// <summary>The full vectors of one width (when the machine has it), the tail by MathF.Exp, checked by <paramref name="check"/>.</summary>
    private static void ExpAtWidth<V, TV>(bool accelerated, float[] x, float shift, Action<float[], int> check)
        where V : struct, Gemm.ISimd<TV, float> where TV : struct
    {
        if (!accelerated) return;
        var y = (float[])x.Clone();
        int done = AttentionKernel.ExpShifted<V, TV>(ref y[0], y.Length, shift);
        Assert.Equal(y.Length / V.Count * V.Count, done);
        for (int i = done; i < y.Length; i++) y[i] = MathF.Exp(y[i] - shift);
        check(y, done);
    }

    /// <summary>The transpose of rows <c>ld</c> apart (a head's keys in a packed projection), odd sizes around the 8 × 8 blocks.</summary>
    [Theory]
    [InlineData(1, 1, 1, 0)]
    [InlineData(9, 8, 8, 3)]
    [InlineData(13, 11, 19, 5)]
    [InlineData(64, 32, 384, 128)]
    public void StridedTransposeMatchesTheDefinition(int rows, int cols, int ld, int offset)
    {
        var src = SmallGemmTests.Random(offset + rows * ld, new Rng(rows * 31 + cols));
        var dst = new float[rows * cols];
        RecurrentKernel.TransposeStrided(src, offset, ld, rows, cols, dst);
        for (int q = 0; q < rows; q++)
        {
            for (int p = 0; p < cols; p++) Assert.Equal(src[offset + q * ld + p], dst[p * rows + q]);
        }
        Assert.Throws<ArgumentException>(() => RecurrentKernel.TransposeStrided(src, offset, ld, rows, cols, new float[rows * cols - 1]));
        Assert.Throws<ArgumentException>(() => RecurrentKernel.TransposeStrided(src, offset + ld - cols + 1, ld, rows, cols, dst));
    }

    /// <summary>Row lengths around the vector widths (8 and 16 floats) for the softmax row tests.</summary>
    public static IEnumerable<object[]> RowLengths() => new[] { 1, 7, 8, 13, 64, 67 }.Select(n => new object[] { n });

    /// <summary>
    /// The softmax rows with their own maximum and scaling loops (session 21) against the <c>TensorPrimitives</c> sequence they
    /// replaced (Max, the shifted exp, Sum, Multiply by the reciprocal), bit for bit; odd lengths around the vector widths, with
    /// masked (−∞) entries, an all-masked row, +∞, NaN, and ±0 as the maximum.
    /// </summary>
    [Theory]
    [MemberData(nameof(RowLengths))]
    public void SoftmaxRowsEqualTheTensorPrimitivesSequence(int count)
    {
        var rng = new Rng(count * 3 + 1);
        var cases = new List<float[]>();
        for (int c = 0; c < 7; c++)
        {
            var x = SmallGemmTests.Random(count, rng);
            for (int i = 0; i < count; i++) x[i] *= 8f;
            switch (c)
            {
                case 1: for (int i = 0; i < count; i += 3) x[i] = float.NegativeInfinity; break;   // masked keys
                case 2: Array.Fill(x, float.NegativeInfinity); break;                              // all masked: NaN
                case 3: x[count / 2] = float.PositiveInfinity; break;
                case 4: x[count - 1] = float.NaN; break;
                case 5: for (int i = 0; i < count; i++) x[i] = -Math.Abs(x[i]) - 1f; x[0] = -0f; x[count - 1] = 0f; break;   // ±0 the maximum
                case 6: for (int i = 0; i < count; i++) x[i] = -Math.Abs(x[i]) - 1f; x[count - 1] = -0f; break;
            }
            cases.Add(x);
        }
        foreach (var x in cases)
        {
            var expected = (float[])x.Clone();
            float m = System.Numerics.Tensors.TensorPrimitives.Max<float>(expected);
            if (float.IsInfinity(m)) m = 0;
            AttentionKernel.ExpShifted(expected, m);
            System.Numerics.Tensors.TensorPrimitives.Multiply(expected, 1f / System.Numerics.Tensors.TensorPrimitives.Sum<float>(expected), expected);
            var actual = (float[])x.Clone();
            AttentionKernel.SoftmaxRow(actual);
            AssertSameBits(expected, actual, $"softmax of [{string.Join(", ", x)}]");
        }
    }

    /// <summary>
    /// The softmax's backward row as one loop (session 21) against the <c>TensorPrimitives</c> sequence it replaced (Dot,
    /// Subtract, Multiply by y, Multiply by the scale), bit for bit, odd lengths, with zero probabilities (masked keys).
    /// </summary>
    [Theory]
    [MemberData(nameof(RowLengths))]
    public void SoftmaxBackwardRowsEqualTheTensorPrimitivesSequence(int count)
    {
        var rng = new Rng(count * 5 + 2);
        var y = SmallGemmTests.Random(count, rng);
        for (int i = 0; i < count; i++) y[i] = Math.Abs(y[i]);
        for (int i = 0; i < count; i += 4) y[i] = 0f;
        var g = SmallGemmTests.Random(count, rng);
        const float scale = 0.1767767f;
        var expected = (float[])g.Clone();
        float dot = System.Numerics.Tensors.TensorPrimitives.Dot<float>(expected, y);
        System.Numerics.Tensors.TensorPrimitives.Subtract(expected, dot, expected);
        System.Numerics.Tensors.TensorPrimitives.Multiply(expected, y, expected);
        System.Numerics.Tensors.TensorPrimitives.Multiply(expected, scale, expected);
        var actual = (float[])g.Clone();
        AttentionKernel.SoftmaxBackwardRow(y, actual, scale);
        AssertSameBits(expected, actual, "softmax backward");
    }

    /// <summary>Equal bits element by element (any NaN equals any NaN).</summary>
    private static void AssertSameBits(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            if (float.IsNaN(expected[i]) && float.IsNaN(actual[i])) continue;
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"{what}: element {i} of {expected.Length} is {actual[i]}, expected {expected[i]}");
        }
    }

    [Fact]
    public void ATooSmallProbabilityArrayIsRejected()
    {
        var data = new float[2 * 4 * 3 * 2];
        var rows = new HeadRows(data, 0, 4 * 6, 6);
        var ex = Assert.Throws<ArgumentException>(() => AttentionKernel.Forward(2, 2, 4, 4, 1, 1f, rows, rows, rows, new float[10], rows));
        Assert.Contains("probabilities need 64", ex.Message);
    }

    /// <summary>
    /// The naive reference in double, head by head: P = softmax(scale·q·kᵀ) against <paramref name="probs"/>, C = P·v against
    /// <paramref name="context"/>, and the backward gq = gS·k, gk = gSᵀ·q, gv = Pᵀ·gC with gS = P∘(gC·vᵀ − rowsum)·scale.
    /// AttentionHeadKernelTests checks the head kernels with it too.
    /// </summary>
    internal static void AssertMatchesNaive(int n, int heads, int l, int s, int d, double scale, HeadRows q, HeadRows k, HeadRows v, float[] probs,
        HeadRows context, HeadRows gContext, HeadRows gq, HeadRows gk, HeadRows gv)
    {
        for (int b = 0; b < n; b++)
        {
            for (int h = 0; h < heads; h++)
            {
                double At(HeadRows r, int pos, int f) => r.Data[r.Offset + b * r.BatchStride + pos * r.StepStride + h * d + f];
                // forward: P = softmax(scale·q·kᵀ), C = P·v
                var p = new double[l, s];
                for (int i = 0; i < l; i++)
                {
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < s; j++)
                    {
                        double dot = 0;
                        for (int f = 0; f < d; f++) dot += At(q, i, f) * At(k, j, f);
                        p[i, j] = dot * scale;
                        max = Math.Max(max, p[i, j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < s; j++) sum += p[i, j] = Math.Exp(p[i, j] - max);
                    for (int j = 0; j < s; j++)
                    {
                        p[i, j] /= sum;
                        Assert.Equal(p[i, j], probs[((b * heads + h) * l + i) * s + j], 1e-5);
                    }
                    for (int f = 0; f < d; f++)
                    {
                        double c = 0;
                        for (int j = 0; j < s; j++) c += p[i, j] * At(v, j, f);
                        Assert.Equal(c, At(context, i, f), 1e-4);
                    }
                }
                // backward: gP = gC·vᵀ, gS = P∘(gP − rowsum(gP∘P))·scale, gq = gS·k, gk = gSᵀ·q, gv = Pᵀ·gC
                var gs = new double[l, s];
                for (int i = 0; i < l; i++)
                {
                    double rowDot = 0;
                    for (int j = 0; j < s; j++)
                    {
                        double gp = 0;
                        for (int f = 0; f < d; f++) gp += At(gContext, i, f) * At(v, j, f);
                        gs[i, j] = gp;
                        rowDot += gp * p[i, j];
                    }
                    for (int j = 0; j < s; j++) gs[i, j] = p[i, j] * (gs[i, j] - rowDot) * scale;
                }
                for (int f = 0; f < d; f++)
                {
                    for (int i = 0; i < l; i++)
                    {
                        double g = 0;
                        for (int j = 0; j < s; j++) g += gs[i, j] * At(k, j, f);
                        Assert.Equal(g, At(gq, i, f), 1e-4);
                    }
                    for (int j = 0; j < s; j++)
                    {
                        double gK = 0, gV = 0;
                        for (int i = 0; i < l; i++)
                        {
                            gK += gs[i, j] * At(q, i, f);
                            gV += p[i, j] * At(gContext, i, f);
                        }
                        Assert.Equal(gK, At(gk, j, f), 1e-4);
                        Assert.Equal(gV, At(gv, j, f), 1e-4);
                    }
                }
            }
        }
    }
}
