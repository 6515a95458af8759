using SharpGrad.Kernels;
using SharpGrad.Tests.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Ops;

/// <summary>
/// <c>IndexSelect(0, idx)</c> of a large batch of rows gathers contiguous parts of its rows on the worker threads
/// (Tensor.Indexing.cs, GatherRows): at 1, 2 and 3 threads every row is the naive gather's, with the parts' edges on odd
/// row counts, repeated and negative indices and a tensor that starts inside its storage.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class IndexSelectRowPartsTests
{
    [Theory]
    [InlineData(64, 784)]   // mnist's batch (200 KB: two parts)
    [InlineData(67, 1031)]  // odd rows and width, three parts at 3 threads
    [InlineData(5, 40_000)] // few rows, each longer than the prefetch's 8 KB
    [InlineData(3, 8)]      // below the parts' bound: one part
    public void GatheredRowsByPartsEqualTheNaiveGather(int batch, int width)
    {
        int rows = batch + 17;
        var values = new float[(rows + 3) * width];
        for (int i = 0; i < values.Length; i++) values[i] = i * 0.25f - 7;
        var source = Tensor.FromArray(values, rows + 3, width).Narrow(0, 3, rows);
        var rnd = new Random(batch * 31 + width);
        var index = new long[batch];
        for (int i = 0; i < batch; i++) index[i] = rnd.Next(-rows, rows);
        index[0] = rows - 1;
        index[batch - 1] = -rows;
        foreach (int threads in new[] { 1, 2, 3 })
        {
            var gathered = TwoThreadSplitTests.WithThreads(threads, () => source.IndexSelect(0, Tensor.FromArray(index, batch)).ToArray());
            Assert.Equal(batch * width, gathered.Length);
            for (int i = 0; i < batch; i++)
            {
                long r = index[i] < 0 ? index[i] + rows : index[i];
                for (int j = 0; j < width; j++)
                {
                    if (values[(3 + r) * width + j] != gathered[i * width + j])
                        Assert.Fail($"{threads} threads: row {i} (source row {r}) element {j}: {gathered[i * width + j]}, expected {values[(3 + r) * width + j]}");
                }
            }
        }
    }
}
