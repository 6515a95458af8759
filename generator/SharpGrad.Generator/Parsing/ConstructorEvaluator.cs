using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;
using SharpGrad.Generator.Model;

namespace SharpGrad.Generator.Parsing;

/// <summary>
/// A value the constructor evaluation knows: an int, a size bound when the module is built (a symbol, <c>cin*expand</c>),
/// a bool, <c>null</c>, a module (its <see cref="ChildSpec"/>, which a later <c>Append</c> may extend), or unknown (why).
/// </summary>
internal sealed class CtorValue
{
    public enum Kinds { Unknown, Int, Size, Bool, Null, Module }

    public Kinds Kind { get; private init; }
    public int Int { get; private init; }
    public string Symbol { get; private init; } = "";
    public bool Bool { get; private init; }

    /// <summary>For a module: its spec so far (a Sequential's items grow as the constructor appends them).</summary>
    public ChildSpec? Spec { get; set; }

    /// <summary>For an unknown value (or a module whose items became unknown): why, as source text.</summary>
    public string? Why { get; set; }

    /// <summary>True for a value the module's constructor was given (standalone): a parent that builds the module knows it.</summary>
    public bool FromArgument { get; private init; }

    /// <summary>
    /// For an unknown bool (a test over sizes bound when the module is built, <c>cin == cout</c>): the sizes it makes equal when
    /// it is true, as pairs of size texts (<c>("cin", "cout")</c>, <c>("stride", "1")</c>); <see cref="WhenFalse"/> when false
    /// (<c>cin != cout</c>). What a branch the test guards may assume about the sizes (<see cref="GraphParser"/>'s branch regions).
    /// </summary>
    public IReadOnlyList<(string Left, string Right)> WhenTrue { get; init; } = [];

    /// <summary>The sizes an unknown bool makes equal when it is false (<see cref="WhenTrue"/>).</summary>
    public IReadOnlyList<(string Left, string Right)> WhenFalse { get; init; } = [];

    /// <summary>
    /// For an unknown bool the module's own constructor arguments decide (standalone): its canonical text over them
    /// (<c>bidirectional</c>, <c>!flag</c>, <c>(flag&amp;&amp;other)</c>, <c>mode==2</c>; <see cref="Conditions"/>), so a layer option it
    /// gives is tested on the built layer and a size it chooses (<c>flag ? 2 * h : h</c>) is a size of its own. Null otherwise.
    /// </summary>
    public string? Condition { get; init; }

    /// <summary>For a module filled in a loop whose count the build does not know: the loop and its bound.</summary>
    public (StatementSyntax Loop, string Bound)? Loop { get; set; }

    public static CtorValue Of(int value) => new() { Kind = Kinds.Int, Int = value };
    public static CtorValue OfSize(string symbol) => new() { Kind = Kinds.Size, Symbol = symbol };
    public static CtorValue Of(bool value) => new() { Kind = Kinds.Bool, Bool = value };
    public static readonly CtorValue Null = new() { Kind = Kinds.Null };
    public static CtorValue Of(ChildSpec spec) => new() { Kind = Kinds.Module, Spec = spec };
    public static CtorValue Unknown(string why, bool fromArgument = false) => new() { Kind = Kinds.Unknown, Why = why, FromArgument = fromArgument };

    /// <summary>A bool parameter of the module's own constructor (standalone): unknown, its condition the parameter's name.</summary>
    public static CtorValue Argument(string why, string condition) => new() { Kind = Kinds.Unknown, Why = why, FromArgument = true, Condition = condition };

    /// <summary>An unknown bool the constructor's arguments decide, with its canonical text (<see cref="Condition"/>).</summary>
    public static CtorValue Flag(string why, string? condition, IReadOnlyList<(string Left, string Right)> whenTrue, IReadOnlyList<(string Left, string Right)> whenFalse)
        => new() { Kind = Kinds.Unknown, Why = why, Condition = condition, WhenTrue = whenTrue, WhenFalse = whenFalse };

    /// <summary>An unknown bool over sizes bound when the module is built, with the sizes it makes equal when true and when false.</summary>
    public static CtorValue Test(string why, IReadOnlyList<(string Left, string Right)> whenTrue, IReadOnlyList<(string Left, string Right)> whenFalse)
        => new() { Kind = Kinds.Unknown, Why = why, WhenTrue = whenTrue, WhenFalse = whenFalse };

    /// <summary>A module whose items are known (not made unknown by a loop or a condition).</summary>
    public bool IsKnownModule => Kind == Kinds.Module && Why is null && Spec is not null;

    /// <summary>The size as a term: a constant or a symbol (null for anything else).</summary>
    public (int Coefficient, string Product)? Term => Kind switch
    {
        Kinds.Int => (Int, ""),
        Kinds.Size when Dim.Term(Symbol, out int c, out string p) => (c, p),
        _ => null,
    };
}

/// <summary>
/// Runs a module's constructor at build time, symbolically, as PyTorch users write <c>__init__</c>: field initialisers, then
/// the constructor's statements in order, with constructor locals (<c>int hidden = cin * expand;</c>), assignments to
/// fields (a mutable <c>inplanes</c> too), <c>if</c>s whose condition the build decides, <c>for</c> loops whose count it
/// knows, <c>Add</c>/<c>Append</c> on a Sequential or ModuleList, and calls of the class's own helper methods (static
/// <c>DoubleConv(cin, cout)</c>, instance <c>MakeLayer(planes, blocks, stride)</c>) inlined with their arguments bound.
/// Constructor parameters are sizes named by the parameter (standalone), or the values a parent passes (an instance). What
/// the build cannot decide (a condition over sizes only known when the module is built, a loop of such a count) makes the
/// values it writes unknown, with the reason: never a guess.
/// </summary>
internal sealed class ConstructorEvaluator
{
    private const int MaxDepth = 16;
    private const int MaxSteps = 100_000;

