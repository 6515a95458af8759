namespace SharpGrad.Tests.Ops;

/// <summary>
/// The index of <c>IndexSelect</c> as a data loader passes it: a view into a longer permutation (<c>perm.Narrow(0, i, 64)</c>,
/// an index that starts inside its storage), a strided view, Int32 indices, negative ones; and the errors of a bad index
/// (its dtype, its rank, a value out of range) with their messages, which are thrown by helpers of their own.
/// </summary>
public class IndexSelectIndexViewTests
{
    private static float[] Naive(float[] values, int width, long[] index, int rows)
    {
        var expected = new float[index.Length * width];
        for (int i = 0; i < index.Length; i++)
        {
            long r = index[i] < 0 ? index[i] + rows : index[i];
            Array.Copy(values, r * width, expected, i * width, width);
        }
        return expected;
    }

    [Theory]
    [InlineData(0, 5)]
    [InlineData(7, 9)]
    [InlineData(20, 4)]
    public void AnIndexThatStartsInsideItsStorageSelectsItsOwnValues(int start, int count)
    {
        const int rows = 31, width = 13;
        var values = new float[rows * width];
        for (int i = 0; i < values.Length; i++) values[i] = i * 0.25f - 7;
        var source = Tensor.FromArray(values, rows, width);
        long[] perm = [.. Enumerable.Range(0, 24).Select(i => (long)((i * 7 + 3) % rows - (i % 5 == 0 ? rows : 0)))];
        var index = Tensor.FromArray(perm, perm.Length).Narrow(0, start, count);
        Assert.Equal(Naive(values, width, perm[start..(start + count)], rows), source.IndexSelect(0, index).ToArray());
        // the same through the Int32 path and through a strided (non-contiguous) view
        int[] perm32 = [.. perm.Select(v => (int)v)];
        var index32 = Tensor.FromArray(perm32, perm32.Length).Narrow(0, start, count);
        Assert.Equal(Naive(values, width, perm[start..(start + count)], rows), source.IndexSelect(0, index32).ToArray());
        var strided = Tensor.FromArray(perm, 12, 2).Select(1, 1).Narrow(0, start / 2, count / 2);
        long[] every = [.. Enumerable.Range(start / 2, count / 2).Select(i => perm[2 * i + 1])];
        Assert.Equal(Naive(values, width, every, rows), source.IndexSelect(0, strided).ToArray());
    }

    [Fact]
    public void ABadIndexThrowsWithItsMessage()
    {
        var source = Tensor.FromArray(new float[12], 4, 3);
        var dtype = Assert.Throws<ArgumentException>(() => source.IndexSelect(0, Tensor.FromArray(new float[] { 1, 2 }, 2)));
        Assert.Contains("IndexSelect: the index must be an Int64 tensor, but got Float32", dtype.Message);
        var rank = Assert.Throws<ArgumentException>(() => source.IndexSelect(0, Tensor.FromArray(new long[] { 1, 2, 3, 0 }, 2, 2)));
        Assert.Contains("IndexSelect: the index must be 1-D (or 0-D), but got shape [2, 2]", rank.Message);
        var range = Assert.Throws<IndexOutOfRangeException>(() => source.IndexSelect(0, Tensor.FromArray(new long[] { 1, 4 }, 2)));
        Assert.Contains("IndexSelect: index 4 is out of bounds for dimension 0 with size 4 (tensor shape [4, 3])", range.Message);
        var below = Assert.Throws<IndexOutOfRangeException>(() => source.IndexSelect(1, Tensor.FromArray(new long[] { -4 }, 1)));
        Assert.Contains("IndexSelect: index -4 is out of bounds for dimension 1 with size 3", below.Message);
    }
}
