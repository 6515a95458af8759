using System.Runtime.Intrinsics;
using SharpGrad.Kernels;
using SharpGrad.Optimizers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The batch-1 kernels (Gemm.Gemv*.cs) and the SGD update's vector loop are defined once and instantiated for 512-bit
/// (AVX-512) and 256-bit (AVX2) vectors; each instantiation runs on any machine (a width the machine lacks is emulated), so
/// both are checked here against the naive sums in double (the SGD loop against the scalar update, bit for bit), on odd
/// sizes: partial panels, k not a multiple of a vector, outputs past the last whole block of vectors.
/// </summary>
public class GemvVectorWidthTests
{
    private const int Panel = 64;

    /// <summary>W [n, k] as the packed copy lays it out: panels of 64 columns, each [k][64], the columns past n zero.</summary>
    private static float[] Pack(float[] w, int n, int k, int start)
    {
        int panels = (n + Panel - 1) / Panel;
        var packed = new float[start + panels * Panel * k];
        for (int j = 0; j < n; j++)
            for (int p = 0; p < k; p++)
                packed[start + (j / Panel) * Panel * k + p * Panel + j % Panel] = w[j * k + p];
        return packed;
    }

    [Theory]
    [InlineData(64, 1)]
    [InlineData(65, 45)]
    [InlineData(130, 129)]
    [InlineData(257, 785)]
    [InlineData(100, 2)]
    public void PackedPanelsOfBothWidthsMatchNaive(int n, int k)
    {
        CheckPanels<Gemm.Simd512<float>, Vector512<float>>(n, k);
        CheckPanels<Gemm.Simd256<float>, Vector256<float>>(n, k);
    }

    private static void CheckPanels<V, TV>(int n, int k) where V : struct, Gemm.ISimd<TV, float> where TV : struct
    {
        var rng = new Rng(n * 7 + k + V.Count);
        int xOff = 3, yOff = 2, start = 5;
        var w = SmallGemmTests.Random(n * k, rng);
        var x = SmallGemmTests.Random(xOff + k, rng);
        var bias = SmallGemmTests.Random(n, rng);
        var packed = Pack(w, n, k, start);
        int panels = (n + Panel - 1) / Panel;
        var expected = new float[n];
        for (int j = 0; j < n; j++)
        {
            double s = bias[j];
            for (int p = 0; p < k; p++) s += (double)x[xOff + p] * w[j * k + p];
            expected[j] = (float)Math.Max(0, s);
        }
        float[]? first = null;
        foreach (bool reverse in new[] { false, true })
        {
            var y = Enumerable.Repeat(float.NaN, yOff + n + 3).ToArray();
            var epi = new Epi<float>(bias, 0, null, 0, 0, relu: true);
            Gemm.PackedRowPanels<V, TV>(x, xOff, packed, start, k, n, y, yOff, epi, 0, panels, reverse);
            string what = $"{V.Count}-float vectors, n={n} k={k} reverse={reverse}";
            TensorAssert.Close(expected, y[yOff..(yOff + n)], 1e-4, 1e-4, what);
            Assert.True(float.IsNaN(y[0]) && float.IsNaN(y[1]) && y[(yOff + n)..].All(float.IsNaN), $"{what}: wrote outside y[{yOff}..{yOff + n})");
            if (first is null) first = y;
            else Assert.Equal(first, y);   // the order of the panels never changes the bits
        }
    }

    [Theory]
    [InlineData(1, 1, false)]
    [InlineData(33, 7, true)]
    [InlineData(64, 17, false)]
    [InlineData(64, 129, true)]
    [InlineData(45, 200, true)]
    [InlineData(64, 128, false)]
    public void RowsTimesMatrixOfBothWidthsMatchesNaive(int rows, int n, bool skipZeros)
    {
        CheckRowsTimesMatrix<Gemm.Simd512<float>, Vector512<float>>(rows, n, skipZeros);
        CheckRowsTimesMatrix<Gemm.Simd256<float>, Vector256<float>>(rows, n, skipZeros);
    }

    private static void CheckRowsTimesMatrix<V, TV>(int rows, int n, bool skipZeros) where V : struct, Gemm.ISimd<TV, float> where TV : struct
    {
        var rng = new Rng(rows * 11 + n + V.Count);
        int aOff = 4, b0 = 3, bOff = 1, outOff = 2;
        var a = SmallGemmTests.Random(aOff + rows, rng);
        for (int r = 0; r < rows; r += 3) a[aOff + r] = 0f;   // what a ReLU leaves (skipped with skipZeros)
        var b = SmallGemmTests.Random(bOff + (b0 + rows) * n, rng);
        var outs = Enumerable.Repeat(float.NaN, outOff + n + 2).ToArray();
        Gemm.RowsTimesMatrix<V, TV>(a, aOff, b, bOff, b0, rows, n, outs, outOff, skipZeros);
        var expected = new float[n];
        for (int j = 0; j < n; j++)
        {
            double s = 0;
            for (int r = 0; r < rows; r++) s += (double)a[aOff + r] * b[bOff + (b0 + r) * n + j];
            expected[j] = (float)s;
        }
        string what = $"{V.Count}-float vectors, rows={rows} n={n} skipZeros={skipZeros}";
        TensorAssert.Close(expected, outs[outOff..(outOff + n)], 1e-4, 1e-4, what);
        Assert.True(outs[..outOff].All(float.IsNaN) && outs[(outOff + n)..].All(float.IsNaN), $"{what}: wrote outside the output");
    }

