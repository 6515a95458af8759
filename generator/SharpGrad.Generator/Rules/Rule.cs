using System.Collections.Generic;

namespace SharpGrad.Generator.Rules;

/// <summary>A per-node buffer a rule needs besides its value and gradient: its role (names the field), element type and size.</summary>
/// <param name="Role">Names the field: <c>_forward_pool_out_indices</c>.</param>
/// <param name="Type">The C# type (<c>float[]</c>, <c>long[]</c>, <c>bool</c>, <c>int[]</c>).</param>
/// <param name="Size">The size expression when it is an array sized with the batch; null for a flag or a shape.</param>
/// <param name="Init">For a shape array: its initial value (dims with the batch patched on every call).</param>
internal sealed record Scratch(string Role, string Type, string? Size, string? Init = null);

/// <summary>
/// The code generator's rule for one family of ops: whether it can plan a node (and its geometry), what the node's
/// backward reads, the buffers it needs, and the code of its forward and its backward. Rules are stateless; the planner
/// picks one per node by the node's kind and its catalogue row's family (<see cref="RuleSet.Candidates"/>).
/// </summary>
internal abstract class Rule
{
    public abstract RuleKind Kind { get; }

    /// <summary>
    /// The plan of node <paramref name="i"/> (from <paramref name="plan"/>, which has its name, shape and row data), or null
    /// when the node is outside what this rule emits (the planner then tries the next candidate, or reports SG1017).
    /// </summary>
    public abstract NodePlan? Plan(MethodDraft m, int i, NodePlan plan);

    /// <summary>The nodes whose values the node's backward reads (the forward keeps them): by default what its row says.</summary>
    public virtual IEnumerable<int> Reads(IReadOnlyList<NodePlan> nodes, NodePlan n)
    {
        if ((n.Reads & BackwardReads.Input) != 0 && n.Inputs.Count > 0 && nodes[n.Inputs[0]].Rule != RuleKind.Constant) yield return n.Inputs[0];
        if ((n.Reads & BackwardReads.OtherInputs) != 0)
        {
            for (int k = 1; k < n.Inputs.Count; k++) if (nodes[n.Inputs[k]].Rule != RuleKind.Constant) yield return n.Inputs[k];
        }
        if ((n.Reads & BackwardReads.Output) != 0) yield return n.Index;
    }

    /// <summary>The parameters the node differentiates: by default its weight and bias.</summary>
    public virtual IEnumerable<ParamSlot> Params(NodePlan n)
    {
        if (n.Weight is not null) yield return n.Weight;
        if (n.Bias is not null) yield return n.Bias;
    }

    /// <summary>
    /// The parameters the gradient of the node's <paramref name="results"/> reaches (bit r: result r; bit 0 the node's own value,
    /// the others read by nodes of their own, <see cref="InputResult"/>): by default all of <see cref="Params(NodePlan)"/>, as for
    /// a node of one result. A node of several results overrides it when one of them does not depend on every parameter (a
    /// MultiheadAttention call's weights do not depend on the value's projection nor on the out-projection), so that a parameter
    /// no reached result depends on gets no gradient, as in eager (<see cref="GradientReach"/>).
    /// </summary>
    public virtual IEnumerable<ParamSlot> Params(NodePlan n, int results) => Params(n);

    /// <summary>
    /// True when the gradient of the node's <paramref name="results"/> (bits as in <see cref="Params(NodePlan, int)"/>) reaches
    /// its input <paramref name="slot"/> (a value of the program: inputs read as data and constants never get one): by default
    /// every input. False for an input no reached result depends on (a MultiheadAttention call's value when only its weights are
    /// used), or one the op does not differentiate.
    /// </summary>
    public virtual bool Differentiates(NodePlan n, int results, int slot) => true;

