using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using SharpGrad.Analyzers;
using static SharpGrad.CodeFixes.FixHelpers;

namespace SharpGrad.CodeFixes;

/// <summary>SG2010: call <c>model.Train()</c> right before the training loop (the diagnostic's second additional location).</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(TrainBeforeLoopFix)), Shared]
public sealed class TrainBeforeLoopFix() : DiagnosticFix(DiagnosticDescriptors.TrainingInEvalModeId, fixAll: false)
{
    private protected override async Task RegisterAsync(CodeFixContext context, Diagnostic diagnostic)
    {
        if (diagnostic.AdditionalLocations.Count < 2) return;
        var eval = await FindInvocationAsync(context.Document, diagnostic.AdditionalLocations[0].SourceSpan, context.CancellationToken).ConfigureAwait(false);
        var loop = await FindAsync<StatementSyntax>(context.Document, diagnostic.AdditionalLocations[1].SourceSpan, context.CancellationToken).ConfigureAwait(false);
        if (eval?.Expression is not MemberAccessExpressionSyntax access || loop?.Parent is not BlockSyntax block) return;
        var module = access.Expression.WithoutTrivia();
        Register(context, diagnostic, $"Call {module}.Train() before the training loop", token =>
        {
            var train = CallStatement(module, "Train").WithLeadingTrivia(loop.GetLeadingTrivia());
            var newBlock = block.WithStatements(block.Statements.Insert(block.Statements.IndexOf(loop), train));
            return ReplaceAsync(context.Document, block, newBlock, token);
        });
    }
}

/// <summary>
/// SG2014: move the optimizer's declaration to right after the statement that adds the parameters, when both are in the same
/// block and nothing in between uses the optimizer.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(BuildOptimizerAfterFix)), Shared]
public sealed class BuildOptimizerAfterFix() : DiagnosticFix(DiagnosticDescriptors.ParametersAfterOptimizerId, fixAll: false)
{
    private protected override async Task RegisterAsync(CodeFixContext context, Diagnostic diagnostic)
    {
        if (diagnostic.AdditionalLocations.Count == 0) return;
        var change = await FindAsync<ExpressionSyntax>(context.Document, diagnostic.Location.SourceSpan, context.CancellationToken).ConfigureAwait(false);
        var creation = await FindAsync<ExpressionSyntax>(context.Document, diagnostic.AdditionalLocations[0].SourceSpan, context.CancellationToken).ConfigureAwait(false);
        if (change?.FirstAncestorOrSelf<StatementSyntax>() is not { Parent: BlockSyntax block } changeStatement) return;
        if (creation?.FirstAncestorOrSelf<LocalDeclarationStatementSyntax>() is not { Declaration.Variables.Count: 1 } declaration || declaration.Parent != block) return;
        int from = block.Statements.IndexOf(declaration), to = block.Statements.IndexOf(changeStatement);
        if (from < 0 || to <= from) return;
        var name = declaration.Declaration.Variables[0].Identifier.ValueText;
        bool usedBetween = block.Statements.Skip(from + 1).Take(to - from)
            .Any(s => s.DescendantNodes().OfType<IdentifierNameSyntax>().Any(i => i.Identifier.ValueText == name));
        if (usedBetween) return;
        Register(context, diagnostic, $"Build {name} after the model is complete", token =>
        {
            var statements = block.Statements.RemoveAt(from).Insert(to, declaration.WithLeadingTrivia(changeStatement.GetLeadingTrivia()));
            return ReplaceAsync(context.Document, block, block.WithStatements(statements), token);
        });
    }
}
