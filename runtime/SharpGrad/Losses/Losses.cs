namespace SharpGrad;

/// <summary>
/// The loss functions (PyTorch: the losses of <c>torch.nn.functional</c>). Each takes a <see cref="Reduction"/>
/// (default <see cref="Reduction.Mean"/>) and PyTorch's options; gradients come from autograd (CrossEntropy/Nll with
/// class targets and MultiLabelMargin have dedicated backward kernels). The modules in <c>SharpGrad.Layers</c>
/// (<c>MSELoss</c>, <c>CrossEntropyLoss</c>, …) call these functions.
/// </summary>
public static partial class Losses
{
    private static Tensor Reduce(Tensor loss, Reduction reduction) => reduction switch
    {
        Reduction.None => loss,
        Reduction.Sum => loss.Sum(),
        Reduction.Mean => loss.Mean(),
        _ => throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "Unknown reduction."),
    };

    private static Reduction CheckedReduction(Reduction reduction) => reduction is Reduction.None or Reduction.Mean or Reduction.Sum
        ? reduction
        : throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "Unknown reduction.");

    private static void RequireFloat(string op, Tensor t, string name)
    {
        if (!t.DType.IsFloatingPoint())
        {
            throw new ArgumentException($"{op}: {name} must be a floating-point tensor (Float32 or Float64), but got {t.DType} (shape {ShapeUtil.Format(t._shape)}).");
        }
    }

    private static void SameShape(string op, Tensor input, Tensor target, string inputName = "input", string targetName = "target")
    {
        ArgumentNullException.ThrowIfNull(input, inputName);
        ArgumentNullException.ThrowIfNull(target, targetName);
        if (!ShapeUtil.SameShape(input._shape, target._shape))
        {
            throw new ArgumentException(
                $"{op}: {inputName} shape {ShapeUtil.Format(input._shape)} and {targetName} shape {ShapeUtil.Format(target._shape)} differ; they must be equal (PyTorch would broadcast them with a warning that this is likely a bug). Reshape one of them.");
        }
    }

    /// <summary>A 0-d constant in <paramref name="like"/>'s dtype (so Float64 losses keep double-precision constants).</summary>
    private static Tensor K(Tensor like, double value) => Tensor.Full([], value, like.DType);

    /// <summary>Converts a target to the input's floating dtype (targets given as integers or in another float type).</summary>
    private static Tensor Like(Tensor target, Tensor input) => target.DType == input.DType ? target : target.To(input.DType);

    /// <summary>Mean absolute error |input − target| (PyTorch: <c>F.l1_loss</c>).</summary>
    public static Tensor L1(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        SameShape("L1", input, target);
        RequireFloat("L1", input, "input");
        return Kernels.ElementwiseLoss.Apply<Kernels.L1LossOp>(input, Like(target, input), CheckedReduction(reduction));
    }

    /// <summary>Mean squared error (input − target)² (PyTorch: <c>F.mse_loss</c>).</summary>
    public static Tensor Mse(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        SameShape("Mse", input, target);
        RequireFloat("Mse", input, "input");
        return Kernels.ElementwiseLoss.Apply<Kernels.MseLossOp>(input, Like(target, input), CheckedReduction(reduction));
    }

    /// <summary>
    /// Smooth L1: 0.5·d²/β where |d| &lt; β, else |d| − 0.5·β (PyTorch: <c>F.smooth_l1_loss</c>); β = 0 is the L1 loss.
    /// </summary>
    public static Tensor SmoothL1(Tensor input, Tensor target, Reduction reduction = Reduction.Mean, double beta = 1.0)
    {
        SameShape("SmoothL1", input, target);
        RequireFloat("SmoothL1", input, "input");
        if (!(beta >= 0)) throw new ArgumentException($"SmoothL1: beta must be >= 0, but got {beta}.");
        var d = input - Like(target, input);
        var a = d.Abs();
        if (beta == 0) return Reduce(a, reduction);
        var loss = Tensor.Where(a.Lt(beta), d * d * K(d, 0.5 / beta), a - K(d, 0.5 * beta));
        return Reduce(loss, reduction);
    }

    /// <summary>Huber: 0.5·d² where |d| &lt; δ, else δ·(|d| − 0.5·δ) (PyTorch: <c>F.huber_loss</c>).</summary>
    public static Tensor Huber(Tensor input, Tensor target, Reduction reduction = Reduction.Mean, double delta = 1.0)
    {
        SameShape("Huber", input, target);
        RequireFloat("Huber", input, "input");
        if (!(delta > 0)) throw new ArgumentException($"Huber: delta must be > 0, but got {delta}.");
        var d = input - Like(target, input);
        var a = d.Abs();
        var loss = Tensor.Where(a.Lt(delta), d * d * 0.5f, (a - K(d, 0.5 * delta)) * K(d, delta));
        return Reduce(loss, reduction);
    }

    /// <summary>
    /// Binary cross entropy of probabilities: −w·(t·log x + (1 − t)·log(1 − x)), each log clamped at −100 like PyTorch
    /// (PyTorch: <c>F.binary_cross_entropy</c>). Input values must be in [0, 1].
    /// </summary>
    /// <param name="input">Probabilities in [0, 1].</param>
    /// <param name="target">Targets (usually 0/1), same shape.</param>
    /// <param name="weight">Optional weight broadcast to the input's shape.</param>
    /// <param name="reduction">None, Mean or Sum.</param>
    public static Tensor BinaryCrossEntropy(Tensor input, Tensor target, Tensor? weight = null, Reduction reduction = Reduction.Mean)
    {
        SameShape("BinaryCrossEntropy", input, target);
        RequireFloat("BinaryCrossEntropy", input, "input");
        var values = input.ToDoubleArray();
        for (int i = 0; i < values.Length; i++)
        {
            if (!(values[i] >= 0 && values[i] <= 1))
            {
                throw new ArgumentException($"BinaryCrossEntropy: all elements of input should be between 0 and 1, but element {i} is {values[i]}. Apply Sigmoid first, or use BinaryCrossEntropyWithLogits on the raw scores.");
            }
        }
        var t = Like(target, input);
        var loss = -(t * input.Log().ClampMin(-100) + (1f - t) * (1f - input).Log().ClampMin(-100));
        if (weight is not null) loss = loss * Like(weight, input);
        return Reduce(loss, reduction);
    }

    /// <summary>
    /// Binary cross entropy on logits, computed stably: (1 − t)·x + (1 + (p − 1)·t)·softplus(−x), times the weight
    /// (PyTorch: <c>F.binary_cross_entropy_with_logits</c>).
    /// </summary>
    /// <param name="input">Raw scores (logits).</param>
    /// <param name="target">Targets in [0, 1], same shape.</param>
    /// <param name="weight">Optional weight broadcast to the input's shape.</param>
    /// <param name="posWeight">Optional weight of positive examples, broadcast along the last (class) dimension (PyTorch: <c>pos_weight</c>).</param>
    /// <param name="reduction">None, Mean or Sum.</param>
    public static Tensor BinaryCrossEntropyWithLogits(Tensor input, Tensor target, Tensor? weight = null, Tensor? posWeight = null, Reduction reduction = Reduction.Mean)
    {
        SameShape("BinaryCrossEntropyWithLogits", input, target);
        RequireFloat("BinaryCrossEntropyWithLogits", input, "input");
        var t = Like(target, input);
        if (posWeight is null && weight is null)
        {
            return Kernels.ElementwiseLoss.Apply<Kernels.BceWithLogitsLossOp>(input, t, CheckedReduction(reduction));
        }
        Tensor loss;
        if (posWeight is not null)
        {
            // With pos_weight the softplus term is scaled: eager only (the kernel has no per-element weights).
            var logWeight = (Like(posWeight, input) - 1f) * t + 1f;
            loss = (1f - t) * input + logWeight * Functional.Softplus(-input);
        }
        else
        {
            loss = Kernels.ElementwiseLoss.Apply<Kernels.BceWithLogitsLossOp>(input, t, Reduction.None);
        }
        if (weight is not null) loss = loss * Like(weight, input);
        return Reduce(loss, reduction);
    }

    /// <summary>
    /// Kullback-Leibler divergence with <paramref name="input"/> as log-probabilities: t·(log t − x), or
    /// exp(t)·(t − x) when <paramref name="logTarget"/> (PyTorch: <c>F.kl_div</c>). <paramref name="batchMean"/> gives PyTorch's
    /// <c>reduction='batchmean'</c> (the sum divided by the batch size, the mathematically correct KL value) and overrides
    /// <paramref name="reduction"/>.
    /// </summary>
    public static Tensor KLDiv(Tensor input, Tensor target, Reduction reduction = Reduction.Mean, bool logTarget = false, bool batchMean = false)
    {
        SameShape("KLDiv", input, target);
        RequireFloat("KLDiv", input, "input");
        var t = Like(target, input);
        Tensor loss;
        if (logTarget)
        {
            loss = t.Exp() * (t - input);
        }
        else
        {
            // xlogy(t, t) - t·x, with 0·log 0 = 0.
            var positive = t.Gt(0);
            var safe = Tensor.Where(positive, t, Tensor.OnesLike(t));
            loss = t * safe.Log() - t * input;
        }
        if (batchMean)
        {
            int batch = input.Rank == 0 ? 1 : input._shape[0];
            return loss.Sum() / K(loss, batch);
        }
        return Reduce(loss, reduction);
    }

    /// <summary>max(0, −y·(x1 − x2) + margin) (PyTorch: <c>F.margin_ranking_loss</c>).</summary>
    public static Tensor MarginRanking(Tensor input1, Tensor input2, Tensor target, double margin = 0, Reduction reduction = Reduction.Mean)
    {
        SameShape("MarginRanking", input1, input2, "input1", "input2");
        SameShape("MarginRanking", input1, target, "input1", "target");
        RequireFloat("MarginRanking", input1, "input1");
        var loss = (-Like(target, input1) * (input1 - input2) + K(input1, margin)).Relu();
        return Reduce(loss, reduction);
    }

    /// <summary>x where y = 1, max(0, margin − x) where y = −1 (PyTorch: <c>F.hinge_embedding_loss</c>).</summary>
    public static Tensor HingeEmbedding(Tensor input, Tensor target, double margin = 1.0, Reduction reduction = Reduction.Mean)
    {
        SameShape("HingeEmbedding", input, target);
        RequireFloat("HingeEmbedding", input, "input");
        var t = Like(target, input);
        var zeros = Tensor.ZerosLike(input);
        var marginClamp = (K(input, margin) - input).ClampMin(0);
        var loss = Tensor.Where(t.Ne(1), marginClamp, zeros) + Tensor.Where(t.Ne(-1), input, zeros);
        return Reduce(loss, reduction);
    }

    /// <summary>log(1 + exp(−y·x)) (PyTorch: <c>F.soft_margin_loss</c>).</summary>
    public static Tensor SoftMargin(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        SameShape("SoftMargin", input, target);
        RequireFloat("SoftMargin", input, "input");
        var z = -input * Like(target, input);
        return Reduce(z.Exp().Log1p(), reduction);
    }

    /// <summary>
    /// Multi-label one-versus-all loss: −mean over classes of w·(y·log σ(x) + (1 − y)·log σ(−x)), one value per sample
    /// (PyTorch: <c>F.multilabel_soft_margin_loss</c>).
    /// </summary>
    public static Tensor MultiLabelSoftMargin(Tensor input, Tensor target, Tensor? weight = null, Reduction reduction = Reduction.Mean)
    {
        SameShape("MultiLabelSoftMargin", input, target);
        RequireFloat("MultiLabelSoftMargin", input, "input");
        var t = Like(target, input);
        // log σ(x) = −softplus(−x), log σ(−x) = −softplus(x)
        var loss = t * Functional.Softplus(-input) + (1f - t) * Functional.Softplus(input);
        if (weight is not null) loss = loss * Like(weight, input);
        int classDim = input.Rank - 1;
        var perSample = loss.Sum(classDim) / K(loss, input._shape[classDim]);
        return Reduce(perSample, reduction);
    }

    /// <summary>
    /// 1 − cos(x1, x2) where y = 1, max(0, cos(x1, x2) − margin) where y = −1 (PyTorch: <c>F.cosine_embedding_loss</c>).
    /// Inputs are [N, D] with targets [N], or [D] with a 0-d target.
    /// </summary>
    public static Tensor CosineEmbedding(Tensor input1, Tensor input2, Tensor target, double margin = 0, Reduction reduction = Reduction.Mean)
    {
        SameShape("CosineEmbedding", input1, input2, "input1", "input2");
        RequireFloat("CosineEmbedding", input1, "input1");
        if (input1.Rank is not (1 or 2))
        {
            throw new ArgumentException($"CosineEmbedding: expected 1-d or 2-d inputs, but got shape {ShapeUtil.Format(input1._shape)}.");
        }
        int[] expected = input1.Rank == 2 ? [input1._shape[0]] : [];
        if (!ShapeUtil.SameShape(target._shape, expected))
        {
            throw new ArgumentException($"CosineEmbedding: for inputs of shape {ShapeUtil.Format(input1._shape)} the target must have shape {ShapeUtil.Format(expected)}, but got {ShapeUtil.Format(target._shape)}.");
        }
        const float eps = 1e-12f;
        int dim = input1.Rank - 1;
        var prod = (input1 * input2).Sum(dim);
        var mag1 = (input1 * input1).Sum(dim) + eps;
        var mag2 = (input2 * input2).Sum(dim) + eps;
        var cos = prod / (mag1 * mag2).Sqrt();
        var t = Like(target, input1);
        var zeros = Tensor.ZerosLike(cos);
        var loss = Tensor.Where(t.Eq(1), 1f - cos, zeros) + Tensor.Where(t.Eq(-1), (cos - K(cos, margin)).ClampMin(0), zeros);
        return Reduce(loss, reduction);
    }

    /// <summary>
    /// Multi-class hinge loss: Σ_{i≠y} w[y]·max(0, margin − x[y] + x[i])^p / C per sample (PyTorch: <c>F.multi_margin_loss</c>).
    /// </summary>
    /// <param name="input">Scores [N, C] or [C].</param>
    /// <param name="target">Class indices (Int64) [N] or 0-d.</param>
    /// <param name="p">1 or 2.</param>
    /// <param name="margin">The margin.</param>
    /// <param name="weight">Optional per-class weights [C].</param>
    /// <param name="reduction">None, Mean or Sum.</param>
    public static Tensor MultiMargin(Tensor input, Tensor target, int p = 1, double margin = 1, Tensor? weight = null, Reduction reduction = Reduction.Mean)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        RequireFloat("MultiMargin", input, "input");
        if (p is not (1 or 2)) throw new ArgumentException($"MultiMargin: only p = 1 and p = 2 are supported, but got p = {p}.");
        bool single = input.Rank == 1;
        if (input.Rank is not (1 or 2)) throw new ArgumentException($"MultiMargin: expected a 1-d or 2-d input, but got shape {ShapeUtil.Format(input._shape)}.");
        var x = single ? input.Unsqueeze(0) : input;
        int n = x._shape[0], c = x._shape[1];
        int[] expectedTarget = single ? [] : [n];
        if (!ShapeUtil.SameShape(target._shape, expectedTarget))
        {
            throw new ArgumentException($"MultiMargin: for an input of shape {ShapeUtil.Format(input._shape)} the target must have shape {ShapeUtil.Format(expectedTarget)}, but got {ShapeUtil.Format(target._shape)}.");
        }
        var y = CheckClassTargets("MultiMargin", target, c);
        var mask = new double[n * c];
        for (int i = 0; i < n; i++) for (int k = 0; k < c; k++) mask[i * c + k] = k == y[i] ? 0 : 1;
        var idx = Tensor.FromArray(y, n, 1);
        var xy = x.Gather(1, idx);
        var m = (K(x, margin) - xy + x).Relu();
        if (p == 2) m = m * m;
        if (weight is not null)
        {
            CheckWeight("MultiMargin", weight, c);
            m = m * Like(weight, input).IndexSelect(0, Tensor.FromArray(y, n)).Unsqueeze(1);
        }
        m = m * Tensor.FromArray(mask, n, c).To(input.DType);
        var perSample = m.Sum(1) / K(m, c);
        if (single) perSample = perSample.Reshape();
        return Reduce(perSample, reduction);
    }

    private static long[] CheckClassTargets(string op, Tensor target, int classes)
    {
        if (target.DType is not (DType.Int64 or DType.Int32))
        {
            throw new ArgumentException($"{op}: targets must be class indices (Int64), but got {target.DType}.");
        }
        var y = target.ToLongArray();
        for (int i = 0; i < y.Length; i++)
        {
            if (y[i] < 0 || y[i] >= classes)
            {
                throw new ArgumentException($"{op}: target {y[i]} (at flat position {i}) is out of bounds: there are {classes} classes, so targets must be in [0, {classes - 1}].");
            }
        }
        return y;
    }

    /// <summary>
    /// max(d(a, p) − d(a, n) + margin, 0) with d the p-norm distance ‖x − y + eps‖ over the last dimension
    /// (PyTorch: <c>F.triplet_margin_loss</c>); <paramref name="swap"/> uses min(d(a, n), d(p, n)).
    /// </summary>
    public static Tensor TripletMargin(Tensor anchor, Tensor positive, Tensor negative, double margin = 1.0, double p = 2, double eps = 1e-6,
        bool swap = false, Reduction reduction = Reduction.Mean)
    {
        SameShape("TripletMargin", anchor, positive, "anchor", "positive");
        SameShape("TripletMargin", anchor, negative, "anchor", "negative");
        RequireFloat("TripletMargin", anchor, "anchor");
        if (anchor.Rank is not (1 or 2))
        {
            throw new ArgumentException($"TripletMargin: expected 1-d or 2-d inputs, but got shape {ShapeUtil.Format(anchor._shape)}.");
        }
        if (!(margin > 0)) throw new ArgumentException($"TripletMargin: margin must be > 0, but got {margin}.");
        var dPos = PairwiseDistance(anchor, positive, p, eps);
        var dNeg = PairwiseDistance(anchor, negative, p, eps);
        if (swap) dNeg = dNeg.Minimum(PairwiseDistance(positive, negative, p, eps));
        var loss = (dPos - dNeg + K(dPos, margin)).ClampMin(0);
        return Reduce(loss, reduction);
    }

    /// <summary>‖x1 − x2 + eps‖_p over the last dimension (PyTorch: <c>F.pairwise_distance</c>).</summary>
    public static Tensor PairwiseDistance(Tensor x1, Tensor x2, double p = 2, double eps = 1e-6)
    {
        var d = x1 - x2 + K(x1, eps);
        int dim = d.Rank - 1;
        if (p == 2) return (d * d).Sum(dim).Sqrt();
        if (p == 1) return d.Abs().Sum(dim);
        return d.Abs().Pow(p).Sum(dim).Pow(1 / p);
    }

    /// <summary>
    /// Poisson negative log-likelihood (PyTorch: <c>F.poisson_nll_loss</c>): exp(x) − t·x when <paramref name="logInput"/>,
    /// else x − t·log(x + eps); <paramref name="full"/> adds Stirling's term t·log t − t + 0.5·log(2πt) for t &gt; 1.
    /// </summary>
    public static Tensor PoissonNll(Tensor input, Tensor target, bool logInput = true, bool full = false, double eps = 1e-8, Reduction reduction = Reduction.Mean)
    {
        SameShape("PoissonNll", input, target);
        RequireFloat("PoissonNll", input, "input");
        var t = Like(target, input);
        var loss = logInput ? input.Exp() - t * input : input - t * (input + K(input, eps)).Log();
        if (full)
        {
            var big = t.Gt(1);
            var safe = Tensor.Where(big, t, Tensor.OnesLike(t));
            var stirling = safe * safe.Log() - safe + (safe * K(safe, 2 * Math.PI)).Log() * 0.5f;
            loss = loss + Tensor.Where(big, stirling, Tensor.ZerosLike(stirling));
        }
        return Reduce(loss, reduction);
    }

    /// <summary>
    /// Gaussian negative log-likelihood 0.5·(log var + (x − t)²/var) (+ 0.5·log 2π when <paramref name="full"/>)
    /// (PyTorch: <c>F.gaussian_nll_loss</c>). <paramref name="var"/> has the input's shape, or one dimension fewer, or a last
    /// dimension of 1 (one variance shared by the last dimension). It is clamped to at least <paramref name="eps"/>; like
    /// PyTorch, the clamp is not differentiated through.
    /// </summary>
    public static Tensor GaussianNll(Tensor input, Tensor target, Tensor var, bool full = false, double eps = 1e-6, Reduction reduction = Reduction.Mean)
    {
        SameShape("GaussianNll", input, target);
        ArgumentNullException.ThrowIfNull(var);
        RequireFloat("GaussianNll", input, "input");
        if (!ShapeUtil.SameShape(var._shape, input._shape))
        {
            if (input.Rank >= 1 && var.Rank == input.Rank - 1 && ShapeUtil.SameShape(var._shape, input._shape.AsSpan(0, input.Rank - 1)))
            {
                var = var.Unsqueeze(-1);
            }
            else if (!(input.Rank >= 1 && var.Rank == input.Rank && var._shape[^1] == 1
                       && ShapeUtil.SameShape(var._shape.AsSpan(0, var.Rank - 1), input._shape.AsSpan(0, input.Rank - 1))))
            {
                throw new ArgumentException($"GaussianNll: var of shape {ShapeUtil.Format(var._shape)} does not fit input of shape {ShapeUtil.Format(input._shape)}; it must have the same shape, one dimension fewer, or a last dimension of 1.");
            }
        }
        if (var.ToDoubleArray().Any(v => v < 0))
        {
            throw new ArgumentException("GaussianNll: var has negative entries; variances must be >= 0.");
        }
        var v = Like(var, input);
        Tensor clamped;
        using (Autograd.NoGrad())
        {
            clamped = v.ClampMin(eps);
        }
        v = v + (clamped - v.Detach()); // value of clamp(var, eps), gradient of the identity
        var d = input - Like(target, input);
        var loss = (v.Log() + d * d / v) * 0.5f;
        if (full) loss = loss + K(loss, 0.5 * Math.Log(2 * Math.PI));
        return Reduce(loss, reduction);
    }
}
