using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// The compiled TransformerEncoderLayer rule (issue 13): post-norm ReLU and pre-norm GELU layers, and a two-layer encoder
/// classifier, compiled with no graph break, give the eager layers' outputs, input gradients and parameter gradients at batch
/// 1, 3 and 64 (the eager layers are checked against PyTorch in SequenceLayerFixtureTests).
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledTransformerTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void PostNormEncoderLayerMatchesEager(int batch)
    {
        Rng.ManualSeed(81);
        var model = new CompiledEncoderLayerPostNorm();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 5, 16], seed: 82);
    }

    [Fact]
    public void WorkloadSizedEncoderLayerMatchesEager()
    {
        Rng.ManualSeed(85);
        var model = new CompiledEncoderLayerWorkloadSize();
        // a second instance with the same weights, so that the parameter gradients of the two modes are separate tensors
        var twin = new CompiledEncoderLayerWorkloadSize();
        twin.LoadStateDict(model.StateDict());
        Assert.True(twin.Compile().Explanation.IsFullyCompiled, twin.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, twin, x => model.Forward(x), x => twin.Compile().Forward(x), [5, 64, 128], seed: 86);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void PreNormGeluEncoderLayerMatchesEager(int batch)
    {
        Rng.ManualSeed(83);
        var model = new CompiledEncoderLayerPreNormGelu();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 7, 12], seed: 84);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void EncoderClassifierMatchesEager(int batch)
    {
        Rng.ManualSeed(85);
        var model = new CompiledEncoderClassifier();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 6, 8], seed: 86);
    }

    [Fact]
    public void EncoderLayerWithDropoutCompilesAndIsTheIdentityInEvaluation()
    {
        // dropout in training is compiled too (CompiledTransformerDropoutTests); in evaluation nothing is drawn
        var model = new CompiledEncoderLayerWithDropout();
        model.Eval();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var x = Tensor.Randn([2, 4, 8], rng: new Rng(87));
        using var noGrad = Autograd.NoGrad();
        // Equal up to rounding: the compiled layer's linears multiply by transposed weights (another order of the sums than
        // eager's x·Wᵀ); a dropout drawn in evaluation would scale kept values by 1/(1 − p) and zero others.
        var expected = model.Forward(x).ToArray();
        var actual = compiled.Forward(x).ToArray();
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * (1 + Math.Abs(expected[i])), $"[{i}]: eager {expected[i]}, compiled {actual[i]}");
    }

    [Theory]
    [InlineData(1, 8, 2)]
    [InlineData(3, 12, 3)]
    [InlineData(64, 8, 4)]
    public void ConstructorSizedEncoderLayerMatchesEager(int batch, int d, int heads)
    {
        // One generated program, instances of different d_model and head counts: the sizes are symbols bound in Compile().
        Rng.ManualSeed(97);
        var model = new CtorSizedEncoderLayerHead(d, heads, 3);
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 5, d], seed: 98);
    }

    /// <summary>A Bool [n, t] key padding mask: sequence b has its last b mod 3 positions padded (never all of them).</summary>
    private static Tensor Padding(int n, int t)
    {
        var pad = new bool[n * t];
        for (int b = 0; b < n; b++)
            for (int p = t - b % 3; p < t; p++) pad[b * t + p] = true;
        return Tensor.FromArray(pad, n, t);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void EncoderLayerWithBothMasksMatchesEager(int batch)
    {
        Rng.ManualSeed(111);
        var model = new CompiledEncoderLayerMasked();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        var causal = Tensor.Ones([5, 5], DType.Bool).Triu(1);
        var padding = Padding(batch, 5);
        CompiledLayerTests.Compare(model, model, x => model.Forward(x, causal, padding), x => model.Compile().Forward(x, causal, padding), [batch, 5, 8], seed: 112);
    }

    [Theory]
    [InlineData(1, 8, 2)]
    [InlineData(3, 12, 3)]
    [InlineData(64, 8, 4)]
    public void ConstructorSizedEncoderUnderMasksBuiltInForwardMatchesEager(int batch, int d, int heads)
    {
        Rng.ManualSeed(113);
        var model = new CtorSizedMaskedEncoder(d, heads);
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        var padding = Padding(batch, 6);
        CompiledLayerTests.Compare(model, model, x => model.Forward(x, padding), x => model.Compile().Forward(x, padding), [batch, 6, d], seed: 114);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void EncoderLayerWithKeyPaddingOnlyMatchesEager(int batch)
    {
        Rng.ManualSeed(115);
        var model = new CompiledEncoderLayerPaddingOnly();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        var padding = Padding(batch, 5);
        CompiledLayerTests.Compare(model, model, x => model.Forward(x, padding), x => model.Compile().Forward(x, padding), [batch, 5, 8], seed: 116);
    }

    [Fact]
    public void AMaskOfTheWrongShapeIsAClearError()
    {
        var model = new CompiledEncoderLayerPaddingOnly();
        var compiled = model.Compile();
        var error = Assert.Throws<ArgumentException>(() => compiled.Forward(Tensor.Randn([2, 5, 8], rng: new Rng(117)), Padding(3, 5)));
        Assert.Contains("[2, 5]", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, 8, 2)]
    [InlineData(3, 12, 3)]
    [InlineData(64, 8, 4)]
    public void ConstructorSizedGptBlockWithStandaloneAttentionMatchesEager(int batch, int d, int heads)
    {
        Rng.ManualSeed(121);
        var model = new CtorSizedGptBlock(d, heads);
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        var causal = Tensor.Ones([6, 6], DType.Bool).Triu(1);
        CompiledLayerTests.Compare(model, model, x => model.Forward(x, causal), x => model.Compile().Forward(x, causal), [batch, 6, d], seed: 122);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void StandaloneSelfAttentionWithKeyPaddingMatchesEager(int batch)
    {
        Rng.ManualSeed(123);
        var model = new CompiledSelfAttentionPadded();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        var padding = Padding(batch, 5);
        CompiledLayerTests.Compare(model, model, x => model.Forward(x, padding), x => model.Compile().Forward(x, padding), [batch, 5, 12], seed: 124);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void SequenceLengthReadAtEachCallThroughLstmEncoderAndAttentionMatchesEager(int batch)
    {
        // One compiled program at sequence lengths 6, 3 and 6 again: the workspaces follow the call's T.
        Rng.ManualSeed(131);
        var model = new SequenceLengthEncoder(8, 2);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        foreach (int t in new[] { 6, 3, 6 })
        {
            var padding = Padding(batch, t);
            CompiledLayerTests.Compare(model, model, x => model.Forward(x, padding), x => compiled.Forward(x, padding), [batch, t, 8], seed: 132 + t);
        }
    }
}
