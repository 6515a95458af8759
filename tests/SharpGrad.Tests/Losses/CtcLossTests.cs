using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.LossTests;

/// <summary>Losses.Ctc and CTCLoss against F.ctc_loss (Fixtures/arch) and by finite differences in Float64.</summary>
public class CtcLossTests
{
    private const string File = "training.safetensors";

    public static IEnumerable<object[]> Cases() =>
        ArchFixtures.CaseNames(File, "ctc").SelectMany(c => new[] { "mean", "sum", "none" }.Select(r => new[] { c[0], r }));

    private static Reduction Parse(string r) => r switch { "mean" => Reduction.Mean, "sum" => Reduction.Sum, _ => Reduction.None };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name, string reduction)
    {
        var c = ArchFixtures.Case(File, name);
        int blank = c.GetProperty("blank").GetInt32();
        bool zeroInf = c.GetProperty("zero_infinity").GetBoolean();
        var logits = ArchFixtures.Get(File, $"ctc.{name}.logits");
        var targets = ArchFixtures.Get(File, $"ctc.{name}.targets");
        var il = ArchFixtures.Get(File, $"ctc.{name}.input_lengths");
        var tl = ArchFixtures.Get(File, $"ctc.{name}.target_lengths");
        if (c.GetProperty("unbatched").GetBoolean())
        {
            il = il.Reshape([]);
            tl = tl.Reshape([]);
        }
        var seed = ArchFixtures.Get(File, $"ctc.{name}.{reduction}.seed");
        int classDim = logits.Rank - 1;

        // the gradient of the log-probabilities fed directly (PyTorch's convention: exp(lp) − posterior)
        var lp = logits.LogSoftmax(classDim).Detach().RequiresGrad_();
        var loss = new CTCLoss(blank, Parse(reduction), zeroInf).Forward(lp, targets, il, tl);
        TensorAssert.Close(ArchFixtures.Get(File, $"ctc.{name}.{reduction}.out"), loss, 1e-5, 1e-5, $"{name}/{reduction} loss");
        Assert.Equal(ArchFixtures.Get(File, $"ctc.{name}.{reduction}.out").Shape, loss.Shape);
        loss.Backward(seed);
        TensorAssert.Close(ArchFixtures.Get(File, $"ctc.{name}.{reduction}.grad_log_probs"), lp.Grad!, 1e-4, 1e-5, $"{name}/{reduction} grad of log_probs");

        // through LogSoftmax, the true gradient of the logits
        var x = logits.Clone().RequiresGrad_();
        var loss2 = SharpGrad.Losses.Ctc(x.LogSoftmax(classDim), targets, il, tl, blank, Parse(reduction), zeroInf);
        loss2.Backward(seed);
        TensorAssert.Close(ArchFixtures.Get(File, $"ctc.{name}.{reduction}.grad_logits"), x.Grad!, 1e-4, 1e-5, $"{name}/{reduction} grad of logits");
    }

    [Theory]
    [InlineData("padded")]
    [InlineData("concatenated_blank_last")]
    [InlineData("impossible_zero_inf")]
    public void GradCheckOfLogitsThroughLogSoftmax(string name)
    {
        var c = ArchFixtures.Case(File, name);
        int blank = c.GetProperty("blank").GetInt32();
        bool zeroInf = c.GetProperty("zero_infinity").GetBoolean();
        var logits = ArchFixtures.Get(File, $"ctc.{name}.logits").To(DType.Float64);
        var targets = ArchFixtures.Get(File, $"ctc.{name}.targets");
        var il = ArchFixtures.Get(File, $"ctc.{name}.input_lengths").ToLongArray().Select(v => (int)v).ToArray();
        var tl = ArchFixtures.Get(File, $"ctc.{name}.target_lengths").ToLongArray().Select(v => (int)v).ToArray();
        foreach (var reduction in new[] { Reduction.None, Reduction.Mean })
        {
            GradCheck.Check(xs => SharpGrad.Losses.Ctc(xs[0].LogSoftmax(2), targets, il, tl, blank, reduction, zeroInf), logits);
        }
    }

    [Fact]
    public void BadInputIsNamed()
    {
        var lp = Tensor.Randn(6, 2, 4).LogSoftmax(2);
        var targets = Tensor.FromArray(new long[] { 1, 2, 3, 1 }, 2, 2);
        Assert.Contains("blank", Assert.Throws<ArgumentException>(() => SharpGrad.Losses.Ctc(lp, Tensor.FromArray(new long[] { 0, 2, 3, 1 }, 2, 2), [6, 6], [2, 2])).Message);
        Assert.Contains("input length 7", Assert.Throws<ArgumentException>(() => SharpGrad.Losses.Ctc(lp, targets, [7, 6], [2, 2])).Message);
        Assert.Contains("exceeds", Assert.Throws<ArgumentException>(() => SharpGrad.Losses.Ctc(lp, targets, [6, 6], [3, 2])).Message);
        Assert.Contains("add up to", Assert.Throws<ArgumentException>(() => SharpGrad.Losses.Ctc(lp, Tensor.FromArray(new long[] { 1, 2, 3 }, 3), [6, 6], [2, 2])).Message);
        Assert.Contains("2 input lengths", Assert.Throws<ArgumentException>(() => SharpGrad.Losses.Ctc(lp, targets, [6], [2])).Message);
        Assert.Contains("[T, N, C]", Assert.Throws<ArgumentException>(() => SharpGrad.Losses.Ctc(Tensor.Zeros(2, 2, 2, 2), targets, [2, 2], [1, 1])).Message);
    }

    [Fact]
    public void SecondOrderGradientIsRefused()
    {
        var x = Tensor.Randn([5, 1, 3], DType.Float64, requiresGrad: true);
        var loss = SharpGrad.Losses.Ctc(x.LogSoftmax(2), Tensor.FromArray(new long[] { 1, 2 }, 1, 2), [5], [2]);
        Assert.Throws<NotSupportedException>(() => Autograd.Grad([loss], [x], createGraph: true));
    }
}
