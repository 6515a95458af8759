using SharpGrad;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Semantics;

/// <summary>One test per rule of DESIGN.md §3 "Autograd semantics", including what the error messages say.</summary>
public class AutogradSemanticsTests
{
    private static Tensor Leaf(params float[] values) => Tensor.FromArray(values).RequiresGrad_();

    [Fact]
    public void BackwardOnNonScalarWithoutGradientThrowsNamingShapeAndFix()
    {
        var x = Tensor.Randn([2, 3], requiresGrad: true);
        var y = x * 2f;
        #pragma warning disable SG2001 // the test checks the runtime's error for this very misuse
        var e = Assert.Throws<InvalidOperationException>(() => y.Backward());
        #pragma warning restore SG2001
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("Sum()", e.Message);
        Assert.Contains("Mean()", e.Message);
        Assert.Contains("gradient", e.Message);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void BackwardOnNonScalarWithGradientWorks()
    {
        var x = Leaf(1, 2, 3);
        var y = x * x;
        y.Backward(Tensor.FromArray(new float[] { 1, 10, 100 }));
        Assert.Equal(new float[] { 2, 40, 600 }, x.Grad!.ToArray());
    }

    [Fact]
    public void BackwardWithGradientOfWrongShapeThrows()
    {
        var x = Leaf(1, 2, 3);
        var e = Assert.Throws<ArgumentException>(() => (x * 2f).Backward(Tensor.Ones(2)));
        Assert.Contains("[2]", e.Message);
        Assert.Contains("[3]", e.Message);
    }

    [Fact]
    public void LeavesAndNonLeaves()
    {
        var x = Leaf(1, 2);
        var y = x * 3f;
        var z = y.Sum();
        Assert.True(x.IsLeaf);
        Assert.False(y.IsLeaf);
        Assert.Null(x.GradFn);
        Assert.Equal("MulBackward", y.GradFn!.Name);
        Assert.Equal("SumBackward", z.GradFn!.Name);
        z.Backward();
        Assert.NotNull(x.Grad);
        Assert.Null(y.Grad); // a non-leaf keeps no gradient…
    }

    [Fact]
    public void RetainGradKeepsANonLeafGradient()
    {
        var x = Leaf(1, 2);
        var y = (x * 3f).RetainGrad();
        Assert.True(y.RetainsGrad);
        (y * y).Sum().Backward();
        Assert.Equal(new float[] { 6, 12 }, y.Grad!.ToArray());
        Assert.Equal(new float[] { 18, 36 }, x.Grad!.ToArray());
    }

    [Fact]
    public void PlainTensorsDoNotRequireGradButParametersDo()
    {
        Assert.False(Tensor.Zeros(3).RequiresGrad);
        var p = new Parameter(Tensor.Zeros(3));
        Assert.True(p.RequiresGrad);
        Assert.True(p.IsLeaf);
        Assert.False(new Parameter(Tensor.Zeros(3), requiresGrad: false).RequiresGrad);
        // results of ops on tensors that do not require grad are not recorded
        var r = Tensor.Ones(3) * 2f;
        Assert.False(r.RequiresGrad);
        Assert.True(r.IsLeaf);
    }

    [Fact]
    public void OnlyFloatingPointTensorsCanRequireGrad()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Tensor.Arange(3).RequiresGrad = true);
        Assert.Contains("Int64", e.Message);
    }

    [Fact]
    public void RequiresGradCanOnlyChangeOnLeaves()
    {
        var y = Leaf(1) * 2f;
        var e = Assert.Throws<InvalidOperationException>(() => y.RequiresGrad = false);
        Assert.Contains("Detach()", e.Message);
    }

    [Fact]
    public void SecondBackwardThroughAFreedGraphThrowsNamingRetainGraph()
    {
        var x = Leaf(1, 2);
        var y = (x * x).Sum();
        y.Backward();
        var e = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("retainGraph: true", e.Message);
        Assert.Contains("second time", e.Message);
    }

    [Fact]
    public void RetainGraphAllowsASecondBackwardAndGradientsAccumulate()
    {
        var x = Leaf(1, 2);
        var y = (x * x).Sum();
        y.Backward(retainGraph: true);
        y.Backward();
        Assert.Equal(new float[] { 4, 8 }, x.Grad!.ToArray());
    }

    [Fact]
    public void GraphsWithoutSavedTensorsCanBeTraversedTwiceLikePyTorch()
    {
        var x = Leaf(1, 2);
        var y = x + 1f;
        y.Sum().Backward();
        y.Sum().Backward(); // AddBackward saves nothing: PyTorch allows this too
        Assert.Equal(new float[] { 2, 2 }, x.Grad!.ToArray());
    }

    [Fact]
    public void GradientsAccumulateUntilZeroGrad()
    {
        var x = Leaf(1, 2);
        (x * 2f).Sum().Backward();
        (x * 3f).Sum().Backward();
        Assert.Equal(new float[] { 5, 5 }, x.Grad!.ToArray());
        using (Autograd.NoGrad()) x.Grad.Zero_();
        Assert.Equal(new float[] { 0, 0 }, x.Grad.ToArray());
        x.Grad = null;
        (x * 4f).Sum().Backward();
        Assert.Equal(new float[] { 4, 4 }, x.Grad!.ToArray());
    }

    [Fact]
    public void ModuleZeroGradSetsGradientsToNullByDefault()
    {
        var m = new ScaleModule(2f);
        m.Forward(Tensor.Ones(3)).Sum().Backward();
        Assert.NotNull(m.W.Grad);
        m.ZeroGrad();
        Assert.Null(m.W.Grad);
        m.Forward(Tensor.Ones(3)).Sum().Backward();
        m.ZeroGrad(setToNone: false);
        Assert.Equal(new float[] { 0 }, m.W.Grad!.ToArray());
    }

    [Fact]
    public void InPlaceChangeOfASavedTensorIsDetectedAtBackwardNamingTheOp()
    {
        var a = Leaf(1, 2, 3);
        var b = a * 2f;
        var c = b * b; // MulBackward saves b
        b.Mul_(3f);
        var e = Assert.Throws<InvalidOperationException>(() => c.Sum().Backward());
        Assert.Contains("in-place", e.Message);
        Assert.Contains("MulBackward", e.Message);
        Assert.Contains("version", e.Message);
    }

    [Fact]
    public void InPlaceOpBumpsTheVersionSharedWithViews()
    {
        var t = Tensor.Zeros(2, 3);
        var v = t.View(6);
        int before = v.Version;
        t.Add_(1f);
        Assert.Equal(before + 1, v.Version);
        Assert.Equal(Enumerable.Repeat(1f, 6).ToArray(), v.ToArray());
    }

    [Fact]
    public void InPlaceOnALeafThatRequiresGradThrowsOutsideNoGrad()
    {
        var w = Leaf(1, 2);
        var e = Assert.Throws<InvalidOperationException>(() => w.Add_(1f));
        Assert.Contains("leaf", e.Message);
        Assert.Contains("NoGrad", e.Message);
        using (Autograd.NoGrad()) w.Add_(1f);
        Assert.Equal(new float[] { 2, 3 }, w.ToArray());
    }

    [Fact]
    public void InPlaceOnANonLeafIsRecorded()
    {
        var x = Leaf(1, 2);
        var y = x * 3f;
        y.Add_(x); // y = 3x + x
        y.Sum().Backward();
        Assert.Equal(new float[] { 4, 4 }, x.Grad!.ToArray());
    }

    [Fact]
    public void NoGradRecordsNothingAndRestoresTheMode()
    {
        var x = Leaf(1, 2);
        Tensor y;
        using (Autograd.NoGrad())
        {
            Assert.False(Autograd.IsGradEnabled);
            y = x * 2f;
            using (Autograd.EnableGrad()) Assert.True((x * 2f).RequiresGrad);
        }
        Assert.True(Autograd.IsGradEnabled);
        Assert.False(y.RequiresGrad);
        Assert.Null(y.GradFn);
    }

    [Fact]
    public void DetachCutsTheGraphAndSharesData()
    {
        var x = Leaf(1, 2);
        var y = x * 2f;
        var d = y.Detach();
        Assert.False(d.RequiresGrad);
        Assert.True(d.IsLeaf);
        (y * d).Sum().Backward(); // d is a constant
        Assert.Equal(new float[] { 4, 8 }, x.Grad!.ToArray());
        using (Autograd.NoGrad()) d.Add_(1f);
        Assert.Equal(new float[] { 3, 5 }, y.ToArray());
    }

    [Fact]
    public void TensorHooksSeeAndReplaceGradients()
    {
        var x = Leaf(1, 2);
        var y = x * 3f;
        Tensor? seen = null;
        using var h1 = y.RegisterHook(g => { seen = g.Clone(); });
        var h2 = y.RegisterHook(g => g * 10f);
        y.Sum().Backward(retainGraph: true);
        Assert.Equal(new float[] { 1, 1 }, seen!.ToArray());
        Assert.Equal(new float[] { 30, 30 }, x.Grad!.ToArray());

        h2.Dispose();
        x.Grad = null;
        y.Sum().Backward();
        Assert.Equal(new float[] { 3, 3 }, x.Grad!.ToArray());
    }

    [Fact]
    public void LeafHooksRunBeforeAccumulation()
    {
        var x = Leaf(1, 2);
        using var h = x.RegisterHook(g => g * 0.5f);
        (x * 4f).Sum().Backward();
        Assert.Equal(new float[] { 2, 2 }, x.Grad!.ToArray());
    }

    [Fact]
    public void HookReturningTheWrongShapeThrows()
    {
        var x = Leaf(1, 2);
        using var h = x.RegisterHook(g => Tensor.Ones(3));
        var e = Assert.Throws<InvalidOperationException>(() => (x * 4f).Sum().Backward());
        Assert.Contains("[3]", e.Message);
        Assert.Contains("[2]", e.Message);
    }

    [Fact]
    public void AutogradGradReturnsGradientsWithoutTouchingGrad()
    {
        var x = Leaf(1, 2, 3);
        var w = Leaf(4, 5, 6);
        var y = (x * w).Sum();
        var grads = Autograd.Grad([y], [x, w]);
        Assert.Equal(new float[] { 4, 5, 6 }, grads[0]!.ToArray());
        Assert.Equal(new float[] { 1, 2, 3 }, grads[1]!.ToArray());
        Assert.Null(x.Grad);
        Assert.Null(w.Grad);
    }

    [Fact]
    public void AutogradGradWithCreateGraphGivesSecondDerivatives()
    {
        var x = Leaf(1, 2, 3);
        var y = (x * x * x).Sum();
        var dx = Autograd.Grad(y, x, createGraph: true); // 3x²
        Assert.Equal(new float[] { 3, 12, 27 }, dx.ToArray());
        var d2 = Autograd.Grad(dx.Sum(), x); // 6x
        Assert.Equal(new float[] { 6, 12, 18 }, d2.ToArray());
    }

    [Fact]
    public void AutogradGradOfAnUnusedInputThrowsUnlessAllowed()
    {
        var x = Leaf(1, 2);
        var unused = Leaf(3);
        var y = (x * 2f).Sum();
        var e = Assert.Throws<InvalidOperationException>(() => Autograd.Grad([y], [x, unused], retainGraph: true));
        Assert.Contains("allowUnused", e.Message);
        var grads = Autograd.Grad([y], [x, unused], allowUnused: true);
        Assert.Null(grads[1]);
    }

    [Fact]
    public void BackwardOnATensorThatDoesNotRequireGradThrows()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Tensor.Ones(1).Sum().Backward());
        Assert.Contains("does not require grad", e.Message);
    }

    [Fact]
    public void DiamondGraphsAccumulateAllPaths()
    {
        var x = Leaf(2);
        var a = x * 3f;
        var b = x * x;
        var y = (a * b).Sum(); // 3x³ → 9x² = 36
        y.Backward();
        TensorAssert.Close(new[] { 36.0 }, x.Grad!.ToDoubleArray());
    }
}

