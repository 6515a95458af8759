using SharpGrad.Layers;
using SharpGrad.Serialization;
using SharpGrad.Tests.Compiler;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Ops;

/// <summary>
/// The ops added by catalogue rows and kernels alone (issue 11): PReLU, Softshrink, Hardshrink and GLU — against PyTorch
/// (Fixtures/catalogue/proof_ops.safetensors, written by generate.py there, float64: 1e-12), by float64 finite
/// differences, compiled against eager, and as layers (repr, Save/Load).
/// </summary>
public class ProofOpTests
{
    private static readonly Lazy<StateDict> Fixture = new(() =>
        StateDict.Load(Path.Combine(AppContext.BaseDirectory, "Fixtures", "catalogue", "proof_ops.safetensors")));

    private static Tensor Get(string key) => Fixture.Value.TryGetValue(key, out var t) ? t.Clone() : throw new KeyNotFoundException(key);

    /// <summary>Runs <paramref name="op"/> on the case's inputs, seeds its backward with PyTorch's seed and compares both ways.</summary>
    private static void MatchesPyTorch(string name, Func<Tensor[], Tensor> op, params string[] inputs)
    {
        var xs = inputs.Select(i => Get($"{name}.{i}").RequiresGrad_()).ToArray();
        var y = op(xs);
        TensorAssert.Close(Get($"{name}.out"), y, 1e-12, 1e-14, $"{name}: out");
        y.Backward(Get($"{name}.seed_grad"));
        for (int k = 0; k < xs.Length; k++) TensorAssert.Close(Get($"{name}.grad_{inputs[k]}"), xs[k].Grad!, 1e-12, 1e-14, $"{name}: grad_{inputs[k]}");
    }

    [Fact] public void SoftshrinkMatchesPyTorch() => MatchesPyTorch("softshrink_default", xs => Functional.Softshrink(xs[0]), "x");
    [Fact] public void SoftshrinkWithLambdMatchesPyTorch() => MatchesPyTorch("softshrink_lambd_1_2", xs => new Softshrink(1.2).Forward(xs[0]), "x");
    [Fact] public void HardshrinkMatchesPyTorch() => MatchesPyTorch("hardshrink_default", xs => new Hardshrink().Forward(xs[0]), "x");
    [Fact] public void HardshrinkWithLambdMatchesPyTorch() => MatchesPyTorch("hardshrink_lambd_0_3", xs => Functional.Hardshrink(xs[0], 0.3), "x");
    [Fact] public void GluMatchesPyTorch() => MatchesPyTorch("glu_last", xs => new GLU().Forward(xs[0]), "x");
    [Fact] public void GluOverDim1MatchesPyTorch() => MatchesPyTorch("glu_dim1", xs => Functional.Glu(xs[0], 1), "x");
    [Fact] public void PreluWithOneSlopeMatchesPyTorch() => MatchesPyTorch("prelu_one", xs => Functional.Prelu(xs[0], xs[1]), "x", "weight");
    [Fact] public void PreluPerChannelMatchesPyTorch() => MatchesPyTorch("prelu_channels", xs => Functional.Prelu(xs[0], xs[1]), "x", "weight");

    private static Tensor R(params int[] shape) => Tensor.Randn(shape, DType.Float64, rng: new Rng(shape.Sum()));

    [Fact] public void SoftshrinkGradCheck() => GradCheck.Check(xs => Functional.Softshrink(xs[0], 0.4), R(4, 5));
    [Fact] public void HardshrinkGradCheck() => GradCheck.Check(xs => Functional.Hardshrink(xs[0], 0.4), R(4, 5));
    [Fact] public void GluGradCheck() => GradCheck.Check(xs => Functional.Glu(xs[0], 1), R(2, 4, 3));
    [Fact] public void PreluGradCheckInputAndSlopes() => GradCheck.Check(xs => Functional.Prelu(xs[0], xs[1]), R(2, 3, 4), R(3));

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void CompiledMlpOfTheFourLayersMatchesEager(int batch)
    {
        var model = new CompiledProofOpsMlp();
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 6], seed: 111);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void CompiledCnnWithPerChannelPreluAndFunctionalCallsMatchesEager(int batch)
    {
        var model = new CompiledProofOpsCnn();
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 2, 5, 5], seed: 112);
    }

    [Fact]
    public void LayersPrintLikePyTorch()
    {
        // torch 1.13: print(nn.Softshrink(), nn.Hardshrink(), nn.GLU(), nn.PReLU(3))
        Assert.Equal("Softshrink(0.5)", new Softshrink().ToString());
        Assert.Equal("Hardshrink(0.5)", new Hardshrink().ToString());
        Assert.Equal("GLU(dim=-1)", new GLU().ToString());
        Assert.Equal("PReLU(num_parameters=3)", new PReLU(3).ToString());
    }

    [Fact]
    public void PreluHasPyTorchsParameterNameAndInitialSlope()
    {
        var (name, weight) = Assert.Single(new PReLU(3, init: 0.1).NamedParameters());
        Assert.Equal("weight", name);
        Assert.Equal([0.1f, 0.1f, 0.1f], weight.ToArray());
    }

    [Fact]
    public void PreluRefusesNoSlopes()
    {
        var ex = Assert.Throws<ArgumentException>(() => new PReLU(0));
        Assert.Contains("num_parameters must be at least 1", ex.Message);
    }

    [Fact]
    public void SavedSequentialOfTheFourLayersLoadsWithTheirOptionsAndSlopes()
    {
#pragma warning disable SG2009 // Sequential.Load rebuilds a run-time Sequential: that is what is tested
        var model = new Sequential(new Linear(4, 6), new PReLU(6, init: 0.3), new Softshrink(0.7), new Hardshrink(0.2), new GLU(1));
#pragma warning restore SG2009
        var path = Path.Combine(Path.GetTempPath(), $"sharpgrad-proof-ops-{Guid.NewGuid():N}.safetensors");
        try
        {
            model.Save(path);
            var loaded = Sequential.Load(path);
            Assert.Equal(model.ToString(), loaded.ToString());
            var x = Tensor.Randn([2, 4], rng: new Rng(5));
            TensorAssert.Close(model.Forward(x), loaded.Forward(x), 0, 0, "output of the loaded model");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
