using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The zero-skipping products' density count with an early stop (<c>Gemm.CountNonZeroUpTo</c>, Gemm.ZeroSkip.cs; <c>Gemm.CountNonZero</c> is it without a bound) against
/// an element-by-element count: ±0 are zeros, NaN and ±Inf are not; odd widths (tails after 16 and 8 columns), a row stride
/// past the width with nonzeros in the gap (not counted), densities 0–100 %; the whole count when it stays at or below the
/// bound, a count above the bound when the whole one is.
/// </summary>
public class CountNonZeroUpToTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (int cols in new[] { 1, 7, 8, 9, 15, 16, 17, 24, 130, 784 })
            foreach (int rows in new[] { 1, 5, 64 })
                foreach (double density in new[] { 0.0, 0.2, 0.5, 1.0 })
                    yield return [rows, cols, density];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EqualsTheElementCountOrPassesTheBound(int rows, int cols, double density)
    {
        var rng = new Rng(rows * 131 + cols * 7 + (int)(density * 10));
        int off = 3, ld = cols + 5;
        var x = new float[off + rows * ld + 2];
        for (int i = 0; i < x.Length; i++) x[i] = 1f; // the gaps between rows and around the block: nonzero, not counted
        long want = 0;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                double u = rng.NextDouble();
                float v = u >= density ? ((r + c) % 2 == 0 ? 0f : -0f)
                    : u < density * 0.1 ? float.NaN : u < density * 0.15 ? float.NegativeInfinity : (float)(rng.NextDouble() + 0.01);
                x[off + r * ld + c] = v;
                if (v != 0f || float.IsNaN(v)) want++;
            }
        long total = (long)rows * cols;
        Assert.Equal(want, Gemm.CountNonZeroUpTo(x, off, rows, cols, ld, double.MaxValue));
        Assert.Equal(want, Gemm.CountNonZero(x, off, rows, cols, ld));
        foreach (double bound in new[] { 0.0, 0.3 * total, 0.6 * total, want - 1.0, want, total + 1.0 })
        {
            long got = Gemm.CountNonZeroUpTo(x, off, rows, cols, ld, bound);
            if (want <= bound) Assert.Equal(want, got);
            else Assert.True(got > bound && got <= want, $"bound {bound}: got {got}, the whole count {want}");
        }
    }

    [Fact]
    public void RejectsABlockThatDoesNotFit()
    {
        var x = new float[20];
        Assert.Throws<ArgumentException>(() => Gemm.CountNonZeroUpTo(x, 0, 3, 8, 8, double.MaxValue));
        Assert.Throws<ArgumentException>(() => Gemm.CountNonZeroUpTo(x, 0, 2, 8, 4, double.MaxValue));
        Assert.Equal(0, Gemm.CountNonZeroUpTo(x, 0, 0, 8, 8, double.MaxValue));
    }
}