    /// <summary>
    /// Which result of its input <paramref name="slot"/>'s node the node reads: 0, the input's own value; r ≥ 1 for a node that
    /// is another result of a node of several (a MultiheadAttention call's returned weights). A node of several results whose
    /// results all depend on every input and parameter (a recurrent layer and its final states) needs no declaration.
    /// </summary>
    public virtual int InputResult(NodePlan n, int slot) => 0;

    /// <summary>True when the rule's backward overwrites (β = 0) the gradient of a parameter it writes first when that
    /// gradient is fresh (<see cref="Emit.EmitContext.WritesFirst"/>), so the entry need not clear it.</summary>
    public virtual bool OverwritesFreshParams => false;

    /// <summary>
    /// True when the rule's backward can write the whole gradient of the node's input <paramref name="slot"/> instead of adding
    /// to it, when the planner makes the node that gradient's first writer (<see cref="NodePlan.GradOverwriter"/>): the buffer is
    /// then not cleared, and the rule's code asks <see cref="Emit.EmitContext.OverwritesInput"/> whether to overwrite.
    /// </summary>
    public virtual bool OverwritesInputGrad(NodePlan n, int slot) => false;

    /// <summary>The node's scratch buffers.</summary>
    public virtual IEnumerable<Scratch> Scratch(EmitContext e, NodePlan n) => [];

    /// <summary>
    /// For a node whose value is int64 (<see cref="ArgExtremeRule"/>): the field of its <c>long[]</c>, which the program
    /// returns as an Int64 tensor (null: a float32 value, in the node's buffer).
    /// </summary>
    public virtual string? Int64Value(EmitContext e, NodePlan n) => null;

    /// <summary>True when the node has no value buffer of its own (a view of its input's).</summary>
    public virtual bool IsView => false;

    /// <summary>The node's geometry as a generated constant: its type and named arguments (null: none).</summary>
    public virtual (string Type, string[] Arguments)? Constant(NodePlan n) => null;

    /// <summary>
    /// The C# text of the layer size that must equal <paramref name="dim"/>: a constant equal to it, or the dim's bound
    /// symbol; when the layer was built with another size the build cannot compare (<c>width</c> where the value has
    /// <c>hidden</c>), <c>Compile()</c> checks that they are equal. Null when they cannot be.
    /// </summary>
    protected internal static string? SizeText(MethodDraft m, ChildSpec child, string parameter, Dim dim)
    {
        if (dim.IsFixed && child.Int(parameter) is { } constant) return constant == dim.Size ? MethodDraft.I(constant) : null;
        string? expression = dim.IsFixed ? MethodDraft.I(dim.Size) : dim.IsSymbol ? m.Program.Sizes.Expression(dim.Symbol!) : null;
        if (expression is null) return null;
        if (child.Arg(parameter)?.Symbol is { } built && (built == dim.Symbol || dim.IsSymbol && m.Method.Canonical(built) == m.Method.Canonical(dim.Symbol!))) return expression;
        return m.Program.Sizes.Require(child, parameter, dim) ? expression : null;
    }

    /// <summary>
    /// The C# text of a layer's size argument <paramref name="parameter"/>: its constant, or the expression of the symbol
    /// it was built with (bound in <c>Compile()</c>); null when it is neither (not known at build time).
    /// </summary>
    protected internal static string? LayerSize(MethodDraft m, ChildSpec child, string parameter)
    {
        if (child.Int(parameter) is { } constant) return MethodDraft.I(constant);
        if (child.Arg(parameter)?.Symbol is not { } symbol || m.Program.Sizes.Expression(symbol) is not { } expression) return null;
        m.Program.UsedSymbols.Add(symbol);   // bound in Compile() even when no shape of the program has it (a head count)
        return expression;
    }

    /// <summary>The node input bound to the layer's tensor parameter <paramref name="parameter"/> (given by position or by name), or −1.</summary>
    protected internal static int InputOf(MethodDraft m, int i, string parameter) => m.Node(i).Scalar(parameter) is { } slot ? (int)slot.Value : -1;

