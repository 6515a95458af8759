using System.ComponentModel;

namespace SharpGrad.Kernels;

/// <summary>What a compiled cross-attention keeps between its forward and backward (and its backward's temporaries), sized per batch.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class CrossAttentionWorkspace
{
    internal float[] Query = [], Key = [], Value = [], Q = [], Kv = [], Probs = [], Merged = [];
    internal float[] Mask = [], Dropped = [];
    internal float[] GMerged = [], GQ = [], GKv = [];
    /// <summary>The gradient of the returned weights ([N, L, S] averaged, [N, heads, L, S] per head), given by <see cref="CrossAttentionKernel.WeightsBackward"/>.</summary>
    internal float[] GWeights = [];
    /// <summary>Set by the forward for its backward: the value was the key's tensor; k and v came from one GEMM; dropout was drawn.</summary>
    internal bool ValueIsKey, FusedKv, DropoutActive;
    /// <summary>Reset by the forward, set by <see cref="CrossAttentionKernel.WeightsBackward"/>: the weights' gradient is in <see cref="GWeights"/> (per head or averaged).</summary>
    internal bool HasWeightsGrad, WeightsGradPerHead;
    private int _n = -1, _memorySteps = -1, _kdim = -1, _vdim = -1;
    private EncoderLayerShape _shape;

    /// <summary>The key's and the value's widths of the last forward.</summary>
    internal int KDim => _kdim;

    internal int VDim => _vdim;

    /// <summary>The batch and the key's length of the last forward (−1 before any).</summary>
    internal int N => _n;

    internal int MemorySteps => _memorySteps;

    internal void Ensure(in EncoderLayerShape s, int memorySteps, int n, int kdim, int vdim, bool dropout)
    {
        int e = s.DModel, rows = n * s.Steps, memoryRows = n * memorySteps, probs = n * s.Heads * s.Steps * memorySteps;
        if (n != _n || memorySteps != _memorySteps || kdim != _kdim || vdim != _vdim || s != _shape)
        {
            (Query, Key, Value, Q, Kv) = (new float[rows * e], new float[memoryRows * kdim], new float[memoryRows * vdim], new float[rows * e], new float[memoryRows * 2 * e]);
            (Probs, Merged) = (new float[probs], new float[rows * e]);
            (GMerged, GQ, GKv) = (new float[rows * e], new float[rows * e], new float[memoryRows * 2 * e]);
            (_n, _memorySteps, _kdim, _vdim, _shape) = (n, memorySteps, kdim, vdim, s);
        }
        if (dropout && Mask.Length != probs) (Mask, Dropped) = (new float[probs], new float[probs]);
    }
}

/// <summary>
/// A MultiheadAttention layer's projections as <see cref="CrossAttentionKernel"/> reads them (PyTorch's parameters): the query's,
/// key's and value's weights — three row blocks of the packed <c>in_proj_weight</c> [3E, E] (offsets 0, E·E, 2E·E) or the separate
/// <c>q_proj_weight</c> [E, E], <c>k_proj_weight</c> [E, kdim], <c>v_proj_weight</c> [E, vdim] (offset 0) —, the packed
/// <c>in_proj_bias</c> [3E] (or null: <c>bias=False</c>), <c>out_proj.weight</c> and <c>out_proj.bias</c> (or null).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct AttentionProjections(float[] QWeight, int QOffset, float[] KWeight, int KOffset, float[] VWeight, int VOffset, float[]? InBias,
    float[] OutWeight, float[]? OutBias)
{
    /// <summary>The projections of a layer with the packed <c>in_proj_weight</c> (kdim = vdim = E).</summary>
    public static AttentionProjections Packed(float[] inProjWeight, float[]? inProjBias, float[] outWeight, float[]? outBias, int embedDim)
        => new(inProjWeight, 0, inProjWeight, embedDim * embedDim, inProjWeight, 2 * embedDim * embedDim, inProjBias, outWeight, outBias);
}

/// <summary>
/// The gradients of <see cref="AttentionProjections"/>' parameters (each null when not wanted), at the same offsets: for a packed
/// layer the three weight gradients are the one <c>in_proj_weight</c> gradient.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct AttentionProjectionGrads(float[]? QWeight, float[]? KWeight, float[]? VWeight, float[]? InBias, float[]? OutWeight, float[]? OutBias);

