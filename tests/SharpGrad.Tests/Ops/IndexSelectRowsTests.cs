namespace SharpGrad.Tests.Ops;

/// <summary>
/// <c>IndexSelect(0, idx)</c> on a contiguous tensor copies whole rows (prefetching the rows a few indices ahead); checked
/// against a naive element-by-element gather on odd row lengths, repeated and negative indices, the last rows of the
/// array, a tensor that starts inside its storage, and each dtype the row path copies.
/// </summary>
public class IndexSelectRowsTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 37)]
    [InlineData(50, 784)]
    [InlineData(9, 2049)]   // rows longer than the prefetch's 8 KB
    public void GatheredRowsEqualTheNaiveGather(int rows, int width)
    {
        var values = new float[(rows + 3) * width];
        for (int i = 0; i < values.Length; i++) values[i] = i * 0.5f - 3;
        // Rows 3.. of the storage: a tensor whose offset is not 0.
        var whole = Tensor.FromArray(values, rows + 3, width);
        var source = whole.Narrow(0, 3, rows);
        long[] index = [rows - 1, 0, rows - 1, -1, rows / 2, 0, rows - 1, -rows, rows - 1];
        var gathered = source.IndexSelect(0, Tensor.FromArray(index, index.Length)).ToArray();
        Assert.Equal(index.Length * width, gathered.Length);
        for (int i = 0; i < index.Length; i++)
        {
            long r = index[i] < 0 ? index[i] + rows : index[i];
            for (int j = 0; j < width; j++) Assert.Equal(values[(3 + r) * width + j], gathered[i * width + j]);
        }
    }

    [Fact]
    public void GatheredLongRowsEqualTheNaiveGather()
    {
        const int rows = 11, width = 5;
        var values = new long[rows * width];
        for (int i = 0; i < values.Length; i++) values[i] = 1000 + i;
        long[] index = [10, 3, 3, 0, -2];
        var gathered = Tensor.FromArray(values, rows, width).IndexSelect(0, Tensor.FromArray(index, index.Length)).ToLongArray();
        for (int i = 0; i < index.Length; i++)
        {
            long r = index[i] < 0 ? index[i] + rows : index[i];
            for (int j = 0; j < width; j++) Assert.Equal(values[r * width + j], gathered[i * width + j]);
        }
    }
}
