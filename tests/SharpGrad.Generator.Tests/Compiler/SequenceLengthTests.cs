using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// A non-batch dim unknown at build time (issue 12 item 2): a sequence length <c>T</c> of an input declared
/// <c>[Shape("N", "T", 8)]</c> is a symbol the compiled program reads from its inputs at each call, checks on every
/// other input, and sizes its buffers from, so a sequence model compiles once and runs at any length.
/// </summary>
public class SequenceLengthTests
{
    private static string Net(string forward, string parameters = "[Shape(\"N\", \"T\", 8)] Tensor x") => $$"""
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public partial class SeqNet
        {
            private readonly Linear up = new(8, 16);
            private readonly LayerNorm norm = new(16);
            private readonly Linear down = new(16, 4);

            public Tensor Forward({{parameters}}) => {{forward}};
        }
        """;

    private static string CompiledText(GeneratorRunResult result)
        => result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.SeqNet.Compiled.g.cs").SourceText.ToString();

    [Fact]
    public void ASequenceLengthIsReadAtEachCallAndSizesTheBuffersSnapshot()
    {
        var (result, output) = GeneratorHarness.Run(Net("down.Forward(norm.Forward(Functional.Gelu(up.Forward(x))))"));
        Assert.Empty(result.Diagnostics);
        var text = CompiledText(result);
        Assert.Contains("private int _sym_T; // T, read from the inputs at each call", text);
        Assert.Contains("_sym_T = global::SharpGrad.CompiledSupport.SizeAt(", text);
        Assert.Contains("if (n > _forward_capacity || _sym_T > _forward_capacity_sym_T)", text);
        Assert.Contains("new float[n * 16 * _sym_T]", text);
        Assert.Contains("RowsPerItem: _sym_T", text);
        Assert.Contains("[return: global::SharpGrad.Shape(\"N\", \"T\", 4)]", text);
        Assert.DoesNotContain("=> _m.Forward(x)", text);
        Snapshot.Verify("Compiler.Demo.Compiled.SeqNet.Compiled", text);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void SecondInputWithTheSameLengthIsCheckedAgainstTheFirst()
    {
        var (result, output) = GeneratorHarness.Run(Net("down.Forward(up.Forward(x) * y)", "[Shape(\"N\", \"T\", 8)] Tensor x, [Shape(\"N\", \"T\", 16)] Tensor y"));
        Assert.Empty(result.Diagnostics);
        var text = CompiledText(result);
        // T is read from x once; y's dims name it, so CheckInput compares y's T with x's.
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(text, @"_sym_T = global::SharpGrad\.CompiledSupport\.SizeAt\("));
        Assert.Contains("_forward_y_dims => [-1, _sym_T, 16]", text);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void SG1019_AnOpThatDoesNotTakeASequenceLengthYetIsABreakNamingTheShape()
    {
        string op = "up.Forward(x).Max()";   // Max(dim) takes T since session 7; the 0-d Max() not yet
        string source = Net($"down.Forward(up.Forward(x) - {op})");
        var (result, output) = GeneratorHarness.Run(source);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("SG1019", d.Id);
        Assert.Equal(DiagnosticSeverity.Info, d.Severity);
        Assert.Equal(op, source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
        Assert.Contains("[N, T, 16]", d.GetMessage());
        Assert.Contains("read from the inputs at each call", d.GetMessage());
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);
    }
}
