using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;
using SharpGrad.Generator.Model;
using SharpGrad.Shared;

namespace SharpGrad.Generator.Parsing;

/// <summary>
/// Reads the child fields of a module and their constructor arguments from the field initialisers
/// (<c>readonly Linear fc1 = new(784, 256);</c>), every constructor parameter bound, defaults included.
/// A child without a constant construction is recorded as a <see cref="GraphIssue"/> (its shapes are unknown).
/// </summary>
internal static class ChildParser
{
    public static List<ChildSpec> Parse(INamedTypeSymbol type, Compilation compilation, List<GraphIssue> issues, CancellationToken token)
        => Parse(type, compilation, issues, token, null, out _);

    /// <summary>
    /// The children of <paramref name="type"/>; with <paramref name="arguments"/>, of the instance its parent builds with
    /// them (<see cref="ConstructorEvaluator"/>). <paramref name="fields"/>: every field's value after the constructor, for
    /// the conditions of Forward.
    /// </summary>
    public static List<ChildSpec> Parse(INamedTypeSymbol type, Compilation compilation, List<GraphIssue> issues, CancellationToken token,
        IReadOnlyDictionary<string, CtorValue>? arguments, out Dictionary<ISymbol, CtorValue> fields)
    {
        fields = ConstructorEvaluator.Fields(type, compilation, arguments, token);
        var children = new List<ChildSpec>();
        foreach (var member in Members(type, compilation))
        {
            token.ThrowIfCancellationRequested();
            // A member of a [Module] base class: its children are this module's too (NamedModules lists them first); the
            // constructors that set it are the base's, run with the arguments `: base(…)` passes (ConstructorEvaluator).
            var owner = member.ContainingType;
            bool inherited = !SymbolEqualityComparer.Default.Equals(owner, type);
            ITypeSymbol? memberType = member switch
            {
                IFieldSymbol { IsConst: false } f => f.Type,
                IPropertySymbol { IsIndexer: false } p => p.Type,
                _ => null,
            };
            if (memberType is null) continue;
            var location = LocationInfo.From(member.Locations.FirstOrDefault());

            if (!ModuleParser.IsModuleType(memberType))
            {
                // readonly Linear[] layers = [new(4, 4), new(4, 4)]: each item a child "layers.0", "layers.1", … (the names
                // NamedModules gives), so a foreach over the array unrolls into calls of these children.
                if (memberType is IArrayTypeSymbol { ElementType: var elementType } && ModuleParser.IsModuleType(elementType)
                    && Initializer(member, token) is { } arrayInit)
                {
                    var arrayModel = compilation.GetSemanticModel(arrayInit.SyntaxTree);
                    var items = new List<ChildSpec>();
                    string? notConstantItem = null;
                    if (SequentialItems(arrayModel.GetOperation(arrayInit, token)!, items, ref notConstantItem) && notConstantItem is null && items.Count > 0)
                    {
                        string state = Naming.ToStateName(member.Name);
                        for (int k = 0; k < items.Count; k++)
                        {
                            string itemPath = state + "." + k.ToString(System.Globalization.CultureInfo.InvariantCulture);
                            children.Add(items[k] with { Name = itemPath, Path = itemPath, ArrayMember = member.Name, ArrayIndex = k });
                        }
                        continue;
                    }
                }
                if (memberType is IArrayTypeSymbol or INamedTypeSymbol { IsGenericType: true } && ModuleParser.IsStateMemberType(memberType))
                {
                    issues.Add(new GraphIssue(DiagnosticDescriptors.GraphBreakId, location, "the list of children '" + member.Name + "', whose items are not known at build time",
                        "a foreach is unrolled only over a readonly array of children with a constant initialiser (`readonly Linear[] layers = [new(4, 4), new(4, 4)];`); declare it so, or each child as its own field"));
                }
                continue;
            }

            bool builtIn = IsBuiltIn(memberType);
            string kind = memberType.Name;
            string path = Naming.ToStateName(member.Name);
            string typeName = TypeName(memberType);
            var initializer = arguments is null ? Initializer(member, token) ?? (inherited ? null : ConstructorAssignment(type, member, compilation, token)) : null;
            ChildSpec? child = null;
            string? notConstant = null;
            GraphIssue? loop = null;
            if (initializer is not null)
            {
                var creation = compilation.GetSemanticModel(initializer.SyntaxTree).GetOperation(initializer, token);
                child = FromCreation(member.Name, creation, initializer, out notConstant);
                if (child is { Kind: "Sequential" or "ModuleList", IsBuiltIn: true } && notConstant is null)
                {
                    child = ConstructorItems(owner, member, child, compilation, token, ref notConstant, ref loop);
                }
                if (notConstant is null && loop is null)
                {
                    AddChild(children, child ?? new ChildSpec(member.Name, kind, builtIn, default, GraphParser.Text(initializer)) { TypeName = typeName }, path, member.Name);
                    continue;
                }
            }

            // The constructor as it runs (helpers, locals, conditions, loops, ConstructorEvaluator): the child it leaves, when
            // one construction read directly does not give it, and always for an instance a parent builds.
            fields.TryGetValue(member, out var evaluated);
            if (evaluated is { IsKnownModule: true })
            {
                AddChild(children, evaluated.Spec! with { Name = member.Name, Text = evaluated.Spec!.Text.Length > 0 ? evaluated.Spec.Text : member.Name }, path, member.Name);
                continue;
            }
            if (evaluated is { Kind: CtorValue.Kinds.Null } && arguments is not null) continue;   // an optional child this instance does not have
            if (evaluated is { Kind: CtorValue.Kinds.Unknown, FromArgument: true })
            {
                issues.Add(new GraphIssue(DiagnosticDescriptors.GraphBreakId, location,
                    "the child '" + member.Name + "', passed to the constructor as " + evaluated.Why + " (which module it is, if any, is known only where the module is built)",
                    "build it in a parent with arguments the build knows (`new " + type.Name + "(…, new Sequential(…))`): the parent compiles it whole") { DependsOnArguments = true });
                children.Add(new ChildSpec(member.Name, kind, builtIn, default, "") { Path = path, TypeName = typeName });
                continue;
            }
            if (initializer is null && evaluated is { Kind: CtorValue.Kinds.Module, Loop: { } unknownLoop })
            {
                issues.Add(LoopIssue(member, unknownLoop.Loop, unknownLoop.Bound));
                children.Add(new ChildSpec(member.Name, kind, builtIn, default, "") { Path = path, TypeName = typeName });
                continue;
            }
            if (initializer is null)
            {
                issues.Add(new GraphIssue(DiagnosticDescriptors.GraphBreakId, location, "the child '" + member.Name + "', which is not constructed once in a field initialiser or the constructor",
                    "construct it once, as `readonly " + kind + " " + member.Name + " = new(…);` or `" + member.Name + " = new(…);` in the constructor, with constant arguments"));
                children.Add(new ChildSpec(member.Name, kind, builtIn, default, "") { Path = path, TypeName = typeName });
                continue;
            }
            if (loop is not null)
            {
                issues.Add(loop);
            }
            else if (notConstant is not null)
            {
                issues.Add(new GraphIssue(DiagnosticDescriptors.GraphBreakId, LocationInfo.From(initializer.GetLocation()),
                    "the child '" + member.Name + "', whose argument `" + notConstant + "` is not a compile-time constant (its shapes are unknown at build time)",
                    "pass constants or const fields; sizes from the constructor's int parameters are compiled for " + SymbolicSizes.Layers + " children"));
            }
            children.Add((child ?? new ChildSpec(member.Name, kind, builtIn, default, GraphParser.Text(initializer)) { TypeName = typeName }) with { Path = path });
        }
        return children;
    }

