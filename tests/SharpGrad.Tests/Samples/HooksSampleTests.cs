using SharpGrad.Samples.Hooks;

namespace SharpGrad.Tests.Samples;

public class HooksSampleTests
{
    private static readonly string[] Layers = ["fc1", "relu", "fc2", "tanh", "fc3"];

    [Fact]
    public void HooksPrintStatisticsAndGradientNormsPerLayer()
    {
        var lines = new List<string>();
        var (model, events, losses) = HooksDemo.Run(2, lines.Add);

        for (int step = 1; step <= 2; step++)
        {
            // forward hooks fire in layer order, once per layer and step
            var forward = events.Where(e => e.Step == step && e.Kind == "forward").Select(e => e.Name).ToArray();
            Assert.Equal(Layers, forward);
            // backward hooks fire in reverse order
            var backward = events.Where(e => e.Step == step && e.Kind == "backward").Select(e => e.Name).ToArray();
            Assert.Equal(Layers.Reverse(), backward);
            // one tensor hook per parameter (weight and bias of three Linear layers)
            Assert.Equal(6, events.Count(e => e.Step == step && e.Kind == "grad"));
            Assert.Single(events, e => e.Step == step && e.Kind == "activation-grad");
            Assert.Contains(lines, l => l.StartsWith($"step {step} loss ", StringComparison.Ordinal));
            foreach (var name in Layers)
            {
                Assert.Contains(lines, l => l.StartsWith($"step {step} forward", StringComparison.Ordinal) && l.Contains($" {name} ") && l.Contains(" mean ") && l.Contains(" std "));
                Assert.Contains(lines, l => l.StartsWith($"step {step} backward", StringComparison.Ordinal) && l.Contains($" {name} ") && l.Contains("|grad_output|"));
            }

            var relu = events.Single(e => e.Step == step && e.Kind == "forward" && e.Name == "relu");
            Assert.True(relu.Values[0] >= 0 && relu.Values[2] > 0 && relu.Values[2] < 1, "ReLU output: mean ≥ 0, some but not all zeros");
            var tanh = events.Single(e => e.Step == step && e.Kind == "forward" && e.Name == "tanh");
            Assert.InRange(tanh.Values[0], -1, 1);
            // ReLU passes a masked copy of its output gradient back: the norm can only shrink.
            var reluBack = events.Single(e => e.Step == step && e.Kind == "backward" && e.Name == "relu");
            Assert.True(reluBack.Values[1] <= reluBack.Values[0] + 1e-9);
            // the last layer's output gradient is the gradient of the logits (seen by the tensor hook)
            var fc3Back = events.Single(e => e.Step == step && e.Kind == "backward" && e.Name == "fc3");
            var logitsGrad = events.Single(e => e.Step == step && e.Kind == "activation-grad");
            Assert.Equal(logitsGrad.Values[0], fc3Back.Values[0], 1e-6);
        }
        Assert.Equal(2, losses.Count);
        Assert.True(losses[1] < losses[0]);

        // The last step's printed parameter-gradient norms are those of the .Grad tensors, recomputed naively.
        foreach (var (name, p) in model.NamedParameters())
        {
            var g = p.Grad!.Contiguous();
            var data = g.Data<float>();
            double ss = 0;
            for (int i = 0; i < g.NumElements; i++) ss += (double)data[g.Offset + i] * data[g.Offset + i];
            var printed = events.Single(e => e.Step == 2 && e.Kind == "grad" && e.Name == name);
            Assert.Equal(Math.Sqrt(ss), printed.Values[0], 1e-4 * Math.Sqrt(ss) + 1e-9);
        }

        // Disposing the handles removed the hooks: another forward/backward adds no events.
        int before = events.Count;
        var x = Tensor.Randn(4, 20);
        model.Forward(x).Sum().Backward();
        Assert.Equal(before, events.Count);
    }
}
