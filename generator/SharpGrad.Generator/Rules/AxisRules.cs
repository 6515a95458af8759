using System.Collections.Generic;
using System.Linq;

namespace SharpGrad.Generator.Rules;

/// <summary>What the rules that work along one dim share: the dim from the layer or the call.</summary>
internal static class Axis
{
    /// <summary>The node's <c>dim</c> argument (the layer's, or the call's with its row's default), or null when not a constant.</summary>
    public static int? Dim(MethodDraft m, int i)
    {
        var args = m.Arguments(i);
        if (args.Has("dim")) return args.Number("dim") is { } d ? (int)d : null;
        return m.Row(i)?.Param("dim", args.IsLayer)?.DefaultNumber is { } def ? (int)def : null;
    }

    /// <summary>Named kernel arguments for an [outer, size, inner] view (outer counted per batch item, times n).</summary>
    public static string[] Arguments(EmitContext e, int node, AxisGeometry g, string sizeName = "size", int? size = null)
        => [$"outer: {EmitContext.Count(g.Batched, g.Outer, g.OuterText)}", $"{sizeName}: {(size is null ? g.SizeText : null) ?? MethodDraft.I(size ?? g.Size)}",
            $"inner: {g.InnerText ?? MethodDraft.I(g.Inner)}"];
}

/// <summary>Softmax / log-softmax along one dim (not the batch's): the kernel from its output, which the backward reads.</summary>
internal sealed class SoftmaxRule : Rule
{
    public override RuleKind Kind => RuleKind.Softmax;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (!m.BatchedLike(i, 0) || m.Features[m.In(i, 0)] != m.Features[i]) return null;
        if (Axis.Dim(m, i) is not { } dim || MethodDraft.Norm(dim, m.Shapes[i].Rank) is var d && d < 0 || !m.AfterBatch(i, d)) return null;
        var child = m.Child(i);
        // Softmin: the softmax of −x (its row's KernelArguments: the input's scale −1).
        var negated = m.Row(i)?.KernelArguments is [-1.0] ? new[] { "negated" }.ToEquatableArray() : default;
        return plan with { Rule = Kind, Geometry = m.Axis(i, d), Module = child is null ? null : m.Program.Module(child), Args = negated };
    }

    private static string Log(NodePlan n) => $"log: {(n.Variant ? "true" : "false")}";

    private static bool Negated(NodePlan n) => n.Args.Count == 1 && n.Args[0] == "negated";

    private static string Neg => $"{EmitContext.Kernels}.Pointwise.Forward<{EmitContext.Kernels}.NegOp>";

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment(n.Text);
        string x = e.Value(n.Inputs[0]);
        if (Negated(n))
        {
            // softmin(x) = softmax(−x): −x into the output, then the softmax kernel in place.
            e.W.Call(Neg, [x, e.Value(n.Index), e.Size(n.Index)]);
            x = e.Value(n.Index);
        }
        e.W.Call($"{EmitContext.Kernels}.SoftmaxKernel.Forward", [x, e.Value(n.Index), .. Axis.Arguments(e, n.Index, (AxisGeometry)n.Geometry!), Log(n)]);
        e.ForwardHooks(n, n.Inputs[0]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        e.W.Comment($"d {n.Text}: from the output{(Negated(n) ? " (softmin: the softmax gradient of −gy, gy restored after)" : "")}");
        if (n.Module is not null) Hooks.Before(e, n, a);
        if (Negated(n)) e.W.Call(Neg, [e.Grad(n.Index), e.Grad(n.Index), e.Size(n.Index)]);
        e.W.Call($"{EmitContext.Kernels}.SoftmaxKernel.Backward",
            [e.Value(n.Index), e.Grad(n.Index), e.GradOrNull(a), .. Axis.Arguments(e, n.Index, (AxisGeometry)n.Geometry!), Log(n)]);
        if (Negated(n)) e.W.Call(Neg, [e.Grad(n.Index), e.Grad(n.Index), e.Size(n.Index)]);
        if (n.Module is not null) Hooks.After(e, n, a);
    }
}

