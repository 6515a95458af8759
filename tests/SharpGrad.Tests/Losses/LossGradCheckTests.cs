using SharpGrad.Tests.Support;
using L = SharpGrad.Losses;

namespace SharpGrad.Tests.LossTests;

/// <summary>Float64 finite-difference checks of every loss's gradient (each reduction), including options the fixtures don't cover.</summary>
public class LossGradCheckTests
{
    private static readonly Reduction[] All = [Reduction.None, Reduction.Mean, Reduction.Sum];

    private static Tensor Randn(int seed, params int[] shape) => Tensor.Randn(shape, DType.Float64, rng: new Rng(seed));

    private static Tensor Rand(int seed, double lo, double hi, params int[] shape) => Tensor.Rand(shape, DType.Float64, rng: new Rng(seed)) * (float)(hi - lo) + (float)lo;

    private static Tensor Signs(int seed, params int[] shape) => Tensor.Where(Randn(seed, shape).Gt(0), Tensor.Ones(shape, DType.Float64), Tensor.Full(shape, -1.0, DType.Float64));

    private static void Check(Func<Reduction, Func<Tensor[], Tensor>> f, params Tensor[] inputs)
    {
        foreach (var r in All) GradCheck.Check(f(r), inputs);
    }

    [Fact] public void L1() => Check(r => x => L.L1(x[0], x[1], r), Randn(1, 4, 3), Randn(2, 4, 3));

    [Fact] public void Mse() => Check(r => x => L.Mse(x[0], x[1], r), Randn(1, 4, 3), Randn(2, 4, 3));

    [Fact] public void SmoothL1() => Check(r => x => L.SmoothL1(x[0], x[1], r, beta: 0.5), Randn(1, 4, 3) * 2f, Randn(2, 4, 3));

    [Fact] public void Huber() => Check(r => x => L.Huber(x[0], x[1], r, delta: 1.5), Randn(1, 4, 3) * 2f, Randn(2, 4, 3));

    [Fact]
    public void BinaryCrossEntropy()
    {
        var w = Rand(9, 0.5, 2, 4, 3);
        Check(r => x => L.BinaryCrossEntropy(x[0], x[1], w, r), Rand(1, 0.1, 0.9, 4, 3), Rand(2, 0, 1, 4, 3));
    }

    [Fact]
    public void BinaryCrossEntropyWithLogits()
    {
        var w = Rand(9, 0.5, 2, 4, 3);
        var pw = Rand(8, 0.5, 3, 3);
        Check(r => x => L.BinaryCrossEntropyWithLogits(x[0], x[1], w, pw, r), Randn(1, 4, 3) * 3f, Rand(2, 0, 1, 4, 3));
        Check(r => x => L.BinaryCrossEntropyWithLogits(x[0], x[1], reduction: r), Randn(1, 4, 3) * 3f, Rand(2, 0, 1, 4, 3));
    }

    [Fact]
    public void CrossEntropyClassIndices()
    {
        var t = Tensor.FromArray(new long[] { 0, 4, -100, 2, 2 }, 5);
        var w = Rand(5, 0.2, 2, 5);
        Check(r => x => L.CrossEntropy(x[0], Tensor.FromArray(new long[] { 0, 4, 1, 2, 2 }, 5), reduction: r), Randn(1, 5, 5));
        Check(r => x => L.CrossEntropy(x[0], t, w, ignoreIndex: -100, labelSmoothing: 0.2, reduction: r), Randn(1, 5, 5));
        Check(r => x => L.CrossEntropy(x[0], t, null, ignoreIndex: -100, labelSmoothing: 0.3, reduction: r), Randn(1, 5, 5));
        // N-d: [N, C, d1, d2] with targets [N, d1, d2]
        var t4 = Tensor.FromArray(new long[] { 0, 1, 2, 1, 2, 0, 0, 1 }, 2, 2, 2);
        Check(r => x => L.CrossEntropy(x[0], t4, w.Narrow(0, 0, 3), labelSmoothing: 0.1, reduction: r), Randn(2, 2, 3, 2, 2));
        // one sample, [C] with a 0-d target
        Check(r => x => L.CrossEntropy(x[0], Tensor.FromArray(new long[] { 3 }).Reshape(), reduction: r), Randn(3, 5));
    }

    [Fact]
    public void CrossEntropyProbabilities()
    {
        var w = Rand(5, 0.2, 2, 4);
        Check(r => x => L.CrossEntropy(x[0], x[1], reduction: r), Randn(1, 3, 4), Rand(2, 0, 1, 3, 4));
        Check(r => x => L.CrossEntropy(x[0], x[1], w, labelSmoothing: 0.2, reduction: r), Randn(1, 3, 4, 2), Rand(2, 0, 1, 3, 4, 2));
    }

