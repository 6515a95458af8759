using System.Threading.Tasks;
using SharpGrad.CodeFixes;
using static SharpGrad.Analyzers.Tests.Stubs;
using VerifyCS = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.ActivationTwiceAnalyzer>;

namespace SharpGrad.Analyzers.Tests;

public class SG2012Tests
{
    [Fact]
    public Task Fires_on_Softmax_output_passed_to_CrossEntropy()
        => VerifyCS.Analyzer(Method("""
            var logits = Tensor.Randn(8, 10);
            var target = Tensor.Zeros(8);
            var probs = {|#1:logits.Softmax(1)|};
            var loss = Losses.CrossEntropy({|#0:probs|}, target);
            """),
            VerifyCS.Diagnostic("SG2012").WithLocation(0).WithLocation(1).WithArguments("Losses.CrossEntropy", "LogSoftmax", "probs", "Softmax", ""));

    [Fact]
    public Task Fires_on_LogSoftmax_and_names_Nll()
        => VerifyCS.Analyzer(Method("""
            var logits = Tensor.Randn(8, 10);
            var loss = Losses.CrossEntropy({|#0:Functional.LogSoftmax(logits, 1)|}, Tensor.Zeros(8));
            """),
            VerifyCS.Diagnostic("SG2012").WithLocation(0).WithLocation(0)
                .WithArguments("Losses.CrossEntropy", "LogSoftmax", "Functional.LogSoftmax(logits, 1)", "LogSoftmax", " — or keep the log-probabilities and use `Losses.Nll`"));

