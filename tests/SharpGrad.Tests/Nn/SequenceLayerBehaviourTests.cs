using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Nn;

/// <summary>What the sequence layers do besides their arithmetic: names, init, copies, modes, saving, and their errors.</summary>
public class SequenceLayerBehaviourTests
{
    [Fact]
    public void StateNamesAreTorchs()
    {
        var enc = new TransformerEncoder(new TransformerEncoderLayer(8, 2, 16), 2, new LayerNorm(8));
        var names = enc.StateDict().Keys.ToList();
        Assert.Equal("layers.0.self_attn.in_proj_weight", names[0]);
        Assert.Contains("layers.1.norm2.bias", names);
        Assert.Contains("norm.weight", names);
        Assert.Equal(2 * 12 + 2, names.Count);
        var dec = new TransformerDecoderLayer(8, 2, 16);
        Assert.Equal(["self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
            "multihead_attn.in_proj_weight", "multihead_attn.in_proj_bias", "multihead_attn.out_proj.weight", "multihead_attn.out_proj.bias",
            "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias",
            "norm3.weight", "norm3.bias"], dec.StateDict().Keys);
        Assert.Equal(["weight_ih", "weight_hh", "bias_ih", "bias_hh"], new GRUCell(3, 4).StateDict().Keys);
        var t = new Transformer(8, 2, 1, 1, 16);
        Assert.Contains("encoder.norm.weight", t.StateDict().Keys);
        Assert.Contains("decoder.layers.0.multihead_attn.out_proj.bias", t.StateDict().Keys);
    }

    [Fact]
    public void InitialisationFollowsPyTorch()
    {
        Rng.ManualSeed(3);
        var lstm = new LSTM(10, 16, numLayers: 2);
        double bound = 1 / Math.Sqrt(16);
        foreach (var (name, p) in lstm.NamedParameters())
        {
            var v = p.ToDoubleArray();
            Assert.True(v.All(x => Math.Abs(x) <= bound), $"{name} outside ±1/√H");
            Assert.True(v.Max() > bound * 0.8 && v.Min() < -bound * 0.8, $"{name} should fill ±1/√H");
        }
        var mha = new MultiheadAttention(12, 3);
        Assert.All(mha.InProjBias!.ToDoubleArray(), b => Assert.Equal(0, b));
        Assert.All(mha.OutProj.Bias!.ToDoubleArray(), b => Assert.Equal(0, b));
        double xavier = Math.Sqrt(6.0 / (12 + 36));
        var w = mha.InProjWeight!.ToDoubleArray();
        Assert.True(w.All(x => Math.Abs(x) <= xavier) && w.Max() > 0.8 * xavier, "in_proj_weight is Xavier-uniform over [3E, E]");
    }

    [Fact]
    public void EncoderLayersAreDeepCopies()
    {
        var layer = new TransformerEncoderLayer(8, 2, 16);
        var enc = new TransformerEncoder(layer, 3);
        // equal values (PyTorch's deepcopy), separate tensors
        TensorAssert.Close(enc.Layers[0].Linear1.Weight, enc.Layers[2].Linear1.Weight, 0, 0, "copies start equal");
        TensorAssert.Close(layer.Linear1.Weight, enc.Layers[0].Linear1.Weight, 0, 0, "copies of the given layer");
        Assert.NotSame(enc.Layers[0].Linear1.Weight, enc.Layers[1].Linear1.Weight);
        Assert.Equal(3 * layer.Parameters().Count(), enc.Parameters().Count());
        using (Autograd.NoGrad()) enc.Layers[1].Linear1.Weight.Add_(1f);
        Assert.NotEqual(enc.Layers[0].Linear1.Weight.ToArray(), enc.Layers[1].Linear1.Weight.ToArray());
    }

