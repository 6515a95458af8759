using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// Constructor-sized modules (issue 12 item 2): sizes from constructor parameters, readonly fields and products of them
/// are symbols, checked at build time where that is provable and bound when <c>Compile()</c> is called.
/// </summary>
public class ConstructorSizeTests
{
    private static string Net(string constructor, string forward = "fc2.Forward(Functional.Relu(fc1.Forward(x)))", string fields = "") => $$"""
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public partial class CtorNet
        {
            private readonly Linear fc1;
            private readonly Linear fc2;
        {{fields}}

            public CtorNet(int hidden, int width, Rng? rng = null)
            {
        {{constructor}}
            }

            public Tensor Forward(Tensor x) => {{forward}};
        }
        """;

    [Fact]
    public void ConstructorSizedMlpCompilesWithNoBreakAndMatchesSnapshot()
    {
        var (result, output) = GeneratorHarness.Run(Net("fc1 = new Linear(4, hidden);\n        fc2 = new Linear(hidden, 10);"));
        Assert.Empty(result.Diagnostics);   // no SG1019: nothing breaks
        var text = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.CtorNet.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("_sym_hidden = global::SharpGrad.CompiledSupport.BindSize(", text);
        Assert.Contains("new float[n * _sym_hidden]", text);
        Assert.DoesNotContain("=> _m.Forward(x)", text);   // not an eager stand-in
        Snapshot.Verify("Compiler.Demo.Compiled.CtorNet.Compiled", text);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void SG1010_SymbolicSizesThatProvablyDifferAreABuildError()
    {
        string source = Net("fc1 = new Linear(4, hidden * 2);\n        fc2 = new Linear(hidden, 10);");
        var (result, _) = GeneratorHarness.Run(source);
        var d = Assert.Single(result.Diagnostics, x => x.Severity == DiagnosticSeverity.Error);
        Assert.Equal("SG1010", d.Id);
        var span = d.Location.SourceSpan;
        Assert.Equal("fc2.Forward(Functional.Relu(fc1.Forward(x)))", source.Substring(span.Start, span.Length));
        var message = d.GetMessage();
        Assert.Contains("'fc2' is Linear(hidden, 10) and expects hidden input features", message);
        Assert.Contains("[N, 2*hidden]", message);
        Assert.Contains("change it to Linear(2*hidden, 10)", message);
    }

    [Fact]
    public void SizesTheBuildCannotCompareAreCheckedInCompile()
    {
        // hidden and width may be equal: no build error, compiled, and Compile() checks fc2.in_features against hidden.
        var (result, output) = GeneratorHarness.Run(Net("fc1 = new Linear(4, hidden);\n        fc2 = new Linear(width, 10);"));
        Assert.Empty(result.Diagnostics);
        var text = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.CtorNet.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("CompiledSupport.CheckSize(", text);
        Assert.Contains("\"fc2.in_features\"", text);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void ProductsAndReadonlyFieldsAreSymbols()
    {
        var (result, output) = GeneratorHarness.Run(Net(
            "this.d = hidden * 2;\n        fc1 = new Linear(4, hidden * 2);\n        fc2 = new Linear(2 * hidden, d);",
            "fc2.Forward(fc1.Forward(x) * 0.5f)", "    private readonly int d;"));
        Assert.Empty(result.Diagnostics);
        var text = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.CtorNet.Compiled.g.cs").SourceText.ToString();
        Assert.Contains("[return: global::SharpGrad.Shape(\"N\", \"d\")]", text);
        Assert.Contains("new float[n * 2 * _sym_hidden]", text);   // [N, 2*hidden]: 2 into the fixed count, hidden the factor
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void AnRngPassedToALayerIsNotPartOfTheProgram()
    {
        // new Linear(4, hidden, rng: rng): the generator used to call rng "not a compile-time constant" (a break).
        var (result, output) = GeneratorHarness.Run(Net("fc1 = new Linear(4, hidden, rng: rng);\n        fc2 = new Linear(hidden, 10, rng: rng);"));
        Assert.Empty(result.Diagnostics);
        var text = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.CtorNet.Compiled.g.cs").SourceText.ToString();
        Assert.DoesNotContain("=> _m.Forward(x)", text);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void AnOpThatDoesNotTakeSymbolicSizesYetIsAGraphBreakNamingTheShape()
    {
        string op = "fc1.Forward(x).Max()";   // Max(dim) takes them since session 7; the 0-d Max() not yet
        string source = Net("fc1 = new Linear(4, hidden);\n        fc2 = new Linear(hidden, 10);", $"fc2.Forward(fc1.Forward(x) - {op})");
        var (result, output) = GeneratorHarness.Run(source);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("SG1019", d.Id);
        Assert.Equal(source.IndexOf(op, StringComparison.Ordinal), d.Location.SourceSpan.Start);
        Assert.Contains("[N, hidden]", d.GetMessage());
        Assert.Contains("whose sizes are bound when the module is built", d.GetMessage());
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Id != "SG1019");
    }
}