    [Fact]
    public void Nll()
    {
        var w = Rand(5, 0.2, 2, 4);
        Check(r => x => L.Nll(x[0], Tensor.FromArray(new long[] { 3, 1, 7, 0 }, 4), w, ignoreIndex: 7, reduction: r), Randn(1, 4, 4));
        Check(r => x => L.Nll(x[0], Tensor.FromArray(new long[] { 3, 1, 2, 0, 0, 1 }, 1, 2, 3), w, reduction: r), Randn(1, 1, 4, 2, 3));
    }

    [Fact]
    public void KLDiv()
    {
        Check(r => x => L.KLDiv(x[0], x[1], r), Randn(1, 3, 4), Rand(2, 0.05, 1, 3, 4));
        Check(r => x => L.KLDiv(x[0], x[1], r, logTarget: true), Randn(1, 3, 4), Randn(2, 3, 4));
        GradCheck.Check(x => L.KLDiv(x[0], x[1], batchMean: true), Randn(1, 3, 4), Rand(2, 0.05, 1, 3, 4));
    }

    [Fact]
    public void MarginRanking()
    {
        var y = Signs(3, 6);
        Check(r => x => L.MarginRanking(x[0], x[1], y, 0.2, r), Randn(1, 6), Randn(2, 6));
    }

    [Fact]
    public void HingeEmbedding()
    {
        var y = Signs(3, 4, 3);
        Check(r => x => L.HingeEmbedding(x[0], y, 1.0, r), Randn(1, 4, 3));
    }

    [Fact]
    public void MultiLabelMargin()
    {
        var y = Tensor.FromArray(new long[] { 3, 0, -1, 1, 1, 2, 3, 0, -1, 0, 0, 0, 0, 1, 2, 3 }, 4, 4);
        Check(r => x => L.MultiLabelMargin(x[0], y, r), Randn(1, 4, 4));
        Check(r => x => L.MultiLabelMargin(x[0], Tensor.FromArray(new long[] { 2, -1, 0 }, 3), r), Randn(1, 3));
    }

    [Fact]
    public void SoftMargin()
    {
        var y = Signs(3, 4, 3);
        Check(r => x => L.SoftMargin(x[0], y, r), Randn(1, 4, 3));
    }

    [Fact]
    public void MultiLabelSoftMargin()
    {
        var w = Rand(5, 0.2, 2, 3);
        Check(r => x => L.MultiLabelSoftMargin(x[0], x[1], w, r), Randn(1, 4, 3), Rand(2, 0, 1, 4, 3));
    }

    [Fact]
    public void CosineEmbedding()
    {
        var y = Signs(3, 5);
        Check(r => x => L.CosineEmbedding(x[0], x[1], y, -0.5, r), Randn(1, 5, 4), Randn(2, 5, 4));
    }

    [Fact]
    public void MultiMargin()
    {
        var t = Tensor.FromArray(new long[] { 0, 3, 2, 2, 1 }, 5);
        var w = Rand(5, 0.2, 2, 4);
        Check(r => x => L.MultiMargin(x[0], t, p: 1, margin: 1.0, reduction: r), Randn(1, 5, 4));
        Check(r => x => L.MultiMargin(x[0], t, p: 2, margin: 0.7, weight: w, reduction: r), Randn(1, 5, 4));
    }

    [Fact]
    public void TripletMargin()
    {
        Check(r => x => L.TripletMargin(x[0], x[1], x[2], margin: 2.0, reduction: r), Randn(1, 5, 4), Randn(2, 5, 4), Randn(3, 5, 4));
        Check(r => x => L.TripletMargin(x[0], x[1], x[2], margin: 2.0, p: 1, swap: true, reduction: r), Randn(1, 5, 4), Randn(2, 5, 4), Randn(3, 5, 4));
        Check(r => x => L.TripletMargin(x[0], x[1], x[2], margin: 1.5, p: 3, reduction: r), Randn(1, 5, 4), Randn(2, 5, 4), Randn(3, 5, 4));
    }

    [Fact]
    public void PoissonNll()
    {
        Check(r => x => L.PoissonNll(x[0], x[1], reduction: r), Randn(1, 4, 3), Rand(2, 0, 3, 4, 3));
        Check(r => x => L.PoissonNll(x[0], x[1], logInput: false, full: true, reduction: r), Rand(1, 0.5, 2, 4, 3), Rand(2, 0.2, 3, 4, 3));
    }

    [Fact]
    public void GaussianNll()
    {
        Check(r => x => L.GaussianNll(x[0], x[1], x[2], reduction: r), Randn(1, 4, 3), Randn(2, 4, 3), Rand(3, 0.5, 2, 4, 3));
        Check(r => x => L.GaussianNll(x[0], x[1], x[2], full: true, reduction: r), Randn(1, 4, 3), Randn(2, 4, 3), Rand(3, 0.5, 2, 4));
        Check(r => x => L.GaussianNll(x[0], x[1], x[2], reduction: r), Randn(1, 4, 3), Randn(2, 4, 3), Rand(3, 0.5, 2, 4, 1));
    }
}
