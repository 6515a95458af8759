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
    [Fact]
    public void TheCompiledForwardUnderNoGradAllocatesOnlyTheOutputTensor()
    {
        // mlp_infer_b1: the compiled forward of one sample in eval mode under no_grad. The output is a new tensor per call
        // (PyTorch: the caller may keep it), so what is left is that tensor, its storage and the storage's array of 10
        // floats: 208 B measured. No array of the tape's inputs (the generated Forward returns before it under no_grad:
        // 80 B) and no shape or strides arrays (CompiledSupport.Output(source, count, rows, columns) shares them with the
        // previous output of the same shape: 64 B); before both, 352 B (docs/performance.md, mlp_infer_b1 session 12).
        var rng = new Rng(83);
        var model = new WorkloadMlp();
        model.Eval();
        var c = model.Compile();
        var x = Tensor.Rand([1, 784], rng: rng);
        Tensor? kept = null;
        long bytes;
        using (Autograd.NoGrad())
        {
            for (int i = 0; i < 100; i++) kept = c.Forward(x);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100; i++) kept = c.Forward(x);
            bytes = (GC.GetAllocatedBytesForCurrentThread() - before) / 100;
        }
        Assert.True(bytes <= 208, $"the compiled forward under no_grad allocated {bytes} B per call");
        Assert.Equal([1, 10], kept!.Shape);
        Assert.Null(kept.GradFn);
    }
}
