using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// An attention whose result is its weights only: <c>toKey</c>'s output reaches the result (the weights depend on the key),
/// <c>toValue</c>'s does not (they do not depend on the value), and neither does the scaled copy <c>shift</c> of the value.
/// </summary>
[Module]
public sealed partial class WeightsOnlyHookNet
{
    internal readonly Linear toKey = new(8, 8);
    internal readonly Linear toValue = new(8, 8);
    internal readonly ReLU shift = new();
    internal readonly MultiheadAttention attn = new(8, 2, batchFirst: true);

    public Tensor Forward([Shape("N", "T", 8)] Tensor x)
        => attn.Forward(x, toKey.Forward(x), shift.Forward(toValue.Forward(x))).Weights!;
}

/// <summary>The same, unbatched ([T, 8]: the query's rows the program's batch).</summary>
[Module]
public sealed partial class UnbatchedWeightsOnlyHookNet
{
    internal readonly Linear toKey = new(8, 8);
    internal readonly Linear toValue = new(8, 8);
    internal readonly ReLU shift = new();
    internal readonly MultiheadAttention attn = new(8, 2);

    public Tensor Forward([Shape("T", 8)] Tensor x)
        => attn.Forward(x, toKey.Forward(x), shift.Forward(toValue.Forward(x)), averageAttnWeights: false).Weights!;
}

/// <summary>
/// Full backward hooks (PyTorch's <c>register_full_backward_hook</c>) in a compiled program are called exactly as eager calls them:
/// on a child whose output the result reaches, once per backward with eager's gradients; on a child whose output the result does not
/// reach (a value's projection when only the attention weights are used), never — the compiled backward, which runs every node, used to
/// call it with zeros (session 13: the hook emission sites ask <c>GradientReach</c>). In training and in evaluation.
/// </summary>
public class CompiledUnreachedHookTests
{
    private static List<(string Who, Tensor? GradInput, Tensor? GradOutput)> Record(params (string Name, Module Child)[] children)
    {
        var seen = new List<(string, Tensor?, Tensor?)>();
        foreach (var (name, child) in children)
        {
            child.RegisterFullBackwardHook((m, gin, gout) => seen.Add((name, gin[0]?.Detach().Clone(), gout[0]?.Detach().Clone())));
        }
        return seen;
    }

    private static void AssertSameCalls(Module model, (string, Module)[] children, Func<Tensor, Tensor> eager, Func<Tensor, Tensor> compiled, int[] shape, bool training)
    {
        if (!training) model.Eval();
        var seen = Record(children);
        var x = Tensor.Randn(shape, rng: new Rng(401));
        var g = Tensor.Randn(eager(x).Shape, rng: new Rng(402));
        seen.Clear();
        (eager(x.Clone().RequiresGrad_()) * g).Sum().Backward();
        var eagerCalls = seen.ToList();
        seen.Clear();
        (compiled(x.Clone().RequiresGrad_()) * g).Sum().Backward();
        var compiledCalls = seen.ToList();

        // Eager (PyTorch's rule): the key's projection is called once, the value's path never.
        Assert.Equal(["toKey"], eagerCalls.Select(c => c.Who));
        Assert.Equal(eagerCalls.Select(c => c.Who).OrderBy(s => s), compiledCalls.Select(c => c.Who).OrderBy(s => s));
        foreach (var (who, gin, gout) in eagerCalls)
        {
            var (_, cgin, cgout) = compiledCalls.Single(c => c.Who == who);
            TensorAssert.Close(gout!, cgout!, 1e-4, 1e-5, who + " grad_output");
            TensorAssert.Close(gin!, cgin!, 1e-4, 1e-5, who + " grad_input");
        }
    }

    [Theory]
    [InlineData(3, true)]
    [InlineData(5, false)]
    public void HooksOnReachedAndUnreachedChildrenAreCalledAsEagerCallsThem(int t, bool training)
    {
        var model = new WeightsOnlyHookNet();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        AssertSameCalls(model, [("toKey", model.toKey), ("toValue", model.toValue), ("shift", model.shift)], model.Forward, compiled.Forward, [2, t, 8], training);
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(4, true)]
    [InlineData(6, false)]
    public void UnbatchedHooksOnReachedAndUnreachedChildrenAreCalledAsEagerCallsThem(int t, bool training)
    {
        var model = new UnbatchedWeightsOnlyHookNet();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        AssertSameCalls(model, [("toKey", model.toKey), ("toValue", model.toValue), ("shift", model.shift)], model.Forward, compiled.Forward, [t, 8], training);
    }
}
