using System.Collections.Generic;
using System.Linq;

namespace SharpGrad.Generator.Model;

/// <summary>
/// The graph IR of one module: its children with their constant constructor arguments, and one graph per parsed
/// method (<c>Forward</c> and each <c>[Compiled]</c> method). Plain data with structural equality (cache boundary).
/// </summary>
/// <param name="Children">Child fields in declaration order.</param>
/// <param name="Methods">The parsed methods.</param>
/// <param name="NotCompilable">Why the module is outside the static subset (null when it is inside), with where.</param>
internal sealed record ModuleGraph(
    EquatableArray<ChildSpec> Children,
    EquatableArray<GraphMethod> Methods,
    EquatableArray<GraphIssue> NotCompilable)
{
    public bool IsCompilable => NotCompilable.IsEmpty;

    public ChildSpec? FindChild(string name)
    {
        foreach (var c in Children) if (c.Name == name) return c;
        return null;
    }
}

/// <summary>
/// A child field: its name, layer kind (<c>Linear</c>, <c>Conv2d</c>, … for SharpGrad.Layers; the type name otherwise,
/// with <see cref="IsBuiltIn"/> false) and its constructor arguments, every parameter bound (defaults included).
/// </summary>
internal sealed record ChildSpec(string Name, string Kind, bool IsBuiltIn, EquatableArray<ChildArg> Args, string Text)
{
    private readonly string? _path;

    /// <summary>
    /// The dotted module path exactly as <c>Module.NamedModules()</c> yields it at run time (<c>fc1</c>,
    /// <c>block.fc1</c>, <c>features.0</c>). For a direct child it is the child's state name (while <see cref="Name"/>
    /// is the member name); for a child inlined from a grandchild or a Sequential item, <see cref="Name"/> equals it.
    /// </summary>
    public string Path { get => _path ?? Name; init => _path = value; }

    /// <summary>For an item of a readonly array of children: the array member's name (null otherwise).</summary>
    public string? ArrayMember { get; init; }

    /// <summary>For an item of a readonly array of children: its index.</summary>
    public int ArrayIndex { get; init; }

    /// <summary>The child's type, fully qualified without <c>global::</c> (<c>Demo.Block</c>); used to find a user module's spec.</summary>
    public string TypeName { get; init; } = "";

    /// <summary>
    /// For a <c>Sequential</c> built in a field initialiser (<c>new(new Linear(…), new ReLU())</c> or with
    /// <c>("name", module)</c> pairs): its items in order, each named by its key (<c>0</c>, <c>1</c>, … or the name
    /// given) in <see cref="Name"/> and <see cref="Path"/>. Empty otherwise.
    /// </summary>
    public EquatableArray<ChildSpec> Items { get; init; }

    /// <summary>
    /// For a user module whose <c>Forward</c> depends on its constructor's arguments (an optional child passed in, a flag):
    /// its graph parsed for this instance, with the arguments its parent passes (sizes in the parent's symbols, conditions
    /// decided). The inliner inlines it instead of the class's own graph. Null otherwise.
    /// </summary>
    public ModuleGraph? Instance { get; init; }

    /// <summary>True for a <c>Sequential</c> whose items were read from its constant construction.</summary>
    public bool IsStaticSequential => Kind == "Sequential" && IsBuiltIn && !Items.IsEmpty;

    /// <summary>
    /// True for a built-in child with its options given by constructor parameters taken as one value each (<c>GraphParser.Assumed</c>):
    /// a region compiled for that value, run when the built layer has it.
    /// </summary>
    public bool IsVariant { get; init; }

    /// <summary>
    /// For a user module a parent builds with its own bool constructor parameters (<c>new Block(d, affine)</c>, an argument with
    /// <see cref="ChildArg.Condition"/>): the module parsed once per value of those arguments (<c>block[affine=true]</c>, each
    /// <see cref="IsVariant"/> with its <see cref="Instance"/> parsed with the values given), the parent's parser taking the one its
    /// region assumes (<c>GraphParser.AssumedBlock</c>). Empty otherwise.
    /// </summary>
    public EquatableArray<ChildSpec> Variants { get; init; }

    /// <summary>The argument named <paramref name="parameter"/>, or null if the constructor has no such parameter.</summary>
    public ChildArg? Arg(string parameter)
    {
        foreach (var a in Args) if (a.Name == parameter) return a;
        return null;
    }

    /// <summary>The constant int (or the H of an (H, W) pair) passed for <paramref name="parameter"/>, else null.</summary>
    public int? Int(string parameter) => Arg(parameter) is { IsKnown: true, Values.Count: > 0 } a ? a.Values[0] : null;

