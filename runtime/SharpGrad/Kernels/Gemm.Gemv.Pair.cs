using System.Diagnostics;
using System.Runtime.Intrinsics;

namespace SharpGrad.Kernels;

// Two Linear layers with a ReLU between them applied to one sample (batch-1 inference of an MLP block):
// h = relu(x·W1ᵀ + b1), y = epi(h·W2ᵀ), both from the packed copies of the weights (Gemm.Gemv.Packed.cs), in ONE hand-off
// to the worker pool instead of one per layer. Each participant owns a fixed share of each layer (the caller the first
// run of panels, a worker the next), so from call to call each core streams the same part of W1 and of W2 from its own
// L2; between the layers the participants meet at a spin barrier (the second layer needs all of h). No share waits for a
// participant that has not arrived: a share is claimed (compare-and-swap) before it is run, and a participant that has
// finished its own share of a layer takes the unclaimed ones, so a worker the operating system does not schedule promptly
// costs nothing but the second core. Every output is computed by the same kernel on the same panel whichever core runs
// it: the bits do not depend on the split.
//
// (Session 6's pair instead multiplied each panel's h by the matching rows of a packed W2ᵀ and summed the partial
// results: it measured slower than the two layers one by one, 8.1–9.1 against 7.5–7.7 µs with two threads,
// docs/performance-runs/2026-12-05-b1-pair-ab-session6.txt.)
public static partial class Gemm
{
    /// <summary>The barrier state of the pairs this thread calls (reused: one pair runs at a time per calling thread).</summary>
    [ThreadStatic] private static PairSync? t_pairSync;

    /// <summary>
    /// h[hOff .. hOff + n1) = epi1(x·W1ᵀ) and y[yOff .. yOff + n2) = epi2(h·W2ᵀ) for float32 weights W1 [n1, k] and
    /// W2 [n2, n1] (contiguous, rank 2), where epi1 must end with the ReLU (PyTorch: <c>F.linear(F.relu(F.linear(x, W1,
    /// b1)), W2, b2)</c>). Runs from the packed copies of W1 and W2 in one parallel step when
    /// <paramref name="allowParallel"/>. Returns false, having done nothing, when the path does not apply (no AVX-512, a
    /// W1 too small to pack or not packed at its current version yet, W2 at its first call at its version, sizes that do
    /// not chain): the caller then runs the two layers one after the other (which packs W1 on its second call).
    /// </summary>
    internal static bool TryLinearReluLinearRowPacked(Tensor w1, float[] x, int xOff, float[] h, int hOff, Epi<float> epi1,
        Tensor w2, float[] y, int yOff, Epi<float> epi2, bool allowParallel)
    {
        if (!epi1.Relu || w2.DType != DType.Float32 || w2.Rank != 2 || !w2.IsContiguous) return false;
        if (!Vector512.IsHardwareAccelerated || w1.DType != DType.Float32 || w1.Rank != 2 || !w1.IsContiguous) return false;
        int n1 = w1._shape[0], k = w1._shape[1], n2 = w2._shape[0];
        if (w2._shape[1] != n1 || n2 < 1) return false;
        // W1 is packed by the one-layer path (its policy: large enough, second call at a version); it is never sighted here,
        // so a batch-1 training loop (a new version each step) packs nothing.
        if (!s_rowPacks.TryGetValue(w1.Storage, out var slot1) || slot1.Pack is not { } pack1 || !IsCurrent(pack1, w1)) return false;
        if (x.Length - xOff < k || h.Length - hOff < n1 || y.Length - yOff < n2)
            throw new ArgumentException($"Linear, ReLU, Linear (batch 1): x needs {k} elements from {xOff} (has {x.Length - xOff}), h {n1} from {hOff} (has {h.Length - hOff}) and y {n2} from {yOff} (has {y.Length - yOff}).");
        epi1.Check(1, n1);
        epi2.Check(1, n2);
        // W2 in panels too, whatever its size (its columns past n2 are zero): packed on the second call that sees its version.
        var slot2 = s_rowPacks.GetValue(w2.Storage, static _ => new RowPackSlot());
        if (CurrentRowPack(w2, slot2) is not { } pack2) return false;

        int panels1 = (n1 + RowPackPanel - 1) / RowPackPanel, panels2 = (n2 + RowPackPanel - 1) / RowPackPanel;
        bool reverse = (++slot1.Calls & 1) != 0;
        int split = 1;
        if (allowParallel && Parallelism.MaxThreads > 1 && (long)n1 * k * sizeof(float) >= RowGemvParallelBytes)
            split = Math.Min(Parallelism.MaxThreads, panels1);
        if (split <= 1)
        {
            PackedRowPanels(x, xOff, pack1.Panels, k, n1, h, hOff, epi1, 0, panels1, reverse);
            PackedRowPanels(h, hOff, pack2.Panels, n1, n2, y, yOff, epi2, 0, panels2, reverse);
            return true;
        }
        var sync = t_pairSync ??= new PairSync();
        sync.Start(split, Environment.CurrentManagedThreadId);
        Parallelism.For(split, new PairPart(sync, x, xOff, pack1.Panels, k, n1, h, hOff, epi1, pack2.Panels, n2, y, yOff, epi2,
            (panels1 + split - 1) / split, panels1, (panels2 + split - 1) / split, panels2, reverse));
        return true;
    }

