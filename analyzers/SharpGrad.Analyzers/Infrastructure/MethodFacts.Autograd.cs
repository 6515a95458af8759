using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// Requires-grad and leaf-ness of tensors, followed along the value flow of <see cref="MethodFacts"/>: where a value comes
/// from (a creation with <c>requiresGrad:</c>, a <c>Parameter</c>, a <c>[Buffer]</c>, <c>Detach()</c>, an op recorded or
/// computed inside <c>Autograd.NoGrad()</c>, a module's <c>Forward</c>) and what happens to that same tensor object before
/// the point asked about (the <c>RequiresGrad</c> setter, <c>RequiresGrad_()</c>, <c>Detach_()</c>, in-place ops, being
/// handed to unknown code). An event that may or may not have run makes the answer unknown.
/// </summary>
internal sealed partial class MethodFacts
{
    private const int MaxStateDepth = 64;

    private readonly Dictionary<FlowValue, GradState> _states = new();
    private readonly HashSet<FlowValue> _statesInProgress = new();
    private readonly Dictionary<IOperation, Tri> _gradModeOff = new();
    private readonly Dictionary<IOperation, HashSet<FlowValue>> _graphs = new();
    private readonly Dictionary<ITypeSymbol, bool> _hasParameters = new(SymbolEqualityComparer.Default);
    private readonly Dictionary<(IOperation Body, int Ordinal), bool> _changesParameter = new();
    private List<GradEvent>? _events;
    private bool? _mayFreeze;

    private enum GradEventKind : byte
    {
        /// <summary><c>t.RequiresGrad = v</c> or <c>t.RequiresGrad_(v)</c>.</summary>
        SetRequiresGrad,
        /// <summary><c>t.Detach_()</c>.</summary>
        Detach,
        /// <summary>An in-place op on <c>t</c> (<c>t.Add_(x)</c>).</summary>
        InPlace,
        /// <summary><c>t.RetainGrad()</c>.</summary>
        Retain,
        /// <summary><c>t</c> handed to code the analyzers do not read (which could do any of the above).</summary>
        Escape,
        /// <summary><c>t</c> passed to a local function or lambda of this method.</summary>
        LocalCall,
    }

    private readonly struct GradEvent
    {
        public GradEvent(IOperation site, IOperation target, GradEventKind kind, Tri value = Tri.Unknown)
        {
            Site = site;
            Target = target;
            Kind = kind;
            Value = value;
        }

        public IOperation Site { get; }
        public IOperation Target { get; }
        public GradEventKind Kind { get; }
        public Tri Value { get; }
    }

    // ---------------------------------------------------------------- the questions the rules ask

    /// <summary>True when the value certainly requires grad at this point.</summary>
    public bool KnownRequiresGrad(IOperation operation) => StateAt(operation, null).RequiresGrad == Tri.True;

    /// <summary>True when the value is certainly an op's recorded result (a non-leaf) at this point.</summary>
    public bool IsNonLeaf(IOperation operation) => StateAt(operation, null).Leaf == Tri.False;

    /// <summary>True when gradient recording is certainly off where the operation runs.</summary>
    public bool InsideNoGrad(IOperation operation) => GradModeOff(operation, null) == Tri.True;

    /// <summary>An op recorded on the tape when recording is on: a tensor op, a <c>Functional</c> or a <c>Losses</c> call, a tensor operator.</summary>
    public bool IsRecordedOp(IOperation operation) => IsOpResult(operation) || IsLossCall(Unwrap(operation));

    private bool IsLossCall(IOperation operation)
        => operation is IInvocationOperation { TargetMethod: { IsStatic: true } method }
            && _symbols.Losses is not null && SymbolEqualityComparer.Default.Equals(method.ContainingType, _symbols.Losses)
            && _symbols.IsTensor(method.ReturnType);

