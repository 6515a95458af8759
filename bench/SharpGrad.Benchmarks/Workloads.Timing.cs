using System.Diagnostics;

namespace SharpGrad.Benchmarks;

// The timing loop every workload uses, in a file of its own so that the NativeAOT inference binary
// (bench/SharpGrad.Benchmarks.Aot) compiles the same loop.
public static partial class Workloads
{
    /// <summary>
    /// The shortest warm-up in milliseconds before the timed loops: 1000 by default, <c>SHARPGRAD_BENCH_WARMUP_MS</c>
    /// overrides it (0: only the peers' warm-up of iters/10 calls, i.e. what a process measures in its first ~100 ms).
    /// The runtime compiles a method first without optimisation and recompiles it optimised only after it has been called
    /// 30 times *and* 100 ms passed without new first-tier compilations (twice with dynamic PGO: an instrumented tier
    /// first), on a background thread. A workload of a few µs per call (mlp_infer_b1: 15,500 calls in ~0.13 s) would
    /// otherwise be timed inside that window, i.e. it would time the JIT's first tier and the background compiler on the
    /// second core; one second puts every workload's timed loops in the optimised steady state (docs/performance.md,
    /// "Timing policy").
    /// </summary>
    public static readonly int WarmupMs =
        int.TryParse(Environment.GetEnvironmentVariable("SHARPGRAD_BENCH_WARMUP_MS"), out int ms) && ms >= 0 ? ms : 1000;

    /// <summary>
    /// Runs <paramref name="body"/> max(3, iters/10) times and then until <see cref="WarmupMs"/> have passed since the first
    /// call, then three loops of <paramref name="iters"/>; the best µs per call (the peers' "best of three timed loops
    /// after a warm-up", with a warm-up of at least one second).
    /// </summary>
    public static double MicrosPerCall(Action body, int iters) => MicrosPerCall(body, iters, out _);

    /// <inheritdoc cref="MicrosPerCall(Action, int)"/>
    /// <param name="body">The code to time.</param>
    /// <param name="iters">Calls per timed loop.</param>
    /// <param name="calls">How many times <paramref name="body"/> ran in all (warm-up included), for bytes per call.</param>
    public static double MicrosPerCall(Action body, int iters, out long calls)
    {
        var warm = Stopwatch.StartNew();
        calls = 3L * iters;
        for (int i = 0; i < Math.Max(3, iters / 10); i++, calls++) body();
        for (; warm.ElapsedMilliseconds < WarmupMs; calls++) body();
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
