using SharpGrad.Kernels;
using SharpGrad.Tests.Support;
using static SharpGrad.Tests.Support.ThreadCountCollection;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Embedding → recurrent models whose compiled backward adds the table's gradient from the projection's gradient summed per
/// distinct token (the lookup read by the layer alone; <c>RecurrentRule.MarkEmbeddedInput</c>), and one whose lookup has a
/// second reader (today's path): compiled equals eager (within tolerances: the fused sums' order differs) over three steps on
/// one compiled instance through the fused LossBackward and the tape, at 1 and 2 threads, with repeated tokens and the
/// padding row among them; the same bits at 1 and 2 threads. Gradients read through <c>GradInternal</c> (reading <c>.Grad</c>
/// would make the next step's arrays cleared ones; see CompiledChildParamOverwriteTests).
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class CompiledEmbeddedRecurrentTests
{
    [Fact]
    public void TheModelsCompileWithoutABreak()
    {
        Assert.True(new EmbeddedLstmNet().Compile().Explanation.IsFullyCompiled);
        Assert.True(new EmbeddedBiLstmNet().Compile().Explanation.IsFullyCompiled);
        Assert.True(new EmbeddedGruSharedNet().Compile().Explanation.IsFullyCompiled);
    }

    [Theory]
    [InlineData(1, 3)]
    [InlineData(1, 17)]
    [InlineData(2, 17)]
    public void LossBackwardMatchesEagerOverSteps(int threads, int batch)
    {
        var a = new EmbeddedLstmNet();
        var aTwin = new EmbeddedLstmNet();
        aTwin.LoadStateDict(a.StateDict());
        var aCompiled = aTwin.Compile();
        Check(a, aTwin, 5, 13, 2, threads, batch, x => a.Forward(x), aCompiled.LossBackward, "LSTM");
        var b = new EmbeddedBiLstmNet();
        var bTwin = new EmbeddedBiLstmNet();
        bTwin.LoadStateDict(b.StateDict());
        var bCompiled = bTwin.Compile();
        Check(b, bTwin, 4, 11, null, threads, batch, x => b.Forward(x), bCompiled.LossBackward, "bidirectional LSTM");
        var c = new EmbeddedGruSharedNet();
        var cTwin = new EmbeddedGruSharedNet();
        cTwin.LoadStateDict(c.StateDict());
        var cCompiled = cTwin.Compile();
        Check(c, cTwin, 6, 9, 0, threads, batch, x => c.Forward(x), cCompiled.LossBackward, "GRU, shared lookup");
    }

    [Fact]
    public void TapeBackwardMatchesEagerAndBitsDoNotDependOnThreads()
    {
        var model = new EmbeddedLstmNet();
        var twin = new EmbeddedLstmNet();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        var rng = new Rng(4471);
        for (int step = 0; step < 3; step++)
        {
            var tokens = Tokens(rng, 23, 5, 13, 2);
            foreach (var p in model.Parameters()) p.Grad = null;
            var ye = model.Forward(tokens);
            var seed = Tensor.Randn(ye.Shape, rng: rng) * (3f - step);
            ye.Backward(seed);
            float[][]? one = null;
            foreach (int threads in new[] { 1, 2 })
            {
                foreach (var p in twin.Parameters()) p.Grad = null;
                WithThreads(threads, () => compiled.Forward(tokens).Backward(seed));
                AssertGrads(model, twin, $"step {step}, {threads} threads");
                var arrays = twin.Parameters().Select(p => p.GradInternal!.Data<float>().ToArray()).ToArray();
                if (one is null) one = arrays;
                else for (int i = 0; i < arrays.Length; i++) Assert.Equal(one[i], arrays[i]);
            }
        }
    }

    private static Tensor Tokens(Rng rng, int batch, int steps, int vocab, int? padding)
    {
        var ids = Enumerable.Range(0, batch * steps).Select(_ => (long)rng.NextInt(vocab)).ToArray();
        if (padding is int p) ids[1] = ids[^1] = p;
        return Tensor.FromArray(ids, [batch, steps]);
    }

    private static void Check(Module model, Module twin, int steps, int vocab, int? padding, int threads, int batch,
        Func<Tensor, Tensor> forward, Func<Tensor, Tensor, float> lossBackward, string what)
    {
        WithThreads(threads, () =>
        {
            var rng = new Rng(4461 + batch);
            float[][]? previous = null;
            for (int step = 0; step < 3; step++)
            {
                var tokens = Tokens(rng, batch, steps, vocab, padding);
                var target = Tensor.RandInt(0, 3, [batch], rng);
                foreach (var p in model.Parameters()) p.Grad = null;
                var loss = Losses.CrossEntropy(forward(tokens), target);
                loss.Backward();
                foreach (var p in twin.Parameters()) p.Grad = null;
                float value = lossBackward(tokens, target);
                Assert.True(Math.Abs(loss.Item() - value) <= 1e-5f * (1 + Math.Abs(value)), $"{what}, step {step}: loss eager {loss.Item()}, compiled {value}");
                AssertGrads(model, twin, $"{what}, step {step}");
                var arrays = twin.Parameters().Select(p => p.GradInternal!.Data<float>()).ToArray();
                if (previous is not null) for (int i = 0; i < arrays.Length; i++) Assert.Same(previous[i], arrays[i]);
                previous = arrays;
            }
        });
    }

    private static void AssertGrads(Module eager, Module compiled, string what)
    {
        var pe = eager.NamedParameters().ToList();
        var pc = compiled.NamedParameters().ToList();
        Assert.Equal(pe.Count, pc.Count);
        for (int i = 0; i < pe.Count; i++)
            TensorAssert.Close(pe[i].Value.Grad!, pc[i].Value.GradInternal!, 1e-3, 1e-5, $"{what}: gradient of {pe[i].Name}");
    }
}
