using System.Collections.Generic;
using System.Linq;

namespace SharpGrad.Generator.Emit;

/// <summary>
/// Emits one compiled method of a <c>Compiled</c> class from its plan: the public entry (<c>Forward(x)</c>,
/// <c>Loss(x, target)</c>), for scalar outputs the fused <c>LossBackward</c> entry, and the private Prepare, forward
/// (<c>…Run</c>) and backward programs. Each node's code is its rule's (<see cref="Rule.Forward"/>, <see cref="Rule.Backward"/>).
/// </summary>
internal sealed class MethodEmitter
{
    private const string Tensor = EmitContext.Tensor;
    private const string Support = EmitContext.Support;

    private readonly ProgramPlan _program;
    private readonly MethodPlan _p;
    private readonly string _class;
    private readonly IndentedWriter _w;
    private readonly EmitContext _e;
    private readonly List<ParamSlot> _slots;
    private readonly GradientReach _reach;

    public MethodEmitter(ProgramPlan program, MethodPlan plan, string className, IndentedWriter writer)
    {
        _program = program;
        _p = plan;
        _class = className;
        _w = writer;
        _e = new EmitContext(program, plan, className, writer);
        _slots = Slots(plan).OrderBy(s => s.Index).ToList();
        _reach = new GradientReach(plan);
        _e.Reach = _reach;
    }

    /// <summary>
    /// The float inputs the result's gradient reaches (<see cref="GradientReach"/>), the tape node's first inputs: an input the
    /// result does not depend on gets no gradient (its <c>.Grad</c> stays null, as eager's) and does not make the result require grad.
    /// </summary>
    private List<int> TapeFloats => _p.FloatInputs.Where(f => _reach.Node(f) != 0).ToList();

    /// <summary>The parameters the result's gradient reaches, the tape node's inputs after the float inputs; the others keep their <c>.Grad</c>.</summary>
    private List<ParamSlot> TapeSlots => _slots.Where(s => _reach.Param(s) != 0).ToList();

    /// <summary>The condition (the call's training flag) under which the gradient of a value reached in one mode only is computed, or null.</summary>
    private string? ReachCondition(int modes) => GradientReach.Condition(modes, P);

    /// <summary><paramref name="needed"/>, and the mode condition of a value reached in one mode only.</summary>
    private string WhenReached(int modes, string needed) => ReachCondition(modes) is { } condition ? $"{condition} && {needed}" : needed;

    /// <summary>The parameter slots a method's nodes differentiate.</summary>
    public static IEnumerable<ParamSlot> Slots(MethodPlan plan)
        => plan.Nodes.SelectMany(n => RuleSet.For(n.Rule)?.Params(n) ?? []).Distinct();

    /// <summary>The parameter slots a method's backward binds a gradient for: those its result's gradient reaches (<see cref="GradientReach"/>).</summary>
    public static IEnumerable<ParamSlot> BoundSlots(MethodPlan plan)
    {
        var reach = new GradientReach(plan);
        return Slots(plan).Where(s => reach.Param(s) != 0);
    }

    /// <summary>True when <paramref name="plan"/>'s backward overwrites a fresh gradient of <paramref name="s"/> at its first
    /// writer (<see cref="EmitContext.WritesFirst"/>), so its entries bind it with <c>BindGrad(…, out fresh)</c>.</summary>
    public static bool Overwrites(MethodPlan plan, ParamSlot s)
    {
        int first = EmitContext.FirstWriter(plan, s);
        return first >= 0 && plan.Nodes[first].Mode == 3 && RuleSet.For(plan.Nodes[first].Rule)!.OverwritesFreshParams;
    }

    /// <summary>The field holding a raw input (a class-index target, embedding indices) as a tensor; a data node's (a mask buffer's, a data op's) expression.</summary>
    public static string RawField(EmitContext e, int node) => DataRule.Expression(e, node, e.Prefix + e.Nodes[node].Name + "!");

    private string P => _p.Prefix;

    /// <summary>The user's method this program runs (a region's, <c>ForwardRegion1</c>, is its method's, <c>Forward</c>): the
    /// name error messages give, since the user never sees a region's entry.</summary>
    private string UserMethodName => _p.IsRegion ? _p.Name.Substring(0, _p.Name.LastIndexOf("Region", System.StringComparison.Ordinal)) : _p.Name;

    /// <summary>True when the tape backward needs only the call's generation and batch (no size read per call, no raw input
    /// saved): the entry records with one cached delegate (<c>…tape</c>) and keeps both numbers in the node. An int64 result
    /// (indices) records nothing, so it has no delegate to cache.</summary>
    private bool CachedTape => PerCall().Count == 0 && !_p.RawInputs.Any() && RuleOf(_p.Output).Int64Value(_e, Nodes[_p.Output]) is null;

