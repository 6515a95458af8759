using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// A NaN in the output's gradient reaches every unit of the hidden layers; at a ReLU, PyTorch's backward
/// (<c>threshold_backward</c>) writes 0 for the dead units instead of NaN·0, so the gradients of the layers before it
/// stay finite where those units are dead. Compiled and eager agree on every value and every NaN, and the dead units'
/// gradients are +0 in both (MaskedBackwardTests holds the op itself against PyTorch).
/// </summary>
public class CompiledMaskedBackwardTests
{
    [Fact]
    public void MlpDeadUnitsGetZeroGradientUnderANaNUpstream()
    {
        var model = new CompiledMlp();
        var x = Tensor.Randn([1, 40], rng: new Rng(5));
        var (eagerGrads, compiledGrads) = Run(model, x, x => model.Forward(x), x => model.Compile().Forward(x));

        // fc1's units that ReLU kills for this one sample: their weight-gradient rows and bias gradients are +0, the others NaN
        var w1 = model.Parameters().First().ToDoubleArray();
        var b1 = model.Parameters().Skip(1).First().ToDoubleArray();
        var xv = x.ToDoubleArray();
        int units = b1.Length, inputs = xv.Length, dead = 0;
        foreach (var (grads, mode) in new[] { (eagerGrads, "eager"), (compiledGrads, "compiled") })
        {
            var gw1 = grads[0].ToDoubleArray();
            var gb1 = grads[1].ToDoubleArray();
            dead = 0;
            for (int i = 0; i < units; i++)
            {
                double h = b1[i];
                for (int j = 0; j < inputs; j++) h += w1[i * inputs + j] * xv[j];
                if (h > 0)
                {
                    Assert.True(double.IsNaN(gb1[i]), $"{mode}: fc1 unit {i} is live (h = {h:G4}) and its upstream gradient is NaN; its bias gradient is {gb1[i]}");
                    continue;
                }
                dead++;
                Assert.True(gb1[i] == 0 && !double.IsNegative(gb1[i]), $"{mode}: fc1 unit {i} is dead (h = {h:G4}): bias gradient {gb1[i]}, PyTorch gives +0");
                for (int j = 0; j < inputs; j++)
                    Assert.True(gw1[i * inputs + j] == 0, $"{mode}: fc1 unit {i} is dead (h = {h:G4}): weight gradient [{i}, {j}] is {gw1[i * inputs + j]}, PyTorch gives 0");
            }
        }
        Assert.InRange(dead, 1, units - 1);   // the sample has dead and live units, so both branches above ran
    }

    [Fact]
    public void CnnDeadUnitsGetZeroGradientUnderANaNUpstream()
    {
        var model = new CompiledCnn();
        var x = Tensor.Randn([1, 3, 8, 8], rng: new Rng(6));
        var (eagerGrads, compiledGrads) = Run(model, x, x => model.Forward(x), x => model.Compile().Forward(x));
        // dense1's bias gradient (parameter 3): 0 at its dead units, NaN at the live ones, in both modes
        foreach (var (grads, mode) in new[] { (eagerGrads, "eager"), (compiledGrads, "compiled") })
        {
            var gb = grads[3].ToDoubleArray();
            Assert.Contains(gb, v => v == 0);
            Assert.Contains(gb, double.IsNaN);
            Assert.DoesNotContain(gb, v => !double.IsNaN(v) && v != 0);
        }
    }

    /// <summary>Eager, then compiled, backward of one output gradient with a NaN at [0, 3]; every gradient equal (NaN with NaN).</summary>
    private static (List<Tensor> Eager, List<Tensor> Compiled) Run(Module model, Tensor input, Func<Tensor, Tensor> eager, Func<Tensor, Tensor> compiled)
    {
        var ps = model.Parameters().ToList();
        foreach (var p in ps) p.Grad = null;
        var xe = input.Detach().Clone().RequiresGrad_();
        var ye = eager(xe);
        var values = Tensor.Randn(ye.Shape, rng: new Rng(7)).ToArray();
        values[3] = float.NaN;
        var seed = Tensor.FromArray(values, ye.Shape);
        ye.Backward(seed);
        var eagerGrads = ps.Select(p => p.Grad!.Detach().Clone()).ToList();
        foreach (var p in ps) p.Grad = null;
        var xc = input.Detach().Clone().RequiresGrad_();
        compiled(xc).Backward(seed);
        var compiledGrads = ps.Select(p => p.Grad!.Detach().Clone()).ToList();
        for (int i = 0; i < ps.Count; i++)
            TensorAssert.Close(eagerGrads[i], compiledGrads[i], 1e-4, 1e-5, $"gradient of parameter {i}");
        TensorAssert.Close(xe.Grad!, xc.Grad!, 1e-4, 1e-5, "input gradient");
        return (eagerGrads, compiledGrads);
    }
}
