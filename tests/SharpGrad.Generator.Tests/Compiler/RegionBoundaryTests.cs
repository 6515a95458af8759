using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// Issue 13, session 11: what crosses a region boundary. A length read by eager code before a guard (<c>int t = tokens.Size(1);
/// if (t &gt; context) throw …</c>) is read again by the regions after it; the batch a value had in the region or declaration
/// that gave its shape is the batch of the region after a stack (a batch-second <c>[T, N, E]</c> keeps N as the batch); a
/// TransformerDecoder/TransformerDecoderLayer call inside an expression runs its own program into a local first, the
/// expression around it a region; an input declared batch second (<c>[Shape("T", "N", 8)]</c>) has its batch in dim 1.
/// Each has no SG1019 (runtime equality: CompiledRegionBoundaryTests, CharLMSampleTests).
/// </summary>
public class RegionBoundaryTests
{
    private static string Generated(GeneratorRunResult result, string hint)
        => result.GeneratedSources.Single(s => s.HintName == hint).SourceText.ToString();

    private static string Model(string className, string fields, string method) => $$"""
        using System;
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public sealed partial class {{className}}
        {
        {{fields}}

        {{method}}
        }
        """;

    /// <summary>Runs the generator; asserts no diagnostic at all (no SG1019 break) and an output that compiles; returns the runner and the program.</summary>
    private static (string Runner, string Compiled) NoBreak(string source, string className)
    {
        var (result, output) = GeneratorHarness.Run(source);
        Assert.True(result.Diagnostics.IsEmpty, string.Join("\n", result.Diagnostics.Select(d => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture))));
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);
        var runner = result.GeneratedSources.Any(s => s.HintName == $"Demo.Compiled.{className}.Regions.g.cs") ? Generated(result, $"Demo.Compiled.{className}.Regions.g.cs") : "";
        return (runner, Generated(result, $"Demo.Compiled.{className}.Compiled.g.cs"));
    }

    internal const string CharTransformerSource = """
        using System;
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public sealed partial class CharGpt
        {
            private readonly int context;
            private readonly Embedding tok;
            private readonly Embedding pos;
            private readonly TransformerEncoder blocks;
            private readonly LayerNorm ln_f;
            private readonly Linear head;

            public CharGpt(int vocabulary, int dModel, int heads, int layers, int context)
            {
                this.context = context;
                tok = new Embedding(vocabulary, dModel);
                pos = new Embedding(context, dModel);
                var layer = new TransformerEncoderLayer(dModel, heads, 4 * dModel, dropout: 0.0, activation: "gelu", batchFirst: true, normFirst: true);
                blocks = new TransformerEncoder(layer, layers);
                ln_f = new LayerNorm(dModel);
                head = new Linear(dModel, vocabulary);
            }

            public Tensor Forward([Shape("N", "T")] Tensor tokens)
            {
                ArgumentNullException.ThrowIfNull(tokens);
                int t = tokens.Size(1);
                if (t > context) throw new ArgumentException("too long");
                var causal = Tensor.Ones([t, t], DType.Bool).Triu(1);
                var x = tok.Forward(tokens) + pos.Forward(Tensor.Arange(t).Unsqueeze(0));
                var h = blocks.Forward(x, causal);
                return head.Forward(ln_f.Forward(h));
            }
        }
        """;

    /// <summary>
    /// The sample's CharTransformer: the guards and the length read run as written, the mask and both embeddings are one region
    /// (the length read again), the stack its own program, the final LayerNorm and head a region of the stack's output
    /// ([N, T, d], its batch N the first region's): no break.
    /// </summary>
    [Fact]
    public void TheCharTransformerCompilesWithNoBreak()
    {
        var (runner, compiled) = NoBreak(CharTransformerSource, "CharGpt");
        int region1 = runner.IndexOf("x = __compiled.ForwardRegion1(tokens);", StringComparison.Ordinal);
        int stack = runner.IndexOf("var h = __compiled.__elements.Of(blocks, static __e => __e.Compile()).Forward(x, causal);", StringComparison.Ordinal);
        int region2 = runner.IndexOf("return __compiled.ForwardRegion2(h);", StringComparison.Ordinal);
        Assert.True(region1 >= 0 && stack > region1 && region2 > stack, runner);
        Assert.Contains("causal = Tensor.Ones([t, t], DType.Bool).Triu(1);", runner);
        Assert.DoesNotContain("pos.Forward", runner);   // the position embedding is compiled, not run as written
        Assert.Contains("s_breaks =", compiled);
        Assert.DoesNotContain("new(\"Forward\"", compiled);
    }

    /// <summary>
    /// A length read reassigned later (or read from a tensor reassigned later) is not read again by a region: the statement
    /// that uses it runs as written, never with another length.
    /// </summary>
    [Fact]
    public void ALengthReassignedLaterIsNotReadAgain()
    {
        string source = CharTransformerSource.Replace("var h = blocks.Forward(x, causal);", "t = t + 0;\n        var h = blocks.Forward(x, causal);");
        Assert.Contains("t = t + 0;", source);
        var (result, output) = GeneratorHarness.Run(source);
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);
        var runner = Generated(result, "Demo.Compiled.CharGpt.Regions.g.cs");
        Assert.Contains("pos.Forward(Tensor.Arange(t).Unsqueeze(0))", runner);
    }

    public static TheoryData<string, string, string> DecoderInExpression() => new()
    {
        {
            "    private readonly TransformerDecoder decoder = new(new TransformerDecoderLayer(8, 2, 16, dropout: 0.0, batchFirst: true), 2);\n    private readonly Linear head = new(8, 3);",
            """
                public Tensor Forward([Shape("N", "T", 8)] Tensor tgt, [Shape("N", "S", 8)] Tensor memory)
                {
                    int t = tgt.Size(1);
                    var m = Tensor.Ones([t, t], DType.Bool).Triu(1);
                    var x = Functional.Gelu(tgt);
                    return head.Forward(decoder.Forward(tgt, memory, tgtMask: m) + x);
                }
            """,
            "var __sgPart0 = __compiled.__elements.Of(decoder, static __e => __e.Compile()).Forward(tgt, memory, tgtMask: m);"
        },
        {
            "    private readonly TransformerDecoderLayer dec = new(8, 2, 16, dropout: 0.0, batchFirst: true);\n    private readonly LayerNorm norm = new(8);",
            """
                public Tensor Forward([Shape("N", "T", 8)] Tensor t, [Shape("N", "S", 8)] Tensor mem)
                {
                    var y = norm.Forward(dec.Forward(t * 2f, mem));
                    return y * 0.5f;
                }
            """,
            "var __sgPart0 = __compiled.__elements.Of(dec, static __e => __e.Compile()).Forward(__sgArg0, mem);"
        },
        {
            "    private readonly TransformerDecoderLayer layer = new(8, 2, 16, dropout: 0.0, batchFirst: true);\n    private readonly Linear head = new(8, 3);",
            """
                public Tensor Forward([Shape("N", "T", 8)] Tensor x, [Shape("N", "S", 8)] Tensor memory) => head.Forward(layer.Forward(x, memory));
            """,
            "var __sgPart0 = __compiled.__elements.Of(layer, static __e => __e.Compile()).Forward(x, memory);"
        },
    };

    /// <summary>A decoder (layer) call inside an expression runs its own program into a local, the expression around it compiled: no break.</summary>
    [Theory]
    [MemberData(nameof(DecoderInExpression))]
    public void ADecoderCallInsideAnExpressionCompiles(string fields, string method, string call)
    {
        var (runner, _) = NoBreak(Model("Dec", fields, method), "Dec");
        Assert.Contains(call, runner);
        Assert.Matches(@"(return|__sgResult =) __compiled\.ForwardRegion\d\((__sgPart0|y)[,)]", runner);
        Assert.DoesNotContain(".Forward(t * 2f", runner);   // never the call as written after its program ran
    }

    /// <summary>An expression body that is only the decoder layer's call runs its program; no break.</summary>
    [Fact]
    public void AnExpressionBodyThatIsTheDecoderCallRunsItsProgram()
    {
        var (runner, _) = NoBreak(Model("Dec", "    private readonly TransformerDecoderLayer layer = new(8, 2, 16, dropout: 0.0, batchFirst: true);",
            "    public Tensor Forward([Shape(\"N\", \"T\", 8)] Tensor x, [Shape(\"N\", \"S\", 8)] Tensor memory) => layer.Forward(x * 2f, memory);"), "Dec");
        Assert.Contains("var __sgPart0 = __compiled.__elements.Of(layer, static __e => __e.Compile()).Forward(__sgArg0, memory);", runner);
        Assert.Contains("return __sgResult;", runner);
    }

    /// <summary>
    /// A decoder call after another operand that computes (<c>fc.Forward(x) + decoder.Forward(…)</c>) runs after it, as written:
    /// that operand is computed first by a region, then the decoder's program, then the sum (session 14; it was a named break).
    /// </summary>
    [Fact]
    public void ADecoderCallAfterAComputedOperandRunsAfterIt()
    {
        var (runner, _) = NoBreak(Model("Dec", "    private readonly TransformerDecoderLayer dec = new(8, 2, 16, dropout: 0.0, batchFirst: true);\n    private readonly Linear fc = new(8, 8);",
            """
                public Tensor Forward([Shape("N", "T", 8)] Tensor t, [Shape("N", "S", 8)] Tensor mem)
                {
                    return fc.Forward(t) + dec.Forward(t, mem);
                }
            """), "Dec");
        int first = runner.IndexOf("__sgPart0 = __compiled.ForwardRegion1(t);", StringComparison.Ordinal);
        int call = runner.IndexOf("var __sgPart1 = __compiled.__elements.Of(dec, static __e => __e.Compile()).Forward(t, mem);", StringComparison.Ordinal);
        int sum = runner.IndexOf("return __compiled.ForwardRegion2(__sgPart0, __sgPart1);", StringComparison.Ordinal);
        Assert.True(first >= 0 && call > first && sum > call, runner);
    }

    /// <summary>An input declared batch second ([T, N, 8]) read by a batch_first=False layer: the batch is dim 1, T read at each call; no break.</summary>
    [Fact]
    public void AnInputDeclaredBatchSecondCompiles()
    {
        var (_, compiled) = NoBreak(Model("Seq", "    private readonly TransformerEncoderLayer layer = new(8, 2, 16, dropout: 0.0);",
            "    public Tensor Forward([Shape(\"T\", \"N\", 8)] Tensor x) => Functional.Relu(layer.Forward(x));"), "Seq");
        Assert.Contains("\"Forward: the whole method\"", compiled);
        Assert.Contains("SizeAt(x, nameof(x), 0, 3, \"[T, N, 8]\", \"T\"", compiled);
        Assert.Contains("int n = global::SharpGrad.CompiledSupport.CheckInput(x, nameof(x)", compiled);
    }

    /// <summary>
    /// After a batch-second stack ([T, N, 8] from <c>x.Transpose(0, 1)</c>), the region reading its output takes N (dim 1) as its
    /// batch, as the region before the stack had it, so a batch-second layer there compiles (with T as the batch it would not).
    /// </summary>
    [Fact]
    public void ARegionAfterABatchSecondStackKeepsItsBatch()
    {
        var (runner, _) = NoBreak(Model("Seq",
            "    private readonly TransformerEncoder stack = new(new TransformerEncoderLayer(8, 2, 16, dropout: 0.0), 2);\n    private readonly TransformerEncoderLayer last = new(8, 2, 16, dropout: 0.0);",
            """
                public Tensor Forward([Shape("N", "T", 8)] Tensor x)
                {
                    var h = stack.Forward(x.Transpose(0, 1));
                    return Functional.Tanh(last.Forward(h)).Transpose(0, 1);
                }
            """), "Seq");
        Assert.Contains("return __compiled.ForwardRegion2(h);", runner);
    }
}
