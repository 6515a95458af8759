using System.Diagnostics;
using System.Globalization;
using SharpGrad.Kernels;
using SharpGrad.Optimizers;

namespace SharpGrad.Benchmarks;

/// <summary>
/// `cnn-regions [--threads N] [--steps S]`: cnn_train_step_b32's compiled step (ZeroGrad, LossBackward, Step) run S times
/// after a 1 s warm-up with the pool's timeline on, then per position in the step the median serial gap before each
/// parallel loop, its duration and when the worker started its first item (as `mnist-split --regions` prints the MLP's;
/// printed by MnistSplit.PrintRegions), so the 2-thread step's loops and serial stretches can be read off.
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
        var (c, opt, x, y) = Workloads.CnnTrainStepSetup();
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
        MnistSplit.PrintRegions(timeline, stepT, "");
        return 0;
    }
}
