using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// SG2004: a loop that calls <c>Backward()</c> and an optimizer's <c>Step()</c> but nothing that could zero the
/// gradients — no <c>ZeroGrad()</c>/<c>Zero_()</c>, no write to <c>.Grad</c>, and no call into code that might do so.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class MissingZeroGradAnalyzer : DiagnosticAnalyzer
{
    private const int MaxCallDepth = 6;

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(DiagnosticDescriptors.MissingZeroGrad);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            if (SharpGradSymbols.TryCreate(start.Compilation) is not { } symbols || symbols.Optimizer is null) return;
            var oracle = new ZeroGradOracle(start.Compilation, symbols);
            start.RegisterOperationAction(ctx => AnalyzeLoop((ILoopOperation)ctx.Operation, symbols, oracle, ctx), OperationKind.Loop);
        });
    }

    private static void AnalyzeLoop(ILoopOperation loop, SharpGradSymbols symbols, ZeroGradOracle oracle, OperationAnalysisContext ctx)
    {
        IInvocationOperation? step = null;
        bool backward = false;
        foreach (var op in loop.Body.DescendantsAndSelf())
        {
            if (op is IInvocationOperation invocation)
            {
                var method = invocation.TargetMethod;
                if (AnalyzerSetup.IsBackward(invocation, symbols))
                {
                    backward |= !InsideLambda(invocation, loop);
                    continue;
                }
                if (method.Name == "Step" && invocation.Instance is not null && symbols.IsOptimizer(invocation.Instance.Type))
                {
                    if (step is null && MethodFacts.NearestLoop(invocation) == loop) step = invocation;
                    continue;
                }
                if (oracle.MayZero(method, 0)) return;
            }
            else if (op is IAssignmentOperation { Target: IPropertyReferenceOperation { Property.Name: "Grad" } }) return;
            else if (op is IObjectCreationOperation { Constructor: { } constructor } && oracle.MayZero(constructor, 0)) return;
        }
        if (step is null || !backward) return;
        ctx.ReportDiagnostic(Diagnostic.Create(
            DiagnosticDescriptors.MissingZeroGrad,
            step.Syntax.GetLocation(),
            additionalLocations: new[] { loop.Syntax.GetLocation() },
            AnalyzerSetup.Text(step.Instance!)));
    }

    private static bool InsideLambda(IOperation operation, IOperation stop)
    {
        for (var op = operation.Parent; op is not null && op != stop; op = op.Parent)
        {
            if (op is IAnonymousFunctionOperation or ILocalFunctionOperation) return true;
        }
        return false;
    }

    /// <summary>
    /// Answers "could this call zero the gradients?" — true when it does or when it cannot tell. Methods of the BCL and
    /// of SharpGrad (other than ZeroGrad) do not; source methods are read (syntactically, following calls by name a
    /// few levels deep); delegates and other libraries' methods are unknown.
    /// </summary>
    private sealed class ZeroGradOracle
    {
        private readonly Compilation _compilation;
        private readonly SharpGradSymbols _symbols;
        private readonly ConcurrentDictionary<string, bool> _sourceNames = new();

        public ZeroGradOracle(Compilation compilation, SharpGradSymbols symbols)
        {
            _compilation = compilation;
            _symbols = symbols;
        }

        public bool MayZero(IMethodSymbol method, int depth)
        {
            if (IsZeroingName(method.Name)) return true;
            if (method.MethodKind is MethodKind.DelegateInvoke or MethodKind.FunctionPointerSignature) return true;
            if (method.MethodKind == MethodKind.LocalFunction || method.MethodKind == MethodKind.AnonymousFunction) return SourceBodiesMayZero(method, depth);
            if (method.DeclaringSyntaxReferences.Length > 0 || method.Locations.Any(l => l.IsInSource)) return SourceNameMayZero(method.Name, depth);
            if (SymbolEqualityComparer.Default.Equals(method.ContainingAssembly, _symbols.Tensor.ContainingAssembly)) return false;
            return !SharpGradSymbols.IsFramework(method);
        }

        private static bool IsZeroingName(string name) => name is "ZeroGrad" or "Zero_";

        private bool SourceNameMayZero(string name, int depth, System.Collections.Generic.HashSet<string>? visiting = null)
        {
            if (depth >= MaxCallDepth) return true;
            bool top = visiting is null;
            if (top && _sourceNames.TryGetValue(name, out bool known)) return known;
            visiting ??= new System.Collections.Generic.HashSet<string>();
            // A name already being read is a cycle: its other bodies are read by the outer call.
            if (!visiting.Add(name)) return false;
            bool result = false;
            foreach (var symbol in _compilation.GetSymbolsWithName(name, SymbolFilter.Member))
            {
                if (symbol is IMethodSymbol m && SourceBodiesMayZero(m, depth, visiting))
                {
                    result = true;
                    break;
                }
            }
            // Only a top-level answer is complete (a nested one may have cut a cycle).
            if (top) _sourceNames[name] = result;
            return result;
        }

        private bool SourceBodiesMayZero(IMethodSymbol method, int depth, System.Collections.Generic.HashSet<string>? visiting = null)
        {
            foreach (var reference in method.DeclaringSyntaxReferences)
            {
                var node = reference.GetSyntax();
                foreach (var descendant in node.DescendantNodes())
                {
                    switch (descendant)
                    {
                        case InvocationExpressionSyntax invocation:
                            var called = CalledName(invocation.Expression);
                            if (called is null || IsZeroingName(called)) return true;
                            if (SourceNameMayZero(called, depth + 1, visiting ?? new System.Collections.Generic.HashSet<string>())) return true;
                            break;
                        case AssignmentExpressionSyntax { Left: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Grad" } }:
                            return true;
                    }
                }
            }
            return false;
        }

        private static string? CalledName(ExpressionSyntax expression) => expression switch
        {
            IdentifierNameSyntax identifier => identifier.Identifier.ValueText,
            GenericNameSyntax generic => generic.Identifier.ValueText,
            MemberAccessExpressionSyntax memberAccess => memberAccess.Name.Identifier.ValueText,
            MemberBindingExpressionSyntax binding => binding.Name.Identifier.ValueText,
            _ => null,
        };
    }
}
