using System.Diagnostics;
using System.Globalization;
using SharpGrad.Data;
using SharpGrad.Distributed;
using SharpGrad.Optimizers;
using SharpGrad.Samples.Mnist;

namespace SharpGrad.Samples.DistributedMnist;

/// <summary>The sample's settings (command-line options).</summary>
public sealed class DistributedMnistOptions
{
    public int Epochs { get; set; } = 5;
    /// <summary>Images per optimizer step over all ranks; each rank takes BatchSize / ranks of them.</summary>
    public int BatchSize { get; set; } = 32;
    public bool Compiled { get; set; } = true;
    public int TrainCount { get; set; } = 8000;
    public int TestCount { get; set; } = 2000;
    public string DataDir { get; set; } = Path.Combine(AppContext.BaseDirectory, "Data");
    public string OutDir { get; set; } = "out";
    public double LearningRate { get; set; } = 2e-3;
    public int Seed { get; set; }
}

/// <summary>One epoch's figures over all ranks.</summary>
public sealed record DistributedEpoch(int Epoch, double Loss, double TrainAccuracy, double TestAccuracy, double TestLoss, double ImagesPerSecond, double CommunicationShare);

/// <summary>
/// Data-parallel training of the Mnist sample's CNN: every rank holds the model, reads its own share of each epoch
/// (DistributedSampler), and DistributedDataParallel averages the gradients, so that the ranks take the same Adam steps
/// as one process would on the whole batch.
/// </summary>
public static class DistributedTraining
{
    public static (MnistCnn Model, IReadOnlyList<DistributedEpoch> Epochs, string WeightsPath) Run(ProcessGroup group, DistributedMnistOptions o, Action<string>? log = null)
    {
        if (o.BatchSize % group.Size != 0)
        {
            throw new ArgumentException($"--batch-size {o.BatchSize} must be a multiple of the number of ranks ({group.Size}): each rank takes an equal share of every batch.");
        }
        var (images, labels) = global::SharpGrad.Data.Mnist.Load(Path.Combine(o.DataDir, "mnist10k-images-idx3-ubyte.gz"), Path.Combine(o.DataDir, "mnist10k-labels-idx1-ubyte.gz"));
        int n = images.Size(0);
        if (o.TrainCount + o.TestCount > n) throw new ArgumentException($"{o.TrainCount} training + {o.TestCount} test images requested, but the file holds only {n}.");
        var (xtr, ytr) = (images.Narrow(0, 0, o.TrainCount), labels.Narrow(0, 0, o.TrainCount));
        var (xte, yte) = (images.Narrow(0, n - o.TestCount, o.TestCount), labels.Narrow(0, n - o.TestCount, o.TestCount));

        Rng.ManualSeed(o.Seed);
        var model = new MnistCnn();
        // Copies rank 0's initial weights to every rank; from now on gradients are averaged after every backward.
        using var ddp = new DistributedDataParallel(model, group);
        Rng.ManualSeed(o.Seed + 1 + group.Rank); // each rank its own dropout masks
        Func<Tensor, Tensor> forward = o.Compiled ? model.Compile().Forward : model.Forward;

        // Each epoch a new permutation of the training images (the same on every rank), of which rank r takes every
        // size-th; batches of BatchSize / size per rank add up to one batch of BatchSize.
        var sampler = new DistributedSampler(o.TrainCount, group, shuffle: true, seed: o.Seed);
        var loader = new DataLoader(new TensorDataset(xtr, ytr), batchSize: o.BatchSize / group.Size, sampler: sampler);
        var optimizer = new Adam(model.Parameters(), lr: o.LearningRate);
        var schedule = new CosineAnnealingLR(optimizer, tMax: o.Epochs);
        var epochs = new List<DistributedEpoch>();
        for (int epoch = 1; epoch <= o.Epochs; epoch++)
        {
            sampler.SetEpoch(epoch);
            model.Train();
            var waitBefore = ddp.CommunicationWait;
            var watch = Stopwatch.StartNew();
            double lossSum = 0, correct = 0, seen = 0;
            foreach (var batch in loader)
            {
                var (x, y) = (batch[0], batch[1]);
                optimizer.ZeroGrad();
                var logits = forward(x);
                var loss = Losses.CrossEntropy(logits, y);
                loss.Backward(); // DDP averages the gradients across the ranks during this call
                optimizer.Step();
                lossSum += loss.Item() * x.Size(0);
                correct += CountCorrect(logits, y);
                seen += x.Size(0);
            }
            double seconds = watch.Elapsed.TotalSeconds;
            double share = (ddp.CommunicationWait - waitBefore).TotalSeconds / seconds;
            schedule.Step();
            var totals = Sum(group, lossSum, correct, seen, share);
            var (testAccuracy, testLoss) = Evaluate(group, model, forward, xte, yte);
            var stats = new DistributedEpoch(epoch, totals[0] / totals[2], totals[1] / totals[2], testAccuracy, testLoss, totals[2] / seconds, totals[3] / group.Size);
            epochs.Add(stats);
            log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"epoch {epoch}/{o.Epochs}  loss {stats.Loss:F4}  test loss {stats.TestLoss:F4}  train accuracy {stats.TrainAccuracy:P2}  test accuracy {stats.TestAccuracy:P2}  " +
                $"{stats.ImagesPerSecond:F0} images/s  waiting for gradients {stats.CommunicationShare:P1}  ({seconds:F1} s)"));
        }

        var path = Path.Combine(o.OutDir, "mnist_cnn.safetensors");
        // Rank 0 writes the weights (the same on every rank) while the others wait; a failure is reported on every rank.
        group.Checkpoint(() =>
        {
            Directory.CreateDirectory(o.OutDir);
            model.Save(path);
        });
        return (model, epochs, path);
    }

    /// <summary>Sums a few figures over the ranks.</summary>
    private static double[] Sum(ProcessGroup group, params double[] values)
    {
        var t = Tensor.FromArray(values);
        group.AllReduce(t);
        return t.ToDoubleArray();
    }

    /// <summary>Accuracy and mean cross-entropy on the test images: each rank evaluates its own slice, the counts are summed.</summary>
    private static (double Accuracy, double Loss) Evaluate(ProcessGroup group, MnistCnn model, Func<Tensor, Tensor> forward, Tensor x, Tensor y)
    {
        model.Eval();
        using var noGrad = Autograd.NoGrad();
        int n = x.Size(0), start = (int)((long)n * group.Rank / group.Size), end = (int)((long)n * (group.Rank + 1) / group.Size);
        double correct = 0, lossSum = 0;
        for (int i = start; i < end; i += 500)
        {
            int len = Math.Min(500, end - i);
            var (xb, yb) = (x.Narrow(0, i, len), y.Narrow(0, i, len));
            var logits = forward(xb);
            correct += CountCorrect(logits, yb);
            lossSum += Losses.CrossEntropy(logits, yb).Item() * len;
        }
        var totals = Sum(group, correct, lossSum);
        return (totals[0] / n, totals[1] / n);
    }

    private static double CountCorrect(Tensor logits, Tensor y)
    {
        using var noGrad = Autograd.NoGrad();
        return logits.ArgMax(1).Eq(y).To(DType.Float32).Sum().Item();
    }
}
