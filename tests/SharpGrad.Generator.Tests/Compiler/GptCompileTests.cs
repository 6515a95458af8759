using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// Issue 13's GPT-style zoo model (a pre-norm block over a ModuleList filled in a loop of a constructor count): the block
/// compiled on its own infers its input <c>[N, T, d]</c> through its LayerNorm from the MultiheadAttention after it, the
/// head after the loop over the blocks' programs gets the loop's output shape, and the statements before the loop (a
/// length read, the causal mask and the embeddings) are one region. No SG1019 anywhere.
/// </summary>
public class GptCompileTests
{
    internal const string Source = """
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public sealed partial class GptBlock
        {
            private readonly LayerNorm ln1;
            private readonly MultiheadAttention attn;
            private readonly LayerNorm ln2;
            private readonly Sequential mlp;

            public GptBlock(int d, int heads)
            {
                ln1 = new LayerNorm(d);
                attn = new MultiheadAttention(d, heads, batchFirst: true);
                ln2 = new LayerNorm(d);
                mlp = new Sequential(new Linear(d, 4 * d), new GELU(), new Linear(4 * d, d));
            }

            public Tensor Forward(Tensor x, Tensor causal)
            {
                var h = ln1.Forward(x);
                x = x + attn.Forward(h, h, h, attnMask: causal, needWeights: false).Output;
                return x + mlp.Forward(ln2.Forward(x));
            }
        }

        [Module]
        public sealed partial class Gpt
        {
            private readonly Embedding tok;
            private readonly Embedding pos;
            private readonly ModuleList<GptBlock> blocks;
            private readonly LayerNorm ln_f;
            private readonly Linear head;

            public Gpt(int vocab = 20, int d = 16, int heads = 4, int layers = 2, int maxLen = 12)
            {
                tok = new Embedding(vocab, d);
                pos = new Embedding(maxLen, d);
                blocks = new ModuleList<GptBlock>();
                for (int i = 0; i < layers; i++) blocks.Append(new GptBlock(d, heads));
                ln_f = new LayerNorm(d);
                head = new Linear(d, vocab, bias: false);
            }

            public Tensor Forward(Tensor tokens)
            {
                int t = tokens.Size(1);
                var causal = Tensor.Ones([t, t], DType.Bool).Triu(1);
                var x = tok.Forward(tokens) + pos.Forward(Tensor.Arange(t).Unsqueeze(0));
                foreach (var block in blocks) x = block.Forward(x, causal);
                return head.Forward(ln_f.Forward(x));
            }
        }
        """;

    private static string Generated(GeneratorRunResult result, string hint)
        => result.GeneratedSources.Single(s => s.HintName == hint).SourceText.ToString();

