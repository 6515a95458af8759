using SharpGrad;
using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Nn;

/// <summary>BatchNorm's running statistics and train/eval behaviour, and the other layers' defaults, reprs and forwards.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("SharpGrad.Autograd", "SG2008", Justification = "The tests check forward values (and hooks) with recording on, as in training.")]
public class NormLayerTests
{
    /// <summary>Per-channel mean and biased/unbiased variance of [N, C, ...] data, by direct loops.</summary>
    private static (double[] Mean, double[] VarBiased, double[] VarUnbiased) Stats(double[] x, int n, int c, int l)
    {
        var mean = new double[c];
        var vb = new double[c];
        var vu = new double[c];
        for (int ch = 0; ch < c; ch++)
        {
            double s = 0;
            for (int i = 0; i < n; i++) for (int j = 0; j < l; j++) s += x[(i * c + ch) * l + j];
            mean[ch] = s / (n * l);
            double q = 0;
            for (int i = 0; i < n; i++) for (int j = 0; j < l; j++) q += Math.Pow(x[(i * c + ch) * l + j] - mean[ch], 2);
            vb[ch] = q / (n * l);
            vu[ch] = q / (n * l - 1);
        }
        return (mean, vb, vu);
    }

    [Fact]
    public void BatchNorm2dRunningStatsFollowTheDefinition()
    {
        var bn = new BatchNorm2d(3, momentum: 0.2, dtype: DType.Float64);
        var rng = new Rng(31);
        double[] rm = [0, 0, 0], rv = [1, 1, 1];
        for (int step = 0; step < 3; step++)
        {
            var x = Tensor.Randn([4, 3, 2, 5], DType.Float64, rng: rng) * 2f + 1f;
            var y = bn.Forward(x);
            var (mean, vb, vu) = Stats(x.ToDoubleArray(), 4, 3, 10);
            for (int c = 0; c < 3; c++)
            {
                rm[c] = 0.8 * rm[c] + 0.2 * mean[c];
                rv[c] = 0.8 * rv[c] + 0.2 * vu[c];
            }
            TensorAssert.Close(rm, bn.RunningMean!.ToDoubleArray(), 1e-12, 1e-12, $"running_mean after step {step}");
            TensorAssert.Close(rv, bn.RunningVar!.ToDoubleArray(), 1e-12, 1e-12, $"running_var after step {step}");
            Assert.Equal(step + 1, bn.NumBatchesTracked!.ToLongArray()[0]);
            // training output uses the batch statistics with the biased variance
            var xd = x.ToDoubleArray();
            var expected = xd.Select((v, i) => (v - mean[i / 10 % 3]) / Math.Sqrt(vb[i / 10 % 3] + 1e-5)).ToArray();
            TensorAssert.Close(expected, y.ToDoubleArray(), 1e-10, 1e-10, "training output");
        }
        Assert.Equal(DType.Int64, bn.NumBatchesTracked!.DType);
        Assert.Empty(bn.NumBatchesTracked.Shape);

        // What eval must leave alone is the layer's own running mean (rm is the definition's, equal to it within 1e-12: the
        // kernel's summation order differs with the vector width).
        var runningMeanBeforeEval = bn.RunningMean!.ToDoubleArray();
        bn.Eval();
        var xe = Tensor.Randn([2, 3, 2, 2], DType.Float64, rng: rng);
        var ye = bn.Forward(xe);
        var xed = xe.ToDoubleArray();
        var expectedEval = xed.Select((v, i) => (v - rm[i / 4 % 3]) / Math.Sqrt(rv[i / 4 % 3] + 1e-5)).ToArray();
        TensorAssert.Close(expectedEval, ye.ToDoubleArray(), 1e-10, 1e-10, "eval output uses running stats");
        TensorAssert.Close(runningMeanBeforeEval, bn.RunningMean!.ToDoubleArray(), 0, 0, "eval leaves running_mean alone");
        Assert.Equal(3, bn.NumBatchesTracked!.ToLongArray()[0]);
    }

