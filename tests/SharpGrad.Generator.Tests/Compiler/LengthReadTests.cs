using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// A sequence length read in Forward (issue 12 item 3): <c>int t = tokens.Size(1)</c> or <c>tokens.Size(1)</c> in an
/// argument is the dim it reads — the token input's T, read at each call — so the masks and positions built from it and
/// the ops over it compile (the runtime's CompiledLengthReadTests check compiled = eager).
/// </summary>
public class LengthReadTests
{
    private static string Net(string forward) => $$"""
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public partial class TokenNet
        {
            private readonly Embedding tok = new(20, 8);
            private readonly Embedding pos = new(12, 8);
            private readonly MultiheadAttention attn = new(8, 2, batchFirst: true);
            private readonly Linear head = new(8, 3);

            public Tensor Forward(Tensor tokens)
            {
        {{forward}}
            }
        }
        """;

    private static string CompiledText(GeneratorRunResult result)
        => result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.TokenNet.Compiled.g.cs").SourceText.ToString();

    [Fact]
    public void ALengthReadIsTheTokenInputsSequenceLengthReadAtEachCall()
    {
        var (result, output) = GeneratorHarness.Run(Net("""
                    int t = tokens.Size(1);
                    var causal = Tensor.Ones([t, t], DType.Bool).Triu(1);
                    var x = tok.Forward(tokens) + pos.Forward(Tensor.Arange(t).Unsqueeze(0));
                    x = x + attn.Forward(x, x, x, attnMask: causal, needWeights: false).Output;
                    return head.Forward(x).Mean(1);
            """));
        Assert.Empty(result.Diagnostics);
        var text = CompiledText(result);
        // tokens is [N, T] (an Embedding's indices); T comes from its dim 1, and the data ops are called with it.
        Assert.Contains("_sym_T = global::SharpGrad.CompiledSupport.SizeAt(tokens, nameof(tokens), 1, 2, \"[N, T]\"", text);
        Assert.Contains("global::SharpGrad.Tensor.Ones(shape: new int[] { _sym_T, _sym_T }", text);
        Assert.Matches(@"global::SharpGrad\.Tensor\.Arange\(end: \([\w.:]+\)_sym_T\)", text);
        Assert.Contains("size: _sym_T, inner: 3, scale: 1f / (_sym_T)", text);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void ASizeReadInAnArgumentIsTheSameSymbol()
    {
        var (result, output) = GeneratorHarness.Run(Net("""
                    var positions = Tensor.Arange(tokens.Size(1)).Unsqueeze(0);
                    var x = tok.Forward(tokens) + pos.Forward(positions);
                    return head.Forward(x.View(tokens.Shape[0], tokens.Size(1), 8)).Sum(1);
            """));
        Assert.Empty(result.Diagnostics);
        Assert.Matches(@"global::SharpGrad\.Tensor\.Arange\(end: \([\w.:]+\)_sym_T\)", CompiledText(result));
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void SG1019_ASizeComputedFromALengthIsStillABreakAtTheArgument()
    {
        string source = Net("""
                    int t = tokens.Size(1);
                    var x = tok.Forward(tokens);
                    return head.Forward(x.View(-1, t * 2, 4)).Sum(1);
            """);
        var (result, _) = GeneratorHarness.Run(source);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("SG1019", d.Id);
        Assert.Equal("t * 2", source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
        Assert.Contains("the non-constant argument `t * 2`", d.GetMessage());
    }
}
