using SharpGrad.Data;
using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// [Module] classes for the slicing and joining ops of issue 12 (CompiledSliceTests): Narrow, Slice, Select, the parts of
// Chunk/Split/Unbind (indexed and deconstructed), Cat and Stack, each compiled with no graph break.

/// <summary>Windows of a hidden layer along its features, joined again: every slicing op and Cat, odd sizes.</summary>
[Module]
public sealed partial class CompiledSliceNet
{
    private readonly Linear fc = new(7, 12);
    private readonly Linear head = new(13, 3);

    public Tensor Forward([Shape("N", 7)] Tensor x)
    {
        var h = fc.Forward(x);
        var a = h.Narrow(1, 1, 5);
        var b = h.Slice(1, 2, 11, 3);
        var (c, d) = h.Chunk(2, 1);
        var e = h.Split(5, 1)[2];
        var parts = h.Split([4, 8], -1);
        var f = parts[0];
        var g = h.Select(1, -1).Unsqueeze(1);
        var joined = Tensor.Cat([a, b, g, f], 1);
        var side = Tensor.Cat([c.Narrow(1, 0, 1), d.Narrow(1, 5, 1), e], 1).Narrow(1, 0, 3);
        return head.Forward(joined) + side * parts[1].Narrow(1, 7, 1);
    }
}

/// <summary>Time steps of a sequence taken apart (Unbind) and stacked again in another order, plus Select of an input.</summary>
[Module]
public sealed partial class CompiledStackNet
{
    private readonly Linear fc = new(5, 6);

    public Tensor Forward([Shape("N", 4, 5)] Tensor x)
    {
        var h = fc.Forward(x);
        var steps = h.Unbind(1);
        var s = Tensor.Stack([steps[3], steps[0], steps[2]], 1);
        var t = Tensor.Stack([steps[1], steps[1]], -1);
        return Tensor.Cat([s.View(-1, 18), t.View(-1, 12), x.Select(2, 0)], 1);
    }
}

/// <summary>
/// The module's own parameters and buffers read in Forward: a learned position embedding and scale, a float buffer, and a
/// registered causal mask buffer in MaskedFill (their shapes from their initialisers).
/// </summary>
[Module]
public sealed partial class CompiledMemberNet
{
    private const int T = 5, D = 6;
    private readonly Linear fc = new(D, D);
    private readonly Parameter scale = new(Tensor.Randn(D));
    private readonly Parameter posEmbedding = new(Tensor.Randn([T, D]));
    [Buffer] private readonly Tensor shift = Tensor.Full([D], 0.25);
    [Buffer] private readonly Tensor causal = Tensor.Ones([T, T]).Triu(1).Gt(0);

    public Tensor Forward([Shape("N", T, D)] Tensor x)
    {
        var h = fc.Forward(x + posEmbedding) * scale + shift;
        var scores = h.MatMul(h.Transpose(1, 2));
        var attention = Functional.Softmax(scores.MaskedFill(causal, double.NegativeInfinity), -1);
        return attention.MatMul(h);
    }
}

/// <summary>Where with a Bool condition argument over the trailing dims, then Clamp (both bounds, one bound) and Pow.</summary>
[Module]
public sealed partial class CompiledWhereNet
{
    private readonly Linear fc1 = new(6, 6);
    private readonly Linear fc2 = new(6, 6);

    public Tensor Forward([Shape("N", 3, 6)] Tensor x, [Shape(3, 6)] Tensor keep)
        => Tensor.Where(keep, fc1.Forward(x), fc2.Forward(x)).Clamp(-0.5, 0.8).Pow(2.0) + fc2.Forward(x).Clamp(min: 0.1).Pow(1.5);
}

/// <summary>MatMul with broadcast batch dims: [N, 2, 5, 4] · a [4, 3] parameter, and a [1, 5, 5] buffer · [N, 5, 6].</summary>
[Module]
public sealed partial class CompiledBroadcastMatMulNet
{
    private readonly Linear fc = new(4, 4);
    private readonly Parameter proj = new(Tensor.Randn([4, 3]));
    [Buffer] private readonly Tensor mix = Tensor.Rand([1, 5, 5]);

    public Tensor Forward([Shape("N", 2, 5, 4)] Tensor x)
    {
        var h = fc.Forward(x).MatMul(proj);
        var flat = h.Transpose(1, 2).Contiguous().View(-1, 5, 6);
        return mix.MatMul(flat);
    }
}
