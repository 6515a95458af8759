using System.Collections.Generic;
using Microsoft.CodeAnalysis.CSharp;

namespace SharpGrad.Generator.Planning;

/// <summary>
/// Names every value of a planned method after the source, for the generated code: a method input by its parameter
/// (<c>x</c>), a child's output by its path (<c>fc1_out</c>, <c>features_0_out</c>), any other op by its PyTorch name
/// (<c>relu_out</c>, <c>view_out</c>); a repeated name gets a number (<c>relu_out_2</c>).
/// </summary>
internal static class ValueNames
{
    /// <summary>Names the method bodies use for themselves (the batch size, loop variables, the training flag).</summary>
    private static readonly HashSet<string> Reserved = new() { "n", "j", "len", "training" };

    public static void Assign(MethodDraft m)
    {
        var used = new HashSet<string>(Reserved);
        var scope = Scopes(m);
        for (int i = 0; i < m.Count; i++)
        {
            var node = m.Node(i);
            if (m.Nodes[i].Rule is RuleKind.None or RuleKind.Constant) continue;
            string name = node.Kind == NodeKind.Input && node.Op == "Input"
                ? m.Method.Inputs[node.IntArgs[0]].Name
                : node.Child is { } child && child != "this"
                    ? ProgramDraft.Identifier(m.Child(i)?.Path ?? child) + "_out"
                    : scope[i] + (node.Kind == NodeKind.Select ? "select" : m.Row(i)?.PyTorchName ?? node.Op.ToLowerInvariant()) + "_out";
            if (SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None || SyntaxFacts.GetContextualKeywordKind(name) != SyntaxKind.None) name += "_value";
            string unique = name;
            for (int k = 2; !used.Add(unique); k++) unique = name + "_" + MethodDraft.I(k);
            m.Nodes[i] = m.Nodes[i] with { Name = unique };
        }
    }

    /// <summary>
    /// The name prefix of an op inside an inlined child (<c>block0_</c> for the ReLU of <c>block0.Forward</c>): the path
    /// of the innermost child whose nodes (from after its call's arguments to its boundary) contain it; "" outside.
    /// </summary>
    private static string[] Scopes(MethodDraft m)
    {
        var scope = new string[m.Count];
        for (int i = 0; i < m.Count; i++) scope[i] = "";
        for (int b = 0; b < m.Count; b++)
        {
            var n = m.Nodes[b];
            if (n.Rule != RuleKind.Boundary || n.Module is null) continue;
            string prefix = ProgramDraft.Identifier(n.Module.Path) + "_";
            // Inner children end before outer ones, so the innermost scope is assigned first.
            for (int k = BoundaryRule.Start(n); k < b; k++) if (scope[k].Length == 0) scope[k] = prefix;
        }
        return scope;
    }
}
