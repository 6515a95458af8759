using SharpGrad.Optimizers;
using SharpGrad.Serialization;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Zoo;

/// <summary>
/// Issue 13's model zoo, eager: each model loads PyTorch's state dict (.pt, PyTorch's names), gives PyTorch's output (1e-4
/// relative to the output's scale) and gradients (1e-3), and 20 SGD steps (momentum 0.9, the same batch) track PyTorch's losses
/// and end at PyTorch's parameters and buffers. Fixtures: Fixtures/arch/zoo, written by Fixtures/arch/generate.py.
/// </summary>
public class ZooTests
{
    private sealed record Spec(Func<Module> Build, Func<Module, IReadOnlyDictionary<string, Tensor>, Tensor> Forward);

    private static readonly Dictionary<string, Spec> Specs = new()
    {
        ["resnet18"] = new(() => new ResNet18(numClasses: 10, width: 8), (m, a) => ((ResNet18)m).Forward(a["in.x"])),
        ["transformer_classifier"] = new(() => new TransformerClassifier(), (m, a) => ((TransformerClassifier)m).Forward(a["in.tokens"])),
        ["gpt"] = new(() => new Gpt(), (m, a) => ((Gpt)m).Forward(a["in.tokens"])),
        ["bilstm_classifier"] = new(() => new BiLstmClassifier(), (m, a) => ((BiLstmClassifier)m).Forward(a["in.tokens"])),
        ["gru_seq2seq"] = new(() => new GruSeq2Seq(), (m, a) => ((GruSeq2Seq)m).Forward(a["in.src"], a["in.tgt_in"])),
        ["unet"] = new(() => new UNet(), (m, a) => ((UNet)m).Forward(a["in.x"])),
        ["mobilenet"] = new(() => new MobileNetTiny(), (m, a) => ((MobileNetTiny)m).Forward(a["in.x"])),
    };

    public static IEnumerable<object[]> Models() => ArchFixtures.CaseNames("zoo", "zoo");

    private static StateDict Data(string name) => ArchFixtures.Load(Path.Combine("zoo", name + ".safetensors"));

    /// <summary>The model with PyTorch's initial weights, read from the .pt file torch.save wrote.</summary>
    private static Module LoadFromPt(string name)
    {
        var model = Module.SkipInit(Specs[name].Build);
        model.LoadStateDict(StateDict.Load(ArchFixtures.PathOf(Path.Combine("zoo", name + ".pt"))), strict: true);
        return model;
    }

    /// <summary>Cross entropy over the last dim (sequence models flatten [N, T, C] to [N·T, C], as generate.py does).</summary>
    private static Tensor Loss(Tensor output, Tensor target) => output.Rank == 3
        ? Losses.CrossEntropy(output.Reshape(-1, output.Size(-1)), target.Reshape(-1))
        : Losses.CrossEntropy(output, target);

