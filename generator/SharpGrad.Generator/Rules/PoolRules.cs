using System.Collections.Generic;

namespace SharpGrad.Generator.Rules;

/// <summary>
/// What the pooling rules share: the window read from the layer's constructor arguments (a child's Forward) or from the
/// call's own (<c>Functional.MaxPool2d(x, 2)</c>), with the row's defaults, and the geometry constant.
/// </summary>
internal abstract class PoolRuleBase : Rule
{
    /// <summary>
    /// An (H, W) argument of node <paramref name="i"/> (a single int is used for both): the default when absent or
    /// null, null when given but not a constant.
    /// </summary>
    protected internal static (int H, int W)? PairOr(MethodDraft m, int i, string name, (int, int) fallback)
    {
        if (m.Child(i) is { } child)
        {
            return child.Arg(name) switch
            {
                null => fallback,
                { IsKnown: true, Values.Count: 0 } => fallback,
                _ => child.Pair(name),
            };
        }
        return m.Node(i).Scalar(name) switch
        {
            null => fallback,
            { Ints: { Count: 1 } v } => (v[0], v[0]),
            { Ints: { Count: 2 } v } => (v[0], v[1]),
            { Ints.Count: > 2 } => null,
            { IsKnown: true, String: null } s when s.Value == System.Math.Floor(s.Value) => ((int)s.Value, (int)s.Value),
            { IsKnown: false, Text.Length: 0 } => fallback,   // a parameter left at its default null (`int? stride = null`)
            _ => null,
        };
    }

    /// <summary>A bool argument of node <paramref name="i"/>: the default when absent, null when given but not a constant.</summary>
    protected static bool? FlagOr(MethodDraft m, int i, string name, bool fallback)
    {
        if (m.Child(i) is { } child)
        {
            return child.Arg(name) switch
            {
                null => fallback,
                { IsKnown: true } a => (a.Number ?? (a.Values.Count == 1 ? a.Values[0] : 0)) != 0,
                _ => null,
            };
        }
        return m.Node(i).Scalar(name) switch
        {
            null => fallback,
            { IsKnown: true } s => s.Value != 0,
            { Text.Length: 0 } => fallback,
            _ => null,
        };
    }

    /// <summary>The child's module (its hooks run around the pool), or null for a Functional call.</summary>
    protected static ModuleRef? ModuleOf(MethodDraft m, int i) => m.Child(i) is { } child ? m.Program.Module(child) : null;

    /// <summary>The window's spatial rank: 1 for the 1-d rows (MaxPool1d, AvgPool1d: their window arguments are ints), else 2.</summary>
    protected static int Spatial(MethodDraft m, int i) => m.Row(i)?.Param("kernelSize", layer: true)?.Kind == ParamKind.Int ? 1 : 2;

    /// <summary>The input and output shapes are [n, C, H, W] (batched, rank 4), or [n, C, L] for a 1-d pool.</summary>
    /// <remarks>
    /// The spatial sizes are constants; the channels may be a size bound when the module is built (the planes of a
    /// constructor-sized block), the pool passes them through.
    /// </remarks>
    protected static bool Fits(MethodDraft m, int i)
    {
        int rank = Spatial(m, i) + 2;
        var inS = m.Shapes[m.In(i, 0)];
        var outS = m.Shapes[i];
        if (!m.Batched[m.In(i, 0)] || inS.Rank != rank || outS.Rank != rank || DimText(m, inS[1]) is null) return false;
        for (int d = 2; d < rank; d++)
        {
            if (!inS[d].IsFixed || !outS[d].IsFixed) return false;
        }
        return true;
    }

    /// <summary>The channel count of the pool's input as C# text (checked by <see cref="Fits"/>).</summary>
    private static string Channels(MethodDraft m, int i) => DimText(m, m.Shapes[m.In(i, 0)][1])!;

