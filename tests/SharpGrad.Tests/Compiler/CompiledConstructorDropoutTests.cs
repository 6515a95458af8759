using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// An encoder layer and a Dropout whose p is the module's constructor parameter (PyTorch's
/// <c>nn.TransformerEncoderLayer(d, heads, ff, dropout)</c> in an <c>__init__(self, d, heads, ff, dropout)</c>).
/// </summary>
[Module]
public sealed partial class CtorDropoutEncoderModel
{
    private readonly TransformerEncoderLayer layer;
    private readonly Dropout drop;
    private readonly Linear head;

    public CtorDropoutEncoderModel(int d, int heads, int ff, double dropout)
    {
        layer = new TransformerEncoderLayer(d, heads, ff, dropout, batchFirst: true);
        drop = new Dropout(dropout);
        head = new Linear(d, 3);
    }

    public Tensor Forward([Shape("N", "T", "d")] Tensor x) => head.Forward(drop.Forward(layer.Forward(x)));
}

/// <summary>A MultiheadAttention whose dropout is the constructor's parameter (compiled by the attention that handles any dropout).</summary>
[Module]
public sealed partial class CtorDropoutAttentionModel
{
    private readonly MultiheadAttention attn;
    private readonly Linear head;

    public CtorDropoutAttentionModel(int d, int heads, double dropout)
    {
        attn = new MultiheadAttention(d, heads, dropout: dropout, batchFirst: true);
        head = new Linear(d, 3);
    }

    public Tensor Forward([Shape("N", "T", "d")] Tensor x, [Shape("N", "S", "d")] Tensor memory)
    {
        var self = attn.Forward(x, x, x, needWeights: false).Output;
        var cross = attn.Forward(x, memory, memory, needWeights: false).Output;
        return head.Forward(self + cross + x);
    }
}

/// <summary>A TransformerDecoderLayer whose dropout is the constructor's parameter, called as a statement (its own program).</summary>
[Module]
public sealed partial class CtorDropoutDecoderModel
{
    private readonly TransformerDecoderLayer layer;
    private readonly Linear head;

    public CtorDropoutDecoderModel(int d, int heads, int ff, double dropout)
    {
        layer = new TransformerDecoderLayer(d, heads, ff, dropout: dropout, batchFirst: true);
        head = new Linear(d, 3);
    }

    public Tensor Forward([Shape("N", "T", "d")] Tensor x, [Shape("N", "S", "d")] Tensor memory)
    {
        var h = layer.Forward(x, memory);
        return head.Forward(h);
    }
}

/// <summary>
/// A dropout probability given at construction (0.0 or 0.3, a constructor parameter, not a build-time constant) is no graph
/// break: the compiled programs read p from the layers at each call. In training (the same seed: eager's masks) and in
/// evaluation, the compiled output, the input gradients and every parameter's gradient equal eager's, at batch 1 and 3.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledConstructorDropoutTests
{
    // Run (reseeded forward and backward), AssertSame (outputs and every gradient) and Randomize are CompiledTransformerDropoutTests'.
    private static (Tensor Out, Tensor[] InputGrads, Dictionary<string, Tensor> Grads) Run(Module model, Func<Tensor[], Tensor> forward, Tensor[] inputs, Tensor seed, int rngSeed)
        => CompiledTransformerDropoutTests.Run(model, forward, inputs, seed, rngSeed);

    public static TheoryData<double, int, bool> Cases()
    {
        var cases = new TheoryData<double, int, bool>();
        foreach (double p in new[] { 0.0, 0.3 })
        {
            foreach (int batch in new[] { 1, 3 })
            {
                cases.Add(p, batch, true);
                cases.Add(p, batch, false);
            }
        }
        return cases;
    }

    /// <summary>
    /// Compiled equals eager (training or evaluation); in training with p &gt; 0 the masks do drop (the output differs from
    /// evaluation's), so the comparison is of eager's masks, not of two identities.
    /// </summary>
    private static void Check(Module model, Func<Tensor[], Tensor> eagerForward, Func<Tensor[], Tensor> compiledForward, Tensor[] inputs, Tensor seed,
        double p, bool training, string what)
    {
        if (training) model.Train();
        else model.Eval();
        var eager = Run(model, eagerForward, inputs, seed, 301);
        var compiled = Run(model, compiledForward, inputs, seed, 301);
        CompiledTransformerDropoutTests.AssertSame(eager, compiled, $"{what} (p {p}, {(training ? "training" : "evaluation")})");
        if (training && p > 0)
        {
            model.Eval();
            Tensor evaluated;
            using (Autograd.NoGrad()) evaluated = compiledForward(inputs);
            model.Train();
            Assert.True((evaluated - eager.Out).Abs().Max().Item() > 1e-3, "dropout changed nothing");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EncoderLayerModelEqualsEager(double p, int batch, bool training)
    {
        const int d = 8, t = 5;
        var rng = new Rng(311);
        var model = new CtorDropoutEncoderModel(d, 2, 16, p);
        CompiledTransformerDropoutTests.Randomize(model, rng);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var x = Tensor.Randn([batch, t, d], rng: rng);
        var seed = Tensor.Randn([batch, t, 3], rng: rng);
        Check(model, a => model.Forward(a[0]), a => compiled.Forward(a[0]), [x], seed, p, training, "encoder layer model");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AttentionModelEqualsEager(double p, int batch, bool training)
    {
        const int d = 8, t = 5, s = 7;
        var rng = new Rng(321);
        var model = new CtorDropoutAttentionModel(d, 2, p);
        CompiledTransformerDropoutTests.Randomize(model, rng);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var x = Tensor.Randn([batch, t, d], rng: rng);
        var memory = Tensor.Randn([batch, s, d], rng: rng);
        var seed = Tensor.Randn([batch, t, 3], rng: rng);
        Check(model, a => model.Forward(a[0], a[1]), a => compiled.Forward(a[0], a[1]), [x, memory], seed, p, training, "attention model");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void DecoderLayerModelEqualsEager(double p, int batch, bool training)
    {
        const int d = 8, t = 4, s = 6;
        var rng = new Rng(331);
        var model = new CtorDropoutDecoderModel(d, 2, 16, p);
        CompiledTransformerDropoutTests.Randomize(model, rng);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var x = Tensor.Randn([batch, t, d], rng: rng);
        var memory = Tensor.Randn([batch, s, d], rng: rng);
        var seed = Tensor.Randn([batch, t, 3], rng: rng);
        Check(model, a => model.Forward(a[0], a[1]), a => compiled.Forward(a[0], a[1]), [x, memory], seed, p, training, "decoder layer model");
    }
}
