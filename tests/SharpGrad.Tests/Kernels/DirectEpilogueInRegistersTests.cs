using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The direct kernel's epilogue applied to a full tile's accumulators before its one store (AVX-512 floats, session 27)
/// gives bit for bit what the tile stored, read back and passed through the epilogue gives (<c>Gemm.t_epilogueAfterTile</c>):
/// bias, residual and ReLU alone and together, β 0 and 1, alpha 1 and not, one and two k-blocks, tail rows and edge
/// columns, with and without B's strips packed; and both against a double-precision reference. At 256 bits both runs take
/// the unfused path.
/// </summary>
public class DirectEpilogueInRegistersTests
{
    [Theory]
    [InlineData(64, 64, 128, true, false, false, 0f, 1f)]
    [InlineData(64, 64, 128, false, true, false, 0f, 1f)]
    [InlineData(64, 64, 128, false, false, true, 0f, 1f)]
    [InlineData(256, 128, 128, true, true, true, 0f, 1f)]
    [InlineData(200, 96, 128, true, false, true, 0f, 1f)]
    [InlineData(37, 70, 300, true, true, true, 0f, 0.75f)]
    [InlineData(136, 64, 300, true, true, false, 1f, 1f)]
    [InlineData(45, 40, 33, false, true, true, 1f, -1.5f)]
    public void FusedEqualsStoredThenApplied(int m, int n, int k, bool bias, bool residual, bool relu, float beta, float alpha)
    {
        var rng = new Random(m * 1000 + n * 10 + k);
        float[] R(int size) => Enumerable.Range(0, size).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var a = R(m * k);
        var b = R(k * n);
        var c0 = R(m * n);
        var bv = bias ? R(n) : null;
        var res = residual ? R(m * n) : null;
        var epi = new GemmEpilogue(bv, residual: res, residualLd: n, activation: relu ? GemmActivation.Relu : GemmActivation.None);

        float[] Run(bool after)
        {
            var c = (float[])c0.Clone();
            Gemm.t_epilogueAfterTile = after;
            try
            {
                Gemm.Sgemm(false, false, m, n, k, alpha, a, 0, k, b, 0, n, beta, c, 0, n, epi);
            }
            finally
            {
                Gemm.t_epilogueAfterTile = false;
            }
            return c;
        }

        var fused = Run(after: false);
        var unfused = Run(after: true);
        for (int i = 0; i < fused.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(fused[i]) == BitConverter.SingleToInt32Bits(unfused[i]), $"[{i / n}, {i % n}]: fused {fused[i]}, unfused {unfused[i]}");
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double)a[i * k + p] * b[p * n + j];
                double v = alpha * s + beta * c0[i * n + j] + (bv is null ? 0 : bv[j]) + (res is null ? 0 : res[i * n + j]);
                if (relu) v = Math.Max(v, 0);
                Assert.True(Math.Abs(v - fused[i * n + j]) <= 1e-4 * (1 + Math.Abs(v)), $"[{i}, {j}]: reference {v}, fused {fused[i * n + j]}");
            }
        }
    }
}
