using System.Collections.Generic;
using System.Linq;
using System.Threading;

namespace SharpGrad.Generator.Planning;

/// <summary>
/// The planning step (an incremental step of its own, after shape inference): decides for each node of each compiled
/// method which rule emits it and with what geometry, then runs the passes that fuse ops (<see cref="Fusion"/>) and
/// plan buffers by liveness (<see cref="Liveness"/>), and names every value after the source (<see cref="ValueNames"/>).
/// A node no rule takes is SG1017, carried as data; unknown shapes give no program and no diagnostic.
/// </summary>
internal static class Planner
{
    /// <summary>Plans one module (returns the spec without its diagnostics, and the program or the reason it has none).</summary>
    public static PlannedModule Plan(ModuleSpec spec, CancellationToken token)
    {
        var emitSpec = spec with { Diagnostics = default };
        if (spec.CanEmit && spec.Graph is { IsCompilable: false } broken && CanStandIn(broken)) return new PlannedModule(emitSpec, null, null) { Eager = true };
        // A class with errors gets no generated code at all (its diagnostics say why); unknown shapes: no program either.
        if (!spec.CanEmit || spec.Shapes.IsEmpty || spec.Graph is not { IsCompilable: true } graph) return new PlannedModule(emitSpec, null, null);
        var forward = graph.Methods.Where(m => m.Name == "Forward").ToList();
        if (forward.Count != 1) return new PlannedModule(emitSpec, null, null);
        var program = new ProgramDraft(spec, graph);
        var names = new HashSet<string>();
        var methods = new List<MethodPlan>();
        foreach (var method in graph.Methods)
        {
            token.ThrowIfCancellationRequested();
            if (!names.Add(method.Name) || method.Name is "Compile" or "Compiled") return new PlannedModule(emitSpec, null, null);
            var plan = PlanMethod(program, method, out var failure);
            if (plan is null)
            {
                var diagnostic = failure is null ? null
                    : new DiagnosticInfo(DiagnosticDescriptors.NotCompiledId, failure.Value.Location, new[] { spec.ClassName, failure.Value.Reason }.ToEquatableArray());
                return new PlannedModule(emitSpec, null, diagnostic);
            }
            methods.Add(plan);
        }
        return new PlannedModule(emitSpec, new ProgramPlan(program.Modules.ToEquatableArray(), program.Params.ToEquatableArray(), methods.ToEquatableArray()), null);
    }

