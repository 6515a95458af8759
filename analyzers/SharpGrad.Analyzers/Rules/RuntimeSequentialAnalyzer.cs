using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// SG2009 (info): <c>new Sequential(new Linear(4, 8), new ReLU(), …)</c> whose layers are all constructed with constant
/// arguments, outside a <c>[Module]</c> class: the same layers as fields of a <c>[Module]</c> class would be compiled.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class RuntimeSequentialAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(DiagnosticDescriptors.RuntimeSequential);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            if (SharpGradSymbols.TryCreate(start.Compilation) is not { } symbols || symbols.Sequential is null || symbols.Module is null) return;
            start.RegisterOperationAction(ctx =>
            {
                var creation = (IObjectCreationOperation)ctx.Operation;
                if (!SymbolEqualityComparer.Default.Equals(creation.Type, symbols.Sequential) || creation.Initializer is not null) return;
                if (creation.Arguments.Length != 1 || creation.Arguments[0].ArgumentKind != ArgumentKind.ParamArray) return;
                if (creation.Arguments[0].Value is not IArrayCreationOperation { Initializer: { } layers } || layers.ElementValues.Length == 0) return;
                if (!layers.ElementValues.All(e => IsConstantLayer(e, symbols))) return;
                if (InsideModuleClass(ctx.ContainingSymbol, symbols)) return;
                ctx.ReportDiagnostic(Diagnostic.Create(
                    DiagnosticDescriptors.RuntimeSequential,
                    creation.Syntax.GetLocation(),
                    layers.ElementValues.Length));
            }, OperationKind.ObjectCreation);
        });
    }

    private static bool IsConstantLayer(IOperation element, SharpGradSymbols symbols)
    {
        var op = MethodFacts.Unwrap(element);
        if (op is ITupleOperation { Elements.Length: 2 } tuple)
        {
            if (tuple.Elements[0].ConstantValue is not { HasValue: true, Value: string }) return false;
            op = MethodFacts.Unwrap(tuple.Elements[1]);
        }
        return op is IObjectCreationOperation { Initializer: null } layer
            && symbols.IsModule(layer.Type)
            && layer.Arguments.All(a => a.ArgumentKind == ArgumentKind.DefaultValue || a.Value.ConstantValue.HasValue);
    }

    private static bool InsideModuleClass(ISymbol? symbol, SharpGradSymbols symbols)
    {
        for (var type = symbol as INamedTypeSymbol ?? symbol?.ContainingType; type is not null; type = type.ContainingType)
        {
            if (type.GetAttributes().Any(a => a.AttributeClass is { Name: "ModuleAttribute" or "SequentialAttribute" } c
                && c.ContainingNamespace?.ToDisplayString() == "SharpGrad")) return true;
        }
        return false;
    }
}
