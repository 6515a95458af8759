using System.Collections.Generic;
using System.Linq;

namespace SharpGrad.Generator.Rules;

/// <summary>
/// A pointwise op of the catalogue (an activation, elementwise math): its kernel type's forward and backward
/// (<c>SharpGrad.Kernels.Pointwise</c>), with the row's scalar parameters as the kernel's a and b. A ReLU after a
/// Linear/Conv may be computed in that op's epilogue (<see cref="Planning.Fusion"/>).
/// </summary>
internal sealed class PointwiseRule : Rule
{
    public override RuleKind Kind => RuleKind.Pointwise;

    /// <summary>
    /// The kernel's scalar arguments for a node: its row's parameters in kernel slots (a, b), from the call or the layer,
    /// defaults included, each with its name as a comment (<c>0.2 /* negativeSlope */</c>). An absent bound (Clamp's
    /// null) is NaN. Null when an argument is not a compile-time constant.
    /// </summary>
    internal static string[]? KernelArgs(MethodDraft m, int i, OpRow row)
    {
        var args = m.Arguments(i);
        var slots = new List<string>();
        // A row that is another kernel with fixed arguments (Square, ClampMin) starts from those; its parameters fill their slots.
        if (row.KernelArguments is { } fixedArguments) slots.AddRange(fixedArguments.Select(v => MethodDraft.F64(v)));
        foreach (var p in row.Params.Where(p => p.KernelSlot >= 0).OrderBy(p => p.KernelSlot))
        {
            double? value = p.DefaultNumber;
            if (args.Has(p.Name))
            {
                value = p.Kind == ParamKind.Choice ? args.Text(p.Name) is { } text ? p.ToNumber(text) : null : args.Number(p.Name);
                if (value is null && !IsNull(m, i, p)) return null;
            }
            string slot = MethodDraft.F64(value ?? double.NaN) + " /* " + p.Name + " */";
            while (slots.Count < p.KernelSlot) slots.Add(MethodDraft.F64(double.NaN));
            if (p.KernelSlot < slots.Count) slots[p.KernelSlot] = slot;
            else slots.Add(slot);
        }
        return slots.ToArray();
    }

