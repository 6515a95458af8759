using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// SG2011: inside a loop, a tensor that requires grad is added to a total (<c>total += loss</c>, <c>total = total + loss</c>)
/// or to a list (<c>losses.Add(loss)</c>) held in a local declared outside the loop, and that total is only ever read as
/// plain values (<c>Item()</c>, printing): every iteration's graph stays alive for nothing. A total that reaches
/// <c>Backward()</c>, <c>Autograd.Grad</c> or unknown code is left alone (summing a sequence's losses for one backward is
/// how truncated backpropagation through time is written).
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class AccumulatedGraphAnalyzer : DiagnosticAnalyzer
{
    private const int MaxUseDepth = 8;

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(DiagnosticDescriptors.AccumulatedGraph);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            if (SharpGradSymbols.TryCreate(start.Compilation) is not { } symbols) return;
            AnalyzerSetup.RegisterWithFacts(start, symbols, (ctx, getFacts) =>
            {
                if (Accumulation(ctx.Operation, symbols) is not var (total, term)) return;
                if (MethodFacts.NearestLoop(ctx.Operation) is not { } loop || DeclaredInside(total, loop)) return;
                var facts = getFacts();
                if (facts.StateAt(term, null).RequiresGrad != Tri.True) return;
                var uses = new UseCheck(facts, symbols);
                if (!facts.ReferencesOf(total).All(r => uses.OnlyPlainValues(r, 0))) return;
                ctx.ReportDiagnostic(Diagnostic.Create(
                    DiagnosticDescriptors.AccumulatedGraph,
                    ctx.Operation.Syntax.GetLocation(),
                    additionalLocations: new[] { term.Syntax.GetLocation() },
                    AnalyzerSetup.Text(term),
                    total.Name));
            }, OperationKind.CompoundAssignment, OperationKind.SimpleAssignment, OperationKind.Invocation);
        });
    }

    /// <summary>The total (a local) and the tensor added to it, for <c>total += t</c>, <c>total = total + t</c> and <c>list.Add(t)</c>.</summary>
    private static (ILocalSymbol Total, IOperation Term)? Accumulation(IOperation operation, SharpGradSymbols symbols)
    {
        switch (operation)
        {
            case ICompoundAssignmentOperation { OperatorKind: BinaryOperatorKind.Add, Target: ILocalReferenceOperation total, Value: var term }
                when symbols.IsTensor(total.Type) && symbols.IsTensor(MethodFacts.Unwrap(term).Type):
                return (total.Local, MethodFacts.Unwrap(term));
            case ISimpleAssignmentOperation { Target: ILocalReferenceOperation total, Value: var value } when symbols.IsTensor(total.Type)
                && MethodFacts.Unwrap(value) is IBinaryOperation { OperatorKind: BinaryOperatorKind.Add } sum:
                {
                    var left = MethodFacts.Unwrap(sum.LeftOperand);
                    var right = MethodFacts.Unwrap(sum.RightOperand);
                    if (left is ILocalReferenceOperation l && SymbolEqualityComparer.Default.Equals(l.Local, total.Local) && symbols.IsTensor(right.Type)) return (total.Local, right);
                    if (right is ILocalReferenceOperation r && SymbolEqualityComparer.Default.Equals(r.Local, total.Local) && symbols.IsTensor(left.Type)) return (total.Local, left);
                    return null;
                }
            case IInvocationOperation { TargetMethod.Name: "Add", Instance: ILocalReferenceOperation list, Arguments: { Length: 1 } arguments } add
                when add.TargetMethod.ContainingNamespace?.ToDisplayString() == "System.Collections.Generic" && symbols.IsTensor(MethodFacts.Unwrap(arguments[0].Value).Type):
                return (list.Local, MethodFacts.Unwrap(arguments[0].Value));
            default:
                return null;
        }
    }

    private static bool DeclaredInside(ILocalSymbol local, ILoopOperation loop)
        => local.DeclaringSyntaxReferences.Length != 1 || loop.Syntax.Span.Contains(local.DeclaringSyntaxReferences[0].Span);

    /// <summary>Follows a total through its uses: true when every use ends in a plain value (or adds to it again).</summary>
    private readonly struct UseCheck
    {
        private readonly MethodFacts _facts;
        private readonly SharpGradSymbols _symbols;
        private readonly HashSet<ILocalSymbol> _followed;

        public UseCheck(MethodFacts facts, SharpGradSymbols symbols)
        {
            _facts = facts;
            _symbols = symbols;
            _followed = new HashSet<ILocalSymbol>(SymbolEqualityComparer.Default);
        }

        public bool OnlyPlainValues(IOperation use, int depth)
        {
            if (depth > MaxUseDepth) return false;
            var op = use;
            while (op.Parent is IConversionOperation or IParenthesizedOperation) op = op.Parent;
            switch (op.Parent)
            {
                case IExpressionStatementOperation:
                case IInterpolationOperation:
                    return true;
                case IAssignmentOperation assignment when assignment.Target == op:
                    return true;
                case ISimpleAssignmentOperation { Target: ILocalReferenceOperation local } assignment when assignment.Value == op:
                    return LocalStaysPlain(local.Local, depth);
                case IVariableInitializerOperation { Parent: IVariableDeclaratorOperation declarator }:
                    return LocalStaysPlain(declarator.Symbol, depth);
                case IPropertyReferenceOperation property when property.Instance == op:
                    return !_symbols.MayHoldTensors(property.Type) || (_symbols.IsTensor(property.Type) && OnlyPlainValues(property, depth + 1));
                case IInvocationOperation call when call.Instance == op:
                    if (call.TargetMethod.Name is "Backward" or "RegisterHook") return false;
                    if (_symbols.IsTensor(call.Type)) return OnlyPlainValues(call, depth + 1);
                    return !_symbols.MayHoldTensors(call.Type);
                case IArgumentOperation { Parent: IInvocationOperation call }:
                    {
                        var method = call.TargetMethod;
                        if (SymbolEqualityComparer.Default.Equals(method.ContainingType, _symbols.Autograd)) return false;
                        bool tensorOp = method.IsStatic && (_symbols.IsTensor(method.ContainingType) || _symbols.IsFunctional(method)
                            || SymbolEqualityComparer.Default.Equals(method.ContainingType, _symbols.Losses));
                        if (tensorOp && _symbols.IsTensor(call.Type)) return OnlyPlainValues(call, depth + 1);
                        return SharpGradSymbols.IsFramework(method) && !_symbols.MayHoldTensors(call.Type);
                    }
                case IBinaryOperation binary:
                    return !_symbols.IsTensor(binary.Type) || OnlyPlainValues(binary, depth + 1);
                case IUnaryOperation unary:
                    return !_symbols.IsTensor(unary.Type) || OnlyPlainValues(unary, depth + 1);
                case IForEachLoopOperation loop when loop.Collection == op:
                    foreach (var local in loop.Locals)
                    {
                        if (!LocalStaysPlain(local, depth)) return false;
                    }
                    return true;
                default:
                    return false;
            }
        }

        public bool LocalStaysPlain(ILocalSymbol local, int depth)
        {
            // A local already being followed (the total itself: total = total + loss) adds nothing new.
            if (!_followed.Add(local)) return true;
            foreach (var reference in _facts.ReferencesOf(local))
            {
                if (!OnlyPlainValues(reference, depth + 1)) return false;
            }
            return true;
        }
    }
}
