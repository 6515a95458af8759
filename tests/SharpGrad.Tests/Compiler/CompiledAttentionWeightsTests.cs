using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

// Models whose Forward takes MultiheadAttention's returned weights (PyTorch: `out, w = mha(q, k, v)` with need_weights=True),
// compiled by CrossAttentionRule and AttentionWeightsRule (CompiledAttentionWeightsTests).

/// <summary>Self-attention under a key padding mask; the averaged weights [N, T, T] and the output both used: y + w·y.</summary>
[Module]
public sealed partial class SelfWeightsAttender
{
    private readonly MultiheadAttention attn = new(8, 2, batchFirst: true);

    public Tensor Forward([Shape("N", "T", 8)] Tensor x, [Shape("N", "T")] Tensor padding)
    {
        var (y, w) = attn.Forward(x, x, x, keyPaddingMask: padding);
        return y + w!.MatMul(y);
    }
}

/// <summary>Attention over another sequence (key = value) under a float attn_mask [T, S]: only the per-head weights [N, 4, T, S], returned.</summary>
[Module]
public sealed partial class PerHeadWeightsAttender
{
    private readonly MultiheadAttention attn = new(8, 4, batchFirst: true);

    public Tensor Forward([Shape("N", "T", 8)] Tensor x, [Shape("N", "S", 8)] Tensor memory, [Shape("T", "S")] Tensor mask)
        => attn.Forward(x, memory, memory, attnMask: mask, averageAttnWeights: false).Weights!;
}

/// <summary>kdim/vdim, key ≠ value, no biases: only the averaged weights [N, T, S], returned (`.Weights`).</summary>
[Module]
public sealed partial class AveragedWeightsAttender
{
    private readonly MultiheadAttention attn = new(8, 2, bias: false, kdim: 5, vdim: 7, batchFirst: true);

    public Tensor Forward([Shape("N", "T", 8)] Tensor x, [Shape("N", "S", 5)] Tensor keys, [Shape("N", "S", 7)] Tensor values)
        => attn.Forward(x, keys, values).Weights!;
}

/// <summary>
/// A batch-second layer (batch_first=False) over the transposed inputs with a key padding mask: its output [T, N, 8] back to batch
/// first plus its weights (batch first, [N, T, S], as PyTorch returns them) times the memory.
/// </summary>
[Module]
public sealed partial class BatchSecondWeightsAttender
{
    private readonly MultiheadAttention attn = new(8, 2);

    public Tensor Forward([Shape("N", "T", 8)] Tensor x, [Shape("N", "S", 8)] Tensor memory, [Shape("N", "S")] Tensor padding)
    {
        var m = memory.Transpose(0, 1);
        var (y, w) = attn.Forward(x.Transpose(0, 1), m, m, padding);
        return y.Transpose(0, 1) + w!.MatMul(memory);
    }
}

/// <summary>The loss: output.Sum() + (w * w).Sum() with a causal self-attention (a scalar result).</summary>
[Module]
public sealed partial class WeightsLossAttender
{
    private readonly MultiheadAttention attn = new(8, 2, batchFirst: true);

    public Tensor Forward([Shape("N", "T", 8)] Tensor x, [Shape("T", "T")] Tensor causal)
    {
        var (y, w) = attn.Forward(x, x, x, attnMask: causal);
        return y.Sum() + (w! * w!).Sum();
    }
}

/// <summary>
/// Dropout on the weights in training: a self-attention's averaged weights (after dropout, as PyTorch returns them) and a second
/// layer's per-head weights over separate keys and values, summed over the heads; both used with the outputs.
/// </summary>
[Module]
public sealed partial class DropoutWeightsAttender
{
    internal readonly MultiheadAttention self = new(8, 2, dropout: 0.3, batchFirst: true);
    internal readonly MultiheadAttention cross = new(8, 2, dropout: 0.5, kdim: 5, batchFirst: true);

    public Tensor Forward([Shape("N", "T", 8)] Tensor x, [Shape("N", "S", 5)] Tensor keys, [Shape("N", "S", 8)] Tensor values)
    {
        var (y, w) = self.Forward(x, x, x);
        var h = y + w!.MatMul(x);
        var (z, perHead) = cross.Forward(h, keys, values, averageAttnWeights: false);
        return z + perHead!.Sum(1).MatMul(values);
    }
}

