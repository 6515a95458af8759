using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace SharpGrad.Kernels;

/// <summary>
/// One unit of a parallel loop run by <see cref="Parallelism.For{TBody}(int, TBody)"/>: a struct whose
/// <see cref="Invoke"/> does item <c>index</c> (a range of rows, of columns, of samples — the caller's split). A struct, so
/// that starting a loop allocates nothing (no closure, no delegate).
/// </summary>
public interface IParallelBody
{
    /// <summary>Does item <paramref name="index"/> (0 ≤ index &lt; the loop's count). Items may run on any thread, in any order.</summary>
    void Invoke(int index);
}

/// <summary>
/// The threads the kernels use (PyTorch: <c>torch.set_num_threads</c> and ATen's intra-op thread pool): a pool of
/// <see cref="MaxThreads"/> − 1 persistent workers that spin briefly between loops and then park, and
/// <see cref="For{TBody}(int, TBody)"/>, a parallel loop over items claimed one at a time by the calling thread and the
/// workers. The caller always works too, so a worker that the operating system does not schedule promptly (a loaded
/// machine) costs at most the item it has claimed, never the whole loop. Starting a loop allocates nothing.
/// </summary>
public static class Parallelism
{
    private static int _maxThreads = Environment.ProcessorCount;

    /// <summary>
    /// The maximum number of threads a kernel uses (PyTorch: <c>torch.get_num_threads</c>/<c>torch.set_num_threads</c>).
    /// Defaults to the number of processors; 1 makes every kernel run on the calling thread.
    /// </summary>
    public static int MaxThreads
    {
        get => _maxThreads;
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(value), value, $"Parallelism.MaxThreads: expected at least 1 thread, but got {value}.");
            _maxThreads = value;
        }
    }

    /// <summary>
    /// Runs <c>body.Invoke(i)</c> for every i in [0, <paramref name="count"/>) on up to <see cref="MaxThreads"/> threads
    /// (PyTorch: <c>at::parallel_for</c>), the calling thread included, and returns when all are done. Items are claimed
    /// one at a time, so give a few more items than threads when their costs differ. Runs on the calling thread alone
    /// when <see cref="MaxThreads"/> is 1, when there is one item, when called from inside another loop's item, or when
    /// another thread's loop holds the workers. The first exception thrown by an item is rethrown here (the other items
    /// still run). Allocates nothing.
    /// </summary>
    public static void For<TBody>(int count, TBody body) where TBody : struct, IParallelBody
    {
        if (count <= 0) return;
        int threads = Math.Min(_maxThreads, count);
        if (threads <= 1 || WorkerPool.InsideItem || !WorkerPool.Instance.TryRun(count, threads, ref body))
        {
            for (int i = 0; i < count; i++) body.Invoke(i);
        }
    }

    /// <summary>
    /// The items [<paramref name="part"/>·n/parts, (part + 1)·n/parts) of part <paramref name="part"/> when <paramref name="n"/>
    /// items (rows, samples, sequences) are cut into <paramref name="parts"/> contiguous parts of sizes differing by at most one.
    /// </summary>
    internal static (int Start, int Count) PartRange(int n, int parts, int part)
    {
        int r0 = (int)((long)n * part / parts), r1 = (int)((long)n * (part + 1) / parts);
        return (r0, r1 - r0);
    }

    /// <summary>
    /// How many parts a loop of <paramref name="work"/> units should be split into so that each part has at least
    /// <paramref name="minWorkPerPart"/> units, at most <see cref="MaxThreads"/> × <paramref name="partsPerThread"/> parts
    /// (1 = stay on the calling thread).
    /// </summary>
    public static int Parts(double work, double minWorkPerPart, int partsPerThread = 1)
    {
        int threads = _maxThreads;
        if (threads <= 1 || work < 2 * minWorkPerPart) return 1;
        return (int)Math.Max(1, Math.Min(threads * (long)partsPerThread, (long)(work / minWorkPerPart)));
    }
}

/// <summary>
/// The persistent workers behind <see cref="Parallelism.For{TBody}(int, TBody)"/>. One loop at a time: the job is a
/// function pointer and a pointer to the caller's body (on the caller's stack, which does not move), published with a
/// sequence number; items are claimed by a compare-and-swap on (sequence, next index), so a worker that wakes late never
/// runs an item of a finished loop.
/// </summary>
internal sealed unsafe class WorkerPool
{
    public static readonly WorkerPool Instance = new();

    /// <summary>How long a worker spins for the next loop before it parks (a training step calls kernels back to back).</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 5000; // 200 µs

    [ThreadStatic] private static bool t_insideItem;

    /// <summary>True on a thread that is running an item (a nested loop runs serially).</summary>
    public static bool InsideItem => t_insideItem;

    private readonly object _gate = new();
    private readonly List<Thread> _threads = [];
    private readonly SemaphoreSlim _wake = new(0);

    /// <summary>0 when free, 1 while a caller runs a loop.</summary>
    private int _busy;

    /// <summary>(sequence &lt;&lt; 32) | next unclaimed index of the current loop.</summary>
    private long _claim;

    // The current loop: written by the caller before it publishes the new sequence in _claim.
    private delegate*<void*, int, void> _fn;
    private void* _body;
    private int _count;
    private int _participants;
    private int _done;
    private Exception? _error;

    /// <summary>Workers that found no work and parked (woken by the next loop).</summary>
    private int _sleepers;

