using SharpGrad.Layers;
using SharpGrad.Serialization;
using SharpGrad.Tests.Support;

#pragma warning disable SG2008 // these tests check errors, masks, state dicts and printing: no backward is needed

namespace SharpGrad.Tests.Nn;

/// <summary>
/// Issue 13's primitive layers: bad arguments give exceptions that name the shapes and values, Dropout2d drops whole
/// channels, state dicts round-trip by PyTorch's names and a whole model saves and loads through the layer registry.
/// </summary>
public class PrimitiveLayerBehaviourTests
{
    private static Tensor R(params int[] shape) => Tensor.Randn(shape, DType.Float32, rng: new Rng(5));

    [Theory]
    [MemberData(nameof(BadCalls))]
    public void BadArgumentsNameWhatWasWrong(string what, Action call, string[] mentions)
    {
        var ex = Assert.ThrowsAny<Exception>(call);
        Assert.True(ex is ArgumentException or NotSupportedException, $"{what}: {ex.GetType().Name}: {ex.Message}");
        foreach (var m in mentions) Assert.True(ex.Message.Contains(m, StringComparison.Ordinal), $"{what}: '{m}' not in: {ex.Message}");
    }

    public static IEnumerable<object[]> BadCalls() =>
    [
        ["interpolate both", (Action)(() => Functional.Interpolate(R(1, 2, 3, 3), [4], [2.0])), new[] { "only one of size and scaleFactor", "[4]" }],
        ["interpolate neither", (Action)(() => Functional.Interpolate(R(1, 2, 3, 3))), new[] { "either size or scaleFactor" }],
        ["bilinear on 3-d", (Action)(() => Functional.Interpolate(R(1, 2, 3), 2.0, "bilinear")), new[] { "[1, 2, 3]", "'linear'" }],
        ["align_corners with nearest", (Action)(() => Functional.Interpolate(R(1, 2, 3, 3), 2.0, "nearest", alignCorners: true)), new[] { "alignCorners", "'nearest'" }],
        ["unknown mode", (Action)(() => Functional.Interpolate(R(1, 2, 3, 3), 2.0, "cubic")), new[] { "'cubic'" }],
        ["bicubic", (Action)(() => Functional.Interpolate(R(1, 2, 3, 3), 2.0, "bicubic")), new[] { "'bicubic'", "not implemented" }],
        ["scale to zero", (Action)(() => Functional.Interpolate(R(1, 2, 3, 3), 0.2)), new[] { "would be 0", "[1, 2, 3, 3]" }],
        ["size count", (Action)(() => Functional.Interpolate(R(1, 2, 3, 3), [4, 4, 4])), new[] { "[4, 4, 4]", "1 or 2 values" }],
        ["interpolate 5-d", (Action)(() => Functional.Interpolate(R(1, 1, 2, 3, 3), 2.0)), new[] { "[1, 1, 2, 3, 3]" }],
        ["pad odd length", (Action)(() => Functional.Pad(R(2, 3), [1, 2, 3])), new[] { "[1, 2, 3]", "even" }],
        ["reflect too wide", (Action)(() => Functional.Pad(R(1, 2, 3), [3, 0], "reflect")), new[] { "(3, 0)", "size 3", "[1, 2, 3]" }],
        ["reflect rank", (Action)(() => Functional.Pad(R(1, 1, 2, 3), [1, 1], "reflect")), new[] { "[1, 1, 2, 3]", "'reflect'" }],
        ["negative reflect", (Action)(() => Functional.Pad(R(1, 2, 5), [-1, 1], "replicate")), new[] { "non-negative", "[-1, 1]" }],
        ["crop below zero", (Action)(() => Functional.Pad(R(2, 3), [-2, -2])), new[] { "output size of -1" }],
        ["pad unknown mode", (Action)(() => Functional.Pad(R(2, 3), [1, 1], "mirror")), new[] { "'mirror'" }],
        ["groups", (Action)(() => Functional.GroupNorm(R(2, 6, 3), 4)), new[] { "6 channels", "num_groups (4)", "[2, 6, 3]" }],
        ["group norm layer channels", (Action)(() => new GroupNorm(2, 4).Forward(R(2, 6, 3))), new[] { "[N, 4, *]", "[2, 6, 3]" }],
        ["group norm ctor", (Action)(() => new GroupNorm(4, 6)), new[] { "num_channels (6)", "num_groups (4)" }],
        ["instance norm one element", (Action)(() => new InstanceNorm2d(2).Forward(R(3, 2, 1, 1))), new[] { "more than 1 spatial element", "[3, 2, 1, 1]" }],
        ["instance norm rank", (Action)(() => new InstanceNorm2d(2).Forward(R(3, 2))), new[] { "3D (unbatched) or 4D", "[3, 2]" }],
        ["instance norm channels", (Action)(() => new InstanceNorm1d(4, affine: true).Forward(R(2, 3, 5))), new[] { "num_features (4)", "got 3", "[2, 3, 5]" }],
        ["rms shape", (Action)(() => new RMSNorm(4).Forward(R(2, 5))), new[] { "[4]", "[2, 5]" }],
        ["rms eps", (Action)(() => new RMSNorm(4, eps: -1)), new[] { "eps", "-1" }],
        ["dropout2d rank", (Action)(() => Functional.Dropout2d(R(2, 3))), new[] { "[2, 3]" }],
        ["dropout2d p", (Action)(() => new Dropout2d(1.5)), new[] { "1.5" }],
        ["maxpool1d rank", (Action)(() => Functional.MaxPool1d(R(2, 3, 4, 5), 2)), new[] { "MaxPool1d", "[2, 3, 4, 5]" }],
        ["maxpool1d too small", (Action)(() => Functional.MaxPool1d(R(2, 3, 2), 3)), new[] { "MaxPool1d", "too small" }],
        ["avgpool1d padding", (Action)(() => Functional.AvgPool1d(R(2, 3, 9), 2, padding: 2)), new[] { "AvgPool1d", "padding" }],
        ["adaptive max size", (Action)(() => Functional.AdaptiveMaxPool2d(R(2, 3, 4, 4), (0, 2))), new[] { "(0, 2)" }],
        ["adaptive max rank", (Action)(() => new AdaptiveMaxPool2d(2).Forward(R(2, 3))), new[] { "AdaptiveMaxPool2d", "[2, 3]" }],
        ["conv transpose channels", (Action)(() => new ConvTranspose1d(4, 2, 3).Forward(R(2, 3, 5))), new[] { "4 channels", "[2, 3, 5]" }],
        ["conv transpose rank", (Action)(() => new ConvTranspose1d(4, 2, 3).Forward(R(2, 4, 5, 5))), new[] { "ConvTranspose1d", "[2, 4, 5, 5]" }],
        ["conv transpose groups", (Action)(() => new ConvTranspose1d(4, 3, 3, groups: 2)), new[] { "out_channels (3)", "groups (2)" }],
        ["upsample both", (Action)(() => new Upsample([4], [2.0])), new[] { "exactly one of size and scaleFactor" }],
    ];

