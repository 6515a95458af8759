using System.Numerics.Tensors;

namespace SharpGrad.Kernels;

/// <summary>
/// One call of <see cref="TransformerLayerKernel.LinearBackward"/> inside a batch part of a split backward: its weight's and
/// bias's gradients (gW += gyᵀ·x, gb += Σ rows of gy), summed over all parts after them (the input's gradient is the part's own).
/// </summary>
/// <remarks><paramref name="SkipZeros"/>: the weight gradient may skip the exact zeros of x (<paramref name="ZerosInX"/>) or of gy (TransformerLayer.Skip.cs).</remarks>
internal readonly record struct DeferredWeightGrad(float[] X, float[] Gy, float[]? GWeight, float[]? GBias, int Rows, int InF, int OutF, int WeightOffset,
    int BiasOffset, bool SkipZeros = false, bool ZerosInX = false);

/// <summary>
/// The batch parts of a split encoder layer (<see cref="TransformerLayerKernel"/>): a workspace per part (its sequences), the
/// part's output, output gradient and input gradient rows, its LayerNorm weight gradients and its deferred weight gradients.
/// </summary>
internal sealed class EncoderLayerSplit
{
    internal EncoderLayerWorkspace[] Parts = [];
    internal float[][] Y = [], Gy = [], Gx = [];
    /// <summary>Per part, the gradient list its backward writes: the layer's own for the linear weights (deferred), the part's for the LayerNorms.</summary>
    internal float[]?[][] G = [];
    internal float[][][] NormGrads = [];
    internal List<DeferredWeightGrad>[] Deferred = [];
    /// <summary>The weight-gradient items of the last backward: (record index, first output row, end row).</summary>
    internal readonly List<(int Record, int Row0, int Row1)> Items = [];
    /// <summary>The dropout masks of the whole batch, drawn in eager's order before the parts run; each part copies its sequences'.</summary>
    internal readonly EncoderDropoutMasks Whole = new();
    /// <summary>The number of parts of the last forward (0: the last forward ran whole) and its batch.</summary>
    internal int Count, N;
    private int _e;

    internal void Ensure(in EncoderLayerShape s, int n, int parts)
    {
        if (parts != Parts.Length || s.DModel != _e)
        {
            Parts = new EncoderLayerWorkspace[parts];
            (Y, Gy, Gx) = (new float[parts][], new float[parts][], new float[parts][]);
            G = new float[]?[parts][];
            NormGrads = new float[parts][][];
            Deferred = new List<DeferredWeightGrad>[parts];
            for (int p = 0; p < parts; p++)
            {
                Parts[p] = new EncoderLayerWorkspace();
                (Y[p], Gy[p], Gx[p]) = ([], [], []);
                G[p] = new float[]?[12];
                NormGrads[p] = [new float[s.DModel], new float[s.DModel], new float[s.DModel], new float[s.DModel]];
                Deferred[p] = [];
            }
            _e = s.DModel;
        }
        for (int p = 0; p < parts; p++)
        {
            int size = TransformerLayerKernel.PartRows(n, parts, p).Count * s.Steps * s.DModel;
            if (Y[p].Length != size) (Y[p], Gy[p], Gx[p]) = (new float[size], new float[size], new float[size]);
        }
        (Count, N) = (parts, n);
    }
}

public static partial class TransformerLayerKernel
{
    /// <summary>Tests: the number of batch parts for the layers called on this thread (0: <see cref="SplitParts"/> decides).</summary>
    [ThreadStatic] internal static int t_forcedParts;

    /// <summary>Tests: the output rows per item of the weight-gradient sum on this thread (0: by <see cref="WeightGradFlopsPerItem"/>).</summary>
    [ThreadStatic] internal static int t_forcedWeightGradRows;

    /// <summary>Set on the thread running a part of a split backward: <see cref="LinearBackward"/> records its weight gradients here.</summary>
    [ThreadStatic] private static List<DeferredWeightGrad>? t_deferredWeightGrads;

    /// <summary>
    /// For the bench's <c>xfmr-regions</c>: when set, each part of a split forward (kind 0) or backward (kind 1) records
    /// (kind, part, start, end, thread id) at the next slot of 5 (Stopwatch ticks; wraps around). Null (the default): the
    /// parts only test it.
    /// </summary>
    internal static long[]? PartTimeline;
    private static int s_partSlot;

