using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// Gemm.TransposeFinite (the skipping forward's W panels transposed and checked for NaN/±Inf in one pass, session 26
/// s26-mn2) against the naive transpose and a naive finiteness test: odd sizes (edge rows and columns past the last 8 × 8
/// block), a source row stride wider than the block, a NaN, +Inf or −Inf at every kind of position (inside a block, an edge
/// column, an edge row) and none. The forward through it is checked by ZeroSkipGemmTests (bit for bit, and
/// ForwardWithNonFiniteWeightFails) at both widths.
/// </summary>
public class TransposeFiniteTests
{
    [Theory]
    [InlineData(128, 48, 256)]   // mnist's fc2 panel (128 units, 48 features of 256)
    [InlineData(37, 29, 41)]     // odd: edge rows and columns
    [InlineData(8, 8, 8)]
    [InlineData(5, 3, 7)]        // no whole block
    [InlineData(24, 130, 131)]
    public void EqualsTheNaiveTransposeAndFiniteness(int rows, int cols, int ld)
    {
        var rng = new Rng(rows * 17 + cols * 3 + ld);
        var s = SmallGemmTests.Random((rows - 1) * ld + cols + 5, rng);
        var positions = new List<(int R, int C)> { (-1, -1), (0, 0), (rows - 1, cols - 1), (rows / 2, cols / 2), (rows - 1, 0), (0, cols - 1) };
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            foreach (var (r, c) in positions)
            {
                var src = (float[])s.Clone();
                if (r >= 0) src[2 + r * ld + c] = bad;
                var d = new float[rows * cols + 1];
                d[^1] = 12345f;
                bool finite = Gemm.TransposeFinite(ref src[2], ld, rows, cols, ref d[0]);
                Assert.Equal(r < 0, finite);
                for (int q = 0; q < rows; q++)
                    for (int p = 0; p < cols; p++)
                    {
                        float want = src[2 + q * ld + p], got = d[p * rows + q];
                        Assert.True(BitConverter.SingleToInt32Bits(want) == BitConverter.SingleToInt32Bits(got), $"[{p}, {q}] = {got}, want {want} (rows={rows} cols={cols} bad at {r},{c})");
                    }
                Assert.Equal(12345f, d[^1]);
            }
        }
    }
}
