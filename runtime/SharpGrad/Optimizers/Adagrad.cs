using System.Numerics;

namespace SharpGrad.Optimizers;

/// <summary>Adagrad (PyTorch: <c>torch.optim.Adagrad</c>, same update formulas).</summary>
public sealed class Adagrad : Optimizer
{
    /// <summary>Creates Adagrad (PyTorch: <c>Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, maximize=False)</c>).</summary>
    public Adagrad(IEnumerable<Tensor> parameters, double lr = 1e-2, double lrDecay = 0, double weightDecay = 0, double initialAccumulatorValue = 0, double eps = 1e-10, bool maximize = false)
        : base(parameters, MakeDefaults(lr, lrDecay, weightDecay, initialAccumulatorValue, eps, maximize))
    {
        InitState();
    }

    /// <summary>Creates Adagrad for parameter groups whose options override these defaults.</summary>
    public Adagrad(IEnumerable<ParamGroup> groups, double lr = 1e-2, double lrDecay = 0, double weightDecay = 0, double initialAccumulatorValue = 0, double eps = 1e-10, bool maximize = false)
        : base(groups, MakeDefaults(lr, lrDecay, weightDecay, initialAccumulatorValue, eps, maximize))
    {
        InitState();
    }

    private static Dictionary<string, object> MakeDefaults(double lr, double lrDecay, double weightDecay, double initialAccumulatorValue, double eps, bool maximize) =>
        D(("lr", lr), ("lr_decay", lrDecay), ("weight_decay", weightDecay), ("initial_accumulator_value", initialAccumulatorValue), ("eps", eps), ("maximize", maximize));

    // Like PyTorch, the state exists from construction: step 0 and sum = initial_accumulator_value.
    private void InitState()
    {
        foreach (var g in ParamGroups)
        {
            foreach (var p in g.Params) EnsureState(g, p);
        }
    }

    private Dictionary<string, Tensor> EnsureState(ParamGroup g, Tensor p)
    {
        var st = GetState(p, out bool created);
        if (created)
        {
            st["step"] = NewStep();
            st["sum"] = Tensor.Full(p._shape, g.GetDouble("initial_accumulator_value"), p.DType);
        }
        return st;
    }

    /// <inheritdoc/>
    protected override string Name => "Adagrad";

    /// <inheritdoc/>
    protected override void Validate(ParamGroup g)
    {
        CheckNonNegative(g, "lr", "learning rate");
        CheckNonNegative(g, "lr_decay", "lr_decay value");
        CheckNonNegative(g, "weight_decay", "weight_decay value");
        CheckNonNegative(g, "initial_accumulator_value", "initial_accumulator_value");
        CheckNonNegative(g, "eps", "epsilon value");
    }

    /// <inheritdoc/>
    protected override void StepGroup(ParamGroup g)
    {
        double lr = g.Lr, lrDecay = g.GetDouble("lr_decay"), wd = g.WeightDecay, eps = g.GetDouble("eps");
        bool maximize = g.GetBool("maximize");
        // Index loop: foreach over the IReadOnlyList would box an enumerator on every step.
        var ps = g.Params;
        for (int pi = 0; pi < ps.Count; pi++)
        {
            var p = ps[pi];
            if (p.GradInternal is null) continue;
            var grad = PrepareGrad(p);
            var st = EnsureState(g, p);
            double step = IncrementStep(st["step"]);
            double clr = lr / (1 + (step - 1) * lrDecay);
            var sum = st["sum"];
            sum.Storage.Version++;
            if (p.DType == DType.Float32)
                Kernel(S<float>(p), S<float>(grad), S<float>(sum), clr, wd, eps, maximize);
            else
                Kernel(S<double>(p), S<double>(grad), S<double>(sum), clr, wd, eps, maximize);
            p.Storage.Version++;
        }
    }

    private static void Kernel<T>(Span<T> p, ReadOnlySpan<T> grad, Span<T> sum, double clrD, double wdD, double epsD, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T clr = C<T>(clrD), wd = C<T>(wdD), eps = C<T>(epsD);
        bool hasWd = wdD != 0;
        for (int i = 0; i < p.Length; i++)
        {
            T g = maximize ? -grad[i] : grad[i];
            if (hasWd) g += wd * p[i];
            T s = sum[i] + g * g;
            sum[i] = s;
            p[i] -= clr * g / (T.Sqrt(s) + eps);
        }
    }
}
