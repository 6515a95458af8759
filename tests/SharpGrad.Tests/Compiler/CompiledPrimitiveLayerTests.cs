using SharpGrad.Layers;
using SharpGrad.Serialization;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Issue 13's primitive layers compiled (GroupNorm, InstanceNorm1d/2d, RMSNorm, MaxPool1d, AvgPool1d, ConvTranspose1d, Upsample,
/// ZeroPad2d, AdaptiveMaxPool2d, Unflatten): with
/// no graph break, compiled equals eager (outputs, input and parameter gradients) at several batch sizes, and compiled equals
/// PyTorch on each fixture case of Fixtures/primitives (written by its generate.py with PyTorch 1.13).
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledPrimitiveLayerTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void Norms1dAndPools1dMatchEager(int batch)
    {
        Rng.ManualSeed(131);
        var model = new CompiledNorm1dNet();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 3, 13], seed: 132);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void Norms2dMatchEager(int batch)
    {
        Rng.ManualSeed(133);
        var model = new CompiledNorm2dNet();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 2, 5, 6], seed: 134);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void PadUpsampleAdaptiveMaxPoolAndUnflattenMatchEager(int batch)
    {
        Rng.ManualSeed(136);
        var model = new CompiledResampleNet();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 2, 6, 6], seed: 137);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Upsample1dMatchesEager(int batch)
    {
        Rng.ManualSeed(138);
        var model = new CompiledResample1dNet();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 2, 7], seed: 139);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void Dropout2dInTrainingDrawsTheSameChannelMaskAsEager(int batch)
    {
        Rng.ManualSeed(140);
        var eager = new CompiledChannelDropoutNet();
        var compiled = new CompiledChannelDropoutNet();
        compiled.LoadStateDict(eager.StateDict());
        var net = compiled.Compile();
        Assert.True(net.Explanation.IsFullyCompiled, net.Explanation.ToString());
        Dropout2d Drop(Module m) => (Dropout2d)m.NamedModules().Single(x => x.Name == "drop").Module;
        CompiledLayerTests.Compare(eager, compiled, x => { Drop(eager).Rng = new Rng(9); return eager.Forward(x); },
            x => { Drop(compiled).Rng = new Rng(9); return net.Forward(x); }, [batch, 2, 4, 5], seed: 141);
    }

    [Theory]
    [InlineData(3)]
    public void Dropout2dInEvaluationIsTheIdentityAsEager(int batch)
    {
        Rng.ManualSeed(142);
        var model = new CompiledChannelDropoutNet();
        model.Eval();
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 2, 4, 5], seed: 143);
    }

    [Fact]
    public void InstanceNormWithRunningStatisticsCompilesAndUpdatesThemAsEager()
    {
        // Since session 10 compiled (CompiledFunctionalLayerTests has batch 1, 3, 64, gradients, evaluation).
        var model = new CompiledTrackedInstanceNorm();
        var explanation = model.Compile().Explanation;
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        var eager = new CompiledTrackedInstanceNorm();
        eager.LoadStateDict(model.StateDict());
        var x = Tensor.Randn([3, 2, 6], rng: new Rng(135));
        TensorAssert.Close(eager.Forward(x), model.Compile().Forward(x), 1e-5, 1e-6, "output");
        foreach (var ((name, e), (_, c)) in eager.NamedBuffers().Zip(model.NamedBuffers())) TensorAssert.Close(e, c, 1e-5, 1e-6, name);
    }

    private const string File = "primitives.safetensors";
    private static readonly Lazy<StateDict> Data = new(() => StateDict.Load(Path.Combine(AppContext.BaseDirectory, "Fixtures", "primitives", File)));

    private static Tensor Get(string key) => Data.Value.TryGetValue(key, out var t) ? t.Clone() : throw new KeyNotFoundException($"No tensor '{key}' in {File}.");

    /// <summary>Each fixture case: its [Module] and the compiled Forward.</summary>
    private static readonly Dictionary<string, Func<(Module Model, Func<Tensor, Tensor> Compiled, GraphExplanation Explanation)>> Cases = new()
    {
        ["convtranspose1d"] = () => { var m = new FixtureConvTranspose1d(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["convtranspose1d_dilation_nobias"] = () => { var m = new FixtureConvTranspose1dDilated(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["groupnorm_3d"] = () => { var m = new FixtureGroupNorm3d(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["groupnorm_4d"] = () => { var m = new FixtureGroupNorm4d(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["groupnorm_noaffine"] = () => { var m = new FixtureGroupNormNoAffine(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["instancenorm1d"] = () => { var m = new FixtureInstanceNorm1d(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["instancenorm2d_affine"] = () => { var m = new FixtureInstanceNorm2dAffine(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["rmsnorm"] = () => { var m = new FixtureRmsNorm(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["rmsnorm_2d_eps"] = () => { var m = new FixtureRmsNorm2dEps(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["rmsnorm_noaffine"] = () => { var m = new FixtureRmsNormNoAffine(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["maxpool1d"] = () => { var m = new FixtureMaxPool1d(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["maxpool1d_dilation_ceil"] = () => { var m = new FixtureMaxPool1dDilatedCeil(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["avgpool1d"] = () => { var m = new FixtureAvgPool1d(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["avgpool1d_ceil_exclude_pad"] = () => { var m = new FixtureAvgPool1dCeilExcludePad(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["upsample_nearest_x2"] = () => { var m = new FixtureUpsampleNearestX2(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["upsample_nearest_size"] = () => { var m = new FixtureUpsampleNearestSize(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["upsample_nearest_scale_1_7"] = () => { var m = new FixtureUpsampleNearestScale17(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["upsample_nearest_1d"] = () => { var m = new FixtureUpsampleNearest1d(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["upsample_bilinear_x2"] = () => { var m = new FixtureUpsampleBilinearX2(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["upsample_bilinear_align_size"] = () => { var m = new FixtureUpsampleBilinearAlignSize(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["upsample_bilinear_recompute"] = () => { var m = new FixtureUpsampleBilinearRecompute(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["upsample_linear_down"] = () => { var m = new FixtureUpsampleLinearDown(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["upsample_linear_align"] = () => { var m = new FixtureUpsampleLinearAlign(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["zeropad2d"] = () => { var m = new FixtureZeroPad2d(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
        ["adaptivemaxpool2d"] = () => { var m = new FixtureAdaptiveMaxPool2d(); var c = m.Compile(); return (m, c.Forward, c.Explanation); },
    };

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var name in Cases.Keys) data.Add(name);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void CompiledMatchesPyTorch(string name)
    {
        var (model, compiled, explanation) = Cases[name]();
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        var state = Data.Value.Where(kv => kv.Key.StartsWith($"{name}.param.", StringComparison.Ordinal))
            .ToDictionary(kv => "layer." + kv.Key[$"{name}.param.".Length..], kv => kv.Value.Clone());
        Assert.Equal(state.Keys.Order(), model.StateDict().Keys.Order());
        model.LoadStateDict(state);
        var x = Get($"{name}.in.x").RequiresGrad_();
        var y = compiled(x);
        Assert.Equal(Get($"{name}.out").Shape, y.Shape);
        TensorAssert.Close(Get($"{name}.out"), y.Detach(), 1e-4, 1e-5, $"{name}: output");
        y.Backward(Get($"{name}.seed"));
        TensorAssert.Close(Get($"{name}.grad_in.x"), x.Grad!, 1e-3, 1e-5, $"{name}: input gradient");
        foreach (var (pname, p) in model.NamedParameters())
            TensorAssert.Close(Get($"{name}.grad.{pname["layer.".Length..]}"), p.Grad!, 1e-3, 1e-5, $"{name}: gradient of {pname}");
    }
}
