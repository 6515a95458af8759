using System;

namespace SharpGrad.Generator.Model;

/// <summary>
/// The few node kinds of the graph IR. An op is not a class of its own: a node names its op (<see cref="GraphNode.Op"/>,
/// a catalogue row or a child's layer), and the planner picks the rule of the row's family.
/// </summary>
internal enum NodeKind
{
    /// <summary>A tensor parameter of the method (<see cref="GraphNode.IntArgs"/> = [index among the tensor parameters]), or a Parameter/Buffer member (<see cref="GraphNode.Op"/>).</summary>
    Input,

    /// <summary>A numeric constant (a scalar); <see cref="GraphNode.Value"/> holds it.</summary>
    Constant,

    /// <summary>A pointwise op, unary (<c>Relu</c>, <c>Sigmoid</c>, <c>Dropout</c>, …) or binary with broadcasting (<c>Add</c>, <c>Sub</c>, <c>Mul</c>, <c>Div</c>).</summary>
    Elementwise,

    /// <summary><c>Sum</c>/<c>Mean</c>: <see cref="GraphNode.IntArgs"/> = dims (empty = all), <see cref="GraphNode.Flag"/> = keepDim.</summary>
    Reduce,

    /// <summary><c>View</c>, <c>Reshape</c>, <c>Transpose</c>, <c>Permute</c>, <c>Flatten</c>, <c>Unsqueeze</c>, <c>Squeeze</c>; <see cref="GraphNode.IntArgs"/> = the op's ints.</summary>
    Movement,

    /// <summary><c>MatMul</c> of two inputs.</summary>
    MatMul,

    /// <summary>A <c>Linear</c> child (<see cref="GraphNode.Child"/>) applied to its input.</summary>
    Linear,

    /// <summary>A <c>Conv1d</c>/<c>Conv2d</c> child.</summary>
    Conv,

    /// <summary>A <c>MaxPool2d</c>/<c>AvgPool2d</c>/<c>AdaptiveAvgPool2d</c> child.</summary>
    Pool,

    /// <summary>A normalisation child (<c>BatchNorm1d/2d</c>, <c>LayerNorm</c>).</summary>
    Norm,

    /// <summary>A <c>Losses.*</c> function of (input, target).</summary>
    Loss,

    /// <summary>A data op (Arange, Ones, Triu, Eq, …: catalogue family Data): a tensor of data, never differentiated.</summary>
    Data,

    /// <summary>The <c>Forward</c> of a child this IR does not look into (a user <c>[Module]</c>, a <c>Sequential</c>, …).</summary>
    Call,

    /// <summary><c>if (Training)</c>: <see cref="GraphNode.Inputs"/> = [value in training, value in eval].</summary>
    Select,
}

/// <summary>
/// One node of a method's graph. Inputs are indices of earlier nodes in the same <see cref="GraphMethod"/>, so a graph
/// is a topologically ordered array. Equality is structural and hand-written (this is part of the cached spec).
/// </summary>
internal sealed class GraphNode : IEquatable<GraphNode>
{
    /// <summary>
    /// In the <see cref="IntArgs"/> of a <c>View</c>/<c>Reshape</c>: the batch size read at run time
    /// (<c>x.Shape[0]</c>, <c>x.Size(0)</c>), i.e. dim 0 of the method's first tensor input (the symbol <c>N</c>).
    /// </summary>
    public const int BatchDim = ShapeRules.BatchRead;

    /// <summary>
    /// The <see cref="Op"/> of a recurrent layer's final state (<see cref="NodeKind.Call"/>, the layer's <see cref="Child"/>,
    /// one input: the layer's node; scalar <c>item</c> 1 for h_n, 2 for c_n): a second result of the layer's node.
    /// </summary>
    public const string StateOp = "RecurrentState";

    /// <summary>
    /// The <see cref="Op"/> of a MultiheadAttention call's returned weights (<see cref="NodeKind.Call"/>, the layer's <see cref="Child"/>,
    /// one input: the layer's node; scalar <c>average</c> 1 for <c>average_attn_weights=True</c>, [N, L, S], 0 for per head,
    /// [N, heads, L, S]): a second result of the same node, as <see cref="StateOp"/> is for a recurrent layer.
    /// </summary>
    public const string WeightsOp = "AttentionWeights";

