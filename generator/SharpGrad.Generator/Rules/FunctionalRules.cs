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
