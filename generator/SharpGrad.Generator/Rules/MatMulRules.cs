using System.Collections.Generic;
using System.Linq;

namespace SharpGrad.Generator.Rules;

/// <summary>A MatMul with one operand shared by every matrix of the other: per-matrix [M, K] · [K, N], Count matrices per batch item.</summary>
internal sealed record BroadcastMatMulGeometry(MatMulGeometry Matrix, bool AShared, bool BShared) : Geometry;

/// <summary>
/// A MatMul whose batch dims broadcast (PyTorch's matmul rules): one operand is not batched and has only 1s before its
/// last two dims ([D, E], [T, T], [1, T, T]), the other is batched ([N, …, m, k]): one GEMM per matrix of the batched
/// operand with the shared one; the shared operand's gradient sums over every matrix (the broadcast dims reduced).
/// </summary>
internal sealed class BroadcastMatMulRule : Rule
{
    public override RuleKind Kind => RuleKind.BroadcastMatMul;

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        int l = m.In(i, 0), r = m.In(i, 1);
        var a = m.Shapes[l];
        var b = m.Shapes[r];
        if (a.Rank < 2 || b.Rank < 2 || !m.Batched[i] || m.Batched[l] == m.Batched[r]) return null;
        bool aShared = !m.Batched[l];
        var shared = aShared ? a : b;
        var batched = aShared ? b : a;
        if (batched.Rank < 3) return null;
        for (int d = 0; d < shared.Rank - 2; d++) if (!shared[d].IsOne) return null;
        return plan with { Rule = Kind, Geometry = new BroadcastMatMulGeometry(MatMulGeometry.Of(m, a, b, batched, 1), aShared, !aShared) };
    }

    public override (string Type, string[] Arguments)? Constant(NodePlan n)
    {
        return ($"{EmitContext.Kernels}.MatMulShape", ((BroadcastMatMulGeometry)n.Geometry!).Matrix.ShapeArguments);
    }

    private static string[] Arguments(EmitContext e, NodePlan n)
    {
        var g = (BroadcastMatMulGeometry)n.Geometry!;
        return [$"count: {g.Matrix.Matrices}", e.Geometry(n), $"aShared: {(g.AShared ? "true" : "false")}", $"bShared: {(g.BShared ? "true" : "false")}"];
    }

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: one GEMM per matrix, the {(((BroadcastMatMulGeometry)n.Geometry!).AShared ? "left" : "right")} operand shared");
        e.W.Call($"{EmitContext.Support}.MatMulBroadcastForward", [e.Value(n.Inputs[0]), e.Value(n.Inputs[1]), e.Value(n.Index), .. Arguments(e, n)]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
        int a = n.Inputs[0], b = n.Inputs[1];
        e.W.Comment($"d {n.Text}: dA += dY · Bᵀ, dB += Aᵀ · dY per matrix, summed into the shared operand's gradient");
        e.W.Call($"{EmitContext.Support}.MatMulBroadcastBackward",
            [e.Value(a), e.Value(b), e.Grad(n.Index), e.GradOrNull(a), e.GradOrNull(b), .. Arguments(e, n)]);
    }
}