    /// <summary>The sizes this method reads from its inputs at each call (a sequence length <c>T</c>): atom, input parameter, dim.</summary>
    private List<(string Atom, string Input, int Dim, TensorShape Shape)> PerCall()
    {
        var reads = new List<(string, string, int, TensorShape)>();
        foreach (var atom in _program.PerCallSizes)
        {
            foreach (var input in _p.Inputs)
            {
                if (input.Shape is not { } shape) continue;
                int d = System.Array.FindIndex(shape.Dims.ToArray(), x => x.IsSymbol && x.Symbol == atom);
                if (d < 0) continue;   // dim 0 too: T of a batch-second [T, N, 8]
                reads.Add((atom, input.Name, d, shape));
                break;
            }
        }
        return reads;
    }

    private IReadOnlyList<NodePlan> Nodes => _p.Nodes;

    private bool Live(int i) => Nodes[i].Rule is not (RuleKind.None or RuleKind.Constant or RuleKind.Raw);

    private Rule RuleOf(int i) => RuleSet.For(Nodes[i].Rule)!;

    /// <summary>The parameter of an input node.</summary>
    private string ParameterName(int node) => _p.Inputs[Nodes[node].Parameter].Name;

    /// <summary>The field holding a float input's expected dims.</summary>
    private string Dims(int input) => $"{P}{Nodes[input].Name}_dims";

    private string DimsLiteral(int input)
    {
        var node = Nodes[input];
        return "[" + string.Join(", ", node.Shape!.Dims.Select((d, k) => k == node.BatchAxis && node.Batched ? "-1" : SizeSymbols.Csharp(d))) + "]";
    }

    // ---- fields -----------------------------------------------------------------------------------------------------

    public void Fields()
    {
        _w.WriteLine($"private int {P}capacity = -1;");
        foreach (var read in PerCall()) _w.WriteLine($"private int {P}capacity{SizeSymbols.Field(read.Atom)} = -1; // the {read.Atom} the buffers are sized for");
        _w.WriteLine($"private int {P}generation;");
        if (CachedTape) _w.WriteLine($"private global::SharpGrad.BackwardFunction? {P}tape; // the tape backward of every call (its generation and batch are in the node)");
        _w.WriteLine($"private bool {P}training;");
        if (BranchChecks.Count > 0) _w.WriteLine($"private bool {P}sizesChecked; // this region's own size checks (it runs for one value of a layer option)");
        foreach (var f in _p.FloatInputs)
        {
            _w.WriteLine($"private float[] {Nodes[f].ValueField} = [];");
            _w.WriteLine($"private float[]? {P}{Nodes[f].Name}_copy;");
            if (Nodes[f].Shape!.Dims.Where((d, k) => !Nodes[f].Batched || k != Nodes[f].BatchAxis).All(d => d.IsFixed))
                _w.WriteLine($"private static readonly int[] {Dims(f)} = {DimsLiteral(f)}; // inferred at build time, -1 for the batch");
            else
                _w.WriteLine($"private int[] {Dims(f)} => {DimsLiteral(f)}; // inferred at build time, -1 for the batch, sizes bound in Compile()");
            _w.WriteLine($"private bool {P}{Nodes[f].Name}_grad_needed;");
        }
        foreach (var r in _p.RawInputs) _w.WriteLine($"private {Tensor}? {P}{Nodes[r].Name};");
        foreach (var b in _p.Buffers)
        {
            var names = b.Holders.Select(h => Nodes[h].Name + (b.IsGradient ? "_grad" : "")).ToList();
            if (names.Count > 1) _w.Comment("holds " + string.Join(", ", names) + " in turn (their lives do not overlap)");
            _w.WriteLine($"private float[] {b.Field} = [];");
        }
        foreach (var n in Nodes.Where(n => Live(n.Index)))
        {
            foreach (var s in RuleOf(n.Index).Scratch(_e, n)) _w.WriteLine($"private {s.Type} {_e.Scratch(n, s.Role)}{(s.Type.EndsWith("[]") ? " = []" : "")};");
            if (RuleOf(n.Index).Constant(n) is { } constant)
            {
                // With sizes bound when the module is built (Linear(4, hidden)), the constant is computed from them.
                bool bound = n.Symbolic.Length > 0 || n.Inputs.Any(k => Nodes[k].Symbolic.Length > 0) || constant.Arguments.Any(a => a.Contains("_sym_"))
                             || n.Geometry is { ReadsLayer: true };
                string field = bound ? $"private {constant.Type} {_e.Geometry(n)} => " : $"private static readonly {constant.Type} {_e.Geometry(n)} = ";
                if (constant.Type.EndsWith("[]")) _w.WriteLine(field + "[" + string.Join(", ", constant.Arguments) + "];");
                else _w.Call(field + "new", constant.Arguments);
            }
        }
    }

