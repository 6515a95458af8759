using System.Threading.Tasks;
using SharpGrad.CodeFixes;
using static SharpGrad.Analyzers.Tests.Stubs;
using NonLeafGrad = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.NonLeafGradAnalyzer>;
using NonLeafRequiresGrad = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.NonLeafRequiresGradAnalyzer>;
using NonScalarBackward = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.NonScalarBackwardAnalyzer>;
using InPlaceOnSaved = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.InPlaceOnSavedAnalyzer>;
using SecondBackward = SharpGrad.Analyzers.Tests.Verify<SharpGrad.Analyzers.SecondBackwardAnalyzer>;

namespace SharpGrad.Analyzers.Tests;

/// <summary>
/// The value flow every requires-grad rule shares (MethodFacts): one test per way a tensor comes to require grad (or to
/// stop), or a value reaches the place it is used, with the rules that depend on it — and the lookalikes where the flow
/// is not known, so every rule stays silent.
/// </summary>
public class GradFlowTests
{
    // ---------------------------------------------------------------- the RequiresGrad setter

    [Fact]
    public Task Setter_makes_the_op_result_a_non_leaf()
        => NonLeafGrad.Analyzer(Method("""
            var w = Tensor.Rand(3);
            w.RequiresGrad = true;
            var h = w * 2f;
            h.Sum().Backward();
            var g = {|SG2002:h.Grad|};
            """));

    [Fact]
    public Task Setter_makes_a_second_backward_through_saved_tensors_fail()
        => SecondBackward.Analyzer(Method("""
            var w = Tensor.Rand(3);
            w.RequiresGrad = true;
            var h = w.Exp();
            h.Sum().Backward();
            {|SG2003:h.Mean().Backward()|};
            """));

    [Fact]
    public Task Setter_through_an_alias_counts()
        => NonLeafGrad.Analyzer(Method("""
            var w = Tensor.Rand(3);
            var alias = w;
            alias.RequiresGrad = true;
            var h = w * 2f;
            h.Sum().Backward();
            var g = {|SG2002:h.Grad|};
            """));

    [Fact]
    public Task Setter_in_a_branch_after_the_op_or_not_constant_is_not_followed()
        => NonLeafGrad.Analyzer(Method("""
            var w = Tensor.Rand(3);
            if (DateTime.Now.Second > 30) w.RequiresGrad = true;
            var h = w * 2f;
            h.Sum().Backward();
            var g = h.Grad;

            var v = Tensor.Rand(3);
            var k = v * 2f;
            v.RequiresGrad = true;
            k.Sum().Backward();
            var gk = k.Grad;

            var u = Tensor.Rand(3);
            u.RequiresGrad = Environment.ProcessorCount > 1;
            var m = u * 2f;
            m.Sum().Backward();
            var gm = m.Grad;
            """));

    [Fact]
    public Task Setter_to_false_makes_a_leaf()
        => NonLeafGrad.Analyzer(Method("""
            var w = Tensor.Randn([3], requiresGrad: true);
            w.RequiresGrad = false;
            var h = w * 2f;
            var x = Tensor.Randn([3], requiresGrad: true);
            (h * x).Sum().Backward();
            var g = h.Grad;
            """));

    // ---------------------------------------------------------------- RequiresGrad_()

    [Fact]
    public Task RequiresGrad_as_a_statement_and_chained()
        => NonLeafGrad.Analyzer(Method("""
            var w = Tensor.Rand(3);
            w.RequiresGrad_();
            var h = w * 2f;
            var k = Tensor.Rand(3).RequiresGrad_(true) * 3f;
            (h + k).Sum().Backward();
            var g = {|SG2002:h.Grad|};
            var gk = {|SG2002:k.Grad|};
            """));

    [Fact]
    public Task RequiresGrad_false_and_not_constant_are_silent()
        => NonLeafGrad.Analyzer(Method("""
            var w = Tensor.Randn([3], requiresGrad: true).RequiresGrad_(false);
            var h = w * 2f;
            var flag = Environment.ProcessorCount > 1;
            var v = Tensor.Rand(3).RequiresGrad_(flag);
            var k = v * 2f;
            var x = Tensor.Randn([3], requiresGrad: true);
            (h * x + k * x).Sum().Backward();
            var g = h.Grad;
            var gk = k.Grad;
            """));

    [Fact]
    public Task RequiresGrad_on_a_creation_fed_into_a_stored_op()
        => NonLeafRequiresGrad.Analyzer(Method("""
            var w = {|SG2006:Tensor.Randn([3, 4]).RequiresGrad_() * 0.01f|};
            var ok = Tensor.Randn([3, 4]).RequiresGrad_();
            """));

    // ---------------------------------------------------------------- parameters and buffers

