using System.Diagnostics;
using System.Globalization;
using SharpGrad.Kernels;
using SharpGrad.Optimizers;

namespace SharpGrad.Benchmarks;

/// <summary>
/// `cnn-regions [--threads N] [--steps S]`: cnn_train_step_b32's compiled step (ZeroGrad, LossBackward, Step) run S times
/// after a 1 s warm-up with the pool's timeline on, then per position in the step the median serial gap before each
/// parallel loop, its duration and when the worker started its first item (as `mnist-split --regions` prints the MLP's;
/// the printing is a copy of MnistSplit's), so the 2-thread step's loops and serial stretches can be read off.
/// </summary>
public static class CnnRegions
{
    public static int Run(string[] args)
    {
        int threads = 2, steps = 400;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--threads") threads = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--steps") steps = int.Parse(args[++i], CultureInfo.InvariantCulture);
        }
        Parallelism.MaxThreads = threads;
        Rng.ManualSeed(0);
        var x = Tensor.Rand(32, 1, 28, 28);
        var y = Tensor.RandInt(0, 10, [32]);
        var net = new CnnNet();
        var c = net.Compile();
        var opt = new Sgd(net.Parameters(), 0.01);
        var warm = Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < 1000) Workloads.CnnTrainStepCompiled(c, opt, x, y);
        var timeline = new long[WorkerPool.TimelineLoops * 8];
        var stepT = new long[2 * steps];
        var times = new double[steps];
        WorkerPool.Timeline = timeline;
        for (int s = 0; s < steps; s++)
        {
            long a = Stopwatch.GetTimestamp();
            Workloads.CnnTrainStepCompiled(c, opt, x, y);
            long b = Stopwatch.GetTimestamp();
            (stepT[2 * s], stepT[2 * s + 1]) = (a, b);
            times[s] = Stopwatch.GetElapsedTime(a, b).TotalMicroseconds;
        }
        WorkerPool.Timeline = null;
        var sorted = times.Order().ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"cnn-regions threads={threads}: {steps} steps, min {sorted[0]:F1} p10 {sorted[steps / 10]:F1} median {sorted[steps / 2]:F1} us; load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}"));
        PrintRegions(timeline, stepT);
        return 0;
    }

    /// <summary>A copy of <c>MnistSplit.PrintRegions</c> (the pool's loops per step: serial gap before, inside, worker start).</summary>
    private static void PrintRegions(long[] pt, long[] stepT)
    {
        double us = 1e6 / Stopwatch.Frequency;
        var loops = new List<long[]>();
        for (int s = 0; s < WorkerPool.TimelineLoops; s++)
            if (pt[s * 8] != 0 && pt[s * 8 + 7] != 0) loops.Add(pt.AsSpan(s * 8, 8).ToArray());
        loops.Sort((x, y) => x[0].CompareTo(y[0]));
        int steps = stepT.Length / 2, j = 0;
        var perStep = new List<List<long[]>>();
        var inside = new List<double>();
        var outside = new List<double>();
        for (int i = 0; i < steps; i++)
        {
            long s0 = stepT[2 * i], s1 = stepT[2 * i + 1];
            while (j < loops.Count && loops[j][0] < s0) j++;
            var mine = new List<long[]>();
            while (j < loops.Count && loops[j][0] < s1) mine.Add(loops[j++]);
            perStep.Add(mine);
            double inLoops = mine.Sum(l => (double)(l[7] - l[0])) * us;
            inside.Add(inLoops);
            outside.Add((s1 - s0) * us - inLoops);
        }
        static double Med(IEnumerable<double> v) { var a = v.Order().ToArray(); return a.Length == 0 ? double.NaN : a[a.Length / 2]; }
        int modal = perStep.GroupBy(l => l.Count).OrderByDescending(g => g.Count()).First().Key;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  loops per step median {Med(perStep.Select(l => (double)l.Count))} (modal {modal}); per step median µs: inside loops {Med(inside):F1}, between loops (serial) {Med(outside):F1}"));
        var modalSteps = perStep.Select((l, i) => (l, i)).Where(t => t.l.Count == modal).ToList();
        for (int q = 0; q < modal; q++)
        {
            var gap = modalSteps.Select(t => (t.l[q][0] - (q == 0 ? stepT[2 * t.i] : t.l[q - 1][7])) * us);
            var dur = modalSteps.Select(t => (t.l[q][7] - t.l[q][0]) * us);
            var ws = modalSteps.Select(t => t.l[q][3] == 1 ? (t.l[q][1] - t.l[q][0]) * us : t.l[q][6] == 1 ? (t.l[q][4] - t.l[q][0]) * us : double.NaN).Where(v => !double.IsNaN(v)).ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"    loop {q,2}: serial before {Med(gap),7:F1}  inside {Med(dur),7:F1}  worker start {(ws.Count == 0 ? "-" : Med(ws).ToString("F1", CultureInfo.InvariantCulture)),6} ({ws.Count}/{modalSteps.Count})"));
        }
        var tail = modalSteps.Select(t => (stepT[2 * t.i + 1] - (modal == 0 ? stepT[2 * t.i] : t.l[modal - 1][7])) * us);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    after the last loop: serial {Med(tail),7:F1}"));
    }
}
