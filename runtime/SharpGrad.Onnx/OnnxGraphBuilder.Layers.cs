using SharpGrad.Layers;

namespace SharpGrad.Onnx;

// SharpGrad's layers (SharpGrad.Layers), one call each: `h = graph.Layer("fc1", fc1, h)` adds the layer's parameters
// as initializers named "<name>.weight", "<name>.bias", … (PyTorch's state-dict names when name is the child's path) and
// its op in evaluation mode, under the naming scope "/<name>/". This is the form generated export code takes per child.
public sealed partial class OnnxGraphBuilder
{
    /// <summary><c>nn.Linear</c>: <see cref="Linear(OnnxValue, OnnxValue, OnnxValue?)"/> with <c>name.weight</c>, <c>name.bias</c>.</summary>
    public OnnxValue Layer(string name, Linear layer, OnnxValue input)
    {
        using var _ = LayerScope(name);
        return Linear(input, Parameter(name + ".weight", layer.Weight), OptionalParameter(name + ".bias", layer.Bias));
    }

    /// <summary><c>nn.Conv1d</c>: <c>Conv</c>.</summary>
    public OnnxValue Layer(string name, Conv1d layer, OnnxValue input)
    {
        using var _ = LayerScope(name);
        return Conv(input, Parameter(name + ".weight", layer.Weight), OptionalParameter(name + ".bias", layer.Bias),
            [layer.Stride], [layer.Padding], [layer.Dilation], layer.Groups);
    }

    /// <summary><c>nn.Conv2d</c>: <c>Conv</c>.</summary>
    public OnnxValue Layer(string name, Conv2d layer, OnnxValue input)
    {
        using var _ = LayerScope(name);
        return Conv2d(input, Parameter(name + ".weight", layer.Weight), OptionalParameter(name + ".bias", layer.Bias),
            layer.Stride, layer.Padding, layer.Dilation, layer.Groups);
    }

    /// <summary><c>nn.ConvTranspose2d</c>: <c>ConvTranspose</c>.</summary>
    public OnnxValue Layer(string name, ConvTranspose2d layer, OnnxValue input)
    {
        using var _ = LayerScope(name);
        return ConvTranspose2d(input, Parameter(name + ".weight", layer.Weight), OptionalParameter(name + ".bias", layer.Bias),
            layer.Stride, layer.Padding, layer.OutputPadding, layer.Groups, layer.Dilation);
    }

    /// <summary><c>nn.BatchNorm1d</c>/<c>nn.BatchNorm2d</c> in evaluation mode: <c>BatchNormalization</c> with
    /// <c>name.weight</c>, <c>name.bias</c>, <c>name.running_mean</c>, <c>name.running_var</c>.</summary>
    public OnnxValue Layer(string name, BatchNormBase layer, OnnxValue input)
    {
        using var _ = LayerScope(name);
        return BatchNorm(input, OptionalParameter(name + ".weight", layer.Weight), OptionalParameter(name + ".bias", layer.Bias),
            OptionalParameter(name + ".running_mean", layer.RunningMean), OptionalParameter(name + ".running_var", layer.RunningVar), layer.Eps);
    }

    /// <summary><c>nn.LayerNorm</c>: <c>LayerNormalization</c>.</summary>
    public OnnxValue Layer(string name, LayerNorm layer, OnnxValue input)
    {
        using var _ = LayerScope(name);
        return LayerNorm(input, layer.NormalizedShape, OptionalParameter(name + ".weight", layer.Weight), OptionalParameter(name + ".bias", layer.Bias), layer.Eps);
    }

    /// <summary><c>nn.Embedding</c>: <c>Gather</c> on <c>name.weight</c>.</summary>
    public OnnxValue Layer(string name, Embedding layer, OnnxValue indices)
    {
        using var _ = LayerScope(name);
        return Embedding(indices, Parameter(name + ".weight", layer.Weight));
    }

    /// <summary><c>nn.MaxPool2d</c>: <c>MaxPool</c>.</summary>
    public OnnxValue Layer(string name, MaxPool2d layer, OnnxValue input)
    {
        using var _ = LayerScope(name);
        return MaxPool2d(input, layer.KernelSize, layer.Stride, layer.Padding, layer.Dilation, layer.CeilMode);
    }

    /// <summary><c>nn.AvgPool2d</c>: <c>AveragePool</c>.</summary>
    public OnnxValue Layer(string name, AvgPool2d layer, OnnxValue input)
    {
        using var _ = LayerScope(name);
        return AvgPool2d(input, layer.KernelSize, layer.Stride, layer.Padding, layer.CeilMode, layer.CountIncludePad, layer.DivisorOverride);
    }

