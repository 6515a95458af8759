using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// [Module] classes for the common ops of issue 12 (CompiledOpTests): each written as a PyTorch user writes it, each
// compiled with no graph break and compared with its eager Forward.

/// <summary>
/// Multi-head causal self-attention written from Linear, View, Transpose, MatMul, MaskedFill and Softmax (the causal mask
/// an argument, as <c>nn.MultiheadAttention</c>'s <c>attn_mask</c>): rank-4 [N, H, T, d] · [N, H, d, T] products.
/// </summary>
[Module]
public sealed partial class CompiledCausalSelfAttention
{
    private const int T = 6, Heads = 4, HeadDim = 4, Embed = Heads * HeadDim;
    private readonly Linear q = new(Embed, Embed);
    private readonly Linear k = new(Embed, Embed);
    private readonly Linear v = new(Embed, Embed);
    private readonly Linear proj = new(Embed, Embed);

    public Tensor Forward([Shape("N", T, Embed)] Tensor x, [Shape(T, T)] Tensor mask)
    {
        var qh = q.Forward(x).View(-1, T, Heads, HeadDim).Transpose(1, 2);
        var kh = k.Forward(x).View(-1, T, Heads, HeadDim).Transpose(1, 2);
        var vh = v.Forward(x).View(-1, T, Heads, HeadDim).Transpose(1, 2);
        var scores = qh.MatMul(kh.Transpose(2, 3)) * 0.5f;
        var attention = Functional.Softmax(scores.MaskedFill(mask, double.NegativeInfinity), -1);
        var heads = attention.MatMul(vh).Transpose(1, 2).Contiguous().View(-1, T, Embed);
        return proj.Forward(heads);
    }
}
