using System.Collections.Generic;
using System.Linq;
using System.Threading;
using SharpGrad.Generator.Model;

namespace SharpGrad.Generator.Passes;

/// <summary>
/// The inlining pass, between parsing and shape inference. Each module's graph is combined with the (uninlined)
/// graphs of every module of the compilation (a <c>Collect</c>, joined by full type name), and:
/// <list type="bullet">
/// <item>a <c>Call</c> of a user <c>[Module]</c> child becomes the child's <c>Forward</c> nodes (recursively), its
/// inputs wired to the call's arguments, its children and parameters renamed by their dotted path
/// (<c>block.fc1</c>, <c>block.scale</c>), followed by a boundary node <c>Elementwise Identity</c> whose
/// <see cref="GraphNode.Child"/> is the child and whose <see cref="GraphNode.IntArgs"/> are the call's arguments;</item>
/// <item>a <c>Sequential</c> field initialiser and a <c>[Sequential]</c> class child become the chain of their items
/// (<c>features.0</c>, <c>features.1</c>, …), followed by a boundary node for the Sequential;</item>
/// <item><c>this.Forward(x)</c> in a <c>[Compiled]</c> method is inlined without a boundary node;</item>
/// <item>a child that cannot be inlined (no spec, <c>Compile = false</c>, outside the static subset) stays a <c>Call</c>.</item>
/// </list>
/// Nodes copied from a child are marked <see cref="GraphMethod.Inlined"/> (the child reports its own diagnostics), except
/// those that read the parent's argument (directly or through shape-preserving unary ops): they take the parent's call
/// location, so a mismatch between the parent's value and the child's first layer is reported at the parent's call.
/// Finally the tensor inputs without <c>[Shape]</c> get a shape inferred from their first consumer.
/// </summary>
internal sealed class Inliner
{
    /// <summary>The symbol of the batch dim in inferred shapes.</summary>
    public const string BatchSymbol = "N";

    private const int MaxDepth = 32;

    private readonly Dictionary<string, ModuleLibraryEntry> _library;
    private readonly CancellationToken _token;
    private readonly List<ChildSpec> _children;
    private readonly HashSet<string> _childNames;

    /// <summary>Calls of user children that cannot be inlined: graph breaks of this module (never a silent non-compilation).</summary>
    private readonly List<GraphIssue> _breaks = new();
    private string _method = "";
    private List<GraphNode> _nodes = new();
    private List<bool> _inlined = new();

    /// <summary>Output nodes that carry a value of the outermost caller into an inlined child, with the text the caller wrote.</summary>
    private Dictionary<int, string> _exposed = new();

    private Inliner(Dictionary<string, ModuleLibraryEntry> library, List<ChildSpec> children, CancellationToken token)
    {
        _library = library;
        _children = children;
        _childNames = new HashSet<string>(children.Select(c => c.Name));
        _token = token;
    }

    /// <summary>Where a copied graph comes from: the prefix of its children's paths, whether it is foreign, the outermost call.</summary>
    private sealed class Context
    {
        public string Prefix = "";

        /// <summary>
        /// The prefix of its children's state paths (<c>block.</c>): <see cref="Prefix"/>, except under a variant of a block (a block a
        /// parent builds with its own flag, parsed per value: <c>block[affine=true].</c> names, <c>block.</c> paths, as <see cref="Chain"/>
        /// names a Sequential's variant items), so two variants' layers are two children of one state path.
        /// </summary>
        public string PathPrefix = "";
        public ModuleGraph Graph = null!;
        public int[]? InputMap;
        public bool Foreign;
        public GraphNode? Site;   // the outermost call in the module being compiled (null at top level)
        public int Depth;
        public List<string> Stack = new();

        /// <summary>
        /// A size symbol of the copied graph's class (<c>d</c>) in the symbols of the module being compiled: the
        /// instance's constructor argument (<c>new Block(hidden)</c> ⇒ <c>hidden</c>, <c>new Block(8)</c> ⇒ <c>8</c>),
        /// else the symbol named under the instance's path (<c>block.d</c>).
        /// </summary>
        public System.Func<string, string> Symbols = atom => atom;
    }

