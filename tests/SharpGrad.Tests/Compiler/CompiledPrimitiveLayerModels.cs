using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// Models for the compiled primitive layers (CompiledPrimitiveLayerTests): group/instance/RMS normalisation and the 1-d pools.

/// <summary>1-d: a convolution, GroupNorm, an affine InstanceNorm1d, MaxPool1d, AvgPool1d (ceil mode, padding excluded), RMSNorm over L.</summary>
[Module]
public sealed partial class CompiledNorm1dNet
{
    private readonly Conv1d conv = new(3, 6, 3, padding: 1);
    private readonly GroupNorm group = new(3, 6);
    private readonly InstanceNorm1d instance = new(6, affine: true);
    private readonly MaxPool1d maxPool = new(3, stride: 2, padding: 1);
    private readonly AvgPool1d avgPool = new(2, stride: 2, padding: 1, ceilMode: true, countIncludePad: false);
    private readonly RMSNorm rms = new(4);

    public Tensor Forward([Shape("N", 3, 13)] Tensor x)
        => rms.Forward(avgPool.Forward(maxPool.Forward(instance.Forward(Functional.Relu(group.Forward(conv.Forward(x)))))));
}

/// <summary>2-d: a convolution, GroupNorm without affine, InstanceNorm2d, RMSNorm over [H, W] with eps, and a dilated MaxPool1d-free head.</summary>
[Module]
public sealed partial class CompiledNorm2dNet
{
    private readonly Conv2d conv = new(2, 4, 3, padding: 1);
    private readonly GroupNorm group = new(2, 4, eps: 1e-3, affine: false);
    private readonly InstanceNorm2d instance = new(4);
    private readonly RMSNorm rms = new([5, 6], eps: 1e-4);
    private readonly Conv2d head = new(4, 2, 1);

    public Tensor Forward([Shape("N", 2, 5, 6)] Tensor x) => head.Forward(rms.Forward(instance.Forward(Functional.Gelu(group.Forward(conv.Forward(x))))));
}

/// <summary>InstanceNorm with running statistics (track_running_stats=True): compiled, the statistics updated as eager.</summary>
[Module]
public sealed partial class CompiledTrackedInstanceNorm
{
    private readonly Conv1d conv = new(2, 3, 1);
    private readonly InstanceNorm1d norm = new(3, trackRunningStats: true);

    public Tensor Forward([Shape("N", 2, 6)] Tensor x) => norm.Forward(conv.Forward(x));
}

// One [Module] per PyTorch fixture case of Fixtures/primitives (the layer is the child `layer`, so the state dict is PyTorch's with a `layer.` prefix).

