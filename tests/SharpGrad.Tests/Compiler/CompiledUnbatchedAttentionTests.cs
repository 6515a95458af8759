using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>Unbatched self-attention ([T, 16], batch_first=False ignored) between two Linears: the fused self-attention kernel run as one sequence.</summary>
[Module]
public sealed partial class UnbatchedSelfAttender
{
    private readonly Linear embed = new(16, 16);
    private readonly MultiheadAttention attn = new(16, 2);
    private readonly Linear head = new(16, 3);

    public Tensor Forward([Shape("T", 16)] Tensor x)
    {
        var h = embed.Forward(x);
        return head.Forward(attn.Forward(h, h, h, needWeights: false).Output + h);
    }
}

/// <summary>Unbatched self-attention under a Bool attn_mask [T, T] and a key_padding_mask [T], and again under a float [heads, T, T] mask.</summary>
[Module]
public sealed partial class UnbatchedMaskedAttender
{
    private readonly MultiheadAttention attn = new(16, 4, batchFirst: true);
    private readonly MultiheadAttention second = new(16, 2);

    public Tensor Forward([Shape("T", 16)] Tensor x, [Shape("T")] Tensor padding, [Shape("T", "T")] Tensor causal, [Shape(2, "T", "T")] Tensor bias)
    {
        var h = attn.Forward(x, x, x, keyPaddingMask: padding, attnMask: causal, needWeights: false).Output + x;
        return second.Forward(h, h, h, attnMask: bias, needWeights: false).Output;
    }
}

/// <summary>
/// Unbatched attention of x [T, 16] over a memory of fixed length [6, 16] (key = value; L = T and S = 6 differ) with its key padding
/// mask [6], its head-averaged weights [T, 6] taken and used.
/// </summary>
[Module]
public sealed partial class UnbatchedCrossAttender
{
    private readonly MultiheadAttention cross = new(16, 4, batchFirst: true);

    public Tensor Forward([Shape("T", 16)] Tensor x, [Shape(6, 16)] Tensor memory, [Shape(6)] Tensor padding)
    {
        var (y, w) = cross.Forward(x, memory, memory, keyPaddingMask: padding);
        return y + w!.MatMul(memory);
    }
}

/// <summary>Unbatched attention with kdim/vdim and no biases over a key [6, 5] and a value [6, 7]: its per-head weights [2, T, 6] returned.</summary>
[Module]
public sealed partial class UnbatchedKdimWeightsAttender
{
    private readonly MultiheadAttention attn = new(8, 2, bias: false, kdim: 5, vdim: 7);

    public Tensor Forward([Shape("T", 8)] Tensor x, [Shape(6, 5)] Tensor keys, [Shape(6, 7)] Tensor values)
        => attn.Forward(x, keys, values, averageAttnWeights: false).Weights!;
}

/// <summary>Unbatched attention over a key and a value computed from the query's rows (S = T): separate projections of x.</summary>
[Module]
public sealed partial class UnbatchedKeyValueAttender
{
    private readonly Linear toKey = new(8, 8);
    private readonly Linear toValue = new(8, 8);
    private readonly MultiheadAttention attn = new(8, 2);

    public Tensor Forward([Shape("T", 8)] Tensor x)
        => attn.Forward(x, toKey.Forward(x), toValue.Forward(x), needWeights: false).Output;
}

/// <summary>Dropout on the weights of an unbatched self-attention and of an unbatched attention over a fixed memory.</summary>
[Module]
public sealed partial class UnbatchedDropoutAttender
{
    internal readonly MultiheadAttention self = new(8, 2, dropout: 0.3);
    internal readonly MultiheadAttention cross = new(8, 2, dropout: 0.5, kdim: 5, vdim: 5, batchFirst: true);

    public Tensor Forward([Shape("T", 8)] Tensor x, [Shape(6, 5)] Tensor memory)
    {
        var h = self.Forward(x, x, x, needWeights: false).Output;
        return cross.Forward(h, memory, memory, needWeights: false).Output;
    }
}

