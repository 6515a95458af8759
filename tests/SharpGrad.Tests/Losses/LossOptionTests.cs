using SharpGrad.Layers;
using SharpGrad.Tests.Support;
using L = SharpGrad.Losses;

namespace SharpGrad.Tests.LossTests;

/// <summary>
/// Options the fixtures don't cover, against naive double-precision implementations written from PyTorch's documented
/// formulas; module = function; error messages.
/// </summary>
public class LossOptionTests
{
    private static Tensor Randn(int seed, params int[] shape) => Tensor.Randn(shape, DType.Float64, rng: new Rng(seed));

    private static double[] LogSoftmaxRow(double[] x)
    {
        double m = x.Max();
        double lse = m + Math.Log(x.Sum(v => Math.Exp(v - m)));
        return x.Select(v => v - lse).ToArray();
    }

    /// <summary>PyTorch's cross_entropy (class indices, weight, ignore_index, label_smoothing) for [N, C] inputs.</summary>
    private static double[] NaiveCrossEntropy(double[,] x, long[] y, double[]? w, long ignore, double eps, Reduction r)
    {
        int n = x.GetLength(0), c = x.GetLength(1);
        var per = new double[n];
        double sumNll = 0, sumSmooth = 0, sumW = 0;
        for (int i = 0; i < n; i++)
        {
            if (y[i] == ignore) continue;
            var lp = LogSoftmaxRow(Enumerable.Range(0, c).Select(k => x[i, k]).ToArray());
            double wy = w?[y[i]] ?? 1;
            double nll = -wy * lp[y[i]];
            double smooth = 0;
            for (int k = 0; k < c; k++) smooth -= (w?[k] ?? 1) * lp[k];
            per[i] = (1 - eps) * nll + eps / c * smooth;
            sumNll += nll;
            sumSmooth += smooth;
            sumW += wy;
        }
        return r switch
        {
            Reduction.None => per,
            Reduction.Sum => [per.Sum()],
            _ => [(1 - eps) * sumNll / sumW + eps / c * sumSmooth / (w is null ? n : sumW)],
        };
    }

    private static double[,] To2D(Tensor t)
    {
        var v = t.ToDoubleArray();
        int n = t.Shape[0], c = t.Shape[1];
        var a = new double[n, c];
        for (int i = 0; i < n; i++) for (int k = 0; k < c; k++) a[i, k] = v[i * c + k];
        return a;
    }

    [Theory]
    [InlineData(Reduction.Mean)]
    [InlineData(Reduction.Sum)]
    [InlineData(Reduction.None)]
    public void CrossEntropyWeightIgnoreSmoothingMatchesNaive(Reduction r)
    {
        var x = Randn(1, 6, 4);
        long[] y = [0, 3, 1, 1, 5, 2];
        double[] w = [0.5, 1.5, 2.0, 0.25];
        var wt = Tensor.FromArray(w, 4);
        foreach (var eps in new[] { 0.0, 0.15 })
        {
            var expected = NaiveCrossEntropy(To2D(x), y, w, 5, eps, r);
            var actual = L.CrossEntropy(x, Tensor.FromArray(y, 6), wt, ignoreIndex: 5, labelSmoothing: eps, reduction: r);
            TensorAssert.Close(expected, actual.ToDoubleArray(), 1e-10, 1e-12, $"weighted, eps={eps}");
            expected = NaiveCrossEntropy(To2D(x), y, null, 5, eps, r);
            actual = L.CrossEntropy(x, Tensor.FromArray(y, 6), null, ignoreIndex: 5, labelSmoothing: eps, reduction: r);
            TensorAssert.Close(expected, actual.ToDoubleArray(), 1e-10, 1e-12, $"unweighted, eps={eps}");
        }
        // Float32 goes through the same kernel
        var x32 = x.To(DType.Float32);
        TensorAssert.Close(NaiveCrossEntropy(To2D(x), y, w, 5, 0.1, r),
            L.CrossEntropy(x32, Tensor.FromArray(y, 6), wt.To(DType.Float32), 5, 0.1, r).ToDoubleArray(), 1e-5, 1e-6, "float32");
    }