    // ---- the public entries ---------------------------------------------------------------------------------------

    public void Emit()
    {
        var inputs = _p.Inputs;
        int outNode = _p.Output;
        var parameters = new List<string>();
        for (int k = 0; k < inputs.Count; k++)
        {
            int node = _p.FloatInputs.Where(f => Nodes[f].Parameter == k).DefaultIfEmpty(-1).First();
            string attribute = node >= 0 ? $"[global::SharpGrad.Shape({ShapeArguments(Nodes[node].Shape!)})] " : "";
            parameters.Add($"{attribute}{Tensor} {inputs[k].Name}");
        }
        string paramList = string.Join(", ", parameters);
        string argList = string.Join(", ", inputs.Select(x => x.Name));

        if (_p.IsRegion) _w.WriteLine($"/// <summary>Runs a compiled region of <c>{_class}.{UserMethodName}</c>: same result and gradients as its statements run eagerly, as one node on the tape.</summary>");
        else
        {
            _w.WriteLine($"/// <summary>Runs the compiled {UserMethod()}:");
            _w.WriteLine("/// same result and gradients as the eager method, as one node on the tape.</summary>");
        }
        if (!_p.ScalarOutput || Nodes[outNode].Shape!.Rank > 0) _w.WriteLine($"[return: global::SharpGrad.Shape({ShapeArguments(Nodes[outNode].Shape!)})]");
        _w.WriteLine("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]");
        using (_w.Block($"{(_p.IsRegion ? "internal" : "public")} {Tensor} {_p.Name}({paramList})"))
        {
            // The entry's own locals never take the name of one of the user's parameters (a loss's target is often `y`).
            string n = Local("n"), result = Local("result"), tape = Local("inputs"), generation = Local("generation");
            EnterGuard(_p.Name);
            EmitBranchChecks();
            _w.WriteLine($"int {n} = {P}Prepare({argList});");
            _w.WriteLine($"{P}Run({n});");
            if (RuleOf(outNode).Int64Value(_e, Nodes[outNode]) is { } longs)
            {
                // An int64 result (indices): eager's Int64 tensor, which has no gradient, so nothing is recorded.
                string y = Local("y");
                _w.WriteLine($"var {y} = new long[{BatchAs(_e.Size(outNode), n)}];");
                _w.WriteLine($"global::System.Array.Copy({longs}, {y}, {y}.Length);");
                _w.WriteLine($"return {Support}.WrapInt64({y}, {BatchAs(_e.DimsExpr(outNode), n)});");
            }
            else
            {
                // The output is a copy (the user may keep it) from the caching allocator; a loss applied straight to this call takes it
                // over (CompiledSupport.CrossEntropy: the compiled loss head).
                _w.WriteLine($"var {result} = {Support}.Output({Nodes[outNode].ValueField}, {BatchAs(_e.Size(outNode), n)}, {BatchAs(_e.DimsExpr(outNode), n)});");
                // A group's parameters (a recurrent stack's, as many as it has layers) are spread in: their number is known at run time.
                // The inputs and parameters the result's gradient reaches (GradientReach): the others get no gradient, as in eager.
                var tapeInputs = TapeFloats.Select(ParameterName).Concat(TapeSlots.Select(s => s.IsGroup ? ".. " + EmitContext.Group(s) + ".Parameters" : s.Expr)).ToList();
                bool groups = TapeSlots.Any(s => s.IsGroup);
                // Under no_grad (inference) nothing is recorded: no array of the tape's inputs, no tape work (mlp_infer_b1, docs/performance.md).
                _w.WriteLine($"if (!global::SharpGrad.Autograd.IsGradEnabled) return {result};");
                if (groups) _w.Collection($"{Tensor}?[] {tape} = ", tapeInputs, ";");
                else _w.List($"var {tape} = new {Tensor}?[]", tapeInputs, ";");
                _w.WriteLine($"if (!{Support}.ShouldRecord({tape})) return {result};");
                _w.WriteLine($"int {generation} = {P}generation;");
                // A size read at this call (a sequence length) is restored for the backward: another method may read another one meanwhile.
                var sizes = PerCall().Select(r => (Local(SizeSymbols.Field(r.Atom).TrimStart('_')), SizeSymbols.Field(r.Atom))).ToList();
                foreach (var (local, field) in sizes) _w.WriteLine($"int {local} = {field};");
                var saved = tapeInputs.Concat(_p.RawInputs.Select(ParameterName)).ToList();
                if (groups) saved = ["[" + string.Join(", ", saved) + "]"];
                string g = Local("g"), node = Local("node");
                string extra = string.Concat(sizes.Select(z => ", " + z.Item1));
                if (CachedTape)
                {
                    // One delegate per instance, the call's generation and batch kept in the node, the inputs saved as they are: no
                    // closure and no second array per call (the natural compiled loop's allocations, docs/performance.md).
                    _w.Call($"return {Support}.RecordCompiled",
                        [result, $"\"{_class}{_p.Name}CompiledBackward\"", tape,
                         $"{P}tape ??= {P}TapeBackward", generation, n]);
                }
                else
                {
                    _w.Call($"return {Support}.RecordCompiled",
                        [result, $"\"{_class}{_p.Name}CompiledBackward\"", tape, $"({g}, {node}) => {P}TapeBackward({g}, {node}, {generation}, {n}{extra})", .. saved]);
                }
            }
        }
        if (_p.ScalarOutput && !_p.IsRegion) EmitFusedBackwardEntry(paramList, argList);
        _w.WriteLine();
        EmitPrepare();
        _w.WriteLine();
        EmitTapeBackward();
        _w.WriteLine();
        EmitClearGrads();
        _w.WriteLine();
        EmitRun();
        _w.WriteLine();
        EmitBackward();
    }