    /// <summary>The (H, W) of an int or pair argument, else null.</summary>
    public (int H, int W)? Pair(string parameter) => Arg(parameter) switch
    {
        { IsKnown: true, Values.Count: 1 } a => (a.Values[0], a.Values[0]),
        { IsKnown: true, Values.Count: 2 } a => (a.Values[0], a.Values[1]),
        _ => null,
    };
}

/// <summary>
/// One constructor argument: ints as <see cref="Values"/> (one for an int or bool, two for an (H, W) pair, none for
/// <c>null</c>); <see cref="IsKnown"/> false when it is not a compile-time constant.
/// </summary>
internal sealed record ChildArg(string Name, EquatableArray<int> Values, bool IsKnown)
{
    /// <summary>The constant as a number (ints, doubles, bools as 0/1, enums), or null (a pair, a string, null).</summary>
    public double? Number { get; init; }

    /// <summary>The constant when it is a string (GELU's <c>approximate</c>).</summary>
    public string? String { get; init; }

    /// <summary>
    /// For a size that is not a constant but is known once the module is built (a constructor parameter, a readonly field
    /// set in the constructor, or a product of them with constants): its symbol (<c>hidden</c>, <c>2*hidden</c>,
    /// <c>(dModel/nHeads)</c>), bound when <c>Compile()</c> is called. Null otherwise.
    /// </summary>
    public string? Symbol { get; init; }

    /// <summary>For a module passed as the argument (<c>new BasicBlock(…, downsample)</c>): its spec. Null otherwise.</summary>
    public ChildSpec? Module { get; init; }

    /// <summary>
    /// For a layer option given by a constructor parameter of the module compiled on its own (<c>new LSTM(d, d, bidirectional:
    /// bidirectional)</c>): the test of the built layer that reads it, after the child's name (<c>Bidirectional</c>,
    /// <c>Activation == "gelu"</c>; <see cref="Parsing.ChildParser.RunTimeOption"/>). The parser compiles one region per value and
    /// the runner takes the one the built layer has (<c>GraphParser.BranchRegions</c>). Null otherwise.
    /// </summary>
    public string? Option { get; init; }

    /// <summary>
    /// For an <see cref="Option"/>: the constructor parameter that gives it (<c>the constructor argument 'bidirectional'</c>); options
    /// of several children given by one parameter take one value together (an LSTM and a GRU built with the same flag).
    /// </summary>
    public string? OptionSource { get; init; }

    /// <summary>
    /// For a bool argument of a user module that the parent gives from its own constructor parameters (<c>new Block(d, affine)</c>
    /// in <c>Net(int d, bool affine)</c>): the condition over them (<c>affine</c>, <c>!affine</c>; <see cref="Parsing.Conditions"/>).
    /// The block is parsed per value (<see cref="ChildSpec.Variants"/>) and tested at run time through a layer of it the flag
    /// builds (its <see cref="Option"/>). Null otherwise.
    /// </summary>
    public string? Condition { get; init; }
}

