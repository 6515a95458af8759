using System.Diagnostics;
using System.Globalization;
using SharpGrad.Data;
using SharpGrad.Layers;
using SharpGrad.Optimizers;

namespace SharpGrad.Samples.Mnist;

/// <summary>How the model's forward runs.</summary>
public enum MnistMode
{
    /// <summary>The code the generator wrote at build time (<c>model.Compile()</c>), entering the tape as one node.</summary>
    Compiled,
    /// <summary>The C# <c>Forward</c> as written, op by op on the autograd tape.</summary>
    Eager,
}

/// <summary>The sample's settings (command-line options).</summary>
public sealed class MnistOptions
{
    public int Epochs { get; set; } = 5;
    public MnistMode Mode { get; set; } = MnistMode.Compiled;
    public int BatchSize { get; set; } = 32;
    public string OutDir { get; set; } = "out";
    public string DataDir { get; set; } = Path.Combine(AppContext.BaseDirectory, "Data");
    /// <summary>Training images used (the first ones of the file).</summary>
    public int TrainCount { get; set; } = 8000;
    /// <summary>Test images used (the last ones of the 10,000).</summary>
    public int TestCount { get; set; } = 2000;
    public double LearningRate { get; set; } = 2e-3;
    public long Seed { get; set; } = 0;
}

/// <summary>One epoch's figures.</summary>
/// <remarks><see cref="Loss"/> is the mean training loss over the epoch's batches; <see cref="TestLoss"/> the mean cross-entropy on the test images after the epoch.</remarks>
public sealed record EpochStats(int Epoch, float Loss, float TrainAccuracy, float TestAccuracy, float TestLoss, double ImagesPerSecond, double Seconds);

/// <summary>The running figures of the epoch in progress, after each batch: images seen of the epoch's total, mean
/// training loss and training accuracy over the images so far, and the speed so far.</summary>
public sealed record BatchProgress(int Epoch, int Epochs, long Seen, long Total, float Loss, float Accuracy, double ImagesPerSecond);

/// <summary>What a training run produced.</summary>
public sealed record MnistResult(MnistCnn Model, IReadOnlyList<EpochStats> Epochs, float TestAccuracy, int TestCount, string WeightsPath, string PlotPath);

