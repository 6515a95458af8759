using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// <c>nn.Linear(d, h, bias=bias)</c>, <c>nn.LayerNorm(n, bias=bias)</c> with <c>bias</c> a constructor parameter, as GPT-style
/// code writes <c>bias=config.bias</c>.
/// </summary>
[Module]
public sealed partial class BiasOptionMlp
{
    private readonly Linear fc1;
    private readonly Linear fc2;
    private readonly LayerNorm norm;

    public BiasOptionMlp(int d, int hidden, bool bias)
    {
        fc1 = new Linear(d, hidden, bias: bias);
        fc2 = new Linear(hidden, 3, bias: !bias);
        norm = new LayerNorm(3, bias: bias);
    }

    public Tensor Forward(Tensor x) => norm.Forward(fc2.Forward(fc1.Forward(x).Relu()));
}

/// <summary>Convolutions' <c>bias</c>, BatchNorm's <c>affine</c>/<c>track_running_stats</c> and GroupNorm's <c>affine</c> from parameters.</summary>
[Module]
public sealed partial class BiasOptionCnn
{
    private readonly Conv2d conv;
    private readonly BatchNorm2d bn;
    private readonly GroupNorm gn;
    private readonly ConvTranspose2d up;

    public BiasOptionCnn(bool bias, bool affine, bool track)
    {
        conv = new Conv2d(2, 4, 3, padding: 1, bias: bias);
        bn = new BatchNorm2d(4, affine: affine, trackRunningStats: track);
        gn = new GroupNorm(2, 4, affine: !affine);
        up = new ConvTranspose2d(4, 2, 2, stride: 2, bias: !bias);
    }

    public Tensor Forward([Shape("N", 2, 6, 6)] Tensor x) => up.Forward(gn.Forward(bn.Forward(conv.Forward(x)).Relu()));
}

/// <summary>Conv1d's <c>bias</c>, InstanceNorm1d's <c>affine</c>/<c>track_running_stats</c> and RMSNorm's <c>elementwise_affine</c>.</summary>
[Module]
public sealed partial class BiasOptionSequence
{
    private readonly Conv1d conv;
    private readonly InstanceNorm1d norm;
    private readonly RMSNorm rms;

    public BiasOptionSequence(bool bias, bool affine, bool track)
    {
        conv = new Conv1d(3, 4, 3, padding: 1, bias: bias);
        norm = new InstanceNorm1d(4, affine: affine, trackRunningStats: track);
        rms = new RMSNorm(8, elementwiseAffine: !affine);
    }

    public Tensor Forward([Shape("N", 3, 8)] Tensor x) => rms.Forward(norm.Forward(conv.Forward(x)));
}

/// <summary><c>nn.MultiheadAttention(e, h, bias=bias, batch_first=True)</c> with <c>bias</c> a constructor parameter.</summary>
[Module]
public sealed partial class BiasOptionAttention
{
    private readonly MultiheadAttention attn;
    private readonly Linear head = new(8, 3);

    public BiasOptionAttention(bool bias) => attn = new MultiheadAttention(8, 2, bias: bias, batchFirst: true);

    public Tensor Forward(Tensor x) => head.Forward(attn.Forward(x, x, x, needWeights: false).Output);
}

/// <summary>
/// Layer options that say whether a layer has a bias or affine parameters (<c>bias</c>, <c>affine</c>, <c>elementwise_affine</c>,
/// <c>track_running_stats</c>) given by the module's constructor parameters compile, one program per reachable combination, and
/// equal eager (output, input gradient, every parameter gradient; training and eval).
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledBiasAffineOptionTests
{
    private static void AssertEqualsEager(Module model, Func<Tensor, Tensor> eager, Func<Tensor, Tensor> compiled, int[] input, int seed, bool train, string what)
    {
        if (train) model.Train(); else model.Eval();
        var rng = new Rng(seed);
        var x = Tensor.Randn(input, rng: rng);
        var probe = eager(x);   // only the output's shape, for the seed gradient; BatchNorm's running stats move as in each run below
        var gradient = Tensor.Randn(probe.Shape.ToArray(), rng: rng);
        var before = model.StateDict().ToDictionary(p => p.Key, p => p.Value.Clone());
        var e = CompiledTransformerDropoutTests.Run(model, a => eager(a[0]), [x], gradient, seed + 1);
        var eagerState = model.StateDict().ToDictionary(p => p.Key, p => p.Value.Clone());
        model.LoadStateDict(before);
        var c = CompiledTransformerDropoutTests.Run(model, a => compiled(a[0]), [x], gradient, seed + 1);
        CompiledTransformerDropoutTests.AssertSame(e, c, what);
        foreach (var (name, value) in model.StateDict())
            TensorAssert.Close(eagerState[name], value, 1e-4, 1e-5, what + ": state " + name + " after the step");
    }

    private static IEnumerable<object[]> Flags(int count)
    {
        for (int bits = 0; bits < 1 << count; bits++)
            foreach (bool train in new[] { true, false })
                yield return Enumerable.Range(0, count).Select(k => (object)((bits >> k & 1) == 1)).Append(train).ToArray();
    }

    public static IEnumerable<object[]> OneFlag() => Flags(1);
    public static IEnumerable<object[]> ThreeFlags() => Flags(3);

    [Theory]
    [MemberData(nameof(OneFlag))]
    public void LinearAndLayerNormBiasFromAParameterCompiles(bool bias, bool train)
    {
        var model = new BiasOptionMlp(5, 7, bias);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(601));
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Equal(bias, model.NamedParameters().Any(p => p.Name == "fc1.bias"));
        foreach (int batch in new[] { 1, 3, 64 })
            AssertEqualsEager(model, model.Forward, x => compiled.Forward(x), [batch, 5], 602, train, $"Linear/LayerNorm bias {bias}, batch {batch}, train {train}");
    }

    [Theory]
    [MemberData(nameof(ThreeFlags))]
    public void ConvolutionBiasAndNormAffineFromParametersCompile(bool bias, bool affine, bool track, bool train)
    {
        var model = new BiasOptionCnn(bias, affine, track);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(611));
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        foreach (int batch in new[] { 1, 4 })
            AssertEqualsEager(model, model.Forward, x => compiled.Forward(x), [batch, 2, 6, 6], 612, train, $"Conv2d bias {bias}, BatchNorm2d affine {affine} track {track}, batch {batch}, train {train}");
    }

    [Theory]
    [MemberData(nameof(ThreeFlags))]
    public void Conv1dBiasInstanceNormAndRmsNormOptionsFromParametersCompile(bool bias, bool affine, bool track, bool train)
    {
        var model = new BiasOptionSequence(bias, affine, track);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(621));
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        foreach (int batch in new[] { 1, 3 })
            AssertEqualsEager(model, model.Forward, x => compiled.Forward(x), [batch, 3, 8], 622, train, $"Conv1d bias {bias}, InstanceNorm1d affine {affine} track {track}, batch {batch}, train {train}");
    }

    [Theory]
    [MemberData(nameof(OneFlag))]
    public void AttentionBiasFromAParameterCompiles(bool bias, bool train)
    {
        var model = new BiasOptionAttention(bias);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(631));
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        foreach (int batch in new[] { 1, 3 })
            AssertEqualsEager(model, model.Forward, x => compiled.Forward(x), [batch, 5, 8], 632, train, $"MultiheadAttention bias {bias}, batch {batch}, train {train}");
    }
}
