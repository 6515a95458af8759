using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using SharpGrad.Generator.Model;

namespace SharpGrad.Generator;

/// <summary>
/// Finds direct calls <c>child.Forward(x)</c> on modules. Without help they bypass the child's hooks (only
/// <c>Call</c>, <c>Sequential</c> and generated code run them); an interceptor reroutes each through
/// <c>Module.DispatchForward</c>, which is a plain call when no hook is registered.
/// </summary>
internal static class InterceptorParser
{
    /// <summary>Syntactic filter: <c>expr.Forward(…)</c> with at least one argument, not on <c>this</c> or <c>base</c>.</summary>
    public static bool IsCandidate(SyntaxNode node)
        => node is InvocationExpressionSyntax
           {
               Expression: MemberAccessExpressionSyntax
               {
                   Name: IdentifierNameSyntax { Identifier.ValueText: "Forward" },
                   Expression: not (ThisExpressionSyntax or BaseExpressionSyntax),
               },
               ArgumentList.Arguments.Count: > 0,
           };

    public static InterceptSpec? Parse(GeneratorSyntaxContext context, CancellationToken token)
    {
        var invocation = (InvocationExpressionSyntax)context.Node;
        if (IsInsideDispatchLambda(invocation)) return null;
        token.ThrowIfCancellationRequested();

        if (context.SemanticModel.GetSymbolInfo(invocation, token).Symbol is not IMethodSymbol method) return null;
        if (method.IsStatic || method.IsGenericMethod || method.MethodKind != MethodKind.Ordinary) return null;
        if (method.DeclaredAccessibility is not (Accessibility.Public or Accessibility.Internal or Accessibility.ProtectedOrInternal)) return null;
        if (!IsPlainTensor(method.ReturnType)) return null;
        if (method.Parameters.Length == 0 || !method.Parameters.All(p => p.RefKind == RefKind.None && !p.IsParams && IsPlainTensor(p.Type))) return null;
        // Named or out-of-order arguments would need reordering; leave those calls alone.
        if (invocation.ArgumentList.Arguments.Count != method.Parameters.Length || invocation.ArgumentList.Arguments.Any(a => a.NameColon is not null)) return null;

        var receiverType = method.ContainingType;
        if (receiverType is null || receiverType.IsGenericType || !IsModuleType(receiverType) || !IsVisibleToGeneratedCode(receiverType)) return null;
        token.ThrowIfCancellationRequested();

#pragma warning disable RSEXPERIMENTAL002 // GetInterceptableLocation is experimental in some Roslyn versions.
        var location = context.SemanticModel.GetInterceptableLocation(invocation, token);
        if (location is null) return null;
        return new InterceptSpec(
            receiverType.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat),
            method.Parameters.Length,
            location.Version,
            location.Data,
            location.GetDisplayLocation());
#pragma warning restore RSEXPERIMENTAL002
    }

    /// <summary>True inside <c>DispatchForward(module, x, static (m, t) =&gt; m.Forward(t))</c>, which already runs the hooks.</summary>
    private static bool IsInsideDispatchLambda(SyntaxNode node)
    {
        for (var current = node.Parent; current is not null; current = current.Parent)
        {
            if (current is LambdaExpressionSyntax
                && current.Parent is ArgumentSyntax { Parent: ArgumentListSyntax { Parent: InvocationExpressionSyntax dispatch } }
                && dispatch.Expression switch
                {
                    MemberAccessExpressionSyntax m => m.Name.Identifier.ValueText,
                    SimpleNameSyntax s => s.Identifier.ValueText,
                    _ => null,
                } == "DispatchForward")
            {
                return true;
            }
            if (current is MemberDeclarationSyntax) return false;
        }
        return false;
    }

    /// <summary><c>SharpGrad.Tensor</c> without a nullable annotation (a <c>Tensor?</c> parameter is left alone).</summary>
    private static bool IsPlainTensor(ITypeSymbol type)
        => type.NullableAnnotation != NullableAnnotation.Annotated
           && type.Name == "Tensor"
           && type.ContainingType is null
           && type.ContainingNamespace is { Name: "SharpGrad", ContainingNamespace.IsGlobalNamespace: true };

    private static bool IsModuleType(INamedTypeSymbol type)
    {
        for (var t = type; t is not null; t = t.BaseType)
        {
            if (t.Name == "Module" && t.ContainingType is null && t.ContainingNamespace is { Name: "SharpGrad", ContainingNamespace.IsGlobalNamespace: true }) return true;
            foreach (var attribute in t.GetAttributes())
            {
                if (attribute.AttributeClass is { Name: "ModuleAttribute" or "SequentialAttribute", ContainingNamespace: { Name: "SharpGrad", ContainingNamespace.IsGlobalNamespace: true } }) return true;
            }
        }
        return false;
    }

    /// <summary>The interceptor lives in another class, so the receiver type and all its containers must be public or internal.</summary>
    private static bool IsVisibleToGeneratedCode(INamedTypeSymbol type)
    {
        for (var t = type; t is not null; t = t.ContainingType)
        {
            if (t.DeclaredAccessibility is not (Accessibility.Public or Accessibility.Internal or Accessibility.ProtectedOrInternal)) return false;
            if (t.IsFileLocal) return false;
        }
        return true;
    }
}
