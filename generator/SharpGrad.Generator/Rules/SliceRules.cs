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

    /// <summary>
    /// For a window along a dim read at each call (a length T): the start as C# (<c>_sym_T - 1</c> for Select(1, -1)), and
    /// the window is checked against the dim's size at each call (<c>CompiledSupport.CheckWindow</c>). Null along a fixed dim.
    /// </summary>
    public string? StartText { get; init; }
}

/// <summary>Cat/Stack along one dim of the output seen as [Outer, Total, Inner]: each input's extent along it, in order.</summary>
internal sealed record JoinGeometry(AxisGeometry Axis, EquatableArray<int> Counts) : Geometry
{
    /// <summary>Each input's size along the dim and the output's (last) as C# text: a constant, or a size bound when the module is built (<c>(2 * _sym_c)</c>).</summary>
    public EquatableArray<string> Sizes { get; init; }
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
        if (m.Row(i) is not { } row) return null;
        var call = new ShapeCall(row, [m.Shapes[a]], m.Arguments(i), Dim.Sym(m.Batch));
        if (ShapeRules.Window(call) is not { } w) return null;
        if (m.Batched[a] && !m.Batched[i] && w.Dim == 0) return BatchRow(m, a, i, plan, w);
        if (!m.BatchedLike(i, 0)) return null;
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
            // L·D bound when the module is built (a constructor-sized num_layers: 2*layers): a negative start counts from its
            // end, and the window is checked against it at each call, as along a length read at each call.
            string? layersText = null;
            if (!s[0].IsFixed && (layersText = DimText(m, s[0])) is null) return null;
            string? layersStart = layersText is null ? null : w.Start >= 0 ? MethodDraft.I(w.Start) : $"{layersText} - {MethodDraft.I(-w.Start)}";
            return plan with
            {
                Rule = Kind,
                Geometry = new WindowGeometry(new AxisGeometry(1, s[0].Size, inner, false) { SizeText = layersText }, w.Start, w.Count, w.Step)
                {
                    BatchedInner = true, InnerText = symbolic ? string.Join(" * ", texts) : null, StartText = layersStart,
                },
            };
        }
        if (m.Batched[a] && w.Dim == 0) return null;
        var axis = m.Axis(a, w.Dim);
        // Along a symbolic dim a negative start counts from its end (the size at this call).
        string? startText = axis.SizeText is not { } size ? null : w.Start >= 0 ? MethodDraft.I(w.Start) : $"{size} - {MethodDraft.I(-w.Start)}";
        return plan with { Rule = Kind, Geometry = new WindowGeometry(axis, w.Start, w.Count, w.Step) { StartText = startText } };
    }

    /// <summary>
    /// <c>y.Select(0, k)</c> along the batch dim: one row of the batch, a value without the batch (the last step <c>y.Select(0, -1)</c>
    /// of an unbatched RNN/LSTM/GRU output [T, D·H], whose rows are the program's batch: [D·H], as PyTorch's <c>y[-1]</c>). The row
    /// is copied out of the n rows (k counted from the end when negative, checked against n at each call as eager checks it); its
    /// gradient is added back into that row. Any other window of the batch (Narrow, Slice, a part) is a batch of another size: a break
    /// (<c>Planner.BatchWindow</c>).
    /// </summary>
    private NodePlan? BatchRow(MethodDraft m, int a, int i, NodePlan plan, AxisWindow w)
    {
        var s = m.Shapes[a];
        if (m.BatchAxis[a] != 0 || m.Batched[i] || !w.Squeeze || w.Count != 1 || m.Shapes[i].Rank != s.Rank - 1 || m.IsSymbolic(a)) return null;
        string? inner = m.ProductText(s, 1, s.Rank);
        return plan with
        {
            Rule = Kind,
            Geometry = new WindowGeometry(new AxisGeometry(1, 1, MethodDraft.Product(s, 1, s.Rank), false) { SizeText = "n", InnerText = inner }, w.Start, 1, 1)
            {
                StartText = w.Start >= 0 ? MethodDraft.I(w.Start) : $"n - {MethodDraft.I(-w.Start)}",
            },
        };
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    private static string[] Arguments(WindowGeometry g)
        => [$"start: {g.StartText ?? MethodDraft.I(g.Start)}", $"step: {MethodDraft.I(g.Step)}", $"outer: {EmitContext.Count(g.Axis.Batched, g.Axis.Outer, g.Axis.OuterText)}",
            $"count: {MethodDraft.I(g.Count)}", $"inner: {(g.InnerText is { } text ? (g.BatchedInner ? "n * " : "") + text : EmitContext.Count(g.BatchedInner, g.Axis.Inner, g.Axis.InnerText))}"];

    /// <summary>The size of the sliced dim as C# (<c>8</c>, or <c>_sym_T</c> for a window of a dim read at each call).</summary>
    private static string SourceSize(WindowGeometry g) => g.Axis.SizeText ?? MethodDraft.I(g.Axis.Size);

    public override void Forward(EmitContext e, NodePlan n)
    {
        var g = (WindowGeometry)n.Geometry!;
        if (g.StartText is { } start)
        {
            e.W.Call($"{EmitContext.Support}.CheckWindow", [start, MethodDraft.I(g.Count), SourceSize(g), CompiledEmitter.Literal(n.Text), $"select: {(n.Shape!.Rank < e.Nodes[n.Inputs[0]].Shape!.Rank ? "true" : "false")}"]);
        }
        e.W.Comment($"{n.Text}: the window's copy");
        e.W.Call($"{EmitContext.Kernels}.AxisCopyKernel.Read",
            [e.Value(n.Inputs[0]), $"srcSize: {SourceSize(g)}", .. Arguments(g).Take(2), e.Value(n.Index), .. Arguments(g).Skip(2), "accumulate: false"]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        var g = (WindowGeometry)n.Geometry!;
        e.W.Comment($"d {n.Text}: added back into the window");
        e.W.Call($"{EmitContext.Kernels}.AxisCopyKernel.Write",
            [e.Grad(n.Index), e.GradOrNull(n.Inputs[0]), $"dstSize: {SourceSize(g)}", .. Arguments(g), "accumulate: true"]);
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
        var sizes = new List<string>();
        var shape = m.Shapes[i];
        // Sizes bound when the module is built (Cat of [N, 2*c, 8, 8] and [N, 2*c, 8, 8]) along the dim, and symbols in the
        // other dims (a length T read at each call: Cat of [N, T, 8] and [N, T, 4] along dim 2) when every input has the
        // output's very symbol there (two lengths T and T2 may differ at run time: not compiled).
        for (int k = 0; k < inputs.Count; k++)
        {
            if (!m.BatchedLike(i, k) || m.IsConst(inputs[k])) return null;
            var input = m.Shapes[inputs[k]];
            for (int j = m.Batched[i] ? 1 : 0; j < shape.Rank; j++)
            {
                if (j != d && !shape[j].IsFixed && input[plan.Variant && j > d ? j - 1 : j] != shape[j]) return null;   // Stack: a new dim at d
            }
            var along = plan.Variant ? Dim.Of(1) : m.Shapes[inputs[k]][d];
            counts.Add(along.Size);
            sizes.Add(SizeSymbols.Csharp(along));
        }
        if (shape[d].IsFixed && counts.Sum() != shape[d].Size) return null;
        sizes.Add(SizeSymbols.Csharp(shape[d]));
        return plan with { Rule = Kind, Geometry = new JoinGeometry(m.Axis(i, d), counts.ToEquatableArray()) { Sizes = sizes.ToEquatableArray() } };
    }

    /// <summary>Where input <paramref name="k"/> starts along the dim, as C# text (<c>0</c>, <c>8</c>, <c>(2 * _sym_c)</c>).</summary>
    private static string Start(JoinGeometry g, int k)
    {
        int constant = 0;
        var symbolic = new List<string>();
        for (int j = 0; j < k; j++)
        {
            if (int.TryParse(g.Sizes[j], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int c)) constant += c;
            else symbolic.Add(g.Sizes[j]);
        }
        if (constant != 0 || symbolic.Count == 0) symbolic.Insert(0, MethodDraft.I(constant));
        return string.Join(" + ", symbolic);
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override void Forward(EmitContext e, NodePlan n)
    {
        var g = (JoinGeometry)n.Geometry!;
        e.W.Comment($"{n.Text}: each input at its offset along the dim");
        for (int k = 0; k < n.Inputs.Count; k++)
        {
            e.W.Call($"{EmitContext.Kernels}.AxisCopyKernel.Write",
                [e.Value(n.Inputs[k]), e.Value(n.Index), $"dstSize: {g.Sizes[g.Sizes.Count - 1]}", $"start: {Start(g, k)}", "step: 1",
                 $"outer: {EmitContext.Count(g.Axis.Batched, g.Axis.Outer, g.Axis.OuterText)}", $"count: {g.Sizes[k]}", $"inner: {g.Axis.InnerText ?? MethodDraft.I(g.Axis.Inner)}",
                 "accumulate: false"]);
        }
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        var g = (JoinGeometry)n.Geometry!;
        e.W.Comment($"d {n.Text}: each input's range of the gradient");
        for (int k = 0; k < n.Inputs.Count; k++)
        {
            e.W.Call($"{EmitContext.Kernels}.AxisCopyKernel.Read",
                [e.Grad(n.Index), $"srcSize: {g.Sizes[g.Sizes.Count - 1]}", $"start: {Start(g, k)}", "step: 1", e.GradOrNull(n.Inputs[k]),
                 $"outer: {EmitContext.Count(g.Axis.Batched, g.Axis.Outer, g.Axis.OuterText)}", $"count: {g.Sizes[k]}", $"inner: {g.Axis.InnerText ?? MethodDraft.I(g.Axis.Inner)}",
                 "accumulate: true"]);
        }
    }
}