    /// <summary>Was <c>RetainGrad()</c> called on this tensor anywhere in the method, or was it handed to code that might call it?</summary>
    public bool MayBeRetained(FlowValue value)
    {
        lock (_flowLock)
        {
            foreach (var e in Events)
            {
                if (e.Kind is GradEventKind.Retain or GradEventKind.Escape or GradEventKind.LocalCall && ValueOf(e.Target, null).Equals(value)) return true;
            }
            return false;
        }
    }

    /// <summary>The recorded ops (as values) a tensor is computed from, itself included.</summary>
    public HashSet<FlowValue> GraphOf(IOperation operation)
    {
        lock (_flowLock)
        {
            if (_graphs.TryGetValue(operation, out var known)) return known;
            var graph = new HashSet<FlowValue>();
            var stack = new Stack<FlowValue>();
            stack.Push(new FlowValue(operation, null));
            while (stack.Count > 0 && graph.Count < 256)
            {
                var next = stack.Pop();
                var value = ValueOf(next.Operation, next.Frame);
                if (!IsRecordedOp(value.Operation) || GradModeOff(value.Operation, value.Frame) == Tri.True || !graph.Add(value)) continue;
                foreach (var operand in Operands(value.Operation)) stack.Push(new FlowValue(operand, value.Frame));
            }
            _graphs[operation] = graph;
            return graph;
        }
    }

    /// <summary>Does this recorded op save a tensor for its backward (so that a second backward through it fails)?</summary>
    public bool SavesAnything(FlowValue node)
        => SavedOperands(node.Operation, o => StateAt(o, node.Frame).RequiresGrad == Tri.True, out bool output).Length > 0 || output;

    /// <summary>What autograd knows about the tensor an expression evaluates to, at that expression.</summary>
    public GradState StateAt(IOperation operation, Frame? frame)
    {
        var key = new FlowValue(Unwrap(operation), frame);
        lock (_flowLock)
        {
            if (_states.TryGetValue(key, out var known)) return known;
            if (_statesInProgress.Count >= MaxStateDepth || !_statesInProgress.Add(key)) return GradState.Unknown;
            try
            {
                var state = ComputeState(key.Operation, frame);
                _states[key] = state;
                return state;
            }
            finally
            {
                _statesInProgress.Remove(key);
            }
        }
    }

    // ---------------------------------------------------------------- where a value comes from

    private GradState ComputeState(IOperation op, Frame? frame)
    {
        switch (op)
        {
            case ILocalReferenceOperation local:
                return StateOfLocal(local, frame);
            case IParameterReferenceOperation parameter:
                {
                    if (BoundArgument(parameter, frame) is { } argument)
                    {
                        var passed = StateAt(argument, frame!.Parent);
                        return AfterEvents(passed, parameter, frame.Body.Syntax.SpanStart, null, frame.Body.Parent, frame);
                    }
                    // The analyzed method's (or an unfollowed function's) own parameter: a Parameter is a leaf that requires grad.
                    var declared = IsParameterType(parameter.Type) ? GradState.LeafWith(Tri.True) : GradState.Unknown;
                    var owner = OwningFunction(parameter);
                    return AfterEvents(declared, parameter, (owner ?? Root).Syntax.SpanStart, null, owner, frame);
                }
            case IFieldReferenceOperation or IPropertyReferenceOperation:
                return StateOfMember((IMemberReferenceOperation)op);
            case IObjectCreationOperation creation when IsParameterType(creation.Type):
                return GradState.LeafWith(ConstantArgument(creation.Arguments, "requiresGrad", Tri.True));
            case IInvocationOperation call:
                return StateOfCall(call, frame);
            case IBinaryOperation or IUnaryOperation when IsOpResult(op):
                return RecordedResult(op, frame);
            default:
                return GradState.Unknown;
        }
    }

