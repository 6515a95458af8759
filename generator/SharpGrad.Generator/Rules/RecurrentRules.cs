using System.Collections.Generic;
using System.Linq;

namespace SharpGrad.Generator.Rules;

/// <summary>
/// A recurrent stack's geometry, and the parameters it differentiates: one group (<see cref="ParamSlot.IsGroup"/>), the
/// layer's w_ih, w_hh, b_ih, b_hh per layer and direction as it was built (<c>AllWeights</c>), read at run time.
/// </summary>
/// <remarks>The sizes and the layer count are C# text: constants, or the expressions of sizes bound when the module is built
/// (<c>_sym_hidden</c>, <c>_sym_layers</c>).</remarks>
internal sealed record RecurrentGeometry(string Mode, string InputSize, string HiddenSize, string NumLayers, bool Bidirectional, bool Bias, string Steps,
    EquatableArray<ParamSlot> Weights, bool BatchFirst = true) : WholeLayerGeometry(Weights)
{
    /// <summary>The node input holding h_0 ([L·D, N, H]), or −1 (zeros).</summary>
    public int H0Input { get; init; } = -1;

    /// <summary>The node input holding LSTM's c_0, or −1 (zeros).</summary>
    public int C0Input { get; init; } = -1;

    /// <summary>
    /// PyTorch's unbatched call (input [L, H_in], h_0/c_0 and h_n/c_n [L·D, H]; batch_first ignored): the input's rows are the
    /// program's batch, run by the kernels as one sequence of n steps (<c>unbatched: true</c>; <see cref="Steps"/> is then 0).
    /// </summary>
    public bool Unbatched { get; init; }

    /// <summary>
    /// The program reads the output sequence only at its last step (<c>output.Select(1, T − 1)</c>, <see cref="RecurrentRule.MarkLastStep"/>):
    /// the support calls write only that step's rows of the output and read only that step's gradient (<c>lastStepOnly: true</c>).
    /// </summary>
    public bool LastStepOnly { get; init; }

    /// <summary>
    /// The input is an Embedding's lookup that nothing else reads and whose table no other node differentiates
    /// (<see cref="RecurrentRule.MarkEmbeddedInput"/>): the backward passes the embedding, its tokens and its table's gradient,
    /// and the support call adds the table's gradient from the projection's gradient summed per distinct token.
    /// </summary>
    public bool EmbeddedInput { get; init; }
}

