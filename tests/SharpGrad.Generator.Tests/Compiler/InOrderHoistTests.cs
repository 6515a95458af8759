using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// A statement that breaks, or that calls a child with a compiled program of its own after an operand that computes, is
/// linearized in C#'s evaluation order (<c>GraphParser.Linearize</c>/<c>HoistInOrder</c>, session 14): every operand evaluated
/// before the first break (or composed call) is computed first into a temporary, in order — a region where it compiles — then the
/// break eagerly (or the child's own program), and the operands evaluated after it are parsed again, so they compile too. Nothing
/// leaves a branch that may not run (<c>?:</c>, <c>??</c>). Runtime equality with eager (training with dropout: the order of random
/// draws) is CompiledInOrderHoistTests'.
/// </summary>
public class InOrderHoistTests
{
    private static string Model(string fields, string method, string extra = "") => $$"""
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public sealed partial class Net
        {
        {{fields}}

        {{method}}
        {{extra}}
        }
        """;

    private const string Helper = "    private static Tensor Helper(Tensor t) => t.Sigmoid();";

    private static (IReadOnlyList<Diagnostic> Breaks, string Runner, string Source) Run(string source)
    {
        var (result, output) = GeneratorHarness.Run(source);
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);
        Assert.All(result.Diagnostics, d => Assert.Equal(("SG1019", DiagnosticSeverity.Info), (d.Id, d.Severity)));
        var runner = result.GeneratedSources.SingleOrDefault(s => s.HintName == "Demo.Compiled.Net.Regions.g.cs").SourceText?.ToString() ?? "";
        return (result.Diagnostics, runner, source);
    }

    /// <summary>Asserts that <paramref name="parts"/> occur in <paramref name="runner"/> in this order.</summary>
    private static void InOrder(string runner, params string[] parts)
    {
        int at = -1;
        foreach (var part in parts)
        {
            int next = runner.IndexOf(part, at + 1, StringComparison.Ordinal);
            Assert.True(next > at, "`" + part + "` not found after position " + at + " in:\n" + runner);
            at = next;
        }
    }

    /// <summary>The composed call after an operand that computes: that operand first (a region), then the decoder's program, then the sum (a region). No break.</summary>
    [Fact]
    public void ADecoderCallAfterAComputedOperandCompilesInOrder()
    {
        var (breaks, runner, _) = Run(Model("    private readonly TransformerDecoder dec = new(new TransformerDecoderLayer(8, 2, 16, dropout: 0.1, batchFirst: true), 2);\n    private readonly Linear fc = new(8, 8);",
            """
                public Tensor Forward([Shape("N", "T", 8)] Tensor t, [Shape("N", "S", 8)] Tensor mem)
                {
                    return fc.Forward(t) + dec.Forward(t, mem);
                }
            """));
        Assert.Empty(breaks);
        InOrder(runner, "__sgPart0 = __compiled.ForwardRegion1(t);",
            "var __sgPart1 = __compiled.__elements.Of(dec, static __e => __e.Compile()).Forward(t, mem);",
            "return __compiled.ForwardRegion2(__sgPart0, __sgPart1);");
        Assert.DoesNotContain("fc.Forward", runner);
    }

    /// <summary>Two operands computing before the composed call (a call's receiver and its argument): each its temporary, in order.</summary>
    [Fact]
    public void EveryOperandBeforeTheComposedCallIsComputedFirstInOrder()
    {
        var (breaks, runner, _) = Run(Model("    private readonly TransformerDecoderLayer dec = new(8, 2, 16, dropout: 0.1, batchFirst: true);\n    private readonly Linear a = new(8, 8);\n    private readonly Linear b = new(8, 8);",
            """
                public Tensor Forward([Shape("N", "T", 8)] Tensor t, [Shape("N", "S", 8)] Tensor mem)
                {
                    var y = Functional.Relu(a.Forward(t)) * (b.Forward(t) - dec.Forward(t * 2f, mem));
                    return y;
                }
            """));
        Assert.Empty(breaks);
        InOrder(runner, "__sgPart0 = __compiled.ForwardRegion1(t);", "__sgPart1 = __compiled.ForwardRegion2(t);",
            "__sgArg0 = __compiled.ForwardRegion3(t);",
            "var __sgPart2 = __compiled.__elements.Of(dec, static __e => __e.Compile()).Forward(__sgArg0, mem);",
            "__compiled.ForwardRegion4(__sgPart0, __sgPart1, __sgPart2);");
    }

    /// <summary>
    /// An expression body: <c>=&gt; head.Forward(proj.Forward(x) * 0.5f + encoder.Forward(proj.Forward(x)))</c> (it was a named
    /// break): the first operand a region, the encoder's argument a region, its program, the rest a region.
    /// </summary>
    [Fact]
    public void AnExpressionBodyWithTheStackAfterAnOperandCompiles()
    {
        var (breaks, runner, _) = Run(Model("    private readonly Linear proj = new(6, 16);\n    private readonly TransformerEncoder encoder = new(new TransformerEncoderLayer(16, 4, 24, dropout: 0.0, batchFirst: true), 2);\n    private readonly Linear head = new(16, 3);",
            "    public Tensor Forward([Shape(\"N\", \"T\", 6)] Tensor x) => head.Forward(proj.Forward(x) * 0.5f + encoder.Forward(proj.Forward(x)));"));
        Assert.Empty(breaks);
        InOrder(runner, "__sgPart0 = __compiled.ForwardRegion1(x);", "__sgArg0 = __compiled.ForwardRegion2(x);",
            "var __sgPart1 = __compiled.__elements.Of(encoder, static __e => __e.Compile()).Forward(__sgArg0);",
            "__sgResult = __compiled.ForwardRegion3(__sgPart0, __sgPart1);", "return __sgResult;");
    }

    /// <summary>
    /// A break between two operands: the one before it a region, the break eagerly, and the one after it a region of its own
    /// (fc2's call compiles, it used to run eagerly with the break); the break is still named, once.
    /// </summary>
    [Fact]
    public void OperandsAfterABreakCompile()
    {
        var (breaks, runner, source) = Run(Model("    private readonly Linear fc1 = new(8, 8);\n    private readonly Linear fc2 = new(8, 8);",
            """
                public Tensor Forward([Shape("N", 8)] Tensor x)
                {
                    return fc1.Forward(x) + Helper(x) * fc2.Forward(x);
                }
            """, Helper));
        var d = Assert.Single(breaks);
        Assert.Equal("Helper(x)", source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
        InOrder(runner, "__sgPart0 = __compiled.ForwardRegion1(x);", "var __sgPart1 = Helper(x);", "__sgPart2 = __compiled.ForwardRegion2(x);",
            "return __sgPart0 + __sgPart1 * __sgPart2;");
        Assert.DoesNotContain("fc1.Forward", runner);
        Assert.DoesNotContain("fc2.Forward", runner);
    }

    /// <summary>
    /// A break's value read by a layer runs eagerly with the break's statement: the layer does not give the value its rank (a
    /// Linear takes any leading dims, so a [N, C, L] value would not be the [N, 8] a region would assume; CompiledEagerPrimitiveTests'
    /// ReflectPadNet). The operand before the break is still a region.
    /// </summary>
    [Fact]
    public void ALayerReadingTheBreaksValueRunsEagerly()
    {
        var (breaks, runner, _) = Run(Model("    private readonly Linear fc1 = new(8, 8);\n    private readonly Linear fc2 = new(8, 4);",
            """
                public Tensor Forward([Shape("N", 8)] Tensor x)
                {
                    var y = Functional.Relu(fc2.Forward(Helper(fc1.Forward(x)))) * 2f;
                    return y;
                }
            """, Helper));
        Assert.Single(breaks);
        InOrder(runner, "__sgPart0 = __compiled.ForwardRegion1(x);", "fc2.Forward(");
        Assert.DoesNotContain("ForwardRegion2", runner);
    }

    /// <summary>
    /// Nothing is moved out of a branch that may not run: the <c>?:</c> or <c>??</c> holding the break runs eagerly as a whole
    /// (its arms as written), after the operands before it (a region; the condition, eagerly).
    /// </summary>
    [Theory]
    [InlineData("fc1.Forward(x) + (x.Sum().Item() > 0f ? Helper(x) : fc2.Forward(x))", "return __sgPart0 + (__sgPart1 ? Helper(x) : fc2.Forward(x));")]
    [InlineData("fc1.Forward(x) + (extra ?? fc2.Forward(x))", "return __sgPart0 + (extra ?? fc2.Forward(x));")]
    public void NothingLeavesAConditionalBranch(string value, string eager)
    {
        var (breaks, runner, _) = Run(Model("    private readonly Linear fc1 = new(8, 8);\n    private readonly Linear fc2 = new(8, 8);",
            "    public Tensor Forward([Shape(\"N\", 8)] Tensor x, Tensor? extra)\n    {\n        return " + value + ";\n    }", Helper));
        Assert.NotEmpty(breaks);
        InOrder(runner, "__sgPart0 = __compiled.ForwardRegion1(x);", eager);
        Assert.DoesNotContain("ForwardRegion2", runner);
    }

    /// <summary>An operand with an effect the temporaries could reorder (an assignment inside the expression): the statement runs as written.</summary>
    [Fact]
    public void AnAssignmentInsideTheStatementKeepsItAsWritten()
    {
        var (breaks, runner, _) = Run(Model("    private readonly Linear fc1 = new(8, 8);\n    private readonly Linear fc2 = new(8, 8);",
            """
                public Tensor Forward([Shape("N", 8)] Tensor x)
                {
                    var z = fc1.Forward(x);
                    Tensor h = x;
                    var y = z + Helper(h = fc2.Forward(x)) + h;
                    return y;
                }
            """, Helper));
        Assert.NotEmpty(breaks);
        Assert.Contains("var y = z + Helper(h = fc2.Forward(x)) + h;", runner);
    }
}
