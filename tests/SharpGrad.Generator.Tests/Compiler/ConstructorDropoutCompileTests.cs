using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// A dropout probability passed to the module's constructor, as PyTorch users write it
/// (<c>def __init__(self, d, heads, ff, dropout): self.layer = nn.TransformerEncoderLayer(d, heads, ff, dropout)</c>): the
/// compiled kernels read p from the layer at each call, so p need not be known at build time — no graph break (SG1019) for a
/// <c>TransformerEncoderLayer</c>, a <c>MultiheadAttention</c> (whose call then takes the attention path that handles any
/// dropout), a <c>TransformerDecoderLayer</c> or a <c>Dropout</c>. Compiled equals eager: SharpGrad.Tests'
/// CompiledConstructorDropoutTests.
/// </summary>
public class ConstructorDropoutCompileTests
{
    private static string Source(string fields, string constructor, string forward) => $$"""
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public sealed partial class Model
        {
        {{fields}}
            private readonly Linear head;

            public Model(int d, int heads, int ff, double dropout)
            {
        {{constructor}}
                head = new Linear(d, 3);
            }

            public Tensor Forward([Shape("N", 5, 8)] Tensor x)
            {
        {{forward}}
            }
        }
        """;

    public static TheoryData<string, string, string, string, string> Models() => new()
    {
        {
            "encoder layer",
            "    private readonly TransformerEncoderLayer layer;",
            "        layer = new TransformerEncoderLayer(d, heads, ff, dropout, batchFirst: true);",
            "        return head.Forward(layer.Forward(x));",
            "EncoderLayerForward("
        },
        {
            "encoder layer (float parameter, named)",
            "    private readonly TransformerEncoderLayer layer;",
            "        float p = (float)dropout;\n        layer = new TransformerEncoderLayer(d, heads, ff, dropout: p, batchFirst: true);",
            "        return head.Forward(layer.Forward(x));",
            "EncoderLayerForward("
        },
        {
            "multihead attention",
            "    private readonly MultiheadAttention attn;",
            "        attn = new MultiheadAttention(d, heads, dropout: dropout, batchFirst: true);",
            "        return head.Forward(attn.Forward(x, x, x, needWeights: false).Output + x);",
            "CrossAttentionForward("
        },
        {
            "decoder layer",
            "    private readonly TransformerDecoderLayer layer;",
            "        layer = new TransformerDecoderLayer(d, heads, ff, dropout: dropout, batchFirst: true);",
            "        var h = layer.Forward(x, x);\n        return head.Forward(h);",
            "Compile()).Forward(x, x)"
        },
        {
            "dropout",
            "    private readonly Dropout drop;",
            "        drop = new Dropout(dropout);",
            "        return head.Forward(drop.Forward(x));",
            "drop.P, "
        },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void ADropoutGivenToTheConstructorIsNoBreak(string name, string fields, string constructor, string forward, string call)
    {
        var (result, output) = GeneratorHarness.Run(Source(fields, constructor, forward));
        Assert.True(result.Diagnostics.IsEmpty, name + ":\n" + GeneratorHarness.Format(result.Diagnostics));
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);
        var compiled = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Model.Compiled.g.cs").SourceText.ToString();
        Assert.DoesNotContain("new(\"Forward\"", compiled);   // no break listed
        string program = compiled + string.Concat(result.GeneratedSources.Where(g => g.HintName.EndsWith(".Regions.g.cs", StringComparison.Ordinal)).Select(g => g.SourceText.ToString()));
        Assert.Contains(call, program);
    }

    /// <summary>
    /// A MultiheadAttention whose p is not known at build time takes the attention that handles any dropout (p read from the
    /// layer at each call), never the fused dropout-free self-attention; with the constant 0.0 it keeps the fused path.
    /// </summary>
    [Theory]
    [InlineData("dropout", "CrossAttentionForward(", "SelfAttentionForward(")]
    [InlineData("0.0", "SelfAttentionForward(", "CrossAttentionForward(")]
    public void AnAttentionWhoseDropoutIsNotKnownTakesThePathThatHandlesAnyDropout(string p, string taken, string notTaken)
    {
        var (result, output) = GeneratorHarness.Run(Source(
            "    private readonly MultiheadAttention attn;",
            $"        attn = new MultiheadAttention(d, heads, dropout: {p}, batchFirst: true);",
            "        return head.Forward(attn.Forward(x, x, x, needWeights: false).Output + x);"));
        Assert.True(result.Diagnostics.IsEmpty, GeneratorHarness.Format(result.Diagnostics));
        Assert.DoesNotContain(GeneratorHarness.Problems(output), d => d.Severity == DiagnosticSeverity.Error);
        var compiled = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Model.Compiled.g.cs").SourceText.ToString();
        Assert.Contains(taken, compiled);
        Assert.DoesNotContain(notTaken, compiled);
    }
}