/// <summary>
/// MultiheadAttention calls whose weights are taken (issue 13, need_weights): compiled with no graph break, the weights a second
/// result of the attention's node (averaged over the heads [N, L, S] by default, per head [N, heads, L, S] with
/// average_attn_weights=False, batch first whatever batch_first is), their gradient joining the attention's backward. The result
/// (the weights themselves, or the weights combined with the output), the gradients of every input and of every parameter equal
/// eager's at batch 1, 3 and 64 and at two pairs of lengths; self- and cross-attention, key padding and attention masks, kdim/vdim,
/// bias=False, batch second, dropout in training (the weights returned after dropout, as PyTorch 1.13's
/// F.multi_head_attention_forward returns them; eager's are checked against PyTorch in SequenceLayerFixtureTests).
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledAttentionWeightsTests
{
    public static TheoryData<int, int, int> Sizes => new() { { 1, 5, 7 }, { 3, 5, 7 }, { 3, 9, 2 }, { 64, 4, 6 } };

    /// <summary>
    /// <see cref="CompiledAttentionOptionsTests.Compare"/>: where eager gives no gradient (only the weights used: the value, its
    /// projection and the out-projection are not in their graph), the compiled program gives none either (GradientReach).
    /// </summary>
    private static void Compare(Module eager, Module twin, Func<Tensor[], Tensor> runEager, Func<Tensor[], Tensor> runCompiled, Tensor[] floats, Action? reseed = null)
        => CompiledAttentionOptionsTests.Compare(eager, twin, runEager, runCompiled, floats, reseed);

    private static (TModel Model, TModel Twin) Twins<TModel>(Func<TModel> create) where TModel : Module => CompiledAttentionOptionsTests.Twins(create);

    private static Tensor Padding(int n, int s) => CompiledAttentionOptionsTests.Padding(n, s);

    [Theory]
    [MemberData(nameof(Sizes))]
    public void SelfAttentionAveragedWeightsWithAPaddingMaskMatchEager(int batch, int t, int s)
    {
        _ = s;
        Rng.ManualSeed(161);
        var (model, twin) = Twins(() => new SelfWeightsAttender());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var padding = Padding(batch, t);
        Compare(model, twin, a => model.Forward(a[0], padding), a => compiled.Forward(a[0], padding), [Tensor.Randn([batch, t, 8], rng: new Rng(162))]);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void PerHeadWeightsUnderAnAttentionMaskMatchEager(int batch, int t, int s)
    {
        Rng.ManualSeed(163);
        var (model, twin) = Twins(() => new PerHeadWeightsAttender());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(164);
        var mask = Tensor.Randn([t, s], rng: rng);
        Tensor[] inputs = [Tensor.Randn([batch, t, 8], rng: rng), Tensor.Randn([batch, s, 8], rng: rng)];
        Compare(model, twin, a => model.Forward(a[0], a[1], mask), a => compiled.Forward(a[0], a[1], mask), inputs);
        Assert.Equal([batch, 4, t, s], compiled.Forward(inputs[0], inputs[1], mask).Shape);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void AveragedWeightsOfSeparateProjectionsMatchEager(int batch, int t, int s)
    {
        Rng.ManualSeed(165);
        var (model, twin) = Twins(() => new AveragedWeightsAttender());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(166);
        Tensor[] inputs = [Tensor.Randn([batch, t, 8], rng: rng), Tensor.Randn([batch, s, 5], rng: rng), Tensor.Randn([batch, s, 7], rng: rng)];
        Compare(model, twin, a => model.Forward(a[0], a[1], a[2]), a => compiled.Forward(a[0], a[1], a[2]), inputs);
        var w = compiled.Forward(inputs[0], inputs[1], inputs[2]).Detach();
        Assert.Equal([batch, t, s], w.Shape);
        TensorAssert.Close(Tensor.Ones([batch, t]), w.Sum(-1), 1e-5, 1e-5, "each query's weights sum to 1");
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void BatchSecondWeightsAreBatchFirstAndMatchEager(int batch, int t, int s)
    {
        Rng.ManualSeed(167);
        var (model, twin) = Twins(() => new BatchSecondWeightsAttender());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(168);
        var padding = Padding(batch, s);
        Compare(model, twin, a => model.Forward(a[0], a[1], padding), a => compiled.Forward(a[0], a[1], padding),
            [Tensor.Randn([batch, t, 8], rng: rng), Tensor.Randn([batch, s, 8], rng: rng)]);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void ALossOfTheOutputAndTheWeightsMatchesEager(int batch, int t, int s)
    {
        _ = s;
        Rng.ManualSeed(169);
        var (model, twin) = Twins(() => new WeightsLossAttender());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var causal = Tensor.Ones([t, t], DType.Bool).Triu(1);
        Compare(model, twin, a => model.Forward(a[0], causal), a => compiled.Forward(a[0], causal), [Tensor.Randn([batch, t, 8], rng: new Rng(170))]);
    }

    /// <summary>
    /// Training: the weights' dropout masks are drawn from the global generator in eager's order, and the weights returned are the
    /// dropped ones (PyTorch 1.13); with the same seed compiled equals eager, gradients included. In evaluation nothing is drawn.
    /// </summary>
    [Theory]
    [MemberData(nameof(Sizes))]
    public void DropoutInTrainingReturnsTheDroppedWeightsAsEager(int batch, int t, int s)
    {
        Rng.ManualSeed(171);
        var (model, twin) = Twins(() => new DropoutWeightsAttender());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(172);
        Tensor[] inputs = [Tensor.Randn([batch, t, 8], rng: rng), Tensor.Randn([batch, s, 5], rng: rng), Tensor.Randn([batch, s, 8], rng: rng)];
        Compare(model, twin, a => model.Forward(a[0], a[1], a[2]), a => compiled.Forward(a[0], a[1], a[2]), inputs, () => Rng.ManualSeed(173));

        model.Eval();
        twin.Eval();
        Tensor evaluated;
        using (Autograd.NoGrad()) evaluated = model.Forward(inputs[0], inputs[1], inputs[2]);
        using (Autograd.NoGrad()) TensorAssert.Close(evaluated, compiled.Forward(inputs[0], inputs[1], inputs[2]).Detach(), 1e-5, 1e-5, "evaluation result");
    }

    /// <summary>The weights in training are those after dropout: some are 0, the others scaled by 1/(1 − p), as eager's (and PyTorch's).</summary>
    [Fact]
    public void TheWeightsInTrainingAreAfterDropout()
    {
        Rng.ManualSeed(174);
        var (model, twin) = Twins(() => new PerHeadDropoutWeights());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var x = Tensor.Randn([3, 6, 8], rng: new Rng(175));
        Rng.ManualSeed(176);
        var eager = model.Forward(x).Detach();
        Rng.ManualSeed(176);
        var weights = compiled.Forward(x).Detach();
        TensorAssert.Close(eager, weights, 1e-5, 1e-5, "dropped weights");
        var zeros = weights.Eq(0).To(DType.Float32).Sum().Item();
        Assert.True(zeros > 0, "no weight was dropped");
        model.Eval();
        var kept = model.Forward(x).Detach();
        // Where not dropped, the weight is the evaluation weight / (1 − p) = 2·w.
        var ratio = Tensor.Where(weights.Eq(0), kept * 2f, weights) / (kept * 2f);
        TensorAssert.Close(Tensor.OnesLike(ratio), ratio, 1e-4, 1e-5, "kept weights scaled by 1/(1 − p)");
    }

    /// <summary>needWeights: false with the weights taken: eager's weights are null, so the compiler names the call (never a program reading nothing).</summary>
    [Fact]
    public void WeightsOfACallWithoutNeedWeightsAreNamed()
    {
        var compiled = new NoWeightsTaken().Compile();
        Assert.False(compiled.Explanation.IsFullyCompiled);
        Assert.Contains("needWeights: false", compiled.Explanation.ToString(), StringComparison.Ordinal);
    }
}

/// <summary>Per-head weights of a self-attention with dropout 0.5, returned.</summary>
[Module]
public sealed partial class PerHeadDropoutWeights
{
    private readonly MultiheadAttention attn = new(8, 2, dropout: 0.5, batchFirst: true);

    public Tensor Forward([Shape("N", 6, 8)] Tensor x) => attn.Forward(x, x, x, averageAttnWeights: false).Weights!;
}

/// <summary>The weights of a call with needWeights: false taken (eager: null): a named break.</summary>
[Module]
public sealed partial class NoWeightsTaken
{
    private readonly MultiheadAttention attn = new(8, 2, batchFirst: true);

    public Tensor Forward([Shape("N", 4, 8)] Tensor x)
    {
        var (y, w) = attn.Forward(x, x, x, needWeights: false);
        return w is null ? y : w.MatMul(y);
    }
}
