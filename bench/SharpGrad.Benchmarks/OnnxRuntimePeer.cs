using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using SharpGrad.Kernels;
using SharpGrad.Onnx;

namespace SharpGrad.Benchmarks;

/// <summary>
/// ONNX Runtime as an inference peer: the workloads' MLP and CNN exported with SharpGrad.Onnx, run by ORT's CPU provider
/// with the same number of threads, next to SharpGrad's compiled and eager forward on the same weights and inputs.
/// <c>SharpGrad.Benchmarks onnxruntime [--threads N]</c> prints WORKLOADS lines: mlp_infer_b1, cnn_infer_b1, cnn_infer_b32
/// (µs per call, eval mode, no gradients) with peer=sharpgrad, sharpgrad-eager and onnxruntime.
/// </summary>
public static class OnnxRuntimePeer
{
    public const string Peer = "onnxruntime";

    public static int Run(string[] args)
    {
        int threads = Environment.ProcessorCount;
        if (args is ["--threads", var t] && int.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0) threads = n;
        else if (args.Length > 0)
        {
            Console.Error.WriteLine("onnxruntime: the only option is --threads N (a positive integer).");
            return 2;
        }
        Parallelism.MaxThreads = threads;
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };

        Rng.ManualSeed(0);
        var mlp = new MlpNet();
        mlp.Eval();
        Compare("mlp_infer_b1", mlp, mlp.Compile().Forward, mlp.Forward, Tensor.Rand(1, 784), 5000, options, threads);

        var cnn = new CnnNet();
        cnn.Eval();
        var compiledCnn = cnn.Compile();
        Compare("cnn_infer_b1", cnn, compiledCnn.Forward, cnn.Forward, Tensor.Rand(1, 1, 28, 28), 2000, options, threads);
        Compare("cnn_infer_b32", cnn, compiledCnn.Forward, cnn.Forward, Tensor.Rand(32, 1, 28, 28), 100, options, threads);
        return 0;
    }

    private static void Compare(string workload, Module model, Func<Tensor, Tensor> compiled, Func<Tensor, Tensor> eager, Tensor x, int iters,
        SessionOptions options, int threads)
    {
        void Report(double us, string peer) =>
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"workload={workload} value={us:G6} unit=us peer={peer} threads={threads}"));

        using (Autograd.NoGrad())
        {
            Report(Workloads.MicrosPerCall(() => compiled(x), iters), Workloads.CompiledPeer);
            Report(Workloads.MicrosPerCall(() => eager(x), iters), Workloads.Peer);
        }

        using var session = new InferenceSession(OnnxExporter.ExportToBytes(model), options);
        var input = x.ToArray();
        var shape = x.Shape.Select(d => (long)d).ToArray();
        using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var runOptions = new RunOptions();
        string[] inputNames = [session.InputNames[0]], outputNames = [session.OutputNames[0]];
        OrtValue[] inputs = [value];
        // The exported model computes what SharpGrad does: a wrong export must not be timed.
        using (var check = session.Run(runOptions, inputNames, inputs, outputNames))
        {
            float[] expected;
            using (Autograd.NoGrad()) expected = eager(x).ToArray();
            var actual = check[0].GetTensorDataAsSpan<float>();
            for (int i = 0; i < expected.Length; i++)
                if (Math.Abs(actual[i] - expected[i]) > 1e-4 + 1e-4 * Math.Abs(expected[i]))
                    throw new InvalidOperationException($"{workload}: ONNX Runtime gives {actual[i]} at {i}, SharpGrad {expected[i]}.");
        }
        Report(Workloads.MicrosPerCall(() =>
        {
            using var outputs = session.Run(runOptions, inputNames, inputs, outputNames);
        }, iters), Peer);
    }
}

// The workloads' models as ONNX graphs (the code the generator is to emit; docs/onnx.md).
public sealed partial class MlpNet : IOnnxExportable
{
    /// <inheritdoc/>
    public void BuildOnnxGraph(OnnxGraphBuilder graph)
    {
        var x = graph.Input("input", "N", 784);
        var h = graph.Relu(graph.Layer("fc1", fc1, x));
        h = graph.Relu(graph.Layer("fc2", fc2, h));
        graph.Output(graph.Layer("fc3", fc3, h), "output");
    }
}

public sealed partial class CnnNet : IOnnxExportable
{
    /// <inheritdoc/>
    public void BuildOnnxGraph(OnnxGraphBuilder graph)
    {
        var x = graph.Input("input", "N", 1, 28, 28);
        var h = graph.Layer("pool1", pool1, graph.Relu(graph.Layer("conv1", conv1, x)));
        h = graph.Layer("pool2", pool2, graph.Relu(graph.Layer("conv2", conv2, h)));
        graph.Output(graph.Layer("fc", fc, graph.Layer("flatten", flatten, h)), "output");
    }
}
