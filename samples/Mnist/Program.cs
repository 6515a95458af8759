// Trains a small CNN on the repository's MNIST copy (8,000 training / 2,000 test images), compiled (default) or eager.
//   dotnet run --project samples/Mnist -- [--epochs N] [--batch-size N] [--mode compiled|eager] [--train N] [--test N] [--out DIR] [--data DIR]
using System.Globalization;
using SharpGrad.Samples.Mnist;
using Spectre.Console;

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
                    (Adam, learning rate 0.002 annealed along a cosine).
                    Options:
                      --epochs N       passes over the training images (default 5)
                      --batch-size N   images per optimizer step (default 32)
                      --mode MODE      compiled: the forward and backward the generator wrote at build time (model.Compile());
                                       eager: MnistCnn.Forward op by op on the autograd tape (default compiled)
                      --out DIR        folder for mnist_cnn.safetensors and loss.png (default: out)
                      --train N        training images: the first N of the file (default 8000)
                      --test N         test images: the last N of the file (default 2000)
                      --data DIR       folder with mnist10k-images-idx3-ubyte.gz and mnist10k-labels-idx1-ubyte.gz (default: Data next to the program)
                      --help           this text
                    """);
                return 0;
            case "--epochs": options.Epochs = Positive("--epochs"); break;
            case "--batch-size": options.BatchSize = Positive("--batch-size"); break;
            case "--mode":
                var mode = Value();
                options.Mode = mode switch
                {
                    "compiled" => MnistMode.Compiled,
                    "eager" => MnistMode.Eager,
                    _ => throw new ArgumentException($"--mode expects 'compiled' or 'eager', but got '{mode}'."),
                };
                break;
            case "--train": options.TrainCount = Positive("--train"); break;
            case "--test": options.TestCount = Positive("--test"); break;
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

Console.WriteLine($"Mnist: {options.Mode.ToString().ToLowerInvariant()} mode, {options.Epochs} epochs, batch size {options.BatchSize}");
MnistResult result;
try
{
    // A progress bar per epoch on a terminal (Spectre.Console); one summary line per epoch when the output is redirected.
    result = TrainingProgress.Show(AnsiConsole.Console, interactive: !Console.IsOutputRedirected, Console.Out,
        (log, progress) => MnistTraining.Run(options, log, progress));
}
catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"Mnist: {e.Message}");
    return 2;
}
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"test accuracy: {result.TestAccuracy:P2} ({result.TestCount} images); weights saved to {result.WeightsPath}; loss plot written to {result.PlotPath}"));
return 0;