    [Theory]
    [InlineData(1, 16)]
    [InlineData(8, 17)]
    [InlineData(13, 45)]
    [InlineData(37, 785)]
    [InlineData(10, 128)]
    public void RowKernelOfBothWidthsMatchesNaive(int n, int k)
    {
        CheckRowKernel<Gemm.Simd512<float>, Vector512<float>>(n, k);
        CheckRowKernel<Gemm.Simd256<float>, Vector256<float>>(n, k);
    }

    private static void CheckRowKernel<V, TV>(int n, int k) where V : struct, Gemm.ISimd<TV, float> where TV : struct
    {
        var rng = new Rng(n * 13 + k + V.Count);
        int ldb = k + 3, aOff = 5, bOff = 2, cOff = 3, j0 = n > 8 ? 1 : 0;
        const float alpha = 0.5f;
        var a = SmallGemmTests.Random(aOff + k, rng);
        var b = SmallGemmTests.Random(bOff + n * ldb, rng);
        var c = SmallGemmTests.Random(cOff + n + 4, rng);
        var expected = (float[])c.Clone();
        for (int j = j0; j < n; j++)
        {
            double s = 0;
            for (int p = 0; p < k; p++) s += (double)a[aOff + p] * b[bOff + j * ldb + p];
            expected[cOff + j] = (float)(c[cOff + j] + alpha * s);
        }
        Gemm.RowGemvRange<float, V, TV>(k, alpha, a, aOff, b, bOff, ldb, c, cOff, default, j0, n);
        TensorAssert.Close(expected, c, 1e-4, 1e-4, $"{V.Count}-float vectors, n={n} k={k} columns [{j0}, {n})");
    }

    [Theory]
    [InlineData(37, 0.0, 0.0, 0.0, false, false, true)]
    [InlineData(37, 0.9, 0.0, 0.0, false, false, false)]
    [InlineData(101, 0.9, 0.25, 1e-2, false, true, false)]
    [InlineData(67, 0.5, 0.0, 1e-3, true, false, false)]
    [InlineData(67, 0.5, 0.0, 1e-3, true, true, true)]
    public void SgdVectorLoopOfBothWidthsEqualsTheScalarUpdate(int size, double momentum, double dampening, double weightDecay, bool nesterov, bool maximize, bool first)
    {
        CheckSgd<Gemm.Simd512<float>, Vector512<float>>(size, momentum, dampening, weightDecay, nesterov, maximize, first);
        CheckSgd<Gemm.Simd256<float>, Vector256<float>>(size, momentum, dampening, weightDecay, nesterov, maximize, first);
    }

    private static void CheckSgd<V, TV>(int size, double momentum, double dampening, double weightDecay, bool nesterov, bool maximize, bool first)
        where V : struct, Gemm.ISimd<TV, float> where TV : struct
    {
        var rng = new Rng(size + V.Count);
        var p = SmallGemmTests.Random(size, rng);
        var g = SmallGemmTests.Random(size, rng);
        var buf = SmallGemmTests.Random(size, rng);
        p[1] = -0f; g[1] = 0f;   // signed zeros keep their sign as in the scalar update
        var (pe, be) = ((float[])p.Clone(), (float[])buf.Clone());
        float lr = 0.1f, mom = (float)momentum, damp = (float)(1 - dampening), wd = (float)weightDecay;
        bool hasMomentum = momentum != 0, hasWd = weightDecay != 0;
        int done = Sgd.VectorKernel<float, V, TV>(p, g, buf, first, lr, mom, damp, wd, hasMomentum, hasWd, nesterov, maximize);
        Assert.Equal(size - size % V.Count, done);
        for (int i = 0; i < done; i++)
        {
            float d = maximize ? -g[i] : g[i];
            if (hasWd) d += wd * pe[i];
            if (hasMomentum)
            {
                float bb = first ? d : mom * be[i] + damp * d;
                be[i] = bb;
                d = nesterov ? d + mom * bb : bb;
            }
            pe[i] -= lr * d;
        }
        string what = $"{V.Count}-float vectors, size={size}";
        Assert.True(pe.AsSpan().SequenceEqual(p), $"{what}: parameters differ from the scalar update");
        Assert.True(be.AsSpan().SequenceEqual(buf), $"{what}: momentum buffers differ from the scalar update");
    }
}
