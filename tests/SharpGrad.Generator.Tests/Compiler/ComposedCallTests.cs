using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// A <c>TransformerEncoder(layer, layers)</c> with a count from the constructor (issue 13's Transformer classifier): a call of it
/// that is a statement of its own is no break — the runner calls the stack's own compiled program, its argument is the output of
/// the region before it (the padding mask, data, computed again after that region), and the region after it knows the result's
/// shape; a call inside an expression runs the program into a local, in the statement's evaluation order.
/// </summary>
public class ComposedCallTests
{
    private static string Classifier(string forward) => $$"""
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public partial class Classifier
        {
            private readonly long pad;
            private readonly Embedding embed;
            private readonly Embedding pos;
            private readonly TransformerEncoder encoder;
            private readonly Linear head;

            public Classifier(int dModel, int layers, int pad = 0)
            {
                this.pad = pad;
                embed = new Embedding(20, dModel, paddingIdx: pad);
                pos = new Embedding(10, dModel);
                encoder = new TransformerEncoder(new TransformerEncoderLayer(dModel, 4, 32, dropout: 0.0, batchFirst: true), layers);
                head = new Linear(dModel, 3);
            }

            public Tensor Forward(Tensor tokens)
            {
        {{forward}}
            }
        }
        """;

    private const string ZooForward = """
                var mask = tokens.Eq(pad);
                var positions = Tensor.Arange(tokens.Size(1)).Unsqueeze(0);
                var h = encoder.Forward(embed.Forward(tokens) + pos.Forward(positions), srcKeyPaddingMask: mask);
                var keep = tokens.Ne(pad).Unsqueeze(-1).To(DType.Float32);
                return head.Forward((h * keep).Sum(1) / keep.Sum(1));
        """;

    [Fact]
    public void AStatementCallingTheStackRunsItsProgramBetweenTwoCompiledRegions()
    {
        var (result, output) = GeneratorHarness.Run(Classifier(ZooForward));
        Assert.Empty(result.Diagnostics);
        var runner = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Classifier.Regions.g.cs").SourceText.ToString();
        var compiled = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Classifier.Compiled.g.cs").SourceText.ToString();
        // The region before the call computes its argument; the mask it also leaves is computed again after it, as written.
        int region1 = runner.IndexOf("__sgArg0 = __compiled.ForwardRegion1(tokens);", StringComparison.Ordinal);
        int mask = runner.IndexOf("mask = tokens.Eq(pad);", region1 + 1, StringComparison.Ordinal);
        int call = runner.IndexOf("var h = __compiled.__elements.Of(encoder, static __e => __e.Compile()).Forward(__sgArg0, srcKeyPaddingMask: mask);", StringComparison.Ordinal);
        int region2 = runner.IndexOf("return __compiled.ForwardRegion2(", StringComparison.Ordinal);
        Assert.True(region1 >= 0 && mask > region1 && call > mask && region2 > call, runner);
        // Both regions are compiled programs (the second knows h's shape from the call's argument), and the stack's program is listed.
        Assert.Contains("internal global::SharpGrad.Tensor ForwardRegion1(", compiled);
        Assert.Contains("internal global::SharpGrad.Tensor ForwardRegion2(", compiled);
        Assert.Contains("__elements.ExplainChild(new(s_regions, s_breaks), \"Forward, ", compiled);
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);
    }

    /// <summary>
    /// The stack called inside an expression runs its own program into a local, the expression a region (session 11); after an
    /// operand that computes, that operand is computed first (a region), in the order written (session 14): no break either way.
    /// </summary>
    [Fact]
    public void TheStackCalledInsideAnExpressionRunsItsProgramInOrder()
    {
        var (first, firstOutput) = GeneratorHarness.Run(Classifier("""
                    var x = embed.Forward(tokens);
                    return head.Forward(encoder.Forward(x).Mean(1));
            """));
        Assert.Empty(first.Diagnostics);
        var runner = first.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Classifier.Regions.g.cs").SourceText.ToString();
        Assert.Contains("var __sgPart0 = __compiled.__elements.Of(encoder, static __e => __e.Compile()).Forward(x);", runner);
        Assert.Contains("return __compiled.ForwardRegion2(__sgPart0);", runner);
        Assert.DoesNotContain(GeneratorHarness.Problems(firstOutput), p => p.Severity == DiagnosticSeverity.Error);

        string source = Classifier("""
                    var x = embed.Forward(tokens);
                    return head.Forward(x.Mean(1) + encoder.Forward(x).Mean(1));
            """);
        var (result, output) = GeneratorHarness.Run(source);
        Assert.Empty(result.Diagnostics);
        var after = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Classifier.Regions.g.cs").SourceText.ToString();
        int mean = after.IndexOf("__sgPart0 = __compiled.ForwardRegion", StringComparison.Ordinal);
        int call = after.IndexOf("var __sgPart1 = __compiled.__elements.Of(encoder, static __e => __e.Compile()).Forward(x);", StringComparison.Ordinal);
        int rest = after.IndexOf("(__sgPart0, __sgPart1);", StringComparison.Ordinal);
        Assert.True(mean >= 0 && call > mean && rest > call, after);
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);
    }
}
