using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The packed path's packing of a transposed A (<c>Gemm.PackATransposed</c>, session 22: each stored row of A read once for
/// all panels of a row block) against the same product with Aᵀ copied out first and packed untransposed: the packed panels
/// are the same copies of A's elements, so C is bit for bit the same (NaN payloads included). Odd m (full six-row panels, a
/// short last panel, several 120-row blocks, a row block starting inside a longer stored row), k within one and across
/// several 256-term blocks, float (four- and two-element moves) and double (element copies).
/// </summary>
public class PackedTransposedATests
{
    [Theory]
    [InlineData(7, 16, 700, 3)]
    [InlineData(127, 37, 257, 0)]
    [InlineData(128, 512, 256, 1)]
    [InlineData(250, 33, 600, 9)]
    [InlineData(121, 128, 1, 4)]
    [InlineData(384, 128, 300, 0)]
    public void TransposedAEqualsTheTransposedCopy(int m, int n, int k, int extraColumns)
    {
        var rng = new Rng(m * 13 + n * 7 + k);
        int lda = m + extraColumns;
        var a = SmallGemmTests.Random(k * lda + 3, rng);
        a[3 + lda * (k / 2) + m / 2] = BitConverter.Int32BitsToSingle(0x7fc01234); // a NaN with a payload
        var aT = new float[m * k + 1];
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++) aT[1 + i * k + p] = a[3 + p * lda + i];
        var b = SmallGemmTests.Random(k * n + 5, rng);
        var c0 = SmallGemmTests.Random(m * n + 2, rng);
        foreach (bool accumulate in new[] { true, false })
        {
            var expected = (float[])c0.Clone();
            var actual = (float[])c0.Clone();
            Gemm.SgemmPacked(false, m, n, k, aT, 1, k, b, 5, n, expected, 2, n, accumulate);
            Gemm.SgemmPacked(true, m, n, k, a, 3, lda, b, 5, n, actual, 2, n, accumulate);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                    $"m {m}, n {n}, k {k}, accumulate {accumulate}: C[{i}] {actual[i]}, with Aᵀ copied {expected[i]}");
        }
    }

    [Theory]
    [InlineData(131, 200, 700)]
    [InlineData(125, 203, 1100)]
    public void TransposedAInDoubleEqualsTheTransposedCopy(int m, int n, int k)
    {
        Assert.Equal(Gemm.PackedPath, Gemm.PathOf<double>(true, false, m, n, k));
        Assert.Equal(Gemm.PackedPath, Gemm.PathOf<double>(false, false, m, n, k));
        var rng = new Random(m + n + k);
        double R() => rng.NextDouble() * 2 - 1;
        int lda = m + 2;
        var a = new double[k * lda];
        for (int i = 0; i < a.Length; i++) a[i] = R();
        var aT = new double[m * k];
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++) aT[i * k + p] = a[p * lda + i];
        var b = new double[k * n];
        for (int i = 0; i < b.Length; i++) b[i] = R();
        var expected = new double[m * n];
        var actual = new double[m * n];
        Gemm.Dgemm(false, false, m, n, k, 1.0, aT, 0, k, b, 0, n, 0.0, expected, 0, n);
        Gemm.Dgemm(true, false, m, n, k, 1.0, a, 0, lda, b, 0, n, 0.0, actual, 0, n);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.DoubleToInt64Bits(expected[i]) == BitConverter.DoubleToInt64Bits(actual[i]), $"C[{i}] {actual[i]}, with Aᵀ copied {expected[i]}");
    }
}
