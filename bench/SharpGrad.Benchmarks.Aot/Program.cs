// SharpGrad's compiled inference, published with NativeAOT: the onnxruntime command's workloads (InferenceWorkloads.cs)
// timed with the same loop and printed in the same line format, peer=sharpgrad-aot.
//   SharpGrad.Benchmarks.Aot [--threads N]
// Publish it, then run it through the benchmark program so that both sides come from one run:
//   dotnet publish bench/SharpGrad.Benchmarks.Aot -c Release -r linux-x64 -p:PublishAot=true -o /tmp/sgaot
//   dotnet run -c Release --project bench/SharpGrad.Benchmarks -- onnxruntime --threads 2 --aot /tmp/sgaot/SharpGrad.Benchmarks.Aot
using SharpGrad;
using SharpGrad.Benchmarks;
using SharpGrad.Kernels;

if (!InferenceWorkloads.TryParseThreads(args, 0, out int threads, out int next) || next != args.Length)
{
    Console.Error.WriteLine("SharpGrad.Benchmarks.Aot: the only option is --threads N (a positive integer).");
    return 2;
}
Parallelism.MaxThreads = threads;
foreach (var w in InferenceWorkloads.Create())
{
    using var _ = Autograd.NoGrad();
    // The native program computes what eager SharpGrad does: a wrong build must not be timed.
    InferenceWorkloads.Check(w.Name, "compiled (NativeAOT)", w.Compiled(w.Input).ToArray(), w.Eager(w.Input).ToArray());
    Console.WriteLine(InferenceWorkloads.Line(w.Name, Workloads.MicrosPerCall(() => w.Compiled(w.Input), w.Iterations), "sharpgrad-aot", threads));
}
return 0;
