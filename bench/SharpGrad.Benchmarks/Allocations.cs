using System.Globalization;
using SharpGrad.Kernels;
using SharpGrad.Optimizers;

namespace SharpGrad.Benchmarks;

/// <summary>
/// `allocations [--threads N] [--steps N]`: bytes allocated per training step by the four loops issue 14 sets allocation
/// targets for, measured with <see cref="GC.GetAllocatedBytesForCurrentThread"/> (the calling thread) and
/// <see cref="GC.GetTotalAllocatedBytes"/> (the whole process, the worker pool included) over N steps after 20 warm-up
/// steps. Independent of the machine's load; no timing.
/// </summary>
public static class Allocations
{
    public static int Run(string[] args)
    {
        int threads = 1, steps = 100;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            if (!int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < 1 || args[i] is not ("--threads" or "--steps"))
            {
                Console.Error.WriteLine("allocations: usage: allocations [--threads N] [--steps N] (positive integers).");
                return 2;
            }
            if (args[i] == "--threads") threads = v; else steps = v;
        }
        Parallelism.MaxThreads = threads;
        Rng.ManualSeed(0);
        var x = Tensor.Rand(64, 784);
        var y = Tensor.RandInt(0, 10, [64]);
        var xc = Tensor.Rand(32, 1, 28, 28);
        var yc = Tensor.RandInt(0, 10, [32]);

        var net = new MlpNet();
        var c = net.Compile();
        var opt = new Sgd(net.Parameters(), 0.01);
        var tapeNet = new MlpNet();
        var tape = tapeNet.Compile();
        var tapeOpt = new Sgd(tapeNet.Parameters(), 0.01);
        var mlp = Workloads.Mlp();
        var mlpOpt = new Sgd(mlp.Parameters(), 0.01);
        var cnn = Workloads.Cnn();
        var cnnOpt = new Sgd(cnn.Parameters(), 0.01);

        Console.WriteLine($"# bytes allocated per step, {steps} steps after 20 warm-up steps, {threads} thread(s)");
        Console.WriteLine("| step | this thread (B/step) | whole process (B/step) | target (B/step) | met? |");
        Console.WriteLine("|---|---:|---:|---|---|");
        Line("compiled `LossBackward` + SGD, MLP b64 (mlp_train_step_b64)", () => Workloads.MlpTrainStepCompiled(c, opt, x, y), 0, "0");
        // the natural compiled loop: opt.ZeroGrad(); Losses.CrossEntropy(c.Forward(x), y).Backward(); opt.Step();
        Line("natural compiled loop, MLP b64", () => Workloads.MlpTrainStepCompiledTape(tape, tapeOpt, x, y), 1024, "≤ 1 KB");
        Line("eager MLP step b64", () => Workloads.MlpTrainStepEager(mlp, mlpOpt, x, y), 125_000, "≤ 5 % of 2.5 MB = 125 KB");
        Line("eager CNN step b32", () => Workloads.CnnTrainStepEager(cnn, cnnOpt, xc, yc), 600_000, "≤ 5 % of 12 MB = 600 KB");
        return 0;

        void Line(string what, Action step, long target, string targetText)
        {
            for (int i = 0; i < 20; i++) step();
            long thread0 = GC.GetAllocatedBytesForCurrentThread(), total0 = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < steps; i++) step();
            long thread = (GC.GetAllocatedBytesForCurrentThread() - thread0) / steps;
            long total = (GC.GetTotalAllocatedBytes(precise: true) - total0) / steps;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {what} | {thread:N0} | {total:N0} | {targetText} | {(Math.Max(thread, total) <= target ? "✔" : "✘")} |"));
        }
    }
}
