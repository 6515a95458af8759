using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using SharpGrad.Generator;

namespace SharpGrad.Generator.Tests.Support;

/// <summary>Runs <see cref="ModuleGenerator"/> over an in-memory compilation that references the SharpGrad runtime.</summary>
internal static class GeneratorHarness
{
    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(LoadReferences);

    /// <summary>C# preview, with interceptors enabled in SharpGrad.Generated (what SharpGrad.props sets for consumers).</summary>
    public static readonly CSharpParseOptions ParseOptions = new CSharpParseOptions(LanguageVersion.Preview)
        .WithFeatures([new("InterceptorsNamespaces", "SharpGrad.Generated")]);

    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        var paths = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var tpa = (string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "";
        foreach (var path in tpa.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var name = Path.GetFileNameWithoutExtension(path);
            // The framework, plus nothing of the test's own dependencies but the runtime (added below).
            if (name is "netstandard" or "mscorlib" || name.StartsWith("System", StringComparison.Ordinal)
                || name.StartsWith("Microsoft.Win32", StringComparison.Ordinal) || name == "Microsoft.CSharp")
            {
                paths.Add(path);
            }
        }
        paths.Add(typeof(SharpGrad.Module).Assembly.Location);
        return [.. paths.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))];
    }

    public static SyntaxTree Parse(string source, string path = "Source.cs")
        => CSharpSyntaxTree.ParseText(source, ParseOptions, path);

    public static CSharpCompilation CreateCompilation(params SyntaxTree[] trees) => CreateCompilation(onnx: false, trees);

    /// <summary>A compilation of <paramref name="trees"/>; with <paramref name="onnx"/>, it also references SharpGrad.Onnx
    /// (so the generator emits the modules' ONNX export).</summary>
    public static CSharpCompilation CreateCompilation(bool onnx, params SyntaxTree[] trees)
        => CSharpCompilation.Create(
            "Demo",
            trees,
            onnx ? References.Value.Add(MetadataReference.CreateFromFile(typeof(SharpGrad.Onnx.OnnxExporter).Assembly.Location)) : References.Value,
            new CSharpCompilationOptions(
                OutputKind.DynamicallyLinkedLibrary,
                nullableContextOptions: NullableContextOptions.Enable));

    public static CSharpCompilation CreateCompilation(params string[] sources)
        => CreateCompilation([.. sources.Select((s, i) => Parse(s, $"Source{i}.cs"))]);

    public static GeneratorDriver CreateDriver()
        => CSharpGeneratorDriver.Create(
            [new ModuleGenerator().AsSourceGenerator()],
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator once; returns the driver (for incremental re-runs), its result and the output compilation.</summary>
    public static (GeneratorDriver Driver, GeneratorRunResult Result, Compilation Output) Run(Compilation compilation, GeneratorDriver? driver = null)
    {
        driver = (driver ?? CreateDriver()).RunGeneratorsAndUpdateCompilation(compilation, out var output, out _);
        return (driver, driver.GetRunResult().Results.Single(), output);
    }

    public static (GeneratorRunResult Result, Compilation Output) Run(params string[] sources)
    {
        var (_, result, output) = Run(CreateCompilation(sources));
        return (result, output);
    }

    /// <summary>Errors and warnings of a compilation, hidden/info ones excluded.</summary>
    public static IReadOnlyList<Diagnostic> Problems(Compilation compilation)
        => [.. compilation.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning)];

    public static string Format(IEnumerable<Diagnostic> diagnostics) => string.Join(Environment.NewLine, diagnostics.Select(d => d.ToString()));
}
