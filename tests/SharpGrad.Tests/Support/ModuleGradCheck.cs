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
            TensorAssert.Close(Numeric(p, Eval, eps), p.Grad!.ToDoubleArray(), rtol, atol, $"gradient of parameter {name}");
        }
        for (int k = 0; k < leaves.Length; k++)
        {
            if (leaves[k].DType != DType.Float64) continue;
            TensorAssert.Close(Numeric(leaves[k], Eval, eps), leaves[k].Grad!.ToDoubleArray(), rtol, atol, $"gradient of input {k}");
        }
    }

    /// <summary>Central differences of <paramref name="eval"/> with respect to each element of <paramref name="t"/>, changed in place.</summary>
    private static double[] Numeric(Tensor t, Func<double> eval, double eps)
    {
        var numeric = new double[t.NumElements];
        for (int i = 0; i < numeric.Length; i++)
        {
            double v = t.Span<double>()[i];
            t.Span<double>()[i] = v + eps;
            double plus = eval();
            t.Span<double>()[i] = v - eps;
            double minus = eval();
            t.Span<double>()[i] = v;
            numeric[i] = (plus - minus) / (2 * eps);
        }
        return numeric;
    }
}
