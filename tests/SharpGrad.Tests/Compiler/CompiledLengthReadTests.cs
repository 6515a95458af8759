using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// A sequence length read in Forward (<c>int t = tokens.Size(1)</c>, <c>Tensor.Arange(tokens.Size(1))</c>) is the symbol T of
/// the token input, read at each call (CompiledLengthReadModels.cs): the zoo TransformerClassifier's and Gpt's Forward
/// bodies compile with no graph break, and one compiled program equals eager (output and every parameter gradient) at
/// batch 1, 3 and 64 and at two sequence lengths.
/// </summary>
public class CompiledLengthReadTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void TransformerClassifierForwardWithPaddingMaskAndPositionsMatchesEager(int batch)
    {
        Rng.ManualSeed(401);
        var model = new LengthReadClassifier();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        foreach (int t in new[] { 7, 4, 7 })
        {
            // Token 0 is padding: some positions of each sequence are, never the first (the mean divides by the count).
            var tokens = Tensor.Cat([Tensor.RandInt(1, 20, [batch, 1], new Rng(401 + t)), Tensor.RandInt(0, 4, [batch, t - 1], new Rng(402 + t))], 1);
            CompareTokens(model, tokens => model.Forward(tokens), tokens => compiled.Forward(tokens), tokens, seed: 403 + t);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void GptForwardWithCausalMaskOfTheReadLengthMatchesEager(int batch)
    {
        Rng.ManualSeed(411);
        var model = new LengthReadGpt();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        foreach (int t in new[] { 9, 5, 9 })
        {
            var tokens = Tensor.RandInt(0, 20, [batch, t], new Rng(412 + t));
            CompareTokens(model, tokens => model.Forward(tokens), tokens => compiled.Forward(tokens), tokens, seed: 413 + t);
        }
    }

    [Fact]
    public void ALengthLongerThanThePositionTableIsEagersError()
    {
        // Arange(t) runs the eager method at each call: past maxLen the position Embedding refuses the index as eager does.
        var model = new LengthReadGpt(maxLen: 6);
        var tokens = Tensor.RandInt(0, 20, [2, 8], new Rng(421));
        var eager = Assert.ThrowsAny<Exception>(() => model.Forward(tokens));
        var compiled = Assert.ThrowsAny<Exception>(() => model.Compile().Forward(tokens));
        Assert.Equal(eager.GetType(), compiled.GetType());
    }

    /// <summary>Output and every parameter gradient of eager and compiled on the same token ids (no input gradient: ids are data).</summary>
    internal static void CompareTokens(Module model, Func<Tensor, Tensor> eager, Func<Tensor, Tensor> compiled, Tensor tokens, int seed)
    {
        var rng = new Rng(seed);
        var parameters = model.Parameters().ToList();
        foreach (var p in parameters) p.Grad = null;
        var ye = eager(tokens);
        var seedGrad = Tensor.Randn(ye.Shape, rng: rng);
        ye.Backward(seedGrad);
        var eagerGrads = parameters.Select(p => p.Grad?.Detach().Clone()).ToList();
        foreach (var p in parameters) p.Grad = null;
        var yc = compiled(tokens);
        yc.Backward(seedGrad);
        TensorAssert.Close(ye.Detach(), yc.Detach(), 1e-4, 1e-5, "output");
        for (int i = 0; i < parameters.Count; i++)
        {
            if (eagerGrads[i] is null) Assert.Null(parameters[i].Grad);
            else TensorAssert.Close(eagerGrads[i]!, parameters[i].Grad!, 1e-4, 1e-5, $"gradient of parameter {i}");
        }
    }
}
