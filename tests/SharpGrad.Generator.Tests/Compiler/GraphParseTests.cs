using SharpGrad.Generator.Parsing;
using SharpGrad.Generator.Passes;
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
        Assert.Equal(new SharpGrad.Ops.TensorShape(SharpGrad.Ops.Dim.Sym("N"), SharpGrad.Ops.Dim.Of(784)), forward.Inputs[0].Shape);
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
        Assert.Equal("Demo.Compiled.Block", block.TypeName);

        // The Block child is inlined: its Linear (renamed by path), Relu and residual Add, then the boundary node
        // (Identity, Child = block, IntArgs = the call's argument node).
        Assert.Equal(["stem", "block", "drop", "block.fc"], graph.Children.Select(c => c.Name));
        Assert.Equal(["stem", "block", "drop", "block.fc"], graph.Children.Select(c => c.Path));
        Assert.Equal(["Forward", "Loss"], graph.Methods.Select(m => m.Name));
        Assert.Equal(
            [
                "Input(Input; in=[]; args=[0])",
                "Linear(Linear stem; in=[0]; args=[])",
                "Linear(Linear block.fc; in=[1]; args=[])",
                "Elementwise(Relu; in=[2]; args=[])",
                "Elementwise(Add; in=[3, 1]; args=[])",
                "Elementwise(Identity block; in=[4]; args=[1])",
                "Elementwise(Dropout drop; in=[5]; args=[])",
                "Select(Training; in=[6, 5]; args=[])",
                "Constant(Constant; in=[]; args=[])",
                "Elementwise(Mul; in=[7, 8]; args=[])",
                "Reduce(Sum; in=[9]; args=[1]; keepDim)",
            ],
            CompilerHarness.Dump(graph.Methods[0]));
        Assert.Equal(2.0, graph.Methods[0].Nodes[8].Value);
        // this.Forward(x) in the [Compiled] Loss is inlined (no boundary for it), with Block inlined inside it.
        Assert.Equal(
            [
                "Input(Input; in=[]; args=[0])",
                "Input(Input; in=[]; args=[1])",
                "Linear(Linear stem; in=[0]; args=[])",
                "Linear(Linear block.fc; in=[2]; args=[])",
                "Elementwise(Relu; in=[3]; args=[])",
                "Elementwise(Add; in=[4, 2]; args=[])",
                "Elementwise(Identity block; in=[5]; args=[2])",
                "Elementwise(Dropout drop; in=[6]; args=[])",
                "Select(Training; in=[7, 6]; args=[])",
                "Constant(Constant; in=[]; args=[])",
                "Elementwise(Mul; in=[8, 9]; args=[])",
                "Reduce(Sum; in=[10]; args=[1]; keepDim)",
                "Loss(Mse; in=[11, 1]; args=[])",
            ],
            CompilerHarness.Dump(graph.Methods[1]));

        // Shapes cross the boundary: the output is known.
        Assert.Equal("[N, 1]", spec.Shapes[0].Output?.ToString());
        var shapes = ShapeInference.InferNodes(spec, graph.Methods[0], []);
        Assert.Equal(["[N, 16]", "[N, 64]", "[N, 64]", "[N, 64]", "[N, 64]", "[N, 64]"], shapes.Take(6).Select(s => s?.ToString()));

        // The child itself is parsed too, its input inferred from its first layer.
        var child = CompilerHarness.Spec(result, "Block");
        Assert.NotNull(child.Graph);
        Assert.True(child.Graph!.Methods[0].Inputs[0].IsInferred);
        Assert.Equal("[N, 64]", child.Graph.Methods[0].Inputs[0].Shape?.ToString());
    }

    [Fact]
    public void EveryModuleIsParsedExceptCompileFalse()
    {
        var (result, _) = GeneratorHarness.Run(TestSources.Layers, TestSources.Cnn, CompilerSources.Mlp.Replace("[Shape(\"N\", 784)] ", ""));
        var mlp = CompilerHarness.Spec(result, "Mlp");
        Assert.NotNull(mlp.Graph);
        Assert.Equal("[N, 784]", mlp.Graph!.Methods[0].Inputs[0].Shape?.ToString());
        Assert.True(mlp.Graph.Methods[0].Inputs[0].IsInferred);
        Assert.NotNull(CompilerHarness.Spec(result, "Net").Graph);

        // [Module(Compile = false)] (ResidualBlock: a foreach over children) is not parsed and has no shapes.
        var residual = CompilerHarness.Spec(result, "ResidualBlock");
        Assert.Null(residual.Graph);
        Assert.True(residual.Shapes.IsEmpty);
        Assert.DoesNotContain(result.GeneratedSources, s => s.HintName == "Demo.ResidualBlock.Shapes.g.cs");
        // Net's calls of it are graph breaks (info), never silent.
        Assert.All(result.Diagnostics, d => Assert.Equal("SG1019", d.Id));
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
