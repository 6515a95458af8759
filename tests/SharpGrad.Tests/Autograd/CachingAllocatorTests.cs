using SharpGrad.Layers;
using SharpGrad.Optimizers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Memory;

/// <summary>
/// The eager caching allocator: a training step of the workloads' MLP and CNN allocates at most 5 % of the bytes it
/// allocated before (measured with <see cref="GC.GetAllocatedBytesForCurrentThread"/>: 2,514,611 B per MLP step and
/// 12,241,605 B per CNN step, `profile` on the main branch before the allocator, docs/performance-runs/2026-11-27-profile3-1thread.txt),
/// and memory is recycled only where no user code can see it: gradients read through <c>.Grad</c>, tensors seen by hooks,
/// the model's output and intermediates outside SharpGrad's own layers keep their values.
/// </summary>
[Collection(AllocationCollection.Name)]
public class CachingAllocatorTests
{
#pragma warning disable SG2009 // the eager caching allocator is what is measured: the models must run eagerly, layer by layer
    private static Sequential Mlp() => new(("fc1", new Linear(784, 256)), ("relu1", new ReLU()), ("fc2", new Linear(256, 128)),
        ("relu2", new ReLU()), ("fc3", new Linear(128, 10)));

    private static Sequential Cnn() => new(("conv1", new Conv2d(1, 16, 3, padding: 1)), ("relu1", new ReLU()), ("pool1", new MaxPool2d(2)),
        ("conv2", new Conv2d(16, 32, 3, padding: 1)), ("relu2", new ReLU()), ("pool2", new MaxPool2d(2)),
        ("flatten", new Flatten()), ("fc", new Linear(32 * 7 * 7, 10)));
#pragma warning restore SG2009