    /// <summary>True when the argument is null (given as <c>null</c>, or a null default): an absent bound.</summary>
    private static bool IsNull(MethodDraft m, int i, ScalarParam p)
        => p.HasDefault && p.Default is null
           && (m.Child(i) is { IsBuiltIn: true } child
               ? child.Arg(p.Name) is { IsKnown: true, Values.Count: 0, Number: null, String: null }
               : m.Node(i).Scalar(p.Name) is { IsKnown: false, Text: "null" or "" });

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        int a = m.In(i, 0);
        if (!m.BatchedLike(i, 0) || m.Features[a] != m.Features[i] || plan.Kernel is null) return null;
        if (KernelArgs(m, i, m.Row(i)!) is not { } args) return null;
        var child = m.Child(i);
        return plan with { Rule = Kind, Args = args.ToEquatableArray(), Module = child is null ? null : m.Program.Module(child) };
    }

    private static string Kernel(NodePlan n) => $"{EmitContext.Kernels}.Pointwise.Forward<{EmitContext.Kernels}.{n.Kernel}>";

    public override void Forward(EmitContext e, NodePlan n)
    {
        int i = n.Index, a = n.Inputs[0];
        if (n.EpilogueOf >= 0)
        {
            var producer = e.Nodes[n.EpilogueOf];
            e.W.Comment($"{n.Text}: computed in {producer.Module!.Path}'s epilogue, or here when a hook must see {producer.Module.Path}'s output");
            using (e.W.Block($"if (!{Planning.Fusion.FusedFlag(producer)})"))
            {
                string? before = n.Module is null ? null : n.Name + "_input";
                if (n.Module is { } module) e.W.Call($"var {before} = {EmitContext.Support}.HasForwardHooks({module.Field}) ? {EmitContext.Support}.Snapshot", [e.Value(i), e.Size(i)], ") : null;");
                e.W.Call(Kernel(n), [e.Value(i), e.Value(i), e.Size(i), .. n.Args]);
                if (n.Module is { } m2) e.W.Call($"if ({before} is not null) {EmitContext.Support}.ForwardHooks", [m2.Field, before!, e.ShapeExpr(a), e.Value(i), e.ShapeExpr(i)]);
            }
            return;
        }
        e.W.Comment(n.Text);
        e.W.Call(Kernel(n), [e.Value(a), e.Value(i), e.Size(i), .. n.Args]);
        e.ForwardHooks(n, a);
    }

    /// <summary>The kernel's backward writes every element of its input's gradient (gy · f′ at each) when told to.</summary>
    public override bool OverwritesInputGrad(NodePlan n, int slot) => slot == 0;

    public override void Backward(EmitContext e, NodePlan n)
    {
        int i = n.Index, a = n.Inputs[0];
        bool readsInput = (n.Reads & BackwardReads.Input) != 0, readsOutput = (n.Reads & BackwardReads.Output) != 0;
        string x = readsInput ? e.Value(a) : e.Value(i);
        string y = readsOutput ? e.Value(i) : x;
        bool hooks = n.Module is not null && n.EpilogueOf < 0;
        string what = readsInput ? readsOutput ? "its input and output" : "its input" : readsOutput ? "its output" : "neither input nor output";
        e.W.Comment($"d {n.Text}: the kernel's derivative, from {what}");
        if (hooks) Hooks.Before(e, n, a);
        string call = $"{EmitContext.Kernels}.Pointwise.Backward<{EmitContext.Kernels}.{n.Kernel}>";
        string[] args = [x, y, e.Grad(i), e.Grad(a), e.Size(i), .. n.Args, .. (e.OverwritesInput(n, 0) ? new[] { "overwrite: true" } : [])];
        if (e.InputGuard(a) is { } guard) e.W.Call($"if ({guard}) {call}", args);
        else e.W.Call(call, args);
        if (hooks) Hooks.After(e, n, a);
        else if (n.Module is { } module)
        {
            e.WhenHooksReached(i, () => e.W.Call($"if ({EmitContext.Support}.HasBackwardHooks({module.Field})) {EmitContext.Support}.BackwardHooks",
                [module.Field, e.Grad(a), "null", e.ShapeExpr(a), e.Grad(i), e.ShapeExpr(i)]));
        }
    }
}

/// <summary>
/// The backward hooks of a child's node: its input's gradient before, and the hooks after (the part this node added).
/// A node with no module (a Functional call) has no hooks: nothing is written.
/// </summary>
internal static class Hooks
{
    public static string Local(NodePlan n) => n.Name + "_input_grad_before";

    public static void Before(EmitContext e, NodePlan n, int input)
    {
        if (n.Module is not { } module) return;
        // Not reached by the result's gradient (GradientReach): no hook, as in eager (nor in After); reached in one mode: only then.
        if (!e.HooksReached(n.Index)) return;
        if (e.HookCondition(n.Index) is { } condition)
        {
            e.W.WriteLine($"float[]? {Local(n)} = null;");
            using (e.W.Block($"if ({condition})"))
                e.W.Call($"{Local(n)} = {EmitContext.Support}.HasBackwardHooks({module.Field}) ? {EmitContext.Support}.Snapshot", [e.Grad(input), e.Size(input)], ") : null;");
            return;
        }
        e.W.Call($"var {Local(n)} = {EmitContext.Support}.HasBackwardHooks({module.Field}) ? {EmitContext.Support}.Snapshot",
            [e.Grad(input), e.Size(input)], ") : null;");
    }

    public static void After(EmitContext e, NodePlan n, int input)
    {
        if (n.Module is not { } module || !e.HooksReached(n.Index)) return;
        e.W.Call($"if ({Local(n)} is not null) {EmitContext.Support}.BackwardHooks",
            [module.Field, e.GradOrNull(input), Local(n), e.ShapeExpr(input), e.Grad(n.Index), e.ShapeExpr(n.Index)]);
    }
}

