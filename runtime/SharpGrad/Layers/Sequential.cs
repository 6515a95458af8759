using System.Collections;

namespace SharpGrad.Layers;

/// <summary>
/// Runs its children one after another, each on the previous one's output (PyTorch: <c>torch.nn.Sequential</c>).
/// Children are named "0", "1", … when added by position, or by the names given (like <c>add_module</c> or an <c>OrderedDict</c>).
/// A <see cref="Sequential"/> built at run time runs eagerly; one written as a <c>[Module]</c> field initialiser is compiled.
/// </summary>
public partial class Sequential : Module, IEnumerable<Module>
{
    private readonly List<(string Name, Module Module)> _children = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <summary>An empty sequence; add children with <see cref="Add(string, Module)"/> (PyTorch: <c>nn.Sequential()</c>).</summary>
    public Sequential()
    {
    }

    /// <summary>Children named "0", "1", … in order (PyTorch: <c>nn.Sequential(a, b, c)</c>).</summary>
    public Sequential(params Module[] modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        foreach (var m in modules) Append(m);
    }

    /// <summary>Named children in order (PyTorch: <c>nn.Sequential(OrderedDict([("conv1", …), …]))</c>).</summary>
    public Sequential(params (string Name, Module Module)[] modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        foreach (var (name, m) in modules) Add(name, m);
    }

    /// <summary>The number of children (PyTorch: <c>len(seq)</c>).</summary>
    public int Count => _children.Count;

    /// <summary>The child at <paramref name="index"/> (PyTorch: <c>seq[i]</c>); negative indices count from the end.</summary>
    public Module this[int index]
    {
        get
        {
            int i = index < 0 ? index + _children.Count : index;
            if (i < 0 || i >= _children.Count)
            {
                throw new IndexOutOfRangeException($"Index {index} is out of range for a Sequential with {_children.Count} children.");
            }
            return _children[i].Module;
        }
    }

    /// <summary>The child named <paramref name="name"/> (PyTorch: <c>getattr(seq, name)</c>).</summary>
    public Module this[string name]
    {
        get
        {
            foreach (var (n, m) in _children) if (n == name) return m;
            throw new KeyNotFoundException(
                $"This Sequential has no child named '{name}'. Its children are: {string.Join(", ", _children.Select(c => "'" + c.Name + "'"))}.");
        }
    }

    /// <summary>Adds a named child at the end (PyTorch: <c>add_module(name, module)</c>). Returns this sequence.</summary>
    public Sequential Add(string name, Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        ModuleNames.Validate(name, _names, "Sequential");
        _names.Add(name);
        _children.Add((name, module));
        return this;
    }

    /// <summary>Adds a child at the end, named by its position (PyTorch: <c>append(module)</c>). Returns this sequence.</summary>
    public Sequential Append(Module module) => Add(_children.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module);

    /// <summary>Runs the children in order (PyTorch: <c>forward</c>); each child's hooks run.</summary>
    public Tensor Forward(Tensor input)
    {
        var x = input;
        Module? producer = null;
        long producedFrom = 0;
        for (int i = 0; i < _children.Count;)
        {
            var m = _children[i].Module;
            long from = Storage.NextSequence;
            // Linear + ReLU (+ Linear (+ ReLU)) children in one kernel when nothing records (Sequential.Fusion.cs)
            int ran = RunFused(i, x, out var fused);
            var y = ran > 0 ? fused! : m.Call(x);
            if (producer is not null) PassedOn(producer, producedFrom, m, x, y);
            ran = Math.Max(ran, 1);
            producer = _children[i + ran - 1].Module;
            producedFrom = from;
            x = y;
            i += ran;
        }
        return x;
    }

    /// <summary>
    /// Called when <paramref name="consumer"/> has turned <paramref name="x"/> (the output of <paramref name="producer"/>,
    /// created during its call) into <paramref name="y"/>. When both are SharpGrad's own layers without hooks, nothing
    /// outside SharpGrad ever saw <paramref name="x"/>: its memory is marked internal, and goes back to the caching
    /// allocator as soon as no autograd node holds it (now, if none saved it; else when backward releases them).
    /// </summary>
    private static void PassedOn(Module producer, long producedFrom, Module consumer, Tensor x, Tensor y)
    {
        var storage = x.Storage;
        if (storage.Sequence < producedFrom || ReferenceEquals(storage, y.Storage) || storage.Escaped || !storage.Recyclable) return;
        if (!IsOwnLayer(producer) || !IsOwnLayer(consumer)) return;
        storage.Internal = true;
        storage.TryRecycle();
    }

    /// <summary>A layer of SharpGrad's own (not a container, no hooks): it keeps no reference to its input or output.</summary>
    private static bool IsOwnLayer(Module m) => !m.HasHooks && m is not Sequential && m.GetType().Assembly == typeof(Sequential).Assembly;

    /// <summary>The children with their names, each module once even if added twice (PyTorch: <c>named_children()</c>).</summary>
    public override IEnumerable<(string Name, Module Module)> NamedChildren() => DistinctChildren(_children);

    /// <inheritdoc/>
    protected override IEnumerable<(string Name, Module Module)> RegisteredChildren() => _children;

    /// <inheritdoc/>
    protected override Tensor ForwardDynamic(Tensor[] inputs)
    {
        if (inputs.Length != 1)
        {
            throw new ArgumentException($"Sequential.Forward takes one input tensor, but {inputs.Length} were given.");
        }
        return Forward(inputs[0]);
    }

