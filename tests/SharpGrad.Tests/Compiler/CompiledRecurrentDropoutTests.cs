using SharpGrad.Kernels;
using SharpGrad.Layers;
using SharpGrad.Tests.Support;
using static SharpGrad.Tests.Compiler.CompiledRecurrentLayerCountTests;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// Dropout between the layers of a compiled RNN/LSTM/GRU (issue 13, session 12; models in CompiledRecurrentDropoutModels.cs):
/// fully compiled (it was a graph break), and equal to eager — outputs, final states, the gradients of the input, of the
/// initial states and of every weight — in training (eager and compiled reseeded alike before each call: the default
/// generator, or the layer's own <see cref="RNNBase.Rng"/>, so the same masks) and in evaluation (nothing drawn), for RNN
/// (tanh and relu), LSTM and GRU, 2 and 3 layers, bidirectional and not, batch first and second, initial states given and
/// not, p a constant or the constructor's (0 and 0.3), at batch 1, 3 and 64 and two sequence lengths. The masks do drop
/// (training's output differs from evaluation's), and both modes draw exactly as many numbers.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledRecurrentDropoutTests
{
    /// <summary>Layer counts × batch sizes × p × training.</summary>
    public static TheoryData<int, int, double, bool> Cases()
    {
        var data = new TheoryData<int, int, double, bool>();
        foreach (int layers in new[] { 2, 3 })
            foreach (int batch in new[] { 1, 3, 64 })
                foreach (double p in new[] { 0.0, 0.3 })
                    foreach (bool training in new[] { true, false }) data.Add(layers, batch, p, training);
        return data;
    }

    /// <summary>Batch sizes × training, for the models with constant sizes and p.</summary>
    public static TheoryData<int, bool> ConstantCases()
    {
        var data = new TheoryData<int, bool>();
        foreach (int batch in new[] { 1, 3, 64 })
            foreach (bool training in new[] { true, false }) data.Add(batch, training);
        return data;
    }

    private static (int Input, int Hidden) Sizes(int layers) => layers == 2 ? (3, 6) : (5, 4);

    private static readonly int[] Lengths = [4, 7];

    /// <summary>Sets the dropout generator of every recurrent layer of <paramref name="model"/> (null: the default generator).</summary>
    private static void SetLayerRng(Module model, long? seed)
    {
        foreach (var m in model.Modules().OfType<RNNBase>()) m.Rng = seed is { } s ? new Rng(s) : null;
    }

    /// <summary>The next number of each recurrent layer's generator and of the default one: how far each was drawn.</summary>
    private static float[] NextDraws(Module model)
        => [.. model.Modules().OfType<RNNBase>().Select(m => (m.Rng ?? Rng.Default).NextFloat()), Rng.Default.NextFloat()];

    /// <summary>
    /// Runs eager on <paramref name="model"/> and the compiled program on its twin (same weights), each reseeded alike (the
    /// default generator, and the layers' own when <paramref name="layerRng"/>); compares the result, every gradient and how
    /// far the generators were drawn. In training with p &gt; 0 the masks must drop (the output differs from evaluation's).
    /// </summary>
    private static void Compare(Module model, Module twin, Func<Tensor[], Tensor> runEager, Func<Tensor[], Tensor> runCompiled, Tensor[] floats,
        bool training, bool drops, bool layerRng, int seed, string what)
    {
        foreach (var m in new[] { model, twin })
        {
            if (training) m.Train();
            else m.Eval();
        }
        var g = Tensor.Randn(runEager(floats.Select(f => f.Detach()).ToArray()).Shape, rng: new Rng(seed));
        (Tensor Out, Tensor[] InputGrads, Dictionary<string, Tensor> Grads, float[] Next) Run(Module m, Func<Tensor[], Tensor> forward)
        {
            m.ZeroGrad();
            foreach (var p in m.Parameters()) p.Grad = null;
            var fresh = floats.Select(f => f.Detach().Clone().RequiresGrad_()).ToArray();
            Rng.ManualSeed(seed + 1);
            SetLayerRng(m, layerRng ? seed + 2 : null);
            var y = forward(fresh);
            (y * g).Sum().Backward();
            return (y.Detach(), fresh.Select(f => f.Grad!).ToArray(), m.NamedParameters().ToDictionary(p => p.Name, p => p.Value.Grad!.Clone()), NextDraws(m));
        }
        var eager = Run(model, runEager);
        var compiled = Run(twin, runCompiled);
        TensorAssert.Close(eager.Out, compiled.Out, 1e-4, 1e-5, what + ": result");
        for (int k = 0; k < floats.Length; k++) TensorAssert.Close(eager.InputGrads[k], compiled.InputGrads[k], 1e-4, 1e-5, $"{what}: gradient of float input {k}");
        Assert.Equal(eager.Grads.Keys, compiled.Grads.Keys);
        foreach (var (name, grad) in eager.Grads) TensorAssert.Close(grad, compiled.Grads[name], 1e-4, 1e-5, $"{what}: gradient of {name}");
        Assert.True(eager.Next.SequenceEqual(compiled.Next), $"{what}: the generators were drawn differently (next numbers eager {string.Join(", ", eager.Next)}, compiled {string.Join(", ", compiled.Next)})");
        if (!training || !drops) return;
        // The masks drop: evaluation's output (nothing drawn) differs.
        twin.Eval();
        Tensor evaluated;
        using (Autograd.NoGrad()) evaluated = runCompiled(floats.Select(f => f.Detach()).ToArray());
        twin.Train();
        Assert.True((evaluated - compiled.Out).Abs().Max().Item() > 1e-3, $"{what}: dropout changed nothing");
    }

    /// <summary>Builds a constructor-p model and its twin, compiles the twin (no break), and compares both lengths.</summary>
    private static void Check<TModel>(Func<int, int, int, double, TModel> make, Func<TModel, Tensor[], Tensor> eager, Func<TModel, Func<Tensor[], Tensor>> compile,
        Func<int, int, int, int, Tensor[]> inputs, int layers, int batch, double p, bool training, int seed)
        where TModel : Module
    {
        Rng.ManualSeed(seed);
        var (inputSize, hidden) = Sizes(layers);
        var model = make(inputSize, hidden, layers, p);
        var twin = make(inputSize, hidden, layers, p);
        twin.LoadStateDict(model.StateDict());
        var run = compile(twin);
        foreach (int t in Lengths)
        {
            var floats = inputs(batch, t, inputSize, hidden);
            Compare(model, twin, a => eager(model, a), run, floats, training, p > 0, layerRng: layers == 3, seed + t,
                $"{typeof(TModel).Name}, {layers} layers, p = {p}, {(training ? "training" : "eval")}, batch {batch}, T = {t}");
        }
    }

    // Randn, Sequence, WithStates and AssertWhole: CompiledRecurrentLayerCountTests' (using static above).

    [Theory]
    [MemberData(nameof(Cases))]
    public void BidirectionalLstmFromGivenStatesMatchesEager(int layers, int batch, double p, bool training)
        => Check((i, h, l, d) => new DropLstmBiStates(i, h, l, d), (m, a) => m.Forward(a[0], a[1], a[2]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0], a[1], a[2]); },
            WithStates(401, 2 * layers, 2), layers, batch, p, training, 400);

    [Theory]
    [MemberData(nameof(Cases))]
    public void BatchSecondLstmMatchesEager(int layers, int batch, double p, bool training)
        => Check((i, h, l, d) => new DropLstmBatchSecond(i, h, l, d), (m, a) => m.Forward(a[0]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0]); }, Sequence(411), layers, batch, p, training, 410);

    [Theory]
    [MemberData(nameof(Cases))]
    public void BidirectionalBatchSecondGruFromGivenStateMatchesEager(int layers, int batch, double p, bool training)
        => Check((i, h, l, d) => new DropGruBiStates(i, h, l, d), (m, a) => m.Forward(a[0], a[1]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0], a[1]); },
            WithStates(421, 2 * layers, 1), layers, batch, p, training, 420);

    [Theory]
    [MemberData(nameof(Cases))]
    public void GruIntoLinearMatchesEager(int layers, int batch, double p, bool training)
        => Check((i, h, l, d) => new DropGruHead(i, h, l, d), (m, a) => m.Forward(a[0]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0]); }, Sequence(431), layers, batch, p, training, 430);

    [Theory]
    [MemberData(nameof(Cases))]
    public void BidirectionalTanhRnnMatchesEager(int layers, int batch, double p, bool training)
        => Check((i, h, l, d) => new DropRnnBi(i, h, l, d), (m, a) => m.Forward(a[0]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0]); }, Sequence(441), layers, batch, p, training, 440);

    [Theory]
    [MemberData(nameof(Cases))]
    public void BatchSecondReluRnnFromGivenStateMatchesEager(int layers, int batch, double p, bool training)
        => Check((i, h, l, d) => new DropRnnReluStates(i, h, l, d), (m, a) => m.Forward(a[0], a[1]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0], a[1]); },
            WithStates(451, layers, 1), layers, batch, p, training, 450);

    /// <summary>Builds a model with constant sizes and p and its twin, compiles the twin, and compares both lengths.</summary>
    private static void CheckConstant<TModel>(Func<TModel> make, Func<TModel, Tensor[], Tensor> eager, Func<TModel, Func<Tensor[], Tensor>> compile,
        Func<int, int, Tensor[]> inputs, int batch, bool training, bool layerRng, int seed)
        where TModel : Module
    {
        Rng.ManualSeed(seed);
        var model = make();
        var twin = make();
        twin.LoadStateDict(model.StateDict());
        var run = compile(twin);
        foreach (int t in Lengths)
        {
            Compare(model, twin, a => eager(model, a), run, inputs(batch, t), training, true, layerRng, seed + t,
                $"{typeof(TModel).Name}, {(training ? "training" : "eval")}, batch {batch}, T = {t}");
        }
    }

    [Theory]
    [MemberData(nameof(ConstantCases))]
    public void TwoLayerLstmWithConstantDropoutMatchesEager(int batch, bool training)
        => CheckConstant(() => new ConstDropLstm(), (m, a) => m.Forward(a[0]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0]); },
            (n, t) => [Randn(new Rng(461), n, t, 4)], batch, training, layerRng: false, 460);

    [Theory]
    [MemberData(nameof(ConstantCases))]
    public void ThreeLayerBidirectionalGruWithConstantDropoutMatchesEager(int batch, bool training)
        => CheckConstant(() => new ConstDropGruBi(), (m, a) => m.Forward(a[0], a[1]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0], a[1]); },
            (n, t) => { var rng = new Rng(471); return [Randn(rng, n, t, 5), Randn(rng, 6, n, 4)]; }, batch, training, layerRng: true, 470);

    [Theory]
    [MemberData(nameof(ConstantCases))]
    public void ThreeLayerReluRnnWithConstantDropoutMatchesEager(int batch, bool training)
        => CheckConstant(() => new ConstDropRnnRelu(), (m, a) => m.Forward(a[0], a[1]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0], a[1]); },
            (n, t) => { var rng = new Rng(481); return [Randn(rng, n, t, 3), Randn(rng, 3, n, 5)]; }, batch, training, layerRng: false, 480);

    [Theory]
    [MemberData(nameof(ConstantCases))]
    public void DropoutsAroundTheLayerDrawInEagersOrder(int batch, bool training)
        => CheckConstant(() => new ConstDropBetweenDropouts(), (m, a) => m.Forward(a[0]),
            m => { var c = m.Compile(); AssertWhole(c.Explanation); return a => c.Forward(a[0]); },
            (n, t) => [Randn(new Rng(491), n, t, 4)], batch, training, layerRng: false, 490);

    [Fact]
    public void EvaluationDrawsNothing()
    {
        var model = new DropLstmBiStates(3, 6, 3, 0.3);
        model.Eval();
        var compiled = model.Compile();
        AssertWhole(compiled.Explanation);
        var rng = new Rng(501);
        Tensor[] a = [Randn(rng, 3, 5, 3), Randn(rng, 6, 3, 6), Randn(rng, 6, 3, 6)];
        Rng.ManualSeed(502);
        SetLayerRng(model, null);
        compiled.Forward(a[0].RequiresGrad_(), a[1], a[2]).Sum().Backward();
        Assert.Equal(new Rng(502).NextFloat(), Rng.Default.NextFloat());
    }
}

