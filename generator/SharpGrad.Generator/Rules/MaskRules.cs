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
        return MaskShape(m, mask, a, value) is { } geometry ? plan with { Rule = Kind, Geometry = geometry } : null;
    }

    /// <summary>
    /// The geometry of a mask read as data (<paramref name="mask"/>) over the value <paramref name="over"/>, or null when it
    /// does not broadcast to it. A mask of the value's trailing dims (leading 1s allowed, none the batch's) is repeated
    /// over the leading dims; any other mask that broadcasts (PyTorch's rules: each dim equal or 1), a batched one
    /// included (<c>[N, 1, 1, T]</c> over attention scores <c>[N, H, T, T]</c>, its batch -1 in the constant), is expanded
    /// to the value's shape at each call (<see cref="MaskGeometry.Over"/>).
    /// </summary>
    internal static MaskGeometry? MaskShape(MethodDraft m, int mask, int over, double value)
    {
        if (m.InferredShapes[mask] is not { } maskShape) return null;
        var shape = m.Shapes[over];
        bool batched = maskShape.Rank >= 1 && maskShape[0].IsSymbol && maskShape[0].Symbol == m.Batch;
        if (!batched && Repeated(m, maskShape, over)) return new MaskGeometry(maskShape.Dims.Select(d => Size(m, d)!).ToEquatableArray(), value);
        int offset = shape.Rank - maskShape.Rank;
        if (offset < 0 || (batched && (offset != 0 || !m.Batched[over]))) return null;
        var dims = new List<string>();
        for (int d = 0; d < maskShape.Rank; d++)
        {
            bool batchDim = m.Batched[over] && offset + d == 0;
            if (batched && d == 0)
            {
                dims.Add("-1");
                continue;
            }
            if (Size(m, maskShape[d]) is not { } size || (!maskShape[d].IsOne && (batchDim || !maskShape[d].Equals(shape[offset + d])))) return null;
            dims.Add(size);
        }
        return new MaskGeometry(dims.ToEquatableArray(), value)
        {
            Over = Enumerable.Range(m.Batched[over] ? 1 : 0, shape.Rank - (m.Batched[over] ? 1 : 0)).Select(d => Size(m, shape[d])!).ToEquatableArray(),
            OverBatched = m.Batched[over],
        };
    }

    /// <summary>A dim other than the batch as C#: its size, or the expression of its symbol (a length read at each call); null when neither.</summary>
    private static string? Size(MethodDraft m, Dim dim)
    {
        if (dim.IsFixed) return MethodDraft.I(dim.Size);
        if (!dim.IsSymbol || dim.Symbol == m.Batch || m.Program.Sizes.Expression(dim.Symbol!) is not { } expression) return null;
        m.Program.UsedSymbols.Add(dim.Symbol!);
        return expression;
    }

    /// <summary>True when the mask (leading 1s aside) is the value's trailing dims, none of them the batch's: the kernel repeats it.</summary>
    private static bool Repeated(MethodDraft m, TensorShape maskShape, int over)
    {
        var shape = m.Shapes[over];
        int first = 0;
        while (first < maskShape.Rank - 1 && maskShape[first].IsOne) first++;
        int count = maskShape.Rank - first;
        int offset = shape.Rank - count;
        if (offset < (m.Batched[over] ? 1 : 0)) return false;
        for (int d = 0; d < count; d++)
        {
            if (Size(m, maskShape[first + d]) is null || !shape[offset + d].Equals(maskShape[first + d])) return false;
        }
        return true;
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override (string Type, string[] Arguments)? Constant(NodePlan n) => ("int[]", ((MaskGeometry)n.Geometry!).MaskShape.ToArray());

    /// <summary>The mask's elements (a method argument, the module's own mask buffer, a data op), checked against the shape the program was built for; <paramref name="negate"/>: its negation.</summary>
    internal static string Mask(EmitContext e, NodePlan n, int slot = 1, bool negate = false)
    {
        string tensor = MethodEmitter.RawField(e, n.Inputs[slot]) + (negate ? ".Eq(0.0)" : "");   // negated by the eager comparison
        string where = $"\"{n.Text.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"";
        var g = (MaskGeometry)n.Geometry!;
        if (g.Over.IsEmpty) return $"{EmitContext.Support}.Mask({tensor}, {e.Geometry(n)}, {where})";
        string over = "[" + string.Join(", ", g.Over) + "]";
        return $"{EmitContext.Support}.MaskOver({tensor}, {e.Geometry(n)}, {over}, {(g.OverBatched ? "n" : "0")}, {where})";
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

/// <summary>
/// <c>Tensor.Where(condition, x, y)</c> with the condition read as data (a Bool argument of the method or a Bool
/// <c>[Buffer]</c>) over x's trailing dims, and x and y of the output's shape: the kernel picks x where true, y elsewhere;
/// the gradient goes to x where true and to y where false.
/// </summary>
internal sealed class WhereRule : Rule
{
    public override RuleKind Kind => RuleKind.Where;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (m.Node(i).Inputs.Count != 3) return null;
        int condition = m.In(i, 0), x = m.In(i, 1), y = m.In(i, 2);
        if (!m.IsRaw(condition) || m.IsConst(x) || m.IsConst(y)) return null;
        if (!m.Shapes[x].Equals(m.Shapes[i]) || !m.Shapes[y].Equals(m.Shapes[i]) || !m.BatchedLike(i, 1) || !m.BatchedLike(i, 2)) return null;
        return MaskedFillRule.MaskShape(m, condition, i, 0) is { } geometry ? plan with { Rule = Kind, Geometry = geometry } : null;
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override (string Type, string[] Arguments)? Constant(NodePlan n) => ("int[]", ((MaskGeometry)n.Geometry!).MaskShape.ToArray());

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: the first where the condition is true, the second elsewhere");
        e.W.Call($"{EmitContext.Kernels}.WhereKernel.Forward",
            [MaskedFillRule.Mask(e, n, 0), e.Value(n.Inputs[1]), e.Value(n.Inputs[2]), e.Value(n.Index), e.Size(n.Index)]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"d {n.Text}: to the first where true, to the second where false");
        e.W.Call($"{EmitContext.Kernels}.WhereKernel.Backward",
            [MaskedFillRule.Mask(e, n, 0), e.Grad(n.Index), e.GradOrNull(n.Inputs[1]), e.GradOrNull(n.Inputs[2]), e.Size(n.Index)]);
    }
}

/// <summary>
/// <c>Tensor.Where(condition, x, 0.5)</c> or <c>Tensor.Where(condition, 0.5, y)</c> (a scalar branch, PyTorch's
/// <c>torch.where(c, x, 0.5)</c>) with the condition read as data over the tensor's trailing dims: the MaskedFill kernel
/// fills the scalar where the condition is false (x branch, the condition negated by the eager <c>Eq(0)</c>) or true
/// (y branch); the gradient goes to the tensor where it was kept.
/// </summary>
internal sealed class WhereScalarRule : Rule
{
    public override RuleKind Kind => RuleKind.WhereScalar;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        var node = m.Node(i);
        if (node.Inputs.Count != 2) return null;
        int condition = m.In(i, 0), tensor = m.In(i, 1);
        var args = m.Arguments(i);
        bool scalarIsX = args.Has("x");
        if (!m.IsRaw(condition) || m.IsConst(tensor) || (scalarIsX ? args.Number("x") : args.Number("y")) is not { } value) return null;
        if (!m.Shapes[tensor].Equals(m.Shapes[i]) || !m.BatchedLike(i, 1)) return null;
        // Variant: the scalar is the false branch (y), so the tensor is kept where the condition is true.
        return MaskedFillRule.MaskShape(m, condition, i, value) is { } geometry ? plan with { Rule = Kind, Geometry = geometry, Variant = !scalarIsX } : null;
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override (string Type, string[] Arguments)? Constant(NodePlan n) => ("int[]", ((MaskGeometry)n.Geometry!).MaskShape.ToArray());

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: the tensor where kept, the scalar elsewhere");
        e.W.Call($"{EmitContext.Kernels}.MaskedFillKernel.Forward",
            [e.Value(n.Inputs[1]), MaskedFillRule.Mask(e, n, 0, negate: n.Variant), MethodDraft.F64(((MaskGeometry)n.Geometry!).Value), e.Value(n.Index), e.Size(n.Index)]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"d {n.Text}: to the tensor where it was kept");
        e.W.Call($"{EmitContext.Kernels}.MaskedFillKernel.Backward", [MaskedFillRule.Mask(e, n, 0, negate: n.Variant), e.Grad(n.Index), e.GradOrNull(n.Inputs[1]), e.Size(n.Index)]);
    }
}
