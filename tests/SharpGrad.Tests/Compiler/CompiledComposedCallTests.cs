using SharpGrad.Tests.Support;
using SharpGrad.Tests.Zoo;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// A <c>TransformerEncoder(layer, layers)</c> whose count is a constructor argument, called as a statement of its own
/// (<c>var h = encoder.Forward(…, srcKeyPaddingMask: mask)</c>): the parent's program computes the call's argument in the
/// region before it, runs the stack's own compiled program (one fused kernel and tape node per layer) and compiles the
/// region after it, with no graph break. Compiled equals eager: output, input gradient and every parameter gradient, at
/// batch 1, 3 and 64 and two sequence lengths (CompiledComposedCallModels.cs; the zoo's TransformerClassifier).
/// </summary>
public class CompiledComposedCallTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void ZooTransformerClassifierWithACtorSizedEncoderMatchesEager(int batch)
    {
        Rng.ManualSeed(501);
        var model = new TransformerClassifier(layers: 3);
        var compiled = model.Compile();
        var explanation = compiled.Explanation;
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        // Two regions of its own (the embeddings before the call, the pooling and head after it) and the stack's program.
        Assert.Equal(2, explanation.Regions.Count(r => !r.Contains(": encoder: ", StringComparison.Ordinal)));
        Assert.Contains(explanation.Regions, r => r.EndsWith(": encoder: Forward", StringComparison.Ordinal));
        foreach (int t in new[] { 8, 5, 8 })
        {
            var tokens = Tensor.Cat([Tensor.RandInt(1, 20, [batch, 1], new Rng(501 + t)), Tensor.RandInt(0, 4, [batch, t - 1], new Rng(502 + t))], 1);
            CompiledLengthReadTests.CompareTokens(model, tokens => model.Forward(tokens), tokens => compiled.Forward(tokens), tokens, seed: 503 + t);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void ACtorSizedEncoderBetweenRegionsMatchesEagerWithInputGradients(int batch)
    {
        Rng.ManualSeed(511);
        var model = new ComposedEncoderOverFloats(layers: 2);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Equal(2, compiled.Explanation.Regions.Count(r => !r.Contains(": encoder: ", StringComparison.Ordinal)));
        foreach (int t in new[] { 7, 3, 7 })
        {
            CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => compiled.Forward(x), [batch, t, 6], seed: 512 + t);
        }
    }

    [Fact]
    public void TheStacksCallInsideAnExpressionRunsItsProgramAndEqualsEager()
    {
        Rng.ManualSeed(521);
        var model = new NestedEncoderCall(layers: 2);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Contains(compiled.Explanation.Regions, r => r.Contains(": encoder: ", StringComparison.Ordinal));
        foreach (int t in new[] { 5, 8 })
        {
            CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => compiled.Forward(x), [3, t, 6], seed: 522 + t);
        }
    }

    /// <summary>After an operand that computes (it was a named break): that operand a region computed first, then the stack's program, then the rest (session 14).</summary>
    [Fact]
    public void TheStacksCallAfterAComputedOperandCompilesInOrderAndEqualsEager()
    {
        Rng.ManualSeed(521);
        var model = new EncoderCallAfterAnOperand(layers: 2);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Contains(compiled.Explanation.Regions, r => r.Contains(": encoder: ", StringComparison.Ordinal));
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => compiled.Forward(x), [3, 5, 6], seed: 522);
    }
}