/// <summary>
/// An RNN/LSTM/GRU layer (batch first or second; zero initial states or h_0/c_0 [L·D, N, H]; any dropout between the layers; its
/// output sequence, its final states read by <see cref="RecurrentStateRule"/> nodes): the fused recurrent kernel — per layer
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
        => $"{n.Text}: per layer and direction one GEMM for the gates of all {(((RecurrentGeometry)n.Geometry!).Unbatched ? "n (unbatched: the input's rows)" : ((RecurrentGeometry)n.Geometry!).Steps)} steps, then the time loop "
           + "(one GEMM per step, the gate arithmetic in one loop)";

    protected override string BackwardComment(NodePlan n)
        => $"d {n.Text}: the time loop backwards per layer and direction; the weights' gradients (W_hh's in one GEMM over all steps) added";

    /// <summary>
    /// Why a recurrent child's call is not compiled (the parser makes it a graph break), or null. A batch-second layer
    /// (<c>batch_first=False</c>) takes [T, N, I] values, the batch in dim 1. Any <c>dropout</c> between the layers compiles (a
    /// constant or a constructor parameter): the support call reads p and the mode from the layer at each call and, in
    /// training, draws each layer's mask from the layer's generator as eager does (<c>RecurrentStack.Forward</c>).
    /// </summary>
    public static string? Unsupported(ChildSpec child, int tensorArguments)
    {
        if (tensorArguments > 2) return "a recurrent layer's call with more than the input and its initial state";
        // The flags decide the program's shapes (D·hidden features) and kernel: a flag from a bool constructor parameter is a
        // break where the module is compiled on its own (a parent that builds it with a constant compiles it).
        foreach (var (flag, name) in new[] { ("batchFirst", "batch_first"), ("bidirectional", "bidirectional"), ("bias", "bias"), ("nonlinearity", "nonlinearity") })
        {
            if (child.Arg(flag) is { IsKnown: false }) return $"a recurrent layer whose {name} is not known at build time";
        }
        return null;
    }

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        if (m.Child(i) is not { } child || Unsupported(child, 1) is not null) return null;
        // The initial states: `hx` (RNN, GRU), `(h0, c0)` (LSTM: slots hx.0 and hx.1), [L·D, N, H] with the batch in dim 1.
        bool lstm = child.Kind == "LSTM";
        int h0 = lstm ? InputOf(m, i, "hx.0") : InputOf(m, i, "hx"), c0 = lstm ? InputOf(m, i, "hx.1") : -1;
        if (lstm && (h0 >= 0) != (c0 >= 0)) return null;
        if (m.Node(i).Inputs.Count != 1 + (h0 >= 0 ? 1 : 0) + (c0 >= 0 ? 1 : 0)) return null;
        // Batch first: [N, T, I]; batch second (batch_first=False): [T, N, I], the kernel reads the steps time-major.
        // Unbatched (PyTorch's 2-d call, batch_first ignored): [T, I], its rows the program's batch, run as one sequence.
        bool batchFirst = child.Int("batchFirst") == 1;
        int a = m.In(i, 0), batchAxis = batchFirst ? 0 : 1;
        var inS = m.Shapes[a];
        bool unbatched = inS.Rank == 2;
        if (unbatched) (batchFirst, batchAxis) = (true, 0);
        if (!m.Batched[a] || m.BatchAxis[a] != batchAxis || !m.Batched[i] || m.BatchAxis[i] != batchAxis || inS.Rank != (unbatched ? 2 : 3)) return null;
        foreach (int state in new[] { h0, c0 })
        {
            if (state < 0) continue;
            int k = m.In(i, state);
            if (!m.Live(k) || m.IsConst(k)) return null;
            // [L·D, N, H], the batch in dim 1; unbatched [L·D, H], no batch (one sequence).
            if (unbatched ? m.Batched[k] || m.Shapes[k].Rank != 2 : !m.Batched[k] || m.BatchAxis[k] != 1 || m.Shapes[k].Rank != 3) return null;
        }
        // Sizes bound when the module is built (LSTM(emb, hidden)) are read from the layer's symbols; a sequence length
        // bound at each call is the dim's expression; unbatched, the steps are the program's n, which the support call sets.
        if (SizeText(m, child, "inputSize", inS[inS.Rank - 1]) is not { } inputSize || LayerSize(m, child, "hiddenSize") is not { } hidden
            || (unbatched ? "0" : DimText(m, inS[1 - batchAxis])) is not { } steps)
        {
            return null;
        }
        // num_layers: a constant, or a size bound when the module is built (LSTM(e, h, numLayers: layers)); the kernel loops
        // over the layers at run time and the parameters are one group, as many as the layer has.
        if ((child.Arg("numLayers") is null ? "1" : LayerSize(m, child, "numLayers")) is not { } layers) return null;
        bool bidirectional = child.Int("bidirectional") == 1, bias = child.Int("bias") != 0;
        string mode = child.Kind switch
        {
            "LSTM" => "Lstm",
            "GRU" => "Gru",
            _ => child.Arg("nonlinearity")?.String == "relu" ? "RnnRelu" : "RnnTanh",
        };
        var module = m.Program.Module(child);
        // weight_ih_l0, weight_hh_l0, (bias_ih_l0, bias_hh_l0), the same _reverse, then _l1, …: PyTorch's order, the kernel's.
        var weights = new[] { m.Program.ParamGroup(module.Field + ".AllWeights", module.Path) };
        return plan with
        {
            Rule = Kind,
            Module = module,
            Geometry = new RecurrentGeometry(mode, inputSize, hidden, layers, bidirectional, bias, steps, weights.ToEquatableArray(), batchFirst)
            {
                H0Input = h0, C0Input = c0, Unbatched = unbatched,
            },
        };
    }

    protected override IEnumerable<string> ForwardArguments(EmitContext e, NodePlan n)
    {
        var g = (RecurrentGeometry)n.Geometry!;
        if (g.H0Input >= 0) yield return "h0: " + e.Value(n.Inputs[g.H0Input]);
        if (g.C0Input >= 0) yield return "c0: " + e.Value(n.Inputs[g.C0Input]);
        if (g.Unbatched) yield return "unbatched: true";
        if (g.LastStepOnly) yield return "lastStepOnly: true";
        if (g.EmbeddedInput)
        {
            // An LSTM projects each distinct token's row once (the same elements; the support's RecurrentForward).
            var embedding = e.Nodes[n.Inputs[0]];
            yield return "embedding: " + embedding.Module!.Field;
            yield return "tokens: " + MethodEmitter.RawField(e, embedding.Inputs[0]);
        }
    }

    /// <summary>
    /// The layer writes its input's whole gradient (the last layer-direction's dx = dXw·W_ih with β = 0, laid out batch first or
    /// copied as it is) instead of adding it, when it is that gradient's first writer: lstm_train_step_b32's
    /// <c>embedding_out_grad</c> (287 KB) is then neither cleared nor read back before the embedding's backward.
    /// </summary>
    public override bool OverwritesInputGrad(NodePlan n, int slot) => slot == 0;

    /// <summary>
    /// The layer writes each weight's gradient once (W_ih's and W_hh's transposed products stored, the bias sums copied; a
    /// path that adds clears a fresh one first: <c>RecurrentStack.Backward</c>'s <c>overwriteWeights</c>), so as the group's
    /// first writer it overwrites the fresh ones (<c>CompiledParameterGroup.Fresh</c>): lstm_train_step_b32's
    /// 390 KB of LSTM weight gradients are then neither cleared nor read back.
    /// </summary>
    public override bool OverwritesFreshParams => true;

    protected override IEnumerable<string> BackwardArguments(EmitContext e, NodePlan n)
    {
        var g = (RecurrentGeometry)n.Geometry!;
        if (e.OverwritesInput(n, 0)) yield return "overwriteInput: true";
        if (g.Weights is [{ IsGroup: true } group] && e.WritesFirst(n, group)) yield return $"overwriteWeights: {EmitContext.Group(group)}.Fresh";
        if (g.H0Input >= 0) yield return "gradH0: " + e.GradOrNull(n.Inputs[g.H0Input]);
        if (g.C0Input >= 0) yield return "gradC0: " + e.GradOrNull(n.Inputs[g.C0Input]);
        if (g.Unbatched) yield return "unbatched: true";
        if (g.LastStepOnly) yield return "lastStepOnly: true";
        if (g.EmbeddedInput)
        {
            var embedding = e.Nodes[n.Inputs[0]];
            yield return "embedding: " + embedding.Module!.Field;
            yield return "tokens: " + MethodEmitter.RawField(e, embedding.Inputs[0]);
            yield return "embeddingGrad: " + EmitContext.ParamGradOrNull(embedding.Weight);
        }
    }

    /// <summary>
    /// Marks the recurrent layers (batched; any mode, layer count and direction) whose input is an Embedding's lookup read by
    /// nothing else (not the method's result, no other reader, one input slot), whose table no other node differentiates
    /// (a tied weight keeps today's path: another writer of its gradient could overwrite it after the layer's backward). The
    /// layer's backward then sums its projection's gradient per distinct token and adds the table's gradient for those
    /// tokens (dW_ih and the table's rows over the distinct tokens instead of every position, no per-position input gradient;
    /// docs/performance.md, "Embedding → LSTM, session 26"); the lookup's backward runs only when the layer's backward hooks
    /// or the lookup's need the rows' gradient (checked at each backward: then the layer writes it, as without the mark). Embedding has no max_norm here; padding_idx is the support's.
    /// </summary>
    public static void MarkEmbeddedInput(MethodDraft m)
    {
        var readers = Fusion.Readers(m);
        for (int i = 0; i < m.Count; i++)
        {
            if (m.Nodes[i].Rule != RuleKind.Recurrent || !m.Live(i) || m.Nodes[i].Geometry is not RecurrentGeometry { Unbatched: false } g) continue;
            int a = m.In(i, 0);
            var emb = m.Nodes[a];
            if (emb.Rule != RuleKind.Embedding || a == m.Output || emb.Weight is not { } table || emb.Geometry is not EmbeddingGeometry eg
                || m.Nodes[i].Module is not { } layer || readers[a] is not [int only] || only != i)
            {
                continue;
            }
            bool other = false;
            for (int k = 1; k < m.Node(i).Inputs.Count; k++) other |= m.In(i, k) == a;
            for (int j = 0; j < m.Count && !other; j++)
            {
                if (j != a && m.Live(j) && (RuleSet.For(m.Nodes[j].Rule)?.Params(m.Nodes[j]) ?? []).Contains(table)) other = true;
            }
            if (other) continue;
            m.Nodes[i] = m.Nodes[i] with { Geometry = g with { EmbeddedInput = true } };
            m.Nodes[a] = emb with { Geometry = eg with { IntoRecurrent = layer.Field } };
        }
    }

    /// <summary>
    /// Marks the one-layer, one-direction LSTMs whose output sequence the program reads only at its last step: every live
    /// reader of the node is a window of one step at T − 1 along the time dim (<c>output.Select(1, T − 1)</c>,
    /// <c>Select(1, -1)</c>, <c>Narrow(1, T − 1, 1)</c>; dim 0 batch second) or one of its final states (read from the
    /// workspace), and no hook of an inlined child reads it. Their support calls then skip the other steps' rows of the
    /// output ([N, T, H] batch first: 573 KB per lstm_train_step_b32 forward) and of its gradient, whose values nothing reads
    /// (docs/performance.md, "LSTM step, session 20"). Stacks of more layers, both directions, GRU and RNN keep the whole output.
    /// </summary>
    public static void MarkLastStep(MethodDraft m)
    {
        var readers = Fusion.Readers(m);
        for (int i = 0; i < m.Count; i++)
        {
            if (m.Nodes[i].Rule != RuleKind.Recurrent || i == m.Output
                || m.Nodes[i].Geometry is not RecurrentGeometry { Mode: "Lstm", NumLayers: "1", Bidirectional: false, Unbatched: false } g)
            {
                continue;
            }
            int lastSteps = 0;
            bool other = false;
            foreach (int c in readers[i])
            {
                if (c >= 0 && m.Nodes[c].Rule == RuleKind.RecurrentState) continue;
                if (c >= 0 && m.Nodes[c].Rule == RuleKind.Slice && ReadsLastStep(m, i, c, g.BatchFirst)) lastSteps++;
                else other = true;
            }
            if (lastSteps > 0 && !other) m.Nodes[i] = m.Nodes[i] with { Geometry = g with { LastStepOnly = true } };
        }
    }

    /// <summary>Whether slice node <paramref name="c"/> of recurrent node <paramref name="i"/>'s output is the one step at T − 1 along the time dim.</summary>
    private static bool ReadsLastStep(MethodDraft m, int i, int c, bool batchFirst)
    {
        if (m.Node(c).Inputs.Count != 1 || m.Row(c) is not { } row) return false;
        var s = m.Shapes[i];
        if (s is not { Rank: 3 } || ShapeRules.Window(new ShapeCall(row, [s], m.Arguments(c), Dim.Sym(m.Batch))) is not { } w) return false;
        int time = batchFirst ? 1 : 0;
        // A fixed length's window start is normalised (−1 → T − 1); a length read at each call keeps −1.
        return w.Dim == time && w.Count == 1 && (s[time].IsFixed ? w.Start == s[time].Size - 1 : w.Start == -1);
    }

    public override (string Type, string[] Arguments)? Constant(NodePlan n)
    {
        var g = (RecurrentGeometry)n.Geometry!;
        return ($"{EmitContext.Kernels}.RecurrentShape",
        [
            $"Mode: {EmitContext.Kernels}.RecurrentMode.{g.Mode}", $"InputSize: {g.InputSize}", $"HiddenSize: {g.HiddenSize}", $"NumLayers: {g.NumLayers}",
            $"Bidirectional: {Bool(g.Bidirectional)}", $"BatchFirst: {Bool(g.BatchFirst)}", $"Bias: {Bool(g.Bias)}", $"Steps: {g.Steps}",
        ]);
    }

    private static string Bool(bool b) => b ? "true" : "false";
}

