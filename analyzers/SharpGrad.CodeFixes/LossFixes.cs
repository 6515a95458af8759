using System.Collections.Immutable;
using System.Composition;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using SharpGrad.Analyzers;
using static SharpGrad.CodeFixes.FixHelpers;

namespace SharpGrad.CodeFixes;

/// <summary>SG2011: accumulate <c>loss.Detach()</c> (the term is the diagnostic's additional location).</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(DetachAccumulatedFix)), Shared]
public sealed class DetachAccumulatedFix() : DiagnosticFix(DiagnosticDescriptors.AccumulatedGraphId)
{
    private protected override async Task RegisterAsync(CodeFixContext context, Diagnostic diagnostic)
    {
        if (diagnostic.AdditionalLocations.Count == 0) return;
        var term = await FindAsync<ExpressionSyntax>(context.Document, diagnostic.AdditionalLocations[0].SourceSpan, context.CancellationToken).ConfigureAwait(false);
        if (term is null || term.Span != diagnostic.AdditionalLocations[0].SourceSpan) return;
        Register(context, diagnostic, "Accumulate the detached tensor (.Detach())", token =>
            ReplaceAsync(context.Document, term, Call(term, "Detach").WithTriviaFrom(term), token));
    }
}

/// <summary>
/// SG2012: pass the activation's input instead of its output (when the activation is the loss's argument itself), or call
/// the loss that takes the activation's output as it is (<c>Losses.Nll</c>, <c>Losses.BinaryCrossEntropy</c>).
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(ActivationTwiceFix)), Shared]
public sealed class ActivationTwiceFix() : DiagnosticFix(DiagnosticDescriptors.ActivationTwiceId)
{
    private protected override async Task RegisterAsync(CodeFixContext context, Diagnostic diagnostic)
    {
        var input = await FindAsync<ExpressionSyntax>(context.Document, diagnostic.Location.SourceSpan, context.CancellationToken).ConfigureAwait(false);
        if (input is null) return;
        while (input.Parent is ExpressionSyntax parent && parent.Span == diagnostic.Location.SourceSpan) input = parent;

        if (diagnostic.Properties.ContainsKey(ActivationTwiceAnalyzer.InlineProperty) && input is InvocationExpressionSyntax activation)
        {
            var model = await context.Document.GetSemanticModelAsync(context.CancellationToken).ConfigureAwait(false);
            if (model?.GetSymbolInfo(activation, context.CancellationToken).Symbol is IMethodSymbol method)
            {
                // x.Softmax(1) → x; Functional.Softmax(x, 1) and softmax.Forward(x) → x.
                ExpressionSyntax? logits = !method.IsStatic && method.Name is not ("Forward" or "Call") && activation.Expression is MemberAccessExpressionSyntax access
                    ? access.Expression
                    : activation.ArgumentList.Arguments.Count > 0 ? activation.ArgumentList.Arguments[0].Expression : null;
                if (logits is not null)
                {
                    Register(context, diagnostic, "Pass the scores before the activation", token =>
                        ReplaceAsync(context.Document, input, logits.WithTriviaFrom(input), token));
                }
            }
        }
        if (diagnostic.Properties.TryGetValue(ActivationTwiceAnalyzer.AlternativeProperty, out var alternative) && alternative is not null
            && input.Parent?.Parent?.Parent is InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax loss } lossCall)
        {
            Register(context, diagnostic, $"Use Losses.{alternative}", token =>
                ReplaceAsync(context.Document, lossCall, lossCall.WithExpression(loss.WithName(SyntaxFactory.IdentifierName(alternative).WithTriviaFrom(loss.Name))), token));
        }
    }
}
