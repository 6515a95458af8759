using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace SharpGrad.Generator.Planning;

/// <summary>The children and parameters a program binds, collected while its methods are planned.</summary>
internal sealed class ProgramDraft
{
    public ProgramDraft(ModuleSpec spec, ModuleGraph graph)
    {
        Spec = spec;
        Graph = graph;
        Sizes = new SizeSymbols(graph);
    }

    /// <summary>The size symbols bound when the module is built (<c>hidden</c>), and how the program binds them.</summary>
    public SizeSymbols Sizes { get; }

    /// <summary>The symbols the planned methods' shapes use (the program binds them in its constructor).</summary>
    public HashSet<string> UsedSymbols { get; } = new(System.StringComparer.Ordinal);

    public ModuleSpec Spec { get; }

    public ModuleGraph Graph { get; }

    public List<ModuleRef> Modules { get; } = new();

    public List<ParamSlot> Params { get; } = new();

    /// <summary>The field of a child (<c>_conv1</c>, <c>_features_0</c>), added once.</summary>
    public ModuleRef Module(ChildSpec child)
    {
        // A child's variants (its options given by constructor parameters, one per region: GraphParser.Assumed) are one module.
        foreach (var m in Modules) if (m.Member == child.Name || m.Path == child.Path) return m;
        string type = child.IsBuiltIn ? "global::SharpGrad.Layers." + child.Kind : "global::" + (child.TypeName.Length > 0 ? child.TypeName : child.Kind);
        var r = new ModuleRef("_" + Identifier(child.Path), type, child.Path, child.Name);
        if (Modules.Any(m => m.Field == r.Field) || Emit.EmitContext.ReservedFields.Contains(r.Field)) r = r with { Field = r.Field + "_" + Modules.Count.ToString(CultureInfo.InvariantCulture) };
        Modules.Add(r);
        return r;
    }

    /// <summary>A parameter the program differentiates (<c>conv1.weight</c>), added once.</summary>
    public ParamSlot Param(string expr, string path)
    {
        foreach (var s in Params) if (s.Expr == expr) return s;
        var slot = new ParamSlot(Params.Count, path, expr, Identifier(path));
        Params.Add(slot);
        return slot;
    }

    /// <summary>
    /// A group of parameters the program differentiates (<see cref="ParamSlot.IsGroup"/>): the parameters of
    /// <paramref name="path"/>'s layer listed by <paramref name="expr"/> (<c>_lstm.AllWeights</c>), added once.
    /// </summary>
    public ParamSlot ParamGroup(string expr, string path)
    {
        foreach (var s in Params) if (s.Expr == expr) return s;
        var slot = new ParamSlot(Params.Count, path, expr, Identifier(path) + "_params") { IsGroup = true };
        Params.Add(slot);
        return slot;
    }

    /// <summary>A C# identifier from a dotted path (<c>features.0.weight</c> → <c>features_0_weight</c>).</summary>
    public static string Identifier(string path)
    {
        var chars = path.Select(c => char.IsLetterOrDigit(c) || c == '_' ? c : '_').ToArray();
        var s = new string(chars);
        return s.Length > 0 && char.IsDigit(s[0]) ? "_" + s : s;
    }
}

/// <summary>
/// The working state of one method while it is planned: the IR, each node's shape, batch flag, size, mode and consumers,
/// and the node plans the rules and passes fill in. Rules read it through the helpers below.
/// </summary>
internal sealed class MethodDraft
{
    public MethodDraft(ProgramDraft program, GraphMethod method, TensorShape?[] shapes)
    {
        Program = program;
        Method = method;
        int count = method.Nodes.Count;
        InferredShapes = shapes;
        Shapes = new TensorShape[count];
        Batched = new bool[count];
        BatchAxis = new int[count];
        Features = new int[count];
        Symbolic = new string[count];
        Mode = new int[count];
        Nodes = new NodePlan[count];
        Consumers = new List<(int Node, int Slot)>[count];
        for (int i = 0; i < count; i++) Consumers[i] = new();
        for (int i = 0; i < count; i++)
        {
            for (int s = 0; s < method.Nodes[i].Inputs.Count; s++) Consumers[method.Nodes[i].Inputs[s]].Add((i, s));
        }
        for (int i = 0; i < count; i++) Nodes[i] = new NodePlan(i, RuleKind.None) { ValueRoot = i, GradRoot = i };
    }

