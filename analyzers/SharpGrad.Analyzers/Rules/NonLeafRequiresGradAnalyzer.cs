using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// SG2006: a creation call with <c>requiresGrad: true</c> whose result goes straight into an op whose result is stored
/// (<c>var w = Tensor.Randn([3, 4], requiresGrad: true) * 0.01f;</c>): the stored tensor is a non-leaf.
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
                var creation = (IInvocationOperation)ctx.Operation;
                var method = creation.TargetMethod;
                if (!method.IsStatic || !symbols.IsTensor(method.ContainingType) || !MethodFacts.IsRequiresGradTrue(creation)) return;
                var facts = getFacts();
                if (!facts.IsCreation(creation)) return;

                var op = SkipConversions(creation).Parent;
                if (op is IArgumentOperation argument) op = argument.Parent;
                if (op is null || !facts.IsOpResult(op) || facts.InsideNoGrad(op)) return;
                if (op is IInvocationOperation call && call.Instance is not null && SkipConversions(creation) != call.Instance
                    && !symbols.IsTensor(call.Instance.Type)) return;

                var stored = StoredName(SkipConversions(op).Parent);
                if (stored is null) return;
                ctx.ReportDiagnostic(Diagnostic.Create(
                    DiagnosticDescriptors.NonLeafRequiresGrad,
                    op.Syntax.GetLocation(),
                    OpName(op),
                    stored));
            }, OperationKind.Invocation);
        });
    }

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
