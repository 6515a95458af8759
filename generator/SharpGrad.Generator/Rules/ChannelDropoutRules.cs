using System.Collections.Generic;

namespace SharpGrad.Generator.Rules;

/// <summary>A Dropout2d's geometry: each of n·C channels of <paramref name="Length"/> elements is kept or zeroed whole.</summary>
internal sealed record ChannelDropoutGeometry(int Length) : Geometry;

/// <summary>
/// A Dropout2d layer: in training one draw per (sample, channel) from the layer's generator, by the routine eager Dropout2d
/// calls (<c>DropoutKernel.Mask</c>), so one generator state gives one mask in both modes; the identity in evaluation
/// (<c>CompiledSupport.ChannelDropoutForward</c>/<c>ChannelDropoutBackward</c>).
/// </summary>
internal sealed class ChannelDropoutRule : Rule
{
    public override RuleKind Kind => RuleKind.ChannelDropout;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        // p is read from the layer at each call (ChannelDropoutForward), so a p from a constructor parameter compiles too.
        if (m.Child(i) is not { } child) return null;
        int a = m.In(i, 0);
        var inS = m.Shapes[a];
        if (!m.Batched[a] || inS.Rank is not (3 or 4) || !inS[1].IsFixed || inS[1].Size == 0) return null;
        return plan with { Rule = Kind, Module = m.Program.Module(child), Geometry = new ChannelDropoutGeometry(m.Features[a] / inS[1].Size) };
    }

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    private static string Length(NodePlan n) => MethodDraft.I(((ChannelDropoutGeometry)n.Geometry!).Length);

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n) => [new("mask", "float[]", $"{e.Size(n.Index)} / {Length(n)}"), new("active", "bool", null)];

    public override void Forward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        e.W.Comment($"{n.Text}: one draw per channel from the layer's generator in training, the identity in evaluation");
        e.W.Call($"{e.Scratch(n, "active")} = {EmitContext.Support}.ChannelDropoutForward",
            [n.Module!.Field, e.Value(a), e.Value(n.Index), e.Scratch(n, "mask"), e.Size(n.Index), Length(n)]);
        e.ForwardHooks(n, a);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0];
        e.W.Comment($"d {n.Text}: the same mask");
        Hooks.Before(e, n, a);
        e.W.Call($"{EmitContext.Support}.ChannelDropoutBackward", [e.Grad(n.Index), e.GradOrNull(a), e.Scratch(n, "mask"), e.Size(n.Index), Length(n), e.Scratch(n, "active")]);
        Hooks.After(e, n, a);
    }
}
