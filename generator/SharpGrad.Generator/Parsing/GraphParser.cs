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
/// Parses <c>Forward</c> and the <c>[Compiled]</c> methods of every <c>[Module]</c> class into the graph IR
/// (<see cref="ModuleGraph"/>): each call is recognised by its row in the op catalogue (<see cref="OpCatalogue"/>),
/// its scalar arguments folded to constants where they are. Shapes come later (declared with <c>[Shape]</c>, or
/// inferred from the first layer by the inliner). Anything outside the static subset stops the method's graph there
/// and is recorded as a <see cref="GraphIssue"/>.
/// </summary>
internal sealed partial class GraphParser
{
    public const string CompiledAttributeName = "SharpGrad.CompiledAttribute";
    public const string ShapeAttributeName = "SharpGrad.ShapeAttribute";

    private readonly Compilation _compilation;
    private readonly CancellationToken _token;
    private readonly List<GraphIssue> _issues;
    private readonly Dictionary<string, ChildSpec> _children;

    /// <summary>The child each variable of an unrolled foreach stands for, while its body is parsed.</summary>
    private readonly Dictionary<ISymbol, ChildSpec> _loopChild = new(SymbolEqualityComparer.Default);

    /// <summary>The index each variable of an unrolled <c>for</c> loop stands for, while its body is parsed (<c>blocks[i]</c>).</summary>
    private readonly Dictionary<ISymbol, int> _loopIndex = new(SymbolEqualityComparer.Default);
    private readonly INamedTypeSymbol _type;

    /// <summary>Every field's value after the constructor (<see cref="ConstructorEvaluator"/>): what decides Forward's conditions on them.</summary>
    private Dictionary<ISymbol, CtorValue> _fields = new(SymbolEqualityComparer.Default);

    /// <summary>
    /// For an instance a parent builds with flags from its own parameters, parsed for one value of them (<see cref="ChildSpec.Variants"/>):
    /// the value of each flag's condition over the parent's parameters, which decides the options and field tests they give. Null otherwise.
    /// </summary>
    private List<(string Condition, bool Value)>? _given;

    private SemanticModel _model = null!;
    private List<GraphNode> _nodes = new();
    private Dictionary<ISymbol, int> _env = new(SymbolEqualityComparer.Default);
    private Dictionary<ISymbol, int> _intEnv = new(SymbolEqualityComparer.Default);

    /// <summary>Locals an earlier graph break left eager (<see cref="MarkEager"/>).</summary>
    private HashSet<ISymbol> _eager = new(SymbolEqualityComparer.Default);

    /// <summary>While the static regions of a broken method are parsed: a tensor local read before it is assigned is an input of the region.</summary>
    private bool _regionMode;

    /// <summary>True once the method being parsed ends with <c>return [a, b, …]</c> (a Tensor[] Forward): it is compiled element by element.</summary>
    private bool _severalOutputs;

    /// <summary>The loops the region runner writes as calls of each element's own program (<see cref="PerElementLoop"/>), by location.</summary>
    private readonly HashSet<LocationInfo> _composedLoops = new();

    /// <summary>The inputs of the region being parsed: the locals and parameters it reads, in order.</summary>
    private List<(ISymbol? Symbol, GraphInput Input)> _regionInputs = new();

    /// <summary>The static regions of the broken methods parsed so far (methods of their own, <see cref="GraphMethod.RegionOf"/>).</summary>
    private readonly List<GraphMethod> _regions = new();

    /// <summary>
    /// While one branch of a flag the constructor's arguments decide is parsed (<see cref="BranchRegions"/>): the value
    /// assumed for its test, by the test's text.
    /// </summary>
    private readonly Dictionary<string, bool> _assumed = new();

    /// <summary>
    /// The sizes the assumed tests make equal in the region being parsed (<c>cin=cout</c>, <see cref="ConstructorEvaluator.Implied"/>):
    /// the region runs only when they hold, so its shapes take them as equal (<see cref="GraphMethod.Equalities"/>).
    /// </summary>
    private readonly SortedSet<string> _implied = new(System.StringComparer.Ordinal);

    /// <summary>The last test of the module's fields the build could not decide (<see cref="Decided"/>): its text and where it is.</summary>
    private (string Text, LocationInfo? Where)? _undecided;

    /// <summary>The tests compiled as one region per value, the instance's value chosen when the runner runs: no break.</summary>
    private readonly HashSet<LocationInfo> _branched = new();

    /// <summary>
    /// The tests of built layers' options given by constructor parameters (<c>this.lstm.Bidirectional</c>, <see cref="ChildArg.Option"/>),
    /// each with its <c>ChildParser.RunTimeOption</c> flag: true when its values change the layer's output shape (<see cref="ChangesShapes"/>).
    /// </summary>
    private readonly Dictionary<string, bool> _options = new(System.StringComparer.Ordinal);

    /// <summary>
    /// The test the runner makes for each constructor parameter that gives layer options (<see cref="ChildArg.OptionSource"/>): that of
    /// the first child met that it built (<c>this.lstm.Bidirectional</c>); a second child built with it (a GRU) takes the same value.
    /// </summary>
    private readonly Dictionary<string, string> _optionTests = new(System.StringComparer.Ordinal);

    /// <summary>The children with their options taken as one value each (<see cref="Assumed"/>), added to the module's children.</summary>
    private readonly List<ChildSpec> _variants = new();

    /// <summary>
    /// The condition over the module's constructor arguments each layer-option test reads (<c>this.gru.Bidirectional</c> ⇒
    /// <c>!unidirectional</c>, <see cref="Conditions"/>): the combinations of the tests' values the arguments can reach.
    /// </summary>
    private readonly Dictionary<string, string> _testConditions = new(System.StringComparer.Ordinal);

    /// <summary>
    /// At most this many programs (regions) for one method's tests, one per combination of their values the constructor's
    /// arguments can reach (<see cref="Reachable"/>): 4 independent options (2^4), or more options decided by fewer
    /// arguments (an LSTM's and a GRU's <c>bidirectional</c> from one flag are one test; <c>flag</c> and <c>!flag</c> two tests, 2
    /// programs). Each program is a region the build plans and emits in full (a recurrent or attention region is a few
    /// hundred lines of generated code), so the bound keeps a module's build time within a few times that of one program.
    /// </summary>
    internal const int MaxBranchPrograms = 16;

    /// <summary>At most this many tests taken together (their combinations enumerated), whatever the programs they reach.</summary>
    internal const int MaxBranchTests = 8;

    private GraphParser(INamedTypeSymbol type, Compilation compilation, List<GraphIssue> issues, Dictionary<string, ChildSpec> children, CancellationToken token)
    {
        _type = type;
        _compilation = compilation;
        _issues = issues;
        _children = children;
        _token = token;
    }

    private static readonly SymbolDisplayFormat SignatureFormat = SymbolDisplayFormat.FullyQualifiedFormat
        .WithMemberOptions(SymbolDisplayMemberOptions.IncludeType | SymbolDisplayMemberOptions.IncludeParameters)
        .WithParameterOptions(SymbolDisplayParameterOptions.IncludeType | SymbolDisplayParameterOptions.IncludeName
                              | SymbolDisplayParameterOptions.IncludeDefaultValue | SymbolDisplayParameterOptions.IncludeParamsRefOut)
        .AddMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

    private static readonly SymbolDisplayFormat ArgumentFormat = SymbolDisplayFormat.MinimallyQualifiedFormat
        .WithParameterOptions(SymbolDisplayParameterOptions.IncludeName);

    public static ModuleGraph? Parse(INamedTypeSymbol type, Compilation compilation, CancellationToken token)
        => Parse(type, compilation, token, null);

    /// <summary>
    /// The graph of <paramref name="type"/>; with <paramref name="arguments"/>, of the instance a parent builds with these
    /// constructor arguments (<see cref="ChildSpec.Instance"/>): children and Forward's conditions as that instance has them.
    /// </summary>
    public static ModuleGraph? Parse(INamedTypeSymbol type, Compilation compilation, CancellationToken token, IReadOnlyDictionary<string, CtorValue>? arguments,
        List<(string Condition, bool Value)>? given = null)
    {
        var methods = new List<(IMethodSymbol Method, MethodDeclarationSyntax Syntax)>();
        foreach (var member in type.GetMembers())
        {
            if (member is not IMethodSymbol { MethodKind: MethodKind.Ordinary, IsStatic: false } method) continue;
            if (!ModuleParser.IsForwardCandidate(method) && !ModuleParser.IsMultiOutputForward(method)
                && !ModuleParser.HasAttribute(method, CompiledAttributeName)) continue;
            var syntax = method.DeclaringSyntaxReferences.Select(r => r.GetSyntax(token)).OfType<MethodDeclarationSyntax>().FirstOrDefault();
            if (syntax is null) continue;
            methods.Add((method, syntax));
        }
        // Every [Module] with a Forward (or a [Compiled] method) is parsed; one without has no graph to check.
        if (methods.Count == 0) return null;

        token.ThrowIfCancellationRequested();
        var issues = new List<GraphIssue>();
        try
        {
            var children = ChildParser.Parse(type, compilation, issues, token, arguments, out var fields);
            var parser = new GraphParser(type, compilation, issues, children.ToDictionary(c => c.Name), token) { _fields = fields, _given = given };
            var graphs = new List<GraphMethod>();
            foreach (var (method, syntax) in methods)
            {
                token.ThrowIfCancellationRequested();
                graphs.Add(parser.ParseMethod(method, syntax));
            }
            graphs.AddRange(parser._regions);
            // A loop the runner writes as calls of the elements' programs is no break (ElementLoop); nor is the filling of a list
            // only such loops run. A loop over the list nested in another statement runs eagerly: it stays a break.
            bool Composed(GraphIssue i) => i.Method != "constructor" && i.Location is { } at && parser._composedLoops.Contains(at);
            var composed = new HashSet<string>(issues.Where(i => i.ElementList is not null && Composed(i)).Select(i => i.ElementList!));
            var broken = new HashSet<string>(issues.Where(i => i.ElementList is not null && i.Method != "constructor" && !Composed(i)).Select(i => i.ElementList!));
            for (int k = 0; k < issues.Count; k++)
            {
                var issue = issues[k];
                if (issue.ElementList is not { } list) continue;
                if (Composed(issue) || issue.Method == "constructor" && composed.Contains(list) && !broken.Contains(list)) issues[k] = issue with { ComposesElements = true };
            }
            // A break inside an unrolled foreach is found once per item: reported once.
            return new ModuleGraph(children.Concat(parser._variants).ToEquatableArray(), graphs.ToEquatableArray(), issues.Distinct().ToEquatableArray());
        }
        catch (System.Exception e) when (e is not System.OperationCanceledException)
        {
            // A gap in this young parser must never cost the module its plumbing: report it and check nothing.
            var where = LocationInfo.From(methods[0].Syntax.Identifier.GetLocation());
            var issue = new GraphIssue(DiagnosticDescriptors.GraphBreakId, where, "code the graph parser failed on (" + e.GetType().Name + ": " + e.Message + ")",
                "please report it");
            return new ModuleGraph(default, default, new[] { issue }.ToEquatableArray());
        }
    }

    /// <summary>
    /// The children of a <c>[Sequential]</c> class (its Forward is generated, not parsed): what the inliner chains when
    /// the class is used as a child. Issues are kept so a Sequential with a non-constant child is not inlined.
    /// </summary>
    public static ModuleGraph ParseChildren(INamedTypeSymbol type, Compilation compilation, CancellationToken token)
    {
        var issues = new List<GraphIssue>();
        var children = ChildParser.Parse(type, compilation, issues, token);
        return new ModuleGraph(children.ToEquatableArray(), default, issues.ToEquatableArray());
    }

    /// <summary>The dims of a <c>[Shape(…)]</c> on <paramref name="symbol"/>, or null without one.</summary>
    internal static TensorShape? DeclaredShape(ISymbol symbol)
    {
        foreach (var attribute in symbol.GetAttributes())
        {
            var c = attribute.AttributeClass;
            if (c is null || c.Name != "ShapeAttribute" || c.ContainingNamespace?.ToDisplayString() != "SharpGrad") continue;
            if (attribute.ConstructorArguments.Length != 1) return null;
            var arg = attribute.ConstructorArguments[0];
            var values = arg.Kind == TypedConstantKind.Array ? arg.Values : ImmutableArrayOf(arg);
            var dims = new List<Dim>();
            foreach (var v in values)
            {
                if (v.Value is int i) dims.Add(Dim.Of(i));
                else if (v.Value is string s) dims.Add(Dim.Sym(s));
                else return null;
            }
            return new TensorShape(dims.ToArray());
        }
        return null;
    }

    private static System.Collections.Immutable.ImmutableArray<TypedConstant> ImmutableArrayOf(TypedConstant c)
        => System.Collections.Immutable.ImmutableArray.Create(c);

    private GraphMethod ParseMethod(IMethodSymbol method, MethodDeclarationSyntax syntax)
    {
        _model = _compilation.GetSemanticModel(syntax.SyntaxTree);
        _nodes = new List<GraphNode>();
        _env = new Dictionary<ISymbol, int>(SymbolEqualityComparer.Default);
        _intEnv = new Dictionary<ISymbol, int>(SymbolEqualityComparer.Default);
        _eager = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
        int issuesBefore = _issues.Count;

        var inputs = new List<GraphInput>();
        foreach (var p in method.Parameters)
        {
            // Tensor parameters are the graph's inputs; others (an int option of a [Compiled] method) stop it if read.
            if (!ModuleParser.IsTensor(p.Type)) continue;
            _env[p] = Add(new GraphNode(NodeKind.Input, "Input", default, new[] { inputs.Count }.ToEquatableArray(), text: p.Name,
                location: LocationInfo.From(p.Locations.FirstOrDefault())));
            inputs.Add(new GraphInput(p.Name, DeclaredShape(p)));
        }

        int output = -1;
        _severalOutputs = false;
        _guards = 0;
        _undecided = null;
        try
        {
            if (syntax.ExpressionBody is { } arrow)
            {
                output = Expr(arrow.Expression);
            }
            else if (syntax.Body is { } body)
            {
                output = Statements(body.Statements, isTopLevel: true);
            }
        }
        catch (UnsupportedException e)
        {
            if (e.Issue is not null) _issues.Add(e.Issue);
            output = -1;
        }
        var undecided = _undecided;
        // A guard (`ArgumentNullException.ThrowIfNull(x)`, `if (…) throw …;`) is no break, but it must run: the method gets a runner
        // whose eager segments run it, as written, before the regions after it.
        bool broken = _issues.Count > issuesBefore || _severalOutputs || _guards > 0;
        _severalOutputs = false;
        if (broken) output = -1;   // a method with a break has no whole graph
        for (int k = issuesBefore; k < _issues.Count; k++) _issues[k] = _issues[k] with { Method = method.Name };

        bool declarable = !method.IsGenericMethod && method.Parameters.All(p => p.RefKind == RefKind.None);
        var nodes = _nodes.ToEquatableArray();
        var segments = !broken || !declarable ? default
            : syntax.Body is { } statements ? Regions(method, statements)
            : syntax.ExpressionBody is { } expressionBody && undecided is { } flag && _issues.Count == issuesBefore + 1 ? ExpressionBranches(method, expressionBody, flag)
            : syntax.ExpressionBody is { } composedBody ? ExpressionComposed(method, composedBody)
            : default;
        // A test compiled as one region per value (BranchRegions) is no break.
        _issues.RemoveAll(i => i.DependsOnArguments && i.Location is { } at && _branched.Contains(at) && i.Method == method.Name);
        var root = syntax.SyntaxTree.GetCompilationUnitRoot(_token);
        var usings = root.Usings.Concat(syntax.Ancestors().OfType<BaseNamespaceDeclarationSyntax>().Reverse().SelectMany(n => n.Usings));
        return new GraphMethod(method.Name, inputs.ToEquatableArray(), nodes, output,
            LocationInfo.From(syntax.Identifier.GetLocation()))
        {
            Signature = declarable ? method.ToDisplayString(SignatureFormat) : "",
            Arguments = string.Join(", ", method.Parameters.Select(p => p.ToDisplayString(ArgumentFormat))),
            Segments = segments,
            ReturnType = segments.IsEmpty ? "" : method.ReturnType.ToDisplayString(TypeFormat),
            Parameters = segments.IsEmpty ? "" : string.Join(", ", method.Parameters.Select(p => p.ToDisplayString(ParameterFormat))),
            Usings = segments.IsEmpty ? "" : string.Join("\n", usings.Select(u => u.ToString())),
            NullableEnabled = !segments.IsEmpty && _model.GetNullableContext(syntax.SpanStart).AnnotationsEnabled(),
        };
    }

    private static readonly SymbolDisplayFormat TypeFormat = SymbolDisplayFormat.FullyQualifiedFormat
        .AddMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

    private static readonly SymbolDisplayFormat ParameterFormat = TypeFormat
        .WithParameterOptions(SymbolDisplayParameterOptions.IncludeType | SymbolDisplayParameterOptions.IncludeName
                              | SymbolDisplayParameterOptions.IncludeDefaultValue | SymbolDisplayParameterOptions.IncludeParamsRefOut);

    // ---- static regions around graph breaks -------------------------------------------------------------------------

    /// <summary>
    /// Splits the top-level statements of a method with graph breaks into static regions and eager statements. Each
    /// region is parsed afresh (the tensor locals it reads become its inputs) and grows statement by statement while it
    /// parses with no break and leaves at most one value that later statements read (its output, or the method's
    /// result); it becomes a method of its own (<c>ForwardRegion1</c>, …), compiled like any other.
    /// </summary>
    private EquatableArray<MethodSegment> Regions(IMethodSymbol method, BlockSyntax body)
    {
        var statements = body.Statements;
        var segments = new List<MethodSegment>();
        _regionMode = true;
        _composedArguments = 0;
        _hoisted = 0;
        try
        {
            int start = -1;
            RegionOutputs? current = null;
            // A statement that parses but leaves an int local later statements read (`int t = tokens.Size(1);`) is kept in the
            // region tentatively, until a statement after it reads the int and the region leaves one value again; if none
            // does, the region ends before it (restored to this snapshot) and it runs as written.
            (int Statement, (int Nodes, Dictionary<ISymbol, int> Env, Dictionary<ISymbol, int> Ints, HashSet<ISymbol> Eager, int Inputs, int Issues) State)? pending = null;
            int i = 0;
            while (i < statements.Count)
            {
                _token.ThrowIfCancellationRequested();
                var statement = statements[i];
                bool isFinal = i == statements.Count - 1 && statement is ReturnStatementSyntax { Expression: not null };
                if (isFinal && Elements(method, statement) is { } elements)
                {
                    // return [a, b, c] (several outputs): each element a region of its own where its ops compile, else eager.
                    if (start >= 0 && current is not null) CloseRegion(method, statements, start, i - 1, current, segments);
                    start = -1;
                    ElementRegions(method, (ReturnStatementSyntax)statement, elements, segments);
                    i++;
                    continue;
                }
                if (start < 0)
                {
                    OpenRegion();
                    start = i;
                    current = null;
                }
                var snapshot = Snapshot();
                _undecided = null;
                bool parsed = TryStatement(statement, isFinal, out int returned);
                // A statement computing with a break's value it linearized (HoistInOrder), whose shape the build does not know: eager.
                if (parsed && ComputesWithEagerValue(LinearizedValue(statement))) parsed = false;
                var undecided = _undecided;
                if (!parsed && pending is null && ComposedCall(statement) is { } composed)
                {
                    // var h = encoder.Forward(…): its arguments computed by regions, the call itself the stack's own program.
                    Restore(snapshot);
                    ComposedStatement(method, statements, start, i, current, composed, segments);
                    start = -1;
                    i++;
                    continue;
                }
                if (!parsed && pending is null && NestedComposedCall(statement) is { } nested)
                {
                    // head.Forward(decoder.Forward(t, m) + x): the call the statement makes first runs the stack's own program into a
                    // local (as a statement of its own would), then the statement is parsed again with that local in the call's place.
                    Restore(snapshot);
                    string value = NextPart();
                    ComposedStatement(method, statements, start, i, current, nested, segments, value);
                    _composedValues[nested.Call] = value;
                    start = -1;
                    continue;   // statement i again
                }
                if (!parsed && pending is null && undecided is { } flag)
                {
                    // The open region and this statement, once per value of the test: the instance's value is taken at run time.
                    var open = (_nodes, _env, _intEnv, _eager, _regionInputs);
                    if (BranchRegions(method, statements, start, ref i, isFinal, flag, segments))
                    {
                        start = -1;
                        i++;
                        continue;
                    }
                    (_nodes, _env, _intEnv, _eager, _regionInputs) = open;
                }
                if (!parsed && pending is null && Linearize(statement) is { } plan)
                {
                    // return fc1.Forward(x) + Helper(x) * fc2.Forward(x): the operands evaluated before the first break (or composed
                    // call) computed first, in order, into temporaries (regions where they compile), then the break eagerly; then the
                    // statement is parsed again with those temporaries in their places, so what it evaluates after the break compiles.
                    Restore(snapshot);
                    HoistInOrder(method, statements, start, i, current, plan, segments);
                    start = -1;
                    continue;   // statement i again
                }
                var outputs = parsed ? Outputs(statements, start, i, isFinal ? returned : -1) : null;
                if (outputs is not null)
                {
                    current = outputs;
                    pending = null;
                    i++;
                    continue;
                }
                if (parsed && !isFinal && LeavesOnlyInts(statements, start, i))
                {
                    pending ??= (i, snapshot);
                    i++;
                    continue;
                }
                if (pending is { } p)
                {
                    // Back to the region as it was before the statement that left the int.
                    Restore(p.State);
                    i = p.Statement;
                    pending = null;
                    parsed = true;
                }
                else
                {
                    Restore(snapshot);
                }
                if (i > start)
                {
                    CloseRegion(method, statements, start, i - 1, current!, segments);
                    start = -1;
                    if (parsed) continue;   // it parses, but not with the region before it: try it in a region of its own
                }
                start = -1;
                AddEager(segments, statements, i);
                i++;
            }
            if (pending is { } left && start >= 0)
            {
                // The method ended with an int still left: the region ends before the statement that left it, which runs as written.
                Restore(left.State);
                if (left.Statement > start && current is not null) CloseRegion(method, statements, start, left.Statement - 1, current, segments);
                for (int k = left.Statement; k < statements.Count; k++) AddEager(segments, statements, k);
                start = -1;
            }
            if (start >= 0 && current is not null) CloseRegion(method, statements, start, statements.Count - 1, current, segments);
        }
        finally
        {
            _regionMode = false;
        }
        // A loop over element programs makes a runner even with no region: it calls the elements' programs.
        return segments.Any(s => s.Region is not null || !s.ElementLoops.IsEmpty) ? segments.ToEquatableArray() : default;
    }

