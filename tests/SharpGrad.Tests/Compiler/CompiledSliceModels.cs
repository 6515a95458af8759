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
