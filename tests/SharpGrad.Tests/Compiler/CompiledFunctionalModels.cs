using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// Models for CompiledFunctionalTests: Functional forms called in Forward, as PyTorch users write F.max_pool2d(F.relu(self.conv1(x)), 2).

/// <summary>PyTorch's MNIST example shape: Functional max, average and adaptive (average and max) pooling between convolutions, then a Linear.</summary>
[Module]
public sealed partial class FunctionalPoolNet
{
    private readonly Conv2d conv1 = new(1, 4, 3, padding: 1);
    private readonly Conv2d conv2 = new(4, 6, 3);
    private readonly Linear fc = new(24, 5);

    public Tensor Forward([Shape("N", 1, 10, 10)] Tensor x)
    {
        var h = Functional.MaxPool2d(Functional.Relu(conv1.Forward(x)), 2);
        var c = Functional.Relu(conv2.Forward(h));
        var pooled = Functional.AvgPool2d(c, 2, stride: 1) + Functional.AdaptiveAvgPool2d(c, (2, 2)) + Functional.AdaptiveMaxPool2d(c, 2);
        return fc.Forward(pooled.Flatten(1));
    }
}

/// <summary>Functional 1-d pools with a stride, padding and ceil mode, then a Linear.</summary>
[Module]
public sealed partial class FunctionalPool1dNet
{
    private readonly Conv1d conv = new(2, 3, 3, padding: 1);
    private readonly Linear fc = new(9, 2);

    public Tensor Forward([Shape("N", 2, 11)] Tensor x)
    {
        var h = Functional.MaxPool1d(conv.Forward(x), 3, stride: 2, padding: 1);
        return fc.Forward(Functional.AvgPool1d(h, 2, ceilMode: true, countIncludePad: false).Flatten(1));
    }
}

/// <summary>Pow of two tensors: a positive base from one Linear, exponents from another, same-shape and broadcast.</summary>
[Module]
public sealed partial class PowTensorNet
{
    private readonly Linear a = new(5, 4);
    private readonly Linear b = new(5, 4);

    public Tensor Forward([Shape("N", 5)] Tensor x)
    {
        var basis = Functional.Softplus(a.Forward(x)) + 0.25f;
        var exponent = Functional.Tanh(b.Forward(x));
        return basis.Pow(exponent) + basis.Pow(exponent.Mean(1, keepDim: true));
    }
}

/// <summary>
/// Attention scores with a batched key-padding mask (<c>[N, T]</c>, unsqueezed to <c>[N, 1, T]</c>) into MaskedFill and a
/// batched row mask (<c>[N, T, 1]</c>) into Where, as a PyTorch user writes <c>scores.masked_fill(pad[:, None, :], -1e9)</c>.
/// </summary>
[Module]
public sealed partial class PaddingMaskNet
{
    private readonly Linear q = new(6, 6);
    private readonly Linear k = new(6, 6);

    public Tensor Forward([Shape("N", 4, 6)] Tensor x, [Shape("N", 4)] Tensor padding, [Shape("N", 4, 1)] Tensor rows)
    {
        var scores = q.Forward(x).MatMul(k.Forward(x).Transpose(1, 2));
        var weights = Functional.Softmax(scores.MaskedFill(padding.Unsqueeze(1), -1e9), -1);
        return Tensor.Where(rows, weights, 0.0) + Tensor.Where(padding.Unsqueeze(2), scores, weights);
    }
}
