using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// [Module] classes for a child that runs its own compiled program (CompiledComposedCallTests): a TransformerEncoder whose
// number of layers is a constructor argument, called as a statement of its own between compiled regions.

/// <summary>
/// A TransformerEncoder of <c>layers</c> layers (a count the build does not know) over a projection of float inputs: the
/// projection is the region before the call, the stack runs its own program, the head and the mean the region after.
/// </summary>
[Module]
public sealed partial class ComposedEncoderOverFloats
{
    private readonly Linear proj;
    private readonly TransformerEncoder encoder;
    private readonly Linear head;

    public ComposedEncoderOverFloats(int layers, int dModel = 16)
    {
        proj = new Linear(6, dModel);
        encoder = new TransformerEncoder(new TransformerEncoderLayer(dModel, 4, 24, dropout: 0.0, batchFirst: true), layers);
        head = new Linear(dModel, 3);
    }

    public Tensor Forward([Shape("N", "T", 6)] Tensor x)
    {
        var h = encoder.Forward(Functional.Gelu(proj.Forward(x)) * 2f);
        return head.Forward(h).Mean(1);
    }
}

/// <summary>The same stack called inside an expression that evaluates it first (<c>head.Forward(encoder.Forward(…))</c>): its own program into a local, the head a region (session 11).</summary>
[Module]
public sealed partial class NestedEncoderCall
{
    private readonly Linear proj;
    private readonly TransformerEncoder encoder;
    private readonly Linear head;

    public NestedEncoderCall(int layers)
    {
        proj = new Linear(6, 16);
        encoder = new TransformerEncoder(new TransformerEncoderLayer(16, 4, 24, dropout: 0.0, batchFirst: true), layers);
        head = new Linear(16, 3);
    }

    public Tensor Forward([Shape("N", "T", 6)] Tensor x) => head.Forward(encoder.Forward(proj.Forward(x))).Mean(1);
}

/// <summary>The stack called inside an expression after an operand that computes (<c>proj.Forward(x) * 0.5f + encoder.Forward(…)</c>): that operand first, then the stack (session 14).</summary>
[Module]
public sealed partial class EncoderCallAfterAnOperand
{
    private readonly Linear proj;
    private readonly TransformerEncoder encoder;
    private readonly Linear head;

    public EncoderCallAfterAnOperand(int layers)
    {
        proj = new Linear(6, 16);
        encoder = new TransformerEncoder(new TransformerEncoderLayer(16, 4, 24, dropout: 0.0, batchFirst: true), layers);
        head = new Linear(16, 3);
    }

    public Tensor Forward([Shape("N", "T", 6)] Tensor x) => head.Forward(proj.Forward(x) * 0.5f + encoder.Forward(proj.Forward(x)));
}
