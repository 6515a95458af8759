using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// The constructor evaluated at build time (ConstructorEvaluator, docs/compiler.md "The constructor"): constructor locals,
/// the class's helper methods (static and instance, reading and updating a field), children passed as constructor arguments
/// and readonly flags tested in Forward, decided per instance where the parent passes arguments the build knows, and a
/// graph break (SG1019) naming the test where the arguments decide it — never a branch taken silently.
/// </summary>
public class ConstructorEvaluationTests
{
    private const string Block = """
        [Module]
        public partial class Block
        {
            private readonly Linear fc;
            private readonly Linear? skip;
            private readonly bool useResidual;

            public Block(int cin, int cout, Linear? skip = null)
            {
                int hidden = cin * 2;
                fc = new Linear(cin, cout);
                this.skip = skip;
                useResidual = cin == cout;
                _ = hidden;
            }

            public Tensor Forward(Tensor x)
            {
                var identity = x;
                if (skip is not null) identity = skip.Forward(x);
                return useResidual ? fc.Forward(x) + identity : fc.Forward(x) + identity * 0.5f;
            }
        }
        """;

    private static string Source(string net, bool withBlock = true) => $$"""
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Ctor;

        {{(withBlock ? Block : "")}}

        {{net}}
        """;

    private const string Net = """
        [Module]
        public partial class Net
        {
            private int width;
            private readonly Sequential body;
            private readonly Sequential head;

            public Net(int d)
            {
                width = d;
                body = Stage(2 * d);
                head = Double(2 * d, 4);
            }

            private Sequential Stage(int planes)
            {
                Linear? skip = null;
                if (width != planes) skip = new Linear(width, planes);
                var layers = new Sequential(new Block(width, planes, skip));
                width = planes;
                for (int i = 1; i < 3; i++) layers.Append(new Block(width, planes));
                return layers;
            }

            private static Sequential Double(int cin, int cout) => new(new Linear(cin, cout), new ReLU(), new Linear(cout, cout));

            public Tensor Forward([Shape("N", "d")] Tensor x) => head.Forward(body.Forward(x));
        }
        """;

    private static readonly string Flagged = Source("""
            [Module]
            public partial class Flagged
            {
                private readonly bool useResidual;
                private readonly Linear fc;
                public Flagged(int cin, int cout) { useResidual = cin == cout; fc = new Linear(cin, cout); }
                public Tensor Forward([Shape("N", "cin")] Tensor x) => useResidual ? x + fc.Forward(x) : fc.Forward(x);
            }
            """, withBlock: false);

    private static string CompiledText(GeneratorRunResult result, string name)
        => result.GeneratedSources.Single(s => s.HintName == "Demo.Ctor." + name + ".Compiled.g.cs").SourceText.ToString();

