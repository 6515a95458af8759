using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using SharpGrad.Generator.Model;

namespace SharpGrad.Generator.Parsing;

/// <summary>
/// Statement linearization in evaluation order (A-normal form) for a statement that breaks the graph, or that calls a child
/// with a compiled program of its own (a <c>TransformerDecoder</c>, …) after an operand that computes: the first <i>barrier</i>
/// in C#'s evaluation order (a sub-expression that breaks by itself, or a composed call) is found, every operand the statement
/// evaluates before it is computed first into a temporary (<c>__sgPart0</c>, …) in that order — a region where it compiles —
/// then the barrier (eagerly, or by the child's own program), and the statement is parsed again with those temporaries in
/// their places (<see cref="_composedValues"/>), so operands evaluated after a break still compile. Nothing is moved out of a
/// branch that may not run (the right of <c>&amp;&amp;</c>, <c>||</c>, <c>??</c>, the arms of <c>?:</c>, after <c>?.</c>), and
/// each operand is evaluated once, in the order written: random draws (dropout) and hooks run as PyTorch runs them.
/// </summary>
internal sealed partial class GraphParser
{
    /// <summary>The sub-expressions computed eagerly into a temporary (a break): their shapes are not known at build time.</summary>
    private readonly HashSet<SyntaxNode> _eagerValues = new();

    /// <summary>
    /// The plan for one statement: the operands evaluated before the barrier, in order; the barrier; and whether the barrier stays
    /// in the statement (it is the whole value, or nothing after it would compile: only the operands are computed first, the
    /// statement itself runs as written).
    /// </summary>
    private sealed record Linearized(List<ExpressionSyntax> Before, ExpressionSyntax Barrier, bool Whole);

    /// <summary>The value of a statement the linearization takes: a declaration's initializer, an assignment's right, a call, a return's value.</summary>
    private static ExpressionSyntax? LinearizedValue(StatementSyntax? statement) => statement switch
    {
        LocalDeclarationStatementSyntax { Declaration.Variables: [{ Initializer.Value: var init }] } => init,
        ExpressionStatementSyntax { Expression: AssignmentExpressionSyntax { Left: IdentifierNameSyntax } assignment }
            when assignment.IsKind(SyntaxKind.SimpleAssignmentExpression) => assignment.Right,
        ExpressionStatementSyntax { Expression: InvocationExpressionSyntax call } => call,
        ReturnStatementSyntax { Expression: { } returned } => returned,
        _ => null,
    };

    /// <summary>
    /// The plan for <paramref name="statement"/> (or the expression body <paramref name="body"/>), or null when there is nothing to
    /// compute first: no barrier, the barrier stays in the statement with no operand before it, or the value has an effect the
    /// rewrite could move (an assignment, <c>++</c>, <c>out var</c>, a <c>ref</c> argument, <c>await</c>).
    /// </summary>
    private Linearized? Linearize(StatementSyntax? statement, ExpressionSyntax? body = null)
    {
        var value = body ?? LinearizedValue(statement);
        if (value is null || !Linearizable(value)) return null;
        var before = new List<ExpressionSyntax>();
        var compiles = new Dictionary<SyntaxNode, (bool Ok, bool Computes, bool Data)>();
        var barrier = Barrier(value, before, compiles);
        if (barrier is null) return null;
        bool composed = ComposedInvocation(barrier) is not null;
        // A break is computed into a temporary of its own only when something after it compiles: an operand that computes without
        // it (what computes with it, a child's call reading it included, runs eagerly: Breaks); else it stays in the statement,
        // which runs as written.
        bool kept = !composed && (Unparenthesized(value) == barrier || !ComputesAfter(value, barrier, compiles));
        var parts = before.Where(p => Needed(p, compiles)).ToList();
        if (kept && parts.Count == 0) return null;
        return new Linearized(parts, barrier, kept);
    }

    /// <summary>True when an operand evaluated after <paramref name="barrier"/> (not holding it) computes a tensor and compiles.</summary>
    private bool ComputesAfter(ExpressionSyntax value, ExpressionSyntax barrier, Dictionary<SyntaxNode, (bool Ok, bool Computes, bool Data)> compiles)
        => value.DescendantNodesAndSelf(n => n is not AnonymousFunctionExpressionSyntax).OfType<ExpressionSyntax>()
            .Any(e => e.SpanStart >= barrier.Span.End && !Plain(e) && IsTensorValue(e) && Compiles(e, compiles) is { Ok: true, Computes: true, Data: false });

    private static ExpressionSyntax Unparenthesized(ExpressionSyntax e)
    {
        while (e is ParenthesizedExpressionSyntax p) e = p.Expression;
        return e;
    }

