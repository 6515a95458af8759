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
    /// <summary>The forward's linear weights transposed (filled by each whole or split forward; a batch part shares its split's).</summary>
    internal EncoderWeightsT WeightsT = new();
    /// <summary>The dropout masks of the last forward (which were drawn, and the masks), for its backward.</summary>
    internal readonly EncoderDropoutMasks Drop = new();
    /// <summary>
    /// With dropout: the attention weights times their mask, the activation times its mask (what linear2 reads), an output
    /// before its mask, and the masked output gradients of dropout1 and dropout2 (separate arrays: a split part's deferred
    /// weight gradients read them after the part's backward). Grown when needed, reused across calls.
    /// </summary>
    internal float[] Dropped = [], FfDropped = [], Out = [], GMasked1 = [], GMasked2 = [];
    /// <summary>
    /// The lists of the feed-forward activation's rows that the last forward's linear2 built (ReLU, no dropout), walked by the
    /// backward's linear1 input gradient gFf·W1 (gFf is zero wherever act is; TransformerLayer.Skip.cs); unbuilt otherwise.
    /// </summary>
    internal readonly Gemm.SkipZerosListCache FfRowLists = new();
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
        (G1, G2, G3, GFf, GFfAct, GMerged, GQkv) = (A(rows * e), A(rows * e), A(rows * e), s.Gelu ? A(rows * f) : [], A(rows * f), A(rows * e), A(rows * 3 * e));
        _n = n;
        _shape = s;
    }

    /// <summary>Sizes the buffers the drawn masks (<see cref="Drop"/>) need.</summary>
    internal void EnsureDropout(in EncoderLayerShape s, int n)
    {
        int rows = n * s.Steps, e = s.DModel;
        if (Drop.WeightsOn) EncoderDropoutMasks.Fit(ref Dropped, n * s.Heads * s.Steps * s.Steps);
        if (Drop.FeedForwardOn) EncoderDropoutMasks.Fit(ref FfDropped, rows * s.FeedForward);
        if (Drop.SelfOutputOn || Drop.FeedForwardOutputOn) EncoderDropoutMasks.Fit(ref Out, rows * e);
        if (Drop.SelfOutputOn) EncoderDropoutMasks.Fit(ref GMasked1, rows * e);
        if (Drop.FeedForwardOutputOn) EncoderDropoutMasks.Fit(ref GMasked2, rows * e);
    }

    /// <summary>The feed-forward block's dropouts of the last forward (the activation's and the output's).</summary>
    internal FeedForwardDropout FeedForwardDrop => new(Drop.FeedForwardOn ? Drop.FeedForward : null, FfDropped,
        Drop.FeedForwardOutputOn ? Drop.FeedForwardOutput : null, Out, GMasked2);

    /// <summary>The attention weights' dropout of the last forward, or inactive.</summary>
    internal AttentionDropout WeightsDrop => Drop.WeightsOn ? new AttentionDropout(Drop.Weights, Dropped) : default;
}

/// <summary>
/// An encoder layer's four linear weights transposed, [in, out] (in_proj, out_proj, linear1, linear2), copied at each forward
/// (the optimizer changes the weights between steps): the forward's x·Wᵀ products then run as x·(Wᵀ) on the GEMM's
/// broadcast kernels. On AVX2 (session 16, `count`, 1 thread, min): the out-projection 1024×128·(128×128)ᵀ took 587 µs as dot
/// products (`Gemm.Dot4x4`, the direct path of x·Wᵀ) against 387 µs as x·(Wᵀ), linear2's 1024×512·(128×512)ᵀ 1802 µs packed
/// against 1544; and in a 2-thread step's batch parts (256 token rows) every x·Wᵀ of the layer fell on the dot-product path.
/// The four copies are ~200 K floats per layer and forward.
/// </summary>
internal sealed class EncoderWeightsT
{
    internal float[] In = [], Out = [], L1 = [], L2 = [];

    /// <summary>
    /// Copies the transposes of <paramref name="w"/>'s linear weights (the encoder layer's order), the four over the worker
    /// pool: a split forward's caller runs this before its parts start, so with 2 threads the other core waited for all of it.
    /// </summary>
    internal void Fill(in EncoderLayerShape s, IReadOnlyList<float[]> w)
    {
        int e = s.DModel, f = s.FeedForward;
        EncoderDropoutMasks.Fit(ref In, 3 * e * e);
        EncoderDropoutMasks.Fit(ref Out, e * e);
        EncoderDropoutMasks.Fit(ref L1, f * e);
        EncoderDropoutMasks.Fit(ref L2, e * f);
        Parallelism.For(4, new FillItem(this, e, f, w));
    }

    /// <summary>One weight's transpose: the two largest first (linear1, linear2), so two threads share the four evenly.</summary>
    private readonly struct FillItem(EncoderWeightsT t, int e, int f, IReadOnlyList<float[]> w) : IParallelBody
    {
        public void Invoke(int index)
        {
            switch (index)
            {
                case 0: RecurrentKernel.Transpose(w[4], 0, f, e, t.L1); break;
                case 1: RecurrentKernel.Transpose(w[6], 0, e, f, t.L2); break;
                case 2: RecurrentKernel.Transpose(w[0], 0, 3 * e, e, t.In); break;
                default: RecurrentKernel.Transpose(w[2], 0, e, e, t.Out); break;
            }
        }
    }
}

