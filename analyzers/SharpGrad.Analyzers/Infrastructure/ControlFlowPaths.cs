using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// Paths through a method body's control-flow graph (the compiler's, shared by every analyzer of the block), for rules
/// about the order of calls — "can <c>model.Eval()</c> reach <c>optimizer.Step()</c> without passing <c>model.Train()</c>?".
/// Operations are found by their syntax (the graph holds rewritten copies); code inside lambdas and local functions has
/// graphs of its own and is not found here, so the rules stay silent on it.
/// </summary>
internal sealed class ControlFlowPaths
{
    private static readonly ConditionalWeakTable<ControlFlowGraph, ControlFlowPaths> Cache = new();

    private readonly ControlFlowGraph _graph;
    private readonly Dictionary<SyntaxNode, List<(int Block, int Index)>> _positions = new();

    /// <summary>The paths of the block the analyzed operation belongs to (built once per graph, shared by the rules).</summary>
    public static ControlFlowPaths Of(OperationAnalysisContext context) => Cache.GetValue(context.GetControlFlowGraph(), graph => new ControlFlowPaths(graph));

    private ControlFlowPaths(ControlFlowGraph graph)
    {
        _graph = graph;
        foreach (var block in graph.Blocks)
        {
            for (int i = 0; i <= block.Operations.Length; i++)
            {
                var op = i < block.Operations.Length ? block.Operations[i] : block.BranchValue;
                if (op is null) continue;
                foreach (var d in op.DescendantsAndSelf())
                {
                    if (!_positions.TryGetValue(d.Syntax, out var list)) _positions[d.Syntax] = list = new List<(int, int)>(1);
                    if (!list.Contains((block.Ordinal, i))) list.Add((block.Ordinal, i));
                }
            }
        }
    }

    /// <summary>Is the operation part of this graph (not inside a lambda or local function)?</summary>
    public bool Contains(IOperation operation) => _positions.ContainsKey(operation.Syntax);

    /// <summary>
    /// Can control go from <paramref name="from"/> to <paramref name="to"/> without running any operation for which
    /// <paramref name="isBarrier"/> holds? Both must be in the graph; a barrier found in the same step as either end blocks.
    /// </summary>
    public bool MayReach(IOperation from, IOperation to, Func<SyntaxNode, bool> isBarrier)
    {
        if (!_positions.TryGetValue(from.Syntax, out var starts) || !_positions.TryGetValue(to.Syntax, out var targets)) return false;
        var barriers = new HashSet<(int Block, int Index)>();
        foreach (var pair in _positions)
        {
            if (isBarrier(pair.Key)) barriers.UnionWith(pair.Value);
        }

        var entered = new HashSet<int>();
        var pending = new Stack<int>();
        foreach (var (block, index) in starts)
        {
            if (Scan(block, index + 1, targets, barriers, pending)) return true;
        }
        while (pending.Count > 0)
        {
            int block = pending.Pop();
            if (!entered.Add(block)) continue;
            if (Scan(block, 0, targets, barriers, pending)) return true;
        }
        return false;
    }

    /// <summary>Scans a block from <paramref name="start"/>: true at a target before any barrier; its successors are queued when neither is met.</summary>
    private bool Scan(int ordinal, int start, List<(int Block, int Index)> targets, HashSet<(int Block, int Index)> barriers, Stack<int> pending)
    {
        var block = _graph.Blocks[ordinal];
        for (int i = start; i <= block.Operations.Length; i++)
        {
            if (barriers.Contains((ordinal, i))) return false;
            if (targets.Contains((ordinal, i))) return true;
        }
        if (block.FallThroughSuccessor?.Destination is { } next) pending.Push(next.Ordinal);
        if (block.ConditionalSuccessor?.Destination is { } branch) pending.Push(branch.Ordinal);
        return false;
    }
}