    /// <summary>Runs the pass on one spec (specs without a graph and [Sequential] specs are returned as they are).</summary>
    public static ModuleSpec Run(ModuleSpec spec, EquatableArray<ModuleLibraryEntry> library, CancellationToken token)
    {
        if (spec.IsSequential || spec.Graph is not { } graph) return spec;
        var byName = new Dictionary<string, ModuleLibraryEntry>();
        foreach (var entry in library)
        {
            if (!byName.ContainsKey(entry.FullName)) byName.Add(entry.FullName, entry);
        }

        var inliner = new Inliner(byName, new List<ChildSpec>(graph.Children), token);
        var methods = new List<GraphMethod>();
        foreach (var method in graph.Methods)
        {
            token.ThrowIfCancellationRequested();
            inliner._method = method.RegionOf ?? method.Name;
            methods.Add(inliner.InlineMethod(spec, graph, method));
        }
        var breaks = graph.NotCompilable.Concat(inliner._breaks).Distinct().ToEquatableArray();
        return spec with
        {
            Graph = graph with { Children = inliner._children.ToEquatableArray(), Methods = methods.ToEquatableArray(), NotCompilable = breaks },
        };
    }

    private GraphMethod InlineMethod(ModuleSpec spec, ModuleGraph graph, GraphMethod method)
    {
        _nodes = new List<GraphNode>();
        _inlined = new List<bool>();
        _exposed = new Dictionary<int, string>();
        var context = new Context { Graph = graph, Stack = { spec.FullName } };
        var map = Copy(method, context);
        int output = method.Output >= 0 ? map[method.Output] : -1;

        var inputs = new List<GraphInput>();
        var taken = new HashSet<string>(method.Inputs.Where(x => x.Shape is not null).SelectMany(x => x.Shape!.Dims).Where(d => d.IsSymbol).Select(d => d.Symbol!));
        foreach (var arg in _children.SelectMany(c => c.Args).Where(a => a.Symbol is not null)) taken.UnionWith(SymbolicAtoms(arg.Symbol!));
        for (int k = 0; k < method.Inputs.Count; k++)
        {
            var input = method.Inputs[k];
            if (input.Shape is null && InferFromConsumers(InputNode(k), input.IsLocal) is { } inferred)
            {
                input = input with { Shape = inferred.Shape, IsInferred = true };
                // An Embedding's indices ([N, ?]): the sequence length is a size read at each call, named T (T2, … when taken).
                // So is an attention or encoder layer's query length ([N, L, E]).
                // So is a recurrent layer's sequence length, dim 0 of a batch-second layer's [T, N, ·] (VariantHint), whose batch is dim 1.
                if (inferred.Row.Family is OpFamily.Embedding or OpFamily.Attention or OpFamily.TransformerLayer or OpFamily.Recurrent && inferred.Shape.Dims.Any(d => d.IsUnknown))
                {
                    input = input with { Shape = new TensorShape(inferred.Shape.Dims.Select(d => d.IsUnknown ? Dim.Sym(Fresh(taken)) : d).ToArray()) };
                }
                if (input.Shape is { Rank: >= 2 } s && s[1].Symbol == BatchSymbol && s[0].Symbol != BatchSymbol) input = input with { Batch = BatchSymbol };
            }
            inputs.Add(input);
        }
        return method with
        {
            Inputs = inputs.ToEquatableArray(),
            Nodes = _nodes.ToEquatableArray(),
            Output = output,
            Inlined = _inlined.Any(b => b) ? _inlined.ToEquatableArray() : default,
        };
    }