/// <summary>A parsed method: its tensor parameters (with declared shapes), its nodes in order, and the node it returns (-1 when the graph stopped at an unsupported construct).</summary>
internal sealed record GraphMethod(
    string Name,
    EquatableArray<GraphInput> Inputs,
    EquatableArray<GraphNode> Nodes,
    int Output,
    LocationInfo? Location)
{
    /// <summary>
    /// Per node (after inlining): true when the node was copied from a child's graph and its diagnostics belong to
    /// the child (the child reports them itself). Empty when nothing was inlined. Nodes of a child that read the
    /// parent's argument are not marked: they carry the parent's call location, so a mismatch is reported there.
    /// </summary>
    public EquatableArray<bool> Inlined { get; init; }

    /// <summary>
    /// The method's declaration with fully qualified types, names and defaults
    /// (<c>global::SharpGrad.Tensor Forward(global::SharpGrad.Tensor x)</c>): what an eager stand-in re-declares.
    /// </summary>
    public string Signature { get; init; } = "";

    /// <summary>The method's parameters as call arguments (<c>x, mask</c>).</summary>
    public string Arguments { get; init; } = "";

    /// <summary>True if node <paramref name="i"/> came from a child and its diagnostics are the child's.</summary>
    public bool IsInlined(int i) => i < Inlined.Count && Inlined[i];

    /// <summary>
    /// For a static region of a method with graph breaks: the method it belongs to (<c>Forward</c>). A region is a
    /// method of its own (its inputs are the tensor locals it reads, its output the one value it leaves), compiled like
    /// any other and called from the method's <see cref="Segments"/>. Null for a method the user wrote.
    /// </summary>
    public string? RegionOf { get; init; }

    /// <summary>
    /// For a region compiled for one value of a test its constructor's arguments decide (<c>residual</c> with
    /// <c>residual = cin == cout</c>): the sizes that value makes equal, as <c>left=right</c> (<c>cin=cout</c>, <c>stride=1</c>).
    /// The region runs only when the test has that value, so its shapes take them as one size (<see cref="Canonical(Dim)"/>).
    /// </summary>
    public EquatableArray<string> Equalities { get; init; }

    /// <summary>
    /// <paramref name="dim"/> with the sizes <see cref="Equalities"/> makes equal written as one (<c>cout</c> ⇒ <c>cin</c>,
    /// <c>2*cout</c> ⇒ <c>2*cin</c>, <c>stride</c> ⇒ 1); the dim itself without equalities.
    /// </summary>
    public Dim Canonical(Dim dim)
    {
        if (Equalities.IsEmpty || !dim.IsSymbol) return dim;
        string text = Canonical(dim.Symbol!);
        return int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int size) ? Dim.Of(size) : Dim.Sym(text);
    }

    /// <summary>A shape with each dim <see cref="Canonical(Dim)"/>.</summary>
    public TensorShape? Canonical(TensorShape? shape)
        => shape is null || Equalities.IsEmpty || !shape.Dims.Any(d => d.IsSymbol) ? shape : new TensorShape(shape.Dims.Select(d => Canonical(d)).ToArray());

    /// <summary>A size symbol with the sizes <see cref="Equalities"/> makes equal written as one (<see cref="Canonical(Dim)"/>).</summary>
    public string Canonical(string symbol)
    {
        if (Equalities.IsEmpty) return symbol;
        // A size a flag chooses (`(bidirectional?2*hidden:hidden)`), in a region compiled for one value of the flag: the size it
        // chooses there (`2*hidden`), the atom replaced whole before the equalities of sizes apply.
        var chosen = new Dictionary<string, string>(System.StringComparer.Ordinal);
        foreach (var equality in Equalities)
        {
            int at = Separator(equality);
            if (at > 0 && Parsing.Conditions.IsSize(equality.Substring(0, at))) chosen[equality.Substring(0, at)] = equality.Substring(at + 1);
        }
        for (int pass = 0; pass < 4 && chosen.Count > 0; pass++)
        {
            string next = Parsing.SymbolicSizes.Replace(symbol, chosen);
            if (next == symbol) break;
            symbol = next;
        }
        // Each equality replaces an atom by the other side (the right one, when it is an atom: cin == cout writes cout as cin).
        var atoms = new Dictionary<string, string>(System.StringComparer.Ordinal);
        string Apply(string s) => Parsing.SymbolicSizes.Substitute(s, a => atoms.TryGetValue(a, out var to) ? to : a);
        foreach (var equality in Equalities)
        {
            int at = Separator(equality);
            if (chosen.ContainsKey(equality.Substring(0, at))) continue;
            string left = Apply(equality.Substring(0, at)), right = Apply(equality.Substring(at + 1));
            if (left == right) continue;
            if (IsAtom(right)) atoms[right] = left;
            else if (IsAtom(left)) atoms[left] = right;
            else continue;
            foreach (var key in atoms.Keys.ToList()) atoms[key] = Apply(atoms[key]);
        }
        for (int pass = 0; pass < 4; pass++)
        {
            string next = Apply(symbol);
            if (next == symbol) break;
            symbol = next;
        }
        return symbol;
    }

    /// <summary>Where an equality <c>left=right</c> divides: its first <c>=</c> outside parentheses (a chosen size's condition may hold <c>mode==2</c>).</summary>
    internal static int Separator(string equality)
    {
        int depth = 0;
        for (int k = 0; k < equality.Length; k++)
        {
            if (equality[k] == '(') depth++;
            else if (equality[k] == ')') depth--;
            else if (equality[k] == '=' && depth == 0) return k;
        }
        return equality.IndexOf('=');
    }

    private static bool IsAtom(string text)
        => !int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _)
           && Dim.Term(text, out int coefficient, out string product) && coefficient == 1 && product.Length > 0
           && !product.Contains('*') && !product.StartsWith("(", System.StringComparison.Ordinal);

    /// <summary>
    /// For a method whose graph breaks (block body): its top-level statements in order, grouped into static regions
    /// (compiled separately) and eager statements (run as written, between them). Empty when the method has no break.
    /// </summary>
    public EquatableArray<MethodSegment> Segments { get; init; }

    /// <summary>The method's return type, fully qualified (<c>global::SharpGrad.Tensor</c>).</summary>
    public string ReturnType { get; init; } = "";

    /// <summary>The method's parameter list, fully qualified with names and defaults (without the parentheses).</summary>
    public string Parameters { get; init; } = "";

    /// <summary>The using directives of the method's file, one per line (the eager statements of <see cref="Segments"/> are copied with them).</summary>
    public string Usings { get; init; } = "";

    /// <summary>True when nullable annotations are enabled at the method (its statements are copied under the same context).</summary>
    public bool NullableEnabled { get; init; }
}

