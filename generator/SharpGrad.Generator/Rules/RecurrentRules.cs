using System.Collections.Generic;

namespace SharpGrad.Generator.Rules;

/// <summary>A recurrent stack's geometry, and the parameters it differentiates (w_ih, w_hh, b_ih, b_hh per layer and direction).</summary>
/// <remarks>The sizes are C# text: constants, or the expressions of sizes bound when the module is built (<c>_sym_hidden</c>).</remarks>
internal sealed record RecurrentGeometry(string Mode, string InputSize, string HiddenSize, int NumLayers, bool Bidirectional, bool Bias, string Steps,
    EquatableArray<ParamSlot> Weights) : WholeLayerGeometry(Weights);

/// <summary>
/// An RNN/LSTM/GRU layer (batch first, zero initial states, its output sequence): the fused recurrent kernel — per layer
/// and direction one GEMM for all gates of the input sequence and the time loop with one GEMM per step and the gate
/// arithmetic in one loop (<c>Kernels/RecurrentStack.cs</c> over eager's <c>RecurrentKernel</c>) — and its backward, through a
/// workspace that keeps what the forward computed (<c>CompiledSupport.RecurrentForward</c>/<c>RecurrentBackward</c>).
/// </summary>
internal sealed class RecurrentRule : WholeLayerRule
{
    public override RuleKind Kind => RuleKind.Recurrent;

    protected override string Entry => "Recurrent";

    protected override string Workspace => "RecurrentWorkspace";

    protected override string ForwardComment(NodePlan n)
        => $"{n.Text}: per layer and direction one GEMM for the gates of all {((RecurrentGeometry)n.Geometry!).Steps} steps, then the time loop "
           + "(one GEMM per step, the gate arithmetic in one loop)";

    protected override string BackwardComment(NodePlan n)
        => $"d {n.Text}: the time loop backwards per layer and direction; the weights' gradients (W_hh's in one GEMM over all steps) added";

    /// <summary>
    /// Why a recurrent child's call is not compiled (the parser makes it a graph break), or null: compiled programs hold
    /// batch-first sequences, and dropout between layers is not emitted.
    /// </summary>
    public static string? Unsupported(ChildSpec child, int tensorArguments)
    {
        if (tensorArguments > 1) return "the initial states of a recurrent layer (compiled recurrent layers start from zero states)";
        if (child.Int("batchFirst") != 1) return "a recurrent layer with batch_first=False (its sequences are [T, N, …], batch second)";
        if (child.Arg("dropout") is { Number: > 0 } && child.Int("numLayers") is > 1) return "a recurrent layer with dropout between its layers";
        return null;
    }

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (m.Child(i) is not { } child || m.Node(i).Inputs.Count != 1 || Unsupported(child, 1) is not null) return null;
        int a = m.In(i, 0);
        var inS = m.Shapes[a];
        if (!m.Batched[a] || !m.Batched[i] || inS.Rank != 3) return null;
        // Sizes bound when the module is built (LSTM(emb, hidden)) are read from the layer's symbols; a sequence length
        // bound at each call is the dim's expression.
        if (SizeText(m, child, "inputSize", inS[2]) is not { } inputSize || LayerSize(m, child, "hiddenSize") is not { } hidden
            || DimText(m, inS[1]) is not { } steps)
        {
            return null;
        }
        if (child.Arg("numLayers") is { IsKnown: false }) return null;
        int layers = child.Int("numLayers") ?? 1;
        bool bidirectional = child.Int("bidirectional") == 1, bias = child.Int("bias") != 0;
        string mode = child.Kind switch
        {
            "LSTM" => "Lstm",
            "GRU" => "Gru",
            _ => child.Arg("nonlinearity")?.String == "relu" ? "RnnRelu" : "RnnTanh",
        };
        var module = m.Program.Module(child);
        var weights = new List<ParamSlot>();
        int dirs = bidirectional ? 2 : 1;
        for (int layer = 0; layer < layers; layer++)
        {
            for (int dir = 0; dir < dirs; dir++)
            {
                string suffix = "_l" + MethodDraft.I(layer) + (dir == 1 ? "_reverse" : "");
                string[] names = bias ? ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] : ["weight_ih", "weight_hh"];
                for (int k = 0; k < names.Length; k++)
                {
                    weights.Add(m.Program.Param($"{module.Field}.AllWeights[{MethodDraft.I(layer * dirs + dir)}][{MethodDraft.I(k)}]",
                        module.Path + "." + names[k] + suffix));
                }
            }
        }
        return plan with
        {
            Rule = Kind,
            Module = module,
            Geometry = new RecurrentGeometry(mode, inputSize, hidden, layers, bidirectional, bias, steps, weights.ToEquatableArray()),
        };
    }

    public override (string Type, string[] Arguments)? Constant(NodePlan n)
    {
        var g = (RecurrentGeometry)n.Geometry!;
        return ($"{EmitContext.Kernels}.RecurrentShape",
        [
            $"Mode: {EmitContext.Kernels}.RecurrentMode.{g.Mode}", $"InputSize: {g.InputSize}", $"HiddenSize: {g.HiddenSize}", $"NumLayers: {g.NumLayers}",
            $"Bidirectional: {Bool(g.Bidirectional)}", "BatchFirst: true", $"Bias: {Bool(g.Bias)}", $"Steps: {g.Steps}",
        ]);
    }

    private static string Bool(bool b) => b ? "true" : "false";
}
