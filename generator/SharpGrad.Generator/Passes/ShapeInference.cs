using System.Linq;
using System.Collections.Generic;
using System.Threading;
using SharpGrad.Generator.Model;

namespace SharpGrad.Generator.Passes;

/// <summary>
/// Shape inference over the graph IR: each op node asks its catalogue row's shape rule (<see cref="ShapeRules"/>, shared
/// with the analyzers and the runtime), with symbolic dims (<c>N</c>) carried through and constant arguments folded in.
/// Every mismatch a rule can prove is an error at the expression, naming both shapes; where a shape is not known it
/// stays silent (an unknown shape, or an unknown dim <c>?</c>, never produces an error).
/// </summary>
internal sealed class ShapeInference
{
    private readonly ModuleGraph _graph;
    private readonly List<DiagnosticInfo> _diagnostics;
    private GraphMethod _method = null!;
    private TensorShape?[] _shapes = [];
    private int _current;

    private ShapeInference(ModuleGraph graph, List<DiagnosticInfo> diagnostics)
    {
        _graph = graph;
        _diagnostics = diagnostics;
    }

    /// <summary>Runs the pass: the spec gains the inferred <see cref="ModuleSpec.Shapes"/> and any diagnostics.</summary>
    public static ModuleSpec Run(ModuleSpec spec, CancellationToken token)
    {
        if (spec.Graph is not { } graph || spec.IsSequential) return spec;
        var diagnostics = new List<DiagnosticInfo>(spec.Diagnostics);
        foreach (var issue in graph.NotCompilable.Where(i => i.IsBreak))
        {
            diagnostics.Add(new DiagnosticInfo(issue.Id, issue.Location, new[] { spec.ClassName, issue.What, issue.Reason }.ToEquatableArray()));
        }

        var pass = new ShapeInference(graph, diagnostics);
        var shapes = new List<MethodShapes>();
        foreach (var method in graph.Methods)
        {
            token.ThrowIfCancellationRequested();
            var inferred = pass.InferMethod(method);
            if (method.RegionOf is null) shapes.Add(inferred);   // a region's shapes are the planner's business
        }
        return spec with { Shapes = shapes.ToEquatableArray(), Diagnostics = diagnostics.ToEquatableArray() };
    }

    /// <summary>The shape of every node of <paramref name="method"/> (for tests and later passes).</summary>
    internal static TensorShape?[] InferNodes(ModuleSpec spec, GraphMethod method, List<DiagnosticInfo> diagnostics)
    {
        var pass = new ShapeInference(spec.Graph!, diagnostics);
        pass.InferMethod(method);
        return pass._shapes;
    }

    /// <summary>The batch symbol of a method: dim 0 of its first tensor input's shape, or N.</summary>
    internal static Dim BatchOf(GraphMethod method)
    {
        foreach (var input in method.Inputs)
        {
            if (input.Shape is { Rank: > 0 } shape) return shape[0];
            break;
        }
        return Dim.Sym(Inliner.BatchSymbol);
    }

    private MethodShapes InferMethod(GraphMethod method)
    {
        _method = method;
        _shapes = new TensorShape?[method.Nodes.Count];
        for (int i = 0; i < method.Nodes.Count; i++)
        {
            _current = i;
            // A region for one value of a test (`residual = cin == cout`): the sizes the test makes equal are one size in it.
            _shapes[i] = method.Canonical(Infer(method.Nodes[i]));
        }
        var output = method.Output >= 0 ? _shapes[method.Output] : null;
        return new MethodShapes(method.Name, method.Inputs, output);
    }

    /// <summary>The dim a size read at run time stands for (<c>tokens.Size(1)</c> ⇒ T of tokens' [N, T]); null when not known.</summary>
    private Dim? SizeRead(int code)
    {
        var (node, dim) = ShapeRules.SizeReadOf(code);
        if (node >= _current || _shapes[node] is not { } shape || ShapeRules.Normalize(dim, shape.Rank) is not { } d) return null;
        return shape[d];
    }

    private TensorShape? In(GraphNode node, int i) => i < node.Inputs.Count ? _shapes[node.Inputs[i]] : null;

