using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// SG2006: a tensor made to require grad (a leaf the user means to train) goes straight into a recorded op whose result
/// is stored, so the stored tensor is a non-leaf and the leaf is lost:
/// <c>var w = Tensor.Randn([3, 4], requiresGrad: true) * 0.01f;</c>, <c>Tensor.Randn([3]).RequiresGrad_() * 2f</c>,
/// <c>w = w * 0.01f;</c> right after <c>w</c> was made to require grad (the setter, <c>RequiresGrad_()</c> or the creation),
/// and a local function or lambda that returns such a leaf.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class NonLeafRequiresGradAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(DiagnosticDescriptors.NonLeafRequiresGrad);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            if (SharpGradSymbols.TryCreate(start.Compilation) is not { } symbols) return;
            AnalyzerSetup.RegisterWithFacts(start, symbols, (ctx, getFacts) =>
            {
                var op = ctx.Operation;
                if (!symbols.IsTensor(op.Type)) return;
                var stored = SkipConversions(op).Parent;
                if (StoredName(stored) is not { } name) return;
                var facts = getFacts();
                if (!facts.IsOpResult(op) || facts.GradModeOff(op, null) != Tri.False) return;
                var overwritten = stored is ISimpleAssignmentOperation { Target: ILocalReferenceOperation target } ? target.Local : null;
                if (!facts.Operands(op).Any(operand => IsFreshLeaf(facts, operand, null, overwritten))) return;
                ctx.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.NonLeafRequiresGrad, op.Syntax.GetLocation(), OpName(op), name));
            }, OperationKind.Invocation, OperationKind.Binary, OperationKind.Unary);
        });
    }

    /// <summary>
    /// Is the operand a leaf made to require grad that nothing else holds? A creation with <c>requiresGrad: true</c>, a
    /// creation's <c>RequiresGrad_()</c>, a new <c>Parameter</c>; a local that held only such a leaf and is overwritten by
    /// the op's result (<paramref name="overwritten"/>); a plain local function or lambda that returns one.
    /// </summary>
    private static bool IsFreshLeaf(MethodFacts facts, IOperation operand, Frame? frame, ILocalSymbol? overwritten)
    {
        var op = MethodFacts.Unwrap(operand);
        switch (op)
        {
            case IInvocationOperation call when facts.IsCreation(call):
                return MethodFacts.IsRequiresGradTrue(call);
            case IInvocationOperation { TargetMethod.Name: "RequiresGrad_", Instance: { } receiver } call when facts.IsAliasCall(call):
                return facts.IsCreation(MethodFacts.Unwrap(receiver)) && facts.StateAt(call, frame).RequiresGrad == Tri.True;
            case IObjectCreationOperation:
                return facts.Symbols.Parameter is not null && SharpGradSymbols.DerivesFrom(op.Type, facts.Symbols.Parameter)
                    && facts.StateAt(op, frame).RequiresGrad == Tri.True;
            case IInvocationOperation call when facts.Inline(call, frame) is { } inner:
                // The callee's own local holds the leaf only until it returns it.
                return IsFreshLeaf(facts, inner.Returned, inner, MethodFacts.Unwrap(inner.Returned) is ILocalReferenceOperation returned ? returned.Local : null);
            case ILocalReferenceOperation local when SymbolEqualityComparer.Default.Equals(local.Local, overwritten):
                {
                    if (facts.ReachingWrite(local) is not { Value: { } value } write || !facts.Dominates(write.Site, local)) return false;
                    var state = facts.StateAt(local, frame);
                    if (state.Leaf != Tri.True || state.RequiresGrad != Tri.True) return false;
                    var definition = MethodFacts.Unwrap(value);
                    if (!(facts.IsCreation(definition) || definition is IObjectCreationOperation || IsFreshLeaf(facts, definition, frame, null))) return false;
                    // Nothing else reads that leaf: every other read of the local sees another value or only makes it require grad.
                    var leaf = facts.ValueOf(local, frame);
                    return facts.ReferencesOf(local.Local).All(r => r == local || IsWriteTarget(r) || OnlyMakesItRequireGrad(r) || !facts.ValueOf(r, frame).Equals(leaf));
                }
            default:
                return false;
        }
    }

    private static bool IsWriteTarget(IOperation reference) => reference.Parent is IAssignmentOperation assignment && assignment.Target == reference;

    /// <summary><c>w.RequiresGrad = …;</c> or <c>w.RequiresGrad_(…);</c> as a statement.</summary>
    private static bool OnlyMakesItRequireGrad(IOperation reference) => reference.Parent switch
    {
        IPropertyReferenceOperation { Property.Name: "RequiresGrad", Parent: ISimpleAssignmentOperation assignment } property
            => assignment.Target == property,
        IInvocationOperation { TargetMethod.Name: "RequiresGrad_", Parent: IExpressionStatementOperation } => true,
        _ => false,
    };

    private static IOperation SkipConversions(IOperation operation)
    {
        var op = operation;
        while (op.Parent is IConversionOperation { OperatorMethod: null } or IParenthesizedOperation) op = op.Parent;
        return op;
    }

    private static string? StoredName(IOperation? parent) => parent switch
    {
        IVariableInitializerOperation { Parent: IVariableDeclaratorOperation declarator } => declarator.Symbol.Name,
        IFieldInitializerOperation field when field.InitializedFields.Length == 1 => field.InitializedFields[0].Name,
        IPropertyInitializerOperation property when property.InitializedProperties.Length == 1 => property.InitializedProperties[0].Name,
        ISimpleAssignmentOperation { Target: ILocalReferenceOperation local } => local.Local.Name,
        ISimpleAssignmentOperation { Target: IFieldReferenceOperation field } => field.Field.Name,
        ISimpleAssignmentOperation { Target: IPropertyReferenceOperation property } => property.Property.Name,
        _ => null,
    };

    private static string OpName(IOperation op) => op.Syntax switch
    {
        BinaryExpressionSyntax binary => binary.OperatorToken.Text,
        PrefixUnaryExpressionSyntax unary => unary.OperatorToken.Text,
        InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax access } => access.Name.Identifier.ValueText + "(…)",
        _ => op is IInvocationOperation invocation ? invocation.TargetMethod.Name + "(…)" : AnalyzerSetup.Text(op),
    };
}
