using System.Collections.Generic;
using System.Linq;

namespace SharpGrad.Generator.Rules;

/// <summary>
/// A <c>[Parameter]</c> or <c>[Buffer]</c> of the module itself read in Forward (<c>x * scale</c>, <c>x + pos_embedding</c>),
/// its shape known at build time: its elements are copied into the node's buffer, and a parameter's gradient is added to
/// the gradient the program hands the tape. A Buffer used only as data (a MaskedFill mask, a Where condition) is read as the tensor itself (no copy).
/// Members of inlined children are not taken yet.
/// </summary>
internal sealed class MemberRule : Rule
{
    public override RuleKind Kind => RuleKind.Member;

    /// <summary>The member's expression in generated code (<c>_m.scale</c>), or null for a member of an inlined child.</summary>
    public static string? Expression(GraphNode node)
        => node.Kind == NodeKind.Input && node.Op is "Parameter" or "Buffer" && node.Child is { } path && !path.Contains(".") ? "_m." + node.Text : null;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        var node = m.Node(i);
        if (Expression(node) is not { } expression || m.Batched[i]) return null;
        if (node.Op == "Buffer" && m.Consumers[i].Count > 0 && m.Consumers[i].All(c => m.Row(c.Node) is { } row && MethodDraft.ReadsAsData(row, c.Slot)))
        {
            return plan with { Rule = RuleKind.Raw, Args = new[] { expression }.ToEquatableArray() };   // a mask: MaskedFillRule reads the tensor itself
        }
        var slot = node.Op == "Parameter" ? m.Program.Param(expression, node.Child!) : null;
        return plan with { Rule = Kind, Weight = slot, Args = new[] { expression }.ToEquatableArray() };
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override (string Type, string[] Arguments)? Constant(NodePlan n) => ("int[]", n.Shape!.Dims.Select(d => MethodDraft.I(d.Size)).ToArray());

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: the module's {(n.Weight is null ? "buffer" : "parameter")}, checked against the shape it was built for");
        e.W.Call($"{EmitContext.Support}.Member", [n.Args[0], e.Geometry(n), $"\"{n.Text}\"", e.Value(n.Index)]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        if (n.Weight is not { } slot) return;
        e.W.Comment($"d {n.Text}: into the parameter's gradient");
        e.W.WriteLine($"if ({EmitContext.Needed(slot)}) for (int j = 0, len = {e.Size(n.Index)}; j < len; j++) {EmitContext.ParamGrad(slot)}[j] += {e.Grad(n.Index)}[j];");
    }
}
