using SharpGrad.Kernels;
using SharpGrad.Layers;
using SharpGrad.Tests.Support;
using static SharpGrad.Tests.Support.ThreadCountCollection;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Hooks on a compiled Embedding child are called as eager calls them (session 27; the compiled Embedding called none
/// before): forward pre-hooks and forward hooks with the integer indices and the rows gathered, full backward pre-hooks and
/// full backward hooks with grad_output the rows' gradient and grad_input (null,) — for a plain Embedding → Linear and for an
/// Embedding → LSTM whose fused backward (the table's gradient from the distinct tokens, no rows' gradient) falls back to the
/// unfused path while the embedding has backward hooks, decided at each backward (hooks registered before or after the first
/// compiled step; removed, the fused path again). Through the fused LossBackward and the tape, the parameters' gradients
/// equal eager's too. A replacing hook is a clear error; a frozen table calls no backward hook, as in eager.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class CompiledEmbeddingHookTests
{
    private sealed class Recorder
    {
        public readonly List<(string What, Tensor? Value)> Seen = [];
        private readonly List<HookHandle> _handles = [];

        public void Attach(Module emb)
        {
            _handles.Add(emb.RegisterForwardPreHook((m, xs) => Seen.Add(($"pre {xs.Length} {xs[0].DType}", xs[0].Clone()))));
            _handles.Add(emb.RegisterForwardHook((m, xs, y) =>
            {
                Seen.Add(($"forward input {xs.Length}", xs[0].Clone()));
                Seen.Add(("forward output", y.Detach().Clone()));
            }));
            _handles.Add(emb.RegisterFullBackwardPreHook((m, gout) => Seen.Add(($"backward pre {gout.Length}", gout[0]?.Detach().Clone()))));
            _handles.Add(emb.RegisterFullBackwardHook((m, gin, gout) =>
            {
                Seen.Add(($"grad_input {gin.Length} {(gin[0] is null ? "null" : "tensor")}", null));
                Seen.Add(($"grad_output {gout.Length}", gout[0]?.Detach().Clone()));
            }));
        }

        public void Detach()
        {
            foreach (var h in _handles) h.Dispose();
            _handles.Clear();
        }
    }

    private static Module Child(Module model, string name) => model.NamedModules().Single(m => m.Name == name).Module;

    private static Tensor Tokens(Rng rng, int batch, int steps, int vocab, int padding)
    {
        // Repeated tokens (a small vocabulary) and the padding row among them.
        var ids = Enumerable.Range(0, batch * steps).Select(_ => (long)rng.NextInt(vocab)).ToArray();
        ids[1] = ids[^1] = padding;
        return Tensor.FromArray(ids, [batch, steps]);
    }

    /// <summary>
    /// Steps of eager and compiled training on twins: hooks on both embeddings from step <paramref name="hookStep"/> to step 3
    /// (removed before step 4), even steps through LossBackward, odd ones through the compiled Forward and the tape.
    /// </summary>
    private static void Run(Module eager, Module twin, int vocab, int steps, int padding, int batch, int hookStep,
        Func<Tensor, Tensor, Tensor> eagerLoss, Func<Tensor, Tensor, float> lossBackward, Func<Tensor, Tensor, Tensor> tapeLoss, string what)
    {
        var rng = new Rng(5101 + batch + hookStep);
        var onEager = new Recorder();
        var onCompiled = new Recorder();
        for (int step = 0; step < 5; step++)
        {
            if (step == hookStep)
            {
                onEager.Attach(Child(eager, "emb"));
                onCompiled.Attach(Child(twin, "emb"));
            }
            if (step == 4)
            {
                onEager.Detach();
                onCompiled.Detach();
            }
            var tokens = Tokens(rng, batch, steps, vocab, padding);
            var target = Tensor.RandInt(0, 3, [batch], rng);
            foreach (var p in eager.Parameters()) p.Grad = null;
            var loss = eagerLoss(tokens, target);
            loss.Backward();
            foreach (var p in twin.Parameters()) p.Grad = null;
            float value = step % 2 == 0 ? lossBackward(tokens, target) : BackwardOf(tapeLoss(tokens, target));
            string at = $"{what}, hooks from step {hookStep}, step {step}";
            Assert.True(Math.Abs(loss.Item() - value) <= 1e-5f * (1 + Math.Abs(value)), $"{at}: loss eager {loss.Item()}, compiled {value}");
            AssertSameCalls(onEager.Seen, onCompiled.Seen, at);
            int expected = step >= hookStep && step < 4 ? 6 : 0;
            Assert.True(onCompiled.Seen.Count == expected, $"{at}: {onCompiled.Seen.Count} hook records, expected {expected}");
            onEager.Seen.Clear();
            onCompiled.Seen.Clear();
            var pe = eager.NamedParameters().ToList();
            var pc = twin.NamedParameters().ToList();
            for (int i = 0; i < pe.Count; i++)
                TensorAssert.Close(pe[i].Value.Grad!, pc[i].Value.GradInternal!, 1e-3, 1e-5, $"{at}: gradient of {pe[i].Name}");
        }
    }

    private static float BackwardOf(Tensor loss)
    {
        loss.Backward();
        return loss.Item();
    }

    private static void AssertSameCalls(List<(string What, Tensor? Value)> eager, List<(string What, Tensor? Value)> compiled, string at)
    {
        Assert.True(eager.Select(e => e.What).SequenceEqual(compiled.Select(c => c.What)),
            $"{at}: eager called [{string.Join(", ", eager.Select(e => e.What))}], compiled [{string.Join(", ", compiled.Select(c => c.What))}]");
        for (int i = 0; i < eager.Count; i++)
        {
            var (name, e) = eager[i];
            var c = compiled[i].Value;
            if (e is null) { Assert.Null(c); continue; }
            Assert.NotNull(c);
            Assert.Equal(e.Shape, c!.Shape);
            if (e.DType is DType.Int64 or DType.Int32) Assert.Equal(e.ToLongArray(), c.ToLongArray());
            else TensorAssert.Close(e, c, 1e-4, 1e-6, $"{at}: {name}");
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void EmbeddingLinearHooksMatchEager(int hookStep)
    {
        var model = new EmbeddingLinearHookNet();
        var twin = new EmbeddingLinearHookNet();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        Run(model, twin, 11, 5, 1, 4, hookStep, (x, t) => Losses.CrossEntropy(model.Forward(x).Select(1, 4), t), compiled.LossBackward,
            (x, t) => Losses.CrossEntropy(compiled.Forward(x).Select(1, 4), t), "Embedding → Linear");
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 1)]
    [InlineData(1, 2)]
    public void EmbeddedLstmHooksMatchEagerAndFallBackFromTheFusedPath(int hookStep, int threads)
    {
        WithThreads(threads, () =>
        {
            var model = new EmbeddedLstmNet();
            var twin = new EmbeddedLstmNet();
            twin.LoadStateDict(model.StateDict());
            var compiled = twin.Compile();
            Run(model, twin, 13, 5, 2, 17, hookStep, (x, t) => Losses.CrossEntropy(model.Forward(x), t), compiled.LossBackward,
                (x, t) => Losses.CrossEntropy(compiled.Forward(x), t), "Embedding → LSTM");
        });
    }

    [Fact]
    public void AReplacingForwardHookIsAClearErrorInCompiledMode()
    {
        var model = new EmbeddingLinearHookNet();
        var tokens = Tokens(new Rng(5), 3, 5, 11, 1);
        using var h = Child(model, "emb").RegisterForwardHook((m, xs, y) => y * 2f);
        using (Autograd.NoGrad())
        {
            // Eager replaces the lookup's rows: the head sees twice them.
            var doubled = model.Forward(tokens);
            h.Dispose();
            var plain = model.Forward(tokens);
            Assert.NotEqual(plain.Data<float>().ToArray(), doubled.Data<float>().ToArray());
        }
        using var again = Child(model, "emb").RegisterForwardHook((m, xs, y) => y * 2f);
        var ex = Assert.Throws<NotSupportedException>(() => model.Compile().Forward(tokens));
        Assert.Contains("observe", ex.Message);
    }

    [Fact]
    public void ABackwardHookReturningAGradientFailsAsInEagerAndNullIsAccepted()
    {
        foreach (bool invent in new[] { true, false })
        {
            var model = new EmbeddingLinearHookNet();
            var compiled = model.Compile();
            var tokens = Tokens(new Rng(6), 3, 5, 11, 1);
            var target = Tensor.RandInt(0, 3, [3], new Rng(7));
            int calls = 0;
            using var h = Child(model, "emb").RegisterFullBackwardHook((m, gin, gout) =>
            {
                calls++;
                return invent ? [Tensor.Ones([3, 5])] : [null];
            });
            if (invent)
            {
                Assert.Throws<InvalidOperationException>(() => Losses.CrossEntropy(model.Forward(tokens).Select(1, 4), target).Backward());
                Assert.Throws<InvalidOperationException>(() => compiled.LossBackward(tokens, target));
            }
            else
            {
                Losses.CrossEntropy(model.Forward(tokens).Select(1, 4), target).Backward();
                compiled.LossBackward(tokens, target);
                Assert.Equal(2, calls);
            }
        }
    }

    [Fact]
    public void AFrozenTableCallsNoBackwardHookAsInEager()
    {
        foreach (bool lstm in new[] { false, true })
        {
            Module model = lstm ? new EmbeddedLstmNet() : new EmbeddingLinearHookNet();
            var emb = (Embedding)Child(model, "emb");
            emb.Weight.RequiresGrad = false;
            var tokens = Tokens(new Rng(8), 4, 5, 11, 2);
            var target = Tensor.RandInt(0, 3, [4], new Rng(9));
            var calls = new List<string>();
            using var f = emb.RegisterForwardHook((m, xs, y) => calls.Add("forward"));
            using var b = emb.RegisterFullBackwardHook((m, gin, gout) => calls.Add("backward"));
            if (lstm)
            {
                var net = (EmbeddedLstmNet)model;
                Losses.CrossEntropy(net.Forward(tokens), target).Backward();
                net.Compile().LossBackward(tokens, target);
            }
            else
            {
                var net = (EmbeddingLinearHookNet)model;
                Losses.CrossEntropy(net.Forward(tokens).Select(1, 4), target).Backward();
                net.Compile().LossBackward(tokens, target);
            }
            Assert.Equal(["forward", "forward"], calls);
        }
    }

    /// <summary>
    /// The backward of a compiled Embedding → LSTM reuses its forward's grouping of the tokens (held by the workspace): after
    /// two forwards of different tokens on one workspace the backward is the last forward's, bit for bit, as after that forward
    /// alone on a fresh workspace; and a backward after a forward alone equals it too (with one and two directions).
    /// </summary>
    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 1)]
    [InlineData(true, 2)]
    public void TheBackwardUsesTheLastForwardsGrouping(bool bidirectional, int threads)
    {
        WithThreads(threads, () =>
        {
            const int vocab = 9, dim = 6, hidden = 7, steps = 5, batch = 11;
            var emb = new Embedding(vocab, dim, paddingIdx: 3, rng: new Rng(1));
            var lstm = new LSTM(dim, hidden, batchFirst: true, bidirectional: bidirectional, rng: new Rng(2));
            var shape = new RecurrentShape(RecurrentMode.Lstm, dim, hidden, 1, bidirectional, true, true, steps);
            int d = bidirectional ? 2 : 1, rows = batch * steps;
            var rng = new Rng(3);
            var first = Tokens(rng, batch, steps, vocab, 3);
            var second = Tokens(rng, batch, steps, 5, 3);   // fewer distinct tokens than the first
            var gy = Tensor.Randn([batch, steps, d * hidden], rng: rng).Data<float>().ToArray();

            (float[] Table, float[][] Weights, float[] Y) Step(RecurrentWorkspace ws, params Tensor[] forwards)
            {
                var x = new float[rows * dim];
                var y = new float[rows * d * hidden];
                foreach (var tokens in forwards)
                {
                    CompiledSupport.EmbeddingForward(emb, tokens, x, rows, dim);
                    CompiledSupport.RecurrentForward(lstm, x, y, batch, shape, ws, embedding: emb, tokens: tokens);
                }
                var table = new float[vocab * dim];
                var grads = lstm.AllWeights.SelectMany(w => w).Select(w => new float[w.NumElements]).ToArray();
                CompiledSupport.RecurrentBackward(lstm, gy, null, grads, batch, shape, ws, embedding: emb, tokens: forwards[^1], embeddingGrad: table);
                return (table, grads, y);
            }

            var fresh = Step(new RecurrentWorkspace(), second);
            var reused = new RecurrentWorkspace();
            Step(reused, second);
            var twice = Step(reused, first, second);
            Assert.Equal(fresh.Y, twice.Y);
            Assert.Equal(fresh.Table, twice.Table);
            for (int i = 0; i < fresh.Weights.Length; i++) Assert.Equal(fresh.Weights[i], twice.Weights[i]);
            // And the other way round: the first's after the second's (more distinct tokens than the grouping before).
            var freshFirst = Step(new RecurrentWorkspace(), first);
            var after = Step(reused, second, first);
            Assert.Equal(freshFirst.Table, after.Table);
            for (int i = 0; i < freshFirst.Weights.Length; i++) Assert.Equal(freshFirst.Weights[i], after.Weights[i]);
            Assert.Contains(freshFirst.Table, v => v != 0f);
        });
    }

    /// <summary>
    /// The distinct-token path at sizes whose products the GEMMs split over two threads (hidden 64, 400 rows, ~180 distinct
    /// tokens): the table's and the weights' gradients equal eager's within tolerance at one and two threads (one and two
    /// directions, with and without the table's gradient). Not bit-equal across thread counts: the bias gradients differ in
    /// the last bits at two threads, with or without the distinct-token path — the batch split sums them per block of rows
    /// (RecurrentKernel.Backward's BiasParts; docs/performance.md, s27-emb's section).
    /// </summary>
    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void TheDistinctTokenPathMatchesEagerAtSizesTheGemmsSplit(bool bidirectional, bool wantTable)
    {
        const int vocab = 200, dim = 32, hidden = 64, steps = 10, batch = 40;
        var emb = new Embedding(vocab, dim, paddingIdx: 3, rng: new Rng(11));
        var lstm = new LSTM(dim, hidden, batchFirst: true, bidirectional: bidirectional, rng: new Rng(12));
        var shape = new RecurrentShape(RecurrentMode.Lstm, dim, hidden, 1, bidirectional, true, true, steps);
        int d = bidirectional ? 2 : 1, rows = batch * steps;
        var rng = new Rng(13);
        var tokens = Tokens(rng, batch, steps, vocab, 3);
        var seed = Tensor.Randn([batch, steps, d * hidden], rng: rng);
        var gy = seed.Data<float>().ToArray();

        (float[] Table, float[][] Weights) Step(int threads)
        {
            (float[], float[][]) result = default;
            WithThreads(threads, () =>
            {
                var ws = new RecurrentWorkspace();
                var x = new float[rows * dim];
                var y = new float[rows * d * hidden];
                CompiledSupport.EmbeddingForward(emb, tokens, x, rows, dim);
                CompiledSupport.RecurrentForward(lstm, x, y, batch, shape, ws, embedding: emb, tokens: tokens);
                var table = new float[vocab * dim];
                var grads = lstm.AllWeights.SelectMany(w => w).Select(w => new float[w.NumElements]).ToArray();
                CompiledSupport.RecurrentBackward(lstm, gy, null, grads, batch, shape, ws, embedding: emb, tokens: tokens, embeddingGrad: wantTable ? table : null);
                result = (table, grads);
            });
            return result;
        }

        foreach (var p in emb.Parameters().Concat(lstm.Parameters())) p.Grad = null;
        var (ye, _) = lstm.Forward(emb.Forward(tokens));
        ye.Backward(seed);
        var weights = lstm.AllWeights.SelectMany(w => w).ToArray();
        foreach (int threads in new[] { 1, 2 })
        {
            var (table, grads) = Step(threads);
            for (int i = 0; i < weights.Length; i++)
                TensorAssert.Close(weights[i].Grad!, Tensor.FromArray(grads[i], weights[i].Shape), 1e-3, 1e-4, $"{threads} threads: gradient of LSTM weight {i}");
            if (wantTable) TensorAssert.Close(emb.Weight.Grad!, Tensor.FromArray(table, [vocab, dim]), 1e-3, 1e-4, $"{threads} threads: the table's gradient");
            else Assert.All(table, v => Assert.Equal(0f, v));
        }
    }
}
