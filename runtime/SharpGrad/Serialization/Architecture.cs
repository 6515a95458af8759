using System.Globalization;
using System.Text;
using System.Text.Json;
using SharpGrad.Layers;

namespace SharpGrad.Serialization;

/// <summary>
/// A layer that can describe how to rebuild itself: its kind (the name it is registered under in <see cref="LayerRegistry"/>)
/// and its constructor arguments. Built-in layers implement it, so a run-time <see cref="Sequential"/> of them can be saved
/// whole with <see cref="Module.Save"/> and rebuilt by <c>Sequential.Load</c> (PyTorch pickles the module object instead).
/// </summary>
public interface ISerializableLayer
{
    /// <summary>The name the layer's factory is registered under, e.g. "Linear".</summary>
    string LayerKind { get; }

    /// <summary>
    /// The constructor arguments, by PyTorch argument name (e.g. <c>in_features</c>). Values may be <c>int</c>, <c>long</c>,
    /// <c>float</c>, <c>double</c>, <c>bool</c>, <c>string</c>, <c>int[]</c>, <c>double[]</c> or null.
    /// </summary>
    IReadOnlyDictionary<string, object?> LayerArguments { get; }
}

/// <summary>The constructor arguments of a layer read back from a saved architecture, with typed accessors.</summary>
public sealed class LayerArguments
{
    private readonly Dictionary<string, JsonElement> _values;

    internal LayerArguments(string kind, Dictionary<string, JsonElement> values)
    {
        Kind = kind;
        _values = values;
    }

    /// <summary>The layer kind these arguments are for.</summary>
    public string Kind { get; }

    /// <summary>True if the argument is present (and not null).</summary>
    public bool Has(string name) => _values.TryGetValue(name, out var v) && v.ValueKind != JsonValueKind.Null;

    /// <summary>True if the argument is present with the value null (e.g. BatchNorm's <c>momentum=None</c>).</summary>
    public bool HasNull(string name) => _values.TryGetValue(name, out var v) && v.ValueKind == JsonValueKind.Null;

    /// <summary>An integer argument.</summary>
    public int GetInt(string name) => Get(name, JsonValueKind.Number) is var v && v.TryGetInt32(out int i) ? i : throw Bad(name, "an integer");

    /// <summary>An integer argument, or <paramref name="fallback"/> when absent.</summary>
    public int GetInt(string name, int fallback) => Has(name) ? GetInt(name) : fallback;

    /// <summary>A floating-point argument.</summary>
    public double GetDouble(string name)
        => Get(name, JsonValueKind.Number).TryGetDouble(out double d) && double.IsFinite(d) ? d : throw Bad(name, "a finite number");

    /// <summary>A floating-point argument, or <paramref name="fallback"/> when absent.</summary>
    public double GetDouble(string name, double fallback) => Has(name) ? GetDouble(name) : fallback;

    /// <summary>A boolean argument.</summary>
    public bool GetBool(string name)
    {
        if (!_values.TryGetValue(name, out var v)) throw Missing(name);
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Bad(name, "a boolean"),
        };
    }

    /// <summary>A boolean argument, or <paramref name="fallback"/> when absent.</summary>
    public bool GetBool(string name, bool fallback) => Has(name) ? GetBool(name) : fallback;

    /// <summary>A string argument.</summary>
    public string GetString(string name) => Get(name, JsonValueKind.String).GetString()!;

    /// <summary>A string argument, or <paramref name="fallback"/> when absent.</summary>
    public string GetString(string name, string fallback) => Has(name) ? GetString(name) : fallback;

    /// <summary>An integer-array argument (e.g. a kernel size); a single integer is read as a one-element array.</summary>
    public int[] GetInts(string name)
    {
        if (!_values.TryGetValue(name, out var v)) throw Missing(name);
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int single)) return [single];
        if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() > 64) throw Bad(name, "an array of integers");
        var r = new int[v.GetArrayLength()];
        int k = 0;
        foreach (var e in v.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out r[k++])) throw Bad(name, "an array of integers");
        }
        return r;
    }

    /// <summary>A number-array argument (e.g. a scale factor per dim); a single number is read as a one-element array.</summary>
    public double[] GetDoubles(string name)
    {
        if (!_values.TryGetValue(name, out var v)) throw Missing(name);
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double single) && double.IsFinite(single)) return [single];
        if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() > 64) throw Bad(name, "an array of numbers");
        var r = new double[v.GetArrayLength()];
        int k = 0;
        foreach (var e in v.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetDouble(out r[k]) || !double.IsFinite(r[k])) throw Bad(name, "an array of finite numbers");
            k++;
        }
        return r;
    }

    private JsonElement Get(string name, JsonValueKind kind)
    {
        if (!_values.TryGetValue(name, out var v)) throw Missing(name);
        if (v.ValueKind != kind) throw Bad(name, kind == JsonValueKind.Number ? "a number" : "a string");
        return v;
    }

    private InvalidDataException Missing(string name) => new($"The saved architecture of a {Kind} layer has no argument '{name}'.");

    private InvalidDataException Bad(string name, string what) => new($"The saved architecture of a {Kind} layer has an argument '{name}' that is not {what}.");
}

