using SharpGrad;

namespace SharpGrad.Tests.Support;

/// <summary>
/// Finite-difference gradient check in Float64, like <c>torch.autograd.gradcheck</c>: compares the analytical gradient of
/// sum(f(inputs) * w) (w a fixed random weight, so every output element matters) with central differences.
/// </summary>
public static class GradCheck
{
    public static void Check(Func<Tensor[], Tensor> f, params Tensor[] inputs) => Check(f, inputs, eps: 1e-6, rtol: 1e-5, atol: 1e-7);

    public static void Check(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps, double rtol, double atol)
    {
        foreach (var x in inputs)
        {
            Assert.True(x.DType != DType.Float32, "GradCheck runs in Float64: create the inputs with DType.Float64.");
        }
        var leaves = inputs.Select(x => x.DType == DType.Float64 ? x.Detach().Clone().RequiresGrad_() : x).ToArray();
        var output = f(leaves);
        var rng = new Rng(77);
        var weight = Tensor.Randn(output.Shape, DType.Float64, rng: rng);
        (output * weight).Sum().Backward();

        for (int k = 0; k < leaves.Length; k++)
        {
            var leaf = leaves[k];
            if (leaf.DType != DType.Float64) continue;
            Assert.True(leaf.Grad is not null, $"input {k}: no gradient was computed");
            var analytic = leaf.Grad!.ToDoubleArray();
            var values = leaf.Detach().ToDoubleArray();
            var numeric = new double[values.Length];
            for (int i = 0; i < values.Length; i++)
            {
                numeric[i] = (Eval(leaves, k, values, i, +eps, f, weight) - Eval(leaves, k, values, i, -eps, f, weight)) / (2 * eps);
            }
            TensorAssert.Close(numeric, analytic, rtol, atol, $"gradient of input {k}");
        }
    }

    private static double Eval(Tensor[] leaves, int k, double[] values, int i, double delta, Func<Tensor[], Tensor> f, Tensor weight)
    {
        var shifted = (double[])values.Clone();
        shifted[i] += delta;
        var args = (Tensor[])leaves.Clone();
        args[k] = Tensor.FromArray(shifted, leaves[k].Shape);
        using (Autograd.NoGrad())
        {
            return (f(args) * weight).Sum().ItemDouble();
        }
    }
}
