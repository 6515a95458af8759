namespace SharpGrad.Layers;

/// <summary>
/// Multi-head attention (PyTorch: <c>torch.nn.MultiheadAttention</c>): the query, key and value are projected by
/// <see cref="InProjWeight"/> (or <see cref="QProjWeight"/>/<see cref="KProjWeight"/>/<see cref="VProjWeight"/> when the key or value
/// size differs), split into heads, attended with softmax(q·kᵀ/√head_dim + mask) and projected back by <see cref="OutProj"/>.
/// State names are PyTorch's: <c>in_proj_weight</c>, <c>in_proj_bias</c>, <c>out_proj.weight</c>, <c>out_proj.bias</c>.
/// Built from eager ops (Linear, MatMul, Softmax, Dropout), so its gradients are autograd's.
/// </summary>
[Module]
public sealed partial class MultiheadAttention : Module
{
    /// <summary>
    /// Creates the layer (PyTorch: <c>nn.MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True, kdim=None, vdim=None,
    /// batch_first=False)</c>), initialised like PyTorch: Xavier-uniform projections, zero biases. (PyTorch's
    /// <c>add_bias_kv</c> and <c>add_zero_attn</c> are not supported.)
    /// </summary>
    public MultiheadAttention(int embedDim, int numHeads, double dropout = 0.0, bool bias = true, int? kdim = null, int? vdim = null,
        bool batchFirst = false, Rng? rng = null, DType dtype = DType.Float32)
    {
        if (embedDim <= 0) throw new ArgumentException($"MultiheadAttention: embed_dim must be positive, but got {embedDim}.");
        if (numHeads <= 0 || embedDim % numHeads != 0)
        {
            throw new ArgumentException($"MultiheadAttention: embed_dim ({embedDim}) must be divisible by num_heads ({numHeads}).");
        }
        if (!(dropout >= 0 && dropout <= 1)) throw new ArgumentException($"MultiheadAttention: dropout must be between 0 and 1, but got {dropout}.");
        EmbedDim = embedDim;
        NumHeads = numHeads;
        HeadDim = embedDim / numHeads;
        Kdim = kdim ?? embedDim;
        Vdim = vdim ?? embedDim;
        Dropout = dropout;
        BatchFirst = batchFirst;
        if (Kdim <= 0 || Vdim <= 0) throw new ArgumentException($"MultiheadAttention: kdim ({Kdim}) and vdim ({Vdim}) must be positive.");
        if (Kdim == embedDim && Vdim == embedDim)
        {
            InProjWeight = new Parameter(Tensor.Empty([3 * embedDim, embedDim], dtype));
        }
        else
        {
            QProjWeight = new Parameter(Tensor.Empty([embedDim, embedDim], dtype));
            KProjWeight = new Parameter(Tensor.Empty([embedDim, Kdim], dtype));
            VProjWeight = new Parameter(Tensor.Empty([embedDim, Vdim], dtype));
        }
        InProjBias = bias ? new Parameter(Tensor.Empty([3 * embedDim], dtype)) : null;
        OutProj = new Linear(embedDim, embedDim, bias, rng, dtype);
        ResetParameters(rng);
    }

    /// <summary>The model size E (PyTorch: <c>embed_dim</c>).</summary>
    public int EmbedDim { get; }

    /// <summary>The number of heads (PyTorch: <c>num_heads</c>).</summary>
    public int NumHeads { get; }

    /// <summary>E / num_heads (PyTorch: <c>head_dim</c>).</summary>
    public int HeadDim { get; }

    /// <summary>The key size (PyTorch: <c>kdim</c>).</summary>
    public int Kdim { get; }

    /// <summary>The value size (PyTorch: <c>vdim</c>).</summary>
    public int Vdim { get; }

    /// <summary>Dropout probability on the attention weights in training (PyTorch: <c>dropout</c>).</summary>
    public double Dropout { get; }

    /// <summary>Whether inputs and outputs are [N, L, E] rather than [L, N, E] (PyTorch: <c>batch_first</c>).</summary>
    public bool BatchFirst { get; }

    /// <summary>The generator of the dropout masks, or null for <see cref="SharpGrad.Rng.Default"/>.</summary>
    public Rng? Rng { get; set; }

    /// <summary>The packed q, k, v projection [3E, E], when kdim = vdim = E (PyTorch: <c>in_proj_weight</c>).</summary>
    public Parameter? InProjWeight { get; }

    /// <summary>The query projection [E, E] when kdim or vdim differ from E (PyTorch: <c>q_proj_weight</c>).</summary>
    public Parameter? QProjWeight { get; }

    /// <summary>The key projection [E, kdim] (PyTorch: <c>k_proj_weight</c>).</summary>
    public Parameter? KProjWeight { get; }

    /// <summary>The value projection [E, vdim] (PyTorch: <c>v_proj_weight</c>).</summary>
    public Parameter? VProjWeight { get; }