    public ProgramDraft Program { get; }

    public GraphMethod Method { get; }

    public TensorShape?[] InferredShapes { get; }

    public TensorShape[] Shapes { get; }

    public bool[] Batched { get; }

    /// <summary>Per batched node: the batch's dim (0, or 1 for a recurrent layer's states [L·D, N, H]).</summary>
    public int[] BatchAxis { get; }

    public int[] Features { get; }

    /// <summary>
    /// Per node: the C# factor of its size bound when the module is built (<c>_sym_hidden</c>), multiplying
    /// <see cref="Features"/>; "" (or null before planning) when every dim but the batch is fixed.
    /// </summary>
    public string[] Symbolic { get; }

    /// <summary>True when node <paramref name="i"/>'s size has a factor bound when the module is built.</summary>
    public bool IsSymbolic(int i) => !string.IsNullOrEmpty(Symbolic[i]);

    public int[] Mode { get; }

    public NodePlan[] Nodes { get; }

    public List<(int Node, int Slot)>[] Consumers { get; }

    public string Batch { get; set; } = "";

    public List<int> FloatInputs { get; } = new();

    public List<int> RawInputs { get; } = new();

    public int Count => Nodes.Length;

    public int Output => Method.Output;

    public GraphNode Node(int i) => Method.Nodes[i];

    public int In(int i, int slot) => Method.Nodes[i].Inputs[slot];

    public ChildSpec? Child(int i) => Method.Nodes[i].Child is { } name && name != "this" ? Program.Graph.FindChild(name) : null;

    public OpRow? Row(int i) => NodeArguments.RowOf(Method.Nodes[i], Child(i));

    public NodeArguments Arguments(int i) => new(Method.Nodes[i], Child(i));

    public bool IsConst(int i) => Nodes[i].Rule == RuleKind.Constant;

    public bool IsRaw(int i) => Nodes[i].Rule == RuleKind.Raw;

    public bool Live(int i) => Nodes[i].Rule is not (RuleKind.None or RuleKind.Constant or RuleKind.Raw);

    /// <summary>The batch flag of input <paramref name="slot"/> equals the node's.</summary>
    public bool BatchedLike(int i, int slot) => Batched[In(i, slot)] == Batched[i];

    /// <summary>
    /// True when a compiled program reads the op's tensor input <paramref name="slot"/> as data, not differentiated: the
    /// row's non-differentiable inputs (class indices, embedding indices), and a loss's target.
    /// </summary>
    public static bool ReadsAsData(OpRow row, int slot)
        => row.Family == OpFamily.Data || (slot < row.Inputs.Count && !row.Inputs[slot].Differentiable)
           || (slot == 1 && row.Family is OpFamily.ClassIndexLoss or OpFamily.ElementwiseLoss || slot == 1 && row.Surface == OpSurface.Losses);

    /// <summary>
    /// <see cref="ReadsAsData(OpRow, int)"/> for node <paramref name="i"/>'s input <paramref name="slot"/>, matched to the row's tensor
    /// input by name where the call binds it by name (a layer's Forward whose masks are named with a flag between them:
    /// MultiheadAttention's <c>keyPaddingMask: p, attnMask: m, needWeights: false</c>, the mask's slot not the row's position),
    /// by position otherwise.
    /// </summary>
    public bool ReadsAsData(int i, int slot)
    {
        if (Row(i) is not { } row) return false;
        var node = Node(i);
        for (int k = 0; k < row.Inputs.Count; k++)
        {
            if (node.Scalar(row.Inputs[k].Name) is { } bound && (int)bound.Value == slot) return ReadsAsData(row, k);
        }
        return ReadsAsData(row, slot);
    }

    /// <summary>A float32 literal (<c>0.2f</c>).</summary>
    public static string F32(double v) => ((float)v).ToString("R", CultureInfo.InvariantCulture) + "f";

    /// <summary>A double literal (<c>0.2</c>, <c>NaN</c> as <c>double.NaN</c>).</summary>
    public static string F64(double v) => double.IsNaN(v) ? "double.NaN" : double.IsInfinity(v) ? (v > 0 ? "double.PositiveInfinity" : "double.NegativeInfinity") : v.ToString("R", CultureInfo.InvariantCulture) + (v == System.Math.Floor(v) && System.Math.Abs(v) < 1e15 ? ".0" : "");

