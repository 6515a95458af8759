using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Benchmarks;

/// <summary>
/// `b1-modes [--threads T] [--rounds R] [--calls C]`: why mlp_infer_b1 with 2 threads is fast in some processes and slow in
/// others (docs/performance.md, "mlp_infer_b1, session 14"). Prints, for this process, where the arrays the two cores write
/// lie (address mod 64 of the pair's h and of the caller's partials, mod 4096 of the packed weights), then times the
/// compiled forward (after 1 s of warm-up) with those arrays as they are and with h and the partials replaced by copies
/// whose data start on a 64-byte boundary or 16 bytes past one, in turn (R rounds of C calls each, mean per call).
/// Uses reflection on the generated program's private workspace field and the runtime's thread-static partials (a probe,
/// not product code).
/// </summary>
public static class B1Modes
{
    private static readonly List<float[]> Keep = [];

    /// <summary>A pinned float[<paramref name="length"/>] whose element 0 lies <paramref name="mod64"/> bytes past a 64-byte boundary.</summary>
    private static float[] At(int length, int mod64)
    {
        for (int i = 0; i < 10_000; i++)
        {
            var a = GC.AllocateArray<float>(length, pinned: true);
            Keep.Add(a);
            if ((Address(a) & 63) == mod64) return a;
        }
        throw new InvalidOperationException($"no pinned array at {mod64} mod 64");
    }

    private static long Address(float[] a) => (long)Marshal.UnsafeAddrOfPinnedArrayElement(a, 0);

    private readonly struct Hits(int[] hits, int bad) : IParallelBody
    {
        public void Invoke(int index)
        {
            Interlocked.Increment(ref hits[index]);
            if (index == bad) throw new InvalidOperationException("bad");
        }
    }

    private readonly struct Spin(int ns) : IParallelBody
    {
        public void Invoke(int index)
        {
            long end = System.Diagnostics.Stopwatch.GetTimestamp() + ns * System.Diagnostics.Stopwatch.Frequency / 1_000_000_000;
            while (System.Diagnostics.Stopwatch.GetTimestamp() < end) { }
        }
    }