    /// <summary>
    /// The instance members of <paramref name="type"/> and of its [Module] base classes declared in source, the farthest
    /// base first (the order NamedModules gives); of the bases, those <paramref name="type"/> can use (not private) and does
    /// not hide with a member of the same name.
    /// </summary>
    internal static List<ISymbol> Members(INamedTypeSymbol type, Compilation compilation)
    {
        var members = new List<ISymbol>();
        var names = new HashSet<string>();
        foreach (var t in ConstructorEvaluator.WithModuleBases(type))
        {
            bool inherited = !SymbolEqualityComparer.Default.Equals(t, type);
            var own = new List<ISymbol>();
            foreach (var member in t.GetMembers())
            {
                if (member.IsStatic || member.IsImplicitlyDeclared || member is not (IFieldSymbol or IPropertySymbol)) continue;
                if (inherited && (names.Contains(member.Name) || !compilation.IsSymbolAccessibleWithin(member, type))) continue;
                own.Add(member);
            }
            foreach (var member in own) names.Add(member.Name);
            members.InsertRange(0, own);
        }
        return members;
    }

    /// <summary>A child under its state path; a ModuleList's items too, as children "layers.0", … a foreach unrolls over.</summary>
    private static void AddChild(List<ChildSpec> children, ChildSpec child, string path, string member)
    {
        children.Add(child with { Path = path });
        if (child is not { Kind: "ModuleList", Items.IsEmpty: false } list) return;
        for (int k = 0; k < list.Items.Count; k++)
        {
            string itemPath = path + "." + k.ToString(System.Globalization.CultureInfo.InvariantCulture);
            children.Add(list.Items[k] with { Name = itemPath, Path = itemPath, ArrayMember = member, ArrayIndex = k });
        }
    }

    private static GraphIssue LoopIssue(ISymbol member, StatementSyntax loop, string bound)
        => new(DiagnosticDescriptors.GraphBreakId, LocationInfo.From(loop.GetLocation()),
            "the child '" + member.Name + "', filled in a loop of `" + bound + "` iterations, a count the build does not know (its items are unknown at build time)",
            "make the count a constant (`const int Layers = 4;`, or a literal) so the loop is unrolled at build time, or use a readonly array of children")
        {
            ElementList = member.Name,
        };

