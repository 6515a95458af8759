using Proto = global::Onnx;

namespace SharpGrad.Onnx.Tests;

/// <summary>The recurrent, attention and Transformer layers exported and run by ONNX Runtime: every output (including
/// LSTM's and GRU's final states) equals SharpGrad's eager result at 1e-5, at batch 1 and 3 of the same file.</summary>
public class SequenceExportTests
{
    private static Tensor Randn(long seed, params int[] shape) => Tensor.Randn(shape, rng: new Rng(seed));

    /// <summary>[N, S] Bool: the last <c>n % S</c>… keys of row n are padding (never key 0, so no row is all masked).</summary>
    private static Tensor Padding(int n, int s) =>
        Tensor.FromArray(Enumerable.Range(0, n * s).Select(i => i % s > 0 && i % s >= s - 1 - (i / s) % (s - 1)).ToArray(), n, s);

    private static string[] OpTypes(byte[] model) => Proto.ModelProto.Parser.ParseFrom(model).Graph.Node.Select(n => n.OpType).ToArray();

    [Fact]
    public void LstmTwoLayersBidirectionalBatchFirstWithInitialStates()
    {
        var rng = new Rng(101);
        var m = new LstmWithStates(rng);
        const int s = LstmWithStates.States, h = LstmWithStates.H;
        var bytes = OrtCheck.ExportAndCompareMany(m, i => m.Forward(i[0], i[1], i[2]), ["input", "h0", "c0"],
            [Randn(1, 1, LstmWithStates.T, LstmWithStates.In), Randn(2, s, 1, h), Randn(3, s, 1, h)],
            [Randn(4, 3, LstmWithStates.T, LstmWithStates.In), Randn(5, s, 3, h), Randn(6, s, 3, h)]);
        Assert.Equal(2, OpTypes(bytes).Count(op => op == "LSTM")); // one node per layer, both directions in it
    }

    [Fact]
    public void BidirectionalLstmClassifierOverTokenIds()
    {
        var m = new BiLstmClassifier(new Rng(102));
        OrtCheck.ExportAndCompare(m, m.Forward, "tokens",
            Tensor.RandInt(0, 30, [1, BiLstmClassifier.T], new Rng(7)), Tensor.RandInt(0, 30, [3, BiLstmClassifier.T], new Rng(8)));
    }

    [Fact]
    public void GruThreeLayersSequenceFirstWithInitialState()
    {
        var m = new GruWithState(new Rng(103));
        var bytes = OrtCheck.ExportAndCompareMany(m, i => m.Forward(i[0], i[1]), ["input", "h0"],
            [Randn(11, GruWithState.T, 1, GruWithState.In), Randn(12, 3, 1, GruWithState.H)],
            [Randn(13, GruWithState.T, 3, GruWithState.In), Randn(14, 3, 3, GruWithState.H)]);
        var gru = Proto.ModelProto.Parser.ParseFrom(bytes).Graph.Node.Where(n => n.OpType == "GRU").ToArray();
        Assert.Equal(3, gru.Length);
        Assert.All(gru, n => Assert.Equal(1, n.Attribute.Single(a => a.Name == "linear_before_reset").I));
    }

    [Fact]
    public void GruBidirectionalOnAnUnbatchedSequence()
    {
        var m = new UnbatchedBiGru(new Rng(104));
        OrtCheck.ExportAndCompareMany(m, i => m.Forward(i[0], i[1]), ["input", "h0"],
            [Randn(21, UnbatchedBiGru.T, UnbatchedBiGru.In), Randn(22, 4, UnbatchedBiGru.H)]);
    }

    [Fact]
    public void RnnReluBidirectionalThenTanh()
    {
        var m = new ElmanRnnStack(new Rng(105));
        var bytes = OrtCheck.ExportAndCompare(m, m.Forward, "input", Randn(31, 1, ElmanRnnStack.T, 4), Randn(32, 3, ElmanRnnStack.T, 4));
        Assert.Equal(3, OpTypes(bytes).Count(op => op == "RNN"));
    }

    [Fact]
    public void MultiheadCrossAttentionWithSeparateProjectionsAndMasks()
    {
        var m = new CrossAttention(new Rng(106));
        OrtCheck.Perturb(m, 60);
        const int l = CrossAttention.L, s = CrossAttention.S;
        Tensor[] Inputs(int n, long seed) =>
            [Randn(seed, n, l, CrossAttention.E), Randn(seed + 1, n, s, CrossAttention.KDim), Randn(seed + 2, n, s, CrossAttention.VDim), Padding(n, s)];
        OrtCheck.ExportAndCompareMany(m, i => [m.Forward(i[0], i[1], i[2], i[3])], ["query", "key", "value", "key_padding_mask"], Inputs(1, 41), Inputs(3, 44));
    }

