using System.Text.Json;
using SharpGrad.Serialization;

namespace SharpGrad.Tests.Support;

/// <summary>
/// The PyTorch reference values of Fixtures/arch (written by Fixtures/arch/generate.py), read with SharpGrad's own
/// safetensors reader, and the options of each case from Fixtures/arch/manifest.json.
/// </summary>
public static class ArchFixtures
{
    private static readonly Dictionary<string, StateDict> Files = new();
    private static readonly Lazy<JsonDocument> ManifestDoc = new(() => JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "manifest.json"))));

    public static string Dir => Path.Combine(AppContext.BaseDirectory, "Fixtures", "arch");

    public static string PathOf(string name) => Path.Combine(Dir, name);

    public static StateDict Load(string file)
    {
        lock (Files)
        {
            if (!Files.TryGetValue(file, out var d)) Files[file] = d = StateDict.Load(PathOf(file));
            return d;
        }
    }

    /// <summary>A fresh copy of tensor <paramref name="key"/> of <paramref name="file"/> (tests may modify it).</summary>
    public static Tensor Get(string file, string key)
    {
        var d = Load(file);
        return d.TryGetValue(key, out var t) ? t.Clone() : throw new KeyNotFoundException($"No tensor '{key}' in {file}.");
    }

    public static bool Has(string file, string key) => Load(file).ContainsKey(key);

    public static IEnumerable<JsonElement> Cases(string file, string kind) =>
        ManifestDoc.Value.RootElement.GetProperty(file).EnumerateArray().Where(c => c.GetProperty("kind").GetString() == kind);

    public static IEnumerable<object[]> CaseNames(string file, string kind) => Cases(file, kind).Select(c => new object[] { c.GetProperty("case").GetString()! });

    public static JsonElement Case(string file, string name) =>
        ManifestDoc.Value.RootElement.GetProperty(file).EnumerateArray().First(c => c.GetProperty("case").GetString() == name);
}