    /// <summary>A dim as C# text: its size, or its bound symbol's expression; null for a symbol no layer binds.</summary>
    protected internal static string? DimText(MethodDraft m, Dim dim)
        => dim.IsFixed ? MethodDraft.I(dim.Size) : dim.IsSymbol ? m.Program.Sizes.Expression(dim.Symbol!) : null;

    /// <summary>
    /// True when an argument's text is the module's <c>Training</c> flag: <c>Training</c> or <c>this.Training</c>, given by
    /// position or by name (<c>training: Training</c>).
    /// </summary>
    protected internal static bool IsTrainingArgument(string text)
    {
        int colon = text.IndexOf(':');
        string value = (colon >= 0 ? text.Substring(colon + 1) : text).Trim();
        return value is "Training" or "this.Training";
    }

    /// <summary>Writes the node's forward.</summary>
    public abstract void Forward(EmitContext e, NodePlan n);

    /// <summary>Writes the node's backward: its inputs' gradients accumulate from its own.</summary>
    public abstract void Backward(EmitContext e, NodePlan n);
}

/// <summary>The rules, by kind, and which rules may take a node.</summary>
internal static class RuleSet
{
    private static readonly Rule[] ByKind = Build();

    private static Rule[] Build()
    {
        Rule[] all =
        [
            new InputRule(), new ViewRule(), new BoundaryRule(), new PointwiseRule(), new ElementwiseRule(), new BroadcastRule(),
            new LinearRule(), new ConvRule(), new MaxPoolRule(), new AvgPoolRule(), new AdaptivePoolRule(), new BatchNormRule(),
            new LayerNormRule(), new EmbeddingRule(), new DropoutRule(), new SoftmaxRule(), new GluRule(), new ReduceRule(),
            new ExtremeRule(), new PermuteRule(), new MatMulRule(), new MaskedFillRule(), new WhereRule(), new WhereScalarRule(), new MemberRule(), new BroadcastMatMulRule(), new SliceRule(), new JoinRule(), new SelectRule(), new ClassIndexLossRule(), new ElementwiseLossRule(),
            new VarianceRule(), new ExtremeAllRule(), new RecurrentRule(), new RecurrentStateRule(), new TransformerLayerRule(), new DataRule(), new DataValueRule(), new ConvTransposeRule(), new GroupNormRule(),
            new RmsNormRule(), new AdaptiveMaxPoolRule(), new ResampleRule(), new PadRule(), new ChannelDropoutRule(), new SelfAttentionRule(), new CrossAttentionRule(), new FunctionalLinearRule(), new FunctionalLayerNormRule(),
            new FunctionalConvRule(), new FunctionalGroupNormRule(),
            new ArgExtremeRule(),
            new AttentionWeightsRule(),
        ];
        var byKind = new Rule[System.Enum.GetValues(typeof(RuleKind)).Length];
        foreach (var rule in all) byKind[(int)rule.Kind] = rule;
        return byKind;
    }

    /// <summary>The rule of a planned node (null for nodes without code: constants, raw inputs, dead nodes).</summary>
    public static Rule? For(RuleKind kind) => ByKind[(int)kind];

    /// <summary>
    /// Why a call of a built-in layer with a rule of its own is outside what the rule emits (<paramref name="tensorArguments"/>
    /// tensors passed), or null: the parser makes such a call a graph break (SG1019) rather than a program with a hole.
    /// </summary>
    public static string? Unsupported(ChildSpec child, OpRow row, int tensorArguments) => row.Family switch
    {
        OpFamily.Recurrent => RecurrentRule.Unsupported(child, tensorArguments),
        OpFamily.TransformerLayer => TransformerLayerRule.Unsupported(child, tensorArguments),
        OpFamily.GroupNorm => GroupNormRule.Unsupported(child),
        OpFamily.Attention => SelfAttentionRule.Unsupported(child),
        _ => null,
    };

