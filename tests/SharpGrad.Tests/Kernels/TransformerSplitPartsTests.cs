using SharpGrad.Kernels;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// How many batch parts the compiled encoder layer splits into (<c>TransformerLayerKernel.SplitParts</c>): one per thread
/// since session 24 (two per thread before; docs/performance.md, "The transformer step with 2 threads, session 24"), never
/// more than the sequences, and none below ~4 MFLOP of forward per part or with one thread.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class TransformerSplitPartsTests
{
    [Theory]
    [InlineData(2, 16, 2)] // transformer_train_step_b16 at 2 threads
    [InlineData(3, 16, 3)]
    [InlineData(4, 3, 3)] // fewer sequences than threads
    [InlineData(1, 16, 1)]
    [InlineData(2, 1, 1)]
    public void OnePartPerThreadAtTheWorkloadsWidth(int threads, int n, int expected)
    {
        var shape = new EncoderLayerShape(128, 4, 512, 64, NormFirst: false, Gelu: false, 1e-5);
        Assert.Equal(expected, TwoThreadSplitTests.WithThreads(threads, () => TransformerLayerKernel.SplitParts(shape, n)));
    }

    [Fact]
    public void SmallLayersRunWhole()
    {
        // 2·n·T·E·(4E + 2F + 2T) = 2·2·4·8·(32 + 32 + 8) ≈ 9 KFLOP: far below one part's worth
        var shape = new EncoderLayerShape(8, 2, 16, 4, NormFirst: false, Gelu: false, 1e-5);
        Assert.Equal(1, TwoThreadSplitTests.WithThreads(2, () => TransformerLayerKernel.SplitParts(shape, 2)));
    }
}
