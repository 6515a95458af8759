using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// Embedding → recurrent layer (<c>RecurrentRule.MarkEmbeddedInput</c>): a lookup read by the layer alone is passed to the
/// layer's backward, which adds the table's gradient (the lookup's own backward only when the layer's hooks need its input
/// gradient); a lookup with a second reader, or a table another node differentiates, keeps today's scatter.
/// </summary>
public class EmbeddedRecurrentPlanTests
{
    private static string Net(string body) => $$"""
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public sealed partial class TokNet
        {
            private readonly Embedding embed = new(20, 6, paddingIdx: 1);
            private readonly GRU gru = new(6, 8, batchFirst: true);
            private readonly Linear head = new(8, 3);
            private readonly Linear side = new(6, 3);

            public Tensor Forward([Shape("N", 5)] Tensor tokens)
            {
                var e = embed.Forward(tokens);
                {{body}}
            }
        }
        """;

    private static string Generated(string source)
    {
        var (result, output) = GeneratorHarness.Run(source);
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.Problems(output));
        return result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.TokNet.Compiled.g.cs").SourceText.ToString();
    }

    [Fact]
    public void ALookupReadByTheLayerAloneIsFused()
    {
        var text = Generated(Net("return head.Forward(gru.Forward(e).Output.Select(1, 4));"));
        Assert.Contains("embedding: _embed, tokens: _forward_tokens!", text);
        Assert.Contains("if (global::SharpGrad.CompiledSupport.EmbeddingAfterRecurrent(_gru, _embed)) global::SharpGrad.CompiledSupport.EmbeddingBackward(", text);
    }

    [Fact]
    public void ALookupWithASecondReaderKeepsItsScatter()
    {
        var text = Generated(Net("return head.Forward(gru.Forward(e).Output.Select(1, 4)) + side.Forward(e.Mean(1));"));
        Assert.DoesNotContain("embedding: _embed", text);
        Assert.DoesNotContain("EmbeddingAfterRecurrent", text);
        Assert.Contains("global::SharpGrad.CompiledSupport.EmbeddingBackward(", text);
    }
}
