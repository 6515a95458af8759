using System.Threading.Tasks;
using static SharpGrad.Analyzers.Tests.Stubs;
using VerifyCS = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.BackwardWithoutGraphAnalyzer>;

namespace SharpGrad.Analyzers.Tests;

public class SG2013Tests
{
    [Fact]
    public Task Fires_on_a_loss_computed_inside_a_NoGrad_block()
        => VerifyCS.Analyzer(Method("""
            var model = new Linear(4, 1);
            var x = Tensor.Randn(8, 4);
            Tensor loss;
            using (Autograd.NoGrad())
            {
                loss = {|#1:Losses.Mse(model.Forward(x), Tensor.Zeros(8, 1))|};
            }
            {|#0:loss.Backward()|};
            """),
            VerifyCS.Diagnostic("SG2013").WithLocation(0).WithLocation(1).WithArguments("loss", "Losses.Mse(model.Forward(x), Tensor.Zeros(8, 1))"));

    [Fact]
    public Task Fires_in_a_using_declaration_scope_and_on_values_computed_from_a_NoGrad_result()
        => VerifyCS.Analyzer(Method("""
            var w = Tensor.Randn([3], requiresGrad: true);
            Tensor h;
            using (Autograd.NoGrad())
            {
                h = w.Exp();
            }
            var loss = (h * 2f).Sum();
            {|SG2013:loss.Backward()|};
            """, """
            void Evaluate(Tensor w)
            {
                using var scope = Autograd.NoGrad();
                var y = w * 2f;
                {|SG2013:y.Sum().Backward()|};
            }
            """));

    [Fact]
    public Task Fires_through_a_local_function_called_inside_NoGrad()
        => VerifyCS.Analyzer(Method("""
            var w = Tensor.Randn([3], requiresGrad: true);
            Tensor l;
            using (Autograd.NoGrad())
            {
                l = Loss(w);
            }
            {|SG2013:l.Backward()|};

            static Tensor Loss(Tensor t) => (t * t).Sum();
            """));

    [Fact]
    public Task Silent_when_only_the_Backward_is_inside_NoGrad()
        => VerifyCS.Analyzer(Method("""
            var w = Tensor.Randn([3], requiresGrad: true);
            var loss = (w * 2f).Sum();
            using (Autograd.NoGrad())
            {
                loss.Backward();
            }
            """));

    [Fact]
    public Task Silent_when_the_value_is_made_a_leaf_that_requires_grad()
        => VerifyCS.Analyzer(Method("""
            var w = Tensor.Randn([3], requiresGrad: true);
            Tensor t;
            using (Autograd.NoGrad())
            {
                t = w * 0.1f;
            }
            t.RequiresGrad_();
            (t * 2f).Sum().Backward();
            """));

    [Fact]
    public Task Silent_inside_EnableGrad_and_under_a_grad_mode_not_known()
        => VerifyCS.Analyzer(Method("""
            var w = Tensor.Randn([3], requiresGrad: true);
            Tensor l;
            using (Autograd.NoGrad())
            {
                using (Autograd.EnableGrad())
                {
                    l = (w * 2f).Sum();
                }
            }
            l.Backward();
            Tensor m;
            using (Autograd.SetGradEnabled(Environment.ProcessorCount > 1))
            {
                m = (w * 2f).Sum();
            }
            m.Backward();
            """));

    [Fact]
    public Task Silent_when_a_NoGrad_value_is_combined_with_one_that_requires_grad()
        => VerifyCS.Analyzer(Method("""
            var w = Tensor.Randn([3], requiresGrad: true);
            Tensor h;
            using (Autograd.NoGrad())
            {
                h = w * 2f;
            }
            (h * w).Sum().Backward();
            """));
}