    [Fact]
    public void DropoutActsInTrainingOnly()
    {
        var x = Tensor.Randn(5, 2, 8);
        var layer = new TransformerEncoderLayer(8, 2, 16, dropout: 0.5);
        #pragma warning disable SG2008 // the test checks a forward value with recording on, as in training
        var trainA = layer.Forward(x).ToArray();
        var trainB = layer.Forward(x).ToArray();
        Assert.NotEqual(trainA, trainB);
        layer.Eval();
        Assert.Equal(layer.Forward(x).ToArray(), layer.Forward(x).ToArray());
        #pragma warning restore SG2008
        var lstm = new LSTM(8, 4, numLayers: 2, dropout: 1.0);
        // dropout 1 zeroes the first layer's output: the second layer sees only its biases
        var (o1, _) = lstm.Forward(x);
        var (o2, _) = lstm.Forward(Tensor.Randn(5, 2, 8));
        TensorAssert.Close(o1, o2, 1e-6, 1e-7, "second layer independent of the input");
        lstm.Eval();
        Assert.NotEqual(lstm.Forward(x).Output.ToArray(), lstm.Forward(Tensor.Randn(5, 2, 8)).Output.ToArray());
    }

    [Fact]
    public void SaveAndLoadWholeModels()
    {
        var dir = Path.Combine(Path.GetTempPath(), "sharpgrad-seq-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var seq = new Sequential(new Linear(6, 8), new TransformerEncoder(new TransformerEncoderLayer(8, 2, 12, dropout: 0, activation: "gelu", batchFirst: true, normFirst: true), 2,
                new LayerNorm(8)), new Unflatten(2, [2, 4]));
            seq.Eval();
            var x = Tensor.Randn(2, 3, 6);
            var expected = seq.Forward(x);
            var path = Path.Combine(dir, "seq.safetensors");
            seq.Save(path);
            var loaded = Sequential.Load(path);
            loaded.Eval();
            TensorAssert.Close(expected, loaded.Forward(x), 0, 0, "reloaded Sequential");
            Assert.Equal([2, 3, 2, 4], expected.Shape);

            var holder = new Sequential(new LSTM(3, 4, 2, bidirectional: true, batchFirst: true), new GRU(3, 2), new RNN(3, 2, nonlinearity: "relu"),
                new MultiheadAttention(4, 2, kdim: 3), new LSTMCell(3, 2), new GRUCell(3, 2), new RNNCell(3, 2), new TransformerDecoder(new TransformerDecoderLayer(4, 2, 6), 1),
                new Transformer(4, 2, 1, 2, 6, batchFirst: true, normFirst: true));
            var hpath = Path.Combine(dir, "holder.safetensors");
            holder.Save(hpath);
            var back = Sequential.Load(hpath);
            Assert.Equal(holder.StateDict().Keys, back.StateDict().Keys);
            foreach (var (name, t) in holder.StateDict()) TensorAssert.Close(t, back.StateDict()[name], 0, 0, name);
            var lstm = (LSTM)back[0];
            Assert.True(lstm.Bidirectional && lstm.BatchFirst && lstm.NumLayers == 2);

