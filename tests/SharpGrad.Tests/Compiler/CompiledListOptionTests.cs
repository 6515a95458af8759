using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// A ModuleList of LayerNorms filled in a constructor loop with an option from a constructor parameter, iterated by foreach
/// (PyTorch: <c>self.norms = nn.ModuleList([nn.LayerNorm(d, elementwise_affine=affine) for _ in range(2)])</c>,
/// <c>for n in self.norms: h = n(h)</c>).
/// </summary>
[Module]
public sealed partial class ListNormsModel
{
    private readonly Linear fc;
    internal readonly ModuleList<LayerNorm> norms = new();

    public ListNormsModel(int d, bool affine)
    {
        fc = new Linear(d, d);
        for (int i = 0; i < 2; i++) norms.Append(new LayerNorm(d, elementwiseAffine: affine));
    }

    public Tensor Forward([Shape("N", "d")] Tensor x)
    {
        var h = fc.Forward(x);
        foreach (var n in norms) h = n.Forward(h) * 2f;
        return h;
    }
}

/// <summary>Items built with different options from one parameter (<c>affine</c>, <c>not affine</c>, the default): each tested on its own item.</summary>
[Module]
public sealed partial class ListMixedNormsModel
{
    private readonly ModuleList<LayerNorm> norms = new();

    public ListMixedNormsModel(int d, bool affine)
    {
        norms.Append(new LayerNorm(d, elementwiseAffine: affine));
        norms.Append(new LayerNorm(d, elementwiseAffine: !affine));
        norms.Append(new LayerNorm(d));
    }

    public Tensor Forward([Shape("N", "d")] Tensor x)
    {
        var h = x * 3f;
        foreach (var n in norms) h = n.Forward(h) + h;
        return h;
    }
}

/// <summary>
/// A stack of encoder layers in a ModuleList whose <c>norm_first</c> and <c>batch_first</c> are the constructor's
/// (<c>nn.ModuleList([nn.TransformerEncoderLayer(d, 2, 16, 0.1, norm_first=norm_first, batch_first=batch_first) for _ in range(2)])</c>).
/// </summary>
[Module]
public sealed partial class ListEncoderModel
{
    private readonly ModuleList<TransformerEncoderLayer> layers = new();

    public ListEncoderModel(int d, bool normFirst, bool batchFirst)
    {
        for (int i = 0; i < 2; i++) layers.Append(new TransformerEncoderLayer(d, 2, 16, 0.1, batchFirst: batchFirst, normFirst: normFirst));
    }

    public Tensor Forward(Tensor x)
    {
        var h = x;
        foreach (var layer in layers) h = layer.Forward(h);
        return h;
    }
}

/// <summary>LSTMs in a ModuleList filled one statement after another, their <c>bias</c> the constructor's.</summary>
[Module]
public sealed partial class ListLstmModel
{
    private readonly ModuleList<LSTM> layers = new();

    public ListLstmModel(int d, bool bias)
    {
        layers.Append(new LSTM(d, d, batchFirst: true, bias: bias));
        layers.Append(new LSTM(d, d, batchFirst: true, bias: bias));
    }

    public Tensor Forward(Tensor x)
    {
        var h = x;
        foreach (var l in layers) h = l.Forward(h).Output;
        return h;
    }
}

