using System.Globalization;

namespace SharpGrad;

/// <summary>
/// Training helpers that work on parameters' gradients (PyTorch: <c>torch.nn.utils</c>): gradient clipping by norm and by value.
/// </summary>
public static class Utils
{
    /// <summary>
    /// Scales the gradients of <paramref name="parameters"/> in place so that their total norm (as if they were concatenated into
    /// one vector) is at most <paramref name="maxNorm"/>, and returns that total norm before clipping, as a 0-d tensor in the
    /// gradients' dtype (PyTorch: <c>torch.nn.utils.clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False)</c>).
    /// Parameters without a gradient are skipped; the scale is maxNorm / (total + 1e-6), capped at 1.
    /// </summary>
    /// <param name="parameters">The parameters whose <c>.Grad</c> is clipped, e.g. <c>model.Parameters()</c>.</param>
    /// <param name="maxNorm">The largest allowed total norm (≥ 0).</param>
    /// <param name="normType">The p of the p-norm: any p &gt; 0, <see cref="double.PositiveInfinity"/> for the largest absolute value, 0 for the number of non-zeros.</param>
    /// <param name="errorIfNonfinite">Throw when the total norm is NaN or infinite instead of scaling by it (PyTorch: <c>error_if_nonfinite</c>).</param>
    /// <exception cref="InvalidOperationException">The total norm is not finite and <paramref name="errorIfNonfinite"/> is true.</exception>
    public static Tensor ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm, double normType = 2.0, bool errorIfNonfinite = false)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm >= 0)) throw new ArgumentException($"ClipGradNorm: maxNorm must be >= 0, but got {F(maxNorm)}.", nameof(maxNorm));
        if (double.IsNaN(normType) || normType < 0 && !double.IsNegativeInfinity(normType))
        {
            throw new ArgumentException($"ClipGradNorm: normType must be >= 0 or ±infinity, but got {F(normType)}.", nameof(normType));
        }
        var grads = new List<Tensor>();
        foreach (var p in parameters)
        {
            if (p?.Grad is not { } g) continue;
            if (g.DType is not (DType.Float32 or DType.Float64))
            {
                throw new ArgumentException($"ClipGradNorm: gradients must be Float32 or Float64, but one of shape {ShapeUtil.Format(g._shape)} is {g.DType}.");
            }
            grads.Add(g);
        }
        if (grads.Count == 0) return Tensor.Scalar(0f);

        var norms = grads.Select(g => VectorNorm(g.ToDoubleArray(), normType)).ToArray();
        double total = VectorNorm(norms, normType);
        if (errorIfNonfinite && !double.IsFinite(total))
        {
            throw new InvalidOperationException(
                $"The total norm of order {F(normType)} for gradients from `parameters` is non-finite ({F(total)}), so it cannot be clipped. " +
                "To disable this error and scale the gradients by the non-finite norm anyway, pass errorIfNonfinite: false.");
        }
        var dtype = grads[0].DType;
        // PyTorch computes the coefficient in the gradients' dtype.
        double coef = dtype == DType.Float32 ? (float)maxNorm / ((float)total + 1e-6f) : maxNorm / (total + 1e-6);
        coef = Math.Min(coef, 1.0);
        if (!(coef >= 1)) // NaN scales too: a NaN norm makes every gradient NaN, as in PyTorch
        {
            foreach (var g in grads) Update(g, coef, static (v, c) => v * c);
        }
        return Tensor.Full([], total, dtype);
    }

    /// <summary>Clips the gradient norm of one tensor (PyTorch: <c>clip_grad_norm_(tensor, …)</c>).</summary>
    public static Tensor ClipGradNorm(Tensor parameter, double maxNorm, double normType = 2.0, bool errorIfNonfinite = false)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        return ClipGradNorm([parameter], maxNorm, normType, errorIfNonfinite);
    }

    /// <summary>
    /// Clamps every gradient element of <paramref name="parameters"/> into [−clipValue, clipValue], in place
    /// (PyTorch: <c>torch.nn.utils.clip_grad_value_(parameters, clip_value)</c>). Parameters without a gradient are skipped.
    /// </summary>
    public static void ClipGradValue(IEnumerable<Tensor> parameters, double clipValue)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(clipValue >= 0)) throw new ArgumentException($"ClipGradValue: clipValue must be >= 0 (gradients are clamped to [-clipValue, clipValue]), but got {F(clipValue)}.", nameof(clipValue));
        foreach (var p in parameters)
        {
            if (p?.Grad is not { } g) continue;
            if (g.DType is not (DType.Float32 or DType.Float64))
            {
                throw new ArgumentException($"ClipGradValue: gradients must be Float32 or Float64, but one of shape {ShapeUtil.Format(g._shape)} is {g.DType}.");
            }
            Update(g, clipValue, static (v, c) => Math.Clamp(v, -c, c));
        }
    }

    /// <summary>Clips the gradient of one tensor (PyTorch: <c>clip_grad_value_(tensor, …)</c>).</summary>
    public static void ClipGradValue(Tensor parameter, double clipValue)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        ClipGradValue([parameter], clipValue);
    }

    /// <summary>The p-norm of a vector: max |x| for +∞, min |x| for −∞, the number of non-zeros for 0.</summary>
    private static double VectorNorm(double[] values, double p)
    {
        if (double.IsPositiveInfinity(p))
        {
            double m = 0;
            foreach (var v in values) m = double.IsNaN(v) || double.IsNaN(m) ? double.NaN : Math.Max(m, Math.Abs(v));
            return m;
        }
        if (double.IsNegativeInfinity(p))
        {
            double m = double.PositiveInfinity;
            foreach (var v in values) m = double.IsNaN(v) || double.IsNaN(m) ? double.NaN : Math.Min(m, Math.Abs(v));
            return values.Length == 0 ? 0 : m;
        }
        if (p == 0) return values.Count(v => v != 0);
        double sum = 0;
        if (p == 1)
        {
            foreach (var v in values) sum += Math.Abs(v);
            return sum;
        }
        if (p == 2)
        {
            foreach (var v in values) sum += v * v;
            return Math.Sqrt(sum);
        }
        foreach (var v in values) sum += Math.Pow(Math.Abs(v), p);
        return Math.Pow(sum, 1 / p);
    }

    /// <summary>Applies <paramref name="f"/> to every element of a gradient in place (outside autograd, like <c>g.detach().mul_()</c>).</summary>
    private static void Update(Tensor g, double c, Func<double, double, double> f)
    {
        var target = g.IsContiguous ? g : g.Contiguous();
        if (g.DType == DType.Float32)
        {
            var s = target.Span<float>();
            for (int i = 0; i < s.Length; i++) s[i] = (float)f(s[i], (float)c);
        }
        else
        {
            var s = target.Span<double>();
            for (int i = 0; i < s.Length; i++) s[i] = f(s[i], c);
        }
        if (!ReferenceEquals(target, g))
        {
            using (Autograd.NoGrad()) g.Detach().Copy_(target);
        }
        g.Storage.Version++;
    }

    private static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