/// <summary>GLU along one dim (not the batch's): the input's two halves, a · σ(b).</summary>
internal sealed class GluRule : Rule
{
    public override RuleKind Kind => RuleKind.Glu;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        int a = m.In(i, 0);
        if (!m.BatchedLike(i, 0) || Axis.Dim(m, i) is not { } dim) return null;
        int d = MethodDraft.Norm(dim, m.Shapes[a].Rank);
        // The halved dim must be fixed and even (a symbolic one, a sequence length, may be odd at run time: eager's error).
        if (d < 0 || !m.AfterBatch(a, d) || !m.Shapes[a][d].IsFixed || m.Shapes[a][d].Size % 2 != 0) return null;
        var child = m.Child(i);
        return plan with { Rule = Kind, Geometry = m.Axis(a, d), Module = child is null ? null : m.Program.Module(child) };
    }

    private static string[] Arguments(EmitContext e, NodePlan n)
    {
        var g = (AxisGeometry)n.Geometry!;
        return Axis.Arguments(e, n.Index, g, "half", g.Size / 2);
    }

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: the first half times the sigmoid of the second");
        e.W.Call($"{EmitContext.Kernels}.GluKernel.Forward", [e.Value(n.Inputs[0]), e.Value(n.Index), .. Arguments(e, n)]);
        e.ForwardHooks(n, n.Inputs[0]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        e.W.Comment($"d {n.Text}: from the input's halves");
        if (n.Module is not null) Hooks.Before(e, n, a);
        e.W.Call($"{EmitContext.Kernels}.GluKernel.Backward", [e.Value(a), e.Grad(n.Index), e.GradOrNull(a), .. Arguments(e, n)]);
        if (n.Module is not null) Hooks.After(e, n, a);
    }
}

/// <summary>A sum or mean over a contiguous range of dims (the batch's too): the reduction kernel, and its spread back.</summary>
internal sealed class ReduceRule : Rule
{
    public override RuleKind Kind => RuleKind.Reduce;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
        => Reduced(m, i) is { } geometry ? plan with { Rule = Kind, Geometry = geometry } : null;

    /// <summary>The spread writes every element of its input's gradient (each is scale · one element of the result's).</summary>
    public override bool OverwritesInputGrad(NodePlan n, int slot) => slot == 0;

    /// <summary>
    /// The geometry of node <paramref name="i"/>'s reduction over its <c>dims</c>/<c>dim</c> argument (all dims when none):
    /// adjacent dims, over the batch (a non-batched result) or not; null otherwise. Shared with <see cref="VarianceRule"/>.
    /// The counts leave the batch's dim out (the kernel's arguments put n where it is): over dims after the batch, n·outer
    /// blocks; over the batch, n·size; over dims before it (the steps of a batch-second [T, N, E], <c>Mean(0)</c>), the batch in
    /// the inner count (<see cref="ReduceGeometry.BatchInner"/>).
    /// </summary>
    internal static ReduceGeometry? Reduced(MethodDraft m, int i)
    {
        int a = m.In(i, 0);
        var inS = m.Shapes[a];
        int rank = inS.Rank;
        var args = m.Arguments(i);
        IReadOnlyList<int>? given = args.Has("dims") ? args.Ints("dims") : args.Has("dim") ? args.Ints("dim") : [];
        // A value without the batch (an unbatched recurrent layer's states h_n [L·D, H], `h.Sum(0)`): a reduction of its own elements.
        if (given is null || (!m.Batched[a] && (m.Batched[i] || !m.Live(a) || m.Nodes[a].Rule is RuleKind.Member or RuleKind.Input))) return null;
        var dims = given.Count == 0 ? Enumerable.Range(0, rank).ToList() : given.Select(d => MethodDraft.Norm(d, rank)).Distinct().OrderBy(d => d).ToList();
        if (dims.Count == 0 || dims.Any(d => d < 0) || dims[dims.Count - 1] - dims[0] != dims.Count - 1) return null;
        int batch = m.BatchDim(a);
        bool overBatch = dims.Contains(batch);
        if (m.Batched[a] && overBatch == m.Batched[i]) return null;
        int first = dims[0], last = dims[dims.Count - 1] + 1;
        return new ReduceGeometry(overBatch, MethodDraft.Product(inS, 0, first, batch), MethodDraft.Product(inS, first, last, batch), MethodDraft.Product(inS, last, rank, batch))
        {
            OuterText = m.ProductText(inS, 0, first, batch), SizeText = m.ProductText(inS, first, last, batch), InnerText = m.ProductText(inS, last, rank, batch),
            BatchInner = !overBatch && batch >= last,
        };
    }

