using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The gather of g's live columns for the dead-units weight gradient (<c>Gemm.GatherColumns</c>, Gemm.DeadUnits.cs: one
/// permutation per 8-column block, whole-vector stores) against the element-by-element copy, bit for bit (−0, NaN payloads):
/// odd widths (a tail after the last full block), blocks with no, some and all live columns, the live set empty, full, only in
/// the tail, more than 256 blocks, and gc exactly rows × nl long (the last row's stores may not pass its end).
/// </summary>
public class DeadUnitsGatherTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (int cols in new[] { 1, 7, 8, 9, 17, 130, 256, 784, 2100 })
            foreach (int rows in new[] { 1, 3, 64 })
                foreach (string pattern in new[] { "random", "all", "none", "tail", "ends", "sparse" })
                    foreach (int slack in new[] { 0, 9 })
                        yield return [rows, cols, pattern, slack];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EqualsTheElementCopy(int rows, int cols, string pattern, int slack)
    {
        var rng = new Rng(rows * 1009 + cols * 7 + pattern.Length * 31 + slack);
        int gOff = 5;
        var g = new float[gOff + rows * cols + 3];
        for (int i = 0; i < g.Length; i++)
        {
            double u = rng.NextDouble();
            g[i] = u < 0.1 ? -0f : u < 0.15 ? BitConverter.Int32BitsToSingle(0x7FC00000 | (int)(u * 1000)) : (float)(rng.NextDouble() - 0.5);
        }
        var live = new List<int>();
        for (int c = 0; c < cols; c++)
        {
            bool on = pattern switch
            {
                "all" => true,
                "none" => false,
                "tail" => c >= cols / 8 * 8,
                "ends" => c == 0 || c == cols - 1 || c % 8 == 7,
                "sparse" => rng.NextDouble() < 0.1,
                _ => rng.NextDouble() < 0.8,
            };
            if (on) live.Add(c);
        }
        int nl = live.Count;
        var liveArr = live.Concat(new[] { -1, -1 }).ToArray();
        var gc = new float[rows * nl + slack];
        Array.Fill(gc, 12345f);
        Gemm.GatherColumns(g, gOff, rows, cols, liveArr, nl, gc);
        for (int b = 0; b < rows; b++)
            for (int t = 0; t < nl; t++)
            {
                int want = BitConverter.SingleToInt32Bits(g[gOff + b * cols + live[t]]), got = BitConverter.SingleToInt32Bits(gc[b * nl + t]);
                Assert.True(want == got, $"rows {rows} cols {cols} {pattern}: gc[{b}, {t}] (column {live[t]}) = 0x{got:X8}, g has 0x{want:X8}");
            }
    }

    [Fact]
    public void RejectsLiveColumnsOutOfOrderOrOutOfRange()
    {
        var g = new float[4 * 16];
        var gc = new float[4 * 16];
        Assert.Throws<ArgumentException>(() => Gemm.GatherColumns(g, 0, 4, 16, [3, 2], 2, gc));
        Assert.Throws<ArgumentException>(() => Gemm.GatherColumns(g, 0, 4, 16, [3, 16], 2, gc));
        Assert.Throws<ArgumentException>(() => Gemm.GatherColumns(g, 0, 4, 16, [0, 1, 2], 3, new float[11]));
    }
}
