using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Options computed from the constructor's parameters, as PyTorch users write
/// <c>nn.LSTM(d, hidden, bidirectional=not unidirectional, batch_first=mode == 2, bias=use_bias and mode != 0)</c>.
/// </summary>
[Module]
public sealed partial class DerivedOptionEncoder
{
    private readonly LSTM lstm;

    public DerivedOptionEncoder(int d, int hidden, bool unidirectional, bool useBias, int mode)
    {
        lstm = new LSTM(d, hidden, bidirectional: !unidirectional, batchFirst: mode == 2, bias: useBias && mode != 0);
    }

    public Tensor Forward(Tensor x) => lstm.Forward(x).Output;
}

/// <summary>An LSTM built with <c>!flag</c> and a GRU with <c>flag</c>: never both bidirectional, so 2 programs, not 4.</summary>
[Module]
public sealed partial class OppositeFlagsModel
{
    private readonly LSTM lstm;
    private readonly GRU gru;

    public OppositeFlagsModel(int d, int hidden, bool flag)
    {
        lstm = new LSTM(d, hidden, bidirectional: !flag, batchFirst: true);
        gru = new GRU(d, hidden, bidirectional: flag, batchFirst: true);
    }

    public Tensor Forward(Tensor x) => lstm.Forward(x).Output.Sum(2) + gru.Forward(x).Output.Sum(2);
}

/// <summary>
/// Four options from four parameters (16 programs, over the former cap of 3 tests): an LSTM's and a GRU's <c>bias</c>, an RNN's
/// <c>nonlinearity</c> and a LayerNorm's <c>elementwise_affine</c>.
/// </summary>
[Module]
public sealed partial class FourOptionModel
{
    private readonly LSTM lstm;
    private readonly GRU gru;
    private readonly RNN rnn;
    private readonly LayerNorm norm;

    public FourOptionModel(int d, int hidden, bool lstmBias, bool gruBias, string nonlinearity, bool affine)
    {
        lstm = new LSTM(d, hidden, bias: lstmBias, batchFirst: true);
        gru = new GRU(d, hidden, bias: gruBias, batchFirst: true);
        rnn = new RNN(d, hidden, nonlinearity: nonlinearity, batchFirst: true);
        norm = new LayerNorm(hidden, elementwiseAffine: affine);
    }

    public Tensor Forward(Tensor x) => norm.Forward(lstm.Forward(x).Output + gru.Forward(x).Output + rnn.Forward(x).Output);
}

/// <summary>
/// The head's width in the other forms PyTorch code has it: a local <c>width = hidden * 2 if bidirectional else hidden</c>,
/// nested (<c>(2 * hidden if wide else hidden * 2) if bidirectional else hidden</c>).
/// </summary>
[Module]
public sealed partial class WidthFromFlagsModel
{
    private readonly LSTM lstm;
    private readonly Linear head;

    public WidthFromFlagsModel(int d, int hidden, bool wide, bool bidirectional)
    {
        lstm = new LSTM(d, hidden, bidirectional: bidirectional, batchFirst: true);
        int width = bidirectional ? (wide ? 2 * hidden : hidden * 2) : hidden;
        head = new Linear(width, 3);
    }

    public Tensor Forward(Tensor x) => head.Forward(lstm.Forward(x).Output);
}

/// <summary>An option of a Sequential's item (<c>nn.Sequential(nn.Linear(d, d), nn.LayerNorm(d, elementwise_affine=affine))</c>).</summary>
[Module]
public sealed partial class SequentialItemOptionModel
{
    private readonly Sequential body;

    public SequentialItemOptionModel(int d, bool affine)
    {
        body = new Sequential(new Linear(d, d), new LayerNorm(d, elementwiseAffine: affine));
    }

    public Tensor Forward([Shape("N", "d")] Tensor x) => body.Forward(x) * 2f;
}

