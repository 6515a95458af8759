using System.Numerics;

namespace SharpGrad.Optimizers;

/// <summary>Adamax: Adam with the infinity norm (PyTorch: <c>torch.optim.Adamax</c>, same update formulas).</summary>
public sealed class Adamax : AdamFamily
{
    /// <summary>Creates Adamax (PyTorch: <c>Adamax(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False)</c>).</summary>
    public Adamax(IEnumerable<Tensor> parameters, double lr = 2e-3, (double Beta1, double Beta2)? betas = null, double eps = 1e-8, double weightDecay = 0, bool maximize = false)
        : base(parameters, lr, betas, eps, weightDecay, maximize)
    {
    }

    /// <summary>Creates Adamax for parameter groups whose options override these defaults.</summary>
    public Adamax(IEnumerable<ParamGroup> groups, double lr = 2e-3, (double Beta1, double Beta2)? betas = null, double eps = 1e-8, double weightDecay = 0, bool maximize = false)
        : base(groups, lr, betas, eps, weightDecay, maximize)
    {
    }

    /// <inheritdoc/>
    protected override string Name => "Adamax";

    /// <inheritdoc/>
    private protected override void AddMissingState(ParamGroup g, Tensor p, Dictionary<string, Tensor> state)
    {
        AddZeros(state, "exp_avg", p);
        AddZeros(state, "exp_inf", p);
    }

    /// <inheritdoc/>
    private protected override void Update(ParamGroup g, in FamilyOptions o, Tensor p, Tensor grad, Dictionary<string, Tensor> state, double step)
    {
        var m = state["exp_avg"];
        var u = state["exp_inf"];
        double clr = o.Lr / (1 - Math.Pow(o.Beta1, step));
        if (p.DType == DType.Float32)
            Kernel(S<float>(p), S<float>(grad), S<float>(m), S<float>(u), clr, o.Beta1, o.Beta2, o.Eps, o.WeightDecay, o.Maximize);
        else
            Kernel(S<double>(p), S<double>(grad), S<double>(m), S<double>(u), clr, o.Beta1, o.Beta2, o.Eps, o.WeightDecay, o.Maximize);
    }

    private static void Kernel<T>(Span<T> p, ReadOnlySpan<T> grad, Span<T> m, Span<T> u, double clrD, double b1D, double b2D, double epsD, double wdD, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T clr = C<T>(clrD), b1 = C<T>(b1D), oneMinusB1 = C<T>(1 - b1D), b2 = C<T>(b2D), eps = C<T>(epsD), wd = C<T>(wdD);
        bool hasWd = wdD != 0;
        for (int i = 0; i < p.Length; i++)
        {
            T g = maximize ? -grad[i] : grad[i];
            if (hasWd) g += wd * p[i];
            T mi = m[i] * b1 + oneMinusB1 * g;
            m[i] = mi;
            T ui = T.Max(u[i] * b2, T.Abs(g) + eps);
            u[i] = ui;
            p[i] -= clr * mi / ui;
        }
    }
}
