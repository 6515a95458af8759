using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using SharpGrad.Generator.Model;

namespace SharpGrad.Generator.Compiler;

/// <summary>
/// Emits one compiled method of a <c>Compiled</c> class: the public entry (<c>Forward(x)</c>, <c>Loss(x, target)</c>),
/// for scalar outputs the fused <c>LossBackward</c> entry, and the private forward/backward programs over the buffers
/// of <see cref="MethodPlan"/>. One rule per node kind, forward (<see cref="EmitForward"/>) and backward (<see cref="EmitBackward"/>).
/// </summary>
internal sealed class MethodEmitter
{
    private const string Tensor = CompiledEmitter.Tensor;
    private const string Support = CompiledEmitter.Support;
    private const string Gemm = CompiledEmitter.Gemm;

    private readonly CompiledProgram _program;
    private readonly MethodPlan _p;
    private readonly IndentedWriter _w;
    private readonly string _x; // field prefix
    private readonly List<ParamSlot> _slots;

    public MethodEmitter(CompiledProgram program, MethodPlan plan, IndentedWriter writer)
    {
        _program = program;
        _p = plan;
        _w = writer;
        _x = Prefix(plan);
        _slots = Slots(plan).OrderBy(s => s.Index).ToList();
        _readInBackward = new bool[plan.Method.Nodes.Count];
        for (int j = 0; j < _readInBackward.Length; j++)
        {
            if (Live(j)) foreach (var k in ReadInBackward(j)) _readInBackward[k] = true;
        }
        _fusedInto = PlanElementwiseFusion();
        _valueSlot = PlanValueBuffers();
        _gradSlot = PlanGradientBuffers();
    }

    /// <summary>For each gradient root, the root whose buffer it uses (shared by backward liveness).</summary>
    private readonly int[] _gradSlot;

    /// <summary>Gradient roots that share buffers: cleared when first written in the backward, not up front.</summary>
    private readonly Dictionary<int, int> _gradFirstWrite = new();

    private readonly Dictionary<int, int> _gradSlotFeatures = new();

    /// <summary>
    /// Memory planning of gradient buffers: the gradient of a value lives from the backward of its last reader (the
    /// first to write it, in reverse order) down to its own node's backward. Gradients whose lives do not overlap share
    /// a buffer, cleared at first write. The output's, the method inputs' and those hooks read stay their own.
    /// </summary>
    private int[] PlanGradientBuffers()
    {
        int count = Nodes.Count;
        var slot = Enumerable.Range(0, count).ToArray();
        var firstWrite = new int[count];
        var pinned = new bool[count];
        for (int i = 0; i < count; i++) firstWrite[i] = -1;
        for (int c = 0; c < count; c++)
        {
            if (!Live(c)) continue;
            foreach (var k in Nodes[c].Inputs) if (Live(k)) firstWrite[_p.GRoot[k]] = System.Math.Max(firstWrite[_p.GRoot[k]], c);
            if (IsBoundary(c))
            {
                pinned[_p.GRoot[c]] = true;
                foreach (var k in Nodes[c].IntArgs) if (k < count) pinned[_p.GRoot[k]] = true;
            }
        }
        pinned[_p.GRoot[_p.Output]] = true;
        foreach (var f in _p.FloatInputs) pinned[_p.GRoot[f]] = true;
        // Intervals in index space [root, firstWrite], taken from the highest root down. A later interval [r, w] (r below
        // every earlier root) overlaps an earlier one [lo, hi] exactly when lo <= w, so a buffer is free for it when the
        // lowest root already using that buffer is above w.
        var lowest = new List<(int Slot, int Low)>();
        for (int r = count - 1; r >= 0; r--)
        {
            if (!OwnsGrad(r)) continue;
            _gradSlotFeatures[r] = _p.F[r];
            if (pinned[r] || !_p.Batched[r] || firstWrite[r] < 0) continue;
            int found = lowest.FindIndex(e => e.Low > firstWrite[r]);
            int pick = found >= 0 ? lowest[found].Slot : r;
            if (found >= 0) lowest[found] = (pick, r);
            else lowest.Add((r, r));
            slot[r] = pick;
            if (pick != r) _gradSlotFeatures[pick] = System.Math.Max(_gradSlotFeatures[pick], _p.F[r]);
            _gradFirstWrite[r] = firstWrite[r];
        }
        return slot;
    }

    /// <summary>For each node, whether some backward rule reads its value (then the forward must keep it).</summary>
    private readonly bool[] _readInBackward;

    /// <summary>For each node, the elementwise node whose loop computes it inline (-1: it has its own loop or kernel).</summary>
    private readonly int[] _fusedInto;

    private bool IsElementwiseLoop(int i) => _p.Nodes[i].Rule == "Binary" || (_p.Nodes[i].Rule == "Unary" && _p.Nodes[i].Op == "Neg");

    /// <summary>
    /// Elementwise chains into one loop: a same-shape <c>+ - * /</c> or negation whose only reader is another such node
    /// (and whose value no backward rule and no hook reads) is not materialised; its consumer's loop computes it inline.
    /// </summary>
    private int[] PlanElementwiseFusion()
    {
        int count = Nodes.Count;
        var into = Enumerable.Repeat(-1, count).ToArray();
        var readers = new List<int>[count];
        for (int i = 0; i < count; i++) readers[i] = new List<int>();
        for (int j = 0; j < count; j++)
        {
            if (!Live(j)) continue;
            foreach (var k in Nodes[j].Inputs) readers[k].Add(j);
            if (IsBoundary(j)) foreach (var k in Nodes[j].IntArgs) if (k < count) readers[k].Add(-1);
        }
        for (int i = 0; i < count; i++)
        {
            if (!Live(i) || !IsElementwiseLoop(i) || i == _p.Output || _readInBackward[i] || _p.VRoot[i] != i) continue;
            if (readers[i].Count != 1 || readers[i][0] is var c && (c < 0 || !IsElementwiseLoop(c))) continue;
            if (_p.Batched[c] != _p.Batched[i] || _p.F[c] != _p.F[i]) continue;
            into[i] = c;
        }
        return into;
    }

    /// <summary>The node whose loop finally computes node <paramref name="i"/> (itself unless fused into a consumer).</summary>
    private int LoopOf(int i)
    {
        while (_fusedInto[i] >= 0) i = _fusedInto[i];
        return i;
    }

    /// <summary>The value of node <paramref name="k"/> at element j inside a loop: a constant, an inline fused expression, or its buffer.</summary>
    private string Expr(int k)
    {
        if (_p.Nodes[k].Rule == "Const") return ConstOf(k);
        if (_fusedInto[k] < 0) return $"{A(k)}[j]";
        var node = Nodes[k];
        if (_p.Nodes[k].Rule == "Unary") return $"(-{Expr(node.Inputs[0])})";
        string op = node.Op switch { "Add" => "+", "Sub" => "-", "Mul" => "*", _ => "/" };
        return $"({Expr(node.Inputs[0])} {op} {Expr(node.Inputs[1])})";
    }

    /// <summary>The nodes fused into node <paramref name="i"/>'s loop, in order.</summary>
    private IEnumerable<int> FusedChain(int i)
    {
        foreach (var k in Nodes[i].Inputs)
        {
            if (_fusedInto[k] != i) continue;
            foreach (var f in FusedChain(k)) yield return f;
            yield return k;
        }
    }

    /// <summary>For each value root, the root whose buffer it uses: itself, or an earlier value whose buffer is free by then.</summary>
    private readonly int[] _valueSlot;

    /// <summary>For each buffer (slot root), the largest per-item size of the values sharing it.</summary>
    private readonly Dictionary<int, int> _slotFeatures = new();

