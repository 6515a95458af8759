using System.Numerics;

namespace SharpGrad.Optimizers;

/// <summary>RMSprop, optionally centered and with momentum (PyTorch: <c>torch.optim.RMSprop</c>, same update formulas).</summary>
public sealed class RmsProp : Optimizer
{
    /// <summary>Creates RmsProp (PyTorch: <c>RmsProp(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, maximize=False)</c>).</summary>
    public RmsProp(IEnumerable<Tensor> parameters, double lr = 1e-2, double alpha = 0.99, double eps = 1e-8, double weightDecay = 0, double momentum = 0, bool centered = false, bool maximize = false)
        : base(parameters, MakeDefaults(lr, alpha, eps, weightDecay, momentum, centered, maximize))
    {
    }

    /// <summary>Creates RmsProp for parameter groups whose options override these defaults.</summary>
    public RmsProp(IEnumerable<ParamGroup> groups, double lr = 1e-2, double alpha = 0.99, double eps = 1e-8, double weightDecay = 0, double momentum = 0, bool centered = false, bool maximize = false)
        : base(groups, MakeDefaults(lr, alpha, eps, weightDecay, momentum, centered, maximize))
    {
    }

    private static Dictionary<string, object> MakeDefaults(double lr, double alpha, double eps, double weightDecay, double momentum, bool centered, bool maximize) =>
        D(("lr", lr), ("alpha", alpha), ("eps", eps), ("weight_decay", weightDecay), ("momentum", momentum), ("centered", centered), ("maximize", maximize));

    /// <inheritdoc/>
    protected override string Name => "RMSprop";

    /// <inheritdoc/>
    protected override void Validate(ParamGroup g)
    {
        CheckNonNegative(g, "lr", "learning rate");
        CheckNonNegative(g, "eps", "epsilon value");
        CheckNonNegative(g, "momentum", "momentum value");
        CheckNonNegative(g, "weight_decay", "weight_decay value");
        CheckNonNegative(g, "alpha", "alpha value");
    }

    /// <inheritdoc/>
    protected override void StepGroup(ParamGroup g)
    {
        double lr = g.Lr, alpha = g.GetDouble("alpha"), eps = g.GetDouble("eps"), wd = g.WeightDecay, momentum = g.Momentum;
        bool centered = g.GetBool("centered"), maximize = g.GetBool("maximize");
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
            }
            if (momentum > 0 && !st.ContainsKey("momentum_buffer")) st["momentum_buffer"] = ZerosLike(p);
            if (centered && !st.ContainsKey("grad_avg")) st["grad_avg"] = ZerosLike(p);
            IncrementStep(st["step"]);
            var sq = st["square_avg"];
            Tensor? buf = momentum > 0 ? st["momentum_buffer"] : null;
            Tensor? gavg = centered ? st["grad_avg"] : null;
            sq.Storage.Version++;
            if (buf is not null) buf.Storage.Version++;
            if (gavg is not null) gavg.Storage.Version++;
            if (p.DType == DType.Float32)
                Kernel(S<float>(p), S<float>(grad), S<float>(sq), buf is null ? default : S<float>(buf), gavg is null ? default : S<float>(gavg), lr, alpha, eps, wd, momentum, maximize);
            else
                Kernel(S<double>(p), S<double>(grad), S<double>(sq), buf is null ? default : S<double>(buf), gavg is null ? default : S<double>(gavg), lr, alpha, eps, wd, momentum, maximize);
            p.Storage.Version++;
        }
    }

    private static void Kernel<T>(Span<T> p, ReadOnlySpan<T> grad, Span<T> sq, Span<T> buf, Span<T> gavg,
        double lrD, double alphaD, double epsD, double wdD, double momD, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool hasMomentum = !buf.IsEmpty, centered = !gavg.IsEmpty, hasWd = wdD != 0;
        T lr = C<T>(lrD), alpha = C<T>(alphaD), oneMinusAlpha = C<T>(1 - alphaD), eps = C<T>(epsD), wd = C<T>(wdD), mom = C<T>(momD);
        for (int i = 0; i < p.Length; i++)
        {
            T g = maximize ? -grad[i] : grad[i];
            if (hasWd) g += wd * p[i];
            T s = alpha * sq[i] + oneMinusAlpha * g * g;
            sq[i] = s;
            T avg;
            if (centered)
            {
                T ga = alpha * gavg[i] + oneMinusAlpha * g;
                gavg[i] = ga;
                avg = T.Sqrt(s - ga * ga) + eps;
            }
            else
            {
                avg = T.Sqrt(s) + eps;
            }
            if (hasMomentum)
            {
                T b = mom * buf[i] + g / avg;
                buf[i] = b;
                p[i] -= lr * b;
            }
            else
            {
                p[i] -= lr * g / avg;
            }
        }
    }
}
