using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using SharpGrad.Kernels;
using SharpGrad.Onnx;

namespace SharpGrad.Benchmarks;

/// <summary>
/// ONNX Runtime as an inference peer: the workloads' MLP and CNN exported with SharpGrad.Onnx, run by ORT's CPU provider
/// with the same number of threads, next to SharpGrad's compiled and eager forward on the same weights and inputs, and —
/// with <c>--aot PATH</c> — SharpGrad's NativeAOT binary (bench/SharpGrad.Benchmarks.Aot) run right after, in the same
/// command. <c>SharpGrad.Benchmarks onnxruntime [--threads N] [--aot PATH]</c> prints WORKLOADS lines: mlp_infer_b1,
/// cnn_infer_b1, cnn_infer_b32 (µs per call, eval mode, no gradients) with peer=sharpgrad, sharpgrad-eager, onnxruntime
/// and sharpgrad-aot.
/// </summary>
public static class OnnxRuntimePeer
{
    public const string Peer = "onnxruntime";

    public static int Run(string[] args)
    {
        string? aot = null;
        if (!InferenceWorkloads.TryParseThreads(args, 0, out int threads, out int next)) return Usage();
        if (next < args.Length && args[next] == "--aot" && next + 1 < args.Length)
        {
            aot = args[next + 1];
            next += 2;
        }
        if (next != args.Length) return Usage();
        if (aot is not null && !File.Exists(aot))
        {
            Console.Error.WriteLine($"onnxruntime: --aot {aot}: no such file; publish it first (dotnet publish bench/SharpGrad.Benchmarks.Aot -c Release -r linux-x64 -p:PublishAot=true -o DIR).");
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
        foreach (var w in InferenceWorkloads.Create()) Compare(w, options, threads);
        return aot is null ? 0 : RunAot(aot, threads);
    }

    private static int Usage()
    {
        Console.Error.WriteLine("onnxruntime: options are --threads N (a positive integer) and --aot PATH (the published NativeAOT binary of bench/SharpGrad.Benchmarks.Aot).");
        return 2;
    }

    private static void Compare(InferenceWorkload w, SessionOptions options, int threads)
    {
        var x = w.Input;
        using (Autograd.NoGrad())
        {
            Console.WriteLine(InferenceWorkloads.Line(w.Name, Workloads.MicrosPerCall(() => w.Compiled(x), w.Iterations), Workloads.CompiledPeer, threads));
            Console.WriteLine(InferenceWorkloads.Line(w.Name, Workloads.MicrosPerCall(() => w.Eager(x), w.Iterations), Workloads.Peer, threads));
        }

        using var session = new InferenceSession(OnnxExporter.ExportToBytes(w.Model), options);
        using var value = OrtValue.CreateTensorValueFromMemory(x.ToArray(), x.Shape.Select(d => (long)d).ToArray());
        using var runOptions = new RunOptions();
        string[] inputNames = [session.InputNames[0]], outputNames = [session.OutputNames[0]];
        OrtValue[] inputs = [value];
        // The exported model computes what SharpGrad does: a wrong export must not be timed.
        using (var check = session.Run(runOptions, inputNames, inputs, outputNames))
        {
            float[] expected;
            using (Autograd.NoGrad()) expected = w.Eager(x).ToArray();
            InferenceWorkloads.Check(w.Name, "ONNX Runtime", check[0].GetTensorDataAsSpan<float>(), expected);
        }
        Console.WriteLine(InferenceWorkloads.Line(w.Name, Workloads.MicrosPerCall(() =>
        {
            using var outputs = session.Run(runOptions, inputNames, inputs, outputNames);
        }, w.Iterations), Peer, threads));
    }

    /// <summary>Runs the NativeAOT binary with the same thread count and passes its lines through.</summary>
    private static int RunAot(string path, int threads)
    {
        var start = new System.Diagnostics.ProcessStartInfo(path) { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("--threads");
        start.ArgumentList.Add(threads.ToString(CultureInfo.InvariantCulture));
        using var process = System.Diagnostics.Process.Start(start)!;
        Console.Write(process.StandardOutput.ReadToEnd());
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill();
            Console.Error.WriteLine($"onnxruntime: {path} did not finish within 10 minutes.");
            return 1;
        }
        if (process.ExitCode != 0) Console.Error.WriteLine($"onnxruntime: {path} exited with {process.ExitCode}.");
        return process.ExitCode;
    }
}

// The workloads' models (Models.cs) need no export code: the generator writes their ONNX export at build time, as this
// project references SharpGrad.Onnx (docs/onnx.md).
