using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace SharpGrad.Analyzers;

/// <summary>
/// What one method body tells about its tensors, computed once per body on demand: where each local is written,
/// which invocations it makes, and — following each read to the value it certainly sees (MethodFacts.Flow.cs) — each
/// value's static shape (here), whether it requires grad and is a leaf, and which recorded ops make up its graph
/// (MethodFacts.Autograd.cs). Every question answers "not known" (null/false) rather than guess: the analyzers stay
/// silent on what they cannot prove.
/// </summary>
internal sealed partial class MethodFacts
{
    private const int MaxDepth = 16;

    private static readonly HashSet<string> CreationNames = new()
    {
        "Zeros", "Ones", "Rand", "Randn", "Empty", "Full", "FromArray", "Scalar", "Arange", "Linspace", "Eye",
        "RandInt", "RandPerm", "ZerosLike", "OnesLike", "FullLike", "RandLike", "RandnLike", "EmptyLike", "Wrap",
    };

    private static readonly HashSet<string> ShapedCreationNames = new() { "Zeros", "Ones", "Rand", "Randn", "Empty", "Full", "FromArray" };

    private static readonly HashSet<string> LikeNames = new() { "ZerosLike", "OnesLike", "FullLike", "RandLike", "RandnLike", "EmptyLike" };

    /// <summary>Tensor methods that return the same tensor (or an alias that keeps its leaf-ness), not a recorded op.</summary>
    private static readonly HashSet<string> NotOpNames = new() { "Detach", "Detach_", "RequiresGrad_", "RetainGrad", "Contiguous", "To" };

    /// <summary>
    /// Tensor methods that return their receiver or an alias of it (plumbing, not ops of the catalogue): the shape is the
    /// receiver's. The shapes of ops come from the op catalogue's shape rules (<see cref="OpCatalogue"/>).
    /// </summary>
    private static readonly HashSet<string> PassThroughNames = new() { "Clone", "Contiguous", "Detach", "RequiresGrad_", "RetainGrad", "To" };

    private readonly SharpGradSymbols _symbols;
    private readonly Dictionary<ISymbol, List<Write>> _writes = new(SymbolEqualityComparer.Default);
    private readonly Dictionary<ISymbol, List<IOperation>> _references = new(SymbolEqualityComparer.Default);

    // Answers are memoised per operation: the same values are asked about again and again along a chain of ops.
    private readonly Dictionary<IOperation, TensorShape?> _shapes = new();

