using SharpGrad.Layers;
using SharpGrad.Optimizers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Memory;

/// <summary>The MLP of the benchmark workloads (784-256-128-10), compiled: the natural compiled loop's allocations.</summary>
[Module]
public sealed partial class WorkloadMlp
{
    private readonly Linear fc1 = new(784, 256);
    private readonly Linear fc2 = new(256, 128);
    private readonly Linear fc3 = new(128, 10);

    public Tensor Forward([Shape("N", 784)] Tensor x) => fc3.Forward(Functional.Relu(fc2.Forward(Functional.Relu(fc1.Forward(x)))));
}

/// <summary>
/// Bytes allocated per step of the natural compiled loop (compiled Forward on the tape, eager loss, Backward) of the
/// benchmark workloads' MLP, measured with <see cref="GC.GetAllocatedBytesForCurrentThread"/> over 10 steps after 3
/// warm-up steps (the eager steps' bounds are in <see cref="CachingAllocatorTests"/>).
/// </summary>
[Collection(AllocationCollection.Name)]
public class StepAllocationTests
{
    private static long BytesPerStep(Action step)
    {
        for (int i = 0; i < 3; i++) step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) step();
        return (GC.GetAllocatedBytesForCurrentThread() - before) / 10;
    }

    [Fact]
    public void TheNaturalCompiledLoopAllocatesNothingProportionalToTheParameters()
    {
        // 235 K parameters (940 KB): a step that copied or re-allocated any weight gradient would allocate ≥ 40 KB. The tape
        // backward writes each parameter's gradient straight into .Grad (CompiledSupport.BindTapeGrad), and the generator
        // reroutes Losses.CrossEntropy(c.Forward(x), y) to the compiled loss head (CompiledSupport.CrossEntropy): the loss is
        // recorded on the program's own node, computed in place of the output's copy (a caching-allocator array that goes
        // back at the backward), so no logits array, second node or logits gradient is allocated. What is left is the
        // program's node (its arrays and closure), the output tensor object the loss consumes and the loss tensor the user
        // receives: 984 B measured (issue 14: ≤ 1 KB; docs/performance.md).
        var rng = new Rng(82);
        var model = new WorkloadMlp();
        var c = model.Compile();
        var opt = new Sgd(model.Parameters(), 0.01);
        var x = Tensor.Rand([64, 784], rng: rng);
        var y = Tensor.RandInt(0, 10, [64], rng);
        long bytes = BytesPerStep(() =>
        {
            opt.ZeroGrad();
            Losses.CrossEntropy(c.Forward(x), y).Backward();
            opt.Step();
        });
        Assert.True(bytes <= 1_024, $"the natural compiled loop allocated {bytes} B per step");
    }
}
