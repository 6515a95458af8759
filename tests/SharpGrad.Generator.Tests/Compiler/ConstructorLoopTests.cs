using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// ModuleList/Sequential children filled in constructor loops (issue 12 item 2): a loop of constant count adds its
/// body's items once per iteration (the names PyTorch's <c>append</c> gives), and a <c>foreach</c> or an indexed
/// <c>for</c> over the list in Forward is unrolled into calls of those items; a count known only when the module is
/// built is a graph break (SG1019) at the loop, naming the count.
/// </summary>
public class ConstructorLoopTests
{
    private static string Net(string constructor, string forward) => $$"""
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public partial class Stack
        {
            private const int Depth = 2;
            private readonly ModuleList<Linear> blocks = new();
            private readonly Linear head;

            public Stack(int d, int layers)
            {
        {{constructor}}
                head = new Linear(d, 3);
            }

            public Tensor Forward([Shape("N", "d")] Tensor x)
            {
        {{forward}}
                return head.Forward(x);
            }
        }
        """;

    private static string CompiledText(GeneratorRunResult result)
        => result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Stack.Compiled.g.cs").SourceText.ToString();

    [Fact]
    public void AConstantLoopUnrollsIntoTheListsItemsAndMatchesSnapshot()
    {
        var (result, output) = GeneratorHarness.Run(Net(
            "for (int i = 0; i < Depth; i++) blocks.Append(new Linear(d, d));",
            "foreach (var block in blocks) x = Functional.Relu(block.Forward(x));"));
        Assert.Empty(result.Diagnostics);
        var text = CompiledText(result);
        // Both items are children of the program, bound by their state names, each called once.
        Assert.Contains("Submodule<global::SharpGrad.Layers.Linear>(module, \"blocks.0\")", text);
        Assert.Contains("Submodule<global::SharpGrad.Layers.Linear>(module, \"blocks.1\")", text);
        Assert.DoesNotContain("\"blocks.2\"", text);
        Assert.DoesNotContain("=> _m.Forward(x)", text);
        Snapshot.Verify("Compiler.Demo.Compiled.Stack.Compiled", text);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void AnIndexedForOverTheListIsUnrolledToo()
    {
        var (result, output) = GeneratorHarness.Run(Net(
            "for (int i = 0; i <= 2; ++i) blocks.Append(new Linear(d, d));",
            "for (int i = 0; i < blocks.Count; i++) x = blocks[i].Forward(x) + x;"));
        Assert.Empty(result.Diagnostics);
        var text = CompiledText(result);
        Assert.Contains("\"blocks.2\"", text);   // <= 2: three items
        Assert.DoesNotContain("\"blocks.3\"", text);
        Assert.DoesNotContain("=> _m.Forward(x)", text);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void SG1019_ALoopCountKnownOnlyWhenTheModuleIsBuiltIsABreakAtTheLoop()
    {
        string loop = "for (int i = 0; i < layers; i++) blocks.Append(new Linear(d, d));";
        string source = Net(loop, "foreach (var block in blocks) x = block.Forward(x);");
        var (result, output) = GeneratorHarness.Run(source);
        // Two breaks, both reported in one build: where the list is filled, and the loop over it in Forward.
        Assert.Equal(2, result.Diagnostics.Length);
        Assert.All(result.Diagnostics, d => Assert.Equal(("SG1019", DiagnosticSeverity.Info), (d.Id, d.Severity)));
        var filled = result.Diagnostics.Single(d => d.GetMessage().Contains("filled in a loop"));
        var span = filled.Location.SourceSpan;
        Assert.Equal(loop, source.Substring(span.Start, span.Length));
        var message = filled.GetMessage();
        Assert.Contains("the child 'blocks', filled in a loop of `layers` iterations, a count the build does not know", message);
        Assert.Contains("make the count a constant", message);
        var used = result.Diagnostics.Single(d => d != filled);
        span = used.Location.SourceSpan;
        Assert.Equal("foreach (var block in blocks) x = block.Forward(x);", source.Substring(span.Start, span.Length));
        Assert.Contains("a loop over 'blocks', whose items are not known at build time", used.GetMessage());
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);
    }

    /// <summary>The user's own [Module] block in a list whose length a constructor parameter gives; <paramref name="loop"/> is Forward's loop over it.</summary>
    private static string BlockStack(string loop) => $$"""
            using SharpGrad;
            using SharpGrad.Layers;

            namespace Demo.Compiled;

            [Module]
            public partial class Block
            {
                private readonly Linear fc;
                public Block(int d) { fc = new Linear(d, d); }
                public Tensor Forward(Tensor x) => x + fc.Forward(x);
            }

            [Module]
            public partial class Stack
            {
                private readonly ModuleList<Block> blocks = new();
                private readonly Linear head;

                public Stack(int d, int layers)
                {
                    for (int i = 0; i < layers; i++) blocks.Append(new Block(d));
                    head = new Linear(d, 3);
                }

                public Tensor Forward([Shape("N", "d")] Tensor x)
                {
                    {{Indent(loop)}}
                    return head.Forward(x);
                }
            }
            """;

    private static string Indent(string code) => code.Replace("\n", "\n        ");

    [Fact]
    public void ALoopOverUserBlocksOfACountKnownWhenBuiltIsNoBreakButEachBlocksProgram()
    {
        // The items are the user's [Module] blocks: the loop calls each block's own program, and Explanation adds the blocks'.
        string source = BlockStack("foreach (var block in blocks) x = block.Forward(x);");
        var (result, output) = GeneratorHarness.Run(source);
        Assert.Empty(result.Diagnostics);
        var stack = CompiledText(result);
        Assert.Contains("Explanation => __elements.Explain(new(s_regions, s_breaks), \"Forward, Source0.cs line 28\", \"blocks\", _m.blocks, static e => e.Compile(), static c => c.Explanation);", stack);
        Assert.DoesNotContain("new(\"constructor\"", stack);
        var regions = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Stack.Regions.g.cs").SourceText.ToString();
        Assert.Contains("foreach (var block in blocks) x = __compiled.__elements.Of(block, static __e => __e.Compile()).Forward(x);", regions);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void SG1019_ALoopOverUserBlocksInsideAnotherStatementRunsEagerlyAndIsABreak()
    {
        // Only a loop that is a statement of the method's body is run through the blocks' programs; inside a block it runs as written.
        string source = BlockStack("""
        {
            foreach (var block in blocks) x = block.Forward(x);
        }
        """);
        var (result, _) = GeneratorHarness.Run(source);
        Assert.Equal(2, result.Diagnostics.Length);
        Assert.All(result.Diagnostics, d => Assert.Equal("SG1019", d.Id));
        Assert.Contains(result.Diagnostics, d => d.GetMessage().Contains("the child 'blocks', filled in a loop of `layers` iterations"));
        Assert.Contains(result.Diagnostics, d => d.GetMessage().Contains("write the loop as a statement of its own in the method's body"));
        Assert.DoesNotContain("__elements.Explain", CompiledText(result));
    }

    [Fact]
    public void SG1019_ItemsBuiltFromTheLoopVariableAreABreak()
    {
        // Each item differs per iteration (new Linear(d + i, …)): not unrolled as copies of one construction.
        string source = Net("for (int i = 0; i < 2; i++) blocks.Append(new Linear(d + i, d));", "foreach (var block in blocks) x = block.Forward(x);");
        var (result, _) = GeneratorHarness.Run(source);
        Assert.Equal(2, result.Diagnostics.Length);
        var d = result.Diagnostics[0];
        Assert.Equal("SG1019", d.Id);
        Assert.Contains("`new Linear(d + i, d)` is not a compile-time constant", d.GetMessage());
        Assert.Contains("a loop over 'blocks'", result.Diagnostics[1].GetMessage());
    }

    [Fact]
    public void AForLoopOfConstantCountOverDataIsUnrolledWithNoBreak()
    {
        // for (int i = 0; i < 3; i++) x = x * 0.5f: three multiplications, compiled (it used to be a break).
        var (result, output) = GeneratorHarness.Run(Net("", "for (int i = 0; i < 3; i++) x = x * 0.5f;"));
        Assert.Empty(result.Diagnostics);
        var text = CompiledText(result);
        Assert.DoesNotContain("=> _m.Forward(x)", text);
        Assert.Contains("((x[j] * 0.5f) * 0.5f) * 0.5f", text);   // the three iterations, fused into one loop
        Assert.Contains("\"Forward: the whole method\"", text);
        Assert.Empty(GeneratorHarness.Problems(output));
    }
}
