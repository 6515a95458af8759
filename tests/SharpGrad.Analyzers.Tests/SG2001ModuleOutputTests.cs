using System.Threading.Tasks;
using VerifyCS = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.NonScalarBackwardAnalyzer>;

namespace SharpGrad.Analyzers.Tests;

/// <summary>
/// SG2001 on the output of an eager <c>[Module]</c>'s <c>Forward</c>: the analyzers read the shapes the code generator
/// inferred from its nested <c>ShapeInfo</c> class. The class below is written as the generator writes it (see the
/// generator's <c>Compiler.Demo.Compiled.Cnn.Shapes</c> snapshot); the stubs have no generator.
/// </summary>
public class SG2001ModuleOutputTests
{
    private const string Net = """
        using SharpGrad;

        [Module]
        public partial class Net : Module
        {
            public Tensor Forward(Tensor x) => x;
            public Tensor Forward(Tensor x, Tensor mask) => x;
        }

        partial class Net
        {
            internal static class ShapeInfo
            {
                [return: global::SharpGrad.Shape("N", 3)]
                internal delegate global::SharpGrad.Tensor Forward([global::SharpGrad.Shape("N", 4)] global::SharpGrad.Tensor x);

                [return: global::SharpGrad.Shape()]
                internal delegate global::SharpGrad.Tensor Forward2(
                    [global::SharpGrad.Shape("N", 4)] global::SharpGrad.Tensor x, [global::SharpGrad.Shape("N", 4)] global::SharpGrad.Tensor mask);
            }
        }
        """;

    [Fact]
    public Task Fires_on_the_output_of_an_eager_Forward_with_the_batch_bound_to_the_argument()
        => VerifyCS.Analyzer(Net + """

            class Training
            {
                void Step(Net model)
                {
                    var y = model.Forward(Tensor.Randn(8, 4));
                    {|#0:y.Backward()|};
                }
            }
            """,
            VerifyCS.Diagnostic("SG2001").WithLocation(0).WithArguments("y", "[8, 3]"));

    [Fact]
    public Task Fires_with_the_symbolic_batch_when_the_argument_shape_is_not_known()
        => VerifyCS.Analyzer(Net + """

            class Training
            {
                void Step(Net model, Tensor x)
                {
                    {|#0:model.Forward(x).Backward()|};
                }
            }
            """,
            VerifyCS.Diagnostic("SG2001").WithLocation(0).WithArguments("model.Forward(x)", "[N, 3]"));

    [Fact]
    public Task Silent_on_an_overload_whose_inferred_output_is_a_scalar()
        => VerifyCS.Analyzer(Net + """

            class Training
            {
                void Step(Net model, Tensor x)
                {
                    model.Forward(x, x).Backward();
                }
            }
            """);

    [Fact]
    public Task Silent_on_a_module_without_inferred_shapes()
        => VerifyCS.Analyzer("""
            using SharpGrad;

            [Module]
            public partial class Plain : Module
            {
                public Tensor Forward(Tensor x) => x;
            }

            class Training
            {
                void Step(Plain model)
                {
                    model.Forward(Tensor.Randn(8, 4)).Backward();
                }
            }
            """);
}
