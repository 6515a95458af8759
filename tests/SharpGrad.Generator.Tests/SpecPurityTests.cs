using System.Collections;
using System.Reflection;
using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests;

/// <summary>The cached specs hold no symbols, syntax nodes, semantic models, compilations or locations (they would pin a compilation in memory and break caching).</summary>
public class SpecPurityTests
{
    private static readonly Type[] Forbidden = [typeof(ISymbol), typeof(SyntaxNode), typeof(SemanticModel), typeof(Compilation), typeof(Location), typeof(SyntaxTree)];

    [Fact]
    public void CachedSpecsHoldOnlyPlainData()
    {
        // Include diagnostics, so DiagnosticInfo (with its location record) is walked too.
        var broken = """
            using SharpGrad;
            namespace Demo;
            [Module] public partial class Broken { [Buffer] public int Count; }
            """;
        var (result, _) = GeneratorHarness.Run(TestSources.Layers, TestSources.Cnn, TestSources.Norm, TestSources.Features, broken);
        Assert.NotEmpty(result.Diagnostics);

        int walked = 0;
        foreach (var (name, runs) in result.TrackedSteps)
        {
            if (!name.EndsWith("Specs", StringComparison.Ordinal) && name is not (TrackingNames.Diagnostics or TrackingNames.PlannedModules
                    or TrackingNames.NotCompiled or TrackingNames.Programs)) continue;
            foreach (var (value, _) in runs.SelectMany(r => r.Outputs))
            {
                Walk(value, $"{name}", new HashSet<object>(ReferenceEqualityComparer.Instance));
                walked++;
            }
        }
        Assert.True(walked >= 5, $"Only {walked} spec outputs were walked.");
    }

    [Fact]
    public void CheckedSpecsWithGraphsHoldOnlyPlainData()
    {
        // Shape-checked models, one with an error (SG1010), so the graph IR, inferred shapes and diagnostics are walked.
        var (result, _) = GeneratorHarness.Run(
            CompilerSources.Mlp.Replace("new Linear(256, 10)", "new Linear(512, 10)"), CompilerSources.Cnn, CompilerSources.Nested);
        Assert.NotEmpty(result.Diagnostics);

        int graphs = 0;
        foreach (var (value, _) in result.TrackedSteps[TrackingNames.CheckedSpecs].SelectMany(r => r.Outputs)
                     .Concat(result.TrackedSteps[TrackingNames.ModuleLibrary].SelectMany(r => r.Outputs)))
        {
            Walk(value, TrackingNames.CheckedSpecs, new HashSet<object>(ReferenceEqualityComparer.Instance));
            if (value is Model.ModuleSpec { Graph: not null }) graphs++;
        }
        Assert.Equal(4, graphs);   // Mlp, Cnn, Outer and its child Block (every [Module] with a Forward is parsed)
    }

    [Fact]
    public void PlannedProgramsHoldOnlyPlainData()
    {
        // The planning step's output (rules, geometry records, buffers) is cached like the specs; one model not compiled (SG1017).
        var (result, _) = GeneratorHarness.Run(CompilerSources.Mlp, CompilerSources.Cnn, CompilerSources.Nested);
        int programs = 0;
        foreach (var (value, _) in result.TrackedSteps[TrackingNames.PlannedModules].SelectMany(r => r.Outputs))
        {
            Walk(value, TrackingNames.PlannedModules, new HashSet<object>(ReferenceEqualityComparer.Instance));
            if (value is Planning.PlannedModule { Program: not null }) programs++;
        }
        Assert.True(programs >= 3, $"Only {programs} planned programs.");
    }

    [Fact]
    public void WalkerFindsASymbol()
    {
        // The walker itself must be able to fail.
        var compilation = GeneratorHarness.CreateCompilation("class C { }");
        var holder = new { Inner = new object[] { compilation.GetTypeByMetadataName("C")! } };
        Assert.ThrowsAny<Exception>(() => Walk(holder, "holder", new HashSet<object>(ReferenceEqualityComparer.Instance)));
    }

    private static void Walk(object? value, string path, HashSet<object> seen)
    {
        if (value is null) return;
        var type = value.GetType();
        foreach (var forbidden in Forbidden)
        {
            Assert.False(forbidden.IsInstanceOfType(value), $"{path} holds a {forbidden.Name} ({type.FullName}).");
        }
        if (type.IsPrimitive || type.IsEnum || value is string || value is decimal) return;
        if (!type.IsValueType && !seen.Add(value)) return;

        if (value is IEnumerable enumerable)
        {
            int i = 0;
            foreach (var item in enumerable) Walk(item, $"{path}[{i++}]", seen);
        }
        for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
        {
            foreach (var field in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                Walk(field.GetValue(value), $"{path}.{field.Name}", seen);
            }
        }
    }
}
