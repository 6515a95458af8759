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
}
