using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace SharpGrad.Generator.Planning;

/// <summary>
/// How a compiled program binds a size symbol (<c>hidden</c>) when <c>Compile()</c> is called, or checks one more size
/// against the symbols bound: <paramref name="Source"/> is the built layer's size (<c>fc1.OutFeatures</c>).
/// </summary>
/// <param name="Field">For a binding: the field holding the symbol's value (<c>_sym_hidden</c>); null for a check.</param>
/// <param name="Source">The C# expression of the layer's size, read in the <c>Compiled</c> constructor.</param>
/// <param name="What">The size as PyTorch names it (<c>fc1.out_features</c>), for messages.</param>
/// <param name="Symbol">The symbol the layer was built with (<c>2*hidden</c>).</param>
/// <param name="Coefficient">For a binding: the constant the symbol is multiplied by.</param>
/// <param name="Expected">For a check: the C# expression of the value it must have (<c>2 * _sym_hidden</c>).</param>
internal sealed record SizeBinding(string? Field, string Source, string What, string Symbol, int Coefficient, string Expected)
{
    /// <summary>
    /// For a check only the regions compiled for one value of a layer option need (a <c>head = new Linear(bidirectional ? 2 * hidden
    /// : hidden, 4)</c> after an LSTM whose <c>bidirectional</c> comes from the constructor: <c>2*hidden</c> in one region,
    /// <c>hidden</c> in the other): those regions, which check it at their first call, since only the one the instance's options
    /// choose ever runs. Empty: checked in <c>Compile()</c>.
    /// </summary>
    public EquatableArray<string> Regions { get; init; }
}

/// <summary>
/// The size symbols of a module (sizes bound when it is built, <see cref="Parsing.SymbolicSizes"/>): each atom
/// (<c>hidden</c>) is bound from the first built layer whose size is a multiple of it, and every other symbolic size of
/// a layer is checked against it once, when the program is created. A plain symbol no layer binds (a sequence length
/// <c>T</c> of an input declared <c>[N, T, 8]</c>) is read from the inputs at each call (<see cref="ReadAtEachCall"/>).
/// </summary>
internal sealed class SizeSymbols
{
    private readonly Dictionary<string, SizeBinding> _atoms = new(System.StringComparer.Ordinal);
    private readonly List<SizeBinding> _checks = new();

    /// <summary>The regions each check is needed by when only branch regions need it (<see cref="SizeBinding.Regions"/>); absent: every call.</summary>
    private readonly Dictionary<SizeBinding, SortedSet<string>> _branchChecks = new();

    /// <summary>
    /// The region being planned when it is one of the regions compiled per value of a constructor-decided test or layer option
    /// (<c>MethodSegment.Condition</c>), null otherwise: a check it requires is made by that region (only the one the instance
    /// chooses runs), not in <c>Compile()</c>.
    /// </summary>
    public string? Branch { get; set; }

    public SizeSymbols(ModuleGraph graph)
    {
        var sized = new List<(ChildSpec Child, ChildArg Arg, string Source, string What)>();
        foreach (var child in graph.Children)
        {
            if (!child.IsBuiltIn || OpCatalogue.ForLayer(child.Kind) is not { } row) continue;
            foreach (var arg in child.Args)
            {
                if (arg.Symbol is null || row.Param(arg.Name, layer: true) is not { Property: { } property } param) continue;
                // An optional argument without a default (Embedding's paddingIdx) is a nullable option, not a size.
                if (param is { HasDefault: true, Default: null }) continue;
                // An int list (LayerNorm's normalized_shape) given as one size: its first item.
                sized.Add((child, arg, Source(child, property + (param.Kind == ParamKind.Ints ? "[0]" : "")), child.Path + "." + param.PyTorchName));
            }
        }
        foreach (var (_, arg, source, what) in sized)
        {
            if (!Dim.Term(arg.Symbol!, out int coefficient, out string product) || Atoms(product).Count != 1 || _atoms.ContainsKey(product)) continue;
            _atoms[product] = new SizeBinding(Field(product), source, what, arg.Symbol!, coefficient, "");
        }
        foreach (var (_, arg, source, what) in sized)
        {
            if (Expression(arg.Symbol!) is not { } expected) continue;
            if (_atoms.Values.Any(b => b.Source == source)) continue;   // the binding itself
            _checks.Add(new SizeBinding(null, source, what, arg.Symbol!, 0, expected));
        }
    }

