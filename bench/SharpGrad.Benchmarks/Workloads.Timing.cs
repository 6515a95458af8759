using System.Diagnostics;

namespace SharpGrad.Benchmarks;

// The timing loop every workload uses, in a file of its own so that the NativeAOT inference binary
// (bench/SharpGrad.Benchmarks.Aot) compiles the same loop.
public static partial class Workloads
{
    /// <summary>
    /// Extra warm-up in milliseconds from <c>SHARPGRAD_BENCH_WARMUP_MS</c> (default 0): a diagnostic, to see how much of a
    /// short workload's figure is the JIT's first tier (the default warm-up of a 5000-call workload lasts a few ms, inside
    /// the runtime's 100 ms tiering delay). The compare figures are taken with the default.
    /// </summary>
    private static readonly int ExtraWarmupMs = int.TryParse(Environment.GetEnvironmentVariable("SHARPGRAD_BENCH_WARMUP_MS"), out int ms) && ms > 0 ? ms : 0;

    /// <summary>Runs <paramref name="body"/> max(3, iters/10) times to warm up, then three loops of <paramref name="iters"/>; the best µs per call.</summary>
    public static double MicrosPerCall(Action body, int iters)
    {
        for (int i = 0; i < Math.Max(3, iters / 10); i++) body();
        for (var warm = Stopwatch.StartNew(); warm.ElapsedMilliseconds < ExtraWarmupMs;) body();
        double best = double.MaxValue;
        for (int rep = 0; rep < 3; rep++)
        {
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < iters; i++) body();
            best = Math.Min(best, sw.Elapsed.TotalMilliseconds * 1000 / iters);
        }
        return best;
    }
}
