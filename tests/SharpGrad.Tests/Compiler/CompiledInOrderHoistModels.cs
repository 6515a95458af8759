using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// [Module] classes whose statements the generator linearizes in evaluation order (CompiledInOrderHoistTests; session 14): a
// composed call after an operand that computes, and operands after a graph break inside one expression.

/// <summary>
/// A TransformerDecoder called after an operand that draws random numbers (<c>drop.Forward(fc.Forward(tgt))</c>): the operand is a
/// region computed first, then the decoder's own program (whose dropout draws next), then the sum — PyTorch's order of draws.
/// </summary>
[Module]
public sealed partial class DecoderAfterADroppedOperand
{
    private readonly Linear fc = new(8, 8);
    private readonly Dropout drop = new(0.3);
    private readonly TransformerDecoder decoder = new(new TransformerDecoderLayer(8, 2, 16, dropout: 0.2, batchFirst: true), 2);

    public Tensor Forward([Shape("N", "T", 8)] Tensor tgt, [Shape("N", "S", 8)] Tensor memory)
    {
        return drop.Forward(fc.Forward(tgt)) + decoder.Forward(tgt, memory);
    }
}

/// <summary>
/// A graph break (<c>Noisy</c>, a helper the generator does not read, which draws random numbers) between two operands that draw
/// too: the first a region, the helper eager, the second a region of its own after it (it used to run eagerly with the break).
/// </summary>
[Module]
public sealed partial class OperandsAroundABreak
{
    private readonly Linear fc1 = new(6, 6);
    private readonly Linear fc2 = new(6, 6);
    private readonly Dropout drop = new(0.4);

    public Tensor Forward([Shape("N", 6)] Tensor x)
    {
        return drop.Forward(fc1.Forward(x)) + Noisy(x) * drop.Forward(fc2.Forward(x));
    }

    private Tensor Noisy(Tensor t) => Functional.Dropout(t.Tanh(), 0.5, Training);
}