[Module] public sealed partial class FixtureConvTranspose1d { private readonly ConvTranspose1d layer = new(4, 6, 3, stride: 2, padding: 1, outputPadding: 1, groups: 2); public Tensor Forward([Shape("N", 4, 7)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureConvTranspose1dDilated { private readonly ConvTranspose1d layer = new(3, 2, 4, stride: 3, padding: 2, dilation: 2, bias: false); public Tensor Forward([Shape("N", 3, 5)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureGroupNorm3d { private readonly GroupNorm layer = new(3, 6); public Tensor Forward([Shape("N", 6, 5)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureGroupNorm4d { private readonly GroupNorm layer = new(2, 6); public Tensor Forward([Shape("N", 6, 4, 3)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureGroupNormNoAffine { private readonly GroupNorm layer = new(1, 4, eps: 1e-3, affine: false); public Tensor Forward([Shape("N", 4, 3, 3)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureInstanceNorm1d { private readonly InstanceNorm1d layer = new(3); public Tensor Forward([Shape("N", 3, 7)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureInstanceNorm2dAffine { private readonly InstanceNorm2d layer = new(4, affine: true); public Tensor Forward([Shape("N", 4, 5, 3)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureRmsNorm { private readonly RMSNorm layer = new(6); public Tensor Forward([Shape("N", 4, 6)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureRmsNorm2dEps { private readonly RMSNorm layer = new([3, 5], eps: 1e-4); public Tensor Forward([Shape("N", 3, 5)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureRmsNormNoAffine { private readonly RMSNorm layer = new(5, elementwiseAffine: false); public Tensor Forward([Shape("N", 5)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureMaxPool1d { private readonly MaxPool1d layer = new(3, stride: 2, padding: 1); public Tensor Forward([Shape("N", 3, 10)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureMaxPool1dDilatedCeil { private readonly MaxPool1d layer = new(2, stride: 2, dilation: 2, ceilMode: true); public Tensor Forward([Shape("N", 2, 9)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureAvgPool1d { private readonly AvgPool1d layer = new(3, stride: 2, padding: 1); public Tensor Forward([Shape("N", 3, 10)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureAvgPool1dCeilExcludePad { private readonly AvgPool1d layer = new(4, stride: 3, padding: 2, ceilMode: true, countIncludePad: false); public Tensor Forward([Shape("N", 2, 11)] Tensor x) => layer.Forward(x); }

/// <summary>Resampling and shape layers: ZeroPad2d, bilinear Upsample (align_corners), AdaptiveMaxPool2d, nearest Upsample, Flatten then Unflatten.</summary>
[Module]
public sealed partial class CompiledResampleNet
{
    private readonly Conv2d conv = new(2, 3, 3);
    private readonly ZeroPad2d pad = new((1, 2, 0, 1));
    private readonly Upsample bilinear = new(size: [7, 9], mode: "bilinear", alignCorners: true);
    private readonly AdaptiveMaxPool2d pool = new((3, 4));
    private readonly Upsample nearest = new(2.0);
    private readonly Flatten flatten = new();
    private readonly Unflatten unflatten = new(1, [3, 48]);
    private readonly Linear head = new(48, 5);

    public Tensor Forward([Shape("N", 2, 6, 6)] Tensor x)
        => head.Forward(unflatten.Forward(flatten.Forward(nearest.Forward(pool.Forward(bilinear.Forward(pad.Forward(conv.Forward(x))))))));
}

/// <summary>1-d resampling: linear Upsample to a size, then nearest by a fractional scale factor.</summary>
[Module]
public sealed partial class CompiledResample1dNet
{
    private readonly Conv1d conv = new(2, 3, 1);
    private readonly Upsample linear = new(size: [11], mode: "linear");
    private readonly Upsample nearest = new(1.7);

    public Tensor Forward([Shape("N", 2, 7)] Tensor x) => nearest.Forward(linear.Forward(conv.Forward(x)));
}

[Module] public sealed partial class FixtureUpsampleNearestX2 { private readonly Upsample layer = new(2.0); public Tensor Forward([Shape("N", 3, 5, 4)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureUpsampleNearestSize { private readonly Upsample layer = new(size: [7, 9]); public Tensor Forward([Shape("N", 3, 5, 4)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureUpsampleNearestScale17 { private readonly Upsample layer = new(1.7); public Tensor Forward([Shape("N", 2, 5, 6)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureUpsampleNearest1d { private readonly Upsample layer = new(2.5); public Tensor Forward([Shape("N", 3, 5)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureUpsampleBilinearX2 { private readonly Upsample layer = new(2.0, "bilinear"); public Tensor Forward([Shape("N", 3, 5, 4)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureUpsampleBilinearAlignSize { private readonly Upsample layer = new(size: [7, 6], mode: "bilinear", alignCorners: true); public Tensor Forward([Shape("N", 3, 5, 4)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureUpsampleBilinearRecompute { private readonly Upsample layer = new(1.7, "bilinear", recomputeScaleFactor: true); public Tensor Forward([Shape("N", 2, 5, 3)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureUpsampleLinearDown { private readonly Upsample layer = new(size: [4], mode: "linear"); public Tensor Forward([Shape("N", 3, 7)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureUpsampleLinearAlign { private readonly Upsample layer = new(size: [11], mode: "linear", alignCorners: true); public Tensor Forward([Shape("N", 3, 7)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureZeroPad2d { private readonly ZeroPad2d layer = new((1, 2, 0, 1)); public Tensor Forward([Shape("N", 3, 4, 5)] Tensor x) => layer.Forward(x); }
[Module] public sealed partial class FixtureAdaptiveMaxPool2d { private readonly AdaptiveMaxPool2d layer = new((3, 4)); public Tensor Forward([Shape("N", 3, 7, 9)] Tensor x) => layer.Forward(x); }

/// <summary>Dropout2d between two convolutions (3-d and 4-d inputs are its two shapes; this is the 4-d one).</summary>
[Module]
public sealed partial class CompiledChannelDropoutNet
{
    private readonly Conv2d conv1 = new(2, 6, 3, padding: 1);
    private readonly Dropout2d drop = new(0.4);
    private readonly Conv2d conv2 = new(6, 2, 1);

    public Tensor Forward([Shape("N", 2, 4, 5)] Tensor x) => conv2.Forward(drop.Forward(Functional.Relu(conv1.Forward(x))));
}
