using SharpGrad.Tests.Nn;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// The compiled recurrent rule (issue 13): RNN/LSTM/GRU stacks (layers, directions, biases, ReLU/tanh) compiled with no graph
/// break give the eager fused path's outputs, input gradients and parameter gradients at batch 1, 3 and 64, and PyTorch's
/// outputs on the layer fixtures (Fixtures/arch/layers.safetensors).
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledRecurrentTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void BidirectionalTwoLayerLstmMatchesEager(int batch)
    {
        Rng.ManualSeed(71);
        var model = new CompiledLstmStack();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 6, 5], seed: 72);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void TwoLayerGruIntoLinearMatchesEager(int batch)
    {
        Rng.ManualSeed(73);
        var model = new CompiledGruHead();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 9, 5], seed: 74);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void BidirectionalReluRnnWithoutBiasMatchesEager(int batch)
    {
        Rng.ManualSeed(75);
        var model = new CompiledRnnStack();
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 4, 5], seed: 76);
    }

    [Fact]
    public void CompiledLstmAndRnnGivePyTorchsOutputs()
    {
        foreach (var (name, child, model) in new (string, string, Module)[]
                 { ("lstm_bf", "lstm.", new CompiledLstmFixture()), ("rnn_relu_bi_bf_nobias", "rnn.", new CompiledRnnFixture()) })
        {
            model.LoadStateDict(SequenceLayerFixtureTests.StateOf(name).ToDictionary(kv => child + kv.Key, kv => kv.Value), strict: true);
            var x = ArchFixtures.Get(SequenceLayerFixtureTests.File, $"{name}.in.x");
            var y = model switch
            {
                CompiledLstmFixture l => l.Compile().Forward(x),
                CompiledRnnFixture r => r.Compile().Forward(x),
                _ => throw new InvalidOperationException(),
            };
            TensorAssert.Close(ArchFixtures.Get(SequenceLayerFixtureTests.File, $"{name}.out.out"), y, 1e-4, 1e-5, $"{name}: compiled output");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void EmbeddingLstmClassifierTrainsLikeEager(int batch)
    {
        Rng.ManualSeed(77);
        var eager = new CompiledLstmClassifier();
        var compiled = new CompiledLstmClassifier();
        compiled.LoadStateDict(eager.StateDict());
        var net = compiled.Compile();
        Assert.True(net.Explanation.IsFullyCompiled, net.Explanation.ToString());
        var tokens = Tensor.RandInt(0, 30, [batch, 5], new Rng(78));
        var target = Tensor.RandInt(0, 4, [batch], new Rng(79));
        var le = Losses.CrossEntropy(eager.Forward(tokens), target);
        le.Backward();
        var lc = Losses.CrossEntropy(net.Forward(tokens), target);
        lc.Backward();
        TensorAssert.Close(le.Detach(), lc.Detach(), 1e-4, 1e-5, "loss");
        foreach (var ((name, pe), (_, pc)) in eager.NamedParameters().Zip(compiled.NamedParameters()))
            TensorAssert.Close(pe.Grad!, pc.Grad!, 1e-4, 1e-5, "gradient of " + name);
    }

    [Fact]
    public void ReducingAStateAlongItsLayersCompilesAndEqualsEager()
    {
        // h_n is [L·D, N, H] (the batch in dim 1): h.Sum(0) counts the batch in the reduction's inner count (session 13; it was a
        // named break), and equals eager's, gradients included.
        var model = new CompiledGruWithState();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var x = Tensor.Randn([3, 6, 4], rng: new Rng(80));
        var seed = Tensor.Randn([3, 5], rng: new Rng(81));
        var eager = CompiledTransformerDropoutTests.Run(model, a => model.Forward(a[0]), [x], seed, 82);
        var program = CompiledTransformerDropoutTests.Run(model, a => compiled.Forward(a[0]), [x], seed, 82);
        CompiledTransformerDropoutTests.AssertSame(eager, program, "y.Sum(1) + h.Sum(0)");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void LstmInitialAndFinalStatesCompileEqualToEager(int batch)
    {
        // h_0/c_0 in and (h_n, c_n) out compiled: gradients into x, h_0, c_0 and the weights equal to eager's.
        Rng.ManualSeed(96);
        var eager = new CompiledLstmWithStates();
        var model = new CompiledLstmWithStates();
        model.LoadStateDict(eager.StateDict());
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var inputs = new[] { Tensor.Randn([batch, 6, 4], rng: new Rng(97)), Tensor.Randn([1, batch, 5], rng: new Rng(98)), Tensor.Randn([1, batch, 5], rng: new Rng(99)) };
        var e = inputs.Select(t => t.Detach().RequiresGrad_()).ToArray();
        var c = inputs.Select(t => t.Detach().RequiresGrad_()).ToArray();
        var ye = eager.Forward(e[0], e[1], e[2]);
        var yc = compiled.Forward(c[0], c[1], c[2]);
        TensorAssert.Close(ye.Detach(), yc.Detach(), 1e-5, 1e-6, "output");
        ye.Sum().Backward();
        yc.Sum().Backward();
        for (int k = 0; k < 3; k++) TensorAssert.Close(e[k].Grad!, c[k].Grad!, 1e-5, 1e-6, "gradient of input " + k);
        foreach (var ((name, pe), (_, pc)) in eager.NamedParameters().Zip(model.NamedParameters()))
            TensorAssert.Close(pe.Grad!, pc.Grad!, 1e-5, 1e-6, "gradient of " + name);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void GruInitialStateCompilesEqualToEager(int batch)
    {
        Rng.ManualSeed(100);
        var model = new CompiledGruFromInitialState();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var x = Tensor.Randn([batch, 6, 4], rng: new Rng(101));
        var h0 = Tensor.Randn([1, batch, 5], rng: new Rng(102));
        using var noGrad = Autograd.NoGrad();
        TensorAssert.Close(model.Forward(x, h0), compiled.Forward(x, h0), 1e-5, 1e-6, "output");
    }

    [Theory]
    [InlineData(1, 5, 7)]
    [InlineData(3, 4, 9)]
    [InlineData(64, 5, 7)]
    public void ConstructorSizedBidirectionalLstmMatchesEager(int batch, int inputSize, int hidden)
    {
        // Two instances of one generated program with different sizes: the sizes are symbols bound in Compile().
        Rng.ManualSeed(91);
        var model = new CtorSizedLstmHead(inputSize, hidden, 3);
        Assert.True(model.Compile().Explanation.IsFullyCompiled, model.Compile().Explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 6, inputSize], seed: 92);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void ConstructorSizedGruTaggerTrainsLikeEager(int batch)
    {
        Rng.ManualSeed(93);
        var eager = new CtorSizedGruTagger(11, 6, 10);
        var compiled = new CtorSizedGruTagger(11, 6, 10);
        compiled.LoadStateDict(eager.StateDict());
        var net = compiled.Compile();
        Assert.True(net.Explanation.IsFullyCompiled, net.Explanation.ToString());
        var tokens = Tensor.RandInt(0, 11, [batch, 7], new Rng(94));
        var target = Tensor.RandInt(0, 11, [batch * 7], new Rng(95));
        var le = Losses.CrossEntropy(eager.Forward(tokens).Reshape(-1, 11), target);
        le.Backward();
        var lc = Losses.CrossEntropy(net.Forward(tokens).Reshape(-1, 11), target);
        lc.Backward();
        TensorAssert.Close(le.Detach(), lc.Detach(), 1e-4, 1e-5, "loss");
        foreach (var ((name, pe), (_, pc)) in eager.NamedParameters().Zip(compiled.NamedParameters()))
            TensorAssert.Close(pe.Grad!, pc.Grad!, 1e-4, 1e-5, "gradient of " + name);
    }
}
