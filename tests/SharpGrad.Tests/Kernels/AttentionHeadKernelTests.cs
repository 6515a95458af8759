using System.Runtime.Intrinsics;
using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The attention's head kernels for 64 keys on AVX-512 (Attention.Heads.cs: the scores and their softmax in one pass, gC·vᵀ
/// and the softmax's backward in one pass, the head products as direct tiles) against the GEMM path they replace, bit for
/// bit (probabilities, context, gq, gk, gv), and against a naive double-precision reference, on odd query counts and head
/// sizes (the 4-row blocks' remainders, head sizes off the tiles' widths), with q, k, v packed batch first and in separate
/// strided arrays with offsets. On AVX2 (<c>DOTNET_EnableAVX512=0</c>) both runs take the GEMM path.
/// </summary>
public class AttentionHeadKernelTests
{
    public static IEnumerable<object[]> Shapes()
    {
        // n, heads, l, head_dim (s = 64)
        yield return [1, 1, 1, 1];
        yield return [2, 3, 5, 7];
        yield return [1, 2, 13, 33];
        yield return [3, 1, 8, 32];
        yield return [2, 2, 24, 64];
        yield return [2, 4, 64, 32]; // the workload's heads
        yield return [1, 2, 61, 17];
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void PackedBatchFirstMatchesTheGemmPathAndNaive(int n, int heads, int l, int d)
    {
        const int s = 64;
        int e = heads * d, stride = 3 * e;
        var rng = new Rng(n * 1000 + heads * 100 + l * 10 + d);
        // a packed projection has one length: the queries' rows are the first l of the 64
        var qkv = SmallGemmTests.Random(n * s * stride, rng);
        var gCtx = SmallGemmTests.Random(n * s * e, rng);
        Run(n, heads, l, d, new HeadRows(qkv, 0, s * stride, stride), new HeadRows(qkv, e, s * stride, stride), new HeadRows(qkv, 2 * e, s * stride, stride),
            new HeadRows(gCtx, 0, s * e, e), (n * s * e, 0, s * e, e), (n * s * stride, 0, s * stride, stride), packedGrads: true);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void SeparateSequenceFirstMatchesTheGemmPathAndNaive(int n, int heads, int l, int d)
    {
        const int s = 64;
        // [T, N, E] with an offset and a row stride E + 2 (gaps the kernels must not write)
        int e = heads * d, ld = e + 2, off = 3;
        var rng = new Rng(n * 7 + heads * 11 + l * 13 + d);
        var qd = SmallGemmTests.Random(off + s * n * ld, rng);
        var kd = SmallGemmTests.Random(off + s * n * ld, rng);
        var vd = SmallGemmTests.Random(off + s * n * ld, rng);
        var gCtx = SmallGemmTests.Random(off + s * n * ld, rng);
        Run(n, heads, l, d, new HeadRows(qd, off, ld, n * ld), new HeadRows(kd, off, ld, n * ld), new HeadRows(vd, off, ld, n * ld),
            new HeadRows(gCtx, off, ld, n * ld), (off + s * n * ld, off, ld, n * ld), (off + s * n * ld, off, ld, n * ld), packedGrads: false);
    }

    /// <summary>
    /// Forward and backward on the GEMM path and on the head kernels into fresh outputs (the context laid out as
    /// <paramref name="ctx"/>, the gradients as <paramref name="g"/>: gq, gk, gv at 0, E, 2E of one array when
    /// <paramref name="packedGrads"/>, else three arrays; NaN where not written), compared bit for bit, then the head
    /// kernels' against the naive reference.
    /// </summary>
    private static void Run(int n, int heads, int l, int d, HeadRows hq, HeadRows hk, HeadRows hv, HeadRows hg,
        (int Length, int Offset, int Batch, int Step) ctx, (int Length, int Offset, int Batch, int Step) g, bool packedGrads)
    {
        const int s = 64;
        float scale = 1f / MathF.Sqrt(d);
        int e = heads * d;
        HeadRows Rows(float[] data, (int Length, int Offset, int Batch, int Step) layout, int f) => new(data, layout.Offset + f * e, layout.Batch, layout.Step);
        (float[] Probs, float[] Ctx, float[] Gq, float[] Gk, float[] Gv) Once(bool fused)
        {
            var probs = new float[n * heads * l * s];
            var c = new float[ctx.Length];
            Array.Fill(c, float.NaN);
            var gq = new float[g.Length];
            var gk = packedGrads ? gq : new float[g.Length];
            var gv = packedGrads ? gq : new float[g.Length];
            Array.Fill(gq, float.NaN);
            Array.Fill(gk, float.NaN);
            Array.Fill(gv, float.NaN);
            int f = packedGrads ? 1 : 0;
            AttentionKernel.ForwardWith(true, n, heads, l, s, d, scale, hq, hk, hv, probs, Rows(c, ctx, 0), headKernels: fused);
            AttentionKernel.BackwardWith(true, n, heads, l, s, d, scale, hq, hk, hv, probs, hg, Rows(gq, g, 0), Rows(gk, g, f), Rows(gv, g, 2 * f),
                headKernels: fused);
            return (probs, c, gq, gk, gv);
        }
        var gemm = Once(false);
        var fused = Once(true);
        AssertBits(gemm.Probs, fused.Probs, "probs");
        AssertBits(gemm.Ctx, fused.Ctx, "context");
        AssertBits(gemm.Gq, fused.Gq, "gq");
        AssertBits(gemm.Gk, fused.Gk, "gk");
        AssertBits(gemm.Gv, fused.Gv, "gv");
        int pf = packedGrads ? 1 : 0;
        var ctxRows = Rows(fused.Ctx, ctx, 0);
        var gqRows = Rows(fused.Gq, g, 0);
        var gkRows = Rows(fused.Gk, g, pf);
        var gvRows = Rows(fused.Gv, g, 2 * pf);

        // the naive reference on the fused run
        AttentionKernelTests.AssertMatchesNaive(n, heads, l, s, d, scale, hq, hk, hv, fused.Probs, ctxRows, hg, gqRows, gkRows, gvRows);
    }

    /// <summary>
    /// Rows whose scores overflow (+∞ and −∞ maxima: the softmax shifts by 0 and takes the full exp) or hold a NaN: the
    /// head kernels give the GEMM path's bits there too (NaN rows included).
    /// </summary>
    [Fact]
    public void ExtremeScoresMatchTheGemmPathBitForBit()
    {
        const int n = 1, heads = 1, l = 9, s = 64, d = 32;
        var rng = new Rng(77);
        var q = SmallGemmTests.Random(l * d, rng);
        var k = SmallGemmTests.Random(s * d, rng);
        var v = SmallGemmTests.Random(s * d, rng);
        for (int f = 0; f < d; f++)
        {
            q[0 * d + f] = 1e30f;        // row 0: scores ±∞ (+∞ maximum)
            q[1 * d + f] = -1e30f;       // row 1: likewise, mirrored
            q[5 * d + f] = 1e18f;        // row 5: large finite scores, many exps underflow
        }
        q[2 * d + 3] = float.NaN;        // row 2: all NaN
        k[7 * d + 1] = float.PositiveInfinity; // key 7: ±∞ or NaN in every row's score 7
        Array.Fill(k, -1e25f, 9 * d, d); // key 9: very negative or positive scores
        float[] Once(bool fused)
        {
            var probs = new float[n * heads * l * s];
            var ctx = new float[l * d];
            AttentionKernel.ForwardWith(true, n, heads, l, s, d, 0.125f, new HeadRows(q, 0, l * d, d), new HeadRows(k, 0, s * d, d),
                new HeadRows(v, 0, s * d, d), probs, new HeadRows(ctx, 0, l * d, d), headKernels: fused);
            return [.. probs, .. ctx];
        }
        AssertBits(Once(false), Once(true), "probs and context");
    }

    /// <summary><c>RecurrentMath.ExpAtMostZero</c> (the softmax's exp without the upper clamp) gives <c>RecurrentMath.Exp</c>'s bits on every lane ≤ 0, −∞ and NaN.</summary>
    [Fact]
    public void ExpAtMostZeroMatchesExpBitForBit()
    {
        var values = new List<float> { 0f, -0f, -1e-45f, -1e-38f, -1e-30f, -1e-7f, -0.5f, -0.34657359f, -1f, -10f, -86.63f, -86.64f, -86.65f, -87.33f,
            -88f, -88.73f, -100f, -1e30f, float.MinValue, float.NegativeInfinity, float.NaN, -float.NaN };
        var rng = new Rng(5);
        for (int i = 0; i < 4096; i++) values.Add(-100f * (float)rng.NextDouble());
        for (int i = 0; i < 1024; i++) values.Add(-(float)rng.NextDouble());
        while (values.Count % 16 != 0) values.Add(-2f);
        var all = values.ToArray();
        for (int i = 0; i < all.Length; i += 16)
        {
            var x = Vector512.Create(all.AsSpan(i, 16));
            var expected = RecurrentMath.Exp(x);
            var actual = RecurrentMath.ExpAtMostZero(x);
            for (int j = 0; j < 16; j++)
            {
                if (BitConverter.SingleToInt32Bits(expected[j]) != BitConverter.SingleToInt32Bits(actual[j]))
                    Assert.Fail($"exp({all[i + j]:R}): {expected[j]:R} from Exp, {actual[j]:R} from ExpAtMostZero");
            }
        }
    }

    private static void AssertBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}[{i}]: {expected[i]:R} on the GEMM path, {actual[i]:R} on the head kernels");
        }
    }
}
