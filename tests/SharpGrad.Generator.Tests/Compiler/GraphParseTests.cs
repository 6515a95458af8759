using SharpGrad.Generator.Compiler;
using SharpGrad.Generator.Model;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>Forward (and [Compiled] methods) of opted-in modules parse into the expected graph IR.</summary>
public class GraphParseTests
{
    [Fact]
    public void MlpParsesIntoLinearReluLinear()
    {
        var (spec, _) = CompilerHarness.Run("Mlp", CompilerSources.Mlp);
        var graph = Assert.IsType<ModuleGraph>(spec.Graph);
        Assert.True(graph.IsCompilable);

        Assert.Equal(["fc1", "fc2"], graph.Children.Select(c => c.Name));
        Assert.All(graph.Children, c => Assert.True(c.IsBuiltIn));
        Assert.Equal(784, graph.Children[0].Int("inFeatures"));
        Assert.Equal(256, graph.Children[0].Int("outFeatures"));
        Assert.Equal(1, graph.Children[0].Int("bias"));            // the default, bound from the constructor
        Assert.Equal(256, graph.Children[1].Int("inFeatures"));     // `new Linear(256, 10)` form

        var forward = Assert.Single(graph.Methods);
        Assert.Equal(
            [
                "Input(Input; in=[]; args=[0])",
                "Linear(Linear fc1; in=[0]; args=[])",
                "Elementwise(Relu; in=[1]; args=[])",
                "Linear(Linear fc2; in=[2]; args=[])",
            ],
            CompilerHarness.Dump(forward));
        Assert.Equal(3, forward.Output);
        Assert.Equal(new GraphShape(Dim.Sym("N"), Dim.Of(784)), forward.Inputs[0].Shape);
        Assert.Equal("[N, 10]", spec.Shapes.Single().Output?.ToString());
    }

    [Fact]
    public void CnnParsesConvPoolAndFoldedView()
    {
        var (spec, result) = CompilerHarness.Run("Cnn", CompilerSources.Cnn);
        Assert.Empty(result.Diagnostics);
        var graph = spec.Graph!;

        var conv = graph.FindChild("conv1")!;
        Assert.Equal((3, 3), conv.Pair("kernelSize"));
        Assert.Equal((1, 1), conv.Pair("padding"));
        Assert.Equal(1, conv.Int("groups"));
        Assert.Equal(512, graph.FindChild("dense1")!.Int("inFeatures"));   // 32 * 4 * 4 folded
        Assert.Empty(graph.FindChild("pool")!.Arg("stride")!.Values);   // stride: null (= kernel)

        Assert.Equal(
            [
                "Input(Input; in=[]; args=[0])",
                "Conv(Conv2d conv1; in=[0]; args=[])",
                "Elementwise(Relu; in=[1]; args=[])",
                "Pool(MaxPool2d pool; in=[2]; args=[])",
                "Movement(View; in=[3]; args=[-1, 512])",
                "Linear(Linear dense1; in=[4]; args=[])",
                "Elementwise(Relu; in=[5]; args=[])",
                "Linear(Linear dense2; in=[6]; args=[])",
            ],
            CompilerHarness.Dump(graph.Methods.Single()));

        var shapes = ShapeInference.InferNodes(spec, graph.Methods.Single(), []);
        Assert.Equal(
            ["[N, 3, 8, 8]", "[N, 32, 8, 8]", "[N, 32, 8, 8]", "[N, 32, 4, 4]", "[N, 512]", "[N, 64]", "[N, 64]", "[N, 10]"],
            shapes.Select(s => s?.ToString()));
    }

    [Fact]
    public void NestedChildTrainingBranchReductionAndCompiledLoss()
    {
        var (spec, result) = CompilerHarness.Run("Outer", CompilerSources.Nested);
        Assert.Empty(result.Diagnostics);
        var graph = spec.Graph!;
        var block = graph.FindChild("block")!;
        Assert.False(block.IsBuiltIn);
        Assert.Equal("Block", block.Kind);

        Assert.Equal(["Forward", "Loss"], graph.Methods.Select(m => m.Name));
        Assert.Equal(
            [
                "Input(Input; in=[]; args=[0])",
                "Linear(Linear stem; in=[0]; args=[])",
                "Call(Block block; in=[1]; args=[])",
                "Elementwise(Dropout drop; in=[2]; args=[])",
                "Select(Training; in=[3, 2]; args=[])",
                "Constant(Constant; in=[]; args=[])",
                "Elementwise(Mul; in=[4, 5]; args=[])",
                "Reduce(Sum; in=[6]; args=[1]; keepDim)",
            ],
            CompilerHarness.Dump(graph.Methods[0]));
        Assert.Equal(2.0, graph.Methods[0].Nodes[5].Value);
        Assert.Equal(
            [
                "Input(Input; in=[]; args=[0])",
                "Input(Input; in=[]; args=[1])",
                "Call(Forward this; in=[0]; args=[])",
                "Loss(Mse; in=[2, 1]; args=[])",
            ],
            CompilerHarness.Dump(graph.Methods[1]));

        // The child [Module] is not looked into yet, so everything after it is unknown (and nothing is reported).
        Assert.Null(spec.Shapes[0].Output);
        // The [Module] child itself has no [Shape], so it has no graph at all.
        Assert.Null(CompilerHarness.Spec(result, "Block").Graph);
    }

    [Fact]
    public void ModulesWithoutShapeHaveNoGraph()
    {
        var (result, _) = GeneratorHarness.Run(TestSources.Layers, TestSources.Cnn, CompilerSources.Mlp.Replace("[Shape(\"N\", 784)] ", ""));
        foreach (var name in new[] { "Net", "ResidualBlock", "Mlp" })
        {
            var spec = CompilerHarness.Spec(result, name);
            Assert.Null(spec.Graph);
            Assert.True(spec.Shapes.IsEmpty);
        }
        Assert.DoesNotContain(result.GeneratedSources, s => s.HintName.EndsWith(".Shapes.g.cs", StringComparison.Ordinal));
    }

    [Fact]
    public void GraphsHaveStructuralEquality()
    {
        var (first, _) = CompilerHarness.Run("Cnn", CompilerSources.Cnn);
        var (second, _) = CompilerHarness.Run("Cnn", CompilerSources.Cnn);
        Assert.NotSame(first.Graph, second.Graph);
        Assert.Equal(first.Graph, second.Graph);
        Assert.Equal(first.Graph!.GetHashCode(), second.Graph!.GetHashCode());
        Assert.Equal(first, second);

        var (changed, _) = CompilerHarness.Run("Cnn", CompilerSources.Cnn.Replace("new(64, 10)", "new(64, 11)"));
        Assert.NotEqual(first.Graph, changed.Graph);
        var (reshaped, _) = CompilerHarness.Run("Cnn", CompilerSources.Cnn.Replace("h.View(", "h.Reshape("));
        Assert.NotEqual(first.Graph!.Methods, reshaped.Graph!.Methods);
    }
}
