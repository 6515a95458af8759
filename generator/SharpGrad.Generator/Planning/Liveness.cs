using System.Collections.Generic;
using System.Linq;

namespace SharpGrad.Generator.Planning;

/// <summary>
/// Memory planning by liveness: which values the backward reads (kept in buffers of their own), and which values and
/// gradients share a buffer because their lives do not overlap. Every buffer becomes a field named after the value it
/// holds (<c>_forward_fc1_out</c>, <c>_forward_fc1_out_grad</c>), or <c>_forward_shared…</c> when several take turns in it.
/// </summary>
internal static class Liveness
{
    /// <summary>Marks the nodes whose values some backward rule reads (the forward then keeps them).</summary>
    public static void MarkSaved(MethodDraft m)
    {
        var saved = new bool[m.Count];
        for (int j = 0; j < m.Count; j++)
        {
            if (!m.Live(j)) continue;
            foreach (var k in RuleSet.For(m.Nodes[j].Rule)!.Reads(m.Nodes, m.Nodes[j])) saved[k] = true;
        }
        for (int i = 0; i < m.Count; i++) if (saved[i]) m.Nodes[i] = m.Nodes[i] with { Saved = true };
    }

    private static bool OwnsValue(MethodDraft m, int i) => m.Live(i) && m.Nodes[i].ValueRoot == i && m.Nodes[i].FusedInto < 0;

    private static bool OwnsGrad(MethodDraft m, int i) => m.Live(i) && m.Nodes[i].GradRoot == i;

    /// <summary>Plans the value and gradient buffers, sets each node's fields, and returns the buffers.</summary>
    public static List<BufferPlan> Buffers(MethodDraft m)
    {
        var buffers = new List<BufferPlan>();
        var valueSlot = ValueSlots(m, out var valueFeatures);
        var gradSlot = GradSlots(m, out var gradFeatures, out var firstWrite, out var clearAtFirstWrite);
        var overwriter = Overwriters(m, firstWrite);
        var valueField = new Dictionary<int, string>();
        var gradField = new Dictionary<int, string>();
        int shared = 0;
        foreach (var owner in valueFeatures.Keys.OrderBy(k => k))
        {
            var holders = Enumerable.Range(0, m.Count).Where(r => OwnsValue(m, r) && valueSlot[r] == owner).ToList();
            string field = holders.Count == 1 ? PrefixOf(m) + m.Nodes[owner].Name : PrefixOf(m) + "shared" + MethodDraft.I(shared++);
            valueField[owner] = field;
            if (m.Nodes[owner].Rule != RuleKind.Input) buffers.Add(new BufferPlan(field, false, m.Batched[owner], valueFeatures[owner], holders.ToEquatableArray()) { Symbolic = m.Symbolic[owner] ?? "" });
        }
        shared = 0;
        foreach (var owner in gradFeatures.Keys.OrderBy(k => k))
        {
            var holders = Enumerable.Range(0, m.Count).Where(r => OwnsGrad(m, r) && gradSlot[r] == owner).ToList();
            string field = holders.Count == 1 ? PrefixOf(m) + m.Nodes[owner].Name + "_grad" : PrefixOf(m) + "shared_grad" + MethodDraft.I(shared++);
            // A buffer of its own is cleared before the backward like the others; a shared one at each holder's first write.
            if (holders.Count == 1) clearAtFirstWrite[owner] = false;
            gradField[owner] = field;
            buffers.Add(new BufferPlan(field, true, m.Batched[owner], gradFeatures[owner], holders.ToEquatableArray()) { Symbolic = m.Symbolic[owner] ?? "" });
        }
        for (int i = 0; i < m.Count; i++)
        {
            if (!m.Live(i)) continue;
            var n = m.Nodes[i];
            m.Nodes[i] = n with
            {
                ValueField = valueField.TryGetValue(valueSlot[n.ValueRoot], out var vf) ? vf : null,
                GradField = n.GradRoot == i && gradField.TryGetValue(gradSlot[i], out var gf) ? gf : null,
                GradFirstWrite = n.GradRoot == i && clearAtFirstWrite[i] && overwriter[i] < 0 ? firstWrite[i] : -1,
                GradOverwriter = n.GradRoot == i ? overwriter[i] : -1,
            };
        }
        return buffers;
    }

