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
        var outputs = RunMany(model, [inputName], [input]);
        Assert.Single(outputs);
        return outputs[0];
    }

    /// <summary>ORT's outputs (in the graph's output order) for the named inputs (Float32, Int64 or Bool tensors).</summary>
    public static (float[] Values, long[] Shape)[] RunMany(byte[] model, string[] inputNames, Tensor[] inputs)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        var values = inputs.Select(input =>
        {
            var shape = input.Shape.Select(d => (long)d).ToArray();
            return input.DType switch
            {
                DType.Int64 => OrtValue.CreateTensorValueFromMemory(input.ToLongArray(), shape),
                DType.Bool => OrtValue.CreateTensorValueFromMemory(input.ToBoolArray(), shape),
                _ => OrtValue.CreateTensorValueFromMemory(input.ToArray(), shape),
            };
        }).ToArray();
        try
        {
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, inputNames, values, session.OutputNames);
            return outputs.Select(o => (o.GetTensorDataAsSpan<float>().ToArray(), o.GetTensorTypeAndShape().Shape)).ToArray();
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    /// <summary>Exports <paramref name="model"/> (in evaluation mode) and checks each of ORT's outputs against the
    /// matching tensor eager <paramref name="forward"/> returns, at 1e-5, for each set of inputs.</summary>
    public static byte[] ExportAndCompareMany(Module model, Func<Tensor[], Tensor[]> forward, string[] inputNames, params Tensor[][] inputSets)
    {
        model.Eval();
        var bytes = OnnxExporter.ExportToBytes(model);
        foreach (var inputs in inputSets)
        {
            Tensor[] expected;
            using (Autograd.NoGrad()) expected = forward(inputs);
            var actual = RunMany(bytes, inputNames, inputs);
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.Equal(expected[i].Shape.Select(d => (long)d), actual[i].Shape);
                TensorAssert.Close(expected[i].ToArray(), actual[i].Values, rtol: 1e-5, atol: 1e-5,
                    $"ONNX Runtime vs eager, output {i}, input [{string.Join(", ", inputs[0].Shape)}]");
            }
        }
        return bytes;
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
            else if (name.Contains("proj", StringComparison.Ordinal) && name.EndsWith("bias", StringComparison.Ordinal))
                Init.Uniform(t, -0.5, 0.5, rng); // attention's projection biases start at zero
            else if (name.Contains("bn", StringComparison.Ordinal) || name.Contains("norm", StringComparison.Ordinal))
                Init.Uniform(t, name.EndsWith("weight", StringComparison.Ordinal) ? 0.5 : -0.5, name.EndsWith("weight", StringComparison.Ordinal) ? 1.5 : 0.5, rng);
        }
    }
}
