using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// Issue 13's need_weights: a [Module] whose Forward takes MultiheadAttention's weights (deconstructed, or `.Weights`; averaged
/// or per head) compiles with no graph break (SG1019): the weights are a second result of the attention's node
/// (CompiledSupport.AttentionWeights, its backward AttentionWeightsBackward), as a recurrent layer's final states are.
/// CompiledAttentionWeightsTests runs such programs against eager.
/// </summary>
public class AttentionWeightsCompileTests
{
    private const string Source = """
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public sealed partial class Attender
        {
            private readonly MultiheadAttention attn = new(8, 2, batchFirst: true);
            private readonly MultiheadAttention cross = new(8, 4);

            public Tensor Forward([Shape("N", "T", 8)] Tensor x, [Shape("N", "S", 8)] Tensor memory)
            {
                var (y, w) = attn.Forward(x, x, x);
                var h = y + w!.MatMul(y);
                var m = memory.Transpose(0, 1);
                var perHead = cross.Forward(h.Transpose(0, 1), m, m, averageAttnWeights: false).Weights!;
                return h + perHead.Sum(1).MatMul(memory);
            }
        }
        """;

    [Fact]
    public void TakenWeightsCompileWithNoGraphBreak()
    {
        var (result, output) = GeneratorHarness.Run(Source);
        Assert.DoesNotContain(result.Diagnostics, d => d.Id == "SG1019");
        Assert.Empty(result.Diagnostics);
        var program = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Attender.Compiled.g.cs").SourceText.ToString();
        // Calls too long for a line are wrapped after the parenthesis: one line each, spaces collapsed.
        program = System.Text.RegularExpressions.Regex.Replace(System.Text.RegularExpressions.Regex.Replace(program, @"\(\s+", "("), @"\s+", " ");
        Assert.Contains("\"Forward: the whole method\"", program);
        Assert.Contains("global::SharpGrad.CompiledSupport.AttentionWeights(true, ", program);
        Assert.Contains("global::SharpGrad.CompiledSupport.AttentionWeights(false, ", program);
        Assert.Contains("global::SharpGrad.CompiledSupport.AttentionWeightsBackward(true, ", program);
        Assert.Contains("global::SharpGrad.CompiledSupport.AttentionWeightsBackward(false, ", program);
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);
    }

    [Fact]
    public void WeightsOfACallWithoutNeedWeightsAreABreakNamingIt()
    {
        string source = Source.Replace("var (y, w) = attn.Forward(x, x, x);", "var (y, w) = attn.Forward(x, x, x, needWeights: false);");
        Assert.Contains("needWeights: false", source);
        var (result, _) = GeneratorHarness.Run(source);
        Assert.Contains(result.Diagnostics, d => d.Id == "SG1019" && d.GetMessage().Contains("needWeights: false", StringComparison.Ordinal));
    }
}