    /// <summary>
    /// The user's method this program compiles, as a cref with its parameter types (<c>Net.Forward(Tensor)</c>): the
    /// class may have other overloads of the name that the compiler leaves out (a stateful <c>Forward(x, state)</c>),
    /// which would make a bare <c>Net.Forward</c> ambiguous (CS0419). Every parameter of a compiled method is a tensor.
    /// </summary>
    private string UserMethod()
        => $"<see cref=\"{_class}.{_p.Name}({string.Join(", ", _p.Inputs.Select(_ => Tensor))})\"/>";

    private void EmitFusedBackwardEntry(string paramList, string argList)
    {
        int outNode = _p.Output;
        _w.WriteLine();
        _w.WriteLine("/// <summary>");
        _w.WriteLine($"/// Runs the compiled {UserMethod()}");
        _w.WriteLine($"/// and its backward in one program (PyTorch: <c>loss = model.{_p.Name.ToLowerInvariant()}(…); loss.backward(); loss.item()</c>):");
        _w.WriteLine("/// accumulates the gradients of the parameters that require grad into their");
        _w.WriteLine("/// <c>Grad</c> (a parameter whose Grad is null gets a gradient tensor this program reuses on later calls) and returns");
        _w.WriteLine("/// the value. Allocates nothing once the buffers are sized.");
        _w.WriteLine("/// </summary>");
        // Called every training step: compiled optimised at its first call, not at tier 0 and again on the background JIT
        // thread while the step's kernels want the second core (docs/performance.md, mnist_mlp_5_epochs).
        _w.WriteLine("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]");
        using (_w.Block($"public float {_p.Name}Backward({paramList})"))
        {
            string n = Local("n"), value = Local("value");
            EnterGuard(_p.Name + "Backward");
            _w.WriteLine($"int {n} = {P}Prepare({argList});");
            _w.WriteLine($"{P}Run({n});");
            _w.WriteLine($"float {value} = {Nodes[outNode].ValueField}[0];");
            foreach (var f in _p.FloatInputs) _w.WriteLine($"{P}{Nodes[f].Name}_grad_needed = false;");
            // A parameter the result's gradient does not reach (GradientReach) is left as it is: no gradient, as in eager.
            foreach (var s in _slots.Where(s => !s.IsGroup))
                _w.WriteLine(_reach.Param(s) == 0 ? $"{EmitContext.Needed(s)} = false;" : $"{EmitContext.Needed(s)} = {WhenReached(_reach.Param(s), s.Expr + ".RequiresGrad")};");
            _w.WriteLine($"{P}ClearGrads({n});");
            // Each parameter's gradient is accumulated where it ends up: .Grad's own array, or the tensor that becomes .Grad.
            // A fresh gradient (none after ZeroGrad) is not cleared when its first writer overwrites it (EmitContext.WritesFirst).
            foreach (var s in _slots)
            {
                if (s.IsGroup)
                {
                    BindGroup(s, Overwrites(_p, s) ? "Bind(overwrite: true)" : "Bind()");
                    continue;
                }
                bool overwrites = Overwrites(_p, s);
                if (overwrites) _w.WriteLine($"{EmitContext.Fresh(s)} = false;");
                if (_reach.Param(s) == 0) continue;
                _w.Call($"if ({EmitContext.Needed(s)}) {EmitContext.ParamGrad(s)} = {Support}.BindGrad",
                    overwrites ? [s.Expr, $"ref {EmitContext.ParamGrad(s)}_tensor", $"out {EmitContext.Fresh(s)}"] : [s.Expr, $"ref {EmitContext.ParamGrad(s)}_tensor"]);
            }
            _w.WriteLine($"{Nodes[Nodes[outNode].GradRoot].GradField}[0] = 1f;");
            _w.WriteLine($"{P}Backward({n});");
            foreach (var s in _slots.Where(s => _reach.Param(s) != 0))
            {
                if (s.IsGroup) _w.WriteLine($"{EmitContext.Group(s)}.Deliver();");
                else _w.Call($"if ({EmitContext.Needed(s)}) {Support}.DeliverGrad", [s.Expr, EmitContext.ParamGrad(s), $"ref {EmitContext.ParamGrad(s)}_tensor"]);
            }
            _w.WriteLine($"return {value};");
        }
    }