    /// <summary>
    /// Who runs which share of a pair's two layers: a claim flag per share and layer, the count of the first layer's
    /// finished shares (the barrier), and the next participant number for a worker (the caller is participant 0).
    /// </summary>
    private sealed class PairSync
    {
        /// <summary>How long a participant spins at the barrier without yielding (the other share takes a few µs).</summary>
        private static readonly long HotSpinTicks = Stopwatch.Frequency / 20000; // 50 µs

        private int[] _claimed = [];
        private int _done1, _nextWorker;

        public int Caller { get; private set; }

        public int Shares { get; private set; }

        public void Start(int shares, int caller)
        {
            if (_claimed.Length < 2 * shares) _claimed = new int[2 * shares];
            else Array.Clear(_claimed, 0, 2 * shares);
            (_done1, _nextWorker, Shares, Caller) = (0, 0, shares, caller);
        }

        /// <summary>This participant's number: 0 for the thread that called the pair, 1, 2, … for the workers in arrival order.</summary>
        public int Participant() => Environment.CurrentManagedThreadId == Caller ? 0 : Interlocked.Increment(ref _nextWorker);

        /// <summary>Claims share <paramref name="share"/> of layer <paramref name="layer"/> (0 or 1); false when another participant has.</summary>
        public bool Claim(int layer, int share) => Interlocked.CompareExchange(ref _claimed[layer * Shares + share], 1, 0) == 0;

        /// <summary>Counts one finished share of the first layer (called even when it threw, so that no participant waits forever).</summary>
        public void FinishedFirstLayerShare() => Interlocked.Increment(ref _done1);

        /// <summary>Waits until every share of the first layer is finished (each one claimed is being run by a live thread).</summary>
        public void AwaitFirstLayer()
        {
            if (Volatile.Read(ref _done1) >= Shares) return;
            long hot = Stopwatch.GetTimestamp() + HotSpinTicks;
            var spin = new SpinWait();
            while (Volatile.Read(ref _done1) < Shares)
            {
                if (Stopwatch.GetTimestamp() < hot) Thread.SpinWait(4);
                else spin.SpinOnce(sleep1Threshold: -1);
            }
        }
    }

    /// <summary>
    /// One participant of a pair (an item of <see cref="Parallelism.For{TBody}(int, TBody)"/>, whichever index it got): its
    /// own share of the first layer, any unclaimed share of it, the barrier, then the same for the second layer.
    /// </summary>
    private readonly record struct PairPart(PairSync Sync, float[] X, int XOff, float[] Panels1, int K, int N1, float[] H, int HOff, Epi<float> Epi1,
        float[] Panels2, int N2, float[] Y, int YOff, Epi<float> Epi2, int Per1, int Count1, int Per2, int Count2, bool Reverse) : IParallelBody
    {
        public void Invoke(int index)
        {
            int me = Sync.Participant(), shares = Sync.Shares;
            for (int i = 0; i < shares; i++)
            {
                int share = (me + i) % shares;
                if (!Sync.Claim(0, share)) continue;
                try
                {
                    int q0 = share * Per1;
                    PackedRowPanels(X, XOff, Panels1, K, N1, H, HOff, Epi1, Math.Min(q0, Count1), Math.Min(Count1, q0 + Per1), Reverse);
                }
                finally
                {
                    Sync.FinishedFirstLayerShare();
                }
            }
            Sync.AwaitFirstLayer();
            for (int i = 0; i < shares; i++)
            {
                int share = (me + i) % shares;
                if (!Sync.Claim(1, share)) continue;
                int q0 = share * Per2;
                PackedRowPanels(H, HOff, Panels2, N1, N2, Y, YOff, Epi2, Math.Min(q0, Count2), Math.Min(Count2, q0 + Per2), Reverse);
            }
        }
    }
}
