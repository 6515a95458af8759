using System.Collections.Generic;
using SharpGrad.Generator.Model;

namespace SharpGrad.Generator.Passes;

/// <summary>
/// The arguments of one IR node as the catalogue's shape rules see them (<see cref="IOpArguments"/>): a layer's constant
/// constructor arguments for a child's Forward, the parsed call's constant arguments otherwise.
/// </summary>
internal sealed class NodeArguments : IOpArguments, ISymbolicArguments
{
    private readonly GraphNode _node;
    private readonly ChildSpec? _child;

    public NodeArguments(GraphNode node, ChildSpec? child)
    {
        _node = node;
        _child = child;
    }

    /// <summary>The catalogue row of a node: its layer's row for a built-in child, else the op's row; null for inputs, constants, calls.</summary>
    public static OpRow? RowOf(GraphNode node, ChildSpec? child)
    {
        if (node.Kind is NodeKind.Input or NodeKind.Constant or NodeKind.Select || node.Op is GraphNode.StateOp or GraphNode.WeightsOp) return null;
        if (node.Op == GraphNode.BoundaryOp && node.Child is not null && node.IntArgs.Count > 0) return OpCatalogue.Find("Identity");
        if (child is { IsBuiltIn: true } && node.Child is not null) return OpCatalogue.ForLayer(child.Kind);
        return node.Kind == NodeKind.Call ? null : OpCatalogue.Find(node.Op);
    }

    /// <summary>True when the node runs a built-in layer (its arguments are the constructor's).</summary>
    public bool IsLayer => _child is { IsBuiltIn: true };

    public double? Number(string name)
    {
        if (IsLayer) return _child!.Arg(name) is { IsKnown: true } a ? a.Number ?? (a.Values.Count == 1 ? a.Values[0] : null) : null;
        return _node.Scalar(name) is { IsKnown: true, String: null } s ? s.Value : null;
    }

    public IReadOnlyList<int>? Ints(string name)
    {
        if (IsLayer) return _child!.Arg(name) is { IsKnown: true, Values.Count: > 0 } a ? a.Values : null;
        if (_node.Scalar(name) is not { } s) return null;
        if (!s.Ints.IsEmpty) return s.Ints;
        return s.IsKnown && s.String is null && s.Value == System.Math.Floor(s.Value) ? new[] { (int)s.Value } : null;
    }

    /// <summary>A layer's size bound when the module is built (<c>hidden</c> in <c>new Linear(4, hidden)</c>), or null.</summary>
    public string? Symbol(string name) => IsLayer ? _child!.Arg(name)?.Symbol : null;

    public string? Text(string name) => IsLayer ? _child!.Arg(name)?.String : _node.Scalar(name)?.String;

    public bool Has(string name) => IsLayer ? _child!.Arg(name) is not null : _node.Scalar(name) is not null;
}