    /// <summary>
    /// Sizes read from the inputs at each call (a sequence length <c>T</c> of an input declared <c>[N, T, 8]</c>): atoms no
    /// layer binds, which the program reads from the first input that has them, checks on every other input, and sizes
    /// its buffers from, like the batch.
    /// </summary>
    private readonly SortedSet<string> _perCall = new(System.StringComparer.Ordinal);

    /// <summary>True when no layer of the module has a size bound when it is built.</summary>
    public bool IsEmpty => _atoms.Count == 0;

    /// <summary>
    /// Makes the atom of <paramref name="dim"/> a size read from the inputs at each call, when it is one plain atom
    /// (<c>T</c>, not <c>2*T</c> or <c>(d/h)</c>) no layer binds. True when the dim is such a size (now or before).
    /// </summary>
    public bool ReadAtEachCall(Dim dim)
    {
        if (!dim.IsSymbol || !Dim.Term(dim.Symbol!, out int coefficient, out string product) || coefficient != 1) return false;
        if (Atoms(product).Count != 1 || product.StartsWith("(", System.StringComparison.Ordinal) || _atoms.ContainsKey(product)) return false;
        _perCall.Add(product);
        return true;
    }

    /// <summary>True for an atom read from the inputs at each call (<see cref="ReadAtEachCall"/>).</summary>
    public bool IsPerCall(string atom) => _perCall.Contains(atom);

    /// <summary>The atoms read at each call that the planned methods use (<paramref name="used"/>).</summary>
    public IEnumerable<string> PerCall(IReadOnlyCollection<string> used)
        => _perCall.Where(a => used.Any(u => Dim.Term(u, out _, out string product) && Atoms(product).Contains(a)));

    /// <summary>The C# expression of a built layer's size (<c>….Submodule&lt;Linear&gt;(module, "fc1").OutFeatures</c>), read in the <c>Compiled</c> constructor.</summary>
    public static string Source(ChildSpec child, string property)
        => $"{Emit.EmitContext.Support}.Submodule<global::SharpGrad.Layers.{child.Kind}>(module, \"{child.Path}\").{property}";

    /// <summary>
    /// A layer size the planner relies on being equal to <paramref name="dim"/> (the size of the value it reads,
    /// <c>hidden</c>) although the layer was built with another (<c>width</c>, or a constant): checked in <c>Compile()</c>.
    /// </summary>
    public bool Require(ChildSpec child, string parameter, Dim dim)
    {
        // A size the inputs declare with a name no constructor parameter has (F of `[Shape("N", "F")]` in front of
        // `Linear(input, …)`) was taken as read at each call; a layer's size equals it, so the layer binds it when the
        // module is built (`_sym_F = fc.InFeatures`) and each call checks the input's dim against it, as for `input`.
        if (dim.IsSymbol && Dim.Term(dim.Symbol!, out int unit, out string atom) && unit == 1 && _perCall.Contains(atom)
            && OpCatalogue.ForLayer(child.Kind)?.Param(parameter, layer: true) is { Property: { } bound } boundParam)
        {
            _perCall.Remove(atom);
            _atoms[atom] = new SizeBinding(Field(atom), Source(child, bound), child.Path + "." + boundParam.PyTorchName, atom, 1, "");
            return true;
        }
        string? expected = dim.IsFixed ? MethodDraft.I(dim.Size) : dim.IsSymbol ? Expression(dim.Symbol!) : null;
        if (OpCatalogue.ForLayer(child.Kind)?.Param(parameter, layer: true) is not { Property: { } property } param || expected is null) return false;
        var check = new SizeBinding(null, Source(child, property), child.Path + "." + param.PyTorchName, dim.ToString(), 0, expected);
        bool known = _checks.Contains(check);
        if (Branch is { } region)
        {
            // Needed by this branch region only, unless something else already needs it at every call.
            if (!known) _branchChecks[check] = new SortedSet<string>(System.StringComparer.Ordinal);
            if (_branchChecks.TryGetValue(check, out var regions)) regions.Add(region);
        }
        else _branchChecks.Remove(check);
        if (!known) _checks.Add(check);
        return true;
    }