    private readonly INamedTypeSymbol _type;
    private readonly Compilation _compilation;
    private readonly CancellationToken _token;
    private readonly Dictionary<ISymbol, CtorValue> _fields = new(SymbolEqualityComparer.Default);
    private int _steps;

    private ConstructorEvaluator(INamedTypeSymbol type, Compilation compilation, CancellationToken token)
    {
        _type = type;
        _compilation = compilation;
        _token = token;
    }

    /// <summary>A method's locals and parameters, and its return value once it has returned.</summary>
    private sealed class Frame(int depth)
    {
        public readonly Dictionary<ISymbol, CtorValue> Locals = new(SymbolEqualityComparer.Default);
        public readonly int Depth = depth;
        public CtorValue? Returned;

        /// <summary>The variables of the enclosing unrolled loops (an item built from one differs per iteration).</summary>
        public readonly List<ISymbol> LoopVariables = new();
    }

    /// <summary>
    /// The value each field (and auto-property) of <paramref name="type"/> holds after its constructor, keyed by the member.
    /// <paramref name="arguments"/>: the constructor's arguments by parameter name (an instance a parent builds), or null
    /// (standalone: each int parameter is a size named by the parameter, anything else unknown).
    /// </summary>
    public static Dictionary<ISymbol, CtorValue> Fields(INamedTypeSymbol type, Compilation compilation, IReadOnlyDictionary<string, CtorValue>? arguments, CancellationToken token)
    {
        var evaluator = new ConstructorEvaluator(type, compilation, token);
        try
        {
            evaluator.Run(arguments);
        }
        catch (System.InvalidOperationException)
        {
            // Too many steps (a runaway loop): everything unknown.
            foreach (var key in evaluator._fields.Keys.ToList()) evaluator._fields[key] = CtorValue.Unknown("the constructor (too long to evaluate at build time)");
        }
        return evaluator._fields;
    }

    /// <summary>Decides a condition over the fields (<c>downsample is not null</c>, <c>useResidual</c>): true/false, or null when the build cannot.</summary>
    public static bool? Decide(IOperation condition, INamedTypeSymbol type, Compilation compilation, Dictionary<ISymbol, CtorValue> fields, CancellationToken token)
    {
        var evaluator = new ConstructorEvaluator(type, compilation, token);
        foreach (var kv in fields) evaluator._fields[kv.Key] = kv.Value;
        var value = evaluator.Eval(condition, new Frame(0));
        return value.Kind == CtorValue.Kinds.Bool ? value.Bool : null;
    }

    /// <summary>
    /// The sizes a condition over the fields makes equal when it has the value <paramref name="value"/> (<c>useResidual</c> with
    /// <c>useResidual = cin == cout</c>, true: <c>("cin", "cout")</c>); empty when it implies none.
    /// </summary>
    public static IReadOnlyList<(string Left, string Right)> Implied(IOperation condition, bool value, INamedTypeSymbol type, Compilation compilation,
                                                                     Dictionary<ISymbol, CtorValue> fields, CancellationToken token)
    {
        var evaluator = new ConstructorEvaluator(type, compilation, token);
        foreach (var kv in fields) evaluator._fields[kv.Key] = kv.Value;
        var result = evaluator.Eval(condition, new Frame(0));
        return result.Kind == CtorValue.Kinds.Unknown ? value ? result.WhenTrue : result.WhenFalse : [];
    }

    /// <summary>
    /// The canonical condition over the constructor's arguments (<see cref="Conditions"/>) that a condition over the fields reads
    /// (<c>this.wide</c> with <c>wide = bidirectional</c> ⇒ <c>bidirectional</c>), or null when it is not one.
    /// </summary>
    public static string? ConditionOf(IOperation condition, INamedTypeSymbol type, Compilation compilation, Dictionary<ISymbol, CtorValue> fields, CancellationToken token)
    {
        var evaluator = new ConstructorEvaluator(type, compilation, token);
        foreach (var kv in fields) evaluator._fields[kv.Key] = kv.Value;
        var result = evaluator.Eval(condition, new Frame(0));
        return result.Kind == CtorValue.Kinds.Unknown && result.Condition is { } c && Conditions.Atoms(c) is not null ? c : null;
    }

    private void Run(IReadOnlyDictionary<string, CtorValue>? arguments)
    {
        var constructors = _type.InstanceConstructors.Where(c => !c.IsImplicitlyDeclared).ToList();
        if (constructors.Count == 0)
        {
            // The implicit constructor: this class's field initialisers, then the base's constructor (its parameterless one).
            Initializers(_type);
            Base(null, _type, null);
            return;
        }
        if (Primary(constructors, _token) is not { } constructor)
        {
            // Which constructor runs is the caller's choice, and they build different things: the fields they set are unknown.
            Initializers(_type);
            Base(null, _type, null);
            foreach (var c in constructors) TaintBody(c, "one of several constructors that do not all forward to one (`: this(…)`)");
            return;
        }
        var given = new Dictionary<IParameterSymbol, CtorValue>(SymbolEqualityComparer.Default);
        foreach (var parameter in constructor.Parameters)
        {
            given[parameter] = arguments is null ? Standalone(parameter)
                : arguments.TryGetValue(parameter.Name, out var value) ? value
                : Default(parameter);
        }
        Constructor(constructor, given, 0);
    }