    /// <summary>The rules that may take a node, in order of preference (none: the code generator does not know it).</summary>
    public static RuleKind[] Candidates(GraphNode node, OpRow? row)
    {
        switch (node.Kind)
        {
            case NodeKind.Select: return [RuleKind.Select];
            case NodeKind.Input: return node.Op == "Input" ? [RuleKind.Input] : [RuleKind.Member];
            case NodeKind.Call when node.Op == GraphNode.StateOp: return [RuleKind.RecurrentState];
            case NodeKind.Call when node.Op == GraphNode.WeightsOp: return [RuleKind.AttentionWeights];
        }
        if (row is null) return [];
        if (node.Child is not null && node.IntArgs.Count > 0 && row.Family == OpFamily.Identity) return [RuleKind.Boundary];
        return row.Family switch
        {
            OpFamily.Pointwise => row.Operator is null ? [RuleKind.Pointwise] : [RuleKind.Elementwise],
            OpFamily.Binary => row.Operator is null ? [RuleKind.Broadcast] : [RuleKind.Elementwise, RuleKind.Broadcast],
            OpFamily.Prelu => [RuleKind.Broadcast],
            OpFamily.Identity or OpFamily.View => [RuleKind.View],
            OpFamily.Permute => [RuleKind.Permute],
            OpFamily.Reduce => [RuleKind.Reduce],
            OpFamily.Variance => [RuleKind.Variance],
            OpFamily.ReduceIndexed => [RuleKind.Extreme],
            OpFamily.ExtremeAll => [RuleKind.ExtremeAll],
            OpFamily.ArgExtreme => [RuleKind.ArgExtreme],
            OpFamily.MatMul => [RuleKind.MatMul, RuleKind.BroadcastMatMul],
            OpFamily.Mask => [RuleKind.MaskedFill],
            OpFamily.Where => [RuleKind.Where, RuleKind.WhereScalar],
            OpFamily.Slice => [RuleKind.Slice],
            OpFamily.Concat => [RuleKind.Join],
            OpFamily.Linear => [RuleKind.Linear, RuleKind.FunctionalLinear],
            OpFamily.Conv => [RuleKind.Conv, RuleKind.FunctionalConv],
            OpFamily.ConvTranspose => [RuleKind.ConvTranspose],
            OpFamily.MaxPool => [RuleKind.MaxPool],
            OpFamily.AvgPool => [RuleKind.AvgPool],
            OpFamily.AdaptivePool => [RuleKind.AdaptivePool],
            OpFamily.AdaptiveMaxPool => [RuleKind.AdaptiveMaxPool],
            OpFamily.Resample => [RuleKind.Resample],
            OpFamily.Pad => [RuleKind.Pad],
            OpFamily.ChannelDropout => [RuleKind.ChannelDropout],
            OpFamily.BatchNorm => [RuleKind.BatchNorm],
            OpFamily.LayerNorm => [RuleKind.LayerNorm, RuleKind.FunctionalLayerNorm],
            OpFamily.GroupNorm => [RuleKind.GroupNorm, RuleKind.FunctionalGroupNorm],
            OpFamily.RmsNorm => [RuleKind.RmsNorm],
            OpFamily.Embedding => [RuleKind.Embedding],
            OpFamily.Dropout => [RuleKind.Dropout],
            OpFamily.Softmax => [RuleKind.Softmax],
            OpFamily.Glu => [RuleKind.Glu],
            OpFamily.ClassIndexLoss => [RuleKind.ClassIndexLoss],
            OpFamily.ElementwiseLoss => [RuleKind.ElementwiseLoss],
            OpFamily.Recurrent => [RuleKind.Recurrent],
            OpFamily.TransformerLayer => [RuleKind.TransformerLayer],
            OpFamily.Attention => [RuleKind.SelfAttention, RuleKind.CrossAttention],
            OpFamily.Data => [RuleKind.Data],
            _ => [],
        };
    }
}
