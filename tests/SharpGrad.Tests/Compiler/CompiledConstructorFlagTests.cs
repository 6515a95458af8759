using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// An encoder whose recurrent layers take their options from the constructor, as PyTorch users write
/// <c>__init__(self, d, hidden, bidirectional, batch_first, bias): self.lstm = nn.LSTM(d, hidden, bidirectional=bidirectional, …)</c>:
/// compiled on its own, one region per combination of the three flags (the LSTM and the GRU built with the same parameters
/// share them), the runner taking the one the built layers have. No <c>[Shape]</c>: the input's layout is the flag's.
/// </summary>
[Module]
public sealed partial class FlagRecurrentEncoder
{
    private readonly LSTM lstm;
    private readonly GRU gru;

    public FlagRecurrentEncoder(int d, int hidden, bool bidirectional, bool batchFirst, bool bias)
    {
        lstm = new LSTM(d, hidden, bias: bias, batchFirst: batchFirst, bidirectional: bidirectional);
        gru = new GRU(d, hidden, bias: bias, batchFirst: batchFirst, bidirectional: bidirectional);
    }

    public Tensor Forward(Tensor x) => lstm.Forward(x).Output + gru.Forward(x).Output;
}

/// <summary>
/// A TransformerEncoderLayer whose norm_first, batch_first, activation and layer_norm_eps are the constructor's (PyTorch's
/// <c>nn.TransformerEncoderLayer(d, heads, ff, 0.0, activation, eps, batch_first, norm_first)</c>).
/// </summary>
[Module]
public sealed partial class FlagEncoderLayerModel
{
    private readonly TransformerEncoderLayer layer;

    public FlagEncoderLayerModel(int d, int heads, int ff, bool normFirst, bool batchFirst, string activation, double eps)
    {
        layer = new TransformerEncoderLayer(d, heads, ff, 0.0, activation, eps, batchFirst: batchFirst, normFirst: normFirst);
    }

    public Tensor Forward(Tensor x) => layer.Forward(x);
}

/// <summary>A LayerNorm whose eps and elementwise_affine are the constructor's (<c>nn.LayerNorm(d, eps, elementwise_affine)</c>).</summary>
[Module]
public sealed partial class FlagLayerNormModel
{
    private readonly LayerNorm norm;

    public FlagLayerNormModel(int d, double eps, bool affine)
    {
        norm = new LayerNorm(d, eps, elementwiseAffine: affine);
    }

    public Tensor Forward([Shape("N", "d")] Tensor x) => norm.Forward(x) * 2f;
}

/// <summary>A Dropout2d whose p is the constructor's (<c>nn.Dropout2d(p)</c>), after a convolution.</summary>
[Module]
public sealed partial class FlagDropout2dModel
{
    private readonly Conv2d conv;
    private readonly Dropout2d drop;

    public FlagDropout2dModel(double p)
    {
        conv = new Conv2d(3, 4, 3, padding: 1);
        drop = new Dropout2d(p);
    }

    public Tensor Forward([Shape("N", 3, 6, 6)] Tensor x) => drop.Forward(conv.Forward(x));
}

/// <summary>
/// PyTorch's tagger: <c>self.lstm = nn.LSTM(d, hidden, num_layers, dropout=p, bidirectional=bidirectional, batch_first=True)</c>
/// then <c>nn.Linear(2 * hidden if bidirectional else hidden, 4)</c>, a head whose width the flag decides. Each region checks
/// the head's in_features against its own output width (2·hidden or hidden) at its first call, not <c>Compile()</c> both
/// (which threw "head.in_features is 32, but … needs it to be hidden = 16" for every instance, found from the package).
/// </summary>
[Module]
public sealed partial class FlagSizedHeadTagger
{
    private readonly LSTM lstm;
    private readonly Linear head;

    public FlagSizedHeadTagger(int d, int hidden, int layers, double dropout, bool bidirectional)
    {
        lstm = new LSTM(d, hidden, numLayers: layers, dropout: dropout, bidirectional: bidirectional, batchFirst: true);
        head = new Linear(bidirectional ? 2 * hidden : hidden, 4);
    }

    public Tensor Forward(Tensor x) => head.Forward(lstm.Forward(x).Output);
}

/// <summary>The head's width from a flag of its own (<c>wideHead</c>), so an instance can get it wrong for the LSTM's.</summary>
[Module]
public sealed partial class MismatchedHeadTagger
{
    private readonly LSTM lstm;
    private readonly Linear head;

    public MismatchedHeadTagger(int d, int hidden, bool bidirectional, bool wideHead)
    {
        lstm = new LSTM(d, hidden, bidirectional: bidirectional, batchFirst: true);
        head = new Linear(wideHead ? 2 * hidden : hidden, 4);
    }