    [Fact]
    public void CrossEntropyEqualsNllOfLogSoftmaxAndNdMatchesFlattened()
    {
        var x = Randn(2, 2, 3, 2, 2);
        var y = Tensor.FromArray(new long[] { 0, 1, 2, 1, 2, 0, 0, 1 }, 2, 2, 2);
        var w = Tensor.FromArray(new double[] { 0.3, 1, 2 }, 3);
        foreach (var r in new[] { Reduction.None, Reduction.Mean, Reduction.Sum })
        {
            var ce = L.CrossEntropy(x, y, w, reduction: r);
            var viaNll = L.Nll(x.LogSoftmax(1), y, w, reduction: r);
            TensorAssert.Close(viaNll, ce, 1e-12, 1e-12, $"CE vs Nll(LogSoftmax) {r}");
            // [N, C, d1, d2] → [N·d1·d2, C]
            var flat = x.Permute(0, 2, 3, 1).Reshape(8, 3);
            var ce2 = L.CrossEntropy(flat, y.Reshape(8), w, reduction: r);
            TensorAssert.Close(ce2, ce.Reshape(r == Reduction.None ? [8] : []), 1e-12, 1e-12, $"N-d vs flattened {r}");
        }
    }

    [Theory]
    [InlineData(Reduction.Mean)]
    [InlineData(Reduction.Sum)]
    [InlineData(Reduction.None)]
    public void CrossEntropyProbabilityTargetsMatchNaive(Reduction r)
    {
        var x = Randn(3, 5, 4);
        var t = Tensor.Rand([5, 4], DType.Float64, rng: new Rng(4));
        double[] w = [0.5, 1.5, 2.0, 0.25];
        const double eps = 0.1;
        var xa = To2D(x);
        var ta = To2D(t);
        var per = new double[5];
        for (int i = 0; i < 5; i++)
        {
            var lp = LogSoftmaxRow(Enumerable.Range(0, 4).Select(k => xa[i, k]).ToArray());
            for (int k = 0; k < 4; k++) per[i] -= w[k] * (ta[i, k] * (1 - eps) + eps / 4) * lp[k];
        }
        double[] expected = r switch { Reduction.None => per, Reduction.Sum => [per.Sum()], _ => [per.Sum() / 5] };
        var actual = L.CrossEntropy(x, t, Tensor.FromArray(w, 4), labelSmoothing: eps, reduction: r);
        TensorAssert.Close(expected, actual.ToDoubleArray(), 1e-10, 1e-12, "probability targets");
    }

    [Fact]
    public void KLDivBatchMeanAndLogTarget()
    {
        var x = Randn(1, 3, 4);
        var t = Tensor.Rand([3, 4], DType.Float64, rng: new Rng(2));
        var xv = x.ToDoubleArray();
        var tv = t.ToDoubleArray();
        double sum = 0, sumLog = 0;
        for (int i = 0; i < 12; i++)
        {
            sum += tv[i] * (Math.Log(tv[i]) - xv[i]);
            sumLog += Math.Exp(tv[i]) * (tv[i] - xv[i]);
        }
        Assert.Equal(sum / 3, L.KLDiv(x, t, batchMean: true).ItemDouble(), 10);
        Assert.Equal(sum / 12, L.KLDiv(x, t).ItemDouble(), 10);
        Assert.Equal(sumLog, L.KLDiv(x, t, Reduction.Sum, logTarget: true).ItemDouble(), 10);
        // 0·log 0 = 0
        Assert.Equal(0.0, L.KLDiv(x, Tensor.Zeros([3, 4], DType.Float64), Reduction.Sum).ItemDouble());
    }

    [Fact]
    public void BinaryCrossEntropyWithLogitsPosWeightMatchesNaive()
    {
        var x = Randn(1, 4, 3) * 3f;
        var t = Tensor.Rand([4, 3], DType.Float64, rng: new Rng(2));
        double[] pw = [0.5, 2, 3];
        double[] w = [1, 2, 0.5, 1.5];
        var xv = x.ToDoubleArray();
        var tv = t.ToDoubleArray();
        var expected = new double[12];
        for (int i = 0; i < 12; i++)
        {
            double s = 1 / (1 + Math.Exp(-xv[i]));
            expected[i] = -w[i / 3] * (pw[i % 3] * tv[i] * Math.Log(s) + (1 - tv[i]) * Math.Log(1 - s));
        }
        var actual = L.BinaryCrossEntropyWithLogits(x, t, Tensor.FromArray(w, 4, 1), Tensor.FromArray(pw, 3), Reduction.None);
        TensorAssert.Close(expected, actual.ToDoubleArray(), 1e-10, 1e-12, "pos_weight");
        // BCE on probabilities with the log clamp at -100
        var p = Tensor.FromArray(new double[] { 0, 1, 0.5 }, 3);
        var tt = Tensor.FromArray(new double[] { 1, 0, 1 }, 3);
        TensorAssert.Close(new[] { 100, 100, -Math.Log(0.5) }, L.BinaryCrossEntropy(p, tt, reduction: Reduction.None).ToDoubleArray(), 1e-12, 1e-12, "clamp");
    }

