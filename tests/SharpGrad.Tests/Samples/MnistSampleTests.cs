using System.Diagnostics;
using SharpGrad.Samples.Mnist;
using SharpGrad.Tests.Support;
using Spectre.Console.Testing;

namespace SharpGrad.Tests.Samples;

[Collection(GlobalRngCollection.Name)]
public class MnistSampleTests
{
    private static string DataDir => Path.Combine(AppContext.BaseDirectory, "Data", "Files");

    [Theory]
    [InlineData(MnistMode.Compiled)]
    [InlineData(MnistMode.Eager)]
    public void TrainingOnATinySubsetLowersTheLossAndWritesLoadableWeights(MnistMode mode)
    {
        var dir = Path.Combine(Path.GetTempPath(), "sharpgrad-mnist-sample-" + Guid.NewGuid().ToString("N"));
        try
        {
            var lines = new List<string>();
            var options = new MnistOptions
            {
                Epochs = 3, BatchSize = 32, TrainCount = 256, TestCount = 100, OutDir = dir, Mode = mode,
                DataDir = DataDir,
            };
            var batches = new List<BatchProgress>();
            var result = MnistTraining.Run(options, lines.Add, batches.Add);

            // Progress after every batch (256 / 32 = 8 per epoch), counting the images of the epoch up to its total.
            Assert.Equal(3 * 8, batches.Count);
            for (int i = 0; i < batches.Count; i++)
            {
                Assert.Equal((i / 8 + 1, 3, 32L * (i % 8 + 1), 256L), (batches[i].Epoch, batches[i].Epochs, batches[i].Seen, batches[i].Total));
                Assert.InRange(batches[i].Accuracy, 0f, 1f);
                Assert.True(batches[i].ImagesPerSecond > 0);
            }
            // The last batch's running figures are the epoch's.
            for (int e = 0; e < 3; e++)
            {
                Assert.Equal(result.Epochs[e].Loss, batches[8 * e + 7].Loss, 1e-6f);
                Assert.Equal(result.Epochs[e].TrainAccuracy, batches[8 * e + 7].Accuracy, 1e-6f);
            }

            // One progress line per epoch, with loss, accuracy and speed.
            Assert.Equal(3, lines.Count);
            for (int e = 0; e < 3; e++)
            {
                Assert.StartsWith($"epoch {e + 1}/3  loss ", lines[e]);
                Assert.Contains("accuracy", lines[e]);
                Assert.Contains("images/s", lines[e]);
            }
            Assert.True(result.Epochs[^1].Loss < result.Epochs[0].Loss,
                $"the mean training loss should fall: {string.Join(", ", result.Epochs.Select(s => s.Loss))}");
            Assert.True(result.Epochs[^1].Loss < MathF.Log(10), "after three epochs the loss should be below chance level ln 10");

            // Test loss per epoch, and the loss plot: a valid PNG of the requested size.
            Assert.All(result.Epochs, e => Assert.True(e.TestLoss > 0 && float.IsFinite(e.TestLoss), $"test loss {e.TestLoss}"));
            Assert.Contains("test loss ", lines[0]);
            Assert.Equal(Path.Combine(dir, "loss.png"), result.PlotPath);
            PngCheck.AssertPlot(result.PlotPath);

            // The weights file exists and holds the trained model: reloaded, it gives the same logits.
            Assert.True(File.Exists(result.WeightsPath));
            Assert.Equal(Path.Combine(dir, "mnist_cnn.safetensors"), result.WeightsPath);
            var loaded = Module.Load<MnistCnn>(result.WeightsPath);
            var (images, labels) = global::SharpGrad.Data.Mnist.Load(Path.Combine(options.DataDir, "mnist10k-images-idx3-ubyte.gz"), Path.Combine(options.DataDir, "mnist10k-labels-idx1-ubyte.gz"));
            var x = images.Narrow(0, 9900, 100);
            using (Autograd.NoGrad())
            {
                result.Model.Eval();
                loaded.Eval();
                TensorAssert.Close(result.Model.Forward(x), loaded.Forward(x), 0, 0, "logits of the reloaded model");

                // The reported test accuracy, recounted by hand on the last 100 images.
                var lt = result.Model.Forward(x).Contiguous();
                var logits = lt.Data<float>();
                var yt = labels.Narrow(0, 9900, 100).Contiguous();
                var y = yt.Data<long>();
                int off = lt.Offset, correct = 0;
                for (int i = 0; i < 100; i++, off += 10)
                {
                    int best = 0;
                    for (int c = 1; c < 10; c++) if (logits[off + c] > logits[off + best]) best = c;
                    if (best == y[yt.Offset + i]) correct++;
                }
                Assert.Equal(correct / 100f, result.TestAccuracy, 1e-6f);
            }
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void TheProgressIsABarPerEpochOnATerminalAndOneLinePerEpochOtherwise()
    {
        var p1 = new BatchProgress(1, 2, 96, 320, 1.5f, 0.25f, 1000);
        var p2 = new BatchProgress(1, 2, 320, 320, 0.75f, 0.5f, 1200);
        var q1 = new BatchProgress(2, 2, 160, 320, 0.5f, 0.75f, 1100);
        Assert.Equal("epoch 1/2  loss 1.5000  accuracy 25.00%  1000 images/s", TrainingProgress.Describe(p1).Replace(" %", "%"));
        int Train(Action<string> log, Action<BatchProgress> progress)
        {
            progress(p1);
            progress(p2);
            log("epoch 1/2  loss 0.7500  summary one");
            progress(q1);
            log("epoch 2/2  loss 0.4000  summary two");
            return 42;
        }

        // A terminal: Spectre.Console's progress display; each epoch's bar ends full, described by its summary.
        var terminal = new TestConsole().Interactive();
        terminal.Profile.Width = 160;
        Assert.Equal(42, TrainingProgress.Show(terminal, interactive: true, TextWriter.Null, Train));
        var screen = terminal.Output;
        Assert.Contains("epoch 1/2  loss 0.7500  summary one", screen);
        Assert.Contains("epoch 2/2  loss 0.4000  summary two", screen);
        Assert.Contains("100%", screen);

        // Redirected: one line per epoch, nothing per batch.
        var log = new StringWriter();
        Assert.Equal(42, TrainingProgress.Show(new TestConsole(), interactive: false, log, Train));
        Assert.Equal("epoch 1/2  loss 0.7500  summary one" + Environment.NewLine + "epoch 2/2  loss 0.4000  summary two" + Environment.NewLine, log.ToString());
    }

    /// <summary>Runs the built sample program with <paramref name="args"/>; returns its exit code, stdout and stderr.</summary>
    internal static (int ExitCode, string Out, string Err) RunProgram(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Mnist.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }

    [Fact]
    public void TheProgramListsItsOptionsAndRejectsABadMode()
    {
        var (code, stdout, _) = RunProgram("--help");
        Assert.Equal(0, code);
        foreach (var option in new[] { "--epochs", "--batch-size", "--mode", "compiled", "eager", "--out", "--data", "--train", "--test" })
            Assert.Contains(option, stdout);

        (code, _, var stderr) = RunProgram("--mode", "fast");
        Assert.Equal(2, code);
        Assert.Contains("--mode expects 'compiled' or 'eager', but got 'fast'", stderr);
    }

    [Theory]
    [InlineData("compiled")]
    [InlineData("eager")]
    public void TheProgramRunsEndToEndWithRedirectedOutput(string mode)
    {
        var dir = Path.Combine(Path.GetTempPath(), "sharpgrad-mnist-program-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, stdout, stderr) = RunProgram("--epochs", "2", "--batch-size", "16", "--train", "64", "--test", "50",
                "--mode", mode, "--out", dir, "--data", DataDir);
            Assert.True(code == 0, $"exit code {code}: {stderr}");
            // Redirected: no \r drawing, one summary line per epoch between the header and the result.
            Assert.DoesNotContain('\r', stdout);
            var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Equal(4, lines.Length);
            Assert.Equal($"Mnist: {mode} mode, 2 epochs, batch size 16", lines[0]);
            Assert.StartsWith("epoch 1/2  loss ", lines[1]);
            Assert.StartsWith("epoch 2/2  loss ", lines[2]);
            Assert.Contains("images/s", lines[2]);
            Assert.StartsWith("test accuracy: ", lines[3]);
            Assert.Contains("(50 images)", lines[3]);
            Assert.True(File.Exists(Path.Combine(dir, "mnist_cnn.safetensors")));
            Assert.True(File.Exists(Path.Combine(dir, "loss.png")));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void TheCnnIsCompiledWithItsDeclaredShapes()
    {
        // The [Shape] on MnistCnn.Forward puts it in the compiled slice: Compile() exists, and its Forward gives the
        // eager Forward's logits on the same parameters.
        Rng.ManualSeed(3);
        var model = new MnistCnn();
        model.Eval(); // Dropout is the identity in evaluation, so both modes see the same network
        var compiled = model.Compile();
        var x = Tensor.Randn([5, 1, 28, 28]);
        using (Autograd.NoGrad())
            TensorAssert.Close(model.Forward(x), compiled.Forward(x), 1e-4, 1e-5, "compiled vs eager logits"); // float32 sums
        var ex = Assert.Throws<ArgumentException>(() => compiled.Forward(Tensor.Randn([5, 1, 27, 28])));
        Assert.Contains("28", ex.Message);
    }
}

/// <summary>
/// Two training runs that must start from the same weights: they reseed <c>Rng.Default</c> and draw from it for the whole
/// run, so they run alone (any test constructing a layer meanwhile would draw from the same generator).
/// </summary>
[Collection(DefaultRngCollection.Name)]
public class MnistModesAgreeTests
{
    private static string DataDir => Path.Combine(AppContext.BaseDirectory, "Data", "Files");

    [Fact]
    public void CompiledAndEagerModesTrainTheSameModel()
    {
        // Same seed, same initial weights, same batches: the compiled forward/backward computes the eager one's values
        // (up to float32 rounding in a different order), so the two runs' losses agree closely.
        MnistResult Train(MnistMode mode) => MnistTraining.Run(new MnistOptions
        {
            Epochs = 2, BatchSize = 32, TrainCount = 128, TestCount = 64, Mode = mode, DataDir = DataDir,
            OutDir = Path.Combine(Path.GetTempPath(), "sharpgrad-mnist-modes-" + Guid.NewGuid().ToString("N")),
        });
        var compiled = Train(MnistMode.Compiled);
        var eager = Train(MnistMode.Eager);
        try
        {
            for (int e = 0; e < 2; e++)
            {
                // 1e-3 relative: two epochs of Adam steps amplify the float32 rounding differences.
                Assert.Equal(eager.Epochs[e].Loss, compiled.Epochs[e].Loss, eager.Epochs[e].Loss * 1e-3f);
                Assert.Equal(eager.Epochs[e].TestLoss, compiled.Epochs[e].TestLoss, eager.Epochs[e].TestLoss * 1e-3f);
            }
        }
        finally
        {
            foreach (var r in new[] { compiled, eager })
                Directory.Delete(Path.GetDirectoryName(r.WeightsPath)!, recursive: true);
        }
    }
}
