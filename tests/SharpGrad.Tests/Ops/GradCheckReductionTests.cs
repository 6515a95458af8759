using SharpGrad;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Ops;

public class GradCheckReductionTests
{
    private static Tensor R(params int[] shape) => Tensor.Randn(shape, DType.Float64);

    [Fact] public void MaxAll() => GradCheck.Check(xs => xs[0].Max(), R(3, 4));
    [Fact] public void MinAll() => GradCheck.Check(xs => xs[0].Min(), R(3, 4));
    [Fact] public void MaxDim() => GradCheck.Check(xs => xs[0].Max(1).Values, R(3, 4, 5));
    [Fact] public void MaxDimKeepDim() => GradCheck.Check(xs => xs[0].Max(-1, keepDim: true).Values, R(3, 4, 5));
    [Fact] public void MinDim() => GradCheck.Check(xs => xs[0].Min(0).Values, R(3, 4, 5));
    [Fact] public void Amax() => GradCheck.Check(xs => xs[0].Amax([0, 2]), R(3, 4, 5));
    [Fact] public void AminKeepDim() => GradCheck.Check(xs => xs[0].Amin(1, keepDim: true), R(3, 4, 5));
    [Fact] public void VarDims() => GradCheck.Check(xs => xs[0].Var([0, 2]), R(3, 4, 5));
    [Fact] public void VarAllBiased() => GradCheck.Check(xs => xs[0].Var(unbiased: false), R(3, 4));
    [Fact] public void StdDimKeepDim() => GradCheck.Check(xs => xs[0].Std(1, keepDim: true), R(3, 4, 5));
    [Fact] public void StdAll() => GradCheck.Check(xs => xs[0].Std(), R(3, 4));
    [Fact] public void LogSumExp() => GradCheck.Check(xs => xs[0].LogSumExp(1), R(3, 4, 5));
    [Fact] public void LogSumExpDimsKeepDim() => GradCheck.Check(xs => xs[0].LogSumExp([0, 2], keepDim: true), R(3, 4, 5));
    [Fact] public void SumDims() => GradCheck.Check(xs => xs[0].Sum([0, 2], keepDim: true), R(3, 4, 5));
    [Fact] public void MeanDims() => GradCheck.Check(xs => xs[0].Mean([1]), R(3, 4, 5));
    [Fact] public void SumAndMeanAll() => GradCheck.Check(xs => xs[0].Sum() + xs[0].Mean(), R(3, 4));

    [Fact] public void ProdDim() => GradCheck.Check(xs => xs[0].Prod(1), R(3, 4, 2));
    [Fact] public void ProdDimKeepDim() => GradCheck.Check(xs => xs[0].Prod(0, keepDim: true), R(3, 4));
    [Fact] public void ProdAll() => GradCheck.Check(xs => xs[0].Prod(), R(2, 3));

    [Fact]
    public void ProdGradientIsExactWithZeros()
    {
        // d/dx_i Π x = Π_{j≠i} x_j, computed by hand.
        var x = Tensor.FromArray(new double[] { 2, 0, 3, 0, 5, 4 }, 2, 3).RequiresGrad_();
        var p = x.Prod(1);
        Assert.Equal(new double[] { 0, 0 }, p.ToDoubleArray());
        p.Sum().Backward();
        Assert.Equal(new double[] { 0, 6, 0, 20, 0, 0 }, x.Grad!.ToDoubleArray());
        Assert.Equal(24.0, Tensor.FromArray(new double[] { 1, 2, 3, 4 }).Prod().ItemDouble());
    }

    [Fact]
    public void MaxAllSplitsTheGradientEvenlyAmongTies()
    {
        var x = Tensor.FromArray(new double[] { 1, 3, 3, 2 }).RequiresGrad_();
        x.Max().Backward();
        Assert.Equal(new double[] { 0, 0.5, 0.5, 0 }, x.Grad!.ToDoubleArray());
    }

