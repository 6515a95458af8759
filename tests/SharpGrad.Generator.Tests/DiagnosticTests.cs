using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests;

/// <summary>One test per generator diagnostic: its id, where it points, and that the message names the member and the fix.</summary>
public class DiagnosticTests
{
    /// <summary>Runs the generator and returns its single diagnostic, the source text it points at, and its line (1-based).</summary>
    private static (Diagnostic Diagnostic, string Text, int Line) Single(string source, string id)
    {
        var (result, _) = GeneratorHarness.Run(TestSources.Layers, source);
        var diagnostic = Assert.Single(WithoutBreaks(result.Diagnostics));
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        // Specs cache locations as file path + spans, so the reported location is a file location, not a tree reference.
        Assert.NotEqual(Location.None, diagnostic.Location);
        Assert.Equal("Source1.cs", diagnostic.Location.GetLineSpan().Path);
        var text = source.Substring(diagnostic.Location.SourceSpan.Start, diagnostic.Location.SourceSpan.Length);
        Assert.True(string.IsNullOrEmpty(diagnostic.Descriptor.HelpLinkUri), diagnostic.Descriptor.HelpLinkUri);
        Assert.EndsWith($"(docs/diagnostics/{id}.md)", diagnostic.GetMessage());
        return (diagnostic, text, diagnostic.Location.GetLineSpan().StartLinePosition.Line + 1);
    }

    /// <summary>
    /// The diagnostics other than graph breaks (SG1019, info): the stub layers of <see cref="TestSources.Layers"/> have
    /// no input shape, so each runs eagerly inside Compile() and says so; GraphBreakTests tests those.
    /// </summary>
    private static IEnumerable<Diagnostic> WithoutBreaks(IEnumerable<Diagnostic> diagnostics) => diagnostics.Where(d => d.Id != "SG1019");

    [Fact]
    public void SG1001_ModuleNotPartial()
    {
        var (d, text, line) = Single("""
            using SharpGrad;
            namespace Demo;

            [Module]
            public class Net : Module
            {
            }
            """, "SG1001");
        Assert.Equal("Net", text);
        Assert.Equal(5, line);
        Assert.Contains("'Net' must be partial", d.GetMessage());
        Assert.Contains("add the 'partial' modifier", d.GetMessage());
    }

    [Fact]
    public void SG1001_SequentialNotPartial()
    {
        var (d, text, _) = Single("""
            using SharpGrad;
            namespace Demo;

            [Sequential]
            public class Stack : Module
            {
            }
            """, "SG1001");
        Assert.Equal("Stack", text);
        Assert.Contains("[Sequential] class 'Stack'", d.GetMessage());
    }

    [Fact]
    public void SG1002_GenericModule()
    {
        var (d, text, line) = Single("""
            using SharpGrad;
            namespace Demo;

            [Module]
            public partial class Wrapper<T>
            {
            }
            """, "SG1002");
        Assert.Equal("Wrapper", text);
        Assert.Equal(5, line);
        Assert.Contains("'Demo.Wrapper<T>' is generic", d.GetMessage());
    }

    [Fact]
    public void SG1003_NonModuleBase()
    {
        var (d, text, line) = Single("""
            using SharpGrad;
            namespace Demo;

            public class Plain { }

            [Module]
            public partial class Net : Plain
            {
            }
            """, "SG1003");
        Assert.Equal("Plain", text);
        Assert.Equal(7, line);
        Assert.Contains("'Net' derives from 'Demo.Plain', which is not a SharpGrad.Module", d.GetMessage());
    }

    [Fact]
    public void SG1003_NotReportedForAModuleBase()
    {
        var (result, output) = GeneratorHarness.Run(TestSources.Layers, """
            using SharpGrad;
            using Demo.Layers;
            namespace Demo;

            [Module] public partial class Base { public Parameter Scale { get; } = new(Tensor.Ones(1)); }
            [Module] public partial class Derived : Base { private readonly ReLU act = new(); }
            [Module] public partial class Direct : Module { }
            """);
        Assert.Empty(WithoutBreaks(result.Diagnostics));
        Assert.Empty(GeneratorHarness.Problems(output));
        var derived = result.GeneratedSources.Single(s => s.HintName == "Demo.Derived.g.cs").SourceText.ToString();
        Assert.Contains("foreach (var inherited in base.NamedDirectParameters()) yield return inherited;", derived);
        Assert.DoesNotContain("global::SharpGrad.Module\n", derived.Split("NamedChildren")[0].Replace("\r", ""));
    }

    [Fact]
    public void SG1004_BufferNotTensor()
    {
        var (d, text, line) = Single("""
            using SharpGrad;
            namespace Demo;

            [Module]
            public partial class Counter
            {
                [Buffer]
                private int steps;

                public int Steps => steps;
            }
            """, "SG1004");
        Assert.Equal("steps", text);
        Assert.Equal(8, line);
        Assert.Contains("'Counter.steps' is marked [Buffer] but has type 'int'", d.GetMessage());
    }

    [Fact]
    public void SG1004_BufferOnParameter()
    {
        var (d, text, _) = Single("""
            using SharpGrad;
            namespace Demo;

            [Module]
            public partial class Layer
            {
                [Buffer]
                public Parameter Weight { get; } = new(Tensor.Ones(1));
            }
            """, "SG1004");
        Assert.Equal("Weight", text);
        Assert.Contains("not a Parameter", d.GetMessage());
    }

    [Fact]
    public void SG1005_SequentialChildWithoutForward()
    {
        var (d, text, line) = Single("""
            using SharpGrad;
            using Demo.Layers;
            namespace Demo;

            [Module]
            public partial class TwoInputs
            {
                public Tensor Forward(Tensor a, Tensor b) => a + b;
            }

            [Sequential]
            public partial class Stack
            {
                private readonly ReLU relu = new();
                private readonly TwoInputs merge = new();
            }
            """, "SG1005");
        Assert.Equal("merge", text);
        Assert.Equal(15, line);
        Assert.Contains("'merge' of [Sequential] class 'Stack' has type 'Demo.TwoInputs'", d.GetMessage());
    }

    [Fact]
    public void SG1006_ContainingTypeNotPartial()
    {
        var (d, text, line) = Single("""
            using SharpGrad;
            namespace Demo;

            public class Outer
            {
                [Module]
                public partial class Inner
                {
                }
            }
            """, "SG1006");
        Assert.Equal("Outer", text);
        Assert.Equal(4, line);
        Assert.Contains("add the 'partial' modifier to 'Outer'", d.GetMessage());
    }

    [Fact]
    public void SG1007_DuplicateStateName()
    {
        var (d, text, line) = Single("""
            using SharpGrad;
            namespace Demo;

            [Module]
            public partial class Layer
            {
                public Parameter Weight { get; } = new(Tensor.Ones(1));
                private readonly Parameter _weight = new(Tensor.Ones(1));
            }
            """, "SG1007");
        Assert.Equal("_weight", text);
        Assert.Equal(8, line);
        Assert.Contains("'Layer._weight' has the state name 'weight', which 'Layer.Weight' already has", d.GetMessage());
    }

    [Fact]
    public void NoCodeIsGeneratedForANonPartialClass()
    {
        var (result, _) = GeneratorHarness.Run("using SharpGrad; [Module] public class Net : Module { }");
        Assert.Empty(result.GeneratedSources);
    }
}
