using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>Each shape diagnostic fires at the expression, naming both shapes and the fix; unknown shapes stay silent.</summary>
public class ShapeDiagnosticTests
{
    private static (Diagnostic Diagnostic, string Text) Single(string source, string id, DiagnosticSeverity severity = DiagnosticSeverity.Error)
    {
        var (result, _) = GeneratorHarness.Run(source);
        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(severity, diagnostic.Severity);
        Assert.Equal("Source0.cs", diagnostic.Location.GetLineSpan().Path);
        Assert.True(string.IsNullOrEmpty(diagnostic.Descriptor.HelpLinkUri), diagnostic.Descriptor.HelpLinkUri);
        Assert.EndsWith($"(docs/diagnostics/{id}.md)", diagnostic.GetMessage());
        var span = diagnostic.Location.SourceSpan;
        return (diagnostic, source.Substring(span.Start, span.Length));
    }

    private static string Model(string fields, string parameters, string body) => $$"""
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public partial class Net
        {
        {{fields}}

            public Tensor Forward({{parameters}})
            {
        {{body}}
            }
        }
        """;

    [Fact]
    public void SG1010_LinearInFeatures()
    {
        var (d, text) = Single(CompilerSources.Mlp.Replace("new Linear(256, 10)", "new Linear(512, 10)"), "SG1010");
        Assert.Equal("fc2.Forward(h)", text);
        var message = d.GetMessage();
        Assert.Contains("'fc2' is Linear(512, 10) and expects 512 input features", message);
        Assert.Contains("`h` has shape [N, 256]", message);
        Assert.Contains("(from `Functional.Relu(fc1.Forward(x))`)", message);
        Assert.Contains("change it to Linear(256, 10)", message);
    }

    [Fact]
    public void SG1010_AfterAViewNamesTheView()
    {
        var (d, text) = Single(CompilerSources.Cnn.Replace("new(32 * 4 * 4, 64)", "new(784, 64)"), "SG1010");
        Assert.Equal("dense1.Forward(h)", text);
        Assert.Contains("expects 784 input features, but `h` has shape [N, 512] here (from `h.View(-1, 32 * 4 * 4)`)", d.GetMessage());
        Assert.Contains("Linear(512, 64)", d.GetMessage());
    }

    [Fact]
    public void SG1011_ConvInChannels()
    {
        var (d, text) = Single(Model(
            "    readonly Conv2d conv1 = new(3, 16, 3);\n    readonly Conv2d conv2 = new(8, 16, 3);",
            "[Shape(\"N\", 3, 32, 32)] Tensor x",
            "        var h = conv1.Forward(x);\n        return conv2.Forward(h);"), "SG1011");
        Assert.Equal("conv2.Forward(h)", text);
        var message = d.GetMessage();
        Assert.Contains("'conv2' is Conv2d(8, 16, …) and expects input with 8 channels", message);
        Assert.Contains("`h` has shape [N, 16, 30, 30]", message);
        Assert.Contains("change it to Conv2d(16, 16, …)", message);
    }

    [Fact]
    public void SG1012_ViewWithHoleThatDoesNotDivide()
    {
        var (d, text) = Single(CompilerSources.Cnn.Replace("h.View(-1, 32 * 4 * 4)", "h.View(-1, 784)").Replace("new(32 * 4 * 4, 64)", "new(784, 64)"), "SG1012");
        Assert.Equal("h.View(-1, 784)", text);
        var message = d.GetMessage();
        Assert.Contains("`h` of shape [N, 32, 4, 4] (N·512 elements) into [-1, 784]", message);
        Assert.Contains("multiply to 784, which does not divide N·512", message);
    }

    [Fact]
    public void SG1012_FixedReshapeWithWrongCount()
    {
        var (d, text) = Single(Model("", "[Shape(2, 3)] Tensor x", "        return x.Reshape(4, 2);"), "SG1012");
        Assert.Equal("x.Reshape(4, 2)", text);
        Assert.Contains("`x` of shape [2, 3] (6 elements) into [4, 2]: [4, 2] has 8 elements", d.GetMessage());
    }

    [Fact]
    public void SG1018_CrossEntropyTargetOfTheWrongShape()
    {
        var (d, text) = Single(Model("", "[Shape(\"N\", 10)] Tensor logits, [Shape(\"N\", 3)] Tensor target", "        return Losses.CrossEntropy(logits, target);"), "SG1018");
        Assert.Equal("Losses.CrossEntropy(logits, target)", text);
        var message = d.GetMessage();
        Assert.Contains("`logits` with shape [N, 10] against `target` with shape [N, 3]", message);
        Assert.Contains("[N] (class indices) or [N, 10] (class probabilities)", message);
    }

    [Fact]
    public void SG1018_MseTargetOfTheWrongShape()
    {
        var (d, text) = Single(Model("", "[Shape(\"N\", 4)] Tensor prediction, [Shape(\"N\", 1)] Tensor target", "        return Losses.Mse(prediction, target);"), "SG1018");
        Assert.Equal("Losses.Mse(prediction, target)", text);
        Assert.Contains("needs a target of shape [N, 4]", d.GetMessage());
    }

