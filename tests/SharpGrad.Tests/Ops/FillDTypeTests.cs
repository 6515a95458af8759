namespace SharpGrad.Tests.Ops;

/// <summary>
/// Issue 18, finding 1: filling an Int32, UInt8 or Bool tensor recursed forever (FillUnchecked and Full called each other)
/// and killed the process with a stack overflow. Expected values follow torch.ones/torch.full/fill_ for those dtypes.
/// </summary>
public class FillDTypeTests
{
    [Theory]
    [InlineData(DType.Int32)]
    [InlineData(DType.UInt8)]
    [InlineData(DType.Bool)]
    public void Ones_Full_OnesLike_Fill_WorkForEveryDType(DType dtype)
    {
        Assert.Equal([1.0, 1.0, 1.0, 1.0], Tensor.Ones([4], dtype).ToDoubleArray());
        double v = dtype == DType.Bool ? 1 : 7;
        var full = Tensor.Full([2, 3], v, dtype);
        Assert.Equal(dtype, full.DType);
        Assert.All(full.ToDoubleArray(), x => Assert.Equal(v, x));
        Assert.Equal([1.0, 1.0], Tensor.OnesLike(Tensor.Zeros([2], dtype)).ToDoubleArray());

        var t = Tensor.Zeros([3, 4], dtype);
        t.Fill_(v);
        Assert.All(t.ToDoubleArray(), x => Assert.Equal(v, x));
    }

    [Theory]
    [InlineData(DType.Int32)]
    [InlineData(DType.UInt8)]
    [InlineData(DType.Bool)]
    [InlineData(DType.Float32)]
    public void Fill_OnANonContiguousView_WritesOnlyTheView(DType dtype)
    {
        // torch.zeros(3, 4, dtype=...).t()[1].fill_(1) sets column 1 of the base
        var t = Tensor.Zeros([3, 4], dtype);
        t.Transpose(0, 1).Select(0, 1).Fill_(1);
        var expected = new double[12];
        for (int r = 0; r < 3; r++) expected[r * 4 + 1] = 1;
        Assert.Equal(expected, t.ToDoubleArray());
    }
}