/// <summary>
/// Same-shape + − · / (one operand may be a constant) and negation, written inline: one loop per node, and a chain of
/// them fused into one loop when the intermediate values are read by nothing else (<see cref="Planning.Fusion"/>).
/// A residual add after a Linear may be computed in its GEMM epilogue.
/// </summary>
internal sealed class ElementwiseRule : Rule
{
    public override RuleKind Kind => RuleKind.Elementwise;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        var node = m.Node(i);
        if (plan.Operator is null) return null;
        if (node.Inputs.Count == 1)
        {
            return m.BatchedLike(i, 0) && m.Features[m.In(i, 0)] == m.Features[i] ? plan with { Rule = Kind } : null;
        }
        bool c0 = m.IsConst(m.In(i, 0)), c1 = m.IsConst(m.In(i, 1));
        if (c0 && c1) return null;
        if (c0 || c1)
        {
            int t = c0 ? 1 : 0;
            if (plan.Operator == "/" && t == 1) return null;   // c / x: not written inline yet
            if (!m.BatchedLike(i, t) || m.Features[m.In(i, t)] != m.Features[i]) return null;
            return plan with { Rule = Kind };
        }
        if (!m.Shapes[m.In(i, 0)].Equals(m.Shapes[m.In(i, 1)]) || !m.BatchedLike(i, 0) || !m.BatchedLike(i, 1)) return null;
        return plan with { Rule = Kind };
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n)
    {
        if (n.Inputs.Count < 2) yield break;
        int l = n.Inputs[0], r = n.Inputs[1];
        bool cl = nodes[l].Rule == RuleKind.Constant, cr = nodes[r].Rule == RuleKind.Constant;
        if (n.Operator == "*" && !cl && !cr)
        {
            yield return l;
            yield return r;
        }
        if (n.Operator == "/" && !cr)
        {
            if (!cl) yield return l;
            yield return r;
        }
    }

    /// <summary>The value of node <paramref name="k"/> at element j inside a loop: a literal, an inline fused expression, or its buffer.</summary>
    private static string Expr(EmitContext e, int k)
    {
        var node = e.Nodes[k];
        if (node.Rule == RuleKind.Constant || node.FusedInto < 0) return node.Rule == RuleKind.Constant ? e.Value(k) : $"{e.Value(k)}[j]";
        if (node.Inputs.Count == 1) return $"(-{Expr(e, node.Inputs[0])})";
        return $"({Expr(e, node.Inputs[0])} {node.Operator} {Expr(e, node.Inputs[1])})";
    }

    /// <summary>The nodes fused into node <paramref name="i"/>'s loop, in order.</summary>
    private static IEnumerable<int> Chain(EmitContext e, int i)
    {
        foreach (var k in e.Nodes[i].Inputs)
        {
            if (e.Nodes[k].FusedInto != i) continue;
            foreach (var f in Chain(e, k)) yield return f;
            yield return k;
        }
    }

    public override void Forward(EmitContext e, NodePlan n)
    {
        int i = n.Index;
        if (n.FusedInto >= 0) return;   // computed inline by a later node's loop
        if (n.ResidualOperand >= 0)
        {
            int linear = n.Inputs[0] == n.ResidualOperand ? n.Inputs[1] : n.Inputs[0];
            var producer = e.Nodes[linear];
            e.W.Comment($"{n.Text}: added in {producer.Module!.Path}'s GEMM epilogue, or here when a hook saw {producer.Module.Path}'s output");
            e.W.WriteLine($"if (!{Planning.Fusion.FusedFlag(producer)}) for (int j = 0, len = {e.Size(i)}; j < len; j++) {e.Value(i)}[j] += {e.Value(n.ResidualOperand)}[j];");
            return;
        }
        var chain = Chain(e, i).ToList();
        if (chain.Count > 0) e.W.Comment($"fused: {string.Join(", ", chain.Select(e.Text))} and {n.Text} in one loop");
        else e.W.Comment(n.Text);
        string body = n.Inputs.Count == 1 ? $"-{Expr(e, n.Inputs[0])}" : $"{Expr(e, n.Inputs[0])} {n.Operator} {Expr(e, n.Inputs[1])}";
        e.Loop(i, $"{e.Value(i)}[j] = {body};");
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int i = n.Index;
        string gy = e.Grad(i);
        e.W.Comment($"d {n.Text}");
        if (n.Inputs.Count == 1)
        {
            int a = n.Inputs[0];
            e.Guarded(e.InputGuard(a), $"for (int j = 0, len = {e.Size(i)}; j < len; j++) {e.Grad(a)}[j] -= {gy}[j];");
            return;
        }
        int l = n.Inputs[0], r = n.Inputs[1];
        bool cl = e.Nodes[l].Rule == RuleKind.Constant, cr = e.Nodes[r].Rule == RuleKind.Constant;
        // Each operand's term names only the values Reads() saved for it: a constant operand has no gradient, so the
        // other operand's value is never asked for (asking declares a local for a value that may be fused away).
        string Operand(int k) => e.Nodes[k].Rule == RuleKind.Constant ? e.Value(k) : $"{e.Value(k)}[j]";
        string LeftTerm() => n.Operator switch
        {
            "+" or "-" => $"{gy}[j]",
            "*" => $"{gy}[j] * {Operand(r)}",
            _ => $"{gy}[j] / {Operand(r)}",
        };
        string RightTerm() => n.Operator switch
        {
            "+" => $"{gy}[j]",
            "-" => $"-{gy}[j]",
            "*" => $"{gy}[j] * {Operand(l)}",
            _ => $"-{gy}[j] * {Operand(l)} / ({Operand(r)} * {Operand(r)})",
        };
        if (!cl) e.Guarded(e.InputGuard(l), $"for (int j = 0, len = {e.Size(i)}; j < len; j++) {e.Grad(l)}[j] += {LeftTerm()};");
        if (!cr) e.Guarded(e.InputGuard(r), $"for (int j = 0, len = {e.Size(i)}; j < len; j++) {e.Grad(r)}[j] += {RightTerm()};");
    }
}

