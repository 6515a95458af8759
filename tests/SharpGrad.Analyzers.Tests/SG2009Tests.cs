using System.Threading.Tasks;
using static SharpGrad.Analyzers.Tests.Stubs;
using VerifyCS = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.RuntimeSequentialAnalyzer>;

namespace SharpGrad.Analyzers.Tests;

public class SG2009Tests
{
    [Fact]
    public Task Fires_on_a_constant_Sequential()
        => VerifyCS.Analyzer(Method("""
            var net = {|#0:new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2))|};
            """),
            new Microsoft.CodeAnalysis.Testing.DiagnosticResult("SG2009", Microsoft.CodeAnalysis.DiagnosticSeverity.Info)
                .WithLocation(0).WithArguments(3));

    [Fact]
    public Task Fires_on_named_layers_in_a_field()
        => VerifyCS.Analyzer(Method("", """
            private readonly Sequential _net = {|SG2009:new Sequential(("fc1", new Linear(4, 8)), ("act", new ReLU()))|};
            """));

    [Fact]
    public Task Silent_when_a_layer_argument_is_not_constant()
        => VerifyCS.Analyzer("""
            using SharpGrad.Layers;
            class C
            {
                Sequential Build(int hidden) => new Sequential(new Linear(4, hidden), new ReLU());
            }
            """);

    [Fact]
    public Task Silent_inside_a_Module_class()
        => VerifyCS.Analyzer("""
            using SharpGrad;
            using SharpGrad.Layers;
            [Module]
            class Net
            {
                private readonly Sequential _body = new Sequential(new Linear(4, 8), new ReLU());
            }
            """);

    [Fact]
    public Task Silent_when_built_at_run_time()
        => VerifyCS.Analyzer(Method("""
            var net = new Sequential();
            for (int i = 0; i < 3; i++) net.Add("fc" + i, new Linear(4, 4));
            var layers = new Module[] { new Linear(4, 8), new ReLU() };
            var fromArray = new Sequential(layers);
            """));

    [Fact]
    public Task Fires_once_on_nested_constant_Sequentials()
        => VerifyCS.Analyzer(Method("""
            var net = {|#0:new Sequential(("body", new Sequential(new Linear(4, 8), new ReLU())), ("head", new Linear(8, 2)))|};
            """),
            new Microsoft.CodeAnalysis.Testing.DiagnosticResult("SG2009", Microsoft.CodeAnalysis.DiagnosticSeverity.Info)
                .WithLocation(0).WithArguments(2));

    // Regression (issue 15): hand-written Module subclasses are not [Module] classes; the generator cannot compile them.
    [Fact]
    public Task Silent_on_hand_written_layers_that_are_not_Module_classes()
        => VerifyCS.Analyzer(Method("""
            var net = new Sequential(new Scale(2f), new ReLU());
            var named = new Sequential(("conv", new Sequential(("s1", new Scale(1f)))), ("relu", new ReLU()));
            """, """
            sealed class Scale : Module
            {
                public Scale(float factor) { }
                public Tensor Forward(Tensor x) => x;
            }
            """));

    [Fact]
    public Task Silent_on_eager_only_Module_classes()
        => VerifyCS.Analyzer(Method("""
            var net = new Sequential(new Eager(), new Linear(4, 2));
            """, """
            [Module(Compile = false)]
            sealed class Eager : Module
            {
                public Tensor Forward(Tensor x) => x;
            }
            """));

    [Fact]
    public Task Reports_the_inner_Sequential_when_the_outer_cannot_be_compiled()
        => VerifyCS.Analyzer(Method("""
            var net = new Sequential({|SG2009:new Sequential(new Linear(4, 8), new ReLU())|}, new Scale());
            """, """
            sealed class Scale : Module
            {
                public Tensor Forward(Tensor x) => x;
            }
            """));
}
