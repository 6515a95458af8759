using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// Value flow through one method body — the one mechanism every rule asks "which value is this?": a local's reaching
/// write in straight-line code, and calls of local functions and lambdas whose body is plain (one final <c>return</c>)
/// followed into that body with its parameters bound to the call's arguments. Where the flow is not plain (a write in a
/// branch or a loop that may or may not have run, a write inside a lambda, a <c>goto</c>), the answer is "not known".
/// </summary>
internal sealed partial class MethodFacts
{
    private const int MaxFrameDepth = 4;
    private const int MaxResolveSteps = 32;

    private readonly object _flowLock = new();
    private readonly Dictionary<FlowValue, FlowValue> _values = new();
    private readonly Dictionary<ILocalReferenceOperation, Write?> _reachingWrites = new();
    private readonly Dictionary<IOperation, IOperation?> _singleReturns = new();
    private Dictionary<IMethodSymbol, ILocalFunctionOperation>? _localFunctions;
    private bool? _hasGoto;

    /// <summary>The write of a local that the read <paramref name="read"/> certainly sees, or null when it is not known.</summary>
    public Write? ReachingWrite(ILocalReferenceOperation read)
    {
        lock (_flowLock)
        {
            if (!_reachingWrites.TryGetValue(read, out var write)) _reachingWrites[read] = write = ComputeReachingWrite(read);
            return write;
        }
    }

    /// <summary>The value the read of a local certainly sees (its reaching write's value), or null.</summary>
    public IOperation? ReachingValue(ILocalReferenceOperation read) => ReachingWrite(read)?.Value;

    private Write? ComputeReachingWrite(ILocalReferenceOperation read)
    {
        var local = read.Local;
        if (local.IsRef || !_writes.TryGetValue(local, out var writes) || writes.Count == 0) return null;
        // Written once: C#'s definite assignment makes that write the one every read sees.
        if (writes.Count == 1) return writes[0];
        if (HasGoto) return null;

        var function = EnclosingFunction(read);
        Write? last = null;
        foreach (var write in writes)
        {
            // Written inside another function (a lambda or local function): it may run at any time.
            if (EnclosingFunction(write.Site) != function) return null;
            if (write.Site.Syntax.Span.End <= read.Syntax.SpanStart && (last is null || write.Site.Syntax.Span.End > last.Value.Site.Syntax.Span.End)) last = write;
        }
        if (last is not { } reaching || !Dominates(reaching.Site, read)) return null;
        // A loop around the read but not around the write may bring a later write of an earlier iteration.
        for (var op = read.Parent; op is not null && op is not (IAnonymousFunctionOperation or ILocalFunctionOperation); op = op.Parent)
        {
            if (op is ILoopOperation loop && !Contains(loop, reaching.Site) && writes.Any(w => Contains(loop, w.Site))) return null;
        }
        return reaching;
    }

    /// <summary>Does <paramref name="first"/> certainly run, and finish, before <paramref name="later"/> whenever <paramref name="later"/> runs?</summary>
    public bool Dominates(IOperation first, IOperation later)
    {
        if (first.Syntax.Span.End > later.Syntax.SpanStart || EnclosingFunction(first) != EnclosingFunction(later) || HasGoto) return false;
        var scope = ControlScope(first);
        return scope is null || Contains(scope, later);
    }

    /// <summary>Could <paramref name="event"/> run between <paramref name="from"/> (null: the function's start) and <paramref name="to"/>, without certainly doing so?</summary>
    public bool MayRunBetween(IOperation @event, IOperation? from, IOperation to)
    {
        if (EnclosingFunction(@event) != EnclosingFunction(to)) return true;
        if (@event.Syntax.Span.End <= to.Syntax.SpanStart) return !Dominates(@event, to);
        // After `to`: only a loop around both (but not around `from`) brings it back before `to`.
        for (var op = to.Parent; op is not null && op is not (IAnonymousFunctionOperation or ILocalFunctionOperation); op = op.Parent)
        {
            if (op is ILoopOperation loop && Contains(loop, @event) && (from is null || !Contains(loop, from))) return true;
        }
        return false;
    }

