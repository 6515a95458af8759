using System.Text.Json;
using SharpGrad.Serialization;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Nn;

/// <summary>
/// Issue 13's primitive layers against PyTorch (Fixtures/primitives, written by its generate.py): each layer is rebuilt from
/// PyTorch's constructor arguments through the layer registry, loads PyTorch's state dict by PyTorch's names, and must give
/// PyTorch's output, input gradient and parameter gradients (and the running statistics and eval output of InstanceNorm).
/// </summary>
public class PrimitiveLayerFixtureTests
{
    private const string File = "primitives.safetensors";
    private static readonly string Dir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "primitives");
    private static readonly Lazy<StateDict> Data = new(() => StateDict.Load(Path.Combine(Dir, File)));
    private static readonly Lazy<JsonElement[]> Manifest = new(() =>
        JsonDocument.Parse(System.IO.File.ReadAllText(Path.Combine(Dir, "manifest.json"))).RootElement.GetProperty(File).EnumerateArray().ToArray());

    public static IEnumerable<object[]> CaseNames() => Manifest.Value.Select(c => new object[] { c.GetProperty("case").GetString()! });

    private static Tensor Get(string key) => Data.Value.TryGetValue(key, out var t) ? t.Clone() : throw new KeyNotFoundException($"No tensor '{key}' in {File}.");

    private static Dictionary<string, Tensor> WithPrefix(string prefix) =>
        Data.Value.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value.Clone());

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MatchesPyTorch(string name)
    {
        var c = Manifest.Value.First(e => e.GetProperty("case").GetString() == name);
        var x = Get($"{name}.in.x").RequiresGrad_();
        Module? module = null;
        Func<Tensor, Tensor> f;
        if (c.GetProperty("kind").GetString() == "layer")
        {
            module = Architecture.Build(c.GetProperty("layer").GetRawText());
            var expectedState = WithPrefix($"{name}.param.");
            Assert.Equal(expectedState.Keys.Order(), module.StateDict().Keys.Order());
            module.LoadStateDict(expectedState);
            f = t => module.Call(t);
        }
        else
        {
            f = Function(c.GetProperty("function"));
        }
        var y = f(x);
        Assert.Equal(Get($"{name}.out").Shape, y.Shape);
        TensorAssert.Close(Get($"{name}.out"), y, 1e-5, 1e-5, $"{name}: output");
        (y * Get($"{name}.seed")).Sum().Backward();
        TensorAssert.Close(Get($"{name}.grad_in.x"), x.Grad!, 1e-4, 1e-5, $"{name}: input gradient");
        if (module is null) return;
        foreach (var (pname, p) in module.NamedParameters())
        {
            TensorAssert.Close(Get($"{name}.grad.{pname}"), p.Grad!, 1e-4, 1e-5, $"{name}: gradient of {pname}");
        }
        foreach (var (bname, b) in module.NamedBuffers())
        {
            TensorAssert.Close(Get($"{name}.after.{bname}").To(DType.Float64), b.To(DType.Float64), 1e-5, 1e-6, $"{name}: buffer {bname} after the forward");
        }
        if (c.GetProperty("eval").GetBoolean())
        {
            module.Eval();
            using (Autograd.NoGrad()) TensorAssert.Close(Get($"{name}.out_eval"), module.Call(Get($"{name}.in.x_eval")), 1e-5, 1e-5, $"{name}: eval output");
        }
    }

    /// <summary>The Functional call a function case names, with PyTorch's keyword arguments.</summary>
    private static Func<Tensor, Tensor> Function(JsonElement fn)
    {
        var args = fn.GetProperty("args");
        string Str(string key, string fallback) => args.TryGetProperty(key, out var v) ? v.GetString()! : fallback;
        int[] Ints(string key) => args.GetProperty(key).EnumerateArray().Select(e => e.GetInt32()).ToArray();
        return fn.GetProperty("name").GetString() switch
        {
            "pad" => x => Functional.Pad(x, Ints("pad"), Str("mode", "constant"), args.TryGetProperty("value", out var v) ? v.GetDouble() : 0),
            "interpolate" => x => Functional.Interpolate(x, size: Ints("size"), mode: Str("mode", "nearest")),
            var other => throw new InvalidOperationException($"No Functional mapping for '{other}'."),
        };
    }

    [Fact]
    public void MaxPoolIndicesMatchPyTorch()
    {
        var (_, idx1) = Functional.MaxPool1dWithIndices(Get("maxpool1d.in.x"), 3, 2, 1);
        Assert.Equal(Get("maxpool1d.indices").ToLongArray(), idx1.ToLongArray());
        Assert.Equal(Get("maxpool1d.indices").Shape, idx1.Shape);
        var (_, idx2) = Functional.AdaptiveMaxPool2dWithIndices(Get("adaptivemaxpool2d.in.x"), (3, 4));
        Assert.Equal(Get("adaptivemaxpool2d.indices").ToLongArray(), idx2.ToLongArray());
    }
}
