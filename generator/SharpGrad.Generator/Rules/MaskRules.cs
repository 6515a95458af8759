using System.Collections.Generic;
using System.Linq;

namespace SharpGrad.Generator.Rules;

/// <summary>
/// <c>x.MaskedFill(mask, value)</c> with the mask a Bool tensor argument of the method or a Bool <c>[Buffer]</c> of the module (read as data, not differentiated)
/// whose shape is x's trailing dims (a causal mask [T, T] over attention scores [N, H, T, T]): the kernel repeats it over
/// the leading dims; the gradient passes where the mask is false.
/// </summary>
internal sealed class MaskedFillRule : Rule
{
    public override RuleKind Kind => RuleKind.MaskedFill;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        int a = m.In(i, 0), mask = m.In(i, 1);
        if (!m.BatchedLike(i, 0) || !m.IsRaw(mask) || m.Arguments(i).Number("value") is not { } value) return null;
        if (m.InferredShapes[mask] is not { } maskShape) return null;
        var shape = m.Shapes[a];
        // The mask's leading 1s broadcast; the rest must be x's trailing dims, none of them the batch's.
        int first = 0;
        while (first < maskShape.Rank - 1 && maskShape[first].IsFixed && maskShape[first].Size == 1) first++;
        var dims = new List<int>();
        for (int d = first; d < maskShape.Rank; d++)
        {
            if (!maskShape[d].IsFixed) return null;
            dims.Add(maskShape[d].Size);
        }
        int offset = shape.Rank - dims.Count;
        if (offset < (m.Batched[a] ? 1 : 0)) return null;
        for (int d = 0; d < dims.Count; d++) if (shape[offset + d].Size != dims[d]) return null;
        var declared = Enumerable.Range(0, maskShape.Rank).Select(d => maskShape[d].Size);
        return plan with { Rule = Kind, Geometry = new MaskGeometry(declared.ToEquatableArray(), value) };
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override (string Type, string[] Arguments)? Constant(NodePlan n) => ("int[]", ((MaskGeometry)n.Geometry!).MaskShape.Select(MethodDraft.I).ToArray());

    /// <summary>The mask's elements (a method argument, or the module's own mask buffer), checked against the shape the program was built for.</summary>
    private static string Mask(EmitContext e, NodePlan n)
    {
        var mask = e.Nodes[n.Inputs[1]];
        string tensor = mask.Args.Count > 0 ? mask.Args[0] : MethodEmitter.RawField(e, n.Inputs[1]);
        return $"{EmitContext.Support}.Mask({tensor}, {e.Geometry(n)}, \"{n.Text.Replace("\\", "\\\\").Replace("\"", "\\\"")}\")";
    }

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: the value where the mask is true, the mask repeated over the leading dims");
        e.W.Call($"{EmitContext.Kernels}.MaskedFillKernel.Forward",
            [e.Value(n.Inputs[0]), Mask(e, n), MethodDraft.F64(((MaskGeometry)n.Geometry!).Value), e.Value(n.Index), e.Size(n.Index)]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"d {n.Text}: the gradient where the mask is false");
        e.W.Call($"{EmitContext.Kernels}.MaskedFillKernel.Backward", [Mask(e, n), e.Grad(n.Index), e.GradOrNull(n.Inputs[0]), e.Size(n.Index)]);
    }
}
