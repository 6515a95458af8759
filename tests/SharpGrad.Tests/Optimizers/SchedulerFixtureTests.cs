using SharpGrad.Optimizers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Optimizers;

/// <summary>
/// LambdaLR, LinearLR, SequentialLR, CosineAnnealingWarmRestarts and ReduceLROnPlateau against the learning rates PyTorch's
/// schedulers set (Fixtures/arch: the rate of every group before each of n steps).
/// </summary>
public class SchedulerFixtureTests
{
    private const string File = "training.safetensors";

    private static Sgd Sgd(params double[] lrs) => new(lrs.Select(lr => new ParamGroup([new Parameter(Tensor.Zeros(1))], lr: lr)), lr: lrs[0]);

    /// <summary>Records the rates before each of the case's steps and compares them with PyTorch's.</summary>
    private static void Check(string name, Optimizer opt, Action<int> step)
    {
        var expected = ArchFixtures.Get(File, $"sched.{name}");
        int epochs = expected.Shape[0], groups = expected.Shape[1];
        Assert.Equal(groups, opt.ParamGroups.Count);
        var e = expected.ToDoubleArray();
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            for (int g = 0; g < groups; g++)
            {
                double want = e[epoch * groups + g], got = opt.ParamGroups[g].Lr;
                Assert.True(Math.Abs(want - got) <= 1e-12 + 1e-9 * Math.Abs(want), $"{name}: epoch {epoch}, group {g}: PyTorch's lr is {want:R}, got {got:R}");
            }
            step(epoch);
        }
    }

    [Fact]
    public void LambdaLRWithOneFunctionPerGroup()
    {
        var opt = Sgd(0.1, 0.02);
        var s = new LambdaLR(opt, [e => Math.Pow(0.95, e), e => 1.0 / (1 + e / 3)]);
        Check("lambda", opt, _ => s.Step());
        Assert.Equal(opt.ParamGroups.Select(g => g.Lr), s.GetLastLr());
    }

    [Fact]
    public void LinearLRWarmupAndDecay()
    {
        var opt = Sgd(0.1);
        var warm = new LinearLR(opt, startFactor: 0.25, totalIters: 4);
        Check("linear_warmup", opt, _ => warm.Step());
        var opt2 = Sgd(0.1, 0.05);
        var decay = new LinearLR(opt2, startFactor: 1.0, endFactor: 0.1, totalIters: 6);
        Check("linear_decay", opt2, _ => decay.Step());
    }

    [Fact]
    public void SequentialLRWarmupThenExponential()
    {
        var opt = Sgd(0.1);
        var s1 = new LinearLR(opt, startFactor: 0.1, totalIters: 3);
        var s2 = new ExponentialLR(opt, gamma: 0.9);
        var seq = new SequentialLR(opt, [s1, s2], milestones: [3]);
        Check("sequential_warmup_exp", opt, _ => seq.Step());
    }

    [Fact]
    public void SequentialLRThreeSchedulers()
    {
        var opt = Sgd(0.2);
        var s1 = new LinearLR(opt, startFactor: 0.5, totalIters: 2);
        var s2 = new CosineAnnealingLR(opt, tMax: 4, etaMin: 0.01);
        var s3 = new StepLR(opt, stepSize: 2, gamma: 0.5);
        var seq = new SequentialLR(opt, [s1, s2, s3], milestones: [2, 6]);
        Check("sequential_three", opt, _ => seq.Step());
        Assert.Equal(opt.ParamGroups[0].Lr, seq.GetLastLr()[0]);
    }

    [Fact]
    public void WarmRestarts()
    {
        var opt = Sgd(0.1, 0.01);
        var s = new CosineAnnealingWarmRestarts(opt, t0: 3, tMult: 2, etaMin: 0.001);
        Check("warm_restarts", opt, _ => s.Step());
        var opt1 = Sgd(0.1);
        var s1 = new CosineAnnealingWarmRestarts(opt1, t0: 4);
        Check("warm_restarts_tmult1", opt1, _ => s1.Step());
    }

    [Fact]
    public void WarmRestartsWithFractionalEpochs()
    {
        var opt = Sgd(0.1);
        var s = new CosineAnnealingWarmRestarts(opt, t0: 2, tMult: 3);
        Check("warm_restarts_fractional", opt, e => s.Step((e + 1) * 0.4));
        var opt1 = Sgd(0.1);
        var s1 = new CosineAnnealingWarmRestarts(opt1, t0: 3, etaMin: 0.01);
        Check("warm_restarts_fractional_tmult1", opt1, e => s1.Step((e + 1) * 0.7));
    }

    [Theory]
    [InlineData("plateau_min_rel")]
    [InlineData("plateau_min_abs_cooldown")]
    [InlineData("plateau_max_rel_minlr")]
    [InlineData("plateau_eps")]
    public void ReduceLROnPlateauFollowsTheMetrics(string name)
    {
        var metrics = ArchFixtures.Get(File, "plateau.metrics").ToDoubleArray();
        (Sgd opt, ReduceLROnPlateau s) = name switch
        {
            "plateau_min_rel" => Make(Sgd(0.1, 0.05), o => new ReduceLROnPlateau(o, patience: 2)),
            "plateau_min_abs_cooldown" => Make(Sgd(0.1), o => new ReduceLROnPlateau(o, patience: 1, threshold: 0.05, thresholdMode: ThresholdMode.Abs, cooldown: 2, factor: 0.5)),
            "plateau_max_rel_minlr" => Make(Sgd(0.1, 0.02), o => new ReduceLROnPlateau(o, PlateauMode.Max, patience: 0, factor: 0.3, minLrs: [0.01, 0.005])),
            _ => Make(Sgd(1e-7), o => new ReduceLROnPlateau(o, patience: 0, factor: 0.5, eps: 1e-7)),
        };
        // The metric goes in as a one-element tensor, like a validation loss.
        Check(name, opt, e => s.Step(Tensor.Scalar(metrics[e], DType.Float64)));
        Assert.Equal(metrics.Length, s.LastEpoch);

        static (Sgd, ReduceLROnPlateau) Make(Sgd o, Func<Sgd, ReduceLROnPlateau> f) => (o, f(o));
    }

    [Fact]
    public void ReduceLROnPlateauStateDictRoundTrip()
    {
        var opt = Sgd(0.1);
        var s = new ReduceLROnPlateau(opt, patience: 1, cooldown: 1);
        foreach (var m in new[] { 1.0, 0.9, 0.95, 0.96 }) s.Step(m);
        var state = s.StateDict();
        var s2 = new ReduceLROnPlateau(opt, patience: 1, cooldown: 1);
        s2.LoadStateDict(state);
        Assert.Equal(s.Best, s2.Best);
        Assert.Equal(s.NumBadEpochs, s2.NumBadEpochs);
        Assert.Equal(s.CooldownCounter, s2.CooldownCounter);
        Assert.Equal(s.LastEpoch, s2.LastEpoch);
        Assert.Equal(0.9, s2.Best);
    }

    [Fact]
    public void BadArgumentsAreNamed()
    {
        var opt = Sgd(0.1);
        Assert.Contains("factor", Assert.Throws<ArgumentException>(() => new ReduceLROnPlateau(opt, factor: 1.0)).Message);
        Assert.Contains("min_lrs", Assert.Throws<ArgumentException>(() => new ReduceLROnPlateau(opt, minLrs: [0.1, 0.2])).Message);
        Assert.Contains("startFactor", Assert.Throws<ArgumentException>(() => new LinearLR(opt, startFactor: 1.5)).Message);
        Assert.Contains("t0", Assert.Throws<ArgumentException>(() => new CosineAnnealingWarmRestarts(opt, t0: 0)).Message);
        Assert.Contains("lr lambdas", Assert.Throws<ArgumentException>(() => new LambdaLR(opt, [e => 1.0, e => 2.0])).Message);
        var s1 = new LinearLR(opt);
        Assert.Contains("milestone", Assert.Throws<ArgumentException>(() => new SequentialLR(opt, [s1], milestones: [3])).Message);
        var other = new ExponentialLR(Sgd(0.1), 0.5);
        Assert.Contains("same optimizer", Assert.Throws<ArgumentException>(() => new SequentialLR(opt, [s1, other], milestones: [3])).Message);
    }
}