    /// <summary>
    /// Runs one constructor as C# does: with <c>: this(…)</c>, the constructor it forwards to (its arguments evaluated here)
    /// then this body; otherwise this class's field initialisers, the base's constructor (<c>: base(…)</c>, or the implicit
    /// <c>base()</c>) for a [Module] base declared in source, then this body.
    /// </summary>
    private void Constructor(IMethodSymbol constructor, Dictionary<IParameterSymbol, CtorValue> given, int depth)
    {
        var frame = new Frame(0);
        foreach (var kv in given) frame.Locals[kv.Key] = kv.Value;
        var syntax = constructor.IsImplicitlyDeclared ? null
            : constructor.DeclaringSyntaxReferences.Select(r => r.GetSyntax(_token)).OfType<ConstructorDeclarationSyntax>().FirstOrDefault();
        var type = constructor.ContainingType;
        if (syntax is null)
        {
            Initializers(type);
            Base(null, type, null);
            return;
        }
        var model = _compilation.GetSemanticModel(syntax.SyntaxTree);
        var chained = syntax.Initializer is { } initializer ? model.GetOperation(initializer, _token) : null;
        if (chained is IExpressionStatementOperation statement) chained = statement.Operation;
        if (syntax.Initializer is { ThisOrBaseKeyword.RawKind: (int)SyntaxKind.ThisKeyword })
        {
            if (chained is IInvocationOperation { TargetMethod: { } target } call && depth < MaxDepth)
            {
                Constructor(target, Arguments(call, frame), depth + 1);
            }
            else
            {
                foreach (var member in Members(type)) _fields[member] = CtorValue.Unknown("`" + GraphParser.Text(syntax.Initializer) + "`");
            }
        }
        else
        {
            Initializers(type);
            Base(chained as IInvocationOperation, type, frame, depth);
        }
        if (syntax.Body is { } body) Statements(body.Statements, frame, model);
        else if (syntax.ExpressionBody is { Expression: var expression } && model.GetOperation(expression, _token) is { } op) Eval(op, frame);
    }

    /// <summary>
    /// The base's constructor, for a base that is the user's own [Module] class (its children are this module's too): the one
    /// <paramref name="call"/> (<c>: base(…)</c>) binds, its arguments evaluated in <paramref name="frame"/>, or the base's
    /// parameterless one. Nothing for SharpGrad's Module or a class of another assembly.
    /// </summary>
    private void Base(IInvocationOperation? call, INamedTypeSymbol type, Frame? frame, int depth = 0)
    {
        if (ModuleBase(type) is not { } baseType || depth >= MaxDepth) return;
        var target = call?.TargetMethod is { MethodKind: MethodKind.Constructor } bound && SymbolEqualityComparer.Default.Equals(bound.ContainingType, baseType) ? bound
            : baseType.InstanceConstructors.FirstOrDefault(c => c.Parameters.All(p => p.HasExplicitDefaultValue || p.IsParams));
        if (target is null) return;
        var given = call is not null && frame is not null && SymbolEqualityComparer.Default.Equals(call.TargetMethod, target)
            ? Arguments(call, frame)
            : target.Parameters.ToDictionary(p => p, p => Default(p), (IEqualityComparer<IParameterSymbol>)SymbolEqualityComparer.Default);
        Constructor(target, given, depth + 1);
    }

    /// <summary>The arguments of a constructor call (<c>: this(d, 2 * d)</c>, <c>: base(hidden)</c>) by parameter, evaluated in <paramref name="frame"/>; defaults included.</summary>
    private Dictionary<IParameterSymbol, CtorValue> Arguments(IInvocationOperation call, Frame frame)
    {
        var given = new Dictionary<IParameterSymbol, CtorValue>(SymbolEqualityComparer.Default);
        foreach (var argument in call.Arguments)
        {
            if (argument.Parameter is not { } parameter) continue;
            given[parameter] = argument.ArgumentKind == ArgumentKind.DefaultValue ? Default(parameter) : Eval(argument.Value, frame);
        }
        foreach (var parameter in call.TargetMethod.Parameters)
        {
            if (!given.ContainsKey(parameter)) given[parameter] = Default(parameter);
        }
        return given;
    }

    /// <summary>The base class of <paramref name="type"/> when it is the user's own [Module] class declared in source, else null.</summary>
    internal static INamedTypeSymbol? ModuleBase(INamedTypeSymbol type)
        => type.BaseType is { TypeKind: TypeKind.Class } b && b.Locations.Any(l => l.IsInSource) && !ChildParser.IsBuiltIn(b)
           && b.ContainingNamespace?.ToDisplayString() != "SharpGrad" && ModuleParser.HasAttribute(b, ModuleParser.ModuleAttributeName) ? b : null;

    /// <summary><paramref name="type"/> and its [Module] bases declared in source, the type first.</summary>
    internal static IEnumerable<INamedTypeSymbol> WithModuleBases(INamedTypeSymbol type)
    {
        int depth = 0;
        for (INamedTypeSymbol? t = type; t is not null && depth++ < MaxDepth; t = ModuleBase(t)) yield return t;
    }

    /// <summary>The instance fields and properties of one class.</summary>
    private static IEnumerable<ISymbol> Members(INamedTypeSymbol type)
        => type.GetMembers().Where(m => !m.IsStatic && m is IFieldSymbol or IPropertySymbol);

    /// <summary>True for a field or property of the module's class or of one of its [Module] bases (what its constructors set).</summary>
    private bool IsOwn(ISymbol member) => member.ContainingType is { } owner && WithModuleBases(_type).Contains(owner.OriginalDefinition, SymbolEqualityComparer.Default);

    /// <summary>The field initialisers of one class, in declaration order.</summary>
    private void Initializers(INamedTypeSymbol type)
    {
        var frame = new Frame(0);
        foreach (var member in Members(type))
        {
            foreach (var reference in member.DeclaringSyntaxReferences)
            {
                var value = reference.GetSyntax(_token) switch
                {
                    VariableDeclaratorSyntax { Initializer.Value: var v } => v,
                    PropertyDeclarationSyntax { Initializer.Value: var v } => v,
                    _ => null,
                };
                if (value is not null && _compilation.GetSemanticModel(value.SyntaxTree).GetOperation(value, _token) is { } operation)
                {
                    _fields[member] = Eval(operation, frame);
                }
            }
        }
    }