    /// <summary>Times <paramref name="calls"/> calls with the stack <paramref name="pad"/> bytes deeper; mean µs per call.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static double Padded(int pad, MlpNet.Compiled c, Tensor x, int calls, out long where)
    {
        Span<byte> p = stackalloc byte[pad + 1];
        p[pad] = 1;
        where = (long)System.Runtime.CompilerServices.Unsafe.ByteOffset(ref System.Runtime.CompilerServices.Unsafe.NullRef<byte>(), ref p[0]);
        return Loop(c, x, calls) + p[pad] - 1;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static double Loop(MlpNet.Compiled c, Tensor x, int calls)
    {
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        for (int i = 0; i < calls; i++) Workloads.MlpInferCompiled(c, x);
        return System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds / calls;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int sched_setaffinity(int pid, nint size, ref ulong mask);

    /// <summary>Restricts thread <paramref name="tid"/> (0: the calling thread) to processor <paramref name="cpu"/> (-1: both).</summary>
    private static void Pin(int tid, int cpu)
    {
        ulong mask = cpu < 0 ? 3UL : 1UL << cpu;
        if (sched_setaffinity(tid, sizeof(ulong), ref mask) != 0) throw new InvalidOperationException($"sched_setaffinity({tid}, {cpu}) failed: {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>The Linux thread id of the pool's first worker (its name starts with "SharpGrad worke").</summary>
    private static int WorkerTid()
    {
        foreach (var d in Directory.GetDirectories("/proc/self/task"))
            if (File.ReadAllText(Path.Combine(d, "comm")).StartsWith("SharpGrad worke", StringComparison.Ordinal)) return int.Parse(Path.GetFileName(d), CultureInfo.InvariantCulture);
        throw new InvalidOperationException("no worker thread");
    }

    /// <summary>The processor the pool's first worker last ran on (/proc/self/task/TID/stat, field 39).</summary>
    private static string WorkerCpu()
    {
        var stat = File.ReadAllText($"/proc/self/task/{WorkerTid()}/stat");
        var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return f[36];
    }

    /// <summary>With DOTNET_PerfMapEnabled=1: where the JIT put the batch-1 path's hot methods (start mod 64, size, tier).</summary>
    private static void PrintCode()
    {
        string map = $"/tmp/perf-{Environment.ProcessId}.map";
        if (!File.Exists(map)) return;
        string[] hot = ["PackedRowPanels", "RowsTimesMatrix", "PairPart::Invoke", "WorkerPool::Work", "WorkerPool::WaitForLoop", "WorkerPool::TryRun", "TryLinearReluLinearRowPacked", "MlpInferCompiled", "Compiled::Forward", "B1Modes::Loop"];
        foreach (var line in File.ReadLines(map))
        {
            var f = line.Split(' ', 3);
            if (f.Length < 3 || !hot.Any(h => f[2].Contains(h, StringComparison.Ordinal))) continue;
            long start = long.Parse(f[0].Replace("0x", "", StringComparison.Ordinal), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            int size = int.Parse(f[1].Replace("0x", "", StringComparison.Ordinal), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            string name = f[2].Length > 110 ? f[2][..50] + "…" + f[2][^55..] : f[2];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  code {start & 4095,4} mod 4096 ({start & 63,2} mod 64) size {size,5}: {name}"));
        }
        File.Delete(map); // the probe's own map (written because the caller set DOTNET_PerfMapEnabled)
    }

    /// <summary>With the pool's probe patch: the medians of each phase of a call (µs).</summary>
    private static void Timeline(string what, Action call)
    {
        const int n = 50_000;
        var pt = new long[WorkerPool.TimelineLoops * 8];
        var callT = new long[n * 2];
        WorkerPool.Timeline = pt;
        for (int i = 0; i < n; i++)
        {
            callT[2 * i] = System.Diagnostics.Stopwatch.GetTimestamp();
            call();
            callT[2 * i + 1] = System.Diagnostics.Stopwatch.GetTimestamp();
        }
        WorkerPool.Timeline = null;
        var loops = new List<long[]>();
        for (int s = 0; s < WorkerPool.TimelineLoops; s++)
            if (pt[s * 8] != 0 && pt[s * 8 + 7] != 0) loops.Add(pt.AsSpan(s * 8, 8).ToArray());
        loops.Sort((a, b) => a[0].CompareTo(b[0]));
        double us = 1e6 / System.Diagnostics.Stopwatch.Frequency;
        var cols = new Dictionary<string, List<double>>();
        void Add(string k, double v) { if (!cols.TryGetValue(k, out var l)) cols[k] = l = []; l.Add(v); }
        int swapped = 0, callerBoth = 0, j = 0;
        for (int i = 0; i < n; i++)
        {
            long c0 = callT[2 * i], c1 = callT[2 * i + 1];
            while (j < loops.Count && loops[j][0] < c0) j++;
            if (j >= loops.Count || loops[j][0] > c1) continue;
            var l = loops[j];
            // item 0 at l[1..3], item 1 at l[4..6] (start, end, 1 = run by the worker)
            int w = l[3] == 1 ? 0 : 1, m = 1 - w; // w: the item the worker ran, m: the caller's
            if (l[6] == 1 && l[3] == 1) continue; // both on the worker
            // both on the caller: the worker was late, and the caller read the worker's half of the weights (session 19)
            if (l[6] == 0 && l[3] == 0)
            {
                callerBoth++;
                continue;
            }
            if (w == 0) swapped++;
            long ms = l[1 + 3 * m], me = l[2 + 3 * m], ws = l[1 + 3 * w], we = l[2 + 3 * w];
            Add("call", (c1 - c0) * us);
            Add("before publish", (l[0] - c0) * us);
            Add("caller item start", (ms - l[0]) * us);
            Add("worker item start", (ws - l[0]) * us);
            Add("caller item", (me - ms) * us);
            Add("worker item", (we - ws) * us);
            Add("join after last end", (l[7] - Math.Max(me, we)) * us);
            Add("worker end - caller end", (we - me) * us);
            Add("after join", (c1 - l[7]) * us);
        }
        Console.WriteLine($"{what}: timeline of {cols["call"].Count} calls (worker ran item 0 in {swapped}, the caller ran both items in {callerBoth}, left out below); median (p10, p90) µs:");
        foreach (var (k, v) in cols)
        {
            v.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {k,-24} {v[v.Count / 2],6:F3} ({v[v.Count / 10]:F3}, {v[v.Count * 9 / 10]:F3})"));
        }
    }

    public static int Run(string[] args)
    {
        int threads = 2, rounds = 20, calls = 20_000;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            int v = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            switch (args[i]) { case "--threads": threads = v; break; case "--rounds": rounds = v; break; case "--calls": calls = v; break; }
        }
        Parallelism.MaxThreads = threads;
        Rng.ManualSeed(0);
        var x = Tensor.Rand(1, 784);
        var net = new MlpNet();
        net.Eval();
        var c = net.Compile();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < 1000) Workloads.MlpInferCompiled(c, x);

        const BindingFlags F = BindingFlags.NonPublic | BindingFlags.Instance;
        var hField = c.GetType().GetField("_forward_fc1_out", F) ?? throw new InvalidOperationException("no _forward_fc1_out");
        var partsField = typeof(Gemm).GetField("t_pairParts", BindingFlags.NonPublic | BindingFlags.Static) ?? throw new InvalidOperationException("no t_pairParts");
        var fc1 = (Layers.Linear)(c.GetType().GetField("_fc1", F)!.GetValue(c)!);
        var fc2 = (Layers.Linear)(c.GetType().GetField("_fc2", F)!.GetValue(c)!);
        var h0 = (float[])hField.GetValue(c)!;
        var parts0 = (float[])partsField.GetValue(null)!;
        var (p1, p2) = Gemm.RowPackAddresses(fc1.Weight, fc2.Weight);
        string load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"pid {Environment.ProcessId}: h mod 64 = {Address(h0) & 63}, parts mod 64 = {Address(parts0) & 63} (length {parts0.Length}), W1 pack mod 4096 = {p1 & 4095}, W2t pack mod 4096 = {p2 & 4095} (load {load})"));

        if (Environment.GetEnvironmentVariable("B1MODES_STRESS") == "1")
        {
            int failed = 0;
            Parallel.For(0, 3, t =>
            {
                var rng = new Random(t);
                for (int it = 0; it < 100_000 && failed == 0; it++)
                {
                    Parallelism.MaxThreads = 2 + rng.Next(2);
                    int count = 1 + rng.Next(it % 3 == 0 ? 60 : 3);
                    var hits = new int[count];
                    int bad = rng.Next(4) == 0 ? rng.Next(count) : -1;
                    try { Parallelism.For(count, new Hits(hits, bad)); } catch (InvalidOperationException) { }
                    for (int i = 0; i < count; i++)
                        if (hits[i] != 1) { Console.WriteLine($"thread {t} iteration {it}: count {count}, item {i} ran {hits[i]} times"); failed = 1; break; }
                }
            });
            if (failed != 0) return 1;
            Console.WriteLine("stress: ok");
            return 0;
        }
        if (Environment.GetEnvironmentVariable("B1MODES_HANDOFF") == "1")
        {
            // The pool's hand-off alone: a loop of two items that each spin for `spinNs`, race vs caller-claimed item 0, in turn.
            foreach (int spinNs in new[] { 0, 1000 })
            {
                var hm = new double[2][];
                for (int v = 0; v < 2; v++) hm[v] = new double[200_000];
                for (int i = 0; i < 200_000; i++)
                    for (int v = 0; v < 2; v++)
                    {
                        WorkerPool.RaceForItem0 = v == 0;
                        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                        Parallelism.For(2, new Spin(spinNs));
                        hm[v][i] = (System.Diagnostics.Stopwatch.GetTimestamp() - t0) * 1e6 / System.Diagnostics.Stopwatch.Frequency;
                    }
                WorkerPool.RaceForItem0 = false;
                for (int v = 0; v < 2; v++)
                {
                    var m = hm[v];
                    Array.Sort(m);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"hand-off, items of {spinNs} ns, {(v == 0 ? "race for item 0" : "item 0 the caller's")}: min {m[0]:F3} p10 {m[m.Length / 10]:F3} median {m[m.Length / 2]:F3} us (load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})"));
                }
            }
            return 0;
        }
        {
            // The process's figure as `workloads` measures it (best of three loops of 5000 after the warm-up), then the
            // median of single calls.
            double best = double.MaxValue;
            for (int rep = 0; rep < 3; rep++) best = Math.Min(best, Loop(c, x, 5000));
            var one = new double[50_000];
            for (int i = 0; i < one.Length; i++)
            {
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                Workloads.MlpInferCompiled(c, x);
                one[i] = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            }
            Array.Sort(one);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"workloads-style {best:F2} us; single calls min {one[0]:F2} p10 {one[one.Length / 10]:F2} median {one[one.Length / 2]:F2}; caller on cpu {Thread.GetCurrentProcessorId()}, worker {WorkerCpu()} (load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})"));
            PrintCode();
        }
        if (Environment.GetEnvironmentVariable("B1MODES_TIMELINE") == "1")
        {
            Timeline("compiled forward", () => Workloads.MlpInferCompiled(c, x));
            var (xk, h1, h2) = (CompiledSupport.FloatData(x), new float[256], new float[128]);
            Timeline("pair alone", () => CompiledSupport.LinearReluLinearForward(xk, fc1.Weight, fc1.Bias, h1, fc2.Weight, fc2.Bias, h2, 1, new(784, 256), new(256, 128), GemmActivation.Relu));
            Timeline("compiled forward", () => Workloads.MlpInferCompiled(c, x));
            Timeline("pair alone", () => CompiledSupport.LinearReluLinearForward(xk, fc1.Weight, fc1.Bias, h1, fc2.Weight, fc2.Bias, h2, 1, new(784, 256), new(256, 128), GemmActivation.Relu));
        }
        if (rounds == 0) return 0;
        if (Environment.GetEnvironmentVariable("B1MODES_PIN") == "1")
        {
            // The caller on cpu 0 and the worker on cpu 1, then the other way round, in turn.
            int workerTid = WorkerTid();
            var cpus = new[] { (0, 1), (1, 0), (-1, -1) };
            var pm = new double[cpus.Length][];
            for (int v = 0; v < cpus.Length; v++) pm[v] = new double[rounds];
            for (int r = 0; r < rounds; r++)
                for (int v = 0; v < cpus.Length; v++)
                {
                    Pin(0, cpus[v].Item1);
                    Pin(workerTid, cpus[v].Item2);
                    Loop(c, x, 2000);
                    pm[v][r] = Loop(c, x, calls);
                }
            for (int v = 0; v < cpus.Length; v++)
            {
                var m = pm[v];
                Array.Sort(m);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"caller cpu {cpus[v].Item1,2}, worker cpu {cpus[v].Item2,2}: best {m[0]:F2} median {m[rounds / 2]:F2} us per call ({rounds} rounds of {calls}, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})"));
            }
            return 0;
        }
        if (Environment.GetEnvironmentVariable("B1MODES_STACK") == "1")
        {
            // The caller's stack shifted by 0, 16, 32, 48 bytes (the pool's body struct lives there and the worker reads it).
            var pads = new[] { 0, 16, 32, 48, 64 };
            var sm = new double[pads.Length][];
            var where = new long[pads.Length];
            for (int v = 0; v < pads.Length; v++) sm[v] = new double[rounds];
            for (int r = 0; r < rounds; r++)
                for (int v = 0; v < pads.Length; v++)
                {
                    Padded(pads[v], c, x, 2000, out _);
                    sm[v][r] = Padded(pads[v], c, x, calls, out where[v]);
                }
            for (int v = 0; v < pads.Length; v++)
            {
                var m = sm[v];
                Array.Sort(m);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"stack pad {pads[v],2} (frame at {where[v] & 4095,4} mod 4096): best {m[0]:F2} median {m[rounds / 2]:F2} us per call ({rounds} rounds of {calls}, {threads} thread(s), load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})"));
            }
            return 0;
        }
        var variants = new (string Name, float[] H, float[] Parts)[]
        {
            ("as allocated", h0, parts0),
            ("both at 0", At(h0.Length, 0), At(parts0.Length, 0)),
            ("h at 16", At(h0.Length, 16), At(parts0.Length, 0)),
            ("parts at 16", At(h0.Length, 0), At(parts0.Length, 16)),
            ("both at 16", At(h0.Length, 16), At(parts0.Length, 16)),
        };
        var means = new double[variants.Length][];
        for (int v = 0; v < variants.Length; v++) means[v] = new double[rounds];
        for (int r = 0; r < rounds; r++)
            for (int v = 0; v < variants.Length; v++)
            {
                hField.SetValue(c, variants[v].H);
                partsField.SetValue(null, variants[v].Parts);
                for (int i = 0; i < 2000; i++) Workloads.MlpInferCompiled(c, x);
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                for (int i = 0; i < calls; i++) Workloads.MlpInferCompiled(c, x);
                means[v][r] = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds / calls;
            }
        for (int v = 0; v < variants.Length; v++)
        {
            var m = means[v];
            Array.Sort(m);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{variants[v].Name,-14} h {Address(variants[v].H) & 63,2} parts {Address(variants[v].Parts) & 63,2}: best {m[0]:F2} median {m[rounds / 2]:F2} us per call ({rounds} rounds of {calls}, {threads} thread(s), load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})"));
        }
        return 0;
    }
}
