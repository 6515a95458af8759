using SharpGrad.Layers;
using SharpGrad.Optimizers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Memory;

/// <summary>
/// The intermediates inside SharpGrad's composite layers (Transformer encoder/decoder layers and stacks, MultiheadAttention)
/// go back to the eager caching allocator when backward has released them (<c>LayerIntermediates</c>): training gives the
/// same values as without recycling — checked with every returned array poisoned (NaN), so a read of memory given back too
/// early shows at once — what the caller holds (the output, the attention weights) stays valid, and a step allocates a
/// fraction of what it allocated before. A forward hook anywhere in the layer's tree turns the recycling off (user code
/// may hold what it saw), which is how the reference copy runs without it.
/// </summary>
[Collection(AllocationCollection.Name)]
public class LayerIntermediatesTests
{
    public static TheoryData<string> Cases => new()
    {
        "post-norm", "pre-norm-gelu-dropout", "masks", "batch-second", "decoder", "encoder-stack", "attention-weights", "attention-weights-per-head", "cross-attention", "transformer",
    };

    /// <summary>A model, its loss for one batch (the output it returned is also handed back, to check it stays valid), and a leaf module to hook.</summary>
    private sealed record Case(Module Model, Func<Tensor, (Tensor Loss, Tensor[] Returned)> Step, Module Leaf);

    private const int N = 3, T = 5, E = 8;

