using System.Threading.Tasks;
using SharpGrad.CodeFixes;
using static SharpGrad.Analyzers.Tests.Stubs;
using VerifyCS = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.TrainingInEvalModeAnalyzer>;

namespace SharpGrad.Analyzers.Tests;

public class SG2010Tests
{
    private const string Setup = """
        var model = new Linear(4, 1);
        var opt = new SGD(model.Parameters(), 0.1f);
        var x = Tensor.Randn(8, 4);
        var y = Tensor.Zeros(8, 1);

        """;

    [Fact]
    public Task Fires_when_an_epoch_ends_with_Eval_and_the_next_one_trains_without_Train()
        => VerifyCS.Analyzer(Method(Setup + """
            for (int epoch = 0; epoch < 3; epoch++)
            {
                {|#2:for (int step = 0; step < 10; step++)
                {
                    opt.ZeroGrad();
                    Losses.Mse(model.Forward(x), y).Backward();
                    {|#0:opt.Step()|};
                }|}
                {|#1:model.Eval()|};
                using (Autograd.NoGrad()) Console.WriteLine(model.Forward(x).Sum().Item());
            }
            """),
            VerifyCS.Diagnostic("SG2010").WithLocation(0).WithLocation(1).WithLocation(2).WithArguments("opt", "model"));

    [Fact]
    public Task Fires_when_Eval_comes_before_the_training_loop_or_is_on_a_module_containing_the_trained_one()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn(8, 4);
            var y = Tensor.Zeros(8, 1);
            var model = new Linear(4, 1);
            var opt = new SGD(model.Parameters(), 0.1f);
            model.Eval();
            Console.WriteLine(model.Forward(x).Sum().Item());
            for (int step = 0; step < 10; step++)
            {
                opt.ZeroGrad();
                Losses.Mse(model.Forward(x), y).Backward();
                {|SG2010:opt.Step()|};
            }
            var net = new Net();
            var headOpt = new Adam(net.Head.Parameters());
            net.Eval();
            while (true)
            {
                Losses.Mse(net.Head.Forward(x), y).Backward();
                {|SG2010:headOpt.Step()|};
            }
            """, """
            sealed class Net : Module
            {
                public Linear Head { get; } = new Linear(4, 1);
            }
            """));

    [Fact]
    public Task Silent_when_each_epoch_starts_with_Train()
        => VerifyCS.Analyzer(Method(Setup + """
            for (int epoch = 0; epoch < 3; epoch++)
            {
                model.Train();
                for (int step = 0; step < 10; step++)
                {
                    opt.ZeroGrad();
                    Losses.Mse(model.Forward(x), y).Backward();
                    opt.Step();
                }
                model.Eval();
                if (epoch % 2 == 0) model.Train(true);
            }
            """));

    [Fact]
    public Task Silent_when_Eval_cannot_reach_the_step()
        => VerifyCS.Analyzer(Method(Setup + """
            if (Environment.ProcessorCount > 64)
            {
                model.Eval();
                Console.WriteLine(model.Forward(x).Sum().Item());
                return;
            }
            for (int step = 0; step < 10; step++)
            {
                opt.ZeroGrad();
                Losses.Mse(model.Forward(x), y).Backward();
                opt.Step();
            }
            model.Eval();
            """));

    [Fact]
    public Task Silent_when_only_another_module_is_evaluated()
        => VerifyCS.Analyzer(Method(Setup + """
            var teacher = new Linear(4, 1);
            teacher.Eval();
            for (int step = 0; step < 10; step++)
            {
                Tensor target;
                using (Autograd.NoGrad()) target = teacher.Forward(x);
                Losses.Mse(model.Forward(x), target).Backward();
                opt.Step();
            }
            """));

    [Fact]
    public Task Silent_when_something_may_switch_the_mode_back()
        => VerifyCS.Analyzer(Method(Setup + """
            model.Eval();
            Prepare(model);
            for (int step = 0; step < 10; step++)
            {
                Losses.Mse(model.Forward(x), y).Backward();
                opt.Step();
            }
            model.Eval();
            model.Train(Environment.ProcessorCount > 1);
            while (true)
            {
                Losses.Mse(model.Forward(x), y).Backward();
                opt.Step();
            }
            """, """
            static void Prepare(Module m) { }
            """));

    [Fact]
    public Task Silent_without_Backward_in_the_loop()
        => VerifyCS.Analyzer(Method(Setup + """
            model.Eval();
            for (int step = 0; step < 10; step++)
            {
                opt.Step();
            }
            """));

    [Fact]
    public Task Fix_calls_Train_before_the_training_loop()
        => VerifyCS.Fix<TrainBeforeLoopFix>(
            Method(Setup + """
                for (int epoch = 0; epoch < 3; epoch++)
                {
                    for (int step = 0; step < 10; step++)
                    {
                        Losses.Mse(model.Forward(x), y).Backward();
                        {|SG2010:opt.Step()|};
                    }
                    model.Eval();
                }
                """),
            Method(Setup + """
                for (int epoch = 0; epoch < 3; epoch++)
                {
                    model.Train();
                    for (int step = 0; step < 10; step++)
                    {
                        Losses.Mse(model.Forward(x), y).Backward();
                        opt.Step();
                    }
                    model.Eval();
                }
                """));
}
