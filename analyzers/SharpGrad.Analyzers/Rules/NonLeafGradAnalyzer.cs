using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>SG2002: reading <c>.Grad</c> of an op's result (a non-leaf) after <c>Backward()</c>, with no <c>RetainGrad()</c> on it.</summary>
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
                if (facts.SingleValue(local.Local) is null || !facts.IsNonLeaf(local)) return;
                bool backwardBefore = facts.Invocations.Any(i => i.Syntax.SpanStart < read.Syntax.SpanStart && AnalyzerSetup.IsBackward(i, symbols));
                if (!backwardBefore) return;
                // RetainGrad() on this value under any name, or the value handed to code that might call it.
                var def = facts.Resolve(local);
                bool retained = facts.Invocations.Any(i => symbols.IsTensorMethod(i.TargetMethod, "RetainGrad")
                    && i.Instance is not null
                    && facts.Resolve(i.Instance) == def);
                retained |= facts.ReferencesOf(local.Local).Any(r => r.Parent is IArgumentOperation { Parent: IInvocationOperation call }
                    && !symbols.IsTensorMethod(call.TargetMethod)
                    && !(call.TargetMethod.ContainingNamespace?.ToDisplayString() is { } ns
                        && (ns is "System" or "SharpGrad" || ns.StartsWith("System.", System.StringComparison.Ordinal) || ns.StartsWith("SharpGrad.", System.StringComparison.Ordinal))));
                if (retained) return;
                ctx.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.NonLeafGrad, read.Syntax.GetLocation(), local.Local.Name));
            }, OperationKind.PropertyReference);
        });
    }
}
