using SharpGrad.Ops;

namespace SharpGrad.Layers;

/// <summary>
/// What batch and instance normalisation share (PyTorch: <c>torch.nn.modules.batchnorm._NormBase</c>): the options
/// num_features, eps, momentum, affine and track_running_stats, the affine parameters and the running statistics, in
/// PyTorch's state-dict order (weight, bias, running_mean, running_var, num_batches_tracked).
/// </summary>
[Module]
public abstract partial class NormBase : Module
{
    /// <summary>Creates the state; a null <paramref name="momentum"/> means a cumulative moving average.</summary>
    private protected NormBase(int numFeatures, double eps, double? momentum, bool affine, bool trackRunningStats, DType dtype)
    {
        NumFeatures = numFeatures;
        Eps = eps;
        Momentum = momentum;
        Affine = affine;
        TrackRunningStats = trackRunningStats;
        (Weight, Bias, RunningMean, RunningVar, NumBatchesTracked) = BatchNormState.Create(numFeatures, affine, trackRunningStats, dtype);
    }

    /// <summary>The number of channels C (PyTorch: <c>num_features</c>).</summary>
    public int NumFeatures { get; }
    /// <summary>Added to the variance for stability (PyTorch: <c>eps</c>).</summary>
    public double Eps { get; }
    /// <summary>The running-statistics update factor, or null for a cumulative average (PyTorch: <c>momentum</c>).</summary>
    public double? Momentum { get; }
    /// <summary>Whether the layer has a learnable weight and bias (PyTorch: <c>affine</c>).</summary>
    public bool Affine { get; }
    /// <summary>Whether running statistics are kept (PyTorch: <c>track_running_stats</c>).</summary>
    public bool TrackRunningStats { get; }

    /// <summary>The per-channel scale γ, initialised to 1 (PyTorch: <c>weight</c>).</summary>
    public Parameter? Weight { get; }
    /// <summary>The per-channel shift β, initialised to 0 (PyTorch: <c>bias</c>).</summary>
    public Parameter? Bias { get; }
    /// <summary>The running mean, initialised to 0 (PyTorch: <c>running_mean</c>).</summary>
    [Buffer] public Tensor? RunningMean { get; }
    /// <summary>The running (unbiased) variance, initialised to 1 (PyTorch: <c>running_var</c>).</summary>
    [Buffer] public Tensor? RunningVar { get; }
    /// <summary>The number of training batches seen, Int64 0-d (PyTorch: <c>num_batches_tracked</c>; instance norm keeps it for
    /// the state-dict layout and does not advance it, as PyTorch).</summary>
    [Buffer] public Tensor? NumBatchesTracked { get; }

    /// <summary>Resets the running statistics (PyTorch: <c>reset_running_stats()</c>).</summary>
    public void ResetRunningStats() => BatchNormState.ResetRunningStats(RunningMean, RunningVar, NumBatchesTracked);
}

/// <summary>
/// What <see cref="BatchNorm1d"/> and <see cref="BatchNorm2d"/> share (PyTorch: <c>torch.nn.modules.batchnorm._BatchNorm</c>):
/// the forward. In training it uses the batch statistics and updates the running ones; in evaluation it uses the running
/// statistics.
/// </summary>
[Module]
public abstract partial class BatchNormBase : NormBase
{
    /// <summary>Creates the state; a null <paramref name="momentum"/> means a cumulative moving average.</summary>
    private protected BatchNormBase(int numFeatures, double eps, double? momentum, bool affine, bool trackRunningStats, DType dtype)
        : base(numFeatures, eps, momentum, affine, trackRunningStats, dtype)
    {
    }

    /// <summary>Normalises the input over its batch (and spatial) dimensions, per channel (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input)
    {
        CheckInputRank(input);
        return BatchNormState.Forward(input, Training, TrackRunningStats, Momentum, Eps, Weight, Bias, RunningMean, RunningVar, NumBatchesTracked);
    }

    /// <summary>Throws, naming the shape, when the layer does not take inputs of this rank.</summary>
    private protected abstract void CheckInputRank(Tensor input);

