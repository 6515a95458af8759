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
    private const string DeclareShape = "declare the input's shape with [Shape(\"N\", …)]; its sizes may name the constructor's parameters";

    /// <summary>Why a method or region got no plan: the construct, where, and whether it is a gap of the code generator (a break) or shapes not known at build time.</summary>
    /// <param name="Reason">The construct and why (the break's message).</param>
    /// <param name="Location">Where.</param>
    /// <param name="Coverage">True for a gap of the code generator; false for a shape not known at build time.</param>
    /// <param name="InChild">True when the shape is not known inside an inlined child, whose own diagnostics say why.</param>
    /// <param name="FixText">The fix when it is neither of <see cref="Fix"/>'s two general ones.</param>
    private sealed record PlanFailure(string Reason, LocationInfo? Location, bool Coverage, bool InChild = false, string? FixText = null);

    /// <summary>
    /// Plans one module: each parsed method is compiled whole, compiled region by region around its graph breaks
    /// (<see cref="GraphMethod.Segments"/>), or run eagerly by a stand-in; every reason a method or region is not
    /// compiled is a graph break (SG1019, carried as data), so every parsed module gets <c>Compile()</c>.
    /// </summary>
    public static PlannedModule Plan(ModuleSpec spec, CancellationToken token)
    {
        var emitSpec = spec with { Diagnostics = default };
        if (!spec.CanEmit || spec.Graph is not { } graph) return new PlannedModule(emitSpec, null, default);
        var user = graph.Methods.Where(m => m.RegionOf is null).ToList();
        if (user.Count == 0) return new PlannedModule(emitSpec, null, default);
        // From here on, a module that gets no program says why (SG1017): never silently without Compile().
        if (user.FirstOrDefault(m => m.Name is "Compile" or "Compiled" or "Explanation") is { } clash)
        {
            return NoProgram(emitSpec, clash.Location, $"its method `{clash.Name}` has the name of a member the generated program needs", "rename the method");
        }
        // Overloads (Forward(x) and Forward(x, y)) would share the compiled fields of their name: they run eagerly.
        bool overloads = user.Select(m => m.Name).Distinct().Count() != user.Count;
        bool parseBreaks = graph.NotCompilable.Any(i => i.IsBreak);

        var program = new ProgramDraft(spec, graph);
        var methods = new List<MethodPlan>();
        var eager = new List<GraphMethod>();
        var runners = new List<GraphMethod>();
        var regions = new List<string>();
        var breaks = new List<GraphIssue>();
        foreach (var method in user)
        {
            token.ThrowIfCancellationRequested();
            if (!method.Segments.IsEmpty && !overloads)
            {
                // Compiled region by region: a region the code generator does not take runs as written (a break).
                // The shapes regions leave are known to the regions after them, until eager statements assign those locals.
                var known = new Dictionary<string, TensorShape>();
                // The batch symbol each known shape has (N of a batch-second [T, N, 16]): a region after a stack, a break or a
                // region takes the batch the value had there, not whatever its dim 0 is.
                var batchOf = new Dictionary<string, string>();
                void Know(string name, TensorShape? shape, string? batch)
                {
                    if (shape is null)
                    {
                        known.Remove(name);
                        batchOf.Remove(name);
                        return;
                    }
                    known[name] = shape;
                    if (batch is not null && shape.Dims.Any(d => d.Symbol == batch)) batchOf[name] = batch;
                    else batchOf.Remove(name);
                }
                foreach (var input in method.Inputs)
                {
                    if (input.Shape is { } declared) Know(input.Name, declared, GraphInput.DeclaredBatch(declared));
                }
                int compiledBefore = methods.Count;
                // A branch group (GraphParser.BranchRegions: one region per value of tests the instance decides) holds alternatives:
                // each is planned from what was known before the group (a batch-second variant's input is not the batch-first one's),
                // and after it a local is known only where every alternative left it the same shape.
                (Dictionary<string, TensorShape> Known, Dictionary<string, string> Batch, List<(string? Output, TensorShape? Shape)> Left)? group = null;
                void Reset(Dictionary<string, TensorShape> k, Dictionary<string, string> b)
                {
                    known.Clear();
                    foreach (var kv in k) known[kv.Key] = kv.Value;
                    batchOf.Clear();
                    foreach (var kv in b) batchOf[kv.Key] = kv.Value;
                }
                var segments = method.Segments.ToArray();
                int at;   // the segment Plan plans (it may give it a guard)
                for (at = 0; at < segments.Length; at++)
                {
                    var segment = segments[at];
                    if (segment.Condition is not null)
                    {
                        if (group is null) group = (new(known), new(batchOf), new());
                        else Reset(group.Value.Known, group.Value.Batch);
                    }
                    Plan(segment);
                    if (segment.Condition is { Length: 0 } && group is { } ended)
                    {
                        var left = ended.Left;
                        Reset(ended.Known, ended.Batch);
                        if (left.Count > 0 && left[0].Output is { } target && left.All(l => l.Output == target && l.Shape is not null && l.Shape.Equals(left[0].Shape)))
                        {
                            Know(target, left[0].Shape, null);
                        }
                        group = null;
                    }
                }
                void Plan(MethodSegment segment)
                {
                    if (segment.Condition is not null && group is { } open && segment.Region is null)
                    {
                        open.Left.Add((segment.Output, segment.Arguments.Count > 0 && known.TryGetValue(segment.Arguments[0], out var passed) ? passed : null));
                    }
                    if (segment.Region is null || graph.Methods.FirstOrDefault(m => m.Name == segment.Region) is not { } region)
                    {
                        // A composed call (var h = encoder.Forward(x, …)) leaves h of x's shape; any other write is unknown from here on.
                        var kept = segment.ShapeOf.Select(p => p.Split('=')).Where(p => known.ContainsKey(p[1]))
                            .Select(p => (p[0], known[p[1]], batchOf.TryGetValue(p[1], out var b) ? b : null)).ToList();
                        foreach (var written in segment.Writes) Know(written, null, null);
                        foreach (var (to, shape, batch) in kept) Know(to, shape, batch);
                        return;
                    }
                    // A local the eager code before the region computed (a break's value), its shape only guessed from the layer reading it:
                    // a layer takes other ranks too (a Linear any leading dims, a Conv2d an unbatched [C, H, W]), so the runner calls the
                    // region for the guessed rank only and runs the statements as written for any other (as eager does, never an error).
                    var guessed = region.Inputs.Where(i => i is { IsLocal: true, IsInferred: true, Shape: not null } && !known.ContainsKey(i.Name))
                        .Select(i => $"{i.Name} is {{ Rank: {i.Shape!.Rank.ToString(System.Globalization.CultureInfo.InvariantCulture)} }}").ToList();
                    if (guessed.Count > 0 && segment.Condition is null && segment.Fallback is not null) segments[at] = segment with { Guard = string.Join(" && ", guessed) };
                    // A shape a region or call before this one left beats one guessed from the first consumer (`head.Forward(h)` with
                    // Linear(8, 3) guesses [N, 8]; the decoder before it left h as [N, 4, 8]).
                    var inputs = region.Inputs.Select(i => (i.Shape is null || i.IsInferred && !Vaguer(known, i.Name)) && known.TryGetValue(i.Name, out var shape)
                        ? i with { Shape = shape, IsInferred = true, Batch = batchOf.TryGetValue(i.Name, out var b) ? b : null }
                        : i.Shape is { } own && !i.IsInferred ? i with { Batch = GraphInput.DeclaredBatch(own) } : i);
                    region = region with { Inputs = inputs.ToEquatableArray() };
                    // A region compiled for one value of a test or layer option: the size checks it needs are its own (SizeBinding.Regions).
                    program.Sizes.Branch = segment.Condition is not null ? region.Name : null;
                    program.Sizes.RequireChosen(region.Equalities);
                    var regionPlan = PlanTentatively(program, region, out var why);
                    program.Sizes.Branch = null;
                    var output = regionPlan is not null ? regionPlan.Nodes[regionPlan.Output].Shape : null;
                    foreach (var alias in segment.Aliases)
                    {
                        var pair = alias.Split('=');
                        Know(pair[0], known.TryGetValue(pair[1], out var source) ? source : null, batchOf.TryGetValue(pair[1], out var b) ? b : null);
                    }
                    if (segment.Output is { } target) Know(target, output, regionPlan?.Batch);
                    if (segment.Condition is not null && group is { } current) current.Left.Add((segment.Output, output));
                    if (regionPlan is not null)
                    {
                        // The shapes this region gave its inputs (a token input's [N, T], from its Embedding) hold for the regions after it.
                        foreach (var input in regionPlan.Inputs)
                        {
                            if (input.Shape is { } given && !known.ContainsKey(input.Name)) Know(input.Name, given, regionPlan.Batch);
                        }
                        methods.Add(regionPlan with { IsRegion = true });
                        regions.Add(method.Name + ", " + segment.Where);
                    }
                    else if (why is { } w && (w.Coverage || !Broken(graph, breaks, method)))
                    {
                        // A shape not known here comes from a break before it, which says why; after a loop over element programs
                        // (not a break) the region says it itself.
                        breaks.Add(new GraphIssue(DiagnosticDescriptors.GraphBreakId, w.Location, w.Reason, Fix(w)) { Method = method.Name });
                    }
                    else if (why is null && !Broken(graph, breaks, method))
                    {
                        // The planner gave up with no reason of its own (none of the above): the region still runs as written, and
                        // says so (never a region silently eager in a program whose Explanation would read fully compiled).
                        breaks.Add(new GraphIssue(DiagnosticDescriptors.GraphBreakId, region.Location,
                            $"the region of {method.Name} at {segment.Where}, which the code generator does not take as one program",
                            "split the statements (a region leaves one value), or write them with the ops docs/static-subset.md lists as compiled") { Method = method.Name });
                    }
                }
                if (methods.Count > compiledBefore || method.Segments.Any(s => !s.ElementLoops.IsEmpty))
                {
                    // With a loop over element programs the runner runs even with no region compiled: the loop calls the programs.
                    runners.Add(method with { Segments = segments.ToEquatableArray() });
                    continue;
                }
                // No region compiled: the method runs eagerly as a whole.
                if (method.Signature.Length == 0) return NotRedeclarable(emitSpec, method);
                eager.Add(method);
                continue;
            }
            PlanFailure? failure = null;
            var plan = method.Output >= 0 && !overloads ? PlanTentatively(program, method, out failure) : null;
            if (plan is not null)
            {
                methods.Add(plan);
                regions.Add(method.Name + ": the whole method");
                continue;
            }
            if (method.Signature.Length == 0) return NotRedeclarable(emitSpec, method);
            // A shape error proved here (SG1010–SG1014, SG1018, SG1021) fails the build: it is the reason, and no program is made.
            if (!parseBreaks && failure is { Coverage: false } && HasError(spec)) return new PlannedModule(emitSpec, null, default);
            // Shapes not known at build time (no [Shape] and nothing to infer them from, or a child's shape error): the method
            // runs eagerly inside Compile(), and the break says why (below).
            eager.Add(method);
            // Parse breaks explain themselves; a method the planner refuses gets a break of its own.
            if (!parseBreaks && method.Output >= 0 && failure is not { Coverage: false, InChild: true })
            {
                var f = failure
                        ?? (overloads ? new PlanFailure("the overloads of `" + method.Name + "`, which are not compiled (each would need its own name)", method.Location, true) : null)
                        ?? new PlanFailure($"{method.Name}, whose result is not computed by an op of its tensor inputs", method.Location, true);
                breaks.Add(new GraphIssue(DiagnosticDescriptors.GraphBreakId, f.Location, f.Reason, overloads ? "give each overload its own name" : Fix(f)) { Method = method.Name });
            }
        }
        if (eager.Select(m => m.Signature).Distinct().Count() != eager.Count)
        {
            return NoProgram(emitSpec, eager[0].Location, $"two of its methods have the same signature as eager stand-ins ({eager[0].Signature})", "give them different names");
        }

        var diagnostics = breaks.Distinct()
            .Select(b => new DiagnosticInfo(DiagnosticDescriptors.GraphBreakId, b.Location, new[] { spec.ClassName, b.What, b.Reason }.ToEquatableArray()))
            .ToEquatableArray();
        var plan2 = new ProgramPlan(program.Modules.ToEquatableArray(), program.Params.ToEquatableArray(), methods.ToEquatableArray())
        {
            Eager = eager.ToEquatableArray(),
            Runners = runners.ToEquatableArray(),
            Regions = regions.ToEquatableArray(),
            Sizes = methods.Count == 0 ? default : program.Sizes.For(program.UsedSymbols).ToEquatableArray(),
            PerCallSizes = methods.Count == 0 ? default : program.Sizes.PerCall(program.UsedSymbols).ToEquatableArray(),
            Breaks = graph.NotCompilable.Where(i => i.IsBreak).Concat(breaks).Distinct().ToEquatableArray(),
        };
        return new PlannedModule(emitSpec, plan2, diagnostics);
    }

    /// <summary>True when the shape known for <paramref name="name"/> has a dim not known at build time (an inferred one may say more).</summary>
    private static bool Vaguer(Dictionary<string, TensorShape> known, string name)
        => known.TryGetValue(name, out var shape) && shape.Dims.Any(d => d.IsUnknown);

    /// <summary>True when <paramref name="method"/> has a graph break (parse or planning) already, which says why a later shape is not known.</summary>
    private static bool Broken(ModuleGraph graph, List<GraphIssue> breaks, GraphMethod method)
        => breaks.Any(b => b.Method == method.Name) || graph.NotCompilable.Any(i => i.IsBreak && (i.Method == method.Name || i.Method == "constructor"));

    /// <summary>What a break's message suggests: another expression for a gap of the code generator, a declared shape for a shape not known.</summary>
    private static string Fix(PlanFailure failure)
        => failure.FixText ?? (failure.Coverage ? "write that expression with the ops docs/static-subset.md lists as compiled"
            : "declare the input's shape with [Shape(\"N\", …)], or start with a layer whose input size is a constant");

    /// <summary>A module with no program: SG1017 at <paramref name="location"/> says why and what to do.</summary>
    private static PlannedModule NoProgram(ModuleSpec emitSpec, LocationInfo? location, string why, string fix)
        => new(emitSpec, null, new[] { new DiagnosticInfo(DiagnosticDescriptors.NotCompiledId, location, new[] { emitSpec.ClassName, why, fix }.ToEquatableArray()) }
            .ToEquatableArray());

    /// <summary>A method an eager stand-in cannot re-declare (ref/out parameters, a generic method): no program.</summary>
    private static PlannedModule NotRedeclarable(ModuleSpec emitSpec, GraphMethod method)
        => NoProgram(emitSpec, method.Location, $"its method `{method.Name}` cannot be re-declared by the generated program (a generic method, or ref/out/in parameters)",
            "make it a plain method of tensor parameters");

    /// <summary>True when the module's own shape checks report an error (the build fails with it).</summary>
    private static bool HasError(ModuleSpec spec)
        => spec.Diagnostics.Any(d => DiagnosticDescriptors.ById(d.Id).DefaultSeverity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error);

    /// <summary>Plans a method; when it cannot be planned, the children and parameters it bound are released again.</summary>
    private static MethodPlan? PlanTentatively(ProgramDraft program, GraphMethod method, out PlanFailure? failure)
    {
        int modules = program.Modules.Count, parameters = program.Params.Count;
        var plan = PlanMethod(program, method, carriedBatch: true, out failure);
        if (plan is null && method.Inputs.Any(i => CarriedBatch(i) is { } b && i.Shape is { Rank: >= 2 } s && s[0].Symbol != b))
        {
            // The batch an input came with is beside dim 0 (N of [T, N, 16]) and the region does not take it there (a Linear reads
            // [T, N, 16] rows): dim 0 as the program's batch, N a size read at each call, as any other symbolic dim.
            program.Modules.RemoveRange(modules, program.Modules.Count - modules);
            program.Params.RemoveRange(parameters, program.Params.Count - parameters);
            plan = PlanMethod(program, method, carriedBatch: false, out failure);
        }
        if (plan is null)
        {
            program.Modules.RemoveRange(modules, program.Modules.Count - modules);
            program.Params.RemoveRange(parameters, program.Params.Count - parameters);
        }
        return plan;
    }

    /// <summary>The batch <paramref name="input"/>'s shape came with (<see cref="GraphInput.Batch"/>), or its declared one (<see cref="GraphInput.DeclaredBatch"/>).</summary>
    private static string? CarriedBatch(GraphInput input) => input.Batch ?? (input.IsInferred ? null : GraphInput.DeclaredBatch(input.Shape));

    private static MethodPlan? PlanMethod(ProgramDraft program, GraphMethod method, bool carriedBatch, out PlanFailure? failure)
    {
        failure = null;
        string where = method.RegionOf is null ? method.Name : "the region of " + method.RegionOf + " starting here";
        if (method.Output < 0) return null;
        if (method.Inputs.Count == 0)
        {
            failure = new PlanFailure($"{where}, which has no tensor input to compile over", method.Location, Coverage: false);
            return null;
        }
        var shapeErrors = new List<DiagnosticInfo>();
        var m = new MethodDraft(program, method, ShapeInference.InferNodes(program.Spec, method, shapeErrors));
        // Shapes the user declared ([Shape(…)]) or sizes bound when the module is built: what the build cannot compute is a
        // break (reported), never a module silently without Compile() — unless a shape error (reported) is why.
        bool declared = method.Inputs.Any(x => x.Shape is not null && !x.IsInferred) && shapeErrors.Count == 0;
        bool mustExplain = !program.Sizes.IsEmpty || declared;
        var used = new HashSet<string>(System.StringComparer.Ordinal);
        var nodes = method.Nodes;
        int count = nodes.Count;

        // Raw inputs: method parameters used only as a loss target or as embedding indices (read as data, not differentiated).
        // A view of such an input read only as data is data too (`padding.Unsqueeze(1)` as a MaskedFill mask).
        bool IsRawUse((int Node, int Slot) c) => m.Row(c.Node) is { } row
            && (m.ReadsAsData(c.Node, c.Slot) || (DataRule.Takes(row) && m.Consumers[c.Node].Count > 0 && m.Consumers[c.Node].All(IsRawUse)));
        bool IsRawInput(int i) => nodes[i].Kind == NodeKind.Input && nodes[i].Op == "Input" && m.Consumers[i].Count > 0 && m.Consumers[i].All(IsRawUse);

        // The batch symbol: the one an input's shape came with (a region after a stack or another region: the batch that value
        // had there; a declared [Shape("T", "N", …)]: N, dim 1), else dim 0 of the first float input (or, with only raw inputs such
        // as token ids, of those).
        foreach (var input in method.Inputs)
        {
            string? batch = carriedBatch ? CarriedBatch(input) : null;
            if (batch is not null && input.Shape is { Rank: >= 1 } s && (s[0].Symbol == batch || s.Rank >= 2 && s[1].Symbol == batch))
            {
                m.Batch = batch;
                break;
            }
        }
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
        if (m.Batch == "")
        {
            // With sizes bound when the module is built, an input shape the build cannot tell is a break (never silent).
            // So is one whose shapes the user declared ([Shape(T, "N", 8)]: the batch not first).
            // The fix is the shape, even where the break is a coverage one (sizes bound when the module is built).
            failure = new PlanFailure($"{where}, whose inputs have no batch dim known at build time"
                + (declared ? " (the compiled program needs the batch as the first dim of a float input, named in [Shape(\"N\", …)], or as dim 1 named N, [Shape(\"T\", \"N\", …)])" : ""),
                method.Location, Coverage: mustExplain, FixText: program.Sizes.IsEmpty ? null : DeclareShape);
            return null;
        }

        // A plain symbol of an input's dims beside the batch that no layer binds (T of [N, T, 8] or of a batch-second [T, N, 8]):
        // read from the inputs at each call.
        // So is one of an input without the batch (S of an unbatched attention's key [S, E] beside the query [T, E], session 13).
        foreach (var input in method.Inputs)
        {
            if (input.Shape is not { Rank: >= 1 } s || (s.Rank == 1 && s[0].Symbol != m.Batch)) continue;
            bool hasBatch = s.Dims.Any(d => d.Symbol == m.Batch);
            if (!hasBatch && s.Rank < 2) continue;
            if (hasBatch && s[0].Symbol != m.Batch && s[1].Symbol != m.Batch) continue;
            for (int d = 0; d < s.Rank; d++)
            {
                if (s[d].Symbol != m.Batch && s[d].IsSymbol && program.Sizes.Expression(s[d].Symbol!) is null) program.Sizes.ReadAtEachCall(s[d]);
            }
        }
        // The batch in another dim of a value too (the weights [T, T] of an unbatched self-attention, T the query's rows, the
        // program's batch): that dim is a size read at each call like T of [N, T, 8] — the batch count, read from the input whose
        // dim it is — so the value is n · T elements (session 13).
        if (m.InferredShapes.Any(s => s is not null && s.Dims.Count(d => d.Symbol == m.Batch) >= 2)) program.Sizes.ReadAtEachCall(Dim.Sym(m.Batch));

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
            if (BatchWindow(m, i) is { } batchWindow)
            {
                // Its result's first dim is another batch (a constant, or unknown for Slice): not a shape to declare.
                failure = new PlanFailure($"{batchWindow} (in {where})", node.Location ?? method.Location, Coverage: true,
                    FixText: "take the window beside the batch dim (dim 1 or later), or choose the samples before calling the module");
                return null;
            }
            if (m.InferredShapes[i] is not { } shape)
            {
                // A call of a user child that is not inlined is a break the inliner reported; anything else says why here.
                var opaque = node.Kind == NodeKind.Call && node.Child is not null && program.Graph.FindChild(node.Child) is { IsBuiltIn: false };
                // With sizes bound when the module is built, a shape the build cannot compute from them is a break (never silent).
                failure = opaque ? null : new PlanFailure($"`{node.Text}`, whose shape is not known at build time{(program.Sizes.IsEmpty ? "" : " (its sizes bound when the module is built do not combine into one the compiler can compute)")} (in {where})",
                    node.Location ?? method.Location, Coverage: !program.Sizes.IsEmpty || (declared && node.Inputs.Count == 0), InChild: method.IsInlined(i));   // a leaf: a field of unknown shape
                return null;
            }
            m.Shapes[i] = shape;
            if (node.Kind == NodeKind.Constant)
            {
                if (shape.Rank != 0)
                {
                    failure = new PlanFailure($"`{node.Text}`, a constant of shape {shape}, which the code generator takes only as a scalar (in {where})",
                        node.Location ?? method.Location, Coverage: true);
                    return null;
                }
                m.Nodes[i] = plan with { Rule = RuleKind.Constant, Shape = shape, Args = new[] { MethodDraft.F32(node.Value) }.ToEquatableArray() };
                continue;
            }
            // The batch is dim 0, or dim 1 for a recurrent layer's states (h_0, h_n: [L·D, N, H], PyTorch's layout).
            int batchAxis = shape.Rank >= 1 && shape[0].Symbol == m.Batch ? 0 : shape.Rank >= 2 && shape[1].Symbol == m.Batch ? 1 : -1;
            bool batched = batchAxis >= 0;
            int features = 1;
            var symbolic = new List<string>();
            for (int d = 0; d < shape.Rank; d++)
            {
                if (d == batchAxis) continue;
                // A size bound when the module is built (Linear(4, hidden)): a factor the program binds in Compile().
                // Its constant goes into the fixed count, its atoms into the factor ([N, 2*c, 2, 2] and [N, 8*c] are both 8 · c).
                if (shape[d].IsSymbol && program.Sizes.Expression(shape[d].Symbol!) is not null && Dim.Term(shape[d].Symbol!, out int coefficient, out string product))
                {
                    features *= coefficient;
                    symbolic.AddRange(SizeSymbols.Atoms(product));
                    used.Add(shape[d].Symbol!);
                    continue;
                }
                if (!shape[d].IsFixed)
                {
                    failure = new PlanFailure($"`{node.Text}`, whose shape {shape} has a dim other than the batch not known at build time (in {where})", node.Location ?? method.Location,
                        // A symbolic dim is the code generator's gap; `?` is a shape not known, a break too once the module has
                        // sizes bound when it is built (never silently without a program).
                        Coverage: shape[d].IsSymbol || mustExplain);
                    return null;
                }
                features *= shape[d].Size;
            }
            m.Batched[i] = batched;
            m.BatchAxis[i] = System.Math.Max(batchAxis, 0);
            m.Features[i] = features;
            m.Symbolic[i] = string.Join(" * ", symbolic.OrderBy(a => a, System.StringComparer.Ordinal).Select(SizeSymbols.Csharp));
            var row = m.Row(i);
            plan = plan with
            {
                Shape = shape, Batched = batched, BatchAxis = m.BatchAxis[i], Features = features, Symbolic = m.Symbolic[i], CallArguments = node.Child is not null ? node.IntArgs : default,
                Kernel = row?.Kernel, Operator = row?.Operator, Variant = row?.Variant ?? false, Reads = row?.Reads ?? BackwardReads.None,
            };
            if (node.Inputs.Where(k => m.Nodes[k].Rule == RuleKind.ArgExtreme).Select(k => nodes[k].Text).FirstOrDefault() is { } indices)
            {
                // int64 values (indices) leave the program as its result; no compiled op reads them yet.
                failure = new PlanFailure($"`{node.Text}`, which reads the int64 indices `{indices}` (compiled code returns indices as a result but does not compute with them yet) (in {where})",
                    node.Location ?? method.Location, Coverage: true, FixText: "return the indices from Forward (or from a region of their own) and use them after it");
                return null;
            }
            var planned = PlanNode(m, i, plan, row);
            if (planned is not null && !SymbolicSizesFit(m, i, planned))
            {
                var shapes = node.Inputs.Select(k => m.Shapes[k]).Prepend(shape).Where(z => z is not null).SelectMany(z => z!.Dims);
                var perCall = shapes.Where(z => z.IsSymbol && Dim.Term(z.Symbol!, out _, out string p) && SizeSymbols.Atoms(p).Any(program.Sizes.IsPerCall))
                    .Select(z => z.Symbol!).Distinct().ToList();
                string sized = perCall.Count > 0 ? "whose sizes " + string.Join(", ", perCall) + " are read from the inputs at each call" : "whose sizes are bound when the module is built";
                var inputShapes = string.Join(", ", node.Inputs.Select(k => m.Shapes[k]?.ToString() ?? "?"));
                failure = new PlanFailure($"`{node.Text}` (shape {shape}, input shapes {inputShapes}), {sized}, which {planned.Rule} code does not take yet (in {where})",
                    node.Location ?? method.Location, Coverage: true);
                return null;
            }
            if ((planned is not null && !BatchAxisFits(m, i, planned.Rule))
                || (planned is null && node.Inputs.Any(k => m.Batched[k] && m.BatchAxis[k] == 1 && !m.IsConst(k))))
            {
                failure = new PlanFailure($"`{node.Text}` (shape {shape}, input shapes {string.Join(", ", node.Inputs.Select(k => m.Shapes[k]?.ToString() ?? "?"))}), " +
                    $"which has the batch in dim 1 (a recurrent layer's states, a batch-second sequence), which {(planned is null ? "the code generator" : planned.Rule + " code")} does not take (in {where}); select a layer's " +
                    "state first (`h.Select(0, -1)` is [N, H]), or make the sequence batch first (`x.Transpose(0, 1)`)", node.Location ?? method.Location, Coverage: true);
                return null;
            }
            if (planned is null)
            {
                var inputs = string.Join(", ", node.Inputs.Select(j => m.InferredShapes[j]?.ToString() ?? "?"));
                string what = row is null ? node.Kind + " " + node.Op : row.Name;
                var opaque = node.Kind == NodeKind.Call && node.Child is not null && program.Graph.FindChild(node.Child) is { IsBuiltIn: false };
                failure = opaque ? null : new PlanFailure($"`{node.Text}` ({what}{(node.Child is null ? "" : " of '" + node.Child + "'")}, input shapes {inputs}, output {shape}), " +
                           $"which the code generator does not emit yet (in {where})", node.Location ?? method.Location, Coverage: true);
                return null;
            }
            m.Nodes[i] = planned;
        }
        if (!m.Live(method.Output))
        {
            failure = new PlanFailure($"{where}, whose result is not computed by an op of its tensor inputs", method.Location, Coverage: true);
            return null;
        }
        // The batch size is read from a float input (the batch in dim 0, or dim 1: a batch-second sequence) or an input read as data.
        if (!m.FloatInputs.Any(f => m.Batched[f]) && !m.RawInputs.Any(r => method.Inputs[nodes[r].IntArgs[0]].Shape is { Rank: >= 1 } s && s[0].Symbol == m.Batch))
        {
            failure = new PlanFailure($"{where}, whose inputs have no batch dim", method.Location, Coverage: declared);
            return null;
        }

        program.UsedSymbols.UnionWith(used);
        RecurrentRule.MarkLastStep(m);
        RecurrentRule.MarkEmbeddedInput(m);
        Fusion.Epilogues(m);
        Liveness.MarkSaved(m);
        Fusion.ElementwiseChains(m);
        ValueNames.Assign(m);
        var buffers = Liveness.Buffers(m);
        bool usesTraining = Enumerable.Range(0, count).Any(i => m.Live(i) && (m.Mode[i] != 3 || m.Nodes[i].Rule == RuleKind.Select));
        return new MethodPlan(method.Name, MethodPrefix(method.Name), method.Inputs, m.Nodes.ToEquatableArray(), method.Output)
        {
            Batch = m.Batch,
            ScalarOutput = !m.Batched[method.Output] && m.Features[method.Output] == 1 && m.Shapes[method.Output].Rank == 0 && m.Nodes[method.Output].Rule != RuleKind.ArgExtreme,
            FloatInputs = m.FloatInputs.ToEquatableArray(),
            RawInputs = m.RawInputs.ToEquatableArray(),
            Buffers = buffers.ToEquatableArray(),
            UsesTraining = usesTraining,
            Location = method.Location,
        };
    }

    /// <summary>
    /// True when the rule chosen for node <paramref name="i"/> compiles the sizes bound when the module is built that it
    /// and its inputs have: the rules that work on element counts (pointwise, same-shape elementwise, dropout, the
    /// boundary and branch selection) with inputs of the same size, and Linear, which reads its sizes from the layer.
    /// </summary>
    private static bool SymbolicSizesFit(MethodDraft m, int i, NodePlan planned)
    {
        var rule = planned.Rule;
        var inputs = m.Node(i).Inputs.Where(k => !m.IsConst(k)).ToList();
        if (!m.IsSymbolic(i) && !inputs.Any(m.IsSymbolic)) return true;
        return rule switch
        {
            // Rules that read their sizes from the layer (checked in Compile() where the build cannot prove them).
            // Channels of convolutions, pools and batch norms are read from the layer or the value's dim.
            // Data is evaluated by the eager method (its sizes read at run time written as they are read); a data value is
            // checked against its shape and copied; broadcasting takes its shapes at each call.
            RuleKind.Raw or RuleKind.Data or RuleKind.DataValue or RuleKind.Broadcast or RuleKind.Permute => true,
            // Geometry written with the symbols' expressions (MethodDraft.ProductText).
            RuleKind.Softmax or RuleKind.Reduce or RuleKind.MatMul or RuleKind.BroadcastMatMul or RuleKind.MaskedFill or RuleKind.Where or RuleKind.WhereScalar => true,
            // Along one dim, [outer, size, inner] written with the symbols' expressions (AxisGeometry's texts; ArgMax of all
            // elements too); Glu halves a fixed dim.
            RuleKind.Extreme or RuleKind.ArgExtreme or RuleKind.Variance or RuleKind.Glu or RuleKind.Slice => true,
            RuleKind.Input or RuleKind.Linear or RuleKind.FunctionalLinear or RuleKind.FunctionalLayerNorm or RuleKind.Embedding or RuleKind.Recurrent or RuleKind.RecurrentState or RuleKind.TransformerLayer or RuleKind.SelfAttention or RuleKind.Conv
                or RuleKind.ConvTranspose or RuleKind.BatchNorm or RuleKind.GroupNorm or RuleKind.MaxPool or RuleKind.AvgPool or RuleKind.AdaptivePool
                or RuleKind.AdaptiveMaxPool => true,
            // Cross-attention: the query's and the memory's lengths passed at each call (CrossAttentionRule).
            RuleKind.CrossAttention or RuleKind.AttentionWeights => true,
            // Cat/Stack: sizes bound when the module is built along the joined dim only (JoinRule checks the others are fixed).
            RuleKind.Join => true,
            RuleKind.LayerNorm => m.Symbolic[inputs[0]] == m.Symbolic[i] && m.Features[inputs[0]] == m.Features[i],
            RuleKind.Pointwise or RuleKind.Elementwise or RuleKind.Dropout or RuleKind.Boundary or RuleKind.Select or RuleKind.View
                => inputs.All(k => m.Symbolic[k] == m.Symbolic[i] && m.Batched[k] == m.Batched[i] && m.Features[k] == m.Features[i]),
            _ => false,
        };
    }

    /// <summary>
    /// True when the rule chosen for node <paramref name="i"/> takes where the batch is in it and its inputs: a value with
    /// the batch in dim 1 (a recurrent layer's h_0, h_n, c_n; a batch-second sequence [T, N, E]) is made by an input, a state
    /// node, a permute (<c>x.Transpose(0, 1)</c>) or a batch-second layer, and read only by a recurrent layer (its initial
    /// states, a batch-second input), a batch-second Transformer encoder layer or MultiheadAttention (whose returned weights are
    /// batch first, [N, L, S], as PyTorch's), a permute, a window along dim 0 (<c>h.Select(0, -1)</c>), pointwise and same-shape
    /// elementwise code (which does not see the layout), or an op on rows of dims after the batch (Linear, LayerNorm, softmax, GLU,
    /// max/min along a dim; a sum, mean or variance, also over the steps before the batch): whatever the batch's dim, those are
    /// n·outer rows (<see cref="MethodDraft.AfterBatch"/>), which each of these rules checks.
    /// </summary>
    private static bool BatchAxisFits(MethodDraft m, int i, RuleKind rule)
    {
        var inputs = m.Node(i).Inputs.Where(k => !m.IsConst(k) && !m.IsRaw(k)).ToList();
        bool Second(int k) => m.Batched[k] && m.BatchAxis[k] == 1;
        if (!Second(i) && !inputs.Any(Second)) return true;
        return rule switch
        {
            // Rules that read the layout: a permute moves the batch between dims 0 and 1 (its shapes read at each call); the
            // layers taking batch-second values (batch_first=False) check where the batch is themselves.
            RuleKind.Input or RuleKind.RecurrentState or RuleKind.Recurrent or RuleKind.Slice or RuleKind.Permute or RuleKind.TransformerLayer
                or RuleKind.CrossAttention or RuleKind.AttentionWeights => true,
            // Rows of dims after the batch (MethodDraft.AfterBatch, checked by each rule), and reductions that count the batch where it is.
            RuleKind.Linear or RuleKind.FunctionalLinear or RuleKind.LayerNorm or RuleKind.Softmax or RuleKind.Glu or RuleKind.Extreme
                or RuleKind.Reduce or RuleKind.Variance => true,
            RuleKind.Pointwise or RuleKind.Elementwise or RuleKind.Dropout => inputs.All(k => m.Shapes[k].Equals(m.Shapes[i])),
            _ => false,
        };
    }

    /// <summary>
    /// For a window (Narrow, Slice, Select, a part of Chunk/Split/Unbind) along the batch dim of its input: what the break
    /// says (compiled code keeps the batch whole: a window of it is a batch of another size); null otherwise. A Select of one
    /// row is no window: its result has no batch (<c>SliceRule.BatchRow</c>).
    /// </summary>
    private static string? BatchWindow(MethodDraft m, int i)
    {
        var node = m.Node(i);
        if (m.Row(i) is not { Family: OpFamily.Slice } row || node.Inputs.Count != 1 || m.IsRaw(node.Inputs[0])   // data: the eager call
            || m.InferredShapes[node.Inputs[0]] is not { Rank: > 0 } input) return null;
        if (input[0].Symbol != m.Batch || Rules.Axis.Dim(m, i) is not { } dim || ShapeRules.Normalize(dim, input.Rank) != 0) return null;
        // One row, `y.Select(0, -1)` (the last step of an unbatched RNN's output, whose rows are the batch): a value without the
        // batch, which SliceRule copies out of the n rows (a break when its input has the batch elsewhere too, or sizes it does not take).
        if (row.Name == "Select" && m.InferredShapes[i] is { } selected && selected.Rank == input.Rank - 1 && !selected.Dims.Any(d => d.Symbol == m.Batch)) return null;
        return $"`{node.Text}` ({row.Name} along dim 0 of {input}), a window of the batch {m.Batch}: its result is a batch of another size, " +
               "and compiled code keeps the batch whole (windows beside the batch dim compile)";
    }

    /// <summary>The first rule (of those the node's kind and row allow) that can plan the node, or null.</summary>
    private static NodePlan? PlanNode(MethodDraft m, int i, NodePlan plan, OpRow? row)
    {
        var node = m.Node(i);
        // A view of data (`Tensor.Arange(t).Unsqueeze(0)`, a mask's View) stays data.
        if (row is not null && node.Inputs.Count > 0 && node.Inputs.All(m.IsRaw) && DataRule.Takes(row)
            && RuleSet.For(RuleKind.Data)!.Plan(m, i, plan) is { } data)
        {
            return data;
        }
        for (int s = 0; s < node.Inputs.Count; s++)
        {
            // A raw input is read only where the row says so (a target, indices).
            if (m.IsRaw(node.Inputs[s]) && (row is null || !m.ReadsAsData(i, s))) return null;
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
