using System.Collections.Generic;
using System.Linq;

namespace SharpGrad.Generator.Rules;

/// <summary>The geometry of a layer compiled as one kernel call, with the parameters it differentiates in PyTorch's order.</summary>
internal abstract record WholeLayerGeometry(EquatableArray<ParamSlot> Weights) : Geometry;

/// <summary>
/// What the whole-layer rules share (a recurrent stack, a Transformer encoder layer): one kernel call forward and one
/// backward (<c>CompiledSupport.{Entry}Forward</c>/<c>{Entry}Backward</c>) through a workspace that keeps everything the
/// backward reads, so the node keeps neither its input's nor its output's buffer; its weights' gradients are passed as one
/// array in the geometry's order (a recurrent stack's: its parameter group's, <see cref="ParamSlot.IsGroup"/>).
/// </summary>
internal abstract class WholeLayerRule : Rule
{
    /// <summary>The entry points' stem: <c>Recurrent</c>, <c>EncoderLayer</c>.</summary>
    protected abstract string Entry { get; }

    /// <summary>The workspace's type (<c>RecurrentWorkspace</c>), in <c>SharpGrad.Kernels</c>.</summary>
    protected abstract string Workspace { get; }

    /// <summary>The comment above the forward call.</summary>
    protected abstract string ForwardComment(NodePlan n);

    /// <summary>The comment above the backward call.</summary>
    protected abstract string BackwardComment(NodePlan n);

    /// <summary>Arguments the forward call passes after the workspace (a layer's masks, read as data); none by default.</summary>
    protected virtual IEnumerable<string> ForwardArguments(EmitContext e, NodePlan n) => [];

    /// <summary>Arguments the backward call passes after the workspace (gradients of a layer's other inputs); none by default.</summary>
    protected virtual IEnumerable<string> BackwardArguments(EmitContext e, NodePlan n) => [];

    public sealed override IEnumerable<ParamSlot> Params(NodePlan n) => ((WholeLayerGeometry)n.Geometry!).Weights;

    /// <summary>The backward reads the workspace (its copy of the input and every intermediate), not the input's or output's buffer.</summary>
    public sealed override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public sealed override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n)
    {
        yield return new("workspace", $"{EmitContext.Kernels}.{Workspace}?", null, Init: "new()");
    }

    public sealed override void Forward(EmitContext e, NodePlan n)
    {
        int i = n.Index, a = n.Inputs[0];
        e.W.Comment(ForwardComment(n));
        e.W.Call($"{EmitContext.Support}.{Entry}Forward",
            [n.Module!.Field, e.Value(a), e.Value(i), "n", e.Geometry(n), e.Scratch(n, "workspace") + "!", .. ForwardArguments(e, n)]);
        e.ForwardHooks(n, a);
    }

    public sealed override void Backward(EmitContext e, NodePlan n)
    {
        int i = n.Index, a = n.Inputs[0];
        e.W.Comment(BackwardComment(n));
        Hooks.Before(e, n, a);
        // A group of parameters (a recurrent stack's, as many as it was built with) binds its gradients in an array of its own.
        var weights = ((WholeLayerGeometry)n.Geometry!).Weights;
        string grads = weights is [{ IsGroup: true } group] ? EmitContext.Group(group) + ".Grads"
            : "new float[]?[] { " + string.Join(", ", weights.Select(EmitContext.ParamGradOrNull)) + " }";
        e.W.Call($"{EmitContext.Support}.{Entry}Backward", [n.Module!.Field, e.Grad(i), e.GradOrNull(a), grads, "n", e.Geometry(n), e.Scratch(n, "workspace") + "!", .. BackwardArguments(e, n)]);
        Hooks.After(e, n, a);
    }
}
