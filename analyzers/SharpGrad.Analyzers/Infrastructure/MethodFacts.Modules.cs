using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// Which module an expression denotes, as a path: a root (the tensor-flow value of a local or parameter — so aliases
/// agree — or a field of <c>this</c>) and the child members after it (<c>model.body.head</c>). A module reached through a
/// path is part of every module on a prefix of it: <c>model.Eval()</c> also puts <c>model.body</c> in eval mode.
/// </summary>
internal sealed class ModulePath : IEquatable<ModulePath>
{
    public ModulePath(object root, ImmutableArray<ISymbol> members, string text)
    {
        Root = root;
        Members = members;
        Text = text;
    }

    /// <summary>The value (an <see cref="IOperation"/>) of a local or parameter, or the symbol of a field/property of <c>this</c> or the containing type for <c>this</c>.</summary>
    public object Root { get; }

    public ImmutableArray<ISymbol> Members { get; }

    /// <summary>The source text it was read from (for messages).</summary>
    public string Text { get; }

    /// <summary>Is this module <paramref name="other"/> or one of its descendants?</summary>
    public bool IsWithin(ModulePath other)
    {
        if (!RootEquals(other) || other.Members.Length > Members.Length) return false;
        for (int i = 0; i < other.Members.Length; i++)
        {
            if (!SymbolEqualityComparer.Default.Equals(Members[i], other.Members[i])) return false;
        }
        return true;
    }

    /// <summary>One module contains the other (or they are the same).</summary>
    public bool IsRelatedTo(ModulePath other) => IsWithin(other) || other.IsWithin(this);

    private bool RootEquals(ModulePath other) => Root is ISymbol a && other.Root is ISymbol b ? SymbolEqualityComparer.Default.Equals(a, b) : ReferenceEquals(Root, other.Root);

    public bool Equals(ModulePath? other) => other is not null && IsWithin(other) && other.IsWithin(this);

    public override bool Equals(object? obj) => obj is ModulePath p && Equals(p);

    public override int GetHashCode() => Members.Length;
}

internal sealed partial class MethodFacts
{
    /// <summary>The module an expression denotes, or null when it is not a local, a parameter, <c>this</c> or a chain of members on one of those.</summary>
    public ModulePath? PathOf(IOperation expression)
    {
        var members = new List<ISymbol>();
        var op = Unwrap(expression);
        while (op is IMemberReferenceOperation { Member: IFieldSymbol or IPropertySymbol } member && member.Instance is { } instance && instance is not IInstanceReferenceOperation)
        {
            members.Insert(0, member.Member);
            op = Unwrap(instance);
        }
        object root;
        switch (op)
        {
            case ILocalReferenceOperation or IParameterReferenceOperation:
                {
                    var value = ValueOf(op);
                    if (value.Frame is not null) return null;
                    // A value that is itself a member chain (var m = this.model) continues that chain.
                    if (value.Operation is IMemberReferenceOperation && value.Operation != op && PathOf(value.Operation) is { } inner)
                    {
                        return new ModulePath(inner.Root, inner.Members.AddRange(members), AnalyzerSetup.Text(expression));
                    }
                    root = value.Operation is ILocalReferenceOperation local ? local.Local : value.Operation;
                    break;
                }
            case IMemberReferenceOperation { Member: IFieldSymbol or IPropertySymbol } member:
                root = member.Member;
                break;
            case IInstanceReferenceOperation instance when instance.Type is not null:
                root = instance.Type;
                break;
            default:
                return null;
        }
        return new ModulePath(root, members.ToImmutableArray(), AnalyzerSetup.Text(expression));
    }

    /// <summary>Is the module's root state the class's own (a field or <c>this</c>): other methods of the class can change it.</summary>
    public static bool IsClassState(ModulePath path) => path.Root is IFieldSymbol or IPropertySymbol or ITypeSymbol;

    /// <summary>
    /// For an optimizer value built in this method as <c>new Adam(m.Parameters(), …)</c>: the creation and the path of
    /// <c>m</c>; null for anything else (parameter groups, a filtered list, an optimizer made elsewhere).
    /// </summary>
    public (IObjectCreationOperation Creation, ModulePath Module)? OptimizerSource(IOperation optimizer)
    {
        if (ValueOf(optimizer) is not { Frame: null, Operation: IObjectCreationOperation creation } || !_symbols.IsOptimizer(creation.Type)) return null;
        var parameters = creation.Arguments.FirstOrDefault(a => a.ArgumentKind == ArgumentKind.Explicit);
        if (parameters is null || ValueOf(parameters.Value).Operation is not IInvocationOperation { TargetMethod.Name: "Parameters", Instance: { } module }
            || !_symbols.IsModule(module.Type)) return null;
        return PathOf(module) is { } path ? (creation, path) : null;
    }

    /// <summary>
    /// Does the value certainly bring parameters: a new layer of a type that has them (see <see cref="CertainlyHasParameters"/>),
    /// or a new <c>Sequential</c>/<c>ModuleList</c>, an array or a collection expression holding one?
    /// </summary>
    public bool CertainlyAddsParameters(IOperation value, int depth = 0)
    {
        if (depth > 4) return false;
        var op = ValueOf(value).Operation;
        switch (op)
        {
            case IObjectCreationOperation creation when _symbols.IsModule(creation.Type):
                if (CertainlyHasParameters(creation.Type, 0)) return true;
                return creation.Arguments.Any(a => a.ArgumentKind != ArgumentKind.DefaultValue && CertainlyAddsParameters(a.Value, depth + 1));
            case IArrayCreationOperation { Initializer: { } initializer }:
                return initializer.ElementValues.Any(e => CertainlyAddsParameters(e, depth + 1));
            case ICollectionExpressionOperation collection:
                return collection.Elements.Any(e => CertainlyAddsParameters(e, depth + 1));
            case ITupleOperation tuple:
                return tuple.Elements.Any(e => CertainlyAddsParameters(e, depth + 1));
            case IObjectCreationOperation creation when _symbols.Parameter is not null && SharpGradSymbols.DerivesFrom(creation.Type, _symbols.Parameter):
                return true;
            default:
                return false;
        }
    }
}
