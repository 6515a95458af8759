using System.Diagnostics;
using System.Globalization;
using SharpGrad.Data;
using SharpGrad.Kernels;
using SharpGrad.Layers;
using SharpGrad.Optimizers;

namespace SharpGrad.Benchmarks;

/// <summary>
/// The standard workloads of WORKLOADS.md in eager mode, with the same definitions as the peers' Program.cs
/// (peers/torchsharp/Program.cs): best of three timed loops after a warm-up.
/// </summary>
public static partial class Workloads
{
    public const string Peer = "sharpgrad-eager";

    /// <summary>The peer name of compiled mode.</summary>
    public const string CompiledPeer = "sharpgrad";

    public static readonly string[] Names =
        ["mlp_train_step_b64", "mlp_infer_b1", "cnn_train_step_b32", "sgemm_1024", "mnist_mlp_5_epochs", "mnist_mlp_5_epochs_test_accuracy",
         .. SequenceWorkloads.Names];

    /// <summary>Set by <c>--mnist-eager-first</c>: runs mnist_mlp_5_epochs' eager mode before the compiled one (to see the warm-up's share).</summary>
    private static bool MnistEagerFirst;

    public static int Run(string[] args)
    {
        int threads = Environment.ProcessorCount;
        var only = new HashSet<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--threads")
            {
                if (i + 1 >= args.Length || !int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out threads) || threads < 1)
                {
                    Console.Error.WriteLine("workloads: --threads needs a positive integer, e.g. --threads 2.");
                    return 2;
                }
                i++;
            }
            else if (args[i] == "--mnist-eager-first") MnistEagerFirst = true;
            else if (Array.IndexOf(Names, args[i]) >= 0) only.Add(args[i]);
            else
            {
                Console.Error.WriteLine($"workloads: unknown workload '{args[i]}'; known: {string.Join(", ", Names)}.");
                return 2;
            }
        }
        Parallelism.MaxThreads = threads;
        bool Want(string name) => only.Count == 0 || only.Contains(name);
        void Report(string name, double value, string unit, string peer)
        {
            if (Want(name))
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"workload={name} value={value:G6} unit={unit} peer={peer} threads={threads}"));
        }

        // Each workload: compiled mode (peer=sharpgrad) then eager mode (peer=sharpgrad-eager). The per-step code of
        // each is one method below (…Compiled / …Eager), so it can be switched to a fused loss-backward entry point.
        if (Want("mlp_train_step_b64"))
        {
            Rng.ManualSeed(0);
            var x = Tensor.Rand(64, 784);
            var y = Tensor.RandInt(0, 10, [64]);
            var net = new MlpNet();
            var c = net.Compile();
            var opt = new Sgd(net.Parameters(), 0.01);
            Report("mlp_train_step_b64", MicrosPerCall(() => MlpTrainStepCompiled(c, opt, x, y), 300), "us", CompiledPeer);
            var mlp = Mlp();
            var eopt = new Sgd(mlp.Parameters(), 0.01);
            Report("mlp_train_step_b64", MicrosPerCall(() => MlpTrainStepEager(mlp, eopt, x, y), 300), "us", Peer);
        }
        if (Want("mlp_infer_b1"))
        {
            Rng.ManualSeed(0);
            var x = Tensor.Rand(1, 784);
            var net = new MlpNet();
            net.Eval();
            var c = net.Compile();
            Report("mlp_infer_b1", MicrosPerCall(() => MlpInferCompiled(c, x), 5000), "us", CompiledPeer);
            var mlp = Mlp();
            mlp.Eval();
            Report("mlp_infer_b1", MicrosPerCall(() => MlpInferEager(mlp, x), 5000), "us", Peer);
        }
        if (Want("cnn_train_step_b32"))
        {
            var (c, opt, x, y) = CnnTrainStepSetup();
            Report("cnn_train_step_b32", MicrosPerCall(() => CnnTrainStepCompiled(c, opt, x, y), 100), "us", CompiledPeer);
            var cnn = Cnn();
            var eopt = new Sgd(cnn.Parameters(), 0.01);
            Report("cnn_train_step_b32", MicrosPerCall(() => CnnTrainStepEager(cnn, eopt, x, y), 100), "us", Peer);
        }
        if (Want("sgemm_1024"))
        {
            Rng.ManualSeed(0);
            var a = Tensor.Rand(1024, 1024);
            var b = Tensor.Rand(1024, 1024);
            // compiled code calls the kernel on its own buffers; eager mode allocates the result tensor
            var cbuf = new float[1024 * 1024];
            var (ad, bd) = (CompiledSupport.FloatData(a), CompiledSupport.FloatData(b));
            double us = MicrosPerCall(() => Gemm.Sgemm(false, false, 1024, 1024, 1024, 1f, ad, 0, 1024, bd, 0, 1024, 0f, cbuf, 0, 1024), 20);
            Report("sgemm_1024", 2.0 * 1024 * 1024 * 1024 / (us * 1e3), "GFLOP/s", CompiledPeer);
            us = MicrosPerCall(() => a.MatMul(b), 20);
            Report("sgemm_1024", 2.0 * 1024 * 1024 * 1024 / (us * 1e3), "GFLOP/s", Peer);
        }
        if (Want("mnist_mlp_5_epochs") || Want("mnist_mlp_5_epochs_test_accuracy"))
        {
            foreach (bool compiled in MnistEagerFirst ? new[] { false, true } : new[] { true, false })
            {
                Rng.ManualSeed(0);
                var (secs, acc) = MnistMlp(DataDir(), epochs: 5, compiled);
                string peer = compiled ? CompiledPeer : Peer;
                Report("mnist_mlp_5_epochs", secs, "s", peer);
                Report("mnist_mlp_5_epochs_test_accuracy", acc, "fraction", peer);
            }
        }
        SequenceWorkloads.Run(Want, (name, value, unit, peer) => Report(name, value, unit, peer));
        return 0;
    }

    // ---------------- the per-step code, one method per workload and mode ----------------

    /// <summary>
    /// mlp_train_step_b64, compiled: the generated loss forward and backward in one call (<c>[Compiled] Loss</c> →
    /// <c>LossBackward</c>, no tape), then the SGD step. (The tape variant,
    /// <c>Losses.CrossEntropy(c.Forward(x), y).Backward()</c>, is <see cref="MlpTrainStepCompiledTape"/>.)
    /// </summary>
    public static void MlpTrainStepCompiled(MlpNet.Compiled c, Optimizer opt, Tensor x, Tensor y)
    {
        opt.ZeroGrad();
        c.LossBackward(x, y);
        opt.Step();
    }

    /// <summary>mlp_train_step_b64 with the compiled forward on the tape and the eager loss (for the profile).</summary>
    public static void MlpTrainStepCompiledTape(MlpNet.Compiled c, Optimizer opt, Tensor x, Tensor y)
    {
        opt.ZeroGrad();
        Losses.CrossEntropy(c.Forward(x), y).Backward();
        opt.Step();
    }

    /// <summary>mlp_train_step_b64, eager.</summary>
    public static void MlpTrainStepEager(Sequential mlp, Optimizer opt, Tensor x, Tensor y)
    {
        opt.ZeroGrad();
        Losses.CrossEntropy(mlp.Forward(x), y).Backward();
        opt.Step();
    }

    /// <summary>mlp_infer_b1, compiled (eval mode, no gradients).</summary>
    public static Tensor MlpInferCompiled(MlpNet.Compiled c, Tensor x)
    {
        using var ng = Autograd.NoGrad();
        return c.Forward(x);
    }

    /// <summary>mlp_infer_b1, eager (eval mode, no gradients).</summary>
    public static Tensor MlpInferEager(Sequential mlp, Tensor x)
    {
        using var ng = Autograd.NoGrad();
        return mlp.Forward(x);
    }

    /// <summary>cnn_train_step_b32's compiled model, optimizer and batch (seed 0), shared by the workload and `cnn-regions`.</summary>
    public static (CnnNet.Compiled Compiled, Sgd Optimizer, Tensor X, Tensor Y) CnnTrainStepSetup()
    {
        Rng.ManualSeed(0);
        var x = Tensor.Rand(32, 1, 28, 28);
        var y = Tensor.RandInt(0, 10, [32]);
        var net = new CnnNet();
        var c = net.Compile();
        return (c, new Sgd(net.Parameters(), 0.01), x, y);
    }

    /// <summary>cnn_train_step_b32, compiled: fused loss forward/backward (<c>LossBackward</c>), then the SGD step.</summary>
    public static void CnnTrainStepCompiled(CnnNet.Compiled c, Optimizer opt, Tensor x, Tensor y)
    {
        opt.ZeroGrad();
        c.LossBackward(x, y);
        opt.Step();
    }

    /// <summary>cnn_train_step_b32, eager.</summary>
    public static void CnnTrainStepEager(Sequential cnn, Optimizer opt, Tensor x, Tensor y)
    {
        opt.ZeroGrad();
        Losses.CrossEntropy(cnn.Forward(x), y).Backward();
        opt.Step();
    }

    /// <summary>MLP 784-256-128-10 (the peers' names fc1, relu1, fc2, relu2, fc3).</summary>
    public static Sequential Mlp() => new(("fc1", new Linear(784, 256)), ("relu1", new ReLU()), ("fc2", new Linear(256, 128)),
        ("relu2", new ReLU()), ("fc3", new Linear(128, 10)));

    /// <summary>The workloads' CNN: two conv-relu-pool stages and a linear classifier.</summary>
    public static Sequential Cnn() => new(("conv1", new Conv2d(1, 16, 3, padding: 1)), ("relu1", new ReLU()), ("pool1", new MaxPool2d(2)),
        ("conv2", new Conv2d(16, 32, 3, padding: 1)), ("relu2", new ReLU()), ("pool2", new MaxPool2d(2)),
        ("flatten", new Flatten()), ("fc", new Linear(32 * 7 * 7, 10)));

    /// <summary>The folder with the MNIST copy: $MNIST_DIR, else Data/ next to the program.</summary>
    public static string DataDir() => Environment.GetEnvironmentVariable("MNIST_DIR") is { Length: > 0 } d ? d : Path.Combine(AppContext.BaseDirectory, "Data");

    /// <summary>The process's minor page faults so far (/proc/self/stat, field 10; 0 where there is none).</summary>
    private static long MinorFaults()
    {
        try
        {
            var stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[7], CultureInfo.InvariantCulture);
        }
        catch (IOException) { return 0; }
        catch (UnauthorizedAccessException) { return 0; }
    }

    /// <summary>mnist_mlp_5_epochs: the MLP trained on the first 8000 images (SGD lr 0.1, momentum 0.9, batch 64, shuffled,
    /// last partial batch dropped); returns the training seconds (batch gathering included) and the accuracy on the last 2000.</summary>
    public static (double Seconds, float Accuracy) MnistMlp(string dir, int epochs, bool compiled = false)
    {
        var (images, labels) = Mnist.Load(Path.Combine(dir, "mnist10k-images-idx3-ubyte.gz"), Path.Combine(dir, "mnist10k-labels-idx1-ubyte.gz"));
        var x = images.Reshape(10000, 784);
        var (xtr, ytr, xte, yte) = (x.Narrow(0, 0, 8000), labels.Narrow(0, 0, 8000), x.Narrow(0, 8000, 2000), labels.Narrow(0, 8000, 2000));
        var net = new MlpNet();
        var c = net.Compile();
        var mlp = Mlp();
        var opt = new Sgd(compiled ? net.Parameters() : mlp.Parameters(), 0.1, momentum: 0.9);
        var (gc0, gc1, gc2, allocated) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetAllocatedBytesForCurrentThread());
        var (epochMs, epochCpuMs, epochPauseMs) = (new double[epochs], new double[epochs], new double[epochs]);
        var (epochJitMs, epochFaults) = (new double[epochs], new long[epochs]);
        var process = Process.GetCurrentProcess();
        var sw = Stopwatch.StartNew();
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            double epochStart = sw.Elapsed.TotalMilliseconds;
            process.Refresh();
            double cpuStart = process.TotalProcessorTime.TotalMilliseconds;
            var pauseStart = GC.GetTotalPauseDuration();
            var jitStart = System.Runtime.JitInfo.GetCompilationTime(currentThread: true);
            long faultStart = MinorFaults();
            var perm = Tensor.RandPerm(8000);
            for (int i = 0; i + 64 <= 8000; i += 64)
            {
                var idx = perm.Narrow(0, i, 64);
                var (xb, yb) = (xtr.IndexSelect(0, idx), ytr.IndexSelect(0, idx));
                if (compiled) MlpTrainStepCompiled(c, opt, xb, yb);
                else MlpTrainStepEager(mlp, opt, xb, yb);
            }
            epochMs[epoch] = sw.Elapsed.TotalMilliseconds - epochStart;
            process.Refresh();
            epochCpuMs[epoch] = process.TotalProcessorTime.TotalMilliseconds - cpuStart;
            epochPauseMs[epoch] = (GC.GetTotalPauseDuration() - pauseStart).TotalMilliseconds;
            epochJitMs[epoch] = (System.Runtime.JitInfo.GetCompilationTime(currentThread: true) - jitStart).TotalMilliseconds;
            epochFaults[epoch] = MinorFaults() - faultStart;
        }
        double secs = sw.Elapsed.TotalSeconds;
        // Where the time went (stderr, so that compare's parser sees only the workload lines): the epochs one by one show
        // the warm-up (JIT tier-up of the code the run meets first; its CPU time includes the background JIT thread), the
        // collections and bytes show the data path's garbage.
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# mnist_mlp_5_epochs {(compiled ? "compiled" : "eager")}: epochs {string.Join(" ", epochMs.Select(ms => ms.ToString("F0", CultureInfo.InvariantCulture)))} ms wall, {string.Join(" ", epochCpuMs.Select(ms => ms.ToString("F0", CultureInfo.InvariantCulture)))} ms CPU (all threads), {string.Join(" ", epochPauseMs.Select(ms => ms.ToString("F1", CultureInfo.InvariantCulture)))} ms in GC pauses, " +
            $"{string.Join(" ", epochJitMs.Select(ms => ms.ToString("F1", CultureInfo.InvariantCulture)))} ms JIT on the training thread, {string.Join(" ", epochFaults)} page faults; " +
            $"GCs gen0 {GC.CollectionCount(0) - gc0} gen1 {GC.CollectionCount(1) - gc1} gen2 {GC.CollectionCount(2) - gc2}; " +
            $"{(GC.GetAllocatedBytesForCurrentThread() - allocated) / (epochs * (8000 / 64))} B per step"));
        net.Eval();
        mlp.Eval();
        using var ng = Autograd.NoGrad();
        var logits = compiled ? c.Forward(xte.Contiguous()) : mlp.Forward(xte);
        float acc = logits.ArgMax(1).Eq(yte).To(DType.Float32).Mean().Item();
        return (secs, acc);
    }
}
