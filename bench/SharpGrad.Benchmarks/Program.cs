// SharpGrad's benchmark program.
//   dotnet run -c Release --project bench/SharpGrad.Benchmarks -- workloads [--threads N] [workload...]
//       the standard workloads of WORKLOADS.md, two lines each: compiled mode (generated Net.Compiled) and eager mode
//       workload=NAME value=V unit=U peer=sharpgrad threads=T
//       workload=NAME value=V unit=U peer=sharpgrad-eager threads=T
//   dotnet run -c Release --project bench/SharpGrad.Benchmarks -- onnxruntime [--threads N] [--aot PATH]
//       inference on ONNX Runtime (CPU provider, same threads) next to compiled and eager SharpGrad (OnnxRuntimePeer.cs),
//       then the NativeAOT binary of bench/SharpGrad.Benchmarks.Aot at PATH (peer=sharpgrad-aot)
//   dotnet run -c Release --project bench/SharpGrad.Benchmarks -- profile [--threads N]
//       times the pieces of the small workloads (kernels, layers, forward/backward/step) and the bytes allocated per call
//   dotnet run -c Release --project bench/SharpGrad.Benchmarks -- allocations [--threads N] [--steps N]
//       bytes allocated per training step (GC.GetAllocatedBytesForCurrentThread and the whole process) of the loops issue 14
//       sets allocation targets for: compiled LossBackward, the natural compiled loop, the eager MLP and CNN steps
//   dotnet run -c Release --project bench/SharpGrad.Benchmarks -- distributed [--steps N] [--batch N]
//       data-parallel training (DistributedDataParallel over MPI) of the workloads' CNN on 1 and on 2 ranks, 1 thread each:
//       images/s over all ranks and the share of the step spent waiting for the gradient all-reduces (needs mpiexec)
//   dotnet run -c Release --project bench/SharpGrad.Benchmarks -- micro [BenchmarkDotNet arguments, e.g. --filter *Gemm*]
//       BenchmarkDotNet micro-benchmarks of the kernels (GEMM shapes, a convolution, elementwise ops).
//   dotnet run -c Release --project bench/SharpGrad.Benchmarks -- compare [--peers DIR] [--threads 2,1] [--rounds N]
//       the peers (TorchSharp, PyTorch) and our workloads in one run, printed as a table with the ratios and the targets
using BenchmarkDotNet.Running;
using SharpGrad.Benchmarks;

if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine("""
        Usage:
          SharpGrad.Benchmarks workloads [--threads N] [workload...]   standard workloads, compiled (peer=sharpgrad) and eager (peer=sharpgrad-eager)
          SharpGrad.Benchmarks onnxruntime [--threads N] [--aot PATH]  inference next to ONNX Runtime (peer=onnxruntime) and the NativeAOT binary (peer=sharpgrad-aot): mlp_infer_b1, cnn_infer_b1, cnn_infer_b32
          SharpGrad.Benchmarks profile [--threads N]                   where the time and the allocations of the small workloads go
          SharpGrad.Benchmarks distributed [--steps N] [--batch N]     DDP training images/s on 1 and 2 ranks (mpiexec), and the time waiting for gradients
          SharpGrad.Benchmarks micro [BenchmarkDotNet options]         BenchmarkDotNet micro-benchmarks (--filter '*Gemm*', --job short, ...)
          SharpGrad.Benchmarks allocations [--threads N] [--steps N]   bytes allocated per training step (issue 14's four allocation targets)
          SharpGrad.Benchmarks count NAME N [--threads T]              run one profiled part N times (for callgrind instruction counts; NAME as in profile)
          SharpGrad.Benchmarks b1-breakdown N [--threads T]            mlp_infer_b1's pair, pair + fc3 and compiled forward timed in turn in one process
          SharpGrad.Benchmarks compare [--peers DIR] [--threads 2,1]   TorchSharp, PyTorch and our workloads in one run: the table with ratios and targets (compare --help)
        Workloads: mlp_train_step_b64 mlp_infer_b1 cnn_train_step_b32 sgemm_1024 mnist_mlp_5_epochs (also prints mnist_mlp_5_epochs_test_accuracy)
          transformer_train_step_b16 lstm_train_step_b32 (eager only for now: SequenceWorkloads.cs)
        """);
    return args.Length == 0 ? 2 : 0;
}

switch (args[0])
{
    case "workloads":
        return Workloads.Run(args[1..]);
    case "onnxruntime":
        return OnnxRuntimePeer.Run(args[1..]);
    case "profile":
        return Profile.Run(args[1..]);
    case "count":
        return Profile.Count(args[1..]);
    case "b1-breakdown":
        return B1Breakdown.Run(args[1..]);
    case "b1-ab":
        return B1Breakdown.Ab(args[1..]);
    case "b1-cores":
        return B1Breakdown.Cores(args[1..]);
    case "b1-modes":
        return B1Modes.Run(args[1..]);
    case "mnist-split":
        return MnistSplit.Run(args[1..]);
    case "cnn-regions":
        return StepRegions.Cnn(args[1..]);
    case "xfmr-regions":
        return SequenceWorkloads.Regions(args[1..]);
    case "allocations":
        return Allocations.Run(args[1..]);
    case "compare":
        return Compare.Run(args[1..]);
    case "distributed":
        return DistributedBench.Run(args[1..]);
    case "distributed-rank":
        return DistributedBench.Rank(args[1..]);
    case "micro":
        BenchmarkSwitcher.FromAssembly(typeof(Workloads).Assembly).Run(args[1..].Length == 0 ? ["--filter", "*"] : args[1..]);
        return 0;
    default:
        Console.Error.WriteLine($"SharpGrad.Benchmarks: unknown command '{args[0]}'; expected 'workloads', 'onnxruntime', 'profile', 'count', 'allocations', 'distributed', 'micro' or 'compare' (--help lists the options).");
        return 2;
}