    /// <summary>
    /// Binds a group's gradients by <paramref name="bind"/> (<c>Bind()</c>, <c>BindTape(node, 2)</c>) where the result's gradient
    /// reaches it, and leaves them unbound (<c>Unbind()</c>: none computed, none delivered) where it does not.
    /// </summary>
    private void BindGroup(ParamSlot s, string bind)
    {
        int modes = _reach.Param(s);
        string group = EmitContext.Group(s);
        if (modes == 0) _w.WriteLine($"{group}.Unbind();");
        else if (ReachCondition(modes) is { } condition) _w.WriteLine($"if ({condition}) {group}.{bind}; else {group}.Unbind();");
        else _w.WriteLine($"{group}.{bind};");
    }

    /// <summary>Enters the program's <see cref="EmitContext.GuardField"/> for the rest of the method (the buffers are shared).</summary>
    private void EnterGuard(string method) => _w.WriteLine($"using var {Local("call")} = {EmitContext.GuardField}.Enter(\"{method}\");");

    /// <summary>
    /// A local of a generated entry named <paramref name="name"/>, or <c>name_</c> (…) when one of the method's parameters
    /// already has that name, so that a user's <c>Loss(Tensor x, Tensor y)</c> compiles.
    /// </summary>
    private string Local(string name)
    {
        while (_p.Inputs.Any(x => x.Name == name)) name += "_";
        return name;
    }

    /// <summary>A size or dims expression written with the batch local <c>n</c>, rewritten to use the local <paramref name="n"/>.</summary>
    private static string BatchAs(string expression, string n)
        => n == "n" ? expression : System.Text.RegularExpressions.Regex.Replace(expression, @"\bn\b", n);

    private static string ShapeArguments(TensorShape shape)
        => string.Join(", ", shape.Dims.Select(d => d.IsFixed ? MethodDraft.I(d.Size) : "\"" + d.Symbol + "\""));

