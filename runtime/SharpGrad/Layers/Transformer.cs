namespace SharpGrad.Layers;

/// <summary>The activations PyTorch's Transformer layers accept by name.</summary>
internal static class TransformerActivation
{
    public static string Check(string activation, string owner) => activation is "relu" or "gelu"
        ? activation
        : throw new ArgumentException($"{owner}: activation should be \"relu\" or \"gelu\", not \"{activation}\".");

    public static Tensor Apply(string activation, Tensor x) => activation == "gelu" ? Functional.Gelu(x) : Functional.Relu(x);
}

/// <summary>
/// The settings <see cref="TransformerEncoderLayer"/> and <see cref="TransformerDecoderLayer"/> share (PyTorch keeps them as
/// constructor arguments of each): sizes, dropout, activation, LayerNorm eps, layout and norm placement.
/// </summary>
[Module]
public abstract partial class TransformerLayerBase : Module
{
    private protected TransformerLayerBase(int dModel, int nhead, int dimFeedforward, double dropout, string activation, double layerNormEps,
        bool batchFirst, bool normFirst, string owner)
    {
        Activation = TransformerActivation.Check(activation, owner);
        DModel = dModel;
        Nhead = nhead;
        DimFeedforward = dimFeedforward;
        DropoutP = dropout;
        LayerNormEps = layerNormEps;
        BatchFirst = batchFirst;
        NormFirst = normFirst;
    }

    /// <summary>The model size (PyTorch: <c>d_model</c>).</summary>
    public int DModel { get; }
    /// <summary>The number of attention heads (PyTorch: <c>nhead</c>).</summary>
    public int Nhead { get; }
    /// <summary>The hidden size of the feed-forward block (PyTorch: <c>dim_feedforward</c>).</summary>
    public int DimFeedforward { get; }
    /// <summary>The dropout probability (PyTorch: <c>dropout</c>).</summary>
    public double DropoutP { get; }
    /// <summary>"relu" or "gelu" (PyTorch: <c>activation</c>).</summary>
    public string Activation { get; }
    /// <summary>The LayerNorms' eps (PyTorch: <c>layer_norm_eps</c>).</summary>
    public double LayerNormEps { get; }
    /// <summary>Whether inputs are [N, L, E] rather than [L, N, E] (PyTorch: <c>batch_first</c>).</summary>
    public bool BatchFirst { get; }
    /// <summary>Pre-norm (LayerNorm before each block) instead of post-norm (PyTorch: <c>norm_first</c>).</summary>
    public bool NormFirst { get; }

    /// <summary>
    /// linear2(dropout(activation(linear1(x)))) — the feed-forward block of both layers; linear1's output goes back to the
    /// caching allocator once the activation has read it (<see cref="LayerIntermediates"/>).
    /// </summary>
    private protected Tensor FeedForward(Linear linear1, Dropout dropout, Linear linear2, Tensor x, in LayerIntermediates scope)
    {
        var hidden = linear1.Forward(x);
        var activated = TransformerActivation.Apply(Activation, hidden);
        scope.Dead(hidden);
        return linear2.Forward(dropout.Forward(activated));
    }

    /// <summary>x + block, the block's result handed back once added (<see cref="LayerIntermediates.Dead"/>).</summary>
    private protected static Tensor Residual(Tensor x, Tensor block, in LayerIntermediates scope)
    {
        var sum = x + block;
        scope.Dead(block);
        return sum;
    }
}

