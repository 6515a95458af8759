using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Parsing;
using SharpGrad.Generator.Passes;
using SharpGrad.Generator.Model;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// The inlining pass: nested [Module] children, Sequential field initialisers, [Sequential] classes and this.Forward
/// become nodes of the parent's graph (IR contract in docs/compiler.md); inputs without [Shape] are inferred;
/// batch reads become the symbolic batch dim.
/// </summary>
public class InliningTests
{
    private const string Usings = """
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Inline;

        """;

    /// <summary>Three levels: Net → Encoder (a parameter, a buffer, an Inner child) → Inner (a Linear).</summary>
    private const string InnerPart = """
        [Module]
        public partial class Inner
        {
            private readonly Linear fc = new(8, 8);

            public Tensor Forward(Tensor x) => Functional.Tanh(fc.Forward(x));
        }

        """;

    private const string OuterPart = """
        [Module]
        public partial class Encoder
        {
            private readonly Linear proj = new(4, 8);
            private readonly Inner inner = new();

            public Parameter Scale { get; } = new(Tensor.Ones(8));

            [Buffer]
            public Tensor RunningMean { get; } = Tensor.Zeros(8);

            public Tensor Forward(Tensor x) => inner.Forward(proj.Forward(x)) * Scale.Sum() - RunningMean.Mean();
        }

        [Module]
        public partial class Net
        {
            private readonly Encoder encoder = new();
            private readonly Linear head = new(8, 2);

            public Tensor Forward([Shape("N", 4)] Tensor x) => head.Forward(encoder.Forward(x));
        }
        """;

    private const string ThreeLevels = Usings + InnerPart + OuterPart;

    [Fact]
    public void NestedModulesAreInlinedNodeByNodeWithDottedPaths()
    {
        var (spec, result) = CompilerHarness.Run("Net", ThreeLevels);
        // Only graph breaks (Encoder's `Scale.Sum()` of a parameter has no compiled rule yet), no error.
        Assert.All(result.Diagnostics, d => Assert.Equal(("SG1019", DiagnosticSeverity.Info), (d.Id, d.Severity)));
        var graph = spec.Graph!;
        Assert.True(graph.IsCompilable);

        // Direct children keep their member name; inlined ones are named by their path (NamedModules at run time).
        Assert.Equal(["encoder", "head", "encoder.proj", "encoder.inner", "encoder.inner.fc"], graph.Children.Select(c => c.Name));
        Assert.Equal(graph.Children.Select(c => c.Name), graph.Children.Select(c => c.Path));
        Assert.Equal(["Inner", "Linear"], new[] { graph.FindChild("encoder.inner")!.Kind, graph.FindChild("encoder.inner.fc")!.Kind });
        Assert.Equal(8, graph.FindChild("encoder.inner.fc")!.Int("inFeatures"));

        var forward = graph.Methods.Single();
        Assert.Equal(
            [
                "Input(Input; in=[]; args=[0])",
                "Linear(Linear encoder.proj; in=[0]; args=[])",
                "Linear(Linear encoder.inner.fc; in=[1]; args=[])",
                "Elementwise(Tanh; in=[2]; args=[])",
                "Elementwise(Identity encoder.inner; in=[3]; args=[1])",
                "Input(Parameter encoder.scale; in=[]; args=[8])",
                "Reduce(Sum; in=[5]; args=[])",
                "Elementwise(Mul; in=[4, 6]; args=[])",
                "Input(Buffer encoder.running_mean; in=[]; args=[8])",
                "Reduce(Mean; in=[8]; args=[])",
                "Elementwise(Sub; in=[7, 9]; args=[])",
                "Elementwise(Identity encoder; in=[10]; args=[0])",
                "Linear(Linear head; in=[11]; args=[])",
            ],
            CompilerHarness.Dump(forward));
        Assert.Equal(12, forward.Output);

        // Every node's Child names a ChildSpec of the graph (or a parameter/buffer path).
        foreach (var node in forward.Nodes.Where(n => n.Child is not null && n.Kind != NodeKind.Input))
        {
            Assert.NotNull(graph.FindChild(node.Child!));
        }

        // Shapes across both boundaries.
        var shapes = ShapeInference.InferNodes(spec, forward, []);
        Assert.Equal(["[N, 4]", "[N, 8]", "[N, 8]", "[N, 8]", "[N, 8]", "[8]", "[]", "[N, 8]", "[8]", "[]", "[N, 8]", "[N, 8]", "[N, 2]"],
            shapes.Select(s => s?.ToString()));
        Assert.Equal("[N, 2]", spec.Shapes.Single().Output?.ToString());

        // The boundary node carries the parent's call location.
        var source = ThreeLevels;
        var boundary = forward.Nodes[11];
        Assert.Equal("encoder.Forward(x)", source.Substring(boundary.Location!.Span.Start, boundary.Location.Span.Length));
    }