    /// <summary>False when the value holds what a temporary would reorder or change: assignments, increments, declarations, by-ref arguments, await.</summary>
    private static bool Linearizable(ExpressionSyntax value)
        => !value.DescendantNodesAndSelf(n => n is not AnonymousFunctionExpressionSyntax).Any(n => n
            is AssignmentExpressionSyntax or DeclarationExpressionSyntax or DeclarationPatternSyntax or AwaitExpressionSyntax
            or StackAllocArrayCreationExpressionSyntax or RefExpressionSyntax
            || n is PrefixUnaryExpressionSyntax or PostfixUnaryExpressionSyntax && (n.IsKind(SyntaxKind.PreIncrementExpression) || n.IsKind(SyntaxKind.PreDecrementExpression)
                || n.IsKind(SyntaxKind.PostIncrementExpression) || n.IsKind(SyntaxKind.PostDecrementExpression))
            || n is ArgumentSyntax a && !a.RefKindKeyword.IsKind(SyntaxKind.None));

    /// <summary>
    /// The first barrier in evaluation order inside <paramref name="e"/> (post-order: operands left to right, then the node), the
    /// operands evaluated before it appended to <paramref name="before"/> (complete sub-expressions: the operands before the path
    /// to the barrier and, for a break, the barrier's own operands); null when <paramref name="e"/> holds none.
    /// </summary>
    private ExpressionSyntax? Barrier(ExpressionSyntax e, List<ExpressionSyntax> before, Dictionary<SyntaxNode, (bool Ok, bool Computes, bool Data)> compiles)
    {
        if (Plain(e)) return null;
        int mark = before.Count;
        foreach (var operand in Operands(e))
        {
            if (Barrier(operand, before, compiles) is { } inner) return inner;
            before.Add(operand);
        }
        bool composed = ComposedInvocation(e) is not null;
        if (composed || Breaks(e, compiles))
        {
            // A composed call computes its arguments itself (ComposedStatement); a break's operands are computed before it.
            if (composed) before.RemoveRange(mark, before.Count - mark);
            return e;
        }
        before.RemoveRange(mark, before.Count - mark);
        return null;
    }

    /// <summary>
    /// True for a tensor sub-expression that does not compile on its own, or that computes with an operand computed eagerly (a
    /// break's value, whose shape the build does not know — also as a child's input: <c>fc.Forward(h)</c> takes any leading dims,
    /// so the layer does not give h its rank; <c>fc.Forward(Functional.Pad(t, …))</c> of a [N, C, L] t): its other operands are
    /// computed first (regions where they compile), it runs eagerly.
    /// </summary>
    private bool Breaks(ExpressionSyntax e, Dictionary<SyntaxNode, (bool Ok, bool Computes, bool Data)> compiles)
    {
        if (!IsTensorValue(e)) return false;
        var (ok, computes, _) = Compiles(e, compiles);
        if (!ok) return true;
        if (!computes) return false;
        return Operands(e).Any(o => _eagerValues.Contains(Unparenthesized(o)));
    }

    /// <summary>
    /// True when <paramref name="value"/> (a statement's value, <see cref="LinearizedValue"/>) computes with a break's value computed into a temporary (<see cref="_eagerValues"/>):
    /// the shape of that value is not known at build time, so the statement runs as written.
    /// </summary>
    private bool ComputesWithEagerValue(ExpressionSyntax? value)
    {
        if (_eagerValues.Count == 0 || value is null) return false;
        var compiles = new Dictionary<SyntaxNode, (bool Ok, bool Computes, bool Data)>();
        return value.DescendantNodesAndSelf().OfType<ExpressionSyntax>().Any(e => !Plain(e) && Operands(e).Any(o => _eagerValues.Contains(Unparenthesized(o))) && Breaks(e, compiles));
    }

    private bool IsTensorValue(ExpressionSyntax e) => _model.GetTypeInfo(e, _token).Type is { } type && ModuleParser.IsTensor(type);

    /// <summary>Whether <paramref name="e"/> parses as a region of its own with no break, and whether it computes (not an input or a constant).</summary>
    private (bool Ok, bool Computes, bool Data) Compiles(ExpressionSyntax e, Dictionary<SyntaxNode, (bool Ok, bool Computes, bool Data)> compiles)
    {
        if (compiles.TryGetValue(e, out var known)) return known;
        int issues = _issues.Count;
        var result = Aside(() =>
        {
            int node;
            try
            {
                node = Expr(e);
                if (_issues.Count != issues || _eager.Count > 0) node = -1;
            }
            catch (UnsupportedException)
            {
                node = -1;
            }
            bool computes = node >= 0 && _nodes[node].Kind is not (NodeKind.Input or NodeKind.Constant);
            return (node >= 0, computes, computes && IsData(node));
        });
        _issues.RemoveRange(issues, _issues.Count - issues);
        return compiles[e] = result;
    }

