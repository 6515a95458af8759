using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// PyTorch's most common encoder: <c>nn.TransformerEncoderLayer(16, 2, 32)</c> (batch_first=False, dropout 0.1) then
/// <c>nn.LayerNorm(16)</c>, in one compiled region over a [T, N, 16] input (the batch in dim 1).
/// </summary>
[Module]
public sealed partial class BatchSecondEncoderNormModel
{
    private readonly TransformerEncoderLayer layer = new(16, 2, 32);
    private readonly LayerNorm norm = new(16);

    public Tensor Forward([Shape("T", "N", 16)] Tensor x) => norm.Forward(layer.Forward(x));
}

/// <summary>
/// What users write after a batch-second encoder layer: a Dropout and a residual add, a second (pre-norm GELU) layer, a LayerNorm,
/// a mean over the steps (dim 0, [T, N, 16] → [N, 16]) and a Linear head; and per step a Linear and a log-softmax over the last dim.
/// </summary>
[Module]
public sealed partial class BatchSecondEncoderConsumersModel
{
    private readonly TransformerEncoderLayer layer = new(16, 2, 32);
    private readonly TransformerEncoderLayer second = new(16, 4, 24, 0.1, "gelu", normFirst: true);
    private readonly LayerNorm norm = new(16);
    private readonly Dropout drop = new(0.2);
    private readonly Linear head = new(16, 3);
    private readonly Linear tagger = new(16, 5);

    public Tensor Forward([Shape("T", "N", 16)] Tensor x)
    {
        var h = drop.Forward(layer.Forward(x)) + x;
        h = norm.Forward(second.Forward(h));
        var pooled = head.Forward(h.Mean(0));
        var tags = Functional.LogSoftmax(tagger.Forward(h), -1);
        return tags.Sum(2).Mean(0).Unsqueeze(1) + pooled;
    }
}

/// <summary>
/// A batch-second encoder (a layer and its LayerNorm in one region) feeding a batch-second TransformerDecoderLayer
/// (<c>nn.TransformerDecoderLayer(16, 2, 32)</c>, its own program), then a LayerNorm and a Linear over the target's steps.
/// </summary>
[Module]
public sealed partial class BatchSecondEncoderDecoderModel
{
    private readonly TransformerEncoderLayer encoderLayer = new(16, 2, 32);
    private readonly LayerNorm encoderNorm = new(16);
    private readonly TransformerDecoderLayer decoder = new(16, 2, 32);
    private readonly LayerNorm norm = new(16);
    private readonly Linear head = new(16, 5);

    public Tensor Forward([Shape("S", "N", 16)] Tensor src, [Shape("T", "N", 16)] Tensor tgt)
    {
        var memory = encoderNorm.Forward(encoderLayer.Forward(src));
        var h = decoder.Forward(tgt, memory);
        return head.Forward(norm.Forward(h));
    }
}

/// <summary>
/// <c>nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32), 2, norm=nn.LayerNorm(16))</c> (batch second, its own program),
/// then a mean over the steps and a Linear.
/// </summary>
[Module]
public sealed partial class BatchSecondEncoderStackModel
{
    private readonly TransformerEncoder encoder = new(new TransformerEncoderLayer(16, 2, 32), 2, new LayerNorm(16));
    private readonly Linear head = new(16, 3);

    public Tensor Forward([Shape("T", "N", 16)] Tensor x)
    {
        var h = encoder.Forward(x);
        return head.Forward(h.Mean(0));
    }
}

/// <summary>
/// A batch-second (<c>batch_first=False</c>, PyTorch's default) Transformer encoder layer and the ops users write after it, compiled
/// in the same region (the batch in dim 1 of [T, N, E]: the rows those ops work on are beside the batch wherever it is,
/// <c>MethodDraft.AfterBatch</c>): the output, the inputs' gradients and every parameter's gradient equal eager's at batch 1, 3 and 64
/// and two lengths, in training (dropout masks drawn as eager draws them) and evaluation, with no graph break where nothing but
/// built-in layers is called. The decoder layer and the encoder stack run their own programs between compiled regions.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledBatchSecondEncoderTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (int batch in new[] { 1, 3, 64 })
            foreach (int t in new[] { 5, 2 })
                yield return [batch, t];
    }

    /// <summary>Runs the model eagerly and compiled, training then evaluation, and compares everything.</summary>
    private static void TrainAndEval(Module model, Func<Tensor[], Tensor> eagerForward, Func<Tensor[], Tensor> compiledForward, Tensor[] inputs, int[] outShape, int seed, string what)
    {
        var grad = Tensor.Randn(outShape, rng: new Rng(seed));
        foreach (bool training in new[] { true, false })
        {
            if (training) model.Train();
            else model.Eval();
            var eager = CompiledTransformerDropoutTests.Run(model, eagerForward, inputs, grad, seed + 1);
            var program = CompiledTransformerDropoutTests.Run(model, compiledForward, inputs, grad, seed + 1);
            Assert.Equal(outShape, program.Out.Shape.ToArray());
            CompiledTransformerDropoutTests.AssertSame(eager, program, $"{what} ({(training ? "training" : "evaluation")})");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EncoderLayerThenLayerNormCompilesAndEqualsEager(int batch, int t)
    {
        var rng = new Rng(501);
        var model = new BatchSecondEncoderNormModel();
        CompiledTransformerDropoutTests.Randomize(model, rng);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        TrainAndEval(model, a => model.Forward(a[0]), a => compiled.Forward(a[0]), [Tensor.Randn([t, batch, 16], rng: rng)], [t, batch, 16], 502,
            $"encoder layer + LayerNorm (batch {batch}, T {t})");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ConsumersOfTheLayerCompileAndEqualEager(int batch, int t)
    {
        var rng = new Rng(511);
        var model = new BatchSecondEncoderConsumersModel();
        CompiledTransformerDropoutTests.Randomize(model, rng);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        TrainAndEval(model, a => model.Forward(a[0]), a => compiled.Forward(a[0]), [Tensor.Randn([t, batch, 16], rng: rng)], [batch, 3], 512,
            $"consumers (batch {batch}, T {t})");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EncoderThenDecoderLayerEqualsEager(int batch, int t)
    {
        var rng = new Rng(521);
        var model = new BatchSecondEncoderDecoderModel();
        CompiledTransformerDropoutTests.Randomize(model, rng);
        var compiled = model.Compile();
        // The encoder layer and its LayerNorm are one region, the decoder layer runs its own program, the norm and head another region.
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.True(compiled.Explanation.Regions.Count >= 2, compiled.Explanation.ToString());
        Tensor[] inputs = [Tensor.Randn([t + 1, batch, 16], rng: rng), Tensor.Randn([t, batch, 16], rng: rng)];
        TrainAndEval(model, a => model.Forward(a[0], a[1]), a => compiled.Forward(a[0], a[1]), inputs, [t, batch, 5], 522,
            $"encoder + decoder layer (batch {batch}, T {t})");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EncoderStackWithItsNormThenAHeadEqualsEager(int batch, int t)
    {
        var rng = new Rng(531);
        var model = new BatchSecondEncoderStackModel();
        CompiledTransformerDropoutTests.Randomize(model, rng);
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        TrainAndEval(model, a => model.Forward(a[0]), a => compiled.Forward(a[0]), [Tensor.Randn([t, batch, 16], rng: rng)], [batch, 3], 532,
            $"encoder stack + head (batch {batch}, T {t})");
    }
}
