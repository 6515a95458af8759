using SharpGrad;
using SharpGrad.Layers;
using SharpGrad.Tests.Semantics;

namespace SharpGrad.Tests.Modules;

/// <summary>Module forward pre-hooks, forward hooks and full backward hooks, with removable handles (PyTorch's semantics).</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("SharpGrad.Autograd", "SG2008", Justification = "The tests check forward values (and hooks) with recording on, as in training.")]
public class ModuleHookTests
{
    [Fact]
    public void ForwardPreHookSeesAndReplacesInputs()
    {
        var m = new ScaleModule(2f);
        Tensor[]? seen = null;
        using var h = m.RegisterForwardPreHook((mod, xs) =>
        {
            seen = xs;
            return [xs[0] + 1f];
        });
        var y = m.Call(Tensor.FromArray(new float[] { 1, 2 }));
        Assert.Equal(new float[] { 1, 2 }, seen![0].ToArray());
        Assert.Equal(new float[] { 4, 6 }, y.ToArray());
    }

    [Fact]
    public void ForwardHookSeesInputAndOutputAndMayReplaceTheOutput()
    {
        var m = new ScaleModule(2f);
        Module? who = null;
        float seenOut = 0;
        var observe = m.RegisterForwardHook((mod, xs, y) => { who = mod; seenOut = y.ToArray()[0]; });
        var replace = m.RegisterForwardHook((mod, xs, y) => y * 10f);
        var result = m.Call(Tensor.FromArray(new float[] { 3 }));
        Assert.Same(m, who);
        Assert.Equal(6f, seenOut);
        Assert.Equal(60f, result.Item());

        replace.Dispose();
        Assert.Equal(6f, m.Call(Tensor.FromArray(new float[] { 3 })).Item());
        observe.Remove();
        Assert.False(m.HasHooks);
    }

    [Fact]
    public void FullBackwardHookGetsGradInputAndGradOutput()
    {
        var m = new ScaleModule(3f);
        var x = Tensor.FromArray(new float[] { 1, 2 }).RequiresGrad_();
        Tensor?[]? gradIn = null, gradOut = null;
        using var h = m.RegisterFullBackwardHook((mod, gi, go) => { gradIn = gi; gradOut = go; });
        var y = m.Call(x);
        (y * Tensor.FromArray(new float[] { 5, 7 })).Sum().Backward();
        Assert.Equal(new float[] { 5, 7 }, gradOut![0]!.ToArray());
        Assert.Equal(new float[] { 15, 21 }, gradIn![0]!.ToArray());
        Assert.Equal(new float[] { 15, 21 }, x.Grad!.ToArray());
        Assert.Equal(new float[] { 5 + 14 }, m.W.Grad!.ToArray());
    }

    [Fact]
    public void FullBackwardHookCanReplaceTheInputGradient()
    {
        var m = new ScaleModule(3f);
        var x = Tensor.FromArray(new float[] { 1, 2 }).RequiresGrad_();
        using var h = m.RegisterFullBackwardHook((mod, gi, go) => [gi[0]! * 0f]);
        m.Call(x).Sum().Backward();
        Assert.Equal(new float[] { 0, 0 }, x.Grad!.ToArray());
        Assert.Equal(new float[] { 3 }, m.W.Grad!.ToArray()); // the parameter's gradient is not affected
    }

    [Fact]
    public void FullBackwardHookRunsWithNullGradInputWhenTheInputNeedsNoGrad()
    {
        var m = new ScaleModule(3f);
        bool called = false;
        using var h = m.RegisterFullBackwardHook((mod, gi, go) =>
        {
            called = true;
            Assert.Null(gi[0]);
            Assert.NotNull(go[0]);
        });
        m.Call(Tensor.Ones(2)).Sum().Backward();
        Assert.True(called);
    }

    [Fact]
    public void HooksOfChildrenRunInsideASequential()
    {
        var a = new ScaleModule(2f);
        var b = new ScaleModule(5f);
        var seq = new Sequential(a, b);
        var order = new List<string>();
        using var h1 = a.RegisterForwardHook((m, x, y) => order.Add("a"));
        using var h2 = b.RegisterForwardHook((m, x, y) => order.Add("b"));
        using var h3 = seq.RegisterForwardHook((m, x, y) => order.Add("seq"));
        var y = seq.Call(Tensor.Ones(1));
        Assert.Equal(new[] { "a", "b", "seq" }, order);
        Assert.Equal(10f, y.Item());
    }
}

public class SequentialTests
{
    [Fact]
    public void PositionalChildrenAreNamedByIndex()
    {
        var seq = new Sequential(new ScaleModule(1), new ScaleModule(2), new ScaleModule(3));
        Assert.Equal(new[] { "0", "1", "2" }, seq.NamedChildren().Select(c => c.Name));
        Assert.Equal(new[] { "0.w", "1.w", "2.w" }, seq.NamedParameters().Select(p => p.Name));
        #pragma warning disable SG2008 // the test checks a forward value with recording on, as in training
        Assert.Equal(6f, seq.Forward(Tensor.Ones(1)).Item());
        #pragma warning restore SG2008
    }

    [Fact]
    public void AddAndOrderedDictNamesAreKept()
    {
        var inner = new Sequential().Add("conv1", new ScaleModule(1)).Add("relu1", new ScaleModule(2));
        var outer = new Sequential(("conv", inner), ("dense", new Sequential(("dense1", new ScaleModule(3)))));
        Assert.Equal(new[] { "conv.conv1.w", "conv.relu1.w", "dense.dense1.w" }, outer.NamedParameters().Select(p => p.Name));
        Assert.Equal(new[] { "", "conv", "conv.conv1", "conv.relu1", "dense", "dense.dense1" }, outer.NamedModules().Select(m => m.Name));
        Assert.Same(inner, outer["conv"]);
    }

    [Fact]
    public void BadChildNamesAreRejected()
    {
        var seq = new Sequential().Add("a", new ScaleModule(1));
        Assert.Contains("already", Assert.Throws<ArgumentException>(() => seq.Add("a", new ScaleModule(1))).Message);
        Assert.Contains("\".\"", Assert.Throws<ArgumentException>(() => seq.Add("a.b", new ScaleModule(1))).Message);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => seq.Add("", new ScaleModule(1))).Message);
    }

    [Fact]
    public void SharedParametersAreListedOnce()
    {
        var shared = new ScaleModule(1);
        var seq = new Sequential(shared, shared);
        Assert.Single(seq.Parameters());
    }

    [Fact]
    public void TrainEvalAndApplyReachEveryDescendant()
    {
        var leaf = new ScaleModule(1);
        var seq = new Sequential(new Sequential(leaf));
        seq.Eval();
        Assert.False(leaf.Training);
        seq.Train();
        Assert.True(leaf.Training);
        var visited = new List<Module>();
        seq.Apply(visited.Add);
        Assert.Equal(3, visited.Count);
        Assert.Same(leaf, visited[0]); // children first, like PyTorch
        Assert.Same(seq, visited[2]);
    }

    [Fact]
    public void ModuleListNamesItsItemsByIndex()
    {
        var list = new ModuleList<ScaleModule>(new ScaleModule(1), new ScaleModule(2));
        Assert.Equal(new[] { "0.w", "1.w" }, list.NamedParameters().Select(p => p.Name));
        Assert.Equal(2, list.Count);
    }
}