    private bool HasGoto
    {
        get
        {
            lock (_flowLock)
            {
                return _hasGoto ??= Root.DescendantsAndSelf().Any(o => o is IBranchOperation { BranchKind: BranchKind.GoTo });
            }
        }
    }

    /// <summary>The lambda or local function whose body holds the operation, or null for the method's own body.</summary>
    public static IOperation? EnclosingFunction(IOperation operation)
    {
        for (var op = operation.Parent; op is not null; op = op.Parent)
        {
            if (op is IAnonymousFunctionOperation or ILocalFunctionOperation) return op;
        }
        return null;
    }

    /// <summary>The innermost loop around the operation in its own function (not beyond a lambda or local function), or null.</summary>
    public static ILoopOperation? NearestLoop(IOperation operation)
    {
        for (var op = operation.Parent; op is not null && op is not (IAnonymousFunctionOperation or ILocalFunctionOperation); op = op.Parent)
        {
            if (op is ILoopOperation loop) return loop;
        }
        return null;
    }

    /// <summary>Is <paramref name="inner"/> <paramref name="outer"/> or inside it?</summary>
    public static bool Contains(IOperation outer, IOperation inner)
    {
        for (var op = inner; op is not null; op = op.Parent)
        {
            if (op == outer) return true;
        }
        return false;
    }

    // ---------------------------------------------------------------- values

    /// <summary>The value an expression denotes: follows reaching writes, calls that return their receiver
    /// (<c>RequiresGrad_()</c>, <c>RetainGrad()</c>, in-place ops) and plain local functions and lambdas.</summary>
    public FlowValue ValueOf(IOperation operation) => ValueOf(operation, null);

    public FlowValue ValueOf(IOperation operation, Frame? frame)
    {
        var key = new FlowValue(Unwrap(operation), frame);
        lock (_flowLock)
        {
            if (!_values.TryGetValue(key, out var value)) _values[key] = value = ComputeValue(key.Operation, frame);
            return value;
        }
    }

    private FlowValue ComputeValue(IOperation operation, Frame? frame)
    {
        var op = Unwrap(operation);
        for (int step = 0; step < MaxResolveSteps; step++)
        {
            switch (op)
            {
                case ILocalReferenceOperation local when ReachingWrite(local) is { Value: { } value } write:
                    frame = FrameOf(write.Site, frame);
                    op = Unwrap(value);
                    continue;
                case IParameterReferenceOperation parameter when BoundArgument(parameter, frame) is { } argument:
                    op = Unwrap(argument);
                    frame = frame!.Parent;
                    continue;
                case IParameterReferenceOperation parameter when IsUnassignedParameter(parameter.Parameter) && ReferencesOf(parameter.Parameter) is { Count: > 0 } references:
                    // Every read of a parameter that is never assigned is the same value: the first read stands for them all.
                    return new FlowValue(references[0], frame);
                case IInvocationOperation call when IsAliasCall(call):
                    op = Unwrap(call.Instance!);
                    continue;
                case IInvocationOperation call when Inline(call, frame) is { } inner:
                    op = Unwrap(inner.Returned);
                    frame = inner;
                    continue;
            }
            break;
        }
        return new FlowValue(op, frame);
    }

    /// <summary>A tensor method that returns its receiver: <c>RequiresGrad_()</c>, <c>RetainGrad()</c>, <c>Detach_()</c>, in-place ops.</summary>
    public bool IsAliasCall(IInvocationOperation call)
        => call.Instance is not null && !call.TargetMethod.IsStatic && _symbols.IsTensorMethod(call.TargetMethod) && _symbols.IsTensor(call.TargetMethod.ReturnType)
            && (call.TargetMethod.Name == "RetainGrad" || call.TargetMethod.Name.EndsWith("_", System.StringComparison.Ordinal));

    /// <summary>The argument a frame binds to a parameter of its callee (by position: a lambda's parameters are the delegate's).</summary>
    private IOperation? BoundArgument(IParameterReferenceOperation parameter, Frame? frame)
    {
        if (frame is null || !SymbolEqualityComparer.Default.Equals(parameter.Parameter.ContainingSymbol, frame.Callee)) return null;
        if (parameter.Parameter.RefKind != RefKind.None || _writes.ContainsKey(parameter.Parameter)) return null;
        foreach (var argument in frame.Call.Arguments)
        {
            if (argument.Parameter?.Ordinal == parameter.Parameter.Ordinal && argument.ArgumentKind == ArgumentKind.Explicit) return argument.Value;
        }
        return null;
    }