    /// <summary>
    /// Memory planning by liveness: values the backward reads (and the output) keep their own buffer; every other batched
    /// value lives from its node to its last forward consumer, and values whose lives do not overlap share one buffer
    /// (greedy, in node order), sized for the largest of them.
    /// </summary>
    private int[] PlanValueBuffers()
    {
        int count = Nodes.Count;
        var slot = Enumerable.Range(0, count).ToArray();
        var last = new int[count];
        var saved = new bool[count];
        for (int i = 0; i < count; i++) last[i] = i;
        for (int j = 0; j < count; j++)
        {
            if (!Live(j)) continue;
            foreach (var k in Nodes[j].Inputs) if (Live(k)) last[_p.VRoot[k]] = System.Math.Max(last[_p.VRoot[k]], LoopOf(j));
            if (IsBoundary(j)) foreach (var k in Nodes[j].IntArgs) if (k < count && Live(k)) last[_p.VRoot[k]] = System.Math.Max(last[_p.VRoot[k]], j);
        }
        for (int k = 0; k < count; k++) if (_readInBackward[k]) saved[_p.VRoot[k]] = true;
        saved[_p.VRoot[_p.Output]] = true;
        var free = new List<(int Slot, int End)>();
        var open = new List<(int Slot, int End)>();
        for (int r = 0; r < count; r++)
        {
            if (!OwnsValue(r) || _p.Nodes[r].Rule == "Input" || _fusedInto[r] >= 0) continue;
            _slotFeatures[r] = _p.F[r];
            if (saved[r] || !_p.Batched[r]) continue;
            // Buffers whose last reader ran before this node are free again.
            for (int o = open.Count - 1; o >= 0; o--)
            {
                if (open[o].End < r) { free.Add(open[o]); open.RemoveAt(o); }
            }
            int pick = free.Count > 0 ? free[0].Slot : r;
            if (free.Count > 0) free.RemoveAt(0);
            slot[r] = pick;
            if (pick != r) _slotFeatures[pick] = System.Math.Max(_slotFeatures[pick], _p.F[r]);
            open.Add((pick, last[r]));
        }
        return slot;
    }


    /// <summary>The nodes whose values the backward rule of node <paramref name="i"/> reads.</summary>
    private IEnumerable<int> ReadInBackward(int i)
    {
        var node = Nodes[i];
        var np = _p.Nodes[i];
        switch (np.Rule)
        {
            case "Linear" or "Conv" or "BatchNorm" or "LayerNorm":
                yield return node.Inputs[0];
                break;
            case "Relu" or "Softmax":
                yield return i;
                break;
            case "Unary" when np.Op == "Neg":
                break;
            case "Unary":
                yield return node.Inputs[0];
                yield return i;
                break;
            case "Binary" when node.Op == "Mul":
            {
                // d(l·r): dl needs r, dr needs l (a constant operand needs nothing).
                int l = node.Inputs[0], r = node.Inputs[1];
                bool cl = _p.Nodes[l].Rule == "Const", cr = _p.Nodes[r].Rule == "Const";
                if (!cl && !cr) { yield return l; yield return r; }
                break;
            }
            case "Binary" when node.Op == "Div":
                if (_p.Nodes[node.Inputs[1]].Rule != "Const")
                {
                    foreach (var k in node.Inputs) if (_p.Nodes[k].Rule != "Const") yield return k;
                }
                break;
            case "Broadcast" or "MatMul":
                foreach (var k in node.Inputs) if (_p.Nodes[k].Rule != "Const") yield return k;
                break;
            case "Loss" when np.Op is not ("CrossEntropy" or "Nll"):
                yield return node.Inputs[0];
                break;
        }
    }

    /// <summary>The parameter slots a method's nodes differentiate.</summary>
    public static IEnumerable<ParamSlot> Slots(MethodPlan plan)
        => plan.Nodes.SelectMany(n => new[] { n.Weight, n.Bias }).Where(s => s is not null).Select(s => s!).Distinct();

    private static string Prefix(MethodPlan p) => "_" + char.ToLowerInvariant(p.Name[0]) + p.Name.Substring(1) + "_";

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    private IReadOnlyList<GraphNode> Nodes => _p.Method.Nodes;

    private bool Live(int i) => _p.Nodes[i].Rule is not ("Const" or "Raw" or "Dead" or "");

    private bool OwnsValue(int i) => Live(i) && _p.VRoot[i] == i;

    private bool OwnsGrad(int i) => Live(i) && _p.GRoot[i] == i;

    private string A(int i) => _p.Nodes[i].Rule == "Const" ? "" : $"{_x}v{I(_valueSlot[_p.VRoot[i]])}";

    /// <summary>Node <paramref name="i"/> owns the buffer named after it (its own value, or values sharing it by liveness).</summary>
    private bool OwnsBuffer(int i) => OwnsValue(i) && (_p.Nodes[i].Rule == "Input" || (_valueSlot[i] == i && _fusedInto[i] < 0));

    private string SlotSize(int i) => _p.Batched[i] ? (_slotFeatures[i] == 1 ? "n" : "n * " + I(_slotFeatures[i])) : I(_slotFeatures[i]);

    private string G(int i) => $"{_x}g{I(_gradSlot[_p.GRoot[i]])}";

    private bool OwnsGradBuffer(int i) => OwnsGrad(i) && _gradSlot[i] == i;

    private string GradSlotSize(int i) => _p.Batched[i] ? (_gradSlotFeatures[i] == 1 ? "n" : "n * " + I(_gradSlotFeatures[i])) : I(_gradSlotFeatures[i]);

    private string Sz(int i) => _p.Batched[i] ? (_p.F[i] == 1 ? "n" : "n * " + I(_p.F[i])) : I(_p.F[i]);

    /// <summary>The shape of node <paramref name="i"/> as an int[] expression (allocates; hooks and messages only).</summary>
    private string ShapeExpr(int i)
        => "new int[] { " + string.Join(", ", _p.Shapes[i].Dims.Select((d, k) => k == 0 && _p.Batched[i] ? "n" : I(d.Size))) + " }";

    private string ConstOf(int i) => ((float)Nodes[i].Value).ToString("R", CultureInfo.InvariantCulture) + "f";

    /// <summary>The guard for writing the gradient of node <paramref name="i"/> when it is a method input's.</summary>
    private string? InputGuard(int i)
    {
        int root = _p.GRoot[i];
        int j = _p.FloatInputs.IndexOf(root);
        return j < 0 ? null : $"{_x}needIn{I(j)}";
    }

    private void Guarded(string? guard, string statement)
    {
        if (guard is null) _w.WriteLine(statement);
        else _w.WriteLine($"if ({guard}) {statement}");
    }

    // ---- fields -------------------------------------------------------------------------------------------------

    public static void Fields(IndentedWriter w, MethodPlan p)
    {
        var e = new MethodEmitter(null!, p, w);
        e.WriteFields();
    }

