using System.Threading.Tasks;
using SharpGrad.CodeFixes;
using static SharpGrad.Analyzers.Tests.Stubs;
using VerifyCS = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.AccumulatedGraphAnalyzer>;

namespace SharpGrad.Analyzers.Tests;

public class SG2011Tests
{
    private const string Setup = """
        var model = new Linear(4, 1);
        var opt = new SGD(model.Parameters(), 0.1f);
        var x = Tensor.Randn(8, 4);
        var y = Tensor.Zeros(8, 1);

        """;

    [Fact]
    public Task Fires_on_a_running_total_of_the_loss()
        => VerifyCS.Analyzer(Method(Setup + """
            var total = Tensor.Zeros(1);
            for (int i = 0; i < 10; i++)
            {
                opt.ZeroGrad();
                var loss = Losses.Mse(model.Forward(x), y);
                loss.Backward();
                opt.Step();
                {|#0:total += {|#1:loss|}|};
            }
            Console.WriteLine(total.Item() / 10);
            """),
            VerifyCS.Diagnostic("SG2011").WithLocation(0).WithLocation(1).WithArguments("loss", "total"));

    [Fact]
    public Task Fires_on_a_list_of_losses_and_on_total_equals_total_plus_loss()
        => VerifyCS.Analyzer(Method(Setup + """
            var losses = new System.Collections.Generic.List<Tensor>();
            Tensor sum = Tensor.Zeros(1);
            foreach (var batch in new[] { x, x * 2f })
            {
                var loss = Losses.Mse(model.Forward(batch), y);
                loss.Backward();
                {|SG2011:losses.Add(loss)|};
                {|SG2011:sum = sum + loss|};
            }
            Console.WriteLine(string.Join(", ", System.Linq.Enumerable.Select(losses, l => l.Item())));
            Console.WriteLine($"mean {(sum / 2f).Item()}");
            """));

    [Fact]
    public Task Silent_when_plain_numbers_or_detached_tensors_are_accumulated()
        => VerifyCS.Analyzer(Method(Setup + """
            float total = 0;
            var detached = Tensor.Zeros(1);
            for (int i = 0; i < 10; i++)
            {
                var loss = Losses.Mse(model.Forward(x), y);
                loss.Backward();
                total += loss.Item();
                detached += loss.Detach();
            }
            Console.WriteLine(total + detached.Item());
            """));

    [Fact]
    public Task Silent_when_the_total_is_differentiated_as_in_backpropagation_through_time()
        => VerifyCS.Analyzer(Method(Setup + """
            var total = Tensor.Zeros(1);
            var steps = new System.Collections.Generic.List<Tensor>();
            for (int t = 0; t < 5; t++)
            {
                var loss = Losses.Mse(model.Forward(x), y);
                total = total + loss;
                steps.Add(loss);
            }
            total.Backward();
            Tensor.Stack(steps).Sum().Backward();
            """));

    [Fact]
    public Task Silent_when_the_total_lives_in_one_iteration_or_escapes()
        => VerifyCS.Analyzer(Method(Setup + """
            for (int i = 0; i < 10; i++)
            {
                var perStep = Tensor.Zeros(1);
                perStep += Losses.Mse(model.Forward(x), y);
                Console.WriteLine(perStep.Item());
            }
            """, """
            Tensor Sum(Linear model, Tensor x, Tensor y)
            {
                var total = Tensor.Zeros(1);
                for (int i = 0; i < 3; i++) total += Losses.Mse(model.Forward(x), y);
                return total;
            }
            """));

    [Fact]
    public Task Silent_when_the_loss_does_not_require_grad()
        => VerifyCS.Analyzer(Method(Setup + """
            var total = Tensor.Zeros(1);
            using (Autograd.NoGrad())
            {
                for (int i = 0; i < 10; i++)
                {
                    total += Losses.Mse(model.Forward(x), y);
                }
            }
            Console.WriteLine(total.Item());
            """));

    [Fact]
    public Task Fix_accumulates_the_detached_loss()
        => VerifyCS.Fix<DetachAccumulatedFix>(
            Method(Setup + """
                var total = Tensor.Zeros(1);
                for (int i = 0; i < 10; i++)
                {
                    var loss = Losses.Mse(model.Forward(x), y);
                    loss.Backward();
                    {|SG2011:total += loss|};
                }
                Console.WriteLine(total.Item());
                """),
            Method(Setup + """
                var total = Tensor.Zeros(1);
                for (int i = 0; i < 10; i++)
                {
                    var loss = Losses.Mse(model.Forward(x), y);
                    loss.Backward();
                    total += loss.Detach();
                }
                Console.WriteLine(total.Item());
                """));
}