/// <summary>
/// The dropouts of a Transformer layer in training, as eager runs them (PyTorch: <c>TransformerEncoderLayer</c>'s
/// <c>self_attn</c> dropout on the weights, <c>dropout1</c>, <c>dropout</c> (feed-forward, after the activation),
/// <c>dropout2</c>; <c>TransformerDecoderLayer</c>'s <c>self_attn</c>, <c>dropout1</c>, <c>multihead_attn</c>,
/// <c>dropout2</c>, <c>dropout</c>, <c>dropout3</c>), each inactive in evaluation. The masks are drawn in eager's order, each
/// over its tensor as eager lays it out: [T, N, ·] when <paramref name="BatchSecond"/> (a <c>batch_first=False</c> layer), the
/// attention weights always [N, heads, L, S].
/// </summary>
/// <param name="SelfWeights">The self-attention's dropout on its weights.</param>
/// <param name="SelfOutput">dropout1: on the self-attention's output.</param>
/// <param name="FeedForward">dropout: inside the feed-forward block, after the activation.</param>
/// <param name="FeedForwardOutput">On the feed-forward block's output (the encoder's dropout2, the decoder's dropout3).</param>
/// <param name="CrossWeights">The decoder's attention over the memory: its dropout on the weights.</param>
/// <param name="CrossOutput">The decoder's dropout2: on that attention's output.</param>
/// <param name="BatchSecond">The layer's tensors are [T, N, ·] (batch_first=False).</param>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct TransformerDropout(DropoutSite SelfWeights, DropoutSite SelfOutput, DropoutSite FeedForward, DropoutSite FeedForwardOutput,
    DropoutSite CrossWeights = default, DropoutSite CrossOutput = default, bool BatchSecond = false);

/// <summary>
/// An encoder layer's dropout masks of one forward (<see cref="TransformerDropout"/>), batch-first rows: the attention weights'
/// [N·heads, T, T], dropout1's [N, T, E], the feed-forward's [N, T, F], dropout2's [N, T, E]; each flag says whether it was drawn.
/// </summary>
internal sealed class EncoderDropoutMasks
{
    internal float[] Weights = [], SelfOutput = [], FeedForward = [], FeedForwardOutput = [];
    internal bool WeightsOn, SelfOutputOn, FeedForwardOn, FeedForwardOutputOn;
    private float[] _scratch = [];

    /// <summary>Grows <paramref name="a"/> to at least <paramref name="size"/> elements (never shrinks, so a steady state allocates nothing).</summary>
    internal static void Fit(ref float[] a, int size)
    {
        if (a.Length < size) a = new float[size];
    }

    /// <summary>Draws the masks of the sites <paramref name="d"/> makes active for <paramref name="n"/> sequences, in eager's order.</summary>
    internal void Draw(in EncoderLayerShape s, int n, in TransformerDropout d)
    {
        int t = s.Steps, e = s.DModel, f = s.FeedForward, probs = n * s.Heads * t * t;
        (WeightsOn, SelfOutputOn, FeedForwardOn, FeedForwardOutputOn) = (d.SelfWeights.IsActive, d.SelfOutput.IsActive, d.FeedForward.IsActive, d.FeedForwardOutput.IsActive);
        if (WeightsOn)
        {
            Fit(ref Weights, probs);
            DropoutKernel.Mask(Weights, probs, d.SelfWeights.P, d.SelfWeights.Rng);
        }
        if (SelfOutputOn)
        {
            Fit(ref SelfOutput, n * t * e);
            DropoutKernel.MaskRows(d.SelfOutput, SelfOutput, n, t, e, d.BatchSecond, ref _scratch);
        }
        if (FeedForwardOn)
        {
            Fit(ref FeedForward, n * t * f);
            DropoutKernel.MaskRows(d.FeedForward, FeedForward, n, t, f, d.BatchSecond, ref _scratch);
        }
        if (FeedForwardOutputOn)
        {
            Fit(ref FeedForwardOutput, n * t * e);
            DropoutKernel.MaskRows(d.FeedForwardOutput, FeedForwardOutput, n, t, e, d.BatchSecond, ref _scratch);
        }
    }

    /// <summary>Only the self-attention weights' mask (a MultiheadAttention's own self-attention, the decoder's): the others off.</summary>
    internal void DrawWeights(in EncoderLayerShape s, int n, DropoutSite weights) => Draw(s, n, new TransformerDropout(weights, default, default, default));

    /// <summary>Sequences [<paramref name="b0"/>, b0 + <paramref name="nb"/>) of <paramref name="whole"/>'s masks: a batch part's.</summary>
    internal void CopySlice(EncoderDropoutMasks whole, in EncoderLayerShape s, int b0, int nb)
    {
        int t = s.Steps, plane = s.Heads * t * t, row = t * s.DModel, ffRow = t * s.FeedForward;
        (WeightsOn, SelfOutputOn, FeedForwardOn, FeedForwardOutputOn) = (whole.WeightsOn, whole.SelfOutputOn, whole.FeedForwardOn, whole.FeedForwardOutputOn);
        if (WeightsOn) Slice(whole.Weights, b0 * plane, ref Weights, nb * plane);
        if (SelfOutputOn) Slice(whole.SelfOutput, b0 * row, ref SelfOutput, nb * row);
        if (FeedForwardOn) Slice(whole.FeedForward, b0 * ffRow, ref FeedForward, nb * ffRow);
        if (FeedForwardOutputOn) Slice(whole.FeedForwardOutput, b0 * row, ref FeedForwardOutput, nb * row);

        static void Slice(float[] source, int offset, ref float[] target, int count)
        {
            Fit(ref target, count);
            Array.Copy(source, offset, target, 0, count);
        }
    }
}

/// <summary>
/// The feed-forward block's dropouts for <see cref="TransformerLayerKernel.FeedForward"/> and its backward: the activation's
/// mask and the activation times it (what linear2 reads), the output's mask, the output before it (forward scratch) and the
/// output gradient times it (backward). A null mask: that dropout is off.
/// </summary>
internal readonly record struct FeedForwardDropout(float[]? Mask, float[]? Dropped, float[]? OutputMask, float[]? Output, float[]? GOutput);