    private void WriteFields()
    {
        _w.WriteLine($"private int {_x}capacity = -1;");
        _w.WriteLine($"private int {_x}generation;");
        _w.WriteLine($"private int {_x}n;");
        _w.WriteLine($"private bool {_x}training;");
        for (int j = 0; j < _p.FloatInputs.Count; j++)
        {
            _w.WriteLine($"private bool {_x}needIn{I(j)};");
            _w.WriteLine($"private float[]? {_x}copy{I(j)};");
        }
        foreach (var r in _p.RawInputs) _w.WriteLine($"private {Tensor}? {_x}r{I(r)};");
        for (int i = 0; i < Nodes.Count; i++)
        {
            if (OwnsBuffer(i))
            {
                var sharing = Enumerable.Range(0, Nodes.Count).Where(r => r != i && OwnsValue(r) && _fusedInto[r] < 0 && _valueSlot[r] == i).ToList();
                _w.WriteLine($"private float[] {_x}v{I(i)} = [];{(sharing.Count > 0 ? " // also holds the values of nodes " + string.Join(", ", sharing.Select(I)) + " (shared by liveness)" : "")}");
            }
            if (OwnsGradBuffer(i))
            {
                var sharing = Enumerable.Range(0, Nodes.Count).Where(r => r != i && OwnsGrad(r) && _gradSlot[r] == i).ToList();
                _w.WriteLine($"private float[] {_x}g{I(i)} = [];{(sharing.Count > 0 ? " // also the gradients of nodes " + string.Join(", ", sharing.Select(I)) + " (shared by liveness)" : "")}");
            }
            foreach (var (name, type, _) in Scratch(i)) _w.WriteLine($"private {type} {_x}{name}{I(i)}{(type.EndsWith("[]") ? " = []" : "")};");
        }
    }

    /// <summary>Per-node scratch: name, type, size expression (null: not an array).</summary>
    private IEnumerable<(string Name, string Type, string? Size)> Scratch(int i)
    {
        var np = _p.Nodes[i];
        var g = np.Ints;
        switch (np.Rule)
        {
            case "Conv":
                yield return ("t", "float[]", Sz(Nodes[i].Inputs[0]));
                yield return ("tw", "float[]", I(g[3] * (g[0] / g[12]) * g[4] * g[5]));
                if (np.Bias is not null) yield return ("tb", "float[]", I(g[3]));
                break;
            case "MaxPool":
                yield return ("t", "float[]", Sz(Nodes[i].Inputs[0]));
                yield return ("ix", "long[]", Sz(i));
                break;
            case "BatchNorm":
                yield return ("sm", "float[]", I(g[0]));
                yield return ("si", "float[]", I(g[0]));
                yield return ("tr", "bool", null);
                break;
            case "LayerNorm":
                yield return ("sm", "float[]", $"{Sz(i)} / {I(g[0])}");
                yield return ("si", "float[]", $"{Sz(i)} / {I(g[0])}");
                break;
            case "Dropout":
                yield return ("mask", "float[]", Sz(i));
                yield return ("tr", "bool", null);
                break;
            case "Select":
                yield return ("tr", "bool", null);
                break;
            case "Extreme":
                yield return ("ix", "int[]", Sz(i));
                break;
            case "Loss" when np.Op == "CrossEntropy":
                yield return ("pr", "float[]", Sz(Nodes[i].Inputs[0]));
                break;
            case "Broadcast":
                yield return ("sa", "int[]", null);
                yield return ("sb", "int[]", null);
                yield return ("sy", "int[]", null);
                break;
            case "Permute":
                yield return ("sx", "int[]", null);
                break;
        }
    }

    // ---- the public entries -------------------------------------------------------------------------------------

    public void Emit()
    {
        var m = _p.Method;
        string cls = _program.Spec.ClassName;
        var inputs = m.Inputs;
        int outNode = _p.Output;

        // Parameters of the method in order; float inputs get their [Shape].
        var parms = new List<string>();
        for (int j = 0; j < inputs.Count; j++)
        {
            int node = InputNode(j);
            string attr = node >= 0 && _p.FloatInputs.Contains(node) ? $"[global::SharpGrad.Shape({Args(_p.Shapes[node])})] " : "";
            parms.Add($"{attr}{Tensor} {inputs[j].Name}");
        }
        string paramList = string.Join(", ", parms);
        string argList = string.Join(", ", inputs.Select(x => x.Name));

        _w.WriteLine($"/// <summary>Runs the compiled <see cref=\"{cls}.{m.Name}\"/>: same result and gradients as the eager method, as one node on the tape.</summary>");
        if (!_p.ScalarOutput || _p.Shapes[outNode].Rank > 0) _w.WriteLine($"[return: global::SharpGrad.Shape({Args(_p.Shapes[outNode])})]");
        using (_w.Block($"public {Tensor} {m.Name}({paramList})"))
        {
            _w.WriteLine($"int n = {_x}Prepare({argList});");
            _w.WriteLine($"{_x}Run(n);");
            _w.WriteLine($"var y = new float[{Sz(outNode)}];");
            _w.WriteLine($"global::System.Array.Copy({A(outNode)}, y, y.Length);");
            var dims = _p.Shapes[outNode].Dims.Select((d, k) => k == 0 && _p.Batched[outNode] ? "n" : I(d.Size)).ToList();
            _w.WriteLine($"var result = {Support}.Wrap(y{(dims.Count > 0 ? ", " + string.Join(", ", dims) : ", global::System.Array.Empty<int>()")});");
            var tapeInputs = _p.FloatInputs.Select(i => inputs[Nodes[i].IntArgs[0]].Name).Concat(_slots.Select(s => s.Expr)).ToList();
            _w.WriteLine($"var inputs = new {Tensor}?[] {{ {string.Join(", ", tapeInputs)} }};");
            _w.WriteLine($"if (!{Support}.ShouldRecord(inputs)) return result;");
            _w.WriteLine($"int generation = {_x}generation;");
            var saved = tapeInputs.Concat(_p.RawInputs.Select(r => inputs[Nodes[r].IntArgs[0]].Name));
            _w.WriteLine($"return {Support}.RecordCompiled(result, \"{cls}{m.Name}CompiledBackward\", inputs, (g, node) => {_x}TapeBackward(g, node, generation, n), {string.Join(", ", saved)});");
        }

        if (_p.ScalarOutput)
        {
            _w.WriteLine();
            _w.WriteLine($"/// <summary>");
            _w.WriteLine($"/// Runs the compiled <see cref=\"{cls}.{m.Name}\"/> and its backward in one program (PyTorch: <c>loss = model.{m.Name.ToLowerInvariant()}(…);");
            _w.WriteLine($"/// loss.backward(); loss.item()</c>): accumulates the gradients of the parameters that require grad into their");
            _w.WriteLine($"/// <c>Grad</c> (a parameter whose Grad is null gets a gradient tensor this program reuses on later calls) and returns");
            _w.WriteLine($"/// the value. Allocates nothing once the buffers are sized.");
            _w.WriteLine($"/// </summary>");
            using (_w.Block($"public float {m.Name}Backward({paramList})"))
            {
                _w.WriteLine($"int n = {_x}Prepare({argList});");
                _w.WriteLine($"{_x}Run(n);");
                _w.WriteLine($"float value = {A(outNode)}[0];");
                for (int j = 0; j < _p.FloatInputs.Count; j++) _w.WriteLine($"{_x}needIn{I(j)} = false;");
                foreach (var s in _slots) _w.WriteLine($"_needP[{I(s.Index)}] = {s.Expr}.RequiresGrad;");
                _w.WriteLine($"{_x}ClearGrads(n);");
                _w.WriteLine($"{G(outNode)}[0] = 1f;");
                _w.WriteLine($"{_x}Backward(n);");
                foreach (var s in _slots) _w.WriteLine($"if (_needP[{I(s.Index)}]) {Support}.AccumulateGrad({s.Expr}, _gp{I(s.Index)}, ref _gt{I(s.Index)});");
                _w.WriteLine("return value;");
            }
        }

        _w.WriteLine();
        EmitPrepare();
        _w.WriteLine();
        EmitTapeBackward();
        _w.WriteLine();
        EmitClearGrads();
        _w.WriteLine();
        _w.WriteLine($"/// <summary>The forward program of {m.Name}, node by node.</summary>");
        using (_w.Block($"private void {_x}Run(int n)"))
        {
            if (UsesTraining) _w.WriteLine($"bool training = {_x}training;");
            for (int i = 0; i < Nodes.Count; i++) WithMode(i, () => EmitForward(i));
        }
        _w.WriteLine();
        _w.WriteLine($"/// <summary>The backward program of {m.Name}, generated from the IR: one vector-Jacobian rule per node, in reverse order.</summary>");
        using (_w.Block($"private void {_x}Backward(int n)"))
        {
            if (UsesTraining) _w.WriteLine($"bool training = {_x}training;");
            var boundaries = Enumerable.Range(0, Nodes.Count).Where(IsBoundary).ToList();
            foreach (var b in boundaries) _w.WriteLine($"float[]? hbB{I(b)} = null; // the input gradient of {_p.Nodes[b].Module!.Path} before its backward, when it has backward hooks");
            for (int i = Nodes.Count - 1; i >= 0; i--)
            {
                foreach (var r in _gradFirstWrite.Where(e => e.Value == i).Select(e => e.Key).OrderBy(r => r))
                    _w.WriteLine($"global::System.Array.Clear({G(r)}, 0, {Sz(r)}); // the gradient of node {I(r)} starts here (its buffer is shared by liveness)");
                WithMode(i, () => EmitBackward(i));
                foreach (var b in boundaries.Where(b => BoundaryStart(b) == i))
                {
                    int arg = HookInput(b);
                    string gIn = InputGuard(arg) is { } ig ? $"({ig} ? {G(arg)} : null)" : G(arg);
                    _w.WriteLine($"if (hbB{I(b)} is not null) {Support}.BackwardHooks({_p.Nodes[b].Module!.Field}, {gIn}, hbB{I(b)}, {ShapeExpr(arg)}, {G(b)}, {ShapeExpr(b)}); // {_p.Nodes[b].Module!.Path}'s backward is complete");
                }
            }
        }
    }

    /// <summary>The boundary node after an inlined [Module] or Sequential child (identity carrying the call's arguments).</summary>
    private bool IsBoundary(int i) => Live(i) && _p.Nodes[i].Rule == "Alias" && _p.Nodes[i].Module is not null && Nodes[i].IntArgs.Count > 0;

    /// <summary>The value a hook sees as the child's input: the call's first argument for a boundary, else the node's input.</summary>
    private int HookInput(int i) => Nodes[i].Kind == NodeKind.Elementwise && Nodes[i].IntArgs.Count > 0 ? Nodes[i].IntArgs[0] : Nodes[i].Inputs[0];

    /// <summary>The first node of an inlined child: the nodes after its last argument, up to the boundary.</summary>
    private int BoundaryStart(int b) => System.Math.Min(b, Nodes[b].IntArgs.Max() + 1);

    private bool UsesTraining => Enumerable.Range(0, Nodes.Count).Any(i => Live(i) && (_p.Mode[i] != 3 || _p.Nodes[i].Rule == "Select"));

    private int InputNode(int parameter)
    {
        for (int i = 0; i < Nodes.Count; i++)
            if (Nodes[i].Kind == NodeKind.Input && Nodes[i].Op == "Input" && Nodes[i].IntArgs[0] == parameter) return i;
        return -1;
    }

    private static string Args(TensorShape shape)
        => string.Join(", ", shape.Dims.Select(d => d.IsFixed ? d.Size.ToString(CultureInfo.InvariantCulture) : "\"" + d.Symbol + "\""));

    private void WithMode(int i, System.Action body)
    {
        if (!Live(i)) return;
        int mode = _p.Mode[i];
        if (mode == 3) { body(); return; }
        using (_w.Block(mode == 1 ? "if (training)" : "if (!training)")) body();
    }

    private void EmitPrepare()
    {
        var m = _p.Method;
        string cls = _program.Spec.ClassName;
        string paramList = string.Join(", ", m.Inputs.Select(x => $"{Tensor} {x.Name}"));
        _w.WriteLine("/// <summary>Checks the inputs against the shapes inferred at build time, sizes the buffers (grown only with the batch) and binds the inputs.</summary>");
        using (_w.Block($"private int {_x}Prepare({paramList})"))
        {
            foreach (var x in m.Inputs) _w.WriteLine($"global::System.ArgumentNullException.ThrowIfNull({x.Name});");
            string? first = null;
            for (int j = 0; j < _p.FloatInputs.Count; j++)
            {
                int node = _p.FloatInputs[j];
                string x = m.Inputs[Nodes[node].IntArgs[0]].Name;
                var shape = _p.Shapes[node];
                bool batched = _p.Batched[node];
                var checks = new List<string> { $"{x}.Rank != {I(shape.Rank)}" };
                for (int d = batched ? 1 : 0; d < shape.Rank; d++) checks.Add($"{x}.Size({I(d)}) != {I(shape[d].Size)}");
                if (first is not null && batched) checks.Add($"{x}.Size(0) != {first}.Size(0)");
                _w.WriteLine($"if ({string.Join(" || ", checks)})");
                _w.WriteLine($"    throw new global::System.ArgumentException(\"{cls}.Compiled.{m.Name}: expected {x} of shape {shape}{(first is null ? "" : " (the same batch size as " + first + ")")}, but got \" + {Support}.FormatShape({x}.Shape) + \". The shapes were inferred at build time from the model's layers; pass a tensor of that shape or run the eager {cls}.{m.Name}.\", nameof({x}));");
                _w.WriteLine($"if ({x}.DType != global::SharpGrad.DType.Float32)");
                _w.WriteLine($"    throw new global::System.ArgumentException(\"{cls}.Compiled.{m.Name}: the compiled program is float32 only, but {x} is \" + {x}.DType + \"; convert it with .To(DType.Float32) or run the eager {cls}.{m.Name}.\", nameof({x}));");
                if (batched) first ??= x;
            }
            if (first is null)
            {
                int raw = _p.RawInputs.First(r => m.Inputs[Nodes[r].IntArgs[0]].Shape is { Rank: >= 1 } s && s[0].Symbol == _p.Batch);
                first = m.Inputs[Nodes[raw].IntArgs[0]].Name;
                _w.WriteLine($"if ({first}.Rank < 1) throw new global::System.ArgumentException(\"{cls}.Compiled.{m.Name}: expected {first} with a batch dimension first, but got \" + {Support}.FormatShape({first}.Shape) + \".\", nameof({first}));");
            }
            _w.WriteLine($"int n = {first}.Size(0);");
            using (_w.Block($"if (n > {_x}capacity)"))
            {
                _w.WriteLine("// Buffers sized on the first call, grown only when the batch grows.");
                for (int i = 0; i < Nodes.Count; i++)
                {
                    if (!Live(i)) continue;
                    if (OwnsBuffer(i) && _p.Nodes[i].Rule != "Input") _w.WriteLine($"{_x}v{I(i)} = new float[{SlotSize(i)}];");
                    if (OwnsGradBuffer(i)) _w.WriteLine($"{_x}g{I(i)} = new float[{GradSlotSize(i)}];");
                    foreach (var (name, type, size) in Scratch(i))
                    {
                        if (size is null) continue;
                        _w.WriteLine($"{_x}{name}{I(i)} = new {type.Substring(0, type.Length - 2)}[{size}];");
                    }
                    if (_p.Nodes[i].Rule == "Broadcast")
                    {
                        var node = Nodes[i];
                        _w.WriteLine($"{_x}sa{I(i)} = {ShapeExpr(node.Inputs[0])}; {_x}sb{I(i)} = {ShapeExpr(node.Inputs[1])}; {_x}sy{I(i)} = {ShapeExpr(i)};");
                    }
                    if (_p.Nodes[i].Rule == "Permute") _w.WriteLine($"{_x}sx{I(i)} = {ShapeExpr(Nodes[i].Inputs[0])};");
                }
                _w.WriteLine($"{_x}capacity = n;");
            }
            // Shapes with the batch dim are updated on every call (no allocation).
            for (int i = 0; i < Nodes.Count; i++)
            {
                if (!Live(i)) continue;
                var node = Nodes[i];
                if (_p.Nodes[i].Rule == "Broadcast")
                {
                    if (_p.Batched[node.Inputs[0]]) _w.WriteLine($"{_x}sa{I(i)}[0] = n;");
                    if (_p.Batched[node.Inputs[1]]) _w.WriteLine($"{_x}sb{I(i)}[0] = n;");
                    if (_p.Batched[i]) _w.WriteLine($"{_x}sy{I(i)}[0] = n;");
                }
                if (_p.Nodes[i].Rule == "Permute" && _p.Batched[node.Inputs[0]]) _w.WriteLine($"{_x}sx{I(i)}[0] = n;");
            }
            for (int j = 0; j < _p.FloatInputs.Count; j++)
            {
                int node = _p.FloatInputs[j];
                string x = m.Inputs[Nodes[node].IntArgs[0]].Name;
                _w.WriteLine($"{_x}v{I(node)} = {Support}.Dense({x}, ref {_x}copy{I(j)});");
            }
            foreach (var r in _p.RawInputs) _w.WriteLine($"{_x}r{I(r)} = {m.Inputs[Nodes[r].IntArgs[0]].Name};");
            _w.WriteLine($"{_x}n = n;");
            _w.WriteLine($"{_x}training = _m.Training;");
            _w.WriteLine($"{_x}generation++;");
            _w.WriteLine("return n;");
        }
    }

    private void EmitTapeBackward()
    {
        string cls = _program.Spec.ClassName;
        _w.WriteLine("/// <summary>The tape's backward for this method's node: runs the generated backward and returns one gradient per tape input.</summary>");
        using (_w.Block($"private {Tensor}?[] {_x}TapeBackward({Tensor} g, global::SharpGrad.Node node, int generation, int n)"))
        {
            _w.WriteLine($"if (generation != {_x}generation)");
            _w.WriteLine($"    throw new global::System.InvalidOperationException(\"{cls}.Compiled.{_p.Name}: backward through an output of an earlier call, whose buffers a later call has reused; call Backward before calling {_p.Name} again, or use the eager model.\");");
            int count = _p.FloatInputs.Count + _slots.Count;
            _w.WriteLine($"var grads = new {Tensor}?[{I(count)}];");
            for (int j = 0; j < _p.FloatInputs.Count; j++) _w.WriteLine($"{_x}needIn{I(j)} = node.NeedsInputGrad({I(j)});");
            for (int k = 0; k < _slots.Count; k++) _w.WriteLine($"_needP[{I(_slots[k].Index)}] = node.NeedsInputGrad({I(_p.FloatInputs.Count + k)});");
            _w.WriteLine($"{_x}ClearGrads(n);");
            _w.WriteLine($"{Support}.CopyInto(g, {G(_p.Output)}, {Sz(_p.Output)});");
            _w.WriteLine($"{_x}Backward(n);");
            for (int j = 0; j < _p.FloatInputs.Count; j++)
            {
                int node = _p.FloatInputs[j];
                string dims = string.Join(", ", _p.Shapes[node].Dims.Select((d, k) => k == 0 && _p.Batched[node] ? "n" : I(d.Size)));
                if (dims.Length == 0) dims = "global::System.Array.Empty<int>()";
                _w.WriteLine($"if ({_x}needIn{I(j)}) grads[{I(j)}] = {Support}.WrapCopy({G(node)}, {dims});");
            }
            for (int k = 0; k < _slots.Count; k++)
            {
                var s = _slots[k];
                _w.WriteLine($"if (_needP[{I(s.Index)}]) grads[{I(_p.FloatInputs.Count + k)}] = {Support}.WrapCopy(_gp{I(s.Index)}, {s.Expr}.Shape);");
            }
            _w.WriteLine("return grads;");
        }
    }

    private void EmitClearGrads()
    {
        using (_w.Block($"private void {_x}ClearGrads(int n)"))
        {
            for (int i = 0; i < Nodes.Count; i++) if (OwnsGrad(i) && !_gradFirstWrite.ContainsKey(i)) _w.WriteLine($"global::System.Array.Clear({_x}g{I(i)}, 0, {Sz(i)});");
            foreach (var s in _slots) _w.WriteLine($"if (_needP[{I(s.Index)}]) global::System.Array.Clear(_gp{I(s.Index)});");
        }
    }

    // ---- forward rules ------------------------------------------------------------------------------------------

    private string Operand(int i) => _p.Nodes[i].Rule == "Const" ? ConstOf(i) : $"{A(i)}[j]";

    private void Loop(int i, string body) => _w.WriteLine($"for (int j = 0, len = {Sz(i)}; j < len; j++) {body}");

    private string Dense(ParamSlot s) => $"{Support}.Dense({s.Expr})";

    private void EmitForward(int i)
    {
        var node = Nodes[i];
        var np = _p.Nodes[i];
        string y = A(i);
        int a = node.Inputs.Count > 0 ? node.Inputs[0] : -1;
        switch (np.Rule)
        {
            case "Input":
                return;
            case "Alias":
                if (np.Module is not null) ForwardHooks(i, HookInput(i));
                else _w.WriteLine($"// {node.Text}: a view, no copy");
                return;
            case "Linear":
            {
                int inF = np.Ints[0], outF = np.Ints[1], rowsPer = np.Ints[2];
                string rows = rowsPer == 1 ? "n" : $"n * {I(rowsPer)}";
                var mod = np.Module!;
                string gemm = $"{Gemm}.Sgemm(false, true, {rows}, {I(outF)}, {I(inF)}, 1f, {A(a)}, 0, {I(inF)}, {Dense(np.Weight!)}, 0, {I(inF)}, 0f, {y}, 0, {I(outF)}";
                string bias = np.Bias is null ? "null" : Dense(np.Bias);
                if (np.FusedRelu >= 0)
                {
                    var relu = _p.Nodes[np.FusedRelu];
                    string hooked = $"{Support}.HasForwardHooks({mod.Field})" + (relu.Module is null ? "" : $" || {Support}.HasForwardHooks({relu.Module.Field})");
                    _w.WriteLine($"// {node.Text}: GEMM {y} = {A(a)} · {mod.Path}.weightᵀ");
                    _w.WriteLine($"// fused: {mod.Path} bias + {Nodes[np.FusedRelu].Text} in the GEMM epilogue, per output tile (nodes {I(i)}, {I(np.FusedRelu)}), unless a hook must see the Linear's output");
                    _w.WriteLine($"bool fuse{I(i)} = !({hooked});");
                    _w.WriteLine($"{gemm}, new global::SharpGrad.Kernels.GemmEpilogue({bias}, activation: fuse{I(i)} ? global::SharpGrad.Kernels.GemmActivation.Relu : global::SharpGrad.Kernels.GemmActivation.None));");
                }
                else if (np.ResidualAdd >= 0)
                {
                    int add = np.ResidualAdd;
                    int r = _p.Nodes[add].ResidualOperand;
                    _w.WriteLine($"// {node.Text}: GEMM {y} = {A(a)} · {mod.Path}.weightᵀ");
                    _w.WriteLine($"// fused: {mod.Path} bias + the residual add {Nodes[add].Text} in the GEMM epilogue (nodes {I(i)}, {I(add)}), unless a hook must see the Linear's output");
                    _w.WriteLine($"bool fuse{I(i)} = !{Support}.HasForwardHooks({mod.Field});");
                    _w.WriteLine($"if (fuse{I(i)}) {gemm}, new global::SharpGrad.Kernels.GemmEpilogue({bias}, residual: {A(r)}, residualOffset: 0, residualLd: {I(outF)}));");
                    _w.WriteLine(np.Bias is null ? $"else {gemm});" : $"else {gemm}, new global::SharpGrad.Kernels.GemmEpilogue({bias}));");
                }
                else if (np.Bias is not null)
                {
                    _w.WriteLine($"// {node.Text}: GEMM {y} = {A(a)} · {mod.Path}.weightᵀ");
                    _w.WriteLine($"// fused: {mod.Path} bias in the GEMM epilogue");
                    _w.WriteLine($"{gemm}, new global::SharpGrad.Kernels.GemmEpilogue({bias}));");
                }
                else
                {
                    _w.WriteLine($"// {node.Text}: GEMM {y} = {A(a)} · {mod.Path}.weightᵀ");
                    _w.WriteLine($"{gemm});");
                }
                ForwardHooks(i, a);
                return;
            }
            case "Relu":
                if (np.FusedIntoLinear)
                {
                    int lin = a;
                    _w.WriteLine($"// {node.Text}: computed in {_p.Nodes[lin].Module!.Path}'s epilogue (fused) unless a hook asked for its output");
                    using (_w.Block($"if (!fuse{I(lin)})"))
                    {
                        if (np.Module is not null) _w.WriteLine($"var pre{I(i)} = {Support}.HasForwardHooks({np.Module.Field}) ? {Support}.Snapshot({y}, {Sz(i)}) : null;");
                        Loop(i, $"{{ float v = {y}[j]; {y}[j] = v > 0f ? v : 0f; }}");
                        if (np.Module is not null) _w.WriteLine($"if (pre{I(i)} is not null) {Support}.ForwardHooks({np.Module.Field}, pre{I(i)}, {ShapeExpr(a)}, {y}, {ShapeExpr(i)});");
                    }
                    return;
                }
                _w.WriteLine($"// {node.Text}");
                Loop(i, $"{{ float v = {A(a)}[j]; {y}[j] = v > 0f ? v : 0f; }}");
                ForwardHooks(i, a);
                return;
            case "Unary" or "Binary" when _fusedInto[i] >= 0:
                return; // computed inline by a later node's loop
            case "Unary" when np.Op == "Neg":
                EmitElementwiseLoop(i);
                return;
            case "Unary":
                _w.WriteLine($"// {node.Text}");
                _w.WriteLine($"{Support}.UnaryForward(global::SharpGrad.CompiledUnary.{np.Op}, {A(a)}, {y}, {Sz(i)}, {np.Alpha}, {np.Beta});");
                ForwardHooks(i, a);
                return;
            case "Dropout":
                _w.WriteLine($"// {node.Text}: the mask is drawn from the same generator as eager Dropout");
                _w.WriteLine($"{_x}tr{I(i)} = {np.Training};");
                using (_w.Block($"if ({_x}tr{I(i)})"))
                {
                    _w.WriteLine($"{Support}.DropoutMask({_x}mask{I(i)}, {Sz(i)}, {np.Alpha}, {np.Beta});");
                    Loop(i, $"{y}[j] = {A(a)}[j] * {_x}mask{I(i)}[j];");
                }
                _w.WriteLine($"else global::System.Array.Copy({A(a)}, {y}, {Sz(i)});");
                ForwardHooks(i, a);
                return;
            case "Softmax":
                _w.WriteLine($"// {node.Text}");
                _w.WriteLine($"{Support}.SoftmaxForward({A(a)}, {y}, {Outer(i, np.Ints[0])}, {I(np.Ints[1])}, {I(np.Ints[2])}, {(np.Op == "LogSoftmax" ? "true" : "false")});");
                ForwardHooks(i, a);
                return;
            case "Binary":
                EmitElementwiseLoop(i);
                return;
            case "ResidualAdd":
            {
                int lin = node.Inputs[0] == np.ResidualOperand ? node.Inputs[1] : node.Inputs[0];
                _w.WriteLine($"// {node.Text}: added in {_p.Nodes[lin].Module!.Path}'s GEMM epilogue (fused), or here when a hook saw the Linear's output");
                _w.WriteLine($"if (!fuse{I(lin)}) for (int j = 0, len = {Sz(i)}; j < len; j++) {y}[j] += {A(np.ResidualOperand)}[j];");
                return;
            }
            case "Broadcast":
                _w.WriteLine($"// {node.Text}: broadcasting {_p.Shapes[node.Inputs[0]]} with {_p.Shapes[node.Inputs[1]]}");
                _w.WriteLine($"{Support}.BinaryForward(global::SharpGrad.CompiledBinary.{node.Op}, {A(node.Inputs[0])}, {_x}sa{I(i)}, {A(node.Inputs[1])}, {_x}sb{I(i)}, {y}, {_x}sy{I(i)});");
                return;
            case "Select":
                _w.WriteLine($"// {node.Text}: `if (Training)` picks its branch at run time");
                _w.WriteLine($"{_x}tr{I(i)} = training;");
                _w.WriteLine($"global::System.Array.Copy(training ? {A(node.Inputs[0])} : {A(node.Inputs[1])}, {y}, {Sz(i)});");
                return;
            case "Permute":
                _w.WriteLine($"// {node.Text}: materialised permutation");
                _w.WriteLine($"{Support}.PermuteForward({A(a)}, {_x}sx{I(i)}, new int[] {{ {string.Join(", ", np.Ints.Select(I))} }}, {y});");
                return;
            case "Extreme":
                _w.WriteLine($"// {node.Text}: the positions of the extremes are kept for the backward");
                _w.WriteLine($"{Support}.ExtremeDimForward({A(a)}, {y}, {_x}ix{I(i)}, {Outer(i, np.Ints[0])}, {I(np.Ints[1])}, {I(np.Ints[2])}, {(np.Op == "MaxDim" ? "true" : "false")});");
                return;
            case "Reduce":
            {
                var g = np.Ints;
                string outer = g[0] == 1 ? I(g[1]) : Outer(a, g[1]);
                string size = g[0] == 1 ? $"n * {I(g[2])}" : I(g[2]);
                string scale = node.Op == "Mean" ? $"1f / ({size})" : "1f";
                _w.WriteLine($"// {node.Text}");
                _w.WriteLine($"{Support}.ReduceSumForward({A(a)}, {y}, {outer}, {size}, {I(g[3])}, {scale});");
                return;
            }
            case "MatMul":
            {
                var g = np.Ints; // m, k, q
                _w.WriteLine($"// {node.Text}: one GEMM per batch item");
                _w.WriteLine($"for (int b = 0; b < n; b++) {Gemm}.Sgemm(false, false, {I(g[0])}, {I(g[2])}, {I(g[1])}, 1f, {A(a)}, b * {I(g[0] * g[1])}, {I(g[1])}, {A(node.Inputs[1])}, b * {I(g[1] * g[2])}, {I(g[2])}, 0f, {y}, b * {I(g[0] * g[2])}, {I(g[2])});");
                return;
            }
            case "Conv":
            {
                var g = np.Ints;
                string call = $"{Support}.Conv2dForward({A(a)}, {np.Weight!.Expr}, {(np.Bias is null ? "null" : np.Bias.Expr)}, {y}, n, {string.Join(", ", g.Select(I))}";
                _w.WriteLine($"// {node.Text}: im2col + GEMM per image, bias added by the kernel");
                if (np.FusedRelu >= 0)
                {
                    var relu = _p.Nodes[np.FusedRelu];
                    string hooked = $"{Support}.HasForwardHooks({np.Module!.Field})" + (relu.Module is null ? "" : $" || {Support}.HasForwardHooks({relu.Module.Field})");
                    _w.WriteLine($"// fused: {np.Module.Path} bias + {Nodes[np.FusedRelu].Text} in the convolution's epilogue (nodes {I(i)}, {I(np.FusedRelu)}), unless a hook must see the convolution's output");
                    _w.WriteLine($"bool fuse{I(i)} = !({hooked});");
                    _w.WriteLine($"{call}, fuse{I(i)});");
                }
                else
                {
                    _w.WriteLine($"{call});");
                }
                ForwardHooks(i, a);
                return;
            }
            case "MaxPool":
            {
                var g = np.Ints; // C H W HO WO KH KW SH SW PH PW DH DW
                _w.WriteLine($"// {node.Text}");
                _w.WriteLine($"{Support}.MaxPool2dForward({A(a)}, {y}, {_x}ix{I(i)}, n * {I(g[0])}, {I(g[1])}, {I(g[2])}, {I(g[3])}, {I(g[4])}, {string.Join(", ", g.Skip(5).Select(I))});");
                ForwardHooks(i, a);
                return;
            }
            case "AvgPool":
            {
                var g = np.Ints; // C H W HO WO KH KW SH SW PH PW ceil countIncludePad
                _w.WriteLine($"// {node.Text}");
                _w.WriteLine($"{Support}.AvgPool2dForward({A(a)}, {y}, n * {I(g[0])}, {string.Join(", ", g.Skip(1).Take(10).Select(I))}, {(g[11] != 0 ? "true" : "false")}, {(g[12] != 0 ? "true" : "false")});");
                ForwardHooks(i, a);
                return;
            }
            case "AdaptivePool":
            {
                var g = np.Ints;
                _w.WriteLine($"// {node.Text}");
                _w.WriteLine($"{Support}.AdaptiveAvgPool2dForward({A(a)}, {y}, n * {I(g[0])}, {string.Join(", ", g.Skip(1).Select(I))});");
                ForwardHooks(i, a);
                return;
            }
            case "BatchNorm":
                _w.WriteLine($"// {node.Text}: batch statistics in training (running statistics updated as eager), running statistics in evaluation");
                _w.WriteLine($"{_x}tr{I(i)} = {np.Module!.Field}.Training;");
                _w.WriteLine($"{Support}.BatchNormForward({np.Module.Field}, {A(a)}, {y}, n, {I(np.Ints[0])}, {I(np.Ints[1])}, {_x}sm{I(i)}, {_x}si{I(i)});");
                ForwardHooks(i, a);
                return;
            case "LayerNorm":
                _w.WriteLine($"// {node.Text}");
                _w.WriteLine($"{Support}.LayerNormForward({np.Module!.Field}, {A(a)}, {y}, {Sz(i)} / {I(np.Ints[0])}, {I(np.Ints[0])}, {_x}sm{I(i)}, {_x}si{I(i)});");
                ForwardHooks(i, a);
                return;
            case "Embedding":
                _w.WriteLine($"// {node.Text}");
                _w.WriteLine($"{Support}.EmbeddingForward({np.Module!.Field}, {_x}r{I(a)}!, {y}, {Sz(i)} / {I(np.Ints[0])}, {I(np.Ints[0])});");
                return;
            case "Loss":
            {
                int t = node.Inputs[1];
                string target = $"{_x}r{I(t)}!";
                switch (np.Op)
                {
                    case "CrossEntropy":
                        _w.WriteLine($"// fused: {node.Text} — log-softmax and the loss in one pass; the softmax is kept for the backward");
                        _w.WriteLine($"{y}[0] = {Support}.CrossEntropyForward({A(a)}, {target}, {_x}pr{I(i)}, n, {I(np.Ints[0])}, {np.Alpha}, {np.Beta});");
                        break;
                    case "Nll":
                        _w.WriteLine($"// {node.Text}");
                        _w.WriteLine($"{y}[0] = {Support}.NllForward({A(a)}, {target}, n, {I(np.Ints[0])}, {np.Alpha}, {np.Beta});");
                        break;
                    default:
                        string f = np.Op == "BinaryCrossEntropyWithLogits" ? "BceWithLogits" : np.Op;
                        _w.WriteLine($"// {node.Text}");
                        _w.WriteLine($"{y}[0] = {Support}.{f}Forward({A(a)}, {target}, {Sz(a)}, {np.Alpha});");
                        break;
                }
                return;
            }
        }
    }

    /// <summary>One loop for an elementwise node and every node fused into it.</summary>
    private void EmitElementwiseLoop(int i)
    {
        var chain = FusedChain(i).ToList();
        if (chain.Count > 0)
            _w.WriteLine($"// fused: {string.Join(", ", chain.Select(k => Nodes[k].Text))} and {Nodes[i].Text} in one loop (nodes {string.Join(", ", chain.Select(I))}, {I(i)})");
        else
            _w.WriteLine($"// {Nodes[i].Text}");
        string body = _p.Nodes[i].Rule == "Unary" ? $"-{Expr(Nodes[i].Inputs[0])}"
            : $"{Expr(Nodes[i].Inputs[0])} {Nodes[i].Op switch { "Add" => "+", "Sub" => "-", "Mul" => "*", _ => "/" }} {Expr(Nodes[i].Inputs[1])}";
        Loop(i, $"{A(i)}[j] = {body};");
    }

    private string Outer(int i, int perItem) => _p.Batched[i] ? (perItem == 1 ? "n" : $"n * {I(perItem)}") : I(perItem);

    private void ForwardHooks(int i, int input)
    {
        if (_p.Nodes[i].Module is not { } mod) return;
        _w.WriteLine($"if ({Support}.HasForwardHooks({mod.Field})) {Support}.ForwardHooks({mod.Field}, {A(input)}, {ShapeExpr(input)}, {A(i)}, {ShapeExpr(i)});");
    }

    // ---- backward rules -----------------------------------------------------------------------------------------

    private string NeedP(ParamSlot s) => $"_needP[{I(s.Index)}]";

    private void EmitBackward(int i)
    {
        var node = Nodes[i];
        var np = _p.Nodes[i];
        if (IsBoundary(i))
        {
            int arg = HookInput(i);
            _w.WriteLine($"if ({Support}.HasBackwardHooks({np.Module!.Field})) hbB{I(i)} = {Support}.Snapshot({G(arg)}, {Sz(arg)});");
            return;
        }
        if (np.Rule == "Alias" && np.Module is not null)
        {
            _w.WriteLine($"if ({Support}.HasBackwardHooks({np.Module.Field})) {Support}.BackwardHooks({np.Module.Field}, {G(i)}, null, {ShapeExpr(i)}, {G(i)}, {ShapeExpr(i)});");
            return;
        }
        if (np.Rule is "Input" or "Alias") return;
        int a = node.Inputs.Count > 0 ? node.Inputs[0] : -1;
        string gy = G(i);
        bool hooks = np.Module is not null && a >= 0 && np.Rule != "Embedding" && !np.FusedIntoLinear;
        if (hooks) _w.WriteLine($"var hb{I(i)} = {Support}.HasBackwardHooks({np.Module!.Field}) ? {Support}.Snapshot({G(a)}, {Sz(a)}) : null;");
        switch (np.Rule)
        {
            case "Linear":
            {
                int inF = np.Ints[0], outF = np.Ints[1], rowsPer = np.Ints[2];
                string rows = rowsPer == 1 ? "n" : $"n * {I(rowsPer)}";
                _w.WriteLine($"// d {node.Text}: dInput += dY · W, dW += dYᵀ · input, db += Σ_rows dY");
                Guarded(InputGuard(a), $"{Gemm}.Sgemm(false, false, {rows}, {I(inF)}, {I(outF)}, 1f, {gy}, 0, {I(outF)}, {Dense(np.Weight!)}, 0, {I(inF)}, 1f, {G(a)}, 0, {I(inF)});");
                _w.WriteLine($"if ({NeedP(np.Weight!)}) {Gemm}.Sgemm(true, false, {I(outF)}, {I(inF)}, {rows}, 1f, {gy}, 0, {I(outF)}, {A(a)}, 0, {I(inF)}, 1f, _gp{I(np.Weight!.Index)}, 0, {I(inF)});");
                if (np.Bias is not null) _w.WriteLine($"if ({NeedP(np.Bias)}) {Support}.SumRows({gy}, {rows}, {I(outF)}, _gp{I(np.Bias.Index)});");
                break;
            }
            case "Relu":
                _w.WriteLine($"// d {node.Text}: mask by the output{(np.FusedIntoLinear ? " (kept in the fused Linear's buffer)" : "")}");
                Guarded(InputGuard(a), $"{Support}.ReluBackward({A(i)}, {gy}, {G(a)}, {Sz(i)});");
                if (np.FusedIntoLinear && np.Module is not null)
                {
                    _w.WriteLine($"if ({Support}.HasBackwardHooks({np.Module.Field})) {Support}.BackwardHooks({np.Module.Field}, {G(a)}, null, {ShapeExpr(a)}, {gy}, {ShapeExpr(i)});");
                }
                break;
            case "Unary" when np.Op == "Neg":
                _w.WriteLine($"// d {node.Text}");
                Guarded(InputGuard(a), $"for (int j = 0, len = {Sz(i)}; j < len; j++) {G(a)}[j] -= {gy}[j];");
                break;
            case "Unary":
                _w.WriteLine($"// d {node.Text}");
                Guarded(InputGuard(a), $"{Support}.UnaryBackward(global::SharpGrad.CompiledUnary.{np.Op}, {A(a)}, {A(i)}, {gy}, {G(a)}, {Sz(i)}, {np.Alpha}, {np.Beta});");
                break;
            case "Dropout":
                _w.WriteLine($"// d {node.Text}: the same mask");
                using (_w.Block(InputGuard(a) is { } ig ? $"if ({ig})" : "// (its input is an intermediate value)"))
                {
                    _w.WriteLine($"if ({_x}tr{I(i)}) for (int j = 0, len = {Sz(i)}; j < len; j++) {G(a)}[j] += {gy}[j] * {_x}mask{I(i)}[j];");
                    _w.WriteLine($"else for (int j = 0, len = {Sz(i)}; j < len; j++) {G(a)}[j] += {gy}[j];");
                }
                break;
            case "Softmax":
                _w.WriteLine($"// d {node.Text}");
                Guarded(InputGuard(a), $"{Support}.SoftmaxBackward({A(i)}, {gy}, {G(a)}, {Outer(i, np.Ints[0])}, {I(np.Ints[1])}, {I(np.Ints[2])}, {(np.Op == "LogSoftmax" ? "true" : "false")});");
                break;
            case "Binary" or "ResidualAdd":
            {
                int l = node.Inputs[0], r = node.Inputs[1];
                bool cl = _p.Nodes[l].Rule == "Const", cr = _p.Nodes[r].Rule == "Const";
                _w.WriteLine($"// d {node.Text}");
                string? dl = null, dr = null;
                switch (node.Op)
                {
                    case "Add": dl = $"{gy}[j]"; dr = $"{gy}[j]"; break;
                    case "Sub": dl = $"{gy}[j]"; dr = $"-{gy}[j]"; break;
                    case "Mul": dl = $"{gy}[j] * {Operand(r)}"; dr = $"{gy}[j] * {Operand(l)}"; break;
                    case "Div":
                        dl = $"{gy}[j] / {Operand(r)}";
                        dr = cr ? null : $"-{gy}[j] * {Operand(l)} / ({Operand(r)} * {Operand(r)})";
                        break;
                }
                if (!cl && dl is not null) Guarded(InputGuard(l), $"for (int j = 0, len = {Sz(i)}; j < len; j++) {G(l)}[j] += {dl};");
                if (!cr && dr is not null) Guarded(InputGuard(r), $"for (int j = 0, len = {Sz(i)}; j < len; j++) {G(r)}[j] += {dr};");
                break;
            }
            case "Broadcast":
            {
                int l = node.Inputs[0], r = node.Inputs[1];
                _w.WriteLine($"// d {node.Text}: gradients reduced over the broadcast dims");
                string ga = InputGuard(l) is { } gl ? $"({gl} ? {G(l)} : null)" : G(l);
                string gb = InputGuard(r) is { } gr ? $"({gr} ? {G(r)} : null)" : G(r);
                _w.WriteLine($"{Support}.BinaryBackward(global::SharpGrad.CompiledBinary.{node.Op}, {A(l)}, {_x}sa{I(i)}, {A(r)}, {_x}sb{I(i)}, {gy}, {_x}sy{I(i)}, {ga}, {gb});");
                break;
            }
            case "Select":
            {
                int t = node.Inputs[0], e = node.Inputs[1];
                _w.WriteLine($"// d {node.Text}: to the branch the forward took");
                using (_w.Block($"if ({_x}tr{I(i)})")) Guarded(InputGuard(t), $"for (int j = 0, len = {Sz(i)}; j < len; j++) {G(t)}[j] += {gy}[j];");
                using (_w.Block("else")) Guarded(InputGuard(e), $"for (int j = 0, len = {Sz(i)}; j < len; j++) {G(e)}[j] += {gy}[j];");
                break;
            }
            case "Permute":
                _w.WriteLine($"// d {node.Text}: the inverse permutation");
                Guarded(InputGuard(a), $"{Support}.PermuteBackward({gy}, {_x}sx{I(i)}, new int[] {{ {string.Join(", ", np.Ints.Select(I))} }}, {G(a)});");
                break;
            case "Extreme":
                _w.WriteLine($"// d {node.Text}: to the positions of the extremes");
                Guarded(InputGuard(a), $"{Support}.ExtremeDimBackward({gy}, {_x}ix{I(i)}, {G(a)}, {Outer(i, np.Ints[0])}, {I(np.Ints[1])}, {I(np.Ints[2])});");
                break;
            case "Reduce":
            {
                var g = np.Ints;
                string outer = g[0] == 1 ? I(g[1]) : Outer(a, g[1]);
                string size = g[0] == 1 ? $"n * {I(g[2])}" : I(g[2]);
                string scale = node.Op == "Mean" ? $"1f / ({size})" : "1f";
                _w.WriteLine($"// d {node.Text}: broadcast back");
                Guarded(InputGuard(a), $"{Support}.ReduceSumBackward({gy}, {G(a)}, {outer}, {size}, {I(g[3])}, {scale});");
                break;
            }
            case "MatMul":
            {
                var g = np.Ints; // m, k, q
                int b = node.Inputs[1];
                _w.WriteLine($"// d {node.Text}: dA += dY · Bᵀ, dB += Aᵀ · dY per batch item");
                Guarded(InputGuard(a), $"for (int b = 0; b < n; b++) {Gemm}.Sgemm(false, true, {I(g[0])}, {I(g[1])}, {I(g[2])}, 1f, {gy}, b * {I(g[0] * g[2])}, {I(g[2])}, {A(b)}, b * {I(g[1] * g[2])}, {I(g[2])}, 1f, {G(a)}, b * {I(g[0] * g[1])}, {I(g[1])});");
                Guarded(InputGuard(b), $"for (int b = 0; b < n; b++) {Gemm}.Sgemm(true, false, {I(g[1])}, {I(g[2])}, {I(g[0])}, 1f, {A(a)}, b * {I(g[0] * g[1])}, {I(g[1])}, {gy}, b * {I(g[0] * g[2])}, {I(g[2])}, 1f, {G(b)}, b * {I(g[1] * g[2])}, {I(g[2])});");
                break;
            }
            case "Conv":
            {
                var g = np.Ints;
                string? guard = InputGuard(a);
                _w.WriteLine($"// d {node.Text}: the convolution's backward kernel (into scratch buffers, then accumulated)");
                _w.WriteLine($"var dIn{I(i)} = {(guard is null ? $"{_x}t{I(i)}" : $"{guard} ? {_x}t{I(i)} : null")};");
                _w.WriteLine($"var dW{I(i)} = {NeedP(np.Weight!)} ? {_x}tw{I(i)} : null;");
                _w.WriteLine(np.Bias is null ? $"float[]? dB{I(i)} = null;" : $"var dB{I(i)} = {NeedP(np.Bias)} ? {_x}tb{I(i)} : null;");
                _w.WriteLine($"{Support}.Conv2dBackward({A(a)}, {np.Weight!.Expr}, {gy}, dIn{I(i)}, dW{I(i)}, dB{I(i)}, n, {string.Join(", ", g.Select(I))});");
                _w.WriteLine($"if (dIn{I(i)} is not null) {Support}.AddInto(dIn{I(i)}, {G(a)}, {Sz(a)});");
                _w.WriteLine($"if (dW{I(i)} is not null) {Support}.AddInto(dW{I(i)}, _gp{I(np.Weight.Index)}, dW{I(i)}.Length);");
                if (np.Bias is not null) _w.WriteLine($"if (dB{I(i)} is not null) {Support}.AddInto(dB{I(i)}, _gp{I(np.Bias.Index)}, dB{I(i)}.Length);");
                break;
            }
            case "MaxPool":
            {
                var g = np.Ints;
                _w.WriteLine($"// d {node.Text}: scatter to the recorded maxima, then accumulate");
                using (_w.Block(InputGuard(a) is { } ig ? $"if ({ig})" : "// (its input is an intermediate value)"))
                {
                    _w.WriteLine($"{Support}.MaxPool2dBackward({gy}, {_x}ix{I(i)}, {_x}t{I(i)}, n * {I(g[0])}, {I(g[1] * g[2])}, {I(g[3] * g[4])});");
                    _w.WriteLine($"{Support}.AddInto({_x}t{I(i)}, {G(a)}, {Sz(a)});");
                }
                break;
            }
            case "AvgPool":
            {
                var g = np.Ints;
                _w.WriteLine($"// d {node.Text}");
                Guarded(InputGuard(a), $"{Support}.AvgPool2dBackward({gy}, {G(a)}, n * {I(g[0])}, {string.Join(", ", g.Skip(1).Take(10).Select(I))}, {(g[11] != 0 ? "true" : "false")}, {(g[12] != 0 ? "true" : "false")});");
                break;
            }
            case "AdaptivePool":
            {
                var g = np.Ints;
                _w.WriteLine($"// d {node.Text}");
                Guarded(InputGuard(a), $"{Support}.AdaptiveAvgPool2dBackward({gy}, {G(a)}, n * {I(g[0])}, {string.Join(", ", g.Skip(1).Select(I))});");
                break;
            }
            case "BatchNorm":
            {
                string gx = InputGuard(a) is { } ig ? $"({ig} ? {G(a)} : null)" : G(a);
                string gw = np.Weight is null ? "null" : $"({NeedP(np.Weight)} ? _gp{I(np.Weight.Index)} : null)";
                string gb = np.Bias is null ? "null" : $"({NeedP(np.Bias)} ? _gp{I(np.Bias.Index)} : null)";
                _w.WriteLine($"// d {node.Text}");
                _w.WriteLine($"{Support}.BatchNormBackward({np.Module!.Field}, {A(a)}, {gy}, {gx}, {_x}sm{I(i)}, {_x}si{I(i)}, {gw}, {gb}, n, {I(np.Ints[0])}, {I(np.Ints[1])}, {_x}tr{I(i)});");
                break;
            }
            case "LayerNorm":
            {
                string gx = InputGuard(a) is { } ig ? $"({ig} ? {G(a)} : null)" : G(a);
                string gw = np.Weight is null ? "null" : $"({NeedP(np.Weight)} ? _gp{I(np.Weight.Index)} : null)";
                string gb = np.Bias is null ? "null" : $"({NeedP(np.Bias)} ? _gp{I(np.Bias.Index)} : null)";
                _w.WriteLine($"// d {node.Text}");
                _w.WriteLine($"{Support}.LayerNormBackward({np.Module!.Field}, {A(a)}, {gy}, {gx}, {_x}sm{I(i)}, {_x}si{I(i)}, {gw}, {gb}, {Sz(i)} / {I(np.Ints[0])}, {I(np.Ints[0])});");
                break;
            }
            case "Embedding":
                _w.WriteLine($"// d {node.Text}: rows scattered into the weight's gradient");
                _w.WriteLine($"if ({NeedP(np.Weight!)}) {Support}.EmbeddingBackward({np.Module!.Field}, {_x}r{I(a)}!, {gy}, _gp{I(np.Weight!.Index)}, {Sz(i)} / {I(np.Ints[0])}, {I(np.Ints[0])});");
                break;
            case "Loss":
            {
                int t = node.Inputs[1];
                string target = $"{_x}r{I(t)}!";
                string? guard = InputGuard(a);
                switch (np.Op)
                {
                    case "CrossEntropy":
                        _w.WriteLine($"// fused: d {node.Text} — (softmax − one-hot) · dLoss, from the softmax the forward kept");
                        Guarded(guard, $"{Support}.CrossEntropyBackward({_x}pr{I(i)}, {target}, {gy}[0], {G(a)}, n, {I(np.Ints[0])}, {np.Alpha}, {np.Beta});");
                        break;
                    case "Nll":
                        _w.WriteLine($"// d {node.Text}");
                        Guarded(guard, $"{Support}.NllBackward({target}, {gy}[0], {G(a)}, n, {I(np.Ints[0])}, {np.Alpha}, {np.Beta});");
                        break;
                    default:
                        string f = np.Op == "BinaryCrossEntropyWithLogits" ? "BceWithLogits" : np.Op;
                        _w.WriteLine($"// d {node.Text}");
                        Guarded(guard, $"{Support}.{f}Backward({A(a)}, {target}, {gy}[0], {G(a)}, {Sz(a)}, {np.Alpha});");
                        break;
                }
                break;
            }
        }
        if (hooks)
        {
            string gIn = InputGuard(a) is { } ig2 ? $"({ig2} ? {G(a)} : null)" : G(a);
            _w.WriteLine($"if (hb{I(i)} is not null) {Support}.BackwardHooks({np.Module!.Field}, {gIn}, hb{I(i)}, {ShapeExpr(a)}, {gy}, {ShapeExpr(i)});");
        }
    }
}
