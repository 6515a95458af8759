using System.ComponentModel;
using System.Numerics.Tensors;

namespace SharpGrad.Kernels;

/// <summary>What a compiled decoder layer keeps between its forward and backward (and its backward's temporaries), sized per batch.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class DecoderLayerWorkspace
{
    internal readonly EncoderLayerWorkspace SelfAttn = new();
    internal readonly CrossAttentionWorkspace Cross = new();
    internal float[] Input = [], Attn = [], Residual1 = [], Hidden1 = [], Residual2 = [], Hidden2 = [], Residual3 = [], Hidden3 = [];
    internal float[] Ff1 = [], Ff1Act = [], GFf = [], GFfAct = [];
    internal float[] Mean1 = [], Invstd1 = [], Mean2 = [], Invstd2 = [], Mean3 = [], Invstd3 = [];
    internal float[] G1 = [], G2 = [], G3 = [], G4 = [];
    /// <summary>
    /// Dropout in training (the self-attention's and the cross-attention's masks on their weights live in <see cref="SelfAttn"/>
    /// and <see cref="Cross"/>): dropout1's, dropout2's, the feed-forward's and dropout3's masks of the last forward (batch-first
    /// rows; null: not drawn), the activation times its mask, an output before its mask, a masked gradient, the draw's scratch.
    /// Grown when needed, reused across calls.
    /// </summary>
    internal float[]? Mask1, Mask2, FfMask, Mask3;
    internal float[] Drop1 = [], Drop2 = [], DropFf = [], Drop3 = [], FfDropped = [], Out = [], GMasked = [], GOutput = [];
    private float[] _drawScratch = [];
    private int _n = -1;
    private EncoderLayerShape _shape;

    internal void Ensure(in EncoderLayerShape s, int n)
    {
        if (n == _n && s == _shape) return;
        int rows = n * s.Steps, e = s.DModel, f = s.FeedForward;
        float[] A(int size) => new float[size];
        (Input, Attn, Residual1, Hidden1, Residual2, Hidden2, Residual3, Hidden3) = (A(rows * e), A(rows * e), A(rows * e), A(rows * e), A(rows * e), A(rows * e), A(rows * e), A(rows * e));
        (Ff1, Ff1Act, GFf, GFfAct) = (s.Gelu ? A(rows * f) : [], A(rows * f), s.Gelu ? A(rows * f) : [], A(rows * f));
        (Mean1, Invstd1, Mean2, Invstd2, Mean3, Invstd3) = (A(rows), A(rows), A(rows), A(rows), A(rows), A(rows));
        (G1, G2, G3, G4) = (A(rows * e), A(rows * e), A(rows * e), A(rows * e));
        _n = n;
        _shape = s;
    }

    /// <summary>Draws <paramref name="site"/>'s mask over [N, rows, <paramref name="width"/>] into <paramref name="buffer"/> (eager's order) and returns it, or null when inactive.</summary>
    internal float[]? Draw(DropoutSite site, ref float[] buffer, int n, int t, int width, bool batchSecond)
    {
        if (!site.IsActive) return null;
        EncoderDropoutMasks.Fit(ref buffer, n * t * width);
        DropoutKernel.MaskRows(site, buffer, n, t, width, batchSecond, ref _drawScratch);
        return buffer;
    }

    /// <summary>The feed-forward block's dropouts of the last forward.</summary>
    internal FeedForwardDropout FeedForwardDrop => new(FfMask, FfDropped, Mask3, Out, GOutput);

    /// <summary>Sizes the feed-forward's dropout buffers and the masked gradient for <paramref name="n"/> sequences.</summary>
    internal void EnsureDropout(in EncoderLayerShape s, int n)
    {
        int rows = n * s.Steps, e = s.DModel;
        if (FfMask is not null) EncoderDropoutMasks.Fit(ref FfDropped, rows * s.FeedForward);
        if (Mask3 is not null)
        {
            EncoderDropoutMasks.Fit(ref Out, rows * e);
            EncoderDropoutMasks.Fit(ref GOutput, rows * e);
        }
        if (Mask1 is not null || Mask2 is not null) EncoderDropoutMasks.Fit(ref GMasked, rows * e);
    }

    /// <summary><paramref name="g"/> through <paramref name="mask"/> (into <see cref="GMasked"/>) when the mask was drawn, else <paramref name="g"/>.</summary>
    internal float[] Masked(float[] g, float[]? mask, int size)
    {
        if (mask is null) return g;
        TensorPrimitives.Multiply(g.AsSpan(0, size), mask.AsSpan(0, size), GMasked.AsSpan(0, size));
        return GMasked;
    }
}