    private static string PrefixOf(MethodDraft m) => Planner.MethodPrefix(m.Method.Name);

    /// <summary>
    /// For each gradient root: the node whose backward writes it first and overwrites it in full, so that it is not cleared
    /// (before the backward, or at its first write when shared by liveness) only to be added to; -1 where it is cleared.
    /// The first writer is the live node of highest index that reads the root or one of its views (<c>firstWrite</c>). It
    /// overwrites when it runs in both modes, reads the root through one input only, and its rule writes that input's whole
    /// gradient when told to (<see cref="Rule.OverwritesInputGrad"/>). Not for a method input's gradient (cleared only when
    /// wanted, and snapshotted by an inlined child's hooks) nor the result's (set from the caller's), nor for a root whose
    /// gradient an inlined child snapshots before its backward (a <see cref="RuleKind.Boundary"/> run before the writer:
    /// the child's backward hooks see what it added, so the buffer must hold the gradient so far, zeros included). The
    /// writer's own hooks snapshot its input's gradient too: the emitter clears it first when the module has backward hooks.
    /// </summary>
    private static int[] Overwriters(MethodDraft m, int[] firstWrite)
    {
        int count = m.Count;
        var nodes = m.Nodes;
        var result = Enumerable.Repeat(-1, count).ToArray();
        var inputs = new HashSet<int>(m.FloatInputs.Select(f => nodes[f].GradRoot));
        for (int r = 0; r < count; r++)
        {
            if (!OwnsGrad(m, r) || inputs.Contains(r) || nodes[m.Output].GradRoot == r) continue;
            int c = firstWrite[r];
            if (c < 0 || !m.Live(c) || m.Mode[c] != 3 || nodes[c].GradRoot == r || RuleSet.For(nodes[c].Rule) is not { IsView: false } rule) continue;
            var slots = Enumerable.Range(0, nodes[c].Inputs.Count).Where(s => m.Live(nodes[c].Inputs[s]) && nodes[nodes[c].Inputs[s]].GradRoot == r).ToList();
            if (slots.Count != 1 || !rule.OverwritesInputGrad(nodes[c], slots[0])) continue;
            bool snapshot = false;
            for (int b = c + 1; b < count && !snapshot; b++)
            {
                snapshot = m.Live(b) && nodes[b].Rule == RuleKind.Boundary && nodes[b].CallArguments.Any(k => k < count && nodes[k].GradRoot == r);
            }
            if (!snapshot) result[r] = c;
        }
        return result;
    }