    /// <summary>The kernel's outer and inner counts of a reduction over dims beside the batch: the batch's n in the outer count, or in the inner (<see cref="ReduceGeometry.BatchInner"/>).</summary>
    internal static (string Outer, string Inner) BesideBatch(ReduceGeometry g, bool batched)
        => (EmitContext.Count(batched && !g.BatchInner, g.Outer, g.OuterText), EmitContext.Count(batched && g.BatchInner, g.Inner, g.InnerText));

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    private static string[] Arguments(EmitContext e, NodePlan n)
    {
        var g = (ReduceGeometry)n.Geometry!;
        var (outer, inner) = g.OverBatch ? (g.OuterText ?? MethodDraft.I(g.Outer), g.InnerText ?? MethodDraft.I(g.Inner)) : BesideBatch(g, e.Nodes[n.Inputs[0]].Batched);
        string size = g.OverBatch ? EmitContext.Count(true, g.Size, g.SizeText) : g.SizeText ?? MethodDraft.I(g.Size);
        string scale = n.Variant ? $"1f / ({size})" : "1f";
        return [$"outer: {outer}", $"size: {size}", $"inner: {inner}", $"scale: {scale}"];
    }

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment(n.Text);
        e.W.Call($"{EmitContext.Kernels}.ReduceKernel.Sum", [e.Value(n.Inputs[0]), e.Value(n.Index), .. Arguments(e, n)]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"d {n.Text}: spread back over the reduced dims");
        string[] overwrite = e.OverwritesInput(n, 0) ? ["overwrite: true"] : [];
        e.W.Call($"{EmitContext.Kernels}.ReduceKernel.Spread", [e.Grad(n.Index), e.GradOrNull(n.Inputs[0]), .. Arguments(e, n), .. overwrite]);
    }
}

/// <summary>
/// <c>x.Var(dims, correction, keepDim)</c> / <c>Std</c> (and the <c>unbiased</c> overloads) over adjacent dims other than
/// the batch's: the variance kernel over [n·outer, size, inner], the one eager Var/Std calls; its backward reads x and the result.
/// </summary>
internal sealed class VarianceRule : Rule
{
    public override RuleKind Kind => RuleKind.Variance;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        var args = m.Arguments(i);
        double? correction = args.Has("correction") ? args.Number("correction") : args.Has("unbiased") ? args.Number("unbiased") : 1;
        // Over the batch dim, or over dims that are not adjacent: not emitted (a graph break naming the call).
        if (correction is not { } c || ReduceRule.Reduced(m, i) is not { OverBatch: false } geometry) return null;
        return plan with { Rule = Kind, Geometry = geometry, Args = new[] { MethodDraft.F64(c) }.ToEquatableArray() };
    }

    private static string[] Arguments(EmitContext e, NodePlan n)
    {
        var g = (ReduceGeometry)n.Geometry!;
        var (outer, inner) = ReduceRule.BesideBatch(g, e.Nodes[n.Inputs[0]].Batched);
        return [$"outer: {outer}", $"size: {g.SizeText ?? MethodDraft.I(g.Size)}", $"inner: {inner}", $"correction: {n.Args[0]}", $"std: {(n.Variant ? "true" : "false")}"];
    }

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment(n.Text);
        e.W.Call($"{EmitContext.Kernels}.VarianceKernel.Forward", [e.Value(n.Inputs[0]), e.Value(n.Index), .. Arguments(e, n)]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"d {n.Text}: 2 (x − mean) / (size − correction) times the gradient (over 2·std for Std)");
        e.W.Call($"{EmitContext.Kernels}.VarianceKernel.Backward", [e.Value(n.Inputs[0]), e.Value(n.Index), e.Grad(n.Index), e.GradOrNull(n.Inputs[0]), .. Arguments(e, n)]);
    }
}