/// <summary>
/// An unbatched TransformerDecoderLayer ([T, 16] target over a [6, 16] memory, as PyTorch takes it; batch_first=False, which
/// does not apply) under a causal Bool tgt_mask [T, T] and a memory key padding mask [6], and an unbatched batch-first
/// TransformerEncoderLayer on its result under a key padding mask [T]: the children run their own compiled programs as a batch of
/// one; the result must be eager's (it threw "expected tgt of float32 [T, N, 16]" before session 12).
/// </summary>
[Module]
public sealed partial class UnbatchedDecoderLayerNet
{
    private readonly TransformerDecoderLayer decoder = new(16, 2, 32, 0.0);
    private readonly TransformerEncoderLayer encoder = new(16, 2, 32, 0.0, batchFirst: true);

    public Tensor Forward([Shape("T", 16)] Tensor x, [Shape(6, 16)] Tensor memory, [Shape("T", "T")] Tensor causal, [Shape(6)] Tensor memoryPadding, [Shape("T")] Tensor padding)
    {
        var h = decoder.Forward(x, memory, tgtMask: causal, memoryKeyPaddingMask: memoryPadding);
        return encoder.Forward(h, srcKeyPaddingMask: padding);
    }
}

/// <summary>
/// An unbatched TransformerEncoderLayer ([T, 16], PyTorch's 2-d src; batch_first=False, which does not apply) as a node of the
/// module's graph, between a Linear and a residual + LayerNorm + Linear head, under a causal Bool src_mask [T, T] and a key
/// padding mask [T], with dropout 0.1: one compiled region, the rows one sequence (session 13).
/// </summary>
[Module]
public sealed partial class UnbatchedEncoderNodeNet
{
    private readonly Linear proj = new(8, 16);
    private readonly TransformerEncoderLayer encoder = new(16, 2, 32, 0.1);
    private readonly LayerNorm norm = new(16);
    private readonly Linear head = new(16, 3);

    public Tensor Forward([Shape("T", 8)] Tensor x, [Shape("T", "T")] Tensor causal, [Shape("T")] Tensor padding)
    {
        var h = proj.Forward(x);
        return head.Forward(norm.Forward(encoder.Forward(h, srcMask: causal, srcKeyPaddingMask: padding) + h));
    }
}