/// <summary>
/// A binary op with broadcasting (and Maximum, Minimum, a PReLU layer): the kernel type's forward and fused backward
/// (<c>SharpGrad.Kernels.Broadcast</c>), which sums each gradient back over the dims its operand broadcast along.
/// </summary>
internal sealed class BroadcastRule : Rule
{
    public override RuleKind Kind => RuleKind.Broadcast;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (plan.Kernel is null) return null;
        var child = m.Child(i);
        if (child is not null)
        {
            // A PReLU layer: the input against the layer's weight, one slope per channel (dim 1) or one for all.
            if (child.Int("numParameters") is not { } count || m.Node(i).Inputs.Count != 1) return null;
            var shape = m.Shapes[i];
            if (count != 1 && (shape.Rank < 2 || !shape[1].IsFixed || shape[1].Size != count)) return null;
            var module = m.Program.Module(child);
            var weightShape = count == 1 || shape.Rank <= 2 ? [count] : new[] { count }.Concat(Enumerable.Repeat(1, shape.Rank - 2)).ToArray();
            return plan with
            {
                Rule = Kind, Module = module, Weight = m.Program.Param(module.Field + ".Weight", module.Path + ".weight"),
                Args = new[] { "new int[] { " + string.Join(", ", weightShape.Select(MethodDraft.I)) + " }" }.ToEquatableArray(),
            };
        }
        if (m.Node(i).Inputs.Count != 2 || m.IsConst(m.In(i, 0)) || m.IsConst(m.In(i, 1))) return null;
        return plan with { Rule = Kind };
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => n.Inputs;

    private static bool IsLayer(NodePlan n) => n.Weight is not null;

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n)
    {
        yield return new("a_shape", "int[]", null, e.ShapeExpr(n.Inputs[0]));
        yield return new("b_shape", "int[]", null, IsLayer(n) ? n.Args[0] : e.ShapeExpr(n.Inputs[1]));
        yield return new("y_shape", "int[]", null, e.ShapeExpr(n.Index));
    }

    private static string B(EmitContext e, NodePlan n) => IsLayer(n) ? EmitContext.Dense(n.Weight!) : e.Value(n.Inputs[1]);

    private static string BShape(EmitContext e, NodePlan n) => e.Scratch(n, "b_shape");

    public override void Forward(EmitContext e, NodePlan n)
    {
        int i = n.Index, a = n.Inputs[0];
        e.W.Comment(IsLayer(n) ? $"{n.Text}: one slope per channel, broadcast" : $"{n.Text}: broadcasting {e.Nodes[a].Shape} with {e.Nodes[n.Inputs[1]].Shape}");
        e.W.Call($"{EmitContext.Kernels}.Broadcast.Forward<{EmitContext.Kernels}.{n.Kernel}>",
            [e.Value(a), e.Scratch(n, "a_shape"), B(e, n), BShape(e, n), e.Value(i), e.Scratch(n, "y_shape")]);
        e.ForwardHooks(n, a);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int i = n.Index, a = n.Inputs[0];
        e.W.Comment($"d {n.Text}: the kernel's partial derivatives, each summed over the dims its operand broadcast along");
        if (n.Module is not null) Hooks.Before(e, n, a);
        string gb = IsLayer(n) ? EmitContext.ParamGradOrNull(n.Weight) : e.GradOrNull(n.Inputs[1]);
        e.W.Call($"{EmitContext.Kernels}.Broadcast.Backward<{EmitContext.Kernels}.{n.Kernel}>",
            [e.Value(a), e.Scratch(n, "a_shape"), B(e, n), BShape(e, n), e.Grad(i), e.Scratch(n, "y_shape"), e.GradOrNull(a), gb]);
        if (n.Module is not null) Hooks.After(e, n, a);
    }
}