    [Fact]
    public void PoissonAndGaussianFullMatchNaive()
    {
        var x = Tensor.Rand([6], DType.Float64, rng: new Rng(1)) + 0.5f;
        var t = Tensor.FromArray(new double[] { 0, 0.5, 1, 1.5, 3, 7 }, 6);
        var xv = x.ToDoubleArray();
        var tv = t.ToDoubleArray();
        var e1 = new double[6];
        var e2 = new double[6];
        var e3 = new double[6];
        var v = new double[] { 0.5, 1e-9, 2, 0.1, 1, 3 };
        for (int i = 0; i < 6; i++)
        {
            double st = tv[i] > 1 ? tv[i] * Math.Log(tv[i]) - tv[i] + 0.5 * Math.Log(2 * Math.PI * tv[i]) : 0;
            e1[i] = Math.Exp(xv[i]) - tv[i] * xv[i] + st;
            e2[i] = xv[i] - tv[i] * Math.Log(xv[i] + 1e-8);
            double vc = Math.Max(v[i], 1e-6);
            e3[i] = 0.5 * (Math.Log(vc) + (xv[i] - tv[i]) * (xv[i] - tv[i]) / vc) + 0.5 * Math.Log(2 * Math.PI);
        }
        TensorAssert.Close(e1, L.PoissonNll(x, t, full: true, reduction: Reduction.None).ToDoubleArray(), 1e-10, 1e-12, "poisson full");
        TensorAssert.Close(e2, L.PoissonNll(x, t, logInput: false, reduction: Reduction.None).ToDoubleArray(), 1e-10, 1e-12, "poisson, rate input");
        TensorAssert.Close(e3, L.GaussianNll(x, t, Tensor.FromArray(v, 6), full: true, reduction: Reduction.None).ToDoubleArray(), 1e-10, 1e-12, "gaussian full");
    }

    [Fact]
    public void MultiMarginAndTripletSwapMatchNaive()
    {
        var x = Randn(1, 3, 4);
        long[] y = [2, 0, 3];
        double[] w = [0.5, 1.5, 2.0, 0.25];
        var xv = x.ToDoubleArray();
        var per = new double[3];
        for (int i = 0; i < 3; i++)
        {
            for (int k = 0; k < 4; k++)
            {
                if (k == y[i]) continue;
                double z = Math.Max(0, 0.8 - xv[i * 4 + y[i]] + xv[i * 4 + k]);
                per[i] += w[y[i]] * z * z / 4;
            }
        }
        TensorAssert.Close(per, L.MultiMargin(x, Tensor.FromArray(y, 3), 2, 0.8, Tensor.FromArray(w, 4), Reduction.None).ToDoubleArray(), 1e-10, 1e-12, "multi margin");

        var a = Randn(2, 3, 4);
        var p = Randn(3, 3, 4);
        var n = Randn(4, 3, 4);
        double Dist(Tensor u, Tensor v, int row)
        {
            var uu = u.ToDoubleArray();
            var vv = v.ToDoubleArray();
            return Math.Sqrt(Enumerable.Range(0, 4).Sum(k => Math.Pow(uu[row * 4 + k] - vv[row * 4 + k] + 1e-6, 2)));
        }
        var expected = Enumerable.Range(0, 3).Select(i => Math.Max(0, Dist(a, p, i) - Math.Min(Dist(a, n, i), Dist(p, n, i)) + 1.0)).ToArray();
        TensorAssert.Close(expected, L.TripletMargin(a, p, n, swap: true, reduction: Reduction.None).ToDoubleArray(), 1e-10, 1e-12, "triplet swap");
    }

