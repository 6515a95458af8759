using System.Numerics;

namespace SharpGrad.Optimizers;

/// <summary>
/// Adam (PyTorch: <c>torch.optim.Adam</c>, same update formulas), with L2 weight decay added to the gradient and
/// the AMSGrad variant. <see cref="AdamW"/> is the decoupled-weight-decay version.
/// </summary>
public class Adam : AdamFamily
{
    private readonly bool _decoupled;

    /// <summary>Creates Adam (PyTorch: <c>Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False)</c>).</summary>
    public Adam(IEnumerable<Tensor> parameters, double lr = 1e-3, (double Beta1, double Beta2)? betas = null, double eps = 1e-8, double weightDecay = 0, bool amsgrad = false, bool maximize = false)
        : this(parameters, lr, betas, eps, weightDecay, amsgrad, maximize, decoupled: false)
    {
    }

    /// <summary>Creates Adam for parameter groups whose options override these defaults.</summary>
    public Adam(IEnumerable<ParamGroup> groups, double lr = 1e-3, (double Beta1, double Beta2)? betas = null, double eps = 1e-8, double weightDecay = 0, bool amsgrad = false, bool maximize = false)
        : this(groups, lr, betas, eps, weightDecay, amsgrad, maximize, decoupled: false)
    {
    }

    private protected Adam(IEnumerable<Tensor> parameters, double lr, (double, double)? betas, double eps, double weightDecay, bool amsgrad, bool maximize, bool decoupled)
        : base(parameters, lr, betas, eps, weightDecay, maximize, ("amsgrad", amsgrad)) => _decoupled = decoupled;

    private protected Adam(IEnumerable<ParamGroup> groups, double lr, (double, double)? betas, double eps, double weightDecay, bool amsgrad, bool maximize, bool decoupled)
        : base(groups, lr, betas, eps, weightDecay, maximize, ("amsgrad", amsgrad)) => _decoupled = decoupled;

    /// <inheritdoc/>
    protected override string Name => "Adam";

    /// <inheritdoc/>
    private protected override void AddMissingState(ParamGroup g, Tensor p, Dictionary<string, Tensor> state)
    {
        AddZeros(state, "exp_avg", p);
        AddZeros(state, "exp_avg_sq", p);
        if (g.GetBool("amsgrad")) AddZeros(state, "max_exp_avg_sq", p);
    }

    /// <inheritdoc/>
    private protected override void Update(ParamGroup g, in FamilyOptions o, Tensor p, Tensor grad, Dictionary<string, Tensor> state, double step)
    {
        var m = state["exp_avg"];
        var v = state["exp_avg_sq"];
        Tensor? vmax = g.GetBool("amsgrad") ? state["max_exp_avg_sq"] : null;
        if (p.DType == DType.Float32)
            Kernel(S<float>(p), S<float>(grad), S<float>(m), S<float>(v), vmax is null ? default : S<float>(vmax), step, o.Lr, o.Beta1, o.Beta2, o.Eps, o.WeightDecay, _decoupled, o.Maximize);
        else
            Kernel(S<double>(p), S<double>(grad), S<double>(m), S<double>(v), vmax is null ? default : S<double>(vmax), step, o.Lr, o.Beta1, o.Beta2, o.Eps, o.WeightDecay, _decoupled, o.Maximize);
    }

    private static void Kernel<T>(Span<T> p, ReadOnlySpan<T> grad, Span<T> m, Span<T> v, Span<T> vmax, double step,
        double lrD, double b1D, double b2D, double epsD, double wdD, bool decoupled, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool amsgrad = !vmax.IsEmpty;
        double bc1 = 1 - Math.Pow(b1D, step);
        double bc2Sqrt = Math.Sqrt(1 - Math.Pow(b2D, step));
        T b1 = C<T>(b1D), b2 = C<T>(b2D), oneMinusB1 = C<T>(1 - b1D), oneMinusB2 = C<T>(1 - b2D), eps = C<T>(epsD), wd = C<T>(wdD);
        T stepSize = C<T>(lrD / bc1), bc2S = C<T>(bc2Sqrt), decay = C<T>(1 - lrD * wdD);
        bool hasWd = wdD != 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            // The same operations in the same order as the scalar loop below (no fused multiply-add): same results.
            int w = Vector<T>.Count;
            Vector<T> vb1 = new(b1), vb2 = new(b2), v1b1 = new(oneMinusB1), v1b2 = new(oneMinusB2), veps = new(eps), vwd = new(wd);
            Vector<T> vstep = new(stepSize), vbc2 = new(bc2S), vdecay = new(decay);
            for (; i <= p.Length - w; i += w)
            {
                var g = new Vector<T>(grad[i..]);
                if (maximize) g = -g;
                var pv = new Vector<T>(p[i..]);
                if (hasWd)
                {
                    if (decoupled) pv *= vdecay;
                    else g += vwd * pv;
                }
                var mi = vb1 * new Vector<T>(m[i..]) + v1b1 * g;
                var vi = vb2 * new Vector<T>(v[i..]) + v1b2 * g * g;
                mi.CopyTo(m[i..]);
                vi.CopyTo(v[i..]);
                if (amsgrad)
                {
                    vi = Vector.Max(new Vector<T>(vmax[i..]), vi);
                    vi.CopyTo(vmax[i..]);
                }
                var denom = Vector.SquareRoot(vi) / vbc2 + veps;
                (pv - vstep * mi / denom).CopyTo(p[i..]);
            }
        }
        for (; i < p.Length; i++)
        {
            T g = maximize ? -grad[i] : grad[i];
            if (hasWd)
            {
                if (decoupled) p[i] *= decay;
                else g += wd * p[i];
            }
            T mi = b1 * m[i] + oneMinusB1 * g;
            T vi = b2 * v[i] + oneMinusB2 * g * g;
            m[i] = mi;
            v[i] = vi;
            if (amsgrad)
            {
                vi = T.Max(vmax[i], vi);
                vmax[i] = vi;
            }
            T denom = T.Sqrt(vi) / bc2S + eps;
            p[i] -= stepSize * mi / denom;
        }
    }
}

/// <summary>
/// AdamW: Adam with decoupled weight decay, <c>p ← p·(1 − lr·λ)</c> before the Adam update
/// (PyTorch: <c>torch.optim.AdamW</c>, same update formulas).
/// </summary>
public sealed class AdamW : Adam
{
    /// <summary>Creates AdamW (PyTorch: <c>AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False)</c>).</summary>
    public AdamW(IEnumerable<Tensor> parameters, double lr = 1e-3, (double Beta1, double Beta2)? betas = null, double eps = 1e-8, double weightDecay = 1e-2, bool amsgrad = false, bool maximize = false)
        : base(parameters, lr, betas, eps, weightDecay, amsgrad, maximize, decoupled: true)
    {
    }

    /// <summary>Creates AdamW for parameter groups whose options override these defaults.</summary>
    public AdamW(IEnumerable<ParamGroup> groups, double lr = 1e-3, (double Beta1, double Beta2)? betas = null, double eps = 1e-8, double weightDecay = 1e-2, bool amsgrad = false, bool maximize = false)
        : base(groups, lr, betas, eps, weightDecay, amsgrad, maximize, decoupled: true)
    {
    }

    /// <inheritdoc/>
    protected override string Name => "AdamW";
}
