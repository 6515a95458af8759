using SharpGrad.Optimizers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Optimizers;

/// <summary>Schedulers vs PyTorch's documented closed-form formulas, computed independently here.</summary>
public class SchedulerTests
{
    private static Sgd Sgd(double lr = 0.1, double momentum = 0) => new([new Parameter(Tensor.Zeros(2))], lr, momentum);

    private static void AssertLr(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-12 + 1e-9 * Math.Abs(expected), $"{what}: expected {expected:R}, got {actual:R}");

    [Fact]
    public void StepLRFollowsBaseTimesGammaToTheFloor()
    {
        var opt = Sgd(0.5);
        var s = new StepLR(opt, stepSize: 3, gamma: 0.1);
        for (int epoch = 0; epoch < 12; epoch++)
        {
            double expected = 0.5 * Math.Pow(0.1, epoch / 3);
            AssertLr(expected, opt.ParamGroups[0].Lr, $"epoch {epoch}");
            AssertLr(expected, s.GetLastLr()[0], $"epoch {epoch} (GetLastLr)");
            s.Step();
        }
    }

    [Fact]
    public void MultiStepLRDecaysAtMilestones()
    {
        var opt = Sgd(1.0);
        var s = new MultiStepLR(opt, [5, 2], gamma: 0.5);
        double[] expected = [1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25];
        for (int epoch = 0; epoch < expected.Length; epoch++)
        {
            AssertLr(expected[epoch], opt.ParamGroups[0].Lr, $"epoch {epoch}");
            s.Step();
        }
    }

    [Fact]
    public void ExponentialLR()
    {
        var opt = Sgd(0.2);
        var s = new ExponentialLR(opt, gamma: 0.9);
        for (int epoch = 0; epoch < 10; epoch++)
        {
            AssertLr(0.2 * Math.Pow(0.9, epoch), opt.ParamGroups[0].Lr, $"epoch {epoch}");
            s.Step();
        }
    }

    [Fact]
    public void CosineAnnealingMatchesClosedForm()
    {
        var opt = new Sgd([new ParamGroup([new Parameter(Tensor.Zeros(1))]), new ParamGroup([new Parameter(Tensor.Zeros(1))], lr: 0.01)], lr: 0.1);
        var s = new CosineAnnealingLR(opt, tMax: 10, etaMin: 0.001);
        for (int t = 0; t <= 25; t++)
        {
            AssertLr(0.001 + (0.1 - 0.001) * 0.5 * (1 + Math.Cos(Math.PI * t / 10)), opt.ParamGroups[0].Lr, $"group 0, t={t}");
            AssertLr(0.001 + (0.01 - 0.001) * 0.5 * (1 + Math.Cos(Math.PI * t / 10)), opt.ParamGroups[1].Lr, $"group 1, t={t}");
            s.Step();
        }
    }

