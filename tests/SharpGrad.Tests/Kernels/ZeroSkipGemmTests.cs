using System.Runtime.Intrinsics;
using SharpGrad;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The zero-skipping product (<c>Gemm.TrySgemmSkipZeros</c>, Gemm.ZeroSkip.cs) at both vector widths against the dense FMA
/// chain over every term (zeros included), element by element: skipping exact zeros of A must give the same values. Odd
/// sizes, offsets and leading dimensions larger than the rows, both layouts of A, overwrite and accumulate, 0/50/90/100 %
/// zeros; a NaN or ±Inf in B must take the dense path (0·NaN is NaN, as in PyTorch), a NaN in A is kept.
/// </summary>
public class ZeroSkipGemmTests
{
    public static IEnumerable<object[]> Cases()
    {
        // [70, 256, 64] and [33, 512, 131]: C's columns in 12-vector blocks of unequal widths (11 + 11 + 10, 11 × 4 + 10 × 2 at
        // 256 bits), k in one k-block and in two (the second row block's chain carried through C)
        // [37, 130, 600], [9, 70, 513], [21, 128, 1024]: k over several of the dense kernels' 256-term blocks (the chain restarted
        // at each and added to C, the panels between restarts carried), a short last block, columns past the last vector;
        // [7, 390, 300]: 12-vector blocks over k-blocks rounded up to 128 rows (a panel larger than SkipZerosPanelBytes)
        // [2, 128, 300], [64, 128, 512], [11, 256, 70], [1, 128, 40]: two rows at a time (BlockPair: blocks of ≤ 8 vectors, n = 128
        // at 256 bits in 6 + 5 + 5, n = 256 at 512 bits in 8 + 8; an odd last row alone; the feed-forward block's shape over two
        // restarts), and a single row (no partner)
        int[][] shapes = [[5, 7, 3], [13, 33, 17], [67, 100, 63], [6, 200, 9], [256, 784, 64], [64, 256, 128], [3, 9, 130], [70, 256, 64], [33, 512, 131],
            [37, 130, 600], [9, 70, 513], [21, 128, 1024], [7, 390, 300], [2, 128, 300], [64, 128, 512], [11, 256, 70], [1, 128, 40]];
        foreach (var s in shapes)
            foreach (double zeros in new[] { 0.0, 0.5, 0.9, 1.0 })
                yield return [s[0], s[1], s[2], zeros];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BothVectorWidthsEqualTheDenseChain(int m, int n, int k, double zeros)
    {
        foreach (bool transA in new[] { false, true })
            foreach (bool accumulate in new[] { false, true })
            {
                Check<Gemm.Simd512<float>, Vector512<float>>(m, n, k, zeros, transA, accumulate);
                Check<Gemm.Simd256<float>, Vector256<float>>(m, n, k, zeros, transA, accumulate);
            }
    }

    private static void Check<V, TV>(int m, int n, int k, double zeros, bool transA, bool accumulate)
        where V : struct, Gemm.ISimd<TV, float> where TV : struct
    {
        var rng = new Rng(m * 7919 + n * 31 + k + (int)(zeros * 100) + (transA ? 1 : 0) + (accumulate ? 2 : 0) + V.Count);
        int lda = (transA ? m : k) + 3, ldb = n + 5, ldc = n + 2, aOff = 4, bOff = 1, cOff = 3;
        var a = Sparse((transA ? k : m) * lda + aOff, zeros, rng);
        var b = SmallGemmTests.Random(k * ldb + bOff, rng);
        var c = SmallGemmTests.Random(m * ldc + cOff + 1, rng);
        var expected = (float[])c.Clone();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                expected[cOff + i * ldc + j] = DenseChain(c[cOff + i * ldc + j], k, accumulate,
                    p => transA ? a[aOff + p * lda + i] : a[aOff + i * lda + p], p => b[bOff + p * ldb + j]);
            }
        bool done = Gemm.TrySgemmSkipZeros<V, TV>(transA, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate, allowParallel: true, maxDensity: 1f);
        Assert.True(done);
        for (int e = 0; e < c.Length; e++)
        {
            if (c[e] != expected[e])
            {
                Assert.Fail($"{V.Count}-lane skip product m={m} n={n} k={k} zeros={zeros} transA={transA} accumulate={accumulate}: " +
                            $"element {e} is {c[e]:R}, the dense chain {expected[e]:R}");
            }
        }
    }

