using SharpGrad.Tests.Support;
using SharpGrad.Optimizers;

namespace SharpGrad.Tests.Optimizers;

/// <summary>
/// After the first step (which creates the state buffers), <c>Step()</c> and <c>ZeroGrad()</c> allocate nothing on the
/// managed heap: measured with <see cref="GC.GetAllocatedBytesForCurrentThread"/> around 100 calls.
/// </summary>
[Collection(AllocationCollection.Name)]
public class ZeroAllocationTests
{
    public static IEnumerable<object[]> Configs() =>
    [
        ["sgd"], ["sgd_momentum"], ["sgd_nesterov_wd"], ["sgd_dampening"], ["adam"], ["adam_amsgrad_wd"], ["adamw"],
        ["rmsprop"], ["rmsprop_centered_momentum"], ["adagrad"], ["adadelta_wd_maximize"], ["adamax_wd"], ["nadam_wd"], ["radam"],
    ];

    private static Optimizer Create(string config, IEnumerable<Tensor> ps) => config switch
    {
        "sgd" => new Sgd(ps, 0.01),
        "sgd_momentum" => new Sgd(ps, 0.01, momentum: 0.9),
        "sgd_nesterov_wd" => new Sgd(ps, 0.01, momentum: 0.9, weightDecay: 1e-4, nesterov: true),
        "sgd_dampening" => new Sgd(ps, 0.01, momentum: 0.5, dampening: 0.1, maximize: true),
        "adam" => new Adam(ps, 1e-3),
        "adam_amsgrad_wd" => new Adam(ps, 1e-3, weightDecay: 1e-2, amsgrad: true),
        "adamw" => new AdamW(ps, 1e-3),
        "rmsprop" => new RmsProp(ps, 1e-2),
        "rmsprop_centered_momentum" => new RmsProp(ps, 1e-2, momentum: 0.9, centered: true, weightDecay: 1e-3),
        "adagrad" => new Adagrad(ps, 1e-2, lrDecay: 1e-3),
        "adadelta_wd_maximize" => new Adadelta(ps, weightDecay: 1e-2, maximize: true),
        "adamax_wd" => new Adamax(ps, weightDecay: 1e-2),
        "nadam_wd" => new NAdam(ps, weightDecay: 1e-2),
        // rectified from step 6 on: the warm-up runs both branches
        "radam" => new RAdam(ps),
        _ => throw new ArgumentException(config),
    };

    private static (Parameter[] Params, Tensor[] Grads) Model(DType dtype)
    {
        Rng.ManualSeed(1);
        // odd sizes: vector body and scalar tail
        int[][] shapes = [[17], [5, 7], [64, 3], [1]];
        var ps = shapes.Select(s => new Parameter(Tensor.Randn(s, dtype))).ToArray();
        var grads = shapes.Select(s => Tensor.Randn(s, dtype)).ToArray();
        return (ps, grads);
    }

    private static long Allocated(Action body, int times)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < times; i++) body();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void StepAllocatesNothingAfterTheFirst(string config)
    {
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var (ps, grads) = Model(dtype);
            var opt = Create(config, ps);
            for (int i = 0; i < ps.Length; i++) ps[i].Grad = grads[i];
            var before = ps.Select(p => p.Detach().Clone()).ToArray();
            for (int i = 0; i < 3; i++) opt.Step();
            long bytes = Allocated(opt.Step, 100);
            Assert.True(bytes == 0, $"{config} ({dtype}): 100 steps allocated {bytes} bytes; expected 0 after the first step.");
            // and the steps did update the parameters
            Assert.Contains(ps.Zip(before), pb => (pb.First.Detach() - pb.Second).Abs().Sum().ItemDouble() > 0);
        }
    }

    [Theory]
    [InlineData(DType.Float32, null)]
    [InlineData(DType.Float64, "strong_wolfe")]
    public void LbfgsStepAllocatesNothingOnceTheHistoryIsFull(DType dtype, string? lineSearch)
    {
        // f(w) = Σ a_i (w_i - 1)² / 2 with its gradient written straight into the existing .Grad: a closure that allocates
        // nothing, so whatever is counted is the optimizer's.
        var (ps, grads) = Model(dtype);
        var a = ps.Select(p => Enumerable.Range(0, p.NumElements).Select(i => 1.0 + (i % 7)).ToArray()).ToArray();
        for (int i = 0; i < ps.Length; i++) ps[i].Grad = grads[i];
        var loss = Tensor.Zeros([], dtype);
        var opt = new Lbfgs(ps, lr: 0.5, maxIter: 4, historySize: 3, lineSearchFn: lineSearch);
        Tensor Closure()
        {
            double f = 0;
            for (int k = 0; k < ps.Length; k++)
            {
                if (dtype == DType.Float32)
                {
                    var w = ps[k].Span<float>();
                    var g = ps[k].Grad!.Span<float>();
                    for (int i = 0; i < w.Length; i++) { double d = w[i] - 1; g[i] = (float)(a[k][i] * d); f += a[k][i] * d * d / 2; }
                }
                else
                {
                    var w = ps[k].Span<double>();
                    var g = ps[k].Grad!.Span<double>();
                    for (int i = 0; i < w.Length; i++) { double d = w[i] - 1; g[i] = a[k][i] * d; f += a[k][i] * d * d / 2; }
                }
            }
            if (dtype == DType.Float32) loss.Span<float>()[0] = (float)f;
            else loss.Span<double>()[0] = f;
            return loss;
        }
        Func<Tensor> closure = Closure;
        void Restart()
        {
            // Move away from the optimum each time so every step iterates (and updates the history).
            for (int k = 0; k < ps.Length; k++)
            {
                if (dtype == DType.Float32) { var w = ps[k].Span<float>(); for (int i = 0; i < w.Length; i++) w[i] = (float)Math.Sin(i + k); }
                else { var w = ps[k].Span<double>(); for (int i = 0; i < w.Length; i++) w[i] = Math.Sin(i + k); }
            }
            opt.Step(closure);
        }
        for (int i = 0; i < 4; i++) Restart();
        long bytes = Allocated(Restart, 50);
        Assert.True(bytes == 0, $"LBFGS ({dtype}, line search {lineSearch ?? "none"}): 50 steps allocated {bytes} bytes; expected 0 once the history is full.");
        Assert.True(opt.StateDict().State[0]["old_dirs"].Shape[0] == 3, "the history should be full");
        Assert.True(Math.Abs(Closure().ItemDouble()) < 10, "the steps should make progress");
    }

    [Fact]
    public void ZeroGradAllocatesNothing()
    {
        var (ps, grads) = Model(DType.Float32);
        var opt = new Sgd(ps, 0.01, momentum: 0.9);
        for (int i = 0; i < ps.Length; i++) ps[i].Grad = grads[i];
        opt.Step();
        opt.ZeroGrad(setToNone: false);
        long bytes = Allocated(() => opt.ZeroGrad(setToNone: false), 100);
        Assert.True(bytes == 0, $"ZeroGrad(setToNone: false) allocated {bytes} bytes in 100 calls.");
        Assert.All(ps, p => Assert.Equal(0f, p.Grad!.Abs().Sum().Item()));

        void AssignAndClear()
        {
            for (int i = 0; i < ps.Length; i++) ps[i].Grad = grads[i];
            opt.ZeroGrad();
        }
        AssignAndClear();
        bytes = Allocated(AssignAndClear, 100);
        Assert.True(bytes == 0, $"ZeroGrad() (set to none) allocated {bytes} bytes in 100 calls.");
        Assert.All(ps, p => Assert.Null(p.Grad));
    }
}
