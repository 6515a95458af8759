using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests;

/// <summary>The generated ONNX export (Net.Onnx.g.cs): emitted only where the compilation references SharpGrad.Onnx, and
/// then for every [Module] — the graph, or a refusal that says why. Run by ONNX Runtime in tests/SharpGrad.Onnx.Tests.</summary>
public class OnnxEmitterTests
{
    private const string Models = """
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo;

        [Module]
        public sealed partial class Net
        {
            private readonly Conv2d conv = new(3, 8, 3, padding: 1);
            private readonly BatchNorm2d bn = new(8);
            private readonly Dropout drop = new(0.2);
            private readonly Linear fc = new(8 * 4 * 4, 10);

            public Tensor Forward([Shape("N", 3, 4, 4)] Tensor x)
                => Functional.LogSoftmax(fc.Forward(drop.Forward(Functional.LeakyRelu(bn.Forward(conv.Forward(x)), 0.2)).View(-1, 128)), 1);
        }

        [Module]
        public sealed partial class Broken
        {
            private readonly Linear fc = new(4, 2);

            public Tensor Forward(Tensor x) => fc.Forward(x) * x.Sum().Item();
        }

        [Module]
        public sealed partial class Shrinks
        {
            private readonly Linear fc = new(4, 2);

            public Tensor Forward(Tensor x) => Functional.Softshrink(fc.Forward(x));
        }
        """;

    private static (Microsoft.CodeAnalysis.GeneratorRunResult Result, Microsoft.CodeAnalysis.Compilation Output) Run(bool onnx)
    {
        var (_, result, output) = GeneratorHarness.Run(GeneratorHarness.CreateCompilation(onnx, GeneratorHarness.Parse(Models, "Models.cs")));
        return (result, output);
    }

    private static string Source(Microsoft.CodeAnalysis.GeneratorRunResult result, string hintName)
        => result.GeneratedSources.Single(s => s.HintName == hintName).SourceText.ToString();

    /// <summary>The generated source with its long string literals joined again (they are written in pieces of 100 characters).</summary>
    private static string Joined(string source) => System.Text.RegularExpressions.Regex.Replace(source, "\" \\+\\s*\"", "");

    [Fact]
    public void WithoutSharpGradOnnxNothingIsEmittedAndTheModelsCompile()
    {
        var (result, output) = Run(onnx: false);
        Assert.DoesNotContain(result.GeneratedSources, s => s.HintName.EndsWith(".Onnx.g.cs", StringComparison.Ordinal));
        Assert.Contains(result.GeneratedSources, s => s.HintName == "Demo.Net.Compiled.g.cs");
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void WithSharpGradOnnxEachModuleImplementsTheExportAndTheCodeCompiles()
    {
        var (result, output) = Run(onnx: true);
        Assert.Empty(GeneratorHarness.Problems(output));
        foreach (var name in new[] { "Net", "Broken", "Shrinks" })
            Assert.Contains(": global::SharpGrad.Onnx.IOnnxExportable", Source(result, $"Demo.{name}.Onnx.g.cs"));
        Snapshot.Verify("Onnx.Demo.Net.Onnx", Source(result, "Demo.Net.Onnx.g.cs"));
    }

    [Fact]
    public void TheGraphIsOneBuilderCallPerNodeInEvaluationMode()
    {
        var net = Source(Run(onnx: true).Result, "Demo.Net.Onnx.g.cs");
        // The input with its dynamic batch axis, each layer by its state-dict path, dropout as the identity, the view as a
        // Reshape to the inferred shape (the batch copied), the call's own arguments (0.2, dim 1).
        Assert.Contains("graph.Input(\"x\", global::SharpGrad.Onnx.OnnxElementType.Float32, new global::SharpGrad.Onnx.OnnxDim[] { \"batch\", 3, 4, 4 })", net);
        Assert.Contains("graph.Layer(\"conv\", global::SharpGrad.CompiledSupport.Submodule<global::SharpGrad.Layers.Conv2d>(this, \"conv\"), v0)", net);
        Assert.Contains("graph.LeakyRelu(v2, 0.2)", net);
        Assert.DoesNotContain("Dropout", net);
        Assert.Contains("graph.Reshape(v4, new global::SharpGrad.Onnx.OnnxDim[] { \"batch\", 128 })", net);
        Assert.Contains("graph.LogSoftmax(v", net);
        Assert.Contains("graph.Output(v", net);
    }

    [Fact]
    public void ABrokenGraphAndAnOpWithoutExportAreRefusedInTheGeneratedCode()
    {
        var result = Run(onnx: true).Result;
        var broken = Joined(Source(result, "Demo.Broken.Onnx.g.cs"));
        Assert.Contains("throw new global::System.NotSupportedException(", broken);
        Assert.Contains("its graph breaks (1 graph break(s), SG1019)", broken);
        Assert.Contains("new(\"Forward\", \"Models.cs(", broken);
        var shrinks = Joined(Source(result, "Demo.Shrinks.Onnx.g.cs"));
        Assert.Contains("(Softshrink, PyTorch's softshrink) has no ONNX export yet", shrinks);
        Assert.DoesNotContain("graph.", shrinks);
    }
}
