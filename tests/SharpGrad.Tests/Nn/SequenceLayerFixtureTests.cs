using System.Text.Json;
using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Nn;

/// <summary>
/// MultiheadAttention, ScaledDotProductAttention, the Transformer layers and stacks, RNN/LSTM/GRU, their cells and Unflatten
/// against PyTorch (Fixtures/arch/layers.safetensors): weights loaded by PyTorch's names, outputs and the gradients of the
/// inputs and of every parameter to 1e-4.
/// </summary>
public class SequenceLayerFixtureTests
{
    internal const string File = "layers.safetensors";

    public static IEnumerable<object[]> Cases(string kind) => ArchFixtures.CaseNames(File, kind);

    public static IEnumerable<object[]> MhaCases() => Cases("mha");
    public static IEnumerable<object[]> SdpaCases() => Cases("sdpa");
    public static IEnumerable<object[]> TransformerCases() => Cases("transformer");
    public static IEnumerable<object[]> RecurrentCases() => Cases("recurrent");
    public static IEnumerable<object[]> CellCases() => Cases("cell");

    private static int I(JsonElement c, string name, int dflt = 0) => c.TryGetProperty(name, out var v) ? v.GetInt32() : dflt;
    private static bool B(JsonElement c, string name, bool dflt = false) => c.TryGetProperty(name, out var v) ? v.GetBoolean() : dflt;
    private static string S(JsonElement c, string name, string dflt) => c.TryGetProperty(name, out var v) ? v.GetString()! : dflt;

    /// <summary>The PyTorch state dict of a case (CASE.param.NAME → NAME).</summary>
    internal static Dictionary<string, Tensor> StateOf(string caseName)
    {
        string prefix = caseName + ".param.";
        return ArchFixtures.Load(File).Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(k => k[prefix.Length..], k => ArchFixtures.Get(File, k));
    }

    /// <summary>The layer of a case, built from the manifest's settings, in <paramref name="dtype"/>.</summary>
    internal static Module Build(string caseName, DType dtype = DType.Float32)
    {
        var c = ArchFixtures.Case(File, caseName);
        string kind = c.GetProperty("kind").GetString()!;
        string cls = S(c, "cls", "");
        int d = I(c, "d_model"), nh = I(c, "nhead"), ff = I(c, "dim_feedforward");
        bool bf = B(c, "batch_first"), nf = B(c, "norm_first");
        return kind switch
        {
            "mha" => new MultiheadAttention(I(c, "embed_dim"), I(c, "num_heads"), bias: B(c, "bias", true), kdim: c.TryGetProperty("kdim", out var kd) ? kd.GetInt32() : null,
                vdim: c.TryGetProperty("vdim", out var vd) ? vd.GetInt32() : null, batchFirst: bf, dtype: dtype),
            "transformer" => cls switch
            {
                "TransformerEncoderLayer" => new TransformerEncoderLayer(d, nh, ff, 0.0, S(c, "activation", "relu"), batchFirst: bf, normFirst: nf, dtype: dtype),
                "TransformerDecoderLayer" => new TransformerDecoderLayer(d, nh, ff, 0.0, S(c, "activation", "relu"), batchFirst: bf, normFirst: nf, dtype: dtype),
                "TransformerEncoder" => new TransformerEncoder(new TransformerEncoderLayer(d, nh, ff, 0.0, batchFirst: bf, dtype: dtype), I(c, "num_layers"),
                    B(c, "final_norm") ? new LayerNorm(d, dtype: dtype) : null),
                "TransformerDecoder" => new TransformerDecoder(new TransformerDecoderLayer(d, nh, ff, 0.0, S(c, "activation", "relu"), batchFirst: bf, normFirst: nf, dtype: dtype), I(c, "num_layers"),
                    B(c, "final_norm") ? new LayerNorm(d, dtype: dtype) : null),
                "Transformer" => new Transformer(d, nh, I(c, "num_encoder_layers"), I(c, "num_decoder_layers"), ff, 0.0, batchFirst: bf, dtype: dtype),
                _ => throw new NotSupportedException(cls),
            },
            "recurrent" => cls switch
            {
                "RNN" => new RNN(I(c, "input_size"), I(c, "hidden_size"), I(c, "num_layers"), S(c, "nonlinearity", "tanh"), B(c, "bias", true), bf,
                    bidirectional: B(c, "bidirectional"), dtype: dtype),
                "LSTM" => new LSTM(I(c, "input_size"), I(c, "hidden_size"), I(c, "num_layers"), B(c, "bias", true), bf, bidirectional: B(c, "bidirectional"), dtype: dtype),
                "GRU" => new GRU(I(c, "input_size"), I(c, "hidden_size"), I(c, "num_layers"), B(c, "bias", true), bf, bidirectional: B(c, "bidirectional"), dtype: dtype),
                _ => throw new NotSupportedException(cls),
            },
            "cell" => cls switch
            {
                "RNNCell" => new RNNCell(I(c, "input_size"), I(c, "hidden_size"), B(c, "bias", true), S(c, "nonlinearity", "tanh"), dtype: dtype),
                "LSTMCell" => new LSTMCell(I(c, "input_size"), I(c, "hidden_size"), B(c, "bias", true), dtype: dtype),
                "GRUCell" => new GRUCell(I(c, "input_size"), I(c, "hidden_size"), B(c, "bias", true), dtype: dtype),
                _ => throw new NotSupportedException(cls),
            },
            "unflatten" => new Unflatten(I(c, "dim"), c.GetProperty("unflattened_size").EnumerateArray().Select(e => e.GetInt32()).ToArray()),
            _ => throw new NotSupportedException(kind),
        };
    }

