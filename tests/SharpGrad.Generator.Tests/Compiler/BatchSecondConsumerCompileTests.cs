using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// A batch-second (<c>batch_first=False</c>, PyTorch's default) Transformer layer's output [T, N, E] (the batch in dim 1) read by
/// the ops users write after it in the same compiled region — a LayerNorm, a Linear, a Dropout, a residual add, a mean over the
/// steps (dim 0), another encoder layer, a decoder layer — compiles with no graph break (SG1019). CompiledBatchSecondEncoderTests
/// runs such programs against eager.
/// </summary>
public class BatchSecondConsumerCompileTests
{
    private static string Module(string forward) => """
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public sealed partial class B
        {
            private readonly TransformerEncoderLayer layer = new(16, 2, 32, 0.1);
            private readonly TransformerEncoderLayer second = new(16, 4, 24, 0.0, normFirst: true);
            private readonly LayerNorm norm = new(16);
            private readonly Linear head = new(16, 3);
            private readonly Dropout drop = new(0.2);

            FORWARD
        }
        """.Replace("FORWARD", forward, StringComparison.Ordinal);

    public static TheoryData<string, string> Compiled => new()
    {
        { "LayerNorm", """public Tensor Forward([Shape("T", "N", 16)] Tensor x) => norm.Forward(layer.Forward(x));""" },
        { "Linear", """public Tensor Forward([Shape("T", "N", 16)] Tensor x) => head.Forward(layer.Forward(x));""" },
        { "Dropout and residual", """public Tensor Forward([Shape("T", "N", 16)] Tensor x) => drop.Forward(layer.Forward(x)) + x;""" },
        { "mean over the steps", """public Tensor Forward([Shape("T", "N", 16)] Tensor x) => head.Forward(norm.Forward(layer.Forward(x)).Mean(0));""" },
        { "two layers", """public Tensor Forward([Shape("T", "N", 16)] Tensor x) => norm.Forward(second.Forward(layer.Forward(x)));""" },
    };

    [Theory]
    [MemberData(nameof(Compiled))]
    public void ConsumersOfABatchSecondLayerCompileWithNoGraphBreak(string what, string forward)
    {
        var (result, output) = GeneratorHarness.Run(Module(forward));
        Assert.True(result.Diagnostics.IsEmpty, what + ": " + string.Join("\n", result.Diagnostics));
        var program = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.B.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("\"Forward: the whole method\"", program);
        Assert.Contains("batchFirst: false", program);
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);
    }
}