    /// <summary>Copies the nodes of <paramref name="method"/> into the output; returns the output index of each.</summary>
    private int[] Copy(GraphMethod method, Context context)
    {
        var map = new int[method.Nodes.Count];
        for (int i = 0; i < method.Nodes.Count; i++)
        {
            _token.ThrowIfCancellationRequested();
            var node = method.Nodes[i];
            var inputs = node.Inputs.Select(j => map[j]).ToArray();

            if (node.Kind == NodeKind.Input && node.Op == "Input" && context.InputMap is { } inputMap)
            {
                map[i] = inputMap[node.IntArgs[0]];
                continue;
            }

            if (node.Kind == NodeKind.Input && node.Op is "Parameter" or "Buffer")
            {
                map[i] = Add(Renamed(node, inputs, context.PathPrefix + node.Child), context);
                continue;
            }

            if (node.Kind == NodeKind.Call && node.Child == "this")
            {
                var target = context.Graph.Methods.FirstOrDefault(m => m.Name == node.Op && m.Inputs.Count == inputs.Length && m.Output >= 0);
                if (target is not null && context.Depth < MaxDepth && !ReferenceEquals(target, method))
                {
                    var sub = Enter(context, node, inputs, context.Graph, context.Prefix, context.PathPrefix);
                    map[i] = Copy(target, sub)[target.Output];
                    continue;
                }
            }

            if (node.Kind == NodeKind.Call && node.Child is { } childName && childName != "this"
                && context.Graph.FindChild(childName) is { } child)
            {
                string name = ChildName(context, child);
                // Grandchildren are named under the child's state path (self_attn.q for a field selfAttn), as NamedModules names them;
                // under a variant's name, their paths still the state path (Context.PathPrefix).
                string prefix = context.Prefix + (child.IsVariant ? child.Name : child.Path) + ".";
                string pathPrefix = context.PathPrefix + child.Path + ".";
                if (inputs.Length == 1 && child.IsStaticSequential)
                {
                    int result = Chain(child.Items, prefix, pathPrefix, inputs[0], node, context);
                    map[i] = Boundary(result, name, inputs, node, context);
                    continue;
                }
                if (!child.IsBuiltIn && InlineUserModule(child, name, prefix, pathPrefix, inputs, node, context) is { } inlined)
                {
                    map[i] = inlined;
                    continue;
                }
            }

            // Any other node: copied, its inputs remapped and its child renamed by path.
            string? renamed = node.Child is null or "this" ? node.Child
                : context.Graph.FindChild(node.Child) is { } c ? ChildName(context, c)
                : context.Prefix + node.Child;
            map[i] = Add(Renamed(RemapReads(node, map), inputs, renamed), context);
        }
        return map;
    }

    /// <summary>A node whose shape arguments read sizes of other nodes at run time (<see cref="ShapeRules.SizeRead"/>), with those nodes renumbered.</summary>
    private static GraphNode RemapReads(GraphNode node, int[] map)
    {
        static int Remap(int v, int[] map)
        {
            if (!ShapeRules.IsSizeRead(v)) return v;
            var (read, dim) = ShapeRules.SizeReadOf(v);
            return ShapeRules.SizeRead(map[read], dim);
        }
        if (!node.IntArgs.Any(ShapeRules.IsSizeRead) && !node.Scalars.Any(a => a.Ints.Any(ShapeRules.IsSizeRead))) return node;
        var scalars = node.Scalars.Select(a => a with { Ints = a.Ints.Select(v => Remap(v, map)).ToEquatableArray() }).ToEquatableArray();
        return new GraphNode(node.Kind, node.Op, node.Inputs, node.IntArgs.Select(v => Remap(v, map)).ToEquatableArray(), node.Flag, node.Child, node.Value, node.Text,
            node.Location, node.InputTexts, scalars);
    }

    /// <summary>
    /// Inlines a user module child (its <c>Forward</c>, or the chain of a <c>[Sequential]</c> class) called with
    /// <paramref name="inputs"/>, followed by its boundary node; null when it cannot be inlined.
    /// </summary>
    private int? InlineUserModule(ChildSpec child, string name, string prefix, string pathPrefix, int[] inputs, GraphNode call, Context context)
    {
        if (context.Depth >= MaxDepth || child.TypeName.Length == 0 || context.Stack.Contains(child.TypeName)) return null;
        // An instance whose graph depends on its constructor's arguments was parsed for them (sizes already in this module's symbols).
        var graph = child.Instance;
        if (!_library.TryGetValue(child.TypeName, out var entry) || !(graph ?? entry.Graph).IsCompilable)
        {
            string why = entry is null
                ? "which the compiler does not see into (its class is marked [Module(Compile = false)] or is not a [Module] class)"
                : "whose own graph breaks (see its SG1019 diagnostics)";
            string fix = entry is null ? "make its class a [Module] the compiler parses" : "remove the breaks of " + child.Kind;
            _breaks.Add(new GraphIssue(DiagnosticDescriptors.GraphBreakId, (context.Site ?? call).Location,
                "the call of '" + child.Path + "' (" + child.Kind + "), " + why, fix) { Method = _method });
            return null;
        }

        if (entry.IsSequential)
        {
            if (inputs.Length != 1 || entry.Graph.Children.IsEmpty) return null;
            var sub = Enter(context, call, inputs, entry.Graph, prefix, pathPrefix, child);
            sub.Stack.Add(child.TypeName);
            int result = Chain(entry.Graph.Children, prefix, pathPrefix, inputs[0], call, sub);
            return Boundary(result, name, inputs, call, context);
        }

        graph ??= entry.Graph;
        var forward = graph.Methods.FirstOrDefault(m => m.Name == "Forward" && m.Inputs.Count == inputs.Length && m.Output >= 0);
        if (forward is null) return null;
        var inner = Enter(context, call, inputs, graph, prefix, pathPrefix, child.Instance is null ? child : null);
        inner.Stack.Add(child.TypeName);
        foreach (var grandchild in graph.Children) AddChild(grandchild, ChildName(inner, grandchild), inner, inner.PathPrefix + grandchild.Path);
        int output = Copy(forward, inner)[forward.Output];
        return Boundary(output, name, inputs, call, context);
    }

