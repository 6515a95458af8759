using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using SharpGrad.Generator.Model;

namespace SharpGrad.Generator.Compiler;

/// <summary>Why the planner gave up on an op the parser accepted (null reason: only unknown shapes, which is not reported).</summary>
internal sealed class PlanFailure
{
    public string? Reason;
    public LocationInfo? Location;
}

/// <summary>A child module the compiled program reads (a field of <c>Compiled</c> resolved once in its constructor).</summary>
internal sealed record ModuleRef(string Field, string Type, string Path, string Member);

/// <summary>A parameter the compiled program differentiates: its index among the tape inputs after the method's float inputs.</summary>
internal sealed record ParamSlot(int Index, string Path, string Expr);

/// <summary>Everything the emitter needs for one module: its children, parameters and compiled methods.</summary>
internal sealed class CompiledProgram
{
    public CompiledProgram(ModuleSpec spec, ModuleGraph graph)
    {
        Spec = spec;
        Graph = graph;
    }

    public ModuleSpec Spec { get; }
    public ModuleGraph Graph { get; }
    public List<ModuleRef> Modules { get; } = new();
    public List<ParamSlot> Params { get; } = new();
    public List<MethodPlan> Methods { get; } = new();

    public ModuleRef Module(ChildSpec child)
    {
        foreach (var m in Modules) if (m.Member == child.Name) return m;
        string type = child.IsBuiltIn ? "global::SharpGrad.Layers." + child.Kind : "global::" + (child.TypeName.Length > 0 ? child.TypeName : child.Kind);
        var path = child.Path;
        var r = new ModuleRef("_c" + Modules.Count.ToString(CultureInfo.InvariantCulture), type, path, child.Name);
        Modules.Add(r);
        return r;
    }

    public ParamSlot Param(string expr, string path)
    {
        foreach (var s in Params) if (s.Expr == expr) return s;
        var slot = new ParamSlot(Params.Count, path, expr);
        Params.Add(slot);
        return slot;
    }
}

/// <summary>What one node of a compiled method does (filled by the planner, read by the emitter).</summary>
internal sealed class NodePlan
{
    public string Rule = "";             // the emission rule: Input, Raw, Const, Alias, Relu, Unary, Binary, Broadcast, Linear, Conv, MaxPool, AvgPool, AdaptivePool, BatchNorm, LayerNorm, Embedding, Dropout, Softmax, Reduce, Permute, MatMul, Select, Loss
    public ModuleRef? Module;            // the child whose layer this node runs (hooks, parameters)
    public ParamSlot? Weight;
    public ParamSlot? Bias;
    public string Op = "";               // unary/binary/loss op name
    public string Alpha = "0f";
    public string Beta = "0f";
    public int[] Ints = System.Array.Empty<int>(); // geometry
    public bool FusedIntoLinear;         // a ReLU computed in its Linear's epilogue
    public int FusedRelu = -1;           // on a Linear: the ReLU node fused into it
    public int ResidualAdd = -1;         // on a Linear: the Add whose other operand its GEMM epilogue adds
    public int ResidualOperand = -1;     // on that Add: the operand added in the epilogue
    public string Training = "";         // run-time flag expression for Dropout / Select / BatchNorm
}

/// <summary>The plan of one compiled method.</summary>
internal sealed class MethodPlan
{
    public GraphMethod Method = null!;
    public int K;
    public string Batch = "";
    public TensorShape[] Shapes = null!;
    public bool[] Batched = null!;
    public int[] F = null!;              // elements per batch item (batched) or in total
    public int[] VRoot = null!;          // the node whose buffer holds this node's value
    public int[] GRoot = null!;          // the node whose buffer holds this node's gradient
    public int[] Mode = null!;           // 1: needed in training, 2: in evaluation, 3: both, 0: dead
    public NodePlan[] Nodes = null!;
    public List<int> FloatInputs = new();
    public List<int> RawInputs = new();
    public bool ScalarOutput;
    public string Name => Method.Name;
    public int Output => Method.Output;
}