    [Fact]
    public void BatchNormCumulativeAverageWhenMomentumIsNull()
    {
        var bn = new BatchNorm1d(2, momentum: null, dtype: DType.Float64);
        var rng = new Rng(32);
        var means = new List<double[]>();
        for (int step = 0; step < 3; step++)
        {
            var x = Tensor.Randn([6, 2], DType.Float64, rng: rng) + (float)step;
            bn.Forward(x);
            means.Add(Stats(x.ToDoubleArray(), 6, 2, 1).Mean);
        }
        // cumulative moving average of the batch means
        var expected = new[] { means.Average(m => m[0]), means.Average(m => m[1]) };
        TensorAssert.Close(expected, bn.RunningMean!.ToDoubleArray(), 1e-12, 1e-12, "cumulative running_mean");
    }

    [Fact]
    public void BatchNormWithoutRunningStatsUsesBatchStatsInEval()
    {
        var bn = new BatchNorm1d(3, affine: false, trackRunningStats: false);
        Assert.Null(bn.RunningMean);
        Assert.Null(bn.Weight);
        bn.Eval();
        var x = Tensor.Randn([5, 3, 4], rng: new Rng(33));
        var y = bn.Forward(x);
        var (mean, vb, _) = Stats(x.ToDoubleArray(), 5, 3, 4);
        var expected = x.ToDoubleArray().Select((v, i) => (v - mean[i / 4 % 3]) / Math.Sqrt(vb[i / 4 % 3] + 1e-5)).ToArray();
        TensorAssert.Close(expected, y.ToDoubleArray(), 1e-5, 1e-5, "batch stats in eval without tracking");
        Assert.Equal("3, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False", bn.ToString()[("BatchNorm1d(".Length)..^1]);
    }