    private static MethodPlan? PlanMethod(ProgramDraft program, GraphMethod method, out (string Reason, LocationInfo? Location)? failure)
    {
        failure = null;
        if (method.Output < 0 || method.Inputs.Count == 0) return null;
        var m = new MethodDraft(program, method, ShapeInference.InferNodes(program.Spec, method, new List<DiagnosticInfo>()));
        var nodes = method.Nodes;
        int count = nodes.Count;

        // Raw inputs: method parameters used only as a loss target or as embedding indices (read as data, not differentiated).
        bool IsRawUse((int Node, int Slot) c) => m.Row(c.Node) is { } row && MethodDraft.ReadsAsData(row, c.Slot);
        bool IsRawInput(int i) => nodes[i].Kind == NodeKind.Input && nodes[i].Op == "Input" && m.Consumers[i].Count > 0 && m.Consumers[i].All(IsRawUse);

        // The batch symbol: dim 0 of the first float input (or, with only raw inputs such as token ids, of those).
        for (int i = 0; i < count && m.Batch == ""; i++)
        {
            if (nodes[i].Kind != NodeKind.Input || nodes[i].Op != "Input" || IsRawInput(i)) continue;
            if (m.InferredShapes[i] is { Rank: >= 1 } s && s[0].IsSymbol) m.Batch = s[0].Symbol!;
        }
        foreach (var input in method.Inputs)
        {
            if (m.Batch != "") break;
            if (input.Shape is { Rank: >= 1 } s && s[0].IsSymbol) m.Batch = s[0].Symbol!;
        }
        if (m.Batch == "") return null;

        // Modes: which nodes are needed in training, in evaluation (Select on `if (Training)`).
        m.Mode[method.Output] = 3;
        for (int i = count - 1; i >= 0; i--)
        {
            if (m.Mode[i] == 0) continue;
            var node = nodes[i];
            if (node.Kind == NodeKind.Select)
            {
                m.Mode[node.Inputs[0]] |= m.Mode[i] & 1;
                m.Mode[node.Inputs[1]] |= m.Mode[i] & 2;
            }
            else
            {
                foreach (var input in node.Inputs) m.Mode[input] |= m.Mode[i];
            }
        }

        for (int i = 0; i < count; i++)
        {
            var node = nodes[i];
            var plan = m.Nodes[i] with
            {
                Text = node.Text, Inputs = node.Inputs, Mode = m.Mode[i], Parameter = node.Kind == NodeKind.Input && node.Op == "Input" ? node.IntArgs[0] : -1,
            };
            if (IsRawInput(i))
            {
                m.Nodes[i] = plan with { Rule = RuleKind.Raw };
                m.RawInputs.Add(i);
                continue;
            }
            if (m.Mode[i] == 0 && node.Kind != NodeKind.Input) continue;
            if (m.InferredShapes[i] is not { } shape) return null;   // an unknown shape: no program, and nothing to report
            m.Shapes[i] = shape;
            if (node.Kind == NodeKind.Constant)
            {
                if (shape.Rank != 0) return null;
                m.Nodes[i] = plan with { Rule = RuleKind.Constant, Shape = shape, Args = new[] { MethodDraft.F32(node.Value) }.ToEquatableArray() };
                continue;
            }
            bool batched = shape.Rank >= 1 && shape[0].Symbol == m.Batch;
            int features = 1;
            for (int d = batched ? 1 : 0; d < shape.Rank; d++)
            {
                if (!shape[d].IsFixed) return null;
                features *= shape[d].Size;
            }
            m.Batched[i] = batched;
            m.Features[i] = features;
            var row = m.Row(i);
            plan = plan with
            {
                Shape = shape, Batched = batched, Features = features, CallArguments = node.Child is not null ? node.IntArgs : default,
                Kernel = row?.Kernel, Operator = row?.Operator, Variant = row?.Variant ?? false, Reads = row?.Reads ?? BackwardReads.None,
            };
            var planned = PlanNode(m, i, plan, row);
            if (planned is null)
            {
                var inputs = string.Join(", ", node.Inputs.Select(j => m.InferredShapes[j]?.ToString() ?? "?"));
                string what = row is null ? node.Kind + " " + node.Op : row.Name;
                failure = ($"`{node.Text}` ({what}{(node.Child is null ? "" : " of '" + node.Child + "'")}, input shapes {inputs}, output {shape}) " +
                           $"is not emitted by the code generator in {method.Name}", node.Location ?? method.Location);
                return null;
            }
            m.Nodes[i] = planned;
        }
        if (!m.Live(method.Output)) return null;
        if (!m.FloatInputs.Any(f => m.Batched[f]) && !m.RawInputs.Any(r => method.Inputs[nodes[r].IntArgs[0]].Shape is { Rank: >= 1 } s && s[0].Symbol == m.Batch))
        {
            return null;
        }

        Fusion.Epilogues(m);
        Liveness.MarkSaved(m);
        Fusion.ElementwiseChains(m);
        ValueNames.Assign(m);
        var buffers = Liveness.Buffers(m);
        bool usesTraining = Enumerable.Range(0, count).Any(i => m.Live(i) && (m.Mode[i] != 3 || m.Nodes[i].Rule == RuleKind.Select));
        return new MethodPlan(method.Name, MethodPrefix(method.Name), method.Inputs, m.Nodes.ToEquatableArray(), method.Output)
        {
            Batch = m.Batch,
            ScalarOutput = !m.Batched[method.Output] && m.Features[method.Output] == 1 && m.Shapes[method.Output].Rank == 0,
            FloatInputs = m.FloatInputs.ToEquatableArray(),
            RawInputs = m.RawInputs.ToEquatableArray(),
            Buffers = buffers.ToEquatableArray(),
            UsesTraining = usesTraining,
            Location = method.Location,
        };
    }

    /// <summary>
    /// True when a graph with breaks can get an eager <c>Compiled</c> stand-in: every parsed method re-declarable (no
    /// ref parameters, not generic) and none named like the generated members.
    /// </summary>
    private static bool CanStandIn(ModuleGraph graph)
        => !graph.Methods.IsEmpty && graph.Methods.All(m => m.Signature.Length > 0 && m.Name is not ("Compile" or "Compiled" or "Explanation"))
           && graph.Methods.Select(m => m.Signature).Distinct().Count() == graph.Methods.Count;

    /// <summary>The first rule (of those the node's kind and row allow) that can plan the node, or null.</summary>
    private static NodePlan? PlanNode(MethodDraft m, int i, NodePlan plan, OpRow? row)
    {
        var node = m.Node(i);
        for (int s = 0; s < node.Inputs.Count; s++)
        {
            // A raw input is read only where the row says so (a target, indices).
            if (m.IsRaw(node.Inputs[s]) && (row is null || !MethodDraft.ReadsAsData(row, s))) return null;
        }
        foreach (var kind in RuleSet.Candidates(node, row))
        {
            if (RuleSet.For(kind)!.Plan(m, i, plan) is { } planned) return planned;
        }
        return null;
    }

    /// <summary>The prefix of a method's fields: <c>_forward_</c>, <c>_loss_</c>.</summary>
    public static string MethodPrefix(string name) => "_" + char.ToLowerInvariant(name[0]) + name.Substring(1) + "_";
}
