using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests;

/// <summary>Edits outside the modules leave every step cached; an edit to one module re-runs only that module's output.</summary>
public class IncrementalityTests
{
    private static readonly string[] StepNames =
    [
        TrackingNames.ModuleSpecs,
        TrackingNames.SequentialSpecs,
        TrackingNames.PresentSpecs,
        TrackingNames.NonNullSpecs,
        TrackingNames.ModuleLibrary,
        TrackingNames.InlinedSpecs,
        TrackingNames.CheckedSpecs,
        TrackingNames.Diagnostics,
        TrackingNames.EmitSpecs,
        TrackingNames.PlannedModules,
        TrackingNames.NotCompiled,
        TrackingNames.Programs,
        TrackingNames.ForwardCalls,
        TrackingNames.PresentForwardCalls,
        TrackingNames.CollectedForwardCalls,
        TrackingNames.AllForwardCalls,
        TrackingNames.OnnxReferenced,
        TrackingNames.OnnxSpecs,
    ];

    private const string Helper = """
        namespace Demo;

        public static class Helper
        {
            public static int Twice(int x) => x * 2;
        }
        """;

    private static Compilation Initial()
        => GeneratorHarness.CreateCompilation(
            GeneratorHarness.Parse(TestSources.Layers, "Layers.cs"),
            GeneratorHarness.Parse(TestSources.Cnn, "Cnn.cs"),
            GeneratorHarness.Parse(TestSources.Norm, "Norm.cs"),
            GeneratorHarness.Parse(TestSources.Features, "Features.cs"),
            GeneratorHarness.Parse(Helper, "Helper.cs"));

    /// <summary>
    /// Only <paramref name="className"/>'s source outputs re-ran: at most its three (its files, its program, its
    /// diagnostics: a module without an input shape has an eager Compile() and a break at its Forward), and every
    /// generated file whose text changed is its own.
    /// </summary>
    private static void AssertOnlyRerun(GeneratorRunResult first, GeneratorRunResult second, string className)
    {
        int rerun = second.TrackedOutputSteps.SelectMany(kv => kv.Value).SelectMany(s => s.Outputs)
            .Count(o => o.Reason is not (IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged));
        Assert.InRange(rerun, 1, 3);
        var before = first.GeneratedSources.ToDictionary(s => s.HintName, s => s.SourceText.ToString());
        foreach (var source in second.GeneratedSources)
        {
            if (before.TryGetValue(source.HintName, out var text) && text == source.SourceText.ToString()) continue;
            Assert.Contains("." + className + ".", source.HintName, StringComparison.Ordinal);
        }
        Assert.All(second.Diagnostics.Except(first.Diagnostics), d => Assert.StartsWith("'" + className + "'", d.GetMessage(), StringComparison.Ordinal));
    }

    [Fact]
    public void AddingAnUnrelatedFileLeavesEveryStepCached()
    {
        var compilation = Initial();
        var (driver, first, _) = GeneratorHarness.Run(compilation);
        Assert.NotEmpty(first.GeneratedSources);

        var edited = compilation.AddSyntaxTrees(GeneratorHarness.Parse("namespace Demo; public class Unrelated { public int X; }", "Unrelated.cs"));
        var (_, second, _) = GeneratorHarness.Run(edited, driver);

        AssertAllCached(second);
    }

    [Fact]
    public void EditingAMethodBodyOutsideModulesLeavesEveryStepCached()
    {
        var compilation = Initial();
        var (driver, _, _) = GeneratorHarness.Run(compilation);

        var old = compilation.SyntaxTrees.Single(t => t.FilePath == "Helper.cs");
        var edited = compilation.ReplaceSyntaxTree(old, GeneratorHarness.Parse(Helper.Replace("x * 2", "x + x"), "Helper.cs"));
        var (_, second, _) = GeneratorHarness.Run(edited, driver);

        AssertAllCached(second);
    }

