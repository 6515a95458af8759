using System.ComponentModel;

namespace SharpGrad.Kernels;

/// <summary>What a compiled cross-attention keeps between its forward and backward (and its backward's temporaries), sized per batch.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class CrossAttentionWorkspace
{
    internal float[] Query = [], Memory = [], Q = [], Kv = [], Probs = [], Merged = [];
    internal float[] GMerged = [], GQ = [], GKv = [];
    private int _n = -1, _memorySteps = -1;
    private EncoderLayerShape _shape;

    internal void Ensure(in EncoderLayerShape s, int memorySteps, int n)
    {
        if (n == _n && memorySteps == _memorySteps && s == _shape) return;
        int rows = n * s.Steps, memoryRows = n * memorySteps, e = s.DModel;
        (Query, Memory, Q, Kv) = (new float[rows * e], new float[memoryRows * e], new float[rows * e], new float[memoryRows * 2 * e]);
        (Probs, Merged) = (new float[n * s.Heads * s.Steps * memorySteps], new float[rows * e]);
        (GMerged, GQ, GKv) = (new float[rows * e], new float[rows * e], new float[memoryRows * 2 * e]);
        (_n, _memorySteps, _shape) = (n, memorySteps, s);
    }
}

/// <summary>
/// A MultiheadAttention layer's attention of a query sequence over another sequence, the key and value being the same tensor
/// (PyTorch: <c>mha(x, memory, memory, key_padding_mask, attn_mask=…)[0]</c>, batch first, packed in-projection with biases,
/// dropout 0; a decoder's attention over the encoder's output): q = x·W_qᵀ + b_q over the query's rows, k and v in one GEMM
/// over the memory's rows (rows E…3E of in_proj_weight), softmax(q·kᵀ/√d + masks)·v per sequence and head
/// (<see cref="AttentionKernel"/>), the out-projection. Weights: in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias.
/// The shape's <c>Steps</c> is the query's length; the memory's is passed.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class CrossAttentionKernel
{
    private const int InW = 0, InB = 1, OutW = 2, OutB = 3;

    /// <summary><paramref name="y"/> [N, L, E] = the attention of <paramref name="x"/> [N, L, E] over <paramref name="memory"/> [N, S, E].</summary>
    public static void Forward(in EncoderLayerShape s, float[] x, float[] memory, int memorySteps, float[] y, int n, IReadOnlyList<float[]> w,
        CrossAttentionWorkspace ws, AttentionMasks masks = default)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(ws);
        ws.Ensure(s, memorySteps, n);
        int l = s.Steps, e = s.DModel, rows = n * l, memoryRows = n * memorySteps;
        Array.Copy(x, ws.Query, rows * e);
        Array.Copy(memory, ws.Memory, memoryRows * e);
        TransformerLayerKernel.Linear(ws.Query, w[InW], w[InB], ws.Q, rows, e, e);
        TransformerLayerKernel.Linear(ws.Memory, w[InW], w[InB], ws.Kv, memoryRows, e, 2 * e, weightOffset: e * e, biasOffset: e);
        var (q, k, v) = Rows(s, memorySteps, ws.Q, ws.Kv);
        AttentionKernel.Forward(n, s.Heads, l, memorySteps, s.HeadDim, TransformerLayerKernel.Scale(s), q, k, v, ws.Probs, new HeadRows(ws.Merged, 0, l * e, e), masks);
        TransformerLayerKernel.Linear(ws.Merged, w[OutW], w[OutB], y, rows, e, e);
    }

    /// <summary>
    /// The backward of <see cref="Forward"/> (same workspace): the query's gradient added into <paramref name="gx"/> and the
    /// memory's into <paramref name="gMemory"/> (each when not null), the four weights' into <paramref name="g"/> (null entries skipped).
    /// </summary>
    public static void Backward(in EncoderLayerShape s, int memorySteps, float[] gy, float[]? gx, float[]? gMemory, int n, IReadOnlyList<float[]> w,
        IReadOnlyList<float[]?> g, CrossAttentionWorkspace ws)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(ws);
        int l = s.Steps, e = s.DModel, rows = n * l, memoryRows = n * memorySteps;
        TransformerLayerKernel.LinearBackward(ws.Merged, w[OutW], gy, ws.GMerged, accumulate: false, g[OutW], g[OutB], rows, e, e);
        var (q, k, v) = Rows(s, memorySteps, ws.Q, ws.Kv);
        var (gq, gk, gv) = Rows(s, memorySteps, ws.GQ, ws.GKv);
        AttentionKernel.Backward(n, s.Heads, l, memorySteps, s.HeadDim, TransformerLayerKernel.Scale(s), q, k, v, ws.Probs, new HeadRows(ws.GMerged, 0, l * e, e),
            gq, gk, gv);
        TransformerLayerKernel.LinearBackward(ws.Query, w[InW], ws.GQ, gx, accumulate: true, g[InW], g[InB], rows, e, e);
        TransformerLayerKernel.LinearBackward(ws.Memory, w[InW], ws.GKv, gMemory, accumulate: true, g[InW], g[InB], memoryRows, e, 2 * e,
            weightOffset: e * e, biasOffset: e);
    }

    /// <summary>q in its own [N, L, E] rows; k and v packed in [N, S, 2E] rows (k at 0, v at E).</summary>
    private static (HeadRows Q, HeadRows K, HeadRows V) Rows(in EncoderLayerShape s, int memorySteps, float[] q, float[] kv)
    {
        int e = s.DModel;
        return (new HeadRows(q, 0, s.Steps * e, e), new HeadRows(kv, 0, memorySteps * 2 * e, 2 * e), new HeadRows(kv, e, memorySteps * 2 * e, 2 * e));
    }
}