    /// <summary>Enumerates the children in order.</summary>
    public IEnumerator<Module> GetEnumerator() => _children.Select(c => c.Module).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>
/// Holds child modules in a list, named "0", "1", … by position (PyTorch: <c>torch.nn.ModuleList</c>). It has no <c>Forward</c>:
/// iterate it in your own <c>Forward</c>. Like a Python list it can be indexed (negative indices count from the end), sliced
/// (<see cref="Slice"/>, <c>list[1..3]</c>), concatenated (<c>+</c>), and changed with <see cref="Insert"/> and
/// <see cref="RemoveAt"/>; the names always follow the positions.
/// </summary>
public class ModuleList<T> : Module, IReadOnlyList<T> where T : Module
{
    private readonly List<T> _items = [];

    /// <summary>A list holding <paramref name="modules"/> (PyTorch: <c>nn.ModuleList([...])</c>).</summary>
    public ModuleList(params T[] modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        foreach (var m in modules) Append(m);
    }

    /// <summary>A list holding <paramref name="modules"/>.</summary>
    public ModuleList(IEnumerable<T> modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        foreach (var m in modules) Append(m);
    }

    /// <summary>The number of modules (PyTorch: <c>len(list)</c>).</summary>
    public int Count => _items.Count;

    /// <summary>The module at <paramref name="index"/>; negative indices count from the end (PyTorch: <c>list[i]</c>).</summary>
    public T this[int index] => _items[Position(index)];

    /// <summary>The modules from <c>range.Start</c> up to (not including) <c>range.End</c>, as a new list sharing them (PyTorch: <c>list[a:b]</c>).</summary>
    public ModuleList<T> this[Range range] => Slice(range);

    /// <summary>
    /// The modules from <c>range.Start</c> up to (not including) <c>range.End</c>, as a new list sharing the same modules,
    /// renamed "0", "1", … (PyTorch: <c>list[a:b]</c>). Out-of-range bounds are clipped, as in Python.
    /// </summary>
    public ModuleList<T> Slice(Range range)
    {
        int start = Math.Clamp(range.Start.IsFromEnd ? _items.Count - range.Start.Value : range.Start.Value, 0, _items.Count);
        int end = Math.Clamp(range.End.IsFromEnd ? _items.Count - range.End.Value : range.End.Value, 0, _items.Count);
        return new ModuleList<T>(_items.GetRange(start, Math.Max(0, end - start)));
    }

    /// <summary>Adds a module at the end (PyTorch: <c>append</c>). Returns this list.</summary>
    public ModuleList<T> Append(T module)
    {
        ArgumentNullException.ThrowIfNull(module);
        _items.Add(module);
        return this;
    }

    /// <summary>Adds several modules at the end (PyTorch: <c>extend</c>, <c>+=</c>). Returns this list.</summary>
    public ModuleList<T> Extend(IEnumerable<T> modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        foreach (var m in modules.ToList()) Append(m);
        return this;
    }

    /// <summary>
    /// Inserts <paramref name="module"/> before position <paramref name="index"/> (PyTorch: <c>insert(index, module)</c>);
    /// negative indices count from the end and out-of-range ones are clipped, as Python's <c>list.insert</c> does.
    /// </summary>
    public ModuleList<T> Insert(int index, T module)
    {
        ArgumentNullException.ThrowIfNull(module);
        int i = Math.Clamp(index < 0 ? index + _items.Count : index, 0, _items.Count);
        _items.Insert(i, module);
        return this;
    }

    /// <summary>Removes and returns the module at <paramref name="index"/>; negative indices count from the end (PyTorch: <c>pop(index)</c>, <c>del list[i]</c>).</summary>
    public T RemoveAt(int index)
    {
        int i = Position(index);
        var m = _items[i];
        _items.RemoveAt(i);
        return m;
    }

    /// <summary>A new list holding the modules of <paramref name="first"/> then those of <paramref name="second"/> (PyTorch: <c>a + b</c>).</summary>
    public static ModuleList<T> operator +(ModuleList<T> first, ModuleList<T> second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        return new ModuleList<T>(first._items.Concat(second._items));
    }

    private int Position(int index)
    {
        int i = index < 0 ? index + _items.Count : index;
        if (i < 0 || i >= _items.Count)
        {
            throw new IndexOutOfRangeException($"Index {index} is out of range for a ModuleList of {_items.Count} modules.");
        }
        return i;
    }

    /// <summary>The modules named by position, each module once even if it is in the list twice (PyTorch: <c>named_children()</c>).</summary>
    public override IEnumerable<(string Name, Module Module)> NamedChildren() => DistinctChildren(RegisteredChildren());

    /// <inheritdoc/>
    protected override IEnumerable<(string Name, Module Module)> RegisteredChildren()
        => _items.Select((m, i) => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), (Module)m));

    /// <summary>Enumerates the modules in order.</summary>
    public IEnumerator<T> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>A <see cref="ModuleList{T}"/> of any modules (PyTorch: <c>torch.nn.ModuleList</c>).</summary>
public class ModuleList : ModuleList<Module>
{
    /// <summary>A list holding <paramref name="modules"/>.</summary>
    public ModuleList(params Module[] modules)
        : base(modules)
    {
    }
}

/// <summary>Checks child names the way PyTorch's <c>add_module</c> does.</summary>
internal static class ModuleNames
{
    public static void Validate(string name, IReadOnlySet<string> existing, string owner)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0) throw new ArgumentException($"{owner}: a module name can't be empty.", nameof(name));
        if (name.Contains('.')) throw new ArgumentException($"{owner}: a module name can't contain \".\", got '{name}' (dots separate the levels of parameter names).", nameof(name));
        if (existing.Contains(name)) throw new ArgumentException($"{owner}: there is already a child named '{name}'; child names must be unique.", nameof(name));
    }
}
