using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using SharpGrad.Generator;

namespace SharpGrad.Analyzers.Tests.EndToEnd;

/// <summary>
/// The analyzers as a user gets them: on code compiled against the real SharpGrad runtime, after the real generator ran
/// (so `[Module]` classes have their generated members), every analyzer of the package at once.
/// </summary>
public class EndToEndTests
{
    [Fact]
    public async Task The_misuse_sample_shows_each_of_the_fourteen_rules_once()
    {
        var program = File.ReadAllText(Path.Combine(RepoRoot(), "samples", "AnalyzerMisuse", "Program.cs"));
        var diagnostics = await AnalyzeAsync(OutputKind.ConsoleApplication, program);
        var expected = Enumerable.Range(1, 14).Select(i => $"SG20{i:00}").ToArray();
        Assert.Equal(expected, diagnostics.Select(d => d.Id).OrderBy(id => id));
    }

    [Fact]
    public async Task SG2001_on_the_output_of_an_eager_Module_Forward()
    {
        var diagnostics = await AnalyzeAsync(OutputKind.DynamicallyLinkedLibrary, """
            using SharpGrad;
            using SharpGrad.Layers;

            namespace Demo;

            [Module]
            public partial class Net
            {
                readonly Linear fc = new(4, 3);

                public Tensor Forward([Shape("N", 4)] Tensor x) => fc.Forward(x);
            }

            public static class Training
            {
                public static void Step(Net model, [Shape(8, 4)] Tensor x)
                {
                    var y = model.Forward(x);
                    y.Backward();
                }
            }
            """);
        var diagnostic = Assert.Single(diagnostics, d => d.Id == "SG2001");
        Assert.Equal("y.Backward()", diagnostic.Location.SourceTree!.GetText().ToString(diagnostic.Location.SourceSpan));
        Assert.StartsWith("`Backward()` needs a scalar, but `y` has shape [", diagnostic.GetMessage());
        Assert.Contains(", 3]", diagnostic.GetMessage());
    }

    /// <summary>Runs the generator, then every analyzer of SharpGrad.Analyzers; fails on compiler errors.</summary>
    private static async Task<ImmutableArray<Diagnostic>> AnalyzeAsync(OutputKind kind, string source)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Preview).WithFeatures([new("InterceptorsNamespaces", "SharpGrad.Generated")]);
        var usings = "global using System; global using System.Collections.Generic; global using System.Linq;";
        var compilation = CSharpCompilation.Create(
            "EndToEnd",
            [CSharpSyntaxTree.ParseText(source, parse, "Program.cs"), CSharpSyntaxTree.ParseText(usings, parse, "Usings.cs")],
            References.Value,
            new CSharpCompilationOptions(kind, nullableContextOptions: NullableContextOptions.Enable));
        CSharpGeneratorDriver.Create([new ModuleGenerator().AsSourceGenerator()], parseOptions: parse)
            .RunGeneratorsAndUpdateCompilation(compilation, out var generated, out _);
        var errors = generated.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, string.Join(Environment.NewLine, errors));

        var analyzers = typeof(DiagnosticDescriptors).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && typeof(DiagnosticAnalyzer).IsAssignableFrom(t))
            .Select(t => (DiagnosticAnalyzer)Activator.CreateInstance(t)!)
            .ToImmutableArray();
        return await generated.WithAnalyzers(analyzers).GetAnalyzerDiagnosticsAsync();
    }

    /// <summary>The framework's assemblies and the SharpGrad runtime.</summary>
    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    {
        var paths = ((string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(p => Path.GetFileNameWithoutExtension(p) is var n && (n is "netstandard" or "mscorlib" || n.StartsWith("System", StringComparison.Ordinal)))
            .Append(typeof(SharpGrad.Tensor).Assembly.Location)
            .Distinct();
        return paths.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToImmutableArray();
    });

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SharpGrad.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("SharpGrad.slnx not found above the test directory");
    }
}