    /// <summary>
    /// A child from its construction <c>new Linear(…)</c>: every constructor argument bound. A <c>Sequential</c> built
    /// from modules (<c>new(new Linear(…), new ReLU())</c>) or <c>("name", module)</c> pairs gets its items, each
    /// parsed the same way and named by its key. <paramref name="notConstant"/> names the first argument that is not
    /// a compile-time constant (or the item that is not a construction).
    /// </summary>
    internal static ChildSpec? FromCreation(string name, IOperation? creation, SyntaxNode syntax, out string? notConstant,
        System.Func<IOperation, CtorValue>? resolve = null, Compilation? compilation = null, CancellationToken token = default, bool specialize = true)
    {
        notConstant = null;
        while (creation is IConversionOperation conversion) creation = conversion.Operand;
        compilation ??= creation?.SemanticModel?.Compilation;
        if (resolve is not null && creation is not (null or IObjectCreationOperation or IInvalidOperation)
            && !(creation is IInvocationOperation { TargetMethod.Name: "Add" or "Append" }))
        {
            // A module the constructor holds in a local or makes in a helper (`new Sequential(conv, DoubleConv(c, c))`).
            var held = resolve(creation);
            if (held.IsKnownModule) return held.Spec! with { Name = name, Path = name };
            notConstant = held.Why ?? GraphParser.Text(syntax);
            return null;
        }

        // new Sequential().Add("conv1", new Conv2d(…)).Append(new ReLU()): the add_module form, item by item.
        if (creation is IInvocationOperation { TargetMethod: { Name: "Add" or "Append" } added, Instance: { } instance } invocation
            && added.ContainingType is { Name: "Sequential" } container && IsBuiltIn(container))
        {
            var sequence = FromCreation(name, instance, syntax, out notConstant, resolve, compilation, token, specialize);
            if (sequence is null || notConstant is not null) return sequence;
            var arguments = invocation.Arguments.OrderBy(a => a.Parameter?.Ordinal ?? 0).ToList();
            string key = sequence.Items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (added.Name == "Add")
            {
                if (arguments.Count != 2 || arguments[0].Value.ConstantValue is not { HasValue: true, Value: string given })
                {
                    notConstant = GraphParser.Text(invocation.Syntax);
                    return sequence;
                }
                key = given;
            }
            var module = arguments[arguments.Count - 1].Value;
            var item = FromCreation(key, module, module.Syntax, out notConstant, resolve, compilation, token, specialize);
            if (item is null) return sequence;
            return sequence with { Items = sequence.Items.Concat(new[] { item }).ToEquatableArray(), Text = GraphParser.Text(syntax) };
        }

        if (creation is IInvalidOperation && UnboundContainer(creation, out var container2) is { } containerType)
        {
            // new Sequential(new Block(), new Block()) where Block gets its `: Module` base from this generator: the
            // arguments do not convert to Module while generating, so the call does not bind; read each item alone.
            var containerItems = new List<ChildSpec>();
            foreach (var argument in container2.ArgumentList!.Arguments)
            {
                var element = creation.SemanticModel!.GetOperation(argument.Expression);
                if (element is null || !SequentialItems(element, containerItems, ref notConstant, single: true, resolve, compilation, token, specialize)) notConstant ??= GraphParser.Text(argument);
            }
            return new ChildSpec(name, containerType.Name, true, new[] { new ChildArg("modules", default, true) }.ToEquatableArray(), GraphParser.Text(syntax))
            {
                TypeName = TypeName(containerType),
                Items = containerItems.ToEquatableArray(),
            };
        }

        if (creation is not IObjectCreationOperation { Type: { } type } objectCreation)
        {
            notConstant = GraphParser.Text(syntax);
            return null;
        }

        bool builtIn = IsBuiltIn(type);
        string kind = type.Name;
        if (builtIn && IsComposedKind(kind))
        {
            // new TransformerEncoder(new TransformerEncoderLayer(…), layers): not read into the parent's graph; a call of it is a
            // call of its own compiled program (GraphParser.ComposedCall), so its arguments need not be known at build time.
            return new ChildSpec(name, kind, true, default, GraphParser.Text(syntax)) { TypeName = TypeName(type) };
        }
        var args = new List<ChildArg>();
        var items = new List<ChildSpec>();
        bool isSequential = builtIn && kind is "Sequential" or "ModuleList";
        foreach (var argument in objectCreation.Arguments.OrderBy(a => a.Parameter?.Ordinal ?? 0))
        {
            var value = argument.Value;
            if (isSequential)
            {
                if (!SequentialItems(value, items, ref notConstant, false, resolve, compilation, token, specialize)) notConstant ??= GraphParser.Text(argument.Syntax);
                args.Add(new ChildArg(argument.Parameter?.Name ?? "", default, true));
                continue;
            }
            var ints = new List<int>();
            while (value is IConversionOperation { ConstantValue.HasValue: false } widening) value = widening.Operand; // 0.1 → double?
            var resolved = resolve is not null && !value.ConstantValue.HasValue && value is not IDefaultValueOperation ? resolve!(value) : null;
            if (resolved is not null && Resolved(resolved, argument, kind, builtIn) is { } given)
            {
                args.Add(given);
                continue;
            }
            if (builtIn && resolved is { Kind: CtorValue.Kinds.Unknown } && (resolved.FromArgument || resolved.Condition is not null)
                && RunTimeOption(kind, argument.Parameter?.Name ?? "") is { } option)
            {
                // new LSTM(d, d, bidirectional: bidirectional) with `bidirectional` the module's own constructor parameter (or a condition
                // over them: `!unidirectional`, `mode == 2`): not known at build time, but the built layer has it; the parser compiles one
                // region per value (GraphParser.BranchRegions), only the combinations the conditions can reach (Conditions).
                args.Add(new ChildArg(argument.Parameter?.Name ?? "", default, false) { Option = option.Test, OptionSource = resolved.Condition ?? resolved.Why });
                continue;
            }
            if (!builtIn && resolved is { Kind: CtorValue.Kinds.Unknown, Condition: { } passed } && Conditions.Atoms(passed) is not null
                && argument.Parameter is { Type.SpecialType: SpecialType.System_Boolean } flagParameter)
            {
                // new Block(d, affine) with `affine` the parent's own constructor parameter (or a condition over them): the block is
                // parsed once per value (Specialize) and the parent's parser takes the one its region assumes (GraphParser.AssumedBlock).
                args.Add(new ChildArg(flagParameter.Name, default, false) { Condition = passed });
                continue;
            }
            bool known = GraphParser.Ints(value, ints)
                         || value.ConstantValue.HasValue   // null, doubles, strings: constant, not a shape
                         || value is IDefaultValueOperation
                         || argument.Parameter?.Type is { Name: "Rng" } rngType && IsRuntimeType(rngType);   // initialisation only: not in the program
            // new Linear(4, hidden): a size bound when the module is built, a symbol (for the layers whose rules take one).
            // A user module's own layers take its sizes as symbols of that instance when it is inlined (Inliner).
            string? symbol = !known && (!builtIn || SymbolicSizes.Accepts(kind, argument.Parameter?.Name ?? "")) ? SymbolicSizes.Of(value) : null;
            // A dropout probability the compiled kernels read from the layer at each call need not be known at build time
            // (`new TransformerEncoderLayer(d, h, ff, dropout)` with `dropout` a constructor parameter): an unknown argument.
            bool readAtRunTime = builtIn && ReadAtRunTime(kind, argument.Parameter?.Name ?? "");
            if (!known && symbol is null && notConstant is null && !readAtRunTime) notConstant = GraphParser.Text(argument.Syntax);
            var constant = value.ConstantValue is { HasValue: true } c ? c.Value : null;
            double? number = constant switch { int i => i, long l => l, double d => d, float f => f, bool b => b ? 1 : 0, _ => null };
            args.Add(new ChildArg(argument.Parameter?.Name ?? "", ints.ToEquatableArray(), known) { Number = number, String = constant as string, Symbol = symbol });
        }
        if (!builtIn && objectCreation.Constructor is { } called && compilation is not null)
        {
            // new Block(d) with Block(int d) : this(d, d): the arguments of the constructor that builds it (Block(cin, cout)).
            if (Forwarded(called, args, compilation, token) is { } forwarded) args = forwarded;
            else notConstant ??= GraphParser.Text(syntax);
        }
        var spec = new ChildSpec(name, kind, builtIn, args.ToEquatableArray(), GraphParser.Text(syntax))
        {
            TypeName = TypeName(type),
            Items = items.ToEquatableArray(),
        };
        return !builtIn && specialize && notConstant is null && compilation is not null && type is INamedTypeSymbol named ? Specialize(named, spec, compilation, token) : spec;
    }

