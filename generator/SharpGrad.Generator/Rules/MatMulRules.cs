using System.Collections.Generic;
using System.Linq;

namespace SharpGrad.Generator.Rules;

/// <summary>A MatMul with one operand shared by every matrix of the other: per-matrix [M, K] · [K, N], Count matrices per batch item.</summary>
internal sealed record BroadcastMatMulGeometry(MatMulGeometry Matrix, bool AShared, bool BShared) : Geometry;

/// <summary>
/// A MatMul whose operands' batch dims both broadcast (<c>[N, H, T, d] · [N, 1, d, T]</c>, <c>[N, H, T, d] · [H, d, e]</c>):
/// the output's dims before the last two, and each operand's aligned to them from the right, as C# (<c>n</c>, <c>4</c>,
/// <c>_sym_T</c>; <c>1</c> where the operand is broadcast).
/// </summary>
internal sealed record BatchBroadcastMatMulGeometry(MatMulGeometry Matrix, EquatableArray<string> OutBatch, EquatableArray<string> ABatch, EquatableArray<string> BBatch) : Geometry;

/// <summary>
/// A MatMul whose batch dims broadcast (PyTorch's matmul rules): one operand is not batched and has only 1s before its
/// last two dims ([D, E], [T, T], [1, T, T]), the other is batched ([N, …, m, k]): one GEMM per matrix of the batched
/// operand with the shared one; the shared operand's gradient sums over every matrix (the broadcast dims reduced).
/// </summary>
internal sealed class BroadcastMatMulRule : Rule
{
    public override RuleKind Kind => RuleKind.BroadcastMatMul;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
        => Shared(m, i, plan) ?? BothBroadcast(m, i, plan);

    /// <summary>One operand not batched with only 1s before its last two dims: one GEMM per matrix of the other.</summary>
    private NodePlan? Shared(MethodDraft m, int i, NodePlan plan)
    {
        int l = m.In(i, 0), r = m.In(i, 1);
        var a = m.Shapes[l];
        var b = m.Shapes[r];
        if (a.Rank < 2 || b.Rank < 2 || !m.Batched[i] || m.Batched[l] == m.Batched[r]) return null;
        bool aShared = !m.Batched[l];
        var shared = aShared ? a : b;
        var batched = aShared ? b : a;
        if (batched.Rank == 2 && !aShared && shared.Rank == 2)
        {
            // [N, k] · [k, q] (x.Mm(weight), x.MatMul(weight)): N matrices of one row each, the weight shared.
            var row = new MatMulGeometry(1, MethodDraft.Product(a, 1, 2), MethodDraft.Product(b, 1, 2), 1) { KText = m.ProductText(a, 1, 2), NText = m.ProductText(b, 1, 2) };
            return plan with { Rule = Kind, Geometry = new BroadcastMatMulGeometry(row, false, true) };
        }
        if (batched.Rank < 3) return null;
        for (int d = 0; d < shared.Rank - 2; d++) if (!shared[d].IsOne) return null;
        return plan with { Rule = Kind, Geometry = new BroadcastMatMulGeometry(MatMulGeometry.Of(m, a, b, batched, 1), aShared, !aShared) };
    }

    /// <summary>
    /// Both operands' batch dims broadcast against each other (PyTorch's matmul rules): every dim before the last two of
    /// each operand, aligned from the right, is the output's or a fixed 1; a symbol (the batch, a length T) only where the
    /// output has the very same symbol, so the broadcast is decided at build time and never differs at run time.
    /// </summary>
    private NodePlan? BothBroadcast(MethodDraft m, int i, NodePlan plan)
    {
        int l = m.In(i, 0), r = m.In(i, 1);
        var a = m.Shapes[l];
        var b = m.Shapes[r];
        var y = m.Shapes[i];
        if (a.Rank < 2 || b.Rank < 2 || !m.Batched[i] || m.BatchAxis[i] != 0 || y.Rank < 3) return null;
        int batchDims = y.Rank - 2;
        string[]? Aligned(TensorShape s, int node)
        {
            if (m.Batched[node] && m.BatchAxis[node] != 0) return null;
            var texts = new string[batchDims];
            int offset = batchDims - (s.Rank - 2);
            if (offset < 0) return null;
            for (int d = 0; d < batchDims; d++)
            {
                if (d < offset) { texts[d] = "1"; continue; }
                var dim = s[d - offset];
                if (dim.IsOne) texts[d] = "1";
                else if (!dim.Equals(y[d]) || (d == 0) != (m.Batched[node] && d - offset == 0)) return null;
                else texts[d] = d == 0 ? "n" : DimText(m, dim) ?? "";
                if (texts[d] == "") return null;
            }
            return texts;
        }
        if (Aligned(a, l) is not { } aBatch || Aligned(b, r) is not { } bBatch) return null;
        var outBatch = new string[batchDims];
        for (int d = 0; d < batchDims; d++) outBatch[d] = d == 0 ? "n" : DimText(m, y[d]) ?? "";
        if (outBatch.Any(t => t == "")) return null;
        var matrix = MatMulGeometry.Of(m, a, b, y, 1);
        return plan with { Rule = Kind, Geometry = new BatchBroadcastMatMulGeometry(matrix, outBatch.ToEquatableArray(), aBatch.ToEquatableArray(), bBatch.ToEquatableArray()) };
    }