    [Fact]
    public void MismatchAcrossTheBoundaryIsReportedAtTheParentsCall()
    {
        var source = ThreeLevels.Replace("[Shape(\"N\", 4)]", "[Shape(\"N\", 5)]");
        var (result, _) = GeneratorHarness.Run(source);
        var d = Assert.Single(result.Diagnostics, x => x.Id != "SG1019");
        Assert.Equal("SG1010", d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Equal("encoder.Forward(x)", source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
        var message = d.GetMessage();
        Assert.Contains("'encoder.proj' is Linear(4, 8) and expects 4 input features", message);
        Assert.Contains("`x` has shape [N, 5]", message);
    }

    [Fact]
    public void AnErrorInsideAChildIsReportedOnceInTheChild()
    {
        // Inner's fc is wrong for what proj gives it: Encoder reports it at fc.Forward(x) inside Inner (once, not again from Net).
        var source = ThreeLevels.Replace("private readonly Linear fc = new(8, 8);", "private readonly Linear fc = new(8, 8);\n    private readonly Linear fc2 = new(3, 8);")
            .Replace("Functional.Tanh(fc.Forward(x))", "fc2.Forward(Functional.Tanh(fc.Forward(x)))");
        var (result, _) = GeneratorHarness.Run(source);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("SG1010", d.Id);
        Assert.Equal("fc2.Forward(Functional.Tanh(fc.Forward(x)))", source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
    }

    [Fact]
    public void SequentialFieldInitialiserBecomesAChainWithABoundary()
    {
        var source = Usings + """
            [Module]
            public partial class Net
            {
                private readonly Sequential features = new(new Conv2d(1, 16, 3, padding: 1), new ReLU(), new MaxPool2d(2));
                private readonly Sequential classifier = new(("flat", new Flatten()), ("fc", new Linear(16 * 14 * 14, 10)));

                public Tensor Forward([Shape("N", 1, 28, 28)] Tensor x) => classifier.Forward(features.Forward(x));
            }
            """;
        var (spec, result) = CompilerHarness.Run("Net", source);
        Assert.Empty(result.Diagnostics);
        var graph = spec.Graph!;
        Assert.Equal(["features", "classifier", "features.0", "features.1", "features.2", "classifier.flat", "classifier.fc"],
            graph.Children.Select(c => c.Name));
        Assert.Equal(["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"], graph.Children.Skip(2).Select(c => c.Kind));
        Assert.Equal(1, graph.FindChild("features.0")!.Int("padding"));
        Assert.Equal(3, graph.FindChild("features")!.Items.Count);
        Assert.Equal(
            [
                "Input(Input; in=[]; args=[0])",
                "Conv(Conv2d features.0; in=[0]; args=[])",
                "Elementwise(ReLU features.1; in=[1]; args=[])",
                "Pool(MaxPool2d features.2; in=[2]; args=[])",
                "Elementwise(Identity features; in=[3]; args=[0])",
                "Movement(Flatten classifier.flat; in=[4]; args=[1, -1])",
                "Linear(Linear classifier.fc; in=[5]; args=[])",
                "Elementwise(Identity classifier; in=[6]; args=[4])",
            ],
            CompilerHarness.Dump(graph.Methods.Single()));
        Assert.Equal("[N, 10]", spec.Shapes.Single().Output?.ToString());

        // A wrong item is reported at the Sequential's call in the parent.
        var wrong = source.Replace("new Linear(16 * 14 * 14, 10)", "new Linear(100, 10)");
        var (bad, _) = GeneratorHarness.Run(wrong);
        var d = Assert.Single(bad.Diagnostics);
        Assert.Equal("SG1010", d.Id);
        Assert.Equal("classifier.Forward(features.Forward(x))", wrong.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
        Assert.Contains("'classifier.fc' is Linear(100, 10)", d.GetMessage());
        Assert.Contains("[N, 3136]", d.GetMessage());
    }

    [Fact]
    public void SequentialBuiltWithAddIsReadItemByItem()
    {
        // The fixtures' CNN: add_module names through .Add, an OrderedDict through pairs, the batch read at run time.
        var source = Usings + """
            [Module]
            public partial class FixtureCnn
            {
                readonly Sequential conv = new Sequential()
                    .Add("conv1", new Conv2d(3, 32, 3, 1, 1))
                    .Add("relu1", new ReLU())
                    .Append(new MaxPool2d(2));

                readonly Sequential dense = new(("dense1", new Linear(512, 64)), ("relu2", new ReLU()), ("dense2", new Linear(64, 10)));

                public Tensor Forward([Shape("N", 3, 8, 8)] Tensor x)
                {
                    var h = conv.Forward(x);
                    return dense.Forward(h.View(h.Size(0), -1));
                }
            }
            """;
        var (spec, result) = CompilerHarness.Run("FixtureCnn", source);
        Assert.Empty(result.Diagnostics);
        Assert.Equal(["conv", "dense", "conv.conv1", "conv.relu1", "conv.2", "dense.dense1", "dense.relu2", "dense.dense2"],
            spec.Graph!.Children.Select(c => c.Name));
        Assert.Equal("[N, 10]", spec.Shapes.Single().Output?.ToString());

        var (bad, _) = GeneratorHarness.Run(source.Replace("new Linear(512, 64)", "new Linear(500, 64)"));
        Assert.Equal("SG1010", Assert.Single(bad.Diagnostics).Id);
    }

    [Fact]
    public void SequentialClassChildBecomesTheChainOfItsFields()
    {
        var source = Usings + """
            [Sequential]
            public partial class Features
            {
                private readonly Linear fc1 = new(4, 8);
                private readonly ReLU act = new();
                private readonly Linear fc2 = new(8, 3);
            }

            [Module]
            public partial class Net
            {
                private readonly Features body = new();

                public Tensor Forward(Tensor x) => body.Forward(x) * 2f;
            }
            """;
        var (spec, result) = CompilerHarness.Run("Net", source);
        Assert.Empty(result.Diagnostics);
        var graph = spec.Graph!;
        Assert.Equal(["body", "body.fc1", "body.act", "body.fc2"], graph.Children.Select(c => c.Name));
        Assert.Equal(
            [
                "Input(Input; in=[]; args=[0])",
                "Linear(Linear body.fc1; in=[0]; args=[])",
                "Elementwise(ReLU body.act; in=[1]; args=[])",
                "Linear(Linear body.fc2; in=[2]; args=[])",
                "Elementwise(Identity body; in=[3]; args=[0])",
                "Constant(Constant; in=[]; args=[])",
                "Elementwise(Mul; in=[4, 5]; args=[])",
            ],
            CompilerHarness.Dump(graph.Methods.Single()));
        // No [Shape]: the input is inferred through the inlined chain from body.fc1.
        var input = graph.Methods.Single().Inputs.Single();
        Assert.True(input.IsInferred);
        Assert.Equal("[N, 4]", input.Shape?.ToString());
        Assert.Equal("[N, 3]", spec.Shapes.Single().Output?.ToString());
        // The [Sequential] class itself is neither checked nor reported.
        Assert.True(CompilerHarness.Spec(result, "Features").Shapes.IsEmpty);
    }

    [Fact]
    public void AChildThatCannotBeInlinedStaysACall()
    {
        var source = Usings + """
            [Module(Compile = false)]
            public partial class Eager
            {
                public Tensor Forward(Tensor x)
                {
                    for (int i = 0; i < 2; i++) x = x * 2f;   // would compile (unrolled); Compile = false is what keeps it a Call
                    return x;
                }
            }

            [Module]
            public partial class Net
            {
                private readonly Eager eager = new();
                private readonly Linear fc = new(3, 3);

                public Tensor Forward(Tensor x) => eager.Forward(fc.Forward(x));
            }
            """;
        var (spec, result) = CompilerHarness.Run("Net", source);
        // Not silent: a graph break (info) at the call names the child the compiler does not see into.
        Assert.Contains("the call of 'eager' (Eager)", Assert.Single(result.Diagnostics).GetMessage());
        Assert.Equal(
            [
                "Input(Input; in=[]; args=[0])",
                "Linear(Linear fc; in=[0]; args=[])",
                "Call(Eager eager; in=[1]; args=[])",
            ],
            CompilerHarness.Dump(spec.Graph!.Methods.Single()));
        Assert.Null(spec.Shapes.Single().Output);
    }

    [Theory]
    [InlineData("x.View(x.Shape[0], -1)")]
    [InlineData("x.Reshape(x.Size(0), 16 * 4 * 4)")]
    [InlineData("x.View(n, -1)")]
    public void BatchReadsBecomeTheSymbolicBatchDim(string view)
    {
        var source = Usings + $$"""
            [Module]
            public partial class Net
            {
                private readonly Conv2d conv = new(1, 16, 3, padding: 1);
                private readonly MaxPool2d pool = new(2);
                private readonly Linear fc = new(16 * 4 * 4, 10);

                public Tensor Forward([Shape("B", 1, 8, 8)] Tensor input)
                {
                    var x = pool.Forward(Functional.Relu(conv.Forward(input)));
                    int n = x.Shape[0];
                    x = {{view}};
                    return fc.Forward(x);
                }
            }
            """;
        var (spec, result) = CompilerHarness.Run("Net", source);
        Assert.Empty(result.Diagnostics);
        var forward = spec.Graph!.Methods.Single();
        var viewNode = forward.Nodes.Single(n => n.Kind == NodeKind.Movement);
        Assert.Equal(GraphNode.BatchDim, viewNode.IntArgs[0]);
        var shapes = ShapeInference.InferNodes(spec, forward, []);
        Assert.Equal("[B, 256]", shapes[forward.Nodes.ToList().IndexOf(viewNode)]?.ToString());
        Assert.Equal("[B, 10]", spec.Shapes.Single().Output?.ToString());

        // A wrong count is still caught with the symbolic batch: [B, 16, 4, 4] into [B, 100].
        var (bad, _) = GeneratorHarness.Run(source.Replace("16 * 4 * 4, 10", "100, 10").Replace("x.Reshape(x.Size(0), 16 * 4 * 4)", "x.Reshape(x.Size(0), 100)"));
        Assert.Contains(bad.Diagnostics, d => d.Id is "SG1010" or "SG1012");
    }

    [Fact]
    public void InputShapesAreInferredFromTheFirstConsumer()
    {
        var source = Usings + """
            [Module]
            public partial class Dense
            {
                private readonly Linear fc = new(784, 10);
                public Tensor Forward(Tensor x) => fc.Forward(Functional.Relu(x));
            }

            [Module]
            public partial class Conv
            {
                private readonly Conv2d conv = new(1, 8, 3);
                public Tensor Forward(Tensor x) => conv.Forward(x);
            }

            [Module]
            public partial class Words
            {
                private readonly Embedding embed = new(100, 16);
                public Tensor Forward(Tensor tokens) => embed.Forward(tokens);
            }

            [Module]
            public partial class Unknown
            {
                public Tensor Forward(Tensor x) => x * 2f;
            }
            """;
        var (result, _) = GeneratorHarness.Run(source);
        string Input(string name) => CompilerHarness.Spec(result, name).Graph!.Methods.Single().Inputs.Single().Shape?.ToString() ?? "null";
        Assert.Equal("[N, 784]", Input("Dense"));
        Assert.Equal("[N, 1, ?, ?]", Input("Conv"));
        Assert.Equal("[N, T]", Input("Words"));   // an Embedding's indices: the sequence length T, read at each call
        Assert.Equal("null", Input("Unknown"));
        Assert.Equal("[N, T, 16]", CompilerHarness.Spec(result, "Words").Shapes.Single().Output?.ToString());
    }

    [Fact]
    public void EditingAChildReRunsItsParentButNotAnUnrelatedModule()
    {
        const string Unrelated = Usings + """
            [Module]
            public partial class Other
            {
                private readonly Linear fc = new(2, 2);
                public Tensor Forward(Tensor x) => fc.Forward(x);
            }
            """;
        var compilation = GeneratorHarness.CreateCompilation(
            GeneratorHarness.Parse(Usings + InnerPart, "Inner.cs"), GeneratorHarness.Parse(Usings + OuterPart, "Net.cs"),
            GeneratorHarness.Parse(Unrelated, "Other.cs"));
        var (driver, _, _) = GeneratorHarness.Run(compilation);

        // Edit Inner's body in its own file (Tanh → Sigmoid): Inner, Encoder (inlines it) and Net (inlines Encoder) re-run
        // although their own files did not change; Other does not.
        var old = compilation.SyntaxTrees.Single(t => t.FilePath == "Inner.cs");
        var edited = compilation.ReplaceSyntaxTree(old, GeneratorHarness.Parse(Usings + InnerPart.Replace("Functional.Tanh(", "Functional.Sigmoid("), "Inner.cs"));
        var (_, second, _) = GeneratorHarness.Run(edited, driver);

        foreach (var step in new[] { TrackingNames.InlinedSpecs, TrackingNames.CheckedSpecs, TrackingNames.EmitSpecs })
        {
            var outputs = second.TrackedSteps[step].SelectMany(r => r.Outputs).ToList();
            var modified = outputs.Where(o => o.Reason is IncrementalStepRunReason.Modified or IncrementalStepRunReason.New)
                .Select(o => ((ModuleSpec)o.Value).ClassName).Order(StringComparer.Ordinal).ToList();
            Assert.True(modified.SequenceEqual(["Encoder", "Inner", "Net"]), $"{step}: {string.Join(", ", modified)}");
            var other = outputs.Single(o => ((ModuleSpec)o.Value).ClassName == "Other");
            Assert.True(other.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: Other was {other.Reason}");
        }
        var net = second.TrackedSteps[TrackingNames.InlinedSpecs].SelectMany(r => r.Outputs).Select(o => (ModuleSpec)o.Value).Single(s => s.ClassName == "Net");
        Assert.Contains(net.Graph!.Methods.Single().Nodes, n => n.Op == "Sigmoid");
    }
}