    /// <summary>
    /// The arguments of a user module's construction, carried along its <c>: this(…)</c> chain to the constructor that
    /// builds it (<see cref="ConstructorEvaluator.Primary"/>), each named by that constructor's parameter: a parameter passed
    /// on, a constant, or a size over the parameters (<c>: this(d, 2 * d)</c>). Null when an argument is anything else.
    /// </summary>
    private static List<ChildArg>? Forwarded(IMethodSymbol constructor, List<ChildArg> args, Compilation compilation, CancellationToken token)
    {
        for (int depth = 0; depth < 16; depth++)
        {
            var syntax = constructor.DeclaringSyntaxReferences.Select(r => r.GetSyntax(token)).OfType<ConstructorDeclarationSyntax>().FirstOrDefault();
            if (syntax?.Initializer is not { ThisOrBaseKeyword.RawKind: (int)SyntaxKind.ThisKeyword } initializer) return args;
            var operation = compilation.GetSemanticModel(syntax.SyntaxTree).GetOperation(initializer, token);
            if (operation is IExpressionStatementOperation statement) operation = statement.Operation;
            if (operation is not IInvocationOperation call) return null;
            var byName = new Dictionary<string, ChildArg>();
            foreach (var a in args) byName[a.Name] = a;
            var next = new List<ChildArg>();
            foreach (var argument in call.Arguments.OrderBy(a => a.Parameter?.Ordinal ?? 0))
            {
                string name = argument.Parameter?.Name ?? "";
                var value = argument.Value;
                while (value is IConversionOperation { ConstantValue.HasValue: false } widening) value = widening.Operand;
                var ints = new List<int>();
                if (value is IParameterReferenceOperation { Parameter.Name: var passed } && byName.TryGetValue(passed, out var given))
                {
                    next.Add(given with { Name = name });
                }
                else if (value.ConstantValue is { HasValue: true } constant)
                {
                    GraphParser.Ints(value, ints);
                    double? number = constant.Value switch { int i => i, long l => l, double d => d, float f => f, bool b => b ? 1 : 0, _ => null };
                    next.Add(new ChildArg(name, ints.ToEquatableArray(), true) { Number = number, String = constant.Value as string });
                }
                else if (SymbolicSizes.Of(value) is { } symbol)
                {
                    bool resolved = true;
                    string size = SymbolicSizes.Substitute(symbol, atom =>
                    {
                        if (byName.TryGetValue(atom, out var a) && a.Symbol is { } bound) return bound;
                        if (a is { IsKnown: true, Values.Count: 1 }) return a.Values[0].ToString(System.Globalization.CultureInfo.InvariantCulture);
                        resolved = false;
                        return atom;
                    });
                    if (!resolved) return null;
                    next.Add(int.TryParse(size, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int known)
                        ? new ChildArg(name, new[] { known }.ToEquatableArray(), true) { Number = known }
                        : new ChildArg(name, default, false) { Symbol = size });
                }
                else return null;
            }
            args = next;
            constructor = call.TargetMethod;
        }
        return null;
    }

    /// <summary>An argument whose value the constructor evaluation knows: an int, a size, a bool, null or a module; else null.</summary>
    private static ChildArg? Resolved(CtorValue value, IArgumentOperation argument, string kind, bool builtIn)
    {
        string name = argument.Parameter?.Name ?? "";
        switch (value.Kind)
        {
            case CtorValue.Kinds.Int:
                return new ChildArg(name, new[] { value.Int }.ToEquatableArray(), true) { Number = value.Int };
            case CtorValue.Kinds.Bool:
                return new ChildArg(name, new[] { value.Bool ? 1 : 0 }.ToEquatableArray(), true) { Number = value.Bool ? 1 : 0 };
            case CtorValue.Kinds.Null:
                return new ChildArg(name, default, true);
            case CtorValue.Kinds.Size when !builtIn || SymbolicSizes.Accepts(kind, name):
                return new ChildArg(name, default, false) { Symbol = value.Symbol };
            case CtorValue.Kinds.Module when value.IsKnownModule && !builtIn:
                return new ChildArg(name, default, true) { Module = value.Spec };
            default:
                return null;
        }
    }

    /// <summary>At most this many flags a parent passes on to one child block, parsed per value (2^n variants); more is a named break.</summary>
    internal const int MaxPassedFlags = 3;

