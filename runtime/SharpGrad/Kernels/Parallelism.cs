using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

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
        if (threads <= 1 || WorkerPool.InsideItem || !WorkerPool.Instance.TryRun(count, threads, ref body)) Serial(count, ref body);
    }

    /// <summary>
    /// The loop on the calling thread, with the pool's semantics: every item runs, the first exception is rethrown at the
    /// end (before session 14 the first exception ended the loop here, so a loop that found the workers held by another
    /// thread's loop skipped its remaining items; ParallelismTests' exception test failed that way when run beside others).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Serial<TBody>(int count, ref TBody body) where TBody : struct, IParallelBody
    {
        Exception? first = null;
        for (int i = 0; i < count; i++)
        {
            try
            {
                body.Invoke(i);
            }
            catch (Exception e)
            {
                first ??= e;
            }
        }
        if (first is not null) ExceptionDispatchInfo.Capture(first).Throw();
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
/// <remarks>
/// The words the threads share live on three cache lines of their own (native memory, 128 bytes apart), because each
/// time a line changes hands between the two cores of the workloads' machine it costs a transfer: the job line (claim
/// word, function, body, count, participants: written by the caller, polled by the workers, so one transfer hands a worker
/// the whole job), the done line (the workers' finished items, cumulative, so it is never reset) and the sleepers line.
/// The caller publishes the loop with item 0 already claimed as its own and runs it at once, with no locked instruction
/// before it. Before session 14 the caller raced the worker for item 0 by a compare-and-swap on the line the worker was
/// polling; which thread won was decided per process (the worker in ~6 of 10), and the loser started its item ~0.3 µs
/// late. Measured speed is the same either way (A/B in docs/performance.md, "mlp_infer_b1, session 14"): on the
/// workloads' VM a batch-1 forward is bound by ~5 cross-core line transfers per call (publish, claim, body, done, the
/// partial results), whose cost depends on where the host puts the two vCPUs (60–75 ns or 400–480 ns per round trip).
/// </remarks>
internal sealed unsafe class WorkerPool
{
    /// <summary>How long a worker spins for the next loop before it parks (a training step calls kernels back to back).</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 5000; // 200 µs

    [ThreadStatic] private static bool t_insideItem;

    /// <summary>True on a thread that is running an item (a nested loop runs serially).</summary>
    public static bool InsideItem => t_insideItem;

    /// <summary>
    /// For the bench's <c>b1-modes</c> timeline: when set, each loop records at slot (sequence mod <see cref="TimelineLoops"/>)
    /// × 8 its publish time, each of items 0 and 1's start, end and runner (1 = a worker) and the join time (Stopwatch ticks).
    /// </summary>
    internal static long[]? Timeline;

    /// <summary>For A/B runs in one process (bench `b1-ab`): publish item 0 unclaimed and let the caller race the workers for it, as before session 14.</summary>
    internal static bool RaceForItem0;

    /// <summary>Loops <see cref="Timeline"/> holds before it wraps around.</summary>
    internal const int TimelineLoops = 1 << 17;

    /// <summary>The job line: written by the caller, polled by the workers.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 64)]
    private struct JobLine
    {
        /// <summary>(sequence &lt;&lt; 32) | next unclaimed index of the current loop.</summary>
        public long Claim;
        public delegate*<void*, int, void> Fn;
        public void* Body;
        public int Count;
        public int Participants;
    }

    // The three shared lines (job, done, sleepers), 128 bytes apart in native memory. Static and read-only, so that the
    // workers never read the pool object, whose fields (_busy, _error, _doneBase) the caller writes at every loop: a
    // worker polling through an instance field re-read that line after each of those writes, and the caller's
    // compare-and-swap on _busy then waited for the line to come back.
    private static readonly byte* s_lines = AllocateLines();
    private static readonly JobLine* s_job = (JobLine*)s_lines;
    private static readonly long* s_done = (long*)(s_lines + 128);
    private static readonly int* s_sleepers = (int*)(s_lines + 256);

    private static byte* AllocateLines()
    {
        var lines = (byte*)NativeMemory.AlignedAlloc(3 * 128, 128); // lives as long as the process (one pool)
        NativeMemory.Clear(lines, 3 * 128);
        return lines;
    }

    public static readonly WorkerPool Instance = new();

    private readonly object _gate = new();
    private readonly List<Thread> _threads = [];
    private readonly SemaphoreSlim _wake = new(0);

    /// <summary>0 when free, 1 while a caller runs a loop (the caller's side only).</summary>
    private int _busy;

    /// <summary>*s_done when the current loop was published (all earlier loops' worker items had finished by then).</summary>
    private long _doneBase;

    private Exception? _error;

    /// <summary>Runs the loop on the pool, or returns false when another caller holds it.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public bool TryRun<TBody>(int count, int threads, ref TBody body) where TBody : struct, IParallelBody
    {
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0) return false;
        try
        {
            EnsureWorkers(threads - 1);
            _error = null;
            var job = s_job;
            long seq = (job->Claim >> 32) + 1;
            // Close the previous loop first: a worker that read its claim word (every item claimed) and then reads this
            // loop's count must not claim by compare-and-swap on the old word while the new one is not yet published (it
            // would run an item of this loop that the new claim word hands out again).
            Volatile.Write(ref job->Claim, ((seq - 1) << 32) | int.MaxValue);
            delegate*<void*, int, void> fn = &Trampoline<TBody>;
            Volatile.Write(ref *(nint*)&job->Fn, (nint)fn);
            Volatile.Write(ref *(nint*)&job->Body, (nint)Unsafe.AsPointer(ref body));
            Volatile.Write(ref job->Count, count);
            Volatile.Write(ref job->Participants, threads - 1);
            long doneBase = _doneBase;
            var timeline = Timeline;
            long slot = (seq & (TimelineLoops - 1)) * 8;
            if (timeline is not null) timeline[slot] = Stopwatch.GetTimestamp();
            int mine = 0;
            if (!RaceForItem0)
            {
                // Published with item 0 claimed: the caller's own, run at once, with no locked instruction before it (one
                // would wait for the job line to come back from the workers polling it). A worker that parks while this
                // loop is published (its increment of the sleepers and this read cross) sleeps until the next loop, whose
                // publish sees it; the caller claims the items it would have run.
                Volatile.Write(ref job->Claim, (seq << 32) | 1);
                if (Volatile.Read(ref *s_sleepers) > 0) Wake();
                RunItem(ref body, 0, timeline, slot);
                mine = 1;
            }
            else
            {
                // Before session 14 (bench `b1-ab`): item 0 published unclaimed, the caller claims it by compare-and-swap.
                Volatile.Write(ref job->Claim, seq << 32);
                Wake();
            }
            // Then the items no worker has claimed yet, and the wait for those they did: short spins first (an item of a
            // batch-1 layer takes a few µs, and SpinWait's growing spins and yields overshoot its end), then SpinWait's.
            // The done count is read first: when the workers have finished, the job line (which their claims took) is
            // not fetched back at all.
            long hot = 0;
            var spin = new SpinWait();
            while (Volatile.Read(ref *s_done) - doneBase != count - mine)
            {
                long claim = Volatile.Read(ref job->Claim);
                int index = (int)claim;
                if (index < count)
                {
                    if (Interlocked.CompareExchange(ref job->Claim, claim + 1, claim) == claim)
                    {
                        RunItem(ref body, index, timeline, slot);
                        mine++;
                    }
                    continue;
                }
                if (hot == 0) hot = Stopwatch.GetTimestamp() + HotSpinTicks;
                if (Stopwatch.GetTimestamp() < hot) HotPause();
                else spin.SpinOnce(sleep1Threshold: -1);
            }
            _doneBase = doneBase + (count - mine);
            if (timeline is not null) timeline[slot + 7] = Stopwatch.GetTimestamp();
            if (_error is { } e) ExceptionDispatchInfo.Capture(e).Throw();
            return true;
        }
        finally
        {
            // The job line keeps the stale body pointer: no worker dereferences it, since every item of the loop has been
            // claimed (clearing it would cost a transfer of the line the workers poll).
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>Wakes the parked workers.</summary>
    private void Wake()
    {
        int sleepers = Interlocked.Exchange(ref *s_sleepers, 0);
        if (sleepers > 0) _wake.Release(sleepers);
    }

    /// <summary>Runs item <paramref name="index"/> of the caller's body, keeping its first exception.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void RunItem<TBody>(ref TBody body, int index, long[]? timeline, long slot) where TBody : struct, IParallelBody
    {
        t_insideItem = true;
        long t0 = timeline is null ? 0 : Stopwatch.GetTimestamp();
        try
        {
            body.Invoke(index);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _error, e, null);
        }
        finally
        {
            t_insideItem = false;
            if (timeline is not null && index < 2)
            {
                long b = slot + 1 + 3 * index;
                timeline[b] = t0;
                timeline[b + 1] = Stopwatch.GetTimestamp();
                timeline[b + 2] = 0;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Trampoline<TBody>(void* body, int index) where TBody : struct, IParallelBody
        => Unsafe.AsRef<TBody>(body).Invoke(index);

    /// <summary>A worker's part: claims and runs items of loop <paramref name="seq"/> until none is left (or the loop is not current any more).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private void Work(long seq)
    {
        var job = s_job;
        while (true)
        {
            long claim = Volatile.Read(ref job->Claim);
            if (claim >> 32 != seq) return;
            int index = (int)claim;
            // Read after the claim: these are loop seq's values, or the CAS below fails (a later loop cannot have been
            // published while an index of this one is unclaimed).
            int count = job->Count;
            var fn = job->Fn;
            void* body = job->Body;
            if (index >= count) return;
            if (Interlocked.CompareExchange(ref job->Claim, claim + 1, claim) != claim) continue;
            t_insideItem = true;
            var timeline = Timeline;
            long t0 = timeline is null ? 0 : Stopwatch.GetTimestamp();
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
                if (timeline is not null && index < 2)
                {
                    long b = (seq & (TimelineLoops - 1)) * 8 + 1 + 3 * index;
                    timeline[b] = t0;
                    timeline[b + 1] = Stopwatch.GetTimestamp();
                    timeline[b + 2] = 1;
                }
                Interlocked.Increment(ref *s_done);
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WorkerLoop(int id)
    {
        long seen = Volatile.Read(ref s_job->Claim) >> 32;
        while (true)
        {
            long seq = WaitForLoop(seen);
            seen = seq;
            // Only the first MaxThreads − 1 workers take part (MaxThreads may have been lowered since they started).
            if (id < Volatile.Read(ref s_job->Participants)) Work(seq);
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
            long seq = Volatile.Read(ref s_job->Claim) >> 32;
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
            Interlocked.Increment(ref *s_sleepers);
            // A loop published between the check above and the increment may have read the sleepers before it: look again.
            seq = Volatile.Read(ref s_job->Claim) >> 32;
            if (seq != seen) return seq;
            _wake.Wait();
            start = Stopwatch.GetTimestamp();
            hot = start + HotSpinTicks;
            deadline = start + SpinTicks;
            spin = new SpinWait();
        }
    }
}
