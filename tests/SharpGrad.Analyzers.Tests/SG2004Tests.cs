using System.Threading.Tasks;
using SharpGrad.CodeFixes;
using static SharpGrad.Analyzers.Tests.Stubs;
using VerifyCS = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.MissingZeroGradAnalyzer>;

namespace SharpGrad.Analyzers.Tests;

public class SG2004Tests
{
    private const string Setup = """
        var model = new Linear(4, 1);
        var opt = new SGD(model.Parameters(), 0.1f);
        var x = Tensor.Randn(8, 4);

        """;

    [Fact]
    public Task Fires_on_a_loop_without_ZeroGrad()
        => VerifyCS.Analyzer(Method(Setup + """
            {|#1:for (int epoch = 0; epoch < 10; epoch++)
            {
                var loss = model.Forward(x).Mean();
                loss.Backward();
                {|#0:opt.Step()|};
            }|}
            """),
            VerifyCS.Diagnostic("SG2004").WithLocation(0).WithLocation(1).WithArguments("opt"));

    [Fact]
    public Task Fires_on_a_foreach_and_a_while()
        => VerifyCS.Analyzer(Method(Setup + """
            foreach (var batch in new[] { x, x })
            {
                model.Forward(batch).Mean().Backward();
                {|SG2004:opt.Step()|};
            }
            int n = 0;
            while (n++ < 3)
            {
                Losses.Mse(model.Forward(x), x).Backward();
                Console.WriteLine(n);
                {|SG2004:opt.Step()|};
            }
            """));

    [Fact]
    public Task Silent_with_ZeroGrad_on_the_optimizer_or_the_model()
        => VerifyCS.Analyzer(Method(Setup + """
            for (int epoch = 0; epoch < 10; epoch++)
            {
                opt.ZeroGrad();
                model.Forward(x).Mean().Backward();
                opt.Step();
            }
            for (int epoch = 0; epoch < 10; epoch++)
            {
                model.Forward(x).Mean().Backward();
                opt.Step();
                model.ZeroGrad();
            }
            """));

    [Fact]
    public Task Silent_with_ZeroGrad_in_a_called_helper()
        => VerifyCS.Analyzer(Method(Setup + """
            for (int epoch = 0; epoch < 10; epoch++)
            {
                Reset(opt);
                model.Forward(x).Mean().Backward();
                opt.Step();
            }
            """, """
            static void Reset(Optimizer o) => Clear(o);
            static void Clear(Optimizer o) => o.ZeroGrad();
            """));

    [Fact]
    public Task Silent_with_gradient_accumulation_over_an_inner_loop()
        => VerifyCS.Analyzer(Method(Setup + """
            for (int epoch = 0; epoch < 10; epoch++)
            {
                opt.ZeroGrad();
                for (int micro = 0; micro < 4; micro++)
                {
                    model.Forward(x).Mean().Backward();
                }
                opt.Step();
            }
            """));

    [Fact]
    public Task Silent_with_an_unknown_callback_or_no_Step()
        => VerifyCS.Analyzer(Method(Setup + """
            Action callback = () => { };
            for (int epoch = 0; epoch < 10; epoch++)
            {
                model.Forward(x).Mean().Backward();
                callback();
                opt.Step();
            }
            for (int epoch = 0; epoch < 10; epoch++)
            {
                model.Forward(x).Mean().Backward();
            }
            """));

    [Fact]
    public Task Fix_inserts_ZeroGrad_at_the_top_of_the_loop()
        => VerifyCS.Fix<ZeroGradInLoopFix>(
            Method(Setup + """
                for (int epoch = 0; epoch < 10; epoch++)
                {
                    var loss = model.Forward(x).Mean();
                    loss.Backward();
                    {|SG2004:opt.Step()|};
                }
                """),
            Method(Setup + """
                for (int epoch = 0; epoch < 10; epoch++)
                {
                    opt.ZeroGrad();
                    var loss = model.Forward(x).Mean();
                    loss.Backward();
                    opt.Step();
                }
                """));
}
