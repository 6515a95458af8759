using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// SG2013: <c>Backward()</c> on a value that certainly does not require grad because it was computed inside
/// <c>Autograd.NoGrad()</c> — directly, or later from such values alone — and was not made to require grad since.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class BackwardWithoutGraphAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(DiagnosticDescriptors.BackwardWithoutGraph);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            if (SharpGradSymbols.TryCreate(start.Compilation) is not { } symbols) return;
            AnalyzerSetup.RegisterWithFacts(start, symbols, (ctx, getFacts) =>
            {
                var backward = (IInvocationOperation)ctx.Operation;
                if (!AnalyzerSetup.IsBackward(backward, symbols)) return;
                var state = getFacts().StateAt(backward.Instance!, null);
                if (state.RequiresGrad != Tri.False || state.ComputedWithoutGrad is not { } origin) return;
                ctx.ReportDiagnostic(Diagnostic.Create(
                    DiagnosticDescriptors.BackwardWithoutGraph,
                    backward.Syntax.GetLocation(),
                    additionalLocations: new[] { origin.Syntax.GetLocation() },
                    AnalyzerSetup.Text(backward.Instance!),
                    AnalyzerSetup.Text(origin)));
            }, OperationKind.Invocation);
        });
    }
}