/// <summary>The training loop, kept out of Program.cs so that the tests run the very same code.</summary>
public static class MnistTraining
{
    /// <summary>Trains, tests, saves and plots. <paramref name="log"/> gets one summary line per epoch;
    /// <paramref name="progress"/> (optional) the running figures after every batch, for a progress bar.</summary>
    public static MnistResult Run(MnistOptions o, Action<string>? log = null, Action<BatchProgress>? progress = null)
    {
        // Fail before training, not after it, when the results can't be written.
        EnsureWritable(o.OutDir);
        Rng.ManualSeed(o.Seed);
        var (images, labels) = global::SharpGrad.Data.Mnist.Load(Path.Combine(o.DataDir, "mnist10k-images-idx3-ubyte.gz"), Path.Combine(o.DataDir, "mnist10k-labels-idx1-ubyte.gz"));
        int n = (int)images.Size(0);
        if (o.TrainCount + o.TestCount > n)
            throw new ArgumentException($"{o.TrainCount} training + {o.TestCount} test images requested, but the file holds only {n}.");
        var (xtr, ytr) = (images.Narrow(0, 0, o.TrainCount), labels.Narrow(0, 0, o.TrainCount));
        var (xte, yte) = (images.Narrow(0, n - o.TestCount, o.TestCount), labels.Narrow(0, n - o.TestCount, o.TestCount));
        var loader = new DataLoader(new TensorDataset(xtr, ytr), batchSize: o.BatchSize, shuffle: true, seed: o.Seed);

        var model = new MnistCnn();
        // Compiled mode: the forward (and its backward) generated at build time from MnistCnn.Forward. It reads the
        // model's parameters on every call, so the optimizer's updates are seen; the loss, Backward and the optimizer
        // around it are the ordinary eager ones.
        MnistCnn.Compiled? compiled = o.Mode == MnistMode.Compiled ? model.Compile() : null;
        Func<Tensor, Tensor> forward = compiled is null ? model.Forward : compiled.Forward;
        long total = o.TrainCount;
        var optimizer = new Adam(model.Parameters(), lr: o.LearningRate);
        // The learning rate falls along a half cosine to 0 over the run (PyTorch: CosineAnnealingLR(opt, T_max=epochs)).
        var schedule = new CosineAnnealingLR(optimizer, tMax: o.Epochs);
        var epochs = new List<EpochStats>();
        float testAcc = 0;
        for (int epoch = 1; epoch <= o.Epochs; epoch++)
        {
            model.Train();
            var sw = Stopwatch.StartNew();
            double lossSum = 0;
            long correct = 0, seen = 0;
            foreach (var batch in loader)
            {
                var (x, y) = (batch[0], batch[1]);
                optimizer.ZeroGrad();
                var logits = forward(x);
                var loss = Losses.CrossEntropy(logits, y);
                loss.Backward();
                optimizer.Step();
                int b = (int)x.Size(0);
                lossSum += loss.Item() * b;
                correct += CountCorrect(logits, y);
                seen += b;
                progress?.Invoke(new BatchProgress(epoch, o.Epochs, seen, total, (float)(lossSum / seen), (float)correct / seen, seen / sw.Elapsed.TotalSeconds));
            }
            double secs = sw.Elapsed.TotalSeconds;
            schedule.Step();
            float testLoss;
            (testAcc, testLoss) = EvaluateWithLoss(model, xte, yte, forward);
            var stats = new EpochStats(epoch, (float)(lossSum / seen), (float)correct / seen, testAcc, testLoss, seen / secs, secs);
            epochs.Add(stats);
            log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"epoch {epoch}/{o.Epochs}  loss {stats.Loss:F4}  test loss {stats.TestLoss:F4}  train accuracy {stats.TrainAccuracy:P2}  test accuracy {stats.TestAccuracy:P2}  {stats.ImagesPerSecond:F0} images/s  ({secs:F1} s)"));
        }

        Directory.CreateDirectory(o.OutDir);
        var path = Path.Combine(o.OutDir, "mnist_cnn.safetensors");
        model.Save(path);
        var plotPath = Path.Combine(o.OutDir, "loss.png");
        SaveLossPlot(epochs, plotPath);
        return new MnistResult(model, epochs, testAcc, o.TestCount, path, plotPath);
    }

    /// <summary>Creates <paramref name="dir"/> if needed and checks that a file can be written in it.</summary>
    /// <exception cref="IOException">The folder can't be created or written to (the message names it and why).</exception>
    public static void EnsureWritable(string dir)
    {
        try
        {
            Directory.CreateDirectory(dir);
            var probe = Path.Combine(dir, ".mnist-write-test-" + Environment.ProcessId);
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new IOException($"can't write the results to --out '{dir}': {e.Message} Choose a folder you can write to.", e);
        }
    }

    /// <summary>The training and test loss per epoch, drawn with ScottPlot (640×480 PNG).</summary>
    public static void SaveLossPlot(IReadOnlyList<EpochStats> epochs, string path)
    {
        var plot = new ScottPlot.Plot();
        var ep = epochs.Select(e => (double)e.Epoch).ToArray();
        plot.Add.Scatter(ep, epochs.Select(e => (double)e.Loss).ToArray()).LegendText = "training";
        plot.Add.Scatter(ep, epochs.Select(e => (double)e.TestLoss).ToArray()).LegendText = "test";
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(1); // whole epochs
        plot.Title("MNIST CNN loss");
        plot.XLabel("epoch");
        plot.YLabel("loss");
        plot.ShowLegend();
        plot.SavePng(path, 640, 480);
    }

    /// <summary>Accuracy of <paramref name="model"/> on (x, y) in eval mode without gradients, in batches of 500.</summary>
    public static float Evaluate(MnistCnn model, Tensor x, Tensor y) => EvaluateWithLoss(model, x, y).Accuracy;

    /// <summary>Accuracy and mean cross-entropy of <paramref name="model"/> on (x, y) in eval mode without gradients, in batches of 500.</summary>
    /// <remarks><paramref name="forward"/> is the forward to use (the compiled one), <c>model.Forward</c> when null.</remarks>
    public static (float Accuracy, float Loss) EvaluateWithLoss(MnistCnn model, Tensor x, Tensor y, Func<Tensor, Tensor>? forward = null)
    {
        forward ??= model.Forward;
        model.Eval();
        using var ng = Autograd.NoGrad();
        long correct = 0;
        double lossSum = 0;
        int n = (int)x.Size(0);
        for (int i = 0; i < n; i += 500)
        {
            int len = Math.Min(500, n - i);
            var (xb, yb) = (x.Narrow(0, i, len), y.Narrow(0, i, len));
            var logits = forward(xb);
            correct += CountCorrect(logits, yb);
            lossSum += Losses.CrossEntropy(logits, yb).Item() * len;
        }
        return ((float)correct / n, (float)(lossSum / n));
    }

    private static long CountCorrect(Tensor logits, Tensor y)
    {
        using var ng = Autograd.NoGrad();
        return (long)logits.ArgMax(1).Eq(y).To(DType.Float32).Sum().Item();
    }
}