    private GradState StateOfLocal(ILocalReferenceOperation local, Frame? frame)
    {
        if (ReachingWrite(local) is not { } write) return GradState.Unknown;
        var writeFrame = FrameOf(write.Site, frame);
        GradState defined;
        int definedAt;
        IOperation definition;
        if (write.Value is { } value)
        {
            defined = StateAt(value, writeFrame);
            definedAt = write.Site.Syntax.Span.End;
            definition = write.Site;
        }
        else if (write.Site is IForEachLoopOperation loop && ElementState(loop) is { } element)
        {
            defined = element;
            definedAt = loop.Body.Syntax.SpanStart;
            definition = loop.Body;
        }
        else
        {
            return GradState.Unknown;
        }
        return AfterEvents(defined, local, definedAt, definition, EnclosingFunction(write.Site), frame);
    }

    /// <summary>
    /// The state <paramref name="defined"/> after the events on the same tensor between its definition and the read
    /// <paramref name="read"/>, seen from the function that defines it (a read inside a called local function or lambda
    /// is seen at the call).
    /// </summary>
    private GradState AfterEvents(GradState defined, IOperation read, int definedAt, IOperation? definition, IOperation? function, Frame? frame)
    {
        var value = ValueOf(read, frame);
        var point = read;
        var pointFrame = frame;
        while (EnclosingFunction(point) != function)
        {
            if (pointFrame is null || EnclosingFunction(point) != pointFrame.Body.Parent)
            {
                // Read inside a lambda or local function that is not followed: it may run at any time.
                return AnyEventChangesState(value) ? GradState.Unknown : defined;
            }
            point = pointFrame.Call;
            pointFrame = pointFrame.Parent;
        }

        var state = defined;
        var certain = new List<GradEvent>();
        foreach (var e in Events)
        {
            if (!Contains(function ?? Root, e.Site) || e.Site.Syntax.SpanStart < definedAt || e.Site.Syntax.Span.Contains(point.Syntax.SpanStart)) continue;
            if (!ValueOf(e.Target, pointFrame).Equals(value)) continue;
            if (MayRunBetween(e.Site, definition, point))
            {
                if (ChangesState(e)) return GradState.Unknown;
            }
            else if (e.Site.Syntax.Span.End <= point.Syntax.SpanStart)
            {
                certain.Add(e);
            }
        }
        foreach (var e in certain.OrderBy(e => e.Site.Syntax.SpanStart)) state = Apply(state, e, pointFrame);
        return state;
    }

    private GradState Apply(GradState state, GradEvent e, Frame? frame) => e.Kind switch
    {
        // Setting RequiresGrad on a non-leaf throws; after a successful set the tensor is a leaf.
        GradEventKind.SetRequiresGrad => state.Leaf == Tri.False ? state : new GradState(e.Value, Tri.True),
        GradEventKind.Detach => GradState.LeafWith(Tri.False),
        GradEventKind.InPlace => InPlaceEffect(state, (IInvocationOperation)e.Site, frame),
        GradEventKind.Retain => state,
        GradEventKind.LocalCall when !ChangesState(e) => state,
        _ => GradState.Unknown,
    };

    private bool ChangesState(GradEvent e) => e.Kind switch
    {
        GradEventKind.Retain => false,
        GradEventKind.LocalCall => LocalCallMayChange(e),
        _ => true,
    };

    private bool AnyEventChangesState(FlowValue value)
    {
        foreach (var e in Events)
        {
            if (ChangesState(e) && ValueOf(e.Target, null).Operation == value.Operation) return true;
        }
        return false;
    }

    private GradState InPlaceEffect(GradState receiver, IInvocationOperation inPlace, Frame? frame)
    {
        if (GradModeOff(inPlace, frame) == Tri.True) return receiver;
        var others = Tri.False;
        foreach (var operand in Operands(inPlace))
        {
            if (operand != inPlace.Instance) others = others.Or(StateAt(operand, frame).RequiresGrad);
        }
        return receiver.RequiresGrad == Tri.False && others == Tri.False ? receiver : GradState.Unknown;
    }

