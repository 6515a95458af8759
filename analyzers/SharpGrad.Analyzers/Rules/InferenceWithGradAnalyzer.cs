using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// SG2008 (info): a module's <c>Forward</c> outside <c>Autograd.NoGrad()</c> in a method that never calls
/// <c>Backward()</c>, whose result provably stays inside the method (it is only reduced to plain values).
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class InferenceWithGradAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(DiagnosticDescriptors.InferenceWithGrad);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            if (SharpGradSymbols.TryCreate(start.Compilation) is not { } symbols || symbols.Module is null) return;
            AnalyzerSetup.RegisterWithFacts(start, symbols, (ctx, getFacts) =>
            {
                var forward = (IInvocationOperation)ctx.Operation;
                if (forward.TargetMethod.Name is not ("Forward" or "Call") || forward.Instance is null || !symbols.IsModule(forward.Instance.Type)) return;
                if (!symbols.IsTensor(forward.Type) || !MayHaveParameters(forward.Instance.Type, symbols)) return;
                var facts = getFacts();
                if (facts.GradModeOff(forward, null) != Tri.False || IsCreatedWithoutParameters(facts.ValueOf(forward.Instance).Operation, symbols)) return;
                if (facts.Invocations.Any(i => AnalyzerSetup.IsBackward(i, symbols)
                    || (i.TargetMethod.Name == "Grad" && SymbolEqualityComparer.Default.Equals(i.TargetMethod.ContainingType, symbols.Autograd)))) return;
                if (!new EscapeCheck(facts, symbols).StaysLocal(forward, 0)) return;

                var receiver = facts.StableSymbol(forward.Instance) ?? (MethodFacts.Unwrap(forward.Instance) as IFieldReferenceOperation)?.Field;
                bool evaluated = receiver is not null && facts.Invocations.Any(i => i.TargetMethod.Name == "Eval"
                    && i.Instance is not null
                    && i.Syntax.SpanStart < forward.Syntax.SpanStart
                    && SymbolEqualityComparer.Default.Equals(
                        facts.StableSymbol(i.Instance) ?? (MethodFacts.Unwrap(i.Instance) as IFieldReferenceOperation)?.Field, receiver));
                var receiverText = AnalyzerSetup.Text(forward.Instance);
                ctx.ReportDiagnostic(Diagnostic.Create(
                    DiagnosticDescriptors.InferenceWithGrad,
                    forward.Syntax.GetLocation(),
                    receiverText,
                    evaluated ? "" : $" and call `{receiverText}.Eval()` first"));
            }, OperationKind.Invocation);
        });
    }

    /// <summary>
    /// False for a module type that certainly has no parameters (no <c>Parameter</c> or child-module member, not a container
    /// such as <c>Sequential</c>): its forward records nothing unless its input requires grad (pooling, Flatten, ReLU, …).
    /// </summary>
    private static bool MayHaveParameters(ITypeSymbol? type, SharpGradSymbols symbols)
    {
        for (var t = type; t is not null && !SymbolEqualityComparer.Default.Equals(t, symbols.Module); t = t.BaseType)
        {
            if (t.Name is "Sequential" or "ModuleList" && t.ContainingNamespace?.ToDisplayString() == "SharpGrad.Layers") return true;
            foreach (var member in t.GetMembers())
            {
                var memberType = member switch
                {
                    IFieldSymbol f => f.Type,
                    IPropertySymbol p => p.Type,
                    _ => null,
                };
                if (memberType is null) continue;
                if ((symbols.Parameter is not null && SharpGradSymbols.DerivesFrom(memberType, symbols.Parameter)) || symbols.IsModule(memberType)) return true;
                if (memberType is IArrayTypeSymbol or INamedTypeSymbol { IsGenericType: true } && memberType.ToDisplayString().Contains("Module")) return true;
            }
        }
        return false;
    }

    /// <summary>
    /// True for a layer created with its parameters switched off — PyTorch's <c>affine=False</c> /
    /// <c>elementwise_affine=False</c> (<c>new BatchNorm1d(3, affine: false)</c>) on a type whose parameters are all optional
    /// (nullable): it has no parameters, so its forward records nothing unless its input requires grad.
    /// </summary>
    private static bool IsCreatedWithoutParameters(IOperation module, SharpGradSymbols symbols)
    {
        if (module is not IObjectCreationOperation { Type: { } type } creation || symbols.Parameter is null) return false;
        if (!creation.Arguments.Any(a => a.Parameter?.Name is "affine" or "elementwiseAffine" && a.Value.ConstantValue is { HasValue: true, Value: false })) return false;
        for (var t = type; t is not null && !SymbolEqualityComparer.Default.Equals(t, symbols.Module); t = t.BaseType)
        {
            foreach (var member in t.GetMembers())
            {
                var (memberType, annotation) = member switch
                {
                    IFieldSymbol f => (f.Type, f.NullableAnnotation),
                    IPropertySymbol p => (p.Type, p.NullableAnnotation),
                    _ => ((ITypeSymbol?)null, NullableAnnotation.None),
                };
                if (memberType is null || member.IsStatic) continue;
                bool weight = SharpGradSymbols.DerivesFrom(memberType, symbols.Parameter) || symbols.IsModule(memberType);
                if (weight && annotation != NullableAnnotation.Annotated) return false;
            }
        }
        return true;
    }

    /// <summary>Follows a tensor value through its uses; true when every use ends in a plain (non-tensor) value or is discarded.</summary>
    private readonly struct EscapeCheck
    {
        private readonly MethodFacts _facts;
        private readonly SharpGradSymbols _symbols;

        public EscapeCheck(MethodFacts facts, SharpGradSymbols symbols)
        {
            _facts = facts;
            _symbols = symbols;
        }

        public bool StaysLocal(IOperation value, int depth)
        {
            if (depth > 12) return false;
            var op = value;
            while (op.Parent is IConversionOperation { OperatorMethod: null } conversion && _symbols.IsTensor(conversion.Type)) op = op.Parent;
            switch (op.Parent)
            {
                case IExpressionStatementOperation:
                    return true;
                case IVariableInitializerOperation { Parent: IVariableDeclaratorOperation declarator }:
                    {
                        var local = declarator.Symbol;
                        if (_facts.SingleValue(local) is null) return false;
                        foreach (var reference in _facts.ReferencesOf(local))
                        {
                            if (!StaysLocal(reference, depth + 1)) return false;
                        }
                        return true;
                    }
                case IInvocationOperation call when call.Instance == op:
                    return _symbols.IsTensorMethod(call.TargetMethod) && call.TargetMethod.Name != "RegisterHook"
                        && (!_symbols.MayHoldTensors(call.Type) || (_symbols.IsTensor(call.Type) && StaysLocal(call, depth + 1)));
                case IArgumentOperation { Parent: IInvocationOperation call } argument when argument.Value == op:
                    {
                        var target = call.TargetMethod;
                        bool pure = (target.IsStatic && (_symbols.IsTensor(target.ContainingType) || _symbols.IsFunctional(target)
                                || target.ContainingType.Name == "Losses" && target.ContainingNamespace?.ToDisplayString() == "SharpGrad"))
                            || (!target.IsStatic && _symbols.IsTensorMethod(target))
                            || (target.Name is "Forward" or "Call" && call.Instance is not null && _symbols.IsModule(call.Instance.Type));
                        return pure && (!_symbols.MayHoldTensors(call.Type) || (_symbols.IsTensor(call.Type) && StaysLocal(call, depth + 1)));
                    }
                case IBinaryOperation binary:
                    return !_symbols.IsTensor(binary.Type) || StaysLocal(binary, depth + 1);
                case IUnaryOperation unary:
                    return !_symbols.IsTensor(unary.Type) || StaysLocal(unary, depth + 1);
                case IPropertyReferenceOperation property when property.Instance == op:
                    return !_symbols.MayHoldTensors(property.Type) || (_symbols.IsTensor(property.Type) && StaysLocal(property, depth + 1));
                case IInterpolationOperation:
                    return true;
                default:
                    return false;
            }
        }
    }
}
