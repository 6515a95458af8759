using System.Collections.Generic;
using System.Linq;

namespace SharpGrad.Generator.Emit;

/// <summary>
/// What a rule writes its code with: the writer, and the names of values, gradients, buffers and flags of the method
/// being emitted. Values and gradients are locals named after the source (<c>fc1_out</c>, <c>fc1_out_grad</c>), bound to
/// their buffers at the top of the method body (only those the body uses).
/// </summary>
internal sealed class EmitContext
{
    public const string Tensor = "global::SharpGrad.Tensor";
    public const string Support = "global::SharpGrad.CompiledSupport";
    public const string Kernels = "global::SharpGrad.Kernels";
    public const string Guard = "global::SharpGrad.CompiledCallGuard";

    /// <summary>The <c>Compiled</c> class's <see cref="Guard"/> field, entered first by every public method and tape backward.</summary>
    public const string GuardField = "_guard";

    /// <summary>Fields every <c>Compiled</c> class has (the module and the guard); a child's field is renamed around them.</summary>
    public static readonly string[] ReservedFields = ["_m", GuardField];

    private readonly HashSet<int> _values = new();
    private readonly HashSet<int> _grads = new();
    private readonly List<(string Name, string Declaration)> _locals = new();

    public EmitContext(ProgramPlan program, MethodPlan method, string className, IndentedWriter writer)
    {
        Program = program;
        Method = method;
        ClassName = className;
        W = writer;
    }

    public ProgramPlan Program { get; }

    public MethodPlan Method { get; }

    public string ClassName { get; }

    public IndentedWriter W { get; private set; }

    public IReadOnlyList<NodePlan> Nodes => Method.Nodes;

    /// <summary>The prefix of the method's fields (<c>_forward_</c>).</summary>
    public string Prefix => Method.Prefix;

    /// <summary>Writes the body of a method into a fresh writer, then the local declarations it needs and the body.</summary>
    public void Body(IndentedWriter target, System.Action<EmitContext> body, bool forward)
    {
        _values.Clear();
        _grads.Clear();
        _locals.Clear();
        var outer = W;
        var inner = new IndentedWriter();
        for (int k = 0; k < target.Indentation / 4; k++) inner.Indent();
        W = inner;
        body(this);
        W = outer;
        foreach (int i in _values.OrderBy(i => i))
        {
            var node = Nodes[i];
            target.WriteLine($"float[] {node.Name} = {node.ValueField};");
        }
        foreach (int i in _grads.OrderBy(i => i))
        {
            var node = Nodes[i];
            target.WriteLine($"float[] {node.Name}_grad = {Nodes[node.GradRoot].GradField};");
        }
        if (Method.UsesTraining) target.WriteLine($"bool training = {Prefix}training;");
        foreach (var (_, declaration) in _locals) target.WriteLine(declaration);
        target.WriteIndented(inner.ToString());
    }

    /// <summary>
    /// A local of the method body declared at its top (so every mode block sees it): <c>bool fc1_out_fused = false;</c>.
    /// Returns its name.
    /// </summary>
    public string Local(string name, string type, string initial)
    {
        if (!_locals.Any(l => l.Name == name)) _locals.Add((name, $"{type} {name} = {initial};"));
        return name;
    }

    /// <summary>The value of node <paramref name="i"/> inside generated code: a float literal for a constant, else its local.</summary>
    public string Value(int i)
    {
        var node = Nodes[i];
        if (node.Rule == RuleKind.Constant) return node.Args.Count > 0 ? node.Args[0] : "0f";
        _values.Add(i);
        return node.Name;
    }

    /// <summary>The gradient buffer of node <paramref name="i"/> (a local named <c>…_grad</c>).</summary>
    public string Grad(int i)
    {
        _grads.Add(i);
        return Nodes[i].Name + "_grad";
    }

    /// <summary>The number of elements of node <paramref name="i"/>: <c>n * F</c> when batched.</summary>
    public string Size(int i) => Size(Nodes[i].Batched, Nodes[i].Features, Nodes[i].Symbolic);

    /// <summary>An element count: <c>n * F</c> when batched, times the factor bound when the module is built (<c>_sym_hidden</c>).</summary>
    public static string Size(bool batched, int features, string symbolic = "")
    {
        var parts = new List<string>();
        if (batched) parts.Add("n");
        if (features != 1 || (!batched && symbolic.Length == 0)) parts.Add(MethodDraft.I(features));
        if (symbolic.Length > 0) parts.Add(symbolic);
        return string.Join(" * ", parts);
    }