    private MethodFacts(IOperation root, SharpGradSymbols symbols)
    {
        Root = root;
        _symbols = symbols;
        var invocations = new List<IInvocationOperation>();
        var tensorOps = new List<IOperation>();
        foreach (var op in root.DescendantsAndSelf())
        {
            switch (op)
            {
                case IInvocationOperation invocation:
                    invocations.Add(invocation);
                    if (symbols.IsTensor(invocation.Type)) tensorOps.Add(invocation);
                    break;
                case IBinaryOperation or IUnaryOperation when op.Type is not null && symbols.IsTensor(op.Type):
                    tensorOps.Add(op);
                    break;
                case IVariableDeclaratorOperation declarator:
                    var init = declarator.GetVariableInitializer();
                    if (init is not null) AddWrite(declarator.Symbol, declarator, init.Value);
                    // A foreach variable is written by its loop (below).
                    else if (declarator.Parent is not (IVariableDeclarationOperation or IForEachLoopOperation)) AddWrite(declarator.Symbol, declarator, null);
                    break;
                case ISimpleAssignmentOperation assignment:
                    if (Written(assignment.Target) is { } target) AddWrite(target, assignment, assignment.IsRef ? null : assignment.Value);
                    break;
                case ICompoundAssignmentOperation compound:
                    if (Written(compound.Target) is { } ctarget) AddWrite(ctarget, compound, null);
                    break;
                case IIncrementOrDecrementOperation increment:
                    if (Written(increment.Target) is { } itarget) AddWrite(itarget, increment, null);
                    break;
                case IDeconstructionAssignmentOperation deconstruction:
                    foreach (var d in deconstruction.Target.DescendantsAndSelf())
                    {
                        if (Written(d) is { } dtarget) AddWrite(dtarget, deconstruction, null);
                    }
                    break;
                case IArgumentOperation { Parameter.RefKind: RefKind.Ref or RefKind.Out } refArgument:
                    if (Written(refArgument.Value) is { } rtarget) AddWrite(rtarget, refArgument, null);
                    break;
                case IAddressOfOperation addressOf:
                    if (Written(addressOf.Reference) is { } atarget) AddWrite(atarget, addressOf, null);
                    break;
                case IForEachLoopOperation forEach:
                    foreach (var local in forEach.Locals) AddWrite(local, forEach, null);
                    break;
                case IDeclarationPatternOperation { DeclaredSymbol: { } patternLocal } pattern:
                    AddWrite(patternLocal, pattern, null);
                    break;
                case ICatchClauseOperation catchClause:
                    foreach (var local in catchClause.Locals) AddWrite(local, catchClause, null);
                    break;
                case ILocalReferenceOperation localReference:
                    AddReference(localReference.Local, localReference);
                    break;
                case IParameterReferenceOperation parameterReference:
                    AddReference(parameterReference.Parameter, parameterReference);
                    break;
            }
        }
        invocations.Sort((a, b) => a.Syntax.SpanStart.CompareTo(b.Syntax.SpanStart));
        Invocations = invocations.ToImmutableArray();
        TensorOps = tensorOps.ToImmutableArray();
    }

    /// <summary>Every tensor-valued invocation and operator of the body.</summary>
    public ImmutableArray<IOperation> TensorOps { get; }

    public IOperation Root { get; }

    public SharpGradSymbols Symbols => _symbols;

    /// <summary>Every invocation of the body, in source order.</summary>
    public ImmutableArray<IInvocationOperation> Invocations { get; }

    public static MethodFacts Create(IOperation root, SharpGradSymbols symbols) => new(root, symbols);

    /// <summary>The root of the operation tree that contains <paramref name="operation"/>.</summary>
    public static IOperation RootOf(IOperation operation)
    {
        var op = operation;
        while (op.Parent is not null) op = op.Parent;
        return op;
    }

    private static ISymbol? Written(IOperation target) => target switch
    {
        ILocalReferenceOperation l => l.Local,
        IParameterReferenceOperation p => p.Parameter,
        _ => null,
    };

    private void AddWrite(ISymbol symbol, IOperation site, IOperation? value)
    {
        if (!_writes.TryGetValue(symbol, out var list)) _writes[symbol] = list = new List<Write>(1);
        list.Add(new Write(site, value));
    }

    private void AddReference(ISymbol symbol, IOperation reference)
    {
        if (!_references.TryGetValue(symbol, out var list)) _references[symbol] = list = new List<IOperation>();
        list.Add(reference);
    }

    /// <summary>The value of a local written exactly once (by its declaration or one assignment), else null.</summary>
    public IOperation? SingleValue(ILocalSymbol local)
        => local.IsRef || !_writes.TryGetValue(local, out var list) || list.Count != 1 ? null : list[0].Value;

    /// <summary>True for a parameter the body never assigns.</summary>
    public bool IsUnassignedParameter(IParameterSymbol parameter)
        => parameter.RefKind == RefKind.None && !_writes.ContainsKey(parameter);

    /// <summary>Every read of a local or parameter in the body.</summary>
    public IReadOnlyList<IOperation> ReferencesOf(ISymbol symbol)
        => _references.TryGetValue(symbol, out var list) ? list : (IReadOnlyList<IOperation>)[];

    /// <summary>Strips conversions between tensor types (e.g. <c>Parameter</c> → <c>Tensor</c>) and parentheses.</summary>
    public static IOperation Unwrap(IOperation operation)
    {
        var op = operation;
        while (true)
        {
            if (op is IConversionOperation { OperatorMethod: null } conversion) op = conversion.Operand;
            else if (op is IParenthesizedOperation parenthesized) op = parenthesized.Operand;
            else return op;
        }
    }