    /// <summary>Bytes allocated per call of <paramref name="step"/>, averaged over <paramref name="times"/> calls after a warm-up.</summary>
    private static long BytesPerStep(Action step, int times)
    {
        for (int i = 0; i < 5; i++) step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < times; i++) step();
        return (GC.GetAllocatedBytesForCurrentThread() - before) / times;
    }

    /// <summary>Bytes per eager training step (zero_grad, forward, cross-entropy, backward, SGD step).</summary>
    private static long EagerStepBytes(Sequential model, Tensor x, Tensor y, int times)
    {
        var opt = new Sgd(model.Parameters(), 0.01);
        return BytesPerStep(() =>
        {
            opt.ZeroGrad();
            Losses.CrossEntropy(model.Forward(x), y).Backward();
            opt.Step();
        }, times);
    }

    [Fact]
    public void EagerMlpStepAllocatesAtMostFivePercentOfTheUncachedStep()
    {
        var rng = new Rng(0);
        long bytes = EagerStepBytes(Mlp(), Tensor.Rand([64, 784], rng: rng), Tensor.RandInt(0, 10, [64], rng), 20);
        Assert.True(bytes <= 2_514_611 / 20, $"an eager MLP step allocated {bytes} B; at most 5 % of 2,514,611 B expected");
    }

    [Fact]
    public void EagerCnnStepAllocatesAtMostFivePercentOfTheUncachedStep()
    {
        var rng = new Rng(0);
        long bytes = EagerStepBytes(Cnn(), Tensor.Rand([32, 1, 28, 28], rng: rng), Tensor.RandInt(0, 10, [32], rng), 5);
        Assert.True(bytes <= 12_241_605 / 20, $"an eager CNN step allocated {bytes} B; at most 5 % of 12,241,605 B expected");
    }

    [Fact]
    public void TheWeightGradientIsTheSameMemoryEveryStepWhenNoUserCodeReadsIt()
    {
        var rng = new Rng(1);
        var model = Mlp();
        var opt = new Sgd(model.Parameters(), 0.01);
        var x = Tensor.Rand([8, 784], rng: rng);
        var y = Tensor.RandInt(0, 10, [8], rng);
        var w = model.Parameters().First();
        float[]? first = null;
        for (int step = 0; step < 3; step++)
        {
            opt.ZeroGrad();
            Losses.CrossEntropy(model.Forward(x), y).Backward();
            var data = w.GradInternal!.Data<float>();
            first ??= data;
            Assert.Same(first, data);   // ZeroGrad gave it back, the next backward took it again
            opt.Step();
        }
    }

    [Fact]
    public void AGradientReadByUserCodeKeepsItsValuesAfterZeroGradAndTheNextBackward()
    {
        var rng = new Rng(2);
        var model = Mlp();
        var opt = new Sgd(model.Parameters(), 0.01);
        var x = Tensor.Rand([8, 784], rng: rng);
        var y = Tensor.RandInt(0, 10, [8], rng);
        opt.ZeroGrad();
        Losses.CrossEntropy(model.Forward(x), y).Backward();
        var kept = model.Parameters().First().Grad!;   // PyTorch: g = p.grad — stays valid after zero_grad(set_to_none=True)
        var values = kept.ToArray();
        opt.Step();
        for (int step = 0; step < 3; step++)
        {
            opt.ZeroGrad();
            Losses.CrossEntropy(model.Forward(Tensor.Rand([8, 784], rng: rng)), y).Backward();
            opt.Step();
        }
        Assert.Equal(values, kept.ToArray());
    }

    [Fact]
    public void TheOutputAndWhatHooksSawStayValidAfterBackward()
    {
        var rng = new Rng(3);
        var model = Mlp();
        Tensor? seenActivation = null, seenGradient = null;
        using var h1 = model.Children().ElementAt(1).RegisterForwardHook((m, inputs, output) => { seenActivation ??= output; return null; });   // the first step's
        var x = Tensor.Rand([4, 784], rng: rng);
        var y = Tensor.RandInt(0, 10, [4], rng);
        var logits = model.Forward(x);
        using var h2 = logits.RegisterHook(g => { seenGradient = g; });
        var expectedLogits = logits.ToArray();
        var expectedActivation = seenActivation!.ToArray();
        Losses.CrossEntropy(logits, y).Backward();
        var expectedGradient = seenGradient!.ToArray();
        // more steps reuse every recycled buffer; what user code holds must not change
        for (int step = 0; step < 3; step++)
        {
            model.ZeroGrad();
            Losses.CrossEntropy(model.Forward(Tensor.Rand([4, 784], rng: rng)), y).Backward();
        }
        Assert.Equal(expectedLogits, logits.ToArray());
        Assert.Equal(expectedActivation, seenActivation.ToArray());
        Assert.Equal(expectedGradient, seenGradient.ToArray());
    }

    [Fact]
    public void ATrainingRunGivesTheSameWeightsAsWithoutReuse()
    {
        // The same steps on two copies of a model, one where every gradient is read by user code (so nothing is recycled):
        // recycling must not change a single value.
        var rng = new Rng(4);
        var a = Cnn();
        var b = Cnn();
        b.LoadStateDict(a.StateDict());
        var oa = new Sgd(a.Parameters(), 0.05, momentum: 0.9);
        var ob = new Sgd(b.Parameters(), 0.05, momentum: 0.9);
        for (int step = 0; step < 4; step++)
        {
            var x = Tensor.Rand([6, 1, 28, 28], rng: rng);
            var y = Tensor.RandInt(0, 10, [6], rng);
            oa.ZeroGrad();
            Losses.CrossEntropy(a.Forward(x), y).Backward();
            oa.Step();
            ob.ZeroGrad();
            Losses.CrossEntropy(b.Forward(x), y).Backward();
            foreach (var p in b.Parameters()) _ = p.Grad;   // escaped: never recycled
            ob.Step();
        }
        foreach (var (pa, pb) in a.Parameters().Zip(b.Parameters())) Assert.Equal(pb.ToArray(), pa.ToArray());
    }

    [Fact]
    public void UsingRecycledMemoryThrowsInsteadOfReadingSomethingElse()
    {
        var t = Tensor.Zeros(32);
        t.Storage.Internal = true;
        Assert.True(t.Storage.TryRecycle());
        var e = Assert.Throws<InvalidOperationException>(() => t.ToArray());
        Assert.Contains("caching allocator", e.Message);
        Assert.False(t.Storage.TryRecycle());   // only once
    }
    [Fact]
    public void TheCompiledTapeLoopReusesTheWeightGradientEveryStep()
    {
        // The natural compiled loop (compiled Forward on the tape, eager loss, Backward): the gradients the compiled node hands
        // to the engine come from the allocator, become .Grad, go back at ZeroGrad and are rented again by the next backward
        // (before, each step allocated a fresh copy of every weight gradient: 940 KB per step for the workloads' MLP).
        var rng = new Rng(5);
        var model = new SharpGrad.Tests.Compiler.CompiledMlp();
        var c = model.Compile();
        var opt = new Sgd(model.Parameters(), 0.01);
        var x = Tensor.Rand([8, 40], rng: rng);
        var y = Tensor.RandInt(0, 10, [8], rng);
        var w = model.Parameters().First();
        float[]? first = null;
        for (int step = 0; step < 3; step++)
        {
            opt.ZeroGrad();
            Losses.CrossEntropy(c.Forward(x), y).Backward();
            var data = w.GradInternal!.Data<float>();
            first ??= data;
            Assert.Same(first, data);
            opt.Step();
        }
    }

    [Fact]
    public void ACompiledGradientReadByUserCodeKeepsItsValuesAfterZeroGradAndTheNextBackward()
    {
        // The recycled copy is rented without clearing: a gradient that user code holds must never be handed out again.
        var rng = new Rng(6);
        var model = new SharpGrad.Tests.Compiler.CompiledMlp();
        var c = model.Compile();
        var opt = new Sgd(model.Parameters(), 0.01);
        var y = Tensor.RandInt(0, 10, [8], rng);
        opt.ZeroGrad();
        Losses.CrossEntropy(c.Forward(Tensor.Rand([8, 40], rng: rng)), y).Backward();
        var kept = model.Parameters().First().Grad!;   // PyTorch: g = p.grad — stays valid after zero_grad(set_to_none=True)
        var values = kept.ToArray();
        opt.Step();
        for (int step = 0; step < 3; step++)
        {
            opt.ZeroGrad();
            Losses.CrossEntropy(c.Forward(Tensor.Rand([8, 40], rng: rng)), y).Backward();
            opt.Step();
        }
        Assert.Equal(values, kept.ToArray());
    }

    [Fact]
    public void NewLargeArraysBeyondTheThresholdStartAGen2Collection()
    {
        // Tensors the user holds never come back to the allocator; the large object heap is reclaimed only by gen-2
        // collections, which a loop allocating nothing else never triggers (the compiled mnist loop: 130 MB of batches on
        // fresh pages). Past the threshold of new large arrays the allocator asks for one.
        // The request is what the allocator controls; when the collection runs is the GC's (a background collection may
        // start late on a loaded machine), so the test checks the request. A gen-2 collection that runs anyway (the GC's
        // own large-object budget, another test) resets the allocator's count, and the test's count with it: what must
        // not happen is more than the threshold of new large arrays with neither a collection nor a request.
        int requestedBefore = CachingAllocator.CollectionsRequested;
        int gen2 = GC.CollectionCount(2);
        var held = new List<Tensor>();
        long sinceGen2 = 0, total = 0;
        while (CachingAllocator.CollectionsRequested == requestedBefore && total <= 8 * CachingAllocator.CollectAfterLargeBytes)
        {
            // 1.6 MB each, a length nothing else rents, above SharpGrad.props' LOH threshold (1 MB): on the large object heap
            held.Add(Tensor.Zeros([64, 784 * 8 + 7]));
            long bytes = 64 * (784 * 8 + 7) * 4;
            total += bytes;
            if (GC.CollectionCount(2) != gen2) { gen2 = GC.CollectionCount(2); sinceGen2 = 0; }
            sinceGen2 += bytes;
            Assert.True(CachingAllocator.CollectionsRequested > requestedBefore || sinceGen2 <= CachingAllocator.CollectAfterLargeBytes + (1 << 21),
                $"{sinceGen2} B of new large tensors since the last gen-2 collection and no collection asked for (threshold {CachingAllocator.CollectAfterLargeBytes} B)");
        }
        GC.KeepAlive(held);
    }
}