    private GradState StateOfMember(IMemberReferenceOperation member)
    {
        var declared = IsParameterType(member.Type) ? GradState.LeafWith(Tri.True)
            : member.Member.GetAttributes().Any(a => a.AttributeClass is { } c && _symbols.BufferAttribute is not null && SymbolEqualityComparer.Default.Equals(c, _symbols.BufferAttribute))
                ? GradState.LeafWith(Tri.False)
                : GradState.Unknown;
        // A member's references are not one value: any change to the same member in this method makes it unknown.
        foreach (var e in Events)
        {
            if (ChangesState(e) && Unwrap(e.Target) is IMemberReferenceOperation other && SymbolEqualityComparer.Default.Equals(other.Member, member.Member)) return GradState.Unknown;
        }
        return declared;
    }

    private GradState StateOfCall(IInvocationOperation call, Frame? frame)
    {
        var method = call.TargetMethod;
        if (IsCreation(call)) return GradState.LeafWith(ConstantArgument(call.Arguments, "requiresGrad", Tri.False));
        if (IsAliasCall(call))
        {
            var receiver = StateAt(call.Instance!, frame);
            return method.Name switch
            {
                "RequiresGrad_" => receiver.Leaf == Tri.False ? receiver : new GradState(ConstantArgument(call.Arguments, "requiresGrad", Tri.True), Tri.True),
                "Detach_" => GradState.LeafWith(Tri.False),
                "RetainGrad" => receiver,
                _ => InPlaceEffect(receiver, call, frame),
            };
        }
        if (!method.IsStatic && method.Name == "Detach" && _symbols.IsTensorMethod(method)) return GradState.LeafWith(Tri.False);
        if (Inline(call, frame) is { } inner) return StateAt(inner.Returned, inner);
        if (IsRecordedOp(call)) return RecordedResult(call, frame);
        if (method.Name is "Forward" or "Call" && !method.IsStatic && call.Instance is not null && _symbols.IsModule(call.Instance.Type) && _symbols.IsTensor(method.ReturnType))
        {
            // A module with parameters computes a new tensor from them: recorded (a non-leaf) when recording is on, without a graph when it is off
            // — unless this method freezes parameters (then which modules still have trainable ones is not known).
            if (!CertainlyHasParameters(call.Instance.Type, 0) || MayFreezeParameters) return GradState.Unknown;
            return GradModeOff(call, frame) switch
            {
                Tri.False => GradState.OpResult(Tri.True),
                Tri.True => new GradState(Tri.False, Tri.True, call),
                _ => GradState.Unknown,
            };
        }
        return GradState.Unknown;
    }

    /// <summary>A recorded op's result: requires grad when an input does and recording is on; a leaf without a graph otherwise.</summary>
    /// <summary>Does the method turn requires-grad off on something (<c>p.RequiresGrad = false</c>, <c>RequiresGrad_(false)</c> on a tensor or a module)?</summary>
    private bool MayFreezeParameters
    {
        get
        {
            lock (_flowLock)
            {
                return _mayFreeze ??= Events.Any(e => e.Kind == GradEventKind.SetRequiresGrad && e.Value != Tri.True)
                    || Invocations.Any(i => i.TargetMethod.Name == "RequiresGrad_" && i.Instance is not null && _symbols.IsModule(i.Instance.Type)
                        && i.Arguments.Any(a => a.ArgumentKind != ArgumentKind.DefaultValue && a.Value.ConstantValue is not { HasValue: true, Value: true }));
            }
        }
    }

    private GradState RecordedResult(IOperation op, Frame? frame)
    {
        var inputs = Tri.False;
        IOperation? withoutGrad = null;
        foreach (var operand in Operands(op))
        {
            var state = StateAt(operand, frame);
            inputs = inputs.Or(state.RequiresGrad);
            withoutGrad ??= state.ComputedWithoutGrad;
        }
        var off = GradModeOff(op, frame);
        if (off == Tri.True) return new GradState(Tri.False, Tri.True, op);
        if (inputs == Tri.False) return new GradState(Tri.False, Tri.True, withoutGrad);
        return off == Tri.False ? GradState.OpResult(inputs) : GradState.Unknown;
    }