    /// <summary>The elements of the final <c>return [a, b, …]</c> of a <c>Tensor[]</c> Forward, or null (a spread, or any other return).</summary>
    private List<ExpressionSyntax>? Elements(IMethodSymbol method, StatementSyntax statement)
    {
        if (!ModuleParser.IsMultiOutputForward(method) || statement is not ReturnStatementSyntax { Expression: { } value }) return null;
        var elements = value switch
        {
            CollectionExpressionSyntax collection when collection.Elements.All(e => e is ExpressionElementSyntax)
                => collection.Elements.Cast<ExpressionElementSyntax>().Select(e => e.Expression).ToList(),
            ArrayCreationExpressionSyntax { Initializer: { } init } => init.Expressions.ToList(),
            ImplicitArrayCreationExpressionSyntax { Initializer: { } init } => init.Expressions.ToList(),
            _ => null,
        };
        return elements is { Count: > 0 } ? elements : null;
    }

    /// <summary>
    /// The outputs of <c>return [a, b, …]</c>: each element is parsed as a region of its own (<c>__sgOut0 = ForwardRegion2(…)</c>)
    /// where its ops compile, and assigned eagerly where they break (or where it is a local computed before); then the array is returned.
    /// </summary>
    private void ElementRegions(IMethodSymbol method, ReturnStatementSyntax statement, List<ExpressionSyntax> elements, List<MethodSegment> segments)
    {
        var names = new List<string>();
        for (int k = 0; k < elements.Count; k++)
        {
            var element = elements[k];
            string name = "__sgOut" + k.ToString(System.Globalization.CultureInfo.InvariantCulture);
            names.Add(name);
            // An element that breaks runs eagerly, and its break is named (the method's whole parse stopped at the return).
            ArgumentRegion(method, element, name, segments);
        }
        AddEager(segments, "return new global::SharpGrad.Tensor[] { " + string.Join(", ", names) + " };", Lines(statement, statement), new List<string>());
    }

    /// <summary>
    /// A statement that breaks only on a test of the module's fields its constructor's arguments decide (<c>residual ? x + h : h</c>,
    /// <c>residual = cin == cout</c>), or on a built layer's option given by a constructor parameter (<c>new LSTM(d, d,
    /// bidirectional: bidirectional)</c>, <see cref="Assumed"/>): parsed once per value of the test, each a region of its own; the
    /// runner runs the one the instance's fields or built layer choose (<c>if (residual) … else …</c>), so no break. A region of a
    /// layer's option runs to the end of the method (what follows the layer has the shapes its variant gives). Tests found while a
    /// branch is parsed join the first (at most <see cref="MaxBranchTests"/>): one region per combination of their values, the
    /// runner testing them in turn (<c>if (a &amp;&amp; b) … else if (a &amp;&amp; !b) … else …</c>). False (nothing added) when
    /// a branch breaks for another reason or leaves no computed value; <paramref name="i"/> is the last statement taken.
    /// </summary>
    private bool BranchRegions(IMethodSymbol method, SyntaxList<StatementSyntax> statements, int first, ref int i, bool isFinal, (string Text, LocationInfo? Where) flag,
                               List<MethodSegment> segments, bool toEnd = false)
    {
        if (flag.Where is null || _assumed.ContainsKey(flag.Text)) return false;
        int last = i;
        bool final = isFinal;
        // Options that only pick a kernel end their regions with the statement (ChangesShapes); when that statement then leaves no
        // one value (a tuple, an alias), the regions run to the end of the method (toEnd) as for the other options.
        bool split = false;
        int issues = _issues.Count;
        var branches = EachCombination(method, flag, flags =>
        {
            bool options = flags.Any(f => _options.ContainsKey(f.Text));
            if (options && (toEnd || flags.Any(f => ChangesShapes(f.Text))) && last < statements.Count - 1)
            {
                last = statements.Count - 1;
                final = statements[last] is ReturnStatementSyntax { Expression: not null };
            }
            else if (options && last < statements.Count - 1) split = true;
        }, (flags, values, condition, branches) =>
        {
            bool parsed = true;
            int returned = -1;
            for (int k = first; k <= last && parsed; k++) parsed = TryStatement(statements[k], final && k == last, out returned);
            var more = !parsed && _undecided is { Where: not null } found && !flags.Any(f => f.Text == found.Text) && !_assumed.ContainsKey(found.Text) ? found : ((string, LocationInfo?)?)null;
            var outputs = parsed ? Outputs(statements, first, last, final ? returned : -1) : null;
            if (outputs is null || outputs.Node < 0 || outputs.Aliases.Count > 0 || outputs.Recomputed.Count > 0) return (false, more);
            var declarations = (branches.Count == 0 ? outputs.Declarations : new List<string>()).ToEquatableArray();
            if (_nodes[outputs.Node] is { Kind: NodeKind.Input } passed)
            {
                // The branch leaves one of its inputs (`residual ? x + h : h` when false): nothing to compile, it passes that local on.
                branches.Add(new MethodSegment(null, Code(statements, first, last), Lines(statements[first], statements[last]))
                {
                    Output = outputs.Output,
                    Returns = outputs.Returns,
                    Declarations = declarations,
                    Arguments = new[] { _regionInputs[passed.IntArgs[0]].Input.Name }.ToEquatableArray(),
                    Condition = condition,
                });
                return (true, null);
            }
            AddRegion(method, Code(statements, first, last), Lines(statements[first], statements[last]) + Label(flags, values),
                LocationInfo.From(statements[first].GetLocation()), outputs.Node, branches, new MethodSegment(null, "", "")
                {
                    Output = outputs.Output,
                    Returns = outputs.Returns,
                    Declarations = declarations,
                    Condition = condition,
                });
            return (true, null);
        });
        if (branches is null) return !toEnd && split && _issues.Count == issues && BranchRegions(method, statements, first, ref i, isFinal, flag, segments, toEnd: true);
        segments.AddRange(branches);
        i = last;
        return true;
    }

    /// <summary>
    /// The loop <see cref="BranchRegions"/> and <see cref="ExpressionBranches"/> share: <paramref name="parse"/> once per
    /// combination of the tests' values (assumed while it runs; it adds the combination's segment to the branches and gets the
    /// runner's condition), stopping at the first that fails. All parsed: the branches. A failure on a test not yet taken (the
    /// <c>More</c> it returns) starts again with that test too, up to <see cref="MaxBranchTests"/> (then a break naming it);
    /// any other failure: null, the regions of the attempt removed. <paramref name="round"/> runs before each attempt with the
    /// tests taken so far.
    /// </summary>
    private List<MethodSegment>? EachCombination(IMethodSymbol method, (string Text, LocationInfo? Where) flag, System.Action<List<(string Text, LocationInfo? Where)>>? round,
        System.Func<List<(string Text, LocationInfo? Where)>, bool[], string, List<MethodSegment>, (bool Parsed, (string Text, LocationInfo? Where)? More)> parse)
    {
        var flags = new List<(string Text, LocationInfo? Where)> { flag };
        int regionsBefore = _regions.Count;
        while (true)
        {
            round?.Invoke(flags);
            var branches = new List<MethodSegment>();
            (string Text, LocationInfo? Where)? more = null;
            bool failed = false;
            var combinations = Reachable(flags);
            for (int c = 0; c < combinations.Count && !failed; c++)
            {
                var values = combinations[c];
                OpenRegion();
                for (int k = 0; k < flags.Count; k++) _assumed[flags[k].Text] = values[k];
                try
                {
                    _undecided = null;
                    var (parsed, found) = parse(flags, values, Condition(flags, values, c == combinations.Count - 1), branches);
                    failed = !parsed;
                    more = found;
                }
                finally
                {
                    foreach (var f in flags) _assumed.Remove(f.Text);
                }
            }
            if (!failed)
            {
                foreach (var f in flags) _branched.Add(f.Where!);
                // The breaks a test's layer call recorded while it was not yet assumed (a call inside a foreach body or a block, whose
                // statements record their breaks as they go): that test is compiled per value now, so they are no break.
                _issues.RemoveAll(i => i.DependsOnArguments && i.Location is { } at && flags.Any(f => at.Equals(f.Where)));
                return SameOptionChecks(flags, branches);
            }
            _regions.RemoveRange(regionsBefore, _regions.Count - regionsBefore);
            if (more is not { } next) return null;
            int programs = Reachable(new List<(string Text, LocationInfo? Where)>(flags) { next }).Count;
            if (flags.Count >= MaxBranchTests || programs > MaxBranchPrograms)
            {
                TooManyTests(method, flags, next, programs);
                return null;
            }
            flags.Add(next);
        }
    }

    /// <summary>
    /// The combinations of the tests' values the module's constructor arguments can reach, in <see cref="Combinations"/>' order: a
    /// test of a layer option given by a condition over the arguments (<see cref="_testConditions"/>) takes that condition's value
    /// under each assignment of its atoms; any other test (a readonly field's) is an atom of its own.
    /// </summary>
    private List<bool[]> Reachable(List<(string Text, LocationInfo? Where)> flags)
    {
        var conditions = new List<string>();
        var atoms = new List<string>();
        for (int k = 0; k < flags.Count; k++)
        {
            string condition = _testConditions.TryGetValue(flags[k].Text, out var c) && Conditions.Atoms(c) is not null ? c
                : "#" + k.ToString(System.Globalization.CultureInfo.InvariantCulture);
            conditions.Add(condition);
            foreach (var atom in Conditions.Atoms(condition) ?? []) if (!atoms.Contains(atom)) atoms.Add(atom);
        }
        var all = Combinations(flags.Count);
        if (atoms.Count > 16) return all;
        var reached = new HashSet<int>();
        for (int assignment = 0; assignment < 1 << atoms.Count; assignment++)
        {
            int key = 0;
            foreach (var condition in conditions)
            {
                bool value = Conditions.Evaluate(condition, a => (assignment >> atoms.IndexOf(a) & 1) == 1) ?? false;
                key = key << 1 | (value ? 1 : 0);
            }
            reached.Add(key);
        }
        return all.Where(values => reached.Contains(values.Aggregate(0, (key, v) => key << 1 | (v ? 1 : 0)))).ToList();
    }

    /// <summary>The combinations of values of <paramref name="count"/> tests, all true first, all false last.</summary>
    private static List<bool[]> Combinations(int count)
    {
        var all = new List<bool[]>();
        for (int k = 0; k < 1 << count; k++)
        {
            var values = new bool[count];
            for (int j = 0; j < count; j++) values[j] = (k >> (count - 1 - j) & 1) == 0;
            all.Add(values);
        }
        return all;
    }

    /// <summary>
    /// The runner's test of one combination (<see cref="MethodSegment.Condition"/>): one test as written (or "" for its false
    /// region, the <c>else</c>); several, their conjunction, "" for the last combination.
    /// </summary>
    private static string Condition(List<(string Text, LocationInfo? Where)> flags, bool[] values, bool last)
    {
        if (last) return "";
        if (flags.Count == 1) return flags[0].Text;
        return string.Join(" && ", flags.Select((f, k) => (values[k] ? "(" : "!(") + f.Text + ")"));
    }

    /// <summary>A branch region's label in <c>Explanation</c>: <c> (gated)</c>, <c> (!gated)</c>, or <c> (a, !b)</c>.</summary>
    private static string Label(List<(string Text, LocationInfo? Where)> flags, bool[] values)
        => " (" + string.Join(", ", flags.Select((f, k) => values[k] ? f.Text : f.Text.Contains(' ') ? "!(" + f.Text + ")" : "!" + f.Text)) + ")";

    /// <summary>
    /// A method whose tests would make more than <see cref="MaxBranchPrograms"/> programs (or take more than <see cref="MaxBranchTests"/>
    /// tests): a break at the first test left out, saying why.
    /// </summary>
    private void TooManyTests(IMethodSymbol method, List<(string Text, LocationInfo? Where)> flags, (string Text, LocationInfo? Where) next, int programs)
        => _issues.Add(new GraphIssue(DiagnosticDescriptors.GraphBreakId, next.Where,
            "the test `" + next.Text + "`, which with the tests `" + string.Join("`, `", flags.Select(f => f.Text)) + "` that the constructor's arguments decide would make "
            + programs.ToString(System.Globalization.CultureInfo.InvariantCulture) + " programs of this method (one per combination of their values the arguments can reach), more than the "
            + MaxBranchPrograms.ToString(System.Globalization.CultureInfo.InvariantCulture) + " one compiled method takes",
            "call the layers whose options only pick a kernel (bias, elementwise_affine, norm_first, activation, nonlinearity) in statements of their own (`var h = norm.Forward(x);`: each statement is then compiled per value of its own options), "
            + "give some of these options constants, derive several from one parameter (one test), or build the module in a parent with constants (its Compile() then takes those values)")
        {
            Method = method.Name,
        });

    /// <summary>
    /// An expression-bodied method that breaks only on tests its constructor's arguments decide (<c>=&gt; residual ? x + f(x) :
    /// f(x)</c>, a layer's option given by a constructor parameter): the expression parsed once per combination of their values,
    /// each a region returning its value; the runner returns the one the instance chooses, as <see cref="BranchRegions"/> does
    /// for a block body. Empty (the method stays eager, its break reported) when a branch breaks for another reason.
    /// </summary>
    private EquatableArray<MethodSegment> ExpressionBranches(IMethodSymbol method, ArrowExpressionClauseSyntax arrow, (string Text, LocationInfo? Where) flag)
    {
        if (flag.Where is null) return default;
        var expression = arrow.Expression;
        int issues = _issues.Count;
        string code = "return " + expression + ";";
        string where = Lines(expression, expression);
        _regionMode = true;
        try
        {
            return EachCombination(method, flag, null, (flags, values, condition, branches) =>
            {
                int node;
                try
                {
                    node = Expr(expression);
                }
                catch (UnsupportedException)
                {
                    node = -1;
                }
                if (node < 0 || _issues.Count != issues || _eager.Count > 0)
                {
                    var more = _undecided is { Where: not null } found && !flags.Any(f => f.Text == found.Text) ? found : ((string, LocationInfo?)?)null;
                    _issues.RemoveRange(issues, _issues.Count - issues);
                    return (false, more);
                }
                if (_nodes[node] is { Kind: NodeKind.Input, Op: "Input" } passed)
                {
                    // `=> residual ? x + h(x) : x` when false: nothing to compile, it returns its input.
                    branches.Add(new MethodSegment(null, code, where)
                    {
                        Returns = true,
                        Arguments = new[] { _regionInputs[passed.IntArgs[0]].Input.Name }.ToEquatableArray(),
                        Condition = condition,
                    });
                    return (true, null);
                }
                AddRegion(method, code, where + Label(flags, values), LocationInfo.From(expression.GetLocation()), node, branches,
                    new MethodSegment(null, "", "") { Returns = true, Condition = condition });
                return (true, null);
            })?.ToEquatableArray() ?? default;
        }
        finally
        {
            _regionMode = false;
        }
    }

    /// <summary>
    /// <c>=&gt; head.Forward(decoder.Forward(t, m))</c> (or <c>=&gt; decoder.Forward(t, m)</c>): an expression body whose first evaluated
    /// call is a composed call (<see cref="NestedComposedCall"/>) runs it with the stack's own program into a local (its tensor
    /// arguments computed by regions), then the expression, that local in the call's place, is a region leaving the result
    /// (<see cref="ArgumentRegion"/>: eager, its break named, where it breaks for another reason); default when there is no such call.
    /// </summary>
    private EquatableArray<MethodSegment> ExpressionComposed(IMethodSymbol method, ArrowExpressionClauseSyntax arrow)
    {
        var expression = arrow.Expression;
        var segments = new List<MethodSegment>();
        _regionMode = true;
        _composedArguments = 0;
        _hoisted = 0;
        try
        {
            bool any = false;
            while (true)
            {
                if ((NestedComposedCall(null, expression) ?? ComposedInvocation(expression)) is { } nested)
                {
                    string value = NextPart();
                    ComposedStatement(method, default, -1, -1, null, nested, segments, value);
                    _composedValues[nested.Call] = value;
                }
                else if (Linearize(null, expression) is { } plan)
                {
                    // => fc.Forward(x) + decoder.Forward(t, m), => a(x) + Helper(x): the operands before the barrier, then the barrier (HoistInOrder).
                    HoistInOrder(method, default, -1, -1, null, plan, segments);
                }
                else break;
                any = true;
            }
            if (!any) return default;
            // The expression, those locals in the calls' places: a region leaving the result (eager, its break named, where it breaks;
            // eager too where it computes with a break's value, whose shape the build does not know).
            if (ComputesWithEagerValue(expression)) AddEager(segments, "var __sgResult = " + Substituted(expression) + ";", Lines(expression, expression), new List<string>());
            else ArgumentRegion(method, expression, "__sgResult", segments);
            AddEager(segments, "return __sgResult;", Lines(expression, expression), new List<string>());
        }
        finally
        {
            _regionMode = false;
        }
        return segments.ToEquatableArray();
    }

    /// <summary>The temporaries of the sub-expressions hoisted out of broken statements in the method being split (<c>__sgPart0</c>, …).</summary>
    private int _hoisted;

    /// <summary>The next temporary of a hoisted sub-expression or a composed call computed before its statement (<c>__sgPart0</c>, …).</summary>
    private string NextPart() => "__sgPart" + (_hoisted++).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The temporaries of the arguments of composed calls in the method being split (<c>__sgArg0</c>, …).</summary>
    private int _composedArguments;

    /// <summary>
    /// A top-level statement that is one call of a child with a compiled program of its own (<see cref="ChildParser.IsComposedKind"/>):
    /// <c>var h = encoder.Forward(…);</c>, <c>h = encoder.Forward(…);</c> or <c>return encoder.Forward(…);</c>; else null.
    /// </summary>
    private (InvocationExpressionSyntax Call, ExpressionSyntax Receiver, string Child)? ComposedCall(StatementSyntax statement)
    {
        ExpressionSyntax? value = statement switch
        {
            LocalDeclarationStatementSyntax { Declaration.Variables: { Count: 1 } variables } => variables[0].Initializer?.Value,
            ExpressionStatementSyntax { Expression: AssignmentExpressionSyntax { Left: IdentifierNameSyntax } assignment }
                when assignment.IsKind(SyntaxKind.SimpleAssignmentExpression) => assignment.Right,
            ReturnStatementSyntax { Expression: { } returned } => returned,
            _ => null,
        };
        return ComposedInvocation(value);
    }

    /// <summary><c>encoder.Forward(…)</c>: a call of a child with a compiled program of its own, not yet computed by the runner; else null.</summary>
    private (InvocationExpressionSyntax Call, ExpressionSyntax Receiver, string Child)? ComposedInvocation(ExpressionSyntax? value)
    {
        if (value is not InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Forward", Expression: var receiver } } call
            || _composedValues.ContainsKey(call)
            || _model.GetSymbolInfo(receiver, _token).Symbol is not { } member || member is not (IFieldSymbol or IPropertySymbol)
            || !IsOwnMember(member)
            || !_children.TryGetValue(member.Name, out var child) || !child.IsBuiltIn || !ChildParser.IsComposedKind(child.Kind)
            || call.ArgumentList.Arguments.Any(a => !a.RefKindKeyword.IsKind(SyntaxKind.None))) return null;
        return (call, receiver, member.Name);
    }

    /// <summary>The composed calls inside statements that the runner computes first into a local (<c>__sgPart0</c>), by call.</summary>
    private readonly Dictionary<SyntaxNode, string> _composedValues = new();

