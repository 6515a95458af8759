using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace SharpGrad.Generator.Rules;

/// <summary>
/// A data op (catalogue family Data: Arange, Ones/Zeros/Full, Triu/Tril, comparisons, To), or a view of data
/// (<c>Unsqueeze</c>, <c>View</c>, …), whose tensor inputs are all data (raw method inputs such as token ids, mask
/// buffers, other data ops): the node stays data (<see cref="RuleKind.Raw"/>), never differentiated, and generated code
/// evaluates it by calling the eager Tensor method itself, the one definition of the op. Its consumers read it where
/// they read data: a MaskedFill mask, a Where condition, an Embedding's indices, an attention mask.
/// </summary>
internal sealed class DataRule : Rule
{
    /// <summary>Where the template names input k's tensor (replaced by <see cref="Expression"/>).</summary>
    private static string Slot(int k) => "{input" + k.ToString(CultureInfo.InvariantCulture) + "}";

    public override RuleKind Kind => RuleKind.Data;

    /// <summary>True when a node of <paramref name="row"/> over data inputs may be evaluated as data (one-tensor views and data ops).</summary>
    public static bool Takes(OpRow row)
        => (row.Surface & OpSurface.Tensor) != 0 && row.Outputs.Count == 1
           && (row.Family == OpFamily.Data || (row.TensorArity == 1 && row.Family is OpFamily.View or OpFamily.Permute or OpFamily.Slice));

    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan)
    {
        var node = m.Node(i);
        if (m.Row(i) is not { } row || !Takes(row) || node.Inputs.Count != System.Math.Max(row.TensorArity, 0)) return null;
        if (node.Inputs.Any(input => !m.IsRaw(input))) return null;
        var arguments = new List<string>();
        bool isStatic = row.Family == OpFamily.Data && row.Variant;   // Tensor.Ones(…), Tensor.OnesLike(t)
        for (int k = isStatic ? 0 : 1; k < node.Inputs.Count; k++) arguments.Add(Slot(k));
        foreach (var scalar in node.Scalars)
        {
            if (scalar.Text.Length == 0) continue;   // a default: the eager method's own
            if (Literal(m, i, row, scalar) is not { } literal) return null;
            arguments.Add(scalar.Name + ": " + literal);
        }
        string call = row.MethodName + "(" + string.Join(", ", arguments) + ")";
        string template = isStatic ? "global::SharpGrad.Tensor." + call : Slot(0) + "." + call;
        // Read only by arithmetic (`h * keep` of a mask made numbers with To): a value of the program, copied, no gradient.
        if (m.Consumers[i].Count > 0 && m.Consumers[i].All(c => m.Row(c.Node) is { } consumer && !MethodDraft.ReadsAsData(consumer, c.Slot) && !Takes(consumer)))
        {
            return plan with { Rule = RuleKind.DataValue, Args = new[] { template }.ToEquatableArray() };
        }
        return plan with { Rule = RuleKind.Raw, Args = new[] { template }.ToEquatableArray() };
    }

    /// <summary>
    /// A scalar argument as C# (cast to its parameter's type): a constant, an int list (a batch read is <c>n</c>), or a
    /// field of the module itself read at run time (not in an inlined child, whose fields are not this module's).
    /// </summary>
    private static string? Literal(MethodDraft m, int i, OpRow row, ScalarArg scalar)
    {
        string cast = scalar.Type.Length > 0 ? "(" + scalar.Type + ")" : "";
        if (scalar.IsKnown && scalar.String is null)
        {
            if (scalar.Type.EndsWith("[]", System.StringComparison.Ordinal))
            {
                var ints = scalar.Ints.IsEmpty ? new[] { (int)scalar.Value } : scalar.Ints.ToArray();
                return Sizes(m, ints);
            }
            if (scalar.Type is "bool") return scalar.Value != 0 ? "true" : "false";
            bool integral = scalar.Value == System.Math.Floor(scalar.Value) && System.Math.Abs(scalar.Value) < int.MaxValue;
            return cast + (integral ? MethodDraft.I((int)scalar.Value) : "(" + MethodDraft.F64(scalar.Value) + ")");
        }
        if (!scalar.IsKnown && scalar.Ints.Count > 0 && scalar.Type.EndsWith("[]", System.StringComparison.Ordinal)) return Sizes(m, scalar.Ints);
        // One size read at run time (Tensor.Arange(t) with t = tokens.Size(1)).
        if (!scalar.IsKnown && scalar.Ints is [var read] && SizeText(m, read) is { } size) return cast + size;
        if (scalar.Member is { } member && !m.Method.IsInlined(i)) return cast + "_m." + member;
        return null;
    }

    /// <summary>An int list of sizes as C#: constants, the batch (<c>n</c>), sizes read at run time (<c>_sym_T</c>); null when one is not known.</summary>
    private static string? Sizes(MethodDraft m, IEnumerable<int> sizes)
    {
        var texts = sizes.Select(v => SizeText(m, v)).ToList();
        return texts.Any(t => t is null) ? null : "new int[] { " + string.Join(", ", texts) + " }";
    }

    /// <summary>
    /// A size as C#: a constant, the batch <c>n</c>, or a size read at run time (<see cref="ShapeRules.SizeRead"/>) as the dim of
    /// the value it reads: a constant, <c>n</c>, or its symbol's expression (<c>_sym_T</c>, read from the inputs at each call).
    /// </summary>
    internal static string? SizeText(MethodDraft m, int size)
    {
        if (size == ShapeRules.BatchRead) return "n";
        if (!ShapeRules.IsSizeRead(size)) return MethodDraft.I(size);
        var (node, dim) = ShapeRules.SizeReadOf(size);
        if (m.InferredShapes[node] is not { } shape || ShapeRules.Normalize(dim, shape.Rank) is not { } d) return null;
        var read = shape[d];
        if (read.IsFixed) return MethodDraft.I(read.Size);
        if (read.Symbol == m.Batch) return "n";
        if (!read.IsSymbol || m.Program.Sizes.Expression(read.Symbol!) is not { } expression) return null;
        m.Program.UsedSymbols.Add(read.Symbol!);
        return expression;
    }

    /// <summary>The C# expression of a data node's tensor: its template with its inputs' expressions (or a raw input's field).</summary>
    public static string Expression(EmitContext e, int node, string rawField)
    {
        var n = e.Nodes[node];
        if (n.Args.Count == 0) return rawField;
        string text = n.Args[0];
        for (int k = 0; k < n.Inputs.Count; k++)
        {
            string slot = Slot(k);
            if (text.Contains(slot)) text = text.Replace(slot, MethodEmitter.RawField(e, n.Inputs[k]));
        }
        return text;
    }

    public override void Forward(EmitContext e, NodePlan n)
    {
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
    }
}