    /// <summary>The elements of <c>m.Parameters()</c> (leaves that require grad) and <c>m.Buffers()</c> (leaves that do not).</summary>
    private GradState? ElementState(IForEachLoopOperation loop)
    {
        if (Unwrap(loop.Collection) is not IInvocationOperation { Instance: { } module, TargetMethod: var method } || !_symbols.IsModule(module.Type)) return null;
        return method.Name switch
        {
            "Parameters" or "NamedParameters" => GradState.LeafWith(Tri.True),
            "Buffers" or "NamedBuffers" => GradState.LeafWith(Tri.False),
            _ => null,
        };
    }

    private bool IsParameterType(ITypeSymbol? type) => _symbols.Parameter is not null && SharpGradSymbols.DerivesFrom(type, _symbols.Parameter);

    /// <summary>A named bool argument: its constant, <paramref name="absent"/> when not passed, unknown when not constant.</summary>
    private static Tri ConstantArgument(System.Collections.Immutable.ImmutableArray<IArgumentOperation> arguments, string name, Tri absent)
    {
        foreach (var argument in arguments)
        {
            if (argument.Parameter?.Name != name) continue;
            if (argument.ArgumentKind == ArgumentKind.DefaultValue) return absent;
            return argument.Value.ConstantValue is { HasValue: true, Value: bool b } ? b.ToTri() : Tri.Unknown;
        }
        return absent;
    }

    /// <summary>
    /// True for a module type with a parameter or a child module that certainly exists (a non-nullable member), so its
    /// forward computes from parameters. Containers (<c>Sequential</c>, <c>ModuleList</c>) are not known.
    /// </summary>
    private bool CertainlyHasParameters(ITypeSymbol? type, int depth)
    {
        if (type is null || depth > 4) return false;
        lock (_flowLock)
        {
            if (_hasParameters.TryGetValue(type, out bool known)) return known;
        }
        bool result = false;
        for (var t = type; t is not null && !result && !SymbolEqualityComparer.Default.Equals(t, _symbols.Module); t = t.BaseType)
        {
            if (SymbolEqualityComparer.Default.Equals(t.OriginalDefinition, _symbols.Sequential) || t.Name == "ModuleList") break;
            foreach (var member in t.GetMembers())
            {
                if (member.IsStatic) continue;
                var (memberType, annotation) = member switch
                {
                    IFieldSymbol f => (f.Type, f.NullableAnnotation),
                    IPropertySymbol { IsIndexer: false } p => (p.Type, p.NullableAnnotation),
                    _ => ((ITypeSymbol?)null, NullableAnnotation.None),
                };
                if (memberType is null || annotation == NullableAnnotation.Annotated) continue;
                if (IsParameterType(memberType) || (_symbols.IsModule(memberType) && CertainlyHasParameters(memberType, depth + 1)))
                {
                    result = true;
                    break;
                }
            }
        }
        lock (_flowLock) _hasParameters[type] = result;
        return result;
    }

    // ---------------------------------------------------------------- gradient recording

    /// <summary>Is gradient recording off where the operation runs (inside <c>Autograd.NoGrad()</c>)? Unknown inside a
    /// lambda created in a no-grad scope (it may run later) and inside a local function called both ways.</summary>
    public Tri GradModeOff(IOperation operation, Frame? frame)
    {
        if (LexicalGradModeOff(operation) is { } lexical) return lexical;
        var function = EnclosingFunction(operation);
        if (function is null) return Tri.False;
        if (frame is not null && frame.Body.Parent == function) return GradModeOff(frame.Call, frame.Parent);
        lock (_flowLock)
        {
            if (_gradModeOff.TryGetValue(function, out var known)) return known;
            _gradModeOff[function] = Tri.Unknown;
            var result = CallersGradModeOff(function);
            _gradModeOff[function] = result;
            return result;
        }
    }

