using System.Reflection;
using SharpGrad;
using SharpGrad.Kernels;
using SharpGrad.Optimizers;

namespace SharpGrad.Tests.ColdStart;

/// <summary>
/// The methods a training step calls every step (batch gathering, the compiled program's glue and kernels, the optimizer)
/// are compiled optimised at their first call ([MethodImpl(AggressiveOptimization)]): with tiered compilation they were
/// compiled three times (tier 0, instrumented, tier 1) on the background JIT thread during a short training run such as
/// mnist_mlp_5_epochs (625 steps, ~0.3 s), which then ran on the core the second kernel worker needs
/// (docs/performance.md, session 8, s8-mnist). A guard that fails when one loses its attribute.
/// </summary>
public class TrainingStepJitTests
{
    public static TheoryData<Type, string> HotMethods => new()
    {
        { typeof(Optimizer), "Step" },
        { typeof(Optimizer), "ZeroGrad" },
        { typeof(Optimizer), "PrepareGrad" },
        { typeof(Optimizer), "GetState" },
        { typeof(Sgd), "StepGroup" },
        { typeof(Sgd), "Update" },
        { typeof(Sgd), "UpdateAll" },
        { typeof(ParamGroup), "GetDouble" },
        { typeof(Tensor), "IndexSelect" },
        { typeof(Tensor), "IndexValues" },
        { typeof(Tensor), "CheckIndex" },
        { typeof(Tensor), "Narrow" },
        { typeof(Tensor), "RandPerm" },
        { typeof(CompiledSupport), "BindGrad" },
        { typeof(CompiledSupport), "DeliverGrad" },
        { typeof(CompiledSupport), "LinearForward" },
        { typeof(CompiledSupport), "LinearBackward" },
        { typeof(Gemm), "Sgemm" },
        { typeof(Gemm), "CheckArgs" },
        { typeof(ClassIndexLoss), "Forward" },
        { typeof(ClassIndexLoss), "Backward" },
        { typeof(ClassIndexLoss), "CheckTargets" },
        { typeof(Pointwise), "Backward" },
        { typeof(ReduceKernel), "Sum" },
        // session 17: the zero-skipping entries of sessions 16–17 and the per-step loops and worker glue around them went
        // through the tiers during mnist_mlp_5_epochs (DOTNET_JitDisasmSummary=1); optimised at the first call, the 2-thread
        // epochs 2–5 fell from 105–150 to 81–140 ms (docs/performance.md, "End of session 17")
        { typeof(Gemm), "TrySgemmSkipZeros" },
        { typeof(Gemm), "TrySgemmSkipZerosAnyWidth" },
        { typeof(Gemm), "TryLinearSkipZeros" },
        { typeof(Gemm), "TryLinearWeightGradSkipZeros" },
        { typeof(Gemm), "TryLinearInputGradSkipZeros" },
        { typeof(Gemm), "ListRows" },
        { typeof(Epi<float>), "ApplyRows" },
        { typeof(Pointwise), "BackwardVectors" },
        { typeof(RecurrentKernel), "TransposeStrided" },
        { typeof(WorkerPool), "Trampoline" },
        { typeof(WorkerPool), "WorkerLoop" },
        // session 24 (s24-mlp): mnist's batch gathering (index and storage glue, the shuffle) and the skipping forward over
        // its zero pixels still went through tier 0, the instrumented tier and tier 1 during the first epoch
        // (DOTNET_JitDisasmSummary=1 of `mnist-split --warm 1000`), the later tiers on the background JIT thread while the
        // second core was wanted by the step's loops
        { typeof(Tensor), "ToLongArray" },
        { typeof(Tensor), "To" },
        { typeof(Tensor), "Contiguous" },
        { typeof(Tensor), "ContiguousRaw" },
        { typeof(Storage), "AllocateCore" },
        { typeof(CachingAllocator), "Rent" },
        { typeof(CachingAllocator), "CountNewLargeArray" },
        { typeof(Rng), "Permutation" },
        { typeof(Rng), "NextInt" },
        { typeof(Gemm), "LinearSkipZeros" },
        { typeof(Parallelism), "Serial" },
    };

    [Theory]
    [MemberData(nameof(HotMethods))]
    public void PerStepMethodIsCompiledOptimisedAtItsFirstCall(Type type, string name)
    {
        var methods = type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .Where(m => m.Name == name).ToArray();
        Assert.NotEmpty(methods);
        Assert.Contains(methods, m => (m.MethodImplementationFlags & MethodImplAttributes.AggressiveOptimization) != 0);
    }

    /// <summary>The generated per-step methods of a compiled loss: the fused entry, its forward, backward and gradient clearing.</summary>
    [Theory]
    [InlineData("LossBackward")]
    [InlineData("_loss_Run")]
    [InlineData("_loss_Backward")]
    [InlineData("_loss_ClearGrads")]
    public void GeneratedStepMethodIsCompiledOptimisedAtItsFirstCall(string name)
    {
        var method = typeof(SharpGrad.Tests.Compiler.CompiledFixtureCnn.Compiled).GetMethod(name,
            BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.DeclaredOnly);
        Assert.NotNull(method);
        Assert.True((method!.MethodImplementationFlags & MethodImplAttributes.AggressiveOptimization) != 0, $"{name} is not AggressiveOptimization");
    }
}
