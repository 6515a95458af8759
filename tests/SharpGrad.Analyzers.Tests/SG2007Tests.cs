using System.Threading.Tasks;
using SharpGrad.CodeFixes;
using static SharpGrad.Analyzers.Tests.Stubs;
using VerifyCS = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.InPlaceOnSavedAnalyzer>;

namespace SharpGrad.Analyzers.Tests;

public class SG2007Tests
{
    [Fact]
    public Task Fires_on_modifying_an_output_that_Exp_saved()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var y = x.Exp();
            {|#0:y.Add_(1f)|};
            y.Sum().Backward();
            """),
            VerifyCS.Diagnostic("SG2007").WithLocation(0).WithArguments("y.Add_(1f)", "y", "x.Exp()"));

    [Fact]
    public Task Fires_on_modifying_an_input_that_a_product_saved()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var w = Tensor.Randn([3], requiresGrad: true);
            var h = x.Sigmoid();
            var z = h * w;
            {|SG2007:h.Mul_(2f)|};
            var loss = z.Sum();
            loss.Backward();
            """));

    [Fact]
    public Task Silent_when_the_op_saves_nothing()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var y = x + 1f;
            var z = y * 2f;
            y.Add_(1f);
            z.Sum().Backward();
            """));

    [Fact]
    public Task Silent_when_modified_before_the_op_or_after_the_backward()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var h = x * 2f;
            h.Add_(1f);
            var y = h.Exp();
            y.Sum().Backward();
            y.Add_(1f);
            """));

    [Fact]
    public Task Silent_without_a_backward_through_the_op()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var y = x.Exp();
            y.Add_(1f);
            var other = (x * 3f).Sum();
            other.Backward();
            """));

    [Fact]
    public Task Silent_when_the_op_was_not_recorded()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var y = x.Exp();
            using (Autograd.NoGrad())
            {
                var e = x.Exp();
                e.Add_(1f);
            }
            var a = Tensor.Randn(3).Exp();
            a.Add_(1f);
            (y * a).Sum().Backward();
            """));

    [Fact]
    public Task Fix_uses_the_out_of_place_op()
        => VerifyCS.Fix<OutOfPlaceFix>(
            Method("""
                var x = Tensor.Randn([3], requiresGrad: true);
                var y = x.Exp();
                {|SG2007:y.Add_(1f)|};
                y.Sum().Backward();
                """),
            Method("""
                var x = Tensor.Randn([3], requiresGrad: true);
                var y = x.Exp();
                y = y.Add(1f);
                y.Sum().Backward();
                """));
}