/// <summary>
/// Decides whether a module's parsed methods are inside what the emitter generates code for, and plans buffers,
/// aliases, fusions and modes. Returns null (no Compiled class, no diagnostic) for anything outside it.
/// </summary>
internal static class CompiledPlanner
{
    public static CompiledProgram? TryPlan(ModuleSpec spec, PlanFailure failure)
    {
        if (spec.Graph is not { IsCompilable: true } graph) return null;
        var forward = graph.Methods.Where(m => m.Name == "Forward").ToList();
        if (forward.Count != 1) return null;
        var program = new CompiledProgram(spec, graph);
        var names = new HashSet<string>();
        foreach (var method in graph.Methods)
        {
            if (!names.Add(method.Name)) return null; // overloads are not compiled
            if (method.Name is "Compile" or "Compiled") return null;
            var plan = TryPlanMethod(program, method, program.Methods.Count, failure);
            if (plan is null) return null;
            program.Methods.Add(plan);
        }
        return program;
    }

    private static string F32(double v) => ((float)v).ToString("R", CultureInfo.InvariantCulture) + "f";

    private static MethodPlan? TryPlanMethod(CompiledProgram program, GraphMethod method, int k, PlanFailure failure)
    {
        if (method.Output < 0 || method.Inputs.Count == 0) return null;
        var graph = program.Graph;
        var nodes = method.Nodes;
        int count = nodes.Count;
        var shapes = ShapeInference.InferNodes(program.Spec, method, new List<DiagnosticInfo>());
        var p = new MethodPlan
        {
            Method = method, K = k, Shapes = new TensorShape[count], Batched = new bool[count], F = new int[count],
            VRoot = new int[count], GRoot = new int[count], Mode = new int[count], Nodes = new NodePlan[count],
        };
        var consumers = new List<(int Node, int Slot)>[count];
        for (int i = 0; i < count; i++) consumers[i] = new();
        for (int i = 0; i < count; i++)
            for (int s = 0; s < nodes[i].Inputs.Count; s++) consumers[nodes[i].Inputs[s]].Add((i, s));

        // Raw inputs: method parameters used only as a loss target or as embedding indices.
        bool IsRawUse((int Node, int Slot) c) => (nodes[c.Node].Kind == NodeKind.Loss && c.Slot == 1)
            || (nodes[c.Node].Kind == NodeKind.Call && nodes[c.Node].Op == "Embedding" && c.Slot == 0);

        // The batch symbol: dim 0 of the first float input.
        for (int i = 0; i < count; i++)
        {
            var node = nodes[i];
            if (node.Kind != NodeKind.Input || node.Op != "Input") continue;
            if (consumers[i].Count > 0 && consumers[i].All(IsRawUse)) continue;
            if (shapes[i] is { Rank: >= 1 } s && s[0].Symbol is { } sym && sym != "?") { p.Batch = sym; break; }
        }
        if (p.Batch == "")
        {
            // Only raw inputs (token ids): the batch is their dim 0.
            foreach (var input in method.Inputs)
                if (input.Shape is { Rank: >= 1 } s && s[0].Symbol is { } sym && sym != "?") { p.Batch = sym; break; }
        }
        if (p.Batch == "") return null;

        // Modes: which nodes are needed in training, in evaluation (Select on `if (Training)`).
        p.Mode[method.Output] = 3;
        for (int i = count - 1; i >= 0; i--)
        {
            if (p.Mode[i] == 0) continue;
            var node = nodes[i];
            if (node.Kind == NodeKind.Select)
            {
                p.Mode[node.Inputs[0]] |= p.Mode[i] & 1;
                p.Mode[node.Inputs[1]] |= p.Mode[i] & 2;
            }
            else
            {
                foreach (var input in node.Inputs) p.Mode[input] |= p.Mode[i];
            }
        }

        for (int i = 0; i < count; i++)
        {
            var node = nodes[i];
            var np = p.Nodes[i] = new NodePlan();
            p.VRoot[i] = i;
            p.GRoot[i] = i;
            if (node.Kind == NodeKind.Input && node.Op == "Input" && consumers[i].Count > 0 && consumers[i].All(IsRawUse))
            {
                np.Rule = "Raw";
                p.RawInputs.Add(i);
                continue;
            }
            if (p.Mode[i] == 0 && node.Kind != NodeKind.Input) { np.Rule = "Dead"; continue; }
            if (shapes[i] is not { } shape) return null;
            p.Shapes[i] = shape;
            if (node.Kind == NodeKind.Constant)
            {
                if (shape.Rank != 0) return null;
                np.Rule = "Const";
                continue;
            }
            bool batched = shape.Rank >= 1 && shape[0].Symbol == p.Batch;
            int features = 1;
            for (int d = batched ? 1 : 0; d < shape.Rank; d++)
            {
                if (!shape[d].IsFixed) return null;
                features *= shape[d].Size;
            }
            p.Batched[i] = batched;
            p.F[i] = features;
            if (!PlanNode(program, p, i, node, np, consumers))
            {
                var inputs = string.Join(", ", node.Inputs.Select(j => shapes[j]?.ToString() ?? "?"));
                failure.Reason = $"`{node.Text}` ({node.Kind} {node.Op}{(node.Child is null ? "" : " of '" + node.Child + "'")}, input shapes {inputs}, output {shape}) is not emitted by the code generator in {method.Name}";
                failure.Location = node.Location ?? method.Location;
                return null;
            }
        }
        if (p.Nodes[method.Output].Rule is "Const" or "Raw" or "Dead") return null;
        if (!p.FloatInputs.Any(f => p.Batched[f]) && !p.RawInputs.Any(r => method.Inputs[nodes[r].IntArgs[0]].Shape is { Rank: >= 1 } s && s[0].Symbol == p.Batch)) return null;
        p.ScalarOutput = !p.Batched[method.Output] && p.F[method.Output] == 1 && p.Shapes[method.Output].Rank == 0;
        return p;
    }

