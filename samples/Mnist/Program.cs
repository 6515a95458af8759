// Trains a small CNN on the repository's MNIST copy (8,000 training / 2,000 test images), eager mode.
//   dotnet run -c Release --project samples/Mnist -- [--epochs N] [--batch-size N] [--out DIR]
using System.Globalization;
using SharpGrad.Samples.Mnist;

var options = new MnistOptions();
for (int i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value (--help lists the options).");
    int Positive(string name)
    {
        var text = Value();
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v > 0
            ? v : throw new ArgumentException($"{name} expects a positive integer, but got '{text}'.");
    }
    try
    {
        switch (args[i])
        {
            case "-h" or "--help":
                Console.WriteLine("""
                    Mnist: trains a small CNN (conv-relu-pool x2, linear) on 8,000 MNIST digits and tests it on 2,000
                    (eager mode; Adam, learning rate 0.002 annealed along a cosine).
                    Options:
                      --epochs N       passes over the training images (default 5)
                      --batch-size N   images per optimizer step (default 32)
                      --out DIR        folder for mnist_cnn.safetensors and loss.png (default: out)
                      --data DIR       folder with mnist10k-images-idx3-ubyte.gz and mnist10k-labels-idx1-ubyte.gz (default: Data next to the program)
                      --help           this text
                    """);
                return 0;
            case "--epochs": options.Epochs = Positive("--epochs"); break;
            case "--batch-size": options.BatchSize = Positive("--batch-size"); break;
            case "--out": options.OutDir = Value(); break;
            case "--data": options.DataDir = Value(); break;
            default: throw new ArgumentException($"unknown option '{args[i]}' (--help lists the options).");
        }
    }
    catch (ArgumentException e)
    {
        Console.Error.WriteLine($"Mnist: {e.Message}");
        return 2;
    }
}

var result = MnistTraining.Run(options, Console.WriteLine);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"test accuracy: {result.TestAccuracy:P2} ({result.TestCount} images); weights saved to {result.WeightsPath}; loss plot written to {result.PlotPath}"));
return 0;
