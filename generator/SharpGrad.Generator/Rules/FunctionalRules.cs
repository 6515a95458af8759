using System.Collections.Generic;

namespace SharpGrad.Generator.Rules;

/// <summary>
/// <c>Functional.Linear(x, weight, bias)</c> (PyTorch's <c>F.linear</c>) with a weight and bias that are values of the
/// program — the module's own parameters (<see cref="MemberRule"/>), or any unbatched value of fixed shape —: y = x·Wᵀ + b
/// over the rows of x (every dim between the batch and the last, a length T too), one GEMM; the backward's GEMMs write
/// the gradients of x, W and b, which the member nodes add to the parameters' gradients.
/// </summary>
internal sealed class FunctionalLinearRule : Rule
{
    public override RuleKind Kind => RuleKind.FunctionalLinear;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        var inputs = m.Node(i).Inputs;
        if (m.Child(i) is not null || inputs.Count is < 2 or > 3) return null;
        int x = inputs[0], w = inputs[1];
        if (!m.Batched[x] || !m.Batched[i] || m.BatchAxis[x] != 0) return null;
        for (int k = 1; k < inputs.Count; k++)
        {
            if (m.Batched[inputs[k]] || m.IsConst(inputs[k]) || m.IsRaw(inputs[k]) || m.IsSymbolic(inputs[k])) return null;
        }
        var ws = m.Shapes[w];
        var xs = m.Shapes[x];
        if (ws.Rank != 2 || !ws[0].IsFixed || !ws[1].IsFixed || xs.Rank < 2 || !xs.Last.Equals(ws[1])) return null;
        if (inputs.Count == 3 && !(m.Shapes[inputs[2]] is { Rank: 1 } bs && bs[0].Equals(ws[0]))) return null;
        int inF = ws[1].Size, outF = ws[0].Size;
        var geometry = new LinearGeometry(inF, outF, MethodDraft.Product(xs, 1, xs.Rank - 1)) { RowsText = m.ProductText(xs, 1, xs.Rank - 1) };
        return plan with { Rule = Kind, Geometry = geometry };
    }

    public override (string Type, string[] Arguments)? Constant(NodePlan n)
    {
        var g = (LinearGeometry)n.Geometry!;
        return ($"{EmitContext.Kernels}.LinearShape", [$"InFeatures: {MethodDraft.I(g.InFeatures)}", $"OutFeatures: {MethodDraft.I(g.OutFeatures)}", $"RowsPerItem: {g.RowsText ?? MethodDraft.I(g.RowsPerItem)}"]);
    }

    private static string Bias(EmitContext e, NodePlan n) => n.Inputs.Count == 3 ? e.Value(n.Inputs[2]) : "null";

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: x · weightᵀ{(n.Inputs.Count == 3 ? " + bias" : "")} by one GEMM");
        e.W.Call($"{EmitContext.Support}.FunctionalLinearForward", [e.Value(n.Inputs[0]), e.Value(n.Inputs[1]), Bias(e, n), e.Value(n.Index), "n", e.Geometry(n)]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int x = n.Inputs[0], w = n.Inputs[1];
        e.W.Comment($"d {n.Text}: dx += dy · weight, dweight += dyᵀ · x{(n.Inputs.Count == 3 ? ", dbias += dy summed over rows" : "")}");
        e.W.Call($"{EmitContext.Support}.FunctionalLinearBackward",
            [e.Value(x), e.Value(w), e.Grad(n.Index), e.GradOrNull(x), e.GradOrNull(w), n.Inputs.Count == 3 ? e.GradOrNull(n.Inputs[2]) : "null", "n", e.Geometry(n)]);
    }
}

/// <summary>
/// <c>Functional.LayerNorm(x, normalizedShape, weight, bias, eps)</c> (PyTorch's <c>F.layer_norm</c>) with a weight and bias
/// that are values of the program (the module's own parameters) or without them: the LayerNorm kernel eager runs, over
/// the rows of the trailing <c>normalizedShape</c> dims (a length T among the leading dims too), the statistics kept for
/// the backward, which adds into the gradients of x, the weight and the bias.
/// </summary>
internal sealed class FunctionalLayerNormRule : Rule
{
    public override RuleKind Kind => RuleKind.FunctionalLayerNorm;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        var inputs = m.Node(i).Inputs;
        // The affine pair both given (weight, bias) or neither: one of them alone is ambiguous by position (not compiled yet).
        if (m.Child(i) is not null || inputs.Count is not (1 or 3)) return null;
        var args = m.Arguments(i);
        int x = inputs[0];
        if (!m.Batched[x] || !m.Batched[i] || m.BatchAxis[x] != 0 || args.Ints("normalizedShape") is not { Count: > 0 } normalized) return null;
        if (args.Has("eps") && args.Number("eps") is null) return null;
        double eps = args.Number("eps") ?? OpCatalogue.Find("LayerNorm")!.Param("eps")!.DefaultNumber ?? 1e-5;
        var xs = m.Shapes[x];
        int cols = 1;
        if (normalized.Count >= xs.Rank) return null;   // the batch is never normalised over
        for (int k = 0; k < normalized.Count; k++)
        {
            var dim = xs[xs.Rank - normalized.Count + k];
            if (!dim.IsFixed || dim.Size != normalized[k]) return null;
            cols *= normalized[k];
        }
        for (int k = 1; k < inputs.Count; k++)
        {
            int p = inputs[k];
            if (m.Batched[p] || m.IsConst(p) || m.IsRaw(p) || m.IsSymbolic(p) || m.Shapes[p].Rank != normalized.Count) return null;
            for (int d = 0; d < normalized.Count; d++) if (!m.Shapes[p][d].IsFixed || m.Shapes[p][d].Size != normalized[d]) return null;
        }
        var geometry = new NormGeometry(cols, 1) { ChannelsText = null };
        return plan with { Rule = Kind, Geometry = geometry, Args = new[] { MethodDraft.F64(eps) }.ToEquatableArray() };
    }

    private static string Cols(NodePlan n) => MethodDraft.I(((NormGeometry)n.Geometry!).Channels);

    private static string Rows(EmitContext e, NodePlan n) => $"{e.Size(n.Index)} / {Cols(n)}";

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n) => [new("mean", "float[]", Rows(e, n)), new("invstd", "float[]", Rows(e, n))];

    private static string Affine(EmitContext e, NodePlan n, int k) => n.Inputs.Count == 3 ? e.Value(n.Inputs[k]) : "null";

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: the LayerNorm kernel over rows of {Cols(n)}, the statistics kept");
        e.W.Call($"{EmitContext.Support}.FunctionalLayerNormForward",
            [e.Value(n.Inputs[0]), Affine(e, n, 1), Affine(e, n, 2), e.Value(n.Index), Rows(e, n), Cols(n), n.Args[0], e.Scratch(n, "mean"), e.Scratch(n, "invstd")]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"d {n.Text}: into x's{(n.Inputs.Count == 3 ? ", the weight's and the bias's" : "")} gradients");
        e.W.Call($"{EmitContext.Support}.FunctionalLayerNormBackward",
            [e.Value(n.Inputs[0]), e.Grad(n.Index), e.GradOrNull(n.Inputs[0]), e.Scratch(n, "mean"), e.Scratch(n, "invstd"), Affine(e, n, 1),
             n.Inputs.Count == 3 ? e.GradOrNull(n.Inputs[1]) : "null", n.Inputs.Count == 3 ? e.GradOrNull(n.Inputs[2]) : "null", Rows(e, n), Cols(n)]);
    }
}