/// <summary>
/// One Transformer encoder layer: self-attention and a feed-forward block, each with dropout, a residual connection and
/// LayerNorm — after the residual (post-norm, the default) or before the block (<c>normFirst</c>)
/// (PyTorch: <c>torch.nn.TransformerEncoderLayer</c>, same state names: <c>self_attn.in_proj_weight</c>, <c>linear1.weight</c>, <c>norm1.weight</c>, …).
/// </summary>
[Module]
public sealed partial class TransformerEncoderLayer : TransformerLayerBase
{
    /// <summary>
    /// Creates the layer (PyTorch: <c>nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
    /// layer_norm_eps=1e-5, batch_first=False, norm_first=False)</c>); <paramref name="activation"/> is "relu" or "gelu".
    /// </summary>
    public TransformerEncoderLayer(int dModel, int nhead, int dimFeedforward = 2048, double dropout = 0.1, string activation = "relu",
        double layerNormEps = 1e-5, bool batchFirst = false, bool normFirst = false, Rng? rng = null, DType dtype = DType.Float32)
        : base(dModel, nhead, dimFeedforward, dropout, activation, layerNormEps, batchFirst, normFirst, "TransformerEncoderLayer")
    {
        SelfAttn = new MultiheadAttention(dModel, nhead, dropout, batchFirst: batchFirst, rng: rng, dtype: dtype);
        Linear1 = new Linear(dModel, dimFeedforward, rng: rng, dtype: dtype);
        Dropout = new Dropout(dropout);
        Linear2 = new Linear(dimFeedforward, dModel, rng: rng, dtype: dtype);
        Norm1 = new LayerNorm(dModel, layerNormEps, dtype: dtype);
        Norm2 = new LayerNorm(dModel, layerNormEps, dtype: dtype);
        Dropout1 = new Dropout(dropout);
        Dropout2 = new Dropout(dropout);
    }

    /// <summary>PyTorch: <c>self_attn</c>.</summary>
    public MultiheadAttention SelfAttn { get; }
    /// <summary>PyTorch: <c>linear1</c>.</summary>
    public Linear Linear1 { get; }
    /// <summary>The dropout inside the feed-forward block (PyTorch: <c>dropout</c>).</summary>
    public Dropout Dropout { get; }
    /// <summary>PyTorch: <c>linear2</c>.</summary>
    public Linear Linear2 { get; }
    /// <summary>PyTorch: <c>norm1</c>.</summary>
    public LayerNorm Norm1 { get; }
    /// <summary>PyTorch: <c>norm2</c>.</summary>
    public LayerNorm Norm2 { get; }
    /// <summary>PyTorch: <c>dropout1</c>.</summary>
    public Dropout Dropout1 { get; }
    /// <summary>PyTorch: <c>dropout2</c>.</summary>
    public Dropout Dropout2 { get; }

    /// <summary>
    /// Runs the layer (PyTorch: <c>forward(src, src_mask=None, src_key_padding_mask=None)</c>); the masks mean what they mean for
    /// <see cref="MultiheadAttention.Forward"/> (Bool true = may not attend).
    /// </summary>
    public Tensor Forward(Tensor src, Tensor? srcMask = null, Tensor? srcKeyPaddingMask = null)
    {
        var scope = LayerIntermediates.Begin(this);
        var x = src;
        if (NormFirst)
        {
            x = Residual(x, SelfAttentionBlock(Norm1.Forward(x), srcMask, srcKeyPaddingMask), scope);
            x = Residual(x, FeedForwardBlock(Norm2.Forward(x), scope), scope);
        }
        else
        {
            x = Norm1.Forward(Residual(x, SelfAttentionBlock(x, srcMask, srcKeyPaddingMask), scope));
            x = Norm2.Forward(Residual(x, FeedForwardBlock(x, scope), scope));
        }
        return scope.End(x);
    }

    private Tensor SelfAttentionBlock(Tensor x, Tensor? mask, Tensor? keyPaddingMask) =>
        Dropout1.Forward(SelfAttn.Forward(x, x, x, keyPaddingMask, needWeights: false, attnMask: mask).Output);

    private Tensor FeedForwardBlock(Tensor x, in LayerIntermediates scope) => Dropout2.Forward(FeedForward(Linear1, Dropout, Linear2, x, scope));

    /// <inheritdoc/>
    protected override Tensor ForwardDynamic(Tensor[] inputs) => inputs?.Length switch
    {
        1 => Forward(inputs[0]),
        2 => Forward(inputs[0], inputs[1]),
        3 => Forward(inputs[0], inputs[1], inputs[2]),
        _ => throw new ArgumentException($"TransformerEncoderLayer.Forward takes 1 to 3 tensors (src, src_mask, src_key_padding_mask), but was called with {inputs?.Length ?? 0}."),
    };

    /// <summary>A copy with the same settings and the same weights (what PyTorch's <c>copy.deepcopy</c> gives TransformerEncoder).</summary>
    internal TransformerEncoderLayer DeepCopy()
    {
        var copy = SkipInit(() => new TransformerEncoderLayer(DModel, Nhead, DimFeedforward, DropoutP, Activation, LayerNormEps, BatchFirst, NormFirst,
            dtype: Linear1.Weight.DType));
        copy.LoadStateDict(StateDict());
        copy.Train(Training);
        return copy;
    }
}