    /// <summary>Records a part that started at <paramref name="start"/> and ends now into <paramref name="timeline"/> (<see cref="PartTimeline"/>).</summary>
    private static void RecordPart(long[] timeline, int kind, int part, long start)
    {
        int slot = (int)((uint)Interlocked.Increment(ref s_partSlot) % (uint)(timeline.Length / 5)) * 5;
        (timeline[slot], timeline[slot + 1], timeline[slot + 2], timeline[slot + 3], timeline[slot + 4]) =
            (kind, part, start, System.Diagnostics.Stopwatch.GetTimestamp(), Environment.CurrentManagedThreadId);
    }

    /// <summary>Set on the thread running a part of a split forward: the part runs whole.</summary>
    [ThreadStatic] private static bool t_inPart;

    /// <summary>
    /// Flops of weight gradient per item of the summing loop (~0.25 ms on one core): a few items per weight, so the cores share
    /// the loop evenly while each product keeps enough output rows for the GEMM's kernel.
    /// </summary>
    private const double WeightGradFlopsPerItem = 48e6;

    /// <summary>
    /// The fewest output rows per item of the weight-gradient sum (a weight with fewer rows is one item). Each item packs
    /// every part's x (B) for its rows, so an item of m rows spends ~14/m of its time packing B (PackBRows ~0.34 µs per 1000
    /// elements against the tiles' ~85 GFLOP/s): linear2's gradient (128 rows of 512 inputs) in three items of 48/48/32 rows
    /// packed each part's 256×512 x three times, ~30 % of the items' time. Session 22: one item of 128 rows, so one core
    /// takes the weight (it is the first item, the other core shares the remaining items meanwhile).
    /// </summary>
    private const int WeightGradMinItemRows = 128;

    /// <summary>
    /// Into how many parts (sequences) a layer over <paramref name="n"/> sequences is split (1: it runs whole, each kernel
    /// split on its own): one per thread when the layer's forward is worth it (≥ 4 MFLOP per part).
    /// </summary>
    /// <remarks>
    /// Every token row of an encoder layer depends only on its own sequence, so with several threads each thread runs whole
    /// sequences through the layer — all its kernels serial, on its core's cache — and the threads meet twice per layer and
    /// step (the forward's end; the backward's end, where the weight gradients of all parts are summed in one parallel loop),
    /// instead of once per kernel (~25 hand-offs per layer, each waiting for the slower core and any worker the operating
    /// system has not scheduled). One part per thread: until session 24 it was two (parts are claimed one at a time, so a
    /// worker descheduled in its part costs the caller half of that thread's share, not all of it), but the smaller parts
    /// cost more per core (B packed once per part, the rows copied in and out, 256-row products), and on Zen 4 at 2 threads
    /// 2 parts ran the workload's step faster than 4 in every alternated round in which both cores ran (docs/performance.md,
    /// "The transformer step with 2 threads, session 24").
    /// </remarks>
    internal static int SplitParts(in EncoderLayerShape s, int n)
    {
        if (t_forcedParts > 0) return Math.Max(1, Math.Min(t_forcedParts, n));
        int threads = Parallelism.MaxThreads;
        if (threads <= 1 || WorkerPool.InsideItem || n < 2) return 1;
        double flops = 2.0 * n * s.Steps * s.DModel * (4.0 * s.DModel + 2.0 * s.FeedForward + 2.0 * s.Steps);
        return (int)Math.Max(1, Math.Min(Math.Min(threads, n), flops / 4e6));
    }

    /// <summary>The sequences [<paramref name="part"/>·N/parts, (part + 1)·N/parts) of part <paramref name="part"/>.</summary>
    internal static (int Start, int Count) PartRows(int n, int parts, int part) => Parallelism.PartRange(n, parts, part);