    private void EmitPrepare()
    {
        var inputs = _p.Inputs;
        string where = $"{_class}.Compiled.{UserMethodName}";
        _w.WriteLine("/// <summary>Checks the inputs against the shapes inferred at build time, sizes the buffers (grown only with the batch) and binds the inputs.</summary>");
        _w.WriteLine("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]");
        using (_w.Block($"private int {P}Prepare({string.Join(", ", inputs.Select(x => $"{Tensor} {x.Name}"))})"))
        {
            foreach (var x in inputs) _w.WriteLine($"global::System.ArgumentNullException.ThrowIfNull({x.Name});");
            // The batch local steps aside when a parameter is named n (every size below is written with it).
            string batchLocal = Local("n");
            string? first = null;
            var reads = PerCall();
            foreach (var read in reads)
            {
                // A size read at each call (T of [N, T, 8]): from the first input that has it; the checks below compare the others.
                _w.Call($"{SizeSymbols.Field(read.Atom)} = {Support}.SizeAt",
                    [read.Input, $"nameof({read.Input})", MethodDraft.I(read.Dim), MethodDraft.I(read.Shape.Rank), $"\"{read.Shape}\"", $"\"{read.Atom}\"", $"\"{where}\""]);
            }
            // The batch comes from the first input with the batch in dim 0 (a float input, else one read as data); inputs with
            // the batch in dim 1 (a recurrent layer's h_0) are checked against it.
            bool BatchFirst(int f) => Nodes[f].Batched && Nodes[f].BatchAxis == 0;
            var batchSecond = _p.FloatInputs.Where(f => Nodes[f].Batched).ToList();
            if (!_p.FloatInputs.Any(BatchFirst) && batchSecond.Count > 0)
            {
                int second = batchSecond[0];
                // Only batch-second float inputs ([T, N, 8]): the first one's dim 1 is the batch (CheckInput returns it).
                string x = ParameterName(second);
                _w.Call($"int {batchLocal} = {Support}.CheckInput", [x, $"nameof({x})", Dims(second), $"\"{Nodes[second].Shape}\"", $"\"{where}\""]);
                first = x;
            }
            if (first is null && !_p.FloatInputs.Any(BatchFirst))
            {
                int raw = _p.RawInputs.First(r => inputs[Nodes[r].Parameter].Shape is { Rank: >= 1 } s && s[0].Symbol == _p.Batch);
                first = ParameterName(raw);
                _w.WriteLine($"int {batchLocal} = {Support}.BatchOf({first}, nameof({first}), \"{where}\");");
            }
            foreach (var f in _p.FloatInputs.OrderBy(f => BatchFirst(f) ? 0 : 1))
            {
                var node = Nodes[f];
                string x = ParameterName(f);
                if (x == first) continue;   // checked above
                string call = first is null && BatchFirst(f) ? $"int {batchLocal} = " : "";
                string[] batch = first is null ? [] : [batchLocal, $"nameof({first})"];
                _w.Call($"{call}{Support}.CheckInput", [x, $"nameof({x})", Dims(f), $"\"{node.Shape}\"", $"\"{where}\"", .. batch]);
                if (BatchFirst(f)) first ??= x;
            }
            string grown = string.Concat(reads.Select(r => $" || {SizeSymbols.Field(r.Atom)} > {P}capacity{SizeSymbols.Field(r.Atom)}"));
            using (_w.Block($"if ({batchLocal} > {P}capacity{grown})"))
            {
                _w.Comment(reads.Count == 0 ? "The buffers are sized on the first call, and grown only when the batch grows."
                    : "The buffers are sized on the first call, and grown only when the batch or " + string.Join(" or ", reads.Select(r => r.Atom)) + " grows.");
                foreach (var b in _p.Buffers) _w.WriteLine($"{b.Field} = new float[{BatchAs(EmitContext.Size(b.Batched, b.Features, b.Symbolic), batchLocal)}];");
                foreach (var n in Nodes.Where(n => Live(n.Index)))
                {
                    foreach (var s in RuleOf(n.Index).Scratch(_e, n))
                    {
                        if (s.Size is not null) _w.WriteLine($"{_e.Scratch(n, s.Role)} = new {s.Type.Substring(0, s.Type.Length - 2)}[{BatchAs(s.Size, batchLocal)}];");
                        if (s.Init is not null) _w.WriteLine($"{_e.Scratch(n, s.Role)} = {BatchAs(s.Init, batchLocal)};");
                    }
                }
                _w.WriteLine($"{P}capacity = {batchLocal};");
                foreach (var r in reads) _w.WriteLine($"{P}capacity{SizeSymbols.Field(r.Atom)} = {SizeSymbols.Field(r.Atom)};");
            }
            // Shapes with the batch dim or a size read at each call (T) are updated on every call (no allocation).
            foreach (var n in Nodes.Where(n => Live(n.Index)))
            {
                foreach (var s in RuleOf(n.Index).Scratch(_e, n))
                {
                    if (s.Init is not { } init || !init.StartsWith("new int[] { ", System.StringComparison.Ordinal)) continue;
                    var dims = init.Substring(12, init.Length - 14).Split([", "], System.StringSplitOptions.None);
                    for (int k = 0; k < dims.Length; k++)
                    {
                        if (dims[k] == "n" || reads.Any(r => dims[k].Contains(SizeSymbols.Field(r.Atom))))
                            _w.WriteLine($"{_e.Scratch(n, s.Role)}[{MethodDraft.I(k)}] = {BatchAs(dims[k], batchLocal)};");
                    }
                }
            }
            foreach (var f in _p.FloatInputs) _w.WriteLine($"{Nodes[f].ValueField} = {Support}.Dense({ParameterName(f)}, ref {P}{Nodes[f].Name}_copy);");
            foreach (var r in _p.RawInputs) _w.WriteLine($"{P}{Nodes[r].Name} = {ParameterName(r)};");
            _w.WriteLine($"{P}training = _m.Training;");
            _w.WriteLine($"{P}generation++;");
            _w.WriteLine($"return {batchLocal};");
        }
    }