    private Tri CallersGradModeOff(IOperation function)
    {
        if (function is IAnonymousFunctionOperation)
        {
            // Created with recording on: assumed to run so (as the method's own body is); created inside NoGrad: not known.
            return GradModeOff(function, null) == Tri.False ? Tri.False : Tri.Unknown;
        }
        var symbol = ((ILocalFunctionOperation)function).Symbol;
        Tri? all = null;
        foreach (var op in Root.DescendantsAndSelf())
        {
            var referenced = op switch
            {
                IInvocationOperation call => call.TargetMethod,
                IMethodReferenceOperation reference => reference.Method,
                _ => null,
            };
            if (referenced is null || !SymbolEqualityComparer.Default.Equals(referenced.OriginalDefinition, symbol) || Contains(function, op)) continue;
            var mode = GradModeOff(op, null);
            all = all is null || all == mode ? mode : Tri.Unknown;
        }
        return all ?? Tri.False;
    }

    /// <summary>The grad mode set by the innermost <c>using</c> scope around the operation in its own function, or null when none is.</summary>
    private Tri? LexicalGradModeOff(IOperation operation)
    {
        var child = operation;
        for (var op = operation.Parent; op is not null; child = op, op = op.Parent)
        {
            if (op is IUsingOperation usingOperation && usingOperation.Body == child && RecordingOffBy(usingOperation.Resources) is { } scoped) return scoped;
            if (op is IBlockOperation block)
            {
                Tri? declared = null;
                foreach (var statement in block.Operations)
                {
                    if (statement == child) break;
                    if (statement is IUsingDeclarationOperation usingDeclaration && RecordingOffBy(usingDeclaration.DeclarationGroup) is { } mode) declared = mode;
                }
                if (declared is { } found) return found;
            }
            if (op is IAnonymousFunctionOperation or ILocalFunctionOperation) return null;
        }
        return null;
    }

    private Tri? RecordingOffBy(IOperation resources)
    {
        if (_symbols.RecordingOff(Unwrap(resources)) is { } direct) return direct;
        foreach (var declarator in resources.DescendantsAndSelf().OfType<IVariableDeclaratorOperation>())
        {
            if (declarator.GetVariableInitializer() is { } init && _symbols.RecordingOff(Unwrap(init.Value)) is { } mode) return mode;
        }
        return null;
    }

    // ---------------------------------------------------------------- events

    private List<GradEvent> Events
    {
        get
        {
            lock (_flowLock)
            {
                return _events ??= CollectEvents();
            }
        }
    }

    private List<GradEvent> CollectEvents()
    {
        var events = new List<GradEvent>();
        foreach (var op in Root.DescendantsAndSelf())
        {
            switch (op)
            {
                case ISimpleAssignmentOperation { Target: IPropertyReferenceOperation { Property.Name: "RequiresGrad", Instance: { } instance } property } assignment
                    when _symbols.IsTensor(property.Property.ContainingType):
                    events.Add(new GradEvent(assignment, instance, GradEventKind.SetRequiresGrad,
                        assignment.Value.ConstantValue is { HasValue: true, Value: bool b } ? b.ToTri() : Tri.Unknown));
                    break;
                case IInvocationOperation call when IsAliasCall(call):
                    var kind = call.TargetMethod.Name switch
                    {
                        "RequiresGrad_" => GradEventKind.SetRequiresGrad,
                        "Detach_" => GradEventKind.Detach,
                        "RetainGrad" => GradEventKind.Retain,
                        _ => GradEventKind.InPlace,
                    };
                    events.Add(new GradEvent(call, call.Instance!, kind, kind == GradEventKind.SetRequiresGrad ? ConstantArgument(call.Arguments, "requiresGrad", Tri.True) : Tri.Unknown));
                    break;
                case IArgumentOperation { Parent: { } callSite } argument when HandedTo(callSite) is { } handed:
                    foreach (var element in TensorsIn(argument.Value)) events.Add(new GradEvent(argument, element, handed));
                    break;
            }
        }
        return events;
    }

