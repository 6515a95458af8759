using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Memory;

/// <summary>
/// The compiled node's tape backward writes a parameter's gradient straight into <c>.Grad</c> when the engine would only
/// add it there (<c>CompiledSupport.BindTapeGrad</c>). Each case compares with the eager Forward of the same model (same
/// parameters): a second consumer of a parameter, hooks, <c>Autograd.Grad</c>, accumulation without ZeroGrad, a
/// <c>.Grad</c> the user kept from the previous step, and the output and loss the user holds.
/// </summary>
[Collection(AllocationCollection.Name)]
public class CompiledTapeGradTests
{
    private static (WorkloadMlp Model, WorkloadMlp.Compiled C, List<Tensor> P, Tensor X, Tensor Y) Setup()
    {
        var rng = new Rng(5);
        var model = new WorkloadMlp();
        return (model, model.Compile(), model.Parameters().ToList(), Tensor.Rand([9, 784], rng: rng), Tensor.RandInt(0, 10, [9], rng));
    }

    private static void ZeroGrad(List<Tensor> ps)
    {
        foreach (var p in ps) p.Grad = null;
    }

    private static List<Tensor> Grads(List<Tensor> ps) => ps.Select(p => p.Grad!.Clone()).ToList();

    private static void SameGrads(List<Tensor> expected, List<Tensor> ps, float scale = 1)
    {
        for (int i = 0; i < ps.Count; i++) TensorAssert.Close(expected[i] * scale, ps[i].Grad!, 1e-4, 1e-5, $"parameter {i}");
    }

    /// <summary>The eager gradients of loss(model) (the reference the compiled node must reproduce).</summary>
    private static List<Tensor> EagerGrads(WorkloadMlp model, List<Tensor> ps, Func<Tensor, Tensor> loss, Tensor x)
    {
        ZeroGrad(ps);
        loss(model.Forward(x)).Backward();
        var g = Grads(ps);
        ZeroGrad(ps);
        return g;
    }

    [Fact]
    public void TwoStepsAndAccumulationMatchEager()
    {
        var (model, c, ps, x, y) = Setup();
        var expected = EagerGrads(model, ps, o => Losses.CrossEntropy(o, y), x);
        for (int step = 0; step < 2; step++)
        {
            ZeroGrad(ps);
            Losses.CrossEntropy(c.Forward(x), y).Backward();
            SameGrads(expected, ps);
        }
        Losses.CrossEntropy(c.Forward(x), y).Backward(); // no ZeroGrad: accumulated, as in PyTorch
        SameGrads(expected, ps, 2);
    }

    [Fact]
    public void AGradTheUserKeptIsNotOverwrittenByTheNextStep()
    {
        var (model, c, ps, x, y) = Setup();
        var expected = EagerGrads(model, ps, o => Losses.CrossEntropy(o, y), x);
        Losses.CrossEntropy(c.Forward(x), y).Backward();
        var kept = ps[0].Grad!;
        ZeroGrad(ps);
        Losses.CrossEntropy(c.Forward(x) * 3, y).Backward();
        Assert.NotSame(kept, ps[0].Grad);
        TensorAssert.Close(expected[0], kept, 1e-4, 1e-5, "the .Grad kept from the first step");
    }

    [Fact]
    public void ASecondConsumerOfAParameterIsSummed()
    {
        var (model, c, ps, x, y) = Setup();
        Tensor Loss(Tensor o) => Losses.CrossEntropy(o, y) + (ps[0] * ps[0]).Sum() * 0.5f;
        var expected = EagerGrads(model, ps, Loss, x);
        Loss(c.Forward(x)).Backward();
        SameGrads(expected, ps);
    }

    [Fact]
    public void HooksSeeTheWholeGradientOnce()
    {
        var (model, c, ps, x, y) = Setup();
        Tensor Loss(Tensor o) => Losses.CrossEntropy(o, y) + (ps[2] * ps[2]).Sum();
        var expected = EagerGrads(model, ps, Loss, x);
        var seen = new List<Tensor>();
        int post = 0;
        using var h = ps[2].RegisterHook(g => { seen.Add(g.Clone()); return g * 2; });
        using var hp = ps[4].RegisterPostAccumulateGradHook(_ => post++);
        Loss(c.Forward(x)).Backward();
        Assert.Single(seen);
        TensorAssert.Close(expected[2], seen[0], 1e-4, 1e-5, "what the hook saw");
        TensorAssert.Close(expected[2] * 2, ps[2].Grad!, 1e-4, 1e-5, "the hook's result");
        Assert.Equal(1, post);
        TensorAssert.Close(expected[4], ps[4].Grad!, 1e-4, 1e-5, "parameter 4");
    }

    [Fact]
    public void AutogradGradLeavesGradAlone()
    {
        var (model, c, ps, x, y) = Setup();
        var expected = EagerGrads(model, ps, o => Losses.CrossEntropy(o, y), x);
        var got = Autograd.Grad([Losses.CrossEntropy(c.Forward(x), y)], ps);
        for (int i = 0; i < ps.Count; i++)
        {
            Assert.Null(ps[i].Grad);
            TensorAssert.Close(expected[i], got[i]!, 1e-4, 1e-5, $"Autograd.Grad {i}");
        }
    }

    [Fact]
    public void TheHeldOutputAndLossKeepTheirValuesAndRetainGraphRunsTwice()
    {
        var (model, c, ps, x, y) = Setup();
        var expected = EagerGrads(model, ps, o => Losses.CrossEntropy(o, y), x);
        Tensor eagerOut;
        using (Autograd.NoGrad()) eagerOut = model.Forward(x);
        var output = c.Forward(x);
        var loss = Losses.CrossEntropy(output, y);
        float lossValue = loss.Item();
        loss.Backward(retainGraph: true);
        loss.Backward();
        SameGrads(expected, ps, 2);
        var x2 = Tensor.Rand([9, 784], rng: new Rng(6));
        Losses.CrossEntropy(c.Forward(x2), y).Backward(); // the next step must not touch what the user holds
        TensorAssert.Close(eagerOut, output, 1e-5, 1e-6, "the output held by the user");
        Assert.Equal(lossValue, loss.Item());
    }
}
