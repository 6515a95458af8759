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
}