    [Fact]
    public void BatchNormErrors()
    {
        var bn = new BatchNorm2d(3);
        var ex = Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Zeros(2, 4, 3, 3)));
        Assert.Contains("[2, 4, 3, 3]", ex.Message);
        Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Zeros(2, 3)));
        Assert.Throws<ArgumentException>(() => new BatchNorm1d(3).Forward(Tensor.Zeros(1, 3)));  // one value per channel
    }

    [Fact]
    public void LayerNormLayer()
    {
        var ln = new LayerNorm([3, 4]);
        Assert.All(ln.Weight!.ToArray(), v => Assert.Equal(1f, v));
        Assert.All(ln.Bias!.ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal("LayerNorm((3, 4), eps=1e-05, elementwise_affine=True)", ln.ToString());
        Assert.Equal("LayerNorm((5,), eps=1e-05, elementwise_affine=True)", new LayerNorm(5).ToString());
        var x = Tensor.Randn([2, 3, 4], rng: new Rng(34));
        var y = ln.Forward(x).ToDoubleArray();
        var xd = x.ToDoubleArray();
        for (int r = 0; r < 2; r++)
        {
            var row = xd.Skip(r * 12).Take(12).ToArray();
            double m = row.Average(), v = row.Select(e => (e - m) * (e - m)).Average();
            TensorAssert.Close(row.Select(e => (e - m) / Math.Sqrt(v + 1e-5)).ToArray(), y.Skip(r * 12).Take(12).ToArray(), 1e-5, 1e-5, "layer norm row");
        }
        var ex = Assert.Throws<ArgumentException>(() => ln.Forward(Tensor.Zeros(2, 4, 3)));
        Assert.Contains("[2, 4, 3]", ex.Message);
    }

    [Fact]
    public void LinearLayerDefaultsAndForward()
    {
        var lin = new Linear(20, 7, rng: new Rng(35));
        Assert.Equal(new[] { 7, 20 }, lin.Weight.Shape);
        double bound = 1 / Math.Sqrt(20);
        Assert.All(lin.Weight.ToDoubleArray(), v => Assert.InRange(v, -bound, bound));
        Assert.All(lin.Bias!.ToDoubleArray(), v => Assert.InRange(v, -bound, bound));
        Assert.True(lin.Weight.RequiresGrad);
        Assert.Equal("Linear(in_features=20, out_features=7, bias=True)", lin.ToString());
        Assert.Equal("Linear(in_features=2, out_features=3, bias=False)", new Linear(2, 3, bias: false).ToString());
        var x = Tensor.Randn([4, 5, 20], rng: new Rng(36));
        var y = lin.Forward(x);
        Assert.Equal(new[] { 4, 5, 7 }, y.Shape);
        var expected = x.MatMul(lin.Weight.T()) + lin.Bias!;
        TensorAssert.Close(expected, y, 1e-6, 1e-6, "linear forward");
        y.Sum().Backward();
        Assert.NotNull(lin.Weight.Grad);
        Assert.NotNull(lin.Bias.Grad);
        // same seed, same weights
        TensorAssert.Close(lin.Weight, new Linear(20, 7, rng: new Rng(35)).Weight, 0, 0, "seeded init");
    }

    [Fact]
    public void ConvAndPoolLayers()
    {
        var conv = new Conv2d(3, 8, 3, padding: 1, rng: new Rng(37));
        Assert.Equal(new[] { 8, 3, 3, 3 }, conv.Weight.Shape);
        double bound = 1 / Math.Sqrt(27);
        Assert.All(conv.Weight.ToDoubleArray(), v => Assert.InRange(v, -bound, bound));
        Assert.All(conv.Bias!.ToDoubleArray(), v => Assert.InRange(v, -bound, bound));
        Assert.Equal("Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))", conv.ToString());
        Assert.Equal("Conv2d(4, 8, kernel_size=(3, 1), stride=(2, 2), dilation=(2, 1), groups=2, bias=False)",
            new Conv2d(4, 8, (3, 1), stride: (2, 2), dilation: (2, 1), groups: 2, bias: false).ToString());
        Assert.Equal("Conv1d(2, 4, kernel_size=(3,), stride=(1,))", new Conv1d(2, 4, 3).ToString());
        Assert.Equal("ConvTranspose2d(3, 4, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))",
            new ConvTranspose2d(3, 4, 3, stride: 2, padding: 1, outputPadding: 1).ToString());
        var ct = new ConvTranspose2d(3, 4, 3, stride: 2, groups: 1);
        Assert.Equal(new[] { 3, 4, 3, 3 }, ct.Weight.Shape);
        double ctBound = 1 / Math.Sqrt(4 * 9); // fan_in from weight dim 1
        Assert.All(ct.Bias!.ToDoubleArray(), v => Assert.InRange(v, -ctBound, ctBound));

        var x = Tensor.Randn([2, 3, 8, 8], rng: new Rng(38));
        var y = conv.Forward(x);
        TensorAssert.Close(Functional.Conv2d(x, conv.Weight, conv.Bias, 1, 1), y, 0, 0, "conv layer forward");
        Assert.Equal(new[] { 2, 8, 4, 4 }, new MaxPool2d(2).Forward(y).Shape);
        Assert.Equal(new[] { 2, 8, 4, 4 }, new AvgPool2d(2).Forward(y).Shape);
        Assert.Equal(new[] { 2, 8, 1, 1 }, new AdaptiveAvgPool2d(1).Forward(y).Shape);
        Assert.Equal(new[] { 2, 4, 17, 17 }, ct.Forward(x).Shape);
        Assert.Equal(new[] { 2, 4, 6 }, new Conv1d(3, 4, 3).Forward(Tensor.Randn(2, 3, 8)).Shape);
        Assert.Equal("MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)", new MaxPool2d(2).ToString());
        Assert.Equal("AvgPool2d(kernel_size=3, stride=2, padding=1)", new AvgPool2d(3, 2, 1).ToString());
        Assert.Equal("AdaptiveAvgPool2d(output_size=(2, 3))", new AdaptiveAvgPool2d((2, 3)).ToString());
    }

    [Fact]
    public void DropoutAndEmbeddingLayers()
    {
        var drop = new Dropout(0.25, new Rng(39));
        Assert.Equal("Dropout(p=0.25, inplace=False)", drop.ToString());
        var x = Tensor.Ones(100, 100);
        var y = drop.Forward(x).ToArray();
        double kept = y.Count(v => v != 0) / 10000.0;
        Assert.InRange(kept, 0.73, 0.77);                           // Bernoulli(0.75) over 10⁴ draws: ±4.6σ
        Assert.All(y.Where(v => v != 0), v => Assert.Equal(1 / 0.75f, v, 5));
        drop.Eval();
        Assert.Equal(x.ToArray(), drop.Forward(x).ToArray());

        var emb = new Embedding(10, 3, paddingIdx: 1, rng: new Rng(40));
        Assert.Equal("Embedding(10, 3, padding_idx=1)", emb.ToString());
        Assert.Equal(new float[] { 0, 0, 0 }, emb.Weight.Select(0, 1).ToArray());
        var idx = Tensor.FromArray(new long[] { 1, 4, 4, 9 }, 2, 2);
        var e = emb.Forward(idx);
        Assert.Equal(new[] { 2, 2, 3 }, e.Shape);
        Assert.Equal(emb.Weight.Select(0, 9).ToArray(), e.Select(0, 1).Select(0, 1).ToArray());
        e.Sum().Backward();
        Assert.Equal(new float[] { 0, 0, 0 }, emb.Weight.Grad!.Select(0, 1).ToArray());
        Assert.Equal(new float[] { 2, 2, 2 }, emb.Weight.Grad!.Select(0, 4).ToArray());
        var ex = Assert.Throws<ArgumentException>(() => emb.Forward(Tensor.FromArray(new long[] { 10 }, 1)));
        Assert.Contains("out of range", ex.Message);
        // Embedding weight ~ N(0, 1)
        var big = new Embedding(1000, 100, rng: new Rng(41)).Weight.ToDoubleArray();
        Assert.InRange(big.Average(), -0.02, 0.02);
        Assert.InRange(Math.Sqrt(big.Select(v => v * v).Average()), 0.98, 1.02);
    }

    [Fact]
    public void StateNamesFollowPyTorch()
    {
        Assert.Equal(["weight", "bias"], new Linear(2, 3).NamedParameters().Select(p => p.Name));
        Assert.Equal(["weight"], new Linear(2, 3, bias: false).NamedParameters().Select(p => p.Name));
        Assert.Equal(["weight", "bias"], new Conv2d(2, 3, 3).NamedParameters().Select(p => p.Name));
        Assert.Equal(["weight", "bias"], new ConvTranspose2d(2, 3, 3).NamedParameters().Select(p => p.Name));
        Assert.Equal(["weight"], new Embedding(4, 2).NamedParameters().Select(p => p.Name));
        var bn = new BatchNorm2d(3);
        Assert.Equal(["weight", "bias"], bn.NamedParameters().Select(p => p.Name));
        Assert.Equal(["running_mean", "running_var", "num_batches_tracked"], bn.NamedBuffers().Select(b => b.Name));
        Assert.Empty(new BatchNorm1d(3, affine: false, trackRunningStats: false).NamedParameters());
        Assert.Equal(["weight", "bias"], new LayerNorm(4).NamedParameters().Select(p => p.Name));
        Assert.Empty(new MaxPool2d(2).NamedParameters());
        // Forward through the module plumbing (Call) in a Sequential, and eval mode reaching a child
        #pragma warning disable SG2009 // this test exercises a run-time Sequential on purpose
        var seq = new Sequential(new Conv2d(1, 2, 3, padding: 1), new BatchNorm2d(2), new MaxPool2d(2), new Dropout(0.5));
        #pragma warning restore SG2009
        seq.Eval();
        var y = seq.Call(Tensor.Randn(2, 1, 4, 4));
        Assert.Equal(new[] { 2, 2, 2, 2 }, y.Shape);
        Assert.Equal(0L, ((BatchNorm2d)seq.Children().ElementAt(1)).NumBatchesTracked!.ToLongArray()[0]);
    }
}