    /// <summary>
    /// The constructor that builds the module: the only one, or, of several, the one every other forwards to with
    /// <c>: this(…)</c> and nothing else (an empty body), as <c>Block(int d) : this(d, d) { }</c> forwards to
    /// <c>Block(int cin, int cout)</c>: whichever the caller uses, the primary one builds the children, with the sizes
    /// the others pass (a parent's construction is translated to it, <see cref="ChildParser"/>). Null when there is no
    /// such constructor (two build different things).
    /// </summary>
    internal static IMethodSymbol? Primary(IReadOnlyList<IMethodSymbol> constructors, CancellationToken token)
    {
        IMethodSymbol? primary = null;
        foreach (var c in constructors)
        {
            var syntax = c.DeclaringSyntaxReferences.Select(r => r.GetSyntax(token)).OfType<ConstructorDeclarationSyntax>().FirstOrDefault();
            if (syntax is null) return null;
            if (syntax.Initializer is { ThisOrBaseKeyword.RawKind: (int)SyntaxKind.ThisKeyword })
            {
                if (syntax.ExpressionBody is not null || syntax.Body is { Statements.Count: > 0 }) return null;
                continue;
            }
            if (primary is not null) return null;
            primary = c;
        }
        return primary;
    }

    /// <summary>A parameter of the module's own constructor, standalone: an int is the size it names; anything else unknown.</summary>
    private static CtorValue Standalone(IParameterSymbol parameter) => parameter.Type.SpecialType switch
    {
        SpecialType.System_Int32 => CtorValue.OfSize(parameter.Name),
        // A bool: unknown, but its text is a condition a layer option or a size may be decided by (Conditions).
        SpecialType.System_Boolean => CtorValue.Argument("the constructor argument '" + parameter.Name + "'", parameter.Name),
        _ => CtorValue.Unknown("the constructor argument '" + parameter.Name + "'", fromArgument: true),
    };

    private static CtorValue Default(IParameterSymbol parameter)
    {
        if (!parameter.HasExplicitDefaultValue) return CtorValue.Unknown("the constructor argument '" + parameter.Name + "'", fromArgument: true);
        return Constant(parameter.ExplicitDefaultValue) ?? CtorValue.Unknown("the constructor argument '" + parameter.Name + "'", fromArgument: true);
    }

    private static CtorValue? Constant(object? value) => value switch
    {
        null => CtorValue.Null,
        int i => CtorValue.Of(i),
        bool b => CtorValue.Of(b),
        _ => null,
    };

    private void TaintBody(IMethodSymbol method, string why)
    {
        foreach (var reference in method.DeclaringSyntaxReferences)
        {
            if (reference.GetSyntax(_token) is ConstructorDeclarationSyntax { Body: { } body } syntax)
            {
                var model = _compilation.GetSemanticModel(syntax.SyntaxTree);
                foreach (var statement in body.Statements) Taint(statement, new Frame(0), model, why);
            }
        }
    }

    // ---- statements ------------------------------------------------------------------------------------------

    private void Statements(SyntaxList<StatementSyntax> statements, Frame frame, SemanticModel model)
    {
        foreach (var statement in statements)
        {
            if (frame.Returned is not null) return;
            Statement(statement, frame, model);
        }
    }

    private void Statement(StatementSyntax statement, Frame frame, SemanticModel model)
    {
        _token.ThrowIfCancellationRequested();
        if (++_steps > MaxSteps) throw new System.InvalidOperationException("too many steps");
        switch (statement)
        {
            case BlockSyntax block:
                Statements(block.Statements, frame, model);
                return;
            case LocalDeclarationStatementSyntax local:
                foreach (var v in local.Declaration.Variables)
                {
                    var symbol = model.GetDeclaredSymbol(v, _token);
                    if (symbol is null) continue;
                    frame.Locals[symbol] = v.Initializer is { Value: var init } && model.GetOperation(init, _token) is { } op
                        ? Eval(op, frame) : CtorValue.Unknown(v.Identifier.ValueText);
                }
                return;
            case ExpressionStatementSyntax { Expression: var expression } when model.GetOperation(expression, _token) is { } operation:
                Eval(operation, frame);
                return;
            case ReturnStatementSyntax { Expression: var returned }:
                frame.Returned = returned is not null && model.GetOperation(returned, _token) is { } r ? Eval(r, frame) : CtorValue.Null;
                return;
            case IfStatementSyntax branch when model.GetOperation(branch.Condition, _token) is { } condition:
            {
                var decided = Eval(condition, frame);
                if (decided.Kind == CtorValue.Kinds.Bool)
                {
                    if (decided.Bool) Statement(branch.Statement, frame, model);
                    else if (branch.Else is { } otherwise) Statement(otherwise.Statement, frame, model);
                    return;
                }
                Taint(statement, frame, model, "`" + GraphParser.Text(statement) + "`, chosen by `" + GraphParser.Text(branch.Condition) + "`, which the build cannot decide");
                return;
            }
            case ForStatementSyntax loop:
                For(loop, frame, model);
                return;
            case EmptyStatementSyntax:
                return;
            default:
                Taint(statement, frame, model, "`" + GraphParser.Text(statement) + "`");
                return;
        }
    }