/// <summary>
/// One Transformer decoder layer: self-attention, attention over the encoder's output (memory) and a feed-forward block, each
/// with dropout, a residual connection and LayerNorm (PyTorch: <c>torch.nn.TransformerDecoderLayer</c>, same state names:
/// <c>self_attn</c>, <c>multihead_attn</c>, <c>linear1</c>, <c>linear2</c>, <c>norm1</c>–<c>norm3</c>).
/// </summary>
[Module]
public sealed partial class TransformerDecoderLayer : TransformerLayerBase
{
    /// <summary>
    /// Creates the layer (PyTorch: <c>nn.TransformerDecoderLayer(d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
    /// layer_norm_eps=1e-5, batch_first=False, norm_first=False)</c>).
    /// </summary>
    public TransformerDecoderLayer(int dModel, int nhead, int dimFeedforward = 2048, double dropout = 0.1, string activation = "relu",
        double layerNormEps = 1e-5, bool batchFirst = false, bool normFirst = false, Rng? rng = null, DType dtype = DType.Float32)
        : base(dModel, nhead, dimFeedforward, dropout, activation, layerNormEps, batchFirst, normFirst, "TransformerDecoderLayer")
    {
        SelfAttn = new MultiheadAttention(dModel, nhead, dropout, batchFirst: batchFirst, rng: rng, dtype: dtype);
        MultiheadAttn = new MultiheadAttention(dModel, nhead, dropout, batchFirst: batchFirst, rng: rng, dtype: dtype);
        Linear1 = new Linear(dModel, dimFeedforward, rng: rng, dtype: dtype);
        Dropout = new Dropout(dropout);
        Linear2 = new Linear(dimFeedforward, dModel, rng: rng, dtype: dtype);
        Norm1 = new LayerNorm(dModel, layerNormEps, dtype: dtype);
        Norm2 = new LayerNorm(dModel, layerNormEps, dtype: dtype);
        Norm3 = new LayerNorm(dModel, layerNormEps, dtype: dtype);
        Dropout1 = new Dropout(dropout);
        Dropout2 = new Dropout(dropout);
        Dropout3 = new Dropout(dropout);
    }

    /// <summary>PyTorch: <c>self_attn</c>.</summary>
    public MultiheadAttention SelfAttn { get; }
    /// <summary>The attention over the memory (PyTorch: <c>multihead_attn</c>).</summary>
    public MultiheadAttention MultiheadAttn { get; }
    /// <summary>PyTorch: <c>linear1</c>.</summary>
    public Linear Linear1 { get; }
    /// <summary>The dropout inside the feed-forward block (PyTorch: <c>dropout</c>).</summary>
    public Dropout Dropout { get; }
    /// <summary>PyTorch: <c>linear2</c>.</summary>
    public Linear Linear2 { get; }
    /// <summary>PyTorch: <c>norm1</c>.</summary>
    public LayerNorm Norm1 { get; }
    /// <summary>PyTorch: <c>norm2</c>.</summary>
    public LayerNorm Norm2 { get; }
    /// <summary>PyTorch: <c>norm3</c>.</summary>
    public LayerNorm Norm3 { get; }
    /// <summary>PyTorch: <c>dropout1</c>.</summary>
    public Dropout Dropout1 { get; }
    /// <summary>PyTorch: <c>dropout2</c>.</summary>
    public Dropout Dropout2 { get; }
    /// <summary>PyTorch: <c>dropout3</c>.</summary>
    public Dropout Dropout3 { get; }

    /// <summary>
    /// Runs the layer (PyTorch: <c>forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    /// memory_key_padding_mask=None)</c>).
    /// </summary>
    public Tensor Forward(Tensor tgt, Tensor memory, Tensor? tgtMask = null, Tensor? memoryMask = null, Tensor? tgtKeyPaddingMask = null,
        Tensor? memoryKeyPaddingMask = null)
    {
        ArgumentNullException.ThrowIfNull(memory);
        var scope = LayerIntermediates.Begin(this);
        var x = tgt;
        if (NormFirst)
        {
            x = Residual(x, SelfAttentionBlock(Norm1.Forward(x), tgtMask, tgtKeyPaddingMask), scope);
            x = Residual(x, CrossAttentionBlock(Norm2.Forward(x), memory, memoryMask, memoryKeyPaddingMask), scope);
            x = Residual(x, FeedForwardBlock(Norm3.Forward(x), scope), scope);
        }
        else
        {
            x = Norm1.Forward(Residual(x, SelfAttentionBlock(x, tgtMask, tgtKeyPaddingMask), scope));
            x = Norm2.Forward(Residual(x, CrossAttentionBlock(x, memory, memoryMask, memoryKeyPaddingMask), scope));
            x = Norm3.Forward(Residual(x, FeedForwardBlock(x, scope), scope));
        }
        return scope.End(x);
    }

