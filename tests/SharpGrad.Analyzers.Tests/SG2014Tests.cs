using System.Threading.Tasks;
using SharpGrad.CodeFixes;
using static SharpGrad.Analyzers.Tests.Stubs;
using VerifyCS = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.ParametersAfterOptimizerAnalyzer>;

namespace SharpGrad.Analyzers.Tests;

public class SG2014Tests
{
    // Starts with a newline: it follows the test's own statements.
    private const string Train = """

        for (int step = 0; step < 10; step++)
        {
            opt.ZeroGrad();
            Losses.Mse(model.Forward(Tensor.Randn(8, 4)), Tensor.Zeros(8, 1)).Backward();
            opt.Step();
        }
        """;

    [Fact]
    public Task Fires_on_a_layer_added_to_a_Sequential_after_its_optimizer()
        => VerifyCS.Analyzer(Method("""
            var model = new Sequential(new Linear(4, 8), new ReLU());
            var opt = {|#1:new SGD(model.Parameters(), 0.1f)|};
            {|#0:model.Add("head", new Linear(8, 1))|};

            """ + Train),
            VerifyCS.Diagnostic("SG2014").WithLocation(0).WithLocation(1).WithArguments("model.Add(…)", "model", "opt"));

    [Fact]
    public Task Fires_on_ModuleList_Append_and_Extend_a_new_child_and_a_grown_child()
        => VerifyCS.Analyzer(Method("""
            var blocks = new ModuleList(new Linear(4, 4));
            var opt = new Adam(blocks.Parameters());
            {|SG2014:blocks.Append(new Linear(4, 4))|};
            {|SG2014:blocks.Extend(new Module[] { new ReLU(), new Sequential(new Linear(4, 4)) })|};
            opt.Step();
            var net = new Net();
            var netOpt = new SGD(net.Parameters(), 0.1f);
            {|SG2014:net.Head = new Linear(4, 2)|};
            {|SG2014:net.Body.Append(new Linear(4, 4))|};
            netOpt.Step();
            """, """
            sealed class Net : Module
            {
                public Module Head { get; set; } = new Linear(4, 1);
                public Sequential Body { get; } = new Sequential();
            }
            """));

    [Fact]
    public Task Silent_when_the_optimizer_is_built_after_or_again()
        => VerifyCS.Analyzer(Method("""
            var model = new Sequential(new Linear(4, 8));
            model.Add("head", new Linear(8, 1));
            var opt = new SGD(model.Parameters(), 0.1f);
            model.Add("extra", new Linear(1, 1));
            opt = new SGD(model.Parameters(), 0.1f);

            """ + Train));

    [Fact]
    public Task Silent_when_the_new_layer_has_no_parameters_or_joins_through_AddParamGroup()
        => VerifyCS.Analyzer(Method("""
            var model = new Sequential(new Linear(4, 8));
            var opt = new SGD(model.Parameters(), 0.1f);
            model.Add("act", new ReLU());
            model.Append(new Dropout(0.1));
            var head = new Linear(8, 1);
            model.Add("head", head);
            opt.AddParamGroup(head.Parameters());

            """ + Train));

    [Fact]
    public Task Silent_when_the_optimizer_is_not_used_afterwards_or_covers_another_module()
        => VerifyCS.Analyzer(Method("""
            var model = new Sequential(new Linear(4, 8));
            var first = new SGD(model.Parameters(), 0.1f);
            first.Step();
            model.Add("head", new Linear(8, 1));
            var opt = new SGD(model.Parameters(), 0.1f);
            var other = new Sequential(new Linear(4, 4));
            var otherOpt = new SGD(other.Parameters(), 0.1f);
            model.Add("more", new Linear(1, 1));
            otherOpt.Step();
            opt = new SGD(model.Parameters(), 0.1f);

            """ + Train));

    [Fact]
    public Task Fix_builds_the_optimizer_after_the_model_is_complete()
        => VerifyCS.Fix<BuildOptimizerAfterFix>(
            Method("""
                var model = new Sequential(new Linear(4, 8), new ReLU());
                var opt = new SGD(model.Parameters(), 0.1f);
                Console.WriteLine("building");
                {|SG2014:model.Add("head", new Linear(8, 1))|};
    
            """ + Train),
            Method("""
                var model = new Sequential(new Linear(4, 8), new ReLU());
                Console.WriteLine("building");
                model.Add("head", new Linear(8, 1));
                var opt = new SGD(model.Parameters(), 0.1f);
    
            """ + Train));
}