    /// <summary>
    /// A count (<c>n * 6</c>): <paramref name="value"/>, or <paramref name="text"/> when it is not fixed at build time (its C#,
    /// the fixed factor included: <c>(2 * _sym_T)</c>), times n when <paramref name="batched"/>.
    /// </summary>
    public static string Count(bool batched, int value, string? text) => text is null ? Size(batched, value) : Size(batched, 1, text);

    /// <summary>The element count <paramref name="perItem"/> of node <paramref name="i"/>'s batch items (times n when batched).</summary>
    public string Outer(int i, int perItem) => Size(Nodes[i].Batched, perItem);

    /// <summary>The field of one of a node's scratch buffers (<c>_forward_pool_out_indices</c>).</summary>
    public string Scratch(NodePlan n, string role) => Prefix + n.Name + "_" + role;

    /// <summary>The static geometry constant of a node (<c>_forward_conv1_out_geometry</c>).</summary>
    public string Geometry(NodePlan n) => Prefix + n.Name + "_geometry";

    /// <summary>The flag of a float input whose gradient is wanted, or null for other nodes (their gradients are always computed).</summary>
    public string? InputGuard(int i)
    {
        int root = Nodes[i].GradRoot;
        return Method.FloatInputs.Contains(root) ? Prefix + Nodes[root].Name + "_grad_needed" : null;
    }

    /// <summary><paramref name="i"/>'s gradient buffer, or null at run time when it is an input's gradient nobody wants.</summary>
    public string GradOrNull(int i) => InputGuard(i) is { } guard ? $"({guard} ? {Grad(i)} : null)" : Grad(i);

    /// <summary>The flag of a parameter whose gradient is wanted.</summary>
    public static string Needed(ParamSlot s) => "_" + s.Name + "_grad_needed";

    /// <summary>The gradient buffer of a parameter.</summary>
    public static string ParamGrad(ParamSlot s) => "_" + s.Name + "_grad";

    /// <summary>The gradient buffer of a parameter, or null at run time when nobody wants it.</summary>
    public static string ParamGradOrNull(ParamSlot? s) => s is null ? "null" : $"({Needed(s)} ? {ParamGrad(s)} : null)";

    /// <summary>The <c>CompiledParameterGroup</c> field of a group of parameters (<see cref="ParamSlot.IsGroup"/>): <c>_lstm_params</c>.</summary>
    public static string Group(ParamSlot s) => "_" + s.Name;

    /// <summary>
    /// The tape inputs of <paramref name="slots"/> after <paramref name="first"/> inputs: the index of each slot's (first)
    /// input as C#, and the count after them all; a group's parameters are its <c>Count</c> inputs in a row, known at run time.
    /// </summary>
    public static (List<string> Offsets, string Count) TapeIndices(int first, IReadOnlyList<ParamSlot> slots)
    {
        var offsets = new List<string>();
        int constant = first;
        var groups = new List<string>();
        string Text() => groups.Count == 0 ? MethodDraft.I(constant) : MethodDraft.I(constant) + " + " + string.Join(" + ", groups);
        foreach (var s in slots)
        {
            offsets.Add(Text());
            if (s.IsGroup) groups.Add(Group(s) + ".Count");
            else constant++;
        }
        return (offsets, Text());
    }

    /// <summary>The flag set before a backward when a parameter's gradient array holds no values to keep (a fresh .Grad after
    /// <c>ZeroGrad</c>): its first writer overwrites it (β = 0) instead of the array being cleared and added to.</summary>
    public static string Fresh(ParamSlot s) => "_" + s.Name + "_grad_fresh";

    /// <summary>
    /// True when <paramref name="n"/> is the first node of the backward to write <paramref name="s"/>'s gradient: the live node
    /// of highest index that differentiates it, run in both modes. Its rule may overwrite the gradient when <see cref="Fresh"/>
    /// is set at run time: only for a <c>.Grad</c> that is null and a reused array nobody else holds, so what other programs
    /// (regions of a method with a graph break) or eager code deliver for the parameter is added to what this one delivered.
    /// Inlined children (a user <c>[Module]</c>, a Sequential) are nodes of the method like any other: their boundary nodes
    /// write no parameter's gradient and their hooks snapshot only the gradient of the child's input, so a child's parameter
    /// is overwritten by its first writer as the parent's are (session 26; before, any boundary node in the method made every
    /// parameter's gradient cleared and added to: the transformer's Sequential).
    /// </summary>
    public bool WritesFirst(NodePlan n, ParamSlot s) => FirstWriter(Method, s) == n.Index && n.Mode == 3;

