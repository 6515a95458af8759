// The classic first network: Sequential(Linear(1,10), ReLU(), Linear(10,1)) fits y = x² + noise with Sgd and MSE.
using System.Globalization;
using SharpGrad;
using SharpGrad.Layers;
using SharpGrad.Optimizers;

int steps = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3000;
var result = RegressionDemo.Run(steps, log: Console.WriteLine);
Console.WriteLine($"final MSE against the noise-free curve: {result.CleanMse:F5}");

/// <summary>The training loop, kept in a method so that the tests run the very same code.</summary>
public static class RegressionDemo
{
    public sealed record Result(Sequential Model, float TrainMse, float CleanMse);

    public static Result Run(int steps, Action<string>? log = null, long seed = 0)
    {
        var rng = new Rng(seed);
        Rng.ManualSeed(seed);
        var x = Tensor.Linspace(-1, 1, 100).View(100, 1);
        var clean = x * x;
        var y = clean + Tensor.Randn([100, 1], rng: rng) * 0.05f;

        var model = new Sequential(new Linear(1, 10), new ReLU(), new Linear(10, 1));
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
        return new Result(model, loss, cleanMse);
    }
}