/// <summary>
/// A data op read only by arithmetic (<c>h * tokens.Ne(pad).Unsqueeze(-1).To(DType.Float32)</c>): the eager call's tensor,
/// checked against the planned shape and copied into the node's buffer as float32 (<c>CompiledSupport.Data</c>); data
/// has no gradient.
/// </summary>
internal sealed class DataValueRule : Rule
{
    public override RuleKind Kind => RuleKind.DataValue;

    /// <summary>Planned by <see cref="DataRule"/>, never chosen on its own.</summary>
    public override NodePlan? Plan(MethodDraft m, int i, NodePlan plan) => null;

    public override IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n) => [];

    public override (string Type, string[] Arguments)? Constant(NodePlan n)
        => ("int[]", n.Shape!.Dims.Select((d, k) => k == 0 && n.Batched ? "-1" : SizeSymbols.Csharp(d)).ToArray());

    public override void Forward(EmitContext e, NodePlan n)
    {
        e.W.Comment($"{n.Text}: data, evaluated by the eager method and copied as float32");
        e.W.Call($"{EmitContext.Support}.Data",
            [DataRule.Expression(e, n.Index, ""), e.Geometry(n), $"\"{n.Text.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"", e.Value(n.Index), "n"]);
    }

    public override void Backward(EmitContext e, NodePlan n)
    {
    }
}
