using SharpGrad.Serialization;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// <c>Functional.Linear(x, weight, bias)</c>, <c>Functional.LayerNorm</c> and <c>Functional.Conv1d/Conv2d</c> with the module's own parameters are compiled with no graph break
/// (CompiledFunctionalLayerModels.cs): one program equals eager — output, input gradient and the parameters' gradients —
/// at batch 1, 3 and 64, and over two sequence lengths.
/// </summary>
public class CompiledFunctionalLayerTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void FunctionalLinearWithTheModulesOwnParametersMatchesEager(int batch)
    {
        Rng.ManualSeed(601);
        var model = new FunctionalLinearMlp();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => compiled.Forward(x), [batch, 5], seed: 602);
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => compiled.Forward(x), [batch, 5], seed: 603);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void FunctionalLinearOverASequenceLengthMatchesEager(int batch)
    {
        Rng.ManualSeed(611);
        var model = new FunctionalLinearOverLength();
        var compiled = model.Compile();
        CompiledLengthOpTests.EqualAtEachLength(model, model.Forward, compiled.Explanation, compiled.Forward, batch, features: 4, lengths: [4, 7, 2], seed: 612);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void FunctionalLayerNormWithAndWithoutTheModulesOwnParametersMatchesEager(int batch)
    {
        Rng.ManualSeed(621);
        var model = new FunctionalLayerNormNet();
        var compiled = model.Compile();
        CompiledLengthOpTests.EqualAtEachLength(model, model.Forward, compiled.Explanation, compiled.Forward, batch, features: 4, lengths: [5, 2, 5], seed: 622);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void FunctionalConvolutionsWithTheModulesOwnParametersMatchEager(int batch)
    {
        // Conv2d with bias and padding, Conv2d without bias with stride 2 and 3 groups, Conv1d with stride, padding,
        // dilation and bias: every weight's and bias's gradient, and x's.
        Rng.ManualSeed(631);
        var model = new FunctionalConvNet();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => compiled.Forward(x), [batch, 2, 6, 6], seed: 632);
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => compiled.Forward(x), [batch, 2, 6, 6], seed: 633);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void FunctionalGroupNormWithAndWithoutTheModulesOwnParametersMatchesEager(int batch)
    {
        Rng.ManualSeed(641);
        var model = new FunctionalGroupNormNet();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => compiled.Forward(x), [batch, 5], seed: 642);
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => compiled.Forward(x), [batch, 5], seed: 643);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void GroupNormWithOneAffineTensorAndFunctionalInstanceNormMatchEager(int batch)
    {
        Rng.ManualSeed(651);
        var model = new FunctionalOneAffineNormNet();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => compiled.Forward(x), [batch, 5], seed: 652);
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => compiled.Forward(x), [batch, 5], seed: 653);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void FunctionalBatchNormInTrainingMatchesEagerIncludingRunningStats(int batch)
    {
        // Two steps on two copies: outputs, x's and every parameter's gradient, then the running statistics each step
        // updated (momentum 0.3 in place); batch statistics over few values: the tolerances of CompiledLayerTests.
        Rng.ManualSeed(661);
        var eager = new FunctionalBatchNormNet();
        var compiled = new FunctionalBatchNormNet();
        compiled.LoadStateDict(eager.StateDict());
        var net = compiled.Compile();
        Assert.True(net.Explanation.IsFullyCompiled, net.Explanation.ToString());
        for (int step = 0; step < 2; step++)
        {
            CompiledLayerTests.Compare(eager, compiled, x => eager.Forward(x), x => net.Forward(x), [batch, 5], seed: 662 + step, rtol: 1e-3, atol: 1e-4);
            AssertSameBuffers(eager, compiled);
        }
        Assert.NotEqual(0f, eager.NamedBuffers().First().Value.Abs().Sum().Item());   // the statistics moved
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void FunctionalBatchNormInEvaluationUsesTheRunningStatsAsEager(int batch)
    {
        Rng.ManualSeed(671);
        var model = new FunctionalBatchNormNet();
        using (Autograd.NoGrad())
        {
            for (int i = 0; i < 3; i++) model.Forward(Tensor.Randn([8, 5]) * 2f + 0.5f);   // statistics away from 0 and 1
        }
        model.Eval();
        var before = model.NamedBuffers().Select(b => b.Value.Clone()).ToList();
        var net = model.Compile();
        Assert.True(net.Explanation.IsFullyCompiled, net.Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => net.Forward(x), [batch, 5], seed: 672, rtol: 1e-3, atol: 1e-4);
        foreach (var ((name, after), b) in model.NamedBuffers().Zip(before)) TensorAssert.Close(b, after, 0, 0, name + " (unchanged in evaluation)");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void FunctionalBatchNormOverImagesMatchesEagerInTrainingAndEvaluation(int batch)
    {
        Rng.ManualSeed(681);
        var eager = new FunctionalBatchNorm2dNet();
        var compiled = new FunctionalBatchNorm2dNet();
        compiled.LoadStateDict(eager.StateDict());
        var net = compiled.Compile();
        Assert.True(net.Explanation.IsFullyCompiled, net.Explanation.ToString());
        CompiledLayerTests.Compare(eager, compiled, x => eager.Forward(x), x => net.Forward(x), [batch, 3, 4, 4], seed: 682, rtol: 1e-3, atol: 1e-4);
        AssertSameBuffers(eager, compiled);
        eager.Eval();
        compiled.Eval();
        CompiledLayerTests.Compare(eager, compiled, x => eager.Forward(x), x => net.Forward(x), [batch, 3, 4, 4], seed: 683);
        AssertSameBuffers(eager, compiled);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void FunctionalTransposedConvolutionsWithTheModulesOwnParametersMatchEager(int batch)
    {
        Rng.ManualSeed(691);
        var model = new FunctionalConvTransposeNet();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => compiled.Forward(x), [batch, 4, 3, 3], seed: 692, rtol: 1e-4, atol: 1e-4);
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => compiled.Forward(x), [batch, 4, 3, 3], seed: 693, rtol: 1e-4, atol: 1e-4);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void InstanceNormLayersTrackingRunningStatsMatchEagerInTrainingAndEvaluation(int batch)
    {
        Rng.ManualSeed(701);
        var eager = new TrackedInstanceNormNet();
        var compiled = new TrackedInstanceNormNet();
        compiled.LoadStateDict(eager.StateDict());
        var net = compiled.Compile();
        Assert.True(net.Explanation.IsFullyCompiled, net.Explanation.ToString());
        for (int step = 0; step < 2; step++)
        {
            CompiledLayerTests.Compare(eager, compiled, x => eager.Forward(x), x => net.Forward(x), [batch, 2, 4, 4], seed: 702 + step, rtol: 1e-3, atol: 1e-4);
            AssertSameBuffers(eager, compiled);
        }
        eager.Eval();
        compiled.Eval();
        CompiledLayerTests.Compare(eager, compiled, x => eager.Forward(x), x => net.Forward(x), [batch, 2, 4, 4], seed: 704);
        AssertSameBuffers(eager, compiled);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void FunctionalInstanceNormWithRunningStatsMatchesEagerInTrainingAndEvaluation(int batch)
    {
        Rng.ManualSeed(711);
        var eager = new FunctionalTrackedInstanceNormNet();
        var compiled = new FunctionalTrackedInstanceNormNet();
        compiled.LoadStateDict(eager.StateDict());
        var net = compiled.Compile();
        Assert.True(net.Explanation.IsFullyCompiled, net.Explanation.ToString());
        for (int step = 0; step < 2; step++)
        {
            CompiledLayerTests.Compare(eager, compiled, x => eager.Forward(x), x => net.Forward(x), [batch, 5], seed: 712 + step, rtol: 1e-3, atol: 1e-4);
            AssertSameBuffers(eager, compiled);
        }
        eager.Eval();
        compiled.Eval();
        CompiledLayerTests.Compare(eager, compiled, x => eager.Forward(x), x => net.Forward(x), [batch, 5], seed: 714, rtol: 1e-3, atol: 1e-4);
        AssertSameBuffers(eager, compiled);
    }

    /// <summary>The eager model's buffers equal the compiled one's (running statistics after the same steps).</summary>
    internal static void AssertSameBuffers(Module eager, Module compiled)
    {
        var e = eager.NamedBuffers().ToList();
        var c = compiled.NamedBuffers().ToList();
        Assert.Equal(e.Count, c.Count);
        Assert.NotEmpty(e);
        for (int i = 0; i < e.Count; i++) TensorAssert.Close(e[i].Value, c[i].Value, 1e-4, 1e-5, e[i].Name);
    }

    private static readonly Lazy<StateDict> RemainderFixture = new(() =>
        StateDict.Load(Path.Combine(AppContext.BaseDirectory, "Fixtures", "catalogue", "remainder.safetensors")));

    /// <summary>
    /// Eager Remainder / Fmod / <c>%</c> by a scalar (the kernels the compiled program calls) equal PyTorch 1.13: remainder takes
    /// the divisor's sign, fmod the dividend's; the input's gradient is 1; integer tensors stay integer.
    /// </summary>
    [Theory]
    [InlineData("remainder_pos", 1.5)]
    [InlineData("remainder_neg", -2.25)]
    [InlineData("fmod_pos", 1.5)]
    [InlineData("fmod_neg", -2.25)]
    public void RemainderAndFmodMatchPyTorch(string name, double divisor)
    {
        Tensor Fixture(string key) => RemainderFixture.Value.TryGetValue($"{name}.{key}", out var t) ? t.Clone() : throw new KeyNotFoundException($"{name}.{key}");
        var x = Fixture("x").RequiresGrad_();
        var output = name.StartsWith("remainder", StringComparison.Ordinal) ? x % divisor : x.Fmod(divisor);
        TensorAssert.Close(Fixture("out"), output, 1e-12, 1e-14, $"{name}: out");
        output.Backward(Fixture("seed_grad"));
        TensorAssert.Close(Fixture("grad_x"), x.Grad!, 1e-12, 1e-14, $"{name}: grad_x");
        // float32 too: the same values within float32's rounding
        var x32 = Fixture("x").To(DType.Float32);
        var out32 = name.StartsWith("remainder", StringComparison.Ordinal) ? x32.Remainder(divisor) : x32.Fmod(divisor);
        TensorAssert.Close(Fixture("out").To(DType.Float32), out32, 1e-5, 1e-5, $"{name}: float32 out");
    }

    [Theory]
    [InlineData("remainder_int_pos", 3)]
    [InlineData("remainder_int_neg", -3)]
    [InlineData("fmod_int_pos", 3)]
    [InlineData("fmod_int_neg", -3)]
    public void IntegerRemainderAndFmodMatchPyTorch(string name, int divisor)
    {
        var x = RemainderFixture.Value[$"{name}.x"];
        var expected = RemainderFixture.Value[$"{name}.out"];
        var output = name.StartsWith("remainder", StringComparison.Ordinal) ? x % divisor : x.Fmod(divisor);
        Assert.Equal(DType.Int64, output.DType);
        Assert.Equal(expected.ToLongArray(), output.ToLongArray());
        var error = Assert.Throws<DivideByZeroException>(() => x % 0);
        Assert.Contains("division by zero", error.Message);
    }
}
