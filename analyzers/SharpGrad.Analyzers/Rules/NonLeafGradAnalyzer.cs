using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// SG2002: reading <c>.Grad</c> of an op's result (a non-leaf) after <c>Backward()</c>, with no <c>RetainGrad()</c> on it.
/// The local's value is followed through reassignments, plain local functions and lambdas, and the requires-grad events
/// before it (see <see cref="MethodFacts"/>); the additional location is the write that defined it (where the fix goes).
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class NonLeafGradAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(DiagnosticDescriptors.NonLeafGrad);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            if (SharpGradSymbols.TryCreate(start.Compilation) is not { } symbols) return;
            AnalyzerSetup.RegisterWithFacts(start, symbols, (ctx, getFacts) =>
            {
                var read = (IPropertyReferenceOperation)ctx.Operation;
                if (read.Property.Name != "Grad" || !symbols.IsTensor(read.Property.ContainingType) || read.Instance is null) return;
                if (read.Parent is IAssignmentOperation assignment && assignment.Target == read) return;
                if (MethodFacts.Unwrap(read.Instance) is not ILocalReferenceOperation local) return;

                var facts = getFacts();
                if (!facts.IsNonLeaf(local) || facts.ReachingWrite(local) is not { } write) return;
                bool backwardBefore = facts.Invocations.Any(i => i.Syntax.SpanStart < read.Syntax.SpanStart && AnalyzerSetup.IsBackward(i, symbols));
                if (!backwardBefore) return;
                // RetainGrad() on this tensor under any name, or the tensor handed to code that might call it.
                if (facts.MayBeRetained(facts.ValueOf(local))) return;
                ctx.ReportDiagnostic(Diagnostic.Create(
                    DiagnosticDescriptors.NonLeafGrad,
                    read.Syntax.GetLocation(),
                    additionalLocations: new[] { write.Site.Syntax.GetLocation() },
                    local.Local.Name));
            }, OperationKind.PropertyReference);
        });
    }
}
