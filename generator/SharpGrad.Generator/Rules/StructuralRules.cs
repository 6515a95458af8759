using System.Collections.Generic;
using System.Linq;

namespace SharpGrad.Generator.Rules;

/// <summary>A float tensor input of the method: its buffer is the caller's data (bound in Prepare), its gradient a buffer.</summary>
internal sealed class InputRule : Rule
{
    public override RuleKind Kind => RuleKind.Input;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        m.FloatInputs.Add(i);
        return plan with { Rule = Kind };
    }

    public override void Forward(EmitContext e, NodePlan n)
    {
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
    }
}

/// <summary>
/// A view (View, Reshape, Flatten, Unsqueeze, Squeeze) or an Identity layer: the node's value is its input's buffer and
/// its gradient its input's gradient buffer; no code but the hooks of an Identity child.
/// </summary>
internal sealed class ViewRule : Rule
{
    public override RuleKind Kind => RuleKind.View;

    public override bool IsView => true;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        int a = m.In(i, 0);
        if (!m.BatchedLike(i, 0) || m.Features[a] != m.Features[i]) return null;
        var child = m.Child(i);
        return plan with
        {
            Rule = Kind,
            ValueRoot = m.Nodes[a].ValueRoot,
            GradRoot = m.Nodes[a].GradRoot,
            Module = child is null ? null : m.Program.Module(child),
        };
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override void Forward(EmitContext e, NodePlan n)
    {
        if (n.Module is not null) e.ForwardHooks(n, n.Inputs[0]);
        else e.W.Comment($"{n.Text}: a view of the same buffer, no copy");
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        if (n.Module is not { } module) return;
        int i = n.Index;
        e.WhenHooksReached(i, () => e.W.Call($"if ({EmitContext.Support}.HasBackwardHooks({module.Field})) {EmitContext.Support}.BackwardHooks",
            [module.Field, e.Grad(i), "null", e.ShapeExpr(i), e.Grad(i), e.ShapeExpr(i)]));
    }
}

/// <summary>
/// The identity after an inlined child (a user <c>[Module]</c> or a Sequential): where the child's forward hooks run
/// (with the call's argument as its input), and where its backward hooks see the gradient it contributed.
/// </summary>
internal sealed class BoundaryRule : Rule
{
    public override RuleKind Kind => RuleKind.Boundary;

    public override bool IsView => true;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        int a = m.In(i, 0);
        if (!m.BatchedLike(i, 0) || m.Features[a] != m.Features[i] || m.Child(i) is not { } child) return null;
        return plan with
        {
            Rule = Kind,
            ValueRoot = m.Nodes[a].ValueRoot,
            GradRoot = m.Nodes[a].GradRoot,
            Module = m.Program.Module(child),
        };
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    /// <summary>The value the child's hooks see as its input: the call's first argument.</summary>
    public static int HookInput(NodePlan n) => n.CallArguments[0];

    /// <summary>The first node of the inlined child (after its last argument): where its backward is complete.</summary>
    public static int Start(NodePlan n) => System.Math.Min(n.Index, n.CallArguments.Max() + 1);

    /// <summary>The local holding the child's input gradient before its backward (when it has backward hooks).</summary>
    public static string Before(EmitContext e, NodePlan n) => e.Local(n.Name + "_input_grad_before", "float[]?", "null");

    public override void Forward(EmitContext e, NodePlan n) => e.ForwardHooks(n, HookInput(n));

    public override void Backward(EmitContext e, NodePlan n)
    {
        int arg = HookInput(n);
        var module = n.Module!;
        // Not reached by the result's gradient: no snapshot, so Complete calls no hook (eager calls none).
        e.WhenHooksReached(n.Index, () => e.W.Call($"if ({EmitContext.Support}.HasBackwardHooks({module.Field})) {Before(e, n)} = {EmitContext.Support}.Snapshot",
            [e.Grad(arg), e.Size(arg)]));
    }

    /// <summary>Where the child's backward is complete: its backward hooks, with the gradient it added to its input.</summary>
    public static void Complete(EmitContext e, NodePlan n)
    {
        int arg = HookInput(n);
        e.W.Comment($"{n.Module!.Path}'s backward is complete: its backward hooks see the gradient it added to its input");
        e.W.Call($"if ({Before(e, n)} is not null) {EmitContext.Support}.BackwardHooks",
            [n.Module.Field, e.GradOrNull(arg), Before(e, n), e.ShapeExpr(arg), e.Grad(n.Index), e.ShapeExpr(n.Index)]);
    }
}

/// <summary><c>if (Training) a else b</c>: the branch taken is copied; its gradient goes back to that branch.</summary>
internal sealed class SelectRule : Rule
{
    public override RuleKind Kind => RuleKind.Select;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (!m.Shapes[m.In(i, 0)].Equals(m.Shapes[m.In(i, 1)]) || !m.BatchedLike(i, 0)) return null;
        return plan with { Rule = Kind };
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n) => [new("took_training", "bool", null)];

    public override void Forward(EmitContext e, NodePlan n)
    {
        int i = n.Index;
        e.W.Comment($"if (Training): {e.Text(n.Inputs[0])} in training, else {e.Text(n.Inputs[1])}; the branch is picked at run time");
        e.W.WriteLine($"{e.Scratch(n, "took_training")} = training;");
        e.W.WriteLine($"global::System.Array.Copy(training ? {e.Value(n.Inputs[0])} : {e.Value(n.Inputs[1])}, {e.Value(i)}, {e.Size(i)});");
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int i = n.Index, t = n.Inputs[0], f = n.Inputs[1];
        e.W.Comment("d if (Training): to the branch the forward took");
        using (e.W.Block($"if ({e.Scratch(n, "took_training")})")) e.Guarded(e.InputGuard(t), $"for (int j = 0, len = {e.Size(i)}; j < len; j++) {e.Grad(t)}[j] += {e.Grad(i)}[j];");
        using (e.W.Block("else")) e.Guarded(e.InputGuard(f), $"for (int j = 0, len = {e.Size(i)}; j < len; j++) {e.Grad(f)}[j] += {e.Grad(i)}[j];");
    }
}
