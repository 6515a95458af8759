using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>The emitted shape information, and caching of specs that carry a graph.</summary>
public class CompilerPipelineTests
{
    [Fact]
    public void ShapeInfoMatchesSnapshot()
    {
        var (result, output) = GeneratorHarness.Run(CompilerSources.Cnn);
        var generated = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Cnn.Shapes.g.cs");
        Snapshot.Verify("Compiler.Demo.Compiled.Cnn.Shapes", generated.SourceText.ToString());
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void ShapeInfoIsReadableFromTheCompilation()
    {
        // What an analyzer does: find the delegate and read [Shape] off its Invoke's return value and parameters.
        var (_, output) = GeneratorHarness.Run(CompilerSources.Cnn);
        var type = output.GetTypeByMetadataName("Demo.Compiled.Cnn+ShapeInfo+Forward")!;
        var invoke = type.DelegateInvokeMethod!;
        var returned = invoke.GetReturnTypeAttributes().Single(a => a.AttributeClass!.Name == "ShapeAttribute");
        Assert.Equal(["N", 10], returned.ConstructorArguments[0].Values.Select(v => v.Value));
        var input = invoke.Parameters.Single().GetAttributes().Single();
        Assert.Equal(["N", 3, 8, 8], input.ConstructorArguments[0].Values.Select(v => v.Value));
    }

    [Fact]
    public void ShapeInfoHasOneDelegatePerMethodWithShapesPastAnInlinedChild()
    {
        var (result, output) = GeneratorHarness.Run(CompilerSources.Nested.Replace(
            "public Tensor Loss([Shape(\"N\", 16)] Tensor x, [Shape(\"N\", 1)] Tensor target)",
            "public Tensor Loss([Shape(\"N\", 16)] Tensor x, [Shape(\"N\", 1)] Tensor target, int unused = 0)"));
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.Problems(output));

        var forward = output.GetTypeByMetadataName("Demo.Compiled.Outer+ShapeInfo+Forward")!.DelegateInvokeMethod!;
        // The [Module] child is inlined, so the output shape is known past it.
        Assert.Equal(["N", 1], forward.GetReturnTypeAttributes().Single().ConstructorArguments[0].Values.Select(v => v.Value));
        var loss = output.GetTypeByMetadataName("Demo.Compiled.Outer+ShapeInfo+Loss")!.DelegateInvokeMethod!;
        Assert.Equal(["x", "target"], loss.Parameters.Select(p => p.Name));   // tensor parameters only
        Assert.Equal([1], loss.Parameters[1].GetAttributes().Single().ConstructorArguments[0].Values.Skip(1).Select(v => v.Value));
    }

    private static Compilation Initial()
        => GeneratorHarness.CreateCompilation(
            GeneratorHarness.Parse(CompilerSources.Mlp, "Mlp.cs"),
            GeneratorHarness.Parse(CompilerSources.Cnn, "Cnn.cs"),
            GeneratorHarness.Parse(CompilerSources.Nested, "Nested.cs"));

    [Fact]
    public void UnrelatedEditLeavesCheckedSpecsCached()
    {
        var compilation = Initial();
        var (driver, first, _) = GeneratorHarness.Run(compilation);
        Assert.Contains(first.GeneratedSources, s => s.HintName.EndsWith(".Shapes.g.cs", StringComparison.Ordinal));

        var edited = compilation.AddSyntaxTrees(GeneratorHarness.Parse("namespace Demo; public class Unrelated { public int X => 1 + 2; }", "Unrelated.cs"));
        var (_, second, _) = GeneratorHarness.Run(edited, driver);

        foreach (var name in new[] { TrackingNames.ModuleSpecs, TrackingNames.CheckedSpecs, TrackingNames.Diagnostics, TrackingNames.EmitSpecs })
        {
            foreach (var (value, reason) in second.TrackedSteps[name].SelectMany(r => r.Outputs))
            {
                Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{name}: {reason} for {value}");
            }
        }
        Assert.All(second.TrackedOutputSteps.SelectMany(kv => kv.Value).SelectMany(s => s.Outputs),
            o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{o.Reason}: {o.Value}"));
    }

    [Fact]
    public void EditingOneModelsForwardChangesOnlyItsSpec()
    {
        var compilation = Initial();
        var (driver, _, _) = GeneratorHarness.Run(compilation);

        var old = compilation.SyntaxTrees.Single(t => t.FilePath == "Mlp.cs");
        var edited = compilation.ReplaceSyntaxTree(old, GeneratorHarness.Parse(CompilerSources.Mlp.Replace("Functional.Relu(", "Functional.Sigmoid("), "Mlp.cs"));
        var (_, second, _) = GeneratorHarness.Run(edited, driver);

        var outputs = second.TrackedSteps[TrackingNames.CheckedSpecs].SelectMany(r => r.Outputs).ToList();
        var modified = outputs.Where(o => o.Reason == IncrementalStepRunReason.Modified).Select(o => ((Model.ModuleSpec)o.Value).ClassName).ToList();
        Assert.Equal(["Mlp"], modified);
        Assert.All(outputs.Where(o => o.Reason != IncrementalStepRunReason.Modified),
            o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{o.Reason}: {o.Value}"));
    }
}