/// <summary>
/// A recurrent layer's final state (h_n, or LSTM's c_n; [L·D, N, H], the batch in dim 1): a second result of the layer's node,
/// copied from its workspace after the layer's forward; its gradient goes back into the workspace, where the layer's
/// backward (which runs after it) starts its time loops from it (<c>CompiledSupport.RecurrentState</c>/<c>RecurrentStateBackward</c>).
/// </summary>
internal sealed class RecurrentStateRule : Rule
{
    public override RuleKind Kind => RuleKind.RecurrentState;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        int layer = m.In(i, 0);
        if (m.Nodes[layer].Rule != RuleKind.Recurrent || m.Node(i).Scalar("item") is not { } item) return null;
        // [L·D, N, H], the batch in dim 1; of an unbatched call [L·D, H] (one sequence, no batch).
        bool unbatched = ((RecurrentGeometry)m.Nodes[layer].Geometry!).Unbatched;
        if (unbatched ? m.Batched[i] || m.Shapes[i].Rank != 2 : !m.Batched[i] || m.BatchAxis[i] != 1) return null;
        if (item.Value == 2 && m.Child(layer)?.Kind != "LSTM") return null;
        return plan with { Rule = Kind, Geometry = new StateGeometry((int)item.Value) };
    }

    /// <summary>Nothing: the value is copied from the layer's workspace, the gradient written into it.</summary>
    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override IEnumerable<ParamSlot> Params(NodePlan n) => [];

    private static string Workspace(EmitContext e, NodePlan layer) => e.Scratch(layer, "workspace") + "!";

    public override void Forward(EmitContext e, NodePlan n)
    {
        var layer = e.Nodes[n.Inputs[0]];
        int item = ((StateGeometry)n.Geometry!).Item;
        e.W.Comment($"{n.Text}: the layer's final {(item == 1 ? "hidden" : "cell")} states, from its workspace");
        e.W.Call($"{EmitContext.Support}.RecurrentState", [MethodDraft.I(item), e.Value(n.Index), "n", e.Geometry(layer), Workspace(e, layer), .. Unbatched(layer)]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        var layer = e.Nodes[n.Inputs[0]];
        int item = ((StateGeometry)n.Geometry!).Item;
        e.W.Comment($"d {n.Text}: kept in the layer's workspace for its backward");
        e.W.Call($"{EmitContext.Support}.RecurrentStateBackward", [MethodDraft.I(item), e.Grad(n.Index), "n", e.Geometry(layer), Workspace(e, layer), .. Unbatched(layer)]);
    }

    /// <summary>The support call's flag for a state of an unbatched call ([L·D, H]; the program's n its steps).</summary>
    private static string[] Unbatched(NodePlan layer) => ((RecurrentGeometry)layer.Geometry!).Unbatched ? ["unbatched: true"] : [];
}

/// <summary>Which final state a <see cref="RecurrentStateRule"/> node reads: 1 h_n, 2 c_n.</summary>
internal sealed record StateGeometry(int Item) : Geometry;
