namespace SharpGrad.Generator.Tests.Acceptance;

/// <summary>Compares a compiled program with the eager module it was generated from: outputs, input gradients, parameter gradients.</summary>
internal static class Eager
{
    /// <summary>
    /// Runs <paramref name="eager"/> and <paramref name="compiled"/> on copies of <paramref name="inputs"/> (float inputs
    /// require grad), backward from the same random output gradient, and asserts that the outputs, the float inputs'
    /// gradients and every parameter's gradient agree to 1e-4 relative (1e-5 absolute).
    /// </summary>
    public static void Compare(Module model, Tensor[] inputs, Func<Tensor[], Tensor> eager, Func<Tensor[], Tensor> compiled)
    {
        var parameters = model.Parameters().ToList();
        Assert.NotEmpty(parameters);
        var reference = eager(inputs.Select(x => x.Detach()).ToArray());
        var seedGrad = Tensor.Randn(reference.Shape, rng: new Rng(99));
        var (outE, gxE, gpE) = Run(eager, inputs, seedGrad, parameters);
        var (outC, gxC, gpC) = Run(compiled, inputs, seedGrad, parameters);
        Close(outE, outC, "output");
        for (int i = 0; i < gxE.Count; i++) Close(gxE[i], gxC[i], $"gradient of input {i}");
        for (int i = 0; i < parameters.Count; i++) Close(gpE[i], gpC[i], $"gradient of parameter {i}");
    }

    private static (Tensor Out, List<Tensor?> InputGrads, List<Tensor?> ParamGrads) Run(Func<Tensor[], Tensor> forward, Tensor[] inputs, Tensor seedGrad, List<Tensor> parameters)
    {
        foreach (var p in parameters) p.Grad = null;
        var xs = inputs.Select(x => x.DType == DType.Float32 ? x.Detach().Clone().RequiresGrad_() : x).ToArray();
        var y = forward(xs);
        y.Backward(seedGrad);
        return (y.Detach(), xs.Where(x => x.RequiresGrad).Select(x => x.Grad).ToList(), parameters.Select(p => p.Grad).ToList());
    }

    private static void Close(Tensor? expected, Tensor? actual, string what)
    {
        if (expected is null && actual is null) return;   // a parameter Forward does not use (a base's private layer): none either way
        Assert.True(expected is not null, what + ": eager gave no gradient");
        Assert.True(actual is not null, what + ": the compiled program gave no gradient");
        Assert.Equal(expected!.Shape, actual!.Shape);
        var e = expected.ToArray();
        var a = actual.ToArray();
        for (int i = 0; i < e.Length; i++)
        {
            double tolerance = 1e-5 + 1e-4 * Math.Abs(e[i]);
            Assert.True(Math.Abs(e[i] - a[i]) <= tolerance || (float.IsNaN(e[i]) && float.IsNaN(a[i])),
                $"{what}: element {i} is {a[i]} compiled and {e[i]} eager (tolerance {tolerance:g3})");
        }
    }
}