    [Fact]
    public void MaxMinArgMaxAgreeWithNaiveLoops()
    {
        var x = Tensor.Randn([4, 5, 6]);
        var v = x.ToArray();
        var (values, indices) = x.Max(1);
        var (minValues, minIndices) = x.Min(2, keepDim: true);
        Assert.Equal(new[] { 4, 6 }, values.Shape);
        Assert.Equal(new[] { 4, 5, 1 }, minValues.Shape);
        var argmax = x.ArgMax(1).ToLongArray();
        for (int i = 0; i < 4; i++)
        {
            for (int k = 0; k < 6; k++)
            {
                int best = 0;
                for (int j = 1; j < 5; j++) if (v[i * 30 + j * 6 + k] > v[i * 30 + best * 6 + k]) best = j;
                Assert.Equal(v[i * 30 + best * 6 + k], values[i, k]);
                Assert.Equal(best, indices.ToLongArray()[i * 6 + k]);
                Assert.Equal(best, argmax[i * 6 + k]);
            }
            for (int j = 0; j < 5; j++)
            {
                var row = v.Skip(i * 30 + j * 6).Take(6).ToArray();
                Assert.Equal(row.Min(), minValues[i, j, 0]);
                Assert.Equal(Array.IndexOf(row, row.Min()), minIndices.ToLongArray()[i * 5 + j]);
            }
        }
        Assert.Equal(Array.IndexOf(v, v.Max()), x.ArgMax().ToLongArray()[0]);
        Assert.Empty(x.ArgMax().Shape);
        Assert.Equal(Array.IndexOf(v, v.Min()), x.ArgMin().ToLongArray()[0]);
        Assert.Equal(v.Max(), x.Max().Item());
        Assert.Equal(v.Min(), x.Min().Item());
        Assert.Equal(v.Max(), x.Amax([0, 1, 2]).Item());
    }

    [Fact]
    public void VarAndStdMatchTwoPassFormula()
    {
        var x = Tensor.Randn([3, 7], DType.Float64);
        var v = x.ToDoubleArray();
        for (int i = 0; i < 3; i++)
        {
            var row = v.Skip(i * 7).Take(7).ToArray();
            double mean = row.Average();
            double ss = row.Sum(a => (a - mean) * (a - mean));
            Assert.Equal(ss / 6, x.Var(1).ToDoubleArray()[i], 1e-12);
            Assert.Equal(ss / 7, x.Var(1, unbiased: false).ToDoubleArray()[i], 1e-12);
            Assert.Equal(Math.Sqrt(ss / 6), x.Std(1).ToDoubleArray()[i], 1e-12);
        }
        double m = v.Average();
        Assert.Equal(v.Sum(a => (a - m) * (a - m)) / 20, x.Var().ItemDouble(), 1e-12);
    }

    [Fact]
    public void LogSumExpIsStableAndMatchesTheDefinition()
    {
        var x = Tensor.FromArray(new double[] { 1000, 1000, -2, 0.5, 1, 1.5 }, 2, 3);
        var r = x.LogSumExp(1).ToDoubleArray();
        Assert.Equal(1000 + Math.Log(2 + Math.Exp(-1002)), r[0], 1e-9);
        Assert.Equal(Math.Log(Math.Exp(0.5) + Math.Exp(1) + Math.Exp(1.5)), r[1], 1e-12);
        var inf = Tensor.FromArray(new double[] { double.NegativeInfinity, double.NegativeInfinity }).LogSumExp(0);
        Assert.Equal(double.NegativeInfinity, inf.ItemDouble());
    }

    [Fact]
    public void MaxIndicesAreNotDifferentiable()
    {
        var x = Tensor.Randn([3, 4], requiresGrad: true);
        var (values, indices) = x.Max(1);
        Assert.True(values.RequiresGrad);
        Assert.False(indices.RequiresGrad);
        Assert.Equal("MaxBackward", values.GradFn!.Name);
    }

    [Fact]
    public void ReducingAnEmptyDimensionNamesTheShape()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Zeros(3, 0).Max(1));
        Assert.Contains("[3, 0]", ex.Message);
        Assert.Throws<ArgumentException>(() => Tensor.Zeros(0).Max());
    }
}