    /// <summary>
    /// The built-in layers inside a block built with flags from its parent's parameters (<see cref="ChildArg.Condition"/>) whose
    /// options those flags give (<see cref="ChildArg.Option"/>), nested blocks included: each layer's state path under the block
    /// (<c>ln</c>, <c>block.fc</c>), kind, test, the condition over the parent's parameters it reads, and whether the option changes
    /// shapes (<see cref="RunTimeOption"/>'s flag; an option it does not list counts as changing them).
    /// </summary>
    internal static IEnumerable<(string Path, string Kind, string Option, string Condition, bool ChangesShapes)> InnerOptions(ChildSpec block)
    {
        foreach (var child in block.Instance?.Children ?? default)
        {
            if (child.IsVariant) continue;
            if (child.IsBuiltIn)
            {
                foreach (var arg in child.Args)
                {
                    if (arg is { Option: { } option, OptionSource: { } source } && Conditions.Atoms(source) is not null) yield return (child.Path, child.Kind, option, source, RunTimeOption(child.Kind, arg.Name)?.ChangesShapes ?? true);
                }
                foreach (var item in child.Items)
                {
                    foreach (var arg in item.Args)
                    {
                        if (item.IsBuiltIn && arg is { Option: { } option, OptionSource: { } source } && Conditions.Atoms(source) is not null)
                            yield return (child.Path + "." + item.Path, item.Kind, option, source, RunTimeOption(item.Kind, arg.Name)?.ChangesShapes ?? true);
                    }
                }
                continue;
            }
            foreach (var inner in InnerOptions(child)) yield return (child.Path + "." + inner.Path, inner.Kind, inner.Option, inner.Condition, inner.ChangesShapes);
        }
    }

    /// <summary>How deep instance graphs are being parsed (a module built inside a module built inside …).</summary>
    [System.ThreadStatic] private static int s_instanceDepth;

    /// <summary>
    /// A user module whose Forward may depend on its constructor's arguments (a module or bool parameter, a bool field:
    /// <c>if (downsample is not null)</c>, <c>useResidual ? … : …</c>) gets its graph parsed for this instance
    /// (<see cref="ChildSpec.Instance"/>): its constructor run with the arguments the parent passes.
    /// </summary>
    private static ChildSpec Specialize(INamedTypeSymbol type, ChildSpec spec, Compilation compilation, CancellationToken token)
    {
        var constructors = type.InstanceConstructors.Where(c => !c.IsImplicitlyDeclared).ToList();
        if (ConstructorEvaluator.Primary(constructors, token) is not { } primary || s_instanceDepth > 8) return spec;
        var parameters = primary.Parameters;
        bool depends = parameters.Any(p => p.Type.SpecialType == SpecialType.System_Boolean || ModuleParser.IsModuleType(p.Type))
                       || Members(type, compilation).OfType<IFieldSymbol>().Any(f => f.Type.SpecialType == SpecialType.System_Boolean);
        if (!depends) return spec;
        var arguments = new Dictionary<string, CtorValue>();
        foreach (var parameter in parameters)
        {
            if (spec.Arg(parameter.Name) is not { } a) continue;
            CtorValue? v = a switch
            {
                { Module: { } module } => CtorValue.Of(module),
                { Symbol: { } symbol } => CtorValue.OfSize(symbol),
                // A flag the parent passes from its own parameters: a condition over them, as a standalone module's own bool is.
                { Condition: { } condition, IsKnown: false } => CtorValue.Argument("the constructor argument '" + parameter.Name + "' (`" + condition + "` where the parent builds it)", condition),
                { IsKnown: true, Values.Count: 0, Number: null, String: null } => CtorValue.Null,
                { IsKnown: true, Values.Count: 1 } when parameter.Type.SpecialType == SpecialType.System_Boolean => CtorValue.Of(a.Values[0] != 0),
                { IsKnown: true, Values.Count: 1 } when parameter.Type.SpecialType == SpecialType.System_Int32 => CtorValue.Of(a.Values[0]),
                _ => null,
            };
            if (v is not null) arguments[parameter.Name] = v;
        }
        s_instanceDepth++;
        try
        {
            var graph = GraphParser.Parse(type, compilation, token, arguments);
            var passed = spec.Args.Where(a => a is { Condition: not null, IsKnown: false }).ToList();
            if (passed.Count == 0) return graph is { IsCompilable: true } ? spec with { Instance = graph } : spec;
            // Flags the parent passes from its own parameters: the instance parsed with them as conditions over the parent's parameters
            // (its layers' options and sizes in the parent's terms: `block.ln`'s ElementwiseAffine given by `affine`, a Linear of
            // `(affine?2*d:d)`), kept even when its Forward breaks (GraphParser.AssumedBlock finds the layer to test in its children),
            // and once per value of the flags, each a variant whose Forward takes the options as those values.
            var variants = new List<ChildSpec>();
            for (int bits = 0; passed.Count <= MaxPassedFlags && bits < 1 << passed.Count; bits++)
            {
                var given = passed.Select((a, k) => (a.Condition!, (bits >> k & 1) == 1)).ToList();
                var values = new Dictionary<string, bool>();
                for (int k = 0; k < passed.Count; k++) values[passed[k].Name] = given[k].Item2;
                var args = spec.Args.Select(a => values.TryGetValue(a.Name, out bool v) && a.Condition is not null
                    ? new ChildArg(a.Name, new[] { v ? 1 : 0 }.ToEquatableArray(), true) { Number = v ? 1 : 0, Condition = a.Condition } : a).ToEquatableArray();
                string label = "[" + string.Join(",", passed.Select(a => a.Name + "=" + (values[a.Name] ? "true" : "false"))) + "]";
                var instance = GraphParser.Parse(type, compilation, token, arguments, given);
                variants.Add(spec with { Name = label, Path = label, Args = args, Instance = instance, IsVariant = true });
            }
            return spec with { Instance = graph, Variants = variants.ToEquatableArray() };
        }
        finally
        {
            s_instanceDepth--;
        }
    }