    /// <summary>The items of a Sequential, one after another from <paramref name="input"/>; returns the last value.</summary>
    private int Chain(EquatableArray<ChildSpec> items, string prefix, string pathPrefix, int input, GraphNode call, Context context)
    {
        int x = input;
        string text = call.InputText(0);
        foreach (var item in items)
        {
            string name = prefix + item.Path;
            // An item taken with one value of an option (GraphParser.AssumedItems): a child of its own name, its state path the item's.
            if (item.IsVariant) name = prefix + item.Name;
            AddChild(item, name, context, pathPrefix + item.Path);
            if (item.IsStaticSequential)
            {
                int result = Chain(item.Items, name + ".", pathPrefix + item.Path + ".", x, call, context);
                x = Boundary(result, name, new[] { x }, call, context);
            }
            else if (!item.IsBuiltIn && InlineUserModule(item, name, name + ".", pathPrefix + item.Path + ".", new[] { x }, call, context) is { } inlined)
            {
                x = inlined;
            }
            else
            {
                var (kind, op, ints) = GraphParser.ChildRule(item);
                if (!item.IsBuiltIn) (kind, op, ints) = (NodeKind.Call, item.Kind, default);
                // Each item runs at the Sequential's call: that is where its diagnostics point.
                var node = new GraphNode(kind, op, new[] { x }.ToEquatableArray(), ints, child: name, text: call.Text + " [" + item.Path + "]",
                    location: call.Location, inputTexts: new[] { text }.ToEquatableArray());
                x = Add(node, context);
            }
            text = call.Text + " [" + item.Path + "]";
        }
        return x;
    }

    /// <summary>The boundary node after an inlined child: identity, carrying the child's name and the call's arguments.</summary>
    private int Boundary(int output, string child, int[] arguments, GraphNode call, Context context)
        => Add(new GraphNode(NodeKind.Elementwise, GraphNode.BoundaryOp, new[] { output }.ToEquatableArray(), arguments.ToEquatableArray(),
            child: child, text: call.Text, location: call.Location, inputTexts: new[] { call.Text }.ToEquatableArray()), context);

    /// <summary>The context of a graph inlined at <paramref name="call"/>: foreign, its inputs wired to <paramref name="inputs"/>.</summary>
    private Context Enter(Context outer, GraphNode call, int[] inputs, ModuleGraph graph, string prefix, string pathPrefix, ChildSpec? instance = null)
    {
        if (!outer.Foreign)
        {
            // The outermost call: the values it passes are the parent's, so their first consumers report at the call.
            for (int k = 0; k < inputs.Length; k++) _exposed[inputs[k]] = call.InputText(k);
        }
        var inner = new Context
        {
            Prefix = prefix,
            PathPrefix = pathPrefix,
            Graph = graph,
            InputMap = inputs,
            Foreign = true,
            Site = outer.Foreign ? outer.Site : call,
            Depth = outer.Depth + 1,
            Symbols = instance is null ? outer.Symbols : atom => instance.Arg(atom) switch
            {
                { IsKnown: true, Values.Count: 1 } constant => constant.Values[0].ToString(System.Globalization.CultureInfo.InvariantCulture),
                { Symbol: { } symbol } => Parsing.SymbolicSizes.Substitute(symbol, outer.Symbols),
                _ => outer.Symbols(pathPrefix + atom),
            },
        };
        inner.Stack.AddRange(outer.Stack);
        return inner;
    }

