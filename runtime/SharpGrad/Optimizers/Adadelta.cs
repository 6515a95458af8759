using System.Numerics;

namespace SharpGrad.Optimizers;

/// <summary>Adadelta (PyTorch: <c>torch.optim.Adadelta</c>, same update formulas).</summary>
public sealed class Adadelta : Optimizer
{
    /// <summary>Creates Adadelta (PyTorch: <c>Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False)</c>).</summary>
    public Adadelta(IEnumerable<Tensor> parameters, double lr = 1.0, double rho = 0.9, double eps = 1e-6, double weightDecay = 0, bool maximize = false)
        : base(parameters, MakeDefaults(lr, rho, eps, weightDecay, maximize))
    {
    }

    /// <summary>Creates Adadelta for parameter groups whose options override these defaults.</summary>
    public Adadelta(IEnumerable<ParamGroup> groups, double lr = 1.0, double rho = 0.9, double eps = 1e-6, double weightDecay = 0, bool maximize = false)
        : base(groups, MakeDefaults(lr, rho, eps, weightDecay, maximize))
    {
    }

    private static Dictionary<string, object> MakeDefaults(double lr, double rho, double eps, double weightDecay, bool maximize) =>
        D(("lr", lr), ("rho", rho), ("eps", eps), ("weight_decay", weightDecay), ("maximize", maximize));

    /// <inheritdoc/>
    protected override string Name => "Adadelta";

    /// <inheritdoc/>
    protected override void Validate(ParamGroup g)
    {
        CheckNonNegative(g, "lr", "learning rate");
        double rho = g.GetDouble("rho");
        if (!(rho >= 0 && rho <= 1)) throw new ArgumentException($"Adadelta: invalid rho value: {Fmt(rho)}; rho must be in [0, 1].");
        CheckNonNegative(g, "eps", "epsilon value");
        CheckNonNegative(g, "weight_decay", "weight_decay value");
    }

    /// <inheritdoc/>
    protected override void StepGroup(ParamGroup g)
    {
        double lr = g.Lr, rho = g.GetDouble("rho"), eps = g.GetDouble("eps"), wd = g.WeightDecay;
        bool maximize = g.GetBool("maximize");
        // Index loop: foreach over the IReadOnlyList would box an enumerator on every step.
        var ps = g.Params;
        for (int pi = 0; pi < ps.Count; pi++)
        {
            var p = ps[pi];
            if (p.GradInternal is null) continue;
            var grad = PrepareGrad(p);
            var st = GetState(p, out bool created);
            if (created)
            {
                st["step"] = NewStep();
                st["square_avg"] = ZerosLike(p);
                st["acc_delta"] = ZerosLike(p);
            }
            IncrementStep(st["step"]);
            var sq = st["square_avg"];
            var acc = st["acc_delta"];
            sq.Storage.Version++;
            acc.Storage.Version++;
            if (p.DType == DType.Float32)
                Kernel(S<float>(p), S<float>(grad), S<float>(sq), S<float>(acc), lr, rho, eps, wd, maximize);
            else
                Kernel(S<double>(p), S<double>(grad), S<double>(sq), S<double>(acc), lr, rho, eps, wd, maximize);
            p.Storage.Version++;
        }
    }

    private static void Kernel<T>(Span<T> p, ReadOnlySpan<T> grad, Span<T> sq, Span<T> acc, double lrD, double rhoD, double epsD, double wdD, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T lr = C<T>(lrD), rho = C<T>(rhoD), oneMinusRho = C<T>(1 - rhoD), eps = C<T>(epsD), wd = C<T>(wdD);
        bool hasWd = wdD != 0;
        for (int i = 0; i < p.Length; i++)
        {
            T g = maximize ? -grad[i] : grad[i];
            if (hasWd) g += wd * p[i];
            T s = sq[i] * rho + oneMinusRho * g * g;
            sq[i] = s;
            T delta = T.Sqrt(acc[i] + eps) / T.Sqrt(s + eps) * g;
            acc[i] = acc[i] * rho + oneMinusRho * delta * delta;
            p[i] -= lr * delta;
        }
    }
}
