using System.Threading.Tasks;
using SharpGrad.CodeFixes;
using static SharpGrad.Analyzers.Tests.Stubs;
using VerifyCS = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.NonLeafRequiresGradAnalyzer>;

namespace SharpGrad.Analyzers.Tests;

public class SG2006Tests
{
    [Fact]
    public Task Fires_on_a_scaled_initialisation_stored_in_a_local()
        => VerifyCS.Analyzer(Method("""
            var w = {|#0:Tensor.Randn([3, 4], requiresGrad: true) * 0.01f|};
            """),
            VerifyCS.Diagnostic("SG2006").WithLocation(0).WithArguments("*", "w"));

    [Fact]
    public Task Fires_on_fields_properties_and_method_ops()
        => VerifyCS.Analyzer(Method("""
            _bias = {|SG2006:Tensor.Zeros([4], requiresGrad: true).Add(1f)|};
            """, """
            private Tensor _w = {|SG2006:Tensor.Randn([3, 4], requiresGrad: true) / 2f|};
            private Tensor _bias;
            public Tensor Scale { get; } = {|SG2006:Tensor.Ones([1], requiresGrad: true).Exp()|};
            """));

    [Fact]
    public Task Silent_on_a_leaf_stored_directly()
        => VerifyCS.Analyzer(Method("""
            var w = Tensor.Randn([3, 4], requiresGrad: true);
            var y = w * 0.01f;
            """));

    [Fact]
    public Task Silent_when_RequiresGrad_is_called_on_the_op_result()
        => VerifyCS.Analyzer(Method("""
            var a = (Tensor.Randn([3, 4]) * 0.01f).RequiresGrad_();
            var b = (Tensor.Randn([3, 4], requiresGrad: true) * 0.01f).Detach().RequiresGrad_();
            var c = Tensor.Randn([3, 4], requiresGrad: false) * 0.01f;
            """));

    [Fact]
    public Task Silent_when_the_result_is_not_stored_or_wrapped_in_a_Parameter()
        => VerifyCS.Analyzer(Method("""
            (Tensor.Randn([3], requiresGrad: true) * 2f).Sum().Backward();
            var p = new Parameter(Tensor.Randn([3, 4], requiresGrad: true) * 0.01f);
            Use(Tensor.Randn([3], requiresGrad: true) * 2f);
            """, """
            static void Use(Tensor t) { }
            """));

    [Fact]
    public Task Fix_moves_requiresGrad_after_the_op()
        => VerifyCS.Fix<LeafRequiresGradFix>(
            Method("""
                var w = {|SG2006:Tensor.Randn([3, 4], requiresGrad: true) * 0.01f|};
                """),
            Method("""
                var w = (Tensor.Randn([3, 4]) * 0.01f).RequiresGrad_();
                """));

    [Fact]
    public Task Fix_detaches_the_result()
        => VerifyCS.Fix<LeafRequiresGradFix>(
            Method("""
                var w = {|SG2006:Tensor.Randn([3, 4], requiresGrad: true) * 0.01f|};
                """),
            Method("""
                var w = (Tensor.Randn([3, 4], requiresGrad: true) * 0.01f).Detach().RequiresGrad_();
                """),
            codeActionIndex: 1);
}