    /// <summary>
    /// |actual − expected| ≤ rtol · (|expected| + max|expected|) + 1e-6: relative to each element and to the tensor's scale, with
    /// a floor for values that are zero in exact arithmetic (e.g. the bias of a BatchNorm whose output feeds another BatchNorm:
    /// its gradient is rounding noise on both sides).
    /// </summary>
    private static void CloseToScale(Tensor expected, Tensor actual, double rtol, string what)
    {
        double scale = expected.Abs().Max().ItemDouble();
        TensorAssert.Close(expected, actual, rtol, rtol * scale + 1e-6, what);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void OutputAndGradientsMatchPyTorch(string name)
    {
        var data = Data(name);
        var model = LoadFromPt(name);
        var inputs = data.Keys.Where(k => k.StartsWith("in.", StringComparison.Ordinal)).ToDictionary(k => k, k => data[k].Clone());
        if (inputs.TryGetValue("in.x", out var x)) x.RequiresGrad_();
        model.Train();
        var output = Specs[name].Forward(model, inputs);
        Assert.Equal(data["out"].Shape, output.Shape);
        CloseToScale(data["out"], output, 1e-4, $"{name}: output");
        var loss = Loss(output, inputs["in.target"]);
        CloseToScale(data["loss"], loss, 1e-4, $"{name}: loss");
        loss.Backward();
        if (x is not null) CloseToScale(data["grad_in.x"], x.Grad!, 1e-3, $"{name}: gradient of the input");
        int checkedGrads = 0;
        foreach (var (pname, p) in model.NamedParameters())
        {
            Assert.True(p.Grad is not null, $"{name}: {pname} got no gradient");
            CloseToScale(data["grad." + pname], p.Grad!, 1e-3, $"{name}: gradient of {pname}");
            checkedGrads++;
        }
        Assert.Equal(data.Keys.Count(k => k.StartsWith("grad.", StringComparison.Ordinal)), checkedGrads);
        if (data.ContainsKey("out_eval"))
        {
            // evaluation mode with the running statistics that first training forward left
            model.Eval();
            using (Autograd.NoGrad()) CloseToScale(data["out_eval"], Specs[name].Forward(model, inputs), 1e-4, $"{name}: output in eval mode");
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void TwentySgdStepsTrackPyTorch(string name)
    {
        var data = Data(name);
        var c = ArchFixtures.Case("zoo", name);
        var model = LoadFromPt(name);
        var inputs = data.Keys.Where(k => k.StartsWith("in.", StringComparison.Ordinal)).ToDictionary(k => k, k => data[k]);
        var opt = new Sgd(model.Parameters(), lr: c.GetProperty("lr").GetDouble(), momentum: c.GetProperty("momentum").GetDouble());
        var expected = data["losses"].ToDoubleArray();
        model.Train();
        for (int step = 0; step < expected.Length; step++)
        {
            opt.ZeroGrad();
            var loss = Loss(Specs[name].Forward(model, inputs), inputs["in.target"]);
            loss.Backward();
            opt.Step();
            double got = loss.ItemDouble();
            // 1e-3 relative while the loss is large; once the model fits the batch (loss < 0.01) the loss is a small
            // difference of float32 log-sum-exps whose rounding, compounded over steps, is ~1e-5 absolute (ResNet-18 drifts
            // from 3e-7 relative at step 0 to 1.2e-5 absolute at step 17 when kernels sum in another order), hence 5e-5.
            Assert.True(Math.Abs(got - expected[step]) <= 1e-3 * Math.Abs(expected[step]) + 5e-5,
                $"{name}: loss of SGD step {step} is {got:G7}, PyTorch's is {expected[step]:G7}");
        }
        foreach (var (sname, t) in model.StateDict())
        {
            var want = data["final." + sname];
            if (!want.DType.IsFloatingPoint())
            {
                Assert.Equal(want.ToLongArray(), t.ToLongArray());
                continue;
            }
            // 3e-3 of the tensor's scale: after 20 steps the float32 rounding of a different summation order has grown
            // (ResNet-18's deepest BatchNorm biases move by ~5e-5 of 0.015 when its convolutions sum in another order);
            // a wrong gradient shows at step 1's loss and in the gradient tests, far above this.
            CloseToScale(want, t, 3e-3, $"{name}: {sname} after 20 steps");
        }
    }

    [Fact]
    public void FullWidthResNet18HasTorchvisionsStateDict()
    {
        var c = ArchFixtures.Case("zoo", "resnet18");
        var expected = c.GetProperty("full_width_state").EnumerateArray()
            .Select(e => (e[0].GetString()!, string.Join(",", e[1].EnumerateArray().Select(d => d.GetInt32())))).ToList();
        var model = Module.SkipInit(() => new ResNet18(numClasses: 10));
        var actual = model.StateDict().Select(kv => (kv.Key, string.Join(",", kv.Value.Shape))).ToList();
        Assert.Equal(expected, actual);
        Assert.Equal(11_181_642, model.Parameters().Sum(p => (long)p.NumElements));
    }

    /// <summary>Each zoo model's compiled program (eager where it breaks) and its Explanation.</summary>
    private static (Tensor Eager, Tensor Compiled, GraphExplanation Explanation) RunCompiled(string name)
    {
        var model = LoadFromPt(name);
        model.Eval();
        var a = Data(name);
        return model switch
        {
            ResNet18 m when m.Compile() is var c => (m.Forward(a["in.x"]), c.Forward(a["in.x"]), c.Explanation),
            TransformerClassifier m when m.Compile() is var c => (m.Forward(a["in.tokens"]), c.Forward(a["in.tokens"]), c.Explanation),
            Gpt m when m.Compile() is var c => (m.Forward(a["in.tokens"]), c.Forward(a["in.tokens"]), c.Explanation),
            BiLstmClassifier m when m.Compile() is var c => (m.Forward(a["in.tokens"]), c.Forward(a["in.tokens"]), c.Explanation),
            GruSeq2Seq m when m.Compile() is var c => (m.Forward(a["in.src"], a["in.tgt_in"]), c.Forward(a["in.src"], a["in.tgt_in"]), c.Explanation),
            UNet m when m.Compile() is var c => (m.Forward(a["in.x"]), c.Forward(a["in.x"]), c.Explanation),
            MobileNetTiny m when m.Compile() is var c => (m.Forward(a["in.x"]), c.Forward(a["in.x"]), c.Explanation),
            _ => throw new NotSupportedException(name),
        };
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void CompiledZooModelGivesPyTorchsEvalOutputAndNamesItsBreaks(string name)
    {
        using var noGrad = Autograd.NoGrad();
        var (eager, compiled, explanation) = RunCompiled(name);
        _output.WriteLine($"{name}: {(explanation.IsFullyCompiled ? "fully compiled" : explanation.ToString())}");
        TensorAssert.Close(eager, compiled, 1e-4, 1e-5, $"{name}: compiled vs eager (eval)");
        Assert.All(explanation.Breaks, b => Assert.StartsWith("ZooModels.cs(", b.Location, StringComparison.Ordinal));
    }

    private readonly Xunit.Abstractions.ITestOutputHelper _output;

    public ZooTests(Xunit.Abstractions.ITestOutputHelper output) => _output = output;

    [Fact]
    public void ConvZooModelsCompileWithNoGraphBreak()
    {
        // The zoo's conv models were graph breaks where the constructor used helpers (MakeLayer, DoubleConv), locals and
        // children passed in (BasicBlock's downsample); the constructor is now evaluated at build time (docs/compiler.md).
        // Their compiled training is checked against PyTorch in CompiledZooConvTests.
        using var noGrad = Autograd.NoGrad();
        var resnet = new ResNet18(numClasses: 10, width: 8);
        var x = Data("resnet18")["in.x"];
        var compiled = resnet.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        TensorAssert.Close(resnet.Forward(x), compiled.Forward(x), 1e-4, 1e-5, "resnet18");

        var unet = new UNet();
        var u = Data("unet")["in.x"];
        Assert.True(unet.Compile().Explanation.IsFullyCompiled, unet.Compile().Explanation.ToString());
        TensorAssert.Close(unet.Forward(u), unet.Compile().Forward(u), 1e-4, 1e-5, "unet");
    }
}