    [Fact]
    public void Dropout2dZeroesWholeChannelsAndScalesTheRest()
    {
        var x = Tensor.Ones([8, 16, 3, 5]);
        var layer = new Dropout2d(0.25, rng: new Rng(9));
        var y = layer.Forward(x).ToArray();
        int dropped = 0;
        for (int plane = 0; plane < 8 * 16; plane++)
        {
            var values = y.AsSpan(plane * 15, 15).ToArray().Distinct().ToArray();
            Assert.Single(values);
            Assert.True(values[0] == 0f || Math.Abs(values[0] - 1 / 0.75f) < 1e-6, $"plane {plane}: {values[0]}");
            if (values[0] == 0f) dropped++;
        }
        Assert.InRange(dropped, 16, 48);   // 25 % of 128 channels is 32; 4.9 standard deviations either side
        layer.Eval();
        Assert.Same(x, layer.Forward(x));
        // 3-d input is [N, C, L]: channel-wise 1-d dropout, as PyTorch reads it
        var y3 = Functional.Dropout2d(Tensor.Ones([4, 6, 7]), 0.5, rng: new Rng(2)).ToArray();
        for (int plane = 0; plane < 24; plane++) Assert.Single(y3.AsSpan(plane * 7, 7).ToArray().Distinct());
    }

    [Fact]
    public void Dropout2dGradientIsTheMask()
    {
        var x = Tensor.Randn([2, 3, 4, 4], DType.Float64, rng: new Rng(3)).RequiresGrad_();
        var y = Functional.Dropout2d(x, 0.5, rng: new Rng(4));
        y.Sum().Backward();
        var ratio = (y / x).ToDoubleArray();
        TensorAssert.Close(ratio, x.Grad!.ToDoubleArray(), 1e-12, 1e-12, "gradient of Dropout2d");
    }

