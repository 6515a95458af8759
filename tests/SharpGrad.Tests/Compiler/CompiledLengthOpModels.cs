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

/// <summary>
/// Multi-query attention (one key/value head shared by every query head, as PyTorch users write it with
/// <c>k.unsqueeze(1)</c>): <c>[N, H, T, d] · [N, 1, d, T]</c> and <c>[N, H, T, T] · [N, 1, T, d]</c> broadcast the key's and
/// value's head dim; a per-head projection, a parameter <c>[H, d, 3]</c>, broadcasts the batch: MatMul broadcasting both
/// operands.
/// </summary>
[Module]
public sealed partial class LengthMultiQueryAttention
{
    private const int D = 8;
    private const int H = 4;
    private const int Dh = 2;
    private readonly Linear q = new(D, H * Dh);
    private readonly Linear kv = new(D, 2 * Dh);
    private readonly Parameter perHead = new(Tensor.Randn([H, Dh, 3]));
    private readonly Linear head = new(H * 3, 3);

    public Tensor Forward([Shape("N", "T", D)] Tensor x)
    {
        int n = x.Size(0);
        int t = x.Size(1);
        var qh = q.Forward(x).View(n, t, H, Dh).Transpose(1, 2);            // [N, H, T, Dh]
        var (k, v) = kv.Forward(x).Chunk(2, -1);                            // [N, T, Dh] each
        var scores = qh.MatMul(k.Unsqueeze(1).Transpose(-2, -1)) * 0.7f;    // [N, H, T, T]
        var y = Functional.Softmax(scores, -1).MatMul(v.Unsqueeze(1));      // [N, H, T, Dh]
        var z = y.MatMul(perHead);                                          // [N, H, T, 3]
        return head.Forward(z.Transpose(1, 2).Reshape(n, t, H * 3)).Mean(1);
    }
}

/// <summary>
/// An LSTM classifier over a length read at each call, as PyTorch users write it: the last step's output
/// (<c>out[:, -1]</c>, <c>Select(1, -1)</c>), the first, and a window of the steps (<c>Narrow(1, 1, 2)</c>, so T ≥ 3).
/// </summary>
[Module]
public sealed partial class LengthLastStepClassifier
{
    private readonly LSTM lstm = new(5, 6, batchFirst: true);
    private readonly Linear head = new(6, 3);

    public Tensor Forward([Shape("N", "T", 5)] Tensor x)
    {
        var (y, _) = lstm.Forward(x);                                        // [N, T, 6]
        var last = y.Select(1, -1);                                          // [N, 6]
        var window = y.Narrow(1, 1, 2).Sum(1);                               // [N, 6]
        return head.Forward(last + y.Select(1, 0) * 0.5f) + head.Forward(window);
    }
}