/// <summary>
/// A MultiheadAttention layer's attention of a query sequence over a key and a value sequence (PyTorch:
/// <c>mha(x, key, value, key_padding_mask, attn_mask=…)</c>, batch first; a decoder's attention over the encoder's output when
/// key and value are one tensor): q = x·W_qᵀ + b_q over the query's rows, k and v over the key's and value's rows (one GEMM
/// when they are one tensor under the packed in_proj_weight, rows E…3E), softmax(q·kᵀ/√d + masks) per sequence and head, dropout
/// on those weights in training (<see cref="AttentionDropout"/>), ·v (<see cref="AttentionKernel"/>), the out-projection; the
/// weights averaged over the heads when asked. Packed or separate (kdim/vdim) projections, with or without biases
/// (<see cref="AttentionProjections"/>). The shape's <c>Steps</c> is the query's length; the key's is passed.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class CrossAttentionKernel
{
    private const int InW = 0, InB = 1, OutW = 2, OutB = 3;

    /// <summary>
    /// <paramref name="y"/> [N, L, E] = the attention of <paramref name="x"/> [N, L, E] over <paramref name="memory"/> [N, S, E] (key = value,
    /// packed in-projection with biases, no dropout); <paramref name="w"/> is in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias.
    /// </summary>
    public static void Forward(in EncoderLayerShape s, float[] x, float[] memory, int memorySteps, float[] y, int n, IReadOnlyList<float[]> w,
        CrossAttentionWorkspace ws, AttentionMasks masks = default)
    {
        ArgumentNullException.ThrowIfNull(w);
        Forward(s, x, memory, memory, memorySteps, s.DModel, s.DModel, y, n, AttentionProjections.Packed(w[InW], w[InB], w[OutW], w[OutB], s.DModel), ws, masks);
    }

    /// <summary>
    /// The backward of the packed <see cref="Forward(in EncoderLayerShape, float[], float[], int, float[], int, IReadOnlyList{float[]}, CrossAttentionWorkspace, AttentionMasks)"/>:
    /// the query's gradient added into <paramref name="gx"/> and the memory's into <paramref name="gMemory"/> (each when not null),
    /// the four weights' into <paramref name="g"/> (null entries skipped).
    /// </summary>
    public static void Backward(in EncoderLayerShape s, int memorySteps, float[] gy, float[]? gx, float[]? gMemory, int n, IReadOnlyList<float[]> w,
        IReadOnlyList<float[]?> g, CrossAttentionWorkspace ws)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(g);
        Backward(s, memorySteps, gy, gx, gMemory, gMemory, n, AttentionProjections.Packed(w[InW], w[InB], w[OutW], w[OutB], s.DModel),
            new AttentionProjectionGrads(g[InW], g[InW], g[InW], g[InB], g[OutW], g[OutB]), ws);
    }

    /// <summary>
    /// <paramref name="y"/> [N, L, E] = the attention of <paramref name="x"/> [N, L, E] over <paramref name="key"/> [N, S, kdim] and
    /// <paramref name="value"/> [N, S, vdim] (the same array when they are one tensor). <paramref name="dropout"/> &gt; 0 draws the
    /// weights' dropout mask from <paramref name="rng"/> (null: <see cref="Rng.Default"/>), one draw per weight in [N, heads, L, S]
    /// order, as eager's Dropout. The attention weights stay in the workspace for <see cref="Weights"/>.
    /// </summary>
    public static void Forward(in EncoderLayerShape s, float[] x, float[] key, float[] value, int memorySteps, int kdim, int vdim, float[] y, int n,
        in AttentionProjections w, CrossAttentionWorkspace ws, AttentionMasks masks = default, double dropout = 0, Rng? rng = null)
    {
        ArgumentNullException.ThrowIfNull(ws);
        DropoutKernel.CheckProbability(dropout);
        bool drop = dropout > 0;
        ws.Ensure(s, memorySteps, n, kdim, vdim, drop);
        int l = s.Steps, e = s.DModel, rows = n * l, memoryRows = n * memorySteps, probs = n * s.Heads * l * memorySteps;
        ws.ValueIsKey = ReferenceEquals(key, value);
        ws.FusedKv = ws.ValueIsKey && kdim == e && vdim == e && ReferenceEquals(w.KWeight, w.VWeight) && w.VOffset == w.KOffset + e * e;
        Array.Copy(x, ws.Query, rows * e);
        Array.Copy(key, ws.Key, memoryRows * kdim);
        if (!ws.ValueIsKey) Array.Copy(value, ws.Value, memoryRows * vdim);
        Project(ws.Query, rows, e, w.QWeight, w.QOffset, w.InBias, 0, ws.Q, 0, e, e);
        if (ws.FusedKv)
        {
            Project(ws.Key, memoryRows, e, w.KWeight, w.KOffset, w.InBias, e, ws.Kv, 0, 2 * e, 2 * e);
        }
        else
        {
            Project(ws.Key, memoryRows, kdim, w.KWeight, w.KOffset, w.InBias, e, ws.Kv, 0, 2 * e, e);
            Project(ws.ValueIsKey ? ws.Key : ws.Value, memoryRows, vdim, w.VWeight, w.VOffset, w.InBias, 2 * e, ws.Kv, e, 2 * e, e);
        }
        ws.DropoutActive = drop;
        ws.HasWeightsGrad = false;
        if (drop) DropoutKernel.Mask(ws.Mask, probs, dropout, rng);
        var (q, k, v) = Rows(s, memorySteps, ws.Q, ws.Kv);
        AttentionKernel.Forward(n, s.Heads, l, memorySteps, s.HeadDim, TransformerLayerKernel.Scale(s), q, k, v, ws.Probs, new HeadRows(ws.Merged, 0, l * e, e), masks,
            drop ? new AttentionDropout(ws.Mask, ws.Dropped) : default);
        Project(ws.Merged, rows, e, w.OutWeight, 0, w.OutBias, 0, y, 0, e, e);
    }

    /// <summary>
    /// The backward of the general <see cref="Forward(in EncoderLayerShape, float[], float[], float[], int, int, int, float[], int, in AttentionProjections, CrossAttentionWorkspace, AttentionMasks, double, Rng?)"/>
    /// (same workspace): the query's gradient added into <paramref name="gx"/>, the key's into <paramref name="gKey"/>, the value's into
    /// <paramref name="gValue"/> (each when not null; the same array when key and value are one tensor), the parameters' into
    /// <paramref name="g"/>. The returned weights' gradient, when <see cref="WeightsBackward"/> gave one after the forward, joins the output's.
    /// </summary>
    public static void Backward(in EncoderLayerShape s, int memorySteps, float[] gy, float[]? gx, float[]? gKey, float[]? gValue, int n, in AttentionProjections w,
        in AttentionProjectionGrads g, CrossAttentionWorkspace ws)
    {
        ArgumentNullException.ThrowIfNull(ws);
        int l = s.Steps, e = s.DModel, rows = n * l, memoryRows = n * memorySteps;
        int kdim = ws.KDim, vdim = ws.VDim;
        TransformerLayerKernel.LinearBackward(ws.Merged, w.OutWeight, gy, ws.GMerged, accumulate: false, g.OutWeight, w.OutBias is null ? null : g.OutBias, rows, e, e);
        var (q, k, v) = Rows(s, memorySteps, ws.Q, ws.Kv);
        var (gq, gk, gv) = Rows(s, memorySteps, ws.GQ, ws.GKv);
        AttentionKernel.Backward(n, s.Heads, l, memorySteps, s.HeadDim, TransformerLayerKernel.Scale(s), q, k, v, ws.Probs, new HeadRows(ws.GMerged, 0, l * e, e),
            gq, gk, gv, ws.DropoutActive ? new AttentionDropout(ws.Mask, ws.Dropped) : default, ws.HasWeightsGrad ? ws.GWeights : null, ws.WeightsGradPerHead);
        var gBias = w.InBias is null ? null : g.InBias;
        TransformerLayerKernel.LinearBackward(ws.Query, w.QWeight, ws.GQ, gx, accumulate: true, g.QWeight, gBias, rows, e, e, weightOffset: w.QOffset);
        if (ws.FusedKv)
        {
            TransformerLayerKernel.LinearBackward(ws.Key, w.KWeight, ws.GKv, gKey, accumulate: true, g.KWeight, gBias, memoryRows, e, 2 * e,
                weightOffset: w.KOffset, biasOffset: e);
            return;
        }
        ProjectBackward(ws.Key, memoryRows, kdim, w.KWeight, w.KOffset, ws.GKv, 0, 2 * e, e, gKey, g.KWeight, gBias, e);
        ProjectBackward(ws.ValueIsKey ? ws.Key : ws.Value, memoryRows, vdim, w.VWeight, w.VOffset, ws.GKv, e, 2 * e, e, gValue, g.VWeight, gBias, 2 * e);
    }

    /// <summary>
    /// The attention weights of the last <see cref="Forward(in EncoderLayerShape, float[], float[], float[], int, int, int, float[], int, in AttentionProjections, CrossAttentionWorkspace, AttentionMasks, double, Rng?)"/>
    /// (PyTorch's returned <c>attn_output_weights</c>: after dropout, as <c>F.multi_head_attention_forward</c> returns them) into
    /// <paramref name="weights"/>: averaged over the heads, [N, L, S] (<paramref name="average"/>, PyTorch's <c>average_attn_weights=True</c>),
    /// or per head, [N, heads, L, S].
    /// </summary>
    public static void Weights(in EncoderLayerShape s, int memorySteps, bool average, float[] weights, int n, CrossAttentionWorkspace ws)
    {
        ArgumentNullException.ThrowIfNull(weights);
        CheckWeights(s, memorySteps, average, weights, n, ws);
        var source = ws.DropoutActive ? ws.Dropped : ws.Probs;
        int l = s.Steps;
        if (average) AttentionKernel.AverageHeads(source, weights, n, s.Heads, l, memorySteps);
        else Array.Copy(source, weights, n * s.Heads * l * memorySteps);
    }

    /// <summary>
    /// The gradient of <see cref="Weights"/>' result, kept in the workspace for <see cref="Backward(in EncoderLayerShape, int, float[], float[], float[], float[], int, in AttentionProjections, in AttentionProjectionGrads, CrossAttentionWorkspace)"/>
    /// (which runs after it, and adds it to the weights' gradient from the output).
    /// </summary>
    public static void WeightsBackward(in EncoderLayerShape s, int memorySteps, bool average, float[] grad, int n, CrossAttentionWorkspace ws)
    {
        ArgumentNullException.ThrowIfNull(grad);
        int count = CheckWeights(s, memorySteps, average, grad, n, ws);
        if (ws.GWeights.Length != count) ws.GWeights = new float[count];
        Array.Copy(grad, ws.GWeights, count);
        ws.HasWeightsGrad = true;
        ws.WeightsGradPerHead = !average;
    }

    /// <summary>The weights' element count, after checking the workspace holds a forward of these sizes.</summary>
    private static int CheckWeights(in EncoderLayerShape s, int memorySteps, bool average, float[] weights, int n, CrossAttentionWorkspace ws)
    {
        ArgumentNullException.ThrowIfNull(ws);
        int count = n * (average ? 1 : s.Heads) * s.Steps * memorySteps;
        if (ws.N != n || ws.MemorySteps != memorySteps || weights.Length < count)
        {
            throw new InvalidOperationException(
                $"CrossAttentionKernel: the attention weights need a forward of batch {n} over {memorySteps} keys and {count} elements, but the workspace holds batch {ws.N} over {ws.MemorySteps} keys and the array has {weights.Length}.");
        }
        return count;
    }

    /// <summary>y[r, yOffset + j] (row stride <paramref name="yLd"/>) = x[r]·W[j]ᵀ + b[biasOffset + j]: a Linear written into columns of a wider array.</summary>
    private static void Project(float[] x, int rows, int inF, float[] weight, int weightOffset, float[]? bias, int biasOffset, float[] y, int yOffset, int yLd, int outF)
        => Gemm.Sgemm(false, true, rows, outF, inF, 1f, x, 0, inF, weight, weightOffset, inF, 0f, y, yOffset, yLd, new GemmEpilogue(bias, biasOffset));

    /// <summary>The backward of <see cref="Project"/>: gx += gy·W, gW += gyᵀ·x, gb += Σ rows of gy (gy read from columns of a wider array).</summary>
    private static void ProjectBackward(float[] x, int rows, int inF, float[] weight, int weightOffset, float[] gy, int gyOffset, int gyLd, int outF, float[]? gx,
        float[]? gWeight, float[]? gBias, int biasOffset)
    {
        if (rows == 0) return;
        if (gx is not null) Gemm.Sgemm(false, false, rows, inF, outF, 1f, gy, gyOffset, gyLd, weight, weightOffset, inF, 1f, gx, 0, inF);
        if (gWeight is not null) Gemm.Sgemm(true, false, outF, inF, rows, 1f, gy, gyOffset, gyLd, x, 0, inF, 1f, gWeight, weightOffset, inF);
        if (gBias is null) return;
        ReduceKernel.AddColumnSums(gy, gyOffset, gyLd, rows, gBias.AsSpan(biasOffset, outF));
    }

    /// <summary>q in its own [N, L, E] rows; k and v packed in [N, S, 2E] rows (k at 0, v at E).</summary>
    private static (HeadRows Q, HeadRows K, HeadRows V) Rows(in EncoderLayerShape s, int memorySteps, float[] q, float[] kv)
    {
        int e = s.DModel;
        return (new HeadRows(q, 0, s.Steps * e, e), new HeadRows(kv, 0, memorySteps * 2 * e, 2 * e), new HeadRows(kv, e, memorySteps * 2 * e, 2 * e));
    }
}
