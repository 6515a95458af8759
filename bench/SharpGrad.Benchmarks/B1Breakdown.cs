using System.Globalization;
using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Benchmarks;

/// <summary>
/// `b1-breakdown N [--threads T]`: mlp_infer_b1's layers of cost measured in one process, call by call in turn (so all
/// share the process's cache placement): the fc1+fc2 pair alone, the pair then fc3 (the three kernels the compiled forward
/// runs), the pair then a 0.17 µs busy wait (fc3's time without its work), fc3 then the pair, and the whole compiled
/// forward (with its wrapper: guard, checks, output tensor). Prints how long Thread.SpinWait(1) and (4) take here (the
/// pool's polling step), then each body's quantiles.
/// </summary>
public static class B1Breakdown
{
    /// <summary>`N [--threads T]` (T = 2 by default), then the workloads' compiled MLP in eval mode and an input, after 200,000 warm-up calls.</summary>
    private static (int N, MlpNet.Compiled C, Tensor X) CompiledForward(string[] args)
    {
        int n = int.Parse(args[0], CultureInfo.InvariantCulture);
        Parallelism.MaxThreads = args.Length >= 3 && args[1] == "--threads" ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2;
        Rng.ManualSeed(0);
        var x = Tensor.Rand(1, 784);
        var net = new MlpNet();
        net.Eval();
        var c = net.Compile();
        for (int i = 0; i < 200_000; i++) Workloads.MlpInferCompiled(c, x);
        return (n, c, x);
    }

    /// <summary>
    /// `b1-cores N [--threads T]`: how often the OS moves the thread that calls the compiled forward to another core between
    /// two calls (with 2 threads the caller and the pool's worker then swap cores, and each core finds the other's half of
    /// the weights in its L2 unless the halves follow the cores). Prints the share of calls whose processor differs from the
    /// previous call's, and the calls' median time with and without such a change.
    /// </summary>
    public static int Cores(string[] args)
    {
        var (n, c, x) = CompiledForward(args);
        var cpu = new int[n];
        var t = new double[n];
        for (int i = 0; i < n; i++)
        {
            cpu[i] = Thread.GetCurrentProcessorId();
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            Workloads.MlpInferCompiled(c, x);
            t[i] = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
        }
        var moved = new List<double>();
        var stayed = new List<double>();
        for (int i = 1; i < n; i++) (cpu[i] != cpu[i - 1] ? moved : stayed).Add(t[i]);
        static double Median(List<double> v) { v.Sort(); return v.Count == 0 ? double.NaN : v[v.Count / 2]; }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"caller moved before {moved.Count} of {n - 1} calls ({100.0 * moved.Count / (n - 1):F2} %); median {Median(moved):F2} us after a move, {Median(stayed):F2} us otherwise ({Parallelism.MaxThreads} thread(s), load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})"));
        return 0;
    }

    /// <summary>
    /// `b1-ab N [--threads T]`: the compiled forward of mlp_infer_b1 under two settings of the pool's hand-off (item 0
    /// raced for by compare-and-swap as before session 14, or published as the caller's), in one process, in turn (each runs 8 calls, the 8th timed), so
    /// that the machine's load falls on both alike.
    /// </summary>
    public static int Ab(string[] args)
    {
        var (n, c, x) = CompiledForward(args);
        var settings = new (string Name, bool Race)[] { ("race for item 0", true), ("item 0 the caller's", false) };
        var times = new double[settings.Length][];
        for (int s = 0; s < settings.Length; s++) times[s] = new double[n];
        for (int i = 0; i < n; i++)
            for (int s = 0; s < settings.Length; s++)
            {
                WorkerPool.RaceForItem0 = settings[s].Race;
                for (int r = 0; r < 7; r++) Workloads.MlpInferCompiled(c, x);
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                Workloads.MlpInferCompiled(c, x);
                times[s][i] = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            }
        WorkerPool.RaceForItem0 = false;
        for (int s = 0; s < settings.Length; s++)
        {
            var t = times[s];
            Array.Sort(t);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{settings[s].Name,-12} min {t[0]:F2} p10 {t[n / 10]:F2} median {t[n / 2]:F2} p90 {t[n * 9 / 10]:F2} us ({n} timed calls, {Parallelism.MaxThreads} thread(s), load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})"));
        }
        return 0;
    }

    public static int Run(string[] args)
    {
        int n = int.Parse(args[0], CultureInfo.InvariantCulture);
        Parallelism.MaxThreads = args.Length >= 3 && args[1] == "--threads" ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1;
        Rng.ManualSeed(0);
        var mlp = Workloads.Mlp();
        mlp.Eval();
        var x = Tensor.Rand(1, 784);
        var net = new MlpNet();
        net.Eval();
        var c = net.Compile();
        var (l1, l2, l3) = ((Layers.Linear)mlp[0], (Layers.Linear)mlp[2], (Layers.Linear)mlp[4]);
        var (xk, h1, h2, yk) = (CompiledSupport.FloatData(x), new float[256], new float[128], new float[10]);
        void Pair()
        {
            if (!CompiledSupport.LinearReluLinearForward(xk, l1.Weight, l1.Bias, h1, l2.Weight, l2.Bias, h2, 1, new(784, 256), new(256, 128), GemmActivation.Relu))
            {
                CompiledSupport.LinearForward(xk, l1.Weight, l1.Bias, h1, 1, new(784, 256), GemmActivation.Relu);
                CompiledSupport.LinearForward(h1, l2.Weight, l2.Bias, h2, 1, new(256, 128), GemmActivation.Relu);
            }
        }
        void Fc3() => CompiledSupport.LinearForward(h2, l3.Weight, l3.Bias, yk, 1, new(128, 10));
        var bodies = new (string Name, Action Body)[]
        {
            ("pair", Pair),
            ("pair+fc3", () => { Pair(); Fc3(); }),
            ("pair+spin", () => { Pair(); long t = System.Diagnostics.Stopwatch.GetTimestamp() + System.Diagnostics.Stopwatch.Frequency / 6_000_000; while (System.Diagnostics.Stopwatch.GetTimestamp() < t) { } }),
            ("fc3+pair", () => { Fc3(); Pair(); }),
            ("compiled forward", () => Workloads.MlpInferCompiled(c, x)),
        };
        foreach (int it in new[] { 1, 4 })
        {
            long s0 = System.Diagnostics.Stopwatch.GetTimestamp();
            for (int i = 0; i < 1_000_000; i++) Thread.SpinWait(it);
            Console.WriteLine($"Thread.SpinWait({it}): {System.Diagnostics.Stopwatch.GetElapsedTime(s0).TotalMicroseconds / 1e6 * 1000:F1} ns");
        }
        var times = new double[bodies.Length][];
        for (int b = 0; b < bodies.Length; b++) times[b] = new double[n];
        for (int i = 0; i < 20000; i++) foreach (var b in bodies) b.Body();
        for (int i = 0; i < n; i++)
            for (int b = 0; b < bodies.Length; b++)
            {
                // each body runs 8 times in a row and the 8th is timed, so that it finds the cache as a loop of itself leaves it
                for (int r = 0; r < 7; r++) bodies[b].Body();
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                bodies[b].Body();
                times[b][i] = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            }
        for (int b = 0; b < bodies.Length; b++)
        {
            var t = times[b];
            Array.Sort(t);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{bodies[b].Name,-18} min {t[0]:F2} p10 {t[n / 10]:F2} median {t[n / 2]:F2} us ({n} timed calls, {Parallelism.MaxThreads} thread(s), load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})"));
        }
        return 0;
    }
}