    /// <summary>
    /// The pool's geometry over [C, H, W] planes; a 1-d pool is the 2-d pool of a [C, 1, L] view (as eager runs it), its
    /// window (1, k), stride (1, s), padding (0, p) and dilation (1, d).
    /// </summary>
    protected static PoolGeometry Geometry(MethodDraft m, int i, (int H, int W) k, (int H, int W) st, (int H, int W) pad, (int H, int W) dil,
        bool ceilMode, bool countIncludePad)
    {
        var inS = m.Shapes[m.In(i, 0)];
        var outS = m.Shapes[i];
        return Spatial(m, i) == 1
            ? new PoolGeometry(Channels(m, i), 1, inS[2].Size, 1, outS[2].Size, 1, k.H, 1, st.H, 0, pad.H, 1, dil.H, ceilMode, countIncludePad)
            : new PoolGeometry(Channels(m, i), inS[2].Size, inS[3].Size, outS[2].Size, outS[3].Size, k.H, k.W, st.H, st.W, pad.H, pad.W, dil.H, dil.W,
                ceilMode, countIncludePad);
    }

    /// <summary>An adaptive pool (average or max): the input's and output's planes, no window (it follows from the two sizes).</summary>
    internal static NodePlan? PlanAdaptive(MethodDraft m, int i, NodePlan plan, RuleKind kind)
    {
        if (!Fits(m, i)) return null;
        var inS = m.Shapes[m.In(i, 0)];
        var outS = m.Shapes[i];
        return plan with
        {
            Rule = kind,
            Module = ModuleOf(m, i),
            Geometry = new PoolGeometry(Channels(m, i), inS[2].Size, inS[3].Size, outS[2].Size, outS[3].Size, 0, 0, 1, 1, 0, 0, 1, 1, false, true),
        };
    }

    public override (string Type, string[] Arguments)? Constant(NodePlan n)
    {
        var g = (PoolGeometry)n.Geometry!;
        var args = new List<string> { $"Channels: {g.C}", $"Height: {g.H}", $"Width: {g.W}", $"OutHeight: {g.HO}", $"OutWidth: {g.WO}" };
        if (g.KH > 0)
        {
            args.AddRange([$"KernelHeight: {g.KH}", $"KernelWidth: {g.KW}", $"StrideHeight: {g.SH}", $"StrideWidth: {g.SW}",
                $"PaddingHeight: {g.PH}", $"PaddingWidth: {g.PW}", $"DilationHeight: {g.DH}", $"DilationWidth: {g.DW}",
                $"CeilMode: {(g.CeilMode ? "true" : "false")}", $"CountIncludePad: {(g.CountIncludePad ? "true" : "false")}"]);
        }
        return ($"{EmitContext.Kernels}.PoolShape", args.ToArray());
    }
}

/// <summary>A MaxPool1d/MaxPool2d layer or Functional call: the maxima and their positions (kept for the backward, which scatters to them).</summary>
internal class MaxPoolRule : PoolRuleBase
{
    public override RuleKind Kind => RuleKind.MaxPool;

    /// <summary>The forward's kernel entry point (<c>CompiledSupport.{Entry}Forward</c>); the backward is the same scatter for every max pool.</summary>
    protected virtual string Entry => "MaxPool";

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (!Fits(m, i)) return null;
        if (PairOr(m, i, "kernelSize", (0, 0)) is not { H: > 0, W: > 0 } k || PairOr(m, i, "stride", k) is not { } st || PairOr(m, i, "padding", (0, 0)) is not { } pad
            || PairOr(m, i, "dilation", (1, 1)) is not { } dil || FlagOr(m, i, "ceilMode", false) is not { } ceilMode)
        {
            return null;
        }
        return plan with
        {
            Rule = Kind,
            Module = ModuleOf(m, i),
            Geometry = Geometry(m, i, k, st, pad, dil, ceilMode, true),
        };
    }

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n) => [new("input_grad_scratch", "float[]", e.Size(n.Inputs[0])), new("indices", "long[]", e.Size(n.Index))];

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: the positions of the maxima are kept for the backward");
        e.W.Call($"{EmitContext.Support}.{Entry}Forward", [e.Value(n.Inputs[0]), e.Value(n.Index), e.Scratch(n, "indices"), "n", e.Geometry(n)]);
        e.ForwardHooks(n, n.Inputs[0]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        e.W.Comment($"d {n.Text}: scattered to the positions of the maxima");
        Hooks.Before(e, n, a);
        e.W.Call($"{EmitContext.Support}.MaxPoolBackward", [e.Grad(n.Index), e.Scratch(n, "indices"), e.GradOrNull(a), "n", e.Geometry(n), e.Scratch(n, "input_grad_scratch")]);
        Hooks.After(e, n, a);
    }
}