/// <summary>
/// The compiled recurrent stack with dropout allocates nothing more than without it in a steady state: its masks and the
/// dropped layer inputs are workspace arrays kept across steps (run alone, see <see cref="AllocationCollection"/>).
/// </summary>
[Collection(AllocationCollection.Name)]
public class RecurrentDropoutAllocationTests
{
    [Theory]
    [InlineData(RecurrentMode.Lstm, false)]
    [InlineData(RecurrentMode.Gru, true)]
    [InlineData(RecurrentMode.RnnTanh, true)]
    public void DropoutAddsNoAllocationPerStep(RecurrentMode mode, bool bidirectional)
    {
        const int n = 4, t = 6, input = 5, hidden = 7, layers = 3;
        var shape = new RecurrentShape(mode, input, hidden, layers, bidirectional, true, true, t);
        int gates = mode switch { RecurrentMode.Lstm => 4, RecurrentMode.Gru => 3, _ => 1 } * hidden, d = shape.Directions;
        var rng = new Rng(511);
        var weights = new List<float[]>();
        for (int l = 0; l < layers; l++)
            for (int dir = 0; dir < d; dir++)
                foreach (int size in new[] { gates * shape.LayerInput(l), gates * hidden, gates, gates }) weights.Add((Tensor.Randn([size], rng: rng) * 0.3f).ToArray());
        var grads = weights.Select(w => (float[]?)new float[w.Length]).ToArray();
        var x = Tensor.Randn([n * t * input], rng: rng).ToArray();
        var (y, gy, gx) = (new float[n * t * d * hidden], Tensor.Randn([n * t * d * hidden], rng: rng).ToArray(), new float[n * t * input]);
        var site = new DropoutSite(0.3, new Rng(512));

        long Allocated(DropoutSite dropout)
        {
            var ws = new RecurrentWorkspace();
            for (int i = 0; i < 3; i++) Step(ws, dropout);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 20; i++) Step(ws, dropout);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        void Step(RecurrentWorkspace ws, DropoutSite dropout)
        {
            RecurrentStack.Forward(shape, x, y, n, weights, ws, dropout: dropout);
            RecurrentStack.Backward(shape, gy, gx, n, weights, grads, ws);
        }

        long without = Allocated(default), with = Allocated(site);
        Assert.True(with <= without, $"20 steps with dropout allocated {with} bytes, without {without}.");
    }
}
