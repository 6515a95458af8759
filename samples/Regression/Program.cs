// The classic first network: Sequential(Linear(1,10), ReLU(), Linear(10,1)) fits y = x² + noise with Sgd and MSE,
// then saves the model both ways (whole model, state dict), restores it both ways and plots the fit.
//   dotnet run -c Release --project samples/Regression -- [--steps N] [--out DIR]
using System.Globalization;
using SharpGrad;
using SharpGrad.Layers;
using SharpGrad.Optimizers;
using SharpGrad.Serialization;

return RegressionDemo.RunCli(args, Console.Out, Console.Error);

/// <summary>The training loop and the command line, kept in methods so that the tests run the very same code.</summary>
public static class RegressionDemo
{
    public sealed record Result(Sequential Model, float TrainMse, float CleanMse, Tensor X, Tensor Y, Tensor Clean);

    /// <summary>The program: parses <c>--steps N --out DIR --help</c>, trains, saves, restores, compares and plots.</summary>
    public static int RunCli(string[] args, TextWriter stdout, TextWriter stderr)
    {
        int steps = 3000;
        string outDir = "out";
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help":
                    stdout.WriteLine("""
                        Regression: Sequential(Linear(1,10), ReLU(), Linear(10,1)) fits y = x^2 + noise (Sgd, MSE),
                        saves the whole model and its state dict, restores them both ways and plots the fit.
                        Options:
                          --steps N   optimizer steps (default 3000)
                          --out DIR   folder for regression.safetensors, regression_state.safetensors, regression.png (default: out)
                          --help      this text
                        """);
                    return 0;
                case "--steps" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var s) && s > 0:
                    steps = s; i++; break;
                case "--steps":
                    stderr.WriteLine($"Regression: --steps expects a positive integer, but got '{(i + 1 < args.Length ? args[i + 1] : "")}'.");
                    return 2;
                case "--out" when i + 1 < args.Length:
                    outDir = args[++i]; break;
                default:
                    stderr.WriteLine($"Regression: unknown or incomplete option '{args[i]}' (--help lists the options).");
                    return 2;
            }
        }

        var result = Run(steps, log: stdout.WriteLine);
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"final MSE against the noise-free curve: {result.CleanMse:F5}"));
        var model = result.Model;

        // Save: the whole model (architecture + weights), and the weights alone (state dict).
        Directory.CreateDirectory(outDir);
        var modelPath = Path.Combine(outDir, "regression.safetensors");
        var statePath = Path.Combine(outDir, "regression_state.safetensors");
        model.Save(modelPath);
        model.StateDict().Save(statePath);
        stdout.WriteLine($"saved the whole model to {modelPath} and its state dict to {statePath}");

        // Restore: (1) the whole model, (2) a freshly built network given the state dict.
        var restored = Sequential.Load(modelPath);
        #pragma warning disable SG2009 // the sample shows PyTorch's run-time Sequential (nn.Sequential) on purpose
        var fresh = new Sequential(new Linear(1, 10), new ReLU(), new Linear(10, 1));
        #pragma warning restore SG2009
        fresh.LoadStateDict(StateDict.Load(statePath));

        var grid = Tensor.Linspace(-1, 1, 201).View(201, 1);
        float[] pTrained, pRestored, pFresh;
        using (Autograd.NoGrad())
        {
            pTrained = Values(model.Forward(grid));
            pRestored = Values(restored.Forward(grid));
            pFresh = Values(fresh.Forward(grid));
        }
        float d1 = MaxAbsDiff(pTrained, pRestored), d2 = MaxAbsDiff(pTrained, pFresh);
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"predictions on {pTrained.Length} points: trained vs Sequential.Load max abs difference {d1:G3}, trained vs LoadStateDict {d2:G3} -> {(d1 == 0 && d2 == 0 ? "identical" : "DIFFERENT")}"));

        // Plot: noisy data as points, the clean curve x², the fit.
        var xs = Values(result.X).Select(v => (double)v).ToArray();
        var gx = Values(grid).Select(v => (double)v).ToArray();
        var plot = new ScottPlot.Plot();
        plot.Add.ScatterPoints(xs, Values(result.Y).Select(v => (double)v).ToArray()).LegendText = "data";
        plot.Add.ScatterLine(gx, gx.Select(v => v * v).ToArray()).LegendText = "x^2";
        plot.Add.ScatterLine(gx, pTrained.Select(v => (double)v).ToArray()).LegendText = "fit";
        plot.Title("Sequential fit of y = x^2 + noise");
        plot.XLabel("x");
        plot.YLabel("y");
        plot.ShowLegend();
        var pngPath = Path.Combine(outDir, "regression.png");
        plot.SavePng(pngPath, 640, 480);
        stdout.WriteLine($"plot written to {pngPath}");
        return d1 == 0 && d2 == 0 ? 0 : 1;
    }

    private static float[] Values(Tensor t) => t.ToArray();

    private static float MaxAbsDiff(float[] a, float[] b)
    {
        float m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    public static Result Run(int steps, Action<string>? log = null, long seed = 0)
    {
        var rng = new Rng(seed);
        Rng.ManualSeed(seed);
        var x = Tensor.Linspace(-1, 1, 100).View(100, 1);
        var clean = x * x;
        var y = clean + Tensor.Randn([100, 1], rng: rng) * 0.05f;

        #pragma warning disable SG2009 // the sample shows PyTorch's run-time Sequential (nn.Sequential) on purpose
        var model = new Sequential(new Linear(1, 10), new ReLU(), new Linear(10, 1));
        #pragma warning restore SG2009
        var optimizer = new Sgd(model.Parameters(), lr: 0.1f, momentum: 0.9f);
        float loss = float.NaN;
        for (int step = 1; step <= steps; step++)
        {
            optimizer.ZeroGrad();
            var l = Losses.Mse(model.Forward(x), y);
            l.Backward();
            optimizer.Step();
            loss = l.Item();
            if (log is not null && (step % 500 == 0 || step == 1)) log($"step {step,5}  loss {loss:F5}");
        }

        float cleanMse;
        using (Autograd.NoGrad())
        {
            cleanMse = Losses.Mse(model.Forward(x), clean).Item();
        }
        return new Result(model, loss, cleanMse, x, y, clean);
    }
}