    /// <summary>
    /// A composed call (<see cref="ComposedInvocation"/>) inside a statement's value (<c>norm.Forward(decoder.Forward(t, m))</c>,
    /// <c>head.Forward(decoder.Forward(t, m) + x)</c>) that the statement evaluates before anything else with an effect: only
    /// locals, parameters, fields, constants and calls computed already are read before it (so running it first keeps the order
    /// of everything that draws random numbers); else null.
    /// </summary>
    private (InvocationExpressionSyntax Call, ExpressionSyntax Receiver, string Child)? NestedComposedCall(StatementSyntax? statement, ExpressionSyntax? body = null)
    {
        ExpressionSyntax? value = body ?? LinearizedValue(statement);
        for (var e = value; e is not null; e = EvaluatedFirst(e))
        {
            if (e != value && ComposedInvocation(e) is { } composed) return composed;
        }
        return null;
    }

    /// <summary>True for an operand whose evaluation has no effect: a local, parameter, field or property name, a literal, a composed call computed already.</summary>
    private bool Plain(ExpressionSyntax e) => e is IdentifierNameSyntax or LiteralExpressionSyntax || _composedValues.ContainsKey(e)
        || e is MemberAccessExpressionSyntax { Expression: ThisExpressionSyntax or IdentifierNameSyntax } && _model.GetSymbolInfo(e, _token).Symbol is IFieldSymbol;

