using Microsoft.CodeAnalysis;
using SharpGrad.Generator.Tests.Support;

namespace SharpGrad.Generator.Tests;

/// <summary>Which direct Forward calls the generator intercepts (so the callee's hooks run), and which it leaves alone.</summary>
public class InterceptorTests
{
    private static string? Interceptors(string source)
    {
        var (result, output) = GeneratorHarness.Run(TestSources.Layers, source);
        // Graph breaks (info) at the calls of eager-only children are expected; nothing else.
        Assert.All(result.Diagnostics, d => Assert.Equal(("SG1019", DiagnosticSeverity.Info), (d.Id, d.Severity)));
        var problems = GeneratorHarness.Problems(output);
        Assert.True(problems.Count == 0, GeneratorHarness.Format(problems));
        return result.GeneratedSources.SingleOrDefault(s => s.HintName == "SharpGrad.Interceptors.g.cs").SourceText?.ToString();
    }

    [Fact]
    public void ChildForwardCallsAreInterceptedOnePerReceiverTypeAndArity()
    {
        var text = Interceptors("""
            using SharpGrad;
            using Demo.Layers;
            namespace Demo;

            [Module]
            public partial class Pair
            {
                public Tensor Forward(Tensor a, Tensor b) => a + b;
            }

            [Module]
            public partial class Net
            {
                private readonly Linear fc1 = new(1, 1);
                private readonly Linear fc2 = new(1, 1);
                private readonly Pair pair = new();

                public Tensor Forward(Tensor x) => pair.Forward(fc2.Forward(fc1.Forward(x)), x);
            }
            """);
        Assert.NotNull(text);
        Assert.Equal(3, text.Split("InterceptsLocation(1, ").Length - 1);
        Assert.Contains("public static global::SharpGrad.Tensor Forward0(this global::Demo.Layers.Linear module, global::SharpGrad.Tensor input)", text);
        Assert.Contains("this global::Demo.Pair module, global::SharpGrad.Tensor input0, global::SharpGrad.Tensor input1)", text);
        Assert.Contains("static (m, xs) => m.Forward(xs[0], xs[1])", text);
    }

    [Fact]
    public void CallsThatLeaveOptionalParametersToTheirDefaultsAreInterceptedAndCompile()
    {
        // encoder.Forward(src) on Forward(Tensor src, Tensor? srcMask = null, Tensor? srcKeyPaddingMask = null): PyTorch's
        // layer(src) runs the layer's hooks, so this call must too. The interceptor declares the left-out parameters (the
        // compiler checks its signature against the method's: the output must compile) and calls Forward without them.
        // Calls that pass a Tensor? or a bool are not intercepted: their extra arguments are not tensor inputs of the hooks.
        var text = Interceptors("""
            using SharpGrad;
            using SharpGrad.Layers;
            namespace Demo;

            [Module]
            public partial class Masked
            {
                public Tensor Forward(Tensor x, Tensor? mask = null, bool causal = false) => x;
            }

            [Module]
            public partial class Net
            {
                private readonly TransformerEncoderLayer encoder = new(8, 2, 16, 0.0);
                private readonly GRUCell cell = new(8, 8);
                private readonly Masked masked = new();

                public Tensor Forward(Tensor x)
                    => encoder.Forward(x) + cell.Forward(x) + masked.Forward(x) + masked.Forward(x, x) + masked.Forward(x, null, true);
            }
            """);
        Assert.NotNull(text);
        Assert.True(3 == text.Split("InterceptsLocation(1, ").Length - 1, text);
        Assert.Contains("(this global::SharpGrad.Layers.TransformerEncoderLayer module, global::SharpGrad.Tensor input, global::SharpGrad.Tensor? defaulted0, global::SharpGrad.Tensor? defaulted1)", text);
        Assert.Contains("(this global::SharpGrad.Layers.GRUCell module, global::SharpGrad.Tensor input, global::SharpGrad.Tensor? defaulted0)", text);
        Assert.Contains("(this global::Demo.Masked module, global::SharpGrad.Tensor input, global::SharpGrad.Tensor? defaulted0, bool defaulted1)", text);
        Assert.DoesNotContain("m.Forward(x, ", text);
    }

    [Fact]
    public void CallsThatAlreadyDispatchOrAreNotChildCallsAreLeftAlone()
    {
        var text = Interceptors("""
            using SharpGrad;
            using Demo.Layers;
            namespace Demo;

            [Module]
            public partial class Net
            {
                private readonly Linear fc = new(1, 1);

                public Tensor Forward(Tensor x) => Module.DispatchForward(fc, x, static (m, t) => m.Forward(t));

                public Tensor Forward(Tensor x, Tensor y) => this.Forward(x) + Forward(y);
            }

            public sealed class NotAModule
            {
                public Tensor Forward(Tensor x) => x;
            }

            public static class Use
            {
                public static Tensor Run(NotAModule n, Tensor x) => n.Forward(x);
            }
            """);
        Assert.Null(text);
    }