    private static bool PlanNode(CompiledProgram program, MethodPlan p, int i, GraphNode node, NodePlan np, List<(int Node, int Slot)>[] consumers)
    {
        var nodes = p.Method.Nodes;
        var graph = program.Graph;
        ChildSpec? child = node.Child is { } childName && childName != "this" ? graph.FindChild(childName) : null;
        int In(int s) => node.Inputs[s];
        bool IsConst(int s) => nodes[In(s)].Kind == NodeKind.Constant;
        bool IsRaw(int s) => p.Nodes[In(s)].Rule == "Raw";
        for (int s = 0; s < node.Inputs.Count; s++)
        {
            if (IsRaw(s) && !(node.Kind == NodeKind.Loss && s == 1) && !(node.Kind == NodeKind.Call && s == 0)) return false;
        }
        bool BatchedLike(int s) => p.Batched[In(s)] == p.Batched[i];

        switch (node.Kind)
        {
            case NodeKind.Input when node.Op == "Input":
                np.Rule = "Input";
                p.FloatInputs.Add(i);
                return true;

            case NodeKind.Linear:
            {
                if (child is null || child.Int("inFeatures") is not { } inF || child.Int("outFeatures") is not { } outF) return false;
                if (child.Arg("bias") is { IsKnown: false }) return false;
                if (!p.Batched[In(0)] || !p.Batched[i] || p.F[In(0)] % inF != 0 || p.F[i] != p.F[In(0)] / inF * outF) return false;
                np.Rule = "Linear";
                np.Module = program.Module(child);
                np.Weight = program.Param(np.Module.Field + ".Weight", np.Module.Path + ".weight");
                if (child.Int("bias") != 0) np.Bias = program.Param(np.Module.Field + ".Bias!", np.Module.Path + ".bias");
                np.Ints = new[] { inF, outF, p.F[In(0)] / inF };
                return true;
            }

            case NodeKind.Conv:
            {
                if (child is null) return false;
                var inS = p.Shapes[In(0)];
                var outS = p.Shapes[i];
                bool is1d = node.Op == "Conv1d";
                if (!(node.Op is "Conv2d" or "Conv1d") || !p.Batched[In(0)] || inS.Rank != (is1d ? 3 : 4) || outS.Rank != inS.Rank) return false;
                if (child.Arg("bias") is { IsKnown: false } || child.Arg("groups") is { IsKnown: false }) return false;
                if (child.Pair("kernelSize") is not { } kk || PairOr(child, "stride", (1, 1)) is not { } st
                    || PairOr(child, "padding", (0, 0)) is not { } pad || PairOr(child, "dilation", (1, 1)) is not { } dil) return false;
                int groups = child.Int("groups") ?? 1;
                np.Rule = "Conv";
                np.Module = program.Module(child);
                np.Weight = program.Param(np.Module.Field + ".Weight", np.Module.Path + ".weight");
                if (child.Int("bias") != 0) np.Bias = program.Param(np.Module.Field + ".Bias!", np.Module.Path + ".bias");
                // C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, G, HO, WO
                np.Ints = is1d
                    ? new[] { inS[1].Size, 1, inS[2].Size, outS[1].Size, 1, kk.H, 1, st.H, 0, pad.H, 1, dil.H, groups, 1, outS[2].Size }
                    : new[] { inS[1].Size, inS[2].Size, inS[3].Size, outS[1].Size, kk.H, kk.W, st.H, st.W, pad.H, pad.W, dil.H, dil.W, groups, outS[2].Size, outS[3].Size };
                return true;
            }

            case NodeKind.Pool:
            {
                if (child is null) return false;
                var inS = p.Shapes[In(0)];
                var outS = p.Shapes[i];
                if (!p.Batched[In(0)] || inS.Rank != 4 || outS.Rank != 4) return false;
                np.Module = program.Module(child);
                if (node.Op == "AdaptiveAvgPool2d")
                {
                    np.Rule = "AdaptivePool";
                    np.Ints = new[] { inS[1].Size, inS[2].Size, inS[3].Size, outS[2].Size, outS[3].Size };
                    return true;
                }
                if (child.Pair("kernelSize") is not { } kk || PairOr(child, "stride", kk) is not { } st || PairOr(child, "padding", (0, 0)) is not { } pad) return false;
                if (child.Arg("ceilMode") is { IsKnown: false }) return false;
                if (node.Op == "MaxPool2d")
                {
                    if (PairOr(child, "dilation", (1, 1)) is not { } dil) return false;
                    np.Rule = "MaxPool";
                    np.Ints = new[] { inS[1].Size, inS[2].Size, inS[3].Size, outS[2].Size, outS[3].Size, kk.H, kk.W, st.H, st.W, pad.H, pad.W, dil.H, dil.W };
                    return true;
                }
                if (node.Op == "AvgPool2d")
                {
                    if (child.Arg("countIncludePad") is { IsKnown: false } || child.Arg("divisorOverride") is { IsKnown: true, Values.Count: > 0 }) return false;
                    np.Rule = "AvgPool";
                    np.Ints = new[] { inS[1].Size, inS[2].Size, inS[3].Size, outS[2].Size, outS[3].Size, kk.H, kk.W, st.H, st.W, pad.H, pad.W,
                        child.Int("ceilMode") ?? 0, child.Int("countIncludePad") ?? 1 };
                    return true;
                }
                return false;
            }

            case NodeKind.Norm:
            {
                if (child is null || !p.Batched[In(0)]) return false;
                var inS = p.Shapes[In(0)];
                np.Module = program.Module(child);
                if (node.Op is "BatchNorm1d" or "BatchNorm2d")
                {
                    if (inS.Rank < 2 || child.Arg("affine") is { IsKnown: false } || child.Arg("trackRunningStats") is { IsKnown: false }) return false;
                    np.Rule = "BatchNorm";
                    int c = inS[1].Size;
                    np.Ints = new[] { c, p.F[In(0)] / c };
                    if (child.Int("affine") != 0)
                    {
                        np.Weight = program.Param(np.Module.Field + ".Weight!", np.Module.Path + ".weight");
                        np.Bias = program.Param(np.Module.Field + ".Bias!", np.Module.Path + ".bias");
                    }
                    return true;
                }
                if (node.Op == "LayerNorm")
                {
                    if (child.Arg("normalizedShape") is not { IsKnown: true } ns || ns.Values.Count == 0) return false;
                    if (child.Arg("elementwiseAffine") is { IsKnown: false } || child.Arg("bias") is { IsKnown: false }) return false;
                    int cols = 1;
                    foreach (var v in ns.Values) cols *= v;
                    if (cols == 0 || p.F[In(0)] % cols != 0) return false;
                    np.Rule = "LayerNorm";
                    np.Ints = new[] { cols };
                    if (child.Int("elementwiseAffine") != 0)
                    {
                        np.Weight = program.Param(np.Module.Field + ".Weight!", np.Module.Path + ".weight");
                        if (child.Int("bias") != 0) np.Bias = program.Param(np.Module.Field + ".Bias!", np.Module.Path + ".bias");
                    }
                    return true;
                }
                return false;
            }

            case NodeKind.Call when node.Op == "Embedding" && child is { IsBuiltIn: true }:
            {
                if (!IsRaw(0) || child.Int("embeddingDim") is not { } dim || !p.Batched[i]) return false;
                np.Rule = "Embedding";
                np.Module = program.Module(child);
                np.Weight = program.Param(np.Module.Field + ".Weight", np.Module.Path + ".weight");
                np.Ints = new[] { dim, p.F[i] / dim };
                return true;
            }

            case NodeKind.Elementwise when node.Inputs.Count == 1:
                return PlanUnary(program, p, i, node, np, child, consumers);

            case NodeKind.Elementwise when node.Inputs.Count == 2:
            {
                if (IsConst(0) && IsConst(1)) return false;
                np.Op = node.Op;
                if (IsConst(0) || IsConst(1))
                {
                    int t = IsConst(0) ? 1 : 0;
                    if (node.Op is not ("Add" or "Sub" or "Mul" or "Div") || (node.Op == "Div" && t == 1)) return false;
                    if (!BatchedLike(t) || p.F[In(t)] != p.F[i]) return false;
                    np.Rule = "Binary";
                    return true;
                }
                if (node.Op is "Add" or "Sub" or "Mul" or "Div" && p.Shapes[In(0)].Equals(p.Shapes[In(1)]) && BatchedLike(0) && BatchedLike(1))
                {
                    np.Rule = "Binary";
                    // linear(h) + r with r computed earlier: r is added in the Linear's GEMM epilogue (residual fusion).
                    for (int s = 0; s < 2 && node.Op == "Add"; s++)
                    {
                        int lin = In(s), other = In(1 - s);
                        if (p.Nodes[lin].Rule == "Linear" && p.Nodes[lin].FusedRelu < 0 && p.Nodes[lin].ResidualAdd < 0 && consumers[lin].Count == 1
                            && lin != p.Method.Output && other < lin && p.VRoot[other] != p.VRoot[lin] && p.Nodes[other].Rule != "Raw")
                        {
                            np.Rule = "ResidualAdd";
                            np.ResidualOperand = other;
                            p.Nodes[lin].ResidualAdd = i;
                            p.VRoot[i] = p.VRoot[lin];
                            break;
                        }
                    }
                    return true;
                }
                if (!(node.Op is "Add" or "Sub" or "Mul" or "Div" or "Maximum" or "Minimum")) return false;
                np.Rule = "Broadcast";
                return true;
            }

            case NodeKind.Select:
                if (!p.Shapes[In(0)].Equals(p.Shapes[In(1)]) || !BatchedLike(0)) return false;
                np.Rule = "Select";
                return true;

            case NodeKind.Movement:
            {
                var inS = p.Shapes[In(0)];
                if (node.Op is "View" or "Reshape" or "Flatten" or "Unsqueeze" or "Squeeze")
                {
                    if (!BatchedLike(0) || p.F[In(0)] != p.F[i]) return false;
                    np.Rule = "Alias";
                    p.VRoot[i] = p.VRoot[In(0)];
                    p.GRoot[i] = p.GRoot[In(0)];
                    return true;
                }
                if (node.Op is "Transpose" or "Permute")
                {
                    int rank = inS.Rank;
                    var perm = Enumerable.Range(0, rank).ToArray();
                    if (node.Op == "Transpose")
                    {
                        if (node.IntArgs.Count != 2) return false;
                        int a = Norm(node.IntArgs[0], rank), b = Norm(node.IntArgs[1], rank);
                        if (a < 0 || b < 0) return false;
                        (perm[a], perm[b]) = (perm[b], perm[a]);
                    }
                    else
                    {
                        if (node.IntArgs.Count != rank) return false;
                        for (int d = 0; d < rank; d++) if ((perm[d] = Norm(node.IntArgs[d], rank)) < 0) return false;
                    }
                    if (p.Batched[In(0)] && perm[0] != 0) return false; // the batch dim stays first
                    np.Rule = "Permute";
                    np.Ints = perm;
                    return true;
                }
                return false;
            }

            case NodeKind.Reduce when node.Op is "MaxDim" or "MinDim":
            {
                var inS = p.Shapes[In(0)];
                if (node.IntArgs.Count != 1 || !p.Batched[In(0)] || !p.Batched[i] || Norm(node.IntArgs[0], inS.Rank) is var d && d <= 0) return false;
                int outer = 1, inner = 1;
                for (int k = 1; k < d; k++) outer *= inS[k].Size;
                for (int k = d + 1; k < inS.Rank; k++) inner *= inS[k].Size;
                np.Rule = "Extreme";
                np.Op = node.Op;
                np.Ints = new[] { outer, inS[d].Size, inner };
                return true;
            }

            case NodeKind.Reduce when node.Op is "Sum" or "Mean":
            {
                var inS = p.Shapes[In(0)];
                int rank = inS.Rank;
                var dims = node.IntArgs.Count == 0 ? Enumerable.Range(0, rank).ToList() : node.IntArgs.Select(d => Norm(d, rank)).Distinct().OrderBy(d => d).ToList();
                if (dims.Count == 0 || dims.Any(d => d < 0) || dims[dims.Count - 1] - dims[0] != dims.Count - 1) return false;
                if (!p.Batched[In(0)]) return false;
                np.Rule = "Reduce";
                np.Op = node.Op;
                int inner = 1, size = 1, outer = 1;
                for (int d = 1; d < rank; d++)
                {
                    if (d < dims[0]) outer *= inS[d].Size;
                    else if (d > dims[dims.Count - 1]) inner *= inS[d].Size;
                    else size *= inS[d].Size;
                }
                // Ints: over the batch dim (1/0), outer (per batch item), size (fixed part), inner
                np.Ints = new[] { dims[0] == 0 ? 1 : 0, outer, size, inner };
                if (dims[0] == 0 && p.Batched[i]) return false;
                if (dims[0] != 0 && !p.Batched[i]) return false;
                return true;
            }

            case NodeKind.MatMul:
            {
                var a = p.Shapes[In(0)];
                var b = p.Shapes[In(1)];
                // [N, m, k] · [N, k, q] (both batched, rank 3)
                if (a.Rank == 3 && b.Rank == 3 && p.Batched[In(0)] && p.Batched[In(1)] && p.Batched[i])
                {
                    np.Rule = "MatMul";
                    np.Ints = new[] { a[1].Size, a[2].Size, b[2].Size };
                    return true;
                }
                return false;
            }

            case NodeKind.Loss:
            {
                if (!IsRaw(1) || !p.Batched[In(0)] || p.Batched[i] || p.F[i] != 1) return false;
                foreach (var s in node.Scalars)
                {
                    if (s.Name == "reduction" && s.IsKnown && s.Value is 1 or 2) continue;
                    if (s.Name == "ignoreIndex" && s.IsKnown) continue;
                    if (s.Name == "labelSmoothing" && s.IsKnown && s.Value == 0) continue;
                    return false;
                }
                if (node.Inputs.Count != 2) return false;
                var inS = p.Shapes[In(0)];
                np.Rule = "Loss";
                np.Op = node.Op;
                np.Alpha = (node.Scalar("reduction")?.Value ?? 1) == 2 ? "global::SharpGrad.Reduction.Sum" : "global::SharpGrad.Reduction.Mean";
                np.Beta = ((long)(node.Scalar("ignoreIndex")?.Value ?? -100)).ToString(CultureInfo.InvariantCulture) + "L";
                switch (node.Op)
                {
                    case "CrossEntropy" or "Nll":
                        if (inS.Rank != 2) return false;
                        np.Ints = new[] { inS[1].Size };
                        return true;
                    case "Mse" or "L1" or "BinaryCrossEntropyWithLogits":
                        return true;
                    default:
                        return false;
                }
            }

            default:
                return false;
        }
    }

