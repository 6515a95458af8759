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
/// <c>pregathered</c> gathers all of an epoch's batches before the epoch, <c>plain</c> uses SGD without momentum, <c>mlp</c> runs mlp_train_step_b64's step (one fixed
/// <c>torch.rand</c> batch, plain SGD at lr 0.01) so that <c>--regions</c> maps its loops. <c>--jit-log</c>: the methods compiled in the
/// first epoch, each with its compile time and thread (<see cref="JitLog"/>).
/// </summary>
public static class MnistSplit
{
    private static class Interop
    {
        [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "gettid")]
        private static extern int gettid();
        internal static long GetTid() => gettid();
    }

    /// <summary>The process's minor page faults so far (/proc/self/stat, field 10).</summary>
    private static long MinorFaults()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[7], CultureInfo.InvariantCulture);
    }

    public static int Run(string[] args)
    {
        int threads = 2;
        string variant = "workload";
        int epochs = 5;
        int warmMs = 0;
        bool regions = false;
        JitLog? jitLog = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--threads") threads = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--variant") variant = args[++i];
            else if (args[i] == "--epochs") epochs = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--warm") warmMs = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--regions") regions = true;
            else if (args[i] == "--jit-log") jitLog = new JitLog();
        }
        Parallelism.MaxThreads = threads;
        Rng.ManualSeed(0);
        string dir = Workloads.DataDir();
        var (images, labels) = Mnist.Load(Path.Combine(dir, "mnist10k-images-idx3-ubyte.gz"), Path.Combine(dir, "mnist10k-labels-idx1-ubyte.gz"));
        var x = images.Reshape(10000, 784);
        var (xtr, ytr) = (x.Narrow(0, 0, 8000), labels.Narrow(0, 0, 8000));
        if (warmMs > 0)
        {
            // as in `workloads`/`compare`: the MLP step (another instance, plain SGD, one random batch) ran for ≥ 1 s before
            var (wx, wy) = (Tensor.Rand(64, 784), Tensor.RandInt(0, 10, [64]));
            var wnet = new MlpNet();
            var wc = wnet.Compile();
            var wopt = new Sgd(wnet.Parameters(), 0.01);
            var wsw = Stopwatch.StartNew();
            while (wsw.ElapsedMilliseconds < warmMs) Workloads.MlpTrainStepCompiled(wc, wopt, wx, wy);
        }
        var net = new MlpNet();
        var c = net.Compile();
        // variant "mlp": mlp_train_step_b64's step (one fixed torch.rand batch, plain SGD at lr 0.01), timed per step as mnist's
        bool mlpStep = variant == "mlp";
        var opt = mlpStep ? new Sgd(net.Parameters(), 0.01) : new Sgd(net.Parameters(), 0.1, momentum: variant == "plain" ? 0 : 0.9);
        const int parts = 5;
        string[] names = ["perm", "gather", "zero", "lossbwd", "step"];
        var t = new double[epochs, parts];
        var wall = new double[epochs];
        var jitMs = new double[epochs];
        var jitCount = new long[epochs];
        var jitOwnMs = new double[epochs];
        var gcs = new int[epochs];
        var pauseMs = new double[epochs];
        var faults = new long[epochs];
        Tensor? reuseX = variant == "reuse" ? Tensor.Empty([64, 784]) : null;
        long[] ysrc = ytr.ToLongArray();
        var maxStep = new double[epochs];
        var (gc0, gc1, gc2) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        Tensor? fx = variant is "fixed-rand" or "mlp" ? Tensor.Rand(64, 784) : null, fy = variant is "fixed-rand" or "mlp" ? Tensor.RandInt(0, 10, [64]) : null;
        var per = new double[epochs, parts, 8000 / 64];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"before the loop: JIT {System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds:F1} ms ({System.Runtime.JitInfo.GetCompiledMethodCount()} methods) since start"));
        long osThread = Interop.GetTid();
        jitLog?.Start();
        var swAll = Stopwatch.StartNew();
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            long e0 = Stopwatch.GetTimestamp();
            var j0 = System.Runtime.JitInfo.GetCompilationTime();
            var jo0 = System.Runtime.JitInfo.GetCompilationTime(currentThread: true);
            long jc0 = System.Runtime.JitInfo.GetCompiledMethodCount();
            int g0 = GC.CollectionCount(0);
            var p0 = GC.GetTotalPauseDuration();
            long f0 = MinorFaults();
            // --regions: the last epoch's parallel loops on the pool's timeline, with each step's start and end
            long[]? timeline = regions && epoch == epochs - 1 ? new long[WorkerPool.TimelineLoops * 8] : null;
            var stepT = new long[2 * (8000 / 64)];
            WorkerPool.Timeline = timeline;
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
                else if ((mlpStep || variant.StartsWith("fixed", StringComparison.Ordinal)) && fx is not null) (xb, yb) = (fx, fy!);
                else if (reuseX is not null)
                {
                    // the same rows copied into one batch tensor kept across steps (what a pooled batch would cost)
                    var idx = perm.Narrow(0, i, 64).ToLongArray();
                    var (src, dst) = (CompiledSupport.FloatData(xtr), CompiledSupport.FloatData(reuseX));
                    for (int r = 0; r < 64; r++) Array.Copy(src, (int)idx[r] * 784, dst, r * 784, 784);
                    (xb, yb) = (reuseX, Tensor.FromArray(idx.Select(j => ysrc[j]).ToArray(), [64]));
                }
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
                per[epoch, 1, k] = Stopwatch.GetElapsedTime(a, b).TotalMicroseconds;
                per[epoch, 3, k] = Stopwatch.GetElapsedTime(c1, c2).TotalMicroseconds;
                per[epoch, 4, k] = Stopwatch.GetElapsedTime(c2, c3).TotalMicroseconds;
                maxStep[epoch] = Math.Max(maxStep[epoch], Stopwatch.GetElapsedTime(a, c3).TotalMilliseconds);
                (stepT[2 * k], stepT[2 * k + 1]) = (b, c3);
            }
            WorkerPool.Timeline = null;
            if (timeline is not null) PrintRegions(timeline, stepT, "last epoch, ");
            wall[epoch] = Stopwatch.GetElapsedTime(e0).TotalMilliseconds;
            jitMs[epoch] = (System.Runtime.JitInfo.GetCompilationTime() - j0).TotalMilliseconds;
            jitCount[epoch] = System.Runtime.JitInfo.GetCompiledMethodCount() - jc0;
            jitOwnMs[epoch] = (System.Runtime.JitInfo.GetCompilationTime(currentThread: true) - jo0).TotalMilliseconds;
            gcs[epoch] = GC.CollectionCount(0) - g0;
            pauseMs[epoch] = (GC.GetTotalPauseDuration() - p0).TotalMilliseconds;
            faults[epoch] = MinorFaults() - f0;
            if (epoch == 0) jitLog?.Mark();
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"mnist-split variant={variant} threads={threads} total {swAll.Elapsed.TotalSeconds:F3} s; GCs gen0 {GC.CollectionCount(0) - gc0} gen1 {GC.CollectionCount(1) - gc1} gen2 {GC.CollectionCount(2) - gc2}; load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}"));
        for (int e = 0; e < epochs; e++)
        {
            var sb = new System.Text.StringBuilder(string.Create(CultureInfo.InvariantCulture, $"  epoch {e}: {wall[e],6:F1} ms ="));
            for (int p = 0; p < parts; p++) sb.Append(CultureInfo.InvariantCulture, $" {names[p]} {t[e, p],6:F1}");
            sb.Append(CultureInfo.InvariantCulture, $"; JIT {jitMs[e]:F1} ms ({jitCount[e]} methods; {jitOwnMs[e]:F1} ms on this thread), gen0 GCs {gcs[e]} (pause {pauseMs[e]:F1} ms), {faults[e]} page faults, slowest step {maxStep[e]:F2} ms");
            double Median(int part) { var v = Enumerable.Range(0, 8000 / 64).Select(j => per[e, part, j]).Order().ToArray(); return v[v.Length / 2]; }
            sb.Append(CultureInfo.InvariantCulture, $"; median us: gather {Median(1):F1} lossbwd {Median(3):F1} step {Median(4):F1}");
            Console.WriteLine(sb.ToString());
        }
        if (mlpStep && fx is not null) PrintDensities(net, fx);
        jitLog?.Print(osThread);
        return 0;
    }

    /// <summary>
    /// `count` pieces of the MLP step's serial middle (between fc2's forward and fc2's gradients, on one core at any thread
    /// count): fc3's forward, the loss's forward and backward, fc3's backward and h2's ReLU backward, on the step's shapes
    /// (64 rows; h2 ~75 % nonzero), one by one and in the step's order (<c>mlp-mid</c>).
    /// </summary>
    internal static void ProfilePieces(Action<string, string, Action, int> add)
    {
        var rnd = new Random(5);
        const int n = 64;
        var h2 = new float[n * 128];
        for (int i = 0; i < h2.Length; i++) h2[i] = rnd.NextDouble() < 0.75 ? rnd.NextSingle() : 0f;
        var fc3 = new SharpGrad.Layers.Linear(128, 10);
        var w3 = CompiledSupport.Dense(fc3.Weight);
        var logits = new float[n * 10];
        var logp = new float[n * 10];
        var g3 = new float[n * 10];
        var gh2 = new float[n * 128];
        var g2 = new float[n * 128];
        var gw3 = new float[10 * 128];
        var gb3 = new float[10];
        var target = Tensor.RandInt(0, 10, [n]);
        var shape3 = new LinearShape(InFeatures: 128, OutFeatures: 10, RowsPerItem: 1);
        void Fc3Forward() => CompiledSupport.LinearForward(h2, fc3.Weight, fc3.Bias, logits, n, shape3);
        float LossForward() => ClassIndexLoss.Forward(logits, target, logp, n, 10, Reduction.Mean, -100L, logSoftmax: true);
        void LossBackward()
        {
            Array.Clear(g3, 0, n * 10);
            ClassIndexLoss.Backward(logp, target, 1f, g3, n, 10, Reduction.Mean, -100L, logSoftmax: true);
        }
        void Fc3Backward()
        {
            Array.Clear(gh2, 0, n * 128);
            CompiledSupport.LinearBackward(h2, fc3.Weight, g3, gh2, gw3, gb3, n, shape3, overwriteWeight: true, overwriteBias: true);
        }
        void Relu2Backward()
        {
            Array.Clear(g2, 0, n * 128);
            Pointwise.Backward<ReluOp>(h2, h2, gh2, g2, n * 128);
        }
        Fc3Forward();
        LossForward();
        add("mlp-fc3-fwd", "MLP step: fc3 forward 64x128 · (10x128)ᵀ + bias", Fc3Forward, 5000);
        add("mlp-ce-fwd", "MLP step: cross-entropy forward (compiled kernel) 64x10", () => LossForward(), 5000);
        add("mlp-ce-bwd", "MLP step: cross-entropy backward (compiled kernel) 64x10", LossBackward, 5000);
        // a confident classifier's logits (mnist after a few epochs): most exp(x − max) far below 1, many past float's range
        var wide = new float[n * 10];
        for (int i = 0; i < wide.Length; i++) wide[i] = (rnd.NextSingle() - 0.5f) * 400f;
        var wideLogp = new float[n * 10];
        add("mlp-ce-wide", "MLP step: cross-entropy forward + backward 64x10, logits spread over ±200", () =>
        {
            ClassIndexLoss.Forward(wide, target, wideLogp, n, 10, Reduction.Mean, -100L, logSoftmax: true);
            Array.Clear(g3, 0, n * 10);
            ClassIndexLoss.Backward(wideLogp, target, 1f, g3, n, 10, Reduction.Mean, -100L, logSoftmax: true);
        }, 5000);
        add("mlp-fc3-bwd", "MLP step: fc3 backward (input, weight and bias gradients)", Fc3Backward, 5000);
        add("mlp-relu2-bwd", "MLP step: h2's ReLU backward 64x128 (clear + kernel)", Relu2Backward, 5000);
        // mnist's sparse forwards with their bias + ReLU epilogue, as the compiled step calls them: fc1 over ~19 % nonzero
        // pixels, fc2 over h1 ~25 % nonzero (the skipping product below SkipZerosMinMacs)
        var xs = new float[n * 784];
        for (int i = 0; i < xs.Length; i++) xs[i] = rnd.NextDouble() < 0.19 ? rnd.NextSingle() : 0f;
        var h1s = new float[n * 256];
        for (int i = 0; i < h1s.Length; i++) h1s[i] = rnd.NextDouble() < 0.25 ? rnd.NextSingle() : 0f;
        var (fc1, fc2) = (new SharpGrad.Layers.Linear(784, 256), new SharpGrad.Layers.Linear(256, 128));
        var (y1, y2) = (new float[n * 256], new float[n * 128]);
        var (shape1, shape2) = (new LinearShape(InFeatures: 784, OutFeatures: 256, RowsPerItem: 1), new LinearShape(InFeatures: 256, OutFeatures: 128, RowsPerItem: 1));
        add("mnist-fc1-fwd", "mnist step: fc1 forward over 19 % nonzero pixels 64x784 · (256x784)ᵀ + bias, ReLU", () =>
            CompiledSupport.LinearForward(xs, fc1.Weight, fc1.Bias, y1, n, shape1, GemmActivation.Relu), 2000);
        // mnist's step as the workload runs it (gather a shuffled batch, ZeroGrad, LossBackward, SGD with momentum), each call
        // the next batch of a fixed permutation of the 8000 training images: `count`'s minimum over many steps
        var (images, labels) = Mnist.Load(Path.Combine(Workloads.DataDir(), "mnist10k-images-idx3-ubyte.gz"), Path.Combine(Workloads.DataDir(), "mnist10k-labels-idx1-ubyte.gz"));
        var (xtr, ytr) = (images.Reshape(10000, 784).Narrow(0, 0, 8000), labels.Narrow(0, 0, 8000));
        var mnet = new MlpNet();
        var mc = mnet.Compile();
        var mopt = new Sgd(mnet.Parameters(), 0.1, momentum: 0.9);
        var perm = Tensor.RandPerm(8000);
        int at = 0;
        add("mnist-step", "mnist step: gather the next shuffled batch of 64, ZeroGrad, LossBackward, SGD with momentum", () =>
        {
            var idx = perm.Narrow(0, at, 64);
            at = at + 128 > 8000 ? 0 : at + 64;
            Workloads.MlpTrainStepCompiled(mc, mopt, xtr.IndexSelect(0, idx), ytr.IndexSelect(0, idx));
        }, 2000);
        add("mnist-fc2-fwd", "mnist step: fc2 forward over h1 25 % nonzero 64x256 · (128x256)ᵀ + bias, ReLU", () =>
            CompiledSupport.LinearForward(h1s, fc2.Weight, fc2.Bias, y2, n, shape2, GemmActivation.Relu), 5000);
        add("mlp-mid", "MLP step: fc3 forward, loss, fc3 backward, ReLU backward in order", () =>
        {
            Fc3Forward();
            LossForward();
            LossBackward();
            Fc3Backward();
            Relu2Backward();
        }, 5000);
    }

    /// <summary>
    /// variant "mlp": after the loop, the fraction of nonzero elements of h1 and h2 (the ReLUs' outputs on the step's batch,
    /// recomputed eagerly from the trained weights) and of their units dead for the whole batch. The hidden gradients' zeros
    /// are the same elements (g = ∂h ⊙ (h &gt; 0)), so these are the densities the zero-skipping products see.
    /// </summary>
    private static void PrintDensities(MlpNet net, Tensor x)
    {
        var p = net.Parameters().ToArray();
        var h1 = Functional.Relu(Functional.Linear(x, p[0], p[1]));
        var h2 = Functional.Relu(Functional.Linear(h1, p[2], p[3]));
        foreach (var (name, h) in new[] { ("h1", h1), ("h2", h2) })
        {
            int rows = h._shape[0], cols = h._shape[1];
            var d = h.ToArray();
            int nz = d.Count(v => v != 0f), dead = 0;
            for (int j = 0; j < cols; j++)
            {
                bool any = false;
                for (int r = 0; r < rows; r++) any |= d[r * cols + j] != 0f;
                dead += any ? 0 : 1;
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {name} [{rows}x{cols}]: {100.0 * nz / d.Length:F1} % nonzero, {dead} of {cols} units dead for the batch, {100.0 * nz / Math.Max(1, rows * (cols - dead)):F1} % nonzero among the live units"));
        }
    }

    /// <summary>
    /// `--regions`: per step (ZeroGrad + LossBackward + Step, the gathering excluded) the pool's parallel loops in order:
    /// how many, the time inside them (publish to join) against the time between them (one core working, the other
    /// waiting), and per position in the step the median serial gap before the loop, its duration and when the worker
    /// started its first item (µs after the publish; "-" when the caller ran every item). Also `cnn-regions`' printing;
    /// <paramref name="what"/> prefixes the step count in the first line.
    /// </summary>
    internal static void PrintRegions(long[] pt, long[] stepT, string what)
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
        var workerIdle = new List<double>();
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
            workerIdle.Add(mine.Count(l => l[3] != 1 && l[6] != 1));
        }
        static double Med(IEnumerable<double> v) { var a = v.Order().ToArray(); return a.Length == 0 ? double.NaN : a[a.Length / 2]; }
        int modal = perStep.GroupBy(l => l.Count).OrderByDescending(g => g.Count()).First().Key;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  regions ({what}{steps} steps): loops per step median {Med(perStep.Select(l => (double)l.Count))} (modal {modal}); per step median µs: inside loops {Med(inside):F1}, between loops (serial) {Med(outside):F1}; loops per step in which the worker ran neither item 0 nor 1: median {Med(workerIdle)}"));
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
