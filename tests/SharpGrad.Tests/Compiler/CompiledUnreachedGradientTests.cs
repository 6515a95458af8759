using SharpGrad.Optimizers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// A compiled program leaves a gradient none exactly where eager (PyTorch) does: a leaf gets a gradient (zeros, possibly) when it
/// is in the autograd graph of the tensor the backward starts from, and none otherwise (GradientReach). Each model is run eagerly
/// and compiled on twins with the same weights, at batch 1, 3 and 64, through the tape (<c>(y * g).Sum().Backward()</c>) twice
/// (accumulation), and through the fused entry of a scalar method; every input's and parameter's gradient must be none where
/// eager's is none and equal where it is not. With Adam's weight decay an unreached parameter must not move.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledUnreachedGradientTests
{
    public static TheoryData<int> Batches => new() { 1, 3, 64 };

    /// <summary>
    /// Runs eager on <paramref name="eager"/> and compiled on its twin twice, each result's backward seeded with the same random
    /// gradient, and compares the results and, after each backward, every input's and parameter's gradient (none where eager's is
    /// none). <paramref name="none"/> names the parameters eager must give none (so that the case is exercised).
    /// </summary>
    private static void Compare(Module eager, Module twin, Func<Tensor[], Tensor> runEager, Func<Tensor[], Tensor> runCompiled, Tensor[] floats,
        string[] none, int[]? noneInputs = null)
    {
        Tensor[] Fresh() => floats.Select(f => f.Detach().Clone().RequiresGrad_()).ToArray();
        var (ea, ca) = (Fresh(), Fresh());
        var twinParams = twin.NamedParameters().ToDictionary(p => p.Name, p => p.Value);
        for (int pass = 0; pass < 2; pass++)
        {
            var ey = runEager(ea);
            var cy = runCompiled(ca);
            Assert.Equal(ey.Shape, cy.Shape);
            TensorAssert.Close(ey.Detach(), cy.Detach(), 1e-5, 1e-5, "output");
            var g = Tensor.Randn(ey.Shape, rng: new Rng(91 + pass));
            (ey * g).Sum().Backward();
            (cy * g).Sum().Backward();
            for (int k = 0; k < floats.Length; k++) CompiledAttentionOptionsTests.CloseGrad(ea[k].Grad, ca[k].Grad, $"gradient of input {k} after backward {pass + 1}");
            foreach (var (name, p) in eager.NamedParameters()) CompiledAttentionOptionsTests.CloseGrad(p.Grad, twinParams[name].Grad, $"gradient of {name} after backward {pass + 1}");
        }
        var eagerParams = eager.NamedParameters().ToDictionary(p => p.Name, p => p.Value);
        foreach (var name in none) Assert.True(eagerParams[name].Grad is null, $"eager gives {name} a gradient: the model does not test what it should");
        foreach (var k in noneInputs ?? []) Assert.True(ea[k].Grad is null, $"eager gives input {k} a gradient");
    }

    private static (TModel Model, TModel Twin) Twins<TModel>(Func<TModel> create) where TModel : Module => CompiledAttentionOptionsTests.Twins(create);

    [Theory]
    [MemberData(nameof(Batches))]
    public void AttentionWeightsOnlyLeaveTheValuePathWithoutGradient(int batch)
    {
        Rng.ManualSeed(301);
        var (model, twin) = Twins(() => new ProjectedWeightsOnly());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(302);
        Tensor[] inputs = [Tensor.Randn([batch, 5, 8], rng: rng), Tensor.Randn([batch, 7, 6], rng: rng), Tensor.Randn([batch, 7, 5], rng: rng)];
        Compare(model, twin, a => model.Forward(a[0], a[1], a[2]), a => compiled.Forward(a[0], a[1], a[2]), inputs,
            ["value_proj.weight", "value_proj.bias", "attn.out_proj.weight", "attn.out_proj.bias"], noneInputs: [2]);
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void ADiscardedChildOutputGetsNoGradient(int batch)
    {
        Rng.ManualSeed(303);
        var (model, twin) = Twins(() => new DiscardedChildOutput());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Compare(model, twin, a => model.Forward(a[0]), a => compiled.Forward(a[0]), [Tensor.Randn([batch, 6], rng: new Rng(304))], ["fc2.weight", "fc2.bias"]);
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void AnInputTheResultDoesNotDependOnKeepsNoGradient(int batch)
    {
        Rng.ManualSeed(305);
        var (model, twin) = Twins(() => new UnusedInputNet());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(306);
        Compare(model, twin, a => model.Forward(a[0], a[1]), a => compiled.Forward(a[0], a[1]), [Tensor.Randn([batch, 6], rng: rng), Tensor.Randn([batch, 6], rng: rng)],
            [], noneInputs: [1]);
        // Only that input requiring grad: the result does not require grad, as eager's.
        var y = Tensor.Randn([batch, 6], rng: rng).RequiresGrad_();
        foreach (var p in twin.Parameters()) p.RequiresGrad = false;
        foreach (var p in model.Parameters()) p.RequiresGrad = false;
        var x = Tensor.Randn([batch, 6], rng: rng);
#pragma warning disable SG2008 // only whether the result requires grad is read
        Assert.False(model.Forward(x, y).RequiresGrad);
        Assert.False(compiled.Forward(x, y).RequiresGrad);
#pragma warning restore SG2008
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void AnLstmLossOfTheLastHiddenStateReachesEveryParameter(int batch)
    {
        Rng.ManualSeed(307);
        var (model, twin) = Twins(() => new LstmLastHiddenHead());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Compare(model, twin, a => model.Forward(a[0]), a => compiled.Forward(a[0]), [Tensor.Randn([batch, 4, 5], rng: new Rng(308))], []);
        Assert.All(twin.Parameters(), p => Assert.NotNull(p.Grad));
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void ADiscardedRecurrentOutputGetsNoGradient(int batch)
    {
        Rng.ManualSeed(309);
        var (model, twin) = Twins(() => new DiscardedRecurrentOutput());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Compare(model, twin, a => model.Forward(a[0]), a => compiled.Forward(a[0]), [Tensor.Randn([batch, 4, 5], rng: new Rng(310))],
            ["gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0", "gru.bias_hh_l0"]);
    }

    /// <summary>Parameters before a Chunk whose other piece is unused are in the graph: zeros (in part or whole), as eager's, not none.</summary>
    [Theory]
    [MemberData(nameof(Batches))]
    public void AChunkWithOnePieceUsedGivesZerosNotNone(int batch)
    {
        Rng.ManualSeed(311);
        var (model, twin) = Twins(() => new ChunkOnePiece());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Compare(model, twin, a => model.Forward(a[0]), a => compiled.Forward(a[0]), [Tensor.Randn([batch, 6], rng: new Rng(312))], []);
        Assert.NotNull(twin.fc2.Weight.Grad);
        Assert.Equal(0f, twin.fc2.Weight.Grad!.Abs().Max().Item());
    }

    /// <summary>The branch not taken is not in the graph: in training fc2 gets none, in evaluation (grad mode on) fc1 gets none.</summary>
    [Theory]
    [MemberData(nameof(Batches))]
    public void TheBranchNotTakenGetsNoGradientInEitherMode(int batch)
    {
        Rng.ManualSeed(313);
        var (model, twin) = Twins(() => new TrainingBranchNet());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var x = Tensor.Randn([batch, 6], rng: new Rng(314));
        Compare(model, twin, a => model.Forward(a[0]), a => compiled.Forward(a[0]), [x], ["fc2.weight", "fc2.bias"]);
        model.ZeroGrad();
        twin.ZeroGrad();
        model.Eval();
        twin.Eval();
        Compare(model, twin, a => model.Forward(a[0]), a => compiled.Forward(a[0]), [x], ["fc1.weight", "fc1.bias"]);
    }

    /// <summary>The fused entry of a scalar of the weights only (<c>ForwardBackward</c>) leaves the value's Linear and the out-projection without gradient, twice.</summary>
    [Theory]
    [MemberData(nameof(Batches))]
    public void TheFusedBackwardOfAWeightsScoreLeavesTheValuePathWithoutGradient(int batch)
    {
        Rng.ManualSeed(315);
        var (model, twin) = Twins(() => new WeightsScore());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(316);
        var (x, keys, values) = (Tensor.Randn([batch, 5, 8], rng: rng), Tensor.Randn([batch, 6, 8], rng: rng), Tensor.Randn([batch, 6, 5], rng: rng));
        var twinParams = twin.NamedParameters().ToDictionary(p => p.Name, p => p.Value);
        for (int pass = 0; pass < 2; pass++)
        {
            var loss = model.Forward(x, keys, values);
            loss.Backward();
            float value = compiled.ForwardBackward(x, keys, values);
            Assert.True(Math.Abs(loss.Item() - value) <= 1e-4f * (1 + Math.Abs(value)), $"loss {value}, eager {loss.Item()}");
            foreach (var (name, p) in model.NamedParameters()) CompiledAttentionOptionsTests.CloseGrad(p.Grad, twinParams[name].Grad, $"gradient of {name} after backward {pass + 1}");
        }
        Assert.Null(model.valueProj.Weight.Grad);
        Assert.Null(model.attn.OutProj.Weight.Grad);
        Assert.NotNull(model.attn.InProjWeight!.Grad);
    }

    /// <summary>
    /// The user-visible symptom: AdamW with weight decay over 3 steps, eager and compiled (the fused entry and the tape), give equal
    /// parameters; the parameters outside the graph do not move (AdamW skips a parameter without gradient).
    /// </summary>
    [Theory]
    [MemberData(nameof(Batches))]
    public void AdamWithWeightDecayMovesTheSameParametersAsEager(int batch)
    {
        Rng.ManualSeed(317);
        var model = new WeightsScore();
        var fused = new WeightsScore();
        var tape = new WeightsScore();
        fused.LoadStateDict(model.StateDict());
        tape.LoadStateDict(model.StateDict());
        var before = model.attn.OutProj.Weight.Detach().Clone();
        var (fusedProgram, tapeProgram) = (fused.Compile(), tape.Compile());
        var optimizers = new[] { model, fused, tape }.Select(m => new AdamW(m.Parameters(), lr: 0.05, weightDecay: 0.1)).ToArray();
        var rng = new Rng(318);
        for (int step = 0; step < 3; step++)
        {
            var (x, keys, values) = (Tensor.Randn([batch, 5, 8], rng: rng), Tensor.Randn([batch, 6, 8], rng: rng), Tensor.Randn([batch, 6, 5], rng: rng));
            foreach (var o in optimizers) o.ZeroGrad();
            model.Forward(x, keys, values).Backward();
            fusedProgram.ForwardBackward(x, keys, values);
            tapeProgram.Forward(x, keys, values).Backward();
            foreach (var o in optimizers) o.Step();
        }
        var expected = model.NamedParameters().ToDictionary(p => p.Name, p => p.Value);
        foreach (var (name, p) in fused.NamedParameters()) TensorAssert.Close(expected[name].Detach(), p.Detach(), 1e-4, 1e-5, "fused: " + name);
        foreach (var (name, p) in tape.NamedParameters()) TensorAssert.Close(expected[name].Detach(), p.Detach(), 1e-4, 1e-5, "tape: " + name);
        TensorAssert.Close(before, fused.attn.OutProj.Weight.Detach(), 0, 0, "the out-projection, outside the graph, does not move");
    }

    /// <summary>Graph-break regions (a constructor-sized encoder between them): the region of the weights leaves the value's Linear and the out-projection without gradient.</summary>
    [Theory]
    [MemberData(nameof(Batches))]
    public void ARegionOfTheWeightsOnlyLeavesTheValuePathWithoutGradient(int batch)
    {
        Rng.ManualSeed(319);
        var (model, twin) = Twins(() => new RegionWeightsOnly(2));
        var compiled = twin.Compile();
        Assert.Contains(compiled.Explanation.Regions, r => r.Contains("Forward", StringComparison.Ordinal));
        Compare(model, twin, a => model.Forward(a[0]), a => compiled.Forward(a[0]), [Tensor.Randn([batch, 5, 6], rng: new Rng(320))],
            ["value_proj.weight", "value_proj.bias", "attn.out_proj.weight", "attn.out_proj.bias"]);
    }
}
