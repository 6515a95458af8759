using SharpGrad;

namespace SharpGrad.Tests.Support;

/// <summary>
/// Finite-difference check (Float64) of a module's parameter gradients and of its inputs' gradients: compares the analytical
/// gradient of sum(f(inputs) · w) (w a fixed random weight) with central differences, perturbing each parameter element in place.
/// </summary>
public static class ModuleGradCheck
{
    public static void Check(Module module, Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 1e-6, double rtol = 1e-5, double atol = 1e-7)
    {
        var ps = module.NamedParameters().ToArray();
        Assert.All(ps, p => Assert.Equal(DType.Float64, p.Value.DType));
        module.ZeroGrad();
        var leaves = inputs.Select(x => x.DType == DType.Float64 ? x.Detach().Clone().RequiresGrad_() : x).ToArray();
        var output = f(leaves);
        var weight = Tensor.Randn(output.Shape, DType.Float64, rng: new Rng(99));
        (output * weight).Sum().Backward();

        double Eval()
        {
            using (Autograd.NoGrad()) return (f(leaves) * weight).Sum().ItemDouble();
        }

        foreach (var (name, p) in ps)
        {
            Assert.True(p.Grad is not null, $"parameter {name}: no gradient was computed");
            var analytic = p.Grad!.ToDoubleArray();
            var data = p.Span<double>();
            var numeric = new double[data.Length];
            for (int i = 0; i < data.Length; i++)
            {
                double v = data[i];
                data[i] = v + eps;
                double plus = Eval();
                data[i] = v - eps;
                double minus = Eval();
                data[i] = v;
                numeric[i] = (plus - minus) / (2 * eps);
            }
            TensorAssert.Close(numeric, analytic, rtol, atol, $"gradient of parameter {name}");
        }
        for (int k = 0; k < leaves.Length; k++)
        {
            var leaf = leaves[k];
            if (leaf.DType != DType.Float64) continue;
            var analytic = leaf.Grad!.ToDoubleArray();
            var data = leaf.Span<double>();
            var numeric = new double[data.Length];
            for (int i = 0; i < data.Length; i++)
            {
                double v = data[i];
                data[i] = v + eps;
                double plus = Eval();
                data[i] = v - eps;
                double minus = Eval();
                data[i] = v;
                numeric[i] = (plus - minus) / (2 * eps);
            }
            TensorAssert.Close(numeric, analytic, rtol, atol, $"gradient of input {k}");
        }
    }
}