    /// <summary>Runs a case's layer the way generate.py called PyTorch's, returning the named outputs.</summary>
    internal static Dictionary<string, Tensor> Call(string caseName, Module m, Dictionary<string, Tensor> a)
    {
        Tensor? Opt(string name) => a.TryGetValue(name, out var t) ? t : null;
        var c = ArchFixtures.Case(File, caseName);
        switch (m)
        {
            case MultiheadAttention mha:
            {
                bool self = B(c, "self_attention"), kv = B(c, "key_is_value");
                var q = self ? a["x"] : a["q"];
                var k = self ? q : kv ? a["kv"] : a["k"];
                var v = self ? q : kv ? k : a["v"];
                var (o, w) = mha.Forward(q, k, v, Opt("key_padding_mask"), B(c, "need_weights", true), Opt("attn_mask"), B(c, "average_attn_weights", true));
                var r = new Dictionary<string, Tensor> { ["out"] = o };
                if (w is not null) r["weights"] = w;
                return r;
            }
            case TransformerEncoderLayer l: return new() { ["out"] = l.Forward(a["src"], Opt("src_mask"), Opt("src_key_padding_mask")) };
            case TransformerDecoderLayer l:
                return new() { ["out"] = l.Forward(a["tgt"], a["memory"], Opt("tgt_mask"), Opt("memory_mask"), Opt("tgt_key_padding_mask"), Opt("memory_key_padding_mask")) };
            case TransformerEncoder e: return new() { ["out"] = e.Forward(a["src"], Opt("mask"), Opt("src_key_padding_mask")) };
            case TransformerDecoder dd:
                return new() { ["out"] = dd.Forward(a["tgt"], a["memory"], Opt("tgt_mask"), Opt("memory_mask"), Opt("tgt_key_padding_mask"), Opt("memory_key_padding_mask")) };
            case Transformer t: return new() { ["out"] = t.Forward(a["src"], a["tgt"], tgtMask: Opt("tgt_mask"), srcKeyPaddingMask: Opt("src_key_padding_mask")) };
            case RNN r:
            {
                var (o, h) = r.Forward(a["x"], Opt("h0"));
                return new() { ["out"] = o, ["hn"] = h };
            }
            case GRU g:
            {
                var (o, h) = g.Forward(a["x"], Opt("h0"));
                return new() { ["out"] = o, ["hn"] = h };
            }
            case LSTM l:
            {
                var (o, (h, cc)) = a.ContainsKey("h0") ? l.Forward(a["x"], (a["h0"], a["c0"])) : l.Forward(a["x"]);
                return new() { ["out"] = o, ["hn"] = h, ["cn"] = cc };
            }
            case RNNCell rc: return new() { ["h1"] = rc.Forward(a["x"], Opt("h")) };
            case GRUCell gc: return new() { ["h1"] = gc.Forward(a["x"], Opt("h")) };
            case LSTMCell lc:
            {
                var (h, cc) = a.ContainsKey("h") ? lc.Forward(a["x"], (a["h"], a["c"])) : lc.Forward(a["x"]);
                return new() { ["h1"] = h, ["c1"] = cc };
            }
            case Unflatten u: return new() { ["out"] = u.Forward(a["x"]) };
            default: throw new NotSupportedException(m.GetType().Name);
        }
    }

