using SharpGrad.Layers;

namespace SharpGrad.Onnx.Tests;

/// <summary>
/// The sequence and attention models of SequenceModels.cs were <c>[Module(Compile = false)]</c> because the compiler
/// did not take their Forward (issue 12: coverage-only opt-outs are gone). These now have <c>Compile()</c>, compiled where
/// the compiler covers them and run eagerly inside it where they break the graph; either way their outputs, input
/// gradients and parameter gradients equal eager's at batch 1, 3 and 64. LstmWithStates, GruWithState and UnbatchedBiGru
/// return a Tensor[] (several outputs): each element is compiled where its ops compile (their recurrent calls with given
/// states are named breaks), and a backward through any subset of the outputs equals eager's.
/// </summary>
public class SequenceModelsCompileTests
{
    public static TheoryData<int> Batches => new() { 1, 3, 64 };

    private static Tensor Randn(long seed, params int[] shape) => Tensor.Randn(shape, rng: new Rng(seed));

    /// <summary>Bool key-padding masks: the last positions of some items padded, never a whole row.</summary>
    private static Tensor Padding(int n, int s) =>
        Tensor.FromArray(Enumerable.Range(0, n * s).Select(i => i % s > 0 && i % s >= s - 1 - (i / s) % (s - 1)).ToArray(), n, s);


    [Theory]
    [MemberData(nameof(Batches))]
    public void BiLstmClassifierCompiled(int n)
    {
        var m = new BiLstmClassifier(new Rng(5));
        var c = m.Compile();
        Same(m, [Tensor.RandInt(0, 30, [n, BiLstmClassifier.T], new Rng(6))], i => [m.Forward(i[0])], i => [c.Forward(i[0])]);
    }



    [Theory]
    [MemberData(nameof(Batches))]
    public void ElmanRnnStackCompiled(int n)
    {
        var m = new ElmanRnnStack(new Rng(13));
        var c = m.Compile();
        Same(m, [Randn(14, n, ElmanRnnStack.T, 4)], i => [m.Forward(i[0])], i => [c.Forward(i[0])]);
    }



