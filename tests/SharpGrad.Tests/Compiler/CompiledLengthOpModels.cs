using SharpGrad.Data;
using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// [Module] classes for the ops along and beside a sequence length T read at each call (issue 12 item 3,
// CompiledLengthOpTests): Max(dim)/Min(dim) values, Var/Std, Glu, windows and Cat/Stack over values of shape [N, T, …],
// each compiled with no graph break.

/// <summary>
/// Max over the length (PyTorch's max pooling over time, <c>h.max(1).values</c>), Min over the features, Var/Std over the
/// length and over the features: the kernels' [outer, size, inner] with T in them.
/// </summary>
[Module]
public sealed partial class LengthExtremeVariance
{
    private readonly Linear up = new(6, 8);
    private readonly Linear head = new(8, 3);

    public Tensor Forward([Shape("N", "T", 6)] Tensor x)
    {
        var h = Functional.Tanh(up.Forward(x));                 // [N, T, 8]
        var pooled = h.Max(1).Values + h.Var(1) * 0.5f;         // over T: [N, 8]
        var low = h.Min(2, keepDim: true).Values;               // over the features: [N, T, 1]
        var spread = h.Std(2, keepDim: true);                   // [N, T, 1]
        var z = (h - low) * spread;                             // [N, T, 8]
        return head.Forward(pooled) + head.Forward(z.Mean(1)) + z.Var([1, 2], correction: 2).Unsqueeze(1);
    }
}

/// <summary>Glu over the features, windows of the features (Narrow, Select, Chunk) and Cat/Stack beside T.</summary>
[Module]
public sealed partial class LengthGluWindows
{
    private readonly Linear up = new(4, 12);
    private readonly Linear head = new(10, 2);

    public Tensor Forward([Shape("N", "T", 4)] Tensor x)
    {
        var h = Functional.Glu(up.Forward(x), -1);                    // [N, T, 6]
        var (a, b) = h.Chunk(2, 2);                                    // [N, T, 3] each
        var joined = Tensor.Cat([a * b, h.Narrow(2, 1, 4), b], 2);    // [N, T, 10]
        var first = h.Select(2, 0).Unsqueeze(-1);                      // [N, T, 1]
        var stacked = Tensor.Stack([a, b * first], 2);                 // [N, T, 2, 3]
        return head.Forward(joined).Sum(1) + stacked.Sum(1).Sum(1).Narrow(1, 0, 2);
    }
}