    [Fact]
    public void EditingAForwardBodyRerunsOnlyThatModule()
    {
        var compilation = Initial();
        var (driver, first, _) = GeneratorHarness.Run(compilation);

        var old = compilation.SyntaxTrees.Single(t => t.FilePath == "Norm.cs");
        var edited = compilation.ReplaceSyntaxTree(old, GeneratorHarness.Parse(TestSources.Norm.Replace("input - RunningMean", "input + RunningMean"), "Norm.cs"));
        var (_, second, _) = GeneratorHarness.Run(edited, driver);

        // Every module's Forward is parsed, so BatchNormLike's spec changes; no module inlines it, so from the inlining
        // step on every other module stays Cached/Unchanged, and only BatchNormLike's outputs are re-run.
        foreach (var name in new[] { TrackingNames.ModuleSpecs, TrackingNames.InlinedSpecs, TrackingNames.CheckedSpecs, TrackingNames.EmitSpecs })
        {
            var outputs = second.TrackedSteps[name].SelectMany(r => r.Outputs).ToList();
            var modified = outputs.Where(o => o.Reason is IncrementalStepRunReason.Modified or IncrementalStepRunReason.New)
                .Select(o => ((Model.ModuleSpec)o.Value!).ClassName).ToList();
            Assert.True(modified.SequenceEqual(["BatchNormLike"]), $"{name}: {string.Join(", ", modified)}");
        }
        // The planning step (its own incremental step) re-runs for that module only.
        foreach (var name in new[] { TrackingNames.PlannedModules, TrackingNames.Programs })
        {
            var modified = second.TrackedSteps[name].SelectMany(r => r.Outputs)
                .Where(o => o.Reason is IncrementalStepRunReason.Modified or IncrementalStepRunReason.New)
                .Select(o => ((Planning.PlannedModule)o.Value!).Spec.ClassName).ToList();
            Assert.True(modified.SequenceEqual(["BatchNormLike"]), $"{name}: {string.Join(", ", modified)}");
        }
        // Only BatchNormLike's source outputs re-run (its files, its Compile() stand-in: it has no input shape).
        AssertOnlyRerun(first, second, "BatchNormLike");
    }

    [Fact]
    public void EditingOneModulesFieldsRerunsOnlyThatModulesOutput()
    {
        var compilation = Initial();
        var (driver, first, _) = GeneratorHarness.Run(compilation);

        var old = compilation.SyntaxTrees.Single(t => t.FilePath == "Norm.cs");
        var source = TestSources.Norm.Replace(
            "private readonly Tensor m_scratch = Tensor.Zeros(1);",
            "private readonly Tensor m_scratch = Tensor.Zeros(1);\n    [Buffer] private readonly Tensor _extra = Tensor.Zeros(1);");
        var edited = compilation.ReplaceSyntaxTree(old, GeneratorHarness.Parse(source, "Norm.cs"));
        var (_, second, output) = GeneratorHarness.Run(edited, driver);

        // Exactly one spec changed (BatchNormLike); every other output is cached or unchanged.
        var emitOutputs = second.TrackedSteps[TrackingNames.EmitSpecs].SelectMany(s => s.Outputs).ToList();
        var modified = emitOutputs.Where(o => o.Reason == IncrementalStepRunReason.Modified).Select(o => o.Value).Cast<object>().ToList();
        Assert.Single(modified);
        Assert.Contains("BatchNormLike", modified[0].ToString());
        Assert.All(emitOutputs.Where(o => o.Reason != IncrementalStepRunReason.Modified),
            o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{o.Reason}: {o.Value}"));

        AssertOnlyRerun(first, second, "BatchNormLike");

        var norm = second.GeneratedSources.Single(s => s.HintName == "Demo.Layers.BatchNormLike.g.cs").SourceText.ToString();
        Assert.Contains("yield return (\"extra\", buffer", norm);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    private static void AssertAllCached(GeneratorRunResult result)
    {
        Assert.NotEmpty(result.TrackedSteps);
        foreach (var name in StepNames)
        {
            Assert.True(result.TrackedSteps.ContainsKey(name), $"No tracked step named {name}.");
        }
        var steps = result.TrackedSteps
            .Where(kv => StepNames.Contains(kv.Key))
            .Concat(result.TrackedOutputSteps);
        foreach (var (name, runs) in steps)
        {
            foreach (var (value, reason) in runs.SelectMany(r => r.Outputs))
            {
                Assert.True(
                    reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged,
                    $"Step '{name}' produced {reason} for {value}.");
            }
        }
    }
}