    /// <summary>Runs the loop on the pool, or returns false when another caller holds it.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public bool TryRun<TBody>(int count, int threads, ref TBody body) where TBody : struct, IParallelBody
    {
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0) return false;
        try
        {
            EnsureWorkers(threads - 1);
            _fn = &Trampoline<TBody>;
            _body = Unsafe.AsPointer(ref body);
            _count = count;
            _participants = threads - 1;
            _done = 0;
            _error = null;
            long seq = (_claim >> 32) + 1;
            Volatile.Write(ref _claim, seq << 32);
            int sleepers = Interlocked.Exchange(ref _sleepers, 0);
            if (sleepers > 0) _wake.Release(sleepers);

            Work(seq);
            // Wait for the items the workers claimed: short spins first (an item of a batch-1 layer takes a few µs, and
            // SpinWait's growing spins and yields overshoot its end), then SpinWait's.
            long hot = Stopwatch.GetTimestamp() + HotSpinTicks;
            var spin = new SpinWait();
            while (Volatile.Read(ref _done) < count)
            {
                if (Stopwatch.GetTimestamp() < hot) HotPause();
                else spin.SpinOnce(sleep1Threshold: -1);
            }
            if (_error is { } e) ExceptionDispatchInfo.Capture(e).Throw();
            return true;
        }
        finally
        {
            _body = null;
            Volatile.Write(ref _busy, 0);
        }
    }

    private static void Trampoline<TBody>(void* body, int index) where TBody : struct, IParallelBody
        => Unsafe.AsRef<TBody>(body).Invoke(index);

    /// <summary>Claims and runs items of loop <paramref name="seq"/> until none is left (or the loop is not current any more).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private void Work(long seq)
    {
        while (true)
        {
            long claim = Volatile.Read(ref _claim);
            if (claim >> 32 != seq) return;
            int index = (int)claim;
            // Read after the claim: these are loop seq's values, or the CAS below fails (a later loop cannot have been
            // published while an index of this one is unclaimed).
            int count = _count;
            var fn = _fn;
            void* body = _body;
            if (index >= count) return;
            if (Interlocked.CompareExchange(ref _claim, claim + 1, claim) != claim) continue;
            t_insideItem = true;
            try
            {
                fn(body, index);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, e, null);
            }
            finally
            {
                t_insideItem = false;
                Interlocked.Increment(ref _done);
            }
        }
    }

    private void EnsureWorkers(int needed)
    {
        if (_threads.Count >= needed) return;
        lock (_gate)
        {
            while (_threads.Count < needed)
            {
                int id = _threads.Count;
                var t = new Thread(() => WorkerLoop(id)) { IsBackground = true, Name = $"SharpGrad worker {id + 1}" };
                _threads.Add(t);
                t.Start();
            }
        }
    }

    private void WorkerLoop(int id)
    {
        long seen = Volatile.Read(ref _claim) >> 32;
        while (true)
        {
            long seq = WaitForLoop(seen);
            seen = seq;
            // Only the first MaxThreads − 1 workers take part (MaxThreads may have been lowered since they started).
            if (id < _participants) Work(seq);
        }
    }

    /// <summary>
    /// How long a worker polls for the next loop without giving up its core. SpinWait.SpinOnce yields the thread (a system
    /// call) after a few spins, so a worker that is polling that way notices a loop late, or, on a busy machine, not before
    /// the caller has run every item itself: batch-1 inference publishes a loop every few µs, and with yielding workers its
    /// two-thread fc1 measured 5.2 µs (the caller alone) against 2.6 µs with a worker that only spins (docs/performance.md).
    /// </summary>
    private static readonly long HotSpinTicks = Stopwatch.Frequency / 20000; // 50 µs

    /// <summary>Polls with one <c>pause</c> (true) or with Thread.SpinWait(4) as before session 13 (false): for A/B runs in one process (bench `b1-ab`).</summary>
    internal static bool PausePoll = true;

    /// <summary>
    /// One step of a hot poll: one <c>pause</c> instruction (20 ns on the 2-core EPYC) where the processor has it, instead of
    /// <see cref="Thread.SpinWait(int)"/>(4), which .NET normalises to 170–210 ns there: a worker polling that way noticed
    /// a new loop, and the caller the last item's end, ~0.1 µs late on average, twice per batch-1 forward
    /// (docs/performance.md, "mlp_infer_b1, session 13").
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void HotPause()
    {
        if (System.Runtime.Intrinsics.X86.X86Base.IsSupported && PausePoll) System.Runtime.Intrinsics.X86.X86Base.Pause();
        else Thread.SpinWait(PausePoll ? 1 : 4);
    }

    /// <summary>Spins until a loop newer than <paramref name="seen"/> is published (without yielding for <see cref="HotSpinTicks"/>, then yielding), then parks until woken.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private long WaitForLoop(long seen)
    {
        long start = Stopwatch.GetTimestamp();
        long hot = start + HotSpinTicks, deadline = start + SpinTicks;
        var spin = new SpinWait();
        while (true)
        {
            long seq = Volatile.Read(ref _claim) >> 32;
            if (seq != seen) return seq;
            long now = Stopwatch.GetTimestamp();
            if (now < hot)
            {
                HotPause();
                continue;
            }
            if (now < deadline)
            {
                spin.SpinOnce(sleep1Threshold: -1);
                continue;
            }
            Interlocked.Increment(ref _sleepers);
            // A loop published between the check above and the increment has already read _sleepers: look again.
            seq = Volatile.Read(ref _claim) >> 32;
            if (seq != seen) return seq;
            _wake.Wait();
            start = Stopwatch.GetTimestamp();
            hot = start + HotSpinTicks;
            deadline = start + SpinTicks;
            spin = new SpinWait();
        }
    }
}
