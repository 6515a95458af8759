using System;
using System.Runtime.CompilerServices;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>Per-compilation setup shared by the analyzers: SharpGrad's types are resolved once, and nothing runs without them.</summary>
internal static class AnalyzerSetup
{
    public static void Initialize(AnalysisContext context, Action<CompilationStartAnalysisContext, SharpGradSymbols> start)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(compilationContext =>
        {
            if (SharpGradSymbols.TryCreate(compilationContext.Compilation) is { } symbols) start(compilationContext, symbols);
        });
    }

    /// <summary>
    /// The facts of each method body, built lazily once and shared by every rule: the compiler hands all analyzers the same
    /// operation tree for a body, so the tree's root is the key (and the facts go when the tree does).
    /// </summary>
    private static readonly ConditionalWeakTable<IOperation, MethodFacts> Facts = new();

    /// <summary>Registers <paramref name="action"/> for operations of <paramref name="kinds"/>, with the facts of their method body built lazily, once per body.</summary>
    public static void RegisterWithFacts(
        CompilationStartAnalysisContext context,
        SharpGradSymbols symbols,
        Action<OperationAnalysisContext, Func<MethodFacts>> action,
        params OperationKind[] kinds)
    {
        context.RegisterOperationAction(operationContext =>
        {
            var root = MethodFacts.RootOf(operationContext.Operation);
            action(operationContext, () => Facts.GetValue(root, r => MethodFacts.Create(r, symbols)));
        }, kinds);
    }

    public static bool IsBackward(IInvocationOperation invocation, SharpGradSymbols symbols)
        => invocation.Instance is not null && symbols.IsTensorMethod(invocation.TargetMethod, "Backward");

    /// <summary>The source text of an operation's syntax, on one line.</summary>
    public static string Text(IOperation operation) => Text(operation.Syntax);

    public static string Text(SyntaxNode node)
    {
        var text = node.ToString();
        return text.IndexOf('\n') < 0 ? text : string.Join(" ", text.Split(new[] { '\r', '\n', ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries));
    }
}
