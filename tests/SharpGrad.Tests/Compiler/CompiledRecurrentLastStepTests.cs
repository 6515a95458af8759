using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Programs that read an LSTM's output only at its last step (session 20: the support calls write only that step's rows
/// and read only that step's gradient, <c>lastStepOnly: true</c>) equal eager — outputs and the gradients of the inputs
/// and every weight — batch first and second, with a length read at each call, from given initial states with the final
/// states used too, at batch 1, 3 and 40; a forward hook on the layer still sees the whole output sequence.
/// (The kernels' bits against the full-output path: Nn.RecurrentLastStepTests.)
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledRecurrentLastStepTests
{
    private static void MatchesEager<TModel>(Func<TModel> make, Func<TModel, Tensor[], Tensor> forward,
        Func<TModel, (GraphExplanation Explanation, Func<Tensor[], Tensor> Forward)> compile, Tensor[] inputs) where TModel : Module
    {
        var eager = make();
        var model = make();
        model.LoadStateDict(eager.StateDict());
        var (explanation, compiledForward) = compile(model);
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        var e = inputs.Select(t => t.Detach().RequiresGrad_()).ToArray();
        var c = inputs.Select(t => t.Detach().RequiresGrad_()).ToArray();
        var ye = forward(eager, e);
        var yc = compiledForward(c);
        TensorAssert.Close(ye.Detach(), yc.Detach(), 1e-5, 1e-6, "output");
        var seed = Tensor.Randn(ye.Shape, rng: new Rng(205));
        ye.Backward(seed);
        yc.Backward(seed);
        for (int k = 0; k < inputs.Length; k++) TensorAssert.Close(e[k].Grad!, c[k].Grad!, 1e-4, 1e-6, "gradient of input " + k);
        foreach (var ((pname, pe), (_, pc)) in eager.NamedParameters().Zip(model.NamedParameters()))
            TensorAssert.Close(pe.Grad!, pc.Grad!, 1e-4, 1e-6, "gradient of " + pname);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(40)]
    public void LastStepOfABatchFirstLayerMatchesEager(int batch)
    {
        Rng.ManualSeed(201);
        MatchesEager(() => new LstmLastStepHead(), (m, x) => m.Forward(x[0]), m => { var net = m.Compile(); return (net.Explanation, x => net.Forward(x[0])); },
            [Tensor.Randn([batch, 7, 5], rng: new Rng(202))]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(40)]
    public void LastStepOfABatchSecondLayerMatchesEager(int batch)
    {
        Rng.ManualSeed(211);
        MatchesEager(() => new LstmLastStepBatchSecond(), (m, x) => m.Forward(x[0]), m => { var net = m.Compile(); return (net.Explanation, x => net.Forward(x[0])); },
            [Tensor.Randn([6, batch, 5], rng: new Rng(212))]);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 9)]
    [InlineData(40, 4)]
    public void LastStepOfALengthReadAtEachCallMatchesEager(int batch, int steps)
    {
        Rng.ManualSeed(221);
        MatchesEager(() => new LstmLastStepAnyLength(), (m, x) => m.Forward(x[0]), m => { var net = m.Compile(); return (net.Explanation, x => net.Forward(x[0])); },
            [Tensor.Randn([batch, steps, 4], rng: new Rng(222))]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(40)]
    public void LastStepWithTheFinalStatesMatchesEager(int batch)
    {
        Rng.ManualSeed(231);
        MatchesEager(() => new LstmLastStepWithStates(), (m, x) => m.Forward(x[0], x[1], x[2]), m => { var net = m.Compile(); return (net.Explanation, x => net.Forward(x[0], x[1], x[2])); },
            [Tensor.Randn([batch, 6, 4], rng: new Rng(232)), Tensor.Randn([1, batch, 8], rng: new Rng(233)), Tensor.Randn([1, batch, 8], rng: new Rng(234))]);
    }

    [Fact]
    public void AForwardHookOnTheLayerSeesTheWholeOutput()
    {
        Rng.ManualSeed(241);
        var model = new LstmLastStepHead();
        var net = model.Compile();
        var x = Tensor.Randn([3, 7, 5], rng: new Rng(242));
        net.Forward(x);   // a first call without the hook: only the last step's rows written into the program's buffer
        var lstm = (SharpGrad.Layers.LSTM)model.NamedModules().Single(m => m.Name == "lstm").Module;
        Tensor? seen = null;
        using (lstm.RegisterForwardHook((m, xs, y) => { seen = y.Detach().Clone(); }))
        {
            net.Forward(x);
        }
        Assert.NotNull(seen);
        Tensor expected;
        using (Autograd.NoGrad()) expected = lstm.Forward(x).Output;
        TensorAssert.Close(expected, seen!, 1e-5, 1e-6, "the hook's output sequence");
    }
}
