using System.Collections.Immutable;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;
using Microsoft.CodeAnalysis.Simplification;

namespace SharpGrad.CodeFixes;

internal static class FixHelpers
{
    public static async Task<T?> FindAsync<T>(Document document, Microsoft.CodeAnalysis.Text.TextSpan span, CancellationToken token)
        where T : SyntaxNode
    {
        var root = await document.GetSyntaxRootAsync(token).ConfigureAwait(false);
        var node = root?.FindNode(span, getInnermostNodeForTie: true);
        while (node is not null && node is not T) node = node.Parent;
        return node as T;
    }

    /// <summary>An invocation node found at exactly the diagnostic's span (walks up through argument wrappers).</summary>
    public static async Task<InvocationExpressionSyntax?> FindInvocationAsync(Document document, Microsoft.CodeAnalysis.Text.TextSpan span, CancellationToken token)
    {
        var root = await document.GetSyntaxRootAsync(token).ConfigureAwait(false);
        var node = root?.FindNode(span, getInnermostNodeForTie: true);
        while (node is not null && !(node is InvocationExpressionSyntax && node.Span == span)) node = node.Parent;
        return node as InvocationExpressionSyntax;
    }

    public static async Task<Document> ReplaceAsync(Document document, SyntaxNode oldNode, SyntaxNode newNode, CancellationToken token)
    {
        var root = await document.GetSyntaxRootAsync(token).ConfigureAwait(false);
        return root is null ? document : document.WithSyntaxRoot(root.ReplaceNode(oldNode, newNode));
    }

    /// <summary>Parenthesises an expression when a member access on it would bind differently.</summary>
    public static ExpressionSyntax AsReceiver(ExpressionSyntax expression)
        => expression is IdentifierNameSyntax or MemberAccessExpressionSyntax or InvocationExpressionSyntax or ElementAccessExpressionSyntax
            or ParenthesizedExpressionSyntax or ThisExpressionSyntax or GenericNameSyntax
            ? expression.WithoutTrivia()
            : SyntaxFactory.ParenthesizedExpression(expression.WithoutTrivia());

    /// <summary><c>receiver.Name()</c> with no arguments.</summary>
    public static InvocationExpressionSyntax Call(ExpressionSyntax receiver, string name)
        => SyntaxFactory.InvocationExpression(
            SyntaxFactory.MemberAccessExpression(SyntaxKind.SimpleMemberAccessExpression, AsReceiver(receiver), SyntaxFactory.IdentifierName(name)));

    /// <summary>An expression statement <c>receiver.Name();</c>, formatted.</summary>
    public static StatementSyntax CallStatement(ExpressionSyntax receiver, string name)
        => SyntaxFactory.ExpressionStatement(Call(receiver, name)).WithAdditionalAnnotations(Formatter.Annotation);

    /// <summary><c>global::SharpGrad.Autograd.NoGrad()</c>, simplified to <c>Autograd.NoGrad()</c> where a using allows.</summary>
    public static ExpressionSyntax NoGradCall()
        => SyntaxFactory.InvocationExpression(SyntaxFactory.MemberAccessExpression(
            SyntaxKind.SimpleMemberAccessExpression,
            SyntaxFactory.ParseExpression("global::SharpGrad.Autograd").WithAdditionalAnnotations(Simplifier.Annotation),
            SyntaxFactory.IdentifierName("NoGrad")));

    public static void Register(CodeFixContext context, Diagnostic diagnostic, string title, System.Func<CancellationToken, Task<Document>> fix)
        => context.RegisterCodeFix(CodeAction.Create(title, fix, equivalenceKey: title), diagnostic);
}

/// <summary>
/// The registration skeleton every SharpGrad code fix shares: one diagnostic id, batch fix-all (unless the fix must see the
/// whole method, <c>fixAll: false</c>), and the fix registered for the context's first diagnostic by <see cref="RegisterAsync"/>.
/// </summary>
public abstract class DiagnosticFix : CodeFixProvider
{
    private readonly bool _fixAll;

    private protected DiagnosticFix(string diagnosticId, bool fixAll = true)
    {
        FixableDiagnosticIds = ImmutableArray.Create(diagnosticId);
        _fixAll = fixAll;
    }

    /// <inheritdoc/>
    public sealed override ImmutableArray<string> FixableDiagnosticIds { get; }

    /// <inheritdoc/>
    public sealed override FixAllProvider? GetFixAllProvider() => _fixAll ? WellKnownFixAllProviders.BatchFixer : null;

    /// <inheritdoc/>
    public sealed override Task RegisterCodeFixesAsync(CodeFixContext context) => RegisterAsync(context, context.Diagnostics[0]);

    /// <summary>Registers the fixes (<see cref="FixHelpers.Register"/>) for <paramref name="diagnostic"/>.</summary>
    private protected abstract Task RegisterAsync(CodeFixContext context, Diagnostic diagnostic);
}
