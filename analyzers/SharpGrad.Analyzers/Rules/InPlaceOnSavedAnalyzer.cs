using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// SG2007: an in-place op (<c>Add_</c>, <c>Relu_</c>, …) on a tensor that an earlier recorded op saved for its backward,
/// followed by a <c>Backward()</c> through that op — all in straight-line code.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class InPlaceOnSavedAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(DiagnosticDescriptors.InPlaceOnSaved);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            if (SharpGradSymbols.TryCreate(start.Compilation) is not { } symbols) return;
            AnalyzerSetup.RegisterWithFacts(start, symbols, (ctx, getFacts) =>
            {
                var inPlace = (IInvocationOperation)ctx.Operation;
                var method = inPlace.TargetMethod;
                if (method.IsStatic || inPlace.Instance is null || !symbols.IsTensorMethod(method) || !symbols.IsTensor(method.ReturnType)) return;
                if (!method.Name.EndsWith("_", System.StringComparison.Ordinal) || method.Name is "RequiresGrad_" or "Detach_") return;

                var facts = getFacts();
                var target = facts.ValueOf(inPlace.Instance);
                var laterBackwards = facts.Invocations
                    .Where(b => AnalyzerSetup.IsBackward(b, symbols) && MethodFacts.StraightLine(inPlace, b))
                    .ToList();
                if (laterBackwards.Count == 0) return;

                foreach (var op in facts.TensorOps)
                {
                    if (op.Syntax.SpanStart >= inPlace.Syntax.SpanStart || !facts.IsOpResult(op) || !MethodFacts.StraightLine(op, inPlace)) continue;
                    if (facts.GradModeOff(op, null) != Tri.False) continue;
                    var saved = facts.SavedOperands(op, facts.KnownRequiresGrad, out bool savesOutput);
                    bool savesTarget = saved.Any(s => facts.ValueOf(s).Equals(target)) || (savesOutput && facts.ValueOf(op).Equals(target));
                    if (!savesTarget) continue;

                    var node = new FlowValue(MethodFacts.Unwrap(op), null);
                    bool backwardThrough = laterBackwards.Any(b => facts.GraphOf(b.Instance!).Contains(node));
                    if (!backwardThrough) continue;

                    ctx.ReportDiagnostic(Diagnostic.Create(
                        DiagnosticDescriptors.InPlaceOnSaved,
                        inPlace.Syntax.GetLocation(),
                        AnalyzerSetup.Text(inPlace),
                        AnalyzerSetup.Text(inPlace.Instance),
                        AnalyzerSetup.Text(op)));
                    return;
                }
            }, OperationKind.Invocation);
        });
    }
}
