using System.Numerics;

namespace SharpGrad.Optimizers;

/// <summary>
/// NAdam: Adam with Nesterov momentum and a momentum-decay schedule (PyTorch: <c>torch.optim.NAdam</c>, same update
/// formulas; the running product of the momentum coefficients is a Float32 scalar, <c>state["mu_product"]</c>, as in PyTorch).
/// </summary>
public sealed class NAdam : AdamFamily
{
    /// <summary>
    /// Creates NAdam (PyTorch: <c>NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3)</c>;
    /// <paramref name="maximize"/> as in later PyTorch versions).
    /// </summary>
    public NAdam(IEnumerable<Tensor> parameters, double lr = 2e-3, (double Beta1, double Beta2)? betas = null, double eps = 1e-8, double weightDecay = 0,
        double momentumDecay = 4e-3, bool maximize = false)
        : base(parameters, lr, betas, eps, weightDecay, maximize, ("momentum_decay", momentumDecay))
    {
    }

    /// <summary>Creates NAdam for parameter groups whose options override these defaults.</summary>
    public NAdam(IEnumerable<ParamGroup> groups, double lr = 2e-3, (double Beta1, double Beta2)? betas = null, double eps = 1e-8, double weightDecay = 0,
        double momentumDecay = 4e-3, bool maximize = false)
        : base(groups, lr, betas, eps, weightDecay, maximize, ("momentum_decay", momentumDecay))
    {
    }

    /// <inheritdoc/>
    protected override string Name => "NAdam";

    /// <inheritdoc/>
    protected override void Validate(ParamGroup g)
    {
        base.Validate(g);
        CheckNonNegative(g, "momentum_decay", "momentum_decay value");
    }

    /// <inheritdoc/>
    protected override bool IsParameterShapedState(string key) => key is not ("step" or "mu_product");

    /// <inheritdoc/>
    protected override DType LoadedStateDType(string key, Tensor parameter) => key is "step" or "mu_product" ? DType.Float32 : parameter.DType;

    /// <inheritdoc/>
    private protected override void AddMissingState(ParamGroup g, Tensor p, Dictionary<string, Tensor> state)
    {
        if (!state.ContainsKey("mu_product")) state["mu_product"] = Tensor.Wrap(new[] { 1f });
        AddZeros(state, "exp_avg", p);
        AddZeros(state, "exp_avg_sq", p);
    }

    /// <inheritdoc/>
    private protected override void Update(ParamGroup g, in FamilyOptions o, Tensor p, Tensor grad, Dictionary<string, Tensor> state, double step)
    {
        double b1 = o.Beta1, psi = g.GetDouble("momentum_decay");
        double bc2 = 1 - Math.Pow(o.Beta2, step);
        double mu = b1 * (1 - 0.5 * Math.Pow(0.96, step * psi));
        double muNext = b1 * (1 - 0.5 * Math.Pow(0.96, (step + 1) * psi));
        // PyTorch keeps mu_product as a Float32 0-d tensor: both products are rounded to float.
        var muProductT = state["mu_product"];
        var muProductData = muProductT.Data<float>();
        float muProduct = muProductData[muProductT.Offset] * (float)mu;
        muProductData[muProductT.Offset] = muProduct;
        float muProductNext = muProduct * (float)mu * (float)muNext;
        double coefGrad = o.Lr * (1 - mu) / (1 - (double)muProduct);
        double coefAvg = o.Lr * muNext / (1 - (double)muProductNext);
        var m = state["exp_avg"];
        var v = state["exp_avg_sq"];
        if (p.DType == DType.Float32)
            Kernel(S<float>(p), S<float>(grad), S<float>(m), S<float>(v), bc2, coefGrad, coefAvg, b1, o.Beta2, o.Eps, o.WeightDecay, o.Maximize);
        else
            Kernel(S<double>(p), S<double>(grad), S<double>(m), S<double>(v), bc2, coefGrad, coefAvg, b1, o.Beta2, o.Eps, o.WeightDecay, o.Maximize);
    }

    private static void Kernel<T>(Span<T> p, ReadOnlySpan<T> grad, Span<T> m, Span<T> v, double bc2D, double coefGradD, double coefAvgD,
        double b1D, double b2D, double epsD, double wdD, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T b1 = C<T>(b1D), oneMinusB1 = C<T>(1 - b1D), b2 = C<T>(b2D), oneMinusB2 = C<T>(1 - b2D), eps = C<T>(epsD), wd = C<T>(wdD);
        T bc2 = C<T>(bc2D), coefGrad = C<T>(coefGradD), coefAvg = C<T>(coefAvgD);
        bool hasWd = wdD != 0;
        for (int i = 0; i < p.Length; i++)
        {
            T g = maximize ? -grad[i] : grad[i];
            if (hasWd) g += wd * p[i];
            T mi = m[i] * b1 + oneMinusB1 * g;
            T vi = v[i] * b2 + oneMinusB2 * g * g;
            m[i] = mi;
            v[i] = vi;
            T denom = T.Sqrt(vi / bc2) + eps;
            T pi = p[i] - coefGrad * g / denom;
            p[i] = pi - coefAvg * mi / denom;
        }
    }
}
