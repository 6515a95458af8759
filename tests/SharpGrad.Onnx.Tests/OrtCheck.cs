using Microsoft.ML.OnnxRuntime;
using SharpGrad.Tests.Support;

namespace SharpGrad.Onnx.Tests;

/// <summary>Runs an exported model in ONNX Runtime (CPU provider, one thread) and compares it with SharpGrad's eager
/// Forward.</summary>
internal static class OrtCheck
{
    /// <summary>ORT's single output for one input.</summary>
    public static (float[] Values, long[] Shape) Run(byte[] model, string inputName, Tensor input)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        using var value = input.DType == DType.Int64
            ? OrtValue.CreateTensorValueFromMemory(input.ToLongArray(), input.Shape.Select(d => (long)d).ToArray())
            : OrtValue.CreateTensorValueFromMemory(input.ToArray(), input.Shape.Select(d => (long)d).ToArray());
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [inputName], [value], session.OutputNames);
        Assert.Single(outputs);
        return (outputs[0].GetTensorDataAsSpan<float>().ToArray(), outputs[0].GetTensorTypeAndShape().Shape);
    }

    /// <summary>Exports <paramref name="model"/> (in evaluation mode) and checks ORT against eager Forward at 1e-5 on
    /// each input.</summary>
    public static byte[] ExportAndCompare(Module model, Func<Tensor, Tensor> forward, string inputName, params Tensor[] inputs)
    {
        model.Eval();
        var bytes = OnnxExporter.ExportToBytes(model);
        foreach (var input in inputs)
        {
            Tensor expected;
            using (Autograd.NoGrad()) expected = forward(input);
            var (actual, shape) = Run(bytes, inputName, input);
            Assert.Equal(expected.Shape.Select(d => (long)d), shape);
            TensorAssert.Close(expected.ToArray(), actual, rtol: 1e-5, atol: 1e-5, $"ONNX Runtime vs eager, input [{string.Join(", ", input.Shape)}]");
        }
        return bytes;
    }

    /// <summary>Gives the normalisation layers' affine parameters and running statistics values away from their
    /// initial 1/0, so that an export that dropped or swapped them would show.</summary>
    public static void Perturb(Module model, long seed)
    {
        var rng = new Rng(seed);
        using var _ = Autograd.NoGrad();
        foreach (var (name, t) in model.NamedParameters().Concat(model.NamedBuffers()))
        {
            if (t.DType != DType.Float32) continue;
            if (name.EndsWith("running_var", StringComparison.Ordinal)) Init.Uniform(t, 0.5, 2.0, rng);
            else if (name.EndsWith("running_mean", StringComparison.Ordinal)) Init.Uniform(t, -0.5, 0.5, rng);
            else if (name.Contains("bn", StringComparison.Ordinal) || name.Contains("norm", StringComparison.Ordinal))
                Init.Uniform(t, name.EndsWith("weight", StringComparison.Ordinal) ? 0.5 : -0.5, name.EndsWith("weight", StringComparison.Ordinal) ? 1.5 : 0.5, rng);
        }
    }
}
