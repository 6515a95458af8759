using SharpGrad.Optimizers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Zoo;

/// <summary>
/// The zoo's conv models (ResNet-18 with BasicBlock, the U-Net, the tiny MobileNetV2) through their compiled programs, written as
/// a PyTorch user writes them: sizes from the constructor, children made by helper methods (<c>MakeLayer</c>, <c>DoubleConv</c>),
/// a child passed to a block's constructor (<c>downsample</c>) and a flag chosen there (<c>useResidual</c>). Each compiles with
/// no graph break; in train mode (BatchNorm's batch statistics) the compiled output and gradients equal PyTorch's fixtures
/// (Fixtures/arch/zoo, written by Fixtures/arch/generate.py), 20 SGD steps through the compiled program track PyTorch's 20
/// steps, and compiled equals eager at batch 1, 3 and 64.
/// </summary>
public class CompiledZooConvTests
{
    public static IEnumerable<object[]> Models() => [["resnet18"], ["unet"], ["mobilenet"]];

    /// <summary>The model's compiled Forward and its explanation.</summary>
    private static (Func<Tensor, Tensor> Forward, GraphExplanation Explanation) Compiled(Module model) => model switch
    {
        ResNet18 m when m.Compile() is var c => (c.Forward, c.Explanation),
        UNet m when m.Compile() is var c => (c.Forward, c.Explanation),
        MobileNetTiny m when m.Compile() is var c => (c.Forward, c.Explanation),
        _ => throw new NotSupportedException(model.GetType().Name),
    };

    private static Tensor Eager(Module model, Tensor x) => model switch
    {
        ResNet18 m => m.Forward(x),
        UNet m => m.Forward(x),
        MobileNetTiny m => m.Forward(x),
        _ => throw new NotSupportedException(model.GetType().Name),
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void CompileHasNoGraphBreak(string name)
    {
        var (_, explanation) = Compiled(ZooTests.LoadFromPt(name));
        Assert.True(explanation.IsFullyCompiled, $"{name}: {explanation}");
        Assert.Empty(explanation.Breaks);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void CompiledOutputAndGradientsMatchPyTorch(string name)
    {
        var data = ZooTests.Data(name);
        var model = ZooTests.LoadFromPt(name);
        model.Train();
        var (forward, _) = Compiled(model);
        var x = data["in.x"].Clone().RequiresGrad_();
        var output = forward(x);
        Assert.Equal(data["out"].Shape, output.Shape);
        ZooTests.CloseToScale(data["out"], output, 1e-4, $"{name}: compiled output");
        var loss = ZooTests.Loss(output, data["in.target"]);
        ZooTests.CloseToScale(data["loss"], loss, 1e-4, $"{name}: loss of the compiled output");
        loss.Backward();
        ZooTests.CloseToScale(data["grad_in.x"], x.Grad!, 1e-3, $"{name}: compiled gradient of the input");
        int checkedGrads = 0;
        foreach (var (pname, p) in model.NamedParameters())
        {
            Assert.True(p.Grad is not null, $"{name}: {pname} got no gradient from the compiled program");
            ZooTests.CloseToScale(data["grad." + pname], p.Grad!, 1e-3, $"{name}: compiled gradient of {pname}");
            checkedGrads++;
        }
        Assert.Equal(data.Keys.Count(k => k.StartsWith("grad.", StringComparison.Ordinal)), checkedGrads);
        if (data.ContainsKey("out_eval"))
        {
            // evaluation mode with the running statistics the compiled training forward left
            model.Eval();
            using (Autograd.NoGrad()) ZooTests.CloseToScale(data["out_eval"], forward(data["in.x"]), 1e-4, $"{name}: compiled output in eval mode");
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void TwentyCompiledSgdStepsTrackPyTorch(string name)
    {
        var data = ZooTests.Data(name);
        var c = ArchFixtures.Case("zoo", name);
        var model = ZooTests.LoadFromPt(name);
        model.Train();
        var (forward, _) = Compiled(model);
        var opt = new Sgd(model.Parameters(), lr: c.GetProperty("lr").GetDouble(), momentum: c.GetProperty("momentum").GetDouble());
        var expected = data["losses"].ToDoubleArray();
        for (int step = 0; step < expected.Length; step++)
        {
            opt.ZeroGrad();
            var loss = ZooTests.Loss(forward(data["in.x"]), data["in.target"]);
            loss.Backward();
            opt.Step();
            double got = loss.ItemDouble();
            // The tolerance of ZooTests' eager steps (float32 rounding compounded once the model fits the batch).
            Assert.True(Math.Abs(got - expected[step]) <= 1e-3 * Math.Abs(expected[step]) + 5e-5,
                $"{name}: loss of compiled SGD step {step} is {got:G7}, PyTorch's is {expected[step]:G7}");
        }
        foreach (var (sname, t) in model.StateDict())
        {
            var want = data["final." + sname];
            if (!want.DType.IsFloatingPoint())
            {
                Assert.Equal(want.ToLongArray(), t.ToLongArray());
                continue;
            }
            ZooTests.CloseToScale(want, t, 3e-3, $"{name}: {sname} after 20 compiled steps");
        }
    }

    public static IEnumerable<object[]> ModelsAndBatches()
    {
        foreach (var model in new[] { "resnet18", "unet", "mobilenet" })
        {
            foreach (int batch in new[] { 1, 3, 64 }) yield return [model, batch];
        }
    }

    /// <summary>
    /// Compiled = eager for the output, the input's and every parameter's gradient. Train mode at batch 3 and 64; at batch 1
    /// eval mode (ResNet's last BatchNorm sees one value per channel in train mode, an error in PyTorch and here).
    /// </summary>
    [Theory]
    [MemberData(nameof(ModelsAndBatches))]
    public void CompiledEqualsEager(string name, int batch)
    {
        var model = ZooTests.LoadFromPt(name);
        if (batch == 1) model.Eval();
        else model.Train();
        var shape = ZooTests.Data(name)["in.x"].Shape.ToArray();
        shape[0] = batch;
        var x = Tensor.Randn(shape, rng: new Rng(1234 + batch));

        var (eagerOut, eagerGradX, eagerGrads) = Run(model, x, input => Eager(model, input));
        var (forward, _) = Compiled(model);
        model.ZeroGrad();
        var (compiledOut, compiledGradX, compiledGrads) = Run(model, x, forward);

        TensorAssert.Close(eagerOut, compiledOut, 1e-4, 1e-5, $"{name} batch {batch}: output");
        TensorAssert.Close(eagerGradX, compiledGradX, 1e-3, 1e-5, $"{name} batch {batch}: gradient of the input");
        foreach (var (pname, g) in eagerGrads)
        {
            TensorAssert.Close(g, compiledGrads[pname], 1e-3, 1e-5, $"{name} batch {batch}: gradient of {pname}");
        }
    }

    /// <summary>One forward and backward of Σ output·w (w fixed per output shape): the output, the input's gradient and the parameters' gradients.</summary>
    private static (Tensor Output, Tensor GradX, Dictionary<string, Tensor> Grads) Run(Module model, Tensor x, Func<Tensor, Tensor> forward)
    {
        var input = x.Detach().Clone().RequiresGrad_();
        var output = forward(input);
        var weights = Tensor.Randn(output.Shape.ToArray(), rng: new Rng(99));
        (output * weights).Sum().Backward();
        var grads = model.NamedParameters().ToDictionary(p => p.Item1, p => p.Item2.Grad!.Clone());
        return (output.Detach().Clone(), input.Grad!.Clone(), grads);
    }
}
