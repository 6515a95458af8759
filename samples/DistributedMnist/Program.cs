// Trains the Mnist sample's CNN on several processes with DistributedDataParallel over MPI:
//   mpiexec -n 2 dotnet run --project samples/DistributedMnist -- [--epochs N] [--batch-size N] [--mode compiled|eager] [--train N] [--test N] [--out DIR] [--data DIR]
// Started without mpiexec it trains as one process (a group of size 1).
using System.Globalization;
using SharpGrad.Distributed;
using SharpGrad.Samples.DistributedMnist;

var options = new DistributedMnistOptions();
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
                    DistributedMnist: trains the Mnist sample's CNN on 8,000 MNIST digits with data-parallel training over MPI
                    (DistributedDataParallel), and tests it on 2,000. Run it with `mpiexec -n 2 dotnet run --project samples/DistributedMnist`;
                    without mpiexec it is one process.
                    Options:
                      --epochs N       passes over the training images (default 5)
                      --batch-size N   images per optimizer step over all ranks, a multiple of the number of ranks (default 32)
                      --mode MODE      compiled (default) or eager
                      --train N        training images: the first N of the file (default 8000)
                      --test N         test images: the last N of the file (default 2000)
                      --out DIR        folder for mnist_cnn.safetensors, written by rank 0 (default: out)
                      --data DIR       folder with the MNIST files (default: Data next to the program)
                    """);
                return 0;
            case "--epochs": options.Epochs = Positive("--epochs"); break;
            case "--batch-size": options.BatchSize = Positive("--batch-size"); break;
            case "--mode":
                var mode = Value();
                options.Compiled = mode switch
                {
                    "compiled" => true,
                    "eager" => false,
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
        Console.Error.WriteLine($"DistributedMnist: {e.Message}");
        return 2;
    }
}

using var group = ProcessGroup.InitMpi();
// Every rank runs the same program; rank 0 speaks for all of them.
Action<string>? log = group.Rank == 0 ? Console.WriteLine : null;
log?.Invoke($"DistributedMnist: {group.Size} rank(s) on {group.Backend}; {(options.Compiled ? "compiled" : "eager")} mode, {options.Epochs} epochs, " +
            $"batch size {options.BatchSize} ({options.BatchSize / Math.Max(1, group.Size)} per rank)");
try
{
    var (_, epochs, path) = DistributedTraining.Run(group, options, log);
    log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"test accuracy: {epochs[^1].TestAccuracy:P2} ({options.TestCount} images); weights saved to {path}"));
}
catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or DistributedException)
{
    // Every rank checks the same options and reads the same files, so every rank stops here.
    if (group.Rank == 0) Console.Error.WriteLine($"DistributedMnist: {e.Message}");
    return 2;
}
return 0;
