using System.Collections.Generic;
using System.Linq;

namespace SharpGrad.Generator.Rules;

/// <summary>A window of an [Outer, Size, Inner] view along one dim: positions Start, Start + Step, … (Count of them).</summary>
internal sealed record WindowGeometry(AxisGeometry Axis, int Start, int Count, int Step) : Geometry
{
    /// <summary>True when the batch is inside the inner block (a window along dim 0 of [L·D, N, H]: inner is n · H).</summary>
    public bool BatchedInner { get; init; }

    /// <summary>The inner block as C# text when it has sizes bound when the module is built (<c>_sym_hidden</c>), else null.</summary>
    public string? InnerText { get; init; }
}

/// <summary>Cat/Stack along one dim of the output seen as [Outer, Total, Inner]: each input's extent along it, in order.</summary>
internal sealed record JoinGeometry(AxisGeometry Axis, EquatableArray<int> Counts) : Geometry
{
    /// <summary>
    /// With sizes bound when the module is built (Cat of two [N, hidden] into [N, 2·hidden]): the joined size, each input's
    /// extent and the inner block as C# text (null: the ints above).
    /// </summary>
    public EquatableArray<string> Texts { get; init; }
}

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
            var texts = new List<string>();
            for (int k = 2; k < s.Rank; k++)
            {
                if (DimText(m, s[k]) is not { } text) return null;
                texts.Add(text);
                inner *= s[k].Size;
            }
            bool symbolic = s.Dims.Skip(2).Any(d => !d.IsFixed);
            return plan with
            {
                Rule = Kind,
                Geometry = new WindowGeometry(new AxisGeometry(1, s[0].Size, inner, false), w.Start, w.Count, w.Step)
                {
                    BatchedInner = true, InnerText = symbolic ? string.Join(" * ", texts) : null,
                },
            };
        }
        if (m.Batched[a] && w.Dim == 0) return null;
        return plan with { Rule = Kind, Geometry = new WindowGeometry(m.Axis(a, w.Dim), w.Start, w.Count, w.Step) };
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    private static string[] Arguments(WindowGeometry g)
        => [$"start: {MethodDraft.I(g.Start)}", $"step: {MethodDraft.I(g.Step)}", $"outer: {EmitContext.Size(g.Axis.Batched, g.Axis.Outer)}",
            $"count: {MethodDraft.I(g.Count)}", $"inner: {(g.InnerText is { } text ? (g.BatchedInner ? "n * " : "") + text : EmitContext.Size(g.BatchedInner, g.Axis.Inner))}"];

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
        var shape = m.Shapes[i];
        if (shape.Dims.Skip(m.Batched[i] ? 1 : 0).Any(x => !x.IsFixed))
        {
            // Sizes bound when the module is built: Cat along a dim whose extents are symbols (and the dims after it), with
            // fixed dims before it; the extents' symbols add up to the output's (checked where the build can prove it).
            if (plan.Variant || shape.Dims.Skip(m.Batched[i] ? 1 : 0).Take(d - (m.Batched[i] ? 1 : 0)).Any(x => !x.IsFixed)) return null;
            var texts = new List<string>();
            if (DimText(m, shape[d]) is not { } size) return null;
            texts.Add(size);
            foreach (var k in inputs)
            {
                if (DimText(m, m.Shapes[k][d]) is not { } count) return null;
                texts.Add(count);
            }
            var inner = new List<string>();
            for (int k = d + 1; k < shape.Rank; k++)
            {
                if (DimText(m, shape[k]) is not { } text) return null;
                inner.Add(text);
            }
            texts.Add(inner.Count == 0 ? "1" : string.Join(" * ", inner));
            int outer = 1;
            for (int k = m.Batched[i] ? 1 : 0; k < d; k++) outer *= shape[k].Size;
            return plan with { Rule = Kind, Geometry = new JoinGeometry(new AxisGeometry(outer, 0, 0, m.Batched[i]), counts.ToEquatableArray()) { Texts = texts.ToEquatableArray() } };
        }
        if (counts.Sum() != m.Shapes[i][d].Size) return null;
        return plan with { Rule = Kind, Geometry = new JoinGeometry(m.Axis(i, d), counts.ToEquatableArray()) };
    }

    /// <summary>The joined size, input <paramref name="k"/>'s extent, its start and the inner block as C# text.</summary>
    private static (string Size, string Count, string Start, string Inner) Extents(JoinGeometry g, int k)
    {
        if (g.Texts.IsEmpty)
        {
            int start = 0;
            for (int j = 0; j < k; j++) start += g.Counts[j];
            return (MethodDraft.I(g.Axis.Size), MethodDraft.I(g.Counts[k]), MethodDraft.I(start), MethodDraft.I(g.Axis.Inner));
        }
        string begin = k == 0 ? "0" : string.Join(" + ", Enumerable.Range(1, k).Select(j => g.Texts[j]));
        return (g.Texts[0], g.Texts[k + 1], begin, g.Texts[g.Texts.Count - 1]);
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override void Forward(EmitContext e, NodePlan n)
    {
        var g = (JoinGeometry)n.Geometry!;
        e.W.Comment($"{n.Text}: each input at its offset along the dim");
        for (int k = 0; k < n.Inputs.Count; k++)
        {
            var (size, count, start, inner) = Extents(g, k);
            e.W.Call($"{EmitContext.Kernels}.AxisCopyKernel.Write",
                [e.Value(n.Inputs[k]), e.Value(n.Index), $"dstSize: {size}", $"start: {start}", "step: 1",
                 $"outer: {EmitContext.Size(g.Axis.Batched, g.Axis.Outer)}", $"count: {count}", $"inner: {inner}", "accumulate: false"]);
        }
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        var g = (JoinGeometry)n.Geometry!;
        e.W.Comment($"d {n.Text}: each input's range of the gradient");
        for (int k = 0; k < n.Inputs.Count; k++)
        {
            var (size, count, start, inner) = Extents(g, k);
            e.W.Call($"{EmitContext.Kernels}.AxisCopyKernel.Read",
                [e.Grad(n.Index), $"srcSize: {size}", $"start: {start}", "step: 1", e.GradOrNull(n.Inputs[k]),
                 $"outer: {EmitContext.Size(g.Axis.Batched, g.Axis.Outer)}", $"count: {count}", $"inner: {inner}", "accumulate: true"]);
        }
    }
}