    /// <summary>The frame a write site runs in: leaves the frames of functions that do not contain it (a captured local).</summary>
    private static Frame? FrameOf(IOperation site, Frame? frame)
    {
        while (frame is not null && !Contains(frame.Body, site)) frame = frame.Parent;
        return frame;
    }

    /// <summary>
    /// The frame for a call of a local function or lambda (through a delegate local) whose body is plain — its only
    /// <c>return</c> is its last statement — or null. Recursion and deep nesting are not followed.
    /// </summary>
    public Frame? Inline(IInvocationOperation call, Frame? frame)
    {
        if (frame is { Depth: >= MaxFrameDepth }) return null;
        IMethodSymbol? callee = null;
        IOperation? body = null;
        var target = call.TargetMethod;
        if (target.MethodKind == MethodKind.LocalFunction)
        {
            if (LocalFunction(target) is { Body: { } localBody } function)
            {
                callee = function.Symbol;
                body = localBody;
            }
        }
        else if (target.MethodKind == MethodKind.DelegateInvoke && call.Instance is not null)
        {
            var instance = ValueOf(call.Instance, frame);
            switch (instance.Operation)
            {
                case IDelegateCreationOperation { Target: IAnonymousFunctionOperation lambda }:
                    callee = lambda.Symbol;
                    body = lambda.Body;
                    break;
                case IDelegateCreationOperation { Target: IMethodReferenceOperation { Method.MethodKind: MethodKind.LocalFunction } reference }
                    when LocalFunction(reference.Method) is { Body: { } referencedBody } referenced:
                    callee = referenced.Symbol;
                    body = referencedBody;
                    break;
            }
        }
        if (callee is null || body is null) return null;
        for (var f = frame; f is not null; f = f.Parent)
        {
            if (SymbolEqualityComparer.Default.Equals(f.Callee, callee)) return null;
        }
        return SingleReturn(body) is { } returned ? new Frame(call, callee, body, returned, frame) : null;
    }

    /// <summary>The returned expression of a body whose only <c>return</c> is its last statement, or null.</summary>
    private IOperation? SingleReturn(IOperation body)
    {
        lock (_flowLock)
        {
            if (_singleReturns.TryGetValue(body, out var known)) return known;
            IOperation? result = null;
            if (body is IBlockOperation { Operations: { Length: > 0 } statements } && statements[statements.Length - 1] is IReturnOperation { ReturnedValue: { } value } last
                && !OwnDescendants(body).Any(o => o is IReturnOperation r && r != last))
            {
                result = value;
            }
            _singleReturns[body] = result;
            return result;
        }
    }

    /// <summary>The body's operations, not those of the lambdas and local functions inside it.</summary>
    public static IEnumerable<IOperation> OwnDescendants(IOperation body)
    {
        var stack = new Stack<IOperation>();
        stack.Push(body);
        while (stack.Count > 0)
        {
            var op = stack.Pop();
            yield return op;
            foreach (var child in op.ChildOperations)
            {
                if (child is not (IAnonymousFunctionOperation or ILocalFunctionOperation)) stack.Push(child);
            }
        }
    }

    private ILocalFunctionOperation? LocalFunction(IMethodSymbol symbol)
    {
        lock (_flowLock)
        {
            if (_localFunctions is null)
            {
                _localFunctions = new Dictionary<IMethodSymbol, ILocalFunctionOperation>(SymbolEqualityComparer.Default);
                foreach (var declared in Root.DescendantsAndSelf().OfType<ILocalFunctionOperation>())
                {
                    if (!_localFunctions.ContainsKey(declared.Symbol)) _localFunctions[declared.Symbol] = declared;
                }
            }
            return _localFunctions.TryGetValue((IMethodSymbol)symbol.OriginalDefinition, out var function) ? function : null;
        }
    }
}
