using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// Layer options passed from the module's constructor parameters, as PyTorch users write them
/// (<c>def __init__(self, d, bidirectional, batch_first): self.rnn = nn.LSTM(d, d, bidirectional=bidirectional, batch_first=batch_first)</c>),
/// in a module compiled on its own: a bool option that decides the layer's program (RNN/LSTM/GRU <c>bidirectional</c>,
/// <c>batchFirst</c>, <c>bias</c>; TransformerEncoderLayer <c>normFirst</c>, <c>batchFirst</c>, <c>activation</c>; LayerNorm
/// <c>elementwiseAffine</c>; MultiheadAttention <c>batchFirst</c>) is compiled once per value, the region runner taking the one
/// the built layer has (<c>if (this.lstm.Bidirectional) …</c>); a double read by the kernels at each call (LayerNorm <c>eps</c>,
/// TransformerEncoderLayer <c>layerNormEps</c>, Dropout2d <c>p</c>) needs no variant. None is a graph break (SG1019) any more;
/// more than <c>GraphParser.MaxBranchTests</c> options in one method is, naming why. Compiled equals eager: SharpGrad.Tests'
/// CompiledConstructorFlagTests.
/// </summary>
public class ConstructorOptionCompileTests
{
    private static string Source(string parameters, string fields, string constructor, string forward) => $$"""
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public sealed partial class Model
        {
        {{fields}}

            public Model({{parameters}})
            {
        {{constructor}}
            }

        {{forward}}
        }
        """;

    public static TheoryData<string, string, string, string, string, string[]> Models() => new()
    {
        {
            "LSTM bidirectional, batchFirst, bias",
            "int d, bool bidirectional, bool batchFirst, bool bias",
            "    private readonly LSTM lstm;",
            "        lstm = new LSTM(d, 5, bidirectional: bidirectional, batchFirst: batchFirst, bias: bias);",
            "    public Tensor Forward(Tensor x) => lstm.Forward(x).Output;",
            ["if ((this.lstm.Bias) && (this.lstm.BatchFirst) && (this.lstm.Bidirectional))", "else if (!(this.lstm.Bias) && (this.lstm.BatchFirst) && !(this.lstm.Bidirectional))", "ForwardRegion8("]
        },
        {
            "GRU bidirectional (block body, a head after it)",
            "int d, bool bidirectional",
            "    private readonly GRU gru;\n    private readonly LayerNorm norm;",
            "        gru = new GRU(d, d, batchFirst: true, bidirectional: bidirectional);\n        norm = new LayerNorm(5);",
            "    public Tensor Forward([Shape(\"N\", 6, \"d\")] Tensor x)\n    {\n        var h = x * 2f;\n        var y = gru.Forward(h).Output;\n        return y.Sum(2);\n    }",
            ["if (this.gru.Bidirectional)", "ForwardRegion2("]
        },
        {
            "RNN nonlinearity",
            "int d, string nonlinearity",
            "    private readonly RNN rnn;",
            "        rnn = new RNN(d, 5, nonlinearity: nonlinearity, batchFirst: true);",
            "    public Tensor Forward([Shape(\"N\", 6, \"d\")] Tensor x) => rnn.Forward(x).Output;",
            ["if (this.rnn.Nonlinearity == \"relu\")", "ForwardRegion2("]
        },
        {
            "TransformerEncoderLayer normFirst, batchFirst, eps",
            "int d, int heads, bool normFirst, bool batchFirst, double eps",
            "    private readonly TransformerEncoderLayer layer;",
            "        layer = new TransformerEncoderLayer(d, heads, 16, 0.0, layerNormEps: eps, batchFirst: batchFirst, normFirst: normFirst);",
            "    public Tensor Forward(Tensor x) => layer.Forward(x);",
            ["if ((this.layer.BatchFirst) && (this.layer.NormFirst))", "_layer.LayerNormEps", "ForwardRegion4("]
        },
        {
            "TransformerEncoderLayer activation",
            "int d, string activation",
            "    private readonly TransformerEncoderLayer layer;",
            "        layer = new TransformerEncoderLayer(d, 2, 16, 0.1, activation, batchFirst: true);",
            "    public Tensor Forward([Shape(\"N\", 5, \"d\")] Tensor x) => layer.Forward(x);",
            ["if (this.layer.Activation == \"gelu\")", "ForwardRegion2("]
        },
        {
            "LayerNorm eps, elementwiseAffine",
            "int d, double eps, bool affine",
            "    private readonly LayerNorm norm;",
            "        norm = new LayerNorm(d, eps, elementwiseAffine: affine);",
            "    public Tensor Forward([Shape(\"N\", \"d\")] Tensor x) => norm.Forward(x) * 2f;",
            ["if (this.norm.ElementwiseAffine)", "ForwardRegion2("]
        },
        {
            "Dropout2d p",
            "double p",
            "    private readonly Dropout2d drop;\n    private readonly Conv2d conv;",
            "        drop = new Dropout2d(p);\n        conv = new Conv2d(3, 4, 3);",
            "    public Tensor Forward([Shape(\"N\", 3, 8, 8)] Tensor x) => drop.Forward(conv.Forward(x));",
            ["ChannelDropoutForward("]
        },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void AnOptionGivenToTheConstructorIsNoBreak(string name, string parameters, string fields, string constructor, string forward, string[] expected)
    {
        var (result, output) = GeneratorHarness.Run(Source(parameters, fields, constructor, forward));
        Assert.True(result.Diagnostics.IsEmpty, name + ":\n" + GeneratorHarness.Format(result.Diagnostics));
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);
        var compiled = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Model.Compiled.g.cs").SourceText.ToString();
        Assert.DoesNotContain("new(\"Forward\"", compiled);   // no break listed
        string program = compiled + string.Concat(result.GeneratedSources.Where(g => g.HintName.EndsWith(".Regions.g.cs", StringComparison.Ordinal)).Select(g => g.SourceText.ToString()));
        foreach (var text in expected) Assert.Contains(text, program);
    }

    /// <summary>
    /// Four tests in one method (an LSTM's three flags and a LayerNorm's elementwise_affine, from four parameters) would be 16
    /// programs: the cap (GraphParser.MaxBranchTests = 3) makes it a named break saying which test and why, never a guessed value.
    /// </summary>
    [Fact]
    public void MoreOptionsThanTheCapAreANamedBreak()
    {
        var (result, _) = GeneratorHarness.Run(Source(
            "int d, bool bidirectional, bool batchFirst, bool bias, bool affine",
            "    private readonly LSTM lstm;\n    private readonly LayerNorm norm;",
            "        lstm = new LSTM(d, 5, bidirectional: bidirectional, batchFirst: batchFirst, bias: bias);\n        norm = new LayerNorm(5, elementwiseAffine: affine);",
            "    public Tensor Forward(Tensor x) => norm.Forward(lstm.Forward(x).Output);"));
        var breaks = result.Diagnostics.Where(d => d.Id == "SG1019").Select(d => d.GetMessage()).ToList();
        Assert.Contains(breaks, m => m.Contains("this.norm.ElementwiseAffine", StringComparison.Ordinal) && m.Contains("one more than the 3 tests", StringComparison.Ordinal));
        Assert.Contains(breaks, m => m.Contains("given by a constructor parameter", StringComparison.Ordinal));
    }
}
