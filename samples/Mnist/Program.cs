// Trains a small CNN on the repository's MNIST copy (8,000 training / 2,000 test images), compiled (default) or eager.
//   dotnet run --project samples/Mnist -- [--epochs N] [--batch-size N] [--mode compiled|eager] [--train N] [--test N] [--out DIR] [--data DIR]
using System.Globalization;
using SharpGrad.Samples.Mnist;
using SharpGrad.Samples.Shared;

var options = new MnistOptions();
var exit = CommandLine.Read("Mnist", args, line =>
{
    switch (line.Option)
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
            return false;
        case "--epochs": options.Epochs = line.Int(); break;
        case "--batch-size": options.BatchSize = line.Int(); break;
        case "--mode": options.Mode = line.Choice(("compiled", MnistMode.Compiled), ("eager", MnistMode.Eager)); break;
        case "--train": options.TrainCount = line.Int(); break;
        case "--test": options.TestCount = line.Int(); break;
        case "--out": options.OutDir = line.Value(); break;
        case "--data": options.DataDir = line.Value(); break;
        default: throw line.Unknown();
    }
    return true;
});
if (exit is not null) return exit.Value;

Console.WriteLine($"Mnist: {options.Mode.ToString().ToLowerInvariant()} mode, {options.Epochs} epochs, batch size {options.BatchSize}");
// A progress bar per epoch on a terminal (Spectre.Console); one summary line per epoch when the output is redirected.
var result = TrainingProgress.OnConsole("Mnist", (log, progress) => MnistTraining.Run(options, log, progress));
if (result is null) return 2;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"test accuracy: {result.TestAccuracy:P2} ({result.TestCount} images); weights saved to {result.WeightsPath}; loss plot written to {result.PlotPath}"));
return 0;