    /// <summary>The operand of <paramref name="e"/> evaluated first that is not <see cref="Plain"/> (all before it being plain), or null.</summary>
    private ExpressionSyntax? EvaluatedFirst(ExpressionSyntax e)
    {
        switch (e)
        {
            case ParenthesizedExpressionSyntax p:
                return p.Expression;
            case InvocationExpressionSyntax call:
                if (call.Expression is MemberAccessExpressionSyntax { Expression: var receiver } && !Plain(receiver)
                    && _model.GetSymbolInfo(receiver, _token).Symbol is not (INamedTypeSymbol or INamespaceSymbol or IFieldSymbol or IPropertySymbol or ILocalSymbol or IParameterSymbol)
                    && receiver is not (ThisExpressionSyntax or BaseExpressionSyntax)) return receiver;
                foreach (var argument in call.ArgumentList.Arguments)
                {
                    if (!argument.RefKindKeyword.IsKind(SyntaxKind.None)) return null;
                    if (!Plain(argument.Expression)) return argument.Expression;
                }
                return null;
            case BinaryExpressionSyntax binary when binary.IsKind(SyntaxKind.AddExpression) || binary.IsKind(SyntaxKind.SubtractExpression)
                                                   || binary.IsKind(SyntaxKind.MultiplyExpression) || binary.IsKind(SyntaxKind.DivideExpression):
                return Plain(binary.Left) ? binary.Right : binary.Left;
            case PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.UnaryMinusExpression } negate:
                return negate.Operand;
            case MemberAccessExpressionSyntax { Expression: var inner } when _model.GetSymbolInfo(e, _token).Symbol is IPropertySymbol:
                return inner;
            default:
                return null;
        }
    }

    /// <summary>
    /// A composed call (<see cref="ComposedCall"/>) at statement <paramref name="i"/>, the region open since <paramref name="start"/>:
    /// each tensor argument that is not a local or parameter is computed by a region (the first one by the open region, when
    /// the statements before it leave nothing else computed that later code reads, else by a region of its own), and the
    /// statement runs in the runner with the child's own program (<c>__compiled.__elements.Of(encoder, static __e =&gt; __e.Compile())</c>),
    /// which enters the tape per layer. Its result has the shape of its first argument (<see cref="MethodSegment.ShapeOf"/>).
    /// </summary>
    private void ComposedStatement(IMethodSymbol method, SyntaxList<StatementSyntax> statements, int start, int i, RegionOutputs? current,
                                   (InvocationExpressionSyntax Call, ExpressionSyntax Receiver, string Child) composed, List<MethodSegment> segments, string? value = null)
    {
        _composedLoops.Add(Where(composed.Call)!);
        var replaced = new Dictionary<SyntaxNode, string>();
        string? first = null;
        bool open = start >= 0;
        foreach (var argument in composed.Call.ArgumentList.Arguments)
        {
            var e = argument.Expression;
            if (_composedValues.TryGetValue(e, out var computed))
            {
                // An argument computed before the call (HoistInOrder): its temporary, passed as it is.
                replaced[e] = computed;
                if (first is null && argument.NameColon is null) first = computed;
                continue;
            }
            bool passed = _model.GetSymbolInfo(e, _token).Symbol is ILocalSymbol or IParameterSymbol;
            if (_model.GetTypeInfo(e, _token).Type is not { } type || !ModuleParser.IsTensor(type) || passed)
            {
                if (first is null && passed && argument.NameColon is null) first = e.ToString();
                continue;   // a local or parameter, a constant, null: passed as it is
            }
            string name = "__sgArg" + (_composedArguments++).ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (first is null && argument.NameColon is null) first = name;
            replaced[e] = name;
            if (open && JoinArgument(method, statements, start, i, e, name, segments))
            {
                open = false;
                continue;
            }
            if (open && i > start && current is not null) CloseRegion(method, statements, start, i - 1, current, segments);
            else if (open && i > start) AddEager(segments, Code(statements, start, i - 1), Lines(statements[start], statements[i - 1]), Writes(statements, start, i - 1));
            open = false;
            ArgumentRegion(method, e, name, segments);
        }
        if (open && i > start && current is not null) CloseRegion(method, statements, start, i - 1, current, segments);
        var program = SyntaxFactory.ParseExpression("__compiled.__elements.Of(" + composed.Receiver + ", static __e => __e.Compile())");
        // The call inside a statement (value: its local) runs as `var __sgPart0 = …;` before the statement, which reads the local.
        var statement = value is null ? statements[i] : null;
        SyntaxNode scope = statement is null ? composed.Call : statement;
        var rewritten = scope.ReplaceNodes(replaced.Keys.Append(composed.Receiver),
            (original, _) => original == composed.Receiver ? program.WithTriviaFrom(original) : SyntaxFactory.IdentifierName(replaced[original]).WithTriviaFrom(original));
        string where = Lines(scope, scope);
        var writes = value is null ? Writes(statements, i, i) : new List<string> { value };
        string code = value is null ? rewritten.ToString() : "var " + value + " = " + rewritten.WithoutTrivia() + ";";
        AddEager(segments, code, where, writes, new ElementLoop(composed.Child, where) { Single = true });
        // What the runner knows of the result: the stack keeps its input's shape.
        if (first is not null && writes.Count == 1)
        {
            var last = segments[segments.Count - 1];
            segments[segments.Count - 1] = last with { ShapeOf = last.ShapeOf.Concat(new[] { writes[0] + "=" + first }).ToEquatableArray() };
        }
    }

    /// <summary>
    /// The open region (statements <paramref name="start"/>..<paramref name="i"/>−1) grown by the argument <paramref name="argument"/>
    /// of the composed call at <paramref name="i"/>, its value the region's output <paramref name="name"/>; false (nothing added) when
    /// the argument breaks or the statements before it leave another computed value or an alias that later code reads.
    /// </summary>
    private bool JoinArgument(IMethodSymbol method, SyntaxList<StatementSyntax> statements, int start, int i, ExpressionSyntax argument, string name,
                              List<MethodSegment> segments)
    {
        var snapshot = Snapshot();
        int eager = _eager.Count;
        int node;
        try
        {
            node = Expr(argument);
        }
        catch (UnsupportedException)
        {
            Restore(snapshot);
            return false;
        }
        var outputs = i > start ? Outputs(statements, start, i - 1, -1, argument) : new RegionOutputs(-1, null, false, new List<string>(), new List<string>());
        if (_issues.Count != snapshot.Issues || _eager.Count != eager || node < 0 || _nodes[node] is { Kind: NodeKind.Input }
            || outputs is null || outputs.Node >= 0 || outputs.Aliases.Count > 0)
        {
            Restore(snapshot);
            return false;
        }
        string code = (i > start ? Code(statements, start, i - 1) + "\n" : "") + "global::SharpGrad.Tensor " + name + " = " + Substituted(argument) + ";";
        var firstNode = i > start ? (SyntaxNode)statements[start] : argument;
        AddRegion(method, code, Lines(firstNode, argument), LocationInfo.From(firstNode.GetLocation()), node, segments, new MethodSegment(null, "", "")
        {
            Output = name,
            Declarations = outputs.Declarations.Concat(new[] { "global::SharpGrad.Tensor " + name }).ToEquatableArray(),
            Recomputed = outputs.Recomputed.ToEquatableArray(),
        });
        return true;
    }

    /// <summary>
    /// An expression as a region of its own whose value is the local <paramref name="name"/> (an argument of a composed call,
    /// <c>__sgArg0 = ForwardRegion2(…)</c>; an element of <c>return [a, b]</c>), or eager where it breaks (its break named). Its code
    /// runs as written if the planner does not take the region (a named break): it declares the local.
    /// </summary>
    private void ArgumentRegion(IMethodSymbol method, ExpressionSyntax argument, string name, List<MethodSegment> segments)
    {
        OpenRegion();
        int issues = _issues.Count, eager = _eager.Count;
        int node;
        try
        {
            node = Expr(argument);
            if (_issues.Count != issues || _eager.Count != eager) node = -1;
        }
        catch (UnsupportedException e)
        {
            if (e.Issue is not null) _issues.Add(e.Issue);
            node = -1;
        }
        for (int j = issues; j < _issues.Count; j++) _issues[j] = _issues[j] with { Method = method.Name };
        if (node < 0 || _nodes[node] is { Kind: NodeKind.Input })
        {
            AddEager(segments, "var " + name + " = " + Substituted(argument) + ";", Lines(argument, argument), new List<string>());
            return;
        }
        AddRegion(method, "global::SharpGrad.Tensor " + name + " = " + Substituted(argument) + ";", Lines(argument, argument), LocationInfo.From(argument.GetLocation()), node, segments,
            new MethodSegment(null, "", "")
            {
                Output = name,
                Declarations = new[] { "global::SharpGrad.Tensor " + name }.ToEquatableArray(),
            });
    }

    /// <summary>What a region leaves: its one computed value (and where it goes), the locals equal to an input, the locals it declares for later statements.</summary>
    private sealed record RegionOutputs(int Node, string? Output, bool Returns, List<string> Aliases, List<string> Declarations)
    {
        /// <summary>Data locals (masks, positions) later code reads, computed again after the region call (<see cref="MethodSegment.Recomputed"/>).</summary>
        public List<string> Recomputed { get; init; } = new();
    }

    private void OpenRegion()
    {
        _nodes = new List<GraphNode>();
        _env = new Dictionary<ISymbol, int>(SymbolEqualityComparer.Default);
        _intEnv = new Dictionary<ISymbol, int>(SymbolEqualityComparer.Default);
        _eager = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
        _regionInputs = new List<(ISymbol?, GraphInput)>();
        _implied.Clear();
    }

    private (int Nodes, Dictionary<ISymbol, int> Env, Dictionary<ISymbol, int> Ints, HashSet<ISymbol> Eager, int Inputs, int Issues) Snapshot()
        => (_nodes.Count, new Dictionary<ISymbol, int>(_env, SymbolEqualityComparer.Default), new Dictionary<ISymbol, int>(_intEnv, SymbolEqualityComparer.Default),
            new HashSet<ISymbol>(_eager, SymbolEqualityComparer.Default), _regionInputs.Count, _issues.Count);

    private void Restore((int Nodes, Dictionary<ISymbol, int> Env, Dictionary<ISymbol, int> Ints, HashSet<ISymbol> Eager, int Inputs, int Issues) s)
    {
        _nodes.RemoveRange(s.Nodes, _nodes.Count - s.Nodes);
        _env = s.Env;
        _intEnv = s.Ints;
        _eager = s.Eager;
        _regionInputs.RemoveRange(s.Inputs, _regionInputs.Count - s.Inputs);
        _issues.RemoveRange(s.Issues, _issues.Count - s.Issues);
    }

    /// <summary>Parses one top-level statement into the open region; false when any part of it breaks the graph.</summary>
    private bool TryStatement(StatementSyntax statement, bool isFinal, out int returned)
    {
        returned = -1;
        int issues = _issues.Count, eager = _eager.Count;
        try
        {
            bool returns = Statement(statement, isFinal, out returned);
            return _issues.Count == issues && _eager.Count == eager && returns == isFinal;
        }
        catch (UnsupportedException)
        {
            return false;
        }
    }

    /// <summary>
    /// The outputs of statements <paramref name="start"/>..<paramref name="end"/> as a region, or null when they leave
    /// something a region cannot: two computed values, or a non-tensor local that later statements read.
    /// </summary>
    private RegionOutputs? Outputs(SyntaxList<StatementSyntax> statements, int start, int end, int returned, ExpressionSyntax? consumed = null)
    {
        var flow = _model.AnalyzeDataFlow(statements[start], statements[end]);
        if (flow is null || !flow.Succeeded) return null;
        var later = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
        for (int k = end + 1; k < statements.Count; k++)
        {
            foreach (var name in statements[k].DescendantNodesAndSelf().OfType<IdentifierNameSyntax>())
            {
                // Read by an argument the region itself computes (JoinArgument): not read after the region.
                if (consumed is not null && consumed.Span.Contains(name.Span)) continue;
                if (_model.GetSymbolInfo(name, _token).Symbol is ILocalSymbol or IParameterSymbol) later.Add(_model.GetSymbolInfo(name, _token).Symbol!);
            }
        }
        int node = returned;
        string? output = null;
        var aliases = new List<string>();
        var recomputed = new List<string>();
        foreach (var symbol in flow.DataFlowsOut)
        {
            if (consumed is not null && !later.Contains(symbol)) continue;
            if (!IsTensorLocal(symbol) || !_env.TryGetValue(symbol, out int value)) return null;
            if (Recomputable(statements, start, end, flow, symbol, value) is { } again)
            {
                // A mask or positions (data, no gradient) later code reads: computed again after the region, as written.
                recomputed.Add(again);
                continue;
            }
            var produced = _nodes[value];
            if (produced is { Kind: NodeKind.Input, Op: "Input" })
            {
                var source = _regionInputs[produced.IntArgs[0]];
                if (!SymbolEqualityComparer.Default.Equals(source.Symbol, symbol)) aliases.Add(symbol.Name + "=" + source.Input.Name);
                continue;
            }
            if (node >= 0) return null;   // a second computed value: this region would have two outputs
            node = value;
            output = symbol.Name;
        }
        var declarations = new List<string>();
        foreach (var symbol in flow.VariablesDeclared)
        {
            if (!later.Contains(symbol)) continue;
            if (symbol is not ILocalSymbol local || !IsTensorLocal(local)) return null;
            declarations.Add(local.Type.ToDisplayString(TypeFormat) + " " + local.Name);
        }
        return new RegionOutputs(node, output, returned >= 0, aliases, declarations) { Recomputed = recomputed };
    }

    /// <summary>
    /// <c>mask = tokens.Eq(pad);</c> for a local the region leaves that is data (a mask, positions: data ops and movements of
    /// them, never differentiated), declared once in the region as <c>var mask = …;</c> from values the region does not assign:
    /// computing it again after the region gives the same tensor. Null for anything else.
    /// </summary>
    private string? Recomputable(SyntaxList<StatementSyntax> statements, int start, int end, DataFlowAnalysis flow, ISymbol symbol, int value)
    {
        if (!IsData(value) || symbol is not ILocalSymbol) return null;
        if (flow.WrittenInside.Count(w => SymbolEqualityComparer.Default.Equals(w, symbol)) != 1) return null;
        for (int k = start; k <= end; k++)
        {
            if (statements[k] is not LocalDeclarationStatementSyntax declaration) continue;
            foreach (var variable in declaration.Declaration.Variables)
            {
                if (!SymbolEqualityComparer.Default.Equals(_model.GetDeclaredSymbol(variable, _token), symbol) || variable.Initializer is not { } init) continue;
                var reads = _model.AnalyzeDataFlow(init.Value);
                if (reads is null || !reads.Succeeded) return null;
                // An int the region declares from values it does not assign (`int t = tokens.Size(1);`) is read again in its place.
                var substituted = new Dictionary<ISymbol, string>(SymbolEqualityComparer.Default);
                foreach (var read in reads.ReadInside.Where(r => flow.WrittenInside.Contains(r, SymbolEqualityComparer.Default)))
                {
                    if (RecomputableInt(statements, start, end, flow, read) is not { } again) return null;
                    substituted[read] = again;
                }
                if (statements.Skip(start).Take(end - start + 1).Any(st => st.DescendantNodes().OfType<AssignmentExpressionSyntax>()
                        .Any(a => SymbolEqualityComparer.Default.Equals(_model.GetSymbolInfo(a.Left, _token).Symbol, symbol)))) return null;
                var names = init.Value.DescendantNodesAndSelf().OfType<IdentifierNameSyntax>()
                    .Where(n => _model.GetSymbolInfo(n, _token).Symbol is { } r && substituted.ContainsKey(r)).ToList();
                var expression = names.Count == 0 ? init.Value
                    : init.Value.ReplaceNodes(names, (original, _) => SyntaxFactory.ParseExpression(substituted[_model.GetSymbolInfo(original, _token).Symbol!]).WithTriviaFrom(original));
                return symbol.Name + " = " + expression + ";";
            }
        }
        return null;
    }

    /// <summary>
    /// <c>(tokens.Size(1))</c> for an int local the region declares once, <c>int t = tokens.Size(1);</c>, from values it does not
    /// assign and never assigns again: reading it again after the region gives the same number. Null for anything else.
    /// </summary>
    private string? RecomputableInt(SyntaxList<StatementSyntax> statements, int start, int end, DataFlowAnalysis flow, ISymbol symbol)
    {
        if (symbol is not ILocalSymbol { Type.SpecialType: SpecialType.System_Int32 or SpecialType.System_Int64 }) return null;
        if (flow.WrittenInside.Count(w => SymbolEqualityComparer.Default.Equals(w, symbol)) != 1) return null;
        if (statements.Skip(start).Take(end - start + 1).Any(st => st.DescendantNodes().Any(n => n is AssignmentExpressionSyntax a
                && SymbolEqualityComparer.Default.Equals(_model.GetSymbolInfo(a.Left, _token).Symbol, symbol)
                || n is PostfixUnaryExpressionSyntax or PrefixUnaryExpressionSyntax && n.DescendantNodes().OfType<IdentifierNameSyntax>()
                    .Any(id => SymbolEqualityComparer.Default.Equals(_model.GetSymbolInfo(id, _token).Symbol, symbol))))) return null;
        for (int k = start; k <= end; k++)
        {
            if (statements[k] is not LocalDeclarationStatementSyntax declaration) continue;
            foreach (var variable in declaration.Declaration.Variables)
            {
                if (!SymbolEqualityComparer.Default.Equals(_model.GetDeclaredSymbol(variable, _token), symbol) || variable.Initializer is not { } init) return null;
                var reads = _model.AnalyzeDataFlow(init.Value);
                if (reads is null || !reads.Succeeded || reads.ReadInside.Any(r => flow.WrittenInside.Contains(r, SymbolEqualityComparer.Default))) return null;
                if (init.Value.DescendantNodesAndSelf().Any(n => n is InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: not ("Size" or "Shape") } }
                        or AssignmentExpressionSyntax)) return null;
                return "(" + init.Value + ")";
            }
        }
        return null;
    }

    /// <summary>True when the statements <paramref name="start"/>..<paramref name="end"/> leave, besides tensor locals, only int locals that later statements read.</summary>
    private bool LeavesOnlyInts(SyntaxList<StatementSyntax> statements, int start, int end)
    {
        var flow = _model.AnalyzeDataFlow(statements[start], statements[end]);
        if (flow is null || !flow.Succeeded) return false;
        var outside = flow.DataFlowsOut.Where(o => !IsTensorLocal(o)).ToList();
        return outside.Count > 0 && outside.All(o => o is ILocalSymbol { Type.SpecialType: SpecialType.System_Int32 } && _intEnv.ContainsKey(o));
    }

    /// <summary>True when node <paramref name="value"/> is data: a data op (Arange, Eq, Triu, …) or a movement of data.</summary>
    private bool IsData(int value)
    {
        var node = _nodes[value];
        return node.Kind == NodeKind.Data || node.Kind == NodeKind.Movement && node.Inputs.Count > 0 && node.Inputs.All(IsData);
    }

    private static bool IsTensorLocal(ISymbol symbol) => symbol switch
    {
        ILocalSymbol local => ModuleParser.IsTensor(local.Type),
        IParameterSymbol parameter => ModuleParser.IsTensor(parameter.Type) && parameter.RefKind == RefKind.None,
        _ => false,
    };

    /// <summary>The region's input for the local <paramref name="name"/> the runner computed a composed call into (<c>__sgPart0</c>); made on first use.</summary>
    private int ComposedValueInput(string name)
    {
        for (int k = 0; k < _nodes.Count; k++)
        {
            if (_nodes[k] is { Kind: NodeKind.Input, Op: "Input" } node && node.Text == name && node.IntArgs[0] < _regionInputs.Count
                && _regionInputs[node.IntArgs[0]] is { Symbol: null } input && input.Input.Name == name) return k;
        }
        int index = Add(new GraphNode(NodeKind.Input, "Input", default, new[] { _regionInputs.Count }.ToEquatableArray(), text: name));
        _regionInputs.Add((null, new GraphInput(name, null) { IsLocal = true }));
        return index;
    }

    /// <summary>A tensor local or parameter read by a region before it assigns it: a new input of the region.</summary>
    private int RegionInput(ISymbol symbol)
    {
        var shape = symbol is IParameterSymbol parameter ? DeclaredShape(parameter) : null;
        int index = Add(new GraphNode(NodeKind.Input, "Input", default, new[] { _regionInputs.Count }.ToEquatableArray(), text: symbol.Name,
            location: LocationInfo.From(symbol.Locations.FirstOrDefault())));
        _regionInputs.Add((symbol, new GraphInput(symbol.Name, shape) { IsLocal = symbol is not IParameterSymbol }));
        _env[symbol] = index;
        return index;
    }

    private void CloseRegion(IMethodSymbol method, SyntaxList<StatementSyntax> statements, int start, int end, RegionOutputs outputs, List<MethodSegment> segments)
    {
        string code = Code(statements, start, end);
        string where = Lines(statements[start], statements[end]);
        if (outputs.Node < 0 || _nodes[outputs.Node] is { Kind: NodeKind.Input })
        {
            // Nothing computed leaves the region (`var skip = x;`, `return x;`): its statements run as written.
            AddEager(segments, code, where, Writes(statements, start, end));
            return;
        }
        AddRegion(method, code, where, LocationInfo.From(statements[start].GetLocation()), outputs.Node, segments, new MethodSegment(null, "", "")
        {
            Output = outputs.Output,
            Returns = outputs.Returns,
            Declarations = outputs.Declarations.ToEquatableArray(),
            Aliases = outputs.Aliases.ToEquatableArray(),
            Recomputed = outputs.Recomputed.ToEquatableArray(),
            Fallback = Fallback(statements, start, end, outputs.Declarations),
        });
    }

    /// <summary>
    /// Statements <paramref name="start"/>..<paramref name="end"/> as the runner writes them when the region's guard fails
    /// (<see cref="MethodSegment.Fallback"/>): as written, a declaration of a local the runner declares before the region
    /// (<paramref name="declarations"/>) an assignment of it. Null when such a local is not declared by a statement of its own
    /// with an initializer (<c>Foo(out var h)</c>): the region then has no fallback and no guard.
    /// </summary>
    private string? Fallback(SyntaxList<StatementSyntax> statements, int start, int end, List<string> declarations)
    {
        var names = new HashSet<string>(declarations.Select(d => d.Substring(d.LastIndexOf(' ') + 1)), System.StringComparer.Ordinal);
        var lines = new List<string>();
        int assigned = 0;
        for (int k = start; k <= end; k++)
        {
            if (statements[k] is LocalDeclarationStatementSyntax { Declaration.Variables: var variables } declaration
                && variables.Any(v => names.Contains(v.Identifier.ValueText)))
            {
                if (!declaration.UsingKeyword.IsKind(SyntaxKind.None) || !variables.All(v => names.Contains(v.Identifier.ValueText) && v.Initializer is not null)) return null;
                foreach (var v in variables) lines.Add(v.Identifier.ValueText + " = " + Substituted(v.Initializer!.Value) + ";");
                assigned += variables.Count;
                continue;
            }
            lines.Add(Substituted(statements[k]));
        }
        return assigned == names.Count ? string.Join("\n", lines) : null;
    }

    /// <summary>The open region as a method of its own (<c>ForwardRegion1</c>) and its segment (<paramref name="leaves"/>: where its value goes).</summary>
    private void AddRegion(IMethodSymbol method, string code, string where, LocationInfo? location, int node, List<MethodSegment> segments, MethodSegment leaves)
    {
        int number = _regions.Count(r => r.RegionOf == method.Name) + 1;
        string name = method.Name + "Region" + number.ToString(System.Globalization.CultureInfo.InvariantCulture);
        _regions.Add(new GraphMethod(name, _regionInputs.Select(r => r.Input).ToEquatableArray(), _nodes.ToEquatableArray(), node, location)
        {
            RegionOf = method.Name,
            Equalities = _implied.Concat(ChosenSizes()).ToEquatableArray(),
        });
        segments.Add(leaves with { Region = name, Code = code, Where = where, Arguments = _regionInputs.Select(r => r.Input.Name).ToEquatableArray() });
    }

    private void AddEager(List<MethodSegment> segments, SyntaxList<StatementSyntax> statements, int i)
    {
        var perElement = statements[i] is ForEachStatementSyntax loop ? PerElementLoop(loop) : null;
        if (perElement is not null) _composedLoops.Add(Where(statements[i])!);
        string where = Lines(statements[i], statements[i]);
        AddEager(segments, perElement?.Code ?? Code(statements, i, i), where, Writes(statements, i, i),
            perElement is { } p ? new ElementLoop(p.List, where) : null);
        if (perElement is not null && LoopCarried((ForEachStatementSyntax)statements[i]) is { } carried)
        {
            // x = block.Forward(x, …) over blocks of a count the build does not know: x keeps its shape (a second block reads the
            // first's result), so the region after the loop knows it; the compiled region checks its input at each call.
            var last = segments[segments.Count - 1];
            segments[segments.Count - 1] = last with { ShapeOf = last.ShapeOf.Concat(new[] { carried + "=" + carried }).ToEquatableArray() };
        }
    }

    /// <summary>The local <c>x</c> of a per-element loop whose body is only <c>x = block.Forward(x, …);</c>, else null.</summary>
    private string? LoopCarried(ForEachStatementSyntax loop)
    {
        var body = loop.Statement is BlockSyntax { Statements: { Count: 1 } inner } ? inner[0] : loop.Statement;
        if (body is not ExpressionStatementSyntax { Expression: AssignmentExpressionSyntax { Left: IdentifierNameSyntax left, Right: InvocationExpressionSyntax call } assignment }
            || !assignment.IsKind(SyntaxKind.SimpleAssignmentExpression)
            || call.ArgumentList.Arguments.FirstOrDefault() is not { NameColon: null, Expression: IdentifierNameSyntax first }
            || first.Identifier.ValueText != left.Identifier.ValueText
            || _model.GetSymbolInfo(left, _token).Symbol is not ILocalSymbol and not IParameterSymbol) return null;
        return left.Identifier.ValueText;
    }

    /// <summary>
    /// <c>foreach (var block in blocks) … block.Forward(…) …</c> over a <c>ModuleList&lt;Block&gt;</c> of [Module] blocks whose
    /// count the constructor's arguments set (the build does not know the items), the loop variable used only to call its
    /// Forward: the list, the element type and the loop as the region runner writes it, each <c>block.Forward(…)</c> a call
    /// of that element's compiled program (<c>global::SharpGrad.ElementPrograms</c>, held by the parent's program); else null.
    /// </summary>
    /// <summary>T of a <c>ModuleList&lt;T&gt;</c> field or property whose T is the user's [Module] class (it has its own generated program), else null.</summary>
    private static INamedTypeSymbol? ElementType(ISymbol member)
    {
        var type = member switch { IFieldSymbol f => f.Type, IPropertySymbol p => p.Type, _ => null };
        return type is INamedTypeSymbol { Name: "ModuleList", TypeArguments: [INamedTypeSymbol element] } list && ChildParser.IsBuiltIn(list)
               && !ChildParser.IsBuiltIn(element) && ModuleParser.HasAttribute(element, ModuleParser.ModuleAttributeName) ? element : null;
    }

    private (string List, string Element, string Code)? PerElementLoop(ForEachStatementSyntax loop)
    {
        if (_model.GetSymbolInfo(loop.Expression, _token).Symbol is not { } member || member is not (IFieldSymbol or IPropertySymbol)
            || !IsOwnMember(member)
            || _children.Values.Any(c => c.ArrayMember == member.Name)
            || ElementType(member) is not { } element
            || _model.GetDeclaredSymbol(loop, _token) is not { } variable) return null;
        var uses = loop.Statement.DescendantNodes().OfType<IdentifierNameSyntax>()
            .Where(id => SymbolEqualityComparer.Default.Equals(_model.GetSymbolInfo(id, _token).Symbol, variable)).ToList();
        var calls = new List<MemberAccessExpressionSyntax>();
        foreach (var use in uses)
        {
            if (use.Parent is not MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Forward", Parent: InvocationExpressionSyntax } call || call.Expression != use) return null;
            calls.Add(call);
        }
        if (calls.Count == 0) return null;
        string name = loop.Identifier.ValueText;
        var program = SyntaxFactory.ParseExpression("__compiled.__elements.Of(" + name + ", static __e => __e.Compile())");
        var rewritten = loop.ReplaceNodes(calls, (original, _) => original.WithExpression(program.WithTriviaFrom(original.Expression)));
        return (member.Name, element.Name, rewritten.ToString());
    }

    /// <summary>The names of the tensor locals and parameters statements <paramref name="start"/>..<paramref name="end"/> assign.</summary>
    private List<string> Writes(SyntaxList<StatementSyntax> statements, int start, int end)
    {
        var flow = _model.AnalyzeDataFlow(statements[start], statements[end]);
        return flow is { Succeeded: true } ? flow.WrittenInside.Where(IsTensorLocal).Select(w => w.Name).ToList() : new List<string>();
    }

    /// <summary>Eager statements, joined with the eager statements just before them.</summary>
    private static void AddEager(List<MethodSegment> segments, string code, string where, List<string> writes, ElementLoop? loop = null)
    {
        var loops = loop is null ? System.Array.Empty<ElementLoop>() : new[] { loop };
        if (segments.Count > 0 && segments[segments.Count - 1] is { Region: null } previous)
        {
            segments[segments.Count - 1] = previous with
            {
                Code = previous.Code + "\n" + code,
                Writes = previous.Writes.Concat(writes).Distinct().ToEquatableArray(),
                ElementLoops = previous.ElementLoops.Concat(loops).ToEquatableArray(),
            };
            return;
        }
        segments.Add(new MethodSegment(null, code, where) { Writes = writes.ToEquatableArray(), ElementLoops = loops.ToEquatableArray() });
    }

    private string Code(SyntaxList<StatementSyntax> statements, int start, int end)
        => string.Join("\n", statements.Skip(start).Take(end - start + 1).Select(Substituted));

    /// <summary>A statement's text with the composed calls and operands inside it that the runner computed before it (<see cref="_composedValues"/>) replaced by their locals.</summary>
    private string Substituted(SyntaxNode statement)
    {
        var calls = statement.DescendantNodesAndSelf().OfType<ExpressionSyntax>().Where(_composedValues.ContainsKey).ToList();
        if (calls.Count == 0) return statement.ToString();
        if (calls[0] == statement) return _composedValues[statement];
        return statement.ReplaceNodes(calls, (original, _) => SyntaxFactory.IdentifierName(_composedValues[original]).WithTriviaFrom(original)).ToString();
    }

    /// <summary><c>Net.cs line 12</c> or <c>Net.cs lines 12–14</c>.</summary>
    private static string Lines(SyntaxNode first, SyntaxNode last)
    {
        var a = first.GetLocation().GetLineSpan();
        int from = a.StartLinePosition.Line + 1, to = last.GetLocation().GetLineSpan().EndLinePosition.Line + 1;
        string file = System.IO.Path.GetFileName(a.Path);
        return from == to ? file + " line " + from.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : file + " lines " + from.ToString(System.Globalization.CultureInfo.InvariantCulture) + "–" + to.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Parses a statement list; returns the node of its <c>return</c> (top level only), else -1.</summary>
    private int Statements(SyntaxList<StatementSyntax> statements, bool isTopLevel)
    {
        for (int i = 0; i < statements.Count; i++)
        {
            _token.ThrowIfCancellationRequested();
            var statement = statements[i];
            try
            {
                if (Statement(statement, isTopLevel && i == statements.Count - 1, out int returned)) return returned;
            }
            catch (UnsupportedException e)
            {
                if (e.Issue is not null) _issues.Add(e.Issue);
                MarkEager(statement);
            }
        }
        return -1;
    }

    /// <summary>Parses one statement; true (with the node) for the method's final <c>return</c>.</summary>
    private bool Statement(StatementSyntax statement, bool isFinal, out int returned)
    {
        returned = -1;
        switch (statement)
        {
            case LocalDeclarationStatementSyntax local:
                foreach (var v in local.Declaration.Variables)
                {
                    if (v.Initializer is null) throw Unsupported(v, "a local without an initial value", "give it its value where it is declared");
                    var symbol = _model.GetDeclaredSymbol(v, _token)!;
                    if (symbol is ILocalSymbol { Type.SpecialType: SpecialType.System_Int32 }
                        && _model.GetOperation(v.Initializer.Value, _token) is { } read && SizeReadCode(read) is { } code)
                    {
                        _intEnv[symbol] = code;   // int n = x.Shape[0]: the batch; int t = x.Size(1): a size read at run time
                        continue;
                    }
                    _env[symbol] = Expr(v.Initializer.Value);
                }
                break;
            case ExpressionStatementSyntax { Expression: AssignmentExpressionSyntax { Left: DeclarationExpressionSyntax { Designation: ParenthesizedVariableDesignationSyntax names } } deconstruction }
                when !(deconstruction.Right is InvocationExpressionSyntax layerCall && (RecurrentChildCall(layerCall) || ExtremeCall(layerCall) is not null)):   // a recurrent layer, Max(dim): Assign
            {
                // var (a, b) = x.Chunk(2, 1): each variable is a part.
                int parts = Expr(deconstruction.Right);
                for (int k = 0; k < names.Variables.Count; k++)
                {
                    if (names.Variables[k] is DiscardDesignationSyntax) continue;
                    if (names.Variables[k] is not SingleVariableDesignationSyntax single)
                    {
                        throw Unsupported(names, "the nested deconstruction `" + Text(names) + "`", "deconstruct into single variables");
                    }
                    _env[_model.GetDeclaredSymbol(single, _token)!] = Part(parts, k, single);
                }
                break;
            }
            case ExpressionStatementSyntax { Expression: AssignmentExpressionSyntax assignment }:
                Assign(assignment);
                break;
            case ReturnStatementSyntax { Expression: CollectionExpressionSyntax or ArrayCreationExpressionSyntax or ImplicitArrayCreationExpressionSyntax } several
                when isFinal && !_regionMode:
                // Several outputs: not one program, but no break either: each element becomes a region of its own (ElementRegions).
                _severalOutputs = true;
                return true;
            case ReturnStatementSyntax { Expression: { } value } when isFinal:
                returned = Expr(value);
                return true;
            case var guard when IsGuard(guard):
                // A check that throws (the input's shape, a null): eager code, run as written in the method's runner before the code
                // after it; not part of a region.
                if (_regionMode) throw new UnsupportedException(null);
                _guards++;
                break;
            case IfStatementSyntax branch when IsTraining(branch.Condition):
                IfTraining(branch);
                break;
            case IfStatementSyntax branch when Decided(branch.Condition) is bool taken:
                // if (downsample is not null) …: the constructor fixed it; only the branch it takes is the module's graph.
                if (taken) BranchBody(branch.Statement);
                else if (branch.Else is { } otherwise) BranchBody(otherwise.Statement);
                break;
            case BlockSyntax block:
                Statements(block.Statements, isTopLevel: false);
                break;
            case ForEachStatementSyntax loop when _model.GetSymbolInfo(loop.Expression, _token).Symbol is (IFieldSymbol or IPropertySymbol) and var array
                && _children.Values.Any(c => c.ArrayMember == array.Name):
            {
                // foreach over a readonly array of children: unrolled, the loop variable bound to each item in turn.
                var variable = _model.GetDeclaredSymbol(loop, _token)!;
                foreach (var item in _children.Values.Where(c => c.ArrayMember == array.Name).OrderBy(c => c.ArrayIndex))
                {
                    _loopChild[variable] = item;
                    if (loop.Statement is BlockSyntax body) Statements(body.Statements, isTopLevel: false);
                    else Statements(SyntaxFactory.SingletonList(loop.Statement), isTopLevel: false);
                }
                _loopChild.Remove(variable);
                break;
            }
            case ForStatementSyntax loop when ForCount(loop) is { } unrolled:
            {
                // for (int i = 0; i < blocks.Count; i++) x = blocks[i].Forward(x): unrolled, i bound to each index in turn.
                for (int k = 0; k < unrolled.Count; k++)
                {
                    _loopIndex[unrolled.Variable] = unrolled.From + k;
                    if (loop.Statement is BlockSyntax body) Statements(body.Statements, isTopLevel: false);
                    else Statements(SyntaxFactory.SingletonList(loop.Statement), isTopLevel: false);
                }
                _loopIndex.Remove(unrolled.Variable);
                break;
            }
            case ForEachStatementSyntax loop when PerElementLoop(loop) is { } perElement:
                // foreach (var block in blocks) x = block.Forward(x): the count is the constructor's. Not one graph (the loop runs in
                // the region runner, each element's Forward a call of its own program: the code AddEager writes), but not a break
                // either: Explanation lists each element's program, and the module is fully compiled when every element's is.
                throw new UnsupportedException(new GraphIssue(DiagnosticDescriptors.GraphBreakId, Where(loop),
                    "the loop over '" + perElement.List + "', whose count the constructor's arguments set: it runs at run time, each " + perElement.Element + "'s Forward through that element's own program (its Compile(); its Explanation says what of it is compiled)",
                    "write the loop as a statement of its own in the method's body (not inside an `if` or a block): there each element runs its own program and the loop is no break")
                {
                    ElementList = perElement.List,
                });
            case ForEachStatementSyntax or ForStatementSyntax when ListOfUnknownChildren(statement) is { } list:
                throw Unsupported(statement, "a loop over '" + list + "', whose items are not known at build time (see the break where it is filled)",
                    "fill '" + list + "' with constant constructions, in a loop of constant count");
            case ReturnStatementSyntax:
                throw Unsupported(statement, "a return before the end of the method", "compute the result in a local and return it once, at the end");
            default:
                throw Unsupported(statement, "a " + Describe(statement), "move it out of the method");
        }
        return false;
    }

    /// <summary>The guards of the method being parsed (<see cref="IsGuard"/>): each runs eagerly, in the method's runner.</summary>
    private int _guards;

    /// <summary>
    /// A statement of the method's body that only checks and throws, as PyTorch users write <c>assert</c>s and <c>raise</c>s at the top
    /// of forward: <c>ArgumentNullException.ThrowIfNull(x);</c> (any <c>System.*Exception.ThrowIf…</c>), or <c>if (cond) throw …;</c>
    /// with no else. It runs eagerly, as written (the same exception when it fires), and is no break.
    /// </summary>
    private bool IsGuard(StatementSyntax statement)
    {
        if (statement.Parent is not BlockSyntax { Parent: MethodDeclarationSyntax }) return false;
        switch (statement)
        {
            case ExpressionStatementSyntax { Expression: InvocationExpressionSyntax call }:
                return _model.GetSymbolInfo(call, _token).Symbol is IMethodSymbol { IsStatic: true, Name: var name, ContainingType: { } owner }
                       && name.StartsWith("ThrowIf", System.StringComparison.Ordinal) && owner.Name.EndsWith("Exception", System.StringComparison.Ordinal)
                       && owner.ContainingNamespace?.ToDisplayString() == "System";
            case IfStatementSyntax { Else: null, Statement: var body }:
                return body is ThrowStatementSyntax { Expression: not null } || body is BlockSyntax { Statements: [ThrowStatementSyntax { Expression: not null }] };
            default:
                return false;
        }
    }

    /// <summary>
    /// The iterations of a <c>for</c> loop the parser unrolls: <c>for (int i = a; i &lt; b; i++)</c> (or <c>i &lt;= b</c>,
    /// <c>++i</c>, <c>i += 1</c>) with a constant start and a bound that is a constant or <c>list.Count</c> of a list of
    /// children known at build time, whose body does not assign <c>i</c>. Null for any other loop (a break).
    /// </summary>
    private (ISymbol Variable, int From, int Count)? ForCount(ForStatementSyntax loop)
    {
        if (loop.Declaration is not { Variables: [{ Initializer.Value: var first } declarator] } || loop.Incrementors.Count != 1) return null;
        string name = declarator.Identifier.ValueText;
        if (_model.GetDeclaredSymbol(declarator, _token) is not { } variable || _model.GetConstantValue(first, _token) is not { HasValue: true, Value: int from }) return null;
        bool step = loop.Incrementors[0] switch
        {
            PostfixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PostIncrementExpression, Operand: IdentifierNameSyntax id } => id.Identifier.ValueText == name,
            PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PreIncrementExpression, Operand: IdentifierNameSyntax id } => id.Identifier.ValueText == name,
            AssignmentExpressionSyntax { RawKind: (int)SyntaxKind.AddAssignmentExpression, Left: IdentifierNameSyntax id, Right: var by }
                => id.Identifier.ValueText == name && _model.GetConstantValue(by, _token) is { HasValue: true, Value: 1 },
            _ => false,
        };
        if (!step || loop.Condition is not BinaryExpressionSyntax { Left: IdentifierNameSyntax left, Right: var right } condition || left.Identifier.ValueText != name) return null;
        int? to = _model.GetConstantValue(right, _token) is { HasValue: true, Value: int constant } ? constant
            : right is MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Count" or "Length", Expression: var list }
              && _model.GetSymbolInfo(list, _token).Symbol is (IFieldSymbol or IPropertySymbol) and var member
              && _children.Values.Any(c => c.ArrayMember == member.Name)
                ? _children.Values.Count(c => c.ArrayMember == member.Name) : null;
        if (to is null) return null;
        int count = condition.Kind() switch
        {
            SyntaxKind.LessThanExpression => to.Value - from,
            SyntaxKind.LessThanOrEqualExpression => to.Value - from + 1,
            _ => -1,
        };
        if (count < 0 || count > 4096 || loop.Statement.DescendantNodes().OfType<AssignmentExpressionSyntax>().Any(a => a.Left is IdentifierNameSyntax { Identifier.ValueText: var n } && n == name)) return null;
        return (variable, from, count);
    }

    /// <summary>The name of the child list a loop iterates (<c>foreach (var b in blocks)</c>, <c>i &lt; blocks.Count</c>) when it is a child whose items the build does not know; else null.</summary>
    private string? ListOfUnknownChildren(StatementSyntax loop)
    {
        var list = loop switch
        {
            ForEachStatementSyntax each => each.Expression,
            ForStatementSyntax { Condition: BinaryExpressionSyntax { Right: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Count" or "Length" } count } } => count.Expression,
            _ => null,
        };
        if (list is null || _model.GetSymbolInfo(list, _token).Symbol is not { } member || member is not (IFieldSymbol or IPropertySymbol)) return null;
        bool known = _children.Values.Any(c => c.ArrayMember == member.Name);
        bool container = _children.TryGetValue(member.Name, out var child) && child.Kind is "ModuleList" or "Sequential"
                         || _issues.Any(i => i.What.StartsWith("the list of children '" + member.Name + "'", System.StringComparison.Ordinal));
        return !known && container ? member.Name : null;
    }

    /// <summary>
    /// The item of a list of children an element access names (<c>blocks[i]</c> with <c>i</c> the variable of an
    /// unrolled for, or <c>blocks[0]</c>, <c>blocks[^1]</c>, <c>blocks[-1]</c> as ModuleList allows), or null.
    /// </summary>
    private ChildSpec? IndexedChild(ElementAccessExpressionSyntax access)
    {
        if (access.ArgumentList.Arguments is not [{ Expression: var index }]) return null;
        if (_model.GetSymbolInfo(access.Expression, _token).Symbol is not { } member || member is not (IFieldSymbol or IPropertySymbol)) return null;
        var items = _children.Values.Where(c => c.ArrayMember == member.Name).OrderBy(c => c.ArrayIndex).ToList();
        if (items.Count == 0) return null;
        int? k = _model.GetSymbolInfo(index, _token).Symbol is { } symbol && _loopIndex.TryGetValue(symbol, out int bound) ? bound
            : index is PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.IndexExpression, Operand: var fromEnd } && _model.GetConstantValue(fromEnd, _token) is { HasValue: true, Value: int e } ? items.Count - e
            : _model.GetConstantValue(index, _token) is { HasValue: true, Value: int c } ? (c < 0 ? items.Count + c : c) : null;
        return k is int at && at >= 0 && at < items.Count ? items[at] : null;
    }

    private void Assign(AssignmentExpressionSyntax assignment)
    {
        if (assignment.Left is DeclarationExpressionSyntax or TupleExpressionSyntax)
        {
            Deconstruct(assignment);
            return;
        }
        var target = _model.GetSymbolInfo(assignment.Left, _token).Symbol;
        if (target is not null && _eager.Contains(target)) throw new UnsupportedException(null);   // a local an earlier break left eager
        if (target is not (ILocalSymbol or IParameterSymbol) || (!_env.ContainsKey(target) && !(_regionMode && IsTensorLocal(target))))
        {
            throw Unsupported(assignment, "an assignment to something other than a tensor local", "assign only to locals holding tensors");
        }
        string? op = assignment.Kind() switch
        {
            SyntaxKind.SimpleAssignmentExpression => null,
            SyntaxKind.AddAssignmentExpression => "Add",
            SyntaxKind.SubtractAssignmentExpression => "Sub",
            SyntaxKind.MultiplyAssignmentExpression => "Mul",
            SyntaxKind.DivideAssignmentExpression => "Div",
            SyntaxKind.ModuloAssignmentExpression => "Remainder",
            _ => throw Unsupported(assignment, "the assignment '" + assignment.OperatorToken.Text + "'", "write it with + - * / % and '='"),
        };
        if (op == "Remainder")
        {
            _env[target] = Remainder(assignment, assignment.Right, Expr(assignment.Left), Text(assignment.Left));
            return;
        }
        int value = Expr(assignment.Right);
        _env[target] = op is null ? value : Add(Elementwise(op, assignment, Expr(assignment.Left), value, Text(assignment.Left), Text(assignment.Right)));
    }

    /// <summary><c>if (Training) A else B</c>: both branches are parsed; each local they leave different becomes a Select node.</summary>
    private void IfTraining(IfStatementSyntax branch)
    {
        var before = new Dictionary<ISymbol, int>(_env, SymbolEqualityComparer.Default);
        BranchBody(branch.Statement);
        var training = _env;
        _env = new Dictionary<ISymbol, int>(before, SymbolEqualityComparer.Default);
        if (branch.Else is { } otherwise) BranchBody(otherwise.Statement);
        var eval = _env;

        _env = new Dictionary<ISymbol, int>(before, SymbolEqualityComparer.Default);
        foreach (var symbol in before.Keys)
        {
            if (!training.TryGetValue(symbol, out int t) || !eval.TryGetValue(symbol, out int e))
            {
                _env.Remove(symbol);   // a branch broke the graph while this local was assigned: eager from here
                _eager.Add(symbol);
                continue;
            }
            _env[symbol] = t == e ? t : Add(new GraphNode(NodeKind.Select, "Training", new[] { t, e }.ToEquatableArray(),
                text: Text(branch.Condition), location: LocationInfo.From(branch.Condition.GetLocation())));
        }
    }

    /// <summary>
    /// A condition over the module's own fields that its constructor decides (<c>downsample is not null</c>, a readonly flag
    /// <c>useResidual</c>, <c>stride == 1</c>): its value, or null when it reads anything else. A condition over fields whose
    /// values depend on the constructor's arguments is a graph break here; the parent that builds the module with known
    /// arguments compiles it (<see cref="ChildSpec.Instance"/>).
    /// </summary>
    private bool? Decided(ExpressionSyntax condition)
    {
        var reads = condition.DescendantNodesAndSelf().OfType<IdentifierNameSyntax>().Select(id => _model.GetSymbolInfo(id, _token).Symbol).ToList();
        // Only what cannot change after the constructor: readonly fields and get-only properties (a settable one is a break).
        bool fieldsOnly = reads.Count > 0 && reads.All(s => s is IFieldSymbol { IsStatic: false, IsReadOnly: true } or IPropertySymbol { IsStatic: false, SetMethod: null }
                                                            && IsOwnMember(s)
                                                        || s is IFieldSymbol { IsConst: true } || s is INamedTypeSymbol);
        if (!fieldsOnly || _model.GetOperation(condition, _token) is not { } operation) return null;
        if (ConstructorEvaluator.Decide(operation, _type, _compilation, _fields, _token) is bool decided) return decided;
        bool isAssumed = _assumed.TryGetValue(Text(condition), out bool assumed);
        // The test as a condition over the constructor's arguments (`this.wide` with `wide = bidirectional` ⇒ `bidirectional`), for
        // the values a parent gives (AssumedBlock) and for ChosenSizes; not needed on the way to the break below.
        string? over = _given is not null || isAssumed ? ConstructorEvaluator.ConditionOf(operation, _type, _compilation, _fields, _token) : null;
        if (_given is not null && over is not null && Decides(_given, over) is bool given) return given;
        if (isAssumed)
        {
            if (over is not null) _fieldConditions[Text(condition)] = over;
            // The branch may take the sizes the test makes equal as equal (`cin == cout`: x + h in `residual ? x + h : h`).
            foreach (var (left, right) in ConstructorEvaluator.Implied(operation, assumed, _type, _compilation, _fields, _token)) _implied.Add(left + "=" + right);
            return assumed;
        }
        _undecided = (Text(condition), Where(condition));
        throw new UnsupportedException(new GraphIssue(DiagnosticDescriptors.GraphBreakId, Where(condition),
            "the test `" + Text(condition) + "` of the module's fields, which its constructor's arguments decide",
            "build the module in a parent with arguments the build knows (its Compile() then takes the branch this instance has), or set the fields from constants")
        { DependsOnArguments = true });
    }

    /// <summary>True for a member of the module's class or of one of its [Module] base classes (whose children and fields are the module's too).</summary>
    private bool IsOwnMember(ISymbol symbol)
        => symbol.ContainingType is { } owner && ConstructorEvaluator.WithModuleBases(_type).Contains(owner.OriginalDefinition, SymbolEqualityComparer.Default);

    private void BranchBody(StatementSyntax statement)
    {
        if (statement is BlockSyntax block) Statements(block.Statements, isTopLevel: false);
        else Statements(SyntaxFactory.SingletonList(statement), isTopLevel: false);
    }

    /// <summary>
    /// <c>((Block)b)</c> (or <c>(b as Block)</c>) where <c>b</c> is the variable of a <c>foreach</c> over a child list whose items
    /// are typed as <c>Module</c> (an untyped <c>ModuleList</c>): the list's name and the type cast to; else null.
    /// </summary>
    private (string List, string Type)? UntypedListItem(ExpressionSyntax receiver)
    {
        while (receiver is ParenthesizedExpressionSyntax p) receiver = p.Expression;
        var (operand, type) = receiver switch
        {
            CastExpressionSyntax cast => (cast.Expression, cast.Type),
            BinaryExpressionSyntax { RawKind: (int)SyntaxKind.AsExpression } asCast => (asCast.Left, asCast.Right as TypeSyntax),
            _ => ((ExpressionSyntax?)null, (TypeSyntax?)null),
        };
        if (operand is null || type is null || _model.GetSymbolInfo(operand, _token).Symbol is not ILocalSymbol { Type.Name: "Module" } local) return null;
        if (local.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(_token) is not ForEachStatementSyntax loop
            || _model.GetSymbolInfo(loop.Expression, _token).Symbol is not { } list || list is not (IFieldSymbol or IPropertySymbol)) return null;
        return (list.Name, Text(type));
    }

    /// <summary>
    /// <c>Training</c> or <c>this.Training</c>: Module's property, or (when the class gets its <c>: Module</c> base from
    /// this generator, so the name does not bind yet) the unbound name itself.
    /// </summary>
    private bool IsTraining(ExpressionSyntax condition)
    {
        if (condition is not (IdentifierNameSyntax { Identifier.ValueText: "Training" }
            or MemberAccessExpressionSyntax { Expression: ThisExpressionSyntax, Name.Identifier.ValueText: "Training" }))
        {
            return false;
        }
        return _model.GetSymbolInfo(condition, _token).Symbol switch
        {
            IPropertySymbol p => p.ContainingType?.Name == "Module",
            null => true,
            _ => false,
        };
    }

    private int Expr(ExpressionSyntax syntax)
    {
        _token.ThrowIfCancellationRequested();
        // A composed call the runner computed before the statement (NestedComposedCall): its local, an input of the region.
        if (_regionMode && _composedValues.TryGetValue(syntax, out var computed)) return ComposedValueInput(computed);
        // A constant expression (`1f / 8f`, `float.NegativeInfinity`, a const field) is folded: one scalar node.
        if (syntax is not InvocationExpressionSyntax && _model.GetConstantValue(syntax, _token) is { HasValue: true, Value: var folded } && ToDouble(folded) is { } foldedNumber)
        {
            return Add(new GraphNode(NodeKind.Constant, "Constant", default, value: foldedNumber, text: Text(syntax), location: Where(syntax)));
        }
        switch (syntax)
        {
            case ParenthesizedExpressionSyntax p:
                return Expr(p.Expression);
            case ConditionalExpressionSyntax conditional when Decided(conditional.Condition) is bool taken:
                return Expr(taken ? conditional.WhenTrue : conditional.WhenFalse);   // useResidual ? x + f(x) : f(x), fixed by the constructor
            case CastExpressionSyntax or CheckedExpressionSyntax:
                break;
            case BinaryExpressionSyntax { RawKind: (int)SyntaxKind.ModuloExpression } modulo:
                return Remainder(modulo, modulo.Right, Expr(modulo.Left), Text(modulo.Left));
            case BinaryExpressionSyntax binary when BinaryOp(binary.Kind()) is { } op:
                int left = Expr(binary.Left), right = Expr(binary.Right);
                return Add(Elementwise(op, binary, left, right, Text(binary.Left), Text(binary.Right)));
            case PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.UnaryMinusExpression } negate
                when _model.GetConstantValue(negate, _token) is not { HasValue: true }:
                return Add(new GraphNode(NodeKind.Elementwise, "Neg", new[] { Expr(negate.Operand) }.ToEquatableArray(), text: Text(negate), location: Where(negate),
                    inputTexts: new[] { Text(negate.Operand) }.ToEquatableArray()));
            case InvocationExpressionSyntax argExtreme when ExtremeCall(argExtreme, arg: true) is { } argCall:
                return ExtremeValues(argExtreme, argCall, Expr(((MemberAccessExpressionSyntax)argExtreme.Expression).Expression), indices: true, argExtreme);
            case InvocationExpressionSyntax invocation:
                return Invocation(invocation);
            case MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Output" or "Item1", Expression: InvocationExpressionSyntax call }
                when RecurrentChildCall(call):
                return Invocation(call);   // lstm.Forward(x).Output: the output sequence
            case MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Weights" or "Item2", Expression: InvocationExpressionSyntax call } weights
                when RecurrentChildCall(call) && OpCatalogue.ForLayer(ChildOf(call).Kind) is { Family: OpFamily.Attention }:
                return AttentionWeights(call, Invocation(call), weights, weights);   // attn.Forward(q, k, v).Weights
            case PostfixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.SuppressNullableWarningExpression } notNull:
                return Expr(notNull.Operand);   // w! (MultiheadAttention's weights are a Tensor?)
            case ElementAccessExpressionSyntax { ArgumentList.Arguments: [{ Expression: var indexSyntax }] } element
                when _model.GetTypeInfo(element.Expression, _token).Type is IArrayTypeSymbol:
                if (_model.GetConstantValue(indexSyntax, _token) is not { HasValue: true, Value: int index })
                {
                    throw Unsupported(element, "the part `" + Text(element) + "` with a non-constant index", "index the parts with a constant");
                }
                return Part(Expr(element.Expression), index, element);
            case MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Values" or "Indices", Expression: InvocationExpressionSyntax extreme } values
                when ExtremeCall(extreme) is { } call:
                return ExtremeValues(extreme, call, Expr(((MemberAccessExpressionSyntax)extreme.Expression).Expression), values.Name.Identifier.ValueText == "Indices", values);
        }

        if (_model.GetConstantValue(syntax, _token) is { HasValue: true, Value: var constant } && ToDouble(constant) is { } number)
        {
            return Add(new GraphNode(NodeKind.Constant, "Constant", default, value: number, text: Text(syntax), location: Where(syntax)));
        }

        var symbol = _model.GetSymbolInfo(syntax, _token).Symbol;
        if (symbol is not null && _env.TryGetValue(symbol, out int known)) return known;
        if (_regionMode && symbol is not null && IsTensorLocal(symbol)) return RegionInput(symbol);
        if (symbol is not null && _eager.Contains(symbol)) throw new UnsupportedException(null);
        if (symbol is IPropertySymbol or IFieldSymbol && SymbolType(symbol) is { } memberType && ModuleParser.IsTensor(memberType)
            && IsOwnMember(symbol))
        {
            // A parameter or buffer of the module itself (or of its [Module] base class): an input of the graph; IntArgs = its sizes when known ([Shape] on
            // a field, or a constant Tensor creation in its initialiser), else empty (unknown shape).
            // Child = its state name (what NamedParameters/NamedBuffers yield); the inliner prefixes a child's path.
            var memberShape = DeclaredShape(symbol) is { AllFixed: true } declared ? declared.Sizes() : MemberSizes(symbol);
            int index = Add(new GraphNode(NodeKind.Input, ModuleParser.IsParameter(memberType) ? "Parameter" : "Buffer", default, memberShape.ToEquatableArray(),
                child: SharpGrad.Shared.Naming.ToStateName(symbol.Name), text: symbol.Name, location: Where(syntax)));
            _env[symbol] = index;
            return index;
        }

        throw Unsupported(syntax, "the expression `" + Text(syntax) + "`", "use locals, children's Forward, Functional/Losses/tensor methods, operators and constants");
    }

    /// <summary>
    /// <c>x % 2</c> (or <c>h %= 2</c>): Tensor's <c>operator %(Tensor, double)</c> is <c>x.Remainder(2)</c>, so it is the node that call
    /// makes (the catalogue's Remainder row, its <c>other</c> argument the constant). A divisor other than a constant is a break.
    /// </summary>
    private int Remainder(ExpressionSyntax whole, ExpressionSyntax divisor, int dividend, string dividendText)
    {
        var method = _model.GetOperation(whole, _token) switch
        {
            IBinaryOperation { OperatorMethod: { } m } => m,
            ICompoundAssignmentOperation { OperatorMethod: { } m } => m,
            _ => null,
        };
        if (method is null || !ModuleParser.IsExactlyTensor(method.ContainingType) || method.Parameters is not [_, { Type.SpecialType: SpecialType.System_Double }])
        {
            throw Unsupported(whole, "the expression `" + Text(whole) + "`", "write it as `x.Remainder(s)` with a constant s");
        }
        if (_model.GetConstantValue(divisor, _token) is not { HasValue: true, Value: var constant } || ToDouble(constant) is not { } value)
        {
            throw Unsupported(divisor, "the non-constant divisor `" + Text(divisor) + "` of `" + Text(whole) + "`", "divide by a constant (it is part of the compiled program)");
        }
        var row = OpCatalogue.ForCall(OpSurface.Tensor, "Remainder", 1, p => p == "other");
        if (row is null || KindOf(row) is not { } kind)
        {
            throw Unsupported(whole, "`" + Text(whole) + "`, which the compiler does not know yet", "write it with the ops the compiler knows (docs/compiler.md, static subset)");
        }
        var scalar = new ScalarArg("other", value, true, Text(divisor)) { Type = method.Parameters[1].Type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat) };
        return Add(new GraphNode(kind, row.Name, new[] { dividend }.ToEquatableArray(), default, text: Text(whole), location: Where(whole),
            inputTexts: new[] { dividendText }.ToEquatableArray(), scalars: new[] { scalar }.ToEquatableArray()));
    }

    /// <summary>The methods a member's initialiser may apply to its created tensor without changing its shape (a causal mask's Triu, Gt).</summary>
    private static readonly HashSet<string> ShapeKeeping = ["Triu", "Tril", "Gt", "Ge", "Lt", "Le", "Eq", "Ne", "LogicalNot", "Neg", "Clone", "Detach", "To"];

    /// <summary>
    /// The sizes of a Parameter/Buffer member from its initialiser (<c>new(Tensor.Ones(1, 16))</c>,
    /// <c>Tensor.Ones([6, 6]).Triu(1).Gt(0)</c>): the <c>shape</c> argument of the Tensor creation it starts from, when
    /// constant; empty when not known.
    /// </summary>
    private int[] MemberSizes(ISymbol symbol)
    {
        var initializer = symbol.DeclaringSyntaxReferences.Select(r => r.GetSyntax(_token)).Select(s => s switch
        {
            VariableDeclaratorSyntax v => v.Initializer?.Value,
            PropertyDeclarationSyntax p => p.Initializer?.Value,
            _ => null,
        }).FirstOrDefault(v => v is not null);
        if (initializer is null) return [];
        var value = _compilation.GetSemanticModel(initializer.SyntaxTree).GetOperation(initializer, _token);
        while (value is not null)
        {
            value = StripConversions(value);
            switch (value)
            {
                case IObjectCreationOperation { Arguments.Length: > 0 } creation when creation.Type is { } t && ModuleParser.IsParameter(t):
                    value = creation.Arguments[0].Value;
                    continue;
                case IInvocationOperation { Instance: { } instance } call when ShapeKeeping.Contains(call.TargetMethod.Name)
                                                                            && call.Arguments.All(a => a.Value.Type is null || !ModuleParser.IsTensor(a.Value.Type)):
                    value = instance;
                    continue;
                case IInvocationOperation { Instance: null } create when create.TargetMethod.ContainingType is { } owner && ModuleParser.IsExactlyTensor(owner)
                                                                        && ModuleParser.IsExactlyTensor(create.TargetMethod.ReturnType):
                    var shape = create.Arguments.FirstOrDefault(a => a.Parameter?.Name == "shape");
                    var sizes = new List<int>();
                    return shape is not null && Ints(shape.Value, sizes) && sizes.All(k => k >= 0) ? sizes.ToArray() : [];
                default:
                    return [];
            }
        }
        return [];
    }

    /// <summary>
    /// True for <c>child.Forward(…)</c> of a recurrent layer (RNN, LSTM, GRU: its row's family), whose result is the tuple
    /// (output, final states): the compiled program takes its output sequence.
    /// </summary>
    private bool RecurrentChildCall(InvocationExpressionSyntax call)
        => ReceiverChild(call) is { IsBuiltIn: true } child
           && OpCatalogue.ForLayer(child.Kind) is { Family: OpFamily.Recurrent or OpFamily.Attention };   // MultiheadAttention: (output, weights)

    /// <summary>
    /// <c>var (output, h) = gru.Forward(x);</c>, <c>var (y, (h, c)) = lstm.Forward(x, (h0, c0));</c> (or into existing locals,
    /// any element discarded): the output sequence is the layer's node, each final state a <see cref="GraphNode.StateOp"/>
    /// node reading it (a second result of the same node, [L·D, N, H]). <c>var (output, weights) = attn.Forward(q, k, v);</c>: the
    /// attention's weights a <see cref="GraphNode.WeightsOp"/> node reading it (<see cref="AttentionWeights"/>).
    /// </summary>
    private void Deconstruct(AssignmentExpressionSyntax assignment)
    {
        // var (values, indices) = x.Max(dim): the values node and the indices node (ArgMax) over the same input.
        if (assignment.Right is InvocationExpressionSyntax extreme && ExtremeCall(extreme) is { } extremeCall && TupleElements(assignment.Left) is [var v, var k])
        {
            int input = Expr(((MemberAccessExpressionSyntax)extreme.Expression).Expression);
            if (!IsDiscard(v)) Bind(assignment, v, ExtremeValues(extreme, extremeCall, input, indices: false, assignment));
            if (!IsDiscard(k)) Bind(assignment, k, ExtremeValues(extreme, extremeCall, input, indices: true, assignment));
            return;
        }
        if (assignment.Right is not InvocationExpressionSyntax call || !RecurrentChildCall(call))
        {
            throw Unsupported(assignment, "the deconstruction `" + Text(assignment) + "`", "deconstruct only the result of a recurrent layer's Forward (`var (output, h) = gru.Forward(x);`)");
        }
        var elements = TupleElements(assignment.Left);
        if (elements.Count != 2) throw Unsupported(assignment, "the deconstruction `" + Text(assignment) + "`", "deconstruct into (output, state)");
        var child = ChildOf(call);
        bool lstm = child.Kind == "LSTM", attention = OpCatalogue.ForLayer(child.Kind) is { Family: OpFamily.Attention };
        var states = new List<(SyntaxNode Element, int Item)>();
        if (!IsDiscard(elements[1]))
        {
            if (attention)
            {
                int attended = Invocation(call);
                Bind(assignment, elements[0], attended);
                Bind(assignment, elements[1], AttentionWeights(call, attended, elements[1], assignment));
                return;
            }
            if (!lstm) states.Add((elements[1], 1));
            else if (Nested(elements[1]) is [var h, var c]) states.AddRange([(h, 1), (c, 2)]);
            else throw Unsupported(assignment, "the state tuple of `" + Text(call) + "` kept whole", "deconstruct it: `var (output, (h, c)) = " + Text(call) + ";`");
        }
        int layer = Invocation(call);
        Bind(assignment, elements[0], layer);
        foreach (var (element, item) in states)
        {
            if (IsDiscard(element)) continue;
            var scalars = new[] { new ScalarArg("item", item, true, item == 1 ? "h_n" : "c_n") }.ToEquatableArray();
            Bind(assignment, element, Add(new GraphNode(NodeKind.Call, GraphNode.StateOp, new[] { layer }.ToEquatableArray(), child: _nodes[layer].Child,
                text: (item == 1 ? "h_n of " : "c_n of ") + Text(call), location: Where(element), inputTexts: new[] { Text(call) }.ToEquatableArray(), scalars: scalars)));
        }
    }

    /// <summary>
    /// A built-in child whose options are given by the module's constructor parameters (<see cref="ChildArg.Option"/>): with each
    /// option's test assumed (<see cref="BranchRegions"/>), the child as built with that value (a variant of its own name, added to
    /// the module's children, its path the child's); else a graph break naming the option, with <see cref="_undecided"/> its test,
    /// so the statement is compiled once per value.
    /// </summary>
    private ChildSpec Assumed(ChildSpec child, InvocationExpressionSyntax invocation, string? access = null)
    {
        // The built layer, as the runner reads it: a readonly field (`this.lstm`), or an item of a readonly array or list of
        // children (`((global::SharpGrad.Layers.LayerNorm)this.norms[1])`) or of a readonly Sequential (`this.body[1]`).
        access ??= child.ArrayMember is { } list ? IsFixedMember(list) ? ItemAccess(child.Kind, list, child.ArrayIndex) : null
            : child.Path == child.Name && IsFixedMember(child.Name) ? "this." + child.Name : null;
        var args = new List<ChildArg>();
        var label = new List<string>();
        foreach (var arg in child.Args)
        {
            if (arg.Option is null)
            {
                args.Add(arg);
                continue;
            }
            string test = access + "." + arg.Option;
            // A parameter that gives the same option of several children is one test (its value is the same in each). An item of a
            // list or Sequential may be replaced after the constructor: the runner checks it still agrees (SameOptionChecks).
            string source = arg.OptionSource + "." + arg.Option;
            if (_optionTests.TryGetValue(source, out var earlier))
            {
                if (access is not null && earlier != test && (access != "this." + child.Name || !earlier.StartsWith("this.", System.StringComparison.Ordinal))) _sameOption[test] = (earlier, child.Path);
                test = earlier;
            }
            if (access is null || ChildParser.RunTimeOption(child.Kind, arg.Name) is not { } option)
            {
                throw Unsupported(invocation, "the option `" + arg.Name + "` of '" + child.Name + "', given by a constructor parameter (not known at build time), of a layer that is not a readonly field of its own",
                    "declare the layer as a readonly field (or get-only property) so its built value is tested at run time, pass a constant, or build the module in a parent with a constant");
            }
            _optionTests[source] = test;
            if (arg.OptionSource is { } condition && Conditions.Atoms(condition) is not null && option.WhenTrue.String is null) _testConditions[test] = condition;
            bool known = _assumed.TryGetValue(test, out bool value);
            // In a block parsed for the values its parent's flags have (AssumedBlock): the option those values decide.
            if (!known && _given is not null && arg.OptionSource is { } givenBy && Decides(_given, givenBy) is bool given) (known, value) = (true, given);
            if (!known)
            {
                _options[test] = ChangesShapes(test) || option.ChangesShapes;
                _undecided = (test, Where(invocation));
                throw new UnsupportedException(new GraphIssue(DiagnosticDescriptors.GraphBreakId, Where(invocation),
                    "the option `" + arg.Name + "` of '" + child.Name + "', given by a constructor parameter (`" + test + "`, known only when the module is built)",
                    "pass a constant, or build the module in a parent with a constant; compiled on its own, a method takes one program per reachable combination of such options (and readonly-field tests), at most "
                    + MaxBranchPrograms.ToString(System.Globalization.CultureInfo.InvariantCulture) + " per group of regions (a layer whose option only picks its kernel, called in a statement of its own, is a group of its own)")
                { DependsOnArguments = true });
            }
            args.Add(value ? option.WhenTrue : option.WhenFalse);
            label.Add(arg.Name + "=" + (args[args.Count - 1].String ?? (value ? "true" : "false")));
        }
        string name = child.Name + "[" + string.Join(",", label) + "]";
        if (access != "this." + child.Name && child.ArrayMember is null) return child with { Name = name, Args = args.ToEquatableArray(), IsVariant = true };   // a Sequential's item (AssumedItems)
        // A list's item stays the list's: its variant is not one more item a foreach over the list would unroll (ArrayMember null).
        return Variant(child with { Name = name, Path = child.Path, Args = args.ToEquatableArray(), IsVariant = true, ArrayMember = null });
    }

    /// <summary>The variant child of that name already made, or <paramref name="variant"/>, added to the module's children.</summary>
    private ChildSpec Variant(ChildSpec variant)
    {
        if (_children.TryGetValue(variant.Name, out var known)) return known;
        _children[variant.Name] = variant;
        _variants.Add(variant);
        return variant;
    }

    /// <summary>How the runner reads item <paramref name="index"/> of a readonly list of children: <c>((global::SharpGrad.Layers.LayerNorm)this.norms[1])</c>.</summary>
    private static string ItemAccess(string kind, string member, int index)
        => "((global::SharpGrad.Layers." + kind + ")this." + member + "[" + index.ToString(System.Globalization.CultureInfo.InvariantCulture) + "])";

    /// <summary>
    /// A readonly Sequential child whose items have options given by the module's constructor parameters (<c>new Sequential(new
    /// Linear(d, d), new LayerNorm(d, elementwiseAffine: affine))</c>): each such item taken as built with the assumed values
    /// (<see cref="Assumed"/>, the runner reading <c>((LayerNorm)this.body[1]).ElementwiseAffine</c>), the Sequential a variant
    /// of its own name with those items.
    /// </summary>
    private ChildSpec AssumedItems(ChildSpec sequential, InvocationExpressionSyntax invocation)
    {
        if (sequential.ArrayMember is not null || sequential.Path != sequential.Name || !IsFixedMember(sequential.Name))
        {
            throw Unsupported(invocation, "the options of the items of '" + sequential.Name + "', given by a constructor parameter (not known at build time), in a Sequential that is not a readonly field of its own",
                "declare the Sequential as a readonly field (or get-only property) so its built items are tested at run time, pass constants, or build the module in a parent with constants");
        }
        var items = new List<ChildSpec>();
        var label = new List<string>();
        for (int k = 0; k < sequential.Items.Count; k++)
        {
            var item = sequential.Items[k];
            if (!item.IsBuiltIn || !item.Args.Any(a => a.Option is not null))
            {
                items.Add(item);
                continue;
            }
            var assumed = Assumed(item, invocation, ItemAccess(item.Kind, sequential.Name, k));
            items.Add(assumed with { Path = item.Path });   // named `1[elementwiseAffine=true]`, its state path `1` (Inliner.Chain)
            label.Add(assumed.Name);
        }
        return Variant(sequential with { Name = sequential.Name + "[" + string.Join(",", label) + "]", Path = sequential.Path, Items = items.ToEquatableArray(), IsVariant = true });
    }

    /// <summary>
    /// A user block this module builds with flags from its own constructor parameters (<c>block = new Block(d, affine)</c>,
    /// <see cref="ChildArg.Condition"/>): the block as parsed for the values this region has (<see cref="ChildSpec.Variants"/>, a variant
    /// <c>block[affine=true]</c> whose state path stays <c>block</c>). Each flag's value is the one the module's own given values decide (a
    /// block inside a block), else that of a test of a layer inside the block the flag builds (<c>…Submodule&lt;LayerNorm&gt;(this,
    /// "block.ln").ElementwiseAffine</c>, <see cref="ChildParser.InnerOptions"/>), compiled one region per value as <see cref="Assumed"/>
    /// does. A flag that builds no such layer leaves the block as parsed with the flag as a condition (sizes it chooses are symbols of
    /// their own); if that block does not compile whole, a graph break naming the flag.
    /// </summary>
    private ChildSpec AssumedBlock(ChildSpec child, InvocationExpressionSyntax invocation)
    {
        var values = new Dictionary<string, bool>(System.StringComparer.Ordinal);
        string? untested = null;
        foreach (var arg in child.Args)
        {
            if (arg is not { Condition: { } condition, IsKnown: false }) continue;
            if (_given is not null && Decides(_given, condition) is bool given)
            {
                values[arg.Name] = given;
                continue;
            }
            // A layer inside the block whose option the flag alone decides: its test reads the built layer by its state path.
            var inner = ChildParser.InnerOptions(child).FirstOrDefault(o => Decides([(o.Condition, true)], condition) is bool yes && Decides([(o.Condition, false)], condition) is bool no && yes != no);
            if (inner.Option is null)
            {
                untested ??= arg.Name;
                continue;
            }
            string test = Emit.EmitContext.Support + ".Submodule<global::SharpGrad.Layers." + inner.Kind + ">(this, \"" + child.Path + "." + inner.Path + "\")." + inner.Option;
            _testConditions[test] = inner.Condition;
            if (!_assumed.TryGetValue(test, out bool value))
            {
                _options[test] = ChangesShapes(test) || inner.ChangesShapes;
                _undecided = (test, Where(invocation));
                throw new UnsupportedException(new GraphIssue(DiagnosticDescriptors.GraphBreakId, Where(invocation),
                    "the child '" + child.Name + "', built with `" + arg.Name + "` from a constructor parameter (`" + condition + "`, known only when the module is built)",
                    "pass a constant, or build the module in a parent with a constant; compiled on its own, the block takes one program per reachable value, tested on its layer '"
                    + child.Path + "." + inner.Path + "', at most " + MaxBranchPrograms.ToString(System.Globalization.CultureInfo.InvariantCulture) + " per group of regions")
                { DependsOnArguments = true });
            }
            values[arg.Name] = Decides([(inner.Condition, value)], condition)!.Value;
        }
        if (untested is not null)
        {
            // The flag builds no layer option the runner can test: the block as parsed with it as a condition, when that compiles whole.
            if (values.Count == 0 && child.Instance is { IsCompilable: true } whole && whole.Methods.Any(m => m.Name == "Forward" && m.Output >= 0)) return child;
            throw Unsupported(invocation, "the child '" + child.Name + "', built with `" + untested + "` from a constructor parameter, which decides its Forward but builds no layer option in it that the compiled code can test at run time (a bias, affine, elementwise_affine, bidirectional, … of a layer the block builds with it)",
                "pass a constant, give the flag to a layer option inside the block, or build the module in a parent with a constant (the block is then compiled for that value)");
        }
        var variant = child.Variants.FirstOrDefault(v => v.Args.All(a => a.Condition is null || !values.TryGetValue(a.Name, out bool want) || a.Values.Count == 1 && (a.Values[0] != 0) == want));
        if (variant?.Instance is null)
        {
            throw Unsupported(invocation, "the child '" + child.Name + "', built with " + values.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)
                + " flags from constructor parameters (more than " + ChildParser.MaxPassedFlags.ToString(System.Globalization.CultureInfo.InvariantCulture) + ", or nested too deep, to compile per value)",
                "pass constants for some of them, or build the module in a parent with constants");
        }
        return Variant(variant with { Name = child.Name + variant.Name, Path = child.Path });
    }

    /// <summary>True for a readonly field or get-only property of the module (or its [Module] bases): the layer the constructor built stays.</summary>
    private bool IsFixedMember(string name)
        => ConstructorEvaluator.WithModuleBases(_type).SelectMany(t => t.GetMembers(name))
            .Any(s => s is IFieldSymbol { IsStatic: false, IsReadOnly: true } or IPropertySymbol { IsStatic: false, SetMethod: null });

    /// <summary>The built-in child whose Forward <paramref name="call"/> is (one <see cref="RecurrentChildCall"/> accepted).</summary>
    private ChildSpec ChildOf(InvocationExpressionSyntax call) => ReceiverChild(call)!;

    /// <summary>
    /// The weights a MultiheadAttention call returns (its node <paramref name="layer"/>): a <see cref="GraphNode.WeightsOp"/> node reading
    /// the layer's node, its scalar <c>average</c> the call's constant <c>averageAttnWeights</c> (true by default). With
    /// <c>needWeights: false</c> eager returns null weights: a break naming the call.
    /// </summary>
    private int AttentionWeights(InvocationExpressionSyntax call, int layer, SyntaxNode element, SyntaxNode at)
    {
        var node = _nodes[layer];
        double Flag(string name) => node.Scalar(name) is { } slot ? _nodes[node.Inputs[(int)slot.Value]].Value : 1;
        if (Flag("needWeights") == 0)
        {
            throw Unsupported(at, "the attention weights of `" + Text(call) + "`, which are null (needWeights: false)",
                "pass needWeights: true (the default) to take the weights, or discard them (`var (output, _) = …`)");
        }
        bool average = Flag("averageAttnWeights") != 0;
        var scalars = new[] { new ScalarArg("average", average ? 1 : 0, true, average ? "averaged over the heads" : "per head") }.ToEquatableArray();
        return Add(new GraphNode(NodeKind.Call, GraphNode.WeightsOp, new[] { layer }.ToEquatableArray(), child: node.Child,
            text: "the attention weights of " + Text(call), location: Where(element), inputTexts: new[] { Text(call) }.ToEquatableArray(), scalars: scalars));
    }

    /// <summary>The elements of a nested tuple element (<c>(h, c)</c>), or null.</summary>
    private static List<SyntaxNode>? Nested(SyntaxNode element) => element switch
    {
        ParenthesizedVariableDesignationSyntax p => p.Variables.Cast<SyntaxNode>().ToList(),
        DeclarationExpressionSyntax { Designation: ParenthesizedVariableDesignationSyntax p } => p.Variables.Cast<SyntaxNode>().ToList(),
        TupleExpressionSyntax t => t.Arguments.Select(a => (SyntaxNode)a.Expression).ToList(),
        _ => null,
    };

    /// <summary>Binds a deconstruction's element (a new local, or an existing tensor local) to <paramref name="value"/>; discards are skipped.</summary>
    private void Bind(AssignmentExpressionSyntax assignment, SyntaxNode element, int value)
    {
        if (IsDiscard(element)) return;
        ISymbol? target = element switch
        {
            SingleVariableDesignationSyntax v => _model.GetDeclaredSymbol(v, _token),
            DeclarationExpressionSyntax { Designation: SingleVariableDesignationSyntax v } => _model.GetDeclaredSymbol(v, _token),
            ExpressionSyntax e => _model.GetSymbolInfo(e, _token).Symbol is { } s && (_env.ContainsKey(s) || (_regionMode && IsTensorLocal(s))) ? s : null,
            _ => null,
        };
        if (target is null) throw Unsupported(assignment, "the deconstruction `" + Text(assignment) + "`", "deconstruct into new locals: `var (output, h) = …;`");
        _env[target] = value;
    }

    /// <summary>The top-level elements of a deconstruction's left side (designations or expressions).</summary>
    private static List<SyntaxNode> TupleElements(ExpressionSyntax left) => left switch
    {
        DeclarationExpressionSyntax { Designation: ParenthesizedVariableDesignationSyntax p } => p.Variables.Cast<SyntaxNode>().ToList(),
        TupleExpressionSyntax t => t.Arguments.Select(a => (SyntaxNode)a.Expression).ToList(),
        _ => new List<SyntaxNode>(),
    };

    /// <summary>A discard (<c>_</c>, <c>var _</c>), or a tuple of discards (<c>(_, _)</c>).</summary>
    private bool IsDiscard(SyntaxNode element) => element switch
    {
        DiscardDesignationSyntax => true,
        ParenthesizedVariableDesignationSyntax p => p.Variables.All(IsDiscard),
        DeclarationExpressionSyntax d => IsDiscard(d.Designation),
        TupleExpressionSyntax t => t.Arguments.All(a => IsDiscard(a.Expression)),
        IdentifierNameSyntax { Identifier.ValueText: "_" } id => _model.GetSymbolInfo(id, _token).Symbol is null or IDiscardSymbol,
        _ => false,
    };

    /// <summary><c>x.Max(dim)</c> / <c>x.Min(dim)</c> on a tensor (the (Values, Indices) tuple), or null.</summary>
    private IInvocationOperation? ExtremeCall(InvocationExpressionSyntax extreme, bool arg = false)
        => extreme.Expression is MemberAccessExpressionSyntax
           && _model.GetOperation(extreme, _token) is IInvocationOperation { Instance: { } } call
           && (arg ? call.TargetMethod.Name is "ArgMax" or "ArgMin" : call.TargetMethod.Name is "Max" or "Min" && call.Arguments.Length > 0)
           && ModuleParser.IsTensor(call.TargetMethod.ContainingType) ? call : null;

    /// <summary>
    /// <c>x.Max(dim, keepDim).Values</c> (or Min): a reduction node MaxDim/MinDim with the dim as its IntArg and keepDim as its
    /// Flag; <c>.Indices</c>: the node ArgMax/ArgMin of the same arguments (int64, the catalogue's row of the indices).
    /// </summary>
    private int ExtremeValues(InvocationExpressionSyntax extreme, IInvocationOperation call, int input, bool indices, SyntaxNode at)
    {
        var receiver = ((MemberAccessExpressionSyntax)extreme.Expression).Expression;
        var ints = new List<int>();
        bool keepDim = false;
        bool arg = call.TargetMethod.Name.StartsWith("Arg", System.StringComparison.Ordinal);
        foreach (var argument in call.Arguments)
        {
            if (argument.Parameter?.Name == "keepDim")
            {
                keepDim = argument.Value.ConstantValue is { HasValue: true, Value: true };
                continue;
            }
            // ArgMax() / ArgMax(null): of the flattened tensor, no dim.
            if (arg && (argument.ArgumentKind == ArgumentKind.DefaultValue || argument.Value.ConstantValue is { HasValue: true, Value: null })) continue;
            if (!Ints(argument.Value, ints))
            {
                throw Unsupported(argument.Syntax, "the non-constant argument `" + Text(argument.Syntax) + "`", "pass a constant dim (it decides the shape of the graph)");
            }
        }
        if (ints.Count != 1 && !(arg && ints.Count == 0))
        {
            throw Unsupported(extreme, "`" + Text(extreme) + "` without a dim", "use Max(dim).Values, or Max() for the scalar maximum in eager mode");
        }
        var scalars = new List<ScalarArg> { new("keepDim", keepDim ? 1 : 0, true, "") };
        if (ints.Count == 1) scalars.Insert(0, new ScalarArg("dim", ints[0], true, Text(call.Arguments[0].Syntax)) { Ints = ints.ToEquatableArray() });
        string op = arg ? call.TargetMethod.Name : indices ? "Arg" + call.TargetMethod.Name : call.TargetMethod.Name + "Dim";
        string text = at is AssignmentExpressionSyntax ? Text(extreme) + (indices ? ".Indices" : ".Values") : Text(at);
        return Add(new GraphNode(NodeKind.Reduce, op, new[] { input }.ToEquatableArray(), ints.ToEquatableArray(), flag: keepDim,
            text: text, location: Where(at), inputTexts: new[] { Text(receiver) }.ToEquatableArray(), scalars: scalars.ToEquatableArray()));
    }

    private int Invocation(InvocationExpressionSyntax invocation)
    {
        // child.Forward(x) of a [Sequential] (or [Module]) child whose Forward this generator writes: it does not bind
        // while generating, but the child is known, so it is a child call all the same.
        if (_model.GetSymbolInfo(invocation, _token).Symbol is null
            && ReceiverChild(invocation) is { } unboundChild
            && invocation.ArgumentList.Arguments.All(a => a.NameColon is null && a.RefKindKeyword.IsKind(SyntaxKind.None)))
        {
            var argSyntax = invocation.ArgumentList.Arguments.Select(a => a.Expression).ToArray();
            var (kind, op, childInts) = ChildRule(unboundChild);
            return Add(new GraphNode(kind, op, argSyntax.Select(Expr).ToEquatableArray(), childInts, child: unboundChild.Name, text: Text(invocation),
                location: Where(invocation), inputTexts: argSyntax.Select(a => Text(a)).ToEquatableArray()));
        }

        var operation = _model.GetOperation(invocation, _token) as IInvocationOperation;
        var method = operation?.TargetMethod;
        if (operation is null || method is null)
        {
            throw Unsupported(invocation, "the call `" + Text(invocation) + "`, which does not bind", "fix the call");
        }

        // child.Forward(x), layers[0].Forward(x) (an item of an array or a ModuleList of children), or item.Forward(x) for the
        // variable of an unrolled foreach over one
        ChildSpec? child = method.Name == "Forward" ? ReceiverChild(invocation) : null;
        if (child is { IsBuiltIn: true } && ChildParser.IsComposedKind(child.Kind))
        {
            // encoder.Forward(x, srcKeyPaddingMask: mask) of a TransformerEncoder: its own compiled program (its Compile()), called by
            // the region runner (ComposedStatement) when the call is a statement of its own; not part of a region.
            throw new UnsupportedException(new GraphIssue(DiagnosticDescriptors.GraphBreakId, Where(invocation),
                "the call of '" + child.Name + "' (a " + child.Kind + ", which runs its own compiled program) inside `" + Text(invocation.Parent ?? invocation) + "`",
                "write the call as a statement of its own (`var h = " + child.Name + ".Forward(…);`): the stack's own program (its Compile()) then runs it, and the code around it is compiled")
            {
                ElementList = child.Name,
            });
        }
        if (child is { IsBuiltIn: true } && child.Args.Any(a => a.Option is not null)) child = Assumed(child, invocation);
        if (child is { IsStaticSequential: true } && child.Items.Any(item => item.IsBuiltIn && item.Args.Any(a => a.Option is not null))) child = AssumedItems(child, invocation);
        if (child is { IsBuiltIn: false } && child.Args.Any(a => a is { Condition: not null, IsKnown: false })) child = AssumedBlock(child, invocation);
        if (child is not null)
        {
            var argSyntax = ArgumentExpressions(operation, skipAbsent: child.IsBuiltIn);
            if (child.IsBuiltIn && OpCatalogue.ForLayer(child.Kind) is { } layerRow && Rules.RuleSet.Unsupported(child, layerRow, argSyntax.Length) is { } reason)
            {
                throw Unsupported(invocation, reason + " in `" + Text(invocation) + "`", "construct and call the layer as docs/compiler.md's layer table says, or run it eagerly");
            }
            // Which parameter each input binds (a layer's optional masks may be given by name: `srcKeyPaddingMask: mask`); a
            // constant flag of the call (MultiheadAttention's `needWeights: false`) is a constant input.
            // A tuple argument (LSTM's `(h0, c0)`) gives one input per element, its slot named `hx.0`, `hx.1`.
            // A built-in layer's inputs are slots named by parameter: a literal null there (`attn.Forward(x, x, x, null)`) is the input left out.
            var given = operation.Arguments.Where(a => a.ArgumentKind != ArgumentKind.DefaultValue && !(child.IsBuiltIn && IsAbsent(a))).OrderBy(a => a.Parameter?.Ordinal ?? 0).ToList();
            var args = new List<int>();
            var slotList = new List<ScalarArg>();
            var argTexts = new List<string>();
            foreach (var a in given)
            {
                var expression = ((ArgumentSyntax)a.Syntax).Expression;
                string name = a.Parameter?.Name ?? "";
                if (a.Value.ConstantValue is { HasValue: true, Value: bool flag })
                {
                    args.Add(Add(new GraphNode(NodeKind.Constant, "Constant", default, value: flag ? 1 : 0, text: Text(a.Syntax), location: Where(a.Syntax))));
                    slotList.Add(new ScalarArg(name, args.Count - 1, true, Text(a.Syntax)));
                    argTexts.Add(Text(expression));
                    continue;
                }
                var elements = expression is TupleExpressionSyntax tuple ? tuple.Arguments.Select(e => e.Expression).ToList() : new List<ExpressionSyntax> { expression };
                for (int e = 0; e < elements.Count; e++)
                {
                    args.Add(Expr(elements[e]));
                    string slot = expression is TupleExpressionSyntax ? name + "." + e.ToString(System.Globalization.CultureInfo.InvariantCulture) : name;
                    slotList.Add(new ScalarArg(slot, args.Count - 1, true, Text(elements[e])));
                    argTexts.Add(Text(elements[e]));
                }
            }
            var (kind, op, childInts) = ChildRule(child);
            return Add(new GraphNode(kind, op, args.ToEquatableArray(), childInts, child: child.Name, text: Text(invocation), location: Where(invocation),
                inputTexts: argTexts.ToEquatableArray(), scalars: slotList.ToEquatableArray()));
        }

        // this.Forward(x) from a [Compiled] method: a call of another parsed method of the same module.
        if (SymbolEqualityComparer.Default.Equals(method.ContainingType, _type)
            && (ModuleParser.IsForwardCandidate(method) || ModuleParser.HasAttribute(method, CompiledAttributeName))
            && invocation.Expression is IdentifierNameSyntax or MemberAccessExpressionSyntax { Expression: ThisExpressionSyntax })
        {
            var selfArgs = ArgumentExpressions(operation);
            return Add(new GraphNode(NodeKind.Call, method.Name, selfArgs.Select(Expr).ToEquatableArray(), child: "this",
                text: Text(invocation), location: Where(invocation), inputTexts: selfArgs.Select(a => Text(a)).ToEquatableArray()));
        }

        string container = method.ContainingType?.Name ?? "";
        bool inSharpGrad = method.ContainingType?.ContainingNamespace?.ToDisplayString() == "SharpGrad";
        if (invocation.Expression is MemberAccessExpressionSyntax { Expression: var castItem } && UntypedListItem(castItem) is { } untyped)
        {
            // foreach (var b in blocks) x = ((Block)b).Forward(x) over an untyped ModuleList: the items' type is the fix.
            throw Unsupported(invocation, "the call `" + Text(invocation) + "` on an item of the untyped ModuleList '" + untyped.List + "' cast to " + untyped.Type,
                "declare `ModuleList<" + untyped.Type + "> " + untyped.List + "` (PyTorch's nn.ModuleList, typed) so its items are " + untyped.Type + " without a cast; the loop over it is then unrolled");
        }
        if (!inSharpGrad || container is not ("Tensor" or "Functional" or "Losses"))
        {
            throw Unsupported(invocation, "the call to `" + (method.ContainingType?.Name ?? "?") + "." + method.Name + "`, which SharpGrad cannot see into",
                "call Functional, Losses or tensor methods, or a child's Forward; move other code out of the method");
        }

        // Operands: the receiver (tensor methods) and every tensor argument; the rest must be constants.
        var tensors = new List<int>();
        var texts = new List<string>();
        if (!method.IsStatic && invocation.Expression is MemberAccessExpressionSyntax receiver)
        {
            tensors.Add(Expr(receiver.Expression));
            texts.Add(Text(receiver.Expression));
        }
        var ints = new List<int>();
        var scalars = new List<ScalarArg>();
        var omitted = new List<string>();
        bool keepDim = false;
        foreach (var argument in operation.Arguments.OrderBy(a => a.Parameter?.Ordinal ?? 0))
        {
            if (argument.Parameter is { } sp && !ModuleParser.IsTensor(sp.Type) && !IsTensorList(sp.Type))
            {
                var scalar = Scalar(argument);
                var listed = new List<int>();
                if (ShapeInts(argument.Value, listed)) scalar = scalar with { Ints = listed.ToEquatableArray() };
                scalars.Add(scalar);
            }
            var parameterType = argument.Parameter?.Type;
            if (parameterType is not null && IsTensorList(parameterType))
            {
                // Tensor.Cat([a, b], 1), Tensor.Stack(new[] { a, b }): each listed tensor is an operand.
                var listed = Elements(StripConversions(argument.Value));
                if (listed is null)
                {
                    throw Unsupported(argument.Syntax, "the tensor list `" + Text(argument.Syntax) + "`", "list the tensors in the call (`Tensor.Cat([a, b], 1)`)");
                }
                foreach (var element in listed)
                {
                    var elementSyntax = (ExpressionSyntax)StripConversions(element).Syntax;
                    tensors.Add(Expr(elementSyntax));
                    texts.Add(Text(elementSyntax));
                }
                continue;
            }
            if (parameterType is not null && ModuleParser.IsTensor(parameterType))
            {
                if (argument.ArgumentKind == ArgumentKind.DefaultValue)
                {
                    omitted.Add(argument.Parameter!.Name);   // GroupNorm(x, 2, w): the bias left out (told apart from the weight)
                    continue;
                }
                if (IsAbsent(argument))
                {
                    // Functional.Conv2d(x, w, null): null is what leaving the argument out passes, when no tensor follows it (the
                    // tensors are the op's operands in order: a null before a given one would shift them, unless the op's rule
                    // tells them apart by the names left out: OpRow.TensorsByName, Functional.BatchNorm(x, null, null, w, b)).
                    if (!(container == "Functional" && OpCatalogue.Find(method.Name) is { TensorsByName: true })
                        && operation.Arguments.Any(a => a.Parameter is { } later && later.Ordinal > argument.Parameter!.Ordinal && ModuleParser.IsTensor(later.Type)
                                                     && a.ArgumentKind != ArgumentKind.DefaultValue && !IsAbsent(a)))
                    {
                        throw Unsupported(argument.Syntax, "the `null` argument `" + Text(argument.Syntax) + "` before a tensor argument of `" + Text(invocation) + "`",
                            "leave it out and pass the tensors after it by name, or pass a tensor");
                    }
                    omitted.Add(argument.Parameter!.Name);
                    continue;
                }
                if (argument.Syntax is not ArgumentSyntax { Expression: var tensorArgument })
                {
                    throw Unsupported(invocation, "a params argument list in `" + Text(invocation) + "`", "pass the tensors one by one");
                }
                tensors.Add(Expr(tensorArgument));
                texts.Add(Text(tensorArgument));
                continue;
            }
            if (argument.Parameter?.Name == "keepDim")
            {
                keepDim = argument.Value.ConstantValue is { HasValue: true, Value: true };
                continue;
            }
            if (!ShapeInts(argument.Value, ints) && IsShapeArgument(method.Name, argument.Parameter?.Name))
            {
                var offending = Offending(argument.Value) ?? argument.Syntax;   // the element of a params array, not the whole call
                throw Unsupported(offending, "the non-constant argument `" + Text(offending) + "`",
                    "pass a constant (its value decides the shape of the graph); the batch size may be read as `x.Shape[0]` or `x.Size(0)`");
            }
        }

        var (nodeKind, opName) = OpRule(method, container, tensors.Count);
        if (nodeKind is null)
        {
            throw Unsupported(invocation, "`" + container + "." + method.Name + "`, which the compiler does not know yet", "write it with the ops the compiler knows (docs/compiler.md, static subset)");
        }
        if (nodeKind == NodeKind.Data)
        {
            // A data op's generated call needs each argument at run time: a constant, an int list, or the module's own field.
            foreach (var scalar in scalars)
            {
                if (scalar.Text.Length == 0 || scalar.IsKnown || scalar.Member is not null || !scalar.Ints.IsEmpty) continue;
                var offending = operation.Arguments.FirstOrDefault(a => a.Parameter?.Name == scalar.Name)?.Syntax ?? invocation;
                throw Unsupported(offending, "the argument `" + Text(offending) + "` of `" + Text(invocation) + "`, which is neither a constant nor a field of the module",
                    "pass a constant, or keep the value in a field or property of the module");
            }
        }
        if (omitted.Count > 0) scalars.Add(new ScalarArg(GraphNode.OmittedTensors, 0, true, "") { String = string.Join(",", omitted) });
        var intArgs = nodeKind is NodeKind.Movement or NodeKind.Reduce ? ints.ToEquatableArray() : default;
        return Add(new GraphNode(nodeKind.Value, opName, tensors.ToEquatableArray(), intArgs, flag: keepDim, text: Text(invocation), location: Where(invocation),
            inputTexts: texts.ToEquatableArray(), scalars: scalars.ToEquatableArray()));
    }

    /// <summary>
    /// A literal <c>null</c> (or <c>default</c>) passed for a tensor parameter that takes one (nullable, or optional with null as
    /// its default): the same as leaving the argument out.
    /// </summary>
    private static bool IsAbsent(IArgumentOperation argument)
    {
        if (argument.ArgumentKind == ArgumentKind.DefaultValue || argument.Parameter is not { } parameter) return false;
        var value = StripConversions(argument.Value);
        bool isNull = value is IDefaultValueOperation || value.ConstantValue is { HasValue: true, Value: null } || argument.Value.ConstantValue is { HasValue: true, Value: null };
        bool takesNull = parameter.NullableAnnotation == NullableAnnotation.Annotated || parameter.HasExplicitDefaultValue && parameter.ExplicitDefaultValue is null;
        return isNull && takesNull;
    }

    /// <summary>A non-tensor argument as data: its constant value (number, enum, bool) when it has one.</summary>
    private static ScalarArg Scalar(IArgumentOperation argument)
    {
        var value = argument.Value;
        while (value is IConversionOperation conversion && !value.ConstantValue.HasValue) value = conversion.Operand;
        string text = argument.ArgumentKind == ArgumentKind.DefaultValue ? "" : Text(argument.Syntax);
        double? number = value.ConstantValue is { HasValue: true, Value: var c } ? c switch
        {
            int i => i, long l => l, float f => f, double d => d, bool b => b ? 1 : 0, short h => h, byte y => y,
            _ => null,
        } : null;
        string? str = value.ConstantValue is { HasValue: true, Value: string s } ? s : null;
        // A field or property of the module itself (`pad`, `this.pad`): a data op reads it at run time.
        string? member = value switch
        {
            IFieldReferenceOperation { Instance: IInstanceReferenceOperation, Field: var f } => f.Name,
            IPropertyReferenceOperation { Instance: IInstanceReferenceOperation, Property: { Parameters.Length: 0 } p } => p.Name,
            _ => null,
        };
        return new ScalarArg(argument.Parameter!.Name, number ?? 0, number.HasValue || str is not null, text)
        {
            String = str, Member = number.HasValue || str is not null ? null : member,
            Type = argument.Parameter.Type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat),
        };
    }

    /// <summary>The written argument expressions of a call in parameter order; a default or params argument stops the graph.</summary>
    private ExpressionSyntax[] ArgumentExpressions(IInvocationOperation operation, bool skipAbsent = false)
    {
        var result = new List<ExpressionSyntax>();
        foreach (var argument in operation.Arguments.OrderBy(a => a.Parameter?.Ordinal ?? 0))
        {
            if (argument.ArgumentKind == ArgumentKind.DefaultValue || skipAbsent && IsAbsent(argument)) continue;
            if (argument.Syntax is not ArgumentSyntax { Expression: var expression })
            {
                throw Unsupported(operation.Syntax, "a params argument list in `" + Text(operation.Syntax) + "`", "pass the tensors one by one");
            }
            result.Add(expression);
        }
        return result.ToArray();
    }

    /// <summary>
    /// Like <see cref="Ints"/>, but a read of the batch size at run time (<c>x.Shape[0]</c>, <c>x.Size(0)</c>, or an
    /// <c>int</c> local holding one) becomes <see cref="GraphNode.BatchDim"/>.
    /// </summary>
    private bool ShapeInts(IOperation value, List<int> into)
    {
        while (value is IConversionOperation conversion && !value.ConstantValue.HasValue) value = conversion.Operand;
        if (SizeReadCode(value) is { } code)
        {
            into.Add(code);
            return true;
        }
        if (value is ILocalReferenceOperation { Local: var local } && _intEnv.TryGetValue(local, out int known))
        {
            into.Add(known);
            return true;
        }
        if (value is ILocalReferenceOperation { Local: var read } && _regionMode && EarlierSizeRead(read) is { } again && SizeReadCode(again) is { } reread)
        {
            // int t = tokens.Size(1) run by eager code before this region (a guard after it reads t): the region reads the size again.
            into.Add(reread);
            return true;
        }
        if (value.ConstantValue.HasValue) return Ints(value, into);
        if (Elements(value) is not { } elements) return false;
        foreach (var e in elements)
        {
            if (!ShapeInts(e, into)) return false;
        }
        return true;
    }

    /// <summary>The syntax of the first element of a (params) array argument that is neither a constant nor a batch read.</summary>
    private SyntaxNode? Offending(IOperation value)
    {
        while (value is IConversionOperation conversion && !value.ConstantValue.HasValue) value = conversion.Operand;
        IEnumerable<IOperation>? elements = value switch
        {
            IArrayCreationOperation { Initializer: { } init } => init.ElementValues,
            ICollectionExpressionOperation collection => collection.Elements,
            ITupleOperation tuple => tuple.Elements,
            _ => null,
        };
        if (elements is null) return value.Syntax;
        foreach (var e in elements)
        {
            if (!ShapeInts(e, new List<int>())) return Offending(e);
        }
        return null;
    }

    /// <summary>
    /// <c>t.Shape[k]</c> or <c>t.Size(k)</c> (k constant) of a tensor local or parameter of the graph: for k = 0 the batch
    /// size (<see cref="GraphNode.BatchDim"/>), else a size read at run time (<see cref="ShapeRules.SizeRead"/> of t's node),
    /// which shape inference resolves to t's dim (a sequence length <c>T</c>); null for anything else.
    /// </summary>
    private int? SizeReadCode(IOperation value)
    {
        while (value is IConversionOperation conversion) value = conversion.Operand;
        (IOperation? tensor, IOperation? index) = value switch
        {
            IArrayElementReferenceOperation { ArrayReference: IPropertyReferenceOperation { Property.Name: "Shape", Instance: { } instance }, Indices: [var k] } => (instance, k),
            IInvocationOperation { TargetMethod.Name: "Size", Instance: { } instance, Arguments: [var k] } => (instance, k.Value),
            _ => (null, null),
        };
        if (tensor?.Type is not { } type || !ModuleParser.IsExactlyTensor(type) || index?.ConstantValue is not { HasValue: true, Value: int dim } || dim < -32 || dim > 31
            || tensor is not (IParameterReferenceOperation or ILocalReferenceOperation) || _model.GetSymbolInfo(tensor.Syntax, _token).Symbol is not { } symbol)
        {
            return null;
        }
        if (!_env.TryGetValue(symbol, out int node))
        {
            if (dim == 0 || !_regionMode || !IsTensorLocal(symbol) || _eager.Contains(symbol)) return null;
            node = RegionInput(symbol);
        }
        return dim == 0 ? GraphNode.BatchDim : ShapeRules.SizeRead(node, dim);
    }

    /// <summary>
    /// The initial value of <paramref name="local"/> when it is an int declared once as a size read of a tensor parameter or
    /// local (<c>int t = tokens.Size(1);</c>, <c>x.Shape[1]</c>) and neither it nor that tensor is ever assigned again in the
    /// method: reading the size again anywhere after the declaration gives the same number. Null for anything else.
    /// </summary>
    private IOperation? EarlierSizeRead(ILocalSymbol local)
    {
        if (local.Type.SpecialType != SpecialType.System_Int32 || local.IsConst
            || local.DeclaringSyntaxReferences is not [var reference] || reference.GetSyntax(_token) is not VariableDeclaratorSyntax { Initializer.Value: { } init } declarator
            || declarator.Parent?.Parent is not LocalDeclarationStatementSyntax
            || declarator.FirstAncestorOrSelf<MemberDeclarationSyntax>() is not { } member) return null;
        var size = _model.GetOperation(init, _token);
        while (size is IConversionOperation conversion) size = conversion.Operand;
        var tensor = size switch
        {
            IArrayElementReferenceOperation { ArrayReference: IPropertyReferenceOperation { Property.Name: "Shape", Instance: { } instance } } => instance,
            IInvocationOperation { TargetMethod.Name: "Size", Instance: { } instance, Arguments: [_] } => instance,
            _ => null,
        };
        ISymbol? source = tensor switch
        {
            IParameterReferenceOperation p => p.Parameter,
            ILocalReferenceOperation l => l.Local,
            _ => null,
        };
        if (size is null || source is null || AssignedIn(member, local) || AssignedIn(member, source)) return null;
        return size;
    }

    /// <summary>True when <paramref name="symbol"/> is assigned in <paramref name="member"/> other than where it is declared (=, op=, ++/--, ref/out).</summary>
    private bool AssignedIn(SyntaxNode member, ISymbol symbol)
    {
        foreach (var name in member.DescendantNodes().OfType<IdentifierNameSyntax>())
        {
            if (name.Identifier.ValueText != symbol.Name || !SymbolEqualityComparer.Default.Equals(_model.GetSymbolInfo(name, _token).Symbol, symbol)) continue;
            var parent = name.Parent;
            if (parent is AssignmentExpressionSyntax assignment && assignment.Left == name) return true;
            if (parent is PrefixUnaryExpressionSyntax or PostfixUnaryExpressionSyntax && !parent.IsKind(SyntaxKind.UnaryMinusExpression) && !parent.IsKind(SyntaxKind.UnaryPlusExpression)
                && !parent.IsKind(SyntaxKind.LogicalNotExpression) && !parent.IsKind(SyntaxKind.BitwiseNotExpression)) return true;
            if (parent is ArgumentSyntax argument && !argument.RefKindKeyword.IsKind(SyntaxKind.None)) return true;
            if (parent is TupleExpressionSyntax or ArgumentSyntax { Parent: TupleExpressionSyntax } && name.Ancestors().OfType<AssignmentExpressionSyntax>().Any(a => a.Left.Span.Contains(name.Span))) return true;
        }
        return false;
    }

    private static bool IsShapeArgument(string method, string? parameter)
        => method is "View" or "Reshape" or "Permute" or "Transpose" or "Flatten" or "Unsqueeze" or "Squeeze" or "Sum" or "Mean"
               or "Narrow" or "Slice" or "Select" or "Chunk" or "Split" or "Unbind" or "Cat" or "Stack"
           && parameter is not null;

    /// <summary>A list of tensors (<c>IReadOnlyList&lt;Tensor&gt;</c>, <c>Tensor[]</c>): Cat's and Stack's operands.</summary>
    private static bool IsTensorList(ITypeSymbol type) => type switch
    {
        IArrayTypeSymbol array => ModuleParser.IsExactlyTensor(array.ElementType),
        INamedTypeSymbol { TypeArguments.Length: 1 } named => ModuleParser.IsExactlyTensor(named.TypeArguments[0]),
        _ => false,
    };

    private static IOperation StripConversions(IOperation value)
    {
        while (value is IConversionOperation conversion) value = conversion.Operand;
        return value;
    }

    /// <summary>
    /// Part <paramref name="item"/> of a Chunk/Split/Unbind node (<c>x.Chunk(2, 1)[0]</c>, <c>parts[1]</c>, or a variable of
    /// <c>var (a, b) = x.Chunk(2, 1)</c>): the same op with the part's index as its <c>item</c> argument; its shape rule
    /// reads the part's window.
    /// </summary>
    private int Part(int parts, int item, SyntaxNode syntax)
    {
        var node = _nodes[parts];
        if (OpCatalogue.Find(node.Op) is not { Outputs: ["parts"] })
        {
            throw Unsupported(syntax, "an element of `" + node.Text + "`", "index only the parts of Chunk, Split or Unbind");
        }
        var scalars = node.Scalars.Concat(new[] { new ScalarArg("item", item, true, item.ToString(System.Globalization.CultureInfo.InvariantCulture)) });
        return Add(new GraphNode(node.Kind, node.Op, node.Inputs, node.IntArgs, text: Text(syntax), location: Where(syntax), inputTexts: node.InputTexts,
            scalars: scalars.ToEquatableArray()));
    }

    /// <summary>The node kind of a catalogue row's family (null: the compiler has no node for it yet).</summary>
    internal static NodeKind? KindOf(OpRow row) => row.Family switch
    {
        OpFamily.Pointwise or OpFamily.Binary or OpFamily.Dropout or OpFamily.Softmax or OpFamily.Identity or OpFamily.Glu or OpFamily.Prelu
            or OpFamily.Mask or OpFamily.Where or OpFamily.ChannelDropout => NodeKind.Elementwise,
        OpFamily.Reduce or OpFamily.ReduceIndexed or OpFamily.Variance or OpFamily.ExtremeAll or OpFamily.ArgExtreme => NodeKind.Reduce,
        OpFamily.View or OpFamily.Permute or OpFamily.Slice or OpFamily.Concat => NodeKind.Movement,
        OpFamily.MatMul => NodeKind.MatMul,
        OpFamily.Linear => NodeKind.Linear,
        OpFamily.Conv or OpFamily.ConvTranspose => NodeKind.Conv,
        OpFamily.MaxPool or OpFamily.AvgPool or OpFamily.AdaptivePool or OpFamily.AdaptiveMaxPool or OpFamily.Resample or OpFamily.Pad => NodeKind.Pool,
        OpFamily.BatchNorm or OpFamily.LayerNorm or OpFamily.GroupNorm or OpFamily.RmsNorm => NodeKind.Norm,
        OpFamily.Embedding or OpFamily.Recurrent or OpFamily.TransformerLayer => NodeKind.Call,
        OpFamily.ClassIndexLoss or OpFamily.ElementwiseLoss => NodeKind.Loss,
        OpFamily.Composite when row.Surface == OpSurface.Losses => NodeKind.Loss,
        OpFamily.Data => NodeKind.Data,
        _ => null,
    };

    /// <summary>The rule for a SharpGrad method: its node kind and op (the catalogue row's name), or null kind when the catalogue has none.</summary>
    private static (NodeKind? Kind, string Op) OpRule(IMethodSymbol method, string container, int tensorCount)
    {
        var surface = container switch
        {
            "Tensor" => OpSurface.Tensor,
            "Functional" => OpSurface.Functional,
            _ => OpSurface.Losses,
        };
        var row = OpCatalogue.ForCall(surface, method.Name, tensorCount, p => method.Parameters.Any(q => q.Name == p));
        if (row is null || KindOf(row) is not { } kind) return (null, method.Name);
        return (kind, row.Name);
    }

    /// <summary>The node a child's Forward becomes: layers of the catalogue get their family's kind; anything else is a Call.</summary>
    internal static (NodeKind Kind, string Op, EquatableArray<int> Ints) ChildRule(ChildSpec child)
    {
        if (!child.IsBuiltIn || OpCatalogue.ForLayer(child.Kind) is not { } row) return (NodeKind.Call, child.Kind, default);
        // Loss modules stay calls (their options are not read into the IR yet).
        if (row.Surface == OpSurface.Losses || KindOf(row) is not { } kind) return (NodeKind.Call, child.Kind, default);
        if (row.Name == "Flatten") return (kind, "Flatten", new[] { child.Int("startDim") ?? 1, child.Int("endDim") ?? -1 }.ToEquatableArray());
        return (kind, child.Kind, default);
    }

    private static string? BinaryOp(SyntaxKind kind) => kind switch
    {
        SyntaxKind.AddExpression => "Add",
        SyntaxKind.SubtractExpression => "Sub",
        SyntaxKind.MultiplyExpression => "Mul",
        SyntaxKind.DivideExpression => "Div",
        _ => null,
    };

    private static GraphNode Elementwise(string op, SyntaxNode syntax, int left, int right, string leftText, string rightText)
        => new(NodeKind.Elementwise, op, new[] { left, right }.ToEquatableArray(), text: Text(syntax), location: Where(syntax),
            inputTexts: new[] { leftText, rightText }.ToEquatableArray());

    /// <summary>Appends the constant ints of an argument (an int, a bool, a params array or a collection expression).</summary>
    internal static bool Ints(IOperation value, List<int> into)
    {
        while (value is IConversionOperation conversion && !value.ConstantValue.HasValue) value = conversion.Operand;
        if (value.ConstantValue is { HasValue: true, Value: var c })
        {
            switch (c)
            {
                case int i: into.Add(i); return true;
                case bool b: into.Add(b ? 1 : 0); return true;
                default: return false;
            }
        }
        if (Elements(value) is not { } elements) return false;
        foreach (var e in elements)
        {
            if (!Ints(e, into)) return false;
        }
        return true;
    }

    /// <summary>The elements of an array creation, collection expression or tuple (a list of ints written in code), else null.</summary>
    private static IEnumerable<IOperation>? Elements(IOperation value) => value switch
    {
        IArrayCreationOperation { Initializer: { } init } => init.ElementValues,
        ICollectionExpressionOperation collection => collection.Elements,
        ITupleOperation tuple => tuple.Elements,
        _ => null,
    };

    private static double? ToDouble(object? value) => value switch
    {
        int i => i,
        long l => l,
        float f => f,
        double d => d,
        _ => null,
    };

    private static ITypeSymbol? SymbolType(ISymbol symbol) => symbol switch
    {
        IFieldSymbol f => f.Type,
        IPropertySymbol p => p.Type,
        _ => null,
    };

    private int Add(GraphNode node)
    {
        _nodes.Add(node);
        return _nodes.Count - 1;
    }

    private static LocationInfo? Where(SyntaxNode syntax) => LocationInfo.From(syntax.GetLocation());

    /// <summary>The source text of an expression on one line, shortened for messages.</summary>
    internal static string Text(SyntaxNode syntax)
    {
        var text = string.Join(" ", syntax.ToString().Split(new[] { ' ', '\n', '\r', '\t' }, System.StringSplitOptions.RemoveEmptyEntries));
        return text.Length <= 80 ? text : text.Substring(0, 77) + "...";
    }

    private static string Describe(StatementSyntax statement) => statement switch
    {
        ForEachStatementSyntax => "loop (foreach) over something other than a list of children known at build time",
        ForStatementSyntax => "loop whose count the build does not know (a for loop is unrolled from a constant to a constant, or to `list.Count` of a list of children known at build time)",
        WhileStatementSyntax or DoStatementSyntax => "loop",
        IfStatementSyntax => "condition other than `if (Training)`",
        _ => "statement `" + Text(statement) + "`",
    };

    private UnsupportedException Unsupported(SyntaxNode syntax, string what, string fix)
        => new(new GraphIssue(DiagnosticDescriptors.GraphBreakId, Where(syntax), what, fix));

    /// <summary>A graph break (<see cref="Issue"/>), or, with no issue, a read of a value an earlier break left eager.</summary>
    private sealed class UnsupportedException(GraphIssue? issue) : System.Exception(issue?.What ?? "after a graph break")
    {
        public GraphIssue? Issue { get; } = issue;
    }

    /// <summary>
    /// After a break in <paramref name="statement"/>: every local it declares or assigns holds an eager value from then
    /// on, so a later statement reading one is eager too (not a break of its own), while the other statements are still
    /// parsed and report their own breaks: all of a method's breaks in one build.
    /// </summary>
    private void MarkEager(StatementSyntax statement)
    {
        foreach (var node in statement.DescendantNodesAndSelf())
        {
            ISymbol? symbol = node switch
            {
                VariableDeclaratorSyntax v => _model.GetDeclaredSymbol(v, _token),
                SingleVariableDesignationSyntax d => _model.GetDeclaredSymbol(d, _token),   // var (y, (h, c)) = …
                AssignmentExpressionSyntax a => _model.GetSymbolInfo(a.Left, _token).Symbol,
                _ => null,
            };
            if (symbol is null) continue;
            _eager.Add(symbol);
            _env.Remove(symbol);
        }
    }

    /// <summary>
    /// True for the test of a layer option whose values give the layer's output another shape or layout (RNN/LSTM/GRU
    /// <c>bidirectional</c>: width H or 2·H; <c>batch_first</c> of any layer: the batch in dim 0 or 1): its regions run to the end of
    /// the method, since what follows the layer reads a value shaped by the variant. Any other option (<c>bias</c>,
    /// <c>elementwise_affine</c>, <c>norm_first</c>, <c>activation</c>, <c>nonlinearity</c>) only picks the layer's kernel: its
    /// regions end with the statement that calls the layer, so options called in statements of their own are compiled per
    /// statement (2 + 2 + … programs, not 2 · 2 · …; <see cref="BranchRegions"/>). The flag is ChildParser.RunTimeOption's.
    /// </summary>
    private bool ChangesShapes(string test) => _options.TryGetValue(test, out bool shapes) && shapes;

    /// <summary>
    /// The condition over the constructor's arguments of each readonly-field test assumed while a branch is parsed (<c>this.wide</c>
    /// with <c>wide = bidirectional</c> ⇒ <c>bidirectional</c>; <see cref="Decided"/>), for <see cref="ChosenSizes"/>. Unlike
    /// <see cref="_testConditions"/> it does not change the combinations compiled.
    /// </summary>
    private readonly Dictionary<string, string> _fieldConditions = new(System.StringComparer.Ordinal);

    /// <summary>
    /// The sizes a condition over the constructor's arguments chooses (<c>(bidirectional?2*hidden:hidden)</c>, <see cref="Conditions.Size"/>)
    /// that the region being parsed resolves: its assumed tests (layer options, <see cref="_testConditions"/>, and readonly fields,
    /// <see cref="_fieldConditions"/>) decide the condition, so the region takes the size as the one chosen, written over the other
    /// symbols (<c>(bidirectional?2*hidden:hidden)=2*hidden</c>, <see cref="GraphMethod.Equalities"/>): equal to the LSTM's
    /// <c>2*hidden</c> output, to a local <c>hidden + hidden</c>, summed with it, normalized by a LayerNorm built with it. The region
    /// checks the built layer that binds the size at its first call (<see cref="Planning.SizeSymbols.RequireChosen"/>).
    /// </summary>
    private IEnumerable<string> ChosenSizes()
    {
        var known = new List<(string Condition, bool Value)>();
        foreach (var test in _assumed)
        {
            if (_testConditions.TryGetValue(test.Key, out var condition) || _fieldConditions.TryGetValue(test.Key, out condition)) known.Add((condition, test.Value));
        }
        if (_given is not null) known.AddRange(_given);
        if (known.Count == 0) return [];
        var sizes = new SortedSet<string>(System.StringComparer.Ordinal);
        foreach (var child in _children.Values) ChosenSizesOf(child, sizes);
        var chosen = new List<string>();
        foreach (var size in sizes)
        {
            string resolved = Conditions.Resolve(size, c => Decides(known, c));
            if (resolved != size) chosen.Add(size + "=" + resolved);
        }
        return chosen;
    }

    /// <summary>The sizes a condition chooses among a child's (and its items') size arguments, nested ones included.</summary>
    private static void ChosenSizesOf(ChildSpec child, SortedSet<string> sizes)
    {
        foreach (var arg in child.Args)
        {
            if (arg.Symbol is { } symbol) ChosenSizesIn(symbol, sizes);
        }
        foreach (var item in child.Items) ChosenSizesOf(item, sizes);
        // A block built with a flag of this module's parameters: the sizes the flag chooses inside it (`new Linear(d, affine ? 2 * d : d)`).
        foreach (var inner in child.Instance?.Children ?? default) ChosenSizesOf(inner, sizes);
    }

    private static void ChosenSizesIn(string symbol, SortedSet<string> sizes)
    {
        if (!Dim.Term(symbol, out _, out string product)) return;
        foreach (var atom in Planning.SizeSymbols.Atoms(product))
        {
            if (Conditions.Split(atom) is not { } size || !sizes.Add(atom)) continue;
            ChosenSizesIn(size.WhenTrue, sizes);
            ChosenSizesIn(size.WhenFalse, sizes);
        }
    }

    /// <summary>
    /// The value of <paramref name="condition"/> under every assignment of the arguments that gives the assumed tests their values
    /// (<paramref name="known"/>), or null when those leave it open (or no assignment does, or too many atoms to enumerate).
    /// </summary>
    private static bool? Decides(List<(string Condition, bool Value)> known, string condition)
    {
        var atoms = new List<string>();
        foreach (var c in known.Select(k => k.Condition).Append(condition))
        {
            if (Conditions.Atoms(c) is not { } some) return null;
            foreach (var atom in some) if (!atoms.Contains(atom)) atoms.Add(atom);
        }
        if (atoms.Count > 16) return null;
        bool? value = null;
        for (int assignment = 0; assignment < 1 << atoms.Count; assignment++)
        {
            bool Atom(string a) => (assignment >> atoms.IndexOf(a) & 1) == 1;
            if (known.Any(k => Conditions.Evaluate(k.Condition, Atom) != k.Value)) continue;
            bool? here = Conditions.Evaluate(condition, Atom);
            if (here is null || value is { } before && before != here) return null;
            value = here;
        }
        return value;
    }

    /// <summary>
    /// The option tests of list or Sequential items that another child's test stands for (<see cref="Assumed"/>: items built from one
    /// constructor parameter share its test), by the item's own test: the test taken and the item's state path.
    /// </summary>
    private readonly Dictionary<string, (string Test, string Path)> _sameOption = new(System.StringComparer.Ordinal);

    /// <summary>
    /// <paramref name="branches"/> of tests <paramref name="flags"/>, after an eager check, when some item's option is taken from
    /// another child's test (<see cref="_sameOption"/>): the constructor built them alike, but a list's item may be replaced after it
    /// (<c>norms.Insert(1, new LayerNorm(d, elementwiseAffine: false))</c>), and a region compiled for the other value must not run
    /// on it. The check throws naming the item, the value it has and the test's; the region runs only on a module as it was built.
    /// </summary>
    private List<MethodSegment> SameOptionChecks(List<(string Text, LocationInfo? Where)> flags, List<MethodSegment> branches)
    {
        var checks = _sameOption.Where(p => flags.Any(f => f.Text == p.Value.Test)).OrderBy(p => p.Key, System.StringComparer.Ordinal).ToList();
        if (checks.Count == 0) return branches;
        string Literal(string text) => SymbolDisplay.FormatLiteral(text, quote: true);
        var code = checks.Select(p => "if ((" + p.Key + ") != (" + p.Value.Test + ")) throw new global::System.InvalidOperationException("
            + Literal("The compiled " + _type.Name + " tests `" + p.Value.Test + "` for its item '" + p.Value.Path + "' too (the constructor built them from one parameter), but '"
                      + p.Value.Path + "' now differs (`" + p.Key + "` is ") + " + (" + p.Key + ") + " + Literal("): it was replaced after the module was built. Build the module anew, or run it eagerly.") + ");");
        var check = new MethodSegment(null, string.Join("\n", code), "the check that the items built from one parameter still agree ("
            + string.Join(", ", checks.Select(p => p.Value.Path)) + ")");
        return new List<MethodSegment> { check }.Concat(branches).ToList();
    }

    /// <summary>
    /// The child whose <c>Forward</c> <paramref name="call"/> is (the one lookup, <see cref="Invocation"/>'s too): a field or property
    /// (<c>lstm.Forward(x)</c>), an item of a list of children (<c>layers[i].Forward(x)</c>), or the variable of an unrolled foreach
    /// over one (<c>foreach (var l in layers) h = l.Forward(h).Output;</c>); else null.
    /// </summary>
    private ChildSpec? ReceiverChild(InvocationExpressionSyntax call)
    {
        if (call.Expression is not MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Forward" } access) return null;
        if (access.Expression is ElementAccessExpressionSyntax indexed) return IndexedChild(indexed);
        return _model.GetSymbolInfo(access.Expression, _token).Symbol switch
        {
            (IFieldSymbol or IPropertySymbol) and var member => _children.TryGetValue(member.Name, out var child) ? child : null,
            { } variable when _loopChild.TryGetValue(variable, out var item) => item,
            _ => null,
        };
    }
}