    [Fact]
    public void PackedSelfAttentionUnderABoolCausalMask()
    {
        var m = new CausalSelfAttention(new Rng(107));
        OrtCheck.Perturb(m, 70);
        var bytes = OrtCheck.ExportAndCompare(m, m.Forward, "input", Randn(51, CausalSelfAttention.T, 1, CausalSelfAttention.E),
            Randn(52, CausalSelfAttention.T, 3, CausalSelfAttention.E));
        // Self-attention projects q, k and v with one MatMul of the packed weight, as PyTorch does: with q·kᵀ and
        // weights·v, three MatMuls in the attention's own scope (out_proj's are under /attn/out_proj/).
        Assert.Equal(3, Proto.ModelProto.Parser.ParseFrom(bytes).Graph.Node.Count(n => n.OpType == "MatMul" && n.Name.StartsWith("/attn/MatMul", StringComparison.Ordinal)));
    }

    [Fact]
    public void TransformerEncoderLayerPostNormRelu()
    {
        var m = new EncoderLayerPostNorm(new Rng(108));
        OrtCheck.Perturb(m, 80);
        OrtCheck.ExportAndCompare(m, m.Forward, "src", Randn(61, EncoderLayerPostNorm.T, 1, EncoderLayerPostNorm.E), Randn(62, EncoderLayerPostNorm.T, 3, EncoderLayerPostNorm.E));
    }

    [Fact]
    public void TransformerEncoderPreNormGeluWithCausalAndPaddingMasks()
    {
        var m = new TransformerEncoderClassifier(new Rng(109));
        OrtCheck.Perturb(m, 90);
        const int t = TransformerEncoderClassifier.T;
        OrtCheck.ExportAndCompareMany(m, i => [m.Forward(i[0], i[1])], ["src", "src_key_padding_mask"],
            [Randn(71, 1, t, TransformerEncoderClassifier.E), Padding(1, t)], [Randn(72, 3, t, TransformerEncoderClassifier.E), Padding(3, t)]);
    }

    [Fact]
    public void TransformerEncoderDecoder()
    {
        var m = new TinyTransformer(new Rng(110));
        OrtCheck.Perturb(m, 100);
        Tensor[] Inputs(int n, long seed) => [Randn(seed, n, TinyTransformer.S, TinyTransformer.E), Randn(seed + 1, n, TinyTransformer.T, TinyTransformer.E), Padding(n, TinyTransformer.S)];
        OrtCheck.ExportAndCompareMany(m, i => [m.Forward(i[0], i[1], i[2])], ["src", "tgt", "src_key_padding_mask"], Inputs(1, 81), Inputs(3, 84));
    }

    [Fact]
    public void SequenceInitializersAreExactlyThePyTorchStateDict()
    {
        // The gate reordering and the q/k/v split are nodes over the parameters: the file's named initializers are the
        // state dict, name for name and value for value (the rest are the builder's own constants, named "/…").
        foreach (Module m in new Module[] { new LstmWithStates(new Rng(1)), new TinyTransformer(new Rng(2)), new CrossAttention(new Rng(3)) })
        {
            m.Eval();
            var graph = Proto.ModelProto.Parser.ParseFrom(OnnxExporter.ExportToBytes(m)).Graph;
            var named = graph.Initializer.Where(i => !i.Name.StartsWith('/')).ToDictionary(i => i.Name);
            var state = m.StateDict();
            foreach (var (name, tensor) in state)
            {
                var values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(named[name].RawData.Span).ToArray();
                Assert.Equal(tensor.ToArray(), values);
            }
            Assert.Empty(named.Keys.Except(state.Select(e => e.Key)).Except(["bias", "causal"]));
        }
    }

    [Fact]
    public void ARecurrentInputOfTheWrongSizeIsRefusedWithTheShapes()
    {
        var graph = new OnnxGraphBuilder("g");
        var lstm = new SharpGrad.Layers.LSTM(5, 6, rng: new Rng(1));
        var ex = Assert.Throws<ArgumentException>(() => graph.Layer("lstm", lstm, graph.Input("x", 7, "N", 4)));
        Assert.Contains("Expected 5, got 4", ex.Message);
        var h0 = graph.Input("h0", 2, "N", 6);
        ex = Assert.Throws<ArgumentException>(() => graph.Layer("lstm", lstm, graph.Input("y", 7, "N", 5), h0));
        Assert.Contains("[1, N, 6]", ex.Message);
    }
}