    public Tensor Forward(Tensor x) => head.Forward(lstm.Forward(x).Output);
}

/// <summary>
/// Layer options given by the module's constructor parameters, the module compiled on its own: each instance, built with
/// each value of each flag, is fully compiled (no graph break) and its compiled program equals eager — output, input gradient
/// and every parameter's gradient — at batch 1, 3 and 64. Dropout2d in training draws eager's masks (the same seed).
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledConstructorFlagTests
{
    private static readonly int[] Batches = [1, 3, 64];

    public static IEnumerable<object[]> SizedHeadCases()
    {
        foreach (bool bidirectional in new[] { false, true })
            foreach (int batch in Batches)
                yield return [bidirectional, batch];
    }

    [Theory]
    [MemberData(nameof(SizedHeadCases))]
    public void AHeadSizedByTheFlagCompilesAndEqualsEager(bool bidirectional, int batch)
    {
        const int d = 4, hidden = 5, t = 6;
        var rng = new Rng(405);
        var model = new FlagSizedHeadTagger(d, hidden, 2, 0.0, bidirectional);
        CompiledTransformerDropoutTests.Randomize(model, rng);
        var compiled = model.Compile();
        AssertBothRegionsCompiled(compiled.Explanation);
        var x = Tensor.Randn([batch, t, d], rng: rng);
        var seed = Tensor.Randn([batch, t, 4], rng: rng);
        var eager = CompiledTransformerDropoutTests.Run(model, a => model.Forward(a[0]), [x], seed, 406);
        var program = CompiledTransformerDropoutTests.Run(model, a => compiled.Forward(a[0]), [x], seed, 406);
        CompiledTransformerDropoutTests.AssertSame(eager, program, $"tagger (bidirectional {bidirectional}, batch {batch})");
    }

    /// <summary>
    /// Both regions (the LSTM's flag true and false) compiled, the head with them, and no break: the head's constructor argument
    /// (`bidirectional ? 2 * hidden : hidden`) is a size of its own bound when the module is built, which each region checks
    /// against the width it reads at its first call.
    /// </summary>
    private static void AssertBothRegionsCompiled(GraphExplanation explanation)
    {
        Assert.Equal(2, explanation.Regions.Count);
        Assert.Empty(explanation.Breaks);
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
    }

    [Fact]
    public void AHeadOfTheWrongWidthForTheFlagNamesBothSizesAtTheFirstCall()
    {
        // Right: compiles and runs. Wrong (a head of 2·hidden behind a one-way LSTM): Compile() succeeds (the other region would
        // take it), and the first call of the region the instance chooses names both sizes, as Compile() does for a fixed check.
        var right = new MismatchedHeadTagger(4, 5, bidirectional: true, wideHead: true).Compile();
        AssertBothRegionsCompiled(right.Explanation);
        Assert.Equal([2, 3, 4], right.Forward(Tensor.Randn([2, 3, 4], rng: new Rng(407))).Shape.ToArray());
        var wrong = new MismatchedHeadTagger(4, 5, bidirectional: false, wideHead: true).Compile();
        var message = Assert.Throws<InvalidOperationException>(() => wrong.Forward(Tensor.Randn([2, 3, 4], rng: new Rng(408)))).Message;
        Assert.Contains("head.in_features is 10", message);
        Assert.Contains("hidden", message);
    }

    public static IEnumerable<object[]> RecurrentCases()
    {
        foreach (bool bidirectional in new[] { false, true })
            foreach (bool batchFirst in new[] { false, true })
                foreach (bool bias in new[] { false, true })
                    foreach (int batch in Batches)
                        yield return [bidirectional, batchFirst, bias, batch];
    }

    [Theory]
    [MemberData(nameof(RecurrentCases))]
    public void RecurrentFlagsFromTheConstructorCompileAndEqualEager(bool bidirectional, bool batchFirst, bool bias, int batch)
    {
        const int d = 4, hidden = 5, t = 6;
        var rng = new Rng(401);
        var model = new FlagRecurrentEncoder(d, hidden, bidirectional, batchFirst, bias);
        CompiledTransformerDropoutTests.Randomize(model, rng);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        int[] shape = batchFirst ? [batch, t, d] : [t, batch, d];
        int[] outShape = batchFirst ? [batch, t, (bidirectional ? 2 : 1) * hidden] : [t, batch, (bidirectional ? 2 : 1) * hidden];
        var x = Tensor.Randn(shape, rng: rng);
        var seed = Tensor.Randn(outShape, rng: rng);
        var eager = CompiledTransformerDropoutTests.Run(model, a => model.Forward(a[0]), [x], seed, 402);
        var program = CompiledTransformerDropoutTests.Run(model, a => compiled.Forward(a[0]), [x], seed, 402);
        Assert.Equal(outShape, program.Out.Shape.ToArray());
        CompiledTransformerDropoutTests.AssertSame(eager, program, $"recurrent encoder (bidirectional {bidirectional}, batchFirst {batchFirst}, bias {bias}, batch {batch})");
    }

    public static IEnumerable<object[]> EncoderLayerCases()
    {
        int k = 0;
        foreach (bool normFirst in new[] { false, true })
            foreach (bool batchFirst in new[] { false, true })
                foreach (string activation in new[] { "relu", "gelu" })
                    foreach (int batch in Batches)
                        yield return [normFirst, batchFirst, activation, k++ % 2 == 0 ? 1e-5 : 0.5, batch];
    }

    [Theory]
    [MemberData(nameof(EncoderLayerCases))]
    public void EncoderLayerOptionsFromTheConstructorCompileAndEqualEager(bool normFirst, bool batchFirst, string activation, double eps, int batch)
    {
        const int d = 8, heads = 2, ff = 16, t = 5;
        var rng = new Rng(411);
        var model = new FlagEncoderLayerModel(d, heads, ff, normFirst, batchFirst, activation, eps);
        CompiledTransformerDropoutTests.Randomize(model, rng);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        int[] shape = batchFirst ? [batch, t, d] : [t, batch, d];
        var x = Tensor.Randn(shape, rng: rng) * 0.5f;
        var seed = Tensor.Randn(shape, rng: rng);
        foreach (bool training in new[] { true, false })
        {
            if (training) model.Train();
            else model.Eval();
            var eager = CompiledTransformerDropoutTests.Run(model, a => model.Forward(a[0]), [x], seed, 412);
            var program = CompiledTransformerDropoutTests.Run(model, a => compiled.Forward(a[0]), [x], seed, 412);
            CompiledTransformerDropoutTests.AssertSame(eager, program,
                $"encoder layer (normFirst {normFirst}, batchFirst {batchFirst}, {activation}, eps {eps}, batch {batch}, {(training ? "training" : "evaluation")})");
        }
    }

    public static IEnumerable<object[]> LayerNormCases()
    {
        foreach (double eps in new[] { 1e-5, 0.5 })
            foreach (bool affine in new[] { false, true })
                foreach (int batch in Batches)
                    yield return [eps, affine, batch];
    }

    [Theory]
    [MemberData(nameof(LayerNormCases))]
    public void LayerNormOptionsFromTheConstructorCompileAndEqualEager(double eps, bool affine, int batch)
    {
        const int d = 6;
        var rng = new Rng(431);
        var model = new FlagLayerNormModel(d, eps, affine);
        CompiledTransformerDropoutTests.Randomize(model, rng);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var x = Tensor.Randn([batch, d], rng: rng) * 0.5f;
        var seed = Tensor.Randn([batch, d], rng: rng);
        var eager = CompiledTransformerDropoutTests.Run(model, a => model.Forward(a[0]), [x], seed, 432);
        var program = CompiledTransformerDropoutTests.Run(model, a => compiled.Forward(a[0]), [x], seed, 432);
        CompiledTransformerDropoutTests.AssertSame(eager, program, $"LayerNorm (eps {eps}, affine {affine}, batch {batch})");
    }

    public static IEnumerable<object[]> DropoutCases()
    {
        foreach (double p in new[] { 0.0, 0.5 })
            foreach (bool training in new[] { true, false })
                foreach (int batch in Batches)
                    yield return [p, training, batch];
    }

    [Theory]
    [MemberData(nameof(DropoutCases))]
    public void Dropout2dProbabilityFromTheConstructorCompilesAndEqualsEager(double p, bool training, int batch)
    {
        var rng = new Rng(421);
        var model = new FlagDropout2dModel(p);
        CompiledTransformerDropoutTests.Randomize(model, rng);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var x = Tensor.Randn([batch, 3, 6, 6], rng: rng);
        var seed = Tensor.Randn([batch, 4, 6, 6], rng: rng);
        if (training) model.Train();
        else model.Eval();
        var eager = CompiledTransformerDropoutTests.Run(model, a => model.Forward(a[0]), [x], seed, 422);
        var program = CompiledTransformerDropoutTests.Run(model, a => compiled.Forward(a[0]), [x], seed, 422);
        CompiledTransformerDropoutTests.AssertSame(eager, program, $"Dropout2d (p {p}, {(training ? "training" : "evaluation")}, batch {batch})");
        if (training && p > 0 && batch > 1)
        {
            // The masks drop whole channels: evaluation (nothing drawn) differs, so the comparison is of eager's masks.
            model.Eval();
            Tensor evaluated;
            using (Autograd.NoGrad()) evaluated = compiled.Forward(x);
            Assert.True((evaluated - eager.Out).Abs().Max().Item() > 1e-3, "dropout changed nothing");
        }
    }
}