    /// <summary>
    /// Appends a node. In a foreign context it is marked inlined, unless it reads a value of the outermost caller:
    /// then it takes the caller's location (and the caller's text for that input) and its diagnostics are the caller's.
    /// </summary>
    private int Add(GraphNode node, Context context)
    {
        bool inlined = false;
        if (context.Foreign && context.Site is { } site)
        {
            var exposedInputs = node.Inputs.Where(_exposed.ContainsKey).ToList();
            if (exposedInputs.Count == 0 || node.Kind == NodeKind.Input)
            {
                inlined = true;
            }
            else
            {
                var texts = node.Inputs.Select((j, k) => _exposed.TryGetValue(j, out var t) ? t : node.InputText(k)).ToEquatableArray();
                node = new GraphNode(node.Kind, node.Op, node.Inputs, node.IntArgs, node.Flag, node.Child, node.Value, node.Text, site.Location, texts, node.Scalars);
            }
        }
        _nodes.Add(node);
        _inlined.Add(inlined);
        int index = _nodes.Count - 1;
        // A shape-preserving unary op of an exposed value is still the caller's value for the check of the next layer.
        if (context.Foreign && !inlined && node.Inputs.Count == 1 && node.Kind is NodeKind.Elementwise or NodeKind.Norm
            && _exposed.TryGetValue(node.Inputs[0], out var text))
        {
            _exposed[index] = text;
        }
        return index;
    }

    private static GraphNode Renamed(GraphNode node, int[] inputs, string? child)
        => new(node.Kind, node.Op, inputs.ToEquatableArray(), node.IntArgs, node.Flag, child, node.Value, node.Text, node.Location, node.InputTexts, node.Scalars);

    /// <summary>A child's name in the output graph: its member name at top level, its dotted path inside an inlined child.</summary>
    private static string ChildName(Context context, ChildSpec child) => context.Prefix.Length == 0 || child.IsVariant ? context.Prefix + child.Name : context.Prefix + child.Path;

    /// <summary>
    /// Adds a child of an inlined module under its path. Its sizes bound when that module is built (<c>d</c> in
    /// <c>Linear(d, d)</c>) are rewritten in the symbols of the module being compiled (<see cref="Context.Symbols"/>):
    /// two instances built with different sizes bind different symbols, and a size passed as a constant is a constant.
    /// </summary>
    private void AddChild(ChildSpec child, string name, Context context, string? path = null)
    {
        if (!_childNames.Add(name)) return;
        _children.Add(Rewritten(child, context.Symbols) with { Name = name, Path = path ?? name });
    }

    private static ChildSpec Rewritten(ChildSpec child, System.Func<string, string> symbols)
    {
        if (!child.Args.Any(a => a.Symbol is not null) && child.Items.IsEmpty) return child;
        var args = child.Args.Select(a =>
        {
            if (a.Symbol is null) return a;
            string symbol = Parsing.SymbolicSizes.Substitute(a.Symbol, symbols);
            return int.TryParse(symbol, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int constant)
                ? a with { Symbol = null, Values = new[] { constant }.ToEquatableArray(), IsKnown = true, Number = constant }
                : a with { Symbol = symbol };
        }).ToEquatableArray();
        return child with { Args = args, Items = child.Items.Select(item => Rewritten(item, symbols)).ToEquatableArray() };
    }

    // ---- input shapes without [Shape] -------------------------------------------------------------------------

    private int InputNode(int k)
    {
        for (int i = 0; i < _nodes.Count; i++)
        {
            var n = _nodes[i];
            if (n.Kind == NodeKind.Input && n.Op == "Input" && n.IntArgs.Count == 1 && n.IntArgs[0] == k) return i;
        }
        return -1;
    }

    /// <summary>
    /// The shape of a tensor input read from its first consumer: <c>Linear(784, …)</c> ⇒ <c>[N, 784]</c>,
    /// <c>Conv2d(1, …)</c> ⇒ <c>[N, 1, ?, ?]</c>, <c>Conv1d(c, …)</c> ⇒ <c>[N, c, ?]</c>, <c>Embedding</c> ⇒
    /// <c>[N, ?]</c>, <c>BatchNorm1d(f)</c> ⇒ <c>[N, f]</c>, <c>BatchNorm2d(c)</c> ⇒ <c>[N, c, ?, ?]</c>, looking through
    /// unary elementwise ops and boundaries. Null when the first consumer says nothing.
    /// </summary>
    private (TensorShape Shape, OpRow Row)? InferFromConsumers(int index, bool local)
    {
        // The first consumer that says something (a padding mask `tokens.Eq(pad)` before the Embedding says nothing).
        for (int i = index + 1; index >= 0 && i < _nodes.Count; i++)
        {
            if (_nodes[i].Inputs.Contains(index) && InferFromConsumer(index, i, local) is { } inferred) return inferred;
        }
        return null;
    }