    private Tensor SelfAttentionBlock(Tensor x, Tensor? mask, Tensor? keyPaddingMask) =>
        Dropout1.Forward(SelfAttn.Forward(x, x, x, keyPaddingMask, needWeights: false, attnMask: mask).Output);

    private Tensor CrossAttentionBlock(Tensor x, Tensor memory, Tensor? mask, Tensor? keyPaddingMask) =>
        Dropout2.Forward(MultiheadAttn.Forward(x, memory, memory, keyPaddingMask, needWeights: false, attnMask: mask).Output);

    private Tensor FeedForwardBlock(Tensor x, in LayerIntermediates scope) => Dropout3.Forward(FeedForward(Linear1, Dropout, Linear2, x, scope));

    /// <inheritdoc/>
    protected override Tensor ForwardDynamic(Tensor[] inputs) => inputs?.Length switch
    {
        2 => Forward(inputs[0], inputs[1]),
        3 => Forward(inputs[0], inputs[1], inputs[2]),
        4 => Forward(inputs[0], inputs[1], inputs[2], inputs[3]),
        5 => Forward(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4]),
        6 => Forward(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5]),
        _ => throw new ArgumentException($"TransformerDecoderLayer.Forward takes 2 to 6 tensors (tgt, memory, then the masks), but was called with {inputs?.Length ?? 0}."),
    };

    /// <summary>A copy with the same settings and weights (PyTorch's <c>copy.deepcopy</c>).</summary>
    internal TransformerDecoderLayer DeepCopy()
    {
        var copy = SkipInit(() => new TransformerDecoderLayer(DModel, Nhead, DimFeedforward, DropoutP, Activation, LayerNormEps, BatchFirst, NormFirst,
            dtype: Linear1.Weight.DType));
        copy.LoadStateDict(StateDict());
        copy.Train(Training);
        return copy;
    }
}

/// <summary>
/// A stack of <c>numLayers</c> copies of an encoder layer, with an optional final LayerNorm (PyTorch: <c>torch.nn.TransformerEncoder</c>;
/// state names <c>layers.0.self_attn.in_proj_weight</c>, …, <c>norm.weight</c>). As in PyTorch the layers are deep copies of the
/// one given: they start with equal weights.
/// </summary>
[Module]
public sealed partial class TransformerEncoder : Module
{
    /// <summary>Creates the stack (PyTorch: <c>nn.TransformerEncoder(encoder_layer, num_layers, norm=None)</c>).</summary>
    public TransformerEncoder(TransformerEncoderLayer encoderLayer, int numLayers, LayerNorm? norm = null)
    {
        ArgumentNullException.ThrowIfNull(encoderLayer);
        if (numLayers <= 0) throw new ArgumentException($"TransformerEncoder: num_layers must be positive, but got {numLayers}.");
        Layers = new ModuleList<TransformerEncoderLayer>(Enumerable.Range(0, numLayers).Select(_ => encoderLayer.DeepCopy()));
        NumLayers = numLayers;
        Norm = norm;
    }

    /// <summary>The number of layers (PyTorch: <c>num_layers</c>).</summary>
    public int NumLayers { get; }

    /// <summary>The layers (PyTorch: <c>layers</c>).</summary>
    public ModuleList<TransformerEncoderLayer> Layers { get; }

    /// <summary>The final LayerNorm, or null (PyTorch: <c>norm</c>).</summary>
    public LayerNorm? Norm { get; }

