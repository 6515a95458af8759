using SharpGrad.Layers;

namespace SharpGrad.Tests.Compiler;

// Models whose recurrent layers take initial states and give final states (CompiledRecurrentStateTests): the states are
// [L·D, N, H], the batch in dim 1 as in PyTorch. The fixture models are PyTorch's lstm_2l_bi_bf_h0c0 / gru_2l_bi_bf_h0 layers
// (Fixtures/arch/layers.safetensors), one model per result so that each result's gradient can be seeded.

/// <summary>PyTorch's lstm_2l_bi_bf_h0c0 layer from (h_0, c_0): its output sequence.</summary>
[Module]
public sealed partial class LstmStatesOutput
{
    private readonly LSTM lstm = new(4, 5, numLayers: 2, batchFirst: true, bidirectional: true);

    public Tensor Forward([Shape("N", 9, 4)] Tensor x, [Shape(4, "N", 5)] Tensor h0, [Shape(4, "N", 5)] Tensor c0)
    {
        var (y, _) = lstm.Forward(x, (h0, c0));
        return y;
    }
}

/// <summary>The same layer's final hidden states h_n [4, N, 5].</summary>
[Module]
public sealed partial class LstmStatesHidden
{
    private readonly LSTM lstm = new(4, 5, numLayers: 2, batchFirst: true, bidirectional: true);

    public Tensor Forward([Shape("N", 9, 4)] Tensor x, [Shape(4, "N", 5)] Tensor h0, [Shape(4, "N", 5)] Tensor c0)
    {
        var (_, (h, _)) = lstm.Forward(x, (h0, c0));
        return h;
    }
}

/// <summary>The same layer's final cell states c_n [4, N, 5].</summary>
[Module]
public sealed partial class LstmStatesCell
{
    private readonly LSTM lstm = new(4, 5, numLayers: 2, batchFirst: true, bidirectional: true);

    public Tensor Forward([Shape("N", 9, 4)] Tensor x, [Shape(4, "N", 5)] Tensor h0, [Shape(4, "N", 5)] Tensor c0)
    {
        var (_, (_, c)) = lstm.Forward(x, (h0, c0));
        return c;
    }
}

/// <summary>PyTorch's gru_2l_bi_bf_h0 layer from h_0: its output sequence.</summary>
[Module]
public sealed partial class GruStatesOutput
{
    private readonly GRU gru = new(4, 5, numLayers: 2, batchFirst: true, bidirectional: true);

    public Tensor Forward([Shape("N", 6, 4)] Tensor x, [Shape(4, "N", 5)] Tensor h0) => gru.Forward(x, h0).Output;
}

/// <summary>The same layer's final hidden states h_n [4, N, 5].</summary>
[Module]
public sealed partial class GruStatesHidden
{
    private readonly GRU gru = new(4, 5, numLayers: 2, batchFirst: true, bidirectional: true);

    public Tensor Forward([Shape("N", 6, 4)] Tensor x, [Shape(4, "N", 5)] Tensor h0)
    {
        var (_, h) = gru.Forward(x, h0);
        return h;
    }
}

/// <summary>
/// Every use of the states at once: an LSTM's output, its final states selected per layer-direction and added, into a
/// Linear; the states flow through pointwise code with the batch in dim 1.
/// </summary>
[Module]
public sealed partial class LstmStatesHead
{
    private readonly LSTM lstm = new(4, 6, numLayers: 2, batchFirst: true, bidirectional: true);
    private readonly Linear fc = new(12 + 6 + 6, 3);

    public Tensor Forward([Shape("N", 5, 4)] Tensor x, [Shape(4, "N", 6)] Tensor h0, [Shape(4, "N", 6)] Tensor c0)
    {
        var (y, (h, c)) = lstm.Forward(x, (h0, c0));
        var both = Functional.Tanh(h + c);
        return fc.Forward(Tensor.Cat([y.Select(1, -1), both.Select(0, -1), c.Select(0, 0)], 1));
    }
}

/// <summary>A GRU encoder–decoder: the decoder starts from the encoder's final state (<c>decoder.Forward(y, h)</c>).</summary>
[Module]
public sealed partial class GruEncoderDecoder
{
    private readonly GRU encoder = new(4, 6, numLayers: 2, batchFirst: true);
    private readonly GRU decoder = new(3, 6, numLayers: 2, batchFirst: true);
    private readonly Linear fc = new(6, 2);

    public Tensor Forward([Shape("N", 7, 4)] Tensor src, [Shape("N", 5, 3)] Tensor tgt)
    {
        var (_, h) = encoder.Forward(src);
        var (y, _) = decoder.Forward(tgt, h);
        return fc.Forward(y);
    }
}