    /// <summary>An int literal.</summary>
    public static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>A dim normalised to [0, rank), or −1.</summary>
    public static int Norm(int dim, int rank) => ShapeRules.Normalize(dim, rank) ?? -1;

    /// <summary>
    /// True when dim <paramref name="d"/> of node <paramref name="i"/> is after its batch dim (or the node is not batched): an op
    /// working on dims after the batch sees rows whatever the batch's dim — [T, N, E] with the batch in dim 1 (a batch-second
    /// sequence) is T·n rows of E, as [N, T, E] is n·T rows, in another order the op does not see (<see cref="Axis"/>,
    /// <see cref="ItemProduct"/> count the rows beside the batch).
    /// </summary>
    public bool AfterBatch(int i, int d) => !Batched[i] || d > BatchAxis[i];

    /// <summary>Node <paramref name="i"/>'s batch dim, or −1 when it is not batched (the dim <see cref="ItemProduct"/> leaves out).</summary>
    public int BatchDim(int i) => Batched[i] ? BatchAxis[i] : -1;

    /// <summary>
    /// [outer, size, inner] of node <paramref name="i"/>'s shape around dim <paramref name="d"/> (outer per batch item when batched:
    /// the dims before <paramref name="d"/> but the batch's, which must be before <paramref name="d"/>, <see cref="AfterBatch"/>).
    /// </summary>
    public AxisGeometry Axis(int i, int d)
    {
        var shape = Shapes[i];
        int skip = BatchDim(i);
        return new AxisGeometry(Product(shape, 0, d, skip), Product(shape, d, d + 1), Product(shape, d + 1, shape.Rank), Batched[i])
        {
            OuterText = ProductText(shape, 0, d, skip), SizeText = ProductText(shape, d, d + 1), InnerText = ProductText(shape, d + 1, shape.Rank),
        };
    }

    /// <summary>The product of node <paramref name="i"/>'s fixed dims <paramref name="from"/>..<paramref name="to"/> (exclusive) but its batch dim.</summary>
    public int ItemProduct(int i, int from, int to) => Product(Shapes[i], from, to, BatchDim(i));

    /// <summary><see cref="ProductText"/> of node <paramref name="i"/>'s dims <paramref name="from"/>..<paramref name="to"/> (exclusive) but its batch dim.</summary>
    public string? ItemProductText(int i, int from, int to) => ProductText(Shapes[i], from, to, BatchDim(i));

    /// <summary>The product of the fixed dims <paramref name="from"/>..<paramref name="to"/> (exclusive) of a shape, but dim <paramref name="skip"/>.</summary>
    public static int Product(TensorShape shape, int from, int to, int skip = -1)
    {
        int product = 1;
        for (int k = from; k < to; k++) product *= shape[k].IsFixed && k != skip ? shape[k].Size : 1;
        return product;
    }

    /// <summary>
    /// The product of dims <paramref name="from"/>..<paramref name="to"/> (exclusive) as C# when one of them is a symbol (a
    /// sequence length read at each call, <c>_sym_T</c>, or a size bound in <c>Compile()</c>); null when all are fixed
    /// (the rule writes <see cref="Product"/>); dim <paramref name="skip"/> (the batch's) left out.
    /// </summary>
    public string? ProductText(TensorShape shape, int from, int to, int skip = -1)
    {
        int fixedPart = 1;
        var parts = new List<string>();
        for (int k = from; k < to; k++)
        {
            if (k == skip) continue;
            if (shape[k].IsFixed)
            {
                fixedPart *= shape[k].Size;
                continue;
            }
            if (!shape[k].IsSymbol || Program.Sizes.Expression(shape[k].Symbol!) is not { } expression) throw new System.InvalidOperationException("a dim the planner should have refused: " + shape);
            Program.UsedSymbols.Add(shape[k].Symbol!);
            parts.Add(expression);
        }
        if (parts.Count == 0) return null;
        if (fixedPart != 1) parts.Insert(0, I(fixedPart));
        return parts.Count == 1 ? parts[0] : "(" + string.Join(" * ", parts) + ")";
    }
}
