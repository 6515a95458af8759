using SharpGrad.Ops;

namespace SharpGrad.Layers;

/// <summary>
/// Group normalisation of [N, C, *] input (PyTorch: <c>torch.nn.GroupNorm</c>): C channels in <see cref="NumGroups"/> groups,
/// each (sample, group) normalised by its own statistics; per-channel weight (starts at 1) and bias (starts at 0).
/// </summary>
[Module]
public sealed partial class GroupNorm : Module
{
    /// <summary>Creates the layer (PyTorch: <c>nn.GroupNorm(num_groups, num_channels, eps, affine)</c>).</summary>
    public GroupNorm(int numGroups, int numChannels, double eps = OpDefaults.Norm.Eps, bool affine = OpDefaults.GroupNorm.Affine, DType dtype = DType.Float32)
    {
        if (numGroups <= 0 || numChannels <= 0 || numChannels % numGroups != 0)
        {
            throw new ArgumentException($"GroupNorm: num_channels ({numChannels}) must be divisible by num_groups ({numGroups}), and both must be positive.");
        }
        NumGroups = numGroups;
        NumChannels = numChannels;
        Eps = eps;
        Affine = affine;
        Weight = affine ? new Parameter(Tensor.Ones([numChannels], dtype)) : null;
        Bias = affine ? new Parameter(Tensor.Zeros([numChannels], dtype)) : null;
    }

    /// <summary>The number of channel groups (PyTorch: <c>num_groups</c>).</summary>
    public int NumGroups { get; }
    /// <summary>The number of channels C (PyTorch: <c>num_channels</c>).</summary>
    public int NumChannels { get; }
    /// <summary>Added to the variance for stability (PyTorch: <c>eps</c>).</summary>
    public double Eps { get; }
    /// <summary>Whether the layer has a learnable per-channel weight and bias (PyTorch: <c>affine</c>).</summary>
    public bool Affine { get; }

    /// <summary>The per-channel scale, initialised to 1 (PyTorch: <c>weight</c>).</summary>
    public Parameter? Weight { get; }
    /// <summary>The per-channel shift, initialised to 0 (PyTorch: <c>bias</c>).</summary>
    public Parameter? Bias { get; }

    /// <summary>Normalises [N, C, *] input (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank < 2 || input.Shape[1] != NumChannels)
        {
            throw new ArgumentException(
                $"GroupNorm: expected input [N, {NumChannels}, *] (num_channels = {NumChannels}), but got shape {ShapeUtil.Format(input._shape)}.");
        }
        return Functional.GroupNorm(input, NumGroups, Weight, Bias, Eps);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{NumGroups}, {NumChannels}, eps={Py.Float(Eps)}, affine={Py.Bool(Affine)}";
}

/// <summary>
/// What <see cref="InstanceNorm1d"/> and <see cref="InstanceNorm2d"/> share (PyTorch: <c>torch.nn.modules.instancenorm._InstanceNorm</c>):
/// per-sample, per-channel normalisation; optional affine parameters (off by default) and running statistics (off by default,
/// used in evaluation when on). Unlike BatchNorm it does not count <c>num_batches_tracked</c>, as PyTorch does not.
/// </summary>
[Module]
public abstract partial class InstanceNormBase : NormBase
{
    private readonly int _spatialDims;

    /// <summary>Creates the state for <paramref name="spatialDims"/> spatial dims.</summary>
    private protected InstanceNormBase(int spatialDims, int numFeatures, double eps, double momentum, bool affine, bool trackRunningStats, DType dtype)
        : base(numFeatures, eps, momentum, affine, trackRunningStats, dtype)
        => _spatialDims = spatialDims;

    /// <summary>The running-statistics update factor (PyTorch: <c>momentum</c>; never null for instance norm).</summary>
    public new double Momentum => base.Momentum!.Value;

    /// <summary>Normalises each instance and channel (PyTorch: <c>forward</c>); an unbatched input has no batch dim.</summary>
    public Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        string name = GetType().Name;
        if (input.Rank != _spatialDims + 1 && input.Rank != _spatialDims + 2)
        {
            throw new ArgumentException(
                $"{name}: expected {_spatialDims + 1}D (unbatched) or {_spatialDims + 2}D (batched) input, but got {input.Rank}D input of shape {ShapeUtil.Format(input._shape)}.");
        }
        bool unbatched = input.Rank == _spatialDims + 1;
        var x = unbatched ? input.Unsqueeze(0) : input;
        if (x.Shape[1] != NumFeatures && (Affine || TrackRunningStats))
        {
            throw new ArgumentException(
                $"{name}: expected input's size at dim {(unbatched ? 0 : 1)} to match num_features ({NumFeatures}), but got {x.Shape[1]} (input shape {ShapeUtil.Format(input._shape)}).");
        }
        var y = Functional.InstanceNorm(x, RunningMean, RunningVar, Weight, Bias, Training || !TrackRunningStats, Momentum, Eps);
        return unbatched ? y.Squeeze(0) : y;
    }

    /// <inheritdoc/>
    protected override string ExtraRepr()
        => $"{NumFeatures}, eps={Py.Float(Eps)}, momentum={Py.Float(Momentum)}, affine={Py.Bool(Affine)}, track_running_stats={Py.Bool(TrackRunningStats)}";
}