    /// <summary>
    /// Runs <paramref name="parse"/> in a region of its own with the parser's state set aside: the nodes, environments, eager
    /// statements, region inputs, the undecided test and the implied facts are as they were afterwards (the issues it adds are the
    /// caller's to keep or drop).
    /// </summary>
    private T Aside<T>(System.Func<T> parse)
    {
        var saved = (_nodes, _env, _intEnv, _eager, _regionInputs, _undecided, Implied: _implied.ToList());
        OpenRegion();
        try
        {
            return parse();
        }
        finally
        {
            (_nodes, _env, _intEnv, _eager, _regionInputs, _undecided) = (saved._nodes, saved._env, saved._intEnv, saved._eager, saved._regionInputs, saved._undecided);
            _implied.Clear();
            _implied.UnionWith(saved.Implied);
        }
    }

    /// <summary>
    /// True for an operand that must be computed before the barrier: one that computes a tensor, or any other with a possible
    /// effect (a call, an object creation); a local, a field, a constant, a pure size read, a data op stay in place.
    /// </summary>
    private bool Needed(ExpressionSyntax e, Dictionary<SyntaxNode, (bool Ok, bool Computes, bool Data)> compiles)
    {
        if (Plain(e)) return false;
        // A data op of constants and sizes (Tensor.Arange(3), a mask) draws nothing and computes no gradient: it stays in place.
        if (IsTensorValue(e)) return Compiles(e, compiles) is not { Ok: true, Computes: false } and not { Ok: true, Data: true };
        if (_model.GetTypeInfo(e, _token).Type is null) return false;   // a lambda, a method group, null: no value of its own to keep
        return e.DescendantNodesAndSelf(n => n is not AnonymousFunctionExpressionSyntax).Any(n => n is ObjectCreationExpressionSyntax or ImplicitObjectCreationExpressionSyntax
            || n is InvocationExpressionSyntax { Expression: var called } && called is not MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Size" or "Dim" });
    }

    /// <summary>
    /// The operands of <paramref name="e"/> in C#'s evaluation order, only those always evaluated: a call's receiver and arguments,
    /// both operands of an arithmetic operator, the left of <c>&amp;&amp;</c>/<c>||</c>/<c>??</c>, the condition of <c>?:</c>, the
    /// receiver of <c>?.</c>, elements of a tuple or a list; none for anything else (a lambda, a switch, an interpolated string).
    /// </summary>
    private IEnumerable<ExpressionSyntax> Operands(ExpressionSyntax e)
    {
        switch (e)
        {
            case ParenthesizedExpressionSyntax p:
                return [p.Expression];
            case CastExpressionSyntax c:
                return [c.Expression];
            case CheckedExpressionSyntax c:
                return [c.Expression];
            case PostfixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.SuppressNullableWarningExpression } forgiven:
                return [forgiven.Operand];
            case PrefixUnaryExpressionSyntax unary when unary.IsKind(SyntaxKind.UnaryMinusExpression) || unary.IsKind(SyntaxKind.UnaryPlusExpression)
                                                       || unary.IsKind(SyntaxKind.LogicalNotExpression) || unary.IsKind(SyntaxKind.BitwiseNotExpression):
                return [unary.Operand];
            case BinaryExpressionSyntax binary when binary.IsKind(SyntaxKind.LogicalAndExpression) || binary.IsKind(SyntaxKind.LogicalOrExpression)
                                                   || binary.IsKind(SyntaxKind.CoalesceExpression) || binary.IsKind(SyntaxKind.AsExpression)
                                                   || binary.IsKind(SyntaxKind.IsExpression):
                return [binary.Left];
            case BinaryExpressionSyntax binary:
                return [binary.Left, binary.Right];
            case ConditionalExpressionSyntax conditional:
                return [conditional.Condition];
            case ConditionalAccessExpressionSyntax access:
                return [access.Expression];
            case InvocationExpressionSyntax call:
            {
                var operands = new List<ExpressionSyntax>();
                if (call.Expression is MemberAccessExpressionSyntax { Expression: var receiver } && receiver is not (ThisExpressionSyntax or BaseExpressionSyntax)
                    && _model.GetSymbolInfo(receiver, _token).Symbol is not (INamedTypeSymbol or INamespaceSymbol)) operands.Add(receiver);
                else if (call.Expression is not (IdentifierNameSyntax or GenericNameSyntax or MemberAccessExpressionSyntax)) return [];
                operands.AddRange(call.ArgumentList.Arguments.Select(a => a.Expression));
                return operands;
            }
            case MemberAccessExpressionSyntax { Expression: var inner } when inner is not (ThisExpressionSyntax or BaseExpressionSyntax)
                                                                          && _model.GetSymbolInfo(inner, _token).Symbol is not (INamedTypeSymbol or INamespaceSymbol):
                return [inner];
            case ElementAccessExpressionSyntax element:
                return new[] { element.Expression }.Concat(element.ArgumentList.Arguments.Select(a => a.Expression));
            case TupleExpressionSyntax tuple:
                return tuple.Arguments.Select(a => a.Expression);
            case CollectionExpressionSyntax collection when collection.Elements.All(x => x is ExpressionElementSyntax):
                return collection.Elements.Cast<ExpressionElementSyntax>().Select(x => x.Expression);
            case ImplicitArrayCreationExpressionSyntax { Initializer: var init }:
                return init.Expressions;
            case ArrayCreationExpressionSyntax array:
                return array.Type.RankSpecifiers.SelectMany(r => r.Sizes).Where(s => s is not OmittedArraySizeExpressionSyntax)
                    .Concat(array.Initializer?.Expressions ?? default);
            case BaseObjectCreationExpressionSyntax { Initializer: null, ArgumentList: { } arguments }:
                return arguments.Arguments.Select(a => a.Expression);
            default:
                return [];
        }
    }

