using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;
using SharpGrad.Generator.Model;

namespace SharpGrad.Generator.Compiler;

/// <summary>
/// Reads the child fields of a module and their constructor arguments from the field initialisers
/// (<c>readonly Linear fc1 = new(784, 256);</c>), every constructor parameter bound, defaults included.
/// A child without a constant construction is recorded as a <see cref="GraphIssue"/> (its shapes are unknown).
/// </summary>
internal static class ChildParser
{
    public static List<ChildSpec> Parse(INamedTypeSymbol type, Compilation compilation, List<GraphIssue> issues, CancellationToken token)
    {
        var children = new List<ChildSpec>();
        foreach (var member in type.GetMembers())
        {
            token.ThrowIfCancellationRequested();
            if (member.IsStatic || member.IsImplicitlyDeclared) continue;
            ITypeSymbol? memberType = member switch
            {
                IFieldSymbol { IsConst: false } f => f.Type,
                IPropertySymbol { IsIndexer: false } p => p.Type,
                _ => null,
            };
            if (memberType is null) continue;
            var location = LocationInfo.From(member.Locations.FirstOrDefault());

            if (!ModuleParser.IsModuleType(memberType))
            {
                if (memberType is IArrayTypeSymbol or INamedTypeSymbol { IsGenericType: true } && ModuleParser.IsStateMemberType(memberType))
                {
                    issues.Add(new GraphIssue(DiagnosticDescriptors.NotStaticGraphId, location, "the list of children '" + member.Name + "'",
                        "unrolling a foreach over children is not implemented yet; declare each child as its own field"));
                }
                continue;
            }

            bool builtIn = memberType.ContainingNamespace?.ToDisplayString() == "SharpGrad.Layers";
            string kind = memberType.Name;
            var initializer = Initializer(member, token);
            if (initializer is null)
            {
                issues.Add(new GraphIssue(DiagnosticDescriptors.ChildNotConstantId, location, member.Name,
                    "it has no field initialiser; declare it as `readonly " + kind + " " + member.Name + " = new(…);` with constant arguments"));
                children.Add(new ChildSpec(member.Name, kind, builtIn, default, ""));
                continue;
            }

            var model = compilation.GetSemanticModel(initializer.SyntaxTree);
            var creation = model.GetOperation(initializer, token);
            while (creation is IConversionOperation conversion) creation = conversion.Operand;
            var args = new List<ChildArg>();
            string? notConstant = null;
            if (creation is IObjectCreationOperation objectCreation)
            {
                foreach (var argument in objectCreation.Arguments.OrderBy(a => a.Parameter?.Ordinal ?? 0))
                {
                    var ints = new List<int>();
                    var value = argument.Value;
                    while (value is IConversionOperation { ConstantValue.HasValue: false } widening) value = widening.Operand; // 0.1 → double?
                    bool known = GraphParser.Ints(value, ints)
                                 || value.ConstantValue.HasValue   // null, doubles, strings: constant, not a shape
                                 || value is IDefaultValueOperation;
                    if (!known && kind != "Sequential" && notConstant is null) notConstant = GraphParser.Text(argument.Syntax);
                    args.Add(new ChildArg(argument.Parameter?.Name ?? "", ints.ToEquatableArray(), known));
                }
            }
            else
            {
                notConstant = GraphParser.Text(initializer);
            }

            if (notConstant is not null)
            {
                issues.Add(new GraphIssue(DiagnosticDescriptors.ChildNotConstantId, LocationInfo.From(initializer.GetLocation()), member.Name,
                    "its argument `" + notConstant + "` is not a compile-time constant; use constants (or const fields) so its shapes are known at build time"));
            }
            children.Add(new ChildSpec(member.Name, kind, builtIn, args.ToEquatableArray(), GraphParser.Text(initializer)));
        }
        return children;
    }

    private static ExpressionSyntax? Initializer(ISymbol member, CancellationToken token)
    {
        foreach (var reference in member.DeclaringSyntaxReferences)
        {
            switch (reference.GetSyntax(token))
            {
                case VariableDeclaratorSyntax { Initializer.Value: var value }:
                    return value;
                case PropertyDeclarationSyntax { Initializer.Value: var value }:
                    return value;
            }
        }
        return null;
    }
}