    /// <summary>
    /// The Sequential or ModuleList a construction that did not bind makes (<c>new(…)</c> or <c>new Sequential(…)</c>
    /// with an argument list), or null.
    /// </summary>
    private static INamedTypeSymbol? UnboundContainer(IOperation creation, out BaseObjectCreationExpressionSyntax syntax)
    {
        syntax = null!;
        if (creation.Syntax is not BaseObjectCreationExpressionSyntax { ArgumentList: not null } s || creation.SemanticModel is not { } model) return null;
        syntax = s;
        var typeInfo = model.GetTypeInfo(s);
        var type = (typeInfo.Type is INamedTypeSymbol { TypeKind: not TypeKind.Error } t ? t : typeInfo.ConvertedType) as INamedTypeSymbol;
        return type is { Name: "Sequential" or "ModuleList" } && IsBuiltIn(type) ? type : null;
    }

    /// <summary>The items of a Sequential's params argument: module constructions, or ("name", construction) tuples.</summary>
    private static bool SequentialItems(IOperation value, List<ChildSpec> items, ref string? notConstant, bool single = false,
        System.Func<IOperation, CtorValue>? resolve = null, Compilation? compilation = null, CancellationToken token = default, bool specialize = true)
    {
        while (value is IConversionOperation conversion) value = conversion.Operand;
        IEnumerable<IOperation>? elements = single ? new[] { value } : value switch
        {
            IArrayCreationOperation { Initializer: { } init } => init.ElementValues,
            ICollectionExpressionOperation collection => collection.Elements,
            _ => null,
        };
        if (elements is null) return false;
        foreach (var element in elements)
        {
            var e = element;
            while (e is IConversionOperation conversion) e = conversion.Operand;
            string key = items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            IOperation module = e;
            if (e is ITupleOperation { Elements.Length: 2 } tuple)
            {
                var first = tuple.Elements[0];
                if (first.ConstantValue is not { HasValue: true, Value: string given })
                {
                    notConstant ??= GraphParser.Text(first.Syntax);
                    return true;
                }
                key = given;
                module = tuple.Elements[1];
            }
            var item = FromCreation(key, module, module.Syntax, out var itemNotConstant, resolve, compilation, token, specialize);
            if (itemNotConstant is not null) notConstant ??= itemNotConstant;
            if (item is null) return true;
            items.Add(item);
        }
        return true;
    }

    /// <summary>
    /// The items a constructor adds to a Sequential or ModuleList child, statement after statement
    /// (<c>body.Add("fc1", new Linear(4, 16));</c>, <c>layers.Append(new Linear(8, 8));</c>, as PyTorch's
    /// <c>add_module</c> and <c>append</c> in <c>__init__</c>), after those of its construction; a <c>for</c> loop with a
    /// constant count (<c>for (int i = 0; i &lt; 4; i++) blocks.Append(new Block(d));</c>) adds its body's items once per
    /// iteration. Any other use of the child in a constructor (a loop whose count is known only when the module is
    /// built, a condition, another method) leaves its items unknown: a break, with <paramref name="loop"/> saying why
    /// when it is a loop.
    /// </summary>
    private static ChildSpec ConstructorItems(INamedTypeSymbol type, ISymbol member, ChildSpec child, Compilation compilation, CancellationToken token,
        ref string? notConstant, ref GraphIssue? loop)
    {
        var items = new List<ChildSpec>(child.Items);
        foreach (var constructor in type.InstanceConstructors)
        {
            foreach (var reference in constructor.DeclaringSyntaxReferences)
            {
                if (reference.GetSyntax(token) is not ConstructorDeclarationSyntax { Body: { } body } syntax) continue;
                var walker = new ItemWalker(member, compilation.GetSemanticModel(syntax.SyntaxTree), items, token);
                walker.Statements(body.Statements);
                notConstant ??= walker.NotConstant;
                loop ??= walker.Loop;
            }
        }
        return child with { Items = items.ToEquatableArray() };
    }

    /// <summary>Walks a constructor's statements in order, as they run, collecting the items added to one container child.</summary>
    private sealed class ItemWalker(ISymbol member, SemanticModel model, List<ChildSpec> items, CancellationToken token)
    {
        /// <summary>The loop variables of the enclosing constant loops (an item built from one differs per iteration).</summary>
        private readonly List<ISymbol> _loopVariables = new();

        public string? NotConstant { get; private set; }

        public GraphIssue? Loop { get; private set; }

        public void Statements(SyntaxList<StatementSyntax> statements)
        {
            foreach (var statement in statements) Statement(statement);
        }

        private void Statement(StatementSyntax statement)
        {
            if (!Mentions(statement)) return;
            switch (statement)
            {
                case BlockSyntax block:
                    Statements(block.Statements);
                    return;
                case ExpressionStatementSyntax { Expression: InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax access } call }
                    when IsMember(access.Expression) && access.Name.Identifier.ValueText is "Add" or "Append":
                    Add(call);
                    return;
                case ForStatementSyntax loop:
                {
                    var count = Count(loop, out var variable);
                    if (count is int iterations && variable is not null)
                    {
                        _loopVariables.Add(variable);
                        for (int k = 0; k < iterations && NotConstant is null; k++) Statement(loop.Statement);
                        _loopVariables.Remove(variable);
                        return;
                    }
                    string bound = loop.Condition is BinaryExpressionSyntax { Right: var right } ? GraphParser.Text(right) : GraphParser.Text(loop);
                    Loop ??= LoopIssue(member, loop, bound);
                    NotConstant ??= GraphParser.Text(loop.Statement);
                    return;
                }
                default:
                    NotConstant ??= GraphParser.Text(statement);
                    return;
            }
        }

