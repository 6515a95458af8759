using SharpGrad.Layers;
using Proto = global::Onnx;

namespace SharpGrad.Onnx.Tests;

/// <summary>The builder's checks and shape tracking.</summary>
public class BuilderTests
{
    [Fact]
    public void ShapesAreTrackedThroughConvPoolAndViewsWithTheSymbolicBatch()
    {
        var g = new OnnxGraphBuilder("g");
        var x = g.Input("x", "N", 3, 15, 15);
        var w = g.Parameter("conv.weight", Tensor.Zeros(8, 3, 3, 3));
        var c = g.Conv2d(x, w, null, (2, 2), (1, 1), (1, 1));
        Assert.Equal(["N", "8", "8", "8"], c.Shape!.Select(d => d.ToString()));
        var p = g.MaxPool2d(c, (3, 3), (2, 2), (0, 0), (1, 1), ceilMode: true);
        Assert.Equal(["N", "8", "4", "4"], p.Shape!.Select(d => d.ToString())); // PyTorch: floor would give 3, ceil 4
        var f = g.Flatten(p, 1);
        Assert.Equal(["N", "128"], f.Shape!.Select(d => d.ToString()));
        var v = g.View(p, -1, 128);
        Assert.Equal(["N", "128"], v.Shape!.Select(d => d.ToString()));
        var f2 = g.Flatten(p, 2);
        Assert.Equal(["N", "8", "16"], f2.Shape!.Select(d => d.ToString()));
        var s = g.Slice(f2, 2, 3, null, 2);
        Assert.Equal("7", s.Shape![2].ToString());
        var e = Assert.Throws<ArgumentException>(() => g.View(g.Input("y", 2, 3), 4, -1));
        Assert.Contains("invalid for an input of shape [2, 3]", e.Message);
    }

    [Fact]
    public void UnflattenKeepsTheSymbolicBatchAndRefusesWhatReshapeCannotSay()
    {
        var g = new OnnxGraphBuilder("g");
        var x = g.Input("x", 7, "N", 12);
        Assert.Equal(["7", "N", "3", "4"], g.Unflatten(x, 2, 3, -1).Shape!.Select(d => d.ToString()));
        var m = g.Input("m", 12, 5, 5);
        Assert.Equal(["4", "3", "5", "5"], g.Unflatten(m, 0, -1, 3).Shape!.Select(d => d.ToString()));
        Assert.Contains("at most one -1", Assert.Throws<ArgumentException>(() => g.Unflatten(x, 2, -1, -1)).Message);
        // A -1 and a symbolic dim after it would be two unknowns for ONNX Reshape.
        Assert.Contains("one unknown dim", Assert.Throws<NotSupportedException>(() => g.Unflatten(g.Input("y", 6, "N"), 0, 2, -1)).Message);
        Assert.Contains("needs a Bool mask", Assert.Throws<ArgumentException>(() => g.MaskedFill(x, x, 0f)).Message);
    }

    [Fact]
    public void NamesMustBeUniqueAndValuesBelongToTheirBuilder()
    {
        var g = new OnnxGraphBuilder("g");
        var x = g.Input("x", "N", 4);
        Assert.Contains("already used", Assert.Throws<ArgumentException>(() => g.Input("x", 1)).Message);
        var weight = Tensor.Zeros(2, 4);
        var w1 = g.Parameter("fc.weight", weight);
        Assert.Equal(w1.Name, g.Parameter("fc.weight", weight).Name); // a shared parameter: one initializer
        Assert.Contains("another tensor", Assert.Throws<ArgumentException>(() => g.Parameter("fc.weight", Tensor.Zeros(2, 4))).Message);
        var other = new OnnxGraphBuilder("h");
        Assert.Contains("another OnnxGraphBuilder", Assert.Throws<ArgumentException>(() => other.Relu(x)).Message);
        Assert.Contains("Float64", Assert.Throws<NotSupportedException>(() => g.Parameter("d", Tensor.Zeros([2], dtype: DType.Float64))).Message);
    }

    [Fact]
    public void AGraphWithoutInputsOrOutputsIsRefused()
    {
        var g = new OnnxGraphBuilder("g");
        Assert.Contains("has no input", Assert.Throws<InvalidOperationException>(() => g.ToBytes()).Message);
        var x = g.Input("x", 1);
        Assert.Contains("has no output", Assert.Throws<InvalidOperationException>(() => g.ToBytes()).Message);
        g.Output(g.Relu(x), "y");
        Assert.NotEmpty(g.ToBytes());
    }

    [Fact]
    public void AnOutputDeclaredWithAnotherShapeThanTheGraphComputesIsRefused()
    {
        var g = new OnnxGraphBuilder("g");
        var x = g.Input("x", "N", 4);
        var y = g.Layer("fc", new Linear(4, 2), x);
        var e = Assert.Throws<ArgumentException>(() => g.Output(y, "y", "N", 3));
        Assert.Contains("[N, 3]", e.Message);
        Assert.Contains("[N, 2]", e.Message);
    }

    [Fact]
    public void UnsupportedLayersSayWhyAndWhatToDo()
    {
        var g = new OnnxGraphBuilder("g");
        var x = g.Input("x", "N", 2, "H", "W");
        Assert.Contains("divisor_override", Assert.Throws<NotSupportedException>(() => g.Layer("p", new AvgPool2d(2, divisorOverride: 3), x)).Message);
        Assert.Contains("fixed input height and width", Assert.Throws<NotSupportedException>(() => g.Layer("a", new AdaptiveAvgPool2d(2), x)).Message);
        Assert.Contains("track_running_stats=False", Assert.Throws<NotSupportedException>(() => g.Layer("bn", new BatchNorm2d(2, trackRunningStats: false), x)).Message);
        Assert.Equal(["N", "2", "1", "1"], g.Layer("gap", new AdaptiveAvgPool2d(1), x).Shape!.Select(d => d.ToString()));
    }

    [Fact]
    public void ScopesNameNodesLikePyTorchsExporter()
    {
        var g = new OnnxGraphBuilder("g");
        var x = g.Input("x", "N", 4);
        var y = g.Relu(g.Layer("fc1", new Linear(4, 4), x));
        g.Output(y, "y");
        var graph = Proto.ModelProto.Parser.ParseFrom(g.ToBytes()).Graph;
        Assert.Equal(["/fc1/Gemm", "/Relu", "/Identity"], graph.Node.Select(n => n.Name));
        Assert.Equal("/fc1/Gemm_output", graph.Node[1].Input[0]);
    }
}
