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
public static class Workloads
{
    public const string Peer = "sharpgrad-eager";

    public static readonly string[] Names =
        ["mlp_train_step_b64", "mlp_infer_b1", "cnn_train_step_b32", "sgemm_1024", "mnist_mlp_5_epochs", "mnist_mlp_5_epochs_test_accuracy"];

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
            else if (Array.IndexOf(Names, args[i]) >= 0) only.Add(args[i]);
            else
            {
                Console.Error.WriteLine($"workloads: unknown workload '{args[i]}'; known: {string.Join(", ", Names)}.");
                return 2;
            }
        }
        Parallelism.MaxThreads = threads;
        Rng.ManualSeed(0);
        bool Want(string name) => only.Count == 0 || only.Contains(name);
        void Report(string name, double value, string unit)
        {
            if (Want(name))
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"workload={name} value={value:G6} unit={unit} peer={Peer} threads={threads}"));
        }

        if (Want("mlp_train_step_b64"))
        {
            var mlp = Mlp();
            var opt = new Sgd(mlp.Parameters(), 0.01);
            var x = Tensor.Rand(64, 784);
            var y = Tensor.RandInt(0, 10, [64]);
            Report("mlp_train_step_b64", MicrosPerCall(() => { opt.ZeroGrad(); Losses.CrossEntropy(mlp.Forward(x), y).Backward(); opt.Step(); }, 300), "us");
        }
        if (Want("mlp_infer_b1"))
        {
            var mlp = Mlp();
            mlp.Eval();
            var x = Tensor.Rand(1, 784);
            using var ng = Autograd.NoGrad();
            Report("mlp_infer_b1", MicrosPerCall(() => mlp.Forward(x), 5000), "us");
        }
        if (Want("cnn_train_step_b32"))
        {
            var cnn = Cnn();
            var opt = new Sgd(cnn.Parameters(), 0.01);
            var x = Tensor.Rand(32, 1, 28, 28);
            var y = Tensor.RandInt(0, 10, [32]);
            Report("cnn_train_step_b32", MicrosPerCall(() => { opt.ZeroGrad(); Losses.CrossEntropy(cnn.Forward(x), y).Backward(); opt.Step(); }, 100), "us");
        }
        if (Want("sgemm_1024"))
        {
            var a = Tensor.Rand(1024, 1024);
            var b = Tensor.Rand(1024, 1024);
            double us = MicrosPerCall(() => a.MatMul(b), 20);
            Report("sgemm_1024", 2.0 * 1024 * 1024 * 1024 / (us * 1e3), "GFLOP/s");
        }
        if (Want("mnist_mlp_5_epochs") || Want("mnist_mlp_5_epochs_test_accuracy"))
        {
            var (secs, acc) = MnistMlp(DataDir(), epochs: 5);
            Report("mnist_mlp_5_epochs", secs, "s");
            Report("mnist_mlp_5_epochs_test_accuracy", acc, "fraction");
        }
        return 0;
    }

    /// <summary>MLP 784-256-128-10 (the peers' names fc1, relu1, fc2, relu2, fc3).</summary>
    public static Sequential Mlp() => new(("fc1", new Linear(784, 256)), ("relu1", new ReLU()), ("fc2", new Linear(256, 128)),
        ("relu2", new ReLU()), ("fc3", new Linear(128, 10)));

    /// <summary>The workloads' CNN: two conv-relu-pool stages and a linear classifier.</summary>
    public static Sequential Cnn() => new(("conv1", new Conv2d(1, 16, 3, padding: 1)), ("relu1", new ReLU()), ("pool1", new MaxPool2d(2)),
        ("conv2", new Conv2d(16, 32, 3, padding: 1)), ("relu2", new ReLU()), ("pool2", new MaxPool2d(2)),
        ("flatten", new Flatten()), ("fc", new Linear(32 * 7 * 7, 10)));

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

    /// <summary>The folder with the MNIST copy: $MNIST_DIR, else Data/ next to the program.</summary>
    public static string DataDir() => Environment.GetEnvironmentVariable("MNIST_DIR") is { Length: > 0 } d ? d : Path.Combine(AppContext.BaseDirectory, "Data");

    /// <summary>mnist_mlp_5_epochs: the MLP trained on the first 8000 images (SGD lr 0.1, momentum 0.9, batch 64, shuffled,
    /// last partial batch dropped); returns the training seconds (batch gathering included) and the accuracy on the last 2000.</summary>
    public static (double Seconds, float Accuracy) MnistMlp(string dir, int epochs)
    {
        var (images, labels) = Mnist.Load(Path.Combine(dir, "mnist10k-images-idx3-ubyte.gz"), Path.Combine(dir, "mnist10k-labels-idx1-ubyte.gz"));
        var x = images.Reshape(10000, 784);
        var (xtr, ytr, xte, yte) = (x.Narrow(0, 0, 8000), labels.Narrow(0, 0, 8000), x.Narrow(0, 8000, 2000), labels.Narrow(0, 8000, 2000));
        var mlp = Mlp();
        var opt = new Sgd(mlp.Parameters(), 0.1, momentum: 0.9);
        var sw = Stopwatch.StartNew();
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            var perm = Tensor.RandPerm(8000);
            for (int i = 0; i + 64 <= 8000; i += 64)
            {
                var idx = perm.Narrow(0, i, 64);
                opt.ZeroGrad();
                Losses.CrossEntropy(mlp.Forward(xtr.IndexSelect(0, idx)), ytr.IndexSelect(0, idx)).Backward();
                opt.Step();
            }
        }
        double secs = sw.Elapsed.TotalSeconds;
        mlp.Eval();
        using var ng = Autograd.NoGrad();
        float acc = mlp.Forward(xte).ArgMax(1).Eq(yte).To(DType.Float32).Mean().Item();
        return (secs, acc);
    }
}