    /// <summary>
    /// Runs <see cref="Forward"/> as batch parts on the worker pool when <see cref="SplitParts"/> says so (no masks); false: run it
    /// whole. The dropout masks of the whole batch are drawn first, on this thread, in eager's order (so the parts and their
    /// threads do not change the draws); each part runs with its sequences' slice.
    /// </summary>
    private static bool SplitForward(in EncoderLayerShape s, float[] x, float[] y, int n, IReadOnlyList<float[]> w, EncoderLayerWorkspace ws, AttentionMasks masks,
        in TransformerDropout dropout)
    {
        int parts = masks.IsEmpty && !t_inPart ? SplitParts(s, n) : 1;
        if (parts <= 1)
        {
            if (ws.Split is { } last) last.Count = 0;
            return false;
        }
        int size = n * s.Steps * s.DModel;
        if (x.Length < size || y.Length < size)
            throw new ArgumentException($"TransformerLayerKernel.Forward: x and y must hold {n}·{s.Steps}·{s.DModel} = {size} elements, but have {x.Length} and {y.Length}.");
        var split = ws.Split ??= new EncoderLayerSplit();
        split.Ensure(s, n, parts);
        split.Whole.Draw(s, n, dropout);
        ws.WeightsT.Fill(s, w);
        Parallelism.For(parts, new ForwardPart(s, x, y, n, w, split, ws.WeightsT));
        return true;
    }

    private readonly struct ForwardPart(EncoderLayerShape s, float[] x, float[] y, int n, IReadOnlyList<float[]> w, EncoderLayerSplit split, EncoderWeightsT weightsT)
        : IParallelBody
    {
        public void Invoke(int index)
        {
            var timeline = PartTimeline;
            long start = timeline is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            var (b0, nb) = PartRows(n, split.Count, index);
            int rowSize = s.Steps * s.DModel;
            var part = split.Parts[index];
            part.Ensure(s, nb);
            part.Drop.CopySlice(split.Whole, s, b0, nb);
            part.WeightsT = weightsT;
            Array.Copy(x, b0 * rowSize, part.Input, 0, nb * rowSize);
            t_inPart = true;
            try
            {
                Forward(s, part.Input, split.Y[index], nb, w, part);
            }
            finally
            {
                t_inPart = false;
            }
            Array.Copy(split.Y[index], 0, y, b0 * rowSize, nb * rowSize);
            if (timeline is not null) RecordPart(timeline, 0, index, start);
        }
    }

    /// <summary>
    /// The backward of a split forward: each part's backward on the worker pool (its input gradient into its rows of
    /// <paramref name="gx"/>, its LayerNorm gradients into the part's own sums, its linear layers' weight gradients deferred),
    /// then the weight gradients of all parts summed in one parallel loop over blocks of output rows. False: the forward ran whole.
    /// </summary>
    private static bool SplitBackward(in EncoderLayerShape s, float[] gy, float[]? gx, int n, IReadOnlyList<float[]> w, IReadOnlyList<float[]?> g,
        EncoderLayerWorkspace ws, bool overwriteGx)
    {
        if (ws.Split is not { Count: > 1 } split) return false;
        if (split.N != n)
            throw new InvalidOperationException($"TransformerLayerKernel.Backward: the forward ran on {split.N} sequences, the backward was called with {n}.");
        int size = n * s.Steps * s.DModel, parts = split.Count;
        if (gy.Length < size || (gx is not null && gx.Length < size))
            throw new ArgumentException($"TransformerLayerKernel.Backward: gy and gx must hold {n}·{s.Steps}·{s.DModel} = {size} elements, but have {gy.Length} and {gx?.Length}.");
        for (int p = 0; p < parts; p++)
        {
            var pg = split.G[p];
            for (int i = 0; i < pg.Length; i++) pg[i] = i < g.Count ? g[i] : null;
            for (int i = N1W; i <= N2B; i++)
            {
                if (pg[i] is null) continue;
                var own = split.NormGrads[p][i - N1W];
                Array.Clear(own);
                pg[i] = own;
            }
            split.Deferred[p].Clear();
        }
        Parallelism.For(parts, new BackwardPart(s, gy, gx, w, split, overwriteGx));

        // The deferred weight gradients: the parts recorded the same layers in the same order.
        var first = split.Deferred[0];
        for (int p = 1; p < parts; p++)
        {
            var other = split.Deferred[p];
            if (other.Count != first.Count)
                throw new InvalidOperationException("TransformerLayerKernel.Backward: the batch parts recorded different weight gradients.");
            for (int j = 0; j < first.Count; j++)
            {
                if (other[j].GWeight != first[j].GWeight || other[j].GBias != first[j].GBias || other[j].WeightOffset != first[j].WeightOffset
                    || other[j].InF != first[j].InF || other[j].OutF != first[j].OutF)
                    throw new InvalidOperationException("TransformerLayerKernel.Backward: the batch parts recorded different weight gradients.");
            }
        }
        var items = split.Items;
        items.Clear();
        for (int j = 0; j < first.Count; j++)
        {
            var r = first[j];
            int blocks = (int)Math.Clamp(Math.Ceiling(2.0 * n * s.Steps * r.InF * r.OutF / WeightGradFlopsPerItem), 1, Math.Max(1, r.OutF / WeightGradMinItemRows));
            int block = t_forcedWeightGradRows > 0 ? t_forcedWeightGradRows : Math.Min(r.OutF, ((r.OutF + blocks - 1) / blocks + 7) / 8 * 8);
            for (int o = 0; o < r.OutF; o += block) items.Add((j, o, Math.Min(r.OutF, o + block)));
        }
        Parallelism.For(items.Count, new WeightGradItem(split));

        for (int i = N1W; i <= N2B; i++)
        {
            if (i >= g.Count || g[i] is not { } target) continue;
            for (int p = 0; p < parts; p++) TensorPrimitives.Add(target.AsSpan(0, s.DModel), split.NormGrads[p][i - N1W], target.AsSpan(0, s.DModel));
        }
        return true;
    }