/// <summary>
/// PyTorch's unbatched MultiheadAttention call (query [L, E], key and value [S, ·], key_padding_mask [S], attn_mask [L, S] or
/// [heads, L, S]; weights [L, S] or [heads, L, S]; batch_first ignored) compiled: the query's rows are the program's batch, run by the
/// attention kernels as one sequence. No graph break, and the output, the inputs' and every parameter's gradients equal eager's at
/// several lengths L (and S = 6 for a fixed memory). Eager's unbatched calls are checked against PyTorch in SequenceLayerFixtureTests
/// (mha_kdim_vdim_unbatched, mha_unbatched_bool_masks, mha_unbatched_self_float_mask).
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledUnbatchedAttentionTests
{
    public static TheoryData<int> Lengths => new() { 1, 5, 9 };

    private static void Compare(Module eager, Module twin, Func<Tensor[], Tensor> runEager, Func<Tensor[], Tensor> runCompiled, Tensor[] floats, Action? reseed = null)
        => CompiledAttentionOptionsTests.Compare(eager, twin, runEager, runCompiled, floats, reseed);

    [Theory]
    [MemberData(nameof(Lengths))]
    public void UnbatchedDecoderLayerMatchesEager(int t)
    {
        Rng.ManualSeed(221);
        var (model, twin) = CompiledAttentionOptionsTests.Twins(() => new UnbatchedDecoderLayerNet());
        var compiled = twin.Compile();
        var rng = new Rng(222);
        Tensor[] inputs = [Tensor.Randn([t, 16], rng: rng), Tensor.Randn([6, 16], rng: rng)];
        var causal = Tensor.Ones([t, t], DType.Bool).Triu(1);
        var memoryPadding = Tensor.FromArray([false, false, true, false, true, false], 6);
        var padding = Tensor.FromArray(Enumerable.Range(0, t).Select(p => p > 0 && p >= t - 2).ToArray(), t);   // never every key
        using (Autograd.NoGrad()) Assert.Equal([t, 16], model.Forward(inputs[0], inputs[1], causal, memoryPadding, padding).Shape);
        Compare(model, twin, a => model.Forward(a[0], a[1], causal, memoryPadding, padding), a => compiled.Forward(a[0], a[1], causal, memoryPadding, padding), inputs);
    }

    /// <summary>An unbatched encoder layer inside the graph: fully compiled, equal to eager in training (same dropout masks) and in evaluation.</summary>
    [Theory]
    [MemberData(nameof(Lengths))]
    public void UnbatchedEncoderLayerNodeMatchesEager(int t)
    {
        Rng.ManualSeed(231);
        var (model, twin) = CompiledAttentionOptionsTests.Twins(() => new UnbatchedEncoderNodeNet());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(232);
        Tensor[] inputs = [Tensor.Randn([t, 8], rng: rng)];
        var causal = Tensor.Ones([t, t], DType.Bool).Triu(1);
        var padding = Tensor.FromArray(Enumerable.Range(0, t).Select(p => p > 0 && p >= t - 2).ToArray(), t);   // never every key
        Compare(model, twin, a => model.Forward(a[0], causal, padding), a => compiled.Forward(a[0], causal, padding), inputs, () => Rng.ManualSeed(233));
        model.Eval();
        twin.Eval();
        model.ZeroGrad();
        twin.ZeroGrad();
        Compare(model, twin, a => model.Forward(a[0], causal, padding), a => compiled.Forward(a[0], causal, padding), inputs);
    }

    /// <summary>A batched [1, T] key padding mask given to the unbatched encoder layer node: an error naming the layer and the shape.</summary>
    [Fact]
    public void UnbatchedEncoderLayerNodeNamesABatchedPaddingMask()
    {
        var model = new UnbatchedEncoderNodeNet();
        var compiled = model.Compile();
        var causal = Tensor.Ones([4, 4], DType.Bool).Triu(1);
        var e = Assert.Throws<ArgumentException>(() => compiled.Forward(Tensor.Randn([4, 8], rng: new Rng(234)), causal, Tensor.Zeros([1, 4], DType.Bool)));
        Assert.Contains("unbatched TransformerEncoderLayer call (src [T, E])", e.Message, StringComparison.Ordinal);
        Assert.Contains("[1, 4]", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void SelfAttentionMatchesEager(int t)
    {
        Rng.ManualSeed(201);
        var (model, twin) = CompiledAttentionOptionsTests.Twins(() => new UnbatchedSelfAttender());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Compare(model, twin, a => model.Forward(a[0]), a => compiled.Forward(a[0]), [Tensor.Randn([t, 16], rng: new Rng(202))]);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void MaskedSelfAttentionMatchesEager(int t)
    {
        Rng.ManualSeed(203);
        var (model, twin) = CompiledAttentionOptionsTests.Twins(() => new UnbatchedMaskedAttender());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(204);
        var padding = Tensor.FromArray(Enumerable.Range(0, t).Select(p => p > 0 && p >= t - 2).ToArray(), t);   // never every key
        var causal = Tensor.Ones([t, t], DType.Bool).Triu(1);
        var bias = Tensor.Randn([2, t, t], rng: rng);
        Compare(model, twin, a => model.Forward(a[0], padding, causal, bias), a => compiled.Forward(a[0], padding, causal, bias), [Tensor.Randn([t, 16], rng: rng)]);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void CrossAttentionWithAveragedWeightsMatchesEager(int t)
    {
        Rng.ManualSeed(205);
        var (model, twin) = CompiledAttentionOptionsTests.Twins(() => new UnbatchedCrossAttender());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(206);
        var padding = Tensor.FromArray([false, false, false, false, true, true], 6);
        Compare(model, twin, a => model.Forward(a[0], a[1], padding), a => compiled.Forward(a[0], a[1], padding),
            [Tensor.Randn([t, 16], rng: rng), Tensor.Randn([6, 16], rng: rng)]);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void PerHeadWeightsWithKdimVdimMatchEager(int t)
    {
        Rng.ManualSeed(207);
        var (model, twin) = CompiledAttentionOptionsTests.Twins(() => new UnbatchedKdimWeightsAttender());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(208);
        Tensor[] inputs = [Tensor.Randn([t, 8], rng: rng), Tensor.Randn([6, 5], rng: rng), Tensor.Randn([6, 7], rng: rng)];
        using (Autograd.NoGrad()) Assert.Equal([2, t, 6], model.Forward(inputs[0], inputs[1], inputs[2]).Shape);
        // A loss of the weights only: the value's projection and the out-projection get no gradient, in eager and compiled (GradientReach).
        CompiledAttentionOptionsTests.Compare(model, twin, a => model.Forward(a[0], a[1], a[2]), a => compiled.Forward(a[0], a[1], a[2]), inputs);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void KeyAndValueFromTheQueryRowsMatchEager(int t)
    {
        Rng.ManualSeed(209);
        var (model, twin) = CompiledAttentionOptionsTests.Twins(() => new UnbatchedKeyValueAttender());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Compare(model, twin, a => model.Forward(a[0]), a => compiled.Forward(a[0]), [Tensor.Randn([t, 8], rng: new Rng(210))]);
    }

    /// <summary>Training: the dropout masks are drawn from the global generator as eager draws them (same seed, same masks), and they do drop.</summary>
    [Theory]
    [MemberData(nameof(Lengths))]
    public void DropoutInTrainingDrawsEagersMasks(int t)
    {
        Rng.ManualSeed(211);
        var (model, twin) = CompiledAttentionOptionsTests.Twins(() => new UnbatchedDropoutAttender());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(212);
        Tensor[] inputs = [Tensor.Randn([t, 8], rng: rng), Tensor.Randn([6, 5], rng: rng)];
        Compare(model, twin, a => model.Forward(a[0], a[1]), a => compiled.Forward(a[0], a[1]), inputs, () => Rng.ManualSeed(213));

        Tensor trained, evaluated;
        Rng.ManualSeed(213);
        using (Autograd.NoGrad()) trained = model.Forward(inputs[0], inputs[1]);
        model.Eval();
        using (Autograd.NoGrad()) evaluated = model.Forward(inputs[0], inputs[1]);
        Assert.True((trained - evaluated).Abs().Max().Item() > 1e-3, "training dropped nothing");
    }

    /// <summary>The layers' own generators (<c>attn.Rng</c>, reseeded identically for both) are the ones the compiled program draws from.</summary>
    [Fact]
    public void DropoutDrawsFromTheLayersOwnGenerators()
    {
        Rng.ManualSeed(214);
        var (model, twin) = CompiledAttentionOptionsTests.Twins(() => new UnbatchedDropoutAttender());
        var compiled = twin.Compile();
        var rng = new Rng(215);
        Compare(model, twin, a => model.Forward(a[0], a[1]), a => compiled.Forward(a[0], a[1]), [Tensor.Randn([7, 8], rng: rng), Tensor.Randn([6, 5], rng: rng)],
            () =>
            {
                (model.self.Rng, twin.self.Rng) = (new Rng(21), new Rng(21));
                (model.cross.Rng, twin.cross.Rng) = (new Rng(22), new Rng(22));
                Rng.ManualSeed(999);   // not the generator drawn from
            });
    }

    /// <summary>A batched key padding mask [1, S] for an unbatched call is a clear error in both modes (PyTorch wants [S]).</summary>
    [Fact]
    public void AKeyPaddingMaskOfTheWrongRankIsAClearError()
    {
        var model = new UnbatchedCrossAttender();
        var compiled = model.Compile();
        var (x, memory) = (Tensor.Randn(4, 16), Tensor.Randn(6, 16));
        var padding = Tensor.Zeros([1, 6], DType.Bool);
        Assert.ThrowsAny<ArgumentException>(() => model.Forward(x, memory, padding));
        var e = Assert.ThrowsAny<ArgumentException>(() => compiled.Forward(x, memory, padding));
        Assert.Contains("[1, 6]", e.Message, StringComparison.Ordinal);
    }
}