    /// <summary>PyTorch's OneCycleLR phase definition, written out independently.</summary>
    private static (double Lr, double Mom) OneCycleRef(int step, int total, double maxLr, double pct, bool cos, bool three, double div = 25, double finalDiv = 1e4)
    {
        double init = maxLr / div, min = init / finalDiv, baseM = 0.85, maxM = 0.95;
        double Ann(double a, double b, double x) => cos ? b + (a - b) / 2 * (Math.Cos(Math.PI * x) + 1) : (b - a) * x + a;
        double e1 = pct * total - 1;
        if (!three)
        {
            if (step <= e1) return (Ann(init, maxLr, step / e1), Ann(maxM, baseM, step / e1));
            double x = (step - e1) / (total - 1 - e1);
            return (Ann(maxLr, min, x), Ann(baseM, maxM, x));
        }
        double e2 = 2 * pct * total - 2;
        if (step <= e1) return (Ann(init, maxLr, step / e1), Ann(maxM, baseM, step / e1));
        if (step <= e2) return (Ann(maxLr, init, (step - e1) / (e2 - e1)), Ann(baseM, maxM, (step - e1) / (e2 - e1)));
        return (Ann(init, min, (step - e2) / (total - 1 - e2)), maxM);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    public void OneCycleLRPhasesAndMomentum(bool cos, bool three)
    {
        const int total = 20;
        var opt = Sgd(0.1, momentum: 0.9);
        var s = new OneCycleLR(opt, maxLr: 1.0, totalSteps: total, pctStart: 0.3,
            annealStrategy: cos ? AnnealStrategy.Cos : AnnealStrategy.Linear, threePhase: three);
        for (int step = 0; step < total; step++)
        {
            var (lr, mom) = OneCycleRef(step, total, 1.0, 0.3, cos, three);
            AssertLr(lr, opt.ParamGroups[0].Lr, $"lr at step {step}");
            AssertLr(mom, opt.ParamGroups[0].Momentum, $"momentum at step {step}");
            if (step < total - 1) s.Step();
        }
        AssertLr(1.0 / 25 / 1e4, opt.ParamGroups[0].Lr, "final lr");
        s.Step(); // step == total is still allowed (PyTorch raises only beyond it)
        var ex = Assert.Throws<InvalidOperationException>(() => s.Step());
        Assert.Contains("total number of steps is 20", ex.Message);
    }

    [Fact]
    public void OneCycleLRCyclesAdamBeta1AndAcceptsEpochs()
    {
        var opt = new Adam([new Parameter(Tensor.Zeros(2))], betas: (0.9, 0.99));
        var s = new OneCycleLR(opt, maxLr: 0.01, epochs: 2, stepsPerEpoch: 5);
        Assert.Equal(10, s.TotalSteps);
        for (int step = 0; step < 10; step++)
        {
            var (lr, mom) = OneCycleRef(step, 10, 0.01, 0.3, cos: true, three: false);
            AssertLr(lr, opt.ParamGroups[0].Lr, $"lr at step {step}");
            AssertLr(mom, opt.ParamGroups[0].Betas.Beta1, $"beta1 at step {step}");
            Assert.Equal(0.99, opt.ParamGroups[0].Betas.Beta2);
            s.Step();
        }
        Assert.Throws<ArgumentException>(() => new OneCycleLR(new Adagrad([new Parameter(Tensor.Zeros(1))]), 0.1, totalSteps: 10));
        new OneCycleLR(new Adagrad([new Parameter(Tensor.Zeros(1))]), 0.1, totalSteps: 10, cycleMomentum: false);
        Assert.Contains("totalSteps", Assert.Throws<ArgumentException>(() => new OneCycleLR(Sgd(), 0.1)).Message);
    }

    [Fact]
    public void SchedulerChangesTheOptimizersSteps()
    {
        var p = new Parameter(Tensor.Zeros(1));
        var opt = new Sgd([p], lr: 1.0);
        var s = new StepLR(opt, stepSize: 1, gamma: 0.5);
        for (int i = 0; i < 3; i++)
        {
            p.Grad = Tensor.Ones(1);
            opt.Step();
            s.Step();
        }
        Assert.Equal(-(1 + 0.5 + 0.25), p.Item(), 6);
    }

    [Fact]
    public void SchedulerStateDictResumes()
    {
        var opt = Sgd(0.3);
        var s = new StepLR(opt, stepSize: 2, gamma: 0.5);
        for (int i = 0; i < 3; i++) s.Step();
        var sd = s.StateDict();
        Assert.Equal(3, (int)sd["last_epoch"]);
        Assert.Equal(new[] { 0.3 }, (double[])sd["base_lrs"]);

        var opt2 = Sgd(0.3);
        var s2 = new StepLR(opt2, stepSize: 7, gamma: 0.9);
        s2.LoadStateDict(sd);
        Assert.Equal(2, s2.StepSize);
        s.Step();
        s2.Step();
        AssertLr(0.3 * 0.25, s2.GetLastLr()[0], "resumed");
        Assert.Equal(s.GetLastLr(), s2.GetLastLr());
        Assert.Equal(opt.ParamGroups[0].Lr, opt2.ParamGroups[0].Lr);
    }

    [Fact]
    public void ResumingWithoutInitialLrIsAnError()
    {
        var ex = Assert.Throws<ArgumentException>(() => new ExponentialLR(Sgd(), 0.9, lastEpoch: 4));
        Assert.Contains("initial_lr", ex.Message);
    }
}
