using System.Buffers.Binary;
using System.Text.Json;
using SharpGrad;

namespace SharpGrad.Tests.Support;

/// <summary>
/// Reads the PyTorch reference files in Fixtures/pytorch with a minimal safetensors reader (test-only; the runtime's
/// own reader belongs to SharpGrad.Serialization).
/// </summary>
public sealed class SafeTensorsFile
{
    private static readonly Dictionary<string, SafeTensorsFile> Cache = new();
    private readonly Dictionary<string, Tensor> _tensors = new();

    private SafeTensorsFile(string path)
    {
        var bytes = File.ReadAllBytes(path);
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        var header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        int dataStart = 8 + (int)headerLength;
        foreach (var entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__") continue;
            var dtype = entry.Value.GetProperty("dtype").GetString();
            var shape = entry.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var span = bytes.AsSpan(dataStart + offsets[0], offsets[1] - offsets[0]);
            _tensors[entry.Name] = dtype switch
            {
                "F32" => Tensor.FromArray(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(span).ToArray(), shape.Length == 0 ? [1] : shape).Reshape(shape),
                "F64" => Tensor.FromArray(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(span).ToArray(), shape.Length == 0 ? [1] : shape).Reshape(shape),
                "I64" => Tensor.FromArray(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(span).ToArray(), shape.Length == 0 ? [1] : shape).Reshape(shape),
                _ => throw new NotSupportedException($"Fixture dtype {dtype} in {path}"),
            };
        }
    }

    public static string Dir => Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch");

    public static SafeTensorsFile Load(string name)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue(name, out var f)) Cache[name] = f = new SafeTensorsFile(Path.Combine(Dir, name));
            return f;
        }
    }

    public IEnumerable<string> Names => _tensors.Keys;

    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>A fresh copy of the named tensor (tests may set RequiresGrad on it).</summary>
    public Tensor this[string name] => _tensors.TryGetValue(name, out var t) ? t.Clone() : throw new KeyNotFoundException($"No tensor '{name}' in the fixture file.");
}

/// <summary>The cases of manifest.json, with their options.</summary>
public static class Manifest
{
    private static readonly Lazy<JsonDocument> Doc = new(() => JsonDocument.Parse(File.ReadAllText(Path.Combine(SafeTensorsFile.Dir, "manifest.json"))));

    public static IEnumerable<JsonElement> Cases(string file) => Doc.Value.RootElement.GetProperty("files").GetProperty(file).EnumerateArray();

    public static JsonElement Case(string file, string name) => Cases(file).First(c => c.GetProperty("case").GetString() == name);
}