    [Fact]
    public void ModulesGiveTheSameAsTheirFunctions()
    {
        var x = Randn(1, 4, 3);
        var t = Randn(2, 4, 3);
        var p = Tensor.Rand([4, 3], DType.Float64, rng: new Rng(3)) * 0.8f + 0.1f;
        var bin = Tensor.Rand([4, 3], DType.Float64, rng: new Rng(4));
        var signs = Tensor.Where(t.Gt(0), Tensor.OnesLike(t), Tensor.FullLike(t, -1));
        var cls = Tensor.FromArray(new long[] { 0, 2, 1, 2 }, 4);
        var w = Tensor.FromArray(new double[] { 0.5, 2, 1 }, 3);
        var mlm = Tensor.FromArray(new long[] { 1, -1, 0, 0, 2, -1, 2, 1, 0, 1, -1, 2 }, 4, 3);
        var y4 = Tensor.FromArray(new double[] { 1, -1, -1, 1 }, 4);
        var var = Tensor.Rand([4, 3], DType.Float64, rng: new Rng(5)) + 0.5f;
        foreach (var r in new[] { Reduction.None, Reduction.Mean, Reduction.Sum })
        {
            void Same(Tensor expected, Tensor actual, string what) => TensorAssert.Close(expected, actual, 0, 0, $"{what} ({r})");
            Same(L.L1(x, t, r), new L1Loss(r).Forward(x, t), "L1Loss");
            Same(L.Mse(x, t, r), new MSELoss(r).Forward(x, t), "MSELoss");
            Same(L.SmoothL1(x, t, r, 0.3), new SmoothL1Loss(r, 0.3).Forward(x, t), "SmoothL1Loss");
            Same(L.Huber(x, t, r, 0.7), new HuberLoss(r, 0.7).Forward(x, t), "HuberLoss");
            Same(L.BinaryCrossEntropy(p, bin, w, r), new BCELoss(w, r).Forward(p, bin), "BCELoss");
            Same(L.BinaryCrossEntropyWithLogits(x, bin, w, w, r), new BCEWithLogitsLoss(w, r, w).Forward(x, bin), "BCEWithLogitsLoss");
            Same(L.CrossEntropy(x, cls, w, 2, 0.1, r), new CrossEntropyLoss(w, 2, r, 0.1).Forward(x, cls), "CrossEntropyLoss");
            Same(L.Nll(x, cls, w, 1, r), new NLLLoss(w, 1, r).Forward(x, cls), "NLLLoss");
            Same(L.KLDiv(x, bin, r, false), new KLDivLoss(r).Forward(x, bin), "KLDivLoss");
            Same(L.KLDiv(x, t, r, true, true), new KLDivLoss(r, true, true).Forward(x, t), "KLDivLoss(batchmean, log_target)");
            Same(L.MarginRanking(x, t, signs, 0.2, r), new MarginRankingLoss(0.2, r).Forward(x, t, signs), "MarginRankingLoss");
            Same(L.HingeEmbedding(x, signs, 0.5, r), new HingeEmbeddingLoss(0.5, r).Forward(x, signs), "HingeEmbeddingLoss");
            Same(L.MultiLabelMargin(x, mlm, r), new MultiLabelMarginLoss(r).Forward(x, mlm), "MultiLabelMarginLoss");
            Same(L.SoftMargin(x, signs, r), new SoftMarginLoss(r).Forward(x, signs), "SoftMarginLoss");
            Same(L.MultiLabelSoftMargin(x, bin, w, r), new MultiLabelSoftMarginLoss(w, r).Forward(x, bin), "MultiLabelSoftMarginLoss");
            Same(L.CosineEmbedding(x, t, y4, 0.1, r), new CosineEmbeddingLoss(0.1, r).Forward(x, t, y4), "CosineEmbeddingLoss");
            Same(L.MultiMargin(x, cls, 2, 0.5, w, r), new MultiMarginLoss(2, 0.5, w, r).Forward(x, cls), "MultiMarginLoss");
            Same(L.TripletMargin(x, t, p, 0.5, 1, 1e-5, true, r), new TripletMarginLoss(0.5, 1, 1e-5, true, r).Forward(x, t, p), "TripletMarginLoss");
            Same(L.PoissonNll(p, bin, false, true, 1e-7, r), new PoissonNLLLoss(false, true, 1e-7, r).Forward(p, bin), "PoissonNLLLoss");
            Same(L.GaussianNll(x, t, var, true, 1e-5, r), new GaussianNLLLoss(true, 1e-5, r).Forward(x, t, var), "GaussianNLLLoss");
        }
        Assert.Equal(Reduction.Mean, new MSELoss().Reduction);
    }

