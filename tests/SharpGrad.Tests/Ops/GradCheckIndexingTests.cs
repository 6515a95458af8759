using SharpGrad;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Ops;

public class GradCheckIndexingTests
{
    private static Tensor R(params int[] shape) => Tensor.Randn(shape, DType.Float64);
    private static Tensor L(long[] v, params int[] shape) => Tensor.FromArray(v, shape);

    [Fact]
    public void WhereBroadcastsAndRoutesGradients()
    {
        var cond = R(3, 1, 5).Gt(0.0);
        GradCheck.Check(xs => Tensor.Where(cond, xs[0], xs[1]), R(4, 1), R(3, 4, 5));
        GradCheck.Check(xs => Tensor.Where(cond, xs[0], 0.5), R(3, 4, 5));
    }

    [Fact]
    public void WhereMatchesNaiveSelection()
    {
        var c = Tensor.FromArray(new[] { true, false, true }, 3, 1);
        var x = Tensor.FromArray(new float[] { 1, 2 }, 1, 2);
        var y = Tensor.FromArray(new float[] { 10, 20, 30, 40, 50, 60 }, 3, 2);
        Assert.Equal(new float[] { 1, 2, 30, 40, 1, 2 }, Tensor.Where(c, x, y).ToArray());
    }

    [Fact]
    public void MaskedFill()
    {
        var mask = R(1, 5).Gt(0.0);
        GradCheck.Check(xs => xs[0].MaskedFill(mask, -3), R(4, 5));
        var x = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2);
        var m = Tensor.FromArray(new[] { true, false }, 1, 2);
        Assert.Equal(new float[] { -1, 2, -1, 4 }, x.MaskedFill(m, -1).ToArray());
        x.MaskedFill_(m, 9);
        Assert.Equal(new float[] { 9, 2, 9, 4 }, x.ToArray());
    }

    [Fact]
    public void GatherMatchesNaiveLoopAndHasScatterAddGradient()
    {
        var x = Tensor.Randn([3, 4]);
        var idxFull = L([0, 3, 3, 1, 2, 2], 3, 2);
        var g = x.Gather(1, idxFull);
        var xv = x.ToArray();
        var iv = idxFull.ToLongArray();
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 2; j++)
                Assert.Equal(xv[i * 4 + iv[i * 2 + j]], g[i, j]);
        Assert.Equal(new[] { 3, 2 }, g.Shape);
        // Row 2 picks column 2 twice: the backward must accumulate both.
        GradCheck.Check(xs => xs[0].Gather(1, idxFull), R(3, 4));
        GradCheck.Check(xs => xs[0].Gather(0, L([2, 0, 1, 2, 2, 2], 2, 3)), R(3, 3));
    }

    [Fact]
    public void ScatterAndScatterAdd()
    {
        var idx = L([1, 0, 2, 0, 2, 1], 2, 3);
        var self = Tensor.Zeros(3, 3);
        var src = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        // out[idx[i][j]][j] = src[i][j] along dim 0
        Assert.Equal(new float[] { 4, 2, 0, 1, 0, 6, 0, 5, 3 }, self.Scatter(0, idx, src).ToArray());
        var dup = L([0, 0, 1], 1, 3);
        Assert.Equal(new float[] { 3, 3, 0 }, Tensor.Zeros(1, 3).ScatterAdd(1, dup, Tensor.FromArray(new float[] { 1, 2, 3 }, 1, 3)).ToArray());
        Assert.Equal(new float[] { 7, 7, 0 }, Tensor.Zeros(1, 3).Scatter(1, L([0, 1], 1, 2), 7).ToArray());

        // Distinct indices per column for Scatter (duplicates have no defined winner); src bigger than the index.
        GradCheck.Check(xs => xs[0].Scatter(0, idx, xs[1]), R(3, 3), R(2, 4));
        GradCheck.Check(xs => xs[0].ScatterAdd(1, L([0, 0, 2, 1, 1, 1], 2, 3), xs[1]), R(2, 4), R(2, 3));
    }

    [Fact]
    public void IndexSelectAndIndexAdd()
    {
        var x = Tensor.Arange(0.0, 12.0).View(3, 4);
        var idx = L([2, 0, 2], 3);
        Assert.Equal(new float[] { 8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11 }, x.IndexSelect(0, idx).ToArray());
        Assert.Equal(new float[] { 3, 1, 7, 5, 11, 9 }, x.IndexSelect(1, L([3, 1], 2)).ToArray());
        GradCheck.Check(xs => xs[0].IndexSelect(0, idx), R(3, 4));
        GradCheck.Check(xs => xs[0].IndexSelect(1, L([3, 3, 0], 3)), R(3, 4));
        GradCheck.Check(xs => xs[0].IndexAdd(0, idx, xs[1]), R(3, 4), R(3, 4));
    }

    [Fact]
    public void OneHotMatchesPyTorch()
    {
        var labels = L([2, 0, 1, 2], 2, 2);
        var oh = Functional.OneHot(labels);
        Assert.Equal(new[] { 2, 2, 3 }, oh.Shape);
        Assert.Equal(DType.Int64, oh.DType);
        Assert.Equal(new long[] { 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1 }, oh.ToLongArray());
        Assert.Equal(new[] { 2, 2, 5 }, Functional.OneHot(labels, 5).Shape);
        var ex = Assert.Throws<ArgumentException>(() => Functional.OneHot(labels, 2));
        Assert.Contains("label 2", ex.Message);
    }

    [Fact]
    public void GatherWithIndexOfWrongRankNamesTheShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Zeros(3, 4).Gather(1, L([0, 1, 2], 3)));
        Assert.Contains("Gather", ex.Message);
        Assert.Contains("[3, 4]", ex.Message);
        Assert.Contains("[3]", ex.Message);
    }

    [Fact]
    public void BadIndicesGiveClearErrors()
    {
        var oob = Assert.Throws<IndexOutOfRangeException>(() => Tensor.Zeros(3, 4).Gather(1, L([0, 4], 1, 2)));
        Assert.Contains("index 4", oob.Message);
        Assert.Contains("size 4", oob.Message);
        var dtype = Assert.Throws<ArgumentException>(() => Tensor.Zeros(3, 4).IndexSelect(0, Tensor.FromArray(new float[] { 0 })));
        Assert.Contains("Int64", dtype.Message);
        var cond = Assert.Throws<ArgumentException>(() => Tensor.Where(Tensor.Ones(2), Tensor.Ones(2), Tensor.Ones(2)));
        Assert.Contains("Bool", cond.Message);
        var big = Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 2).Gather(1, L([0, 0, 0, 0, 0, 0], 3, 2)));
        Assert.Contains("dimension 0", big.Message);
    }
}