/// <summary>
/// A run of top-level statements of a method with graph breaks: a static region (<see cref="Region"/> names its
/// <see cref="GraphMethod"/>) or eager statements. <see cref="Code"/> is always the statements as written, which run
/// when the region is not compiled.
/// </summary>
/// <param name="Region">The region's method name (<c>ForwardRegion1</c>), or null for eager statements.</param>
/// <param name="Code">The statements as written, one per line.</param>
/// <param name="Where">Where the statements are (<c>Net.cs lines 12–14</c>), for the explanation.</param>
internal sealed record MethodSegment(string? Region, string Code, string Where)
{
    /// <summary>The region's tensor inputs: the locals and parameters it reads, in the order of its method's inputs.</summary>
    public EquatableArray<string> Arguments { get; init; }

    /// <summary>The local the region's output is assigned to (null when it returns it, or leaves no value).</summary>
    public string? Output { get; init; }

    /// <summary>True when the region ends with the method's <c>return</c>: its output is the result.</summary>
    public bool Returns { get; init; }

    /// <summary>Locals the region declares that later statements use: declared before the call (<c>global::SharpGrad.Tensor h</c>).</summary>
    public EquatableArray<string> Declarations { get; init; }

    /// <summary>Locals the region leaves equal to one of its inputs (<c>var skip = x;</c>): "target=input" pairs, assigned after the call.</summary>
    public EquatableArray<string> Aliases { get; init; }

    /// <summary>
    /// For one branch of a test the constructor's arguments decide (<c>GraphParser.BranchRegions</c>): the test, run as
    /// <c>if (test)</c> before this region; empty for the <c>else</c> region that follows it; null for any other segment.
    /// </summary>
    public string? Condition { get; init; }

    /// <summary>For eager statements: the locals and parameters they assign (a later region cannot take their shapes from an earlier one).</summary>
    public EquatableArray<string> Writes { get; init; }

    /// <summary>
    /// For eager statements: the loops among them over a list the constructor sizes that run each element's own compiled
    /// program (<c>foreach (var block in blocks) x = block.Forward(x)</c>, <c>GraphParser.PerElementLoop</c>). Not breaks:
    /// <c>Explanation</c> lists each element's program, compiled when its own is.
    /// </summary>
    public EquatableArray<ElementLoop> ElementLoops { get; init; }

    /// <summary>
    /// For a region: data locals later statements read (a mask, positions), computed again after the call as written
    /// (<c>mask = tokens.Eq(pad);</c>), so the region leaves one value.
    /// </summary>
    public EquatableArray<string> Recomputed { get; init; }

    /// <summary>
    /// For eager statements: "target=source" pairs, a local they assign that has the shape of another (a TransformerEncoder keeps its
    /// input's shape), so a region after them knows it.
    /// </summary>
    public EquatableArray<string> ShapeOf { get; init; }

    /// <summary>
    /// For a region of whole statements: those statements as the runner runs them when <see cref="Guard"/> fails (as written, the
    /// locals of <see cref="Declarations"/> assigned, not declared); null when they cannot be written so.
    /// </summary>
    public string? Fallback { get; init; }

    /// <summary>
    /// Set by the planner for a region reading a local the eager code before it computed (a break's value), whose shape only the
    /// layer reading it suggested (<c>fc.Forward(p)</c> ⇒ [N, in]): the test of that rank (<c>p is { Rank: 2 }</c>) under which the
    /// runner calls the region; for another rank (a Linear takes any leading dims) it runs <see cref="Fallback"/>, eagerly.
    /// </summary>
    public string? Guard { get; init; }
}

/// <summary>A loop over the list of children <paramref name="List"/> (its member name) that calls each element's own program, at <paramref name="Where"/> (<c>Net.cs line 12</c>).</summary>
internal sealed record ElementLoop(string List, string Where)
{
    /// <summary>True for one call of a child with a program of its own (<c>var h = encoder.Forward(…)</c>), not a loop over a list.</summary>
    public bool Single { get; init; }
}

