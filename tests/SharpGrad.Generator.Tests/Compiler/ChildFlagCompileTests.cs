using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// A parent [Module] passing its own bool constructor parameter on to a child [Module] block, as PyTorch users write
/// <c>self.block = Block(d, affine)</c> in <c>Net.__init__(self, d, affine)</c>: the block is parsed once per value of the flag
/// (<c>ChildSpec.Variants</c>), the parent's region runner tests the built layer inside the block that the flag builds
/// (<c>CompiledSupport.Submodule&lt;LayerNorm&gt;(this, "block.ln").ElementwiseAffine</c>) and runs that value's program; the
/// inlined layers of each variant keep their state path (<c>block.ln</c>). Compiled equals eager: SharpGrad.Tests' CompiledChildFlagTests.
/// </summary>
public class ChildFlagCompileTests
{
    private const string Block = """
        [Module]
        public sealed partial class Block
        {
            private readonly LayerNorm ln;
            private readonly Linear fc;

            public Block(int d, bool affine)
            {
                ln = new LayerNorm(d, elementwiseAffine: affine);
                fc = new Linear(d, d, bias: affine);
            }

            public Tensor Forward([Shape("N", "d")] Tensor x) => fc.Forward(ln.Forward(x));
        }
        """;

    private static string Source(string parent, string blocks = Block) => $$"""
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        {{blocks}}

        {{parent}}
        """;

    private const string Net = """
        [Module]
        public sealed partial class Net
        {
            private readonly Block block;
            private readonly Linear head;

            public Net(int d, bool affine)
            {
                block = new Block(d, affine);
                head = new Linear(d, 2);
            }

            public Tensor Forward([Shape("N", "d")] Tensor x) => head.Forward(block.Forward(x)).Relu();
        }
        """;