    private static bool PlanUnary(CompiledProgram program, MethodPlan p, int i, GraphNode node, NodePlan np, ChildSpec? child,
        List<(int Node, int Slot)>[] consumers)
    {
        int a = node.Inputs[0];
        if (p.Batched[a] != p.Batched[i] || p.F[a] != p.F[i]) return false;
        string op = node.Op;
        if (child is not null) np.Module = program.Module(child);
        string m = np.Module?.Field ?? "";
        ScalarArg? S(string name) => node.Scalar(name);
        string ScalarOr(string name, double fallback) => S(name) switch
        {
            null => F32(fallback),
            { IsKnown: true } s => F32(s.Value),
            _ => "",
        };
        switch (op)
        {
            case "Identity":
                np.Rule = "Alias";
                p.VRoot[i] = p.VRoot[a];
                p.GRoot[i] = p.GRoot[a];
                return true;
            case "Relu" or "ReLU":
            {
                np.Rule = "Relu";
                var producer = p.Method.Nodes[a];
                if (producer.Kind is NodeKind.Linear or NodeKind.Conv && consumers[a].Count == 1 && a != p.Method.Output
                    && p.Nodes[a].Rule is "Linear" or "Conv" && p.Nodes[a].FusedRelu < 0)
                {
                    np.FusedIntoLinear = true;
                    p.Nodes[a].FusedRelu = i;
                    p.VRoot[i] = p.VRoot[a];
                }
                return true;
            }
            case "Dropout":
            {
                np.Rule = "Dropout";
                if (child is not null)
                {
                    np.Alpha = m + ".P";
                    np.Training = m + ".Training";
                    np.Beta = m + ".Rng";
                    return true;
                }
                if (ScalarOr("p", 0.5) is not { Length: > 0 } prob) return false;
                np.Alpha = prob.TrimEnd('f');
                np.Beta = "null";
                var training = S("training");
                if (training is null || (training.IsKnown && training.Value == 1)) np.Training = "true";
                else if (training.IsKnown) np.Training = "false";
                else if (training.Text is "Training" or "this.Training") np.Training = "_m.Training";
                else return false;
                return true;
            }
            case "Softmax" or "LogSoftmax":
            {
                int? dim = child is not null ? child.Int("dim") : S("dim") is { IsKnown: true } d ? (int)d.Value : null;
                var shape = p.Shapes[i];
                if (dim is not { } dd || Norm(dd, shape.Rank) is var nd && nd < 0) return false;
                if (p.Batched[i] && nd == 0) return false;
                np.Rule = "Softmax";
                np.Op = op;
                int outer = 1, inner = 1;
                for (int k = p.Batched[i] ? 1 : 0; k < nd; k++) outer *= shape[k].Size;
                for (int k = nd + 1; k < shape.Rank; k++) inner *= shape[k].Size;
                np.Ints = new[] { outer, shape[nd].Size, inner };
                return true;
            }
        }
        string? unary = op switch
        {
            "Sigmoid" => "Sigmoid", "Tanh" => "Tanh", "Gelu" or "GELU" => "Gelu", "Silu" or "SiLU" => "Silu", "Softplus" => "Softplus",
            "LeakyRelu" or "LeakyReLU" => "LeakyRelu", "Elu" or "ELU" => "Elu", "Relu6" or "ReLU6" => "Relu6", "Hardtanh" => "Hardtanh",
            "LogSigmoid" => "LogSigmoid", "Exp" => "Exp", "Log" => "Log", "Sqrt" => "Sqrt", "Abs" => "Abs", "Neg" => "Neg",
            _ => null,
        };
        if (unary is null) return false;
        np.Rule = "Unary";
        np.Op = unary;
        if (child is not null)
        {
            switch (unary)
            {
                case "LeakyRelu": np.Alpha = $"(float){m}.NegativeSlope"; break;
                case "Elu": np.Alpha = $"(float){m}.Alpha"; break;
                case "Softplus": np.Alpha = $"(float){m}.Beta"; np.Beta = $"(float){m}.Threshold"; break;
                case "Hardtanh": np.Alpha = $"(float){m}.MinVal"; np.Beta = $"(float){m}.MaxVal"; break;
                case "Gelu": np.Alpha = $"({m}.Approximate == \"tanh\" ? 1f : 0f)"; break;
            }
            return true;
        }
        string Need(string name, double fallback, ref bool ok)
        {
            var v = ScalarOr(name, fallback);
            if (v.Length == 0) ok = false;
            return v;
        }
        bool fine = true;
        switch (unary)
        {
            case "LeakyRelu": np.Alpha = Need("negativeSlope", 0.01, ref fine); break;
            case "Elu": np.Alpha = Need("alpha", 1.0, ref fine); break;
            case "Softplus": np.Alpha = Need("beta", 1.0, ref fine); np.Beta = Need("threshold", 20.0, ref fine); break;
            case "Hardtanh": np.Alpha = Need("minVal", -1.0, ref fine); np.Beta = Need("maxVal", 1.0, ref fine); break;
            case "Gelu":
                if (S("approximate") is { Text.Length: > 0 } ap) { if (ap.Text != "\"tanh\"") fine = ap.Text == "\"none\""; else np.Alpha = "1f"; }
                break;
        }
        return fine;
    }

    private static int Norm(int dim, int rank) => dim < 0 ? (dim + rank >= 0 ? dim + rank : -1) : (dim < rank ? dim : -1);

    /// <summary>An (H, W) argument: the default when absent, null when present but not a constant.</summary>
    private static (int H, int W)? PairOr(ChildSpec child, string name, (int, int) fallback)
        => child.Arg(name) switch
        {
            null => fallback,
            { IsKnown: true, Values.Count: 0 } => fallback,
            _ => child.Pair(name),
        };
}
