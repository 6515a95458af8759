using System.Diagnostics;
using System.Globalization;
using SharpGrad.Kernels;

namespace SharpGrad.Benchmarks;

/// <summary>
/// `cnn-regions` and `xfmr-regions [--threads N] [--steps S]`: a workload's compiled step (ZeroGrad, LossBackward, Step) run S
/// times after a 1 s warm-up with the pool's timeline on, then per position in the step the median serial gap before each
/// parallel loop, its duration and when the worker started its first item (as `mnist-split --regions` prints the MLP's;
/// printed by MnistSplit.PrintRegions), so the 2-thread step's loops and serial stretches can be read off.
/// </summary>
public static class StepRegions
{
    /// <summary>`cnn-regions`: cnn_train_step_b32's step.</summary>
    public static int Cnn(string[] args) => Run("cnn-regions", args, defaultSteps: 400, () =>
    {
        var (c, opt, x, y) = Workloads.CnnTrainStepSetup();
        return () => Workloads.CnnTrainStepCompiled(c, opt, x, y);
    });

    /// <summary>
    /// Sets the thread count from <paramref name="args"/>, builds the step (<paramref name="setup"/>, after the thread count is
    /// set), warms it up, times S steps with the pool's timeline on and prints the regions; with
    /// <paramref name="fastestQuarter"/> again for the fastest quarter of the steps alone. <paramref name="probe"/>: called
    /// with S right before the timed steps (to switch a timing of its own on); the printer it returns is called after them,
    /// before the summary line, with the steps' (start, end) timestamps, their durations (µs) and the fastest quarter's bound.
    /// </summary>
    internal static int Run(string name, string[] args, int defaultSteps, Func<Action> setup, bool fastestQuarter = false,
        Func<int, Action<long[], double[], double>>? probe = null)
    {
        int threads = 2, steps = defaultSteps;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--threads") threads = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--steps") steps = int.Parse(args[++i], CultureInfo.InvariantCulture);
        }
        Parallelism.MaxThreads = threads;
        var step = setup();
        var warm = Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < 1000) step();
        var timeline = new long[WorkerPool.TimelineLoops * 8];
        var stepT = new long[2 * steps];
        var times = new double[steps];
        WorkerPool.Timeline = timeline;
        var print = probe?.Invoke(steps);
        for (int s = 0; s < steps; s++)
        {
            long a = Stopwatch.GetTimestamp();
            step();
            long b = Stopwatch.GetTimestamp();
            (stepT[2 * s], stepT[2 * s + 1]) = (a, b);
            times[s] = Stopwatch.GetElapsedTime(a, b).TotalMicroseconds;
        }
        WorkerPool.Timeline = null;
        var sorted = times.Order().ToArray();
        double cut = sorted[steps / 4];
        print?.Invoke(stepT, times, cut);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name} threads={threads}: {steps} steps, min {sorted[0]:F1} p10 {sorted[steps / 10]:F1} median {sorted[steps / 2]:F1} us; load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}"));
        MnistSplit.PrintRegions(timeline, stepT, "");
        if (fastestQuarter)
        {
            // the fastest quarter of the steps (the host's noise at 2 threads is large): their regions alone, in time order
            var fast = Enumerable.Range(0, steps).Where(i => times[i] <= cut).SelectMany(i => new[] { stepT[2 * i], stepT[2 * i + 1] }).ToArray();
            MnistSplit.PrintRegions(timeline, fast, "fastest quarter, ");
        }
        return 0;
    }
}
