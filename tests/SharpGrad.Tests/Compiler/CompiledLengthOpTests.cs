using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Ops over values with a sequence length T read at each call (CompiledLengthOpModels.cs): Max(dim)/Min(dim) values,
/// Var/Std, Glu, windows and Cat/Stack beside T are compiled with no graph break, and one program equals eager (output,
/// input and parameter gradients) at batch 1, 3 and 64 and at two lengths, a longer one after a shorter one and back.
/// </summary>
public class CompiledLengthOpTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void ExtremesAndVariancesAlongAndBesideTheLengthMatchEager(int batch)
    {
        Rng.ManualSeed(501);
        var model = new LengthExtremeVariance();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        foreach (int t in new[] { 5, 2, 9, 5 })
        {
            CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => compiled.Forward(x), [batch, t, 6], seed: 502 + t);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void GluWindowsAndJoinsBesideTheLengthMatchEager(int batch)
    {
        Rng.ManualSeed(511);
        var model = new LengthGluWindows();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        foreach (int t in new[] { 4, 7, 1, 4 })
        {
            CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => compiled.Forward(x), [batch, t, 4], seed: 512 + t);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void MatMulBroadcastingBothOperandsMatchesEager(int batch)
    {
        // [N, H, T, d] · [N, 1, d, T], [N, H, T, T] · [N, 1, T, d] and [N, H, T, d] · [H, d, 3]: the shared key/value and the
        // per-head parameter receive the gradients summed over the matrices that read them.
        Rng.ManualSeed(521);
        var model = new LengthMultiQueryAttention();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        foreach (int t in new[] { 6, 3, 6 })
        {
            CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => compiled.Forward(x), [batch, t, 8], seed: 522 + t);
        }
    }
}
