using System.Diagnostics;
using System.Globalization;
using SharpGrad.Distributed;
using SharpGrad.Kernels;
using SharpGrad.Optimizers;

namespace SharpGrad.Benchmarks;

/// <summary>
/// Data-parallel training throughput: the workloads' CNN (cnn_train_step) with DistributedDataParallel, batch 32 per rank,
/// one kernel thread per rank, on 1 rank and then on 2 ranks (<c>mpiexec -n 1</c> and <c>mpiexec -n 2</c> of this program,
/// one after the other), in eager mode, compiled mode (the compiled Forward on the tape) and fused (LossBackward). Prints
/// per mode and rank count the images per second over all ranks, the share of the step each rank spends waiting for the
/// gradient all-reduces at the end of the backward (the communication not hidden behind the backward, including the time
/// one rank waits for the other to finish its backward; on one rank the reducer's own cost), and the median time of an
/// all-reduce of the gradients' size alone, the ranks lined up first.
/// </summary>
public static class DistributedBench
{
    private const string Usage = "distributed [--steps N] [--batch N]   (needs mpiexec: apt-get install mpich)";

    public static int Run(string[] args)
    {
        if (!TryOptions(args, out int steps, out int batch)) return 2;
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
        var program = typeof(DistributedBench).Assembly.Location;
        Console.WriteLine($"# DistributedDataParallel on the CNN of cnn_train_step, batch {batch} per rank, {steps} timed steps, 1 thread per rank, {Environment.ProcessorCount} cores");
        foreach (int ranks in new[] { 1, 2 })
        {
            var psi = new ProcessStartInfo("mpiexec") { UseShellExecute = false, RedirectStandardInput = true };
            foreach (var a in new[] { "-n", ranks.ToString(CultureInfo.InvariantCulture), dotnet, program, "distributed-rank", "--steps", steps.ToString(CultureInfo.InvariantCulture), "--batch", batch.ToString(CultureInfo.InvariantCulture) })
            {
                psi.ArgumentList.Add(a);
            }
            Process? p;
            try
            {
                p = Process.Start(psi);
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                Console.Error.WriteLine($"distributed: could not start mpiexec ({e.Message}); install MPICH (apt-get install mpich).");
                return 2;
            }
            p!.StandardInput.Close();
            p.WaitForExit();
            if (p.ExitCode != 0)
            {
                Console.Error.WriteLine($"distributed: the {ranks}-rank run exited with {p.ExitCode}.");
                return 1;
            }
        }
        return 0;
    }

    /// <summary>One rank of the benchmark (run by <see cref="Run"/> under mpiexec); rank 0 prints the lines.</summary>
    public static int Rank(string[] args)
    {
        if (!TryOptions(args, out int steps, out int batch)) return 2;
        Parallelism.MaxThreads = 1;
        using var group = ProcessGroup.InitMpi();
        foreach (var mode in new[] { "eager", "compiled", "fused" })
        {
            Rng.ManualSeed(group.Rank);
            var x = Tensor.Rand(batch, 1, 28, 28);
            var y = Tensor.RandInt(0, 10, [batch]);
            var net = new CnnNet();
            var eager = Workloads.Cnn();
            var model = mode == "eager" ? (Module)eager : net;
            using var ddp = new DistributedDataParallel(model, group);
            var compiled = net.Compile();
            var optimizer = new Sgd(model.Parameters(), 0.01);
            void Step()
            {
                optimizer.ZeroGrad();
                switch (mode)
                {
                    case "eager": Losses.CrossEntropy(eager.Forward(x), y).Backward(); break;
                    case "compiled": Losses.CrossEntropy(compiled.Forward(x), y).Backward(); break;
                    default: compiled.LossBackward(x, y); break;
                }
                optimizer.Step();
            }
            for (int i = 0; i < 5; i++) Step();
            group.Barrier();
            var waitBefore = ddp.CommunicationWait;
            var watch = Stopwatch.StartNew();
            for (int i = 0; i < steps; i++) Step();
            double seconds = watch.Elapsed.TotalSeconds;
            double share = (ddp.CommunicationWait - waitBefore).TotalSeconds / seconds;
            // The slowest rank sets the pace; the shares are averaged over the ranks.
            var slowest = Tensor.FromArray(new double[] { seconds });
            group.AllReduce(slowest, ReduceOp.Max);
            var meanShare = Tensor.FromArray(new double[] { share });
            group.AllReduce(meanShare, ReduceOp.Average);
            // What the transfer alone costs: an all-reduce of as many elements as the gradients, the ranks lined up first
            // (the rest of the wait is one rank waiting for the other to finish its backward).
            var gradients = Tensor.Zeros(model.Parameters().Sum(p => p.NumElements));
            var times = new List<double>();
            for (int i = 0; i < 30; i++)
            {
                group.Barrier();
                long t0 = Stopwatch.GetTimestamp();
                group.AllReduce(gradients);
                times.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
            }
            times.Sort();
            if (group.Rank == 0)
            {
                double imagesPerSecond = (double)steps * batch * group.Size / slowest.ToDoubleArray()[0];
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"workload=ddp_cnn_train_b{batch}_per_rank mode={mode} ranks={group.Size} value={imagesPerSecond:F0} unit=images/s " +
                    $"comm_wait_share={meanShare.ToDoubleArray()[0]:F3} allreduce_us={times[times.Count / 2]:F0} ({gradients.NumElements} floats) step_ms={1000 * slowest.ToDoubleArray()[0] / steps:F1} threads=1"));
            }
        }
        return 0;
    }

    private static bool TryOptions(string[] args, out int steps, out int batch)
    {
        steps = 100;
        batch = 32;
        for (int i = 0; i < args.Length; i++)
        {
            bool ok = i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v > 0;
            if (args[i] == "--steps" && ok) steps = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--batch" && ok) batch = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else
            {
                Console.Error.WriteLine($"distributed: unexpected '{args[i]}'; usage: {Usage}");
                return false;
            }
        }
        return true;
    }
}
