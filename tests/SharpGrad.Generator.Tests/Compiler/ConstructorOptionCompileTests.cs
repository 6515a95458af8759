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
/// more than <c>GraphParser.MaxBranchPrograms</c> (16) reachable combinations in one method is, naming why. Compiled equals eager: SharpGrad.Tests'
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
        string program = ProgramWithoutBreak(name, parameters, fields, constructor, forward);
        foreach (var text in expected) Assert.Contains(text, program);
    }

    /// <summary>
    /// Runs the generator on the model and returns its compiled method's text with its regions', after asserting no
    /// diagnostic, no compile error in the output and no break listed.
    /// </summary>
    private static string ProgramWithoutBreak(string name, string parameters, string fields, string constructor, string forward)
    {
        var (result, output) = GeneratorHarness.Run(Source(parameters, fields, constructor, forward));
        Assert.True(result.Diagnostics.IsEmpty, name + ":\n" + GeneratorHarness.Format(result.Diagnostics));
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);
        var compiled = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Model.Compiled.g.cs").SourceText.ToString();
        Assert.DoesNotContain("new(\"Forward\"", compiled);   // no break listed
        string program = compiled + string.Concat(result.GeneratedSources.Where(g => g.HintName.EndsWith(".Regions.g.cs", StringComparison.Ordinal)).Select(g => g.SourceText.ToString()));
        return program;
    }

    /// <summary>
    /// Five tests in one method from five parameters (an LSTM's three flags, a LayerNorm's elementwise_affine, a GRU's bias) would
    /// be 32 programs: the cap (GraphParser.MaxBranchPrograms = 16 reachable combinations) makes it a named break saying which
    /// test, how many programs and why, never a guessed value.
    /// </summary>
    [Fact]
    public void MoreProgramsThanTheCapAreANamedBreak()
    {
        var (result, _) = GeneratorHarness.Run(Source(
            "int d, bool bidirectional, bool batchFirst, bool bias, bool affine, bool gruBias",
            "    private readonly LSTM lstm;\n    private readonly LayerNorm norm;\n    private readonly GRU gru;",
            "        lstm = new LSTM(d, 5, bidirectional: bidirectional, batchFirst: batchFirst, bias: bias);\n        norm = new LayerNorm(5, elementwiseAffine: affine);\n        gru = new GRU(5, 5, batchFirst: true, bias: gruBias);",
            "    public Tensor Forward(Tensor x) => gru.Forward(norm.Forward(lstm.Forward(x).Output)).Output;"));
        var breaks = result.Diagnostics.Where(d => d.Id == "SG1019").Select(d => d.GetMessage()).ToList();
        Assert.Contains(breaks, m => m.Contains("the test `this.", StringComparison.Ordinal) && m.Contains("would make 32 programs", StringComparison.Ordinal)
                                     && m.Contains("more than the 16", StringComparison.Ordinal)
                                     && m.Contains("in statements of their own", StringComparison.Ordinal));
        Assert.Contains(breaks, m => m.Contains("given by a constructor parameter", StringComparison.Ordinal));
    }

    /// <summary>
    /// Options computed from the constructor's parameters (PyTorch: <c>nn.LSTM(…, bidirectional=not unidirectional, bias=mode == 2)</c>):
    /// tested on the built layer as a parameter's are; the combinations compiled are those the parameters can reach (an LSTM built
    /// with <c>!flag</c> and a GRU with <c>flag</c> are never both bidirectional: 2 programs, not 4), so more than four options
    /// derived from few parameters compile; a size a flag decides (<c>flag ? 2 * h : h</c>, nested, from a local) is a size of its
    /// own bound when the module is built, no break.
    /// </summary>
    public static TheoryData<string, string, string, string, string, string[], string[]> DerivedModels() => new()
    {
        {
            "!flag, flag: two tests, two programs",
            "int d, bool flag",
            "    private readonly LSTM lstm;\n    private readonly GRU gru;",
            "        lstm = new LSTM(d, 5, bidirectional: !flag, batchFirst: true);\n        gru = new GRU(d, 5, bidirectional: flag, batchFirst: true);",
            "    public Tensor Forward(Tensor x) => lstm.Forward(x).Output.Sum(2) + gru.Forward(x).Output.Sum(2);",
            ["if ((this.lstm.Bidirectional) && !(this.gru.Bidirectional))", "ForwardRegion2("],
            ["ForwardRegion3("]
        },
        {
            "flag && other, mode == 2, mode != 0",
            "int d, bool unidirectional, bool useBias, int mode",
            "    private readonly LSTM lstm;",
            "        lstm = new LSTM(d, 5, bidirectional: !unidirectional, batchFirst: mode == 2, bias: useBias && mode != 0);",
            "    public Tensor Forward(Tensor x) => lstm.Forward(x).Output;",
            ["this.lstm.Bidirectional", "this.lstm.BatchFirst", "this.lstm.Bias", "ForwardRegion8("],
            ["ForwardRegion9("]
        },
        {
            "five options from two parameters",
            "int d, bool a, bool b",
            "    private readonly LSTM lstm;\n    private readonly GRU gru;\n    private readonly LayerNorm norm;",
            "        lstm = new LSTM(d, 5, bidirectional: a, batchFirst: true, bias: b);\n        gru = new GRU(d, 5, bidirectional: !a, batchFirst: true, bias: a || b);\n        norm = new LayerNorm(5, elementwiseAffine: a && b);",
            "    public Tensor Forward([Shape(\"N\", 5, \"d\")] Tensor x) => norm.Forward(lstm.Forward(x).Output.Sum(2) + gru.Forward(x).Output.Sum(2));",
            ["ForwardRegion4("],
            ["ForwardRegion5("]
        },
        {
            "a head sized by the flag",
            "int d, int hidden, bool bidirectional",
            "    private readonly LSTM lstm;\n    private readonly Linear head;",
            "        lstm = new LSTM(d, hidden, bidirectional: bidirectional, batchFirst: true);\n        head = new Linear(bidirectional ? 2 * hidden : hidden, 4);",
            "    public Tensor Forward(Tensor x) => head.Forward(lstm.Forward(x).Output);",
            ["if (this.lstm.Bidirectional)", "ForwardRegion2(", "head.in_features"],
            []
        },
        {
            "widths from flags: h * 2, nested, a local",
            "int d, int hidden, bool wide, bool bidirectional",
            "    private readonly LSTM lstm;\n    private readonly Linear head;",
            "        lstm = new LSTM(d, hidden, bidirectional: bidirectional, batchFirst: true);\n        int width = bidirectional ? (wide ? 2 * hidden : hidden * 2) : hidden;\n        head = new Linear(width, 3);",
            "    public Tensor Forward(Tensor x) => head.Forward(lstm.Forward(x).Output);",
            ["if (this.lstm.Bidirectional)", "ForwardRegion2("],
            ["ForwardRegion3("]
        },
    };

    [Theory]
    [MemberData(nameof(DerivedModels))]
    public void AnOptionOrSizeComputedFromTheConstructorsParametersIsNoBreak(string name, string parameters, string fields, string constructor, string forward, string[] expected, string[] absent)
    {
        string program = ProgramWithoutBreak(name, parameters, fields, constructor, forward);
        foreach (var text in expected) Assert.Contains(text, program);
        foreach (var text in absent) Assert.DoesNotContain(text, program);   // the combinations the parameters cannot reach are not compiled
    }

    /// <summary>
    /// Options of layers that are items of a readonly Sequential (<c>nn.Sequential(nn.Linear(d, d), nn.LayerNorm(d,
    /// elementwise_affine=affine))</c>) or of a ModuleList iterated by foreach (<c>nn.ModuleList([nn.LayerNorm(d,
    /// elementwise_affine=affine) for _ in range(2)])</c>, <c>for n in self.norms: h = n(h)</c>): tested on the built item, one region
    /// per value, no break. Items built from one parameter share the first one's test, and the runner checks the others still agree
    /// (a list's item may be replaced after the constructor); items built with different options (<c>affine</c>, <c>!affine</c>) are
    /// tested each.
    /// </summary>
    public static TheoryData<string, string, string, string, string, string[]> ItemModels() => new()
    {
        {
            "Sequential item",
            "int d, bool affine",
            "    private readonly Sequential body;",
            "        body = new Sequential(new Linear(d, d), new LayerNorm(d, elementwiseAffine: affine));",
            "    public Tensor Forward([Shape(\"N\", \"d\")] Tensor x) => body.Forward(x) * 2f;",
            ["((global::SharpGrad.Layers.LayerNorm)this.body[1]).ElementwiseAffine", "ForwardRegion2("]
        },
        {
            "ModuleList items filled in a loop, foreach",
            "int d, bool affine",
            "    private readonly ModuleList<LayerNorm> norms = new();",
            "        for (int i = 0; i < 2; i++) norms.Append(new LayerNorm(d, elementwiseAffine: affine));",
            "    public Tensor Forward([Shape(\"N\", \"d\")] Tensor x)\n    {\n        var h = x * 2f;\n        foreach (var n in norms) h = n.Forward(h);\n        return h;\n    }",
            ["((global::SharpGrad.Layers.LayerNorm)this.norms[0]).ElementwiseAffine", "ForwardRegion2(", "if ((((global::SharpGrad.Layers.LayerNorm)this.norms[1]).ElementwiseAffine) != (((global::SharpGrad.Layers.LayerNorm)this.norms[0]).ElementwiseAffine)) throw"]
        },
        {
            "ModuleList items with options that differ per item",
            "int d, bool affine",
            "    private readonly ModuleList<LayerNorm> norms = new();",
            "        norms.Append(new LayerNorm(d, elementwiseAffine: affine));\n        norms.Append(new LayerNorm(d, elementwiseAffine: !affine));\n        norms.Append(new LayerNorm(d));",
            "    public Tensor Forward([Shape(\"N\", \"d\")] Tensor x)\n    {\n        var h = x * 2f;\n        foreach (var n in norms) h = n.Forward(h);\n        return h;\n    }",
            ["if ((((global::SharpGrad.Layers.LayerNorm)this.norms[0]).ElementwiseAffine) && !(((global::SharpGrad.Layers.LayerNorm)this.norms[1]).ElementwiseAffine))", "ForwardRegion2("]
        },
        {
            "ModuleList of GRU filled one statement after another, bias",
            "int d, bool bias",
            "    private readonly ModuleList<GRU> layers = new();",
            "        layers.Append(new GRU(d, d, batchFirst: true, bias: bias));\n        layers.Append(new GRU(d, d, batchFirst: true, bias: bias));",
            "    public Tensor Forward(Tensor x)\n    {\n        var h = x;\n        foreach (var l in layers) h = l.Forward(h).Output;\n        return h;\n    }",
            ["((global::SharpGrad.Layers.GRU)this.layers[0]).Bias", "((global::SharpGrad.Layers.GRU)this.layers[1]).Bias) != (", "ForwardRegion2("]
        },
        {
            "ModuleList of LSTM, bias, the output of a loop variable's call",
            "int d, bool bias",
            "    private readonly ModuleList<LSTM> layers = new();",
            "        for (int i = 0; i < 2; i++) layers.Append(new LSTM(d, d, batchFirst: true, bias: bias));",
            "    public Tensor Forward(Tensor x)\n    {\n        var h = x;\n        foreach (var l in layers) h = l.Forward(h).Output;\n        return h;\n    }",
            ["((global::SharpGrad.Layers.LSTM)this.layers[0]).Bias", "ForwardRegion2("]
        },
        {
            "ModuleList of TransformerEncoderLayer, normFirst",
            "int d, bool normFirst",
            "    private readonly ModuleList<TransformerEncoderLayer> layers = new();",
            "        for (int i = 0; i < 2; i++) layers.Append(new TransformerEncoderLayer(d, 2, 16, 0.0, batchFirst: true, normFirst: normFirst));",
            "    public Tensor Forward([Shape(\"N\", 5, \"d\")] Tensor x)\n    {\n        var h = x;\n        foreach (var l in layers) h = l.Forward(h);\n        return h;\n    }",
            ["((global::SharpGrad.Layers.TransformerEncoderLayer)this.layers[0]).NormFirst", "ForwardRegion2("]
        },
    };

    [Theory]
    [MemberData(nameof(ItemModels))]
    public void AnOptionOfAnItemIsNoBreak(string name, string parameters, string fields, string constructor, string forward, string[] expected)
        => AnOptionGivenToTheConstructorIsNoBreak(name, parameters, fields, constructor, forward, expected);

    /// <summary>
    /// A size a flag chooses (<c>bidirectional ? 2 * hidden : hidden</c>), in the regions compiled for each value of the layer option the
    /// same flag gives: each region resolves it to its branch's size (<c>2*hidden</c> or <c>hidden</c>, GraphMethod.Equalities), so it
    /// equals the LSTM's output width however it is written (a local <c>hidden + hidden</c>, <c>!flag ? h : 2 * h</c>, a layer's
    /// <c>InFeatures</c>), a residual sum with it compiles, and a LayerNorm built with it is emitted. Each region checks the layer that
    /// binds the size at its first call (<c>CheckSize</c> naming it and the resolved size).
    /// </summary>
    public static TheoryData<string, string, string, string, string, string[]> FlagSizeModels() => new()
    {
        {
            "a LayerNorm sized by the flag",
            "int d, int hidden, bool bidirectional",
            "    private readonly LSTM lstm;\n    private readonly LayerNorm norm;",
            "        lstm = new LSTM(d, hidden, bidirectional: bidirectional, batchFirst: true);\n        norm = new LayerNorm(bidirectional ? 2 * hidden : hidden);",
            "    public Tensor Forward(Tensor x) => norm.Forward(lstm.Forward(x).Output);",
            ["if (this.lstm.Bidirectional)", "ForwardRegion2(", "\"norm.normalized_shape\"", "\"2*hidden\""]
        },
        {
            "a residual over a width written another way (a local hidden + hidden, !flag)",
            "int d, int hidden, bool bidirectional",
            "    private readonly LSTM lstm;\n    private readonly Linear proj;",
            "        lstm = new LSTM(d, hidden, bidirectional: bidirectional, batchFirst: true);\n        int width = bidirectional ? hidden + hidden : hidden;\n        proj = new Linear(width, !bidirectional ? hidden : 2 * hidden);",
            "    public Tensor Forward(Tensor x)\n    {\n        var y = lstm.Forward(x).Output;\n        return y + proj.Forward(y);\n    }",
            ["if (this.lstm.Bidirectional)", "ForwardRegion2(", "\"proj.in_features\""]
        },
        {
            "a LayerNorm sized by another layer's InFeatures, an option from mode == 2",
            "int d, int hidden, int mode",
            "    private readonly LSTM lstm;\n    private readonly Linear head;\n    private readonly LayerNorm norm;",
            "        lstm = new LSTM(d, hidden, bidirectional: mode == 2, batchFirst: true);\n        head = new Linear(mode == 2 ? 2 * hidden : hidden, 3);\n        norm = new LayerNorm(head.InFeatures);",
            "    public Tensor Forward(Tensor x) => head.Forward(norm.Forward(lstm.Forward(x).Output));",
            ["if (this.lstm.Bidirectional)", "ForwardRegion2(", "\"head.in_features\""]
        },
        {
            "a readonly flag's regions: the width it chooses, a residual in the !wide one",
            "int d, bool wide",
            "    private readonly bool wide;\n    private readonly Linear up;\n    private readonly LayerNorm norm;",
            "        this.wide = wide;\n        up = new Linear(d, wide ? 2 * d : d);\n        norm = new LayerNorm(wide ? d + d : d);",
            "    public Tensor Forward([Shape(\"N\", \"d\")] Tensor x)\n    {\n        var h = up.Forward(x);\n        return wide ? norm.Forward(h * 2f) : norm.Forward(h + x);\n    }",
            ["if (wide)", "ForwardRegion2(", "\"up.out_features\""]
        },
    };

    [Theory]
    [MemberData(nameof(FlagSizeModels))]
    public void ASizeTheFlagChoosesIsTheBranchsSizeInEachRegion(string name, string parameters, string fields, string constructor, string forward, string[] expected)
    {
        string program = ProgramWithoutBreak(name, parameters, fields, constructor, forward);
        foreach (var text in expected) Assert.Contains(text, program);
        Assert.Contains("CheckSize", program);   // the built layer checked against the size the region took
    }

    /// <summary>
    /// Five options from five parameters, each of its own layer called in a statement of its own, that only pick a kernel (bias,
    /// elementwise_affine, nonlinearity): 32 combinations, but each statement's region depends only on its own layer's option, so
    /// 5 · 2 = 10 programs and no break; in one expression they stay over the cap (<see cref="MoreProgramsThanTheCapAreANamedBreak"/>).
    /// </summary>
    [Fact]
    public void KernelOptionsInStatementsOfTheirOwnCompilePerStatement()
    {
        string program = ProgramWithoutBreak("five kernel options",
            "int d, bool lstmBias, bool gruBias, bool affine, bool rnnBias, string nonlinearity",
            "    private readonly LSTM lstm;\n    private readonly GRU gru;\n    private readonly LayerNorm norm;\n    private readonly RNN rnn;\n    private readonly RNN cell;",
            "        lstm = new LSTM(d, d, bias: lstmBias, batchFirst: true);\n        gru = new GRU(d, d, bias: gruBias, batchFirst: true);\n        norm = new LayerNorm(d, elementwiseAffine: affine);\n"
            + "        rnn = new RNN(d, d, bias: rnnBias, batchFirst: true);\n        cell = new RNN(d, d, nonlinearity: nonlinearity, batchFirst: true);",
            "    public Tensor Forward([Shape(\"N\", 5, \"d\")] Tensor x)\n    {\n        var h = lstm.Forward(x).Output;\n        h = gru.Forward(h).Output;\n        h = norm.Forward(h);\n"
            + "        h = rnn.Forward(h).Output;\n        return cell.Forward(h).Output;\n    }");
        foreach (var text in new[] { "if (this.lstm.Bias)", "if (this.gru.Bias)", "if (this.norm.ElementwiseAffine)", "if (this.rnn.Bias)", "if (this.cell.Nonlinearity == \"relu\")", "ForwardRegion10(" })
            Assert.Contains(text, program);
        Assert.DoesNotContain("ForwardRegion11(", program);
    }
}