    [Fact]
    public void GeneratedSequentialForwardAndOverriddenForwardAreInterceptedAndCompile()
    {
        var text = Interceptors("""
            using SharpGrad;
            using Demo.Layers;
            namespace Demo;

            [Sequential]
            public partial class Stack
            {
                private readonly ReLU relu = new();
            }

            [Module]
            public partial class BaseBlock
            {
                public virtual Tensor Forward(Tensor x) => x;
            }

            [Module]
            public partial class DerivedBlock : BaseBlock
            {
                public override Tensor Forward(Tensor x) => base.Forward(x) + x;
            }

            [Module]
            public partial class Net
            {
                private readonly Stack stack = new();
                private readonly DerivedBlock derived = new();
                private readonly BaseBlock asBase = new DerivedBlock();

                public Tensor Forward(Tensor x) => asBase.Forward(derived.Forward(stack.Forward(x)));
            }
            """);
        Assert.NotNull(text);
        Assert.Contains("this global::Demo.Stack module", text);
        Assert.True(3 == text.Split("InterceptsLocation(1, ").Length - 1, text);
    }
    /// <summary>The loss interceptors generated for <paramref name="use"/> beside the compiled MLP; the output must compile.</summary>
    private static string? LossInterceptors(string use)
    {
        var (result, output) = GeneratorHarness.Run(CompilerSources.Mlp, use);
        var problems = GeneratorHarness.Problems(output);
        Assert.True(problems.Count == 0, GeneratorHarness.Format(problems));
        Assert.DoesNotContain(result.Diagnostics, d => d.Severity >= DiagnosticSeverity.Warning);
        return result.GeneratedSources.SingleOrDefault(s => s.HintName == "SharpGrad.LossInterceptors.g.cs").SourceText?.ToString();
    }

    [Fact]
    public void CrossEntropyOfACompiledForwardIsInterceptedWithTheLossOwnSignature()
    {
        var text = LossInterceptors("""
            using SharpGrad;
            namespace Demo.Compiled;

            public sealed class Trainer
            {
                private readonly Mlp.Compiled _field;
                public Trainer(Mlp model) => _field = model.Compile();

                public Tensor FromLocal(Mlp model, Tensor x, Tensor y)
                {
                    var c = model.Compile();
                    return Losses.CrossEntropy(c.Forward(x), y);
                }

                public Tensor FromParameter(Mlp.Compiled c, Tensor x, Tensor y) => Losses.CrossEntropy(c.Forward(x), y, labelSmoothing: 0.1);

                public Tensor FromField(Tensor x, Tensor y, Tensor w) => SharpGrad.Losses.CrossEntropy(_field.Forward(x), y, w, reduction: Reduction.Sum);

                public Tensor FromCompile(Mlp model, Tensor x, Tensor y) => Losses.CrossEntropy((model.Compile()).Forward(x), y);

                private static (Mlp Model, Mlp.Compiled C) Make()
                {
                    var m = new Mlp();
                    return (m, m.Compile());
                }

                public Tensor FromTuple(Tensor x, Tensor y)
                {
                    var (_, c) = Make();
                    return Losses.CrossEntropy(c.Forward(x), y) + Losses.CrossEntropy(Make().C.Forward(x), y);
                }
            }
            """);
        Assert.NotNull(text);
        Assert.True(6 == text.Split("InterceptsLocation(1, ").Length - 1, text);
        Assert.Contains("public static global::SharpGrad.Tensor CrossEntropy(global::SharpGrad.Tensor input, global::SharpGrad.Tensor target, global::SharpGrad.Tensor? weight, long ignoreIndex, double labelSmoothing, global::SharpGrad.Reduction reduction)", text);
        Assert.Contains("=> global::SharpGrad.CompiledSupport.CrossEntropy(input, target, weight, ignoreIndex, labelSmoothing, reduction);", text);
    }

    [Fact]
    public void LossCallsWhoseFirstArgumentIsNotACompiledForwardAreLeftAlone()
    {
        var text = LossInterceptors("""
            using SharpGrad;
            namespace Demo.Compiled;

            [Sequential]
            public partial class Head
            {
                private readonly SharpGrad.Layers.Linear fc = new(784, 10);
            }

            public sealed class Wrapper
            {
                public Tensor Forward(Tensor x) => x;
                public Wrapper Compile() => this;
            }

            public static class Use
            {
                // the eager module, a held output, a class that is not a module (even with a Compile()), another loss, a
                // target that is a compiled output
                public static Tensor Eager(Mlp model, Tensor x, Tensor y) => Losses.CrossEntropy(model.Forward(x), y);

                public static Tensor Held(Mlp model, Tensor x, Tensor y)
                {
                    var c = model.Compile();
                    var logits = c.Forward(x);
                    return Losses.CrossEntropy(logits, y);
                }

                public static Tensor NotAModule(Wrapper w, Tensor x, Tensor y)
                {
                    var c = w.Compile();
                    return Losses.CrossEntropy(c.Forward(x), y) + Losses.CrossEntropy(w.Forward(x), y);
                }

                public static Tensor OtherLoss(Mlp model, Tensor x, Tensor y) => Losses.Nll(model.Compile().Forward(x), y);

                public static Tensor Target(Mlp model, Tensor x) => Losses.CrossEntropy(x, model.Compile().Forward(x));

                // a [Sequential]'s Forward, generated by this run (unbound, like a Compiled's), on the eager module
                public static Tensor Sequential(Head head, Tensor x, Tensor y) => Losses.CrossEntropy(head.Forward(x), y);
            }
            """);
        Assert.Null(text);
    }
}