    /// <summary><c>nn.AdaptiveAvgPool2d</c>: <c>GlobalAveragePool</c> or <c>AveragePool</c>.</summary>
    public OnnxValue Layer(string name, AdaptiveAvgPool2d layer, OnnxValue input)
    {
        using var _ = LayerScope(name);
        return AdaptiveAvgPool2d(input, layer.OutputSize);
    }

    /// <summary><c>nn.Flatten</c>: <c>Flatten</c> or <c>Reshape</c>.</summary>
    public OnnxValue Layer(string name, Flatten layer, OnnxValue input)
    {
        using var _ = LayerScope(name);
        return Flatten(input, layer.StartDim, layer.EndDim);
    }

    /// <summary><c>nn.Unflatten</c>: <c>Reshape</c>.</summary>
    public OnnxValue Layer(string name, Unflatten layer, OnnxValue input)
    {
        using var _ = LayerScope(name);
        return Unflatten(input, layer.Dim, layer.UnflattenedSize.Select(v => (long)v).ToArray());
    }

    /// <summary><c>nn.Dropout</c> in evaluation mode: the identity (no node).</summary>
    public OnnxValue Layer(string name, Dropout layer, OnnxValue input) => Dropout(input);

    /// <summary><c>nn.Identity</c>: no node.</summary>
    public OnnxValue Layer(string name, Identity layer, OnnxValue input) => Dropout(input);

    /// <summary><c>nn.ReLU</c>: <c>Relu</c>.</summary>
    public OnnxValue Layer(string name, ReLU layer, OnnxValue input) { using var _ = LayerScope(name); return Relu(input); }

    /// <summary><c>nn.LeakyReLU</c>: <c>LeakyRelu</c>.</summary>
    public OnnxValue Layer(string name, LeakyReLU layer, OnnxValue input) { using var _ = LayerScope(name); return LeakyRelu(input, layer.NegativeSlope); }

    /// <summary><c>nn.ELU</c>: <c>Elu</c>.</summary>
    public OnnxValue Layer(string name, ELU layer, OnnxValue input) { using var _ = LayerScope(name); return Elu(input, layer.Alpha); }

    /// <summary><c>nn.GELU</c>: see <see cref="Gelu"/>.</summary>
    public OnnxValue Layer(string name, GELU layer, OnnxValue input) { using var _ = LayerScope(name); return Gelu(input, layer.Approximate); }

    /// <summary><c>nn.SiLU</c>: <c>x · Sigmoid(x)</c>.</summary>
    public OnnxValue Layer(string name, SiLU layer, OnnxValue input) { using var _ = LayerScope(name); return Silu(input); }

    /// <summary><c>nn.Sigmoid</c>: <c>Sigmoid</c>.</summary>
    public OnnxValue Layer(string name, Sigmoid layer, OnnxValue input) { using var _ = LayerScope(name); return Sigmoid(input); }

    /// <summary><c>nn.Tanh</c>: <c>Tanh</c>.</summary>
    public OnnxValue Layer(string name, Tanh layer, OnnxValue input) { using var _ = LayerScope(name); return Tanh(input); }

    /// <summary><c>nn.Softplus</c>: see <see cref="Softplus"/>.</summary>
    public OnnxValue Layer(string name, Softplus layer, OnnxValue input) { using var _ = LayerScope(name); return Softplus(input, layer.Beta, layer.Threshold); }

    /// <summary><c>nn.Hardtanh</c>: <c>Clip</c>.</summary>
    public OnnxValue Layer(string name, Hardtanh layer, OnnxValue input) { using var _ = LayerScope(name); return Hardtanh(input, layer.MinVal, layer.MaxVal); }

    /// <summary><c>nn.ReLU6</c>: <c>Clip(0, 6)</c>.</summary>
    public OnnxValue Layer(string name, ReLU6 layer, OnnxValue input) { using var _ = LayerScope(name); return Relu6(input); }

    /// <summary><c>nn.Softmax</c>: <c>Softmax</c>.</summary>
    public OnnxValue Layer(string name, Softmax layer, OnnxValue input) { using var _ = LayerScope(name); return Softmax(input, layer.Dim); }

    /// <summary><c>nn.LogSoftmax</c>: <c>LogSoftmax</c>.</summary>
    public OnnxValue Layer(string name, LogSoftmax layer, OnnxValue input) { using var _ = LayerScope(name); return LogSoftmax(input, layer.Dim); }

    private OnnxValue? OptionalParameter(string name, Tensor? value) => value is null ? null : Parameter(name, value);
}
