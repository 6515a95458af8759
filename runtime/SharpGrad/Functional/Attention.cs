using SharpGrad.Kernels;

namespace SharpGrad;

public static partial class Functional
{
    /// <summary>
    /// softmax(Q·Kᵀ·scale + mask)·V over the last two dimensions (PyTorch: <c>F.scaled_dot_product_attention(query, key, value,
    /// attn_mask=None, dropout_p=0.0, is_causal=False, scale=None)</c>), built from MatMul, Softmax and Dropout.
    /// </summary>
    /// <param name="query">[…, L, E].</param>
    /// <param name="key">[…, S, E].</param>
    /// <param name="value">[…, S, Ev].</param>
    /// <param name="attnMask">Broadcastable to […, L, S]: a Bool mask where <c>true</c> means "may attend" (PyTorch 2's meaning;
    /// <see cref="Layers.MultiheadAttention"/>'s Bool masks mean the opposite, as in PyTorch), or a float mask added to the scores.</param>
    /// <param name="dropoutP">Dropout probability on the attention weights, applied whenever it is &gt; 0 (as in PyTorch, this function has no training flag).</param>
    /// <param name="isCausal">Let position i attend to positions ≤ i only (a lower-triangular mask); don't pass <paramref name="attnMask"/> with it.</param>
    /// <param name="scale">The factor of Q·Kᵀ; 1/√E by default.</param>
    /// <param name="rng">The generator of the dropout mask (default <see cref="Rng.Default"/>).</param>
    /// <returns>[…, L, Ev].</returns>
    public static Tensor ScaledDotProductAttention(Tensor query, Tensor key, Tensor value, Tensor? attnMask = null, double dropoutP = 0,
        bool isCausal = false, double? scale = null, Rng? rng = null)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (query.Rank < 2 || key.Rank < 2 || value.Rank < 2)
        {
            throw new ArgumentException($"ScaledDotProductAttention: query, key and value need at least 2 dimensions ([…, L, E], […, S, E], […, S, Ev]), but got shapes {ShapeUtil.Format(query._shape)}, {ShapeUtil.Format(key._shape)} and {ShapeUtil.Format(value._shape)}.");
        }
        int l = query._shape[^2], s = key._shape[^2], e = query._shape[^1];
        if (key._shape[^1] != e)
        {
            throw new ArgumentException($"ScaledDotProductAttention: query's last dimension ({e}, shape {ShapeUtil.Format(query._shape)}) must equal key's ({key._shape[^1]}, shape {ShapeUtil.Format(key._shape)}).");
        }
        if (value._shape[^2] != s)
        {
            throw new ArgumentException($"ScaledDotProductAttention: key and value must have the same sequence length S, but got key {ShapeUtil.Format(key._shape)} and value {ShapeUtil.Format(value._shape)}.");
        }
        if (isCausal && attnMask is not null)
        {
            throw new ArgumentException("ScaledDotProductAttention: pass either attnMask or isCausal: true, not both (isCausal builds the lower-triangular mask itself).");
        }
        Tensor? additive = null;
        if (isCausal)
        {
            additive = AdditiveMask(Tensor.TriangleMask(l, s, 0, lower: true), query.DType, allowedWhereTrue: true);
        }
        else if (attnMask is not null)
        {
            ShapeUtil.CheckBroadcastsTo(attnMask._shape, [.. query._shape[..^2], l, s], "ScaledDotProductAttention (attnMask)");
            additive = AdditiveMask(attnMask, query.DType, allowedWhereTrue: true);
        }
        return AttentionCore(query, key, value, additive, scale ?? 1 / Math.Sqrt(e), dropoutP, rng, needWeights: false).Output;
    }

    /// <summary>
    /// The float mask added to attention scores: a float mask as it is (in the scores' dtype); a Bool/UInt8 mask as −∞ where
    /// attending is not allowed (where the mask is false when <paramref name="allowedWhereTrue"/>, else where it is true) and 0 elsewhere.
    /// </summary>
    internal static Tensor AdditiveMask(Tensor mask, DType dtype, bool allowedWhereTrue)
    {
        if (mask.DType.IsFloatingPoint()) return mask.DType == dtype ? mask : mask.To(dtype);
        if (mask.DType is not (DType.Bool or DType.UInt8))
        {
            throw new ArgumentException($"Attention masks must be Bool or floating point, but got {mask.DType} (shape {ShapeUtil.Format(mask._shape)}).");
        }
        var blocked = allowedWhereTrue ? mask.Eq(0) : mask.Ne(0);
        return Tensor.Zeros(mask._shape, dtype).MaskedFill(blocked, double.NegativeInfinity);
    }

    /// <summary>
    /// softmax(q·kᵀ·scale + mask), dropout, times v — the attention both <see cref="ScaledDotProductAttention"/> and
    /// <see cref="Layers.MultiheadAttention"/> run. Returns the output and (when asked) the attention weights after dropout.
    /// </summary>
    internal static (Tensor Output, Tensor? Weights) AttentionCore(Tensor q, Tensor k, Tensor v, Tensor? additiveMask, double scale,
        double dropoutP, Rng? rng, bool needWeights)
    {
        var scores = (q * Tensor.Full([], scale, q.DType)).MatMul(k.Transpose(-2, -1));
        if (additiveMask is not null) scores = scores + additiveMask;
        var weights = Softmax(scores, -1);
        if (dropoutP > 0) weights = Dropout(weights, dropoutP, training: true, rng);
        return (weights.MatMul(v), needWeights ? weights : null);
    }

    /// <summary>
    /// Self-attention over a packed in-projection, fused (the float32 fast path of <see cref="Layers.MultiheadAttention"/>
    /// without masks, dropout or returned weights): <paramref name="qkv"/> is [N, L, 3E] (<paramref name="batchFirst"/>) or
    /// [L, N, 3E], q | k | v along the last dim; returns the merged heads' context [N, L, E] (or [L, N, E]), what
    /// <c>softmax(q·kᵀ·scale)·v</c> per head followed by the head merge gives, without the head split and merge copies. One
    /// autograd node (<c>SelfAttentionBackward</c>) whose backward runs <see cref="AttentionKernel.Backward"/>; differentiating
    /// that backward again (<c>createGraph</c>) goes through the unfused ops.
    /// </summary>
    internal static Tensor PackedSelfAttention(Tensor qkv, int heads, bool batchFirst, double scale)
    {
        var shape = qkv._shape;
        if (qkv.DType != DType.Float32 || shape.Length != 3 || shape[2] % (3 * heads) != 0)
        {
            throw new ArgumentException($"PackedSelfAttention: expected a float32 [N, L, 3E] or [L, N, 3E] projection with E divisible by the {heads} heads, but got {qkv.DType} {ShapeUtil.Format(shape)}.");
        }
        int n = batchFirst ? shape[0] : shape[1], l = batchFirst ? shape[1] : shape[0], e = shape[2] / 3, d = e / heads;
        float fscale = (float)scale;
        var x = qkv.ContiguousRaw();
        var context = Tensor.Empty([shape[0], shape[1], e]);
        var probs = Tensor.Empty([n * heads * l * l]);
        probs.Storage.Internal = true; // only this op (and its node) reaches it
        var (q, k, v) = PackedRows(x.Data<float>(), x.Offset, n, l, e, batchFirst);
        AttentionKernel.Forward(n, heads, l, l, d, fscale, q, k, v, probs.Data<float>(), Rows(context.Data<float>(), context.Offset, n, l, e, batchFirst));
        if (!Tensor.ShouldRecord(qkv))
        {
            probs.Storage.TryRecycle();
            return context;
        }
        return Tensor.Record(context, "SelfAttentionBackward", [qkv], (g, node) =>
        {
            if (Autograd.IsGradEnabled)
            {
                // createGraph: the gradient as a function of qkv and g, through the unfused ops.
                var chunks = qkv.Chunk(3, -1);
                Tensor Heads(Tensor t) => (batchFirst ? t : t.Transpose(0, 1)).Reshape(n, l, heads, d).Transpose(1, 2);
                var ctx = AttentionCore(Heads(chunks[0]), Heads(chunks[1]), Heads(chunks[2]), null, scale, 0, null, needWeights: false).Output
                    .Transpose(1, 2).Reshape(n, l, e);
                if (!batchFirst) ctx = ctx.Transpose(0, 1);
                return [Autograd.Grad(ctx, qkv, g, retainGraph: true, createGraph: true)];
            }
            var gc = g.DType == DType.Float32 ? g.ContiguousRaw() : g.ToRaw(DType.Float32);
            var gqkv = Tensor.Empty(shape);
            var (gq, gk, gv) = PackedRows(gqkv.Data<float>(), gqkv.Offset, n, l, e, batchFirst);
            AttentionKernel.Backward(n, heads, l, l, d, fscale, q, k, v, probs.Data<float>(), Rows(gc.Data<float>(), gc.Offset, n, l, e, batchFirst),
                gq, gk, gv);
            return [gqkv];
        }, x, probs);
    }

    /// <summary>Rows of <paramref name="width"/> features of an [N, L, width] (batch first) or [L, N, width] array.</summary>
    private static HeadRows Rows(float[] data, int offset, int n, int l, int width, bool batchFirst)
        => batchFirst ? new HeadRows(data, offset, l * width, width) : new HeadRows(data, offset, width, n * width);

    /// <summary>q, k and v of a packed [N, L, 3E] (or [L, N, 3E]) projection.</summary>
    private static (HeadRows Q, HeadRows K, HeadRows V) PackedRows(float[] data, int offset, int n, int l, int e, bool batchFirst)
    {
        var r = Rows(data, offset, n, l, 3 * e, batchFirst);
        return (r, r with { Offset = offset + e }, r with { Offset = offset + 2 * e });
    }
}
