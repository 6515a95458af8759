using System.Collections.Generic;
using System.Linq;

namespace SharpGrad.Generator.Planning;

/// <summary>
/// The fusion passes over a planned method: a ReLU into the epilogue of the Linear/Conv before it, a residual add into
/// the epilogue of the Linear before it, a Linear → ReLU → Linear pair into one batch-1 pass, and chains of same-shape
/// elementwise ops into one loop. Each fused node keeps
/// its plan; the emitted code says where it was computed.
/// </summary>
internal static class Fusion
{
    /// <summary>The run-time flag of a Linear/Conv whose epilogue computes a fused op (false when a hook must see its own output).</summary>
    public static string FusedFlag(NodePlan producer) => producer.Name + "_fused";

    /// <summary>ReLUs and residual adds into the epilogues of the Linear/Conv they follow (when that op has no other reader).</summary>
    public static void Epilogues(MethodDraft m)
    {
        var nodes = m.Nodes;
        for (int i = 0; i < m.Count; i++)
        {
            var node = nodes[i];
            if (node.Rule == RuleKind.Pointwise && m.Row(i) is { FusesIntoGemm: true })
            {
                int a = node.Inputs[0];
                var producer = nodes[a];
                if (producer.Rule is RuleKind.Linear or RuleKind.Conv && m.Consumers[a].Count == 1 && a != m.Output
                    && producer.Epilogue < 0 && producer.ResidualAdd < 0)
                {
                    nodes[a] = producer with { Epilogue = i };
                    nodes[i] = node with { EpilogueOf = a, ValueRoot = producer.ValueRoot };
                }
                continue;
            }
            if (node.Rule != RuleKind.Elementwise || node.Operator != "+" || node.Inputs.Count != 2) continue;
            if (m.IsConst(node.Inputs[0]) || m.IsConst(node.Inputs[1])) continue;
            for (int s = 0; s < 2; s++)
            {
                // linear(h) + r with r computed earlier: r is added in the Linear's GEMM epilogue.
                int lin = node.Inputs[s], other = node.Inputs[1 - s];
                var producer = nodes[lin];
                if (producer.Rule == RuleKind.Linear && producer.Epilogue < 0 && producer.ResidualAdd < 0 && m.Consumers[lin].Count == 1
                    && lin != m.Output && other < lin && nodes[other].ValueRoot != producer.ValueRoot && !m.IsRaw(other))
                {
                    nodes[lin] = producer with { ResidualAdd = i };
                    nodes[i] = node with { ResidualOperand = other, ValueRoot = producer.ValueRoot };
                    break;
                }
            }
        }
        // Linear → ReLU (in its epilogue) → Linear, emitted one after the other, the ReLU read by nothing else: a pair that
        // one sample's pass computes at once (the second layer's output is written at the first one's place, so nothing
        // may be emitted between them).
        for (int a = 0; a + 2 < m.Count; a++)
        {
            var first = nodes[a];
            int r = first.Epilogue, b = a + 2;
            if (first.Rule != RuleKind.Linear || first.PairOf >= 0 || r != a + 1 || m.Consumers[r].Count != 1 || r == m.Output || a == m.Output) continue;
            var second = nodes[b];
            if (second.Rule != RuleKind.Linear || second.Inputs[0] != r || second.ResidualAdd >= 0 || second.PairOf >= 0) continue;
            nodes[a] = first with { PairNext = b };
            nodes[b] = second with { PairOf = a };
        }
        // A view or boundary of a fused node holds the buffer that node now writes into (roots precede their readers).
        for (int i = 0; i < m.Count; i++)
        {
            if (nodes[i].ValueRoot != i) nodes[i] = nodes[i] with { ValueRoot = nodes[nodes[i].ValueRoot].ValueRoot };
        }
    }

    /// <summary>An elementwise node computed by a loop of its own or fused into a reader's (not a residual add in an epilogue).</summary>
    private static bool IsLoop(NodePlan n) => n.Rule == RuleKind.Elementwise && n.ResidualOperand < 0;

    /// <summary>
    /// Elementwise chains into one loop: a same-shape + − · / or negation whose only reader is another such node (and
    /// whose value no backward and no hook reads) is not materialised; its reader's loop computes it inline.
    /// </summary>
    public static void ElementwiseChains(MethodDraft m)
    {
        var nodes = m.Nodes;
        var readers = Readers(m);
        for (int i = 0; i < m.Count; i++)
        {
            var n = nodes[i];
            if (!m.Live(i) || !IsLoop(n) || i == m.Output || n.Saved || n.ValueRoot != i) continue;
            if (readers[i].Count != 1 || readers[i][0] is var c && (c < 0 || !IsLoop(nodes[c]))) continue;
            if (m.Batched[c] != m.Batched[i] || m.Features[c] != m.Features[i] || m.Symbolic[c] != m.Symbolic[i]) continue;
            nodes[i] = n with { FusedInto = c };
        }
    }

    /// <summary>The live readers of each node (−1 for a hook of an inlined child that reads it as its input).</summary>
    public static List<int>[] Readers(MethodDraft m)
    {
        var readers = new List<int>[m.Count];
        for (int i = 0; i < m.Count; i++) readers[i] = new List<int>();
        for (int j = 0; j < m.Count; j++)
        {
            if (!m.Live(j)) continue;
            foreach (var k in m.Nodes[j].Inputs) readers[k].Add(j);
            if (m.Nodes[j].Rule == RuleKind.Boundary) foreach (var k in m.Nodes[j].CallArguments.Where(k => k < m.Count)) readers[k].Add(-1);
        }
        return readers;
    }

    /// <summary>The node whose loop finally computes node <paramref name="i"/> (itself unless fused into a reader).</summary>
    public static int LoopOf(IReadOnlyList<NodePlan> nodes, int i)
    {
        while (nodes[i].FusedInto >= 0) i = nodes[i].FusedInto;
        return i;
    }
}