/// <summary>Dropout (layer or functional): the mask from the same generator as eager Dropout, the same mask in the backward.</summary>
internal sealed class DropoutRule : Rule
{
    public override RuleKind Kind => RuleKind.Dropout;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        int a = m.In(i, 0);
        if (!m.BatchedLike(i, 0) || m.Features[a] != m.Features[i]) return null;
        if (m.Child(i) is { } child)
        {
            var module = m.Program.Module(child);
            return plan with { Rule = Kind, Module = module, Args = new[] { module.Field + ".P", module.Field + ".Rng" }.ToEquatableArray(),
                Training = module.Field + ".Training" };
        }
        var args = m.Arguments(i);
        if (args.Has("p") && args.Number("p") is null) return null;
        double p = args.Has("p") ? args.Number("p")!.Value : m.Row(i)!.Param("p")!.DefaultNumber!.Value;
        string training;
        var flag = m.Node(i).Scalar("training");
        if (flag is null || (flag.IsKnown && flag.Value == 1)) training = "true";
        else if (flag.IsKnown) training = "false";
        else if (flag.Text is "Training" or "this.Training") training = "_m.Training";
        else return null;
        return plan with { Rule = Kind, Args = new[] { MethodDraft.F64(p), "null" }.ToEquatableArray(), Training = training };
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n) => [new("mask", "float[]", e.Size(n.Index)), new("active", "bool", null)];

    public override void Forward(EmitContext e, NodePlan n)
    {
        int i = n.Index, a = n.Inputs[0];
        e.W.Comment($"{n.Text}: the mask is drawn from the same generator as eager Dropout");
        e.W.WriteLine($"{e.Scratch(n, "active")} = {n.Training};");
        using (e.W.Block($"if ({e.Scratch(n, "active")})"))
        {
            e.W.Call($"{EmitContext.Kernels}.DropoutKernel.Mask", [e.Scratch(n, "mask"), e.Size(i), n.Args[0], n.Args[1]]);
            e.Loop(i, $"{e.Value(i)}[j] = {e.Value(a)}[j] * {e.Scratch(n, "mask")}[j];");
        }
        e.W.WriteLine($"else global::System.Array.Copy({e.Value(a)}, {e.Value(i)}, {e.Size(i)});");
        e.ForwardHooks(n, a);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int i = n.Index, a = n.Inputs[0];
        e.W.Comment($"d {n.Text}: the same mask");
        if (n.Module is not null) Hooks.Before(e, n, a);
        string masked = $"if ({e.Scratch(n, "active")}) for (int j = 0, len = {e.Size(i)}; j < len; j++) {e.Grad(a)}[j] += {e.Grad(i)}[j] * {e.Scratch(n, "mask")}[j];";
        string plain = $"else for (int j = 0, len = {e.Size(i)}; j < len; j++) {e.Grad(a)}[j] += {e.Grad(i)}[j];";
        if (e.InputGuard(a) is { } guard)
        {
            using (e.W.Block($"if ({guard})"))
            {
                e.W.WriteLine(masked);
                e.W.WriteLine(plain);
            }
        }
        else
        {
            e.W.WriteLine(masked);
            e.W.WriteLine(plain);
        }
        if (n.Module is not null) Hooks.After(e, n, a);
    }
}