    /// <summary>
    /// Names the break of a barrier that runs eagerly (the method's parse stopped at the first break of the statement, which may
    /// have been a composed call, now no break): the issue its parse gives, as <see cref="ArgumentRegion"/> names it; reported once.
    /// </summary>
    private void NameBreak(IMethodSymbol method, ExpressionSyntax barrier)
    {
        int issues = _issues.Count;
        Aside(() =>
        {
            try
            {
                Expr(barrier);
            }
            catch (UnsupportedException e)
            {
                if (e.Issue is not null) _issues.Add(e.Issue);
            }
            return 0;
        });
        for (int j = issues; j < _issues.Count; j++) _issues[j] = _issues[j] with { Method = method.Name };
    }

    /// <summary>
    /// Runs the plan for statement <paramref name="i"/> (or an expression body, <paramref name="start"/> −1): each operand before
    /// the barrier into its temporary — a region where it computes and compiles (the first joining the region open since
    /// <paramref name="start"/> where <see cref="JoinArgument"/> allows), else eagerly — then the barrier: a composed call by its own
    /// program (<see cref="ComposedStatement"/>), a break eagerly (<c>var __sgPart1 = Helper(x);</c>). The statement is then
    /// parsed again with the temporaries in their places.
    /// </summary>
    private void HoistInOrder(IMethodSymbol method, SyntaxList<StatementSyntax> statements, int start, int i, RegionOutputs? current, Linearized plan,
                              List<MethodSegment> segments)
    {
        bool open = start >= 0;
        void Close()
        {
            if (open && i > start && current is not null) CloseRegion(method, statements, start, i - 1, current, segments);
            else if (open && i > start) AddEager(segments, Code(statements, start, i - 1), Lines(statements[start], statements[i - 1]), Writes(statements, start, i - 1));
            open = false;
        }
        var compiles = new Dictionary<SyntaxNode, (bool Ok, bool Computes, bool Data)>();
        foreach (var part in plan.Before)
        {
            string name = NextPart();
            if (IsTensorValue(part) && Compiles(part, compiles) is { Ok: true, Computes: true })
            {
                if (!(open && JoinArgument(method, statements, start, i, part, name, segments)))
                {
                    Close();
                    ArgumentRegion(method, part, name, segments);
                }
                open = false;
            }
            else
            {
                Close();
                AddEager(segments, "var " + name + " = " + Substituted(part) + ";", Lines(part, part), new List<string>());
                if (IsTensorValue(part)) _eagerValues.Add(part);
            }
            _composedValues[part] = name;
        }
        if (plan.Whole)
        {
            Close();
            return;
        }
        string value = NextPart();
        if (ComposedInvocation(plan.Barrier) is { } composed)
        {
            ComposedStatement(method, statements, open ? start : -1, i, current, composed, segments, value);
        }
        else
        {
            Close();
            NameBreak(method, plan.Barrier);
            AddEager(segments, "var " + value + " = " + Substituted(plan.Barrier) + ";", Lines(plan.Barrier, plan.Barrier), new List<string>());
            _eagerValues.Add(plan.Barrier);
        }
        _composedValues[plan.Barrier] = value;
    }
}