/// <summary>
/// The factories that rebuild layers from a saved architecture, by kind — SharpGrad's replacement for unpickling module objects
/// (AOT-safe: no reflection). The built-in layers are registered; register your own <see cref="ISerializableLayer"/> layers with
/// <see cref="Register"/>.
/// </summary>
public static class LayerRegistry
{
    private static readonly Dictionary<string, Func<LayerArguments, Module>> Factories = new(StringComparer.Ordinal);

    static LayerRegistry() => BuiltInLayers.RegisterAll();

    /// <summary>Registers (or replaces) the factory for <paramref name="kind"/>.</summary>
    public static void Register(string kind, Func<LayerArguments, Module> factory)
    {
        ArgumentException.ThrowIfNullOrEmpty(kind);
        ArgumentNullException.ThrowIfNull(factory);
        lock (Factories) Factories[kind] = factory;
    }

    /// <summary>True if a factory is registered for <paramref name="kind"/>.</summary>
    public static bool IsRegistered(string kind)
    {
        lock (Factories) return Factories.ContainsKey(kind);
    }

    /// <summary>The registered kinds.</summary>
    public static IReadOnlyList<string> Kinds
    {
        get { lock (Factories) return Factories.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList(); }
    }

    internal static Module Create(LayerArguments args)
    {
        Func<LayerArguments, Module>? f;
        lock (Factories) Factories.TryGetValue(args.Kind, out f);
        if (f is null)
        {
            throw new InvalidDataException(
                $"The saved architecture uses a layer of kind '{args.Kind}', but no factory is registered for it. " +
                $"Call LayerRegistry.Register(\"{args.Kind}\", args => new …) before loading. Registered kinds: {string.Join(", ", Kinds)}.");
        }
        try
        {
            return f(args);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            throw new InvalidDataException($"The saved architecture's {args.Kind} layer could not be built: {ex.Message}", ex);
        }
    }
}

/// <summary>Keys of the metadata written by <see cref="Module.Save"/>, and the loading flow shared by <c>Module.Load</c> and <c>Sequential.Load</c>.</summary>
internal static class ModelFile
{
    public const string TypeKey = "sharpgrad.type";
    public const string ArchitectureKey = "sharpgrad.architecture";

    /// <summary>
    /// Reads a model file's tensors, refusing — from the header, before reading them — a file whose tensors need more than
    /// <see cref="ModelLoadOptions.MaxBytes"/>.
    /// </summary>
    public static StateDict ReadWeights(string path, ModelLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(path);
        return StateDict.FormatOf(path) == StateDict.FileFormat.SafeTensors ? SafeTensors.Read(path, options) : PyTorchCheckpoint.Read(path, options);
    }