/// <summary><c>x.Max(dim).Values</c> / <c>Min</c>: the extremes and their positions (kept for the backward, which scatters to them).</summary>
internal sealed class ExtremeRule : Rule
{
    public override RuleKind Kind => RuleKind.Extreme;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        return AlongDim(m, i, plan, Kind);
    }

    /// <summary>The plan of an extreme along a constant dim other than the batch's (batched in and out), for <paramref name="kind"/>; null otherwise.</summary>
    internal static NodePlan? AlongDim(MethodDraft m, int i, NodePlan plan, RuleKind kind)
    {
        int a = m.In(i, 0);
        if (Axis.Dim(m, i) is not { } dim || !m.Batched[a] || !m.Batched[i]) return null;
        int d = MethodDraft.Norm(dim, m.Shapes[a].Rank);
        if (d < 0 || !m.AfterBatch(a, d)) return null;
        return plan with { Rule = kind, Geometry = m.Axis(a, d) };
    }

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n) => [new("indices", "long[]", e.Size(n.Index))];

    public override void Forward(EmitContext e, NodePlan n) => EmitArgExtreme(e, n, "the positions of the extremes are kept for the backward");

    /// <summary>The extremes into the node's buffer and their positions into its <c>indices</c> scratch (eager's kernel).</summary>
    internal static void EmitArgExtreme(EmitContext e, NodePlan n, string what)
    {
        e.W.Comment($"{n.Text}: {what}");
        e.W.Call($"{EmitContext.Kernels}.ReduceKernel.ArgExtreme",
            [e.Value(n.Inputs[0]), e.Value(n.Index), e.Scratch(n, "indices"), .. Axis.Arguments(e, n.Index, (AxisGeometry)n.Geometry!), $"max: {(n.Variant ? "true" : "false")}"]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"d {n.Text}: to the positions of the extremes");
        e.W.Call($"{EmitContext.Kernels}.ReduceKernel.ScatterExtreme",
            [e.Grad(n.Index), e.Scratch(n, "indices"), e.GradOrNull(n.Inputs[0]), .. Axis.Arguments(e, n.Index, (AxisGeometry)n.Geometry!)]);
    }
}

/// <summary>
/// <c>x.ArgMax(dim, keepDim)</c> / <c>ArgMin</c>, <c>x.Max(dim).Indices</c>, the second element of <c>var (v, i) = x.Max(dim)</c>,
/// and <c>x.ArgMax()</c> of all elements (the batch's too): the positions of the extremes by the kernel eager calls
/// (<c>ReduceKernel.ArgExtreme</c>, first index on ties, NaN wins), kept as int64 in a scratch array. An int64 value is a
/// result of the program (returned as eager's Int64 tensor), never read by other compiled code, never differentiated;
/// the extremes themselves go to the node's float buffer, which nothing reads.
/// </summary>
internal sealed class ArgExtremeRule : Rule
{
    public override RuleKind Kind => RuleKind.ArgExtreme;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        int a = m.In(i, 0);
        if (!m.Batched[a]) return null;
        if (!m.Arguments(i).Has("dim"))
        {
            // Of the flattened tensor: one row of n · features elements, a 0-d result (all ones with keepDim).
            if (m.Batched[i] || m.Features[i] != 1 || m.IsSymbolic(i)) return null;
            return plan with { Rule = Kind, Geometry = new AxisGeometry(1, m.Features[a], 1, false) { SizeText = EmitContext.Size(true, m.Features[a], m.Symbolic[a]) } };
        }
        return ExtremeRule.AlongDim(m, i, plan, Kind);
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n) => [new("indices", "long[]", e.Size(n.Index))];

    /// <summary>The int64 value: the scratch array of the positions (the program's result is a copy of it).</summary>
    public override string? Int64Value(EmitContext e, NodePlan n) => e.Scratch(n, "indices");

    public override void Forward(EmitContext e, NodePlan n) => ExtremeRule.EmitArgExtreme(e, n, "the int64 positions of the extremes");

    public override void Backward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: int64 positions, no gradient");
    }
}