    private TensorShape? Infer(GraphNode node)
    {
        switch (node.Kind)
        {
            case NodeKind.Input:
                // A Parameter/Buffer member: its sizes when the parser found them.
                return node.Op == "Input" ? _method.Inputs[node.IntArgs[0]].Shape : node.IntArgs.Count > 0 ? TensorShape.Of(node.IntArgs) : null;
            case NodeKind.Constant:
                return TensorShape.Scalar;
            case NodeKind.Select:
                return In(node, 0) is { } a && a.Equals(In(node, 1)) ? a : null;
        }
        var child = node.Child is null ? null : _graph.FindChild(node.Child);
        if (node.Op == GraphNode.StateOp)
        {
            // h_n / c_n: [L·D, N, H] from the layer's arguments and the layer's input.
            var layer = _method.Nodes[node.Inputs[0]];
            if (NodeArguments.RowOf(layer, child) is not { } layerRow) return null;
            var args = new NodeArguments(layer, child);
            return OpCatalogue.RecurrentStates(new ShapeCall(layerRow, [In(layer, 0)], args, BatchOf(_method), args.IsLayer)).Shape;
        }
        if (node.Op == GraphNode.WeightsOp)
        {
            // The attention weights: [N, L, S] averaged over the heads, [N, heads, L, S] per head (batch first whatever batch_first is).
            var layer = _method.Nodes[node.Inputs[0]];
            if (NodeArguments.RowOf(layer, child) is not { } layerRow || layer.Scalar("key") is not { } keySlot) return null;
            var args = new NodeArguments(layer, child);
            return OpCatalogue.AttentionWeights(new ShapeCall(layerRow, [In(layer, 0), In(layer, (int)keySlot.Value)], args, BatchOf(_method), args.IsLayer),
                node.Scalar("average") is not { Value: 0 }).Shape;
        }
        if (NodeArguments.RowOf(node, child) is not { Shape: { } rule } row) return null;
        var inputs = new TensorShape?[node.Inputs.Count];
        for (int k = 0; k < inputs.Length; k++) inputs[k] = In(node, k);
        var arguments = new NodeArguments(node, child);
        var result = rule(new ShapeCall(row, inputs, arguments, BatchOf(_method), arguments.IsLayer) { Reads = SizeRead });
        if (result.Error is { } error) Report(error, node, child);
        return result.Shape;
    }

    /// <summary>Reports a mismatch at the node (SG1010–SG1014, SG1018), unless it was inlined from a child that reports it itself.</summary>
    private void Report(ShapeError error, GraphNode node, ChildSpec? child)
    {
        // A region's nodes were parsed twice (with the whole method, and as a region): reported once, by the method.
        if (_method.IsInlined(_current) || _method.RegionOf is not null) return;
        var a = error.Args;
        string childName = child?.Name ?? node.Child ?? node.Text;
        string[] args;
        string id;
        switch (error.Kind)
        {
            case ShapeErrorKind.LinearInFeatures:
                id = DiagnosticDescriptors.LinearInFeaturesId;
                args = [childName, $"Linear({a[0]}, {a[1]})", a[0], node.InputText(0), a[3], From(node, 0), $"Linear({a[2]}, {a[1]})"];
                break;
            case ShapeErrorKind.ConvInChannels:
                id = DiagnosticDescriptors.ConvInChannelsId;
                args = [childName, $"{a[0]}({a[1]}, {a[2]}, …)", a[1], node.InputText(0), a[4], From(node, 0), $"{a[0]}({a[3]}, {a[2]}, …)"];
                break;
            case ShapeErrorKind.ViewElementCount:
                id = DiagnosticDescriptors.ViewElementCountId;
                args = [node.Text, node.InputText(0), a[0], a[1], a[2], a[3]];
                break;
            case ShapeErrorKind.MatMulInnerDims:
                id = DiagnosticDescriptors.MatMulInnerDimsId;
                args = [node.Text, node.InputText(0), a[0], node.InputText(1), a[1], a[2], a[3]];
                break;
            case ShapeErrorKind.Broadcast:
                id = DiagnosticDescriptors.BroadcastMismatchId;
                args = [node.Text, node.InputText(0), a[0], node.InputText(1), a[1], a[2], a[3], a[4]];
                break;
            case ShapeErrorKind.Join:
            {
                int k = int.Parse(a[2], System.Globalization.CultureInfo.InvariantCulture);
                id = DiagnosticDescriptors.SliceShapesId;
                args = [node.Text, node.InputText(k), a[1], $"{node.Op} needs {a[3]}, but `{node.InputText(0)}` has shape {a[0]}",
                    "make the shapes agree (or join along the dim where they differ)"];
                break;
            }
            case ShapeErrorKind.Window:
                id = DiagnosticDescriptors.SliceShapesId;
                args = [node.Text, node.InputText(0), a[0], a[1], "change the arguments to fit the shape"];
                break;
            default:
                id = DiagnosticDescriptors.LossShapesId;
                args = [node.Text, node.InputText(0), a[0], node.InputText(1), a[1], a[2]];
                break;
        }
        _diagnostics.Add(new DiagnosticInfo(id, node.Location, args.ToEquatableArray()));
    }

    /// <summary>" (from `h.View(-1, 512)`)" when input <paramref name="i"/> was produced by an expression other than the one written here.</summary>
    private string From(GraphNode node, int i)
    {
        var producer = _method.Nodes[node.Inputs[i]];
        if (producer.Kind == NodeKind.Input || producer.Text == node.InputText(i)) return "";
        return " (from `" + producer.Text + "`)";
    }
}
