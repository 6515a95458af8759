using System.Collections.Generic;
using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;
using SharpGrad.Analyzers;
using static SharpGrad.CodeFixes.FixHelpers;

namespace SharpGrad.CodeFixes;

/// <summary>SG2001: append <c>.Sum()</c> or <c>.Mean()</c> to the receiver of <c>Backward()</c>.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(ReduceBeforeBackwardFix)), Shared]
public sealed class ReduceBeforeBackwardFix() : DiagnosticFix(DiagnosticDescriptors.NonScalarBackwardId)
{
    private protected override async Task RegisterAsync(CodeFixContext context, Diagnostic diagnostic)
    {
        var invocation = await FindInvocationAsync(context.Document, diagnostic.Location.SourceSpan, context.CancellationToken).ConfigureAwait(false);
        if (invocation?.Expression is not MemberAccessExpressionSyntax access) return;
        foreach (var reduction in new[] { "Sum", "Mean" })
        {
            Register(context, diagnostic, $"Reduce with .{reduction}() before Backward()", token =>
                ReplaceAsync(context.Document, access.Expression, Call(access.Expression, reduction).WithTriviaFrom(access.Expression), token));
        }
    }
}

/// <summary>SG2002: insert <c>y.RetainGrad();</c> right after the statement that wrote the value read (the diagnostic's additional location).</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(RetainGradFix)), Shared]
public sealed class RetainGradFix() : DiagnosticFix(DiagnosticDescriptors.NonLeafGradId)
{
    private protected override async Task RegisterAsync(CodeFixContext context, Diagnostic diagnostic)
    {
        if (diagnostic.AdditionalLocations.Count == 0) return;
        var access = await FindAsync<MemberAccessExpressionSyntax>(context.Document, diagnostic.Location.SourceSpan, context.CancellationToken).ConfigureAwait(false);
        if (access?.Expression is not IdentifierNameSyntax name) return;
        var write = await FindAsync<SyntaxNode>(context.Document, diagnostic.AdditionalLocations[0].SourceSpan, context.CancellationToken).ConfigureAwait(false);
        if (write?.FirstAncestorOrSelf<StatementSyntax>() is not { Parent: BlockSyntax block } statement) return;

        var local = name.Identifier.ValueText;
        Register(context, diagnostic, $"Call {local}.RetainGrad() before Backward()", token =>
        {
            var retain = CallStatement(SyntaxFactory.IdentifierName(local), "RetainGrad");
            var index = block.Statements.IndexOf(statement);
            var newBlock = block.WithStatements(block.Statements.Insert(index + 1, retain));
            return ReplaceAsync(context.Document, block, newBlock, token);
        });
    }
}

/// <summary>SG2003: pass <c>retainGraph: true</c> to the first <c>Backward()</c>.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(RetainGraphFix)), Shared]
public sealed class RetainGraphFix() : DiagnosticFix(DiagnosticDescriptors.SecondBackwardId, fixAll: false)
{
    private protected override async Task RegisterAsync(CodeFixContext context, Diagnostic diagnostic)
    {
        if (diagnostic.AdditionalLocations.Count == 0) return;
        var first = await FindInvocationAsync(context.Document, diagnostic.AdditionalLocations[0].SourceSpan, context.CancellationToken).ConfigureAwait(false);
        if (first is null) return;
        Register(context, diagnostic, "Pass retainGraph: true to the first Backward()", token =>
        {
            var arguments = first.ArgumentList;
            var existing = arguments.Arguments.FirstOrDefault(a => a.NameColon?.Name.Identifier.ValueText == "retainGraph");
            var trueLiteral = SyntaxFactory.LiteralExpression(SyntaxKind.TrueLiteralExpression);
            ArgumentListSyntax newArguments = existing is not null
                ? arguments.ReplaceNode(existing, existing.WithExpression(trueLiteral))
                : arguments.AddArguments(SyntaxFactory.Argument(SyntaxFactory.NameColon("retainGraph"), default, trueLiteral));
            return ReplaceAsync(context.Document, first, first.WithArgumentList(newArguments), token);
        });
    }
}