    /// <summary>Runs the layers in order, then the norm (PyTorch: <c>forward(src, mask=None, src_key_padding_mask=None)</c>).</summary>
    public Tensor Forward(Tensor src, Tensor? mask = null, Tensor? srcKeyPaddingMask = null)
    {
        var scope = LayerIntermediates.Begin(this);
        var output = src;
        foreach (var layer in Layers) output = layer.Forward(output, mask, srcKeyPaddingMask);
        return scope.End(Norm is null ? output : Norm.Forward(output));
    }

    /// <inheritdoc/>
    protected override Tensor ForwardDynamic(Tensor[] inputs) => inputs?.Length switch
    {
        1 => Forward(inputs[0]),
        2 => Forward(inputs[0], inputs[1]),
        3 => Forward(inputs[0], inputs[1], inputs[2]),
        _ => throw new ArgumentException($"TransformerEncoder.Forward takes 1 to 3 tensors (src, mask, src_key_padding_mask), but was called with {inputs?.Length ?? 0}."),
    };
}

/// <summary>
/// A stack of <c>numLayers</c> copies of a decoder layer, with an optional final LayerNorm (PyTorch: <c>torch.nn.TransformerDecoder</c>).
/// </summary>
[Module]
public sealed partial class TransformerDecoder : Module
{
    /// <summary>Creates the stack (PyTorch: <c>nn.TransformerDecoder(decoder_layer, num_layers, norm=None)</c>).</summary>
    public TransformerDecoder(TransformerDecoderLayer decoderLayer, int numLayers, LayerNorm? norm = null)
    {
        ArgumentNullException.ThrowIfNull(decoderLayer);
        if (numLayers <= 0) throw new ArgumentException($"TransformerDecoder: num_layers must be positive, but got {numLayers}.");
        Layers = new ModuleList<TransformerDecoderLayer>(Enumerable.Range(0, numLayers).Select(_ => decoderLayer.DeepCopy()));
        NumLayers = numLayers;
        Norm = norm;
    }

    /// <summary>The number of layers (PyTorch: <c>num_layers</c>).</summary>
    public int NumLayers { get; }

    /// <summary>The layers (PyTorch: <c>layers</c>).</summary>
    public ModuleList<TransformerDecoderLayer> Layers { get; }

    /// <summary>The final LayerNorm, or null (PyTorch: <c>norm</c>).</summary>
    public LayerNorm? Norm { get; }

    /// <summary>
    /// Runs the layers in order, then the norm (PyTorch: <c>forward(tgt, memory, tgt_mask=None, memory_mask=None,
    /// tgt_key_padding_mask=None, memory_key_padding_mask=None)</c>).
    /// </summary>
    public Tensor Forward(Tensor tgt, Tensor memory, Tensor? tgtMask = null, Tensor? memoryMask = null, Tensor? tgtKeyPaddingMask = null,
        Tensor? memoryKeyPaddingMask = null)
    {
        var scope = LayerIntermediates.Begin(this);
        var output = tgt;
        foreach (var layer in Layers) output = layer.Forward(output, memory, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask);
        return scope.End(Norm is null ? output : Norm.Forward(output));
    }

    /// <inheritdoc/>
    protected override Tensor ForwardDynamic(Tensor[] inputs) => inputs?.Length switch
    {
        2 => Forward(inputs[0], inputs[1]),
        3 => Forward(inputs[0], inputs[1], inputs[2]),
        4 => Forward(inputs[0], inputs[1], inputs[2], inputs[3]),
        5 => Forward(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4]),
        6 => Forward(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5]),
        _ => throw new ArgumentException($"TransformerDecoder.Forward takes 2 to 6 tensors (tgt, memory, then the masks), but was called with {inputs?.Length ?? 0}."),
    };
}