    /// <summary>Runs the generator; asserts no diagnostic, no compile error and no break listed for <paramref name="module"/>; returns its compiled code and runner.</summary>
    private static string ProgramWithoutBreak(string source, string module)
    {
        var (result, output) = GeneratorHarness.Run(source);
        Assert.True(result.Diagnostics.IsEmpty, GeneratorHarness.Format(result.Diagnostics));
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);
        var compiled = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled." + module + ".Compiled.g.cs").SourceText.ToString();
        Assert.DoesNotContain("new(\"Forward\"", compiled);   // no break listed
        return compiled + string.Concat(result.GeneratedSources.Where(g => g.HintName == "Demo.Compiled." + module + ".Regions.g.cs").Select(g => g.SourceText.ToString()));
    }

    [Fact]
    public void AFlagPassedToABlockIsTestedOnTheBlocksLayerAndCompiledPerValue()
    {
        string program = ProgramWithoutBreak(Source(Net), "Net");
        Assert.Contains("if (global::SharpGrad.CompiledSupport.Submodule<global::SharpGrad.Layers.LayerNorm>(this, \"block.ln\").ElementwiseAffine)", program);
        Assert.Contains("ForwardRegion2(", program);
        Assert.DoesNotContain("ForwardRegion3(", program);   // one flag: two programs
        // Both variants' layers are the one built layer of each state path.
        Assert.Contains("Submodule<global::SharpGrad.Layers.LayerNorm>(module, \"block.ln\")", program);
        Assert.Contains("Submodule<global::SharpGrad.Layers.Linear>(module, \"block.fc\")", program);
    }

    /// <summary>The parent passing a constant (<c>new Block(d, true)</c>) compiles whole as before: one program, no test.</summary>
    [Fact]
    public void AConstantFlagStillCompilesAsOneProgram()
    {
        string program = ProgramWithoutBreak(Source(Net.Replace("new Block(d, affine)", "new Block(d, true)", StringComparison.Ordinal)), "Net");
        Assert.DoesNotContain("Submodule<global::SharpGrad.Layers.LayerNorm>(this,", program);
        Assert.DoesNotContain("ForwardRegion", program);
    }

    /// <summary>
    /// A size the flag chooses inside the block (<c>new Linear(d, affine ? 2 * d : d)</c>, a LayerNorm of it): in each region the size
    /// is the value's (<c>(affine?2*d:d)=2*d</c>), so a residual after the block in the parent (<c>x + …</c>, d only when !affine) compiles
    /// in that region; the head sized alike compiles in both.
    /// </summary>
    [Fact]
    public void ASizeTheFlagChoosesInsideTheBlockIsTheValuesSize()
    {
        const string wide = """
            [Module]
            public sealed partial class WideBlock
            {
                private readonly Linear up;
                private readonly LayerNorm ln;

                public WideBlock(int d, bool wide)
                {
                    up = new Linear(d, wide ? 2 * d : d, bias: wide);
                    ln = new LayerNorm(wide ? 2 * d : d);
                }

                public Tensor Forward(Tensor x) => ln.Forward(up.Forward(x));
            }
            """;
        const string parent = """
            [Module]
            public sealed partial class WideNet
            {
                private readonly WideBlock block;
                private readonly Linear head;

                public WideNet(int d, bool wide)
                {
                    block = new WideBlock(d, wide);
                    head = new Linear(wide ? 2 * d : d, 3);
                }

                public Tensor Forward([Shape("N", "d")] Tensor x) => head.Forward(block.Forward(x) * 2f);
            }
            """;
        string program = ProgramWithoutBreak(Source(parent, wide), "WideNet");
        Assert.Contains("Submodule<global::SharpGrad.Layers.Linear>(this, \"block.up\").Bias is not null", program);
        Assert.Contains("ForwardRegion2(", program);
    }

    /// <summary>A flag that only chooses sizes inside the block (no layer option to test): one program, the size a symbol bound from the built layer.</summary>
    [Fact]
    public void AFlagThatOnlyChoosesSizesIsOneProgram()
    {
        const string sized = """
            [Module]
            public sealed partial class SizedBlock
            {
                private readonly Linear up;

                public SizedBlock(int d, bool wide) => up = new Linear(d, wide ? 2 * d : d);

                public Tensor Forward(Tensor x) => up.Forward(x).Relu();
            }
            """;
        const string parent = """
            [Module]
            public sealed partial class SizedNet
            {
                private readonly SizedBlock block;
                private readonly Linear head;

                public SizedNet(int d, bool wide)
                {
                    block = new SizedBlock(d, wide);
                    head = new Linear(wide ? 2 * d : d, 3);
                }

                public Tensor Forward([Shape("N", "d")] Tensor x) => head.Forward(block.Forward(x));
            }
            """;
        string program = ProgramWithoutBreak(Source(parent, sized), "SizedNet");
        Assert.DoesNotContain("ForwardRegion", program);
        Assert.Contains("(wide?2*d:d)", program);
    }

    /// <summary>Net → Stage → Block with the flag passed through both: the runner tests the innermost layer by its full path.</summary>
    [Fact]
    public void AFlagPassedThroughTwoBlocksIsTestedOnTheInnermostLayer()
    {
        const string parent = """
            [Module]
            public sealed partial class Stage
            {
                private readonly Block block;
                private readonly Linear proj;

                public Stage(int d, bool affine)
                {
                    block = new Block(d, affine);
                    proj = new Linear(d, d);
                }

                public Tensor Forward([Shape("N", "d")] Tensor x) => proj.Forward(block.Forward(x)).Relu();
            }

            [Module]
            public sealed partial class DeepNet
            {
                private readonly Stage stage;
                private readonly Linear head;

                public DeepNet(int d, bool affine)
                {
                    stage = new Stage(d, affine);
                    head = new Linear(d, 2);
                }

                public Tensor Forward([Shape("N", "d")] Tensor x) => head.Forward(stage.Forward(x));
            }
            """;
        string program = ProgramWithoutBreak(Source(parent), "DeepNet");
        Assert.Contains("Submodule<global::SharpGrad.Layers.LayerNorm>(this, \"stage.block.ln\").ElementwiseAffine", program);
        Assert.Contains("Submodule<global::SharpGrad.Layers.LayerNorm>(module, \"stage.block.ln\")", program);
        Assert.Contains("ForwardRegion2(", program);
    }

    /// <summary>
    /// A flag that decides the block's Forward through a readonly field only (<c>if (useNorm)</c>), with no layer option of it to test
    /// at run time: a named break in the parent saying why and what compiles, never a guess.
    /// </summary>
    [Fact]
    public void AFlagWithNoLayerToTestIsANamedBreak()
    {
        const string fielded = """
            [Module]
            public sealed partial class FieldBlock
            {
                private readonly bool useNorm;
                private readonly LayerNorm ln;

                public FieldBlock(int d, bool useNorm)
                {
                    this.useNorm = useNorm;
                    ln = new LayerNorm(d);
                }

                public Tensor Forward(Tensor x) => useNorm ? ln.Forward(x) : x * 2f;
            }
            """;
        const string parent = """
            [Module]
            public sealed partial class FieldNet
            {
                private readonly FieldBlock block;

                public FieldNet(int d, bool useNorm) => block = new FieldBlock(d, useNorm);

                public Tensor Forward([Shape("N", "d")] Tensor x) => block.Forward(x).Relu();
            }
            """;
        var (result, output) = GeneratorHarness.Run(Source(parent, fielded));
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Severity == DiagnosticSeverity.Error);
        var breaks = result.Diagnostics.Where(d => d.Id == "SG1019").Select(d => d.GetMessage()).ToList();
        Assert.Contains(breaks, m => m.Contains("the child 'block', built with `useNorm` from a constructor parameter", StringComparison.Ordinal)
                                     && m.Contains("builds no layer option in it", StringComparison.Ordinal)
                                     && m.Contains("build the module in a parent with a constant", StringComparison.Ordinal));
    }
}
