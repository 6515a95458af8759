using SharpGrad;

namespace SharpGrad.Tests.Ops;

/// <summary>Bad inputs give errors that name the op, the shapes or values, and the fix.</summary>
public class ErrorMessageIndexingTests
{
    [Fact]
    public void IndexAddWithWrongSourceShapeNamesBothShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            Tensor.Zeros(3, 4).IndexAdd(0, Tensor.FromArray(new long[] { 0, 2 }), Tensor.Zeros(3, 4)));
        Assert.Contains("IndexAdd", ex.Message);
        Assert.Contains("[2, 4]", ex.Message);
        Assert.Contains("[3, 4]", ex.Message);
    }

    [Fact]
    public void IndexSelectWithTwoDimensionalIndexSaysFlatten()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Zeros(3, 4).IndexSelect(1, Tensor.Zeros([2, 2], DType.Int64)));
        Assert.Contains("1-D", ex.Message);
        Assert.Contains("[2, 2]", ex.Message);
    }

    [Fact]
    public void ClampWithoutBoundsAndActivationsOnIntegersExplainTheFix()
    {
        var clamp = Assert.Throws<ArgumentException>(() => Tensor.Zeros(2).Clamp());
        Assert.Contains("min", clamp.Message);
        var soft = Assert.Throws<InvalidOperationException>(() => Functional.Softmax(Tensor.Zeros([2], DType.Int64), 0));
        Assert.Contains("Softmax", soft.Message);
        Assert.Contains("To(DType.Float32)", soft.Message);
        var dim = Assert.Throws<ArgumentOutOfRangeException>(() => Functional.LogSoftmax(Tensor.Zeros(2, 3), 2));
        Assert.Contains("[-2, 1]", dim.Message);
    }

    [Fact]
    public void WhereWithIncompatibleShapesNamesThem()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Where(Tensor.Ones(3).Gt(0.0), Tensor.Ones(4), Tensor.Ones(3)));
        Assert.Contains("Where", ex.Message);
        Assert.Contains("[3]", ex.Message);
        Assert.Contains("[4]", ex.Message);
    }

    [Fact]
    public void ScatterWithSmallerSourceNamesTheShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            Tensor.Zeros(3, 3).Scatter(0, Tensor.Zeros([2, 3], DType.Int64), Tensor.Zeros(2, 2)));
        Assert.Contains("[2, 2]", ex.Message);
        Assert.Contains("[2, 3]", ex.Message);
    }
}