    /// <summary>The operation that defines a value: follows each local to the write it certainly sees (see <see cref="ReachingWrite"/>).</summary>
    public IOperation Resolve(IOperation operation)
    {
        var op = Unwrap(operation);
        for (int depth = 0; depth < MaxDepth && op is ILocalReferenceOperation local && ReachingValue(local) is { } value; depth++)
        {
            op = Unwrap(value);
        }
        return op;
    }

    /// <summary>The symbol (local or unassigned parameter) a reference names, or null.</summary>
    public ISymbol? StableSymbol(IOperation operation) => Unwrap(operation) switch
    {
        ILocalReferenceOperation l when SingleValue(l.Local) is not null => l.Local,
        IParameterReferenceOperation p when IsUnassignedParameter(p.Parameter) => p.Parameter,
        _ => null,
    };

    // ---------------------------------------------------------------- shapes

    /// <summary>The static shape of a tensor value, or null when it is not known.</summary>
    public TensorShape? ShapeOf(IOperation operation) => ShapeOf(operation, 0);

    private TensorShape? ShapeOf(IOperation operation, int depth)
    {
        if (depth > MaxDepth) return null;
        lock (_shapes)
        {
            if (_shapes.TryGetValue(operation, out var known)) return known;
        }
        var shape = ComputeShape(operation, depth);
        lock (_shapes) _shapes[operation] = shape;
        return shape;
    }

    private TensorShape? ComputeShape(IOperation operation, int depth)
    {
        var op = Unwrap(operation);
        switch (op)
        {
            case ILocalReferenceOperation local:
                return ReachingValue(local) is { } value ? ShapeOf(value, depth + 1) : null;
            case IParameterReferenceOperation parameter:
                return IsUnassignedParameter(parameter.Parameter) ? ShapeFromAttributes(parameter.Parameter.GetAttributes()) : null;
            case IFieldReferenceOperation field:
                return ShapeFromAttributes(field.Field.GetAttributes());
            case IInvocationOperation invocation:
                return ShapeOfCall(invocation, depth);
            case IBinaryOperation binary when binary.OperatorMethod is not null && _symbols.IsTensor(binary.Type):
                return BinaryShape(binary.LeftOperand, binary.RightOperand, depth);
            case IUnaryOperation unary when unary.OperatorMethod is not null && _symbols.IsTensor(unary.Type):
                return ShapeOf(unary.Operand, depth + 1);
            default:
                return null;
        }
    }

    private TensorShape? BinaryShape(IOperation left, IOperation right, int depth)
    {
        bool leftTensor = _symbols.IsTensor(Unwrap(left).Type ?? left.Type);
        bool rightTensor = _symbols.IsTensor(Unwrap(right).Type ?? right.Type);
        if (leftTensor && rightTensor)
        {
            var a = ShapeOf(left, depth + 1);
            var b = a is null ? null : ShapeOf(right, depth + 1);
            return a is null || b is null ? null : ShapeRules.Broadcast(a, b).Shape;
        }
        if (leftTensor) return ShapeOf(left, depth + 1);
        if (rightTensor) return ShapeOf(right, depth + 1);
        return null;
    }

    private TensorShape? ShapeFromAttributes(ImmutableArray<AttributeData> attributes)
    {
        if (_symbols.ShapeAttribute is null) return null;
        foreach (var attribute in attributes)
        {
            if (!SymbolEqualityComparer.Default.Equals(attribute.AttributeClass, _symbols.ShapeAttribute)) continue;
            if (attribute.ConstructorArguments.Length != 1 || attribute.ConstructorArguments[0].Kind != TypedConstantKind.Array) return null;
            var dims = ImmutableArray.CreateBuilder<Dim>();
            foreach (var value in attribute.ConstructorArguments[0].Values)
            {
                switch (value.Value)
                {
                    case int size when size >= 0: dims.Add(Dim.Of(size)); break;
                    case string symbol when symbol.Length > 0: dims.Add(Dim.Sym(symbol)); break;
                    default: return null;
                }
            }
            return new TensorShape(dims);
        }
        return null;
    }

