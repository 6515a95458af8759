using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The zero-skipping product's lists (Gemm.ZeroSkip.cs): <c>Gemm.ListRows</c> (sixteen elements at a time with AVX-512,
/// eight with AVX2, then one by one) and <c>Gemm.ListColumns8</c> (eight of A's columns transposed in registers and listed)
/// against lists built element by element: each row's nonzero values (NaN and ±Inf kept, ±0 skipped) and their p in order,
/// (ListRows: the rows' lists one after the other; ListColumns8: each row's from slot i·k), and the ends per k-block. Odd k (a k-block ending inside an eight or sixteen, a short last block), k-blocks
/// of 8, 24 and 64, offsets and row strides larger than the rows. With DOTNET_EnableAVX512=0 ListRows runs its eight-lane loop.
/// </summary>
public class ZeroSkipListsTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (int k in new[] { 1, 5, 8, 16, 24, 31, 33, 64, 100, 130 })
            foreach (int kb in new[] { 8, 24, 64 })
                foreach (double zeros in new[] { 0.0, 0.5, 1.0 })
                    yield return [k, kb, zeros];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RowListsEqualTheElementwiseLists(int k, int kb, double zeros)
    {
        const int m = 11, i0 = 2, i1 = 9;
        var rng = new Rng(k * 131 + kb * 7 + (int)(zeros * 10));
        int lda = k + 3, aOff = 5;
        var a = Matrix(m * lda + aOff, zeros, rng);
        int nkb = (k + kb - 1) / kb;
        // the rows' lists one after the other from slot i0·s (s = k, or k + 16 as a transposed product lists them)
        foreach (int s in new[] { k, k + 16 })
        {
            var (values, rows, ends) = (new float[m * s], new int[m * s], new int[m * (nkb + 1)]);
            long count = Gemm.ListRows(a, aOff, lda, i0, i1, k, kb, nkb, values, rows, ends, s);
            int start = i0 * s;
            for (int i = i0; i < i1; i++) start = CheckRow(i, start, k, kb, nkb, p => a[aOff + i * lda + p], values, rows, ends, "ListRows");
            Assert.Equal(start - i0 * s, count);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ColumnListsEqualTheElementwiseLists(int k, int kb, double zeros)
    {
        const int m = 24;
        var rng = new Rng(k * 137 + kb * 11 + (int)(zeros * 10));
        int lda = m + 3, aOff = 4;
        var a = Matrix(k * lda + aOff, zeros, rng);
        int nkb = (k + kb - 1) / kb;
        // each row's list from slot i·s (s = k, or k + 16 as a transposed product lists them)
        foreach (int s in new[] { k, k + 16 })
        {
            var (values, rows, ends) = (new float[m * s], new int[m * s], new int[m * (nkb + 1)]);
            foreach (int i0 in new[] { 0, 8, 16 })
                Gemm.ListColumns8(a, aOff, lda, i0, k, kb, nkb, values, rows, ends, s);
            for (int i = 0; i < m; i++) CheckRow(i, i * s, k, kb, nkb, p => a[aOff + p * lda + i], values, rows, ends, "ListColumns8");
        }
    }

    private static float[] Matrix(int length, double zeros, Rng rng)
    {
        var a = new float[length];
        for (int e = 0; e < length; e++)
        {
            double u = rng.NextDouble();
            a[e] = u < zeros ? (rng.NextDouble() < 0.5 ? 0f : -0f) : (float)(rng.NextDouble() * 2 - 1);
            if (u >= zeros && rng.NextDouble() < 0.03) a[e] = rng.NextDouble() < 0.5 ? float.NaN : float.NegativeInfinity;
        }
        return a;
    }

    /// <summary>Row i's list from slot <paramref name="t"/> and its ends; returns one past its last term.</summary>
    private static int CheckRow(int i, int t, int k, int kb, int nkb, Func<int, float> element, float[] values, int[] rows, int[] ends, string what)
    {
        int stride = nkb + 1, start = t;
        Assert.True(ends[i * stride] == t, $"{what}: row {i} starts at {ends[i * stride]}, expected {t}");
        for (int q = 0; q < nkb; q++)
        {
            for (int p = q * kb; p < Math.Min(k, (q + 1) * kb); p++)
            {
                float v = element(p);
                if (v == 0f) continue;
                Assert.True(BitConverter.SingleToInt32Bits(values[t]) == BitConverter.SingleToInt32Bits(v) && rows[t] == p,
                    $"{what} k={k} kb={kb}: row {i} term {t - start} is ({values[t]:R}, {rows[t]}), expected ({v:R}, {p})");
                t++;
            }
            Assert.True(ends[i * stride + 1 + q] == t, $"{what} k={k} kb={kb}: row {i} block {q} ends at {ends[i * stride + 1 + q]}, expected {t}");
        }
        return t;
    }
}
