using System.Threading.Tasks;
using SharpGrad.CodeFixes;
using static SharpGrad.Analyzers.Tests.Stubs;
using VerifyCS = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.NonLeafGradAnalyzer>;

namespace SharpGrad.Analyzers.Tests;

public class SG2002Tests
{
    [Fact]
    public Task Fires_on_Grad_of_an_op_result_after_Backward()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var {|#1:y = x * 2f|};
            var loss = y.Sum();
            loss.Backward();
            var g = {|#0:y.Grad|};
            """),
            VerifyCS.Diagnostic("SG2002").WithLocation(0).WithLocation(1).WithArguments("y"));

    [Fact]
    public Task Fires_for_a_parameter_fed_through_a_module_free_chain()
        => VerifyCS.Analyzer(Method("""
            var w = new Parameter(Tensor.Randn(3, 3));
            var h = w.MatMul(Tensor.Ones(3, 1)).Sigmoid();
            h.Sum().Backward();
            Console.WriteLine({|SG2002:h.Grad|});
            """));

    [Fact]
    public Task Silent_on_a_leaf_created_with_requiresGrad()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var loss = (x * 2f).Sum();
            loss.Backward();
            var g = x.Grad;
            """));

    [Fact]
    public Task Silent_when_RetainGrad_was_called()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var y = x * 2f;
            y.RetainGrad();
            y.Sum().Backward();
            var g = y.Grad;
            var z = (x * 3f).RetainGrad();
            z.Sum().Backward();
            var gz = z.Grad;
            """));

    [Fact]
    public Task Silent_when_RetainGrad_is_called_through_an_alias_or_a_helper()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var y = x * 2f;
            var alias = y;
            alias.RetainGrad();
            var z = x * 3f;
            Keep(z);
            (y + z).Sum().Backward();
            var gy = y.Grad;
            var gz = z.Grad;
            """, """
            static void Keep(Tensor t) => t.RetainGrad();
            """));

    [Fact]
    public Task Silent_when_the_op_input_does_not_require_grad()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn(3);
            var y = x * 2f;
            var w = Tensor.Randn([3], requiresGrad: true);
            (y * w).Sum().Backward();
            var g = y.Grad;
            """));

    [Fact]
    public Task Silent_before_the_backward_and_on_detached_values()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var y = x * 2f;
            var before = y.Grad;
            var d = y.Detach();
            y.Sum().Backward();
            var gd = d.Grad;
            """));

    [Fact]
    public Task Fix_inserts_RetainGrad_after_the_declaration()
        => VerifyCS.Fix<RetainGradFix>(
            Method("""
                var x = Tensor.Randn([3], requiresGrad: true);
                var y = x * 2f;
                y.Sum().Backward();
                var g = {|SG2002:y.Grad|};
                """),
            Method("""
                var x = Tensor.Randn([3], requiresGrad: true);
                var y = x * 2f;
                y.RetainGrad();
                y.Sum().Backward();
                var g = y.Grad;
                """));
}