    [Fact]
    public Task Fires_on_Sigmoid_through_layers_and_a_loss_module()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn(8, 1);
            var y = Tensor.Zeros(8, 1);
            var act = new Sigmoid();
            var p = act.Forward(x);
            var bce = new BCEWithLogitsLoss();
            var loss = bce.Forward({|SG2012:p|}, y);
            var direct = Losses.BinaryCrossEntropyWithLogits({|SG2012:Functional.Sigmoid(x)|}, y);
            """));

    [Fact]
    public Task Fires_on_a_Sequential_a_module_and_a_lambda_that_end_in_the_activation()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn(8, 4);
            var y = Tensor.Zeros(8);
            var net = new Sequential(new Linear(4, 3), new Softmax(1));
            var a = Losses.CrossEntropy({|SG2012:net.Forward(x)|}, y);
            var model = new Net();
            var b = Losses.CrossEntropy({|SG2012:model.Forward(x)|}, y);
            Func<Tensor, Tensor> head = t => t.Softmax(1);
            var c = Losses.CrossEntropy({|SG2012:head(x)|}, y);
            var loss = new CrossEntropyLoss();
            var d = loss.Forward({|SG2012:new Holder().Forward(x)|}, y);
            """, """
            sealed class Net : Module
            {
                readonly Linear fc = new Linear(4, 3);
                public Tensor Forward(Tensor x) => Functional.LogSoftmax(fc.Forward(x), 1);
            }
            sealed class Holder : Module
            {
                readonly Linear fc = new Linear(4, 3);
                readonly Softmax softmax = new Softmax(1);
                public Tensor Forward(Tensor x)
                {
                    var h = fc.Forward(x);
                    return softmax.Forward(h);
                }
            }
            """));

    [Fact]
    public Task Silent_when_the_loss_expects_that_activation()
        => VerifyCS.Analyzer(Method("""
            var logits = Tensor.Randn(8, 10);
            var y = Tensor.Zeros(8);
            var nll = Losses.Nll(logits.LogSoftmax(1), y);
            var mse = Losses.Mse(logits.Softmax(1), Tensor.Zeros(8, 10));
            var bce = Losses.BinaryCrossEntropy(logits.Sigmoid(), Tensor.Zeros(8, 10));
            var ce = Losses.CrossEntropy(logits, y);
            """));

    [Fact]
    public Task Silent_on_an_activation_the_loss_does_not_apply()
        => VerifyCS.Analyzer(Method("""
            var logits = Tensor.Randn(8, 10);
            var a = Losses.BinaryCrossEntropyWithLogits(logits.Softmax(1), Tensor.Zeros(8, 10));
            var b = Losses.CrossEntropy(logits.Sigmoid(), Tensor.Zeros(8));
            var c = Losses.CrossEntropy(logits.Relu(), Tensor.Zeros(8));
            """));

    [Fact]
    public Task Silent_when_the_input_is_not_known_to_be_the_activation()
        => VerifyCS.Analyzer(Method("""
            var x = Tensor.Randn(8, 4);
            var y = Tensor.Zeros(8);
            var scores = Tensor.Randn(8, 3);
            if (DateTime.Now.Second > 30) scores = scores.Softmax(1);
            var a = Losses.CrossEntropy(scores, y);
            var model = new TrainOrEval();
            var b = Losses.CrossEntropy(model.Forward(x), y);
            """, """
            sealed class TrainOrEval : Module
            {
                readonly Linear fc = new Linear(4, 3);
                public Tensor Forward(Tensor x)
                {
                    var h = fc.Forward(x);
                    if (Training) return h;
                    return h.Softmax(1);
                }
            }
            """));

    [Fact]
    public Task Fix_passes_the_scores_before_Softmax()
        => VerifyCS.Fix<ActivationTwiceFix>(
            Method("""
                var logits = Tensor.Randn(8, 10);
                var a = Losses.CrossEntropy({|SG2012:logits.Softmax(1)|}, Tensor.Zeros(8));
                var b = Losses.CrossEntropy({|SG2012:Functional.Softmax(logits * 2f, 1)|}, Tensor.Zeros(8));
                """),
            Method("""
                var logits = Tensor.Randn(8, 10);
                var a = Losses.CrossEntropy(logits, Tensor.Zeros(8));
                var b = Losses.CrossEntropy(logits * 2f, Tensor.Zeros(8));
                """));

    [Fact]
    public Task Fix_uses_Nll_for_log_probabilities()
        => VerifyCS.Fix<ActivationTwiceFix>(
            Method("""
                var logProbs = Tensor.Randn(8, 10).LogSoftmax(1);
                var loss = Losses.CrossEntropy({|SG2012:logProbs|}, Tensor.Zeros(8), ignoreIndex: 0);
                """),
            Method("""
                var logProbs = Tensor.Randn(8, 10).LogSoftmax(1);
                var loss = Losses.Nll(logProbs, Tensor.Zeros(8), ignoreIndex: 0);
                """));

    [Fact]
    public Task Fix_uses_BinaryCrossEntropy_for_probabilities()
        => VerifyCS.Fix<ActivationTwiceFix>(
            Method("""
                var p = Tensor.Randn(8, 1).Sigmoid();
                var loss = Losses.BinaryCrossEntropyWithLogits({|SG2012:p|}, Tensor.Zeros(8, 1));
                """),
            Method("""
                var p = Tensor.Randn(8, 1).Sigmoid();
                var loss = Losses.BinaryCrossEntropy(p, Tensor.Zeros(8, 1));
                """));

    [Fact]
    public Task No_Nll_fix_when_label_smoothing_has_no_counterpart()
        => VerifyCS.Fix<ActivationTwiceFix>(
            Method("""
                var logProbs = Tensor.Randn(8, 10).LogSoftmax(1);
                var loss = Losses.CrossEntropy({|SG2012:logProbs|}, Tensor.Zeros(8), labelSmoothing: 0.1);
                """),
            Method("""
                var logProbs = Tensor.Randn(8, 10).LogSoftmax(1);
                var loss = Losses.CrossEntropy({|SG2012:logProbs|}, Tensor.Zeros(8), labelSmoothing: 0.1);
                """));
}
