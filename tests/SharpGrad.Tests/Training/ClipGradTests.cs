using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Training;

/// <summary>Utils.ClipGradNorm / ClipGradValue against torch.nn.utils.clip_grad_norm_ / clip_grad_value_ (Fixtures/arch).</summary>
public class ClipGradTests
{
    private const string File = "training.safetensors";

    public static IEnumerable<object[]> NormCases() => ArchFixtures.CaseNames(File, "clip_grad_norm").Where(c => (string)c[0] != "nonfinite");

    private static Parameter[] WithGrads(string prefix, int count, DType dtype = DType.Float32)
    {
        var ps = new Parameter[count];
        for (int i = 0; i < count; i++)
        {
            var g = ArchFixtures.Get(File, $"{prefix}{i}").To(dtype);
            ps[i] = new Parameter(Tensor.Zeros(g.Shape, dtype)) { Grad = g };
        }
        return ps;
    }

    private static double NormType(string key) => key == "inf" ? double.PositiveInfinity : double.Parse(key, System.Globalization.CultureInfo.InvariantCulture);

    [Theory]
    [MemberData(nameof(NormCases))]
    public void ClipGradNormMatchesPyTorch(string name)
    {
        var c = ArchFixtures.Case(File, name);
        double p = NormType(c.GetProperty("norm_type").GetString()!), maxNorm = c.GetProperty("max_norm").GetDouble();
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var ps = WithGrads("clip.grad", 3, dtype);
            var withoutGrad = new Parameter(Tensor.Ones(2)); // skipped, as in PyTorch
            var total = Utils.ClipGradNorm([ps[0], withoutGrad, ps[1], ps[2]], maxNorm, p);
            Assert.Equal(dtype, total.DType);
            Assert.Empty(total.Shape);
            TensorAssert.Close(ArchFixtures.Get(File, $"clip.{name}.total"), total, 2e-6, 1e-6, $"{name} ({dtype}) total norm");
            for (int i = 0; i < 3; i++) TensorAssert.Close(ArchFixtures.Get(File, $"clip.{name}.grad{i}"), ps[i].Grad!, 2e-6, 1e-7, $"{name} ({dtype}) grad {i}");
            Assert.Null(withoutGrad.Grad);
        }
    }

    [Fact]
    public void NonfiniteNormScalesLikePyTorchOrThrowsWhenAsked()
    {
        var ps = WithGrads("clip.nonfinite.in", 2);
        var total = Utils.ClipGradNorm(ps, 1.0);
        Assert.True(double.IsPositiveInfinity(total.ItemDouble()));
        // inf·0 is NaN, every finite element becomes 0 — exactly what PyTorch's gradients hold.
        for (int i = 0; i < 2; i++) TensorAssert.Close(ArchFixtures.Get(File, $"clip.nonfinite.grad{i}"), ps[i].Grad!, 0, 0, $"grad {i}");

        var again = WithGrads("clip.nonfinite.in", 2);
        var before = again.Select(p => p.Grad!.Clone()).ToArray();
        var ex = Assert.Throws<InvalidOperationException>(() => Utils.ClipGradNorm(again, 1.0, errorIfNonfinite: true));
        Assert.Contains("non-finite", ex.Message);
        Assert.Contains("errorIfNonfinite", ex.Message);
        for (int i = 0; i < 2; i++) TensorAssert.Close(before[i], again[i].Grad!, 0, 0, "untouched after the error");
    }

    [Fact]
    public void ClipGradValueMatchesPyTorch()
    {
        var ps = WithGrads("clip.grad", 3);
        int version = ps[0].Grad!.Version;
        Utils.ClipGradValue(ps, 0.3);
        Assert.True(ps[0].Grad!.Version > version, "clipping in place bumps the gradient's version");
        for (int i = 0; i < 3; i++) TensorAssert.Close(ArchFixtures.Get(File, $"clip.value0.3.grad{i}"), ps[i].Grad!, 0, 0, $"grad {i}");
    }

    [Fact]
    public void NonContiguousGradientsAreClippedInPlace()
    {
        var g = ArchFixtures.Get(File, "clip.grad0"); // [4, 3]
        var p = new Parameter(Tensor.Zeros(3, 4)) { Grad = g.Transpose(0, 1) };
        var expected = g.Transpose(0, 1).Clamp(-0.3, 0.3);
        Utils.ClipGradValue(p, 0.3);
        TensorAssert.Close(expected, p.Grad!, 0, 0, "clamped");
        var q = new Parameter(Tensor.Zeros(3, 4)) { Grad = ArchFixtures.Get(File, "clip.grad0").Transpose(0, 1) };
        var total = Utils.ClipGradNorm(q, 0.5);
        TensorAssert.Close(ArchFixtures.Get(File, "clip.grad0").Transpose(0, 1) * (float)(0.5 / (total.ItemDouble() + 1e-6)), q.Grad!, 1e-6, 1e-7, "scaled");
    }

    [Fact]
    public void EdgeCases()
    {
        var none = Utils.ClipGradNorm([new Parameter(Tensor.Ones(2))], 1.0);
        Assert.Equal(0f, none.Item());
        Assert.Contains("maxNorm", Assert.Throws<ArgumentException>(() => Utils.ClipGradNorm([new Parameter(Tensor.Ones(2))], -1)).Message);
        Assert.Contains("normType", Assert.Throws<ArgumentException>(() => Utils.ClipGradNorm([new Parameter(Tensor.Ones(2))], 1, -2)).Message);
        Assert.Contains("clipValue", Assert.Throws<ArgumentException>(() => Utils.ClipGradValue([new Parameter(Tensor.Ones(2))], -0.1)).Message);
    }
}
