using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// SG2005: <c>View(...)</c> on the result of <c>Transpose</c>/<c>Permute</c>/<c>T()</c> of a contiguous tensor of known
/// shape, when the view needs strides the transposed tensor does not have (the same stride rule as the runtime's View).
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ViewOfTransposedAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(DiagnosticDescriptors.ViewOfTransposed);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            if (SharpGradSymbols.TryCreate(start.Compilation) is not { } symbols) return;
            AnalyzerSetup.RegisterWithFacts(start, symbols, (ctx, getFacts) =>
            {
                var view = (IInvocationOperation)ctx.Operation;
                if (!symbols.IsTensorMethod(view.TargetMethod, "View") || view.Instance is null || view.Arguments.Length != 1) return;
                if (MethodFacts.ConstantInts(view.Arguments[0].Value) is not { } requested) return;
                var facts = getFacts();
                if (facts.Resolve(view.Instance) is not IInvocationOperation { Instance: { } source } transpose) return;
                var name = transpose.TargetMethod.Name;
                if (!symbols.IsTensor(transpose.TargetMethod.ContainingType) || name is not ("Transpose" or "Permute" or "T")) return;
                if (!IsKnownContiguous(facts, source, 0)) return;
                var sourceShape = facts.ShapeOf(source);
                var transposedShape = facts.ShapeOf(transpose);
                if (sourceShape is null || !sourceShape.AllFixed || transposedShape is null) return;
                if (Permutation(transpose, sourceShape.Rank) is not { } permutation) return;

                var sizes = sourceShape.Sizes();
                var contiguous = ContiguousStrides(sizes);
                var oldShape = permutation.Select(p => sizes[p]).ToArray();
                var oldStrides = permutation.Select(p => contiguous[p]).ToArray();
                var newShape = ResolveRequested(requested, oldShape);
                if (newShape is null || oldShape.Any(s => s == 0)) return;
                if (ComputeViewStrides(oldShape, oldStrides, newShape)) return;

                var arguments = view.Syntax is InvocationExpressionSyntax syntax
                    ? string.Join(", ", syntax.ArgumentList.Arguments.Select(a => a.ToString()))
                    : string.Join(", ", requested);
                var transposeText = transpose.Syntax is InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax access } t
                    ? access.Name + t.ArgumentList.ToString()
                    : name;
                ctx.ReportDiagnostic(Diagnostic.Create(
                    DiagnosticDescriptors.ViewOfTransposed,
                    view.Syntax.GetLocation(),
                    arguments,
                    AnalyzerSetup.Text(view.Instance),
                    transposeText,
                    transposedShape.ToString()));
            }, OperationKind.Invocation);
        });
    }

    private static int[]? Permutation(IInvocationOperation transpose, int rank)
    {
        switch (transpose.TargetMethod.Name)
        {
            case "T":
                return rank == 2 ? new[] { 1, 0 } : null;
            case "Transpose":
                if (transpose.Arguments.Length != 2) return null;
                if (MethodFacts.ConstantInt(transpose.Arguments[0].Value) is not { } d0 || MethodFacts.ConstantInt(transpose.Arguments[1].Value) is not { } d1) return null;
                if (MethodFacts.Normalize(d0, rank) is not { } a || MethodFacts.Normalize(d1, rank) is not { } b) return null;
                var order = Enumerable.Range(0, rank).ToArray();
                (order[a], order[b]) = (order[b], order[a]);
                return order;
            default:
                return transpose.Arguments.Length == 1 && MethodFacts.ConstantInts(transpose.Arguments[0].Value) is { } dims
                    ? MethodFacts.NormalizePermutation(dims, rank)
                    : null;
        }
    }

    /// <summary>Tensors SharpGrad always allocates contiguous: creations, <c>Contiguous()</c>, <c>Clone()</c>, arithmetic results, and views of those.</summary>
    private static bool IsKnownContiguous(MethodFacts facts, IOperation operation, int depth)
    {
        if (depth > 8) return false;
        var def = facts.Resolve(operation);
        if (facts.IsCreation(def)) return true;
        if (def is IBinaryOperation or IUnaryOperation) return facts.IsOpResult(def);
        if (def is IInvocationOperation { Instance: { } receiver } call && facts.Symbols.IsTensor(call.TargetMethod.ContainingType))
        {
            return call.TargetMethod.Name switch
            {
                "Contiguous" or "Clone" => true,
                "View" or "Reshape" or "Detach" or "RequiresGrad_" or "RetainGrad" => IsKnownContiguous(facts, receiver, depth + 1),
                _ => false,
            };
        }
        return false;
    }

    private static int[] ContiguousStrides(int[] shape)
    {
        var strides = new int[shape.Length];
        int stride = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = stride;
            stride *= shape[i];
        }
        return strides;
    }

    private static int[]? ResolveRequested(int[] requested, int[] shape)
    {
        long total = 1;
        foreach (var s in shape) total *= s;
        var result = (int[])requested.Clone();
        int inferred = -1;
        long known = 1;
        for (int i = 0; i < result.Length; i++)
        {
            if (result[i] == -1 && inferred < 0) inferred = i;
            else if (result[i] < 0) return null;
            else known *= result[i];
        }
        if (inferred >= 0)
        {
            if (known == 0 || total % known != 0) return null;
            result[inferred] = (int)(total / known);
        }
        else if (known != total) return null;
        return result;
    }

    /// <summary>The runtime's (and PyTorch's) rule: can a tensor of this shape and these strides be viewed as <paramref name="newShape"/>?</summary>
    private static bool ComputeViewStrides(int[] oldShape, int[] oldStrides, int[] newShape)
    {
        int viewD = newShape.Length - 1;
        long chunkBaseStride = oldStrides.Length > 0 ? oldStrides[oldStrides.Length - 1] : 1;
        long tensorNumel = 1;
        long viewNumel = 1;
        for (int tensorD = oldShape.Length - 1; tensorD >= 0; tensorD--)
        {
            tensorNumel *= oldShape[tensorD];
            if (tensorD == 0 || (oldShape[tensorD - 1] != 1 && oldStrides[tensorD - 1] != tensorNumel * chunkBaseStride))
            {
                while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] == 1))
                {
                    viewNumel *= newShape[viewD];
                    viewD--;
                }
                if (viewNumel != tensorNumel) return false;
                if (tensorD > 0)
                {
                    chunkBaseStride = oldStrides[tensorD - 1];
                    tensorNumel = 1;
                    viewNumel = 1;
                }
            }
        }
        return viewD == -1;
    }
}
