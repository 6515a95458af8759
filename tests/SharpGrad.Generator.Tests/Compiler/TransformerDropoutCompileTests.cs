using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// A TransformerEncoderLayer with dropout (the default 0.1, or any p) is no graph break: the rule plans the fused kernel call
/// (<c>CompiledSupport.EncoderLayerForward</c>), which reads the layer's dropouts (mode, p, generator) at each call — in
/// training they draw eager's masks (checked against eager in SharpGrad.Tests' CompiledTransformerDropoutTests).
/// </summary>
public class TransformerDropoutCompileTests
{
    [Theory]
    [InlineData("new(8, 2, 16, batchFirst: true)")]
    [InlineData("new(8, 2, 16, dropout: 0.5, activation: \"gelu\", normFirst: true)")]
    public void AnEncoderLayerWithDropoutIsCompiledWithoutABreak(string creation)
    {
        bool batchFirst = creation.Contains("batchFirst", StringComparison.Ordinal);
        string call = batchFirst ? "layer.Forward(x)" : "layer.Forward(x.Transpose(0, 1)).Transpose(0, 1)";
        string source = $$"""
            using SharpGrad;
            using SharpGrad.Layers;

            namespace Demo.Compiled;

            [Module]
            public partial class Enc
            {
                private readonly TransformerEncoderLayer layer = {{creation}};
                private readonly Linear head = new(8, 3);

                public Tensor Forward([Shape("N", 5, 8)] Tensor x) => head.Forward({{call}});
            }
            """;
        var (result, output) = GeneratorHarness.Run(source);
        Assert.Empty(result.Diagnostics);
        var compiled = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Enc.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("EncoderLayerForward(", compiled);
        Assert.Contains("EncoderLayerBackward(", compiled);
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);
    }
}