    /// <inheritdoc/>
    protected override string ExtraRepr() => BatchNormState.Repr(NumFeatures, Eps, Momentum, Affine, TrackRunningStats);
}

/// <summary>Batch normalisation over [N, C] or [N, C, L] input (PyTorch: <c>torch.nn.BatchNorm1d</c>).</summary>
[Module]
public sealed partial class BatchNorm1d : BatchNormBase
{
    /// <summary>Creates the layer (PyTorch: <c>nn.BatchNorm1d(num_features, eps, momentum, affine, track_running_stats)</c>);
    /// a null <paramref name="momentum"/> means a cumulative moving average.</summary>
    public BatchNorm1d(int numFeatures, double eps = OpDefaults.Norm.Eps, double? momentum = OpDefaults.Norm.Momentum, bool affine = true, bool trackRunningStats = true, DType dtype = DType.Float32)
        : base(numFeatures, eps, momentum, affine, trackRunningStats, dtype)
    {
    }

    private protected override void CheckInputRank(Tensor input)
    {
        if (input.Rank is not (2 or 3))
        {
            throw new ArgumentException($"BatchNorm1d: expected 2D or 3D input (got {input.Rank}D input of shape {ShapeUtil.Format(input._shape)}). Use BatchNorm2d for [N, C, H, W].");
        }
    }
}

/// <summary>Batch normalisation over [N, C, H, W] input (PyTorch: <c>torch.nn.BatchNorm2d</c>).</summary>
[Module]
public sealed partial class BatchNorm2d : BatchNormBase
{
    /// <summary>Creates the layer (PyTorch: <c>nn.BatchNorm2d(num_features, eps, momentum, affine, track_running_stats)</c>);
    /// a null <paramref name="momentum"/> means a cumulative moving average.</summary>
    public BatchNorm2d(int numFeatures, double eps = OpDefaults.Norm.Eps, double? momentum = OpDefaults.Norm.Momentum, bool affine = true, bool trackRunningStats = true, DType dtype = DType.Float32)
        : base(numFeatures, eps, momentum, affine, trackRunningStats, dtype)
    {
    }

    private protected override void CheckInputRank(Tensor input)
    {
        if (input.Rank != 4)
        {
            throw new ArgumentException($"BatchNorm2d: expected 4D input (got {input.Rank}D input of shape {ShapeUtil.Format(input._shape)}). Use BatchNorm1d for [N, C] or [N, C, L].");
        }
    }
}

/// <summary>What one BatchNorm call uses: its momentum, whether it normalises with batch statistics, whether running statistics are passed.</summary>
internal readonly record struct BatchNormStep(double Momentum, bool Training, bool PassStats);

internal static class BatchNormState
{
    public static (Parameter?, Parameter?, Tensor?, Tensor?, Tensor?) Create(int c, bool affine, bool track, DType dtype)
    {
        if (c <= 0) throw new ArgumentException($"BatchNorm: num_features must be positive, but got {c}.");
        var w = affine ? new Parameter(Tensor.Ones([c], dtype)) : null;
        var b = affine ? new Parameter(Tensor.Zeros([c], dtype)) : null;
        var rm = track ? Tensor.Zeros([c], dtype) : null;
        var rv = track ? Tensor.Ones([c], dtype) : null;
        var nb = track ? Tensor.Zeros([], DType.Int64) : null;
        return (w, b, rm, rv, nb);
    }

    public static void ResetRunningStats(Tensor? rm, Tensor? rv, Tensor? nb)
    {
        using (Autograd.NoGrad())
        {
            rm?.Fill_(0);
            rv?.Fill_(1);
            nb?.Fill_(0);
        }
    }

