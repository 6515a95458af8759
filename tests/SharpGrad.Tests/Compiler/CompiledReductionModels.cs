using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Var and Std in Forward (CompiledReductionTests): a layer norm written by hand (biased variance over the last dim,
/// keepDim), an unbiased Std over the last dim, and a Var with correction 2 over two adjacent dims.
/// </summary>
[Module]
public sealed partial class CompiledVarianceNet
{
    private readonly Linear fc = new(6, 6);
    private readonly Parameter gamma = new(Tensor.Ones(6));

    public Tensor Forward([Shape("N", 4, 6)] Tensor x)
    {
        var h = fc.Forward(x);
        var normed = (h - h.Mean(-1, keepDim: true)) / (h.Var(-1, unbiased: false, keepDim: true) + 1e-5f).Sqrt() * gamma;
        var spread = h.Std(2, keepDim: true);
        var total = h.Var([1, 2], correction: 2, keepDim: true);
        return normed * spread + total;
    }
}

/// <summary>
/// Max() and Min() of all elements in Forward (CompiledReductionTests): ReLU's zeros tie for the minimum, and min(h, 0)'s
/// zeros for the maximum, so the backward's even split among ties is exercised; at batch 1 a single item.
/// </summary>
[Module]
public sealed partial class CompiledExtremeAllNet
{
    private readonly Linear fc = new(6, 6);

    public Tensor Forward([Shape("N", 4, 6)] Tensor x)
    {
        var h = fc.Forward(x);
        return h.Relu().Min() * 2f - h.Neg().Relu().Max() + (h * 3f).Max();
    }
}