    /// <summary>
    /// The scalar naming the optional tensor parameters a call left out (<see cref="ScalarArg.String"/>: comma-separated, e.g.
    /// <c>bias</c> for <c>Functional.GroupNorm(x, 2, w)</c>), so a rule can tell a weight alone from a bias alone.
    /// </summary>
    public const string OmittedTensors = "omitted tensors";

    /// <summary>The <see cref="Op"/> of the boundary node appended after an inlined child's output (<see cref="NodeKind.Elementwise"/>, one input).</summary>
    public const string BoundaryOp = "Identity";

    public GraphNode(NodeKind kind, string op, EquatableArray<int> inputs, EquatableArray<int> intArgs = default, bool flag = false,
        string? child = null, double value = 0, string text = "", LocationInfo? location = null, EquatableArray<string> inputTexts = default,
        EquatableArray<ScalarArg> scalars = default)
    {
        Scalars = scalars;
        InputTexts = inputTexts;
        Kind = kind;
        Op = op;
        Inputs = inputs;
        IntArgs = intArgs;
        Flag = flag;
        Child = child;
        Value = value;
        Text = text;
        Location = location;
    }

    public NodeKind Kind { get; }

    /// <summary>The op within its kind: <c>Add</c>, <c>Relu</c>, <c>View</c>, <c>Sum</c>, <c>Mse</c>, the child's layer kind, …</summary>
    public string Op { get; }

    public EquatableArray<int> Inputs { get; }

    /// <summary>The op's constant integers (view shape, dims, parameter index).</summary>
    public EquatableArray<int> IntArgs { get; }

    /// <summary>keepDim for reductions.</summary>
    public bool Flag { get; }

    /// <summary>The child field whose Forward this node runs, if any.</summary>
    public string? Child { get; }

    /// <summary>The value of a <see cref="NodeKind.Constant"/>.</summary>
    public double Value { get; }

    /// <summary>The source expression (shortened), for messages.</summary>
    public string Text { get; }

    public LocationInfo? Location { get; }

    /// <summary>The source text of each input as written at this node (<c>h</c> in <c>fc1.Forward(h)</c>), for messages.</summary>
    public EquatableArray<string> InputTexts { get; }

    /// <summary>The non-tensor arguments of an op call, in parameter order (defaults included).</summary>
    public EquatableArray<ScalarArg> Scalars { get; }

    /// <summary>The scalar argument named <paramref name="name"/>, or null.</summary>
    public ScalarArg? Scalar(string name)
    {
        foreach (var s in Scalars) if (s.Name == name) return s;
        return null;
    }

    /// <summary>The text of input <paramref name="i"/> as written here.</summary>
    public string InputText(int i) => i < InputTexts.Count ? InputTexts[i] : "input " + i;

    public bool Equals(GraphNode? other)
        => other is not null
           && Kind == other.Kind
           && Op == other.Op
           && Inputs.Equals(other.Inputs)
           && IntArgs.Equals(other.IntArgs)
           && Flag == other.Flag
           && Child == other.Child
           && Value.Equals(other.Value)
           && Text == other.Text
           && InputTexts.Equals(other.InputTexts)
           && Scalars.Equals(other.Scalars)
           && Equals(Location, other.Location);

    public override bool Equals(object? obj) => Equals(obj as GraphNode);

    public override int GetHashCode()
    {
        unchecked
        {
            int hash = (int)Kind;
            hash = (hash * 31) + Op.GetHashCode();
            hash = (hash * 31) + Inputs.GetHashCode();
            hash = (hash * 31) + IntArgs.GetHashCode();
            hash = (hash * 31) + (Child?.GetHashCode() ?? 0);
            hash = (hash * 31) + Text.GetHashCode();
            return hash;
        }
    }

    public override string ToString()
        => $"{Kind}({Op}{(Child is null ? "" : " " + Child)}; in=[{string.Join(", ", Inputs)}]; args=[{string.Join(", ", IntArgs)}]{(Flag ? "; keepDim" : "")})";
}
