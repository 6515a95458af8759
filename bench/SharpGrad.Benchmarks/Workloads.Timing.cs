using System.Diagnostics;

namespace SharpGrad.Benchmarks;

// The timing loop every workload uses, in a file of its own so that the NativeAOT inference binary
// (bench/SharpGrad.Benchmarks.Aot) compiles the same loop.
public static partial class Workloads
{
    /// <summary>Runs <paramref name="body"/> max(3, iters/10) times to warm up, then three loops of <paramref name="iters"/>; the best µs per call.</summary>
    public static double MicrosPerCall(Action body, int iters)
    {
        for (int i = 0; i < Math.Max(3, iters / 10); i++) body();
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
