using System.Numerics;

namespace SharpGrad.Optimizers;

/// <summary>RAdam: rectified Adam (PyTorch: <c>torch.optim.RAdam</c>, same update formulas).</summary>
public sealed class RAdam : AdamFamily
{
    /// <summary>
    /// Creates RAdam (PyTorch: <c>RAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)</c>; <paramref name="maximize"/>
    /// as in later PyTorch versions).
    /// </summary>
    public RAdam(IEnumerable<Tensor> parameters, double lr = 1e-3, (double Beta1, double Beta2)? betas = null, double eps = 1e-8, double weightDecay = 0, bool maximize = false)
        : base(parameters, lr, betas, eps, weightDecay, maximize)
    {
    }

    /// <summary>Creates RAdam for parameter groups whose options override these defaults.</summary>
    public RAdam(IEnumerable<ParamGroup> groups, double lr = 1e-3, (double Beta1, double Beta2)? betas = null, double eps = 1e-8, double weightDecay = 0, bool maximize = false)
        : base(groups, lr, betas, eps, weightDecay, maximize)
    {
    }

    /// <inheritdoc/>
    protected override string Name => "RAdam";

    /// <inheritdoc/>
    private protected override void AddMissingState(ParamGroup g, Tensor p, Dictionary<string, Tensor> state)
    {
        AddZeros(state, "exp_avg", p);
        AddZeros(state, "exp_avg_sq", p);
    }

    /// <inheritdoc/>
    private protected override void Update(ParamGroup g, in FamilyOptions o, Tensor p, Tensor grad, Dictionary<string, Tensor> state, double step)
    {
        double b1 = o.Beta1, b2 = o.Beta2;
        double bc1 = 1 - Math.Pow(b1, step), bc2 = 1 - Math.Pow(b2, step);
        // The length of the approximated simple moving average, and its maximum.
        double rhoInf = 2 / (1 - b2) - 1;
        double rhoT = rhoInf - 2 * step * Math.Pow(b2, step) / bc2;
        double rect = rhoT > 5 ? Math.Sqrt((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT)) : double.NaN;
        var m = state["exp_avg"];
        var v = state["exp_avg_sq"];
        if (p.DType == DType.Float32)
            Kernel(S<float>(p), S<float>(grad), S<float>(m), S<float>(v), o.Lr, bc1, bc2, rect, b1, b2, o.Eps, o.WeightDecay, o.Maximize);
        else
            Kernel(S<double>(p), S<double>(grad), S<double>(m), S<double>(v), o.Lr, bc1, bc2, rect, b1, b2, o.Eps, o.WeightDecay, o.Maximize);
    }

    private static void Kernel<T>(Span<T> p, ReadOnlySpan<T> grad, Span<T> m, Span<T> v, double lrD, double bc1D, double bc2D, double rectD,
        double b1D, double b2D, double epsD, double wdD, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T b1 = C<T>(b1D), oneMinusB1 = C<T>(1 - b1D), b2 = C<T>(b2D), oneMinusB2 = C<T>(1 - b2D), eps = C<T>(epsD), wd = C<T>(wdD);
        T lr = C<T>(lrD), bc1 = C<T>(bc1D), bc2Sqrt = C<T>(Math.Sqrt(bc2D)), rect = C<T>(double.IsNaN(rectD) ? 0 : rectD);
        bool rectified = !double.IsNaN(rectD), hasWd = wdD != 0;
        for (int i = 0; i < p.Length; i++)
        {
            T g = maximize ? -grad[i] : grad[i];
            if (hasWd) g += wd * p[i];
            T mi = m[i] * b1 + oneMinusB1 * g;
            T vi = v[i] * b2 + oneMinusB2 * g * g;
            m[i] = mi;
            v[i] = vi;
            T update = mi / bc1 * lr;
            if (rectified) update = update * (bc2Sqrt / (T.Sqrt(vi) + eps)) * rect;
            p[i] -= update;
        }
    }
}