    private static Case Build(string name, Rng rng)
    {
        switch (name)
        {
            case "post-norm":
            case "pre-norm-gelu-dropout":
            {
                bool pre = name != "post-norm";
                var layer1 = new TransformerEncoderLayer(E, 2, 12, dropout: pre ? 0.2 : 0.0, activation: pre ? "gelu" : "relu", batchFirst: true, normFirst: pre, rng: rng);
                var layer2 = new TransformerEncoderLayer(E, 2, 12, dropout: pre ? 0.2 : 0.0, activation: pre ? "gelu" : "relu", batchFirst: true, normFirst: pre, rng: rng);
                var model = new Sequential(layer1, layer2);
                // Post-norm: the mean over the sequence, as the workload, so the last LayerNorm gets a strided (expanded) gradient.
                return new Case(model, x =>
                {
                    var y = model.Forward(x);
                    if (pre) return ((y * y).Mean(), [y]);
                    var m = y.Mean(1);
                    return ((m * m).Sum(), [y]);
                }, layer2.Norm1);
            }
            case "masks":
            {
                var layer = new TransformerEncoderLayer(E, 2, 12, dropout: 0.0, batchFirst: true, rng: rng);
                var causal = Tensor.Ones(T, T).Triu(1).Ne(0);
                var pad = new bool[N * T];
                pad[1 * T + T - 1] = true;   // the last key of the second sequence is padding
                var padding = Tensor.FromArray(pad, N, T);
                return new Case(layer, x => { var y = layer.Forward(x, causal, padding); return ((y * y).Mean(), [y]); }, layer.Linear2);
            }
            case "batch-second":
            {
                var layer = new TransformerEncoderLayer(E, 2, 12, dropout: 0.0, batchFirst: false, rng: rng);
                return new Case(layer, x => { var y = layer.Forward(x.Transpose(0, 1)); return ((y * y).Mean(), [y]); }, layer.Norm2);
            }
            case "decoder":
            {
                var memoryProj = new Linear(E, E, rng: rng);
                var layer = new TransformerDecoderLayer(E, 2, 12, dropout: 0.0, batchFirst: true, rng: rng);
                var model = new Sequential(memoryProj, layer);   // a container, so that both are the model's parameters
                return new Case(model, x =>
                {
                    var memory = memoryProj.Forward(x.Narrow(1, 1, T - 1));
                    var y = layer.Forward(x, memory);
                    return ((y * y).Mean() + memory.Mean(), [y, memory]);
                }, layer.Norm3);
            }
            case "encoder-stack":
            {
                var stack = new TransformerEncoder(new TransformerEncoderLayer(E, 2, 12, dropout: 0.0, batchFirst: true, rng: rng), 2, new LayerNorm(E));
                return new Case(stack, x => { var y = stack.Forward(x); return ((y * y).Mean(), [y]); }, stack.Norm!);
            }
            case "attention-weights":
            case "attention-weights-per-head":
            {
                // Per head, the returned weights are the softmax's output, which the product with v saved.
                bool average = name == "attention-weights";
                var attn = new MultiheadAttention(E, 2, batchFirst: true, rng: rng);
                return new Case(attn, x =>
                {
                    var (y, w) = attn.Forward(x, x, x, needWeights: true, averageAttnWeights: average);
                    return ((y * y).Mean() + (w! * w!).Sum(), [y, w!]);
                }, attn.OutProj);
            }
            case "cross-attention":
            {
                var attn = new MultiheadAttention(E, 2, dropout: 0.25, kdim: 6, vdim: 4, batchFirst: true, rng: rng);
                return new Case(attn, x =>
                {
                    var key = x.Narrow(2, 0, 6) * 2;
                    var (y, _) = attn.Forward(x, key, x.Narrow(2, 2, 4), needWeights: false);
                    return ((y * y).Mean(), [y]);
                }, attn.OutProj);
            }
            case "transformer":
            {
                // The whole model: the encoder's output (the memory) is saved by the decoder's cross-attention projections.
                var model = new Transformer(E, 2, numEncoderLayers: 2, numDecoderLayers: 1, dimFeedforward: 12, dropout: 0.0, batchFirst: true, rng: rng);
                var mask = Transformer.GenerateSquareSubsequentMask(T - 1);
                return new Case(model, x =>
                {
                    var y = model.Forward(x, x.Narrow(1, 1, T - 1), tgtMask: mask);
                    return ((y * y).Mean(), [y]);
                }, model.Decoder.Layers[0].Linear1);
            }
            default: throw new ArgumentException(name);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TrainingWithRecycledIntermediatesGivesTheSameValuesAsWithout(string name)
    {
        var a = Build(name, new Rng(5));
        var b = Build(name, new Rng(6));
        b.Model.LoadStateDict(a.Model.StateDict());
        using var hook = b.Leaf.RegisterForwardHook((m, inputs, output) => { });   // b: user code could see inside, nothing is recycled
        var oa = new Sgd(a.Model.Parameters(), 0.05, momentum: 0.9);
        var ob = new Sgd(b.Model.Parameters(), 0.05, momentum: 0.9);
        var rng = new Rng(7);
        var kept = new List<(Tensor Tensor, float[] Values)>();
        CachingAllocator.PoisonReturned = true;
        try
        {
            for (int step = 0; step < 4; step++)
            {
                var x = Tensor.Rand([N, T, E], rng: rng);
                Rng.ManualSeed(100 + step);
                oa.ZeroGrad();
                var (la, returnedA) = a.Step(x);
                la.Backward();
                oa.Step();
                Rng.ManualSeed(100 + step);
                ob.ZeroGrad();
                var (lb, returnedB) = b.Step(x);
                lb.Backward();
                ob.Step();
                Assert.True(float.IsFinite(la.Item()), $"{name}: step {step} gave loss {la.Item()}");
                Assert.Equal(lb.Item(), la.Item());
                foreach (var r in returnedA) kept.Add((r, r.ToArray()));
            }
            foreach (var (pa, pb) in a.Model.Parameters().Zip(b.Model.Parameters())) Assert.Equal(pb.ToArray(), pa.ToArray());
            // What the caller got back (outputs, attention weights, the decoder's memory) was never handed out again.
            foreach (var (t, values) in kept) Assert.Equal(values, t.ToArray());
        }
        finally
        {
            CachingAllocator.PoisonReturned = false;
        }
    }

    [Fact]
    public void AnEagerEncoderStepAllocatesAFractionOfWhatItAllocatesWithoutRecycling()
    {
        // The workload's model (transformer_train_step_b16: two post-norm encoder layers of d_model 128, 4 heads, feed-forward
        // 512, the mean over the sequence, a Linear head, cross-entropy, SGD) at batch 4 instead of 16.
        long BytesPerStep(bool hooked)
        {
            var rng = new Rng(8);
            var encoder = new Sequential(new TransformerEncoderLayer(128, 4, 512, dropout: 0.0, batchFirst: true, rng: rng),
                new TransformerEncoderLayer(128, 4, 512, dropout: 0.0, batchFirst: true, rng: rng));
            var head = new Linear(128, 10, rng: rng);
            using var hook = hooked ? ((TransformerEncoderLayer)encoder[0]).Norm1.RegisterForwardHook((m, i, o) => { }) : null;
            using var hook2 = hooked ? ((TransformerEncoderLayer)encoder[1]).Norm1.RegisterForwardHook((m, i, o) => { }) : null;
            var opt = new Sgd(encoder.Parameters().Concat(head.Parameters()), 0.01);
            var x = Tensor.Rand([4, 64, 128], rng: rng);
            var y = Tensor.RandInt(0, 10, [4], rng);
            void Step()
            {
                opt.ZeroGrad();
                Losses.CrossEntropy(head.Forward(encoder.Forward(x).Mean(1)), y).Backward();
                opt.Step();
            }
            for (int i = 0; i < 5; i++) Step();
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10; i++) Step();
            return (GC.GetAllocatedBytesForCurrentThread() - before) / 10;
        }
        long without = BytesPerStep(hooked: true), with = BytesPerStep(hooked: false);
        Assert.True(with * 4 <= without, $"an eager encoder step allocated {with} B with the layers' intermediates recycled and {without} B without; at most a quarter expected");
    }
}
