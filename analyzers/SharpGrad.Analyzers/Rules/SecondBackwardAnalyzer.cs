using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// SG2003: a second <c>Backward()</c> through ops that saved tensors, after a first <c>Backward()</c> through the same ops
/// without <c>retainGraph: true</c>, in straight-line code.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class SecondBackwardAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(DiagnosticDescriptors.SecondBackward);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            if (SharpGradSymbols.TryCreate(start.Compilation) is not { } symbols) return;
            AnalyzerSetup.RegisterWithFacts(start, symbols, (ctx, getFacts) =>
            {
                var second = (IInvocationOperation)ctx.Operation;
                if (!AnalyzerSetup.IsBackward(second, symbols)) return;
                var facts = getFacts();
                var earlier = facts.Invocations
                    .Where(i => i.Syntax.SpanStart < second.Syntax.SpanStart && AnalyzerSetup.IsBackward(i, symbols))
                    .ToList();
                if (earlier.Count == 0) return;

                var graph = facts.GraphOf(second.Instance!);
                if (graph.Count == 0) return;
                // The nearest earlier Backward is the one that freed the graph last.
                for (int k = earlier.Count - 1; k >= 0; k--)
                {
                    var first = earlier[k];
                    if (!MethodFacts.StraightLine(first, second)) continue;
                    var shared = facts.GraphOf(first.Instance!).Where(graph.Contains).ToList();
                    if (shared.Count == 0) continue;
                    if (MayRetainGraph(first)) return;
                    if (!shared.Any(facts.SavesAnything)) return;
                    ctx.ReportDiagnostic(Diagnostic.Create(
                        DiagnosticDescriptors.SecondBackward,
                        second.Syntax.GetLocation(),
                        additionalLocations: new[] { first.Syntax.GetLocation() },
                        AnalyzerSetup.Text(second.Instance!),
                        AnalyzerSetup.Text(first.Instance!)));
                    return;
                }
            }, OperationKind.Invocation);
        });
    }

    /// <summary>True unless retainGraph and createGraph are both absent or the constant false.</summary>
    private static bool MayRetainGraph(IInvocationOperation backward)
        => backward.Arguments.Any(a => a.Parameter?.Name is "retainGraph" or "createGraph"
            && a.ArgumentKind != ArgumentKind.DefaultValue
            && !(a.Value.ConstantValue is { HasValue: true, Value: false }));
}