    /// <remarks>
    /// <paramref name="overwriteGx"/>: gx's old contents are not the gradient so far (its first writer, not cleared), so the
    /// part neither copies its rows in nor adds to them: its backward writes its own gradient rows over them.
    /// </remarks>
    private readonly struct BackwardPart(EncoderLayerShape s, float[] gy, float[]? gx, IReadOnlyList<float[]> w, EncoderLayerSplit split, bool overwriteGx)
        : IParallelBody
    {
        public void Invoke(int index)
        {
            var timeline = PartTimeline;
            long start = timeline is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            var (b0, nb) = PartRows(split.N, split.Count, index);
            int rowSize = s.Steps * s.DModel, off = b0 * rowSize, len = nb * rowSize;
            Array.Copy(gy, off, split.Gy[index], 0, len);
            if (gx is not null && !overwriteGx) Array.Copy(gx, off, split.Gx[index], 0, len);
            t_deferredWeightGrads = split.Deferred[index];
            try
            {
                Backward(s, split.Gy[index], gx is null ? null : split.Gx[index], nb, w, split.G[index], split.Parts[index], overwriteGx);
            }
            finally
            {
                t_deferredWeightGrads = null;
            }
            if (gx is not null) Array.Copy(split.Gx[index], 0, gx, off, len);
            if (timeline is not null) RecordPart(timeline, 1, index, start);
        }
    }

    /// <summary>Rows [Row0, Row1) of one deferred weight gradient (and its bias's), summed over every part's rows.</summary>
    private readonly struct WeightGradItem(EncoderLayerSplit split) : IParallelBody
    {
        public void Invoke(int index)
        {
            var (j, o0, o1) = split.Items[index];
            int m = o1 - o0;
            for (int p = 0; p < split.Count; p++)
            {
                var rec = split.Deferred[p][j];
                int inF = rec.InF, outF = rec.OutF;
                // gᵀ·x over the part's rows on the packed path: the size rules would take the direct one (a part's 256 rows
                // are ≤ 2^24 multiply-adds, and x of ≤ 128 columns is "narrow"), which for these transposed-A products is
                // slower (docs/performance.md, "The transformer step, session 19"); both add each 256-term chain to gW.
                if (rec.GWeight is { } gW && !(rec.SkipZeros && WeightGradSkipZeros(rec.X, rec.Gy, gW, rec.Rows, inF, outF, o0, o1, rec.WeightOffset, rec.ZerosInX)))
                    Gemm.SgemmPacked(true, m, inF, rec.Rows, rec.Gy, o0, outF, rec.X, 0, inF, gW, rec.WeightOffset + o0 * inF, inF, accumulate: true);
                if (rec.GBias is { } gB) ReduceKernel.AddColumnSums(rec.Gy, o0, outF, rec.Rows, gB.AsSpan(rec.BiasOffset + o0, m));
            }
        }
    }
}
