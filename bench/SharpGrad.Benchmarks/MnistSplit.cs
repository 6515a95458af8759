using System.Diagnostics;
using System.Globalization;
using SharpGrad.Data;
using SharpGrad.Kernels;
using SharpGrad.Optimizers;

namespace SharpGrad.Benchmarks;

/// <summary>
/// `mnist-split [--threads N] [--variant V]`: a copy of <see cref="Workloads.MnistMlp"/>'s compiled loop with a stopwatch
/// split per part (shuffle, batch gathering, ZeroGrad, LossBackward, Step), summed per epoch, to see where the epochs' time
/// goes. Variants (diagnostics only, not the workload): <c>fixed</c> trains on one batch every step (no gathering),
/// <c>pregathered</c> gathers all of an epoch's batches before the epoch, <c>plain</c> uses SGD without momentum.
/// </summary>
public static class MnistSplit
{
    public static int Run(string[] args)
    {
        int threads = 2;
        string variant = "workload";
        int epochs = 5;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--threads") threads = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--variant") variant = args[++i];
            else if (args[i] == "--epochs") epochs = int.Parse(args[++i], CultureInfo.InvariantCulture);
        }
        Parallelism.MaxThreads = threads;
        Rng.ManualSeed(0);
        string dir = Workloads.DataDir();
        var (images, labels) = Mnist.Load(Path.Combine(dir, "mnist10k-images-idx3-ubyte.gz"), Path.Combine(dir, "mnist10k-labels-idx1-ubyte.gz"));
        var x = images.Reshape(10000, 784);
        var (xtr, ytr) = (x.Narrow(0, 0, 8000), labels.Narrow(0, 0, 8000));
        var net = new MlpNet();
        var c = net.Compile();
        var opt = new Sgd(net.Parameters(), 0.1, momentum: variant == "plain" ? 0 : 0.9);
        const int parts = 5;
        string[] names = ["perm", "gather", "zero", "lossbwd", "step"];
        var t = new double[epochs, parts];
        var wall = new double[epochs];
        var jitMs = new double[epochs];
        var jitCount = new long[epochs];
        var gcs = new int[epochs];
        var maxStep = new double[epochs];
        var (gc0, gc1, gc2) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        Tensor? fx = null, fy = null;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"before the loop: JIT {System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds:F1} ms ({System.Runtime.JitInfo.GetCompiledMethodCount()} methods) since start"));
        var swAll = Stopwatch.StartNew();
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            long e0 = Stopwatch.GetTimestamp();
            var j0 = System.Runtime.JitInfo.GetCompilationTime();
            long jc0 = System.Runtime.JitInfo.GetCompiledMethodCount();
            int g0 = GC.CollectionCount(0);
            long a = Stopwatch.GetTimestamp();
            var perm = Tensor.RandPerm(8000);
            long b = Stopwatch.GetTimestamp();
            t[epoch, 0] += Stopwatch.GetElapsedTime(a, b).TotalMilliseconds;
            List<(Tensor, Tensor)>? pre = null;
            if (variant == "pregathered")
            {
                a = Stopwatch.GetTimestamp();
                pre = [];
                for (int i = 0; i + 64 <= 8000; i += 64)
                {
                    var idx = perm.Narrow(0, i, 64);
                    pre.Add((xtr.IndexSelect(0, idx), ytr.IndexSelect(0, idx)));
                }
                t[epoch, 1] += Stopwatch.GetElapsedTime(a).TotalMilliseconds;
            }
            int k = 0;
            for (int i = 0; i + 64 <= 8000; i += 64, k++)
            {
                a = Stopwatch.GetTimestamp();
                Tensor xb, yb;
                if (pre is not null) (xb, yb) = pre[k];
                else if (variant == "fixed" && fx is not null) (xb, yb) = (fx, fy!);
                else
                {
                    var idx = perm.Narrow(0, i, 64);
                    (xb, yb) = (xtr.IndexSelect(0, idx), ytr.IndexSelect(0, idx));
                    (fx, fy) = (xb, yb);
                }
                b = Stopwatch.GetTimestamp();
                opt.ZeroGrad();
                long c1 = Stopwatch.GetTimestamp();
                c.LossBackward(xb, yb);
                long c2 = Stopwatch.GetTimestamp();
                opt.Step();
                long c3 = Stopwatch.GetTimestamp();
                t[epoch, 1] += Stopwatch.GetElapsedTime(a, b).TotalMilliseconds;
                t[epoch, 2] += Stopwatch.GetElapsedTime(b, c1).TotalMilliseconds;
                t[epoch, 3] += Stopwatch.GetElapsedTime(c1, c2).TotalMilliseconds;
                t[epoch, 4] += Stopwatch.GetElapsedTime(c2, c3).TotalMilliseconds;
                maxStep[epoch] = Math.Max(maxStep[epoch], Stopwatch.GetElapsedTime(a, c3).TotalMilliseconds);
            }
            wall[epoch] = Stopwatch.GetElapsedTime(e0).TotalMilliseconds;
            jitMs[epoch] = (System.Runtime.JitInfo.GetCompilationTime() - j0).TotalMilliseconds;
            jitCount[epoch] = System.Runtime.JitInfo.GetCompiledMethodCount() - jc0;
            gcs[epoch] = GC.CollectionCount(0) - g0;
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"mnist-split variant={variant} threads={threads} total {swAll.Elapsed.TotalSeconds:F3} s; GCs gen0 {GC.CollectionCount(0) - gc0} gen1 {GC.CollectionCount(1) - gc1} gen2 {GC.CollectionCount(2) - gc2}; load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}"));
        for (int e = 0; e < epochs; e++)
        {
            var sb = new System.Text.StringBuilder(string.Create(CultureInfo.InvariantCulture, $"  epoch {e}: {wall[e],6:F1} ms ="));
            for (int p = 0; p < parts; p++) sb.Append(CultureInfo.InvariantCulture, $" {names[p]} {t[e, p],6:F1}");
            sb.Append(CultureInfo.InvariantCulture, $"; JIT {jitMs[e]:F1} ms ({jitCount[e]} methods), gen0 GCs {gcs[e]}, slowest step {maxStep[e]:F2} ms");
            Console.WriteLine(sb.ToString());
        }
        return 0;
    }
}
