using System.ComponentModel;
using System.Numerics.Tensors;

namespace SharpGrad.Kernels;

/// <summary>
/// A Transformer encoder layer as generated code names it (PyTorch: <c>nn.TransformerEncoderLayer(d_model, nhead,
/// dim_feedforward, dropout=0, activation, layer_norm_eps, batch_first=True, norm_first)</c>) over sequences of
/// <paramref name="Steps"/> tokens; the batch size is passed at each call.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct EncoderLayerShape(int DModel, int Heads, int FeedForward, int Steps, bool NormFirst, bool Gelu, double LayerNormEps)
{
    /// <summary>The size of one head: d_model / nhead.</summary>
    public int HeadDim => DModel / Heads;
}

/// <summary>What a compiled encoder layer keeps between its forward and backward (and its backward's temporaries), sized per batch.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class EncoderLayerWorkspace
{
    internal float[] Input = [], Qkv = [], Probs = [], Merged = [];
    internal float[] Residual1 = [], Hidden1 = [], Normed2 = [], Ff1 = [], Ff1Act = [], Residual2 = [];
    internal float[] Mean1 = [], Invstd1 = [], Mean2 = [], Invstd2 = [];
    internal float[] G1 = [], G2 = [], G3 = [], GFf = [], GFfAct = [], GMerged = [], GQkv = [];
    /// <summary>The batch parts of a split forward (<see cref="TransformerLayerKernel"/>, TransformerLayer.Split.cs); null until one runs.</summary>
    internal EncoderLayerSplit? Split;
    private int _n = -1;
    private EncoderLayerShape _shape;

    internal void Ensure(in EncoderLayerShape s, int n)
    {
        if (n == _n && s == _shape) return;   // the batch and the shape (a sequence length read at each call changes its steps)
        int rows = n * s.Steps, e = s.DModel, f = s.FeedForward, heads = n * s.Heads, t = s.Steps;
        float[] A(int size) => new float[size];
        (Input, Qkv, Probs, Merged) = (A(rows * e), A(rows * 3 * e), A(heads * t * t), A(rows * e));
        (Residual1, Hidden1, Normed2, Ff1, Ff1Act, Residual2) = (A(rows * e), A(rows * e), A(rows * e), s.Gelu ? A(rows * f) : [], A(rows * f), A(rows * e));
        (Mean1, Invstd1, Mean2, Invstd2) = (A(rows), A(rows), A(rows), A(rows));
        (G1, G2, G3, GFf, GFfAct, GMerged, GQkv) = (A(rows * e), A(rows * e), A(rows * e), A(rows * f), A(rows * f), A(rows * e), A(rows * 3 * e));
        _n = n;
        _shape = s;
    }
}

