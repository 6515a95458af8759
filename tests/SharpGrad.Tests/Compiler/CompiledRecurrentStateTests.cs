using SharpGrad.Tests.Nn;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Compiled recurrent initial and final states (issue 13): h_0/c_0 in and h_n/c_n out ([L·D, N, H], the batch in dim 1) with no
/// graph break, equal to PyTorch (outputs and the gradients of x, h_0, c_0 and every weight, through the output and both final
/// states) and to eager at batch 1, 3 and 64.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledRecurrentStateTests
{
    private static Tensor Get(string key) => ArchFixtures.Get(SequenceLayerFixtureTests.File, key);

    private static void LoadCase(Module m, string name)
        => m.LoadStateDict(SequenceLayerFixtureTests.StateOf(name).ToDictionary(kv => (name.StartsWith("lstm", StringComparison.Ordinal) ? "lstm." : "gru.") + kv.Key, kv => kv.Value), strict: true);

    [Fact]
    public void LstmFromInitialStatesGivesPyTorchsOutputsFinalStatesAndGradients()
    {
        const string name = "lstm_2l_bi_bf_h0c0";
        var x = Get(name + ".in.x").Detach().RequiresGrad_();
        var h0 = Get(name + ".in.h0").Detach().RequiresGrad_();
        var c0 = Get(name + ".in.c0").Detach().RequiresGrad_();
        var output = new LstmStatesOutput();
        var hidden = new LstmStatesHidden();
        var cell = new LstmStatesCell();
        foreach (var m in new Module[] { output, hidden, cell }) LoadCase(m, name);
        var po = output.Compile();
        var ph = hidden.Compile();
        var pc = cell.Compile();
        Assert.True(po.Explanation.IsFullyCompiled, po.Explanation.ToString());
        Assert.True(ph.Explanation.IsFullyCompiled, ph.Explanation.ToString());
        Assert.True(pc.Explanation.IsFullyCompiled, pc.Explanation.ToString());
        var y = po.Forward(x, h0, c0);
        var h = ph.Forward(x, h0, c0);
        var c = pc.Forward(x, h0, c0);
        TensorAssert.Close(Get(name + ".out.out"), y.Detach(), 1e-4, 1e-5, "output");
        TensorAssert.Close(Get(name + ".out.hn"), h.Detach(), 1e-4, 1e-5, "h_n");
        TensorAssert.Close(Get(name + ".out.cn"), c.Detach(), 1e-4, 1e-5, "c_n");
        // PyTorch's gradients are of Σ out·seed.out + Σ h_n·seed.hn + Σ c_n·seed.cn: the sum of the three backwards.
        y.Backward(Get(name + ".seed.out"));
        h.Backward(Get(name + ".seed.hn"));
        c.Backward(Get(name + ".seed.cn"));
        TensorAssert.Close(Get(name + ".grad_in.x"), x.Grad!, 1e-3, 1e-5, "gradient of x");
        TensorAssert.Close(Get(name + ".grad_in.h0"), h0.Grad!, 1e-3, 1e-5, "gradient of h_0");
        TensorAssert.Close(Get(name + ".grad_in.c0"), c0.Grad!, 1e-3, 1e-5, "gradient of c_0");
        foreach (var pname in SequenceLayerFixtureTests.StateOf(name).Keys)
        {
            var sum = new Module[] { output, hidden, cell }.Select(m => m.NamedParameters().First(p => p.Name == "lstm." + pname).Value.Grad!).Aggregate((a, b) => a + b);
            TensorAssert.Close(Get(name + ".grad." + pname), sum, 1e-3, 1e-5, "gradient of " + pname);
        }
    }

    [Fact]
    public void GruFromInitialStateGivesPyTorchsOutputFinalStateAndGradients()
    {
        const string name = "gru_2l_bi_bf_h0";
        var x = Get(name + ".in.x").Detach().RequiresGrad_();
        var h0 = Get(name + ".in.h0").Detach().RequiresGrad_();
        var output = new GruStatesOutput();
        var hidden = new GruStatesHidden();
        LoadCase(output, name);
        LoadCase(hidden, name);
        var po = output.Compile();
        var ph = hidden.Compile();
        Assert.True(po.Explanation.IsFullyCompiled, po.Explanation.ToString());
        Assert.True(ph.Explanation.IsFullyCompiled, ph.Explanation.ToString());
        var y = po.Forward(x, h0);
        var h = ph.Forward(x, h0);
        TensorAssert.Close(Get(name + ".out.out"), y.Detach(), 1e-4, 1e-5, "output");
        TensorAssert.Close(Get(name + ".out.hn"), h.Detach(), 1e-4, 1e-5, "h_n");
        y.Backward(Get(name + ".seed.out"));
        h.Backward(Get(name + ".seed.hn"));
        TensorAssert.Close(Get(name + ".grad_in.x"), x.Grad!, 1e-3, 1e-5, "gradient of x");
        TensorAssert.Close(Get(name + ".grad_in.h0"), h0.Grad!, 1e-3, 1e-5, "gradient of h_0");
        foreach (var pname in SequenceLayerFixtureTests.StateOf(name).Keys)
        {
            var sum = output.NamedParameters().First(p => p.Name == "gru." + pname).Value.Grad! + hidden.NamedParameters().First(p => p.Name == "gru." + pname).Value.Grad!;
            TensorAssert.Close(Get(name + ".grad." + pname), sum, 1e-3, 1e-5, "gradient of " + pname);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void StatesSelectedAndAddedMatchEager(int batch)
    {
        Rng.ManualSeed(131);
        var eager = new LstmStatesHead();
        var model = new LstmStatesHead();
        model.LoadStateDict(eager.StateDict());
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var inputs = new[] { Tensor.Randn([batch, 5, 4], rng: new Rng(132)), Tensor.Randn([4, batch, 6], rng: new Rng(133)), Tensor.Randn([4, batch, 6], rng: new Rng(134)) };
        var e = inputs.Select(t => t.Detach().RequiresGrad_()).ToArray();
        var c = inputs.Select(t => t.Detach().RequiresGrad_()).ToArray();
        var ye = eager.Forward(e[0], e[1], e[2]);
        var yc = compiled.Forward(c[0], c[1], c[2]);
        TensorAssert.Close(ye.Detach(), yc.Detach(), 1e-5, 1e-6, "output");
        var seed = Tensor.Randn(ye.Shape, rng: new Rng(135));
        ye.Backward(seed);
        yc.Backward(seed);
        for (int k = 0; k < 3; k++) TensorAssert.Close(e[k].Grad!, c[k].Grad!, 1e-4, 1e-6, "gradient of input " + k);
        foreach (var ((pname, pe), (_, pc)) in eager.NamedParameters().Zip(model.NamedParameters()))
            TensorAssert.Close(pe.Grad!, pc.Grad!, 1e-4, 1e-6, "gradient of " + pname);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void GruDecoderFromTheEncodersFinalStateMatchesEager(int batch)
    {
        Rng.ManualSeed(141);
        var eager = new GruEncoderDecoder();
        var model = new GruEncoderDecoder();
        model.LoadStateDict(eager.StateDict());
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var inputs = new[] { Tensor.Randn([batch, 7, 4], rng: new Rng(142)), Tensor.Randn([batch, 5, 3], rng: new Rng(143)) };
        var e = inputs.Select(t => t.Detach().RequiresGrad_()).ToArray();
        var c = inputs.Select(t => t.Detach().RequiresGrad_()).ToArray();
        var ye = eager.Forward(e[0], e[1]);
        var yc = compiled.Forward(c[0], c[1]);
        TensorAssert.Close(ye.Detach(), yc.Detach(), 1e-5, 1e-6, "output");
        var seed = Tensor.Randn(ye.Shape, rng: new Rng(144));
        ye.Backward(seed);
        yc.Backward(seed);
        for (int k = 0; k < 2; k++) TensorAssert.Close(e[k].Grad!, c[k].Grad!, 1e-4, 1e-6, "gradient of input " + k);
        foreach (var ((pname, pe), (_, pc)) in eager.NamedParameters().Zip(model.NamedParameters()))
            TensorAssert.Close(pe.Grad!, pc.Grad!, 1e-4, 1e-6, "gradient of " + pname);
    }

    [Fact]
    public void AWrongInitialStateBatchIsAClearError()
    {
        var compiled = new GruStatesOutput().Compile();
        var error = Assert.Throws<ArgumentException>(() => compiled.Forward(Tensor.Randn([3, 6, 4]), Tensor.Randn([4, 2, 5])));
        Assert.Contains("h0", error.Message, StringComparison.Ordinal);
        Assert.Contains("[4, N, 5]", error.Message, StringComparison.Ordinal);
    }
}