/// <summary>
/// A Transformer encoder layer (self-attention with a packed in-projection, softmax(q·kᵀ/√d)·v per head, the out-projection;
/// residuals, LayerNorms, the feed-forward block) on float32 arrays for compiled programs, composed of the shared kernels
/// (<see cref="Gemm"/>, <see cref="SoftmaxKernel"/>, <see cref="NormKernel"/>, <see cref="Pointwise"/>), with the attention
/// masks and, in training, the layer's four dropouts (<see cref="TransformerDropout"/>, masks drawn as eager's). Weights in PyTorch's order: in_proj_weight, in_proj_bias, out_proj.weight,
/// out_proj.bias, linear1.weight, linear1.bias, linear2.weight, linear2.bias, norm1.weight, norm1.bias, norm2.weight, norm2.bias.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static partial class TransformerLayerKernel
{
    private const int InW = 0, InB = 1, OutW = 2, OutB = 3, L1W = 4, L1B = 5, L2W = 6, L2B = 7, N1W = 8, N1B = 9, N2W = 10, N2B = 11;

    /// <summary><paramref name="y"/> [N, T, E] = the layer applied to <paramref name="x"/> [N, T, E] (batch first).</summary>
    /// <remarks>
    /// <paramref name="masks"/>: the self-attention's additive masks (PyTorch's <c>src_mask</c> and <c>src_key_padding_mask</c>;
    /// none by default); the backward is the same (masked probabilities are 0). <paramref name="dropout"/>: the layer's dropouts
    /// in training (none by default), their masks drawn here for the whole batch in eager's order (a split forward draws them
    /// before its parts run), kept in the workspace for the backward.
    /// </remarks>
    public static void Forward(in EncoderLayerShape s, float[] x, float[] y, int n, IReadOnlyList<float[]> w, EncoderLayerWorkspace ws, AttentionMasks masks = default,
        TransformerDropout dropout = default)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(ws);
        if (SplitForward(s, x, y, n, w, ws, masks, dropout)) return;
        ws.Ensure(s, n);
        if (!t_inPart)
        {
            ws.Drop.Draw(s, n, dropout);   // a batch part runs with its slice of the masks its split drew
            ws.WeightsT.Fill(s, w);        // and with its split's transposed weights
        }
        ws.EnsureDropout(s, n);
        int rows = n * s.Steps, e = s.DModel;
        if (!ReferenceEquals(x, ws.Input)) Array.Copy(x, ws.Input, rows * e);
        if (s.NormFirst)
        {
            // n1 = LN1(x); r1 = x + attn(n1); n2 = LN2(r1); y = r1 + ff(n2)
            LayerNorm(s, ws.Input, ws.Hidden1, rows, w[N1W], w[N1B], ws.Mean1, ws.Invstd1);
            AttentionForward(s, n, ws.Hidden1, ws.Input, w, ws, masks);
            LayerNorm(s, ws.Residual1, ws.Normed2, rows, w[N2W], w[N2B], ws.Mean2, ws.Invstd2);
            FeedForward(s, ws.Normed2, ws.Residual1, y, rows, w[L1W], w[L1B], w[L2W], w[L2B], ws.Ff1, ws.Ff1Act, ws.FeedForwardDrop, ws.WeightsT.L1, ws.WeightsT.L2,
                ws.FfRowLists);
        }
        else
        {
            // r1 = x + attn(x); h1 = LN1(r1); r2 = h1 + ff(h1); y = LN2(r2)
            AttentionForward(s, n, ws.Input, ws.Input, w, ws, masks);
            LayerNorm(s, ws.Residual1, ws.Hidden1, rows, w[N1W], w[N1B], ws.Mean1, ws.Invstd1);
            FeedForward(s, ws.Hidden1, ws.Hidden1, ws.Residual2, rows, w[L1W], w[L1B], w[L2W], w[L2B], ws.Ff1, ws.Ff1Act, ws.FeedForwardDrop, ws.WeightsT.L1, ws.WeightsT.L2,
                ws.FfRowLists);
            LayerNorm(s, ws.Residual2, y, rows, w[N2W], w[N2B], ws.Mean2, ws.Invstd2);
        }
    }

    /// <summary>
    /// The backward of <see cref="Forward"/> (same workspace): the input's gradient added into <paramref name="gx"/> (when not
    /// null; written over its old contents when <paramref name="overwriteGx"/>), each weight's into <paramref name="g"/> (same
    /// order as the weights; null entries skipped).
    /// </summary>
    /// <remarks>
    /// <paramref name="overwriteWeights"/>: bit i set when the gradient g[i] holds nothing to keep (a fresh gradient whose first
    /// writer is this backward: generated code does not clear it), so it is written instead of added to: the four linear
    /// weights' by their products (β = 0, the skipping products stored over it), the biases and LayerNorm parameters (a few
    /// hundred elements) cleared first, as every gradient is when the batch is split into parts.
    /// </remarks>
    public static void Backward(in EncoderLayerShape s, float[] gy, float[]? gx, int n, IReadOnlyList<float[]> w, IReadOnlyList<float[]?> g,
        EncoderLayerWorkspace ws, bool overwriteGx = false, int overwriteWeights = 0)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(ws);
        if (overwriteWeights != 0) overwriteWeights = ClearFresh(s, g, overwriteWeights, all: ws.Split is { Count: > 1 });
        if (SplitBackward(s, gy, gx, n, w, g, ws, overwriteGx)) return;
        int rows = n * s.Steps, e = s.DModel, size = rows * e;
        var gR1 = ws.G1;
        if (s.NormFirst)
        {
            // y = r1 + ff(n2): r1's gradient is gy plus LN2's backward of ff's input gradient
            Array.Copy(gy, gR1, size);
            var gN2 = ws.G2;
            Array.Clear(gN2, 0, size);
            FeedForwardBackward(s, ws.Normed2, gy, gN2, rows, w[L1W], w[L2W], g[L1W], g[L1B], g[L2W], g[L2B], ws.Ff1, ws.Ff1Act, ws.GFfAct, ws.GFf, ws.FeedForwardDrop,
                ws.FfRowLists, Fresh(overwriteWeights, L1W), Fresh(overwriteWeights, L2W));
            LayerNormBackward(s, ws.Residual1, gN2, gR1, rows, w[N2W], g[N2W], g[N2B], ws.Mean2, ws.Invstd2);
            // r1 = x + attn(n1)
            if (gx is not null && overwriteGx) Array.Copy(gR1, gx, size);
            else if (gx is not null) TensorPrimitives.Add(gx.AsSpan(0, size), gR1.AsSpan(0, size), gx.AsSpan(0, size));
            var gN1 = ws.G3;
            Array.Clear(gN1, 0, size);
            AttentionBackward(s, n, ws.Hidden1, Masked1(ws, gR1, size), gN1, w, g, ws, overwriteWeights);
            if (gx is not null) LayerNormBackward(s, ws.Input, gN1, gx, rows, w[N1W], g[N1W], g[N1B], ws.Mean1, ws.Invstd1);
            else LayerNormBackward(s, ws.Input, gN1, null, rows, w[N1W], g[N1W], g[N1B], ws.Mean1, ws.Invstd1);
        }
        else
        {
            // y = LN2(r2), r2 = h1 + ff(h1)
            var gR2 = ws.G2;
            var gH1 = ws.G3;
            // 512-bit rows: LN2's input gradient written into gR2 and gH1 at once, LN1's into gR1 and added to gx in the same
            // pass (the same values: v + 0 as added into a cleared array; gx + v as TensorPrimitives.Add) instead of two clears,
            // a copy and an add over [rows, d_model] each (NormKernel.LayerNormBackwardStore)
            bool stores = NormKernel.RowsInVectors512(e);
            if (stores) LayerNormBackwardStore(s, ws.Residual2, gy, gR2, gH1, null, rows, w[N2W], g[N2W], g[N2B], ws.Mean2, ws.Invstd2);
            else
            {
                Array.Clear(gR2, 0, size);
                LayerNormBackward(s, ws.Residual2, gy, gR2, rows, w[N2W], g[N2W], g[N2B], ws.Mean2, ws.Invstd2);
                Array.Copy(gR2, gH1, size);
            }
            FeedForwardBackward(s, ws.Hidden1, gR2, gH1, rows, w[L1W], w[L2W], g[L1W], g[L1B], g[L2W], g[L2B], ws.Ff1, ws.Ff1Act, ws.GFfAct, ws.GFf, ws.FeedForwardDrop,
                ws.FfRowLists, Fresh(overwriteWeights, L1W), Fresh(overwriteWeights, L2W));
            // h1 = LN1(r1), r1 = x + attn(x)
            if (stores) LayerNormBackwardStore(s, ws.Residual1, gH1, gR1, overwriteGx ? gx : null, overwriteGx ? null : gx, rows, w[N1W], g[N1W], g[N1B], ws.Mean1, ws.Invstd1);
            else
            {
                Array.Clear(gR1, 0, size);
                LayerNormBackward(s, ws.Residual1, gH1, gR1, rows, w[N1W], g[N1W], g[N1B], ws.Mean1, ws.Invstd1);
                if (gx is not null && overwriteGx) Array.Copy(gR1, gx, size);
                else if (gx is not null) TensorPrimitives.Add(gx.AsSpan(0, size), gR1.AsSpan(0, size), gx.AsSpan(0, size));
            }
            AttentionBackward(s, n, ws.Input, Masked1(ws, gR1, size), gx, w, g, ws, overwriteWeights);
        }
    }

    /// <summary>Whether bit <paramref name="index"/> of an overwrite mask (<see cref="Backward"/>'s overwriteWeights) is set.</summary>
    private static bool Fresh(int mask, int index) => (mask & (1 << index)) != 0;

    /// <summary>
    /// Clears the fresh gradients of <paramref name="mask"/> that the backward adds to (the biases and LayerNorm parameters, or
    /// with <paramref name="all"/> every one: a split backward adds each part's) and returns the bits of those it writes (the
    /// four linear weights' on the whole-batch path).
    /// </summary>
    private static int ClearFresh(in EncoderLayerShape s, IReadOnlyList<float[]?> g, int mask, bool all)
    {
        int e = s.DModel, f = s.FeedForward, written = 0;
        for (int i = 0; i < Math.Min(g.Count, 12); i++)
        {
            if (!Fresh(mask, i) || g[i] is not { } grad) continue;
            if (!all && i is InW or OutW or L1W or L2W)
            {
                written |= 1 << i;
                continue;
            }
            int size = i switch
            {
                InW => 3 * e * e, InB => 3 * e, OutW => e * e, L1W or L2W => f * e, L1B => f, _ => e,
            };
            Array.Clear(grad, 0, Math.Min(size, grad.Length));
        }
        return written;
    }

    /// <summary>The self-attention output's gradient: <paramref name="g"/> through dropout1's mask when it was drawn (into its own array), else <paramref name="g"/>.</summary>
    private static float[] Masked1(EncoderLayerWorkspace ws, float[] g, int size)
    {
        if (!ws.Drop.SelfOutputOn) return g;
        TensorPrimitives.Multiply(g.AsSpan(0, size), ws.Drop.SelfOutput.AsSpan(0, size), ws.GMasked1.AsSpan(0, size));
        return ws.GMasked1;
    }

    /// <summary><paramref name="y"/> = <paramref name="residual"/> + <paramref name="a"/>·<paramref name="mask"/> (eager's <c>x + dropout(a)</c>), or + a without a mask.</summary>
    internal static void AddDropped(float[] residual, float[] a, float[]? mask, float[] y, int size)
    {
        if (mask is null) TensorPrimitives.Add(residual.AsSpan(0, size), a.AsSpan(0, size), y.AsSpan(0, size));
        else TensorPrimitives.MultiplyAdd(a.AsSpan(0, size), mask.AsSpan(0, size), residual.AsSpan(0, size), y.AsSpan(0, size));
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

    /// <summary>
    /// LayerNorm's backward with its input's gradient written into <paramref name="gx"/> (not added: the values of an add into a
    /// cleared array), also written into <paramref name="gxCopy"/> and added into <paramref name="gxAdd"/> when not null; rows
    /// that <see cref="NormKernel.RowsInVectors512"/> takes.
    /// </summary>
    internal static void LayerNormBackwardStore(in EncoderLayerShape s, float[] x, float[] gy, float[] gx, float[]? gxCopy, float[]? gxAdd, int rows,
        float[] weight, float[]? gWeight, float[]? gBias, float[] mean, float[] invstd)
    {
        int e = s.DModel, size = rows * e;
        NormKernel.LayerNormBackwardStore(x.AsSpan(0, size), gy.AsSpan(0, size), gx.AsSpan(0, size), gxCopy is null ? [] : gxCopy.AsSpan(0, size),
            gxAdd is null ? [] : gxAdd.AsSpan(0, size), mean.AsSpan(0, rows), invstd.AsSpan(0, rows), weight.AsSpan(0, e), gWeight is null ? [] : gWeight.AsSpan(0, e),
            gBias is null ? [] : gBias.AsSpan(0, e), rows, e);
    }

    /// <summary>
    /// y = act(x·Wᵀ + b (+ residual)) over <paramref name="rows"/> rows, the bias, residual and ReLU applied in the GEMM's epilogue;
    /// as x·(Wᵀ) when <paramref name="weightT"/> (Wᵀ, [inF, outF], see <see cref="EncoderWeightsT"/>) is given, then skipping x's
    /// exact zeros when <paramref name="skipZeros"/> (x a ReLU's output; TransformerLayer.Skip.cs) and they are enough.
    /// </summary>
    internal static void Linear(float[] x, float[] weight, float[] bias, float[] y, int rows, int inF, int outF, float[]? residual = null, bool relu = false,
        int weightOffset = 0, int biasOffset = 0, float[]? weightT = null, bool skipZeros = false, Gemm.SkipZerosListCache? lists = null)
    {
        var act = relu ? GemmActivation.Relu : GemmActivation.None;
        // the epilogue applied by the skipping kernel to each row of a block of columns as it is finished (in L1); x's lists
        // kept in lists when given (unbuilt)
        if (weightT is not null && skipZeros && ProductSkipZeros(false, rows, outF, inF, x, 0, inF, weightT, 0, outF, y, 0, outF, accumulate: false,
                new GemmEpilogue(bias, biasOffset, residual: residual, residualLd: outF, activation: act).ToEpi(), lists))
            return;
        if (weightT is null)
        {
            Gemm.Sgemm(false, true, rows, outF, inF, 1f, x, 0, inF, weight, weightOffset, inF, 0f, y, 0, outF,
                new GemmEpilogue(bias, biasOffset, residual: residual, residualLd: outF, activation: act));
            return;
        }
        // Row blocks of ≤ 256 rows and ≤ 2^24 multiply-adds: the GEMM's direct broadcast kernel, whose output block is still
        // in L2 for the epilogue (1 thread, `count xfmr-lin-*-fwdT4` against `-fwdT`/`-fwd`, min: in-proj 1390 against 1584
        // packed x·(Wᵀ) and 1594 packed x·Wᵀ, linear1 1945–2043 against 2077–2347 µs).
        int block = Math.Max(8, Math.Min(LinearRowBlock, (1 << 24) / Math.Max(1, inF * outF)));
        for (int r = 0; r < rows; r += block)
        {
            int m = Math.Min(block, rows - r);
            Gemm.Sgemm(false, false, m, outF, inF, 1f, x, r * inF, inF, weightT, 0, outF, 0f, y, r * outF, outF,
                new GemmEpilogue(bias, biasOffset, residual: residual, residualOffset: r * outF, residualLd: outF, activation: act));
        }
    }

    /// <summary>The most token rows per GEMM call of <see cref="Linear"/>'s x·(Wᵀ) (see there).</summary>
    private const int LinearRowBlock = 256;

    /// <summary>
    /// Multiply-adds per GEMM call in <see cref="LinearBackward"/>: the token rows are taken in blocks this small so that
    /// g·W and gᵀ·x stay on the GEMM's direct (unpacked) path, which at a layer's 1024 token rows is 25–35 % faster for these
    /// two products than packing (gᵀ·x packs A through a strided gather); x·Wᵀ is faster packed and is not split. On AVX2
    /// (session 15) blocks of 4, 8, 16, 32 and 1024 Mi multiply-adds were within the noise of each other for all four of the
    /// workload's linear layers (`count xfmr-lin-*-bwd-*`); session 16 measured linear2 (inF ≥ 2·outF) faster whole, which
    /// <see cref="LinearBackward"/> does whatever this value. Settable only for those profile pieces (not thread-safe).
    /// </summary>
    internal static int BackwardBlockMacs = 1 << 24;

    /// <summary>gx (+)= gy·W (added when <paramref name="accumulate"/>), gW += gyᵀ·x, gb += Σ rows of gy.</summary>
    /// <remarks>
    /// The weight may be rows of a larger matrix (<paramref name="weightOffset"/>, its gradient at the same offset; the bias's at
    /// <paramref name="biasOffset"/>). <paramref name="zerosInGy"/> (gy is a ReLU's backward: linear1) skips gy's exact zeros
    /// in gy·W and gyᵀ·x, <paramref name="zerosInX"/> (x is a ReLU's output: linear2) x's in the weight gradient, when they are
    /// enough (TransformerLayer.Skip.cs).
    /// </remarks>
    internal static void LinearBackward(float[] x, float[] weight, float[] gy, float[]? gx, bool accumulate, float[]? gWeight, float[]? gBias, int rows,
        int inF, int outF, int weightOffset = 0, int biasOffset = 0, bool zerosInGy = false, bool zerosInX = false, Gemm.SkipZerosListCache? lists = null,
        Gemm.SkipZerosListCache? gxLists = null, bool overwriteWeight = false)
    {
        bool inPart = t_deferredWeightGrads is not null;
        if (t_deferredWeightGrads is { } deferred && (gWeight is not null || gBias is not null))
        {
            if (overwriteWeight) throw new InvalidOperationException("A batch part's weight gradient is summed over the parts: it cannot be overwritten.");
            // Inside a batch part of a split backward: the weight's and bias's gradients are summed over all parts afterwards.
            deferred.Add(new DeferredWeightGrad(x, gy, gWeight, gBias, rows, inF, outF, weightOffset, biasOffset, zerosInGy || zerosInX, zerosInX));
            (gWeight, gBias) = (null, null);
        }
        // gy·W over rows × outF (not in row blocks: the skipping kernel takes each k-block's strip of W once for all rows)
        if (gx is not null && zerosInGy && ProductSkipZeros(false, rows, inF, outF, gy, 0, outF, weight, weightOffset, inF, gx, 0, inF, accumulate, lists: gxLists)) gx = null;
        if (gWeight is not null && (zerosInGy || zerosInX) && WeightGradSkipZeros(x, gy, gWeight, rows, inF, outF, 0, outF, weightOffset, zerosInX, lists, overwriteWeight))
            gWeight = null;
        // A wide input (linear2: 128 outputs of 512 inputs) runs whole: at 1024 rows its g·W (n = 512) and gᵀ·x take the packed
        // path, ~8 % faster than the direct blocks on AVX2 (session 16, `count xfmr-lin-ff2-bwd-1024` against `-bwd`, min 4144 /
        // 4216 against 4509 / 4558 µs); the other three layers were equal or faster in blocks (linear1 4057–4245 against 4322–4562).
        int block = inF >= 2 * outF ? rows : Math.Max(8, BackwardBlockMacs / Math.Max(1, inF * outF) / 8 * 8);
        bool wideOutput = gWeight is not null && WideOutputWeightGrad(rows, inF, outF);
        bool transposedWeightGrad = wideOutput && TransposedWeightGrad;
        // AVX-512: gyᵀ·x over all the rows in one product (its k-blocks of 256 from row 0, as the transposed product's and a
        // split's 256-row parts; the row blocks above, 336 rows for the in-projection, would not be)
        bool wholeWeightGrad = wideOutput && !transposedWeightGrad;
        for (int r = 0; r < rows; r += block)
        {
            int m = Math.Min(block, rows - r);
            if (gx is not null)
            {
                // In a split's batch part (256 rows) a wide input's g·W (linear2: n = 512, 2^24 multiply-adds) would take the
                // direct path; packed as at the whole layer's 1024 rows (at 512 columns the direct path's bits: both add
                // each 256-term chain to C).
                if (inPart && block == rows) Gemm.SgemmPacked(false, m, inF, outF, gy, r * outF, outF, weight, weightOffset, inF, gx, r * inF, inF, accumulate);
                else Gemm.Sgemm(false, false, m, inF, outF, 1f, gy, r * outF, outF, weight, weightOffset, inF, accumulate ? 1f : 0f, gx, r * inF, inF);
            }
            // a fresh gradient written by the first row block (β = 0: the values of the add into a cleared array)
            if (gWeight is not null && !wideOutput)
                Gemm.Sgemm(true, false, outF, inF, m, 1f, gy, r * outF, outF, x, r * inF, inF, overwriteWeight && r == 0 ? 0f : 1f, gWeight, weightOffset, inF);
        }
        if (transposedWeightGrad) WeightGradTransposed(x, gy, gWeight!, rows, inF, outF, weightOffset, overwriteWeight);
        if (wholeWeightGrad) Gemm.Sgemm(true, false, outF, inF, rows, 1f, gy, 0, outF, x, 0, inF, overwriteWeight ? 0f : 1f, gWeight!, weightOffset, inF);
        // the per-row adds of ReduceKernel.Sum with the sums in registers (TransformerLayer.Rows.cs: the same bits)
        if (gBias is not null) AddColumnSums(gy, rows, outF, gBias, biasOffset);
    }

    /// <summary>
    /// Whether <see cref="LinearBackward"/> computes gW += gyᵀ·x as one product over all rows (as gW += (xᵀ·gy)ᵀ with
    /// <see cref="TransposedWeightGrad"/>), not in row blocks: a narrow input and a wide output (linear1:
    /// 512 outputs of 128 inputs, the in-projection: 384 of 128) over many rows. gyᵀ·x is then [outF, inF] with inF ≤ 128 columns,
    /// which the GEMM keeps on its direct path at ~64 GFLOP/s on AVX2, while xᵀ·gy ([inF, outF], outF wide) takes the packed
    /// path (session 16, 1 thread, `count`, min: (512×1024)·(1024×128) 1895 µs whole and 2083 in 256-row blocks, against 1688
    /// for (128×1024)·(1024×512)); the transposed add of the [inF, outF] result is ~2·inF·outF element moves.
    /// </summary>
    private static bool WideOutputWeightGrad(int rows, int inF, int outF) => outF >= 2 * inF && (long)rows * inF * outF > 1 << 24;

    /// <summary>
    /// Whether a wide-output weight gradient (<see cref="WideOutputWeightGrad"/>) is taken as (xᵀ·gy)ᵀ: with 256-bit vectors
    /// (the AVX2 measurement above). With AVX-512 gyᵀ·x over all rows is faster (session 23, Zen 4, 1 thread, `count`, min,
    /// alternated): the in-projection's (384×1024)·(1024×128) 894–916 µs (`xfmr-gemm-qkv-dw`) against 986–994 for
    /// (128×1024)·(1024×384) (`gemm-xfmr-qkv-dw`, before its transposed add), linear1's 1202–1213 against 1313–1335.
    /// </summary>
    internal static bool TransposedWeightGrad => t_transposedWeightGrad ?? !System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;

    /// <summary>Tests: <see cref="TransposedWeightGrad"/> on this thread (null: by the vector width).</summary>
    [ThreadStatic] internal static bool? t_transposedWeightGrad;

    /// <summary>gW[o, i] += Σ_r x[r, i]·gy[r, o] (= with <paramref name="overwrite"/>): the product xᵀ·gy into a scratch [inF, outF], transposed and added into gW.</summary>
    private static void WeightGradTransposed(float[] x, float[] gy, float[] gWeight, int rows, int inF, int outF, int weightOffset, bool overwrite)
    {
        var product = Scratch<float>.Pool.Rent(inF * outF);
        try
        {
            Gemm.Sgemm(true, false, inF, outF, rows, 1f, x, 0, inF, gy, 0, outF, 0f, product, 0, outF);
            Gemm.StoreTransposed(product, inF, outF, gWeight, weightOffset, accumulate: !overwrite);
        }
        finally
        {
            Scratch<float>.Pool.Return(product);
        }
    }

    /// <summary>
    /// <paramref name="y"/> = <paramref name="residual"/> + linear2(act(linear1(<paramref name="x"/>))), keeping linear1's output
    /// (<paramref name="ff1"/>, GELU only) and the activation (<paramref name="ff1Act"/>) for the backward; shared by the encoder
    /// and decoder layer kernels. With <paramref name="drop"/>'s masks: residual + dropout(linear2(dropout(act(linear1(x))))).
    /// </summary>
    /// <remarks><paramref name="w1T"/>, <paramref name="w2T"/>: the weights transposed (<see cref="EncoderWeightsT"/>), or null.</remarks>
    internal static void FeedForward(in EncoderLayerShape s, float[] x, float[] residual, float[] y, int rows, float[] w1, float[] b1, float[] w2,
        float[] b2, float[] ff1, float[] ff1Act, FeedForwardDropout drop = default, float[]? w1T = null, float[]? w2T = null,
        Gemm.SkipZerosListCache? rowLists = null)
    {
        int e = s.DModel, f = s.FeedForward;
        // the last forward's lists of act are stale now; linear2 keeps this one's (ReLU, no dropout: act's own zeros) for the
        // backward's gFf·W1 (FeedForwardBackward)
        rowLists?.Release();
        if (s.Gelu || drop.Mask is not null || t_unsharedFeedForwardLists) rowLists = null;
        if (s.Gelu)
        {
            Linear(x, w1, b1, ff1, rows, e, f, weightT: w1T);
            Pointwise.Forward<GeluOp>(ff1, ff1Act, rows * f);
        }
        else
        {
            Linear(x, w1, b1, ff1Act, rows, e, f, relu: true, weightT: w1T);
        }
        var hidden = ff1Act;
        if (drop.Mask is { } mask)
        {
            TensorPrimitives.Multiply(ff1Act.AsSpan(0, rows * f), mask.AsSpan(0, rows * f), drop.Dropped.AsSpan(0, rows * f));
            hidden = drop.Dropped!;
        }
        // ReLU's zeros (and dropout's) in linear2's input are skipped; GELU's output has none
        bool zeros = !s.Gelu;
        if (drop.OutputMask is { } outputMask)
        {
            Linear(hidden, w2, b2, drop.Output!, rows, f, e, weightT: w2T, skipZeros: zeros, lists: rowLists);
            AddDropped(residual, drop.Output!, outputMask, y, rows * e);
        }
        else
        {
            Linear(hidden, w2, b2, y, rows, f, e, residual, weightT: w2T, skipZeros: zeros, lists: rowLists);
        }
    }

    /// <summary>
    /// The feed-forward block's backward from <paramref name="gy"/>: its input's gradient added into <paramref name="gx"/>, the
    /// weights' and biases' gradients added (the weights' written when <paramref name="overwriteW1"/>, <paramref name="overwriteW2"/>);
    /// <paramref name="gFfAct"/> and <paramref name="gFf"/> are scratch of rows × d_ff. Through the forward's dropout masks
    /// (<paramref name="drop"/>) when it had them.
    /// </summary>
    internal static void FeedForwardBackward(in EncoderLayerShape s, float[] x, float[] gy, float[] gx, int rows, float[] w1, float[] w2,
        float[]? gW1, float[]? gB1, float[]? gW2, float[]? gB2, float[] ff1, float[] ff1Act, float[] gFfAct, float[] gFf, FeedForwardDropout drop = default,
        Gemm.SkipZerosListCache? rowLists = null, bool overwriteW1 = false, bool overwriteW2 = false)
    {
        int e = s.DModel, f = s.FeedForward;
        var gOut = gy;
        if (drop.OutputMask is { } outputMask)
        {
            TensorPrimitives.Multiply(gy.AsSpan(0, rows * e), outputMask.AsSpan(0, rows * e), drop.GOutput.AsSpan(0, rows * e));
            gOut = drop.GOutput!;
        }
        // ReLU without dropout: linear2's weight gradient keeps its lists of act's columns (the positions of act's nonzeros)
        // for linear1's, whose gFf is zero wherever act is (session 24; TransformerLayer.Skip.cs)
        var lists = !s.Gelu && drop.Mask is null && !t_unsharedFeedForwardLists ? t_ffLists ??= new Gemm.SkipZerosListCache() : null;
        try
        {
            // the forward's lists of act's rows (built there only for ReLU without dropout), for gFf·W1
            var gxLists = lists is not null && rowLists is { Built: true } ? rowLists : null;
            FeedForwardBackwardProducts(s, x, gy, gx, rows, w1, w2, gW1, gB1, gW2, gB2, ff1, ff1Act, gFfAct, gFf, drop, gOut, lists, gxLists, overwriteW1, overwriteW2);
        }
        finally
        {
            lists?.Release();
        }
    }

    /// <summary><see cref="FeedForwardBackward"/>'s products from the output's gradient <paramref name="gOut"/> (after dropout2's mask).</summary>
    private static void FeedForwardBackwardProducts(in EncoderLayerShape s, float[] x, float[] gy, float[] gx, int rows, float[] w1, float[] w2,
        float[]? gW1, float[]? gB1, float[]? gW2, float[]? gB2, float[] ff1, float[] ff1Act, float[] gFfAct, float[] gFf, FeedForwardDropout drop, float[] gOut,
        Gemm.SkipZerosListCache? lists, Gemm.SkipZerosListCache? gxLists, bool overwriteW1, bool overwriteW2)
    {
        int e = s.DModel, f = s.FeedForward;
        LinearBackward(drop.Mask is null ? ff1Act : drop.Dropped!, w2, gOut, gFfAct, accumulate: false, gW2, gB2, rows, f, e, zerosInX: !s.Gelu, lists: lists,
            overwriteWeight: overwriteW2);
        if (drop.Mask is { } mask) TensorPrimitives.Multiply(gFfAct.AsSpan(0, rows * f), mask.AsSpan(0, rows * f), gFfAct.AsSpan(0, rows * f));
        // gFf = gFfAct·act′ written, not added (no clearing pass over rows × d_ff first); ReLU's in place (the element's
        // gradient is read and then written, so gFfAct may be the output: one array of rows × d_ff less to stream)
        int size = rows * f;
        if (s.Gelu)
        {
            Pointwise.Backward<GeluOp, float, F32>(ff1.AsSpan(0, size), ff1Act.AsSpan(0, size), gFfAct.AsSpan(0, size), gFf.AsSpan(0, size), accumulate: false, 0, 0);
        }
        else if (gB1 is not null && t_deferredWeightGrads is null && ColumnSumsInRegisters(f))
        {
            // the same ReLU backward with linear1's bias gradient summed in the same pass (TransformerLayer.Rows.cs; a split's
            // parts defer their bias sums, so they take the branch below)
            ReluBackwardAddColumnSums(ff1Act, gFfAct, rows, f, gB1);
            gB1 = null;
            gFf = gFfAct;
        }
        else
        {
            Pointwise.Backward<ReluOp, float, F32>(ff1Act.AsSpan(0, size), ff1Act.AsSpan(0, size), gFfAct.AsSpan(0, size), gFfAct.AsSpan(0, size), accumulate: false, 0, 0); // relu(x) > 0 exactly where x > 0
            gFf = gFfAct;
        }
        LinearBackward(x, w1, gFf, gx, accumulate: true, gW1, gB1, rows, e, f, zerosInGy: !s.Gelu, lists: lists, gxLists: gxLists, overwriteWeight: overwriteW1);
    }

    /// <summary>
    /// <c>ws.Residual1</c> = <paramref name="residual"/> + self-attention of <paramref name="x"/> [N·T, E], keeping the packed q, k, v, the
    /// probabilities and the merged heads.
    /// </summary>
    private static void AttentionForward(in EncoderLayerShape s, int n, float[] x, float[] residual, IReadOnlyList<float[]> w, EncoderLayerWorkspace ws,
        AttentionMasks masks)
    {
        int t = s.Steps, e = s.DModel, rows = n * t;
        Linear(x, w[InW], w[InB], ws.Qkv, rows, e, 3 * e, weightT: ws.WeightsT.In);
        var (q, k, v) = QkvRows(s, ws.Qkv);
        AttentionKernel.Forward(n, s.Heads, t, t, s.HeadDim, Scale(s), q, k, v, ws.Probs, new HeadRows(ws.Merged, 0, t * e, e), masks, ws.WeightsDrop);
        if (ws.Drop.SelfOutputOn)
        {
            // r1 = x + dropout1(out_proj(·)), as eager
            Linear(ws.Merged, w[OutW], w[OutB], ws.Out, rows, e, e, weightT: ws.WeightsT.Out);
            AddDropped(residual, ws.Out, ws.Drop.SelfOutput, ws.Residual1, rows * e);
        }
        else
        {
            Linear(ws.Merged, w[OutW], w[OutB], ws.Residual1, rows, e, e, residual, weightT: ws.WeightsT.Out);
        }
    }

    /// <summary>
    /// The self-attention's backward from <paramref name="gy"/>: its input's gradient added into <paramref name="gx"/> (when not
    /// null); the projections' weight gradients written instead of added when their bits of <paramref name="overwriteWeights"/> are set.
    /// </summary>
    private static void AttentionBackward(in EncoderLayerShape s, int n, float[] x, float[] gy, float[]? gx, IReadOnlyList<float[]> w,
        IReadOnlyList<float[]?> g, EncoderLayerWorkspace ws, int overwriteWeights = 0)
    {
        int t = s.Steps, e = s.DModel, rows = n * t;
        LinearBackward(ws.Merged, w[OutW], gy, ws.GMerged, accumulate: false, g[OutW], g[OutB], rows, e, e, overwriteWeight: Fresh(overwriteWeights, OutW));
        var (q, k, v) = QkvRows(s, ws.Qkv);
        var (gq, gk, gv) = QkvRows(s, ws.GQkv);
        AttentionKernel.Backward(n, s.Heads, t, t, s.HeadDim, Scale(s), q, k, v, ws.Probs, new HeadRows(ws.GMerged, 0, t * e, e), gq, gk, gv, ws.WeightsDrop);
        LinearBackward(x, w[InW], ws.GQkv, gx, accumulate: true, g[InW], g[InB], rows, e, 3 * e, overwriteWeight: Fresh(overwriteWeights, InW));
    }

    /// <summary>
    /// A MultiheadAttention layer's self-attention (PyTorch: <c>mha(x, x, x, key_padding_mask, attn_mask=…)[0]</c>, batch first,
    /// packed in-projection) on [N, T, E] rows: <paramref name="y"/> = out_proj(attention(in_proj(x))). The shape's
    /// feed-forward and LayerNorm fields are unused; <paramref name="w"/> is in_proj_weight, in_proj_bias, out_proj.weight,
    /// out_proj.bias (the first four of the encoder layer's weights). <paramref name="weightsDropout"/>: the layer's dropout on
    /// the weights in training (none by default), its [N, heads, T, T] mask drawn here as eager draws it and kept for the backward.
    /// </summary>
    public static void SelfAttentionForward(in EncoderLayerShape s, float[] x, float[] y, int n, IReadOnlyList<float[]> w, EncoderLayerWorkspace ws,
        AttentionMasks masks = default, DropoutSite weightsDropout = default)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(ws);
        ws.Ensure(s, n);
        ws.Drop.DrawWeights(s, n, weightsDropout);
        ws.EnsureDropout(s, n);
        int t = s.Steps, e = s.DModel, rows = n * t;
        Array.Copy(x, ws.Input, rows * e);
        Linear(ws.Input, w[InW], w[InB], ws.Qkv, rows, e, 3 * e);
        var (q, k, v) = QkvRows(s, ws.Qkv);
        AttentionKernel.Forward(n, s.Heads, t, t, s.HeadDim, Scale(s), q, k, v, ws.Probs, new HeadRows(ws.Merged, 0, t * e, e), masks, ws.WeightsDrop);
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