    /// <summary>The index of the first backward writer of <paramref name="s"/>'s gradient in <paramref name="method"/>, or −1 (see <see cref="WritesFirst"/>).</summary>
    public static int FirstWriter(MethodPlan method, ParamSlot s)
    {
        var nodes = method.Nodes;
        for (int i = nodes.Count - 1; i >= 0; i--)
        {
            if (nodes[i].Rule is RuleKind.None or RuleKind.Constant or RuleKind.Raw) continue;
            if ((RuleSet.For(nodes[i].Rule)?.Params(nodes[i]) ?? []).Contains(s)) return i;
        }
        return -1;
    }

    /// <summary>
    /// True when node <paramref name="n"/>'s backward writes the whole gradient of its input <paramref name="slot"/> (it is that
    /// gradient's first writer, <see cref="NodePlan.GradOverwriter"/>): the buffer was not cleared, so it must not be added to.
    /// </summary>
    public bool OverwritesInput(NodePlan n, int slot) => Nodes[Nodes[n.Inputs[slot]].GradRoot].GradOverwriter == n.Index;

    /// <summary>The float32 array of a parameter (contiguous at offset 0, as parameters are).</summary>
    public static string Dense(ParamSlot s) => $"{Support}.Dense({s.Expr})";

    /// <summary>Writes <paramref name="statement"/>, under <c>if (guard)</c> when there is one.</summary>
    public void Guarded(string? guard, string statement)
    {
        if (guard is null) W.WriteLine(statement);
        else W.WriteLine($"if ({guard}) {statement}");
    }

    /// <summary><c>for (int j = 0, len = size; j &lt; len; j++) body</c> over node <paramref name="i"/>'s elements.</summary>
    public void Loop(int i, string body) => W.WriteLine($"for (int j = 0, len = {Size(i)}; j < len; j++) {body}");

    /// <summary>The shape of node <paramref name="i"/> as an int[] expression (allocates: hooks only).</summary>
    public string ShapeExpr(int i)
    {
        var node = Nodes[i];
        return "new int[] { " + string.Join(", ", node.Shape!.Dims.Select((d, k) => k == node.BatchAxis && node.Batched ? "n" : SizeSymbols.Csharp(d))) + " }";
    }

    /// <summary>The dims of node <paramref name="i"/> as C# arguments, n for the batch (<c>n, 3, 8, 8</c>).</summary>
    public string DimsExpr(int i)
    {
        var node = Nodes[i];
        string dims = string.Join(", ", node.Shape!.Dims.Select((d, k) => k == node.BatchAxis && node.Batched ? "n" : SizeSymbols.Csharp(d)));
        return dims.Length == 0 ? "global::System.Array.Empty<int>()" : dims;
    }

    /// <summary>After a node with a child: its forward hooks, with copies of the input and output values.</summary>
    public void ForwardHooks(NodePlan n, int input)
    {
        if (n.Module is not { } module) return;
        W.Call($"if ({Support}.HasForwardHooks({module.Field})) {Support}.ForwardHooks",
            [module.Field, Value(input), ShapeExpr(input), Value(n.Index), ShapeExpr(n.Index)]);
    }

    /// <summary>Which nodes the method's result's gradient reaches, per mode (set by the method's emitter).</summary>
    public GradientReach? Reach { get; set; }

    /// <summary>
    /// True when the result's gradient reaches node <paramref name="i"/> in some mode: only then may its child's full backward
    /// hooks run — eager never calls a full backward hook of a module whose output the loss does not depend on (PyTorch's rule),
    /// where the program's backward, which runs every node, would call it with zeros (<see cref="GradientReach"/>).
    /// </summary>
    public bool HooksReached(int i) => Reach is null || Reach.Node(i) != 0;

    /// <summary>
    /// Writes <paramref name="write"/>'s backward hook code for node <paramref name="i"/> where the result's gradient reaches it:
    /// as it is when in both modes, under <c>if (training flag)</c> when in one, not at all when in none (<see cref="HooksReached"/>).
    /// </summary>
    public void WhenHooksReached(int i, System.Action write)
    {
        if (!HooksReached(i)) return;
        if (HookCondition(i) is not { } condition) write();
        else using (W.Block($"if ({condition})")) write();
    }

    /// <summary>
    /// The mode test under which node <paramref name="i"/>'s backward hooks run, or null when the result's gradient reaches it in
    /// every mode the node runs in (its code is already inside that mode's block).
    /// </summary>
    public string? HookCondition(int i)
    {
        if (Reach is null) return null;
        int reached = Reach.Node(i), runs = Nodes[i].Mode;
        return (runs & ~reached) == 0 ? null : GradientReach.Condition(reached, Prefix);
    }

    /// <summary>The source text of a node, for comments.</summary>
    public string Text(int i) => Nodes[i].Text;
}
