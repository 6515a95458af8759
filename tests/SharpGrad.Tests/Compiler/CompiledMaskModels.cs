using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// [Module] classes for the mask builders of issue 12 (CompiledMaskTests): a causal or padding mask computed in Forward
// (Arange, Ones/Zeros/Full, Triu/Tril, comparisons, To) compiles with no graph break, feeding MaskedFill, Where and
// an Embedding's indices.

/// <summary>
/// Causal attention over learned positions whose masks are built in Forward, as a GPT block writes them: a causal
/// Ones(…).Triu(1), a lower triangle from two Aranges compared, a band from Full(…).Tril(-2), and segment ids from the
/// tokens compared with a field set in the constructor.
/// </summary>
[Module]
public sealed partial class CompiledMaskBuilderNet
{
    private const int T = 5, D = 6;
    private readonly long pad;
    private readonly Embedding pos = new(T, D);
    private readonly Embedding segment = new(2, D);
    private readonly Linear proj = new(D, D);

    public CompiledMaskBuilderNet(long pad = 3) => this.pad = pad;

    public Tensor Forward([Shape("N", T, D)] Tensor x, [Shape("N", T)] Tensor tokens)
    {
        var causal = Tensor.Ones([T, T], DType.Bool).Triu(1);
        var h = x + pos.Forward(Tensor.Arange(T).Unsqueeze(0)) + segment.Forward(tokens.Ge(pad).To(DType.Int64));
        var scores = proj.Forward(h).MatMul(h.Transpose(1, 2));
        var attention = Functional.Softmax(scores.MaskedFill(causal, double.NegativeInfinity), -1);
        var lower = Tensor.Arange(T).Unsqueeze(1).Ge(Tensor.Arange(T).Unsqueeze(0));
        var band = Tensor.Full([T, T], 2.0).Tril(-2).Gt(1.0);
        var mixed = Tensor.Where(lower, attention, attention * 0.5f).MaskedFill(band, 0.0);
        return mixed.MatMul(h);
    }
}

/// <summary>
/// The other mask builders, each feeding MaskedFill or Where: Zeros/ZerosLike/OnesLike/FullLike, Tril, the comparisons
/// with a scalar and with a tensor (Eq, Ne, Lt, Le, Gt), a float buffer compared, and a float argument of the method compared.
/// </summary>
[Module]
public sealed partial class CompiledMaskCatalogueNet
{
    private const int T = 4;
    private readonly Linear fc = new(T, T);
    [Buffer, Shape(1, T)] private readonly Tensor ramp = Tensor.Arange(0.0, 4.0).Unsqueeze(0).To(DType.Float32);

    public Tensor Forward([Shape("N", T, T)] Tensor x, [Shape(T, T)] Tensor keep)
    {
        var h = fc.Forward(x);
        var zeros = Tensor.Zeros([T, T]);
        var a = h.MaskedFill(Tensor.ZerosLike(zeros).Eq(Tensor.OnesLike(zeros).Tril()), -1.0);
        var b = a.MaskedFill(Tensor.FullLike(zeros, 3.0).Ne(3.0), 7.0);
        var c = Tensor.Where(ramp.Le(keep), b, h * 2f);
        var d = c.MaskedFill(ramp.Gt(1.5), 0.25).MaskedFill(ramp.Lt(0.5), 0.75);
        return d.MaskedFill(keep.Eq(0.0), -0.5);
    }
}

/// <summary>Where with a scalar branch, each way round (PyTorch's <c>torch.where(keep, h, 0.25)</c>), over a Bool mask argument.</summary>
[Module]
public sealed partial class CompiledWhereScalarNet
{
    private readonly Linear fc = new(6, 6);

    public Tensor Forward([Shape("N", 3, 6)] Tensor x, [Shape(3, 6)] Tensor keep)
    {
        var h = fc.Forward(x);
        return Tensor.Where(keep, h, 0.25) + Tensor.Where(keep, -1.5, h * h);
    }
}

/// <summary>
/// Mean pooling over the tokens that are not padding, as a Transformer classifier writes it: the padding mask made
/// numbers with To(Float32) and used in arithmetic (a data value of the program, no gradient).
/// </summary>
[Module]
public sealed partial class CompiledPaddingPoolNet
{
    private const int T = 5, D = 4;
    private readonly long pad;
    private readonly Embedding embed = new(8, D);
    private readonly Linear head = new(D, 3);

    public CompiledPaddingPoolNet(long pad = 0) => this.pad = pad;

    public Tensor Forward([Shape("N", T, D)] Tensor x, [Shape("N", T)] Tensor tokens)
    {
        var keep = tokens.Ne(pad).Unsqueeze(-1).To(DType.Float32);
        var h = embed.Forward(tokens) + x;
        return head.Forward((h * keep).Sum(1) / (keep.Sum(1) + 1f));
    }
}
