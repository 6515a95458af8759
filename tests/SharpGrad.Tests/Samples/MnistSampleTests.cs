using SharpGrad.Samples.Mnist;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Samples;

public class MnistSampleTests
{
    [Fact]
    public void TrainingOnATinySubsetLowersTheLossAndWritesLoadableWeights()
    {
        var dir = Path.Combine(Path.GetTempPath(), "sharpgrad-mnist-sample-" + Guid.NewGuid().ToString("N"));
        try
        {
            var lines = new List<string>();
            var options = new MnistOptions
            {
                Epochs = 3, BatchSize = 32, TrainCount = 256, TestCount = 100, OutDir = dir,
                DataDir = Path.Combine(AppContext.BaseDirectory, "Data", "Files"),
            };
            var result = MnistTraining.Run(options, lines.Add);

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
            var (pw, ph, _, raw) = PngCheck.Read(File.ReadAllBytes(result.PlotPath));
            Assert.Equal((640, 480), (pw, ph));
            Assert.Equal(ph * (1 + 3 * pw), raw.Length);

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
}
