using System.Globalization;
using System.Text;
using System.Text.Json;
using SharpGrad.Optimizers;

namespace SharpGrad.Serialization;

/// <summary>
/// Saves and loads optimizer state (PyTorch: <c>torch.save(optimizer.state_dict(), path)</c> / <c>optimizer.load_state_dict(torch.load(path))</c>)
/// as safetensors, so training can resume: the per-parameter state tensors are stored as <c>state.&lt;index&gt;.&lt;name&gt;</c>
/// and the parameter groups' hyper-parameters as JSON in the metadata key <c>sharpgrad.param_groups</c>.
/// </summary>
public static class OptimizerSerialization
{
    private const string GroupsKey = "sharpgrad.param_groups";
    private const string KindKey = "sharpgrad.kind";
    private const string Kind = "optimizer";

    /// <summary>Saves <paramref name="optimizer"/>'s state dict to a .safetensors file (PyTorch: <c>torch.save(optimizer.state_dict(), path)</c>).</summary>
    public static void Save(this Optimizer optimizer, string path)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        Save(optimizer.StateDict(), path);
    }

    /// <summary>Loads state saved by <see cref="Save(Optimizer, string)"/> into <paramref name="optimizer"/> (PyTorch: <c>optimizer.load_state_dict(torch.load(path))</c>).</summary>
    /// <exception cref="InvalidDataException">The file is malformed or is not an optimizer state file.</exception>
    public static void Load(this Optimizer optimizer, string path)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        optimizer.LoadStateDict(LoadStateDict(path));
    }

    /// <summary>Writes an optimizer state dict to a .safetensors file.</summary>
    public static void Save(OptimizerStateDict stateDict, string path)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        ToStateDict(stateDict).Save(path);
    }

    /// <summary>Reads an optimizer state dict written by <see cref="Save(OptimizerStateDict, string)"/>.</summary>
    /// <exception cref="InvalidDataException">The file is malformed or is not an optimizer state file.</exception>
    public static OptimizerStateDict LoadStateDict(string path) => FromStateDict(SafeTensors.Read(path));

    /// <summary>Flattens an optimizer state dict into tensors plus metadata (the form written to disk).</summary>
    public static StateDict ToStateDict(OptimizerStateDict stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var result = new StateDict();
        foreach (var (index, entries) in stateDict.State.OrderBy(kv => kv.Key))
        {
            foreach (var (name, t) in entries)
            {
                if (name.Contains('.')) throw new ArgumentException($"Optimizer state name '{name}' contains '.', which the file format reserves.");
                result.Add($"state.{index.ToString(CultureInfo.InvariantCulture)}.{name}", t.Detach());
            }
        }
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartArray();
            foreach (var g in stateDict.ParamGroups)
            {
                w.WriteStartObject();
                foreach (var (k, v) in g)
                {
                    w.WritePropertyName(k);
                    WriteValue(w, k, v);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        result.Metadata[KindKey] = Kind;
        result.Metadata[GroupsKey] = Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length);
        return result;
    }

    /// <summary>Rebuilds an optimizer state dict from the form <see cref="ToStateDict"/> produces.</summary>
    /// <exception cref="InvalidDataException">The data is not an optimizer state.</exception>
    public static OptimizerStateDict FromStateDict(StateDict dict)
    {
        ArgumentNullException.ThrowIfNull(dict);
        if (!dict.Metadata.TryGetValue(KindKey, out var kind) || kind != Kind || !dict.Metadata.TryGetValue(GroupsKey, out var groups))
        {
            throw new InvalidDataException("This file is not an optimizer state file (its metadata has no sharpgrad.param_groups); save one with optimizer.Save(path).");
        }
        var result = new OptimizerStateDict();
        foreach (var (name, t) in dict.Items())
        {
            var parts = name.Split('.');
            if (parts.Length != 3 || parts[0] != "state" || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int index))
            {
                throw new InvalidDataException($"Optimizer state file: unexpected tensor name '{name}' (expected state.<index>.<name>).");
            }
            if (!result.State.TryGetValue(index, out var entries)) result.State[index] = entries = new Dictionary<string, Tensor>();
            entries[parts[2]] = t;
        }
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(groups, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"Optimizer state file: the parameter groups are not valid JSON ({ex.Message}).", ex);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new InvalidDataException("Optimizer state file: the parameter groups are not a JSON array.");
            foreach (var g in doc.RootElement.EnumerateArray())
            {
                if (g.ValueKind != JsonValueKind.Object) throw new InvalidDataException("Optimizer state file: a parameter group is not a JSON object.");
                var d = new Dictionary<string, object>();
                foreach (var p in g.EnumerateObject())
                {
                    try
                    {
                        d[p.Name] = ReadValue(p.Name, p.Value);
                    }
                    catch (InvalidOperationException ex)
                    {
                        throw new InvalidDataException($"Optimizer state file: the option '{p.Name}' has a value SharpGrad can't read.", ex);
                    }
                }
                result.ParamGroups.Add(d);
            }
        }
        return result;
    }

    private static void WriteValue(Utf8JsonWriter w, string key, object v)
    {
        switch (v)
        {
            case double d when double.IsFinite(d): w.WriteNumberValue(d); break;
            case double d: w.WriteStartObject(); w.WriteString("double", d.ToString("R", CultureInfo.InvariantCulture)); w.WriteEndObject(); break;
            case float f: w.WriteStartObject(); w.WriteString("float", f.ToString("R", CultureInfo.InvariantCulture)); w.WriteEndObject(); break;
            case bool b: w.WriteBooleanValue(b); break;
            case string s: w.WriteStringValue(s); break;
            case int i: w.WriteStartObject(); w.WriteNumber("int", i); w.WriteEndObject(); break;
            case long l: w.WriteStartObject(); w.WriteNumber("long", l); w.WriteEndObject(); break;
            case ValueTuple<double, double> t:
                w.WriteStartObject();
                w.WriteStartArray("pair");
                w.WriteStringValue(t.Item1.ToString("R", CultureInfo.InvariantCulture));
                w.WriteStringValue(t.Item2.ToString("R", CultureInfo.InvariantCulture));
                w.WriteEndArray();
                w.WriteEndObject();
                break;
            case int[] ints:
                w.WriteStartObject();
                w.WriteStartArray("ints");
                foreach (var i in ints) w.WriteNumberValue(i);
                w.WriteEndArray();
                w.WriteEndObject();
                break;
            case double[] ds:
                w.WriteStartObject();
                w.WriteStartArray("doubles");
                foreach (var d in ds) w.WriteStringValue(d.ToString("R", CultureInfo.InvariantCulture));
                w.WriteEndArray();
                w.WriteEndObject();
                break;
            default:
                throw new NotSupportedException($"Optimizer state: the option '{key}' is a {v.GetType().Name}, which can't be saved (supported: double, float, bool, string, int, long, (double, double), int[], double[]).");
        }
    }

    private static object ReadValue(string key, JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Number: return e.GetDouble();
            case JsonValueKind.True: return true;
            case JsonValueKind.False: return false;
            case JsonValueKind.String: return e.GetString()!;
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject())
                {
                    switch (p.Name)
                    {
                        case "double" when p.Value.ValueKind == JsonValueKind.String: return Parse(p.Value.GetString()!, key);
                        case "float" when p.Value.ValueKind == JsonValueKind.String: return (float)Parse(p.Value.GetString()!, key);
                        case "int" when p.Value.TryGetInt32(out int i): return i;
                        case "long" when p.Value.TryGetInt64(out long l): return l;
                        case "pair" when p.Value.ValueKind == JsonValueKind.Array && p.Value.GetArrayLength() == 2:
                            return (Parse(p.Value[0].GetString() ?? "", key), Parse(p.Value[1].GetString() ?? "", key));
                        case "ints" when p.Value.ValueKind == JsonValueKind.Array:
                            return p.Value.EnumerateArray().Select(x => x.TryGetInt32(out int v) ? v : throw Bad(key)).ToArray();
                        case "doubles" when p.Value.ValueKind == JsonValueKind.Array:
                            return p.Value.EnumerateArray().Select(x => Parse(x.GetString() ?? "", key)).ToArray();
                    }
                }
                break;
        }
        throw Bad(key);
    }

    private static double Parse(string s, string key) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : throw Bad(key);

    private static InvalidDataException Bad(string key) => new($"Optimizer state file: the option '{key}' has a value SharpGrad can't read.");
}
