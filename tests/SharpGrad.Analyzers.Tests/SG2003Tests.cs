using System.Threading.Tasks;
using SharpGrad.CodeFixes;
using static SharpGrad.Analyzers.Tests.Stubs;
using VerifyCS = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.SecondBackwardAnalyzer>;

namespace SharpGrad.Analyzers.Tests;

public class SG2003Tests
{
    [Fact]
    public Task Fires_on_the_same_loss_twice()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var loss = x.Exp().Sum();
            {|#1:loss.Backward()|};
            {|#0:loss.Backward()|};
            """),
            VerifyCS.Diagnostic("SG2003").WithLocation(0).WithLocation(1).WithArguments("loss", "loss"));

    [Fact]
    public Task Fires_on_two_losses_sharing_an_op_that_saved_tensors()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var h = x.Sigmoid();
            var a = h.Sum();
            var b = (h * 2f).Mean();
            a.Backward();
            {|SG2003:b.Backward()|};
            """));

    [Fact]
    public Task Silent_when_the_first_retains_the_graph()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var loss = x.Exp().Sum();
            loss.Backward(retainGraph: true);
            loss.Backward();
            """));

    [Fact]
    public Task Silent_when_the_graph_is_rebuilt()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var first = x.Exp().Sum();
            first.Backward();
            var second = x.Exp().Sum();
            second.Backward();
            """));

    [Fact]
    public Task Silent_when_the_shared_ops_save_nothing()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var h = x + 1f;
            h.Sum().Backward();
            h.Mean().Backward();
            """));

    [Fact]
    public Task Silent_when_the_backwards_are_not_straight_line()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var loss = x.Exp().Sum();
            if (x.RequiresGrad) loss.Backward();
            else loss.Backward();
            for (int i = 0; i < 3; i++)
            {
                var l = x.Exp().Sum();
                l.Backward();
            }
            """));

    [Fact]
    public Task Fix_adds_retainGraph_to_the_first_Backward()
        => VerifyCS.Fix<RetainGraphFix>(
            Method("""
                var x = Tensor.Randn([3], requiresGrad: true);
                var loss = x.Exp().Sum();
                loss.Backward();
                {|SG2003:loss.Backward()|};
                """),
            Method("""
                var x = Tensor.Randn([3], requiresGrad: true);
                var loss = x.Exp().Sum();
                loss.Backward(retainGraph: true);
                loss.Backward();
                """));
}