    public override (string Type, string[] Arguments)? Constant(NodePlan n) => n.Geometry switch
    {
        BatchBroadcastMatMulGeometry g => ($"{EmitContext.Kernels}.MatMulShape", g.Matrix.ShapeArguments),
        _ => ($"{EmitContext.Kernels}.MatMulShape", ((BroadcastMatMulGeometry)n.Geometry!).Matrix.ShapeArguments),
    };

    public override IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n)
        => n.Geometry is BatchBroadcastMatMulGeometry g
            ? [new("out_batch", "int[]", null, Dims(g.OutBatch)), new("a_batch", "int[]", null, Dims(g.ABatch)), new("b_batch", "int[]", null, Dims(g.BBatch))]
            : [];

    /// <summary>A shape array's initial value: the batch (n) and sizes read at each call are patched on every call.</summary>
    private static string Dims(EquatableArray<string> dims) => "new int[] { " + string.Join(", ", dims) + " }";

    private static string[] BatchArguments(EmitContext e, NodePlan n)
        => [e.Geometry(n), e.Scratch(n, "out_batch"), e.Scratch(n, "a_batch"), e.Scratch(n, "b_batch")];

    private static string[] Arguments(EmitContext e, NodePlan n)
    {
        var g = (BroadcastMatMulGeometry)n.Geometry!;
        return [$"count: {g.Matrix.Matrices}", e.Geometry(n), $"aShared: {(g.AShared ? "true" : "false")}", $"bShared: {(g.BShared ? "true" : "false")}"];
    }

    public override void Forward(EmitContext e, NodePlan n)
    {
        if (n.Geometry is BatchBroadcastMatMulGeometry)
        {
            e.W.Comment($"{n.Text}: one GEMM per output matrix, the batch dims of both operands broadcast");
            e.W.Call($"{EmitContext.Support}.MatMulBatchBroadcastForward", [e.Value(n.Inputs[0]), e.Value(n.Inputs[1]), e.Value(n.Index), .. BatchArguments(e, n)]);
            return;
        }
        e.W.Comment($"{n.Text}: one GEMM per matrix, the {(((BroadcastMatMulGeometry)n.Geometry!).AShared ? "left" : "right")} operand shared");
        e.W.Call($"{EmitContext.Support}.MatMulBroadcastForward", [e.Value(n.Inputs[0]), e.Value(n.Inputs[1]), e.Value(n.Index), .. Arguments(e, n)]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0], b = n.Inputs[1];
        if (n.Geometry is BatchBroadcastMatMulGeometry)
        {
            e.W.Comment($"d {n.Text}: dA += dY · Bᵀ, dB += Aᵀ · dY per output matrix, summed into each broadcast operand's matrix");
            e.W.Call($"{EmitContext.Support}.MatMulBatchBroadcastBackward",
                [e.Value(a), e.Value(b), e.Grad(n.Index), e.GradOrNull(a), e.GradOrNull(b), .. BatchArguments(e, n)]);
            return;
        }
        e.W.Comment($"d {n.Text}: dA += dY · Bᵀ, dB += Aᵀ · dY per matrix, summed into the shared operand's gradient");
        e.W.Call($"{EmitContext.Support}.MatMulBroadcastBackward",
            [e.Value(a), e.Value(b), e.Grad(n.Index), e.GradOrNull(a), e.GradOrNull(b), .. Arguments(e, n)]);
    }
}