/// <summary>SG2004: insert <c>optimizer.ZeroGrad();</c> as the first statement of the loop.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(ZeroGradInLoopFix)), Shared]
public sealed class ZeroGradInLoopFix() : DiagnosticFix(DiagnosticDescriptors.MissingZeroGradId)
{
    private protected override async Task RegisterAsync(CodeFixContext context, Diagnostic diagnostic)
    {
        if (diagnostic.AdditionalLocations.Count == 0) return;
        var step = await FindInvocationAsync(context.Document, diagnostic.Location.SourceSpan, context.CancellationToken).ConfigureAwait(false);
        var loop = await FindAsync<StatementSyntax>(context.Document, diagnostic.AdditionalLocations[0].SourceSpan, context.CancellationToken).ConfigureAwait(false);
        if (step?.Expression is not MemberAccessExpressionSyntax access) return;
        var body = loop switch
        {
            ForStatementSyntax f => f.Statement,
            ForEachStatementSyntax f => f.Statement,
            WhileStatementSyntax w => w.Statement,
            DoStatementSyntax d => d.Statement,
            _ => null,
        };
        if (body is null) return;
        var optimizer = access.Expression.WithoutTrivia();
        Register(context, diagnostic, $"Call {optimizer}.ZeroGrad() at the top of the loop", token =>
        {
            var zero = CallStatement(optimizer, "ZeroGrad");
            var newBody = body is BlockSyntax block
                ? block.WithStatements(block.Statements.Insert(0, zero))
                : SyntaxFactory.Block(zero, body.WithoutTrivia()).WithAdditionalAnnotations(Formatter.Annotation);
            return ReplaceAsync(context.Document, body, newBody, token);
        });
    }
}

/// <summary>SG2005: <c>Reshape</c> instead of <c>View</c>, or <c>Contiguous().View</c>.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(ReshapeInsteadOfViewFix)), Shared]
public sealed class ReshapeInsteadOfViewFix() : DiagnosticFix(DiagnosticDescriptors.ViewOfTransposedId)
{
    private protected override async Task RegisterAsync(CodeFixContext context, Diagnostic diagnostic)
    {
        var view = await FindInvocationAsync(context.Document, diagnostic.Location.SourceSpan, context.CancellationToken).ConfigureAwait(false);
        if (view?.Expression is not MemberAccessExpressionSyntax access) return;
        Register(context, diagnostic, "Use Reshape(...)", token =>
            ReplaceAsync(context.Document, access, access.WithName(SyntaxFactory.IdentifierName("Reshape").WithTriviaFrom(access.Name)), token));
        Register(context, diagnostic, "Use Contiguous().View(...)", token =>
            ReplaceAsync(context.Document, access, access.WithExpression(Call(access.Expression, "Contiguous").WithTriviaFrom(access.Expression)), token));
    }
}

/// <summary>SG2006: create without <c>requiresGrad</c> and call <c>RequiresGrad_()</c> on the op's result, or <c>Detach().RequiresGrad_()</c>.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(LeafRequiresGradFix)), Shared]
public sealed class LeafRequiresGradFix() : DiagnosticFix(DiagnosticDescriptors.NonLeafRequiresGradId)
{
    private protected override async Task RegisterAsync(CodeFixContext context, Diagnostic diagnostic)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        if (root?.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true) is not ExpressionSyntax found) return;
        var op = found.AncestorsAndSelf().OfType<ExpressionSyntax>().FirstOrDefault(e => e.Span == diagnostic.Location.SourceSpan);
        if (op is null) return;

        // The creation call's requiresGrad argument: named, or the last positional true.
        var requiresGrad = op.DescendantNodes().OfType<ArgumentSyntax>()
            .FirstOrDefault(a => a.NameColon?.Name.Identifier.ValueText == "requiresGrad" && a.Expression.IsKind(SyntaxKind.TrueLiteralExpression));
        if (requiresGrad?.Parent is ArgumentListSyntax argumentList)
        {
            Register(context, diagnostic, "Create without requiresGrad and call RequiresGrad_() on the result", token =>
            {
                var cleaned = op.ReplaceNode(argumentList, argumentList.WithArguments(argumentList.Arguments.Remove(requiresGrad)));
                return ReplaceAsync(context.Document, op, Call(cleaned, "RequiresGrad_").WithTriviaFrom(op), token);
            });
        }
        Register(context, diagnostic, "Use .Detach().RequiresGrad_() on the result", token =>
            ReplaceAsync(context.Document, op, Call(Call(op, "Detach"), "RequiresGrad_").WithTriviaFrom(op), token));
    }
}

