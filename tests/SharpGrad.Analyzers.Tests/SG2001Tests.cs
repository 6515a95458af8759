using System.Threading.Tasks;
using SharpGrad.CodeFixes;
using static SharpGrad.Analyzers.Tests.Stubs;
using VerifyCS = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.NonScalarBackwardAnalyzer>;

namespace SharpGrad.Analyzers.Tests;

public class SG2001Tests
{
    [Fact]
    public Task Fires_on_a_created_matrix_and_names_shape_and_variable()
        => VerifyCS.Analyzer(Method("""
            var logits = Tensor.Randn(4, 10);
            {|#0:logits.Backward()|};
            """),
            VerifyCS.Diagnostic("SG2001").WithLocation(0).WithArguments("logits", "[4, 10]"));

    [Fact]
    public Task Fires_on_a_shape_attribute_with_a_symbolic_batch()
        => VerifyCS.Analyzer("""
            using SharpGrad;
            class C
            {
                void M([Shape("N", 10)] Tensor logits)
                {
                    {|#0:logits.Backward()|};
                }
            }
            """,
            VerifyCS.Diagnostic("SG2001").WithLocation(0).WithArguments("logits", "[N, 10]"));

    [Fact]
    public Task Fires_through_elementwise_ops_and_a_return_shape()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn([3, 4], requiresGrad: true);
            var y = (x * 2f + Scores()).Exp();
            {|SG2001:y.Backward()|};
            """, """
            [return: Shape(3, 4)]
            Tensor Scores() => Tensor.Zeros(3, 4);
            """));

    [Fact]
    public Task Fires_after_a_view_with_an_inferred_dim()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Zeros(2, 6).View(-1, 3);
            {|SG2001:x.Backward(retainGraph: true)|};
            """));

    [Fact]
    public Task Silent_on_a_scalar_from_Sum()
        => VerifyCS.Analyzer(Method("""
            var logits = Tensor.Randn(4, 10);
            var loss = logits.Sum();
            loss.Backward();
            logits.Mean().Backward();
            """));

    [Fact]
    public Task Silent_when_a_gradient_is_passed()
        => VerifyCS.Analyzer(Method("""
            var logits = Tensor.Randn(4, 10);
            logits.Backward(Tensor.Ones(4, 10));
            logits.Backward(gradient: Tensor.Ones(4, 10));
            """));

    [Fact]
    public Task Silent_when_the_shape_is_not_known()
        => VerifyCS.Analyzer("""
            using SharpGrad;
            class C
            {
                void M(Tensor logits, int n)
                {
                    logits.Backward();
                    Tensor.Randn(n, 10).Backward();
                }
            }
            """);

    [Fact]
    public Task Silent_when_the_local_is_reassigned()
        => VerifyCS.Analyzer(Method("""
            var t = Tensor.Randn(4, 10);
            t = t.Sum();
            t.Backward();
            """));

    [Fact]
    public Task Silent_on_one_element_and_symbolic_only_shapes()
        => VerifyCS.Analyzer("""
            using SharpGrad;
            class C
            {
                void M([Shape("N")] Tensor perSample, [Shape(1, 1)] Tensor single)
                {
                    perSample.Backward();
                    single.Backward();
                    Tensor.Scalar(2f, requiresGrad: true).Backward();
                }
            }
            """);

    [Fact]
    public Task Fix_appends_Sum()
        => VerifyCS.Fix<ReduceBeforeBackwardFix>(
            Method("""
                var logits = Tensor.Randn(4, 10);
                {|SG2001:logits.Backward()|};
                """),
            Method("""
                var logits = Tensor.Randn(4, 10);
                logits.Sum().Backward();
                """));

    [Fact]
    public Task Fix_appends_Mean_parenthesising_an_operator()
        => VerifyCS.Fix<ReduceBeforeBackwardFix>(
            Method("""
                var logits = Tensor.Randn(4, 10);
                {|SG2001:(logits * 2f).Backward()|};
                """),
            Method("""
                var logits = Tensor.Randn(4, 10);
                (logits * 2f).Mean().Backward();
                """),
            codeActionIndex: 1);
}