/// <summary>A tensor parameter and the shape its <c>[Shape]</c> attribute declares (null without one).</summary>
internal sealed record GraphInput(string Name, TensorShape? Shape)
{
    /// <summary>True when <see cref="Shape"/> was not declared with <c>[Shape]</c> but inferred from the input's first consumer (<c>Linear(784, …)</c> ⇒ <c>[N, 784]</c>).</summary>
    public bool IsInferred { get; init; }

    /// <summary>True for a region's input that is a local computed by the eager code before it (its rank is not known at build time).</summary>
    public bool IsLocal { get; init; }

    /// <summary>
    /// For a region's input whose shape a region, a stack or a declaration before it gave: the dim symbol that is the batch there
    /// (<c>N</c> of a batch-second <c>[T, N, 16]</c>), so the region takes the same batch; null when not known.
    /// </summary>
    public string? Batch { get; init; }

    /// <summary>
    /// The batch of a declared shape: dim 0's symbol, or <c>N</c> when dim 1 is named <c>N</c> and dim 0 is another symbol
    /// (<c>[Shape("T", "N", 16)]</c>, a batch-second sequence as a <c>batch_first=False</c> PyTorch model takes it); null without a symbolic dim 0.
    /// </summary>
    public static string? DeclaredBatch(TensorShape? shape)
        => shape is not { Rank: >= 1 } s || !s[0].IsSymbol ? null
            : s.Rank >= 2 && s[1].Symbol == "N" && s[0].Symbol != "N" ? "N" : s[0].Symbol;
}

/// <summary>Why part of a module is outside the static subset (a graph break, SG1019): the diagnostic id, where, the construct and the fix.</summary>
internal sealed record GraphIssue(string Id, LocationInfo? Location, string What, string Reason)
{
    /// <summary>
    /// True when the break depends only on the module's constructor arguments (a child or flag passed in): a parent that builds
    /// the module with arguments the build knows compiles it (<see cref="ChildSpec.Instance"/>).
    /// </summary>
    public bool DependsOnArguments { get; init; }

    /// <summary>The method the break is in (<c>Forward</c>), or <c>constructor</c> for a child's declaration.</summary>
    public string Method { get; init; } = "constructor";

    /// <summary>For a list of children filled in a loop of a count the build does not know, or a loop over one: the list's member name.</summary>
    public string? ElementList { get; init; }

    /// <summary>
    /// True when the issue is not a graph break: the list <see cref="ElementList"/> is only run by loops that call each
    /// element's own compiled program (<see cref="ElementLoop"/>). Kept so the module is not inlined or exported as one
    /// graph; not reported (no SG1019, not in <c>Explanation.Breaks</c>).
    /// </summary>
    public bool ComposesElements { get; init; }

    /// <summary>True for a graph break (reported as SG1019 and listed by <c>Explanation.Breaks</c>).</summary>
    public bool IsBreak => !ComposesElements;

    /// <summary>Where, as <c>GraphBreak.Location</c> shows it: the file name with the 1-based line and column (<c>Net.cs(12,9)</c>), or "".</summary>
    public string At => Location?.Display ?? "";
}

/// <summary>The result of shape inference for one method: the shape of each node (null = unknown).</summary>
internal sealed record MethodShapes(string Name, EquatableArray<GraphInput> Inputs, TensorShape? Output);

/// <summary>
/// A non-tensor argument of an op call (<c>negativeSlope: 0.2</c>, <c>dim: 1</c>, <c>reduction: Reduction.Sum</c>,
/// <c>training: Training</c>): its parameter name, its value when it is a compile-time constant (enums as their number,
/// bools as 0/1; defaults included), and its source text.
/// </summary>
internal sealed record ScalarArg(string Name, double Value, bool IsKnown, string Text)
{
    /// <summary>An int list argument (<c>View(-1, 512)</c>, <c>Sum(new[] { 1, 2 })</c>): its ints, with <see cref="ShapeRules.BatchRead"/> for a batch read.</summary>
    public EquatableArray<int> Ints { get; init; }

    /// <summary>The constant when it is a string (<c>approximate: "tanh"</c>).</summary>
    public string? String { get; init; }

    /// <summary>
    /// When the argument is not a constant but a field or property of the module itself (<c>tokens.Eq(pad)</c>): its name,
    /// which a data op's generated call reads at run time.
    /// </summary>
    public string? Member { get; init; }

    /// <summary>The C# type of the parameter it binds to (fully qualified), for a data op's generated call.</summary>
    public string Type { get; init; } = "";
}