    /// <summary>Loads the case's weights by PyTorch's names, runs it, and compares outputs and every gradient with PyTorch's.</summary>
    /// <remarks>
    /// With <paramref name="masksAreData"/> the inputs named <c>*mask*</c> are passed without requires-grad and their
    /// gradients not compared (compiled programs read masks as data; a mask that requires grad runs eagerly there).
    /// </remarks>
    internal static void CheckAgainstPyTorch(string caseName, Module? module, Func<Dictionary<string, Tensor>, Dictionary<string, Tensor>> call,
        bool masksAreData = false)
    {
        var c = ArchFixtures.Case(File, caseName);
        if (module is not null)
        {
            module.LoadStateDict(StateOf(caseName), strict: true);
            // PyTorch's parameter order, not just its names
            Assert.Equal(c.GetProperty("parameter_names").EnumerateArray().Select(e => e.GetString()), module.NamedParameters().Select(p => p.Name));
        }
        var inputs = new Dictionary<string, Tensor>();
        foreach (var name in c.GetProperty("inputs").EnumerateArray().Select(e => e.GetString()!))
        {
            var t = ArchFixtures.Get(File, $"{caseName}.in.{name}");
            inputs[name] = t.DType.IsFloatingPoint() && !(masksAreData && name.Contains("mask", StringComparison.Ordinal)) ? t.RequiresGrad_() : t;
        }
        var outputs = call(inputs);
        Assert.Equal(c.GetProperty("outputs").EnumerateArray().Select(e => e.GetString()).Order(), outputs.Keys.Order());
        Tensor? total = null;
        foreach (var (name, o) in outputs)
        {
            var expected = ArchFixtures.Get(File, $"{caseName}.out.{name}");
            Assert.Equal(expected.Shape, o.Shape);
            TensorAssert.Close(expected, o, 1e-4, 1e-5, $"{caseName}: output {name}");
            var term = (o * ArchFixtures.Get(File, $"{caseName}.seed.{name}")).Sum();
            total = total is null ? term : total + term;
        }
        total!.Backward();
        foreach (var (name, t) in inputs)
        {
            if (!t.RequiresGrad) continue;
            TensorAssert.Close(ArchFixtures.Get(File, $"{caseName}.grad_in.{name}"), t.Grad!, 1e-4, 1e-5, $"{caseName}: gradient of input {name}");
        }
        if (module is not null)
        {
            foreach (var (name, p) in module.NamedParameters())
            {
                Assert.True(p.Grad is not null, $"{caseName}: parameter {name} got no gradient");
                TensorAssert.Close(ArchFixtures.Get(File, $"{caseName}.grad.{name}"), p.Grad!, 1e-4, 1e-5, $"{caseName}: gradient of {name}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(MhaCases))]
    public void MultiheadAttentionMatchesPyTorch(string caseName) => CheckLayer(caseName);

    [Theory]
    [MemberData(nameof(TransformerCases))]
    public void TransformerMatchesPyTorch(string caseName) => CheckLayer(caseName);

    [Theory]
    [MemberData(nameof(RecurrentCases))]
    public void RecurrentLayerMatchesPyTorch(string caseName) => CheckLayer(caseName);

    [Theory]
    [MemberData(nameof(CellCases))]
    public void RecurrentCellMatchesPyTorch(string caseName) => CheckLayer(caseName);

    [Fact]
    public void UnflattenMatchesPyTorch() => CheckLayer("unflatten");

    private static void CheckLayer(string caseName)
    {
        var m = Build(caseName);
        CheckAgainstPyTorch(caseName, m, a => Call(caseName, m, a));
    }

    [Theory]
    [MemberData(nameof(SdpaCases))]
    public void ScaledDotProductAttentionMatchesPyTorch(string caseName)
    {
        var c = ArchFixtures.Case(File, caseName);
        bool causal = B(c, "is_causal");
        double? scale = c.TryGetProperty("scale", out var s) ? s.GetDouble() : null;
        CheckAgainstPyTorch(caseName, null, a => new()
        {
            ["out"] = Functional.ScaledDotProductAttention(a["q"], a["k"], a["v"], a.GetValueOrDefault("attn_mask"), isCausal: causal, scale: scale),
        });
    }
}
