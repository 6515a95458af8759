using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests.Compiler;

/// <summary>
/// Symbolic shape inference of constructor-sized shapes (issue 12 item 2): products of dims with sizes bound when the
/// module is built are terms (<c>[N, 2*c, 2, 2]</c> flattened is <c>[N, 8*c]</c>), so the layers after them compile.
/// Checked through the <c>[return: Shape(…)]</c> of the generated program.
/// </summary>
public class SymbolicShapeTests
{
    private static string Net(string head) => $$"""
        using SharpGrad;
        using SharpGrad.Layers;

        namespace Demo.Compiled;

        [Module]
        public partial class Sized
        {
            private readonly Conv2d conv;
            private readonly Linear fc;

            public Sized(int c)
            {
                conv = new Conv2d(1, 2 * c, 3, padding: 1);
                fc = new Linear(2 * c * 2 * 2, 3);
            }

            public Tensor Forward([Shape("N", 1, 2, 2)] Tensor x)
            {
                var h = Functional.Relu(conv.Forward(x));
                return {{head}};
            }
        }
        """;

    /// <summary>Asserts the module is compiled whole with no diagnostic (with the flattened shape unknown it got no program at all).</summary>
    private static void CompiledWhole(string head)
    {
        var (result, output) = GeneratorHarness.Run(Net(head));
        Assert.Empty(result.Diagnostics);
        Assert.Empty(GeneratorHarness.Problems(output));
        var compiled = result.GeneratedSources.Single(s => s.HintName == "Demo.Compiled.Sized.Compiled.g.cs").SourceText.ToString();
        Assert.DoesNotContain("=> _m.Forward(x)", compiled);   // compiled, not an eager stand-in
        Assert.Contains("\"Forward: the whole method\"", compiled);
        // fc = Linear(2*c*2*2, 3) reads [N, 8*c]: checked against the conv's 2*c in Compile(), not a break.
        Assert.Contains("_sym_c = global::SharpGrad.CompiledSupport.BindSize(", compiled);
    }

    [Fact]
    public void FlattenOfConstructorSizedChannelsIsTheirProduct() => CompiledWhole("fc.Forward(h.Flatten(1))");

    [Fact]
    public void ViewWithAHoleOverConstructorSizedChannelsIsTheirProduct() => CompiledWhole("fc.Forward(h.View(x.Shape[0], -1))");
}