/// <summary>
/// Sizes a flag chooses, written the ways PyTorch code has them, in one model: a LayerNorm of <c>2 * hidden if bidirectional else
/// hidden</c> after the LSTM, a projection of a local <c>hidden + hidden if bidirectional else hidden</c> (its out size
/// <c>hidden if not bidirectional else 2 * hidden</c>) added to its own input, a head sized by the projection's <c>out_features</c>.
/// </summary>
[Module]
public sealed partial class FlagSizedNormModel
{
    private readonly LSTM lstm;
    private readonly LayerNorm norm;
    private readonly Linear proj;
    private readonly Linear head;

    public FlagSizedNormModel(int d, int hidden, bool bidirectional)
    {
        lstm = new LSTM(d, hidden, bidirectional: bidirectional, batchFirst: true);
        norm = new LayerNorm(bidirectional ? 2 * hidden : hidden);
        int width = bidirectional ? hidden + hidden : hidden;
        proj = new Linear(width, !bidirectional ? hidden : 2 * hidden);
        head = new Linear(proj.OutFeatures, 3);
    }

    public Tensor Forward(Tensor x)
    {
        var h = norm.Forward(lstm.Forward(x).Output);
        return head.Forward(h + proj.Forward(h));
    }
}

/// <summary>
/// A readonly flag the constructor stores (<c>self.wide = wide</c>) tested in <c>Forward</c>, and a width it chooses
/// (<c>2 * d if wide else d</c>): the region compiled for <c>!wide</c> takes the width as <c>d</c>, so the residual <c>h + x</c> and the
/// LayerNorm of <c>d + d if wide else d</c> over it compile.
/// </summary>
[Module]
public sealed partial class WideFieldModel
{
    private readonly bool wide;
    private readonly Linear up;
    private readonly LayerNorm norm;

    public WideFieldModel(int d, bool wide)
    {
        this.wide = wide;
        up = new Linear(d, wide ? 2 * d : d);
        norm = new LayerNorm(wide ? d + d : d);
    }

    public Tensor Forward([Shape("N", "d")] Tensor x)
    {
        var h = up.Forward(x);
        return wide ? norm.Forward(h * 2f) : norm.Forward(h + x);
    }
}

/// <summary>
/// Five options from five parameters, each of its own layer called in a statement of its own, that only pick a kernel: 32
/// combinations, compiled as 5 · 2 = 10 programs (each statement per value of its own option), not 32.
/// </summary>
[Module]
public sealed partial class FiveKernelOptionModel
{
    private readonly LSTM lstm;
    private readonly GRU gru;
    private readonly LayerNorm norm;
    private readonly RNN rnn;
    private readonly RNN cell;

    public FiveKernelOptionModel(int d, bool lstmBias, bool gruBias, bool affine, bool rnnBias, string nonlinearity)
    {
        lstm = new LSTM(d, d, bias: lstmBias, batchFirst: true);
        gru = new GRU(d, d, bias: gruBias, batchFirst: true);
        norm = new LayerNorm(d, elementwiseAffine: affine);
        rnn = new RNN(d, d, bias: rnnBias, batchFirst: true);
        cell = new RNN(d, d, nonlinearity: nonlinearity, batchFirst: true);
    }

    public Tensor Forward(Tensor x)
    {
        var h = lstm.Forward(x).Output;
        h = gru.Forward(h).Output;
        h = norm.Forward(h);
        h = rnn.Forward(h).Output;
        return cell.Forward(h).Output;
    }
}