    /// <summary>The packed q, k, v biases [3E], or null without bias (PyTorch: <c>in_proj_bias</c>).</summary>
    public Parameter? InProjBias { get; }

    /// <summary>The output projection (PyTorch: <c>out_proj</c>).</summary>
    public Linear OutProj { get; }

    /// <summary>Re-initialises like PyTorch's <c>_reset_parameters()</c>: Xavier-uniform projections, zero biases (out_proj's weight keeps Linear's init).</summary>
    public void ResetParameters(Rng? rng = null)
    {
        if (InProjWeight is not null) Init.XavierUniform(InProjWeight, rng: rng);
        if (QProjWeight is not null) Init.XavierUniform(QProjWeight, rng: rng);
        if (KProjWeight is not null) Init.XavierUniform(KProjWeight, rng: rng);
        if (VProjWeight is not null) Init.XavierUniform(VProjWeight, rng: rng);
        if (InProjBias is not null) Init.Constant(InProjBias, 0);
        if (OutProj.Bias is not null) Init.Constant(OutProj.Bias, 0);
    }

    /// <summary>
    /// Attends <paramref name="query"/> to <paramref name="key"/>/<paramref name="value"/> (PyTorch: <c>forward(query, key, value,
    /// key_padding_mask=None, need_weights=True, attn_mask=None, average_attn_weights=True)</c>).
    /// </summary>
    /// <param name="query">[L, N, E] ([N, L, E] with batch_first, [L, E] unbatched).</param>
    /// <param name="key">[S, N, kdim].</param>
    /// <param name="value">[S, N, vdim].</param>
    /// <param name="keyPaddingMask">[N, S] (or [S]): Bool true marks keys to ignore (padding); a float mask is added to the scores.</param>
    /// <param name="needWeights">Also return the attention weights.</param>
    /// <param name="attnMask">[L, S] or [N·num_heads, L, S]: Bool true marks positions that may not be attended; a float mask is added.</param>
    /// <param name="averageAttnWeights">Average the returned weights over the heads ([N, L, S]) instead of per head ([N, heads, L, S]).</param>
    /// <returns>The output [L, N, E] (batch_first: [N, L, E]) and, if <paramref name="needWeights"/>, the weights.</returns>
    public (Tensor Output, Tensor? Weights) Forward(Tensor query, Tensor key, Tensor value, Tensor? keyPaddingMask = null, bool needWeights = true,
        Tensor? attnMask = null, bool averageAttnWeights = true)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        bool batched = query.Rank == 3;
        if (query.Rank is not (2 or 3) || key.Rank != query.Rank || value.Rank != query.Rank)
        {
            throw new ArgumentException($"MultiheadAttention: query, key and value must all be 3-d ({(BatchFirst ? "[N, L, E]" : "[L, N, E]")}) or all 2-d (unbatched [L, E]), but got shapes {ShapeUtil.Format(query._shape)}, {ShapeUtil.Format(key._shape)} and {ShapeUtil.Format(value._shape)}.");
        }
        // The projections and the attention's intermediates go back to the caching allocator when backward is done with them.
        var scope = LayerIntermediates.Begin(this);
        // To [L, N, E], keeping "query is key is value" (self-attention projects once).
        bool selfAttention = ReferenceEquals(query, key) && ReferenceEquals(key, value);
        if (selfAttention && attnMask is null && keyPaddingMask is null && !needWeights && (Dropout == 0 || !Training) && InProjWeight is not null
            && query.DType == DType.Float32 && InProjWeight.DType == DType.Float32 && query._shape[^1] == EmbedDim)
        {
            // The fused path: one packed projection, the heads attended where they lie in it, the context in the input's layout.
            var qkv = Functional.Linear(batched ? query : query.Unsqueeze(0), InProjWeight, InProjBias);
            var context = Functional.PackedSelfAttention(qkv, NumHeads, batchFirst: BatchFirst || !batched, 1 / Math.Sqrt(HeadDim));
            var projected = OutProj.Forward(context);
            return (scope.End(batched ? projected : projected.Squeeze(0)), null);
        }
        bool keyIsValue = ReferenceEquals(key, value);
        if (!batched)
        {
            query = query.Unsqueeze(1);
            key = keyIsValue ? (selfAttention ? query : key.Unsqueeze(1)) : key.Unsqueeze(1);
            value = keyIsValue ? key : value.Unsqueeze(1);
            if (keyPaddingMask is not null) keyPaddingMask = keyPaddingMask.Unsqueeze(0);
        }
        else if (BatchFirst)
        {
            query = query.Transpose(0, 1);
            key = selfAttention ? query : key.Transpose(0, 1);
            value = keyIsValue ? key : value.Transpose(0, 1);
        }
        int l = query._shape[0], n = query._shape[1], s = key._shape[0], e = EmbedDim, h = NumHeads, hd = HeadDim;
        if (query._shape[2] != e) throw new ArgumentException($"MultiheadAttention: expected query of embedding size {e}, but got shape {ShapeUtil.Format(query._shape)} (after moving the batch to dim 1).");
        if (key._shape[2] != Kdim || value._shape[2] != Vdim || key._shape[1] != n || value._shape[1] != n || value._shape[0] != s)
        {
            throw new ArgumentException($"MultiheadAttention: key must be [S, N, {Kdim}] and value [S, N, {Vdim}] with the query's batch N = {n}, but got key {ShapeUtil.Format(key._shape)} and value {ShapeUtil.Format(value._shape)} (after moving the batch to dim 1).");
        }

