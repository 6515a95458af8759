using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// SG2009 (info): <c>new Sequential(new Linear(4, 8), new ReLU(), …)</c> whose layers are all <c>[Module]</c> classes constructed
/// with constant arguments, outside a <c>[Module]</c> class: the same layers as fields of a <c>[Module]</c> class would be compiled.
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
                if (Layers(creation, symbols) is not { } layers || !layers.All(e => IsConstantLayer(e, symbols))) return;
                if (InsideModuleClass(ctx.ContainingSymbol, symbols) || InsideReportedSequential(creation, symbols)) return;
                ctx.ReportDiagnostic(Diagnostic.Create(
                    DiagnosticDescriptors.RuntimeSequential,
                    creation.Syntax.GetLocation(),
                    layers.Length));
            }, OperationKind.ObjectCreation);
        });
    }

    /// <summary>The layers of <c>new Sequential(a, b, …)</c>, or null for any other creation.</summary>
    private static ImmutableArray<IOperation>? Layers(IObjectCreationOperation creation, SharpGradSymbols symbols)
        => SymbolEqualityComparer.Default.Equals(creation.Type, symbols.Sequential) && creation.Initializer is null
            && creation.Arguments.Length == 1 && creation.Arguments[0].ArgumentKind == ArgumentKind.ParamArray
            && creation.Arguments[0].Value is IArrayCreationOperation { Initializer: { } layers } && layers.ElementValues.Length > 0
                ? layers.ElementValues
                : null;

    /// <summary>A nested <c>Sequential</c> is reported with the outer one it belongs to, not again.</summary>
    private static bool InsideReportedSequential(IOperation creation, SharpGradSymbols symbols)
    {
        for (var op = creation.Parent; op is not null; op = op.Parent)
        {
            if (op is IObjectCreationOperation outer && Layers(outer, symbols) is { } layers) return layers.All(e => IsConstantLayer(e, symbols));
            if (op is not (IArrayInitializerOperation or IArrayCreationOperation or IArgumentOperation or ITupleOperation or IConversionOperation)) return false;
        }
        return false;
    }

    /// <summary>
    /// A layer the generator could compile as a field: a <c>[Module]</c> (or <c>[Sequential]</c>) class — not a hand-written
    /// <c>Module</c> subclass, which it cannot parse, nor one marked <c>[Module(Compile = false)]</c> — created with constant
    /// arguments, or a nested <c>Sequential</c> of such layers.
    /// </summary>
    private static bool IsConstantLayer(IOperation element, SharpGradSymbols symbols)
    {
        var op = MethodFacts.Unwrap(element);
        if (op is ITupleOperation { Elements.Length: 2 } tuple)
        {
            if (tuple.Elements[0].ConstantValue is not { HasValue: true, Value: string }) return false;
            op = MethodFacts.Unwrap(tuple.Elements[1]);
        }
        if (op is not IObjectCreationOperation { Initializer: null } layer || !symbols.IsModule(layer.Type)) return false;
        // A nested Sequential (not itself a [Module] class) is compiled as its layers are.
        if (SymbolEqualityComparer.Default.Equals(layer.Type, symbols.Sequential)) return Layers(layer, symbols) is { } nested && nested.All(e => IsConstantLayer(e, symbols));
        return IsCompilableModuleType(layer.Type) && layer.Arguments.All(a => a.ArgumentKind == ArgumentKind.DefaultValue || a.Value.ConstantValue.HasValue);
    }

    private static bool IsCompilableModuleType(ITypeSymbol? type)
    {
        foreach (var attribute in type?.GetAttributes() ?? ImmutableArray<AttributeData>.Empty)
        {
            if (attribute.AttributeClass is not { Name: "ModuleAttribute" or "SequentialAttribute" } c || c.ContainingNamespace?.ToDisplayString() != "SharpGrad") continue;
            return !attribute.NamedArguments.Any(a => a.Key == "Compile" && a.Value.Value is false);
        }
        return false;
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