/// <summary>Instance normalisation over [N, C, L] or [C, L] input (PyTorch: <c>torch.nn.InstanceNorm1d</c>).</summary>
[Module]
public sealed partial class InstanceNorm1d : InstanceNormBase
{
    /// <summary>Creates the layer (PyTorch: <c>nn.InstanceNorm1d(num_features, eps, momentum, affine, track_running_stats)</c>).</summary>
    public InstanceNorm1d(int numFeatures, double eps = OpDefaults.Norm.Eps, double momentum = OpDefaults.Norm.Momentum, bool affine = OpDefaults.InstanceNorm.Affine,
        bool trackRunningStats = OpDefaults.InstanceNorm.TrackRunningStats, DType dtype = DType.Float32)
        : base(1, numFeatures, eps, momentum, affine, trackRunningStats, dtype)
    {
    }
}

/// <summary>Instance normalisation over [N, C, H, W] or [C, H, W] input (PyTorch: <c>torch.nn.InstanceNorm2d</c>).</summary>
[Module]
public sealed partial class InstanceNorm2d : InstanceNormBase
{
    /// <summary>Creates the layer (PyTorch: <c>nn.InstanceNorm2d(num_features, eps, momentum, affine, track_running_stats)</c>).</summary>
    public InstanceNorm2d(int numFeatures, double eps = OpDefaults.Norm.Eps, double momentum = OpDefaults.Norm.Momentum, bool affine = OpDefaults.InstanceNorm.Affine,
        bool trackRunningStats = OpDefaults.InstanceNorm.TrackRunningStats, DType dtype = DType.Float32)
        : base(2, numFeatures, eps, momentum, affine, trackRunningStats, dtype)
    {
    }
}

/// <summary>
/// Root-mean-square normalisation over the trailing <c>normalized_shape</c> dims (PyTorch 2.4: <c>torch.nn.RMSNorm</c>):
/// y = x · rsqrt(mean(x²) + eps) · weight, the weight starting at 1. A null eps is the input dtype's machine epsilon.
/// </summary>
[Module]
public sealed partial class RMSNorm : Module
{
    /// <summary>Creates the layer for the last dimension of size <paramref name="normalizedShape"/>.</summary>
    public RMSNorm(int normalizedShape, double? eps = null, bool elementwiseAffine = OpDefaults.RmsNorm.ElementwiseAffine, DType dtype = DType.Float32)
        : this([normalizedShape], eps, elementwiseAffine, dtype)
    {
    }

    /// <summary>Creates the layer (PyTorch: <c>nn.RMSNorm(normalized_shape, eps=None, elementwise_affine=True)</c>).</summary>
    public RMSNorm(int[] normalizedShape, double? eps = null, bool elementwiseAffine = OpDefaults.RmsNorm.ElementwiseAffine, DType dtype = DType.Float32)
    {
        ArgumentNullException.ThrowIfNull(normalizedShape);
        if (normalizedShape.Length == 0 || normalizedShape.Any(s => s <= 0))
        {
            throw new ArgumentException($"RMSNorm: normalized_shape must be non-empty with positive sizes, but got {ShapeUtil.Format(normalizedShape)}.");
        }
        if (eps is { } e && !(e >= 0)) throw new ArgumentException($"RMSNorm: eps must be non-negative, but got {e}.");
        NormalizedShape = (int[])normalizedShape.Clone();
        Eps = eps;
        ElementwiseAffine = elementwiseAffine;
        Weight = elementwiseAffine ? new Parameter(Tensor.Ones(NormalizedShape, dtype)) : null;
    }

    /// <summary>The normalised trailing shape (PyTorch: <c>normalized_shape</c>).</summary>
    public int[] NormalizedShape { get; }
    /// <summary>Added to the mean square, or null for the input dtype's epsilon (PyTorch: <c>eps</c>).</summary>
    public double? Eps { get; }
    /// <summary>Whether the layer has a learnable weight (PyTorch: <c>elementwise_affine</c>).</summary>
    public bool ElementwiseAffine { get; }

    /// <summary>The elementwise scale, initialised to 1 (PyTorch: <c>weight</c>).</summary>
    public Parameter? Weight { get; }

    /// <summary>Normalises the trailing dimensions (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.RmsNorm(input, NormalizedShape, Weight, Eps);

    /// <inheritdoc/>
    protected override string ExtraRepr()
        => $"{Py.Tuple(NormalizedShape)}, eps={(Eps is double e ? Py.Float(e) : "None")}, elementwise_affine={Py.Bool(ElementwiseAffine)}";
}
