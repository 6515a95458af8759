using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// The statement form of a break's value read by a layer (<c>var p = Helper(x); return fc.Forward(p);</c>, issue 13 session 15):
/// the region after the break is compiled for the rank the layer reading p suggests ([N, in] for a Linear, which takes any
/// leading dims), and the runner calls it only when p has that rank; for another it runs the statements as written (the locals
/// later statements read assigned, not declared again). Runtime equality with eager: CompiledBreakValueRankTests.
/// </summary>
public class BreakValueRankTests
{
    private static string Model(string fields, string method) => $$"""
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public sealed partial class Net
        {
        {{fields}}

        {{method}}
            private static Tensor Helper(Tensor t) => t.Sigmoid();
        }
        """;

    private static string Runner(string source)
    {
        var (result, output) = GeneratorHarness.Run(source);
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);
        Assert.NotEmpty(result.Diagnostics);
        Assert.All(result.Diagnostics, d => Assert.Equal(("SG1019", DiagnosticSeverity.Info), (d.Id, d.Severity)));
        return result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Net.Regions.g.cs").SourceText.ToString();
    }

    [Fact]
    public void TheRegionRunsForTheRankTheLayerSuggestsAndTheStatementsOtherwise()
    {
        var runner = Runner(Model("    private readonly Linear fc = new(6, 4);",
            """
                public Tensor Forward(Tensor x)
                {
                    var p = Helper(x);
                    return fc.Forward(p);
                }
            """));
        Assert.Contains("if (p is { Rank: 2 })", runner, StringComparison.Ordinal);
        int call = runner.IndexOf("return __compiled.ForwardRegion1(p);", StringComparison.Ordinal);
        int otherwise = runner.IndexOf("else", call, StringComparison.Ordinal);
        Assert.True(call > 0 && otherwise > call, runner);
        Assert.True(runner.IndexOf("return fc.Forward(p);", otherwise, StringComparison.Ordinal) > otherwise, runner);
    }

    /// <summary>A local the region leaves for a later statement: declared once before the test, assigned in both arms.</summary>
    [Fact]
    public void ALocalTheRegionLeavesIsAssignedInBothArms()
    {
        var runner = Runner(Model("    private readonly Linear fc = new(6, 6);",
            """
                public Tensor Forward(Tensor x)
                {
                    var p = Helper(x);
                    var h = fc.Forward(p).Relu();
                    var q = Helper(h);
                    return q * h;
                }
            """));
        foreach (var part in new[] { "global::SharpGrad.Tensor? h;", "if (p is { Rank: 2 })", "h = __compiled.ForwardRegion1(p);", "h = fc.Forward(p).Relu();" })
            Assert.True(runner.Contains(part, StringComparison.Ordinal), "`" + part + "` not in:\n" + runner);
        Assert.DoesNotContain("var h =", runner, StringComparison.Ordinal);
    }

    /// <summary>A local a region before it left (its shape known, not guessed): no test.</summary>
    [Fact]
    public void ALocalARegionLeftIsNotTested()
    {
        var runner = Runner(Model("    private readonly Linear fc1 = new(6, 6);\n    private readonly Linear fc2 = new(6, 4);",
            """
                public Tensor Forward([Shape("N", 6)] Tensor x)
                {
                    var h = fc1.Forward(x);
                    var q = Helper(x);
                    return fc2.Forward(h);
                }
            """));
        Assert.Contains("return __compiled.ForwardRegion2(h);", runner, StringComparison.Ordinal);
        Assert.DoesNotContain("is { Rank:", runner, StringComparison.Ordinal);
    }
}