    /// <summary>
    /// Rebuilds the module tree an architecture describes, with every layer built under <see cref="Init.Skip"/> (its weights
    /// are loaded next, so nothing is initialised twice and the generator is not drawn from) and inside an
    /// <see cref="AllocationBudget"/>: the layers may allocate at most twice the bytes of the tensors stored in the file (plus
    /// 1 MiB for buffers not saved), and never more than the load budget — checked before each allocation.
    /// </summary>
    public static Module BuildArchitecture(string json, StateDict weights, ModelLoadOptions options)
    {
        long stored = 0;
        foreach (var t in weights.Values) stored += (long)t.NumElements * t.DType.ElementSize();
        long fromFile = 2 * stored + (1 << 20);
        string why = fromFile <= options.MaxBytes
            ? $"the file stores only {stored} bytes of tensors, and a model may take at most {fromFile} (twice that, plus 1 MiB)"
            : $"that is past the model load budget. {options.RaiseHint}";
        using var budget = AllocationBudget.Begin(Math.Min(fromFile, options.MaxBytes), why);
        using (Init.Skip()) return Architecture.Build(json, budget, weights);
    }

    /// <summary>Loads the weights strictly; a mismatch is the file's fault, so it is an <see cref="InvalidDataException"/> (with the details inside).</summary>
    public static void LoadWeights(Module model, StateDict weights, string path, string loader)
    {
        try
        {
            model.LoadStateDict(weights, strict: true);
        }
        catch (StateDictMismatchException ex)
        {
            throw new InvalidDataException($"{loader}: the weights in '{path}' do not fit the model it describes. {ex.Message}", ex);
        }
    }
}

/// <summary>
/// Describes a run-time module tree as JSON (<c>{"kind":"Sequential","children":[{"name":"0","module":{"kind":"Linear","args":{…}}}]}</c>)
/// and rebuilds it through <see cref="LayerRegistry"/>.
/// </summary>
internal static class Architecture
{
    private const int MaxDepth = 32;
    private const int MaxModules = 100_000;