    /// <summary>
    /// The sizes a flag chooses that a region compiled for one value of the flag resolves (<see cref="Model.GraphMethod.Equalities"/>
    /// <c>(bidirectional?2*hidden:hidden)=2*hidden</c>): the built layer that binds such a size is checked against the size the region
    /// takes for it, at the region's first call (<see cref="Branch"/>), naming the layer and the sizes. True by construction when the
    /// constructor built the layers as the build read it; the check keeps a compiled region from ever running with another size.
    /// </summary>
    public void RequireChosen(EquatableArray<string> equalities)
    {
        if (Branch is not { } region) return;
        foreach (var equality in equalities)
        {
            int at = GraphMethod.Separator(equality);
            if (at <= 0 || !Parsing.Conditions.IsSize(equality.Substring(0, at)) || !_atoms.TryGetValue(equality.Substring(0, at), out var binding)) continue;
            string resolved = Parsing.SymbolicSizes.Replace(binding.Symbol, new Dictionary<string, string>(System.StringComparer.Ordinal) { [equality.Substring(0, at)] = equality.Substring(at + 1) });
            string? expected = int.TryParse(resolved, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int constant)
                ? MethodDraft.I(constant) : Expression(resolved);
            if (expected is null) continue;
            var check = new SizeBinding(null, binding.Source, binding.What, resolved, 0, expected);
            if (!_checks.Contains(check))
            {
                _checks.Add(check);
                _branchChecks[check] = new SortedSet<string>(System.StringComparer.Ordinal);
            }
            if (_branchChecks.TryGetValue(check, out var regions)) regions.Add(region);
        }
    }

    /// <summary>When the planned methods use symbols (<paramref name="used"/>): every binding, then every check.</summary>
    public IEnumerable<SizeBinding> For(IReadOnlyCollection<string> used)
        => used.Count == 0 ? [] : _atoms.Values.Concat(_checks.Select(c => _branchChecks.TryGetValue(c, out var regions) ? c with { Regions = regions.ToEquatableArray() } : c));

    /// <summary>The C# expression of a symbol (<c>2*hidden</c> ⇒ <c>(2 * _sym_hidden)</c>), or null when an atom is not bound.</summary>
    public string? Expression(string symbol)
        => Dim.Term(symbol, out _, out string product) && Atoms(product).All(a => _atoms.ContainsKey(a) || _perCall.Contains(a)) ? Csharp(symbol) : null;

    /// <summary>The C# expression of a symbol whose atoms are bound (emitters: the planner checked them).</summary>
    public static string Csharp(string symbol)
    {
        Dim.Term(symbol, out int coefficient, out string product);
        var parts = new List<string>();
        if (coefficient != 1) parts.Add(MethodDraft.I(coefficient));
        foreach (var atom in Atoms(product)) parts.Add(Field(atom));
        return parts.Count == 1 ? parts[0] : "(" + string.Join(" * ", parts) + ")";
    }

    /// <summary>A dim as C# text: its size, or its symbol's expression.</summary>
    public static string Csharp(Dim dim) => dim.IsFixed ? MethodDraft.I(dim.Size) : Csharp(dim.Symbol!);

    /// <summary>The field of an atom's value: <c>_sym_hidden</c>, <c>_sym_block_d</c>, <c>_sym_T</c>.</summary>
    public static string Field(string atom)
    {
        var sb = new StringBuilder("_sym_");
        foreach (char c in atom) sb.Append(char.IsLetterOrDigit(c) ? c : '_');
        return sb.ToString();
    }

    /// <summary>The atoms of a product (<c>heads*width</c>), split outside parentheses (the runtime's shape rule's split).</summary>
    public static List<string> Atoms(string product) => SharpGrad.Ops.ShapeRules.Atoms(product);
}