    [Fact]
    public void TheGptCompilesWithNoGraphBreak()
    {
        var (result, output) = GeneratorHarness.Run(Source);
        Assert.Empty(result.Diagnostics);   // no SG1019 in Gpt nor in GptBlock
        // GptBlock compiled on its own: the whole method, its input [N, T, d] inferred through ln1 from attn.
        var block = Generated(result, "Demo.Compiled.GptBlock.Compiled.g.cs");
        Assert.Contains("\"Forward: the whole method\"", block);
        // Gpt: the length read, the causal mask and the embeddings one region (the mask computed again after it, reading the
        // length again), the loop over the blocks' programs, the head a region of the loop's output.
        var runner = Generated(result, "Demo.Compiled.Gpt.Regions.g.cs");
        int region1 = runner.IndexOf("x = __compiled.ForwardRegion1(tokens);", StringComparison.Ordinal);
        int mask = runner.IndexOf("causal = Tensor.Ones([(tokens.Size(1)), (tokens.Size(1))], DType.Bool).Triu(1);", StringComparison.Ordinal);
        int loop = runner.IndexOf("foreach (var block in blocks) x = __compiled.__elements.Of(block, static __e => __e.Compile()).Forward(x, causal);", StringComparison.Ordinal);
        int region2 = runner.IndexOf("return __compiled.ForwardRegion2(x);", StringComparison.Ordinal);
        Assert.True(region1 >= 0 && mask > region1 && loop > mask && region2 > loop, runner);
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);
    }

    [Fact]
    public void AnIntLeftWithNoStatementReadingItInTheRegionEndsTheRegionBeforeIt()
    {
        // `int t` is read only by eager code after a break (a helper): the region ends before it, and the statement runs as
        // written (never a region leaving an int it does not return).
        string source = Source.Replace("var causal = Tensor.Ones([t, t], DType.Bool).Triu(1);", "var causal = Mask(t);")
            .Replace("public Tensor Forward(Tensor tokens)", "private static Tensor Mask(int t) => Tensor.Ones([t, t], DType.Bool).Triu(1);\n\n    public Tensor Forward(Tensor tokens)");
        Assert.Contains("Mask(t)", source);
        var (result, output) = GeneratorHarness.Run(source);
        var runner = Generated(result, "Demo.Compiled.Gpt.Regions.g.cs");
        Assert.Contains("int t = tokens.Size(1);", runner);
        Assert.Contains("var causal = Mask(t);", runner);
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);
    }

    [Fact]
    public void ADecoderLayerCalledAsAStatementRunsItsOwnProgram()
    {
        const string source = """
            using SharpGrad;
            using SharpGrad.Layers;

            namespace Demo.Compiled;

            [Module]
            public partial class Dec
            {
                private readonly TransformerDecoderLayer layer = new(8, 2, 16, dropout: 0.0, batchFirst: true);
                private readonly Linear head = new(8, 3);

                public Tensor Forward([Shape("N", 4, 8)] Tensor x, [Shape("N", 6, 8)] Tensor memory)
                {
                    var h = layer.Forward(Functional.Gelu(x), memory);
                    return head.Forward(h);
                }
            }
            """;
        var (result, output) = GeneratorHarness.Run(source);
        Assert.Empty(result.Diagnostics);
        var runner = Generated(result, "Demo.Compiled.Dec.Regions.g.cs");
        Assert.Contains("var h = __compiled.__elements.Of(layer, static __e => __e.Compile()).Forward(__sgArg0, memory);", runner);
        Assert.Contains("return __compiled.ForwardRegion2(h);", runner);
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);

        // Inside an expression that evaluates it first: its own program into a local, the head a region (session 11).
        string insideSource = source.Replace("var h = layer.Forward(Functional.Gelu(x), memory);", "")
            .Replace("return head.Forward(h);", "return head.Forward(layer.Forward(x, memory));");
        Assert.Contains("head.Forward(layer.Forward(x, memory))", insideSource);
        var (inside, _) = GeneratorHarness.Run(insideSource);
        Assert.Empty(inside.Diagnostics);
        Assert.Contains("var __sgPart0 = __compiled.__elements.Of(layer, static __e => __e.Compile()).Forward(x, memory);", Generated(inside, "Demo.Compiled.Dec.Regions.g.cs"));
        // After an operand that computes: that operand first (a region), then the layer's program (session 14; it was a named break).
        string afterSource = insideSource.Replace("return head.Forward(layer.Forward(x, memory));", "return head.Forward(Functional.Gelu(x) + layer.Forward(x, memory));");
        Assert.Contains("Functional.Gelu(x) + layer.Forward(x, memory)", afterSource);
        var (after, _) = GeneratorHarness.Run(afterSource);
        Assert.Empty(after.Diagnostics);
        var afterRunner = Generated(after, "Demo.Compiled.Dec.Regions.g.cs");
        int gelu = afterRunner.IndexOf("__sgPart0 = __compiled.ForwardRegion1(x);", StringComparison.Ordinal);
        int call = afterRunner.IndexOf("var __sgPart1 = __compiled.__elements.Of(layer, static __e => __e.Compile()).Forward(x, memory);", StringComparison.Ordinal);
        Assert.True(gelu >= 0 && call > gelu, afterRunner);
    }
}
