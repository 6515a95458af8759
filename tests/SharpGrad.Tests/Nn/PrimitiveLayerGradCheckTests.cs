using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Nn;

/// <summary>
/// Float64 finite differences for issue 13's primitive layers at odd sizes: the gradients of the input and of every parameter,
/// and (where the backward is recorded) the second derivative through <c>createGraph</c>.
/// </summary>
public class PrimitiveLayerGradCheckTests
{
    private static Tensor R(int seed, params int[] shape) => Tensor.Randn(shape, DType.Float64, rng: new Rng(seed));

    public static IEnumerable<object[]> Interpolations() =>
    [
        ["nearest", null!, new[] { 7, 5 }, null!],
        ["nearest", null!, null!, new[] { 1.7 }],
        ["nearest-exact", null!, new[] { 4, 9 }, null!],
        ["bilinear", false, new[] { 7, 5 }, null!],
        ["bilinear", true, new[] { 2, 7 }, null!],
        ["bilinear", false, null!, new[] { 1.5, 2.5 }],
    ];

    [Theory]
    [MemberData(nameof(Interpolations))]
    public void Interpolate2d(string mode, bool? alignCorners, int[]? size, double[]? scale)
        => GradCheck.Check(a => Functional.Interpolate(a[0], size, scale, mode, alignCorners), R(1, 2, 3, 5, 3));

    [Theory]
    [InlineData("nearest", null)]
    [InlineData("linear", false)]
    [InlineData("linear", true)]
    public void Interpolate1d(string mode, bool? alignCorners) => GradCheck.Check(a => Functional.Interpolate(a[0], [8], null, mode, alignCorners), R(2, 2, 3, 5));

    [Theory]
    [InlineData("constant", new[] { 1, 2, -1, 3 })]
    [InlineData("constant", new[] { 2, 1, 0, 1, 1, 1 })]
    [InlineData("reflect", new[] { 2, 1, 1, 2 })]
    [InlineData("replicate", new[] { 3, 1, 0, 2 })]
    [InlineData("circular", new[] { 1, 3, 2, 0 })]
    [InlineData("replicate", new[] { 1, 1, 1, 0, 0, 2 })]
    public void Pad(string mode, int[] pad) => GradCheck.Check(a => Functional.Pad(a[0], pad, mode, 0.25), R(3, 2, 3, 3, 5));

    [Fact]
    public void GroupNormLayer()
    {
        var m = Perturbed(new GroupNorm(3, 6, dtype: DType.Float64));
        ModuleGradCheck.Check(m, a => m.Forward(a[0]), [R(4, 3, 6, 5)]);
    }

    [Fact]
    public void InstanceNormAffine()
    {
        var m = Perturbed(new InstanceNorm2d(3, affine: true, dtype: DType.Float64));
        ModuleGradCheck.Check(m, a => m.Forward(a[0]), [R(5, 2, 3, 3, 5)]);
    }

    [Fact]
    public void InstanceNormEvalWithRunningStats()
    {
        var m = Perturbed(new InstanceNorm1d(3, affine: true, trackRunningStats: true, dtype: DType.Float64));
        m.Eval();
        ModuleGradCheck.Check(m, a => m.Forward(a[0]), [R(6, 2, 3, 7)]);
    }

    [Fact]
    public void RmsNorm()
    {
        var m = Perturbed(new RMSNorm([3, 5], eps: 1e-3, dtype: DType.Float64));
        ModuleGradCheck.Check(m, a => m.Forward(a[0]), [R(7, 2, 3, 5)]);
    }

    [Fact]
    public void Pooling1dAndAdaptiveMax()
    {
        GradCheck.Check(a => Functional.MaxPool1d(a[0], 3, 2, 1, 1, ceilMode: true), R(8, 2, 3, 11));
        GradCheck.Check(a => Functional.AvgPool1d(a[0], 4, 3, 2, ceilMode: true, countIncludePad: false), R(9, 2, 3, 11));
        GradCheck.Check(a => Functional.AdaptiveMaxPool2d(a[0], (3, 2)), R(10, 2, 3, 7, 5));
    }

    [Fact]
    public void ConvTranspose1d()
    {
        var m = new ConvTranspose1d(4, 6, 3, stride: 2, padding: 1, outputPadding: 1, groups: 2, dilation: 2, rng: new Rng(3), dtype: DType.Float64);
        ModuleGradCheck.Check(m, a => m.Forward(a[0]), [R(11, 2, 4, 5)]);
    }

    /// <summary>The second derivative of the linear resampling and padding (their backward is recorded), against finite differences of the first.</summary>
    [Fact]
    public void SecondOrderThroughCreateGraph()
    {
        foreach (Func<Tensor, Tensor> op in new Func<Tensor, Tensor>[]
                 {
                     t => Functional.Interpolate(t, [5, 4], null, "bilinear"),
                     t => Functional.Pad(t, [1, 2, 2, 1], "reflect"),
                     t => Functional.GroupNorm(t, 2),
                     t => Functional.RmsNorm(t, [3]),
                 })
        {
            GradCheck.Check(a =>
            {
                // GradCheck's finite differences call this under NoGrad with plain tensors: differentiate a fresh leaf then.
                using var grad = Autograd.EnableGrad();
                var x = a[0].RequiresGrad ? a[0] : a[0].Detach().RequiresGrad_();
                var y = op(x);
                var w = Tensor.Randn(y.Shape, DType.Float64, rng: new Rng(12));
                return Autograd.Grad([(y * y * w).Sum()], [x], createGraph: true)[0]!;
            }, R(13, 2, 4, 3, 3));
        }
    }

    private static T Perturbed<T>(T module) where T : Module
    {
        var rng = new Rng(21);
        using (Autograd.NoGrad())
        {
            foreach (var p in module.Parameters()) p.Add_(Tensor.Randn(p.Shape, p.DType, rng: rng) * 0.3f);
        }
        return module;
    }
}