/// <summary>
/// An averaging pool (AvgPool2d, AdaptiveAvgPool2d): its backward reads no value, only the geometry; forward and backward
/// call <c>CompiledSupport.{Entry}Forward</c> and <c>{Entry}Backward</c>.
/// </summary>
internal abstract class AveragingPoolRule : PoolRuleBase
{
    /// <summary>The name of the kernel entry points: <c>AvgPool</c>, <c>AdaptivePool</c>.</summary>
    protected abstract string Entry { get; }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment(n.Text);
        e.W.Call($"{EmitContext.Support}.{Entry}Forward", [e.Value(n.Inputs[0]), e.Value(n.Index), "n", e.Geometry(n)]);
        e.ForwardHooks(n, n.Inputs[0]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        e.W.Comment($"d {n.Text}");
        Hooks.Before(e, n, a);
        e.W.Call($"{EmitContext.Support}.{Entry}Backward", [e.Grad(n.Index), e.GradOrNull(a), "n", e.Geometry(n)]);
        Hooks.After(e, n, a);
    }
}

/// <summary>An AvgPool1d/AvgPool2d layer or Functional call with PyTorch's divisor rules (padding, ceil mode, count_include_pad).</summary>
internal sealed class AvgPoolRule : AveragingPoolRule
{
    public override RuleKind Kind => RuleKind.AvgPool;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (!Fits(m, i)) return null;
        if (PairOr(m, i, "kernelSize", (0, 0)) is not { H: > 0, W: > 0 } k || PairOr(m, i, "stride", k) is not { } st || PairOr(m, i, "padding", (0, 0)) is not { } pad) return null;
        if (FlagOr(m, i, "ceilMode", false) is not { } ceilMode || FlagOr(m, i, "countIncludePad", true) is not { } countIncludePad) return null;
        if (PairOr(m, i, "divisorOverride", (0, 0)) is not { H: 0 }) return null;   // a divisor override is not emitted
        return plan with
        {
            Rule = Kind,
            Module = ModuleOf(m, i),
            Geometry = Geometry(m, i, k, st, pad, (1, 1), ceilMode, countIncludePad),
        };
    }

    protected override string Entry => "AvgPool";
}

/// <summary>An AdaptiveAvgPool2d layer or Functional call: each output cell averages its share of the input.</summary>
internal sealed class AdaptivePoolRule : AveragingPoolRule
{
    public override RuleKind Kind => RuleKind.AdaptivePool;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        return PlanAdaptive(m, i, plan, Kind);
    }

    protected override string Entry => "AdaptivePool";
}

/// <summary>An AdaptiveMaxPool2d layer or Functional call: the maximum of each adaptive window and its position (the backward is MaxPool's scatter).</summary>
internal sealed class AdaptiveMaxPoolRule : MaxPoolRule
{
    public override RuleKind Kind => RuleKind.AdaptiveMaxPool;

    protected override string Entry => "AdaptiveMaxPool";

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        return PlanAdaptive(m, i, plan, Kind);
    }
}