    /// <summary>A fresh name for a sequence length (T, T2, …) not among <paramref name="taken"/>, which gains it.</summary>
    private static string Fresh(HashSet<string> taken)
    {
        string name = "T";
        for (int k = 2; taken.Contains(name); k++) name = "T" + k.ToString(System.Globalization.CultureInfo.InvariantCulture);
        taken.Add(name);
        return name;
    }

    /// <summary>The named sizes of a symbolic size (<c>2*hidden</c> ⇒ hidden).</summary>
    private static IEnumerable<string> SymbolicAtoms(string symbol)
        => Dim.Term(symbol, out _, out string product) ? ShapeRules.Atoms(product) : [];

    /// <summary>
    /// The input of a recurrent, encoder or attention layer's variant (its options given by constructor parameters, one region per
    /// value: <c>GraphParser.Assumed</c>): batch first [N, T, size], batch second [T, N, size] (the batch in dim 1), T read at each
    /// call. The module cannot declare it with <c>[Shape]</c>: the layout is the variant's.
    /// </summary>
    private static TensorShape? VariantHint(ChildSpec child, OpRow? row)
    {
        string? size = row?.Family switch
        {
            OpFamily.Recurrent => "inputSize",
            OpFamily.TransformerLayer => "dModel",
            OpFamily.Attention => "embedDim",
            _ => null,
        };
        if (size is null || child.Arg(size) is not { } a) return null;
        Dim? width = a is { IsKnown: true, Values.Count: 1 } ? Dim.Of(a.Values[0]) : a.Symbol is { } symbol ? Dim.Sym(symbol) : null;
        if (width is null) return null;
        return child.Int("batchFirst") == 1 ? new TensorShape(Dim.Sym(BatchSymbol), Dim.Unknown, width.Value) : new TensorShape(Dim.Unknown, Dim.Sym(BatchSymbol), width.Value);
    }

    private (TensorShape Shape, OpRow Row)? InferFromConsumer(int index, int first, bool local)
    {
        for (int depth = 0; index >= 0 && depth < 64; depth++)
        {
            int consumer = depth == 0 ? first : -1;
            for (int i = index + 1; i < _nodes.Count && consumer < 0; i++)
            {
                if (_nodes[i].Inputs.Contains(index)) consumer = i;
            }
            if (consumer < 0) return null;
            var node = _nodes[consumer];
            var child = node.Child is null ? null : _children.FirstOrDefault(c => c.Name == node.Child);
            var row = NodeArguments.RowOf(node, child);
            if (child is { IsVariant: true } && node.Inputs[0] == index && VariantHint(child, row) is { } variant) return (variant, row!);
            if (row?.InputHint is { } hint && node.Inputs[0] == index)
            {
                var arguments = new NodeArguments(node, child);
                var hinted = hint(new ShapeCall(row, [], arguments, Dim.Sym(BatchSymbol), arguments.IsLayer));
                // A size bound when the module is built is trusted from the input's direct consumer only: behind a
                // shape-preserving op of any rank (LayerNorm) the input may have more dims ([N, T, d]), and so may a region's
                // input computed by eager code (a GRU's output sequence read by Linear(hidden, …)).
                // An attention or encoder layer's query is [N, L, E] whatever came before (its rank is the layer's): trusted
                // through a LayerNorm too (a pre-norm block's `ln1.Forward(x)` before `attn.Forward(h, h, h, …)`).
                bool fullRank = row.Family is OpFamily.Attention or OpFamily.TransformerLayer;
                if ((depth > 0 || local) && !fullRank && hinted is not null && hinted.Dims.Skip(1).Any(d => d.IsSymbol)) return null;
                return hinted is null ? null : (hinted, row);
            }
            if (row is not null && node.Inputs.Count == 1 && row.Shape == ShapeRules.SameAsInput)
            {
                index = consumer;   // shape-preserving: ask its consumer
                continue;
            }
            return null;
        }
        return null;
    }
}
