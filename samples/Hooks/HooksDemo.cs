using System.Globalization;
using SharpGrad.Layers;
using SharpGrad.Optimizers;

namespace SharpGrad.Samples.Hooks;

/// <summary>What one hook saw (the printed lines carry the same numbers).</summary>
/// <param name="Step">Training step, from 1.</param>
/// <param name="Kind">"forward" (module forward hook), "backward" (module full backward hook), "grad" (tensor hook on a
/// parameter), "activation-grad" (tensor hook on an intermediate activation).</param>
/// <param name="Name">Module name ("fc1"), parameter name ("fc1.weight") or activation name.</param>
/// <param name="Values">forward: mean, std, fraction of zeros of the output; backward: norm of grad_output, norm of
/// grad_input (NaN when the module's input needs no gradient); grad/activation-grad: the gradient's norm.</param>
public sealed record HookEvent(int Step, string Kind, string Name, double[] Values);

/// <summary>The demo, kept out of Program.cs so that the tests run the very same code.</summary>
public static class HooksDemo
{
    /// <summary>Trains Sequential(Linear(20,32), ReLU, Linear(32,16), Tanh, Linear(16,3)) for <paramref name="steps"/> SGD steps on
    /// random data with hooks on every layer and parameter; returns the model and every hook event, in firing order.</summary>
    public static (Sequential Model, List<HookEvent> Events, List<float> Losses) Run(int steps, Action<string>? log = null, long seed = 0)
    {
        Rng.ManualSeed(seed);
        #pragma warning disable SG2009 // the sample shows PyTorch's run-time Sequential (nn.Sequential) on purpose
        var model = new Sequential(("fc1", new Linear(20, 32)), ("relu", new ReLU()), ("fc2", new Linear(32, 16)), ("tanh", new Tanh()), ("fc3", new Linear(16, 3)));
        #pragma warning restore SG2009
        var x = Tensor.Randn(64, 20);
        var y = (x.Narrow(1, 0, 3) * 2f).ArgMax(1);   // a learnable labelling: the largest of the first three features
        var optimizer = new Sgd(model.Parameters(), 0.1, momentum: 0.9);
        var events = new List<HookEvent>();
        var losses = new List<float>();
        int step = 0;
        void Emit(string kind, string name, string text, params double[] values)
        {
            events.Add(new HookEvent(step, kind, name, values));
            log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"step {step} {kind,-15} {name,-10} {text}"));
        }

        var handles = new List<HookHandle>();
        foreach (var (name, module) in model.NamedModules())
        {
            if (name.Length == 0) continue;   // the Sequential itself
            // Module forward hook (PyTorch: register_forward_hook): statistics of the layer's output.
            handles.Add(module.RegisterForwardHook((m, inputs, output) =>
            {
                var (mean, std, zeros) = Stats(output);
                Emit("forward", name, string.Create(CultureInfo.InvariantCulture,
                    $"{m.GetType().Name,-7} out {ShapeText(output)} mean {mean:F4} std {std:F4} zeros {zeros:P1}"), mean, std, zeros);
            }));
            // Module full backward hook (PyTorch: register_full_backward_hook): norms of the gradients at the layer's boundary.
            handles.Add(module.RegisterFullBackwardHook((m, gradInput, gradOutput) =>
            {
                double gOut = gradOutput[0] is { } go ? Norm(go) : double.NaN;
                double gIn = gradInput[0] is { } gi ? Norm(gi) : double.NaN;
                Emit("backward", name, string.Create(CultureInfo.InvariantCulture,
                    $"{m.GetType().Name,-7} |grad_output| {gOut:F6} |grad_input| {(double.IsNaN(gIn) ? "none (input needs no grad)" : gIn.ToString("F6", CultureInfo.InvariantCulture))}"), gOut, gIn);
            }));
        }
        // Tensor hooks on the parameters (PyTorch: param.register_hook): the gradient of each weight and bias.
        foreach (var (name, p) in model.NamedParameters())
        {
            var pname = name;
            handles.Add(p.RegisterHook(g => { double n = Norm(g); Emit("grad", pname, string.Create(CultureInfo.InvariantCulture, $"|grad| {n:F6}"), n); }));
        }

        for (step = 1; step <= steps; step++)
        {
            optimizer.ZeroGrad();
            var logits = model.Forward(x);
            // Tensor hook on an intermediate (non-leaf) tensor: the gradient flowing into the logits.
            logits.RegisterHook(g => { double n = Norm(g); Emit("activation-grad", "logits", string.Create(CultureInfo.InvariantCulture, $"|grad| {n:F6}"), n); });
            var loss = Losses.CrossEntropy(logits, y);
            losses.Add(loss.Item());
            log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"step {step} loss {loss.Item():F6}"));
            loss.Backward();
            optimizer.Step();
        }
        foreach (var h in handles) h.Dispose();   // hooks removed: further calls print nothing
        return (model, events, losses);
    }

    /// <summary>Euclidean norm of all elements.</summary>
    public static double Norm(Tensor t)
    {
        using var ng = Autograd.NoGrad();
        return Math.Sqrt((t * t).Sum().Item());
    }

    private static (double Mean, double Std, double Zeros) Stats(Tensor t)
    {
        using var ng = Autograd.NoGrad();
        double n = t.NumElements;
        double mean = t.Sum().Item() / n;
        var centered = t - (float)mean;
        double std = Math.Sqrt((centered * centered).Sum().Item() / Math.Max(1, n - 1));
        double zeros = t.Eq(Tensor.Zeros(t.Shape)).To(DType.Float32).Sum().Item() / n;
        return (mean, std, zeros);
    }

    private static string ShapeText(Tensor t) => "[" + string.Join(", ", t.Shape) + "]";
}