    /// <summary>How a call treats the tensors passed to it: null for SharpGrad's and the BCL's own methods and for modules'
    /// <c>Forward</c>/<c>Call</c> (none changes its inputs' requires-grad), a local call for this method's local functions and
    /// lambdas, an escape for anything else.</summary>
    private GradEventKind? HandedTo(IOperation callSite)
    {
        IMethodSymbol? method = callSite switch
        {
            IInvocationOperation call => call.TargetMethod,
            IObjectCreationOperation creation => creation.Constructor,
            _ => null,
        };
        if (method is null) return null;
        if (method.MethodKind == MethodKind.LocalFunction) return GradEventKind.LocalCall;
        if (method.MethodKind == MethodKind.DelegateInvoke) return GradEventKind.LocalCall;
        if (method.Name is "Forward" or "Call" && _symbols.IsModule(method.ContainingType)) return null;
        return _symbols.IsSharpGradApi(method) || SharpGradSymbols.IsFramework(method) ? null : GradEventKind.Escape;
    }

    /// <summary>The tensors an argument passes: itself, or the elements of an array or collection expression.</summary>
    private IEnumerable<IOperation> TensorsIn(IOperation value)
    {
        var op = Unwrap(value);
        if (_symbols.IsTensor(op.Type))
        {
            yield return op;
            yield break;
        }
        var elements = op switch
        {
            IArrayCreationOperation { Initializer: { } initializer } => initializer.ElementValues,
            ICollectionExpressionOperation collection => collection.Elements,
            _ => default,
        };
        if (elements.IsDefault) yield break;
        foreach (var element in elements)
        {
            if (_symbols.IsTensor(Unwrap(element).Type)) yield return Unwrap(element);
        }
    }

    /// <summary>Does the local function or lambda a tensor is passed to change that parameter's requires-grad or leaf-ness (or hand it on)?</summary>
    private bool LocalCallMayChange(GradEvent e)
    {
        var argument = (IArgumentOperation)e.Site;
        if (argument.Parent is not IInvocationOperation call || argument.Parameter is null || Unwrap(argument.Value) != e.Target) return true;
        IOperation? body = null;
        if (call.TargetMethod.MethodKind == MethodKind.LocalFunction) body = LocalFunction(call.TargetMethod)?.Body;
        else if (call.Instance is not null && ValueOf(call.Instance, null).Operation is IDelegateCreationOperation creation)
        {
            body = creation.Target switch
            {
                IAnonymousFunctionOperation lambda => lambda.Body,
                IMethodReferenceOperation { Method.MethodKind: MethodKind.LocalFunction } reference => LocalFunction(reference.Method)?.Body,
                _ => null,
            };
        }
        if (body?.Parent is not { } function || FunctionSymbol(function) is not { } callee) return true;
        var key = (body, argument.Parameter.Ordinal);
        lock (_flowLock)
        {
            if (_changesParameter.TryGetValue(key, out bool known)) return known;
            _changesParameter[key] = true;
            var parameter = callee.Parameters.Length > argument.Parameter.Ordinal ? callee.Parameters[argument.Parameter.Ordinal] : null;
            bool changes = parameter is null || Events.Any(inner => Contains(body, inner.Site) && ChangesState(inner)
                && ValueOf(inner.Target, null).Operation is IParameterReferenceOperation p && SymbolEqualityComparer.Default.Equals(p.Parameter, parameter));
            _changesParameter[key] = changes;
            return changes;
        }
    }

    /// <summary>The lambda or local function that declares a parameter, or null for the analyzed method's own.</summary>
    private static IOperation? OwningFunction(IParameterReferenceOperation parameter)
    {
        for (var function = EnclosingFunction(parameter); function is not null; function = EnclosingFunction(function))
        {
            if (SymbolEqualityComparer.Default.Equals(FunctionSymbol(function), parameter.Parameter.ContainingSymbol)) return function;
        }
        return null;
    }

    private static IMethodSymbol? FunctionSymbol(IOperation function) => function switch
    {
        IAnonymousFunctionOperation lambda => lambda.Symbol,
        ILocalFunctionOperation local => local.Symbol,
        _ => null,
    };
}