/// <summary>
/// A Transformer encoder layer (self-attention with a packed in-projection, softmax(q·kᵀ/√d)·v per head, the out-projection;
/// residuals, LayerNorms, the feed-forward block) on float32 arrays for compiled programs, composed of the shared kernels
/// (<see cref="Gemm"/>, <see cref="SoftmaxKernel"/>, <see cref="NormKernel"/>, <see cref="Pointwise"/>). Without masks and
/// dropout (the rule compiles dropout 0 only). Weights in PyTorch's order: in_proj_weight, in_proj_bias, out_proj.weight,
/// out_proj.bias, linear1.weight, linear1.bias, linear2.weight, linear2.bias, norm1.weight, norm1.bias, norm2.weight, norm2.bias.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static partial class TransformerLayerKernel
{
    private const int InW = 0, InB = 1, OutW = 2, OutB = 3, L1W = 4, L1B = 5, L2W = 6, L2B = 7, N1W = 8, N1B = 9, N2W = 10, N2B = 11;

    /// <summary><paramref name="y"/> [N, T, E] = the layer applied to <paramref name="x"/> [N, T, E] (batch first).</summary>
    /// <remarks>
    /// <paramref name="masks"/>: the self-attention's additive masks (PyTorch's <c>src_mask</c> and <c>src_key_padding_mask</c>;
    /// none by default); the backward is the same (masked probabilities are 0).
    /// </remarks>
    public static void Forward(in EncoderLayerShape s, float[] x, float[] y, int n, IReadOnlyList<float[]> w, EncoderLayerWorkspace ws, AttentionMasks masks = default)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(ws);
        if (SplitForward(s, x, y, n, w, ws, masks)) return;
        ws.Ensure(s, n);
        int rows = n * s.Steps, e = s.DModel;
        if (!ReferenceEquals(x, ws.Input)) Array.Copy(x, ws.Input, rows * e);
        if (s.NormFirst)
        {
            // n1 = LN1(x); r1 = x + attn(n1); n2 = LN2(r1); y = r1 + ff(n2)
            LayerNorm(s, ws.Input, ws.Hidden1, rows, w[N1W], w[N1B], ws.Mean1, ws.Invstd1);
            AttentionForward(s, n, ws.Hidden1, ws.Input, w, ws, masks);
            LayerNorm(s, ws.Residual1, ws.Normed2, rows, w[N2W], w[N2B], ws.Mean2, ws.Invstd2);
            FeedForward(s, ws.Normed2, ws.Residual1, y, rows, w[L1W], w[L1B], w[L2W], w[L2B], ws.Ff1, ws.Ff1Act);
        }
        else
        {
            // r1 = x + attn(x); h1 = LN1(r1); r2 = h1 + ff(h1); y = LN2(r2)
            AttentionForward(s, n, ws.Input, ws.Input, w, ws, masks);
            LayerNorm(s, ws.Residual1, ws.Hidden1, rows, w[N1W], w[N1B], ws.Mean1, ws.Invstd1);
            FeedForward(s, ws.Hidden1, ws.Hidden1, ws.Residual2, rows, w[L1W], w[L1B], w[L2W], w[L2B], ws.Ff1, ws.Ff1Act);
            LayerNorm(s, ws.Residual2, y, rows, w[N2W], w[N2B], ws.Mean2, ws.Invstd2);
        }
    }

    /// <summary>
    /// The backward of <see cref="Forward"/> (same workspace): the input's gradient added into <paramref name="gx"/> (when not
    /// null), each weight's into <paramref name="g"/> (same order as the weights; null entries skipped).
    /// </summary>
    public static void Backward(in EncoderLayerShape s, float[] gy, float[]? gx, int n, IReadOnlyList<float[]> w, IReadOnlyList<float[]?> g,
        EncoderLayerWorkspace ws)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(ws);
        if (SplitBackward(s, gy, gx, n, w, g, ws)) return;
        int rows = n * s.Steps, e = s.DModel, size = rows * e;
        var gR1 = ws.G1;
        if (s.NormFirst)
        {
            // y = r1 + ff(n2): r1's gradient is gy plus LN2's backward of ff's input gradient
            Array.Copy(gy, gR1, size);
            var gN2 = ws.G2;
            Array.Clear(gN2, 0, size);
            FeedForwardBackward(s, ws.Normed2, gy, gN2, rows, w[L1W], w[L2W], g[L1W], g[L1B], g[L2W], g[L2B], ws.Ff1, ws.Ff1Act, ws.GFfAct, ws.GFf);
            LayerNormBackward(s, ws.Residual1, gN2, gR1, rows, w[N2W], g[N2W], g[N2B], ws.Mean2, ws.Invstd2);
            // r1 = x + attn(n1)
            if (gx is not null) TensorPrimitives.Add(gx.AsSpan(0, size), gR1.AsSpan(0, size), gx.AsSpan(0, size));
            var gN1 = ws.G3;
            Array.Clear(gN1, 0, size);
            AttentionBackward(s, n, ws.Hidden1, gR1, gN1, w, g, ws);
            if (gx is not null) LayerNormBackward(s, ws.Input, gN1, gx, rows, w[N1W], g[N1W], g[N1B], ws.Mean1, ws.Invstd1);
            else LayerNormBackward(s, ws.Input, gN1, null, rows, w[N1W], g[N1W], g[N1B], ws.Mean1, ws.Invstd1);
        }
        else
        {
            // y = LN2(r2), r2 = h1 + ff(h1)
            var gR2 = ws.G2;
            Array.Clear(gR2, 0, size);
            LayerNormBackward(s, ws.Residual2, gy, gR2, rows, w[N2W], g[N2W], g[N2B], ws.Mean2, ws.Invstd2);
            var gH1 = ws.G3;
            Array.Copy(gR2, gH1, size);
            FeedForwardBackward(s, ws.Hidden1, gR2, gH1, rows, w[L1W], w[L2W], g[L1W], g[L1B], g[L2W], g[L2B], ws.Ff1, ws.Ff1Act, ws.GFfAct, ws.GFf);
            // h1 = LN1(r1), r1 = x + attn(x)
            Array.Clear(gR1, 0, size);
            LayerNormBackward(s, ws.Residual1, gH1, gR1, rows, w[N1W], g[N1W], g[N1B], ws.Mean1, ws.Invstd1);
            if (gx is not null) TensorPrimitives.Add(gx.AsSpan(0, size), gR1.AsSpan(0, size), gx.AsSpan(0, size));
            AttentionBackward(s, n, ws.Input, gR1, gx, w, g, ws);
        }
    }

    /// <summary>LayerNorm over the rows' last dim (d_model): shared by the encoder and decoder layer kernels.</summary>
    internal static void LayerNorm(in EncoderLayerShape s, float[] x, float[] y, int rows, float[] weight, float[] bias, float[] mean, float[] invstd)
    {
        int e = s.DModel;
        NormKernel.LayerNormForward<float>(x.AsSpan(0, rows * e), y.AsSpan(0, rows * e), rows, e, weight.AsSpan(0, e), bias.AsSpan(0, e), s.LayerNormEps,
            mean.AsSpan(0, rows), invstd.AsSpan(0, rows));
    }

    /// <summary>LayerNorm's backward: the input's gradient added into <paramref name="gx"/> (when not null), the weight's and bias's added.</summary>
    internal static void LayerNormBackward(in EncoderLayerShape s, float[] x, float[] gy, float[]? gx, int rows, float[] weight, float[]? gWeight,
        float[]? gBias, float[] mean, float[] invstd)
    {
        int e = s.DModel;
        NormKernel.LayerNormBackward<float>(x.AsSpan(0, rows * e), gy.AsSpan(0, rows * e), gx is null ? [] : gx.AsSpan(0, rows * e), mean.AsSpan(0, rows),
            invstd.AsSpan(0, rows), weight.AsSpan(0, e), gWeight is null ? [] : gWeight.AsSpan(0, e), gBias is null ? [] : gBias.AsSpan(0, e), rows, e);
    }

    /// <summary>y = act(x·Wᵀ + b (+ residual)) over <paramref name="rows"/> rows, the bias, residual and ReLU applied in the GEMM's epilogue.</summary>
    internal static void Linear(float[] x, float[] weight, float[] bias, float[] y, int rows, int inF, int outF, float[]? residual = null, bool relu = false,
        int weightOffset = 0, int biasOffset = 0)
        => Gemm.Sgemm(false, true, rows, outF, inF, 1f, x, 0, inF, weight, weightOffset, inF, 0f, y, 0, outF,
            new GemmEpilogue(bias, biasOffset, residual: residual, residualLd: outF, activation: relu ? GemmActivation.Relu : GemmActivation.None));

    /// <summary>
    /// Multiply-adds per GEMM call in <see cref="LinearBackward"/>: the token rows are taken in blocks this small so that
    /// g·W and gᵀ·x stay on the GEMM's direct (unpacked) path, which at a layer's 1024 token rows is 25–35 % faster for these
    /// two products than packing (gᵀ·x packs A through a strided gather); x·Wᵀ is faster packed and is not split.
    /// </summary>
    private const int BackwardBlockMacs = 1 << 24;

    /// <summary>gx (+)= gy·W (added when <paramref name="accumulate"/>), gW += gyᵀ·x, gb += Σ rows of gy.</summary>
    /// <remarks>The weight may be rows of a larger matrix (<paramref name="weightOffset"/>, its gradient at the same offset; the bias's at <paramref name="biasOffset"/>).</remarks>
    internal static void LinearBackward(float[] x, float[] weight, float[] gy, float[]? gx, bool accumulate, float[]? gWeight, float[]? gBias, int rows,
        int inF, int outF, int weightOffset = 0, int biasOffset = 0)
    {
        if (t_deferredWeightGrads is { } deferred && (gWeight is not null || gBias is not null))
        {
            // Inside a batch part of a split backward: the weight's and bias's gradients are summed over all parts afterwards.
            deferred.Add(new DeferredWeightGrad(x, gy, gWeight, gBias, rows, inF, outF, weightOffset, biasOffset));
            (gWeight, gBias) = (null, null);
        }
        int block = Math.Max(8, BackwardBlockMacs / Math.Max(1, inF * outF) / 8 * 8);
        for (int r = 0; r < rows; r += block)
        {
            int m = Math.Min(block, rows - r);
            if (gx is not null) Gemm.Sgemm(false, false, m, inF, outF, 1f, gy, r * outF, outF, weight, weightOffset, inF, accumulate ? 1f : 0f, gx, r * inF, inF);
            if (gWeight is not null) Gemm.Sgemm(true, false, outF, inF, m, 1f, gy, r * outF, outF, x, r * inF, inF, 1f, gWeight, weightOffset, inF);
        }
        if (gBias is not null) ReduceKernel.Sum<float>(gy.AsSpan(0, rows * outF), gBias.AsSpan(biasOffset, outF), 1, rows, outF, 1f, accumulate: true);
    }

    /// <summary>
    /// <paramref name="y"/> = <paramref name="residual"/> + linear2(act(linear1(<paramref name="x"/>))), keeping linear1's output
    /// (<paramref name="ff1"/>, GELU only) and the activation (<paramref name="ff1Act"/>) for the backward; shared by the encoder
    /// and decoder layer kernels.
    /// </summary>
    internal static void FeedForward(in EncoderLayerShape s, float[] x, float[] residual, float[] y, int rows, float[] w1, float[] b1, float[] w2,
        float[] b2, float[] ff1, float[] ff1Act)
    {
        int e = s.DModel, f = s.FeedForward;
        if (s.Gelu)
        {
            Linear(x, w1, b1, ff1, rows, e, f);
            Pointwise.Forward<GeluOp>(ff1, ff1Act, rows * f);
        }
        else
        {
            Linear(x, w1, b1, ff1Act, rows, e, f, relu: true);
        }
        Linear(ff1Act, w2, b2, y, rows, f, e, residual);
    }

    /// <summary>
    /// The feed-forward block's backward from <paramref name="gy"/>: its input's gradient added into <paramref name="gx"/>, the
    /// weights' and biases' gradients added; <paramref name="gFfAct"/> and <paramref name="gFf"/> are scratch of rows × d_ff.
    /// </summary>
    internal static void FeedForwardBackward(in EncoderLayerShape s, float[] x, float[] gy, float[] gx, int rows, float[] w1, float[] w2,
        float[]? gW1, float[]? gB1, float[]? gW2, float[]? gB2, float[] ff1, float[] ff1Act, float[] gFfAct, float[] gFf)
    {
        int e = s.DModel, f = s.FeedForward;
        LinearBackward(ff1Act, w2, gy, gFfAct, accumulate: false, gW2, gB2, rows, f, e);
        Array.Clear(gFf, 0, rows * f);
        if (s.Gelu) Pointwise.Backward<GeluOp>(ff1, ff1Act, gFfAct, gFf, rows * f);
        else Pointwise.Backward<ReluOp>(ff1Act, ff1Act, gFfAct, gFf, rows * f); // relu(x) > 0 exactly where x > 0
        LinearBackward(x, w1, gFf, gx, accumulate: true, gW1, gB1, rows, e, f);
    }

    /// <summary>
    /// <c>ws.Residual1</c> = <paramref name="residual"/> + self-attention of <paramref name="x"/> [N·T, E], keeping the packed q, k, v, the
    /// probabilities and the merged heads.
    /// </summary>
    private static void AttentionForward(in EncoderLayerShape s, int n, float[] x, float[] residual, IReadOnlyList<float[]> w, EncoderLayerWorkspace ws,
        AttentionMasks masks)
    {
        int t = s.Steps, e = s.DModel, rows = n * t;
        Linear(x, w[InW], w[InB], ws.Qkv, rows, e, 3 * e);
        var (q, k, v) = QkvRows(s, ws.Qkv);
        AttentionKernel.Forward(n, s.Heads, t, t, s.HeadDim, Scale(s), q, k, v, ws.Probs, new HeadRows(ws.Merged, 0, t * e, e), masks);
        Linear(ws.Merged, w[OutW], w[OutB], ws.Residual1, rows, e, e, residual);
    }

    /// <summary>The self-attention's backward from <paramref name="gy"/>: its input's gradient added into <paramref name="gx"/> (when not null).</summary>
    private static void AttentionBackward(in EncoderLayerShape s, int n, float[] x, float[] gy, float[]? gx, IReadOnlyList<float[]> w,
        IReadOnlyList<float[]?> g, EncoderLayerWorkspace ws)
    {
        int t = s.Steps, e = s.DModel, rows = n * t;
        LinearBackward(ws.Merged, w[OutW], gy, ws.GMerged, accumulate: false, g[OutW], g[OutB], rows, e, e);
        var (q, k, v) = QkvRows(s, ws.Qkv);
        var (gq, gk, gv) = QkvRows(s, ws.GQkv);
        AttentionKernel.Backward(n, s.Heads, t, t, s.HeadDim, Scale(s), q, k, v, ws.Probs, new HeadRows(ws.GMerged, 0, t * e, e), gq, gk, gv);
        LinearBackward(x, w[InW], ws.GQkv, gx, accumulate: true, g[InW], g[InB], rows, e, 3 * e);
    }

    /// <summary>
    /// A MultiheadAttention layer's self-attention (PyTorch: <c>mha(x, x, x, key_padding_mask, attn_mask=…)[0]</c>, batch first,
    /// packed in-projection, dropout 0) on [N, T, E] rows: <paramref name="y"/> = out_proj(attention(in_proj(x))). The shape's
    /// feed-forward and LayerNorm fields are unused; <paramref name="w"/> is in_proj_weight, in_proj_bias, out_proj.weight,
    /// out_proj.bias (the first four of the encoder layer's weights).
    /// </summary>
    public static void SelfAttentionForward(in EncoderLayerShape s, float[] x, float[] y, int n, IReadOnlyList<float[]> w, EncoderLayerWorkspace ws,
        AttentionMasks masks = default)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(ws);
        ws.Ensure(s, n);
        int t = s.Steps, e = s.DModel, rows = n * t;
        Array.Copy(x, ws.Input, rows * e);
        Linear(ws.Input, w[InW], w[InB], ws.Qkv, rows, e, 3 * e);
        var (q, k, v) = QkvRows(s, ws.Qkv);
        AttentionKernel.Forward(n, s.Heads, t, t, s.HeadDim, Scale(s), q, k, v, ws.Probs, new HeadRows(ws.Merged, 0, t * e, e), masks);
        Linear(ws.Merged, w[OutW], w[OutB], y, rows, e, e);
    }

    /// <summary>
    /// The backward of <see cref="SelfAttentionForward"/> (same workspace): the input's gradient added into <paramref name="gx"/>
    /// (when not null), the four weights' into <paramref name="g"/> (null entries skipped).
    /// </summary>
    public static void SelfAttentionBackward(in EncoderLayerShape s, float[] gy, float[]? gx, int n, IReadOnlyList<float[]> w, IReadOnlyList<float[]?> g,
        EncoderLayerWorkspace ws)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(ws);
        AttentionBackward(s, n, ws.Input, gy, gx, w, g, ws);
    }

    /// <summary>softmax's scale 1/√head_dim.</summary>
    internal static float Scale(in EncoderLayerShape s) => 1f / MathF.Sqrt(s.HeadDim);

    /// <summary>q, k and v as rows of the packed [N, T, 3E] projection (or its gradient).</summary>
    private static (HeadRows Q, HeadRows K, HeadRows V) QkvRows(in EncoderLayerShape s, float[] qkv)
    {
        int e = s.DModel, stride = 3 * e, batch = s.Steps * stride;
        return (new HeadRows(qkv, 0, batch, stride), new HeadRows(qkv, e, batch, stride), new HeadRows(qkv, 2 * e, batch, stride));
    }
}