    private void EmitTapeBackward()
    {
        string where = $"{_class}.Compiled.{UserMethodName}";
        _w.WriteLine("/// <summary>The tape's backward for this method's node: runs the generated backward and returns one gradient per tape input.</summary>");
        var reads = PerCall();
        string sizes = string.Concat(reads.Select(r => ", int " + SizeSymbols.Field(r.Atom).TrimStart('_')));
        using (_w.Block(CachedTape
            ? $"private {Tensor}?[] {P}TapeBackward({Tensor} g, global::SharpGrad.Node node)"
            : $"private {Tensor}?[] {P}TapeBackward({Tensor} g, global::SharpGrad.Node node, int generation, int n{sizes})"))
        {
            EnterGuard(_p.Name + " (backward)");
            if (CachedTape)
            {
                _w.WriteLine($"int generation = {Support}.Generation(node); // the call's, kept in its node");
                _w.WriteLine($"int n = {Support}.Batch(node);");
            }
            _w.WriteLine($"if (generation != {P}generation) throw {Support}.StaleBackward(\"{where}\");");
            foreach (var r in reads) _w.WriteLine($"{SizeSymbols.Field(r.Atom)} = {SizeSymbols.Field(r.Atom).TrimStart('_')};");
            // The tape node's inputs are the float inputs and parameters the result's gradient reaches (GradientReach); the others
            // get none, as in eager.
            var floats = TapeFloats;
            var slots = TapeSlots;
            var (offsets, count) = EmitContext.TapeIndices(floats.Count, slots);
            // The array is allocated only for a gradient handed to the engine (none when every parameter's is written into .Grad).
            _w.WriteLine($"{Tensor}?[]? grads = null;");
            foreach (int f in _p.FloatInputs)
            {
                int j = floats.IndexOf(f);
                _w.WriteLine($"{P}{Nodes[f].Name}_grad_needed = {(j < 0 ? "false" : WhenReached(_reach.Node(f), $"node.NeedsInputGrad({MethodDraft.I(j)})"))};");
            }
            foreach (var s in _slots.Where(s => !s.IsGroup))
            {
                int k = slots.IndexOf(s);
                _w.WriteLine($"{EmitContext.Needed(s)} = {(k < 0 ? "false" : WhenReached(_reach.Param(s), $"node.NeedsInputGrad({offsets[k]})"))};");
            }
            _w.WriteLine($"{P}ClearGrads(n);");
            // A parameter's gradient is written into .Grad when the engine would only add it there (BindTapeGrad), else into a
            // fresh array handed to the engine as it is (no copy).
            foreach (var s in _slots)
            {
                int k = slots.IndexOf(s);
                if (s.IsGroup)
                {
                    BindGroup(s, $"BindTape(node, {(k < 0 ? "0" : offsets[k])}{(Overwrites(_p, s) ? ", overwrite: true" : "")})");
                    continue;
                }
                bool overwrites = Overwrites(_p, s);
                if (overwrites) _w.WriteLine($"{EmitContext.Fresh(s)} = false;");
                if (k < 0) continue;
                string[] args = ["node", offsets[k], s.Expr, $"ref {EmitContext.ParamGrad(s)}_tensor"];
                _w.Call($"if ({EmitContext.Needed(s)}) {EmitContext.ParamGrad(s)} = {Support}.BindTapeGrad", overwrites ? [.. args, $"out {EmitContext.Fresh(s)}"] : args);
            }
            var output = Nodes[_p.Output];
            // The output's gradient: g, or from g by the loss this node computes after the program (a fused loss head).
            _w.WriteLine($"{Support}.OutputGrad(g, node, {Nodes[output.GradRoot].GradField}, {_e.Size(_p.Output)});");
            _w.WriteLine($"{P}Backward(n);");
            for (int j = 0; j < floats.Count; j++)
            {
                var node = Nodes[floats[j]];
                _w.Call($"if ({P}{node.Name}_grad_needed) (grads ??= new {Tensor}?[{count}])[{MethodDraft.I(j)}] = {Support}.WrapCopy", [node.GradField!, _e.DimsExpr(node.Index)]);
            }
            for (int k = 0; k < slots.Count; k++)
            {
                var s = slots[k];
                if (s.IsGroup)
                {
                    _w.WriteLine($"{EmitContext.Group(s)}.SetTapeGrads(ref grads, {count}, {offsets[k]});");
                    continue;
                }
                _w.Call($"if ({EmitContext.Needed(s)}) {Support}.SetTapeGrad",
                    ["ref grads", count, offsets[k], s.Expr, EmitContext.ParamGrad(s), $"ref {EmitContext.ParamGrad(s)}_tensor"]);
            }
            _w.WriteLine("return grads ?? [];");
        }
    }

