using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Nn;

/// <summary>The composite sequence layers' gradients (parameters and inputs) against finite differences in Float64.</summary>
public class SequenceLayerGradCheckTests
{
    private const DType F64 = DType.Float64;

    private static Tensor R(params int[] shape) => Tensor.Randn(shape, F64, rng: new Rng(shape.Sum() * 31 + shape.Length));

    private static Tensor Stack3(Tensor a, Tensor b, Tensor? c = null) =>
        c is null ? Tensor.Cat([a.Flatten(), b.Flatten()]) : Tensor.Cat([a.Flatten(), b.Flatten(), c.Flatten()]);

    [Fact]
    public void MultiheadAttentionWithMasks()
    {
        var rng = new Rng(1);
        var mha = new MultiheadAttention(4, 2, batchFirst: true, rng: rng, dtype: F64);
        var kpm = Tensor.FromArray(new[] { false, false, false, true, false, false, false, false }, 2, 4);
        var mask = Tensor.FromArray(new[] { false, true, false, false, false, false, true, false, false, false, false, false }, 3, 4);
        ModuleGradCheck.Check(mha, xs =>
        {
            var (o, w) = mha.Forward(xs[0], xs[1], xs[1], kpm, attnMask: mask, averageAttnWeights: false);
            return Stack3(o, w!);
        }, [R(2, 3, 4), R(2, 4, 4)]);
    }

    [Fact]
    public void MultiheadAttentionSeparateProjectionsUnbatched()
    {
        var mha = new MultiheadAttention(4, 2, bias: false, kdim: 3, vdim: 5, rng: new Rng(2), dtype: F64);
        ModuleGradCheck.Check(mha, xs => mha.Forward(xs[0], xs[1], xs[2]).Output, [R(3, 4), R(2, 3), R(2, 5)]);
    }

    [Fact]
    public void ScaledDotProductAttentionCausalAndFloatMask()
    {
        GradCheck.Check(xs => Functional.ScaledDotProductAttention(xs[0], xs[1], xs[2], isCausal: true, scale: 0.7), R(2, 3, 4), R(2, 3, 4), R(2, 3, 2));
        GradCheck.Check(xs => Functional.ScaledDotProductAttention(xs[0], xs[1], xs[2], xs[3]), R(2, 3, 4), R(2, 5, 4), R(2, 5, 2), R(3, 5));
    }

    [Theory]
    [InlineData(false, "relu", false)]
    [InlineData(true, "gelu", true)]
    public void EncoderLayer(bool normFirst, string activation, bool batchFirst)
    {
        var layer = new TransformerEncoderLayer(4, 2, 6, dropout: 0, activation, batchFirst: batchFirst, normFirst: normFirst, rng: new Rng(3), dtype: F64);
        var kpm = Tensor.FromArray(new[] { false, false, true, false, false, false }, 2, 3);
        ModuleGradCheck.Check(layer, xs => layer.Forward(xs[0], Transformer.GenerateSquareSubsequentMask(3, F64), kpm), [batchFirst ? R(2, 3, 4) : R(3, 2, 4)]);
    }

    [Fact]
    public void DecoderStack()
    {
        var dec = new TransformerDecoder(new TransformerDecoderLayer(4, 2, 5, dropout: 0, rng: new Rng(4), dtype: F64), 2, new LayerNorm(4, dtype: F64));
        var mkpm = Tensor.FromArray(new[] { false, true, false, false }, 2, 2);
        ModuleGradCheck.Check(dec, xs => dec.Forward(xs[0], xs[1], Transformer.GenerateSquareSubsequentMask(3, F64), memoryKeyPaddingMask: mkpm), [R(3, 2, 4), R(2, 2, 4)]);
    }

    [Fact]
    public void BidirectionalTwoLayerLstm()
    {
        var lstm = new LSTM(3, 2, numLayers: 2, bidirectional: true, rng: new Rng(5), dtype: F64);
        ModuleGradCheck.Check(lstm, xs =>
        {
            var (o, (h, c)) = lstm.Forward(xs[0], (xs[1], xs[2]));
            return Stack3(o, h, c);
        }, [R(4, 2, 3), R(4, 2, 2), R(4, 2, 2)]);
    }

    [Fact]
    public void GruAndRnn()
    {
        var gru = new GRU(3, 2, numLayers: 2, batchFirst: true, bidirectional: true, rng: new Rng(6), dtype: F64);
        ModuleGradCheck.Check(gru, xs => { var (o, h) = gru.Forward(xs[0], xs[1]); return Stack3(o, h); }, [R(2, 3, 3), R(4, 2, 2)]);
        var rnn = new RNN(3, 2, nonlinearity: "tanh", bias: false, rng: new Rng(7), dtype: F64);
        ModuleGradCheck.Check(rnn, xs => { var (o, h) = rnn.Forward(xs[0]); return Stack3(o, h); }, [R(3, 3)]);
    }

    [Fact]
    public void Cells()
    {
        var lstm = new LSTMCell(3, 2, rng: new Rng(8), dtype: F64);
        ModuleGradCheck.Check(lstm, xs => { var (h, c) = lstm.Forward(xs[0], (xs[1], xs[2])); return Stack3(h, c); }, [R(2, 3), R(2, 2), R(2, 2)]);
        var gru = new GRUCell(3, 2, rng: new Rng(9), dtype: F64);
        ModuleGradCheck.Check(gru, xs => gru.Forward(xs[0], xs[1]), [R(3), R(2)]);
        var rnn = new RNNCell(3, 2, nonlinearity: "relu", rng: new Rng(10), dtype: F64);
        ModuleGradCheck.Check(rnn, xs => rnn.Forward(xs[0], xs[1]), [R(2, 3), R(2, 2)]);
    }

    [Fact]
    public void ChunkSplitUnbindTrilTriu()
    {
        GradCheck.Check(xs => { var c = xs[0].Chunk(3, 1); return c[0] * 2.0f + c[2] - c[1].Sum(1, keepDim: true); }, R(2, 7));
        GradCheck.Check(xs => Tensor.Cat(xs[0].Split([1, 3, 2], 0).Reverse().ToArray(), 0), R(6, 2));
        GradCheck.Check(xs => Tensor.Stack(xs[0].Unbind(1).Select((t, i) => t * (float)(i + 1)).ToArray(), 0), R(2, 3));
        GradCheck.Check(xs => xs[0].Tril(-1) + xs[0].Triu(2), R(2, 3, 4));
        GradCheck.Check(xs => new Unflatten(1, [3, -1]).Forward(xs[0]) * xs[0].Reshape(2, 3, 2), R(2, 6));
    }
}
