using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Ops over values with a sequence length T read at each call (CompiledLengthOpModels.cs): Max(dim)/Min(dim) values,
/// Var/Std, Glu, windows and Cat/Stack beside T, Select/Narrow along T, and MatMul broadcasting both operands are compiled
/// with no graph break, and one program equals eager (output, input and parameter gradients) at batch 1, 3 and 64 and at
/// several lengths, a longer one after a shorter one and back.
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
        EqualAtEachLength(model, model.Forward, compiled.Explanation, compiled.Forward, batch, features: 6, lengths: [5, 2, 9, 5], seed: 502);
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
        EqualAtEachLength(model, model.Forward, compiled.Explanation, compiled.Forward, batch, features: 4, lengths: [4, 7, 1, 4], seed: 512);
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
        EqualAtEachLength(model, model.Forward, compiled.Explanation, compiled.Forward, batch, features: 8, lengths: [6, 3, 6], seed: 522);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void SelectAndNarrowAlongTheLengthMatchEager(int batch)
    {
        // Select(1, -1) is step T − 1 of each call's T; the gradient goes back into that step only.
        Rng.ManualSeed(531);
        var model = new LengthLastStepClassifier();
        var compiled = model.Compile();
        EqualAtEachLength(model, model.Forward, compiled.Explanation, compiled.Forward, batch, features: 5, lengths: [5, 3, 8, 5], seed: 532);
    }

    [Fact]
    public void AWindowOutsideTheLengthOfThisCallIsEagersError()
    {
        // Narrow(1, 1, 2) needs T ≥ 3: at T = 2 the compiled program throws what eager throws, naming the window and the size.
        var model = new LengthLastStepClassifier();
        var compiled = model.Compile();
        var x = Tensor.Randn([2, 2, 5], rng: new Rng(541));
        var eager = Assert.ThrowsAny<Exception>(() => model.Forward(x));
        var error = Assert.ThrowsAny<Exception>(() => compiled.Forward(x));
        Assert.Equal(eager.GetType(), error.GetType());
        Assert.Contains("[1, 3)", error.Message);
        Assert.Contains("size 2", error.Message);
        // A long enough input afterwards is computed as usual.
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => compiled.Forward(x), [2, 4, 5], seed: 542);
    }

    /// <summary>
    /// The module is fully compiled, and its one program equals eager on inputs [batch, t, features] for each length t in
    /// turn (the buffers grown and reused as T changes).
    /// </summary>
    internal static void EqualAtEachLength(Module model, Func<Tensor, Tensor> eager, GraphExplanation explanation, Func<Tensor, Tensor> compiled, int batch, int features, int[] lengths, int seed)
    {
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        foreach (int t in lengths)
        {
            CompiledLayerTests.Compare(model, model, eager, compiled, [batch, t, features], seed: seed + t);
        }
    }
}
