using SharpGrad.Optimizers;
using SharpGrad.Serialization;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Zoo;

/// <summary>
/// Issue 13's sequence models of the zoo, compiled: each model's <c>Compile()</c> has no graph break, its compiled output and
/// gradients (train mode) equal PyTorch's fixtures (1e-4 relative to the output's scale, 1e-3 for gradients), and 20 SGD steps
/// through the compiled program track PyTorch's 20 losses and end at its parameters. Fixtures: Fixtures/arch/zoo (generate.py).
/// </summary>
public class CompiledZooSequenceTests
{
    /// <summary>The model (PyTorch's initial weights) and its compiled program's forward over the fixture's inputs.</summary>
    private static (Module Model, Func<IReadOnlyDictionary<string, Tensor>, Tensor> Forward, GraphExplanation Explanation) Build(string name)
    {
        switch (name)
        {
            case "bilstm_classifier":
            {
                var m = Load(() => new BiLstmClassifier(), name);
                var c = m.Compile();
                return (m, a => c.Forward(a["in.tokens"]), c.Explanation);
            }
            case "transformer_classifier":
            {
                var m = Load(() => new TransformerClassifier(), name);
                var c = m.Compile();
                return (m, a => c.Forward(a["in.tokens"]), c.Explanation);
            }
            case "gpt":
            {
                // Blocks appended in a loop of a constructor count: each block's own program (inferred [N, T, d] through its
                // LayerNorm), the embeddings and causal mask before the loop and the head after it compiled regions.
                var m = Load(() => new Gpt(), name);
                var c = m.Compile();
                return (m, a => c.Forward(a["in.tokens"]), c.Explanation);
            }
            case "gru_seq2seq":
            {
                var m = Load(() => new GruSeq2Seq(), name);
                var c = m.Compile();
                return (m, a => c.Forward(a["in.src"], a["in.tgt_in"]), c.Explanation);
            }
            default:
                throw new NotSupportedException(name);
        }
    }

    public static IEnumerable<object[]> Models() => [["bilstm_classifier"], ["gru_seq2seq"], ["transformer_classifier"], ["gpt"]];

    private static T Load<T>(Func<T> build, string name) where T : Module
    {
        var model = Module.SkipInit(build);
        model.LoadStateDict(StateDict.Load(ArchFixtures.PathOf(Path.Combine("zoo", name + ".pt"))), strict: true);
        return model;
    }

    private static StateDict Data(string name) => ArchFixtures.Load(Path.Combine("zoo", name + ".safetensors"));

    private static Dictionary<string, Tensor> Inputs(StateDict data)
        => data.Keys.Where(k => k.StartsWith("in.", StringComparison.Ordinal)).ToDictionary(k => k, k => data[k]);

    /// <summary>Cross entropy over the last dim (sequence models flatten [N, T, C] to [N·T, C], as generate.py does).</summary>
    private static Tensor Loss(Tensor output, Tensor target) => output.Rank == 3
        ? Losses.CrossEntropy(output.Reshape(-1, output.Size(-1)), target.Reshape(-1))
        : Losses.CrossEntropy(output, target);

    private static void CloseToScale(Tensor expected, Tensor actual, double rtol, string what)
        => TensorAssert.Close(expected, actual, rtol, rtol * expected.Abs().Max().ItemDouble() + 1e-6, what);

    [Theory]
    [MemberData(nameof(Models))]
    public void CompiledOutputAndGradientsMatchPyTorch(string name)
    {
        var data = Data(name);
        var (model, forward, explanation) = Build(name);
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        var inputs = Inputs(data);
        model.Train();
        var output = forward(inputs);
        Assert.Equal(data["out"].Shape, output.Shape);
        CloseToScale(data["out"], output.Detach(), 1e-4, $"{name}: compiled output");
        var loss = Loss(output, inputs["in.target"]);
        CloseToScale(data["loss"], loss.Detach(), 1e-4, $"{name}: loss");
        loss.Backward();
        int checkedGrads = 0;
        foreach (var (pname, p) in model.NamedParameters())
        {
            Assert.True(p.Grad is not null, $"{name}: {pname} got no gradient");
            CloseToScale(data["grad." + pname], p.Grad!, 1e-3, $"{name}: compiled gradient of {pname}");
            checkedGrads++;
        }
        Assert.Equal(data.Keys.Count(k => k.StartsWith("grad.", StringComparison.Ordinal)), checkedGrads);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void TwentyCompiledSgdStepsTrackPyTorch(string name)
    {
        var data = Data(name);
        var c = ArchFixtures.Case("zoo", name);
        var (model, forward, explanation) = Build(name);
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        var inputs = Inputs(data);
        var opt = new Sgd(model.Parameters(), lr: c.GetProperty("lr").GetDouble(), momentum: c.GetProperty("momentum").GetDouble());
        var expected = data["losses"].ToDoubleArray();
        model.Train();
        for (int step = 0; step < expected.Length; step++)
        {
            opt.ZeroGrad();
            var loss = Loss(forward(inputs), inputs["in.target"]);
            loss.Backward();
            opt.Step();
            double got = loss.ItemDouble();
            // As ZooTests: 1e-3 relative, with 5e-5 absolute once the loss is a small difference of float32 log-sum-exps.
            Assert.True(Math.Abs(got - expected[step]) <= 1e-3 * Math.Abs(expected[step]) + 5e-5,
                $"{name}: loss of compiled SGD step {step} is {got:G7}, PyTorch's is {expected[step]:G7}");
        }
        foreach (var (sname, t) in model.StateDict())
        {
            var want = data["final." + sname];
            if (!want.DType.IsFloatingPoint()) continue;
            CloseToScale(want, t, 3e-3, $"{name}: {sname} after 20 compiled steps");
        }
    }
}
