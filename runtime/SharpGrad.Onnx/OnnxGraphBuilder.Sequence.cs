using SharpGrad.Layers;

namespace SharpGrad.Onnx;

// The sequence layers, in evaluation mode, as torch.onnx.export writes them: RNN, LSTM and GRU as ONNX's RNN, LSTM and
// GRU ops (one node per layer, both directions in one node, PyTorch's gate blocks reordered to ONNX's); MultiheadAttention
// and the Transformer layers written out with MatMul, Softmax and LayerNormalization. Parameters keep their PyTorch names
// (`lstm.weight_ih_l0`, `encoder.layers.0.self_attn.in_proj_weight`): the reordering and packing are nodes over them,
// which ONNX Runtime folds into constants when it loads the model.
public sealed partial class OnnxGraphBuilder
{
    // ---------------- recurrent layers ----------------

    /// <summary><c>nn.LSTM</c> (any <c>num_layers</c>, <c>bidirectional</c>, <c>batch_first</c>, unbatched input):
    /// one ONNX <c>LSTM</c> node per layer. <paramref name="h0"/> and <paramref name="c0"/> are the initial states
    /// [layers·directions, N, H] (zeros when null), as PyTorch's <c>forward(input, (h_0, c_0))</c>.</summary>
    /// <returns>The output [L, N, directions·H] ([N, L, …] with batch_first) and (h_n, c_n), each [layers·directions, N, H].</returns>
    public (OnnxValue Output, OnnxValue HN, OnnxValue CN) Layer(string name, LSTM layer, OnnxValue input, OnnxValue? h0 = null, OnnxValue? c0 = null)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var (output, hn, cn) = Recurrent(name, layer, "LSTM", relu: false, input, h0, c0);
        return (output, hn, cn!);
    }

    /// <summary><c>nn.GRU</c>: one ONNX <c>GRU</c> node per layer (<c>linear_before_reset=1</c>, PyTorch's formula for n).</summary>
    /// <returns>The output and h_n [layers·directions, N, H].</returns>
    public (OnnxValue Output, OnnxValue HN) Layer(string name, GRU layer, OnnxValue input, OnnxValue? h0 = null)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var (output, hn, _) = Recurrent(name, layer, "GRU", relu: false, input, h0, null);
        return (output, hn);
    }

    /// <summary><c>nn.RNN</c> (tanh or relu): one ONNX <c>RNN</c> node per layer.</summary>
    /// <returns>The output and h_n [layers·directions, N, H].</returns>
    public (OnnxValue Output, OnnxValue HN) Layer(string name, RNN layer, OnnxValue input, OnnxValue? h0 = null)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var (output, hn, _) = Recurrent(name, layer, "RNN", relu: layer.Nonlinearity == "relu", input, h0, null);
        return (output, hn);
    }

    /// <summary>PyTorch's gate blocks in ONNX's order: LSTM i, f, g, o becomes ONNX's i, o, f, c; GRU r, z, n becomes
    /// z, r, h; an RNN has one block.</summary>
    private static int[] OnnxGateOrder(string op) => op switch { "LSTM" => [0, 3, 1, 2], "GRU" => [1, 0, 2], _ => [0] };

    private (OnnxValue Output, OnnxValue HN, OnnxValue? CN) Recurrent(string name, RNNBase layer, string op, bool relu, OnnxValue input,
        OnnxValue? h0, OnnxValue? c0)
    {
        using var _ = LayerScope(name);
        var s = RequireShape(input, null, op + " input");
        if (s.Count is not (2 or 3))
        {
            throw new ArgumentException($"{op}: expected an input of 3 dims ({(layer.BatchFirst ? "[N, L, H_in]" : "[L, N, H_in]")}) or 2 dims (unbatched [L, H_in]), but '{input.Name}' has shape {OnnxDim.Format(s)}.");
        }
        if (s[^1].Value is { } features && features != layer.InputSize)
            throw new ArgumentException($"{op}: input.size(-1) must be equal to input_size. Expected {layer.InputSize}, got {features} ('{input.Name}' {OnnxDim.Format(s)}).");
        bool batched = s.Count == 3;
        int dirs = layer.Bidirectional ? 2 : 1, hidden = layer.HiddenSize, states = layer.NumLayers * dirs;
        OnnxValue? State(OnnxValue? state, string what)
        {
            if (state is null) return null;
            var ss = RequireShape(state, batched ? 3 : 2, $"{op} {what}");
            if (ss[0].Value is { } n0 && n0 != states || ss[^1].Value is { } h && h != hidden)
                throw new ArgumentException($"{op}: expected {what} of shape [{states}, {(batched ? "N, " : "")}{hidden}] (num_layers·num_directions, batch, hidden_size), but '{state.Name}' has {OnnxDim.Format(ss)}.");
            return batched ? state : Unsqueeze(state, 1);
        }
        var hInit = State(h0, "hidden state h_0");
        var cInit = State(c0, "cell state c_0");
        if (op != "LSTM" && c0 is not null) throw new ArgumentException($"{op} has no cell state; pass c0 only to an LSTM.", nameof(c0));

        // [L, N, H_in]: ONNX's default layout (layout=0), which every ONNX Runtime release runs.
        var x = !batched ? Unsqueeze(input, 1) : layer.BatchFirst ? Transpose(input, 0, 1) : input;
        var order = OnnxGateOrder(op);
        var rows = order.Length == 1 ? null : Int64s(order.SelectMany(g => Enumerable.Range(g * hidden, hidden).Select(i => (long)i)).ToArray());
        OnnxValue Gates(OnnxValue v) => rows is null ? v : IndexSelect(v, 0, rows);
        OnnxValue Stacked(IEnumerable<OnnxValue> perDirection) // [dirs, …]
        {
            var list = perDirection.Select(v => Unsqueeze(v, 0)).ToArray();
            return list.Length == 1 ? list[0] : Cat(list, 0);
        }

        var attributes = new List<OnnxAttribute>
        {
            OnnxAttribute.Int("hidden_size", hidden),
            OnnxAttribute.String("direction", dirs == 2 ? "bidirectional" : "forward"),
        };
        if (op == "GRU") attributes.Add(OnnxAttribute.Int("linear_before_reset", 1));
        if (relu) attributes.Add(OnnxAttribute.Strings("activations", Enumerable.Repeat("Relu", dirs).ToArray()));

        var hN = new List<OnnxValue>();
        var cN = new List<OnnxValue>();
        for (int l = 0; l < layer.NumLayers; l++)
        {
            var w = Enumerable.Range(0, dirs).Select(dir =>
            {
                string suffix = "_l" + l.ToString(System.Globalization.CultureInfo.InvariantCulture) + (dir == 1 ? "_reverse" : "");
                var p = layer.AllWeights[l * dirs + dir];
                var wIh = Gates(Parameter($"{name}.weight_ih{suffix}", p[0]));
                var wHh = Gates(Parameter($"{name}.weight_hh{suffix}", p[1]));
                var b = layer.Bias ? Cat([Gates(Parameter($"{name}.bias_ih{suffix}", p[2])), Gates(Parameter($"{name}.bias_hh{suffix}", p[3]))], 0) : null;
                return (wIh, wHh, b);
            }).ToArray();
            var xs = x.Shape!;
            OnnxValue? Initial(OnnxValue? all) => all is null ? null : Slice(all, 0, l * dirs, (l + 1) * dirs);
            OnnxValue?[] inputs = [x, Stacked(w.Select(t => t.wIh)), Stacked(w.Select(t => t.wHh)),
                layer.Bias ? Stacked(w.Select(t => t.b!)) : null, null, Initial(hInit), op == "LSTM" ? Initial(cInit) : null];
            OnnxDim[] stateShape = [dirs, xs[1], hidden];
            var outs = AddMulti(op, inputs, [.. attributes], op == "LSTM"
                ? [[xs[0], dirs, xs[1], hidden], stateShape, stateShape]
                : [[xs[0], dirs, xs[1], hidden], stateShape]);
            // Y [L, dirs, N, H] → the next layer's input [L, N, dirs·H]
            x = dirs == 1 ? Squeeze(outs[0], 1) : Flatten(Permute(outs[0], 0, 2, 1, 3), 2, 3);
            hN.Add(outs[1]);
            if (op == "LSTM") cN.Add(outs[2]);
        }
        OnnxValue? Final(List<OnnxValue> perLayer)
        {
            if (perLayer.Count == 0) return null;
            var all = perLayer.Count == 1 ? perLayer[0] : Cat(perLayer, 0);
            return batched ? all : Squeeze(all, 1);
        }
        var output = !batched ? Squeeze(x, 1) : layer.BatchFirst ? Transpose(x, 0, 1) : x;
        return (output, Final(hN)!, Final(cN));
    }

    // ---------------- attention ----------------

    /// <summary><c>nn.MultiheadAttention</c> with <c>need_weights=False</c>: the q, k, v projections (one MatMul with
    /// <c>in_proj_weight</c> when <paramref name="query"/>, <paramref name="key"/> and <paramref name="value"/> are the same
    /// value, as PyTorch's self-attention), the heads, softmax(q·kᵀ/√head_dim + masks)·v and <c>out_proj</c>.</summary>
    /// <param name="name">The layer's state-dict prefix, e.g. <c>"self_attn"</c>.</param>
    /// <param name="layer">The layer.</param>
    /// <param name="query">[L, N, E] ([N, L, E] with batch_first, [L, E] unbatched).</param>
    /// <param name="key">[S, N, kdim].</param>
    /// <param name="value">[S, N, vdim].</param>
    /// <param name="keyPaddingMask">[N, S]: Bool (true: ignore that key) or float (added to the scores).</param>
    /// <param name="attnMask">[L, S] or [N·num_heads, L, S]: Bool (true: may not attend) or float (added).</param>
    /// <returns>The attention output, shaped like <paramref name="query"/>.</returns>
    public OnnxValue Layer(string name, MultiheadAttention layer, OnnxValue query, OnnxValue key, OnnxValue value,
        OnnxValue? keyPaddingMask = null, OnnxValue? attnMask = null)
    {
        ArgumentNullException.ThrowIfNull(layer);
        using var _ = LayerScope(name);
        var qs = RequireShape(query, null, "MultiheadAttention query");
        if (qs.Count is not (2 or 3) || key.Rank != qs.Count || value.Rank != qs.Count)
        {
            throw new ArgumentException($"MultiheadAttention: query, key and value must all be 3-d ({(layer.BatchFirst ? "[N, L, E]" : "[L, N, E]")}) or all 2-d (unbatched [L, E]), but got {query}, {key} and {value}.");
        }
        if (qs[^1].Value is { } e0 && e0 != layer.EmbedDim)
            throw new ArgumentException($"MultiheadAttention: expected query of embedding size {layer.EmbedDim}, but '{query.Name}' has shape {OnnxDim.Format(qs)}.");
        bool batched = qs.Count == 3, batchFirst = batched && layer.BatchFirst;
        bool selfAttention = ReferenceEquals(query, key) && ReferenceEquals(key, value);
        if (!batched)
        {
            query = Unsqueeze(query, 1);
            key = selfAttention ? query : Unsqueeze(key, 1);
            value = selfAttention ? query : ReferenceEquals(value, key) ? key : Unsqueeze(value, 1);
            if (keyPaddingMask is not null) keyPaddingMask = Unsqueeze(keyPaddingMask, 0);
        }

        int e = layer.EmbedDim, h = layer.NumHeads, hd = layer.HeadDim;
        OnnxValue q, k, v;
        var bias = layer.InProjBias is null ? null : Parameter(name + ".in_proj_bias", layer.InProjBias);
        OnnxValue? B(int i) => bias is null ? null : Narrow(bias, 0, i * e, e);
        if (layer.InProjWeight is { } packed)
        {
            var w = Parameter(name + ".in_proj_weight", packed);
            if (selfAttention)
            {
                var qkv = Linear(query, w, bias);
                (q, k, v) = (Narrow(qkv, -1, 0, e), Narrow(qkv, -1, e, e), Narrow(qkv, -1, 2 * e, e));
            }
            else
            {
                (q, k, v) = (Linear(query, Narrow(w, 0, 0, e), B(0)), Linear(key, Narrow(w, 0, e, e), B(1)), Linear(value, Narrow(w, 0, 2 * e, e), B(2)));
            }
        }
        else
        {
            q = Linear(query, Parameter(name + ".q_proj_weight", layer.QProjWeight!), B(0));
            k = Linear(key, Parameter(name + ".k_proj_weight", layer.KProjWeight!), B(1));
            v = Linear(value, Parameter(name + ".v_proj_weight", layer.VProjWeight!), B(2));
        }

        // [L, N, E] (or [N, L, E]) → [N, heads, L, head_dim]
        OnnxValue Heads(OnnxValue t) => batchFirst ? Permute(Unflatten(t, 2, h, hd), 0, 2, 1, 3) : Permute(Unflatten(t, 2, h, hd), 1, 2, 0, 3);
        var scores = MatMul(Mul(Heads(q), (float)(1 / Math.Sqrt(hd))), Transpose(Heads(k), 2, 3)); // [N, heads, L, S]
        OnnxValue? mask = null;
        if (attnMask is not null)
        {
            mask = attnMask.Rank switch
            {
                2 => AdditiveMask(attnMask),
                3 => Unflatten(AdditiveMask(attnMask), 0, -1, h),
                _ => throw new ArgumentException($"MultiheadAttention: attn_mask must be 2-d [L, S] or 3-d [N·num_heads, L, S], but got {attnMask}.", nameof(attnMask)),
            };
        }
        if (keyPaddingMask is not null)
        {
            if (keyPaddingMask.Rank != 2)
                throw new ArgumentException($"MultiheadAttention: expecting key_padding_mask of shape [N, S], but got {keyPaddingMask}.", nameof(keyPaddingMask));
            var kpm = Unsqueeze(Unsqueeze(AdditiveMask(keyPaddingMask), 1), 1); // [N, 1, 1, S]
            mask = mask is null ? kpm : Add(mask, kpm);
        }
        if (mask is not null) scores = Add(scores, mask);
        var attn = MatMul(Softmax(scores, -1), Heads(v)); // [N, heads, L, head_dim]
        var merged = Flatten(batchFirst ? Permute(attn, 0, 2, 1, 3) : Permute(attn, 2, 0, 1, 3), 2, 3);
        var output = Layer(name + ".out_proj", layer.OutProj, merged);
        return batched ? output : Squeeze(output, 1);
    }

    /// <summary>A mask as PyTorch's attention adds it to the scores: a Bool mask is −∞ where true (may not attend) and 0
    /// elsewhere; a float mask is added as it is.</summary>
    private OnnxValue AdditiveMask(OnnxValue mask) => mask.ElementType switch
    {
        OnnxElementType.Float32 => mask,
        OnnxElementType.Bool => Add("Where", [mask, Scalar(float.NegativeInfinity), Scalar(0f)], [], mask.Shape?.ToArray(), OnnxElementType.Float32),
        _ => throw new ArgumentException($"Attention masks must be Bool or Float32, but '{mask.Name}' is {mask.ElementType}.", nameof(mask)),
    };

    // ---------------- Transformer ----------------

    /// <summary><c>nn.TransformerEncoderLayer</c> (post-norm or <c>norm_first</c>, relu or gelu): self-attention and the
    /// feed-forward block with their residual connections and LayerNorms; dropout is the identity.</summary>
    public OnnxValue Layer(string name, TransformerEncoderLayer layer, OnnxValue src, OnnxValue? srcMask = null, OnnxValue? srcKeyPaddingMask = null)
    {
        ArgumentNullException.ThrowIfNull(layer);
        using var _ = LayerScope(name);
        OnnxValue SelfAttention(OnnxValue x) => Layer(name + ".self_attn", layer.SelfAttn, x, x, x, srcKeyPaddingMask, srcMask);
        OnnxValue FeedForward(OnnxValue x) => TransformerFeedForward(name, layer, layer.Linear1, layer.Linear2, x);
        var x = src;
        if (layer.NormFirst)
        {
            x = Add(x, SelfAttention(Layer(name + ".norm1", layer.Norm1, x)));
            return Add(x, FeedForward(Layer(name + ".norm2", layer.Norm2, x)));
        }
        x = Layer(name + ".norm1", layer.Norm1, Add(x, SelfAttention(x)));
        return Layer(name + ".norm2", layer.Norm2, Add(x, FeedForward(x)));
    }

    /// <summary><c>nn.TransformerDecoderLayer</c>: self-attention, attention over <paramref name="memory"/> and the
    /// feed-forward block, each with its residual connection and LayerNorm.</summary>
    public OnnxValue Layer(string name, TransformerDecoderLayer layer, OnnxValue tgt, OnnxValue memory, OnnxValue? tgtMask = null,
        OnnxValue? memoryMask = null, OnnxValue? tgtKeyPaddingMask = null, OnnxValue? memoryKeyPaddingMask = null)
    {
        ArgumentNullException.ThrowIfNull(layer);
        using var _ = LayerScope(name);
        OnnxValue SelfAttention(OnnxValue x) => Layer(name + ".self_attn", layer.SelfAttn, x, x, x, tgtKeyPaddingMask, tgtMask);
        OnnxValue CrossAttention(OnnxValue x) => Layer(name + ".multihead_attn", layer.MultiheadAttn, x, memory, memory, memoryKeyPaddingMask, memoryMask);
        OnnxValue FeedForward(OnnxValue x) => TransformerFeedForward(name, layer, layer.Linear1, layer.Linear2, x);
        var x = tgt;
        if (layer.NormFirst)
        {
            x = Add(x, SelfAttention(Layer(name + ".norm1", layer.Norm1, x)));
            x = Add(x, CrossAttention(Layer(name + ".norm2", layer.Norm2, x)));
            return Add(x, FeedForward(Layer(name + ".norm3", layer.Norm3, x)));
        }
        x = Layer(name + ".norm1", layer.Norm1, Add(x, SelfAttention(x)));
        x = Layer(name + ".norm2", layer.Norm2, Add(x, CrossAttention(x)));
        return Layer(name + ".norm3", layer.Norm3, Add(x, FeedForward(x)));
    }

    /// <summary><c>nn.TransformerEncoder</c>: its layers (<c>name.layers.0</c>, …) in order, then the final norm if any.</summary>
    public OnnxValue Layer(string name, TransformerEncoder layer, OnnxValue src, OnnxValue? mask = null, OnnxValue? srcKeyPaddingMask = null)
    {
        ArgumentNullException.ThrowIfNull(layer);
        using var _ = LayerScope(name);
        var x = src;
        int i = 0;
        foreach (var child in layer.Layers) x = Layer($"{name}.layers.{i++}", child, x, mask, srcKeyPaddingMask);
        return layer.Norm is null ? x : Layer(name + ".norm", layer.Norm, x);
    }

    /// <summary><c>nn.TransformerDecoder</c>: its layers in order, then the final norm if any.</summary>
    public OnnxValue Layer(string name, TransformerDecoder layer, OnnxValue tgt, OnnxValue memory, OnnxValue? tgtMask = null,
        OnnxValue? memoryMask = null, OnnxValue? tgtKeyPaddingMask = null, OnnxValue? memoryKeyPaddingMask = null)
    {
        ArgumentNullException.ThrowIfNull(layer);
        using var _ = LayerScope(name);
        var x = tgt;
        int i = 0;
        foreach (var child in layer.Layers)
            x = Layer($"{name}.layers.{i++}", child, x, memory, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask);
        return layer.Norm is null ? x : Layer(name + ".norm", layer.Norm, x);
    }

    /// <summary><c>nn.Transformer</c>: the encoder over <paramref name="src"/>, the decoder over <paramref name="tgt"/>
    /// and the encoder's output.</summary>
    public OnnxValue Layer(string name, Transformer layer, OnnxValue src, OnnxValue tgt, OnnxValue? srcMask = null, OnnxValue? tgtMask = null,
        OnnxValue? memoryMask = null, OnnxValue? srcKeyPaddingMask = null, OnnxValue? tgtKeyPaddingMask = null, OnnxValue? memoryKeyPaddingMask = null)
    {
        ArgumentNullException.ThrowIfNull(layer);
        using var _ = LayerScope(name);
        var memory = Layer(name + ".encoder", layer.Encoder, src, srcMask, srcKeyPaddingMask);
        return Layer(name + ".decoder", layer.Decoder, tgt, memory, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask);
    }

    /// <summary>linear2(activation(linear1(x))) — the feed-forward block of both Transformer layers (dropout: identity).</summary>
    private OnnxValue TransformerFeedForward(string name, TransformerLayerBase layer, Linear linear1, Linear linear2, OnnxValue x)
    {
        var h = Layer(name + ".linear1", linear1, x);
        return Layer(name + ".linear2", linear2, layer.Activation == "gelu" ? Gelu(h) : Relu(h));
    }
}