    /// <summary>
    /// Values: those the backward reads (and the output) keep their own buffer; every other batched value lives from its
    /// node to its last forward reader, and values whose lives do not overlap share one buffer (greedy, in node order),
    /// sized for the largest of them. Returns each root's buffer owner.
    /// </summary>
    private static int[] ValueSlots(MethodDraft m, out Dictionary<int, int> features)
    {
        int count = m.Count;
        var nodes = m.Nodes;
        var slot = Enumerable.Range(0, count).ToArray();
        var last = Enumerable.Range(0, count).ToArray();
        var saved = new bool[count];
        features = new Dictionary<int, int>();
        for (int j = 0; j < count; j++)
        {
            if (!m.Live(j)) continue;
            foreach (var k in nodes[j].Inputs) if (m.Live(k)) last[nodes[k].ValueRoot] = System.Math.Max(last[nodes[k].ValueRoot], Fusion.LoopOf(nodes, j));
            if (nodes[j].Rule == RuleKind.Boundary)
            {
                foreach (var k in nodes[j].CallArguments) if (k < count && m.Live(k)) last[nodes[k].ValueRoot] = System.Math.Max(last[nodes[k].ValueRoot], j);
            }
        }
        for (int k = 0; k < count; k++) if (nodes[k].Saved) saved[nodes[k].ValueRoot] = true;
        saved[nodes[m.Output].ValueRoot] = true;
        var free = new List<(int Slot, int End)>();
        var open = new List<(int Slot, int End)>();
        for (int r = 0; r < count; r++)
        {
            if (!OwnsValue(m, r)) continue;
            features[r] = m.Features[r];
            if (nodes[r].Rule == RuleKind.Input || saved[r] || !m.Batched[r] || m.IsSymbolic(r)) continue;   // symbolic sizes: a buffer each
            // Buffers whose last reader ran before this node are free again.
            for (int o = open.Count - 1; o >= 0; o--)
            {
                if (open[o].End < r)
                {
                    free.Add(open[o]);
                    open.RemoveAt(o);
                }
            }
            int pick = free.Count > 0 ? free[0].Slot : r;
            if (free.Count > 0) free.RemoveAt(0);
            slot[r] = pick;
            if (pick != r)
            {
                features[pick] = System.Math.Max(features[pick], m.Features[r]);
                features.Remove(r);
            }
            open.Add((pick, last[r]));
        }
        return slot;
    }

    /// <summary>
    /// Gradients: a value's gradient lives from the backward of its last reader (the first to write it, in reverse order)
    /// down to its own node's backward. Gradients whose lives do not overlap share a buffer, cleared at first write. The
    /// output's, the method inputs' and those hooks read stay their own. Returns each gradient root's buffer owner; the
    /// roots taking part are cleared at their first write rather than before the backward.
    /// </summary>
    private static int[] GradSlots(MethodDraft m, out Dictionary<int, int> features, out int[] firstWrite, out bool[] clearAtFirstWrite)
    {
        clearAtFirstWrite = new bool[m.Count];
        int count = m.Count;
        var nodes = m.Nodes;
        var slot = Enumerable.Range(0, count).ToArray();
        firstWrite = Enumerable.Repeat(-1, count).ToArray();
        var pinned = new bool[count];
        features = new Dictionary<int, int>();
        for (int c = 0; c < count; c++)
        {
            if (!m.Live(c)) continue;
            foreach (var k in nodes[c].Inputs) if (m.Live(k)) firstWrite[nodes[k].GradRoot] = System.Math.Max(firstWrite[nodes[k].GradRoot], c);
            if (nodes[c].Rule == RuleKind.Boundary)
            {
                pinned[nodes[c].GradRoot] = true;
                foreach (var k in nodes[c].CallArguments) if (k < count) pinned[nodes[k].GradRoot] = true;
            }
        }
        pinned[nodes[m.Output].GradRoot] = true;
        foreach (var f in m.FloatInputs) pinned[nodes[f].GradRoot] = true;
        // Intervals in index space [root, firstWrite], taken from the highest root down. A later interval [r, w] (r below
        // every earlier root) overlaps an earlier one [lo, hi] exactly when lo <= w, so a buffer is free for it when the
        // lowest root already using that buffer is above w.
        var lowest = new List<(int Slot, int Low)>();
        for (int r = count - 1; r >= 0; r--)
        {
            if (!OwnsGrad(m, r)) continue;
            features[r] = m.Features[r];
            if (pinned[r] || !m.Batched[r] || firstWrite[r] < 0 || m.IsSymbolic(r)) continue;
            int w = firstWrite[r];
            clearAtFirstWrite[r] = true;
            int found = lowest.FindIndex(e => e.Low > w);
            int pick = found >= 0 ? lowest[found].Slot : r;
            if (found >= 0) lowest[found] = (pick, r);
            else lowest.Add((r, r));
            slot[r] = pick;
            if (pick != r)
            {
                features[pick] = System.Math.Max(features[pick], m.Features[r]);
                features.Remove(r);
            }
        }
        return slot;
    }
}
