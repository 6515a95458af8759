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
        var (driver, _, _) = GeneratorHarness.Run(compilation);

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
        // One source output re-runs: BatchNormLike's files (its diagnostics did not change).
        Assert.Single(second.TrackedOutputSteps.SelectMany(kv => kv.Value).SelectMany(s => s.Outputs),
            o => o.Reason is not (IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged));
    }

    [Fact]
    public void EditingOneModulesFieldsRerunsOnlyThatModulesOutput()
    {
        var compilation = Initial();
        var (driver, _, _) = GeneratorHarness.Run(compilation);

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

        var sourceOutputs = second.TrackedOutputSteps.SelectMany(kv => kv.Value).SelectMany(s => s.Outputs).ToList();
        Assert.Single(sourceOutputs, o => o.Reason == IncrementalStepRunReason.Modified);

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