    [Fact]
    public Task Parameters_of_a_layer_and_of_Parameters_require_grad()
        => NonLeafGrad.Analyzer(Method("""
            var layer = new Linear(3, 3);
            var h = layer.Weight * 2f;
            h.Sum().Backward();
            Console.WriteLine({|SG2002:h.Grad|});
            foreach (var p in layer.Parameters())
            {
                var scaled = p * 2f;
                scaled.Sum().Backward();
                Console.WriteLine({|SG2002:scaled.Grad|});
            }
            """));

    [Fact]
    public Task Buffers_do_not_require_grad()
        => NonLeafGrad.Analyzer(Method("""
            var bn = new BatchNorm1d(3);
            var h = bn.RunningMean! * 2f;
            var x = Tensor.Randn([3], requiresGrad: true);
            (h * x).Sum().Backward();
            Console.WriteLine(h.Grad);
            foreach (var b in bn.Buffers())
            {
                var scaled = b * 2f;
                (scaled * x).Sum().Backward();
                Console.WriteLine(scaled.Grad);
            }
            """));

    [Fact]
    public Task A_frozen_parameter_is_not_known_to_require_grad()
        => NonLeafGrad.Analyzer(Method("""
            var layer = new Linear(3, 3);
            layer.Weight.RequiresGrad = false;
            var h = layer.Weight * 2f;
            var x = Tensor.Randn([3], requiresGrad: true);
            (h * x).Sum().Backward();
            Console.WriteLine(h.Grad);
            """));

    [Fact]
    public Task A_module_output_is_recorded_unless_the_method_freezes_parameters()
        => NonLeafGrad.Analyzer(Method("""
            var model = new Linear(4, 2);
            var y = model.Forward(Tensor.Randn(8, 4));
            y.Sum().Backward();
            Console.WriteLine({|SG2002:y.Grad|});
            """, """
            void FineTune(Linear backbone, Linear head)
            {
                foreach (var p in backbone.Parameters()) p.RequiresGrad = false;
                var features = backbone.Forward(Tensor.Randn(8, 4));
                head.Forward(features).Sum().Backward();
                Console.WriteLine(features.Grad);
            }
            """));

    // ---------------------------------------------------------------- Detach