    /// <summary>
    /// The epilogue (bias, residual, ReLU) applied by the skipping kernel to each finished row of a block of C's columns
    /// equals the dense chain (restarted every 256 terms) followed by the epilogue, bit for bit, at both vector widths:
    /// one and several k-blocks, columns past the last whole vector (the scalar tail), overwrite and accumulate.
    /// </summary>
    [Theory]
    [InlineData(19, 130, 300, false, false)]
    [InlineData(19, 130, 300, true, true)]
    [InlineData(40, 77, 150, true, false)]
    [InlineData(8, 128, 531, false, true)]
    public void EpilogueOfEachFinishedRowEqualsTheDenseChainThenTheEpilogue(int m, int n, int k, bool relu, bool accumulate)
    {
        CheckEpilogue<Gemm.Simd256<float>, Vector256<float>>(m, n, k, relu, accumulate);
        CheckEpilogue<Gemm.Simd512<float>, Vector512<float>>(m, n, k, relu, accumulate);
    }

    private static void CheckEpilogue<V, TV>(int m, int n, int k, bool relu, bool accumulate) where V : struct, Gemm.ISimd<TV, float> where TV : struct
    {
        var rng = new Rng(m * 17 + n * 3 + k + V.Count + (relu ? 5 : 0));
        int ldc = n + 3, cOff = 2, biasOff = 1, resOff = 4, resLd = n + 1;
        var a = Sparse(m * k, 0.5, rng);
        var b = SmallGemmTests.Random(k * n, rng);
        var c = SmallGemmTests.Random(cOff + m * ldc, rng);
        var bias = SmallGemmTests.Random(n + biasOff, rng);
        var residual = SmallGemmTests.Random(resOff + m * resLd, rng);
        var expected = (float[])c.Clone();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float e = DenseChain(c[cOff + i * ldc + j], k, accumulate, p => a[i * k + p], p => b[p * n + j]);
                e += bias[biasOff + j];
                e += residual[resOff + i * resLd + j];
                if (relu && e < 0f) e = 0f;
                expected[cOff + i * ldc + j] = e;
            }
        var epi = new GemmEpilogue(bias, biasOff, residual, resOff, resLd, relu ? GemmActivation.Relu : GemmActivation.None).ToEpi();
        Assert.True(Gemm.TrySgemmSkipZeros<V, TV>(false, m, n, k, a, 0, k, b, 0, n, c, cOff, ldc, accumulate, allowParallel: true, 1f, epi: epi));
        for (int e = 0; e < c.Length; e++)
        {
            if (BitConverter.SingleToInt32Bits(c[e]) != BitConverter.SingleToInt32Bits(expected[e]))
                Assert.Fail($"{V.Count}-lane skip product with epilogue m={m} n={n} k={k} relu={relu} accumulate={accumulate}: element {e} is {c[e]:R}, expected {expected[e]:R}");
        }
    }

    /// <summary>
    /// Two rows at a time (BlockPair) where one row of each pair has the longer list in every k-block — the even rows' or the
    /// odd rows' (the kernel then walks the pair with the rows' roles swapped, session 22) — and an odd last row alone: each
    /// element equals the dense chain (restarted every 256 terms) followed by the row's epilogue (bias, its own residual row,
    /// ReLU), bit for bit, at both vector widths, overwritten and accumulated, the rows' roles swapped in some k-blocks only too.
    /// </summary>
    [Theory]
    [InlineData(9, 128, 600, 0.9, 0.1)]
    [InlineData(9, 128, 600, 0.1, 0.9)]
    [InlineData(10, 130, 300, 0.5, 0.5)]
    [InlineData(7, 256, 520, 1.0, 0.3)]
    [InlineData(6, 96, 257, 0.3, 1.0)]
    public void PairsWithTheLongerListInEitherRowEqualTheDenseChain(int m, int n, int k, double evenZeros, double oddZeros)
    {
        foreach (bool accumulate in new[] { false, true })
        {
            CheckPairs<Gemm.Simd256<float>, Vector256<float>>(m, n, k, evenZeros, oddZeros, accumulate);
            CheckPairs<Gemm.Simd512<float>, Vector512<float>>(m, n, k, evenZeros, oddZeros, accumulate);
        }
    }

    private static void CheckPairs<V, TV>(int m, int n, int k, double evenZeros, double oddZeros, bool accumulate)
        where V : struct, Gemm.ISimd<TV, float> where TV : struct
    {
        var rng = new Rng(m * 131 + n * 7 + k + V.Count + (accumulate ? 3 : 0) + (int)(evenZeros * 10));
        int ldc = n + 1, cOff = 5, resLd = n + 2;
        var a = new float[m * k];
        for (int i = 0; i < m; i++) Sparse(k, i % 2 == 0 ? evenZeros : oddZeros, rng).CopyTo(a, i * k);
        var b = SmallGemmTests.Random(k * n, rng);
        var c = SmallGemmTests.Random(cOff + m * ldc, rng);
        var bias = SmallGemmTests.Random(n, rng);
        var residual = SmallGemmTests.Random(m * resLd, rng);
        var expected = (float[])c.Clone();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float e = DenseChain(c[cOff + i * ldc + j], k, accumulate, p => a[i * k + p], p => b[p * n + j]);
                e += bias[j];
                e += residual[i * resLd + j];
                expected[cOff + i * ldc + j] = e < 0f ? 0f : e;
            }
        var epi = new GemmEpilogue(bias, 0, residual, 0, resLd, GemmActivation.Relu).ToEpi();
        Assert.True(Gemm.TrySgemmSkipZeros<V, TV>(false, m, n, k, a, 0, k, b, 0, n, c, cOff, ldc, accumulate, allowParallel: true, 1f, epi: epi));
        for (int e = 0; e < c.Length; e++)
        {
            if (BitConverter.SingleToInt32Bits(c[e]) != BitConverter.SingleToInt32Bits(expected[e]))
                Assert.Fail($"{V.Count}-lane skip product of pairs m={m} n={n} k={k} zeros {evenZeros}/{oddZeros} accumulate={accumulate}: element {e} (row {(e - cOff) / ldc}) is {c[e]:R}, expected {expected[e]:R}");
        }
    }

    /// <summary>
    /// The dense kernels' chain for one element of C: from +0 over every term of each 256-term block in order, each block's
    /// chain added to <paramref name="c"/> (the first written instead unless accumulating).
    /// </summary>
    private static float DenseChain(float c, int k, bool accumulate, Func<int, float> a, Func<int, float> b)
    {
        float e = c;
        for (int p0 = 0; p0 < k; p0 += 256)
        {
            float s = 0f;
            for (int p = p0; p < Math.Min(k, p0 + 256); p++) s = MathF.FusedMultiplyAdd(a(p), b(p), s);
            e = p0 == 0 && !accumulate ? s : e + s;
        }
        return e;
    }

    internal static float[] Sparse(int length, double zeros, Rng rng)
    {
        var v = SmallGemmTests.Random(length, rng);
        for (int i = 0; i < length; i++)
        {
            if (rng.NextDouble() < zeros) v[i] = 0f;
        }
        return v;
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteBTakesTheDensePath(float bad)
    {
        // A is all zeros where B's bad row is multiplied: skipping would drop 0·NaN, which must give NaN.
        int m = 9, n = 24, k = 11;
        var rng = new Rng(5);
        var a = Sparse(m * k, 0.5, rng);
        for (int i = 0; i < m; i++) a[i * k + 4] = 0f;
        var b = SmallGemmTests.Random(k * n, rng);
        b[4 * n + 17] = bad;
        var c = new float[m * n];
        Assert.False(Gemm.TrySgemmSkipZeros<Gemm.Simd256<float>, Vector256<float>>(false, m, n, k, a, 0, k, b, 0, n, c, 0, n, false, false, 1f));
        Assert.False(Gemm.TrySgemmSkipZeros<Gemm.Simd512<float>, Vector512<float>>(false, m, n, k, a, 0, k, b, 0, n, c, 0, n, false, false, 1f));
        Assert.All(c, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void NaNInATurnsItsRowNaN()
    {
        int m = 4, n = 16, k = 5;
        var rng = new Rng(9);
        var a = Sparse(m * k, 0.5, rng);
        a[2 * k + 1] = float.NaN;
        var b = SmallGemmTests.Random(k * n, rng);
        var c = new float[m * n];
        Assert.True(Gemm.TrySgemmSkipZeros(false, m, n, k, a, 0, k, b, 0, n, c, 0, n, false, false, 1f));
        for (int j = 0; j < n; j++) Assert.True(float.IsNaN(c[2 * n + j]));
        for (int j = 0; j < n; j++) Assert.False(float.IsNaN(c[j]));
    }

    [Fact]
    public void DenseAIsLeftToTheDenseKernels()
    {
        int m = 8, n = 16, k = 10;
        var rng = new Rng(3);
        var a = Sparse(m * k, 0.1, rng);
        var b = SmallGemmTests.Random(k * n, rng);
        var c = new float[m * n];
        Assert.False(Gemm.TrySgemmSkipZeros(false, m, n, k, a, 0, k, b, 0, n, c, 0, n, false, false));
        Assert.All(c, v => Assert.Equal(0f, v));
    }

    /// <summary>
    /// An eager Linear large enough for the skipping products (64×300→256), whose output gradient is 60 % zeros (what a
    /// ReLU passes back) and whose input holds a NaN or ±Inf in a row whose gradient is all zero: the weight gradient's
    /// column of that input feature is NaN in every row, as PyTorch's dense product gives (0·NaN = NaN); the other
    /// columns equal gᵀ·x.
    /// </summary>
    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void LinearWeightGradientKeepsNaNOfZeroTimesNonFinite(float bad)
    {
        int rows = 64, inF = 300, outF = 256;
        var rng = new Rng(11);
        var xv = SmallGemmTests.Random(rows * inF, rng);
        xv[2 * inF + 5] = bad;
        var gv = Sparse(rows * outF, 0.6, rng);
        for (int j = 0; j < outF; j++) gv[2 * outF + j] = 0f;   // the bad row's gradient is all zero
        var dw = WeightGrad(xv, gv, rows, inF, outF, rng);
        for (int j = 0; j < outF; j++)
        {
            Assert.True(float.IsNaN(dw[j * inF + 5]), $"dW[{j}, 5] = {dw[j * inF + 5]}: 0·{bad} must give NaN");
        }
        CheckWeightGrad(xv, gv, dw, rows, inF, outF, skipColumn: 5);
    }

    /// <summary>
    /// MNIST-like input (80 % zeros): the weight gradient runs as (xᵀ·g)ᵀ skipping x's zeros and equals gᵀ·x; a NaN in g
    /// (whose row of x is mostly zeros) makes that gradient row NaN everywhere, as the dense product does.
    /// </summary>
    [Fact]
    public void LinearWeightGradientOverSparseInput()
    {
        int rows = 64, inF = 784, outF = 100;
        var rng = new Rng(12);
        var xv = Sparse(rows * inF, 0.8, rng);
        var gv = SmallGemmTests.Random(rows * outF, rng);
        CheckWeightGrad(xv, gv, WeightGrad(xv, gv, rows, inF, outF, rng), rows, inF, outF, skipColumn: -1);
        gv[3 * outF + 7] = float.NaN;
        var dw = WeightGrad(xv, gv, rows, inF, outF, rng);
        for (int q = 0; q < inF; q++) Assert.True(float.IsNaN(dw[7 * inF + q]), $"dW[7, {q}] = {dw[7 * inF + q]}: NaN·0 must give NaN");
    }

    /// <summary>
    /// The compiled Linear's weight gradient over a sparse input when the gradient already holds a value (a second backward
    /// without ZeroGrad, accumulate): the skipped product (xᵀ·g, stored transposed) is added to what gW held, not written over it.
    /// </summary>
    [Fact]
    public void LinearWeightGradientOverSparseInputAddsToTheHeldGradient()
    {
        int rows = 64, inF = 784, outF = 100;
        var rng = new Rng(14);
        var xv = Sparse(rows * inF, 0.8, rng);
        var gv = SmallGemmTests.Random(rows * outF, rng);
        var held = SmallGemmTests.Random(outF * inF, rng);
        var gw = (float[])held.Clone();
        Assert.True(Gemm.TryLinearWeightGradSkipZeros(gv, 0, xv, 0, gw, rows, inF, outF, accumulate: true, allowParallel: true),
            "an 80 % sparse input of 64 × 784 into 100 outputs should take the skipping path");
        var added = new float[gw.Length];
        for (int i = 0; i < gw.Length; i++) added[i] = gw[i] - held[i];
        CheckWeightGrad(xv, gv, added, rows, inF, outF, skipColumn: -1);
    }

    /// <summary>An eager Linear's forward on MNIST-like input (80 % zeros, through the skipping forward) equals x·Wᵀ + b.</summary>
    [Fact]
    public void LinearForwardOverSparseInput()
    {
        int rows = 64, inF = 784, outF = 256;
        var rng = new Rng(13);
        var xv = Sparse(rows * inF, 0.8, rng);
        var wv = SmallGemmTests.Random(outF * inF, rng);
        var bv = SmallGemmTests.Random(outF, rng);
        var y = Functional.Linear(Tensor.FromArray(xv, rows, inF), Tensor.FromArray(wv, outF, inF), Tensor.FromArray(bv, outF)).ToArray();
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < outF; j++)
            {
                double s = bv[j];
                for (int q = 0; q < inF; q++) s += (double)xv[r * inF + q] * wv[j * inF + q];
                if (Math.Abs(s - y[r * outF + j]) > 1e-4 * (1 + Math.Abs(s))) Assert.Fail($"y[{r}, {j}] = {y[r * outF + j]}, expected {s}");
            }
    }

    /// <summary>
    /// The skipping forward y = x·Wᵀ on W's own layout (blocks of W's rows transposed into the kernel's panel) at both
    /// vector widths equals, bit for bit, the FMA chain from +0 over every q in order: odd sizes (tail columns past the
    /// last whole vector, a last k-block shorter than 8), rows of x all zero and zeros that are −0.0, offsets, a product
    /// large enough to split over the threads.
    /// </summary>
    [Theory]
    [InlineData(3, 17, 13, 0.8)]
    [InlineData(5, 130, 37, 0.5)]
    [InlineData(7, 9, 200, 0.3)]
    [InlineData(2, 300, 100, 0.9)]
    [InlineData(64, 784, 256, 0.8)]
    [InlineData(128, 785, 300, 0.5)]
    public void ForwardOnTheWeightsLayoutEqualsTheDenseChain(int rows, int inF, int outF, double zeros)
    {
        CheckForward<Gemm.Simd256<float>, Vector256<float>>(rows, inF, outF, zeros);
        CheckForward<Gemm.Simd512<float>, Vector512<float>>(rows, inF, outF, zeros);
    }

    private static void CheckForward<V, TV>(int rows, int inF, int outF, double zeros)
        where V : struct, Gemm.ISimd<TV, float> where TV : struct
    {
        var rng = new Rng(rows * 131 + inF * 7 + outF + V.Count);
        int xOff = 3, wOff = 5, yOff = 2;
        var x = Sparse(rows * inF + xOff, zeros, rng);
        for (int e = 0; e < x.Length; e++)
        {
            if (x[e] == 0f && rng.NextDouble() < 0.5) x[e] = -0f;
        }
        for (int q = 0; q < inF; q++) x[xOff + inF + q] = q % 2 == 0 ? -0f : 0f;   // row 1 all zero
        var w = SmallGemmTests.Random(outF * inF + wOff, rng);
        var y = new float[rows * outF + yOff + 1];
        Array.Fill(y, float.NaN);
        Assert.True(Gemm.LinearSkipZeros<V, TV>(x, xOff, w, wOff, y, yOff, rows, inF, outF, allowParallel: true));
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outF; o++)
            {
                float s = 0f;
                for (int q = 0; q < inF; q++) s = MathF.FusedMultiplyAdd(x[xOff + r * inF + q], w[wOff + o * inF + q], s);
                float got = y[yOff + r * outF + o];
                if (BitConverter.SingleToInt32Bits(got) != BitConverter.SingleToInt32Bits(s))
                    Assert.Fail($"{V.Count}-lane skipping forward rows={rows} inF={inF} outF={outF}: y[{r}, {o}] = {got:R}, the dense chain {s:R}");
            }
        Assert.True(float.IsNaN(y[0]) && float.IsNaN(y[^1]), "the forward wrote outside y");
    }

    /// <summary>
    /// A NaN or ±Inf anywhere in W — in a whole-vector block, in a tail column past the last whole vector, at an input
    /// feature every row of x has zero — makes the skipping forward return false at both widths, so the dense product
    /// (0·NaN = NaN, as in PyTorch) is run instead.
    /// </summary>
    [Theory]
    [InlineData(float.NaN, 3, 40)]
    [InlineData(float.PositiveInfinity, 36, 0)]
    [InlineData(float.NegativeInfinity, 20, 129)]
    [InlineData(float.NaN, 0, 128)]
    public void ForwardWithNonFiniteWeightFails(float bad, int o, int q)
    {
        int rows = 6, inF = 130, outF = 37;
        var rng = new Rng(21 + o + q);
        var x = Sparse(rows * inF, 0.7, rng);
        for (int r = 0; r < rows; r++) x[r * inF + q] = 0f;
        var w = SmallGemmTests.Random(outF * inF, rng);
        w[o * inF + q] = bad;
        Assert.False(Gemm.LinearSkipZeros<Gemm.Simd256<float>, Vector256<float>>(x, 0, w, 0, new float[rows * outF], 0, rows, inF, outF, allowParallel: false));
        Assert.False(Gemm.LinearSkipZeros<Gemm.Simd512<float>, Vector512<float>>(x, 0, w, 0, new float[rows * outF], 0, rows, inF, outF, allowParallel: false));
        // through the Linear entry (64 × 784 → 256, MNIST-like): the dense product's NaN column
        int r2 = 64, i2 = 784, o2 = 256;
        var x2 = Sparse(r2 * i2, 0.85, rng);
        for (int r = 0; r < r2; r++) x2[r * i2 + 700] = 0f;
        var w2 = SmallGemmTests.Random(o2 * i2, rng);
        w2[(o % o2) * i2 + 700] = bad;
        var y2 = Functional.Linear(Tensor.FromArray(x2, r2, i2), Tensor.FromArray(w2, o2, i2)).ToArray();
        for (int r = 0; r < r2; r++) Assert.True(float.IsNaN(y2[r * o2 + o % o2]), $"y[{r}, {o % o2}] = {y2[r * o2 + o % o2]}: 0·{bad} must give NaN");
    }

    /// <summary>
    /// Zeros of A that are −0.0 (and whole rows of them) are skipped like +0.0 and the result equals the dense chain bit for
    /// bit, signs of zero included, at both widths and both layouts of A: a chain from +0 stays +0 over ±0 terms
    /// (+0 + −0 = +0), so a row of zeros gives +0 either way, and x + ±0 = x otherwise.
    /// </summary>
    [Fact]
    public void NegativeZerosOfAAreSkippedBitForBit()
    {
        foreach (bool transA in new[] { false, true })
        {
            CheckNegativeZeros<Gemm.Simd256<float>, Vector256<float>>(transA);
            CheckNegativeZeros<Gemm.Simd512<float>, Vector512<float>>(transA);
        }
    }

    private static void CheckNegativeZeros<V, TV>(bool transA) where V : struct, Gemm.ISimd<TV, float> where TV : struct
    {
        int m = 11, n = 45, k = 70;
        var rng = new Rng(31 + V.Count + (transA ? 1 : 0));
        var a = Sparse(m * k, 0.6, rng);
        for (int e = 0; e < a.Length; e++)
        {
            if (a[e] == 0f && rng.NextDouble() < 0.5) a[e] = -0f;
        }
        for (int p = 0; p < k; p++) a[transA ? p * m + 4 : 4 * k + p] = -0f;   // row 4 of op(A): all −0
        var b = SmallGemmTests.Random(k * n, rng);
        var c = new float[m * n];
        Array.Fill(c, -0f);
        Assert.True(Gemm.TrySgemmSkipZeros<V, TV>(transA, m, n, k, a, 0, transA ? m : k, b, 0, n, c, 0, n, false, false, 1f));
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float s = 0f;
                for (int p = 0; p < k; p++) s = MathF.FusedMultiplyAdd(transA ? a[p * m + i] : a[i * k + p], b[p * n + j], s);
                if (BitConverter.SingleToInt32Bits(c[i * n + j]) != BitConverter.SingleToInt32Bits(s))
                    Assert.Fail($"{V.Count}-lane transA={transA}: C[{i}, {j}] = {c[i * n + j]:R}, the dense chain {s:R}");
            }
    }

    /// <summary>
    /// The product stored transposed (C [n×m], as a weight gradient xᵀ·g is written in the weight's layout) at both vector
    /// widths equals the dense chain over every term bit for bit (zeros that are −0.0 included), for both layouts of A: m
    /// not a multiple of 8 (the tile's transposed edge), n with columns past the last whole vector, k longer than the
    /// 512-bit k-block and not a multiple of 8 (the lists' scalar tail), densities from 10 to 80 % nonzero; the elements
    /// of C before and after the product are left alone.
    /// </summary>
    [Theory]
    [InlineData(784, 256, 64, 0.8)]
    [InlineData(13, 33, 17, 0.5)]
    [InlineData(67, 100, 63, 0.2)]
    [InlineData(9, 45, 130, 0.9)]
    [InlineData(300, 17, 70, 0.75)]
    [InlineData(8, 200, 8, 0.85)]
    [InlineData(100, 128, 200, 0.8)]
    public void TransposedCEqualsTheDenseChain(int m, int n, int k, double zeros)
    {
        foreach (bool transA in new[] { false, true })
        {
            CheckTransposed<Gemm.Simd256<float>, Vector256<float>>(m, n, k, zeros, transA);
            CheckTransposed<Gemm.Simd512<float>, Vector512<float>>(m, n, k, zeros, transA);
        }
    }

    private static void CheckTransposed<V, TV>(int m, int n, int k, double zeros, bool transA) where V : struct, Gemm.ISimd<TV, float> where TV : struct
    {
        var rng = new Rng(m * 131 + n * 7 + k + V.Count + (transA ? 1 : 0));
        int lda = (transA ? m : k) + 2, ldb = n + 3, aOff = 5, bOff = 2, cOff = 7;
        var a = Sparse((transA ? k : m) * lda + aOff, zeros, rng);
        for (int e = 0; e < a.Length; e++)
        {
            if (a[e] == 0f && rng.NextDouble() < 0.3) a[e] = -0f;
        }
        var b = SmallGemmTests.Random(k * ldb + bOff, rng);
        var c = SmallGemmTests.Random(cOff + n * m + 4, rng);
        var before = (float[])c.Clone();
        Assert.True(Gemm.TrySgemmSkipZeros<V, TV>(transA, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, m, false, allowParallel: true, 1f, transC: true));
        for (int e = 0; e < c.Length; e++)
        {
            if (e >= cOff && e < cOff + n * m) continue;
            Assert.True(BitConverter.SingleToInt32Bits(c[e]) == BitConverter.SingleToInt32Bits(before[e]), $"C[{e}] outside the product was changed");
        }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float s = 0f;
                for (int p = 0; p < k; p++) s = MathF.FusedMultiplyAdd(transA ? a[aOff + p * lda + i] : a[aOff + i * lda + p], b[bOff + p * ldb + j], s);
                float got = c[cOff + j * m + i];
                if (BitConverter.SingleToInt32Bits(got) != BitConverter.SingleToInt32Bits(s))
                    Assert.Fail($"{V.Count}-lane transposed m={m} n={n} k={k} zeros={zeros} transA={transA}: C[{i}, {j}] = {got:R}, the dense chain {s:R}");
            }
    }

    /// <summary>
    /// A NaN or ±Inf of B in a column inside a vector block or in the tail past the last whole vector: the transposed
    /// product refuses (false) at both widths, so the caller runs the dense product, which keeps 0·NaN = NaN.
    /// </summary>
    [Theory]
    [InlineData(float.NaN, 3)]
    [InlineData(float.PositiveInfinity, 32)]
    [InlineData(float.NaN, 34)]
    public void TransposedCWithNonFiniteBRefuses(float bad, int column)
    {
        int m = 40, n = 35, k = 20;
        var rng = new Rng(77);
        var a = Sparse(k * m, 0.8, rng);
        var b = SmallGemmTests.Random(k * n, rng);
        b[7 * n + column] = bad;
        Assert.False(Gemm.TrySgemmSkipZeros<Gemm.Simd256<float>, Vector256<float>>(true, m, n, k, a, 0, m, b, 0, n, new float[n * m], 0, m, false, true, 1f, transC: true));
        Assert.False(Gemm.TrySgemmSkipZeros<Gemm.Simd512<float>, Vector512<float>>(true, m, n, k, a, 0, m, b, 0, n, new float[n * m], 0, m, false, true, 1f, transC: true));
    }

    private static float[] WeightGrad(float[] xv, float[] gv, int rows, int inF, int outF, Rng rng)
    {
        var x = Tensor.FromArray(xv, rows, inF);
        var w = Tensor.FromArray(SmallGemmTests.Random(outF * inF, rng), outF, inF).RequiresGrad_();
        Functional.Linear(x, w).Backward(Tensor.FromArray(gv, rows, outF));
        return w.Grad!.ToArray();
    }

    private static void CheckWeightGrad(float[] xv, float[] gv, float[] dw, int rows, int inF, int outF, int skipColumn)
    {
        for (int j = 0; j < outF; j++)
            for (int q = 0; q < inF; q++)
            {
                if (q == skipColumn) continue;
                double s = 0;
                for (int r = 0; r < rows; r++) s += (double)gv[r * outF + j] * xv[r * inF + q];
                if (Math.Abs(s - dw[j * inF + q]) > 1e-4 * (1 + Math.Abs(s))) Assert.Fail($"dW[{j}, {q}] = {dw[j * inF + q]}, expected {s}");
            }
    }
}
