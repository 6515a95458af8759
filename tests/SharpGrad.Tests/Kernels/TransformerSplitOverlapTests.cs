using SharpGrad;
using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The split backward of the compiled encoder layer (Kernels/TransformerLayer.Split.cs) with the parts taking their own
/// weight-gradient products (<c>TransformerLayerKernel.PartWeightGrads</c>, off by default; the first part's added straight
/// into the gradients) and, from the second backward on, the sums of those products run as items of the parts' loop
/// (waiting for each part's record), against the path before session 24 (every product taken by the summing loop, in a loop
/// of its own): bit for bit, over three forward/backward steps into the same gradients, at 1 and 2 threads, parts of
/// ≤ 256 rows (one k-block each: the GEMM adds each part's chain to the gradient either way).
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class TransformerSplitOverlapTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (int threads in new[] { 1, 2 })
        {
            foreach (bool normFirst in new[] { false, true })
            {
                foreach (bool gelu in new[] { false, true })
                {
                    foreach (int parts in new[] { 2, 3, 5 }) yield return [threads, normFirst, gelu, parts];
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void OverlappedSumsEqualTheSummingLoop(int threads, bool normFirst, bool gelu, int parts)
        => Check(new EncoderLayerShape(12, 3, 20, 7, normFirst, gelu, 1e-5), n: 5, parts, threads, new Rng(threads * 100 + parts * 10 + (normFirst ? 1 : 0) + (gelu ? 2 : 0)),
            weightScale: 0.3f);

    /// <summary>The workload's width (d_model 128, 4 heads, feed-forward 512, ReLU: its skipping products) over 4 sequences of 64 tokens in 4 parts.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void OverlappedSumsEqualTheSummingLoopAtTheWorkloadWidth(int threads)
        => Check(new EncoderLayerShape(128, 4, 512, 64, NormFirst: false, Gelu: false, 1e-5), n: 4, parts: 4, threads, new Rng(41 + threads), weightScale: 0.08f);

    private static void Check(EncoderLayerShape shape, int n, int parts, int threads, Rng rng, float weightScale)
    {
        int t = shape.Steps, d = shape.DModel, ff = shape.FeedForward;
        float[] R(int size, float scale) => (Tensor.Randn([size], rng: rng) * scale).ToArray();
        int[] sizes = [3 * d * d, 3 * d, d * d, d, ff * d, ff, d * ff, d, d, d, d, d];
        var w = sizes.Select(size => R(size, weightScale)).ToArray();
        for (int i = 8; i < 12; i += 2) w[i] = w[i].Select(v => 1f + v).ToArray();
        var xs = Enumerable.Range(0, 3).Select(_ => R(n * t * d, 1f)).ToArray();
        var gys = Enumerable.Range(0, 3).Select(_ => R(n * t * d, 1f)).ToArray();
        var g0 = sizes.Select(size => R(size, 0.3f)).ToArray();

        (float[][] Y, float[][] Gx, float[]?[] G, int Overlapped) Run(bool before)
        {
            var ws = new EncoderLayerWorkspace();
            var g = g0.Select(a => (float[]?)a.Clone()).ToArray();
            g[3] = null; // a gradient nobody asked for is skipped
            var ys = new float[3][];
            var gxs = new float[3][];
            int keep = Parallelism.MaxThreads;
            Parallelism.MaxThreads = threads;
            TransformerLayerKernel.t_forcedParts = parts;
            TransformerLayerKernel.t_partWeightGrads = !before;
            TransformerLayerKernel.t_separateSums = before;
            TransformerLayerKernel.t_overlappedBackwards = 0;
            try
            {
                for (int step = 0; step < 3; step++)
                {
                    ys[step] = new float[n * t * d];
                    gxs[step] = new float[n * t * d];
                    TransformerLayerKernel.Forward(shape, xs[step], ys[step], n, w, ws);
                    TransformerLayerKernel.Backward(shape, gys[step], gxs[step], n, w, g, ws);
                }
                return (ys, gxs, g, TransformerLayerKernel.t_overlappedBackwards);
            }
            finally
            {
                Parallelism.MaxThreads = keep;
                TransformerLayerKernel.t_forcedParts = 0;
                TransformerLayerKernel.t_partWeightGrads = null;
                TransformerLayerKernel.t_separateSums = false;
            }
        }

        var expected = Run(before: true);
        var actual = Run(before: false);
        Assert.Equal(0, expected.Overlapped);
        Assert.Equal(2, actual.Overlapped); // the first backward makes the items, the next two overlap them
        for (int step = 0; step < 3; step++)
        {
            Assert.Equal(expected.Y[step], actual.Y[step]);
            Assert.Equal(expected.Gx[step], actual.Gx[step]);
        }
        for (int i = 0; i < sizes.Length; i++)
        {
            if (expected.G[i] is null) Assert.Null(actual.G[i]);
            else Assert.True(expected.G[i]!.SequenceEqual(actual.G[i]!), $"gradient {i} differs");
        }
    }
}