    [Fact]
    public void UpsampleAndPadLayersPrintLikePyTorch()
    {
        Assert.Equal("Upsample(scale_factor=2.0, mode='nearest')", new Upsample(2.0).ToString());
        Assert.Equal("Upsample(size=(7, 9), mode='bilinear')", new Upsample([7, 9], mode: "bilinear").ToString());
        Assert.Equal("ZeroPad2d((1, 2, 0, 1))", new ZeroPad2d((1, 2, 0, 1)).ToString());
        Assert.Equal("GroupNorm(3, 6, eps=1e-05, affine=True)", new GroupNorm(3, 6).ToString());
        Assert.Equal("InstanceNorm2d(4, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)", new InstanceNorm2d(4).ToString());
        Assert.Equal("RMSNorm((6,), eps=None, elementwise_affine=True)", new RMSNorm(6).ToString());
        Assert.Equal("MaxPool1d(kernel_size=3, stride=3, padding=0, dilation=1, ceil_mode=False)", new MaxPool1d(3).ToString());
        Assert.Equal("ConvTranspose1d(4, 6, kernel_size=(3,), stride=(2,), output_padding=(1,), groups=2)",
            new ConvTranspose1d(4, 6, 3, stride: 2, outputPadding: 1, groups: 2).ToString());
    }

    /// <summary>A model holding every primitive layer, saved whole and rebuilt by Sequential.Load from the registry.</summary>
    [Fact]
    public void WholeModelSavesAndLoads()
    {
        var model = new Sequential(
            ("pad", new ZeroPad2d((1, 0, 2, 1))),
            ("gn", new GroupNorm(2, 4, eps: 1e-4)),
            ("inorm", new InstanceNorm2d(4, momentum: 0.3, affine: true, trackRunningStats: true)),
            ("up", new Upsample(null, [2.0, 1.5], "bilinear", alignCorners: true)),
            ("drop", new Dropout2d(0.2)),
            ("pool", new AdaptiveMaxPool2d((5, 3))),
            ("rms", new RMSNorm([3], eps: 1e-6)),
            ("flat", new Flatten(2)),
            ("tconv", new ConvTranspose1d(4, 2, 3, stride: 2, outputPadding: 1, dilation: 1)),
            ("mp", new MaxPool1d(2, stride: 1, padding: 1)),
            ("ap", new AvgPool1d(3, countIncludePad: false, ceilMode: true)));
        var rng = new Rng(17);
        using (Autograd.NoGrad())
        {
            foreach (var p in model.Parameters()) p.Add_(Tensor.Randn(p.Shape, rng: rng));
        }
        var x = Tensor.Randn([2, 4, 5, 6], rng: new Rng(8));
        model.Call(x);   // one training step moves the running statistics away from their initial values
        model.Eval();
        var path = Path.Combine(Path.GetTempPath(), $"sharpgrad-primitives-{Guid.NewGuid():N}.safetensors");
        try
        {
            model.Save(path);
            var loaded = Sequential.Load(path);
            loaded.Eval();
            Assert.Equal(model.ToString(), loaded.ToString());
            Assert.Equal(model.StateDict().Keys, loaded.StateDict().Keys);
            foreach (var (k, v) in model.StateDict()) Assert.Equal(v.ToDoubleArray(), loaded.StateDict()[k].ToDoubleArray());
            using (Autograd.NoGrad()) Assert.Equal(model.Call(x).ToArray(), loaded.Call(x).ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void StateDictNamesAreTorchs()
    {
        Assert.Equal(new[] { "weight", "bias" }, new GroupNorm(2, 4).StateDict().Keys);
        Assert.Empty(new InstanceNorm1d(3).StateDict().Keys);
        Assert.Equal(new[] { "weight", "bias", "running_mean", "running_var", "num_batches_tracked" },
            new InstanceNorm2d(3, affine: true, trackRunningStats: true).StateDict().Keys);
        Assert.Equal(new[] { "weight" }, new RMSNorm(3).StateDict().Keys);
        Assert.Empty(new RMSNorm(3, elementwiseAffine: false).StateDict().Keys);
        Assert.Equal(new[] { "weight", "bias" }, new ConvTranspose1d(2, 4, 3).StateDict().Keys);
        Assert.Equal(new[] { 2, 4, 3 }, new ConvTranspose1d(2, 4, 3).Weight.Shape);

        // round trip into a fresh layer
        var a = new InstanceNorm2d(3, affine: true, trackRunningStats: true);
        a.Forward(Tensor.Randn([2, 3, 4, 4], rng: new Rng(1)));
        var b = new InstanceNorm2d(3, affine: true, trackRunningStats: true);
        b.LoadStateDict(a.StateDict());
        foreach (var (k, v) in a.StateDict()) Assert.Equal(v.ToDoubleArray(), b.StateDict()[k].ToDoubleArray());
        Assert.Equal(0L, b.NumBatchesTracked!.ToLongArray()[0]);   // instance norm does not count batches, as PyTorch
    }
}