    [Fact]
    public void SG1018_SilentForMatchingTargets()
    {
        var (result, _) = GeneratorHarness.Run(Model("", "[Shape(\"N\", 10)] Tensor logits, [Shape(\"N\")] Tensor target", "        return Losses.CrossEntropy(logits, target);"));
        Assert.DoesNotContain(result.Diagnostics, x => x.Id == "SG1018");
    }

    [Fact]
    public void SG1013_MatMulInnerDims()
    {
        var (d, text) = Single(Model("", "[Shape(\"N\", 3)] Tensor a, [Shape(4, 5)] Tensor b", "        return a.MatMul(b);"), "SG1013");
        Assert.Equal("a.MatMul(b)", text);
        Assert.Contains("`a` of shape [N, 3] by `b` of shape [4, 5], but the inner dims differ (3 vs 4)", d.GetMessage());
    }

    [Fact]
    public void SG1014_BroadcastMismatch()
    {
        var (d, text) = Single(Model("", "[Shape(\"N\", 3)] Tensor a, [Shape(\"N\", 4)] Tensor b", "        var s = a + b;\n        return s;"), "SG1014");
        Assert.Equal("a + b", text);
        Assert.Contains("`a` of shape [N, 3] with `b` of shape [N, 4]", d.GetMessage());
        Assert.Contains("sizes 3 and 4 at dim 1 from the right", d.GetMessage());
    }

    // The graph breaks (SG1019, info) that replaced SG1015/SG1016 are tested in GraphBreakTests.

    [Fact]
    public void WithoutShapeAttributeTheInputIsInferredAndChecked()
    {
        // No [Shape]: x is [N, 784] from fc1, so the wrong fc2 is still an error at its call.
        var source = CompilerSources.Mlp.Replace("[Shape(\"N\", 784)] ", "").Replace("new Linear(256, 10)", "new Linear(512, 10)");
        var (d, text) = Single(source, "SG1010");
        Assert.Equal("fc2.Forward(h)", text);
        Assert.Contains("`h` has shape [N, 256]", d.GetMessage());
    }

    [Fact]
    public void NoErrorWithoutShapeWhenTheFirstConsumerSaysNothing()
    {
        // The first consumer of x is a Sigmoid and then a View with a hole: nothing to infer, no error; Forward runs
        // eagerly inside Compile(), and a graph break (info) says why, at the method.
        var (result, _) = GeneratorHarness.Run(Model("    readonly Linear fc = new(784, 10);", "Tensor x",
            "        var h = Functional.Sigmoid(x).View(7, -1);\n        return fc.Forward(h);"));
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(("SG1019", DiagnosticSeverity.Info), (d.Id, d.Severity));
        Assert.Contains("at Forward, whose inputs have no batch dim known at build time", d.GetMessage());
    }

    [Fact]
    public void SilentWhereTheShapeIsUnknown()
    {
        // After a [Module] child the compiler does not look into (Compile = false), the mismatch with fc (64 vs 5) is not provable.
        var nested = CompilerSources.Nested.Replace("private readonly Dropout drop = new(0.1);", "private readonly Dropout drop = new(0.1);\n    private readonly Linear fc = new(5, 1);")
            .Replace("return (h * 2f).Sum(1, keepDim: true);", "return fc.Forward(h);")
            .Replace("[Module]\npublic partial class Block", "[Module(Compile = false)]\npublic partial class Block");
        var (result, _) = GeneratorHarness.Run(nested);
        // No error: only the graph breaks at the calls of the child the compiler does not see into.
        Assert.NotEmpty(result.Diagnostics);
        Assert.All(result.Diagnostics, d => Assert.Equal(("SG1019", DiagnosticSeverity.Info), (d.Id, d.Severity)));

        // Symbolic feature dims and a View of an input with no declared shape are not checked either.
        var (symbolic, _) = GeneratorHarness.Run(Model("    readonly Linear fc = new(784, 10);", "[Shape(\"N\", \"D\")] Tensor x, Tensor y",
            "        var h = fc.Forward(x) + y.View(7, -1);\n        return h;"));
        // No error: the symbolic feature dim is a graph break (the code generator fixes every dim but the batch).
        Assert.All(symbolic.Diagnostics, d => Assert.Equal(("SG1019", DiagnosticSeverity.Info), (d.Id, d.Severity)));
    }

    [Fact]
    public void CorrectModelsAreSilent()
    {
        var (result, output) = GeneratorHarness.Run(CompilerSources.Mlp, CompilerSources.Cnn, CompilerSources.Nested);
        Assert.Empty(result.Diagnostics);
        var problems = GeneratorHarness.Problems(output);
        Assert.True(problems.Count == 0, GeneratorHarness.Format(problems));
    }
}
