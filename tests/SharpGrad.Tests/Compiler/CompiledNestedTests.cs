using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Nested modules compiled as one program (issue 4): outputs and gradients equal eager mode's, hooks on an inlined
/// child are called, and the fixture CNN reproduces PyTorch's output, loss and gradients in compiled mode.
/// </summary>
public class CompiledNestedTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void NestedNetMatchesEager(int batch)
    {
        var model = new CompiledNestedNet();
        var net = model.Compile();
        var rng = new Rng(50 + batch);
        var x = Tensor.Randn([batch, 10], rng: rng);
        var target = Tensor.RandInt(0, 3, [batch], rng);
        var parameters = model.Parameters().ToList();
        Assert.Equal(18, parameters.Count); // stem 2, two blocks of 6, head 4

        foreach (var p in parameters) p.Grad = null;
        var xe = x.Clone().RequiresGrad_();
        var lossE = Losses.CrossEntropy(model.Forward(xe), target);
        lossE.Backward();
        var gradsE = parameters.Select(p => p.Grad!.Clone()).ToList();

        foreach (var p in parameters) p.Grad = null;
        var xc = x.Clone().RequiresGrad_();
        var lossC = net.Loss(xc, target);
        lossC.Backward();

        TensorAssert.Close(lossE.Detach(), lossC.Detach(), 1e-5, 1e-6, "loss");
        TensorAssert.Close(xe.Grad!, xc.Grad!, 1e-4, 1e-5, "input gradient");
        for (int i = 0; i < parameters.Count; i++) TensorAssert.Close(gradsE[i], parameters[i].Grad!, 1e-4, 1e-5, $"gradient of {model.NamedParameters().ElementAt(i).Name}");

        using (Autograd.NoGrad()) TensorAssert.Close(model.Forward(x), net.Forward(x), 1e-4, 1e-5, "Forward");
    }

    [Fact]
    public void HooksOnAnInlinedChildSeeItsInputOutputAndGradients()
    {
        var model = new CompiledNestedNet();
        var net = model.Compile();
        var block2 = model.NamedModules().Single(m => m.Name == "block2").Module;
        var seen = new List<(string What, Tensor Value)>();
        using var post = block2.RegisterForwardHook((m, xs, y) => { seen.Add(("input", xs[0].Detach().Clone())); seen.Add(("output", y.Detach().Clone())); });
        using var back = block2.RegisterFullBackwardHook((m, gin, gout) => { seen.Add(("grad-output", gout[0]!.Clone())); seen.Add(("grad-input", gin[0]!.Clone())); });

        var x = Tensor.Randn([4, 10], rng: new Rng(60));
        var target = Tensor.RandInt(0, 3, [4], new Rng(61));
        Losses.CrossEntropy(model.Forward(x.Clone().RequiresGrad_()), target).Backward();
        var eager = seen.ToList();
        seen.Clear();
        net.Loss(x.Clone().RequiresGrad_(), target).Backward();

        Assert.Equal(4, eager.Count);
        Assert.Equal(eager.Select(e => e.What).OrderBy(s => s), seen.Select(e => e.What).OrderBy(s => s));
        foreach (var (what, value) in eager) TensorAssert.Close(value, seen.Single(s => s.What == what).Value, 1e-4, 1e-5, what);
    }

    [Fact]
    public void AHookOnALinearWhoseResidualAddIsFusedSeesTheLinearsOwnOutput()
    {
        // block1.fc2(…) + x is fused into fc2's GEMM epilogue; a forward hook on fc2 makes the program run it unfused.
        var model = new CompiledNestedNet();
        var net = model.Compile();
        var fc2 = model.NamedModules().Single(m => m.Name == "block1.fc2").Module;
        var seen = new List<Tensor>();
        using var hook = fc2.RegisterForwardHook((m, xs, y) => seen.Add(y.Detach().Clone()));
        var x = Tensor.Randn([5, 10], rng: new Rng(62));
        Tensor eager, compiled;
        using (Autograd.NoGrad())
        {
            eager = model.Forward(x);
            compiled = net.Forward(x);
        }
        Assert.Equal(2, seen.Count);
        TensorAssert.Close(seen[0], seen[1], 1e-4, 1e-5, "fc2's output seen by the hook");
        TensorAssert.Close(eager, compiled, 1e-4, 1e-5, "output with the hook");
    }

    [Fact]
    public void TheFixtureCnnReproducesPyTorchsOutputLossAndGradientsCompiled()
    {
        var model = new CompiledFixtureCnn();
        var weights = SafeTensorsFile.Load("cnn.safetensors");
        using (Autograd.NoGrad())
        {
            foreach (var (name, p) in model.NamedParameters()) p.Copy_(weights[name]);
        }
        var net = model.Compile();
        var fixture = SafeTensorsFile.Load("models.safetensors");
        var x = fixture["cnn.x"].RequiresGrad_();
        var output = net.Forward(x);
        // float32 sums over 27–512 terms: 1e-4 relative (as in the eager test).
        TensorAssert.Close(fixture["cnn.out"], output, rtol: 1e-4, atol: 1e-5, what: "cnn.out");
        var loss = Losses.CrossEntropy(output, fixture["cnn.target"]);
        TensorAssert.Close(fixture["cnn.loss"], loss, rtol: 1e-5, atol: 1e-6, what: "cnn.loss");
        loss.Backward();
        TensorAssert.Close(fixture["cnn.grad_x"], x.Grad!, rtol: 1e-4, atol: 1e-6, what: "cnn.grad_x");
        foreach (var (name, p) in model.NamedParameters())
            TensorAssert.Close(fixture["cnn.grad." + name], p.Grad!, rtol: 1e-4, atol: 1e-6, what: "cnn.grad." + name);

        // The [Compiled] loss with softmax + cross-entropy fused gives the same loss and gradients.
        foreach (var p in model.Parameters()) p.Grad = null;
        float fused = net.LossBackward(fixture["cnn.x"], fixture["cnn.target"]);
        Assert.Equal(fixture["cnn.loss"].Item(), fused, 5);
        foreach (var (name, p) in model.NamedParameters())
            TensorAssert.Close(fixture["cnn.grad." + name], p.Grad!, rtol: 1e-4, atol: 1e-6, what: "fused cnn.grad." + name);
    }
}
