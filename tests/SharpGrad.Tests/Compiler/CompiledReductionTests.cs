using SharpGrad.Data;
using SharpGrad.Serialization;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Var/Std: eager against PyTorch (Fixtures/catalogue/variance.safetensors, written by variance.py there, float64), and
/// compiled against eager through <see cref="CompiledVarianceNet"/> at batch 1, 3 and 64 with no graph break.
/// </summary>
public class CompiledReductionTests
{
    private static readonly Lazy<StateDict> Fixture = new(() =>
        StateDict.Load(Path.Combine(AppContext.BaseDirectory, "Fixtures", "catalogue", "variance.safetensors")));

    private static Tensor Get(string key) => Fixture.Value.TryGetValue(key, out var t) ? t.Clone() : throw new KeyNotFoundException(key);

    public static TheoryData<string> Cases() =>
    [
        "var_all", "var_dim1_biased_keepdim", "var_dims_0_2_correction_2", "var_dims_1_2_keepdim", "std_last_correction_0", "std_all_unbiased", "std_dim0_keepdim",
    ];

    private static Tensor Call(string name, Tensor x) => name switch
    {
        "var_all" => x.Var(),
        "var_dim1_biased_keepdim" => x.Var(1, unbiased: false, keepDim: true),
        "var_dims_0_2_correction_2" => x.Var([0, 2], correction: 2),
        "var_dims_1_2_keepdim" => x.Var([1, 2], keepDim: true),
        "std_last_correction_0" => x.Std([-1], correction: 0),
        "std_all_unbiased" => x.Std(),
        "std_dim0_keepdim" => x.Std(0, keepDim: true),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void VarAndStdMatchPyTorch(string name)
    {
        var x = Get($"{name}.x").RequiresGrad_();
        var y = Call(name, x);
        TensorAssert.Close(Get($"{name}.out"), y, 1e-12, 1e-14, $"{name}: out");
        y.Backward(Get($"{name}.seed_grad"));
        TensorAssert.Close(Get($"{name}.grad_x"), x.Grad!, 1e-12, 1e-14, $"{name}: grad_x");
    }

    [Fact]
    public void VarAndStdOfNonAdjacentDimsPassAFloat64GradientCheck()
        => GradCheck.Check(xs => xs[0].Var([0, 2], correction: 0.5, keepDim: true) * xs[0].Std([2, 0]).Unsqueeze(1), Tensor.Randn([3, 2, 4], DType.Float64, rng: new Rng(309)));

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void VarAndStdMatchEager(int batch)
    {
        var model = new CompiledVarianceNet();
        var explanation = model.Compile().Explanation;
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 4, 6], seed: 310);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void MaxAndMinOfAllElementsMatchEager(int batch)
    {
        var model = new CompiledExtremeAllNet();
        var explanation = model.Compile().Explanation;
        Assert.True(explanation.IsFullyCompiled, explanation.ToString());
        CompiledLayerTests.Compare(model, model, x => model.Forward(x), x => model.Compile().Forward(x), [batch, 4, 6], seed: 311);
    }

    private static readonly Lazy<StateDict> Extremes = new(() =>
        StateDict.Load(Path.Combine(AppContext.BaseDirectory, "Fixtures", "catalogue", "extremes.safetensors")));

    [Theory]
    [InlineData("max_three_ties")]
    [InlineData("min_two_ties")]
    [InlineData("max_single")]
    [InlineData("min_single")]
    [InlineData("max_all_equal")]
    [InlineData("min_relu_zeros")]
    public void MaxAndMinOfAllElementsMatchPyTorch(string name)
    {
        Tensor Fixture(string key) => Extremes.Value.TryGetValue($"{name}.{key}", out var t) ? t.Clone() : throw new KeyNotFoundException($"{name}.{key}");
        var x = Fixture("x").RequiresGrad_();
        var y = name switch
        {
            "min_relu_zeros" => x.Relu().Min(),
            _ => name.StartsWith("max", StringComparison.Ordinal) ? x.Max() : x.Min(),
        };
        TensorAssert.Close(Fixture("out"), y, 1e-12, 1e-14, $"{name}: out");
        y.Backward(Fixture("seed_grad"));
        TensorAssert.Close(Fixture("grad_x"), x.Grad!, 1e-12, 1e-14, $"{name}: grad_x");
    }
}