            var model = new TinyTagger();
            var mpath = Path.Combine(dir, "tagger.safetensors");
            model.Save(mpath);
            var tagger = Module.Load<TinyTagger>(mpath);
            var tokens = Tensor.FromArray(new long[] { 1, 2, 3, 0, 4, 1 }, 2, 3);
            TensorAssert.Close(model.Forward(tokens), tagger.Forward(tokens), 0, 0, "Module.Load of a [Module] with an LSTM");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void BadInputsAreNamed()
    {
        var mha = new MultiheadAttention(8, 2);
        var x = Tensor.Randn(5, 3, 8);
        Assert.Contains("2D attn_mask", Assert.Throws<ArgumentException>(() => mha.Forward(x, x, x, attnMask: Tensor.Zeros(4, 5))).Message);
        Assert.Contains("key_padding_mask", Assert.Throws<ArgumentException>(() => mha.Forward(x, x, x, keyPaddingMask: Tensor.Zeros([5, 3], DType.Bool))).Message);
        Assert.Contains("divisible", Assert.Throws<ArgumentException>(() => new MultiheadAttention(10, 3)).Message);
        Assert.Contains("embedding size 8", Assert.Throws<ArgumentException>(() => mha.Forward(Tensor.Randn(5, 3, 7), x, x)).Message);
        Assert.Contains("relu", Assert.Throws<ArgumentException>(() => new TransformerEncoderLayer(8, 2, activation: "tanh")).Message);
        var lstm = new LSTM(4, 3, numLayers: 2);
        Assert.Contains("input_size", Assert.Throws<ArgumentException>(() => lstm.Forward(Tensor.Randn(5, 2, 3))).Message);
        Assert.Contains("[2, 2, 3]", Assert.Throws<ArgumentException>(() => lstm.Forward(Tensor.Randn(5, 2, 4), (Tensor.Zeros(1, 2, 3), Tensor.Zeros(2, 2, 3)))).Message);
        Assert.Contains("nonlinearity", Assert.Throws<ArgumentException>(() => new RNN(3, 2, nonlinearity: "sigmoid")).Message);
        Assert.Contains("both", Assert.Throws<ArgumentException>(() => Functional.ScaledDotProductAttention(x, x, x, Tensor.Zeros(3, 3), isCausal: true)).Message);
        Assert.Contains("multiply", Assert.Throws<ArgumentException>(() => new Unflatten(1, [5, -1]).Forward(Tensor.Zeros(2, 12))).Message);
        Assert.Contains("add up to 5", Assert.Throws<ArgumentException>(() => Tensor.Zeros(6).Split([2, 3])).Message);
    }

    [Fact]
    public void BoolAndIntegerMasksCanBeFilled()
    {
        // A causal mask the PyTorch way: torch.ones(t, t, dtype=torch.bool).triu(1) (Full of a Bool tensor used to recurse forever).
        Assert.Equal(new[] { false, true, false, false }, Tensor.Ones([2, 2], DType.Bool).Triu(1).ToBoolArray());
        Assert.Equal(new byte[] { 7, 7 }, Tensor.Full([2], 7, DType.UInt8).ToByteArray());
        Assert.Equal(new long[] { 3, 3 }, Tensor.Full([2], 3, DType.Int32).ToLongArray());
    }

    [Fact]
    public void SplitChunkAndTrianglesMatchPyTorchsShapesAndValues()
    {
        var x = Tensor.Arange(0.0, 10.0).Reshape(2, 5);
        Assert.Equal([[2, 2], [2, 2], [2, 1]], x.Chunk(3, 1).Select(t => t.Shape));
        Assert.Equal([[2, 3], [2, 2]], x.Split(3, 1).Select(t => t.Shape));
        Assert.Equal(new float[] { 0, 5 }, x.Unbind(1)[0].ToArray());
        Assert.Equal(new float[] { 0, 0, 0, 0, 0, 5, 6, 0, 0, 0 }, x.Tril().ToArray());
        Assert.Equal(new float[] { 0, 0, 2, 3, 4, 0, 0, 0, 8, 9 }, x.Triu(2).ToArray());
        var mask = Transformer.GenerateSquareSubsequentMask(3).ToArray();
        Assert.Equal(new float[] { 0, float.NegativeInfinity, float.NegativeInfinity, 0, 0, float.NegativeInfinity, 0, 0, 0 }, mask);
    }
}

/// <summary>A small [Module] with an LSTM child, saved and loaded whole (the LSTM and its tuple's <c>.Output</c> are graph breaks).</summary>
[Module]
public sealed partial class TinyTagger
{
    private readonly Embedding embed = new(5, 3);
    private readonly LSTM lstm = new(3, 4, batchFirst: true, bidirectional: true);
    private readonly Linear head = new(8, 2);

    public Tensor Forward(Tensor tokens) => head.Forward(lstm.Forward(embed.Forward(tokens)).Output);
}
