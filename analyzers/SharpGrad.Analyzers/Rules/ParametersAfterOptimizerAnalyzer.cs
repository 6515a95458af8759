using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// SG2014: a module gains parameters — a call on it that takes a module or a parameter (<c>Sequential.Add</c>/<c>Append</c>,
/// <c>ModuleList.Append</c>/<c>Extend</c>, whatever such methods a layer has) given a new layer that has parameters, or a
/// new such layer assigned to one of its children — after an optimizer was built from its <c>Parameters()</c> in this
/// method, and that optimizer is still used afterwards (without <c>AddParamGroup</c>, which is how new parameters join).
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ParametersAfterOptimizerAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(DiagnosticDescriptors.ParametersAfterOptimizer);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            if (SharpGradSymbols.TryCreate(start.Compilation) is not { } symbols || symbols.Optimizer is null || symbols.Module is null) return;
            AnalyzerSetup.RegisterWithFacts(start, symbols, (ctx, getFacts) =>
            {
                var change = ctx.Operation;
                if (MethodFacts.EnclosingFunction(change) is not null) return;
                var facts = getFacts();
                if (GrownModule(change, facts, symbols) is not { } grown) return;

                var paths = ControlFlowPaths.Of(ctx);
                if (!paths.Contains(change)) return;
                foreach (var creation in facts.Root.DescendantsAndSelf().OfType<IObjectCreationOperation>())
                {
                    if (!symbols.IsOptimizer(creation.Type) || !paths.Contains(creation)) continue;
                    if (facts.OptimizerSource(creation) is not var (_, optimized) || !grown.IsWithin(optimized)) continue;
                    if (!paths.MayReach(creation, change, _ => false)) continue;
                    // Still the same optimizer afterwards, and never told about the new parameters.
                    var uses = facts.Root.DescendantsAndSelf()
                        .Where(o => o is ILocalReferenceOperation or IFieldReferenceOperation or IParameterReferenceOperation && symbols.IsOptimizer(o.Type)
                            && !(o.Parent is IAssignmentOperation a && a.Target == o) && facts.ValueOf(o).Operation == creation)
                        .ToList();
                    if (uses.Any(u => u.Parent is IInvocationOperation { TargetMethod.Name: "AddParamGroup" })) continue;
                    if (!uses.Any(u => paths.Contains(u) && paths.MayReach(change, u, _ => false))) continue;
                    ctx.ReportDiagnostic(Diagnostic.Create(
                        DiagnosticDescriptors.ParametersAfterOptimizer,
                        change.Syntax.GetLocation(),
                        additionalLocations: new[] { creation.Syntax.GetLocation() },
                        ChangeText(change),
                        optimized.Text,
                        OptimizerName(creation)));
                    return;
                }
            }, OperationKind.Invocation, OperationKind.SimpleAssignment);
        });
    }

    /// <summary>The module that gains parameters by this call or assignment, or null.</summary>
    private static ModulePath? GrownModule(IOperation change, MethodFacts facts, SharpGradSymbols symbols)
    {
        switch (change)
        {
            case IInvocationOperation { Instance: { } receiver } call when symbols.IsModule(receiver.Type) && call.TargetMethod.Name is not ("Forward" or "Call" or "Apply"):
                foreach (var argument in call.Arguments)
                {
                    if (argument.Parameter is { } parameter && TakesModulesOrParameters(parameter.Type, symbols) && facts.CertainlyAddsParameters(argument.Value))
                    {
                        return facts.PathOf(receiver);
                    }
                }
                return null;
            case ISimpleAssignmentOperation { Target: IMemberReferenceOperation { Member: IFieldSymbol or IPropertySymbol, Instance: { } owner } child } assignment
                when symbols.IsModule(child.Type) && symbols.IsModule(owner.Type) && facts.CertainlyAddsParameters(assignment.Value):
                return facts.PathOf(owner);
            default:
                return null;
        }
    }

    /// <summary>A module, a parameter, or a collection of either.</summary>
    private static bool TakesModulesOrParameters(ITypeSymbol type, SharpGradSymbols symbols)
    {
        if (symbols.IsModule(type) || (symbols.Parameter is not null && SharpGradSymbols.DerivesFrom(type, symbols.Parameter))) return true;
        if (type is IArrayTypeSymbol array) return TakesModulesOrParameters(array.ElementType, symbols);
        return type is INamedTypeSymbol { IsGenericType: true } generic && generic.TypeArguments.Any(t => TakesModulesOrParameters(t, symbols));
    }

    private static string ChangeText(IOperation change) => change switch
    {
        IInvocationOperation { Instance: { } receiver } call => $"{AnalyzerSetup.Text(receiver)}.{call.TargetMethod.Name}(…)",
        ISimpleAssignmentOperation assignment => $"{AnalyzerSetup.Text(assignment.Target)} = …",
        _ => AnalyzerSetup.Text(change),
    };

    private static string OptimizerName(IObjectCreationOperation creation)
    {
        var op = (IOperation)creation;
        while (op.Parent is IConversionOperation) op = op.Parent;
        return op.Parent switch
        {
            IVariableInitializerOperation { Parent: IVariableDeclaratorOperation declarator } => declarator.Symbol.Name,
            ISimpleAssignmentOperation { Target: var target } => AnalyzerSetup.Text(target),
            _ => "the optimizer",
        };
    }
}
