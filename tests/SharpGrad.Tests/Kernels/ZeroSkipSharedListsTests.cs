using System.Runtime.Intrinsics;
using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// One product's lists of A's nonzeros walked by a second product (Gemm.ZeroSkipShared.cs, session 24): the second's A is
/// zero wherever the first's is (and at some more positions, +0 and −0), with its own offset and leading dimension, and its
/// values are read from it at the listed positions. Both products equal the dense FMA chain over every term (restarted every
/// 256 terms, as the dense kernels' k-blocks) bit for bit, at both vector widths, A in both layouts, C overwritten and
/// accumulated, two rows at a time and one, columns past the last whole vector; and the feed-forward block's backward,
/// which shares act's column lists between its two weight gradients, equals the dense block and the unshared one.
/// </summary>
public class ZeroSkipSharedListsTests
{
    public static IEnumerable<object[]> Cases()
    {
        // [37, 128, 600]: pairs (an odd last row), k over two restarts and a short block; [9, 70, 513]: columns past the last
        // vector, a second product of another width; [21, 390, 300]: single rows in 12-vector blocks; [1, 128, 40]: one row
        int[][] shapes = [[37, 128, 600], [9, 70, 513], [21, 390, 300], [1, 128, 40], [64, 128, 1024]];
        foreach (var s in shapes)
            foreach (bool transA in new[] { false, true })
                yield return [s[0], s[1], s[2], transA];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ASecondProductOverTheKeptListsEqualsTheDenseChain(int m, int n, int k, bool transA)
    {
        foreach (bool accumulate in new[] { false, true })
        {
            Check<Gemm.Simd512<float>, Vector512<float>>(m, n, k, transA, accumulate);
            Check<Gemm.Simd256<float>, Vector256<float>>(m, n, k, transA, accumulate);
        }
    }

    private static void Check<V, TV>(int m, int n, int k, bool transA, bool accumulate) where V : struct, Gemm.ISimd<TV, float> where TV : struct
    {
        var rng = new Rng(m * 131 + n * 17 + k + V.Count + (transA ? 1 : 0) + (accumulate ? 2 : 0));
        int stored = transA ? k : m, cols = transA ? m : k;
        // the first A (the pattern) and a second one of another layout, zero wherever the first is and at ~20 % more positions
        int lda1 = cols + 3, aOff1 = 2, lda2 = cols + 7, aOff2 = 5;
        var a1 = ZeroSkipGemmTests.Sparse(aOff1 + stored * lda1, 0.5, rng);
        var a2 = SmallGemmTests.Random(aOff2 + stored * lda2, rng);
        for (int r = 0; r < stored; r++)
            for (int c = 0; c < cols; c++)
            {
                ref float v = ref a2[aOff2 + r * lda2 + c];
                if (a1[aOff1 + r * lda1 + c] == 0f) v = 0f;
                else if (rng.NextDouble() < 0.2) v = rng.NextDouble() < 0.5 ? 0f : -0f;
            }
        int n2 = n + 3;   // the second product's B is wider (the lists do not depend on n)
        var b1 = SmallGemmTests.Random(k * n, rng);
        var b2 = SmallGemmTests.Random(k * n2, rng);
        var c1 = SmallGemmTests.Random(m * n, rng);
        var c2 = SmallGemmTests.Random(m * n2, rng);
        float Op(float[] a, int off, int ld, int i, int p) => transA ? a[off + p * ld + i] : a[off + i * ld + p];
        var e1 = Expected(c1, m, n, k, accumulate, (i, p) => Op(a1, aOff1, lda1, i, p), b1);
        var e2 = Expected(c2, m, n2, k, accumulate, (i, p) => Op(a2, aOff2, lda2, i, p), b2);
        var lists = new Gemm.SkipZerosListCache();
        try
        {
            Assert.True(Gemm.TrySgemmSkipZeros<V, TV>(transA, m, n, k, a1, aOff1, lda1, b1, 0, n, c1, 0, n, accumulate, allowParallel: true, maxDensity: 1f, lists: lists));
            Assert.True(lists.Built);
            var rows = lists.Rows;
            Assert.True(Gemm.TrySgemmSkipZeros<V, TV>(transA, m, n2, k, a2, aOff2, lda2, b2, 0, n2, c2, 0, n2, accumulate, allowParallel: true, maxDensity: 1f, lists: lists));
            Assert.Same(rows, lists.Rows);
            Assert.Equal(1, lists.Reuses);
        }
        finally
        {
            lists.Release();
        }
        string what = $"{V.Count}-lane m={m} n={n} k={k} transA={transA} accumulate={accumulate}";
        AssertBits(e1, c1, "the listing product " + what);
        AssertBits(e2, c2, "the product over the kept lists " + what);
    }

    private static float[] Expected(float[] c, int m, int n, int k, bool accumulate, Func<int, int, float> a, float[] b)
    {
        var e = (float[])c.Clone();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float v = c[i * n + j];
                for (int p0 = 0; p0 < k; p0 += 256)
                {
                    float s = 0f;
                    for (int p = p0; p < Math.Min(k, p0 + 256); p++) s = MathF.FusedMultiplyAdd(a(i, p), b[p * n + j], s);
                    v = p0 == 0 && !accumulate ? s : v + s;
                }
                e[i * n + j] = v;
            }
        return e;
    }

