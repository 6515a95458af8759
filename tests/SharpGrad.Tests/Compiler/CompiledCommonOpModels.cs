using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// Ops that were eager composites (catalogue family Composite) and compile now (issue 12 item 3, session 9);
// CompiledCommonOpTests compares them with their eager runs.

/// <summary><c>Mm</c> with the module's own weight and <c>Tensor.Bmm</c> of two views of a batched value (MatMul's rule), Softmin over the product.</summary>
[Module]
public sealed partial class CompiledCommonOpsNet
{
    /// <summary>The catalogue rows this model's Forward calls (by <c>OpRow.Name</c>).</summary>
    public static readonly string[] Ops = ["Mm", "Bmm", "Softmin"];

    private readonly Linear fc = new(6, 12);
    private readonly Parameter w = new(Tensor.Randn([12, 9]));

    public Tensor Forward([Shape("N", 6)] Tensor x)
    {
        var h = fc.Forward(x);
        var product = Tensor.Bmm(h.View(-1, 3, 4), h.View(-1, 4, 3));
        return h.Mm(w) + Functional.Softmin(product, 2).Flatten(1) + product.Flatten(1);
    }
}
