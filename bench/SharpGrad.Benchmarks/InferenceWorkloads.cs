using System.Globalization;

namespace SharpGrad.Benchmarks;

/// <summary>One inference workload: a model in eval mode, its compiled and eager forward, the input, the iterations.</summary>
public sealed record InferenceWorkload(string Name, Module Model, Func<Tensor, Tensor> Compiled, Func<Tensor, Tensor> Eager, Tensor Input, int Iterations);

/// <summary>
/// The inference workloads timed by the <c>onnxruntime</c> command (JIT SharpGrad and ONNX Runtime) and by the NativeAOT
/// binary (bench/SharpGrad.Benchmarks.Aot): the workloads' MLP at batch 1 and CNN at batch 1 and 32, with the same
/// weights and inputs in both processes (drawn from <c>Rng.ManualSeed(0)</c> in the same order).
/// </summary>
public static class InferenceWorkloads
{
    public static InferenceWorkload[] Create()
    {
        Rng.ManualSeed(0);
        var mlp = new MlpNet();
        mlp.Eval();
        var compiledMlp = mlp.Compile();
        var mlpInput = Tensor.Rand(1, 784);
        var cnn = new CnnNet();
        cnn.Eval();
        var compiledCnn = cnn.Compile();
        return
        [
            new("mlp_infer_b1", mlp, compiledMlp.Forward, mlp.Forward, mlpInput, 5000),
            new("cnn_infer_b1", cnn, compiledCnn.Forward, cnn.Forward, Tensor.Rand(1, 1, 28, 28), 2000),
            new("cnn_infer_b32", cnn, compiledCnn.Forward, cnn.Forward, Tensor.Rand(32, 1, 28, 28), 100),
        ];
    }

    /// <summary>The WORKLOADS.md line: <c>workload=NAME value=V unit=us peer=PEER threads=T</c>.</summary>
    public static string Line(string workload, double micros, string peer, int threads) =>
        string.Create(CultureInfo.InvariantCulture, $"workload={workload} value={micros:G6} unit=us peer={peer} threads={threads}");

    /// <summary>Throws unless <paramref name="actual"/> equals <paramref name="expected"/> within 1e-4 (a wrong program must not be timed).</summary>
    public static void Check(string workload, string what, ReadOnlySpan<float> actual, float[] expected)
    {
        if (actual.Length != expected.Length)
            throw new InvalidOperationException($"{workload}: {what} gives {actual.Length} values, eager SharpGrad {expected.Length}.");
        for (int i = 0; i < expected.Length; i++)
        {
            if (!(Math.Abs(actual[i] - expected[i]) <= 1e-4 + 1e-4 * Math.Abs(expected[i])))
                throw new InvalidOperationException($"{workload}: {what} gives {actual[i]} at {i}, eager SharpGrad {expected[i]}.");
        }
    }

    /// <summary>Parses <c>--threads N</c>; the default is every core.</summary>
    public static bool TryParseThreads(string[] args, int start, out int threads, out int next)
    {
        threads = Environment.ProcessorCount;
        next = start;
        if (start < args.Length && args[start] == "--threads")
        {
            if (start + 1 >= args.Length || !int.TryParse(args[start + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out threads) || threads < 1)
                return false;
            next = start + 2;
        }
        return true;
    }
}