    private static void AssertBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, the dense chain {expected[i]:R}");
        }
    }

    /// <summary>
    /// The feed-forward block's backward (ReLU, no dropout) at odd row counts: linear1's weight gradient walks the lists of
    /// act's columns that linear2's kept (one reuse), and every gradient equals the dense block's and the unshared
    /// block's bit for bit; a NaN in linear1's input (B of the reusing product) still takes the dense path.
    /// </summary>
    [Theory]
    [InlineData(100, false)]
    [InlineData(333, false)]
    [InlineData(333, true)]
    public void FeedForwardBackwardSharingActsListsEqualsDenseAndUnshared(int rows, bool nanInX)
    {
        const int D = 128, F = 512;
        var shape = new EncoderLayerShape(D, 4, F, 1, NormFirst: false, Gelu: false, LayerNormEps: 1e-5);
        var rng = new Rng(rows + (nanInX ? 1 : 0));
        float[] Randn(int size, float scale) => (Tensor.Randn([size], rng: rng) * scale).ToArray();
        var x = Randn(rows * D, 1f);
        if (nanInX) x[5 * D + 7] = float.NaN;
        var w1 = Randn(F * D, 0.1f);
        var w2 = Randn(D * F, 0.1f);
        var act = Randn(rows * F, 1f).Select(v => Math.Max(v, 0f)).ToArray();
        var gy = Randn(rows * D, 1f);
        var gx0 = Randn(rows * D, 1f);
        (float[] Gx, float[] GW1, float[] GB1, float[] GW2, float[] GB2, int Reuses) Run(bool dense, bool unshared)
        {
            var (gx, gW1, gB1, gW2, gB2) = ((float[])gx0.Clone(), new float[F * D], new float[F], new float[D * F], new float[D]);
            TransformerLayerKernel.t_denseFeedForward = dense;
            TransformerLayerKernel.t_unsharedFeedForwardLists = unshared;
            TransformerLayerKernel.t_skipMaxDensity = Gemm.SkipZerosMaxDensity;
            int before = TransformerLayerKernel.t_ffLists?.Reuses ?? 0;
            try
            {
                TransformerLayerKernel.FeedForwardBackward(shape, x, gy, gx, rows, w1, w2, gW1, gB1, gW2, gB2, new float[rows * F], act,
                    new float[rows * F], new float[rows * F]);
            }
            finally
            {
                (TransformerLayerKernel.t_denseFeedForward, TransformerLayerKernel.t_unsharedFeedForwardLists, TransformerLayerKernel.t_skipMaxDensity) = (false, false, 0f);
            }
            Assert.False(TransformerLayerKernel.t_ffLists?.Built ?? false);   // released at the end
            return (gx, gW1, gB1, gW2, gB2, (TransformerLayerKernel.t_ffLists?.Reuses ?? 0) - before);
        }
        var shared = Run(dense: false, unshared: false);
        var unsharedRun = Run(dense: false, unshared: true);
        var denseRun = Run(dense: true, unshared: false);
        Assert.Equal(nanInX ? 0 : 1, shared.Reuses);
        Assert.Equal(0, unsharedRun.Reuses);
        foreach (var (other, name) in new[] { (denseRun, "dense"), (unsharedRun, "unshared") })
        {
            AssertBits(other.Gx, shared.Gx, $"gx against {name}, rows={rows}");
            AssertBits(other.GW1, shared.GW1, $"gW1 against {name}, rows={rows}");
            AssertBits(other.GB1, shared.GB1, $"gB1 against {name}, rows={rows}");
            AssertBits(other.GW2, shared.GW2, $"gW2 against {name}, rows={rows}");
            AssertBits(other.GB2, shared.GB2, $"gB2 against {name}, rows={rows}");
        }
    }

    /// <summary>
    /// The encoder layer's forward keeps linear2's lists of act's rows in the workspace, and its backward's gFf·W1 walks them
    /// (one reuse per backward when the layer runs whole): every gradient and the output equal the dense feed-forward block's
    /// and the unshared one's bit for bit, whole and in two batch parts (each part with its own workspace's lists), at an odd
    /// number of token rows.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void EncoderLayerSharingActsRowListsEqualsDenseAndUnshared(int parts)
    {
        const int D = 128, F = 512, N = 3, T = 37;
        var shape = new EncoderLayerShape(D, 4, F, T, NormFirst: false, Gelu: false, LayerNormEps: 1e-5);
        var rng = new Rng(parts + 40);
        float[] Randn(int size, float scale) => (Tensor.Randn([size], rng: rng) * scale).ToArray();
        int[] sizes = [3 * D * D, 3 * D, D * D, D, F * D, F, D * F, D, D, D, D, D];
        var w = sizes.Select(size => Randn(size, 0.1f)).ToArray();
        for (int i = 8; i < 12; i += 2) Array.Fill(w[i], 1f);
        var x = Randn(N * T * D, 1f);
        var gy = Randn(N * T * D, 1f);
        (float[] Y, float[] Gx, float[][] G, int Reuses) Run(bool dense, bool unshared)
        {
            var ws = new EncoderLayerWorkspace();
            var y = new float[x.Length];
            var gx = new float[x.Length];
            var g = sizes.Select(size => (float[]?)new float[size]).ToArray();
            TransformerLayerKernel.t_forcedParts = parts;
            TransformerLayerKernel.t_denseFeedForward = dense;
            TransformerLayerKernel.t_unsharedFeedForwardLists = unshared;
            TransformerLayerKernel.t_skipMaxDensity = Gemm.SkipZerosMaxDensity;
            try
            {
                TransformerLayerKernel.Forward(shape, x, y, N, w, ws);
                TransformerLayerKernel.Backward(shape, gy, gx, N, w, g, ws);
            }
            finally
            {
                TransformerLayerKernel.t_forcedParts = 0;
                (TransformerLayerKernel.t_denseFeedForward, TransformerLayerKernel.t_unsharedFeedForwardLists, TransformerLayerKernel.t_skipMaxDensity) = (false, false, 0f);
            }
            return (y, gx, g.Select(a => a!).ToArray(), ws.FfRowLists.Reuses);
        }
        var shared = Run(dense: false, unshared: false);
        var unsharedRun = Run(dense: false, unshared: true);
        var denseRun = Run(dense: true, unshared: false);
        if (parts == 1) Assert.Equal(1, shared.Reuses);
        Assert.Equal(0, unsharedRun.Reuses);
        foreach (var (other, name) in new[] { (denseRun, "dense"), (unsharedRun, "unshared") })
        {
            AssertBits(other.Y, shared.Y, $"y against {name}, parts={parts}");
            AssertBits(other.Gx, shared.Gx, $"gx against {name}, parts={parts}");
            for (int i = 0; i < sizes.Length; i++) AssertBits(other.G[i], shared.G[i], $"g[{i}] against {name}, parts={parts}");
        }
    }
}