    [Fact]
    public void ErrorsNameTheValues()
    {
        var x = Tensor.Randn(4, 3);
        var ex = Assert.Throws<ArgumentException>(() => L.CrossEntropy(x, Tensor.FromArray(new long[] { 0, 7, 1, 2 }, 4)));
        Assert.Contains("target 7", ex.Message);
        Assert.Contains("3 classes", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => L.Nll(x, Tensor.FromArray(new long[] { 0, -1, 1, 2 }, 4)));
        Assert.Contains("target -1", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => L.CrossEntropy(x, Tensor.FromArray(new long[] { 0, 1, 2 }, 3)));
        Assert.Contains("[4, 3]", ex.Message);
        Assert.Contains("[3]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => L.Mse(x, Tensor.Randn(3, 4)));
        Assert.Contains("[4, 3]", ex.Message);
        Assert.Contains("[3, 4]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => L.BinaryCrossEntropy(x * 10f, Tensor.Zeros(4, 3)));
        Assert.Contains("between 0 and 1", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => L.CrossEntropy(x, Tensor.FromArray(new long[] { 0, 1, 2, 0 }, 4), weight: Tensor.Ones(4)));
        Assert.Contains("[3]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => L.MultiMargin(x, Tensor.FromArray(new long[] { 0, 1, 3, 0 }, 4)));
        Assert.Contains("target 3", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => L.CrossEntropy(x, Tensor.FromArray(new long[] { 0, 1, 2, 0 }, 4), labelSmoothing: 1.5));
        Assert.Contains("1.5", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => L.GaussianNll(x, x, Tensor.Ones(2, 3)));
        Assert.Contains("[2, 3]", ex.Message);
    }

    [Fact]
    public void CrossEntropyTrainsAndFusedBackwardIsCheap()
    {
        // A tiny softmax regression must fit separable data with the fused loss.
        var xs = Tensor.FromArray(new float[] { 1, 0, 0, 1, -1, 0, 0, -1 }, 4, 2);
        var ys = Tensor.FromArray(new long[] { 0, 1, 2, 3 }, 4);
        var w = new Parameter(Tensor.Zeros(2, 4));
        var opt = new SharpGrad.Optimizers.Sgd([w], lr: 1.0);
        float first = 0, last = 0;
        for (int i = 0; i < 100; i++)
        {
            opt.ZeroGrad();
            var logits = Tensor.Stack([xs.Select(1, 0), xs.Select(1, 1)], 1); // [4, 2]
            var scores = (logits.Unsqueeze(2) * w.Unsqueeze(0)).Sum(1);   // [4, 4]
            var loss = L.CrossEntropy(scores, ys);
            if (i == 0) first = loss.Item();
            last = loss.Item();
            Assert.Equal("CrossEntropyLossBackward", loss.GradFn!.Name);
            loss.Backward();
            opt.Step();
        }
        Assert.Equal(Math.Log(4), first, 5);
        Assert.True(last < 0.1, $"loss after training: {last}");
    }
}

public class LossDoubleBackwardTests
{
    /// <summary>
    /// Hessian-vector products through the fused CrossEntropy/Nll backward (createGraph) vs finite differences of the
    /// first gradient.
    /// </summary>
    [Theory]
    [InlineData(true, Reduction.Mean)]
    [InlineData(true, Reduction.None)]
    [InlineData(true, Reduction.Sum)]
    [InlineData(false, Reduction.Mean)]
    public void FusedClassIndexLossSupportsDoubleBackward(bool crossEntropy, Reduction r)
    {
        var x0 = Tensor.Randn([3, 4, 2], DType.Float64, rng: new Rng(1));
        var y = Tensor.FromArray(new long[] { 0, 3, 2, -100, 1, 1 }, 3, 2);
        var w = Tensor.FromArray(new double[] { 0.5, 1, 2, 1.5 }, 4);
        var v = Tensor.Randn([3, 4, 2], DType.Float64, rng: new Rng(2));
        var seed = r == Reduction.None ? Tensor.Randn([3, 2], DType.Float64, rng: new Rng(3)) : Tensor.Scalar(1.0);
        Tensor Loss(Tensor x) => crossEntropy
            ? SharpGrad.Losses.CrossEntropy(x, y, w, labelSmoothing: 0.1, reduction: r)
            : SharpGrad.Losses.Nll(x * x, y, w, reduction: r); // x² so the second derivative isn't zero
        double[] FirstGrad(double[] xv)
        {
            var x = Tensor.FromArray(xv, 3, 4, 2).RequiresGrad_();
            return Autograd.Grad([Loss(x)], [x], [seed])[0]!.ToDoubleArray();
        }

        var xl = x0.Clone().RequiresGrad_();
        var g1 = Autograd.Grad([Loss(xl)], [xl], [seed], createGraph: true)[0]!;
        var hvp = Autograd.Grad([(g1 * v).Sum()], [xl])[0]!.ToDoubleArray();

        var xs = x0.ToDoubleArray();
        var vs = v.ToDoubleArray();
        var numeric = new double[xs.Length];
        const double eps = 1e-6;
        for (int j = 0; j < xs.Length; j++)
        {
            var plus = (double[])xs.Clone();
            var minus = (double[])xs.Clone();
            plus[j] += eps;
            minus[j] -= eps;
            var gp = FirstGrad(plus);
            var gm = FirstGrad(minus);
            double acc = 0;
            for (int i = 0; i < xs.Length; i++) acc += vs[i] * (gp[i] - gm[i]) / (2 * eps);
            numeric[j] = acc;
        }
        TensorAssert.Close(numeric, hvp, 1e-5, 1e-7, "Hessian-vector product");
    }
}

public class LossModuleStateTests
{
    [Fact]
    public void WeightsAreBuffersLikePyTorch()
    {
        var w = Tensor.Ones(3);
        var pw = Tensor.Ones(3) * 2f;
        Assert.Equal(["weight"], new CrossEntropyLoss(w).NamedBuffers().Select(b => b.Name));
        Assert.Equal(["weight", "pos_weight"], new BCEWithLogitsLoss(w, posWeight: pw).NamedBuffers().Select(b => b.Name));
        Assert.Empty(new CrossEntropyLoss().NamedBuffers());
        Assert.Empty(new MSELoss().NamedParameters());
        Assert.Equal("MSELoss()", new MSELoss().ToString());
    }

    private static Tensor Randn(int seed, params int[] shape) => Tensor.Randn(shape, DType.Float64, rng: new Rng(seed));

    [Fact]
    public void ClassIndexTargetsChangedInPlaceBeforeBackwardAreAnError()
    {
        // The class-index losses read the target where it is and save it (PyTorch: nll_loss saves its target): changing it in
        // place between the forward and the backward is reported, as PyTorch does, instead of using the old or the new values.
        var x = Randn(3, 4, 5).RequiresGrad_();
        var y = Tensor.FromArray(new long[] { 1, 0, 4, 2 }, 4);
        var loss = L.CrossEntropy(x, y);
        y.Fill_(3);
        var e = Assert.Throws<InvalidOperationException>(() => loss.Backward());
        Assert.Contains("CrossEntropyLossBackward", e.Message);
    }

    [Fact]
    public void RecycledLogProbabilitiesBelongToOneLossAtATime()
    {
        // A loss's log-probabilities go back to the caching allocator when its backward frees its node; a loss whose
        // backward is still to come keeps its own, whatever losses of the same shape run and recycle theirs in between.
        var y = Tensor.FromArray(new long[] { 1, 0, 4, 2 }, 4);
        var held = Randn(4, 4, 5).RequiresGrad_();
        var pending = L.CrossEntropy(held, y);
        for (int seed = 5; seed < 8; seed++)
        {
            L.CrossEntropy(Randn(seed, 4, 5).RequiresGrad_(), y).Backward();
            _ = L.CrossEntropy(Randn(seed + 10, 4, 5).RequiresGrad_(), y);   // may take the array just recycled
        }
        pending.Backward();
        var fresh = held.Detach().RequiresGrad_();
        L.CrossEntropy(fresh, y).Backward();
        Assert.Equal(fresh.Grad!.ToDoubleArray(), held.Grad!.ToDoubleArray());
    }
}