    /// <summary><c>for (int i = a; i &lt; b; i++)</c> (or <c>&lt;=</c>, <c>++i</c>, <c>i += 1</c>) with a and b known ints: unrolled, i bound to each value.</summary>
    private void For(ForStatementSyntax loop, Frame frame, SemanticModel model)
    {
        string bound = loop.Condition is BinaryExpressionSyntax { Right: var right } ? GraphParser.Text(right) : GraphParser.Text(loop);
        if (loop.Declaration is { Variables: [{ Initializer.Value: var first } declarator] } && loop.Incrementors.Count == 1
            && model.GetDeclaredSymbol(declarator, _token) is { } variable
            && model.GetOperation(first, _token) is { } firstOp && Eval(firstOp, frame) is { Kind: CtorValue.Kinds.Int } from
            && loop.Condition is BinaryExpressionSyntax { Left: IdentifierNameSyntax left, Right: var to } condition
            && left.Identifier.ValueText == declarator.Identifier.ValueText
            && model.GetOperation(to, _token) is { } toOp && Eval(toOp, frame) is { Kind: CtorValue.Kinds.Int } limit
            && Steps(loop, declarator.Identifier.ValueText, model)
            && !loop.Statement.DescendantNodes().OfType<AssignmentExpressionSyntax>().Any(a => a.Left is IdentifierNameSyntax { Identifier.ValueText: var n } && n == declarator.Identifier.ValueText))
        {
            int count = condition.Kind() switch
            {
                SyntaxKind.LessThanExpression => limit.Int - from.Int,
                SyntaxKind.LessThanOrEqualExpression => limit.Int - from.Int + 1,
                _ => -1,
            };
            if (count >= 0 && count <= 4096)
            {
                frame.LoopVariables.Add(variable);
                for (int k = 0; k < count && frame.Returned is null; k++)
                {
                    frame.Locals[variable] = CtorValue.Of(from.Int + k);
                    Statement(loop.Statement, frame, model);
                }
                frame.LoopVariables.Remove(variable);
                return;
            }
        }
        Taint(loop, frame, model, "`" + GraphParser.Text(loop.Statement) + "`", (loop, bound));
    }