    public static bool TryDescribe(Module module, out string json, out string? why)
    {
        why = Unsupported(module, "model", 0);
        if (why is not null)
        {
            json = "";
            return false;
        }
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            Write(w, module);
        }
        json = Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length);
        return true;
    }

    private static string? Unsupported(Module m, string name, int depth)
    {
        if (depth > MaxDepth) return $"the model is nested more than {MaxDepth} levels deep";
        if (m.GetType() == typeof(Sequential))
        {
            foreach (var (n, c) in Module.RegisteredChildrenOf(m))
            {
                if (Unsupported(c, n, depth + 1) is { } why) return why;
            }
            return null;
        }
        return m is ISerializableLayer ? null : $"'{name}' ({m.GetType().Name}) does not implement ISerializableLayer";
    }

    private static void Write(Utf8JsonWriter w, Module m)
    {
        w.WriteStartObject();
        if (m.GetType() == typeof(Sequential))
        {
            w.WriteString("kind", "Sequential");
            w.WriteStartArray("children");
            foreach (var (n, c) in Module.RegisteredChildrenOf(m))
            {
                w.WriteStartObject();
                w.WriteString("name", n);
                w.WritePropertyName("module");
                Write(w, c);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        else
        {
            var layer = (ISerializableLayer)m;
            w.WriteString("kind", layer.LayerKind);
            w.WriteStartObject("args");
            foreach (var (k, v) in layer.LayerArguments)
            {
                w.WritePropertyName(k);
                WriteValue(w, v, layer.LayerKind, k);
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    private static void WriteValue(Utf8JsonWriter w, object? v, string kind, string name)
    {
        switch (v)
        {
            case null: w.WriteNullValue(); break;
            case int i: w.WriteNumberValue(i); break;
            case long l: w.WriteNumberValue(l); break;
            case float f: w.WriteNumberValue(f); break;
            case double d: w.WriteNumberValue(d); break;
            case bool b: w.WriteBooleanValue(b); break;
            case string s: w.WriteStringValue(s); break;
            case int[] ints:
                w.WriteStartArray();
                foreach (var i in ints) w.WriteNumberValue(i);
                w.WriteEndArray();
                break;
            case double[] ds:
                w.WriteStartArray();
                foreach (var d in ds) w.WriteNumberValue(d);
                w.WriteEndArray();
                break;
            default:
                throw new InvalidOperationException(
                    $"Save: the {kind} layer's argument '{name}' is a {v.GetType().Name}; ISerializableLayer arguments must be int, long, float, double, bool, string, int[] or double[].");
        }
    }

    /// <summary>
    /// Rebuilds the module tree. With <paramref name="weights"/>, each layer is checked against the file's tensors as soon as it
    /// is built (names, shapes, dtypes), so a file whose architecture disagrees with its tensors is refused at the first layer
    /// that does, before the layers after it are allocated.
    /// </summary>
    public static Module Build(string json, AllocationBudget? budget = null, StateDict? weights = null)
    {
        try
        {
            return BuildDocument(json, budget, weights);
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException)
        {
            // JsonElement reports strings that are not valid UTF-16 (a lone surrogate such as "\ud800") this way.
            throw new InvalidDataException($"The saved architecture holds a value that can't be read ({ex.Message}).", ex);
        }
    }

    private static Module BuildDocument(string json, AllocationBudget? budget, StateDict? weights)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 4 * MaxDepth + 8 });
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The saved architecture is not valid JSON ({ex.Message}).", ex);
        }
        using (doc)
        {
            int count = 0;
            return BuildNode(doc.RootElement, "", 0, ref count, budget, weights);
        }
    }

    private static Module BuildNode(JsonElement e, string path, int depth, ref int count, AllocationBudget? budget, StateDict? weights)
    {
        if (depth > MaxDepth) throw new InvalidDataException($"The saved architecture is nested more than {MaxDepth} levels deep.");
        if (++count > MaxModules) throw new InvalidDataException($"The saved architecture has more than {MaxModules} modules.");
        if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("kind", out var kindEl) || kindEl.ValueKind != JsonValueKind.String)
        {
            throw new InvalidDataException("The saved architecture has a module entry without a \"kind\" string.");
        }
        string kind = kindEl.GetString()!;
        if (kind == "Sequential")
        {
            var seq = new Sequential();
            if (!e.TryGetProperty("children", out var children) || children.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException("The saved architecture has a Sequential without a \"children\" array.");
            }
            foreach (var c in children.EnumerateArray())
            {
                if (c.ValueKind != JsonValueKind.Object || !c.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String ||
                    !c.TryGetProperty("module", out var m))
                {
                    throw new InvalidDataException("The saved architecture has a Sequential child without a \"name\" and a \"module\".");
                }
                string name = n.GetString()!;
                var child = BuildNode(m, path.Length == 0 ? name : path + "." + name, depth + 1, ref count, budget, weights);
                try
                {
                    seq.Add(name, child);
                }
                catch (ArgumentException ex)
                {
                    throw new InvalidDataException($"The saved architecture has an invalid Sequential child name: {ex.Message}", ex);
                }
            }
            return seq;
        }
        var values = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        if (e.TryGetProperty("args", out var args))
        {
            if (args.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"The saved architecture's {kind} layer has \"args\" that is not an object.");
            foreach (var p in args.EnumerateObject()) values[p.Name] = p.Value.Clone();
        }
        if (budget is not null) budget.Building = $"the {kind} layer '{path}'";
        var layer = LayerRegistry.Create(new LayerArguments(kind, values));
        if (weights is not null) CheckAgainstFile(layer, kind, path, weights);
        return layer;
    }

    private static void CheckAgainstFile(Module layer, string kind, string path, StateDict weights)
    {
        foreach (var (name, tensor, isParam) in layer.StateEntries())
        {
            string full = path.Length == 0 ? name : path + "." + name;
            if (!weights.TryGetValue(full, out var stored))
            {
                throw new InvalidDataException(
                    $"The saved architecture's {kind} layer '{path}' has a {(isParam ? "parameter" : "buffer")} '{full}' of shape {ShapeUtil.Format(tensor._shape)}, " +
                    "but the file stores no tensor of that name: the architecture and the weights disagree.");
            }
            if (Module.EntryMismatch(full, tensor, stored, isParam) is { } mismatch)
            {
                throw new InvalidDataException($"The saved architecture's {kind} layer '{path}' does not fit the file's tensors: {mismatch}");
            }
        }
    }

    internal static string Format(double d) => d.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>Registers the factories of SharpGrad's built-in layers.</summary>
internal static partial class BuiltInLayers
{
    public static void RegisterAll() => RegisterLayers();

    /// <summary>Implemented next to the layers (one line per layer); empty until they exist.</summary>
    static partial void RegisterLayers();
}
