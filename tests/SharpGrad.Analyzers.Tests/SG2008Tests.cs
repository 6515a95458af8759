using System.Threading.Tasks;
using SharpGrad.CodeFixes;
using static SharpGrad.Analyzers.Tests.Stubs;
using VerifyCS = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.InferenceWithGradAnalyzer>;

namespace SharpGrad.Analyzers.Tests;

public class SG2008Tests
{
    [Fact]
    public Task Fires_on_inference_outside_NoGrad()
        => VerifyCS.Analyzer(Method("""
            var model = new Linear(4, 2);
            var x = Tensor.Randn(8, 4);
            var y = {|#0:model.Forward(x)|};
            Console.WriteLine(y.ArgMax(1).ToArray());
            """),
            new Microsoft.CodeAnalysis.Testing.DiagnosticResult("SG2008", Microsoft.CodeAnalysis.DiagnosticSeverity.Info)
                .WithLocation(0).WithArguments("model", " and call `model.Eval()` first"));

    [Fact]
    public Task Fires_on_an_evaluated_model_chained_to_plain_values()
        => VerifyCS.Analyzer(Method("""
            var model = new Linear(4, 2);
            model.Eval();
            float accuracy = {|SG2008:model.Forward(Tensor.Randn(8, 4))|}.ArgMax(1).Eq(Tensor.Zeros(8)).Sum().Item() / 8f;
            """));

    [Fact]
    public Task Silent_inside_NoGrad()
        => VerifyCS.Analyzer(Method("""
            var model = new Linear(4, 2);
            using (Autograd.NoGrad())
            {
                var y = model.Forward(Tensor.Randn(8, 4));
                Console.WriteLine(y.Sum().Item());
            }
            using var scope = Autograd.NoGrad();
            var z = model.Forward(Tensor.Randn(8, 4)).Sum().Item();
            """));

    [Fact]
    public Task Silent_for_a_module_without_parameters()
        => VerifyCS.Analyzer(Method("""
            var act = new ReLU();
            var y = act.Forward(Tensor.Randn(8, 4));
            Console.WriteLine(y.Sum().Item());
            """));

    [Fact]
    public Task Silent_when_the_method_calls_Backward()
        => VerifyCS.Analyzer(Method("""
            var model = new Linear(4, 2);
            var loss = model.Forward(Tensor.Randn(8, 4)).Mean();
            loss.Backward();
            """));

    [Fact]
    public Task Silent_when_the_result_escapes()
        => VerifyCS.Analyzer(Method("", """
            Linear model = new Linear(4, 2);
            Tensor? last;
            Tensor Predict(Tensor x) => model.Forward(x);
            Tensor Loss(Tensor x) { var y = model.Forward(x); return Losses.Mse(y, x); }
            void Store(Tensor x) { last = model.Forward(x); }
            void Pass(Tensor x) { Keep(model.Forward(x)); }
            static void Keep(Tensor t) { }
            """));

    [Fact]
    public Task Fix_wraps_the_rest_of_the_block_in_NoGrad()
        => VerifyCS.Fix<NoGradFix>(
            Method("""
                var model = new Linear(4, 2);
                var y = {|SG2008:model.Forward(Tensor.Randn(8, 4))|};
                Console.WriteLine(y.Sum().Item());
                """),
            Method("""
                var model = new Linear(4, 2);
                using (Autograd.NoGrad())
                {
                    var y = model.Forward(Tensor.Randn(8, 4));
                    Console.WriteLine(y.Sum().Item());
                }
                """),
            fixAll: false);

    [Fact]
    public Task Fix_calls_Eval_and_wraps_in_NoGrad()
        => VerifyCS.Fix<NoGradFix>(
            Method("""
                var model = new Linear(4, 2);
                var y = {|SG2008:model.Forward(Tensor.Randn(8, 4))|};
                Console.WriteLine(y.Sum().Item());
                """),
            Method("""
                var model = new Linear(4, 2);
                model.Eval();
                using (Autograd.NoGrad())
                {
                    var y = model.Forward(Tensor.Randn(8, 4));
                    Console.WriteLine(y.Sum().Item());
                }
                """),
            codeActionIndex: 1,
            fixAll: false);

    // Regression (issue 15): a BatchNorm without affine parameters records nothing for an input that does not require grad.
    [Fact]
    public Task Silent_for_a_layer_created_without_its_parameters()
        => VerifyCS.Analyzer(Method("""
            var bn = new BatchNorm1d(3, affine: false, trackRunningStats: false);
            bn.Eval();
            var y = bn.Forward(Tensor.Randn(5, 3));
            Console.WriteLine(y.Sum().Item());
            """));

    [Fact]
    public Task Fires_for_the_same_layer_with_its_parameters()
        => VerifyCS.Analyzer(Method("""
            var bn = new BatchNorm1d(3);
            bn.Eval();
            var y = {|SG2008:bn.Forward(Tensor.Randn(5, 3))|};
            Console.WriteLine(y.Sum().Item());
            var affine = new BatchNorm1d(3, affine: true);
            affine.Eval();
            var z = {|SG2008:affine.Forward(Tensor.Randn(5, 3))|};
            Console.WriteLine(z.Sum().Item());
            """));

    [Fact]
    public Task Fires_when_only_the_bias_is_switched_off()
        => VerifyCS.Analyzer(Method("""
            var linear = new Linear(4, 2, bias: false);
            linear.Eval();
            var y = {|SG2008:linear.Forward(Tensor.Randn(8, 4))|};
            Console.WriteLine(y.Sum().Item());
            """));

    // Regression (issue 15): a result that goes into a module returning tensors in a tuple (an LSTM) is not a plain value.
    [Fact]
    public Task Silent_when_the_result_feeds_a_module_that_returns_tensors_in_a_tuple()
        => VerifyCS.Analyzer(Method("", """
            readonly Linear embed = new Linear(4, 4);
            readonly LSTM lstm = new LSTM(4, 8);
            readonly Linear head = new Linear(8, 2);
            Tensor Forward(Tensor tokens)
            {
                var (output, _) = lstm.Forward(embed.Forward(tokens));
                return head.Forward(output);
            }
            Tensor Last(Tensor tokens) => head.Forward(lstm.Forward(embed.Forward(tokens)).Output);
            """));
}