/// <summary>A hand-written module (no generator) used to test the base class's plumbing and hooks.</summary>
internal sealed class ScaleModule(float w) : Module
{
    public Parameter W { get; } = new(Tensor.FromArray(new[] { w }));

    public Tensor Forward(Tensor x) => x * W;

    protected override IEnumerable<(string Name, Parameter Parameter)> NamedDirectParameters()
    {
        yield return ("w", W);
    }

    protected override Tensor ForwardDynamic(Tensor[] inputs) => Forward(inputs[0]);
}

public class EngineTests
{
    [Fact]
    public void ABranchThatReceivesNoGradientDoesNotBlockTheOthers()
    {
        // x feeds b through a path whose backward returns nothing (the "hidden" branch feeds only an op whose
        // gradient for it is zero-by-construction: a comparison mask via Detach), and b also gets a real gradient.
        var x = Tensor.FromArray(new float[] { 1, 2 }).RequiresGrad_();
        var b = x * 2f;
        var hidden = b * 1f;
        var cut = new NoGradientOp(hidden).Output;
        var y = (cut + b).Sum();
        y.Backward();
        Assert.Equal(new float[] { 2, 2 }, x.Grad!.ToArray());
    }

    /// <summary>An op whose backward returns no gradient for its input (like an integer-valued op).</summary>
    private sealed class NoGradientOp
    {
        public NoGradientOp(Tensor input)
        {
            Output = Tensor.Record(input.Detach().Clone(), "NoGradientBackward", [input], (g, n) => [null]);
        }

        public Tensor Output { get; }
    }
}
