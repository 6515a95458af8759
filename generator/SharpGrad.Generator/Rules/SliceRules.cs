using System.Collections.Generic;
using System.Linq;

namespace SharpGrad.Generator.Rules;

/// <summary>A window of an [Outer, Size, Inner] view along one dim: positions Start, Start + Step, … (Count of them).</summary>
internal sealed record WindowGeometry(AxisGeometry Axis, int Start, int Count, int Step) : Geometry
{
    /// <summary>True when the batch is inside the inner block (a window along dim 0 of [L·D, N, H]: inner is n · H).</summary>
    public bool BatchedInner { get; init; }
}

/// <summary>Cat/Stack along one dim of the output seen as [Outer, Total, Inner]: each input's extent along it, in order.</summary>
internal sealed record JoinGeometry(AxisGeometry Axis, EquatableArray<int> Counts) : Geometry;

/// <summary>
/// A slicing op (Narrow, Slice, Select, a part of Chunk/Split/Unbind) along a dim other than the batch's: the axis-copy
/// kernel reads the window (the catalogue's <see cref="ShapeRules.Window(ShapeCall)"/>, the rule eager's arguments are
/// checked against), and its backward adds the gradient back into the window.
/// </summary>
internal sealed class SliceRule : Rule
{
    public override RuleKind Kind => RuleKind.Slice;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        int a = m.In(i, 0);
        if (!m.BatchedLike(i, 0) || m.Row(i) is not { } row) return null;
        var call = new ShapeCall(row, [m.Shapes[a]], m.Arguments(i), Dim.Sym(m.Batch));
        if (ShapeRules.Window(call) is not { } w) return null;
        if (m.Batched[a] && m.BatchAxis[a] == 1)
        {
            // A recurrent layer's states [L·D, N, H] along dim 0: one block of n · H per layer-direction.
            if (w.Dim != 0) return null;
            var s = m.Shapes[a];
            int inner = 1;
            for (int k = 2; k < s.Rank; k++) inner *= s[k].Size;
            return plan with { Rule = Kind, Geometry = new WindowGeometry(new AxisGeometry(1, s[0].Size, inner, false), w.Start, w.Count, w.Step) { BatchedInner = true } };
        }
        if (m.Batched[a] && w.Dim == 0) return null;
        return plan with { Rule = Kind, Geometry = new WindowGeometry(m.Axis(a, w.Dim), w.Start, w.Count, w.Step) };
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    private static string[] Arguments(WindowGeometry g)
        => [$"start: {MethodDraft.I(g.Start)}", $"step: {MethodDraft.I(g.Step)}", $"outer: {EmitContext.Size(g.Axis.Batched, g.Axis.Outer)}",
            $"count: {MethodDraft.I(g.Count)}", $"inner: {EmitContext.Size(g.BatchedInner, g.Axis.Inner)}"];

    public override void Forward(EmitContext e, NodePlan n)
    {
        var g = (WindowGeometry)n.Geometry!;
        e.W.Comment($"{n.Text}: the window's copy");
        e.W.Call($"{EmitContext.Kernels}.AxisCopyKernel.Read",
            [e.Value(n.Inputs[0]), $"srcSize: {MethodDraft.I(g.Axis.Size)}", .. Arguments(g).Take(2), e.Value(n.Index), .. Arguments(g).Skip(2), "accumulate: false"]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        var g = (WindowGeometry)n.Geometry!;
        e.W.Comment($"d {n.Text}: added back into the window");
        e.W.Call($"{EmitContext.Kernels}.AxisCopyKernel.Write",
            [e.Grad(n.Index), e.GradOrNull(n.Inputs[0]), $"dstSize: {MethodDraft.I(g.Axis.Size)}", .. Arguments(g), "accumulate: true"]);
    }
}

/// <summary>
/// Cat / Stack along a dim other than the batch's: the axis-copy kernel writes each input at its offset along the dim;
/// the backward reads each input's gradient back out of its range.
/// </summary>
internal sealed class JoinRule : Rule
{
    public override RuleKind Kind => RuleKind.Join;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        var inputs = m.Node(i).Inputs;
        if (inputs.Count == 0 || Axis.Dim(m, i) is not { } dim) return null;
        int d = MethodDraft.Norm(dim, m.Shapes[i].Rank);
        if (d < 0 || (m.Batched[i] && d == 0)) return null;
        var counts = new List<int>();
        for (int k = 0; k < inputs.Count; k++)
        {
            if (!m.BatchedLike(i, k) || m.IsConst(inputs[k])) return null;
            counts.Add(plan.Variant ? 1 : m.Shapes[inputs[k]][d].Size);
        }
        if (counts.Sum() != m.Shapes[i][d].Size) return null;
        return plan with { Rule = Kind, Geometry = new JoinGeometry(m.Axis(i, d), counts.ToEquatableArray()) };
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override void Forward(EmitContext e, NodePlan n)
    {
        var g = (JoinGeometry)n.Geometry!;
        e.W.Comment($"{n.Text}: each input at its offset along the dim");
        int start = 0;
        for (int k = 0; k < n.Inputs.Count; k++)
        {
            e.W.Call($"{EmitContext.Kernels}.AxisCopyKernel.Write",
                [e.Value(n.Inputs[k]), e.Value(n.Index), $"dstSize: {MethodDraft.I(g.Axis.Size)}", $"start: {MethodDraft.I(start)}", "step: 1",
                 $"outer: {EmitContext.Size(g.Axis.Batched, g.Axis.Outer)}", $"count: {MethodDraft.I(g.Counts[k])}", $"inner: {MethodDraft.I(g.Axis.Inner)}",
                 "accumulate: false"]);
            start += g.Counts[k];
        }
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        var g = (JoinGeometry)n.Geometry!;
        e.W.Comment($"d {n.Text}: each input's range of the gradient");
        int start = 0;
        for (int k = 0; k < n.Inputs.Count; k++)
        {
            e.W.Call($"{EmitContext.Kernels}.AxisCopyKernel.Read",
                [e.Grad(n.Index), $"srcSize: {MethodDraft.I(g.Axis.Size)}", $"start: {MethodDraft.I(start)}", "step: 1", e.GradOrNull(n.Inputs[k]),
                 $"outer: {EmitContext.Size(g.Axis.Batched, g.Axis.Outer)}", $"count: {MethodDraft.I(g.Counts[k])}", $"inner: {MethodDraft.I(g.Axis.Inner)}",
                 "accumulate: true"]);
            start += g.Counts[k];
        }
    }
}
