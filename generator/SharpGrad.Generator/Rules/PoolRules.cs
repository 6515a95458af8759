using System.Collections.Generic;

namespace SharpGrad.Generator.Rules;

/// <summary>What the pooling rules share: the window read from the layer (defaults from its catalogue row) and the geometry constant.</summary>
internal abstract class PoolRuleBase : Rule
{
    /// <summary>An (H, W) argument: the default when absent or null, null when present but not a constant.</summary>
    protected static (int H, int W)? PairOr(ChildSpec child, string name, (int, int) fallback)
        => child.Arg(name) switch
        {
            null => fallback,
            { IsKnown: true, Values.Count: 0 } => fallback,
            _ => child.Pair(name),
        };

    /// <summary>The input and output shapes are [n, C, H, W] (batched, rank 4).</summary>
    protected static bool Fits(MethodDraft m, int i) => m.Batched[m.In(i, 0)] && m.Shapes[m.In(i, 0)].Rank == 4 && m.Shapes[i].Rank == 4;

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

/// <summary>A MaxPool2d layer: the maxima and their positions (kept for the backward, which scatters to them).</summary>
internal sealed class MaxPoolRule : PoolRuleBase
{
    public override RuleKind Kind => RuleKind.MaxPool;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (m.Child(i) is not { } child || !Fits(m, i)) return null;
        var inS = m.Shapes[m.In(i, 0)];
        var outS = m.Shapes[i];
        if (child.Pair("kernelSize") is not { } k || PairOr(child, "stride", k) is not { } st || PairOr(child, "padding", (0, 0)) is not { } pad
            || PairOr(child, "dilation", (1, 1)) is not { } dil || child.Arg("ceilMode") is { IsKnown: false })
        {
            return null;
        }
        return plan with
        {
            Rule = Kind,
            Module = m.Program.Module(child),
            Geometry = new PoolGeometry(inS[1].Size, inS[2].Size, inS[3].Size, outS[2].Size, outS[3].Size, k.H, k.W, st.H, st.W, pad.H, pad.W,
                dil.H, dil.W, child.Int("ceilMode") == 1, true),
        };
    }

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n) => [new("input_grad_scratch", "float[]", e.Size(n.Inputs[0])), new("indices", "long[]", e.Size(n.Index))];

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: the positions of the maxima are kept for the backward");
        e.W.Call($"{EmitContext.Support}.MaxPoolForward", [e.Value(n.Inputs[0]), e.Value(n.Index), e.Scratch(n, "indices"), "n", e.Geometry(n)]);
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

/// <summary>An AvgPool2d layer with PyTorch's divisor rules (padding, ceil mode, count_include_pad).</summary>
internal sealed class AvgPoolRule : AveragingPoolRule
{
    public override RuleKind Kind => RuleKind.AvgPool;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (m.Child(i) is not { } child || !Fits(m, i)) return null;
        var inS = m.Shapes[m.In(i, 0)];
        var outS = m.Shapes[i];
        if (child.Pair("kernelSize") is not { } k || PairOr(child, "stride", k) is not { } st || PairOr(child, "padding", (0, 0)) is not { } pad) return null;
        if (child.Arg("ceilMode") is { IsKnown: false } || child.Arg("countIncludePad") is { IsKnown: false }) return null;
        if (child.Arg("divisorOverride") is { IsKnown: true, Values.Count: > 0 } or { IsKnown: false }) return null;
        return plan with
        {
            Rule = Kind,
            Module = m.Program.Module(child),
            Geometry = new PoolGeometry(inS[1].Size, inS[2].Size, inS[3].Size, outS[2].Size, outS[3].Size, k.H, k.W, st.H, st.W, pad.H, pad.W, 1, 1,
                child.Int("ceilMode") == 1, (child.Int("countIncludePad") ?? 1) != 0),
        };
    }

    protected override string Entry => "AvgPool";
}

/// <summary>An AdaptiveAvgPool2d layer: each output cell averages its share of the input.</summary>
internal sealed class AdaptivePoolRule : AveragingPoolRule
{
    public override RuleKind Kind => RuleKind.AdaptivePool;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (m.Child(i) is not { } child || !Fits(m, i)) return null;
        var inS = m.Shapes[m.In(i, 0)];
        var outS = m.Shapes[i];
        return plan with
        {
            Rule = Kind,
            Module = m.Program.Module(child),
            Geometry = new PoolGeometry(inS[1].Size, inS[2].Size, inS[3].Size, outS[2].Size, outS[3].Size, 0, 0, 1, 1, 0, 0, 1, 1, false, true),
        };
    }

    protected override string Entry => "AdaptivePool";
}
