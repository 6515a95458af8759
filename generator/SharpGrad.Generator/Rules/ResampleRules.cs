using System.Collections.Generic;

namespace SharpGrad.Generator.Rules;

/// <summary>An Upsample's geometry over [C, H, W] planes (1-d: H = HO = 1); Mode 0 nearest, 1 nearest-exact, 2 (bi)linear; a scale of 0: in/out.</summary>
internal sealed record ResampleGeometry(int C, int H, int W, int HO, int WO, int Mode, bool AlignCorners, double ScaleH, double ScaleW) : Geometry;

/// <summary>A ZeroPad2d's geometry over [C, H, W] images.</summary>
internal sealed record PadGeometry(int C, int H, int W, int Left, int Right, int Top, int Bottom) : Geometry;

/// <summary>
/// An Upsample layer (nearest, nearest-exact, linear, bilinear; align_corners; a size or one scale factor): eager's tap tables
/// and resampling kernel (<c>Kernels/Resample.cs</c>) forward, its adjoint backward (<c>CompiledSupport.ResampleForward</c>).
/// </summary>
internal sealed class ResampleRule : Rule
{
    public override RuleKind Kind => RuleKind.Resample;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (m.Child(i) is not { } child) return null;
        int a = m.In(i, 0);
        var inS = m.Shapes[a];
        var outS = m.Shapes[i];
        if (!m.Batched[a] || inS.Rank is not (3 or 4) || outS.Rank != inS.Rank) return null;
        int mode = (child.Arg("mode")?.String ?? OpDefaults.Interpolate.Mode) switch
        {
            "nearest" => 0,
            "nearest-exact" => 1,
            "linear" when inS.Rank == 3 => 2,
            "bilinear" when inS.Rank == 4 => 2,
            _ => -1,
        };
        if (mode < 0 || child.Arg("alignCorners") is { IsKnown: false } || child.Arg("recomputeScaleFactor") is { IsKnown: false }) return null;
        // PyTorch steps by 1/scale_factor when a scale factor is given (unless recompute_scale_factor), else by in/out.
        double scale = child.Arg("scaleFactor")?.Number is { } s && child.Int("recomputeScaleFactor") != 1 && child.Arg("size") is not { Values.Count: > 0 } ? s : 0;
        bool align = child.Int("alignCorners") == 1;
        var geometry = inS.Rank == 3
            ? new ResampleGeometry(inS[1].Size, 1, inS[2].Size, 1, outS[2].Size, mode, align, 0, scale)
            : new ResampleGeometry(inS[1].Size, inS[2].Size, inS[3].Size, outS[2].Size, outS[3].Size, mode, align, scale, scale);
        return plan with { Rule = Kind, Module = m.Program.Module(child), Geometry = geometry };
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n) => [new("input_grad_scratch", "float[]", e.Size(n.Inputs[0]))];

    public override (string Type, string[] Arguments)? Constant(NodePlan n)
    {
        var g = (ResampleGeometry)n.Geometry!;
        return ($"{EmitContext.Kernels}.ResampleShape",
        [
            $"Channels: {g.C}", $"Height: {g.H}", $"Width: {g.W}", $"OutHeight: {g.HO}", $"OutWidth: {g.WO}", $"Mode: {g.Mode}",
            $"AlignCorners: {(g.AlignCorners ? "true" : "false")}", $"ScaleHeight: {MethodDraft.F64(g.ScaleH)}", $"ScaleWidth: {MethodDraft.F64(g.ScaleW)}",
        ]);
    }

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: each output reads its taps (nearest: one, linear: two per axis)");
        e.W.Call($"{EmitContext.Support}.ResampleForward", [e.Value(n.Inputs[0]), e.Value(n.Index), "n", e.Geometry(n)]);
        e.ForwardHooks(n, n.Inputs[0]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        e.W.Comment($"d {n.Text}: the resampling's adjoint");
        Hooks.Before(e, n, a);
        e.W.Call($"{EmitContext.Support}.ResampleBackward", [e.Grad(n.Index), e.GradOrNull(a), "n", e.Geometry(n), e.Scratch(n, "input_grad_scratch")]);
        Hooks.After(e, n, a);
    }
}

/// <summary>A ZeroPad2d layer: eager's gather map (<c>Kernels/Pad.cs</c>) for one image, built once; its scatter is the backward.</summary>
internal sealed class PadRule : Rule
{
    public override RuleKind Kind => RuleKind.Pad;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (m.Child(i) is not { } child || child.Arg("padding") is not { IsKnown: true } p || p.Values.Count is not (1 or 4)) return null;
        int a = m.In(i, 0);
        var inS = m.Shapes[a];
        if (!m.Batched[a] || inS.Rank != 4) return null;
        int Side(int k) => p.Values.Count == 1 ? p.Values[0] : p.Values[k];
        return plan with
        {
            Rule = Kind,
            Module = m.Program.Module(child),
            Geometry = new PadGeometry(inS[1].Size, inS[2].Size, inS[3].Size, Side(0), Side(1), Side(2), Side(3)),
        };
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n) =>
    [
        new("input_grad_scratch", "float[]", e.Size(n.Inputs[0])),
        new("sources", "int[]", null, Init: $"{EmitContext.Support}.PadSources({e.Geometry(n)})"),
    ];

    public override (string Type, string[] Arguments)? Constant(NodePlan n)
    {
        var g = (PadGeometry)n.Geometry!;
        return ($"{EmitContext.Kernels}.PadShape",
            [$"Channels: {g.C}", $"Height: {g.H}", $"Width: {g.W}", $"Left: {g.Left}", $"Right: {g.Right}", $"Top: {g.Top}", $"Bottom: {g.Bottom}"]);
    }

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: a gather from the input, zeros outside");
        e.W.Call($"{EmitContext.Support}.PadForward", [e.Value(n.Inputs[0]), e.Value(n.Index), "n", e.Geometry(n), e.Scratch(n, "sources")]);
        e.ForwardHooks(n, n.Inputs[0]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        e.W.Comment($"d {n.Text}: scattered back to the sources");
        Hooks.Before(e, n, a);
        e.W.Call($"{EmitContext.Support}.PadBackward", [e.Grad(n.Index), e.GradOrNull(a), "n", e.Geometry(n), e.Scratch(n, "sources"), e.Scratch(n, "input_grad_scratch")]);
        Hooks.After(e, n, a);
    }
}