    [Theory]
    [MemberData(nameof(Batches))]
    public void EncoderLayerPostNormCompiled(int n)
    {
        var m = new EncoderLayerPostNorm(new Rng(21));
        m.Eval();   // dropout off: the same random stream is not the point here
        var c = m.Compile();
        Same(m, [Randn(22, EncoderLayerPostNorm.T, n, EncoderLayerPostNorm.E)], i => [m.Forward(i[0])], i => [c.Forward(i[0])]);
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void TransformerEncoderClassifierCompiled(int n)
    {
        var m = new TransformerEncoderClassifier(new Rng(23));
        m.Eval();
        var c = m.Compile();
        int t = TransformerEncoderClassifier.T;
        Same(m, [Randn(24, n, t, TransformerEncoderClassifier.E), Padding(n, t)], i => [m.Forward(i[0], i[1])], i => [c.Forward(i[0], i[1])]);
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void TinyTransformerCompiled(int n)
    {
        var m = new TinyTransformer(new Rng(25));
        m.Eval();
        var c = m.Compile();
        Same(m, [Randn(26, n, TinyTransformer.S, TinyTransformer.E), Randn(27, n, TinyTransformer.T, TinyTransformer.E), Padding(n, TinyTransformer.S)],
            i => [m.Forward(i[0], i[1], i[2])], i => [c.Forward(i[0], i[1], i[2])]);
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void CrossAttentionCompiled(int n)
    {
        var m = new CrossAttention(new Rng(28));
        var c = m.Compile();
        Assert.NotEmpty(c.Explanation.Breaks);   // kdim/vdim cross-attention with no declared shapes: a named break, run eagerly
        Same(m, [Randn(29, n, CrossAttention.L, CrossAttention.E), Randn(30, n, CrossAttention.S, CrossAttention.KDim),
                Randn(31, n, CrossAttention.S, CrossAttention.VDim), Padding(n, CrossAttention.S)],
            i => [m.Forward(i[0], i[1], i[2], i[3])], i => [c.Forward(i[0], i[1], i[2], i[3])]);
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void CausalSelfAttentionCompiled(int n)
    {
        var m = new CausalSelfAttention(new Rng(32));
        var c = m.Compile();
        Same(m, [Randn(33, CausalSelfAttention.T, n, CausalSelfAttention.E)], i => [m.Forward(i[0])], i => [c.Forward(i[0])]);
    }

    public static TheoryData<int, int[]> BatchesAndSubsets => new()
    {
        { 1, [0, 1, 2] }, { 3, [0, 1, 2] }, { 64, [0, 1, 2] }, { 3, [1] }, { 3, [0, 2] },
    };

    [Theory]
    [MemberData(nameof(BatchesAndSubsets))]
    public void LstmWithStatesCompiled(int n, int[] subset)
    {
        var m = new LstmWithStates(new Rng(40));
        var c = m.Compile();
        NamedOrCompiled(c.Explanation, "lstm.Forward");
        int s = LstmWithStates.States, h = LstmWithStates.H;
        Same(m, [Randn(41, n, LstmWithStates.T, LstmWithStates.In), Randn(42, s, n, h), Randn(43, s, n, h)],
            i => m.Forward(i[0], i[1], i[2]), i => c.Forward(i[0], i[1], i[2]), subset);
    }

    [Theory]
    [MemberData(nameof(BatchesAndSubsets))]
    public void GruWithStateCompiled(int n, int[] subset)
    {
        var m = new GruWithState(new Rng(44));
        var c = m.Compile();
        NamedOrCompiled(c.Explanation, "gru.Forward");
        Same(m, [Randn(45, GruWithState.T, n, GruWithState.In), Randn(46, 3, n, GruWithState.H)],
            i => m.Forward(i[0], i[1]), i => c.Forward(i[0], i[1]), subset.Where(k => k < 2).DefaultIfEmpty(1).ToArray());
    }

    [Theory]
    [InlineData(new[] { 0, 1 })]
    [InlineData(new[] { 0 })]
    [InlineData(new[] { 1 })]
    public void UnbatchedBiGruCompiled(int[] subset)
    {
        var m = new UnbatchedBiGru(new Rng(47));
        var c = m.Compile();
        NamedOrCompiled(c.Explanation, "gru.Forward");
        Same(m, [Randn(48, UnbatchedBiGru.T, UnbatchedBiGru.In), Randn(49, 4, UnbatchedBiGru.H)],
            i => m.Forward(i[0], i[1]), i => c.Forward(i[0], i[1]), subset);
    }

    /// <summary>Fully compiled, or every break named at the recurrent call (its final states): never silently eager.</summary>
    private static void NamedOrCompiled(GraphExplanation explanation, string call)
    {
        if (explanation.IsFullyCompiled) return;
        Assert.All(explanation.Breaks, b => Assert.Contains(call, b.Construct, StringComparison.Ordinal));
    }

    /// <summary>
    /// ActivationZoo (Models.cs) was [Module(Compile = false)] because Narrow and Cat did not compile, then broke the graph at
    /// Functional.Softmin (a composite). Since session 9 Softmin compiles (the softmax kernel of −x): the whole method is one
    /// program with no graph break.
    /// </summary>
    [Theory]
    [MemberData(nameof(Batches))]
    public void ActivationZooCompiled(int n)
    {
        var m = new ActivationZoo();
        var c = m.Compile();
        Assert.True(c.Explanation.IsFullyCompiled, c.Explanation.ToString());
        Assert.Empty(c.Explanation.Breaks);
        Same(m, [Randn(52, n, 10)], i => [m.Forward(i[0])], i => [c.Forward(i[0])]);
    }

    /// <summary>A Tensor[] Forward whose elements compile: each is a compiled region of its own, and no element is left eager.</summary>
    [Theory]
    [MemberData(nameof(BatchesAndSubsets))]
    public void TwoHeadsCompiled(int n, int[] subset)
    {
        var m = new TwoHeads(new Rng(50));
        var c = m.Compile();
        Assert.True(c.Explanation.IsFullyCompiled, c.Explanation.ToString());
        Assert.Equal(3, c.Explanation.Regions.Count);   // h, then each element
        Same(m, [Randn(51, n, 4)], i => m.Forward(i[0]), i => c.Forward(i[0]), subset.Where(k => k < 2).DefaultIfEmpty(0).ToArray());
    }

    /// <summary>Compiled = eager: every output, and after a backward of the same random weighting of all outputs, every float input's and parameter's gradient (1e-4 relative).</summary>
    private static void Same(Module model, Tensor[] inputs, Func<Tensor[], Tensor[]> eager, Func<Tensor[], Tensor[]> compiled, int[]? subset = null)
    {
        var parameters = model.Parameters().ToList();
        var (outE, gradE) = Run(eager, inputs, parameters, subset);
        var (outC, gradC) = Run(compiled, inputs, parameters, subset);
        Assert.Equal(outE.Count, outC.Count);
        for (int k = 0; k < outE.Count; k++) Close(outE[k], outC[k], $"output {k}");
        for (int k = 0; k < gradE.Count; k++)
        {
            // With a subset of the outputs, a parameter none of them reads has no gradient: in both modes.
            Assert.True((gradE[k] is null) == (gradC[k] is null), $"gradient {k}: {(gradE[k] is null ? "none" : "one")} eager, {(gradC[k] is null ? "none" : "one")} compiled");
            if (gradE[k] is { } e) Close(e, gradC[k]!, $"gradient {k}");
        }
    }

    private static (List<Tensor> Outputs, List<Tensor?> Grads) Run(Func<Tensor[], Tensor[]> forward, Tensor[] inputs, List<Tensor> parameters, int[]? subset)
    {
        foreach (var p in parameters) p.Grad = null;
        var xs = inputs.Select(x => x.DType == DType.Float32 ? x.Detach().Clone().RequiresGrad_() : x).ToArray();
        var ys = forward(xs);
        Tensor? loss = null;
        foreach (int k in subset ?? Enumerable.Range(0, ys.Length).ToArray())
        {
            var term = (ys[k] * Tensor.Randn(ys[k].Shape, rng: new Rng(90 + k))).Sum();
            loss = loss is null ? term : loss + term;
        }
        loss!.Backward();
        var grads = xs.Where(x => x.RequiresGrad).Select(x => x.Grad).Concat(parameters.Select(p => p.Grad)).ToList();
        if (subset is null) Assert.All(grads, g => Assert.NotNull(g));
        else Assert.Contains(grads, g => g is not null);
        return (ys.Select(y => y.Detach()).ToList(), grads);
    }

    private static void Close(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.ToArray();
        var a = actual.ToArray();
        for (int i = 0; i < e.Length; i++)
        {
            double tolerance = 1e-5 + 1e-4 * Math.Abs(e[i]);
            Assert.True(Math.Abs(e[i] - a[i]) <= tolerance, $"{what}: element {i} is {a[i]} compiled and {e[i]} eager");
        }
    }
}

/// <summary>Two heads over one input, returned as a Tensor[]: each element compiles (a region of its own).</summary>
[Module]
public sealed partial class TwoHeads
{
    private readonly Linear fc1, fc2;

    public TwoHeads(Rng rng)
    {
        fc1 = new Linear(4, 3, rng: rng);
        fc2 = new Linear(4, 2, rng: rng);
    }

    public Tensor[] Forward([Shape("N", 4)] Tensor x)
    {
        var h = x.Tanh();
        return [fc1.Forward(h).Relu(), fc2.Forward(h) * 2];
    }
}