    private TensorShape? ShapeOfCall(IInvocationOperation invocation, int depth)
    {
        var method = invocation.TargetMethod;
        if (ShapeFromAttributes(method.GetReturnTypeAttributes()) is { } declared) return declared;
        if (!_symbols.IsTensor(method.ReturnType)) return null;
        if (ShapeInfoOf(method) is { } inferred) return Bind(inferred, invocation, depth);
        var name = method.Name;

        if (method.IsStatic && _symbols.IsTensor(method.ContainingType))
        {
            if (name == "Scalar") return TensorShape.Scalar;
            if (ShapedCreationNames.Contains(name))
            {
                var shapeArgument = invocation.Arguments.FirstOrDefault(a => a.Parameter?.Name == "shape");
                return shapeArgument is not null && ConstantInts(shapeArgument.Value) is { } sizes && sizes.All(s => s >= 0)
                    ? TensorShape.Of(sizes)
                    : null;
            }
            if (LikeNames.Contains(name) && invocation.Arguments.Length > 0) return ShapeOf(invocation.Arguments[0].Value, depth + 1);
            if (CreationNames.Contains(name)) return null;
        }

        // In-place ops and plumbing return the tensor they were called on.
        if (!method.IsStatic && invocation.Instance is { } receiver && _symbols.IsTensor(method.ContainingType)
            && (name.EndsWith("_", System.StringComparison.Ordinal) || PassThroughNames.Contains(name)))
        {
            return ShapeOf(receiver, depth + 1);
        }
        return ShapeByCatalogue(invocation, depth);
    }