    private void EmitClearGrads()
    {
        _w.WriteLine("/// <summary>Clears the gradient buffers of the values the backward accumulates into (those shared by liveness are cleared at");
        _w.WriteLine("/// their first write; the parameters' gradient arrays are bound by the entry: BindGrad, RentGrad).</summary>");
        _w.WriteLine("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]");
        using (_w.Block($"private void {P}ClearGrads(int n)"))
        {
            // A gradient whose first writer overwrites it in full (GradOverwriter) is not cleared.
            foreach (var node in Nodes.Where(n => Live(n.Index) && n.GradField is not null && n.GradFirstWrite < 0 && n.GradOverwriter < 0))
            {
                // An input's gradient is read only when it is needed (LossBackward never needs x's): its buffer (its own,
                // not shared by liveness) is cleared only then — x's gradient of an MLP step is a 200 KB memset.
                bool ownInput = _p.FloatInputs.Contains(node.Index) && Nodes.Count(o => o.GradField == node.GradField) == 1;
                string clear = $"global::System.Array.Clear({node.GradField}, 0, {_e.Size(node.Index)});";
                _w.WriteLine(ownInput ? $"if ({P}{node.Name}_grad_needed) {clear}" : clear);
            }
        }
    }

    /// <summary>Writes a node's code under <c>if (training)</c> / <c>if (!training)</c> when it runs in one mode only.</summary>
    private void WithMode(int i, System.Action body)
    {
        if (!Live(i)) return;
        int mode = Nodes[i].Mode;
        if (mode == 3)
        {
            body();
            return;
        }
        using (_e.W.Block(mode == 1 ? "if (training)" : "if (!training)")) body();
    }

    private void EmitRun()
    {
        _w.WriteLine($"/// <summary>The forward program of {_p.Name}, node by node.</summary>");
        _w.WriteLine("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]");
        using (_w.Block($"private void {P}Run(int n)"))
        {
            _e.Body(_w, e =>
            {
                for (int i = 0; i < Nodes.Count; i++) WithMode(i, () => RuleOf(i).Forward(e, Nodes[i]));
            }, forward: true);
        }
    }

    /// <summary>
    /// The size checks only this region needs (<see cref="SizeBinding.Regions"/>: it is compiled for one value of a layer option
    /// the constructor's arguments decide, and only the region the instance chooses runs): made at its first call, as
    /// <c>Compile()</c> makes the others.
    /// </summary>
    private List<SizeBinding> BranchChecks => _program.Sizes.Where(b => b.Field is null && b.Regions.Contains(_p.Name)).ToList();

    private void EmitBranchChecks()
    {
        var checks = BranchChecks;
        if (checks.Count == 0) return;
        using (_w.Block($"if (!{P}sizesChecked)"))
        {
            string where = CompiledEmitter.Literal(_class + "." + UserMethodName);
            foreach (var b in checks)
            {
                _w.Call($"{Support}.CheckSize", [b.Source.Replace("(module, ", "(_m, "), b.Expected, CompiledEmitter.Literal(b.Symbol), CompiledEmitter.Literal(b.What), where]);
            }
            _w.WriteLine($"{P}sizesChecked = true;");
        }
    }

    private void EmitBackward()
    {
        _w.WriteLine($"/// <summary>The backward program of {_p.Name}, generated from the IR: each node's backward rule, in reverse order.</summary>");
        _w.WriteLine("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]");
        using (_w.Block($"private void {P}Backward(int n)"))
        {
            _e.Body(_w, e =>
            {
                var boundaries = Enumerable.Range(0, Nodes.Count).Where(i => Live(i) && Nodes[i].Rule == RuleKind.Boundary).ToList();
                for (int i = Nodes.Count - 1; i >= 0; i--)
                {
                    foreach (var node in Nodes.Where(n => Live(n.Index) && n.GradFirstWrite == i).OrderBy(n => n.Index))
                    {
                        e.W.Comment($"{node.Name}_grad starts here: its buffer is shared by liveness");
                        e.W.WriteLine($"global::System.Array.Clear({e.Grad(node.Index)}, 0, {e.Size(node.Index)});");
                    }
                    foreach (var node in Nodes.Where(n => Live(n.Index) && n.GradOverwriter == i && Nodes[i].Module is not null).OrderBy(n => n.Index))
                    {
                        // Its hooks see the gradient before and after the node's backward: before is zeros, as when it is added to.
                        e.W.Comment($"{node.Name}_grad starts here, written in full by this node's backward; cleared only for its hooks' snapshot");
                        e.W.WriteLine($"if ({Support}.HasBackwardHooks({Nodes[i].Module!.Field})) global::System.Array.Clear({e.Grad(node.Index)}, 0, {e.Size(node.Index)});");
                    }
                    int k = i;
                    WithMode(k, () => RuleOf(k).Backward(e, Nodes[k]));
                    foreach (var b in boundaries.Where(b => BoundaryRule.Start(Nodes[b]) == i)) BoundaryRule.Complete(e, Nodes[b]);
                }
            }, forward: false);
        }
    }
}
