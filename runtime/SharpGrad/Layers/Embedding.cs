namespace SharpGrad.Layers;

/// <summary>
/// A lookup table of embeddings (PyTorch: <c>torch.nn.Embedding</c>): weight [num_embeddings, embedding_dim] starts N(0, 1),
/// with the <c>padding_idx</c> row zero and never updated by the gradient.
/// </summary>
[Module]
public sealed partial class Embedding : Module
{
    /// <summary>Creates the table (PyTorch: <c>nn.Embedding(num_embeddings, embedding_dim, padding_idx)</c>).</summary>
    public Embedding(int numEmbeddings, int embeddingDim, int? paddingIdx = null, Rng? rng = null, DType dtype = DType.Float32)
    {
        if (numEmbeddings < 0 || embeddingDim < 0)
        {
            throw new ArgumentException($"Embedding: num_embeddings ({numEmbeddings}) and embedding_dim ({embeddingDim}) must be non-negative.");
        }
        if (paddingIdx is int p)
        {
            if (p < -numEmbeddings || p >= numEmbeddings)
            {
                throw new ArgumentException($"Embedding: padding_idx {p} must be within [{-numEmbeddings}, {numEmbeddings - 1}] (num_embeddings = {numEmbeddings}).");
            }
            if (p < 0) paddingIdx = p + numEmbeddings;
        }
        NumEmbeddings = numEmbeddings;
        EmbeddingDim = embeddingDim;
        PaddingIdx = paddingIdx;
        Weight = new Parameter(Tensor.Empty([numEmbeddings, embeddingDim], dtype));
        ResetParameters(rng);
    }

    /// <summary>The number of rows (PyTorch: <c>num_embeddings</c>).</summary>
    public int NumEmbeddings { get; }

    /// <summary>The size of each embedding (PyTorch: <c>embedding_dim</c>).</summary>
    public int EmbeddingDim { get; }

    /// <summary>The row that stays zero and gets no gradient, or null (PyTorch: <c>padding_idx</c>).</summary>
    public int? PaddingIdx { get; }

    /// <summary>The table [num_embeddings, embedding_dim] (PyTorch: <c>weight</c>).</summary>
    public Parameter Weight { get; }

    /// <summary>Re-initialises: N(0, 1), padding row zero (PyTorch: <c>reset_parameters()</c>).</summary>
    public void ResetParameters(Rng? rng = null)
    {
        Init.Normal(Weight, rng: rng);
        if (PaddingIdx is int p)
        {
            using (Autograd.NoGrad()) Weight.Select(0, p).Fill_(0);
        }
    }

    /// <summary>Looks up the rows for Int64 <paramref name="input"/> indices (PyTorch: <c>forward</c>).</summary>
    public Tensor Forward(Tensor input) => Functional.Embedding(input, Weight, PaddingIdx);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{NumEmbeddings}, {EmbeddingDim}" + (PaddingIdx is int p ? $", padding_idx={p}" : "");
}