    [Fact]
    public void HelpersLocalsArgumentsAndFlagsCompileInTheParentWithNoBreak()
    {
        var (result, output) = GeneratorHarness.Run(Source(Net));
        // The only break is the standalone Block's (its skip child and flag come from its arguments); Net has none.
        Assert.All(result.Diagnostics, d => Assert.Equal("SG1019", d.Id));
        Assert.All(result.Diagnostics, d => Assert.StartsWith("'Block' breaks", d.GetMessage(), StringComparison.Ordinal));
        var text = CompiledText(result, "Net");
        // Stage's first block got the skip Linear (width d ≠ 2d), the two appended blocks none; Double's three items.
        Assert.Contains("(module, \"body.0.skip\")", text);
        Assert.DoesNotContain("\"body.1.skip\"", text);
        Assert.Contains("(module, \"body.2.fc\")", text);
        Assert.DoesNotContain("\"body.3", text);
        Assert.Contains("(module, \"head.2\")", text);
        Assert.DoesNotContain("=> _m.Forward(x)", text);   // no eager stand-in: the whole Forward is compiled
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void SG1019_AChildPassedToTheConstructorIsABreakOfTheStandaloneModuleNamingTheFix()
    {
        var (result, _) = GeneratorHarness.Run(Source(Net));
        var skip = result.Diagnostics.Single(d => d.GetMessage().Contains("the child 'skip'", StringComparison.Ordinal));
        Assert.Equal(("SG1019", DiagnosticSeverity.Info), (skip.Id, skip.Severity));
        Assert.Contains("passed to the constructor as the constructor argument 'skip'", skip.GetMessage());
        Assert.Contains("build it in a parent with arguments the build knows", skip.GetMessage());
    }

    [Fact]
    public void AFlagTheArgumentsDecideIsCompiledPerValueAndItsTrueBranchTakesTheSizesItTestsAsEqual()
    {
        // Standalone, `useResidual = cin == cout` is not known: the expression-bodied ?: is parsed once per value of the test
        // (the runner takes the instance's at each call, never a guess). Inside the true branch cin and cout are one size (the
        // region runs only when they are equal), so `x + fc.Forward(x)` compiles: no break at all, two regions.
        var (result, output) = GeneratorHarness.Run(Flagged);
        Assert.Empty(result.Diagnostics);
        var text = CompiledText(result, "Flagged");
        Assert.Contains("ForwardRegion1(", text);   // the true branch's region
        Assert.Contains("ForwardRegion2(", text);   // the false branch's region
        Assert.Contains("(useResidual)", text);
        Assert.Contains("(!useResidual)", text);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Theory]
    [InlineData("useResidual = stride == 1 && cin == cout;", "if (useResidual) h = h + x;")]
    [InlineData("useResidual = cin == cout && stride == 1;", "if (useResidual) h = x + h;")]
    [InlineData("useResidual = !(cin != cout);", "if (useResidual) h = h + x;")]
    [InlineData("useResidual = cin != cout;", "if (!useResidual) h = h + x;")]
    [InlineData("useResidual = cin == cout;", "h = useResidual ? h + x : h * 2f;")]
    public void AResidualIfOverSizesTheArgumentsDecideCompilesWithNoBreak(string flag, string test)
    {
        var (result, output) = GeneratorHarness.Run(Source($$"""
            [Module]
            public partial class Residual
            {
                private readonly Linear expand;
                private readonly Linear project;
                private readonly bool useResidual;

                public Residual(int cin, int cout, int stride)
                {
                    expand = new Linear(cin, 2 * cout);
                    project = new Linear(2 * cout, cout);
                    {{flag}}
                }

                public Tensor Forward(Tensor x)
                {
                    var h = project.Forward(Functional.Gelu(expand.Forward(x)));
                    {{test}}
                    return h;
                }
            }
            """, withBlock: false));
        Assert.Empty(result.Diagnostics);
        var text = CompiledText(result, "Residual");
        Assert.Contains("ForwardRegion2(", text);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void SG1019_ATestThatDoesNotMakeTheSizesEqualLeavesTheBranchsMismatchABreak()
    {
        // `cin > cout` says nothing about x + h's widths: the true branch is still a break, named at `x + h`.
        var (result, _) = GeneratorHarness.Run(Source("""
            [Module]
            public partial class Wider
            {
                private readonly bool shrinks;
                private readonly Linear fc;
                public Wider(int cin, int cout) { shrinks = cin > cout; fc = new Linear(cin, cout); }
                public Tensor Forward([Shape("N", "cin")] Tensor x) => shrinks ? x + fc.Forward(x) : fc.Forward(x);
            }
            """, withBlock: false));
        var branch = Assert.Single(result.Diagnostics);
        Assert.Equal(("SG1019", DiagnosticSeverity.Info), (branch.Id, branch.Severity));
        Assert.Contains("whose shape [N, ?] has a dim other than the batch not known at build time", branch.GetMessage());
    }

    [Fact]
    public void AFlagSetFromConstantsIsDecidedAtBuildTime()
    {
        var (result, output) = GeneratorHarness.Run(Source("""
            [Module]
            public partial class Fixed
            {
                private readonly bool useResidual;
                private readonly Linear fc;
                public Fixed(int d) { useResidual = 2 > 1; fc = new Linear(d, d); }
                public Tensor Forward([Shape("N", "d")] Tensor x) => useResidual ? x + fc.Forward(x) : fc.Forward(x);
            }
            """, withBlock: false));
        Assert.DoesNotContain(result.Diagnostics, d => d.GetMessage().Contains("useResidual", StringComparison.Ordinal));
        Assert.DoesNotContain("=> _m.Forward(x)", CompiledText(result, "Fixed"));
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void SG1019_AnUntypedModuleListCastInForwardNamesTheTypedList()
    {
        var (result, _) = GeneratorHarness.Run(Source("""
            [Module]
            public partial class Untyped
            {
                private readonly ModuleList blocks = new();
                public Untyped(int d) { for (int i = 0; i < 2; i++) blocks.Append(new Linear(d, d)); }
                public Tensor Forward([Shape("N", "d")] Tensor x)
                {
                    foreach (var b in blocks) x = ((Linear)b).Forward(x);
                    return x;
                }
            }
            """, withBlock: false));
        var cast = result.Diagnostics.Single(d => d.GetMessage().Contains("ModuleList<", StringComparison.Ordinal));
        Assert.Equal("SG1019", cast.Id);
        Assert.Contains("the call `((Linear)b).Forward(x)` on an item of the untyped ModuleList 'blocks' cast to Linear", cast.GetMessage());
        Assert.Contains("declare `ModuleList<Linear> blocks`", cast.GetMessage());
    }
}