/// <summary>SG2007: <c>t.Add_(x);</c> → <c>t = t.Add(x);</c>.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(OutOfPlaceFix)), Shared]
public sealed class OutOfPlaceFix() : DiagnosticFix(DiagnosticDescriptors.InPlaceOnSavedId)
{
    private protected override async Task RegisterAsync(CodeFixContext context, Diagnostic diagnostic)
    {
        var call = await FindInvocationAsync(context.Document, diagnostic.Location.SourceSpan, context.CancellationToken).ConfigureAwait(false);
        if (call?.Expression is not MemberAccessExpressionSyntax { Expression: IdentifierNameSyntax target } access) return;
        if (call.Parent is not ExpressionStatementSyntax statement) return;
        var outOfPlace = access.Name.Identifier.ValueText.TrimEnd('_');
        var model = await context.Document.GetSemanticModelAsync(context.CancellationToken).ConfigureAwait(false);
        var tensorType = model?.GetTypeInfo(target, context.CancellationToken).Type;
        bool exists = false;
        for (var t = tensorType; t is not null && !exists; t = t.BaseType)
        {
            exists = t.GetMembers(outOfPlace).OfType<IMethodSymbol>().Any(m => !m.IsStatic && m.Parameters.Length == call.ArgumentList.Arguments.Count);
        }
        if (!exists) return;
        Register(context, diagnostic, $"Use the out-of-place {outOfPlace}(...)", token =>
        {
            var newCall = call.WithExpression(access.WithName(SyntaxFactory.IdentifierName(outOfPlace)));
            var assignment = SyntaxFactory.ExpressionStatement(
                SyntaxFactory.AssignmentExpression(SyntaxKind.SimpleAssignmentExpression, target.WithoutTrivia(), newCall.WithoutTrivia()))
                .WithTriviaFrom(statement)
                .WithAdditionalAnnotations(Formatter.Annotation);
            return ReplaceAsync(context.Document, statement, assignment, token);
        });
    }
}

/// <summary>SG2008: wrap the statement and the rest of its block in <c>using (Autograd.NoGrad())</c>, optionally calling <c>Eval()</c> first.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(NoGradFix)), Shared]
public sealed class NoGradFix() : DiagnosticFix(DiagnosticDescriptors.InferenceWithGradId, fixAll: false)
{
    private protected override async Task RegisterAsync(CodeFixContext context, Diagnostic diagnostic)
    {
        var forward = await FindInvocationAsync(context.Document, diagnostic.Location.SourceSpan, context.CancellationToken).ConfigureAwait(false);
        if (forward?.Expression is not MemberAccessExpressionSyntax access) return;
        var statement = forward.FirstAncestorOrSelf<StatementSyntax>(s => s.Parent is BlockSyntax);
        if (statement?.Parent is not BlockSyntax block) return;

        Register(context, diagnostic, "Wrap in using (Autograd.NoGrad())", token => Wrap(context.Document, block, statement, null, token));
        Register(context, diagnostic, $"Call {access.Expression.WithoutTrivia()}.Eval() and wrap in using (Autograd.NoGrad())", token =>
            Wrap(context.Document, block, statement, access.Expression.WithoutTrivia(), token));
    }

    private static Task<Document> Wrap(Document document, BlockSyntax block, StatementSyntax first, ExpressionSyntax? model, CancellationToken token)
    {
        int index = block.Statements.IndexOf(first);
        var wrapped = block.Statements.Skip(index).ToList();
        var usingStatement = SyntaxFactory.UsingStatement(
                declaration: null,
                expression: NoGradCall(),
                statement: SyntaxFactory.Block(wrapped))
            .WithLeadingTrivia(first.GetLeadingTrivia())
            .WithAdditionalAnnotations(Formatter.Annotation);
        var statements = new List<StatementSyntax>(block.Statements.Take(index));
        if (model is not null) statements.Add(CallStatement(model, "Eval").WithLeadingTrivia(first.GetLeadingTrivia()));
        statements.Add(usingStatement);
        return ReplaceAsync(document, block, block.WithStatements(SyntaxFactory.List(statements)), token);
    }
}