    /// <summary>
    /// The layer's part of PyTorch's <c>_BatchNorm.forward</c>, for one call (eager and compiled alike): counts the batch in
    /// num_batches_tracked when training with running statistics, and returns the momentum to use (1/count for a
    /// cumulative average), whether the normalisation uses batch statistics, and whether the running statistics are passed.
    /// </summary>
    public static BatchNormStep Step(bool training, bool track, double? momentum, Tensor? nb, bool hasRunningStats)
    {
        double factor = momentum ?? 0.0;
        if (training && track && nb is not null)
        {
            // num_batches_tracked += 1, in place (a version bump, as Add_ under NoGrad), without allocating.
            ref long count = ref nb.Data<long>()[nb.Offset];
            count++;
            nb.Storage.Version++;
            if (momentum is null) factor = 1.0 / count;
        }
        return new BatchNormStep(factor, training || !hasRunningStats, !training || track);
    }

    /// <summary>PyTorch's <c>_BatchNorm.forward</c>.</summary>
    public static Tensor Forward(Tensor input, bool training, bool track, double? momentum, double eps,
        Tensor? weight, Tensor? bias, Tensor? rm, Tensor? rv, Tensor? nb)
    {
        var step = Step(training, track, momentum, nb, rm is not null || rv is not null);
        return Functional.BatchNorm(input, step.PassStats ? rm : null, step.PassStats ? rv : null, weight, bias, step.Training, step.Momentum, eps);
    }

    public static string Repr(int c, double eps, double? momentum, bool affine, bool track)
        => $"{c}, eps={Py.Float(eps)}, momentum={(momentum is double m ? Py.Float(m) : "None")}, affine={Py.Bool(affine)}, track_running_stats={Py.Bool(track)}";
}

/// <summary>
/// Layer normalisation over the trailing <c>normalized_shape</c> dimensions (PyTorch: <c>torch.nn.LayerNorm</c>); weight starts at 1, bias at 0.
/// </summary>
[Module]
public sealed partial class LayerNorm : Module
{
    /// <summary>Creates the layer for the last dimension of size <paramref name="normalizedShape"/>.</summary>
    public LayerNorm(int normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, bool bias = true, DType dtype = DType.Float32)
        : this([normalizedShape], eps, elementwiseAffine, bias, dtype)
    {
    }

    /// <summary>Creates the layer (PyTorch: <c>nn.LayerNorm(normalized_shape, eps, elementwise_affine, bias)</c>).</summary>
    public LayerNorm(int[] normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, bool bias = true, DType dtype = DType.Float32)
    {
        ArgumentNullException.ThrowIfNull(normalizedShape);
        if (normalizedShape.Length == 0 || normalizedShape.Any(s => s <= 0))
        {
            throw new ArgumentException($"LayerNorm: normalized_shape must be non-empty with positive sizes, but got {ShapeUtil.Format(normalizedShape)}.");
        }
        NormalizedShape = (int[])normalizedShape.Clone();
        Eps = eps;
        ElementwiseAffine = elementwiseAffine;
        Weight = elementwiseAffine ? new Parameter(Tensor.Ones(NormalizedShape, dtype)) : null;
        Bias = elementwiseAffine && bias ? new Parameter(Tensor.Zeros(NormalizedShape, dtype)) : null;
    }

    /// <summary>The normalised trailing shape (PyTorch: <c>normalized_shape</c>).</summary>
    public int[] NormalizedShape { get; }
    /// <summary>Added to the variance for stability (PyTorch: <c>eps</c>).</summary>
    public double Eps { get; }
    /// <summary>Whether the layer has a learnable weight (and bias) (PyTorch: <c>elementwise_affine</c>).</summary>
    public bool ElementwiseAffine { get; }

    /// <summary>The elementwise scale, initialised to 1 (PyTorch: <c>weight</c>).</summary>
    public Parameter? Weight { get; }
    /// <summary>The elementwise shift, initialised to 0 (PyTorch: <c>bias</c>).</summary>
    public Parameter? Bias { get; }

    /// <summary>Normalises the trailing dimensions (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.LayerNorm(input, NormalizedShape, Weight, Bias, Eps);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{Py.Tuple(NormalizedShape)}, eps={Py.Float(Eps)}, elementwise_affine={Py.Bool(ElementwiseAffine)}";
}
