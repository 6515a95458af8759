using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>SG2001: <c>Backward()</c> without <c>gradient:</c> on a tensor whose static shape is not a scalar.</summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class NonScalarBackwardAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(DiagnosticDescriptors.NonScalarBackward);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            if (SharpGradSymbols.TryCreate(start.Compilation) is not { } symbols) return;
            AnalyzerSetup.RegisterWithFacts(start, symbols, (ctx, facts) =>
            {
                var invocation = (IInvocationOperation)ctx.Operation;
                if (!AnalyzerSetup.IsBackward(invocation, symbols)) return;
                var gradient = invocation.Arguments.FirstOrDefault(a => a.Parameter?.Name == "gradient");
                if (gradient is not null && gradient.ArgumentKind != ArgumentKind.DefaultValue
                    && !(gradient.Value.ConstantValue is { HasValue: true, Value: null })) return;
                var shape = facts().ShapeOf(invocation.Instance!);
                if (shape is null || !shape.CertainlyNotScalar) return;
                ctx.ReportDiagnostic(Diagnostic.Create(
                    DiagnosticDescriptors.NonScalarBackward,
                    invocation.Syntax.GetLocation(),
                    AnalyzerSetup.Text(invocation.Instance!),
                    shape.ToString()));
            }, OperationKind.Invocation);
        });
    }
}