/// <summary>
/// Layer options that are not the constructor's parameters themselves (computed from them, of items of a Sequential,
/// more than 3 in one method) and sizes a flag decides: each instance, built with each value, is fully compiled (no graph
/// break) and its compiled program equals eager — output, input gradient and every parameter's gradient — at batch 1, 3 and 64.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledConstructorOptionTests
{
    private static readonly int[] Batches = [1, 3, 64];

    /// <summary>Compiled against eager on one random input and seed gradient: output shape, output, input and parameter gradients.</summary>
    internal static void AssertEqualsEager(Module model, Func<Tensor, Tensor> compiled, Func<Tensor, Tensor> eager, int[] input, int[] output, int seed, string what)
    {
        var rng = new Rng(seed);
        var x = Tensor.Randn(input, rng: rng);
        var gradient = Tensor.Randn(output, rng: rng);
        var e = CompiledTransformerDropoutTests.Run(model, a => eager(a[0]), [x], gradient, seed + 1);
        var c = CompiledTransformerDropoutTests.Run(model, a => compiled(a[0]), [x], gradient, seed + 1);
        Assert.Equal(output, c.Out.Shape.ToArray());
        CompiledTransformerDropoutTests.AssertSame(e, c, what);
    }

    public static IEnumerable<object[]> DerivedCases()
    {
        foreach (bool unidirectional in new[] { false, true })
            foreach (bool useBias in new[] { false, true })
                foreach (int mode in new[] { 0, 1, 2 })
                    foreach (int batch in Batches)
                        yield return [unidirectional, useBias, mode, batch];
    }

    [Theory]
    [MemberData(nameof(DerivedCases))]
    public void OptionsComputedFromTheParametersCompileAndEqualEager(bool unidirectional, bool useBias, int mode, int batch)
    {
        const int d = 4, hidden = 5, t = 6;
        var model = new DerivedOptionEncoder(d, hidden, unidirectional, useBias, mode);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(501));
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Equal(8, compiled.Explanation.Regions.Count);
        int width = (unidirectional ? 1 : 2) * hidden;
        bool batchFirst = mode == 2;
        AssertEqualsEager(model, x => compiled.Forward(x), x => model.Forward(x), batchFirst ? [batch, t, d] : [t, batch, d], batchFirst ? [batch, t, width] : [t, batch, width], 502,
            $"derived options (unidirectional {unidirectional}, useBias {useBias}, mode {mode}, batch {batch})");
    }

    public static IEnumerable<object[]> FlagCases()
    {
        foreach (bool flag in new[] { false, true })
            foreach (int batch in Batches)
                yield return [flag, batch];
    }

    [Theory]
    [MemberData(nameof(FlagCases))]
    public void OppositeOptionsCompileOnlyTheReachableCombinations(bool flag, int batch)
    {
        const int d = 4, hidden = 5, t = 6;
        var model = new OppositeFlagsModel(d, hidden, flag);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(511));
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Equal(2, compiled.Explanation.Regions.Count);   // (lstm bidirectional, gru not) and (gru bidirectional, lstm not)
        AssertEqualsEager(model, x => compiled.Forward(x), x => model.Forward(x), [batch, t, d], [batch, t], 512, $"opposite flags (flag {flag}, batch {batch})");
    }

    public static IEnumerable<object[]> FourOptionCases()
    {
        foreach (bool lstmBias in new[] { false, true })
            foreach (bool gruBias in new[] { false, true })
                foreach (string nonlinearity in new[] { "tanh", "relu" })
                    foreach (bool affine in new[] { false, true })
                        foreach (int batch in Batches)
                            yield return [lstmBias, gruBias, nonlinearity, affine, batch];
    }

    [Theory]
    [MemberData(nameof(FourOptionCases))]
    public void FourOptionsInOneMethodCompileAndEqualEager(bool lstmBias, bool gruBias, string nonlinearity, bool affine, int batch)
    {
        const int d = 4, hidden = 5, t = 3;
        var model = new FourOptionModel(d, hidden, lstmBias, gruBias, nonlinearity, affine);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(521));
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Equal(16, compiled.Explanation.Regions.Count);
        AssertEqualsEager(model, x => compiled.Forward(x), x => model.Forward(x), [batch, t, d], [batch, t, hidden], 522,
            $"four options (lstmBias {lstmBias}, gruBias {gruBias}, {nonlinearity}, affine {affine}, batch {batch})");
    }

    public static IEnumerable<object[]> WidthCases()
    {
        foreach (bool wide in new[] { false, true })
            foreach (bool bidirectional in new[] { false, true })
                foreach (int batch in Batches)
                    yield return [wide, bidirectional, batch];
    }

    [Theory]
    [MemberData(nameof(WidthCases))]
    public void WidthsDecidedByFlagsCompileAndEqualEager(bool wide, bool bidirectional, int batch)
    {
        const int d = 4, hidden = 5, t = 6;
        var model = new WidthFromFlagsModel(d, hidden, wide, bidirectional);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(531));
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        AssertEqualsEager(model, x => compiled.Forward(x), x => model.Forward(x), [batch, t, d], [batch, t, 3], 532, $"widths (wide {wide}, bidirectional {bidirectional}, batch {batch})");
    }

    [Theory]
    [MemberData(nameof(FlagCases))]
    public void AnOptionOfASequentialItemCompilesAndEqualsEager(bool affine, int batch)
    {
        const int d = 6;
        var model = new SequentialItemOptionModel(d, affine);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(541));
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        AssertEqualsEager(model, x => compiled.Forward(x), x => model.Forward(x), [batch, d], [batch, d], 542, $"Sequential item (affine {affine}, batch {batch})");
    }

    public static IEnumerable<object[]> FlagSizeCases()
    {
        foreach (bool bidirectional in new[] { false, true })
            foreach (bool training in new[] { false, true })
                foreach (int batch in Batches)
                    yield return [bidirectional, training, batch];
    }

    /// <summary>
    /// A LayerNorm, a residual projection and a head sized by the flag (written three ways) after an LSTM the flag makes bidirectional:
    /// fully compiled (each region takes the size as its branch's), equal to eager in training and evaluation.
    /// </summary>
    [Theory]
    [MemberData(nameof(FlagSizeCases))]
    public void LayersSizedByTheFlagCompileAndEqualEager(bool bidirectional, bool training, int batch)
    {
        const int d = 4, hidden = 5, t = 6;
        var model = new FlagSizedNormModel(d, hidden, bidirectional);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(551));
        model.Train(training);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Equal(2, compiled.Explanation.Regions.Count);
        AssertEqualsEager(model, x => compiled.Forward(x), x => model.Forward(x), [batch, t, d], [batch, t, 3], 552,
            $"flag-sized layers (bidirectional {bidirectional}, training {training}, batch {batch})");
    }

    public static IEnumerable<object[]> FiveOptionCases()
    {
        for (int k = 0; k < 32; k++)
        {
            int batch = k % 3 == 0 ? 1 : k % 3 == 1 ? 3 : 64;
            yield return [(k & 1) != 0, (k & 2) != 0, (k & 4) != 0, (k & 8) != 0, (k & 16) != 0 ? "relu" : "tanh", k % 2 == 0, batch];
        }
    }

    /// <summary>
    /// Five options of five layers in statements of their own (32 combinations): 10 programs, fully compiled, every combination equal
    /// to eager (outputs, input gradient, every parameter's gradient), in training and evaluation.
    /// </summary>
    [Theory]
    [MemberData(nameof(FiveOptionCases))]
    public void FiveOptionsInStatementsOfTheirOwnCompileAndEqualEager(bool lstmBias, bool gruBias, bool affine, bool rnnBias, string nonlinearity, bool training, int batch)
    {
        const int d = 4, t = 3;
        var model = new FiveKernelOptionModel(d, lstmBias, gruBias, affine, rnnBias, nonlinearity);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(561));
        model.Train(training);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Equal(10, compiled.Explanation.Regions.Count);
        AssertEqualsEager(model, x => compiled.Forward(x), x => model.Forward(x), [batch, t, d], [batch, t, d], 562,
            $"five options (lstmBias {lstmBias}, gruBias {gruBias}, affine {affine}, rnnBias {rnnBias}, {nonlinearity}, training {training}, batch {batch})");
    }

    /// <summary>A width a readonly flag chooses, resolved in the flag's regions (the residual in the <c>!wide</c> one): fully compiled, = eager.</summary>
    [Theory]
    [MemberData(nameof(FlagSizeCases))]
    public void AWidthAReadonlyFlagChoosesIsTheBranchsWidth(bool wide, bool training, int batch)
    {
        const int d = 4;
        var model = new WideFieldModel(d, wide);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(571));
        model.Train(training);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        AssertEqualsEager(model, x => compiled.Forward(x), x => model.Forward(x), [batch, d], [batch, wide ? 2 * d : d], 572,
            $"wide field (wide {wide}, training {training}, batch {batch})");
    }
}
