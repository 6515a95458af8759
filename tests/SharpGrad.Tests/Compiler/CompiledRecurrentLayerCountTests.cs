using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Compiled RNN/LSTM/GRU whose <c>num_layers</c>, input and hidden sizes come from the constructor (issue 13, session 11;
/// models in CompiledRecurrentLayerCountModels.cs): fully compiled (no graph break), and equal to eager — outputs, final
/// states h_n/c_n, the gradients of the input, of the initial states and of every weight — for 1, 2 and 3 layers,
/// bidirectional and not, batch first and batch second, initial states given and not, at batch 1, 3 and 64 and two
/// sequence lengths, one generated program serving every layer count.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledRecurrentLayerCountTests
{
    /// <summary>Layer counts × batch sizes.</summary>
    public static TheoryData<int, int> Cases()
    {
        var data = new TheoryData<int, int>();
        foreach (int layers in new[] { 1, 2, 3 })
            foreach (int batch in new[] { 1, 3, 64 }) data.Add(layers, batch);
        return data;
    }

    /// <summary>The input and hidden sizes of a case: different for each layer count (one program, built for each).</summary>
    private static (int Input, int Hidden) Sizes(int layers) => layers switch { 1 => (4, 5), 2 => (3, 6), _ => (5, 4) };

    private static readonly int[] Lengths = [3, 7];

    /// <summary>
    /// Builds a model and its twin (same weights), compiles the twin (no break), and for each length compares the results and
    /// every gradient. <paramref name="inputs"/> gives the float inputs for (batch, T).
    /// </summary>
    private static void Check<TModel>(Func<int, int, int, TModel> make, Func<TModel, Tensor[], Tensor> eager, Func<TModel, Func<Tensor[], Tensor>> compile,
        Func<int, int, int, int, Tensor[]> inputs, int layers, int batch, int seed)
        where TModel : Module
    {
        Rng.ManualSeed(seed);
        var (inputSize, hidden) = Sizes(layers);
        var model = make(inputSize, hidden, layers);
        var twin = make(inputSize, hidden, layers);
        twin.LoadStateDict(model.StateDict());
        var run = compile(twin);
        foreach (int t in Lengths)
        {
            var floats = inputs(batch, t, inputSize, hidden);
            Compare(model, twin, a => eager(model, a), run, floats, seed + t, $"{typeof(TModel).Name}, {layers} layers, batch {batch}, T = {t}");
        }
    }

    /// <summary>Runs eager on <paramref name="eager"/> and compiled on <paramref name="twin"/>; compares the result and every gradient.</summary>
    private static void Compare(Module eager, Module twin, Func<Tensor[], Tensor> runEager, Func<Tensor[], Tensor> runCompiled, Tensor[] floats, int seed, string what)
    {
        var rng = new Rng(seed);
        foreach (var p in eager.Parameters()) p.Grad = null;
        foreach (var p in twin.Parameters()) p.Grad = null;
        Tensor[] Fresh() => floats.Select(f => f.Detach().Clone().RequiresGrad_()).ToArray();
        var (ea, ca) = (Fresh(), Fresh());
        var ey = runEager(ea);
        var cy = runCompiled(ca);
        Assert.Equal(ey.Shape, cy.Shape);
        TensorAssert.Close(ey.Detach(), cy.Detach(), 1e-4, 1e-5, what + ": result");
        var g = Tensor.Randn(ey.Shape, rng: rng);
        (ey * g).Sum().Backward();
        (cy * g).Sum().Backward();
        for (int k = 0; k < floats.Length; k++) TensorAssert.Close(ea[k].Grad!, ca[k].Grad!, 1e-4, 1e-5, $"{what}: gradient of float input {k}");
        var twinParams = twin.NamedParameters().ToDictionary(p => p.Name, p => p.Value);
        foreach (var (name, p) in eager.NamedParameters())
        {
            Assert.True(twinParams[name].Grad is not null, $"{what}: the compiled program gave {name} no gradient");
            TensorAssert.Close(p.Grad!, twinParams[name].Grad!, 1e-4, 1e-5, $"{what}: gradient of {name}");
        }
    }

    internal static Tensor Randn(Rng rng, params int[] shape) => Tensor.Randn(shape, rng: rng);

    internal static Func<int, int, int, int, Tensor[]> Sequence(int seed)
        => (n, t, i, _) => [Randn(new Rng(seed), n, t, i)];

    internal static Func<int, int, int, int, Tensor[]> WithStates(int seed, int stateRows, int states)
        => (n, t, i, h) =>
        {
            var rng = new Rng(seed);
            return [Randn(rng, n, t, i), .. Enumerable.Range(0, states).Select(_ => Randn(rng, stateRows, n, h))];
        };

    internal static void AssertWhole(GraphExplanation explanation) => Assert.True(explanation.IsFullyCompiled, explanation.ToString());

    [Theory]
    [MemberData(nameof(Cases))]
    public void BidirectionalLstmFromGivenStatesMatchesEager(int layers, int batch)
        => Check((i, h, l) => new LayersLstmBiStates(i, h, l), (m, a) => m.Forward(a[0], a[1], a[2]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0], a[1], a[2]); },
            WithStates(201, 2 * layers, 2), layers, batch, 200);

    [Theory]
    [MemberData(nameof(Cases))]
    public void BatchSecondLstmMatchesEager(int layers, int batch)
        => Check((i, h, l) => new LayersLstmBatchSecond(i, h, l), (m, a) => m.Forward(a[0]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0]); }, Sequence(211), layers, batch, 210);

    [Theory]
    [MemberData(nameof(Cases))]
    public void LstmFinalHiddenStatesMatchEager(int layers, int batch)
        => Check((i, h, l) => new LayersLstmHidden(i, h, l), (m, a) => m.Forward(a[0]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0]); }, Sequence(221), layers, batch, 220);

    [Theory]
    [MemberData(nameof(Cases))]
    public void BidirectionalBatchSecondLstmFinalCellStatesMatchEager(int layers, int batch)
        => Check((i, h, l) => new LayersLstmCell(i, h, l), (m, a) => m.Forward(a[0], a[1], a[2]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0], a[1], a[2]); },
            WithStates(231, 2 * layers, 2), layers, batch, 230);

    [Theory]
    [MemberData(nameof(Cases))]
    public void BidirectionalBatchSecondGruFromGivenStateMatchesEager(int layers, int batch)
        => Check((i, h, l) => new LayersGruBiStates(i, h, l), (m, a) => m.Forward(a[0], a[1]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0], a[1]); },
            WithStates(241, 2 * layers, 1), layers, batch, 240);

    [Theory]
    [MemberData(nameof(Cases))]
    public void GruIntoLinearMatchesEager(int layers, int batch)
        => Check((i, h, l) => new LayersGruHead(i, h, l), (m, a) => m.Forward(a[0]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0]); }, Sequence(251), layers, batch, 250);

    [Theory]
    [MemberData(nameof(Cases))]
    public void BidirectionalGruFinalHiddenStatesMatchEager(int layers, int batch)
        => Check((i, h, l) => new LayersGruHidden(i, h, l), (m, a) => m.Forward(a[0]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0]); }, Sequence(261), layers, batch, 260);

    [Theory]
    [MemberData(nameof(Cases))]
    public void BidirectionalRnnMatchesEager(int layers, int batch)
        => Check((i, h, l) => new LayersRnnBi(i, h, l), (m, a) => m.Forward(a[0]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0]); }, Sequence(271), layers, batch, 270);

    [Theory]
    [MemberData(nameof(Cases))]
    public void BatchSecondReluRnnWithoutBiasFromGivenStateMatchesEager(int layers, int batch)
        => Check((i, h, l) => new LayersRnnReluStates(i, h, l), (m, a) => m.Forward(a[0], a[1]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0], a[1]); },
            WithStates(281, layers, 1), layers, batch, 280);

    [Theory]
    [MemberData(nameof(Cases))]
    public void RnnFinalHiddenStatesFromGivenStateMatchEager(int layers, int batch)
        => Check((i, h, l) => new LayersRnnHidden(i, h, l), (m, a) => m.Forward(a[0], a[1]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0], a[1]); },
            WithStates(291, layers, 1), layers, batch, 290);

    [Theory]
    [MemberData(nameof(Cases))]
    public void FusedLossBackwardBindsTheGroupsGradientsLikeEager(int layers, int batch)
    {
        // LossBackward binds each parameter of the group where its gradient ends up (.Grad's own array, or the tensor that
        // becomes .Grad) and accumulates on the next call; a frozen weight (requires_grad false) gets none, as in eager.
        Rng.ManualSeed(300);
        var (inputSize, hidden) = Sizes(layers);
        var model = new LayersLstmClassifier(inputSize, hidden, layers);
        var twin = new LayersLstmClassifier(inputSize, hidden, layers);
        twin.LoadStateDict(model.StateDict());
        foreach (var m in new Module[] { model, twin }) m.NamedParameters().First(p => p.Name == "lstm.weight_hh_l0").Value.RequiresGrad = false;
        var compiled = twin.Compile();
        AssertWhole(compiled.Explanation);
        foreach (int t in Lengths)
        {
            var x = Tensor.Randn([batch, t, inputSize], rng: new Rng(301 + t));
            var target = Tensor.RandInt(0, 4, [batch], new Rng(302 + t));
            foreach (var p in model.Parameters()) p.Grad = null;
            foreach (var p in twin.Parameters()) p.Grad = null;
            var loss = model.Loss(x, target);
            loss.Backward();
            float fused = compiled.LossBackward(x, target);
            TensorAssert.Close(loss.Detach(), Tensor.Scalar(fused), 1e-5, 1e-6, "loss");
            var twinParams = twin.NamedParameters().ToDictionary(p => p.Name, p => p.Value);
            foreach (var (name, p) in model.NamedParameters())
            {
                if (!p.RequiresGrad)
                {
                    Assert.Null(twinParams[name].Grad);
                    continue;
                }
                TensorAssert.Close(p.Grad!, twinParams[name].Grad!, 1e-4, 1e-5, $"{layers} layers, batch {batch}, T = {t}: gradient of {name}");
            }
            compiled.LossBackward(x, target);
            foreach (var (name, p) in model.NamedParameters().Where(p => p.Value.RequiresGrad))
                TensorAssert.Close(p.Grad! * 2f, twinParams[name].Grad!, 1e-4, 1e-5, $"{layers} layers, batch {batch}, T = {t}: {name} accumulated");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ABidirectionalFlagAParentFixesCompilesWhole(int layers, int batch)
        => Check((i, h, l) => new FlaggedLstmParent(i, h, l), (m, a) => m.Forward(a[0]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0]); }, Sequence(311), layers, batch, 310);

    /// <summary>
    /// Session 12: a bidirectional flag from the constructor compiles on its own, one region per value (the runner tests the built
    /// layer's <c>Bidirectional</c>); both instances fully compiled, equal to eager (CompiledConstructorFlagTests has the gradients).
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ABidirectionalFlagFromTheConstructorCompilesEachInstancesValue(bool bidirectional)
    {
        var model = new FlaggedLstmBlock(4, 5, 2, bidirectional);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var x = Tensor.Randn([3, 6, 4], rng: new Rng(312));
        using var noGrad = Autograd.NoGrad();
        var y = compiled.Forward(x);
        Assert.Equal(bidirectional ? 10 : 5, y.Shape[2]);
        TensorAssert.Close(model.Forward(x), y, 1e-4, 1e-5, "bidirectional " + bidirectional);
    }

    [Fact]
    public void ALayerBuiltWithOtherSizesThanTheInputsIsRefusedByName()
    {
        // The program binds num_layers from the built layer: an h_0 of another layer count is refused with its shape.
        var model = new LayersRnnHidden(4, 5, 2);
        var compiled = model.Compile();
        var e = Assert.ThrowsAny<ArgumentException>(() => compiled.Forward(Tensor.Randn([3, 6, 4]), Tensor.Randn([3, 3, 5])));
        Assert.Contains("h0", e.Message, StringComparison.Ordinal);
    }
}
