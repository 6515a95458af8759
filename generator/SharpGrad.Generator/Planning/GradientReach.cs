using System.Collections.Generic;

namespace SharpGrad.Generator.Planning;

/// <summary>
/// Which parameters and float inputs a compiled method's backward gives a gradient. PyTorch's rule: a leaf gets a gradient
/// (zeros, possibly) when it is in the autograd graph of the tensor the backward starts from, and none otherwise — its
/// <c>.Grad</c> stays as it was (null after <c>zero_grad()</c>), so Adam or weight decay does not move it. The program's
/// fused backward writes every parameter of the nodes it runs; this pass walks the planned nodes from the method's result
/// back and tells the emitter which of them the result's gradient reaches, so that the others are neither bound nor
/// delivered, nor inputs of the tape node.
/// </summary>
/// <remarks>
/// The walk is per mode (bit 1 training, bit 2 evaluation): a node runs in the modes of its <see cref="NodePlan.Mode"/>, and
/// an <c>if (Training)</c> selection reaches the branch of the mode only. It passes through the inputs each rule
/// differentiates (<see cref="Rule.Differentiates"/>; inputs read as data and constants get no gradient), and for a node of
/// several results (a MultiheadAttention call and its returned weights, <see cref="Rule.InputResult"/>) it keeps which of its
/// results are reached, so that the node's rule says which inputs and parameters those depend on
/// (<see cref="Rule.Params(NodePlan, int)"/>). A value computed and not used (<c>var unused = fc2.Forward(x);</c>) has no
/// rule at all (its nodes are not live), and a value used only as data (a mask from it) reaches nothing.
/// </remarks>
internal sealed class GradientReach
{
    private readonly int[] _nodes;
    private readonly Dictionary<ParamSlot, int> _params = new();

    public GradientReach(MethodPlan plan)
    {
        var nodes = plan.Nodes;
        _nodes = new int[nodes.Count];
        foreach (int mode in new[] { 1, 2 })
        {
            // Per node: the results reached (bit r: result r, bit 0 its own value).
            var results = new int[nodes.Count];
            results[plan.Output] = 1;
            for (int i = nodes.Count - 1; i >= 0; i--)
            {
                var n = nodes[i];
                if (results[i] == 0 || (n.Mode & mode) == 0 || !Live(n)) continue;
                _nodes[i] |= mode;
                var rule = RuleSet.For(n.Rule)!;
                foreach (var p in rule.Params(n, results[i])) _params[p] = (_params.TryGetValue(p, out int m) ? m : 0) | mode;
                for (int s = 0; s < n.Inputs.Count; s++)
                {
                    int k = n.Inputs[s];
                    if (!Live(nodes[k])) continue;
                    // if (Training): the branch of this mode only (as the planner's modes, and the forward's choice).
                    if (n.Rule == RuleKind.Select && s != (mode == 1 ? 0 : 1)) continue;
                    if (!rule.Differentiates(n, results[i], s)) continue;
                    results[k] |= 1 << rule.InputResult(n, s);
                }
            }
        }
    }

    private static bool Live(NodePlan n) => n.Rule is not (RuleKind.None or RuleKind.Constant or RuleKind.Raw);

    /// <summary>The modes (bit 1 training, bit 2 evaluation) in which the result's gradient reaches node <paramref name="i"/>; 0: never.</summary>
    public int Node(int i) => _nodes[i];

    /// <summary>The modes in which the result's gradient reaches parameter <paramref name="s"/>; 0: never (its gradient is left as it is).</summary>
    public int Param(ParamSlot s) => _params.TryGetValue(s, out int m) ? m : 0;

    /// <summary>
    /// The C# condition under which a gradient reached in <paramref name="modes"/> is computed, or null when always (both modes):
    /// the program's training flag of the call (<c>_forward_training</c>).
    /// </summary>
    public static string? Condition(int modes, string prefix) => modes switch
    {
        3 => null,
        1 => prefix + "training",
        2 => "!" + prefix + "training",
        _ => "false",
    };
}