    [Fact]
    public Task Detach_cuts_and_a_detached_leaf_can_be_made_to_require_grad_again()
        => NonLeafGrad.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var y = x * 2f;
            var d = y.Detach();
            var h = d * 2f;
            var e = y.Detach();
            e.RequiresGrad = true;
            var k = e * 3f;
            (h + k + y).Sum().Backward();
            var gh = h.Grad;
            var gk = {|SG2002:k.Grad|};
            """));

    [Fact]
    public Task Detach_in_place_makes_a_leaf()
        => NonLeafGrad.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var y = x * 2f;
            y.Detach_();
            var h = y * 3f;
            (h * x).Sum().Backward();
            var g = h.Grad;
            """));

    // ---------------------------------------------------------------- NoGrad scopes

    [Fact]
    public Task Ops_inside_NoGrad_are_leaves_and_EnableGrad_records_again()
        => NonLeafGrad.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            Tensor quiet, loud;
            using (Autograd.NoGrad())
            {
                quiet = x * 2f;
                using (Autograd.EnableGrad())
                {
                    loud = x * 3f;
                }
            }
            (quiet * x + loud).Sum().Backward();
            var gq = quiet.Grad;
            var gl = {|SG2002:loud.Grad|};
            """));

    [Fact]
    public Task A_lambda_created_inside_NoGrad_may_run_anywhere()
        => NonLeafGrad.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            Action later;
            using (Autograd.NoGrad())
            {
                later = () =>
                {
                    var y = x * 2f;
                    (y * x).Sum().Backward();
                    Console.WriteLine(y.Grad);
                };
            }
            later();
            """));

    // ---------------------------------------------------------------- locals reassigned in straight-line code

    [Fact]
    public Task A_reassigned_local_holds_its_last_value()
        => NonLeafGrad.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var t = x;
            t = t * 2f;
            t.Sum().Backward();
            var g = {|SG2002:t.Grad|};
            """));

    [Fact]
    public Task The_fix_retains_after_the_reassignment()
        => NonLeafGrad.Fix<RetainGradFix>(
            Method("""
                var x = Tensor.Randn([3], requiresGrad: true);
                var t = x;
                t = t * 2f;
                t.Sum().Backward();
                var g = {|SG2002:t.Grad|};
                """),
            Method("""
                var x = Tensor.Randn([3], requiresGrad: true);
                var t = x;
                t = t * 2f;
                t.RetainGrad();
                t.Sum().Backward();
                var g = t.Grad;
                """));

    [Fact]
    public Task A_reassigned_local_has_its_last_shape()
        => NonScalarBackward.Analyzer(Method("""
            var t = Tensor.Randn(4, 10);
            t = t.Sum();
            t = t * Tensor.Ones(3);
            {|SG2001:t.Backward()|};
            """));

    [Fact]
    public Task A_reassigned_loss_shares_the_graph_it_was_built_from()
        => SecondBackward.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var h = x.Exp();
            var loss = h.Sum();
            loss.Backward();
            loss = x.Exp().Sum();
            loss.Backward();
            loss = h.Mean();
            {|SG2003:loss.Backward()|};
            """));

    [Fact]
    public Task Reassignment_in_a_branch_a_loop_or_a_lambda_is_not_followed()
        => NonScalarBackward.Analyzer(Method("""
            var a = Tensor.Randn(4, 10);
            if (DateTime.Now.Second > 30) a = a.Sum();
            a.Backward();

            var b = Tensor.Randn(4, 10);
            for (int i = 0; i < 2; i++)
            {
                b.Backward();
                b = b.Sum();
            }

            var c = Tensor.Randn(4, 10);
            Action reduce = () => c = c.Sum();
            reduce();
            c = Tensor.Randn(4, 10);
            c.Backward();
            """));

    [Fact]
    public Task A_reassigned_leaf_is_lost_to_the_op()
        => NonLeafRequiresGrad.Analyzer(Method("""
            var w = Tensor.Randn([3, 4], requiresGrad: true);
            w = {|SG2006:w * 0.01f|};
            var v = Tensor.Randn([3, 4]);
            v.RequiresGrad = true;
            v = {|SG2006:v * 0.01f|};
            """));

    [Fact]
    public Task A_leaf_that_is_used_first_or_kept_under_another_name_is_not_lost()
        => NonLeafRequiresGrad.Analyzer(Method("""
            var w = Tensor.Randn([3, 4], requiresGrad: true);
            var optimizer = new SGD(new[] { w }, 0.1f);
            w = w * 0.01f;
            var v = Tensor.Randn([3, 4], requiresGrad: true);
            var scaled = v * 0.01f;
            var u = Tensor.Randn([3, 4], requiresGrad: true);
            if (DateTime.Now.Second > 30) u = Tensor.Zeros(3, 4);
            u = u * 0.01f;
            """));

    [Fact]
    public Task In_place_on_a_saved_tensor_through_an_alias_and_not_after_reassignment()
        => InPlaceOnSaved.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var w = Tensor.Randn([3], requiresGrad: true);
            var h = x * 2f;
            var y = h * w;
            var alias = h;
            {|SG2007:alias.Add_(1f)|};
            y.Sum().Backward();

            var k = x * 3f;
            var z = k * w;
            k = k + 1f;
            k.Add_(1f);
            z.Sum().Backward();
            """));

    // ---------------------------------------------------------------- local functions and lambdas

    [Fact]
    public Task A_value_through_a_local_function_or_a_lambda()
        => NonLeafGrad.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var y = Scale(x);
            Func<Tensor, Tensor> twice = t => t * 2f;
            var z = twice(x);
            (y + z).Sum().Backward();
            var gy = {|SG2002:y.Grad|};
            var gz = {|SG2002:z.Grad|};

            static Tensor Scale(Tensor t)
            {
                var scaled = t * 2f;
                return scaled;
            }
            """));

    [Fact]
    public Task A_lambda_local_that_saves_is_the_same_graph_twice()
        => SecondBackward.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            Func<Tensor, Tensor> f = t => t.Exp();
            var h = f(x);
            h.Sum().Backward();
            {|SG2003:h.Mean().Backward()|};
            F(x).Backward();
            F(x).Backward();

            static Tensor F(Tensor t) => t.Exp().Sum();
            """));

    [Fact]
    public Task A_local_function_returning_a_fresh_leaf_fed_into_a_stored_op()
        => NonLeafRequiresGrad.Analyzer(Method("""
            var w = {|SG2006:Leaf(3) * 0.01f|};
            var b = {|SG2006:MadeLeaf() + 1f|};
            var kept = Kept() * 2f;

            static Tensor Leaf(int n) => Tensor.Randn([n], requiresGrad: true);
            static Tensor MadeLeaf()
            {
                var t = Tensor.Zeros(3);
                t.RequiresGrad = true;
                return t;
            }
            Tensor Kept()
            {
                var t = Tensor.Zeros([3], requiresGrad: true);
                Console.WriteLine(t);
                _last = t;
                return t;
            }
            """, """
            private Tensor? _last;
            """));

    [Fact]
    public Task Functions_that_are_not_plain_or_change_their_argument_are_not_followed()
        => NonLeafGrad.Analyzer(Method("""
            var x = Tensor.Randn([3], requiresGrad: true);
            var y = Branchy(x, true);
            var w = Tensor.Rand(3);
            Enable(w);
            var h = w * 2f;
            var v = Tensor.Rand(3);
            Setup(v);
            var k = v * 2f;
            (y + h + k).Sum().Backward();
            var gy = y.Grad;
            var gh = h.Grad;
            var gk = k.Grad;

            static Tensor Branchy(Tensor t, bool twice)
            {
                if (twice) return t * 2f;
                return t;
            }
            static void Enable(Tensor t) => t.RequiresGrad = true;
            """, """
            static void Setup(Tensor t) { }
            """));
}