    private bool Steps(ForStatementSyntax loop, string name, SemanticModel model) => loop.Incrementors[0] switch
    {
        PostfixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PostIncrementExpression, Operand: IdentifierNameSyntax id } => id.Identifier.ValueText == name,
        PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PreIncrementExpression, Operand: IdentifierNameSyntax id } => id.Identifier.ValueText == name,
        AssignmentExpressionSyntax { RawKind: (int)SyntaxKind.AddAssignmentExpression, Left: IdentifierNameSyntax id, Right: var by }
            => id.Identifier.ValueText == name && model.GetConstantValue(by, _token) is { HasValue: true, Value: 1 },
        _ => false,
    };

    /// <summary>
    /// A statement the build does not run: every variable or field it assigns becomes unknown, and every module it may fill
    /// (<c>blocks.Append(…)</c>) has unknown items, with <paramref name="why"/>. Statements that touch neither (a
    /// <c>foreach</c> over <c>Modules()</c> that initialises weights) change nothing the compiler reads.
    /// </summary>
    private void Taint(StatementSyntax statement, Frame frame, SemanticModel model, string why, (StatementSyntax, string)? loop = null)
    {
        foreach (var node in statement.DescendantNodesAndSelf())
        {
            ISymbol? target = node switch
            {
                AssignmentExpressionSyntax a => model.GetSymbolInfo(a.Left, _token).Symbol,
                PostfixUnaryExpressionSyntax { Operand: var o } => model.GetSymbolInfo(o, _token).Symbol,
                PrefixUnaryExpressionSyntax { Operand: var o } when node.IsKind(SyntaxKind.PreIncrementExpression) || node.IsKind(SyntaxKind.PreDecrementExpression) => model.GetSymbolInfo(o, _token).Symbol,
                _ => null,
            };
            if (target is not null)
            {
                if (frame.Locals.ContainsKey(target)) frame.Locals[target] = CtorValue.Unknown(why);
                else if (target is IFieldSymbol or IPropertySymbol && IsOwn(target)) _fields[target] = CtorValue.Unknown(why);
            }
            if (node is InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax access }
                && model.GetSymbolInfo(access.Expression, _token).Symbol is { } receiver
                && (frame.Locals.TryGetValue(receiver, out var held) || _fields.TryGetValue(receiver, out held))
                && held.Kind == CtorValue.Kinds.Module)
            {
                held.Why ??= why;
                held.Loop ??= loop;
            }
        }
    }

    // ---- expressions -----------------------------------------------------------------------------------------

    private CtorValue Eval(IOperation operation, Frame frame)
    {
        _token.ThrowIfCancellationRequested();
        if (++_steps > MaxSteps) throw new System.InvalidOperationException("too many steps");
        while (operation is IConversionOperation { ConstantValue.HasValue: false } conversion) operation = conversion.Operand;
        if (operation.ConstantValue is { HasValue: true } constant)
        {
            return Constant(constant.Value) ?? CtorValue.Unknown(GraphParser.Text(operation.Syntax));
        }
        switch (operation)
        {
            case IParenthesizedOperation p:
                return Eval(p.Operand, frame);
            case IParameterReferenceOperation { Parameter: var parameter }:
                return frame.Locals.TryGetValue(parameter, out var pv) ? pv : CtorValue.Unknown(parameter.Name);
            case ILocalReferenceOperation { Local: var local }:
                return frame.Locals.TryGetValue(local, out var lv) ? lv : CtorValue.Unknown(local.Name);
            case IFieldReferenceOperation { Field: var field, Instance: IInstanceReferenceOperation or null }:
                return _fields.TryGetValue(field, out var fv) ? fv : CtorValue.Unknown(field.Name);
            case IPropertyReferenceOperation { Property: var property, Instance: IInstanceReferenceOperation or null }:
                return _fields.TryGetValue(property, out var prv) ? prv : CtorValue.Unknown(property.Name);
            case IPropertyReferenceOperation { Property.Type.SpecialType: SpecialType.System_Int32, Instance: { } layer } read
                when Eval(layer, frame) is { Kind: CtorValue.Kinds.Module, Spec: { IsBuiltIn: true } spec } && LayerSize(spec, read.Property.Name) is { } size:
                // A built layer's size (`head = new Linear(rnn.HiddenSize * 2, 3)`, `norm = new LayerNorm(fc.OutFeatures)`): the size it was built with.
                return size;
            case ISimpleAssignmentOperation assignment:
            {
                var value = Eval(assignment.Value, frame);
                Store(assignment.Target, value, frame);
                return value;
            }
            case ICompoundAssignmentOperation compound:
            {
                var value = Binary(compound.OperatorKind, Eval(compound.Target, frame), Eval(compound.Value, frame), compound.Syntax);
                Store(compound.Target, value, frame);
                return value;
            }
            case IIncrementOrDecrementOperation step:
            {
                var before = Eval(step.Target, frame);
                var after = before.Kind == CtorValue.Kinds.Int ? CtorValue.Of(before.Int + (step.Kind == OperationKind.Increment ? 1 : -1)) : CtorValue.Unknown(GraphParser.Text(step.Syntax));
                Store(step.Target, after, frame);
                return step.IsPostfix ? before : after;
            }
            case IBinaryOperation binary:
                if (binary.OperatorKind is BinaryOperatorKind.ConditionalAnd or BinaryOperatorKind.ConditionalOr)
                {
                    var l = Eval(binary.LeftOperand, frame);
                    bool and = binary.OperatorKind == BinaryOperatorKind.ConditionalAnd;
                    if (l.Kind == CtorValue.Kinds.Bool && l.Bool != and) return l;   // false && …, true || …
                    var r = Eval(binary.RightOperand, frame);
                    if (r.Kind == CtorValue.Kinds.Bool && r.Bool != and) return r;   // unknown && false, unknown || true
                    if (l.Kind == CtorValue.Kinds.Bool && r.Kind == CtorValue.Kinds.Bool) return CtorValue.Of(and ? l.Bool && r.Bool : l.Bool || r.Bool);
                    if (l.Kind == CtorValue.Kinds.Bool) return r;   // true && unknown, false || unknown: the unknown, with what it implies
                    if (r.Kind == CtorValue.Kinds.Bool) return l;
                    // a && b true: both true, so the sizes either makes equal are; a || b false: both false.
                    return CtorValue.Flag(GraphParser.Text(binary.Syntax), l.Condition is { } lc && r.Condition is { } rc ? "(" + lc + (and ? "&&" : "||") + rc + ")" : null,
                        and ? l.WhenTrue.Concat(r.WhenTrue).ToList() : [], and ? [] : l.WhenFalse.Concat(r.WhenFalse).ToList());
                }
                return Binary(binary.OperatorKind, Eval(binary.LeftOperand, frame), Eval(binary.RightOperand, frame), binary.Syntax);
            case IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not:
            {
                var operand = Eval(not.Operand, frame);
                return operand.Kind == CtorValue.Kinds.Bool ? CtorValue.Of(!operand.Bool)
                    : CtorValue.Flag(GraphParser.Text(not.Syntax), operand.Condition is { } c ? "!" + c : null, operand.WhenFalse, operand.WhenTrue);
            }
            case IUnaryOperation { OperatorKind: UnaryOperatorKind.Minus } minus:
                return Eval(minus.Operand, frame) is { Kind: CtorValue.Kinds.Int } i ? CtorValue.Of(-i.Int) : CtorValue.Unknown(GraphParser.Text(minus.Syntax));
            case IIsPatternOperation pattern:
                return IsNull(Eval(pattern.Value, frame), pattern.Pattern) is bool isNull ? CtorValue.Of(isNull) : CtorValue.Unknown(GraphParser.Text(pattern.Syntax));
            case IConditionalOperation { WhenFalse: { } whenFalse } conditional:
            {
                var c = Eval(conditional.Condition, frame);
                if (c.Kind == CtorValue.Kinds.Bool) return Eval(c.Bool ? conditional.WhenTrue : whenFalse, frame);
                // `bidirectional ? 2 * hidden : hidden` (PyTorch's `2 * hidden if bidirectional else hidden`): a size of its own, bound
                // when the module is built (SizeSymbols binds it from the layer built with it), so a layer sized by it compiles.
                if (c.Condition is { } condition && Eval(conditional.WhenTrue, frame).Term is { } yes && Eval(whenFalse, frame).Term is { } no)
                {
                    string a = SymbolicSizes.Text(yes.Coefficient, Planning.SizeSymbols.Atoms(yes.Product));
                    string b = SymbolicSizes.Text(no.Coefficient, Planning.SizeSymbols.Atoms(no.Product));
                    if (a == b) return Eval(whenFalse, frame);
                    if (yes.Coefficient > 0 && no.Coefficient > 0) return CtorValue.OfSize(Conditions.Size(condition, a, b));
                }
                if (c.Condition is { } chosen && Eval(conditional.WhenTrue, frame) is { Kind: CtorValue.Kinds.Bool } t && Eval(whenFalse, frame) is { Kind: CtorValue.Kinds.Bool } f)
                {
                    // flag ? true : false, flag ? false : other-constant: a condition of the same arguments.
                    if (t.Bool == f.Bool) return t;
                    return CtorValue.Flag(GraphParser.Text(conditional.Syntax), t.Bool ? chosen : "!" + chosen, [], []);
                }
                return CtorValue.Unknown(GraphParser.Text(conditional.Syntax));
            }
            case IDefaultValueOperation:
                return CtorValue.Null;
            case IInvocationOperation invocation when Appended(invocation.Syntax, frame) is { } appended:
                return appended;
            case IInvocationOperation invocation:
                return Invocation(invocation, frame);
            case IInvalidOperation { Syntax: InvocationExpressionSyntax } unbound when Appended(unbound.Syntax, frame) is { } appended:
                // blocks.Append(new Block(…)) where Block gets its `: Module` base from this generator: the call does not bind yet.
                return appended;
            case IObjectCreationOperation or IInvalidOperation when ModuleCreation(operation, frame) is { } created:
                return created;
        }
        return CtorValue.Unknown(GraphParser.Text(operation.Syntax));
    }

    /// <summary>A module construction (<c>new Conv2d(cin, hidden, 1)</c>, <c>new Sequential(…)</c>), its arguments read from the frame.</summary>
    private CtorValue? ModuleCreation(IOperation creation, Frame frame)
    {
        if (creation.Type is { } type && type.TypeKind != TypeKind.Error && !ModuleParser.IsModuleType(type)) return null;
        if (frame.LoopVariables.Count > 0 && creation.Syntax.DescendantNodesAndSelf().OfType<IdentifierNameSyntax>()
                .Any(id => creation.SemanticModel!.GetSymbolInfo(id, _token).Symbol is { } s && frame.LoopVariables.Contains(s, SymbolEqualityComparer.Default)))
        {
            return CtorValue.Unknown(GraphParser.Text(creation.Syntax));   // built from the loop variable: each item differs
        }
        var spec = ChildParser.FromCreation("", creation, creation.Syntax, out string? notConstant, value => Eval(value, frame), _compilation, _token);
        if (spec is null) return null;
        if (notConstant is not null) return CtorValue.Unknown(notConstant);
        return CtorValue.Of(spec);
    }

    private static bool? IsNull(CtorValue value, IPatternOperation pattern)
    {
        bool negated = false;
        while (pattern is INegatedPatternOperation n)
        {
            negated = !negated;
            pattern = n.Pattern;
        }
        if (pattern is not IConstantPatternOperation { Value.ConstantValue: { HasValue: true, Value: null } }) return null;
        bool? isNull = value.Kind switch
        {
            CtorValue.Kinds.Null => true,
            CtorValue.Kinds.Module => false,
            _ => null,
        };
        return isNull is bool b ? b != negated : null;
    }

    private void Store(IOperation target, CtorValue value, Frame frame)
    {
        switch (target)
        {
            case ILocalReferenceOperation { Local: var local }:
                frame.Locals[local] = value;
                break;
            case IParameterReferenceOperation { Parameter: var parameter }:
                frame.Locals[parameter] = value;
                break;
            case IFieldReferenceOperation { Field: var field, Instance: IInstanceReferenceOperation or null } when IsOwn(field):
                _fields[field] = value;
                break;
            case IPropertyReferenceOperation { Property: var property, Instance: IInstanceReferenceOperation or null } when IsOwn(property):
                _fields[property] = value;
                break;
        }
    }

    /// <summary>Arithmetic and comparisons of ints and sizes; sizes compare equal when their terms are, and differ when only their coefficients do.</summary>
    private static CtorValue Binary(BinaryOperatorKind kind, CtorValue left, CtorValue right, SyntaxNode syntax)
    {
        if (left.Kind == CtorValue.Kinds.Int && right.Kind == CtorValue.Kinds.Int)
        {
            int a = left.Int, b = right.Int;
            switch (kind)
            {
                case BinaryOperatorKind.Add: return CtorValue.Of(a + b);
                case BinaryOperatorKind.Subtract: return CtorValue.Of(a - b);
                case BinaryOperatorKind.Multiply: return CtorValue.Of(a * b);
                case BinaryOperatorKind.Divide when b != 0: return CtorValue.Of(a / b);
                case BinaryOperatorKind.Remainder when b != 0: return CtorValue.Of(a % b);
                case BinaryOperatorKind.Equals: return CtorValue.Of(a == b);
                case BinaryOperatorKind.NotEquals: return CtorValue.Of(a != b);
                case BinaryOperatorKind.LessThan: return CtorValue.Of(a < b);
                case BinaryOperatorKind.LessThanOrEqual: return CtorValue.Of(a <= b);
                case BinaryOperatorKind.GreaterThan: return CtorValue.Of(a > b);
                case BinaryOperatorKind.GreaterThanOrEqual: return CtorValue.Of(a >= b);
            }
        }
        if (left.Kind == CtorValue.Kinds.Bool && right.Kind == CtorValue.Kinds.Bool)
        {
            switch (kind)
            {
                case BinaryOperatorKind.Equals: return CtorValue.Of(left.Bool == right.Bool);
                case BinaryOperatorKind.NotEquals: return CtorValue.Of(left.Bool != right.Bool);
                case BinaryOperatorKind.And: return CtorValue.Of(left.Bool & right.Bool);
                case BinaryOperatorKind.Or: return CtorValue.Of(left.Bool | right.Bool);
            }
        }
        if (left.Term is { } l && right.Term is { } r)
        {
            switch (kind)
            {
                case BinaryOperatorKind.Multiply:
                    return Size(l.Coefficient * r.Coefficient, Planning.SizeSymbols.Atoms(l.Product).Concat(Planning.SizeSymbols.Atoms(r.Product)));
                case BinaryOperatorKind.Add or BinaryOperatorKind.Subtract when l.Product == r.Product:
                    return Size(kind == BinaryOperatorKind.Add ? l.Coefficient + r.Coefficient : l.Coefficient - r.Coefficient, Planning.SizeSymbols.Atoms(l.Product));
                case BinaryOperatorKind.Add or BinaryOperatorKind.Subtract or BinaryOperatorKind.Divide:
                {
                    string op = kind switch { BinaryOperatorKind.Divide => "/", BinaryOperatorKind.Add => "+", _ => "-" };
                    return CtorValue.OfSize("(" + SymbolicSizes.Text(l.Coefficient, Planning.SizeSymbols.Atoms(l.Product)) + op + SymbolicSizes.Text(r.Coefficient, Planning.SizeSymbols.Atoms(r.Product)) + ")");
                }
                case BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals when l.Product == r.Product && l.Product.Length > 0:
                    // c1·P vs c2·P: sizes are positive, so equal exactly when the coefficients are.
                    return CtorValue.Of((l.Coefficient == r.Coefficient) == (kind == BinaryOperatorKind.Equals));
                case BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals:
                {
                    // cin == cout, stride == 1: not known until the module is built; a branch it guards may take the sizes as equal.
                    var pair = new[] { (SymbolicSizes.Text(l.Coefficient, Planning.SizeSymbols.Atoms(l.Product)), SymbolicSizes.Text(r.Coefficient, Planning.SizeSymbols.Atoms(r.Product))) };
                    string? equal = Conditions.Comparison(pair[0].Item1, pair[0].Item2);
                    return CtorValue.Flag(GraphParser.Text(syntax), equal is null ? null : kind == BinaryOperatorKind.Equals ? equal : "!" + equal,
                        kind == BinaryOperatorKind.Equals ? pair : [], kind == BinaryOperatorKind.Equals ? [] : pair);
                }
            }
        }
        return CtorValue.Unknown(GraphParser.Text(syntax));
    }

    /// <summary>The size a built-in layer was built with that its int property <paramref name="property"/> reads (<c>OutFeatures</c>), or null.</summary>
    private static CtorValue? LayerSize(ChildSpec spec, string property)
    {
        if (OpCatalogue.ForLayer(spec.Kind) is not { } row) return null;
        foreach (var param in row.Params)
        {
            if (param.Property != property || param.Kind == ParamKind.Ints) continue;
            return spec.Arg(param.Name) switch
            {
                { Symbol: { } symbol } => CtorValue.OfSize(symbol),
                { IsKnown: true, Values.Count: 1 } constant => CtorValue.Of(constant.Values[0]),
                _ => null,
            };
        }
        return null;
    }

    private static CtorValue Size(int coefficient, IEnumerable<string> atoms)
    {
        var list = atoms.Where(a => a.Length > 0).ToList();
        if (coefficient <= 0 && list.Count > 0) return CtorValue.Unknown(SymbolicSizes.Text(coefficient, list));
        return list.Count == 0 ? CtorValue.Of(coefficient) : CtorValue.OfSize(SymbolicSizes.Text(coefficient, list));
    }

    /// <summary>
    /// <c>list.Add("name", module)</c> / <c>list.Append(module)</c> on a Sequential or ModuleList the constructor holds (read
    /// from the syntax: the call may not bind while generating); the list, or null for any other call.
    /// </summary>
    private CtorValue? Appended(SyntaxNode syntax, Frame frame)
    {
        if (syntax is not InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Add" or "Append" } access } call) return null;
        var model = _compilation.GetSemanticModel(syntax.SyntaxTree);
        if (model.GetOperation(access.Expression, _token) is not { } receiver) return null;
        var list = Eval(receiver, frame);
        if (list.Kind != CtorValue.Kinds.Module || list.Spec is not { Kind: "Sequential" or "ModuleList", IsBuiltIn: true }) return null;
        if (!list.IsKnownModule) return list;
        var arguments = call.ArgumentList.Arguments;
        string key = list.Spec.Items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (access.Name.Identifier.ValueText == "Add")
        {
            if (arguments.Count != 2 || model.GetConstantValue(arguments[0].Expression, _token) is not { HasValue: true, Value: string given })
            {
                list.Why = GraphParser.Text(call);
                return list;
            }
            key = given;
        }
        else if (arguments.Count != 1)
        {
            list.Why = GraphParser.Text(call);
            return list;
        }
        var module = arguments[arguments.Count - 1].Expression;
        var item = model.GetOperation(module, _token) is { } operation ? Eval(operation, frame) : CtorValue.Unknown(GraphParser.Text(module));
        if (!item.IsKnownModule)
        {
            list.Why = item.Why ?? GraphParser.Text(module);
            return list;
        }
        list.Spec = list.Spec with { Items = list.Spec.Items.Concat(new[] { item.Spec! with { Name = key, Path = key } }).ToEquatableArray() };
        return list;
    }

    /// <summary>A call of a helper method of the class (static or instance): inlined, its parameters bound to the arguments.</summary>
    private CtorValue Invocation(IInvocationOperation invocation, Frame frame)
    {
        var method = invocation.TargetMethod;
        var arguments = invocation.Arguments.OrderBy(a => a.Parameter?.Ordinal ?? 0).ToList();

        bool own = method.ContainingType is { } owner && WithModuleBases(_type).Any(t => SymbolEqualityComparer.Default.Equals(owner.OriginalDefinition, t.OriginalDefinition))
                   && (method.IsStatic || invocation.Instance is null or IInstanceReferenceOperation);
        if (own && frame.Depth < MaxDepth
            && method.DeclaringSyntaxReferences.Select(r => r.GetSyntax(_token)).OfType<MethodDeclarationSyntax>().FirstOrDefault() is { } declaration)
        {
            var callee = new Frame(frame.Depth + 1);
            foreach (var argument in arguments)
            {
                if (argument.Parameter is null) continue;
                callee.Locals[argument.Parameter] = Eval(argument.Value, frame);
            }
            var model = _compilation.GetSemanticModel(declaration.SyntaxTree);
            if (declaration.ExpressionBody is { Expression: var body } && model.GetOperation(body, _token) is { } op) return Eval(op, callee);
            if (declaration.Body is { } block)
            {
                Statements(block.Statements, callee, model);
                return callee.Returned ?? CtorValue.Null;
            }
        }
        return CtorValue.Unknown(GraphParser.Text(invocation.Syntax));
    }
}