/// <summary>
/// Layer options of items of a ModuleList iterated by foreach, given by the constructor's parameters: each instance, built with
/// each value, is fully compiled (one region per reachable combination, no graph break) and its compiled program equals eager —
/// output, input gradient and every parameter's gradient — in training and in evaluation; a list item replaced after the module
/// was built so that it no longer agrees with the item whose option the runner tests is a clear error, not a wrong answer.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledListOptionTests
{
    private static readonly int[] Batches = [1, 3];

    public static IEnumerable<object[]> FlagCases()
    {
        foreach (bool flag in new[] { false, true })
            foreach (bool training in new[] { true, false })
                foreach (int batch in Batches)
                    yield return [flag, training, batch];
    }

    [Theory]
    [MemberData(nameof(FlagCases))]
    public void AnOptionOfListItemsCompilesAndEqualsEager(bool affine, bool training, int batch)
    {
        const int d = 6;
        var model = new ListNormsModel(d, affine);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(601));
        model.Train(training);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Equal(2, compiled.Explanation.Regions.Count);
        Assert.Equal(affine ? 6 : 2, model.Parameters().Count());
        CompiledConstructorOptionTests.AssertEqualsEager(model, x => compiled.Forward(x), x => model.Forward(x), [batch, d], [batch, d], 602, $"list items (affine {affine}, training {training}, batch {batch})");
    }

    [Theory]
    [MemberData(nameof(FlagCases))]
    public void ListItemsWithDifferentOptionsAreEachTested(bool affine, bool training, int batch)
    {
        const int d = 5;
        var model = new ListMixedNormsModel(d, affine);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(611));
        model.Train(training);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Equal(2, compiled.Explanation.Regions.Count);   // (norms.0 affine, norms.1 not) and the other way: never both
        CompiledConstructorOptionTests.AssertEqualsEager(model, x => compiled.Forward(x), x => model.Forward(x), [batch, d], [batch, d], 612, $"mixed items (affine {affine}, training {training}, batch {batch})");
    }

    public static IEnumerable<object[]> EncoderCases()
    {
        foreach (bool normFirst in new[] { false, true })
            foreach (bool batchFirst in new[] { false, true })
                foreach (bool training in new[] { true, false })
                    foreach (int batch in Batches)
                        yield return [normFirst, batchFirst, training, batch];
    }

    [Theory]
    [MemberData(nameof(EncoderCases))]
    public void EncoderLayersInAListCompileAndEqualEager(bool normFirst, bool batchFirst, bool training, int batch)
    {
        const int d = 8, t = 5;
        var model = new ListEncoderModel(d, normFirst, batchFirst);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(621));
        model.Train(training);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Equal(4, compiled.Explanation.Regions.Count);
        int[] shape = batchFirst ? [batch, t, d] : [t, batch, d];
        CompiledConstructorOptionTests.AssertEqualsEager(model, x => compiled.Forward(x), x => model.Forward(x), shape, shape, 622,
            $"encoder layers (normFirst {normFirst}, batchFirst {batchFirst}, training {training}, batch {batch})");
    }

    [Theory]
    [MemberData(nameof(FlagCases))]
    public void LstmsInAListCompileAndEqualEager(bool bias, bool training, int batch)
    {
        const int d = 4, t = 6;
        var model = new ListLstmModel(d, bias);
        CompiledTransformerDropoutTests.Randomize(model, new Rng(631));
        model.Train(training);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Equal(2, compiled.Explanation.Regions.Count);
        CompiledConstructorOptionTests.AssertEqualsEager(model, x => compiled.Forward(x), x => model.Forward(x), [batch, t, d], [batch, t, d], 632, $"LSTM items (bias {bias}, training {training}, batch {batch})");
    }

    /// <summary>
    /// The runner tests <c>norms[0]</c>'s option for both items (the constructor built them from one parameter); an item replaced
    /// after the module was built with the other value is an error naming it, not the other item's region run on it.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AListItemReplacedWithAnotherOptionIsAClearError(bool affine)
    {
        const int d = 6;
        var model = new ListNormsModel(d, affine);
        var compiled = model.Compile();
        var x = Tensor.Randn([2, d], rng: new Rng(641));
        _ = compiled.Forward(x);
        model.norms.RemoveAt(1);
        model.norms.Append(new LayerNorm(d, elementwiseAffine: !affine));
        var error = Assert.Throws<InvalidOperationException>(() => compiled.Forward(x));
        Assert.Contains("'norms.1'", error.Message, StringComparison.Ordinal);
        Assert.Contains("replaced after the module was built", error.Message, StringComparison.Ordinal);
    }
}
