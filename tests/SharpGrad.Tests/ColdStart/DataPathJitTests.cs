using System.Reflection;
using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.ColdStart;

/// <summary>
/// More of what mnist_mlp_5_epochs calls every step, compiled optimised at the first call (as TrainingStepJitTests): the
/// batch gathering's index and storage glue, the shuffle, and the skipping forward over MNIST's zero pixels. Session 24
/// (s24-mlp) found them going through tier 0, the instrumented tier and tier 1 during the first epoch
/// (DOTNET_JitDisasmSummary=1 of `mnist-split --warm 1000`), the later tiers on the background JIT thread while the
/// second core was wanted by the step's loops. A guard that fails when one loses its attribute.
/// </summary>
public class DataPathJitTests
{
    public static TheoryData<Type, string> HotMethods => new()
    {
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
}