/// <summary>
/// The encoder–decoder Transformer of "Attention Is All You Need" (PyTorch: <c>torch.nn.Transformer</c>): an encoder and a decoder
/// stack, each ending in a LayerNorm; state names <c>encoder.layers.0…</c>, <c>encoder.norm</c>, <c>decoder.layers.0…</c>, <c>decoder.norm</c>.
/// </summary>
[Module]
public sealed partial class Transformer : Module
{
    /// <summary>
    /// Creates the model (PyTorch: <c>nn.Transformer(d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
    /// dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5, batch_first=False, norm_first=False)</c>); every
    /// weight matrix starts Xavier-uniform, as PyTorch's <c>_reset_parameters</c> does.
    /// </summary>
    public Transformer(int dModel = 512, int nhead = 8, int numEncoderLayers = 6, int numDecoderLayers = 6, int dimFeedforward = 2048,
        double dropout = 0.1, string activation = "relu", double layerNormEps = 1e-5, bool batchFirst = false, bool normFirst = false,
        Rng? rng = null, DType dtype = DType.Float32)
    {
        Encoder = new TransformerEncoder(new TransformerEncoderLayer(dModel, nhead, dimFeedforward, dropout, activation, layerNormEps, batchFirst, normFirst, rng, dtype),
            numEncoderLayers, new LayerNorm(dModel, layerNormEps, dtype: dtype));
        Decoder = new TransformerDecoder(new TransformerDecoderLayer(dModel, nhead, dimFeedforward, dropout, activation, layerNormEps, batchFirst, normFirst, rng, dtype),
            numDecoderLayers, new LayerNorm(dModel, layerNormEps, dtype: dtype));
        DModel = dModel;
        Nhead = nhead;
        BatchFirst = batchFirst;
        foreach (var p in Parameters())
        {
            if (p.Rank > 1) Init.XavierUniform(p, rng: rng);
        }
    }

    /// <summary>The model size (PyTorch: <c>d_model</c>).</summary>
    public int DModel { get; }
    /// <summary>The number of heads (PyTorch: <c>nhead</c>).</summary>
    public int Nhead { get; }
    /// <summary>Whether inputs are [N, S, E] (PyTorch: <c>batch_first</c>).</summary>
    public bool BatchFirst { get; }

    /// <summary>PyTorch: <c>encoder</c>.</summary>
    public TransformerEncoder Encoder { get; }
    /// <summary>PyTorch: <c>decoder</c>.</summary>
    public TransformerDecoder Decoder { get; }

    /// <summary>
    /// Encodes <paramref name="src"/> and decodes <paramref name="tgt"/> against it (PyTorch: <c>forward(src, tgt, src_mask=None,
    /// tgt_mask=None, memory_mask=None, src_key_padding_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None)</c>).
    /// </summary>
    public Tensor Forward(Tensor src, Tensor tgt, Tensor? srcMask = null, Tensor? tgtMask = null, Tensor? memoryMask = null,
        Tensor? srcKeyPaddingMask = null, Tensor? tgtKeyPaddingMask = null, Tensor? memoryKeyPaddingMask = null)
    {
        ArgumentNullException.ThrowIfNull(src);
        ArgumentNullException.ThrowIfNull(tgt);
        int batchDim = BatchFirst ? 0 : 1;
        if (src.Rank == 3 && tgt.Rank == 3 && src.Size(batchDim) != tgt.Size(batchDim))
        {
            throw new ArgumentException($"Transformer: the batch number of src ({ShapeUtil.Format(src._shape)}) and tgt ({ShapeUtil.Format(tgt._shape)}) must be equal.");
        }
        if (src.Size(-1) != DModel || tgt.Size(-1) != DModel)
        {
            throw new ArgumentException($"Transformer: the feature number of src ({ShapeUtil.Format(src._shape)}) and tgt ({ShapeUtil.Format(tgt._shape)}) must be equal to d_model ({DModel}).");
        }
        var scope = LayerIntermediates.Begin(this);
        var memory = Encoder.Forward(src, srcMask, srcKeyPaddingMask);
        return scope.End(Decoder.Forward(tgt, memory, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask));
    }

    /// <summary>
    /// The causal mask for a sequence of <paramref name="size"/>: 0 on and below the diagonal, −∞ above
    /// (PyTorch: <c>nn.Transformer.generate_square_subsequent_mask(sz)</c>).
    /// </summary>
    public static Tensor GenerateSquareSubsequentMask(int size, DType dtype = DType.Float32)
    {
        if (size < 0) throw new ArgumentException($"GenerateSquareSubsequentMask: size must be >= 0, but got {size}.");
        return Tensor.Full([size, size], double.NegativeInfinity, dtype).Triu(1);
    }

    /// <inheritdoc/>
    protected override Tensor ForwardDynamic(Tensor[] inputs) => inputs?.Length switch
    {
        2 => Forward(inputs[0], inputs[1]),
        _ => throw new ArgumentException($"Transformer.Forward through Call takes 2 tensors (src, tgt), but was called with {inputs?.Length ?? 0}; call Forward directly to pass masks."),
    };
}