/// <summary>
/// <c>x.Max()</c> / <c>Min()</c>: the extreme of all elements (the batch's too) by the kernel eager's backward calls; the
/// backward splits the gradient evenly among the elements equal to it (PyTorch's <c>max()</c>), so it reads x and the result.
/// </summary>
internal sealed class ExtremeAllRule : Rule
{
    public override RuleKind Kind => RuleKind.ExtremeAll;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
        => ReduceRule.Reduced(m, i) is { OverBatch: true, Outer: 1, Inner: 1 } geometry ? plan with { Rule = Kind, Geometry = geometry } : null;

    private static string Size(NodePlan n) => $"size: {EmitContext.Size(true, ((ReduceGeometry)n.Geometry!).Size)}";

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment(n.Text);
        e.W.Call($"{EmitContext.Kernels}.ReduceKernel.ExtremeAll", [e.Value(n.Inputs[0]), e.Value(n.Index), Size(n), $"max: {(n.Variant ? "true" : "false")}"]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"d {n.Text}: split evenly among the elements equal to the result");
        e.W.Call($"{EmitContext.Kernels}.ReduceKernel.SpreadExtremeAll", [e.Value(n.Inputs[0]), e.Value(n.Index), e.Grad(n.Index), e.GradOrNull(n.Inputs[0]), Size(n)]);
    }
}

/// <summary>
/// A Transpose/Permute, materialised; the backward applies the inverse permutation. The batch dim stays in dim 0 or 1: moving
/// it between them (<c>x.Transpose(0, 1)</c>, [N, T, E] ↔ [T, N, E]) feeds and reads batch-second (<c>batch_first=False</c>) layers.
/// </summary>
internal sealed class PermuteRule : Rule
{
    public override RuleKind Kind => RuleKind.Permute;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        int a = m.In(i, 0);
        int rank = m.Shapes[a].Rank;
        var args = m.Arguments(i);
        int[]? perm = args.Has("dims")
            ? args.Ints("dims") is { } dims ? ShapeRules.Permutation(dims, rank) : null
            : args.Number("dim0") is { } d0 && args.Number("dim1") is { } d1 ? ShapeRules.TransposePermutation(rank, (int)d0, (int)d1) : null;
        if (perm is null || (m.Batched[a] && System.Array.IndexOf(perm, m.BatchAxis[a]) is not (0 or 1))) return null;
        return plan with { Rule = Kind, Geometry = new PermuteGeometry(perm.ToEquatableArray()) };
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override (string Type, string[] Arguments)? Constant(NodePlan n)
        => ("int[]", ((PermuteGeometry)n.Geometry!).Permutation.Select(MethodDraft.I).ToArray());

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n) => [new("input_shape", "int[]", null, e.ShapeExpr(n.Inputs[0]))];

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: the permuted copy");
        e.W.Call($"{EmitContext.Support}.PermuteForward", [e.Value(n.Inputs[0]), e.Scratch(n, "input_shape"), e.Geometry(n), e.Value(n.Index)]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"d {n.Text}: the inverse permutation");
        e.W.Call($"{EmitContext.Support}.PermuteBackward", [e.Grad(n.Index), e.Scratch(n, "input_shape"), e.Geometry(n), e.GradOrNull(n.Inputs[0])]);
    }
}
