using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// SG2010: an optimizer built from <c>model.Parameters()</c> steps in a loop that also calls <c>Backward()</c>, and
/// <c>model.Eval()</c> (or <c>Train(false)</c>, on the model or a module containing it) can run before that step with no
/// <c>Train()</c> on the way — found on the method's control-flow graph, so an evaluation at the end of an epoch is caught
/// when the next epoch trains without <c>Train()</c>. Anything that might switch the mode back — <c>Train(x)</c>,
/// <c>Apply</c>, the model handed to user code, or any user code at all when the model is a field — ends the path.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class TrainingInEvalModeAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(DiagnosticDescriptors.TrainingInEvalMode);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            if (SharpGradSymbols.TryCreate(start.Compilation) is not { } symbols || symbols.Optimizer is null || symbols.Module is null) return;
            AnalyzerSetup.RegisterWithFacts(start, symbols, (ctx, getFacts) =>
            {
                var step = (IInvocationOperation)ctx.Operation;
                if (step.TargetMethod.Name != "Step" || step.Instance is not { } optimizer || !symbols.IsOptimizer(optimizer.Type)) return;
                if (MethodFacts.EnclosingFunction(step) is not null || TrainingLoop(step, symbols) is null) return;
                var facts = getFacts();
                if (facts.OptimizerSource(optimizer) is not var (_, trained)) return;

                var evals = new List<(IInvocationOperation Call, ModulePath Module)>();
                var barriers = new HashSet<SyntaxNode>();
                foreach (var call in facts.Invocations)
                {
                    var mode = ModeSet(call, facts, symbols);
                    if (mode is Tri.False && MethodFacts.EnclosingFunction(call) is null && facts.PathOf(call.Instance!) is { } evaluated && trained.IsWithin(evaluated))
                    {
                        evals.Add((call, evaluated));
                    }
                    else if (MayTrain(call, mode, trained, facts, symbols))
                    {
                        // A switch back inside a lambda or local function may run anywhere: not followed.
                        if (MethodFacts.EnclosingFunction(call) is not null) return;
                        barriers.Add(call.Syntax);
                    }
                }
                if (evals.Count == 0) return;

                var paths = ControlFlowPaths.Of(ctx);
                if (!paths.Contains(step)) return;
                foreach (var (eval, evaluated) in evals)
                {
                    if (!paths.Contains(eval) || !paths.MayReach(eval, step, barriers.Contains)) continue;
                    var locations = new List<Location> { eval.Syntax.GetLocation() };
                    if (LoopToPrepare(step, eval) is { } loop) locations.Add(loop.Syntax.GetLocation());
                    ctx.ReportDiagnostic(Diagnostic.Create(
                        DiagnosticDescriptors.TrainingInEvalMode,
                        step.Syntax.GetLocation(),
                        locations,
                        AnalyzerSetup.Text(optimizer),
                        evaluated.Text));
                    return;
                }
            }, OperationKind.Invocation);
        });
    }

    /// <summary>The nearest loop around the step whose body (not a lambda in it) also calls <c>Backward()</c>.</summary>
    private static ILoopOperation? TrainingLoop(IInvocationOperation step, SharpGradSymbols symbols)
        => MethodFacts.NearestLoop(step) is { } loop && MethodFacts.OwnDescendants(loop.Body).Any(o => o is IInvocationOperation i && AnalyzerSetup.IsBackward(i, symbols))
            ? loop
            : null;

    /// <summary>The outermost loop around the step that does not contain the <c>Eval()</c>: <c>Train()</c> goes right before it.</summary>
    private static ILoopOperation? LoopToPrepare(IOperation step, IOperation eval)
    {
        ILoopOperation? outermost = null;
        for (var op = step.Parent; op is not null; op = op.Parent)
        {
            if (op is ILoopOperation loop && !MethodFacts.Contains(loop, eval)) outermost = loop;
        }
        return outermost;
    }

    /// <summary>For <c>m.Train(…)</c>/<c>m.Eval()</c> on a module: is training mode on after it (false for <c>Eval()</c> and <c>Train(false)</c>)? Null for other calls.</summary>
    private static Tri? ModeSet(IInvocationOperation call, MethodFacts facts, SharpGradSymbols symbols)
    {
        if (call.Instance is null || !symbols.IsModule(call.Instance.Type)) return null;
        return call.TargetMethod.Name switch
        {
            "Eval" when call.Arguments.Length == 0 => Tri.False,
            "Train" => call.Arguments.FirstOrDefault(a => a.ArgumentKind != ArgumentKind.DefaultValue) is { } argument
                ? argument.Value.ConstantValue is { HasValue: true, Value: bool on } ? on.ToTri() : Tri.Unknown
                : Tri.True,
            _ => null,
        };
    }

    /// <summary>Could the call put the trained module back in training mode?</summary>
    private static bool MayTrain(IInvocationOperation call, Tri? mode, ModulePath trained, MethodFacts facts, SharpGradSymbols symbols)
    {
        bool Related(IOperation module) => facts.PathOf(module) is not { } path || path.IsRelatedTo(trained);

        if (mode is Tri.True or Tri.Unknown) return Related(call.Instance!);
        if (mode is Tri.False) return false;
        var method = call.TargetMethod;
        if (method.Name == "Apply" && call.Instance is not null && symbols.IsModule(call.Instance.Type)) return Related(call.Instance);
        if (symbols.IsSharpGradApi(method) || SharpGradSymbols.IsFramework(method)) return false;
        if (method.Name is "Forward" or "Call" && symbols.IsModule(method.ContainingType)) return false;
        // User code: it may switch a module it is given, a module that is the class's own state, or one it captures.
        if (MethodFacts.IsClassState(trained) || method.MethodKind is MethodKind.LocalFunction or MethodKind.DelegateInvoke) return true;
        if (call.Instance is not null && symbols.IsModule(call.Instance.Type) && Related(call.Instance)) return true;
        return call.Arguments.Any(a => symbols.IsModule(MethodFacts.Unwrap(a.Value).Type) && Related(a.Value));
    }
}