/// <summary>
/// A Transformer decoder layer (PyTorch: <c>nn.TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
/// layer_norm_eps, batch_first=True, norm_first)</c>) on float32 arrays for compiled programs: self-attention over the target
/// (<see cref="TransformerLayerKernel.SelfAttentionForward"/>), attention over the memory (<see cref="CrossAttentionKernel"/>),
/// the feed-forward block, residuals and three LayerNorms, each composed of the shared kernels. The shape's <c>Steps</c> is
/// the target's length; the memory's is passed. Weights in PyTorch's state-dict order: self_attn (in_proj_weight,
/// in_proj_bias, out_proj.weight, out_proj.bias), multihead_attn (the same four), linear1 (weight, bias), linear2, norm1,
/// norm2, norm3 — 18 arrays.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class DecoderLayerKernel
{
    private const int Sa = 0, Ca = 4, L1W = 8, L1B = 9, L2W = 10, L2B = 11, N1W = 12, N1B = 13, N2W = 14, N2B = 15, N3W = 16, N3B = 17;

    /// <summary>The number of weights (<see cref="DecoderLayerKernel"/>'s order).</summary>
    public const int WeightCount = 18;

    /// <summary>
    /// <paramref name="y"/> [N, L, E] = the layer applied to <paramref name="x"/> [N, L, E] over <paramref name="memory"/>
    /// [N, S, E] (batch first), with the self-attention's masks (<c>tgt_mask</c>, <c>tgt_key_padding_mask</c>) and the
    /// cross-attention's (<c>memory_mask</c>, <c>memory_key_padding_mask</c>). <paramref name="dropout"/>: the layer's six dropouts
    /// in training (none by default), each mask drawn where eager draws it (self-attention weights, dropout1, cross-attention
    /// weights, dropout2, the feed-forward's, dropout3) and kept in the workspace for the backward.
    /// </summary>
    public static void Forward(in EncoderLayerShape s, float[] x, float[] memory, int memorySteps, float[] y, int n, IReadOnlyList<float[]> w,
        DecoderLayerWorkspace ws, AttentionMasks selfMasks = default, AttentionMasks memoryMasks = default, TransformerDropout dropout = default)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(ws);
        if (w.Count != WeightCount) throw new ArgumentException($"DecoderLayerKernel: expected {WeightCount} weights, got {w.Count}.", nameof(w));
        ws.Ensure(s, n);
        int rows = n * s.Steps, size = rows * s.DModel;
        Array.Copy(x, ws.Input, size);
        var sa = Slice(w, Sa);
        var ca = Slice(w, Ca);
        var a = AttentionShape(s);
        var cross = AttentionProjections.Packed(ca[0], ca[1], ca[2], ca[3], s.DModel);
        int l = s.Steps, e = s.DModel;
        bool second = dropout.BatchSecond;
        if (s.NormFirst)
        {
            // h1 = LN1(x); r1 = x + sa(h1); h2 = LN2(r1); r2 = r1 + ca(h2, mem); h3 = LN3(r2); y = r2 + ff(h3) (each block's output through its dropout)
            TransformerLayerKernel.LayerNorm(s, ws.Input, ws.Hidden1, rows, w[N1W], w[N1B], ws.Mean1, ws.Invstd1);
            TransformerLayerKernel.SelfAttentionForward(a, ws.Hidden1, ws.Attn, n, sa, ws.SelfAttn, selfMasks, dropout.SelfWeights);
            ws.Mask1 = ws.Draw(dropout.SelfOutput, ref ws.Drop1, n, l, e, second);
            TransformerLayerKernel.AddDropped(ws.Input, ws.Attn, ws.Mask1, ws.Residual1, size);
            TransformerLayerKernel.LayerNorm(s, ws.Residual1, ws.Hidden2, rows, w[N2W], w[N2B], ws.Mean2, ws.Invstd2);
            CrossAttentionKernel.Forward(a, ws.Hidden2, memory, memory, memorySteps, e, e, ws.Attn, n, cross, ws.Cross, memoryMasks, dropout.CrossWeights.P,
                dropout.CrossWeights.Rng);
            ws.Mask2 = ws.Draw(dropout.CrossOutput, ref ws.Drop2, n, l, e, second);
            TransformerLayerKernel.AddDropped(ws.Residual1, ws.Attn, ws.Mask2, ws.Residual2, size);
            TransformerLayerKernel.LayerNorm(s, ws.Residual2, ws.Hidden3, rows, w[N3W], w[N3B], ws.Mean3, ws.Invstd3);
            DrawFeedForward(s, n, ws, dropout);
            TransformerLayerKernel.FeedForward(s, ws.Hidden3, ws.Residual2, y, rows, w[L1W], w[L1B], w[L2W], w[L2B], ws.Ff1, ws.Ff1Act, ws.FeedForwardDrop);
        }
        else
        {
            // r1 = x + sa(x); h1 = LN1(r1); r2 = h1 + ca(h1, mem); h2 = LN2(r2); r3 = h2 + ff(h2); y = LN3(r3) (each block's output through its dropout)
            TransformerLayerKernel.SelfAttentionForward(a, ws.Input, ws.Attn, n, sa, ws.SelfAttn, selfMasks, dropout.SelfWeights);
            ws.Mask1 = ws.Draw(dropout.SelfOutput, ref ws.Drop1, n, l, e, second);
            TransformerLayerKernel.AddDropped(ws.Input, ws.Attn, ws.Mask1, ws.Residual1, size);
            TransformerLayerKernel.LayerNorm(s, ws.Residual1, ws.Hidden1, rows, w[N1W], w[N1B], ws.Mean1, ws.Invstd1);
            CrossAttentionKernel.Forward(a, ws.Hidden1, memory, memory, memorySteps, e, e, ws.Attn, n, cross, ws.Cross, memoryMasks, dropout.CrossWeights.P,
                dropout.CrossWeights.Rng);
            ws.Mask2 = ws.Draw(dropout.CrossOutput, ref ws.Drop2, n, l, e, second);
            TransformerLayerKernel.AddDropped(ws.Hidden1, ws.Attn, ws.Mask2, ws.Residual2, size);
            TransformerLayerKernel.LayerNorm(s, ws.Residual2, ws.Hidden2, rows, w[N2W], w[N2B], ws.Mean2, ws.Invstd2);
            DrawFeedForward(s, n, ws, dropout);
            TransformerLayerKernel.FeedForward(s, ws.Hidden2, ws.Hidden2, ws.Residual3, rows, w[L1W], w[L1B], w[L2W], w[L2B], ws.Ff1, ws.Ff1Act, ws.FeedForwardDrop);
            TransformerLayerKernel.LayerNorm(s, ws.Residual3, y, rows, w[N3W], w[N3B], ws.Mean3, ws.Invstd3);
        }
    }

    /// <summary>The feed-forward's masks in eager's order (the activation's, then dropout3's), and the buffers they need.</summary>
    private static void DrawFeedForward(in EncoderLayerShape s, int n, DecoderLayerWorkspace ws, in TransformerDropout dropout)
    {
        ws.FfMask = ws.Draw(dropout.FeedForward, ref ws.DropFf, n, s.Steps, s.FeedForward, dropout.BatchSecond);
        ws.Mask3 = ws.Draw(dropout.FeedForwardOutput, ref ws.Drop3, n, s.Steps, s.DModel, dropout.BatchSecond);
        ws.EnsureDropout(s, n);
    }

    /// <summary>
    /// The backward of <see cref="Forward"/> (same workspace): the target's gradient added into <paramref name="gx"/> and the
    /// memory's into <paramref name="gMemory"/> (each when not null), each weight's into <paramref name="g"/> (same order as
    /// the weights; null entries skipped).
    /// </summary>
    public static void Backward(in EncoderLayerShape s, int memorySteps, float[] gy, float[]? gx, float[]? gMemory, int n, IReadOnlyList<float[]> w,
        IReadOnlyList<float[]?> g, DecoderLayerWorkspace ws)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(ws);
        int rows = n * s.Steps, size = rows * s.DModel;
        var sa = Slice(w, Sa);
        var ca = Slice(w, Ca);
        var gSa = Slice(g, Sa);
        var gCa = Slice(g, Ca);
        var a = AttentionShape(s);
        if (s.NormFirst)
        {
            // y = r2 + ff(h3), h3 = LN3(r2)
            var gR2 = ws.G1;
            Array.Copy(gy, gR2, size);
            var gH = ws.G2;
            Array.Clear(gH, 0, size);
            TransformerLayerKernel.FeedForwardBackward(s, ws.Hidden3, gy, gH, rows, w[L1W], w[L2W], g[L1W], g[L1B], g[L2W], g[L2B], ws.Ff1, ws.Ff1Act, ws.GFfAct, ws.GFf,
                ws.FeedForwardDrop);
            TransformerLayerKernel.LayerNormBackward(s, ws.Residual2, gH, gR2, rows, w[N3W], g[N3W], g[N3B], ws.Mean3, ws.Invstd3);
            // r2 = r1 + ca(h2, mem), h2 = LN2(r1)
            var gR1 = ws.G3;
            Array.Copy(gR2, gR1, size);
            Array.Clear(gH, 0, size);
            CrossAttentionKernel.Backward(a, memorySteps, ws.Masked(gR2, ws.Mask2, size), gH, gMemory, n, ca, gCa, ws.Cross);
            TransformerLayerKernel.LayerNormBackward(s, ws.Residual1, gH, gR1, rows, w[N2W], g[N2W], g[N2B], ws.Mean2, ws.Invstd2);
            // r1 = x + sa(h1), h1 = LN1(x)
            if (gx is not null) TensorPrimitives.Add(gx.AsSpan(0, size), gR1.AsSpan(0, size), gx.AsSpan(0, size));
            Array.Clear(gH, 0, size);
            TransformerLayerKernel.SelfAttentionBackward(a, ws.Masked(gR1, ws.Mask1, size), gH, n, sa, gSa, ws.SelfAttn);
            TransformerLayerKernel.LayerNormBackward(s, ws.Input, gH, gx, rows, w[N1W], g[N1W], g[N1B], ws.Mean1, ws.Invstd1);
        }
        else
        {
            // y = LN3(r3), r3 = h2 + ff(h2)
            var gR = ws.G1;
            Array.Clear(gR, 0, size);
            TransformerLayerKernel.LayerNormBackward(s, ws.Residual3, gy, gR, rows, w[N3W], g[N3W], g[N3B], ws.Mean3, ws.Invstd3);
            var gH = ws.G2;
            Array.Copy(gR, gH, size);
            TransformerLayerKernel.FeedForwardBackward(s, ws.Hidden2, gR, gH, rows, w[L1W], w[L2W], g[L1W], g[L1B], g[L2W], g[L2B], ws.Ff1, ws.Ff1Act, ws.GFfAct, ws.GFf,
                ws.FeedForwardDrop);
            // h2 = LN2(r2), r2 = h1 + ca(h1, mem)
            Array.Clear(gR, 0, size);
            TransformerLayerKernel.LayerNormBackward(s, ws.Residual2, gH, gR, rows, w[N2W], g[N2W], g[N2B], ws.Mean2, ws.Invstd2);
            var gH1 = ws.G3;
            Array.Copy(gR, gH1, size);
            CrossAttentionKernel.Backward(a, memorySteps, ws.Masked(gR, ws.Mask2, size), gH1, gMemory, n, ca, gCa, ws.Cross);
            // h1 = LN1(r1), r1 = x + sa(x)
            Array.Clear(gR, 0, size);
            TransformerLayerKernel.LayerNormBackward(s, ws.Residual1, gH1, gR, rows, w[N1W], g[N1W], g[N1B], ws.Mean1, ws.Invstd1);
            if (gx is not null) TensorPrimitives.Add(gx.AsSpan(0, size), gR.AsSpan(0, size), gx.AsSpan(0, size));
            TransformerLayerKernel.SelfAttentionBackward(a, ws.Masked(gR, ws.Mask1, size), gx, n, sa, gSa, ws.SelfAttn);
        }
    }

    /// <summary>The attentions' shape: the layer's without the feed-forward block (their workspaces then hold no feed-forward buffers).</summary>
    private static EncoderLayerShape AttentionShape(in EncoderLayerShape s) => s with { FeedForward = 0, Gelu = false, NormFirst = false };

    private static T[] Slice<T>(IReadOnlyList<T> list, int start) => [list[start], list[start + 1], list[start + 2], list[start + 3]];
}

