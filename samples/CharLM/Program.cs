// Trains a character-level language model on Pride and Prejudice and generates text with it.
//   dotnet run --project samples/CharLM -- [--epochs N] [--model lstm|transformer] [--mode eager|compiled] [--seed N] … (--help)
using System.Globalization;
using SharpGrad.Samples.CharLM;
using SharpGrad.Samples.Shared;

var options = new CharOptions();
var explicitSettings = new HashSet<string>();
var exit = CommandLine.Read("CharLM", args, line =>
{
    switch (line.Option)
    {
        case "-h" or "--help":
            Console.WriteLine("""
                CharLM: trains a character-level language model on Jane Austen's Pride and Prejudice (public domain,
                Data/README.md), then writes text with it. Adam with gradient clipping, learning rate annealed along a cosine.
                Options:
                  --epochs N          passes over the training text (default 2)
                  --model MODEL       lstm: Embedding → LSTM → Linear (default; hidden 256);
                                      transformer: a small GPT (causal pre-norm Transformer layers; width 128, 2 layers)
                  --mode MODE         eager: the model's Forward op by op on the autograd tape (default);
                                      compiled: the training steps run the model's Compile() program (its graph
                                      breaks, listed first, run eagerly)
                  --seed N            weights, batches and sampling (default 0): the same seed gives the same run
                  --temperature T     sampling temperature, > 0 (default 0.7): lower is safer, higher more inventive
                  --generate N        characters generated at the end (default 400)
                  --prompt TEXT       the text the generated characters follow (default "Elizabeth")
                  --batch-size N      sequences per optimizer step (default 32)
                  --seq-len N         characters per sequence (default 64)
                  --hidden N          the LSTM's hidden size or the Transformer's width
                  --layers N          LSTM or Transformer layers
                  --lr X              Adam's learning rate (default 0.004 for the LSTM, 0.002 for the Transformer)
                  --steps N           optimizer steps per epoch (default: one pass over the training text)
                  --text-length N     use only the first N characters of the text (default: all)
                  --text FILE         another UTF-8 text to learn (default: Data/pride-and-prejudice.txt next to the program)
                  --out DIR           folder for charlm.safetensors and loss.png (default: out)
                  --help              this text
                The last tenth of the text is held out: its loss (nats per character) is the validation loss.
                """);
            return false;
        case "--epochs": options.Epochs = line.Int(); break;
        case "--model": options.Model = line.Choice(("lstm", CharModelKind.Lstm), ("transformer", CharModelKind.Transformer)); break;
        case "--mode": options.Mode = line.Choice(("eager", CharMode.Eager), ("compiled", CharMode.Compiled)); break;
        case "--seed": options.Seed = line.Long(); break;
        case "--temperature": options.Temperature = line.Positive(); break;
        case "--generate": options.GenerateLength = line.Int(min: 0); break;
        case "--prompt": options.Prompt = line.Value(); break;
        case "--batch-size": options.BatchSize = line.Int(); break;
        case "--seq-len": options.SequenceLength = line.Int(); break;
        case "--hidden": options.Hidden = line.Int(); explicitSettings.Add("hidden"); break;
        case "--layers": options.Layers = line.Int(); explicitSettings.Add("layers"); break;
        case "--lr": options.LearningRate = line.Positive(); explicitSettings.Add("lr"); break;
        case "--steps": options.StepsPerEpoch = line.Int(); break;
        case "--text-length": options.TextLength = line.Int(); break;
        case "--text": options.TextPath = line.Value(); break;
        case "--out": options.OutDir = line.Value(); break;
        default: throw line.Unknown();
    }
    return true;
});
if (exit is not null) return exit.Value;
// The Transformer's defaults where the LSTM's don't suit it.
if (options.Model == CharModelKind.Transformer)
{
    if (!explicitSettings.Contains("hidden")) options.Hidden = 128;
    if (!explicitSettings.Contains("layers")) options.Layers = 2;
    if (!explicitSettings.Contains("lr")) options.LearningRate = 2e-3;
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"CharLM: {(options.Model == CharModelKind.Lstm ? "LSTM" : "Transformer")} (width {options.Hidden}, {options.Layers} layer{(options.Layers == 1 ? "" : "s")}), {(options.Mode == CharMode.Compiled ? "compiled" : "eager")} mode, {options.Epochs} epochs, batch {options.BatchSize} × {options.SequenceLength} characters, seed {options.Seed}"));
// A progress bar per epoch on a terminal (Spectre.Console); summary lines only when the output is redirected.
var result = TrainingProgress.OnConsole("CharLM", (log, progress) => CharTraining.Run(options, log, progress));
if (result is null) return 2;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"validation loss {result.InitialValidationLoss:F3} → {result.Epochs[^1].ValidationLoss:F3} nats/char; weights saved to {result.WeightsPath}; loss plot written to {result.PlotPath}"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"generated (temperature {options.Temperature}, seed {options.Seed}):"));
Console.WriteLine();
Console.WriteLine(result.Generated);
return 0;
