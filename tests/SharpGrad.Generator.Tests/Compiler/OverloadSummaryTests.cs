using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// A class with two overloads of Forward (CharLM's <c>Forward(tokens)</c> next to a stateful
/// <c>Forward(tokens, state)</c>): the generated program's XML summaries name the compiled method unambiguously, so a
/// build with documentation diagnostics on (as the repository's, with warnings as errors) has no CS0419/CS1574.
/// </summary>
public class OverloadSummaryTests
{
    private static string Model(string forward) => $$"""
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        /// <summary>A model with a stateless and a stateful Forward.</summary>
        [Module]
        public partial class Net
        {
            private readonly Linear fc = new(8, 4);

            /// <summary>The stateless call.</summary>
        {{forward}}

            /// <summary>The stateful call (the compiler leaves it out).</summary>
            public (Tensor Y, (Tensor H, Tensor C) State) Forward(Tensor x, (Tensor H, Tensor C)? state)
                => (fc.Forward(x), state ?? (x, x));
        }
        """;

    public static TheoryData<string, string> Forwards => new()
    {
        // Compiled whole: the summary's cref carries the parameter types.
        { "    public Tensor Forward([Shape(\"N\", 8)] Tensor x) => fc.Forward(x).Relu();", "<see cref=\"Net.Forward(global::SharpGrad.Tensor)\"/>" },
        // A graph break (a size computed at run time): the regions and the runner name the method as text.
        { "    public Tensor Forward([Shape(\"N\", 8)] Tensor x)\n    {\n        var h = fc.Forward(x).Relu();\n        int k = System.Math.Max(1, (int)h.Sum().Item());\n        return h * k;\n    }", "<c>Net.Forward</c>" },
        // Run eagerly (it calls the stateful overload, as CharLM's CharLstm): the stand-in names the method as text.
        { "    public Tensor Forward([Shape(\"N\", 8)] Tensor x) => Forward(x, null).Y;", "<summary>Runs <c>Net.Forward</c> eagerly" },
    };

    [Theory]
    [MemberData(nameof(Forwards))]
    public void TheSummaryNamesTheCompiledOverloadUnambiguously(string forward, string named)
    {
        var (result, output) = GeneratorHarness.Run(Model(forward));
        var compiled = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Net.Compiled.g.cs").SourceText.ToString();
        Assert.Contains(named, compiled);
        Assert.DoesNotContain("cref=\"Net.Forward\"", compiled);
        // Re-parsed with documentation diagnostics on: no cref in any generated file is ambiguous or unresolved.
        var diagnose = GeneratorHarness.ParseOptions.WithDocumentationMode(DocumentationMode.Diagnose);
        var reparsed = output.RemoveAllSyntaxTrees().AddSyntaxTrees(
            output.SyntaxTrees.Select(t => CSharpSyntaxTree.ParseText(t.GetText(), diagnose, t.FilePath)));
        var problems = reparsed.GetDiagnostics()
            .Where(d => d.Severity >= DiagnosticSeverity.Warning && d.Id != "CS1591" && d.Location.SourceTree?.FilePath.EndsWith(".g.cs", StringComparison.Ordinal) == true)
            .ToList();
        Assert.True(problems.Count == 0, GeneratorHarness.Format(problems));
    }
}