        /// <summary><c>for (int i = a; i &lt; b; i++)</c> (or <c>&lt;=</c>, <c>++i</c>, <c>i += 1</c>) with constant a and b: its iterations and variable.</summary>
        private int? Count(ForStatementSyntax loop, out ISymbol? variable)
        {
            variable = null;
            if (loop.Declaration is not { Variables: [{ Initializer.Value: var first } declarator] } || loop.Incrementors.Count != 1) return null;
            variable = model.GetDeclaredSymbol(declarator, token);
            if (model.GetConstantValue(first, token) is not { HasValue: true, Value: int from }) return null;
            bool step = loop.Incrementors[0] switch
            {
                PostfixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PostIncrementExpression, Operand: IdentifierNameSyntax id } => id.Identifier.ValueText == declarator.Identifier.ValueText,
                PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PreIncrementExpression, Operand: IdentifierNameSyntax id } => id.Identifier.ValueText == declarator.Identifier.ValueText,
                AssignmentExpressionSyntax { RawKind: (int)SyntaxKind.AddAssignmentExpression, Left: IdentifierNameSyntax id, Right: var by }
                    => id.Identifier.ValueText == declarator.Identifier.ValueText && model.GetConstantValue(by, token) is { HasValue: true, Value: 1 },
                _ => false,
            };
            if (!step || loop.Condition is not BinaryExpressionSyntax { Left: IdentifierNameSyntax left, Right: var right } condition
                || left.Identifier.ValueText != declarator.Identifier.ValueText
                || model.GetConstantValue(right, token) is not { HasValue: true, Value: int to }) return null;
            int count = condition.Kind() switch
            {
                SyntaxKind.LessThanExpression => to - from,
                SyntaxKind.LessThanOrEqualExpression => to - from + 1,
                _ => -1,
            };
            // The body must not change the loop variable.
            if (count < 0 || loop.Statement.DescendantNodes().OfType<AssignmentExpressionSyntax>().Any(a => a.Left is IdentifierNameSyntax { Identifier.ValueText: var n } && n == declarator.Identifier.ValueText)) return null;
            return System.Math.Min(count, 4096);
        }

        private void Add(InvocationExpressionSyntax call)
        {
            var arguments = call.ArgumentList.Arguments;
            string key = items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (arguments.Count == 2)
            {
                if (model.GetConstantValue(arguments[0].Expression, token) is not { HasValue: true, Value: string given })
                {
                    NotConstant ??= GraphParser.Text(call);
                    return;
                }
                key = given;
            }
            else if (arguments.Count != 1)
            {
                NotConstant ??= GraphParser.Text(call);
                return;
            }
            var module = arguments[arguments.Count - 1].Expression;
            if (_loopVariables.Count > 0 && module.DescendantNodesAndSelf().OfType<IdentifierNameSyntax>()
                    .Any(id => model.GetSymbolInfo(id, token).Symbol is { } s && _loopVariables.Contains(s, SymbolEqualityComparer.Default)))
            {
                NotConstant ??= GraphParser.Text(module);   // built from the loop variable: each item differs
                return;
            }
            var item = FromCreation(key, model.GetOperation(module, token), module, out var itemNotConstant);
            if (itemNotConstant is not null || item is null)
            {
                NotConstant ??= itemNotConstant ?? GraphParser.Text(module);
                return;
            }
            items.Add(item);
        }

        private bool IsMember(ExpressionSyntax expression)
            => SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(expression, token).Symbol, member);

        /// <summary>True when the statement uses the member as the receiver of a call or member access.</summary>
        private bool Mentions(StatementSyntax statement)
            => statement.DescendantNodesAndSelf().OfType<MemberAccessExpressionSyntax>().Any(a => IsMember(a.Expression));
    }

    /// <summary>True for a type of the runtime's root namespace (<c>SharpGrad.Rng</c>).</summary>
    private static bool IsRuntimeType(ITypeSymbol type) => type.ContainingNamespace?.ToDisplayString() == "SharpGrad";

    /// <summary>
    /// A built-in layer's argument its compiled rule never reads, because the kernels read it from the layer at each call: the
    /// dropout probability of <c>Dropout</c> (<c>P</c>), <c>TransformerEncoderLayer</c> (its dropout modules) and
    /// <c>MultiheadAttention</c> (whose call, p unknown, takes <c>CrossAttentionRule</c>, which handles any dropout), and the
    /// dropout between the layers of <c>RNN</c>/<c>LSTM</c>/<c>GRU</c> (<c>CompiledSupport.RecurrentForward</c>).
    /// </summary>
    internal static bool ReadAtRunTime(string kind, string parameter)
        => (kind, parameter) is ("Dropout", "p") or ("Dropout2d", "p") or ("TransformerEncoderLayer", "dropout") or ("MultiheadAttention", "dropout")
            or ("LayerNorm", "eps") or ("TransformerEncoderLayer", "layerNormEps")
            or ("RNN" or "LSTM" or "GRU", "dropout");

    /// <summary>
    /// A built-in layer's option that decides its compiled program (shapes, kernel) and that the built layer exposes: the test of
    /// the layer that reads it (after <c>layer.</c>), and the argument each value of the test stands for. Given by a bool (or,
    /// for activation/nonlinearity, string) constructor parameter of a module compiled on its own, it is compiled once per value
    /// and chosen at run time from the built layer (<see cref="ChildArg.Option"/>); null for any other argument. ChangesShapes: its
    /// values give the layer's output another shape or layout (<c>bidirectional</c>: H or 2·H; <c>batch_first</c>: the batch in dim 0
    /// or 1), so what follows the layer reads the variant's; any other option only picks the layer's kernel (GraphParser.ChangesShapes).
    /// </summary>
    internal static (string Test, ChildArg WhenTrue, ChildArg WhenFalse, bool ChangesShapes)? RunTimeOption(string kind, string parameter)
    {
        var (property, changesShapes) = (kind, parameter) switch
        {
            ("RNN" or "LSTM" or "GRU", "bidirectional") => ("Bidirectional", true),
            ("RNN" or "LSTM" or "GRU", "batchFirst") => ("BatchFirst", true),
            ("RNN" or "LSTM" or "GRU", "bias") => ("Bias", false),
            ("TransformerEncoderLayer", "normFirst") => ("NormFirst", false),
            ("TransformerEncoderLayer" or "MultiheadAttention", "batchFirst") => ("BatchFirst", true),
            ("LayerNorm" or "RMSNorm", "elementwiseAffine") => ("ElementwiseAffine", false),
            ("BatchNorm1d" or "BatchNorm2d" or "GroupNorm" or "InstanceNorm1d" or "InstanceNorm2d", "affine") => ("Affine", false),
            ("BatchNorm1d" or "BatchNorm2d" or "InstanceNorm1d" or "InstanceNorm2d", "trackRunningStats") => ("TrackRunningStats", false),
            // PyTorch's `bias=False` leaves the layer's bias None: the built layer's test is whether it has one.
            ("Linear" or "Conv1d" or "Conv2d" or "ConvTranspose1d" or "ConvTranspose2d" or "LayerNorm", "bias") => ("Bias is not null", false),
            ("MultiheadAttention", "bias") => ("InProjBias is not null", false),
            _ => ((string?)null, false),
        };
        if (property is not null)
        {
            return (property, new ChildArg(parameter, new[] { 1 }.ToEquatableArray(), true) { Number = 1 },
                new ChildArg(parameter, new[] { 0 }.ToEquatableArray(), true) { Number = 0 }, changesShapes);
        }
        // Options of two values, the layer's constructor refusing any other: activation "relu"/"gelu", nonlinearity "tanh"/"relu".
        var (name, one, other) = (kind, parameter) switch
        {
            ("TransformerEncoderLayer", "activation") => ("Activation", "gelu", "relu"),
            ("RNN", "nonlinearity") => ("Nonlinearity", "relu", "tanh"),
            _ => ("", "", ""),
        };
        if (name.Length == 0) return null;
        return (name + " == \"" + one + "\"", new ChildArg(parameter, default, true) { String = one }, new ChildArg(parameter, default, true) { String = other }, false);
    }

    /// <summary>
    /// A built-in layer with a hand-written compiled program of its own (its <c>Compile()</c>) that a parent runs as such: the
    /// encoder stack, and the decoder layer and stack (their result has the shape of their first argument, the target sequence). A
    /// statement calling one is a call of that program in the region runner, not part of a region (GraphParser.ComposedCall).
    /// </summary>
    internal static bool IsComposedKind(string kind) => kind is "TransformerEncoder" or "TransformerDecoder" or "TransformerDecoderLayer";

    /// <summary>True for the layers of the runtime (<c>SharpGrad.Layers</c>).</summary>
    internal static bool IsBuiltIn(ITypeSymbol type) => type.ContainingNamespace?.ToDisplayString() == "SharpGrad.Layers";

    /// <summary>The type's full name without <c>global::</c> and without nullability (<c>Demo.Block</c>).</summary>
    internal static string TypeName(ITypeSymbol type)
        => type.WithNullableAnnotation(NullableAnnotation.NotAnnotated).ToDisplayString(SymbolDisplayFormat.CSharpErrorMessageFormat.WithMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.None));

    /// <summary>
    /// The value a constructor assigns to <paramref name="member"/> (<c>fc = new Linear(4, 8);</c> or
    /// <c>this.fc = …</c>, as PyTorch users write <c>self.fc = nn.Linear(4, 8)</c> in <c>__init__</c>), when exactly
    /// one assignment in the constructors sets it; else null.
    /// </summary>
    private static ExpressionSyntax? ConstructorAssignment(INamedTypeSymbol type, ISymbol member, Compilation compilation, CancellationToken token)
    {
        ExpressionSyntax? found = null;
        foreach (var constructor in type.InstanceConstructors)
        {
            foreach (var reference in constructor.DeclaringSyntaxReferences)
            {
                if (reference.GetSyntax(token) is not ConstructorDeclarationSyntax syntax) continue;
                var model = compilation.GetSemanticModel(syntax.SyntaxTree);
                foreach (var assignment in syntax.DescendantNodes().OfType<AssignmentExpressionSyntax>())
                {
                    if (!SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(assignment.Left, token).Symbol, member)) continue;
                    bool once = assignment.IsKind(Microsoft.CodeAnalysis.CSharp.SyntaxKind.SimpleAssignmentExpression)
                                && !assignment.Ancestors().TakeWhile(a => a != syntax).Any(a => a is ForStatementSyntax or ForEachStatementSyntax or WhileStatementSyntax or DoStatementSyntax or IfStatementSyntax);
                    if (found is not null || !once) return null;
                    found = assignment.Right;
                }
            }
        }
        return found;
    }

    private static ExpressionSyntax? Initializer(ISymbol member, CancellationToken token)
    {
        foreach (var reference in member.DeclaringSyntaxReferences)
        {
            switch (reference.GetSyntax(token))
            {
                case VariableDeclaratorSyntax { Initializer.Value: var value }:
                    return value;
                case PropertyDeclarationSyntax { Initializer.Value: var value }:
                    return value;
            }
        }
        return null;
    }
}
