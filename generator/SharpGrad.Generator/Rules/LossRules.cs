using System.Collections.Generic;
using System.Linq;
using System.Globalization;

namespace SharpGrad.Generator.Rules;

/// <summary>
/// What the loss rules share: a scalar loss (reduction Mean or Sum) of an input against a raw target. The input is batched, or
/// a value without the batch (<c>y.Select(0, -1)</c> of an unbatched sequence, <c>h_n[-1]</c>: SliceRule.BatchRow) against a
/// target of a fixed shape (the target test <see cref="Geometry"/> is given).
/// </summary>
internal static class LossPlan
{
    /// <summary>
    /// The reduction and ignored index of a loss node as C# expressions, or null when the compiled kernels do not take it. An input
    /// without the batch is taken when <paramref name="target"/> accepts the target's shape (build time, no batch symbol in it).
    /// </summary>
    public static LossGeometry? Geometry(MethodDraft m, int i, int classes, System.Func<TensorShape, bool> target)
    {
        var node = m.Node(i);
        if (node.Inputs.Count != 2 || !m.IsRaw(m.In(i, 1)) || m.Batched[i] || m.Features[i] != 1) return null;
        if (!m.Batched[m.In(i, 0)] && (m.InferredShapes[m.In(i, 1)] is not { } t || t.Dims.Any(d => !d.IsFixed) || !target(t))) return null;
        foreach (var s in node.Scalars)
        {
            if (s.Name == "reduction" && s.IsKnown && s.Value is 1 or 2) continue;
            if (s.Name == "ignoreIndex" && s.IsKnown) continue;
            if (s.Name == "labelSmoothing" && s.IsKnown && s.Value == 0) continue;
            if (s.Name == GraphNode.OmittedTensors) continue;   // class weights left out
            return null;   // another option (class weights, pos_weight, …): eager only for now
        }
        var row = m.Row(i)!;
        double reduction = node.Scalar("reduction")?.Value ?? row.Param("reduction")!.DefaultNumber!.Value;
        double ignore = node.Scalar("ignoreIndex")?.Value ?? row.Param("ignoreIndex")?.DefaultNumber ?? -100;
        return new LossGeometry(classes, reduction == 2 ? "global::SharpGrad.Reduction.Sum" : "global::SharpGrad.Reduction.Mean",
            ((long)ignore).ToString(CultureInfo.InvariantCulture) + "L");
    }
}

/// <summary>
/// CrossEntropy / Nll against class indices, input [n, classes]: log-softmax and the loss in one pass, the
/// log-probabilities kept for the backward (<c>SharpGrad.Kernels.ClassIndexLoss</c>, the kernel eager calls).
/// </summary>
internal sealed class ClassIndexLossRule : Rule
{
    public override RuleKind Kind => RuleKind.ClassIndexLoss;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        var inS = m.Shapes[m.In(i, 0)];
        if (m.Batched[m.In(i, 0)])
        {
            if (inS.Rank != 2 || LossPlan.Geometry(m, i, inS[1].Size, _ => false) is not { } geometry) return null;
            return plan with { Rule = Kind, Geometry = geometry };
        }
        // Without the batch: logits [k, C] against class indices [k] (k rows), all sizes fixed. (Logits [C] against a 0-d index, which
        // PyTorch and eager's CrossEntropy take, is not compiled: a named break, run eagerly.)
        if (inS.Rank != 2 || inS.Dims.Any(d => !d.IsFixed)) return null;
        int rows = inS[0].Size;
        if (LossPlan.Geometry(m, i, inS[1].Size, t => t.Rank == 1 && t[0].Size == rows) is not { } fixedRows) return null;
        return plan with { Rule = Kind, Geometry = fixedRows with { Rows = MethodDraft.I(rows) } };
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n) => [new("log_probabilities", "float[]", e.Size(n.Inputs[0]))];

    private static string[] Options(NodePlan n)
    {
        var g = (LossGeometry)n.Geometry!;
        return [g.Rows, MethodDraft.I(g.Classes), g.Reduction, g.IgnoreIndex, $"logSoftmax: {(n.Variant ? "true" : "false")}"];
    }

    public override void Forward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        e.W.Comment(n.Variant
            ? $"fused: {n.Text}: log-softmax and the loss in one pass; the log-probabilities are kept for the backward"
            : $"{n.Text}: the input read as log-probabilities");
        e.W.Call($"{e.Value(n.Index)}[0] = {EmitContext.Kernels}.ClassIndexLoss.Forward",
            [e.Value(a), MethodEmitter.RawField(e, n.Inputs[1]), e.Scratch(n, "log_probabilities"), .. Options(n)]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        e.W.Comment(n.Variant ? $"d {n.Text}: (softmax − one-hot) · dLoss, from the kept log-probabilities" : $"d {n.Text}: −dLoss at each target");
        e.W.Call($"{EmitContext.Kernels}.ClassIndexLoss.Backward",
            [e.Scratch(n, "log_probabilities"), MethodEmitter.RawField(e, n.Inputs[1]), $"{e.Grad(n.Index)}[0]", e.GradOrNull(a), .. Options(n)]);
    }
}

/// <summary>An elementwise loss (Mse, L1, BCE with logits) against a target of the input's shape: its kernel type (<c>SharpGrad.Kernels.ElementwiseLoss</c>).</summary>
internal sealed class ElementwiseLossRule : Rule
{
    public override RuleKind Kind => RuleKind.ElementwiseLoss;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        var input = m.Shapes[m.In(i, 0)];
        if (plan.Kernel is null || LossPlan.Geometry(m, i, 0, t => t.Equals(input)) is not { } geometry) return null;
        return plan with { Rule = Kind, Geometry = geometry };
    }

    private static string Op(NodePlan n) => $"<{EmitContext.Kernels}.{n.Kernel}>";

    public override void Forward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        e.W.Comment(n.Text);
        e.W.Call($"{e.Value(n.Index)}[0] = {EmitContext.Kernels}.ElementwiseLoss.Forward{Op(n)}",
            [e.Value(a), MethodEmitter.RawField(e, n.Inputs[1]), e.Size(a), ((LossGeometry)n.Geometry!).Reduction]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        e.W.Comment($"d {n.Text}");
        e.W.Call($"{EmitContext.Kernels}.ElementwiseLoss.Backward{Op(n)}",
            [e.Value(a), MethodEmitter.RawField(e, n.Inputs[1]), $"{e.Grad(n.Index)}[0]", e.GradOrNull(a), e.Size(a), ((LossGeometry)n.Geometry!).Reduction]);
    }
}
