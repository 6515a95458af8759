using System.Numerics.Tensors;

namespace SharpGrad.Kernels;

/// <summary>
/// One call of <see cref="TransformerLayerKernel.LinearBackward"/> inside a batch part of a split backward: its weight's and
/// bias's gradients (gW += gyᵀ·x, gb += Σ rows of gy), summed over all parts after them (the input's gradient is the part's own).
/// </summary>
/// <remarks><paramref name="SkipZeros"/>: the weight gradient may skip the exact zeros of x (<paramref name="ZerosInX"/>) or of gy (TransformerLayer.Skip.cs).</remarks>
/// <remarks><paramref name="Product"/>: the part's gyᵀ·x [OutF, InF] (from zero), taken in the part (<see cref="TransformerLayerKernel.PartWeightGrads"/>); null: the product is taken by the summing loop.
/// <paramref name="WeightAdded"/>: the part (the first) added its product into the gradient itself.</remarks>
internal readonly record struct DeferredWeightGrad(float[] X, float[] Gy, float[]? GWeight, float[]? GBias, int Rows, int InF, int OutF, int WeightOffset,
    int BiasOffset, bool SkipZeros = false, bool ZerosInX = false, float[]? Product = null, bool WeightAdded = false);

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
    /// <summary>Per part, the arrays its weight-gradient products are taken into (by record index; grown, never shrunk).</summary>
    internal List<float[]>[] Products = [];
    /// <summary>The weight-gradient items of the last backward: (record index, first output row, end row).</summary>
    internal readonly List<(int Record, int Row0, int Row1)> Items = [];
    /// <summary>The items the records of an overlapped backward make (checked against <see cref="Items"/>).</summary>
    internal readonly List<(int Record, int Row0, int Row1)> Check = [];
    /// <summary>What <see cref="Items"/> were made for: (batch, parts, gradients asked for, shape, the sums overlapped).</summary>
    internal (int, int, int, EncoderLayerShape, bool)? ItemsKey;
    /// <summary>Per part, how many weight-gradient records it has made in the running backward (int.MaxValue: done).</summary>
    internal int[] Progress = [];
    /// <summary>The running backward's parts take their weight-gradient products (<see cref="TransformerLayerKernel.PartWeightGrads"/> on the calling thread).</summary>
    internal bool PartProducts;
    /// <summary>A part of the running backward threw.</summary>
    internal volatile bool Failed;
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
            Products = new List<float[]>[parts];
            Progress = new int[parts];
            ItemsKey = null;
            for (int p = 0; p < parts; p++)
            {
                Parts[p] = new EncoderLayerWorkspace();
                (Y[p], Gy[p], Gx[p]) = ([], [], []);
                G[p] = new float[]?[12];
                NormGrads[p] = [new float[s.DModel], new float[s.DModel], new float[s.DModel], new float[s.DModel]];
                Deferred[p] = [];
                Products[p] = [];
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

    /// <summary>Set on the thread running a part of a split backward: the part's arrays for its weight-gradient products.</summary>
    [ThreadStatic] private static List<float[]>? t_partProducts;

    /// <summary>Set on the thread running the first part of a split backward (its products go straight into the gradients).</summary>
    [ThreadStatic] private static bool t_firstPart;

    /// <summary>
    /// Whether a split backward's parts take their weight-gradient products themselves (gyᵀ·x over the part's rows, from zero,
    /// into the part's own array, while the part's x and gy are still in its core's cache; the first part's straight into the
    /// gradient), leaving the summing loop only the additions gW += Σ parts' products in part order, which then run as items
    /// of the parts' own loop (<see cref="OverlapSums"/>); false: the summing loop takes each part's product. The same bits for
    /// parts of ≤ 256 rows (one k-block: the GEMM adds the block's chain to gW either way; with more rows the part's blocks are
    /// summed first, then added). Off by default: session 24 could not show it faster in an alternated A/B (the host was
    /// loaded throughout; 1 thread, `count xfmr-step-parts4` it cost ~1.5 % more per core, the additions' pass over the parts'
    /// arrays); `count xfmr-step-products` / `xfmr-regions --products` run it. Read on the thread calling the backward.
    /// </summary>
    internal static bool PartWeightGrads => t_partWeightGrads ?? false;

    /// <summary>Tests and the bench's A/B: <see cref="PartWeightGrads"/> on this thread's backwards (null: the default).</summary>
    [ThreadStatic] internal static bool? t_partWeightGrads;

    /// <summary>Tests: the split backwards on this thread whose sums ran as items of the parts' loop.</summary>
    [ThreadStatic] internal static int t_overlappedBackwards;

    /// <summary>
    /// For the bench's <c>xfmr-regions</c>: when set, each part of a split forward (kind 0) or backward (kind 1) records
    /// (kind, part, start, end, thread id) at the next slot of 5 (Stopwatch ticks; wraps around).
    /// </summary>
    internal static long[]? PartTimeline;
    private static int s_partSlot;

    private static void RecordPart(int kind, int part, long start)
    {
        if (PartTimeline is not { } tl) return;
        int slot = (int)((uint)Interlocked.Increment(ref s_partSlot) % (uint)(tl.Length / 5)) * 5;
        (tl[slot], tl[slot + 1], tl[slot + 2], tl[slot + 3], tl[slot + 4]) = (kind, part, start, System.Diagnostics.Stopwatch.GetTimestamp(), Environment.CurrentManagedThreadId);
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
    /// split on its own): two per thread when the layer's forward is worth it (≥ 4 MFLOP per part).
    /// </summary>
    /// <remarks>
    /// Every token row of an encoder layer depends only on its own sequence, so with several threads each thread runs whole
    /// sequences through the layer — all its kernels serial, on its core's cache — and the threads meet twice per layer and
    /// step (the forward's end; the backward's end, where the weight gradients of all parts are summed in one parallel loop),
    /// instead of once per kernel (~25 hand-offs per layer, each waiting for the slower core and any worker the operating
    /// system has not scheduled). Two parts per thread rather than one: parts are claimed one at a time, so when a worker is
    /// descheduled in the middle of its part, the caller waits for half of that thread's share, not all of it (the smaller
    /// parts cost ~3 % more per core: B is packed once per part, and the rows are copied in and out).
    /// </remarks>
    internal static int SplitParts(in EncoderLayerShape s, int n)
    {
        if (t_forcedParts > 0) return Math.Max(1, Math.Min(t_forcedParts, n));
        int threads = Parallelism.MaxThreads;
        if (threads <= 1 || WorkerPool.InsideItem || n < 2) return 1;
        double flops = 2.0 * n * s.Steps * s.DModel * (4.0 * s.DModel + 2.0 * s.FeedForward + 2.0 * s.Steps);
        return (int)Math.Max(1, Math.Min(Math.Min(2 * threads, n), flops / 4e6));
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
            long start = PartTimeline is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
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
            RecordPart(0, index, start);
        }
    }

    /// <summary>
    /// The backward of a split forward: each part's backward on the worker pool (its input gradient into its rows of
    /// <paramref name="gx"/>, its LayerNorm gradients into the part's own sums, its linear layers' weight gradients deferred),
    /// then the weight gradients of all parts summed in one parallel loop over blocks of output rows. False: the forward ran whole.
    /// </summary>
    private static bool SplitBackward(in EncoderLayerShape s, float[] gy, float[]? gx, int n, IReadOnlyList<float[]> w, IReadOnlyList<float[]?> g,
        EncoderLayerWorkspace ws)
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
        // The sums of the parts' weight-gradient products as items of the parts' own loop (a core that has finished its parts
        // adds the products every part has taken, while the other core is still in its last part), when the last backward
        // recorded the same items (same batch, parts and gradients asked for: the parts record the same calls).
        split.PartProducts = PartWeightGrads;
        var key = (n, parts, GradMask(g), s, PartWeightGrads && OverlapSums);
        bool overlap = key.Item5 && split.ItemsKey == key && split.Items.Count > 0;
        int expected = split.Items.Count;
        if (overlap)
        {
            Array.Clear(split.Progress);
            split.Failed = false;
            Parallelism.For(parts + split.Items.Count, new BackwardPartOrSum(s, gy, gx, w, split));
            t_overlappedBackwards++;
        }
        else
        {
            Parallelism.For(parts, new BackwardPart(s, gy, gx, w, split));
        }

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
                    || other[j].InF != first[j].InF || other[j].OutF != first[j].OutF || (other[j].Product is null && !other[j].WeightAdded) != (first[j].Product is null && !first[j].WeightAdded))
                    throw new InvalidOperationException("TransformerLayerKernel.Backward: the batch parts recorded different weight gradients.");
            }
        }
        var items = split.Items;
        if (overlap)
        {
            // the items summed above must be the ones these records make
            split.Check.Clear();
            BuildItems(s, n, first, split.Check);
            if (split.Check.Count != expected || !split.Check.SequenceEqual(items))
                throw new InvalidOperationException("TransformerLayerKernel.Backward: the batch parts recorded other weight gradients than the last backward.");
        }
        else
        {
            items.Clear();
            BuildItems(s, n, first, items);
            Parallelism.For(items.Count, new WeightGradItem(split));
            split.ItemsKey = key;
        }

        for (int i = N1W; i <= N2B; i++)
        {
            if (i >= g.Count || g[i] is not { } target) continue;
            for (int p = 0; p < parts; p++) TensorPrimitives.Add(target.AsSpan(0, s.DModel), split.NormGrads[p][i - N1W], target.AsSpan(0, s.DModel));
        }
        return true;
    }

    /// <summary>Whether the sums run as items of the parts' loop (see <see cref="SplitBackward"/>); read on the thread calling the backward.</summary>
    internal static bool OverlapSums => !t_separateSums;

    /// <summary>Tests and the bench's A/B: the sums in a loop of their own after the parts' on this thread's backwards.</summary>
    [ThreadStatic] internal static bool t_separateSums;

    /// <summary>Which of the 12 gradients are asked for (bit i: g[i] not null).</summary>
    private static int GradMask(IReadOnlyList<float[]?> g)
    {
        int mask = 0;
        for (int i = 0; i < g.Count && i < 31; i++) if (g[i] is not null) mask |= 1 << i;
        return mask;
    }

    /// <summary>The items of the weight-gradient sum for the records <paramref name="first"/> (part 0's; every part's are alike).</summary>
    private static void BuildItems(in EncoderLayerShape s, int n, List<DeferredWeightGrad> first, List<(int Record, int Row0, int Row1)> items)
    {
        for (int j = 0; j < first.Count; j++)
        {
            var r = first[j];
            if (r.Product is not null || r.WeightAdded)
            {
                // only additions left: blocks of ~16 K elements per part (memory-bound; many small items share evenly)
                int rowsPerItem = t_forcedWeightGradRows > 0 ? t_forcedWeightGradRows : Math.Max(8, SumItemElements / Math.Max(1, r.InF) / 8 * 8);
                for (int o = 0; o < r.OutF; o += rowsPerItem) items.Add((j, o, Math.Min(r.OutF, o + rowsPerItem)));
                continue;
            }
            int blocks = (int)Math.Clamp(Math.Ceiling(2.0 * n * s.Steps * r.InF * r.OutF / WeightGradFlopsPerItem), 1, Math.Max(1, r.OutF / WeightGradMinItemRows));
            int block = t_forcedWeightGradRows > 0 ? t_forcedWeightGradRows : Math.Min(r.OutF, ((r.OutF + blocks - 1) / blocks + 7) / 8 * 8);
            for (int o = 0; o < r.OutF; o += block) items.Add((j, o, Math.Min(r.OutF, o + block)));
        }
    }

    /// <summary>
    /// Items [0, parts): the parts' backwards (as <see cref="BackwardPart"/>, each publishing how many records it has made);
    /// then the sum items of the last backward, each waiting until every part has made its record (parts are claimed before
    /// any sum item, so a part being waited for is running). A part that throws marks the split failed, and the sums stop.
    /// </summary>
    private readonly struct BackwardPartOrSum(EncoderLayerShape s, float[] gy, float[]? gx, IReadOnlyList<float[]> w, EncoderLayerSplit split) : IParallelBody
    {
        public void Invoke(int index)
        {
            int parts = split.Count;
            if (index < parts)
            {
                t_progress = split.Progress;
                t_progressIndex = index;
                try
                {
                    new BackwardPart(s, gy, gx, w, split).Invoke(index);
                }
                catch
                {
                    split.Failed = true;
                    throw;
                }
                finally
                {
                    t_progress = null;
                    Volatile.Write(ref split.Progress[index], int.MaxValue);
                }
                return;
            }
            int j = split.Items[index - parts].Record;
            var spin = new SpinWait();
            for (int p = 0; p < parts; p++)
            {
                while (Volatile.Read(ref split.Progress[p]) <= j)
                {
                    if (split.Failed) return;
                    spin.SpinOnce(sleep1Threshold: -1);
                }
            }
            if (split.Failed) return;
            for (int p = 0; p < parts; p++) if (split.Deferred[p].Count <= j) return;   // other records (checked after the loop)
            new WeightGradItem(split).Invoke(index - parts);
        }
    }

    /// <summary>Set on the thread running a part of a split backward whose sums overlap it: the parts' record counts, and this part's index.</summary>
    [ThreadStatic] private static int[]? t_progress;
    [ThreadStatic] private static int t_progressIndex;

    private readonly struct BackwardPart(EncoderLayerShape s, float[] gy, float[]? gx, IReadOnlyList<float[]> w, EncoderLayerSplit split) : IParallelBody
    {
        public void Invoke(int index)
        {
            long start = PartTimeline is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            var (b0, nb) = PartRows(split.N, split.Count, index);
            int rowSize = s.Steps * s.DModel, off = b0 * rowSize, len = nb * rowSize;
            Array.Copy(gy, off, split.Gy[index], 0, len);
            if (gx is not null) Array.Copy(gx, off, split.Gx[index], 0, len);
            t_deferredWeightGrads = split.Deferred[index];
            t_partProducts = split.PartProducts ? split.Products[index] : null;
            t_firstPart = index == 0;
            try
            {
                Backward(s, split.Gy[index], gx is null ? null : split.Gx[index], nb, w, split.G[index], split.Parts[index]);
            }
            finally
            {
                t_deferredWeightGrads = null;
                t_partProducts = null;
                t_firstPart = false;
            }
            if (gx is not null) Array.Copy(split.Gx[index], 0, gx, off, len);
            RecordPart(1, index, start);
        }
    }

    /// <summary>Elements per part of one item of the summing loop when the parts took their products (<see cref="PartWeightGrads"/>).</summary>
    private const int SumItemElements = 16384;

    /// <summary>
    /// Records a weight's and bias's gradients of a <see cref="LinearBackward"/> in a batch part (<paramref name="deferred"/>,
    /// the part's list); with <see cref="PartWeightGrads"/> the weight's product gyᵀ·x is taken now into the part's array.
    /// </summary>
    private static void DeferWeightGrad(List<DeferredWeightGrad> deferred, float[] x, float[] gy, float[]? gWeight, float[]? gBias, int rows, int inF, int outF,
        int weightOffset, int biasOffset, bool skipZeros, bool zerosInX)
    {
        float[]? product = null;
        bool added = false;
        if (gWeight is not null && t_partProducts is not null && t_firstPart)
        {
            // The first part's product is the first added to the gradient: added now (as the summing loop would add it, the
            // same call over all the weight's rows), while the other parts' wait in their arrays; the sums add them after it.
            if (!(skipZeros && WeightGradSkipZeros(x, gy, gWeight, rows, inF, outF, 0, outF, weightOffset, zerosInX)))
                Gemm.SgemmPacked(true, outF, inF, rows, gy, 0, outF, x, 0, inF, gWeight, weightOffset, inF, accumulate: true);
            added = true;
        }
        else if (gWeight is not null && t_partProducts is { } products)
        {
            int j = deferred.Count;
            while (products.Count <= j) products.Add([]);
            if (products[j].Length < outF * inF) products[j] = new float[outF * inF];
            product = products[j];
            PartWeightGrad(x, gy, product, rows, inF, outF, skipZeros, zerosInX);
        }
        deferred.Add(new DeferredWeightGrad(x, gy, gWeight, gBias, rows, inF, outF, weightOffset, biasOffset, skipZeros, zerosInX, product, added));
        if (t_progress is { } progress) Volatile.Write(ref progress[t_progressIndex], deferred.Count);
    }

    /// <summary>
    /// <paramref name="product"/> [outF, inF] = gyᵀ·x over <paramref name="rows"/> rows (written, not added), skipping the exact
    /// zeros of x (<paramref name="zerosInX"/>: as xᵀ·gy, stored transposed) or of gy when <paramref name="skipZeros"/> and
    /// <see cref="ProductSkipZeros"/> applies; else on the packed path as the summing loop's items take it.
    /// </summary>
    private static void PartWeightGrad(float[] x, float[] gy, float[] product, int rows, int inF, int outF, bool skipZeros, bool zerosInX)
    {
        if (skipZeros && zerosInX)
        {
            var scratch = Scratch<float>.Pool.Rent(inF * outF);
            try
            {
                if (ProductSkipZeros(true, inF, outF, rows, x, 0, inF, gy, 0, outF, scratch, 0, outF, accumulate: false))
                {
                    Gemm.StoreTransposed(scratch, inF, outF, product, 0, accumulate: false);
                    return;
                }
            }
            finally
            {
                Scratch<float>.Pool.Return(scratch);
            }
        }
        else if (skipZeros && ProductSkipZeros(true, outF, inF, rows, gy, 0, outF, x, 0, inF, product, 0, inF, accumulate: false))
        {
            return;
        }
        Gemm.SgemmPacked(true, outF, inF, rows, gy, 0, outF, x, 0, inF, product, 0, inF, accumulate: false);
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
                if (rec.WeightAdded)
                {
                    // the first part added its product in its backward
                }
                else if (rec.Product is { } product)
                {
                    // the part's product (taken in its backward) added in part order
                    var target = rec.GWeight!.AsSpan(rec.WeightOffset + o0 * inF, m * inF);
                    TensorPrimitives.Add(target, product.AsSpan(o0 * inF, m * inF), target);
                }
                else
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
