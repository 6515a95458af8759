using System.Diagnostics;

namespace SharpGrad.Benchmarks;

/// <summary>
/// Where the machine's cores sit relative to each other right now: the round trip of one cache line bounced between two
/// threads (the C tool bench/tools/pingpong.c measures the same, pinned). On a shared VM the hypervisor moves the vCPUs:
/// on the session-25 Zen 4 host the round trip flipped between ~60 ns (the two vCPUs share an L3) and ~300 ns (they do
/// not) about every minute, and every multi-threaded figure, ours and TorchSharp's, was 1.5–3× slower in the far state.
/// `compare` probes before and after each process, so a table says which of its multi-threaded rows ran where.
/// The threads are not pinned: run the probe only while the machine is otherwise idle (between the processes).
/// </summary>
public static class Placement
{
    /// <summary>A round trip this many times the run's fastest one, or more, counts as "far".</summary>
    public const double FarFactor = 2.0;

    private static long s_ball;

    /// <summary>The fastest of <paramref name="batches"/> batches of <paramref name="roundTrips"/> round trips, in ns per round trip
    /// (NaN on a single-core machine, where the two threads would share one core).</summary>
    public static double RoundTripNs(int batches = 200, int roundTrips = 100)
    {
        if (Environment.ProcessorCount < 2) return double.NaN;
        Volatile.Write(ref s_ball, 0);
        var other = new Thread(() =>
        {
            while (true)
            {
                long v;
                while (((v = Volatile.Read(ref s_ball)) & 1) == 0) Thread.SpinWait(1);
                if (v < 0) return;
                Volatile.Write(ref s_ball, v + 1);
            }
        }) { IsBackground = true, Name = "placement probe" };
        other.Start();
        double best = double.PositiveInfinity;
        long ball = 0;
        for (int b = 0; b < batches; b++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int r = 0; r < roundTrips; r++)
            {
                Volatile.Write(ref s_ball, ball + 1);
                while (Volatile.Read(ref s_ball) != ball + 2) Thread.SpinWait(1);
                ball += 2;
            }
            double ns = Stopwatch.GetElapsedTime(t0).TotalNanoseconds / roundTrips;
            if (ns < best) best = ns;
        }
        // The other thread spins on an even value or ends on a negative one; -1 is odd, so it sees it and returns.
        Volatile.Write(ref s_ball, -1);
        other.Join();
        return best;
    }

    /// <summary>Waits (probing every 5 s, at most <paramref name="maxWait"/>) until the round trip is at most <paramref name="nearNs"/>;
    /// returns the last probe.</summary>
    public static double WaitForNear(double nearNs, TimeSpan maxWait)
    {
        var sw = Stopwatch.StartNew();
        double ns = RoundTripNs();
        while (!(ns <= nearNs) && sw.Elapsed < maxWait)
        {
            Thread.Sleep(5000);
            ns = RoundTripNs();
        }
        return ns;
    }
}
