using SharpGrad.Kernels;

namespace SharpGrad;

public static partial class Functional
{
    private static Tensor ActScale(Tensor t, double s) => t.Mul(Tensor.ScalarLike(t, s));

    private static void ActRequireFloat(Tensor x, string op)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!x.DType.IsFloatingPoint())
        {
            throw new InvalidOperationException($"{op} needs a floating-point tensor, but got {x.DType} (shape {ShapeUtil.Format(x._shape)}). Convert it first with .To(DType.Float32).");
        }
    }

    /// <summary>max(x, 0) (PyTorch: <c>F.relu</c>).</summary>
    public static Tensor Relu(Tensor x) => x.Relu();

    /// <summary>min(max(x, 0), 6) (PyTorch: <c>F.relu6</c>).</summary>
    public static Tensor Relu6(Tensor x) => Hardtanh(x, 0, 6);

    /// <summary>1 / (1 + e⁻ˣ) (PyTorch: <c>F.sigmoid</c>).</summary>
    public static Tensor Sigmoid(Tensor x) => x.Sigmoid();

    /// <summary>tanh(x) (PyTorch: <c>F.tanh</c>).</summary>
    public static Tensor Tanh(Tensor x) => x.Tanh();

    /// <summary>x where x &gt; 0, else negativeSlope·x (PyTorch: <c>F.leaky_relu</c>).</summary>
    public static Tensor LeakyRelu(Tensor x, double negativeSlope = 0.01)
    {
        ActRequireFloat(x, "LeakyRelu");
        var r = Tensor.MapRaw<LeakyReluMap>(x, negativeSlope);
        if (!Tensor.ShouldRecord(x)) return r;
        return Tensor.Record(r, "LeakyReluBackward", [x], (g, n) => [g * Tensor.MapRaw<LeakyReluGradMap>(x, negativeSlope)], x);
    }

    /// <summary>x where x &gt; 0, else alpha·(eˣ − 1) (PyTorch: <c>F.elu</c>).</summary>
    public static Tensor Elu(Tensor x, double alpha = 1.0)
    {
        ActRequireFloat(x, "Elu");
        var r = Tensor.MapRaw<EluMap>(x, alpha);
        if (!Tensor.ShouldRecord(x)) return r;
        return Tensor.Record(r, "EluBackward", [x], (g, n) =>
        {
            // d/dx = 1 for x > 0, alpha·eˣ = out + alpha otherwise.
            var positive = x.Gt(0.0);
            return [Tensor.Where(positive, g, g * r.Add(Tensor.ScalarLike(r, alpha)))];
        }, x, r);
    }

    /// <summary>
    /// x·Φ(x) with Φ the standard normal CDF (PyTorch: <c>F.gelu</c>). <paramref name="approximate"/> is "none" (exact, erf)
    /// or "tanh" (0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))).
    /// </summary>
    public static Tensor Gelu(Tensor x, string approximate = "none")
    {
        ActRequireFloat(x, "Gelu");
        bool tanh = approximate switch
        {
            "none" => false,
            "tanh" => true,
            _ => throw new ArgumentException($"Gelu: approximate must be \"none\" or \"tanh\", but got \"{approximate}\"."),
        };
        var r = Tensor.MapRaw<GeluMap>(x, tanh ? 1 : 0);
        if (!Tensor.ShouldRecord(x)) return r;
        return Tensor.Record(r, "GeluBackward", [x], (g, n) =>
        {
            if (!tanh && !Autograd.IsGradEnabled) return [Tensor.GradMapRaw<GeluGrad>(g, x)];
            if (!tanh)
            {
                var cdf = ActScale(ActScale(x, 0.7071067811865476).Erf() + 1f, 0.5);
                var pdf = ActScale(ActScale(x * x, -0.5).Exp(), 0.3989422804014327);
                return [g * (cdf + x * pdf)];
            }
            const double k = 0.7978845608028654, c = 0.044715;
            var x2 = x * x;
            var t = ActScale(x + ActScale(x2 * x, c), k).Tanh();
            var dinner = ActScale(ActScale(x2, 3 * c) + 1f, k);
            var d = ActScale(t + 1f, 0.5) + ActScale(x * (1f - t * t) * dinner, 0.5);
            return [g * d];
        }, x);
    }

    /// <summary>x·sigmoid(x) (PyTorch: <c>F.silu</c>).</summary>
    public static Tensor Silu(Tensor x)
    {
        ActRequireFloat(x, "Silu");
        var r = Tensor.MapRaw<SiluMap>(x);
        if (!Tensor.ShouldRecord(x)) return r;
        return Tensor.Record(r, "SiluBackward", [x], (g, n) =>
        {
            if (!Autograd.IsGradEnabled) return [Tensor.GradMapRaw<SiluGrad>(g, x)];
            var s = x.Sigmoid();
            return [g * (s * (1f + x * (1f - s)))];
        }, x);
    }

    /// <summary>
    /// log(1 + e^(βx)) / β, reverting to x where βx &gt; threshold (PyTorch: <c>F.softplus(beta, threshold)</c>).
    /// </summary>
    public static Tensor Softplus(Tensor x, double beta = 1.0, double threshold = 20.0)
    {
        ActRequireFloat(x, "Softplus");
        var r = Tensor.MapRaw<SoftplusMap>(x, beta, threshold);
        if (!Tensor.ShouldRecord(x)) return r;
        return Tensor.Record(r, "SoftplusBackward", [x], (g, n) =>
        {
            var z = ActScale(x, beta);
            return [Tensor.Where(z.Gt(threshold), g, g * z.Sigmoid())];
        }, x);
    }

    /// <summary>log(sigmoid(x)), computed stably as min(x, 0) − log(1 + e^−|x|) (PyTorch: <c>F.logsigmoid</c>).</summary>
    public static Tensor LogSigmoid(Tensor x)
    {
        ActRequireFloat(x, "LogSigmoid");
        Tensor r;
        using (Autograd.NoGrad()) r = x.ClampMax(0) - x.Abs().Neg().Exp().Log1p();
        if (!Tensor.ShouldRecord(x)) return r;
        // d/dx log σ(x) = 1 − σ(x) = σ(−x)
        return Tensor.Record(r, "LogSigmoidBackward", [x], (g, n) => [g * x.Neg().Sigmoid()], x);
    }

    /// <summary>Softmax of −x along <paramref name="dim"/> (PyTorch: <c>F.softmin</c>).</summary>
    public static Tensor Softmin(Tensor x, int dim) => Softmax(x.Neg(), dim);

    /// <summary>x / (1 + |x|) (PyTorch: <c>F.softsign</c>).</summary>
    public static Tensor Softsign(Tensor x) => x / (x.Abs() + 1f);

    /// <summary>
    /// scale·(max(0, x) + min(0, α·(eˣ − 1))) with PyTorch's fixed α ≈ 1.6733 and scale ≈ 1.0507 (PyTorch: <c>F.selu</c>).
    /// </summary>
    public static Tensor Selu(Tensor x) => ActScale(Elu(x, 1.6732632423543772848170429916717), 1.0507009873554804934193349852946);

    /// <summary>max(0, x) + min(0, α·(e^(x/α) − 1)) (PyTorch: <c>F.celu</c>).</summary>
    public static Tensor Celu(Tensor x, double alpha = 1.0)
    {
        if (alpha == 0) throw new ArgumentException("Celu: alpha must not be 0.");
        return ActScale(Elu(ActScale(x, 1 / alpha), 1), alpha);
    }

    /// <summary>x·tanh(softplus(x)) (PyTorch: <c>F.mish</c>).</summary>
    public static Tensor Mish(Tensor x) => x * Softplus(x).Tanh();

    /// <summary>relu6(x + 3) / 6 (PyTorch: <c>F.hardsigmoid</c>).</summary>
    public static Tensor Hardsigmoid(Tensor x) => ActScale(Hardtanh(x + 3f, 0, 6), 1.0 / 6);

    /// <summary>x·relu6(x + 3) / 6 (PyTorch: <c>F.hardswish</c>).</summary>
    public static Tensor Hardswish(Tensor x) => x * Hardsigmoid(x);

    /// <summary>
    /// Clamps to [minVal, maxVal] (PyTorch: <c>F.hardtanh</c>); the gradient is 1 strictly inside the interval, 0 at and beyond
    /// the bounds (PyTorch's convention).
    /// </summary>
    public static Tensor Hardtanh(Tensor x, double minVal = -1.0, double maxVal = 1.0)
    {
        ActRequireFloat(x, "Hardtanh");
        if (minVal > maxVal)
        {
            throw new ArgumentException($"Hardtanh: minVal ({minVal}) must not be greater than maxVal ({maxVal}).");
        }
        var r = Tensor.MapRaw<ClampMap>(x, minVal, maxVal);
        if (!Tensor.ShouldRecord(x)) return r;
        return Tensor.Record(r, "HardtanhBackward", [x], (g, n) => [g * Tensor.ClampMask(x, minVal, maxVal, inclusive: false)], x);
    }

    /// <summary>exp(x) / Σ exp(x) along <paramref name="dim"/>, computed stably (PyTorch: <c>F.softmax(x, dim)</c>).</summary>
    public static Tensor Softmax(Tensor x, int dim)
    {
        ActRequireFloat(x, "Softmax");
        int d = Tensor.NormalizeDim(dim, x.Rank);
        int[] dims = x.Rank == 0 ? [] : [d];
        Tensor r;
        if (x.Rank == 0)
        {
            r = Tensor.MapRaw<ExpMap>(Tensor.BinaryRaw(x, x, BinaryKind.Sub));
        }
        else if (d == x.Rank - 1)
        {
            r = SoftmaxLastDim(x, log: false);
        }
        else
        {
            var m = Tensor.ReduceRaw(x, dims, Tensor.ReduceKind.Max);
            var e = Tensor.MapRaw<ExpMap>(Tensor.BinaryRaw(x, m, BinaryKind.Sub));
            var s = Tensor.ReduceRaw(e, dims, Tensor.ReduceKind.Sum);
            r = Tensor.BinaryRaw(e, s, BinaryKind.Div);
        }
        if (!Tensor.ShouldRecord(x)) return r;
        return Tensor.Record(r, "SoftmaxBackward", [x], (g, n) =>
        {
            if (!Autograd.IsGradEnabled && d == r.Rank - 1) return [SoftmaxLastDimBackward(g, r, log: false)];
            var gr = g * r;
            return [dims.Length == 0 ? gr - gr : gr - r * gr.Sum(d, keepDim: true)];
        }, r);
    }

    /// <summary>x − log Σ exp(x) along <paramref name="dim"/>, computed stably (PyTorch: <c>F.log_softmax(x, dim)</c>).</summary>
    public static Tensor LogSoftmax(Tensor x, int dim)
    {
        ActRequireFloat(x, "LogSoftmax");
        int d = Tensor.NormalizeDim(dim, x.Rank);
        int[] dims = x.Rank == 0 ? [] : [d];
        Tensor r;
        if (x.Rank == 0)
        {
            r = Tensor.BinaryRaw(x, x, BinaryKind.Sub);
        }
        else if (d == x.Rank - 1)
        {
            r = SoftmaxLastDim(x, log: true);
        }
        else
        {
            // (x - max) - log Σ exp(x - max): shifting first keeps the digits that x - logsumexp would lose.
            var m = Tensor.ReduceRaw(x, dims, Tensor.ReduceKind.Max);
            var finite = m.Abs().Lt(double.PositiveInfinity);
            m = Tensor.Where(finite, m, Tensor.ZerosLike(m));
            var shifted = Tensor.BinaryRaw(x, m, BinaryKind.Sub);
            var s = Tensor.ReduceRaw(Tensor.MapRaw<ExpMap>(shifted), dims, Tensor.ReduceKind.Sum);
            r = Tensor.BinaryRaw(shifted, Tensor.MapRaw<LogMap>(s), BinaryKind.Sub);
        }
        if (!Tensor.ShouldRecord(x)) return r;
        return Tensor.Record(r, "LogSoftmaxBackward", [x], (g, n) =>
            !Autograd.IsGradEnabled && dims.Length == 1 && d == r.Rank - 1
                ? [SoftmaxLastDimBackward(g, r, log: true)]
                : [dims.Length == 0 ? g - g : g - r.Exp() * g.Sum(d, keepDim: true)], r);
    }

    private static Tensor SoftmaxLastDim(Tensor x, bool log)
    {
        var src = x.ContiguousRaw();
        var r = Tensor.Empty(x._shape, x.DType);
        int n = x._shape[^1];
        if (x.DType == DType.Float32) SoftmaxRows.Forward(src.Span<float>(), r.Span<float>(), n, log);
        else SoftmaxRows.Forward(src.Span<double>(), r.Span<double>(), n, log);
        return r;
    }

    private static Tensor SoftmaxLastDimBackward(Tensor g, Tensor r, bool log)
    {
        var gc = g.DType == r.DType ? g.ContiguousRaw() : g.ToRaw(r.DType);
        var o = Tensor.Empty(r._shape, r.DType);
        int n = r._shape[^1];
        if (r.DType == DType.Float32) SoftmaxRows.Backward(gc.Span<float>(), r.Span<float>(), o.Span<float>(), n, log);
        else SoftmaxRows.Backward(gc.Span<double>(), r.Span<double>(), o.Span<double>(), n, log);
        return o;
    }

    /// <summary>
    /// One-hot encodes Int64 class indices: a tensor of shape [..., numClasses] with 1 at each label (PyTorch: <c>F.one_hot</c>).
    /// With <paramref name="numClasses"/> = -1 the count is the largest label + 1.
    /// </summary>
    public static Tensor OneHot(Tensor labels, int numClasses = -1)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.DType is not (DType.Int64 or DType.Int32))
        {
            throw new ArgumentException($"OneHot: the labels must be an Int64 tensor of class indices, but got {labels.DType} (shape {ShapeUtil.Format(labels._shape)}).");
        }
        var v = labels.ToLongArray();
        if (numClasses < 0)
        {
            if (v.Length == 0) throw new ArgumentException("OneHot: cannot infer numClasses from an empty tensor; pass numClasses.");
            numClasses = (int)v.Max() + 1;
        }
        var result = new long[checked(v.Length * numClasses)];
        for (int i = 0; i < v.Length; i++)
        {
            if (v[i] < 0 || v[i] >= numClasses)
            {
                throw new ArgumentException($"OneHot: label {v[i]} (at position {i}) is outside [0, {numClasses - 1}] for numClasses = {numClasses}.");
            }
            result[i * numClasses + v[i]] = 1;
        }
        return Tensor.Wrap(result, [.. labels._shape, numClasses]);
    }
}