    /// <summary>
    /// What the code generator inferred for a method of a <c>[Module]</c> (an eager <c>model.Forward(x)</c>): the
    /// generated <c>ShapeInfo</c> class nested in the module has one delegate per checked method (the same name, with a
    /// number after it for an overload) whose parameters and return value carry <c>[Shape]</c>. Null when the generator
    /// emitted none for this method.
    /// </summary>
    private IMethodSymbol? ShapeInfoOf(IMethodSymbol method)
    {
        if (method.IsStatic || _symbols.ModuleAttribute is null) return null;
        var type = method.ContainingType;
        if (!type.GetAttributes().Any(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, _symbols.ModuleAttribute))) return null;
        if (type.GetTypeMembers("ShapeInfo").FirstOrDefault() is not { } info) return null;
        foreach (var member in info.GetTypeMembers())
        {
            if (member.DelegateInvokeMethod is not { } invoke || !member.Name.StartsWith(method.Name, System.StringComparison.Ordinal)) continue;
            var suffix = member.Name.Substring(method.Name.Length);
            if (suffix.Length > 0 && !suffix.All(char.IsDigit)) continue;
            if (invoke.Parameters.Length == method.Parameters.Length
                && invoke.Parameters.Zip(method.Parameters, (a, b) => a.Name == b.Name).All(same => same))
            {
                return invoke;
            }
        }
        return null;
    }

    /// <summary>
    /// The return shape of a <c>ShapeInfo</c> delegate with its symbols bound to the call's arguments: a symbol that names
    /// a dim of a declared parameter takes the size of the argument's dim there when that is known (<c>N</c> → 8).
    /// </summary>
    private TensorShape? Bind(IMethodSymbol info, IInvocationOperation invocation, int depth)
    {
        if (ShapeFromAttributes(info.GetReturnTypeAttributes()) is not { } shape) return null;
        var bound = new Dictionary<string, Dim>(System.StringComparer.Ordinal);
        foreach (var argument in invocation.Arguments)
        {
            if (argument.Parameter is not { } parameter || parameter.Ordinal >= info.Parameters.Length) continue;
            if (ShapeFromAttributes(info.Parameters[parameter.Ordinal].GetAttributes()) is not { } declared) continue;
            if (ShapeOf(argument.Value, depth + 1) is not { } actual || actual.Rank != declared.Rank) continue;
            for (int d = 0; d < declared.Rank; d++)
            {
                if (declared[d].IsSymbol && !actual[d].IsUnknown && !bound.ContainsKey(declared[d].Symbol!)) bound[declared[d].Symbol!] = actual[d];
            }
        }
        return new TensorShape(shape.Dims.Select(d => d.IsSymbol && bound.TryGetValue(d.Symbol!, out var size) ? size : d));
    }

    /// <summary>The catalogue surface of a method: tensor method, Functional or Losses (None for anything else).</summary>
    private OpSurface SurfaceOf(IMethodSymbol method)
    {
        if (_symbols.IsFunctional(method)) return OpSurface.Functional;
        if (_symbols.IsTensor(method.ContainingType)) return OpSurface.Tensor;
        return method.ContainingType is { Name: "Losses" } losses && losses.ContainingNamespace?.ToDisplayString() == "SharpGrad"
            ? OpSurface.Losses
            : OpSurface.None;
    }

    /// <summary>The catalogue row of an invocation of a SharpGrad op (null when it is not one).</summary>
    public OpRow? RowOf(IInvocationOperation invocation)
    {
        var method = invocation.TargetMethod;
        var surface = SurfaceOf(method);
        if (surface == OpSurface.None) return null;
        int tensors = Operands(invocation).Count();
        return OpCatalogue.ForCall(surface, method.Name, tensors, p => method.Parameters.Any(q => q.Name == p));
    }

    /// <summary>The shape an op's catalogue rule gives for the known shapes and constant arguments of the call.</summary>
    private TensorShape? ShapeByCatalogue(IInvocationOperation invocation, int depth)
    {
        if (RowOf(invocation) is not { Shape: { } rule } row) return null;
        var inputs = Operands(invocation).Select(o => ShapeOf(o, depth + 1)).ToArray();
        return rule(new ShapeCall(row, inputs, new InvocationArguments(invocation), Dim.Sym("N"))).Shape;
    }

    /// <summary>An invocation's constant arguments as the catalogue's shape rules see them.</summary>
    private sealed class InvocationArguments(IInvocationOperation invocation) : IOpArguments
    {
        private IArgumentOperation? Argument(string name) => invocation.Arguments.FirstOrDefault(a => a.Parameter?.Name == name);

        public double? Number(string name) => Argument(name)?.Value is { } v && Unwrap(v).ConstantValue is { HasValue: true, Value: var c } ? c switch
        {
            int i => i, long l => l, double d => d, float f => f, bool b => b ? 1 : 0, short h => h, byte y => y,
            _ => null,
        } : null;

        public IReadOnlyList<int>? Ints(string name)
            => Argument(name)?.Value is { } v ? ConstantInts(v) ?? (ConstantInt(Unwrap(v)) is { } single ? new[] { single } : null) : null;

        public string? Text(string name) => Argument(name)?.Value is { } v && Unwrap(v).ConstantValue is { HasValue: true, Value: string s } ? s : null;

        public bool Has(string name) => invocation.TargetMethod.Parameters.Any(p => p.Name == name);
    }

    public static int? Normalize(int dim, int rank) => ShapeRules.Normalize(dim, rank);

    /// <summary>The permutation as non-negative dims, or null when it is not one.</summary>
    public static int[]? NormalizePermutation(int[] order, int rank) => ShapeRules.Permutation(order, rank);

    public static int? ConstantInt(IOperation operation)
        => operation.ConstantValue is { HasValue: true, Value: int value } ? value : null;

    /// <summary>The ints of a constant array: a <c>params</c> list, <c>new[] { … }</c> or a collection expression <c>[…]</c>.</summary>
    public static int[]? ConstantInts(IOperation operation)
    {
        var op = Unwrap(operation);
        ImmutableArray<IOperation> elements;
        if (op is IArrayCreationOperation { Initializer: { } initializer }) elements = initializer.ElementValues;
        else if (op is ICollectionExpressionOperation collection) elements = collection.Elements;
        else return null;
        var result = new int[elements.Length];
        for (int i = 0; i < elements.Length; i++)
        {
            if (ConstantInt(elements[i]) is not { } value) return null;
            result[i] = value;
        }
        return result;
    }

    // ---------------------------------------------------------------- ops (what SharpGrad records and saves)

    /// <summary>A creation call whose <c>requiresGrad</c> argument is the constant <c>true</c>.</summary>
    public static bool IsRequiresGradTrue(IInvocationOperation invocation)
        => invocation.Arguments.Any(a => a.Parameter?.Name == "requiresGrad" && a.ArgumentKind != ArgumentKind.DefaultValue
            && a.Value.ConstantValue is { HasValue: true, Value: true });

    /// <summary>Is this (resolved) operation a tensor creation call (<c>Tensor.Randn</c>, …)?</summary>
    public bool IsCreation(IOperation operation)
        => Unwrap(operation) is IInvocationOperation { TargetMethod: { IsStatic: true } m } && _symbols.IsTensor(m.ContainingType) && CreationNames.Contains(m.Name);

    /// <summary>True for an op whose result is recorded in the graph (a non-leaf when an input requires grad).</summary>
    public bool IsOpResult(IOperation operation)
    {
        var op = Unwrap(operation);
        switch (op)
        {
            case IInvocationOperation invocation:
                {
                    var m = invocation.TargetMethod;
                    if (!_symbols.IsTensor(m.ReturnType)) return false;
                    if (_symbols.IsFunctional(m)) return true;
                    if (!_symbols.IsTensor(m.ContainingType)) return false;
                    if (m.IsStatic) return !CreationNames.Contains(m.Name);
                    return !NotOpNames.Contains(m.Name) && !m.Name.EndsWith("_", System.StringComparison.Ordinal);
                }
            case IBinaryOperation binary:
                return binary.OperatorMethod is not null && _symbols.IsTensor(binary.Type);
            case IUnaryOperation unary:
                return unary.OperatorMethod is not null && _symbols.IsTensor(unary.Type);
            default:
                return false;
        }
    }

    /// <summary>The tensor operands of an op (receiver and tensor arguments, or the operator's tensor operands).</summary>
    public IEnumerable<IOperation> Operands(IOperation operation)
    {
        switch (Unwrap(operation))
        {
            case IInvocationOperation invocation:
                if (invocation.Instance is not null && _symbols.IsTensor(invocation.Instance.Type)) yield return invocation.Instance;
                foreach (var argument in invocation.Arguments)
                {
                    if (argument.ArgumentKind != ArgumentKind.DefaultValue && _symbols.IsTensor(Unwrap(argument.Value).Type)) yield return argument.Value;
                }
                break;
            case IBinaryOperation binary:
                if (_symbols.IsTensor(Unwrap(binary.LeftOperand).Type)) yield return binary.LeftOperand;
                if (_symbols.IsTensor(Unwrap(binary.RightOperand).Type)) yield return binary.RightOperand;
                break;
            case IUnaryOperation unary:
                yield return unary.Operand;
                break;
        }
    }

    /// <summary>
    /// What a recorded op saves for its backward: operand expressions, and <paramref name="savesOutput"/> when it
    /// saves its own result, given which operands require grad. Only what both PyTorch and SharpGrad save; the caller
    /// knows whether the op is recorded at all.
    /// </summary>
    public ImmutableArray<IOperation> SavedOperands(IOperation operation, System.Func<IOperation, bool> requiresGrad, out bool savesOutput)
    {
        savesOutput = false;
        var op = Unwrap(operation);
        if (!IsOpResult(op)) return ImmutableArray<IOperation>.Empty;
        var saved = ImmutableArray.CreateBuilder<IOperation>();
        switch (op)
        {
            case IBinaryOperation binary:
                {
                    var operands = Operands(binary).ToList();
                    if (operands.Count != 2) break;
                    if (binary.OperatorKind == BinaryOperatorKind.Multiply) SaveProduct(operands[0], operands[1], saved, requiresGrad, divide: false);
                    else if (binary.OperatorKind == BinaryOperatorKind.Divide) SaveProduct(operands[0], operands[1], saved, requiresGrad, divide: true);
                    break;
                }
            case IInvocationOperation invocation:
                {
                    var name = invocation.TargetMethod.Name;
                    var operands = Operands(invocation).ToList();
                    if (operands.Count == 2 && name is "Mul" or "MatMul" or "Mm" or "Bmm" or "Dot" or "Outer") SaveProduct(operands[0], operands[1], saved, requiresGrad, divide: false);
                    else if (operands.Count == 2 && name == "Div") SaveProduct(operands[0], operands[1], saved, requiresGrad, divide: true);
                    else if (operands.Count == 2 && name is "Maximum" or "Minimum")
                    {
                        if (requiresGrad(operands[0]) || requiresGrad(operands[1])) saved.AddRange(operands[0], operands[1]);
                    }
                    else if (operands.Count >= 2 && name == "Linear" && _symbols.IsFunctional(invocation.TargetMethod)) SaveProduct(operands[0], operands[1], saved, requiresGrad, divide: false);
                    else if (operands.Count == 1 && requiresGrad(operands[0]) && RowOf(invocation) is { } row)
                    {
                        // What the op's backward reads, from the catalogue.
                        if ((row.Reads & BackwardReads.Output) != 0) savesOutput = true;
                        if ((row.Reads & BackwardReads.Input) != 0) saved.Add(operands[0]);
                    }
                    break;
                }
        }
        return saved.ToImmutable();
    }

    private static void SaveProduct(IOperation a, IOperation b, ImmutableArray<IOperation>.Builder saved, System.Func<IOperation, bool> requiresGrad, bool divide)
    {
        bool ga = requiresGrad(a), gb = requiresGrad(b);
        if (gb) saved.Add(a);
        if (divide ? ga || gb : ga) saved.Add(b);
    }

    // ---------------------------------------------------------------- control flow

    /// <summary>
    /// The child, under the nearest enclosing construct that may run it zero or many times (a loop, a branch, a try, a
    /// lambda or local function), that contains the operation (the condition of an <c>if</c> belongs to the enclosing scope). Two operations with the same
    /// scope run straight-line relative to each other.
    /// </summary>
    public static IOperation? ControlScope(IOperation operation)
    {
        var child = operation;
        for (var op = operation.Parent; op is not null; child = op, op = op.Parent)
        {
            switch (op)
            {
                case IConditionalOperation conditional when conditional.Condition == child:
                case ISwitchOperation switchOperation when switchOperation.Value == child:
                case IUsingOperation using_ when using_.Resources == child:
                    continue;
                case ILoopOperation or IConditionalOperation or ISwitchOperation or ISwitchExpressionOperation
                    or ITryOperation or ICatchClauseOperation or IAnonymousFunctionOperation or ILocalFunctionOperation
                    or IConditionalAccessOperation or ICoalesceOperation:
                    // The branch itself is the scope: the two arms of an if are not straight-line with each other.
                    return child;
                case IBinaryOperation { OperatorKind: BinaryOperatorKind.ConditionalAnd or BinaryOperatorKind.ConditionalOr } logical
                    when logical.RightOperand == child:
                    return child;
            }
        }
        return null;
    }

    /// <summary>Do the two operations run one after the other, each exactly once relative to the other?</summary>
    public static bool StraightLine(IOperation first, IOperation second)
        => first.Syntax.SpanStart < second.Syntax.SpanStart && ControlScope(first) == ControlScope(second);
}