        var (q, k, v) = Project(query, key, value, selfAttention, keyIsValue);
        // [L, N, E] → [N, heads, L, head_dim]
        q = q.Reshape(l, n, h, hd).Permute(1, 2, 0, 3);
        k = k.Reshape(s, n, h, hd).Permute(1, 2, 0, 3);
        v = v.Reshape(s, n, h, hd).Permute(1, 2, 0, 3);

        Tensor? mask = null;
        if (attnMask is not null)
        {
            if (attnMask.Rank == 2)
            {
                if (attnMask._shape[0] != l || attnMask._shape[1] != s)
                {
                    throw new ArgumentException($"MultiheadAttention: the shape of the 2D attn_mask is {ShapeUtil.Format(attnMask._shape)}, but should be [{l}, {s}].");
                }
                mask = Functional.AdditiveMask(attnMask, q.DType, allowedWhereTrue: false);
            }
            else if (attnMask.Rank == 3)
            {
                if (attnMask._shape[0] != n * h || attnMask._shape[1] != l || attnMask._shape[2] != s)
                {
                    throw new ArgumentException($"MultiheadAttention: the shape of the 3D attn_mask is {ShapeUtil.Format(attnMask._shape)}, but should be [{n * h}, {l}, {s}] (batch × num_heads, L, S).");
                }
                mask = Functional.AdditiveMask(attnMask, q.DType, allowedWhereTrue: false).Reshape(n, h, l, s);
            }
            else
            {
                throw new ArgumentException($"MultiheadAttention: attn_mask must be 2-d [L, S] or 3-d [N·num_heads, L, S], but got shape {ShapeUtil.Format(attnMask._shape)}.");
            }
        }
        if (keyPaddingMask is not null)
        {
            if (keyPaddingMask.Rank != 2 || keyPaddingMask._shape[0] != n || keyPaddingMask._shape[1] != s)
            {
                throw new ArgumentException($"MultiheadAttention: expecting key_padding_mask of shape [{n}, {s}] ([N, S]), but got {ShapeUtil.Format(keyPaddingMask._shape)}.");
            }
            var kpm = Functional.AdditiveMask(keyPaddingMask, q.DType, allowedWhereTrue: false).Reshape(n, 1, 1, s);
            mask = mask is null ? kpm : mask + kpm;
        }

        double dropout = Training ? Dropout : 0;
        var (attn, weights) = Functional.AttentionCore(q, k, v, mask, 1 / Math.Sqrt(hd), dropout, Rng, needWeights);
        // [N, heads, L, head_dim] → [L, N, E]
        var output = OutProj.Forward(attn.Permute(2, 0, 1, 3).Reshape(l, n, e));
        if (weights is not null && averageAttnWeights) weights = weights.Sum(1) / (float)h;
        if (!batched)
        {
            output = output.Squeeze(1);
            if (weights is not null) weights = weights.Squeeze(0);
        }
        else if (BatchFirst)
        {
            output = output.Transpose(0, 1);
        }
        return (scope.End(output, weights), weights);
    }

    /// <summary>The q, k, v projections; self-attention runs one GEMM with the packed weight.</summary>
    private (Tensor Q, Tensor K, Tensor V) Project(Tensor query, Tensor key, Tensor value, bool selfAttention, bool keyIsValue)
    {
        int e = EmbedDim;
        Tensor? B(int i) => InProjBias?.Narrow(0, i * e, e);
        if (InProjWeight is null)
        {
            return (Functional.Linear(query, QProjWeight!, B(0)), Functional.Linear(key, KProjWeight!, B(1)), Functional.Linear(value, VProjWeight!, B(2)));
        }
        if (selfAttention)
        {
            var qkv = Functional.Linear(query, InProjWeight, InProjBias).Chunk(3, -1);
            return (qkv[0], qkv[1], qkv[2]);
        }
        var qOut = Functional.Linear(query, InProjWeight.Narrow(0, 0, e), B(0));
        if (keyIsValue)
        {
            var kv = Functional.Linear(key, InProjWeight.Narrow(0, e, 2 * e), InProjBias?.Narrow(0, e, 2 * e)).Chunk(2, -1);
            return (qOut, kv[0], kv[1]);
        }
        return (qOut, Functional.Linear(key, InProjWeight.Narrow(0, e, e), B(1)), Functional.Linear(value, InProjWeight.Narrow(0, 2 * e, e), B(2)));
    }
}
