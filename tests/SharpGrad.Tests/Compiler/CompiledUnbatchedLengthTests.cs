using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>Unbatched self-attention ([T, 16]) under a Bool attn_mask [T, T] and a key_padding_mask [T], returning its head-averaged weights [T, T].</summary>
[Module]
public sealed partial class UnbatchedSelfWeightsAttender
{
    private readonly Linear embed = new(16, 16);
    private readonly MultiheadAttention attn = new(16, 2);

    public Tensor Forward([Shape("T", 16)] Tensor x, [Shape("T")] Tensor padding, [Shape("T", "T")] Tensor causal)
    {
        var h = embed.Forward(x);
        var (_, w) = attn.Forward(h, h, h, keyPaddingMask: padding, attnMask: causal);
        return w! * 3f;
    }
}

/// <summary>Unbatched self-attention with dropout on its weights, returning them per head [2, T, T] (after dropout, as PyTorch returns them).</summary>
[Module]
public sealed partial class UnbatchedSelfHeadWeightsAttender
{
    internal readonly MultiheadAttention attn = new(8, 2, dropout: 0.25);

    public Tensor Forward([Shape("T", 8)] Tensor x) => attn.Forward(x, x, x, averageAttnWeights: false).Weights!;
}

/// <summary>
/// Unbatched attention of x [T, 16] over a memory whose length S is a symbol of its own ([S, 16], key = value), under a key padding
/// mask [S] and a float attn_mask [T, S]; its output through a Linear.
/// </summary>
[Module]
public sealed partial class UnbatchedMemoryLengthAttender
{
    private readonly MultiheadAttention cross = new(16, 4, batchFirst: true);
    private readonly Linear head = new(16, 3);

    public Tensor Forward([Shape("T", 16)] Tensor x, [Shape("S", 16)] Tensor memory, [Shape("S")] Tensor padding, [Shape("T", "S")] Tensor bias)
        => head.Forward(cross.Forward(x, memory, memory, keyPaddingMask: padding, attnMask: bias, needWeights: false).Output + x);
}

/// <summary>Unbatched attention with kdim/vdim over a key [S, 5] and a value [S, 7] of their own length S, a Bool attn_mask [T, S]: per-head weights [2, T, S].</summary>
[Module]
public sealed partial class UnbatchedKeyLengthWeightsAttender
{
    internal readonly MultiheadAttention attn = new(8, 2, kdim: 5, vdim: 7, dropout: 0.2);

    public Tensor Forward([Shape("T", 8)] Tensor x, [Shape("S", 5)] Tensor keys, [Shape("S", 7)] Tensor values, [Shape("T", "S")] Tensor mask)
        => attn.Forward(x, keys, values, attnMask: mask, averageAttnWeights: false).Weights!;
}

/// <summary>
/// Issue 13, session 13: the unbatched MultiheadAttention calls that were graph breaks compile and equal eager — the weights of
/// an unbatched self-attention ([T, T] or [heads, T, T]: a size the sequence length squared, T the program's batch; the second T is
/// read from the query at each call) and a key/value whose length S is a symbol of its own (read from the key at each call), with
/// masks [S] and [T, S]. Output, the inputs' and every parameter's gradients at several lengths, in training (dropout drawn as eager
/// draws it) and in evaluation.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledUnbatchedLengthTests
{
    public static TheoryData<int, bool> Lengths => new() { { 1, true }, { 5, true }, { 9, false }, { 5, false } };

    private static void Compare<TModel>(TModel model, TModel twin, Func<TModel, Tensor[], Tensor> run, Tensor[] floats, bool training, Func<Tensor[], Tensor> runCompiled, int seed)
        where TModel : Module
    {
        if (!training)
        {
            model.Eval();
            twin.Eval();
        }
        CompiledAttentionOptionsTests.Compare(model, twin, a => run(model, a), runCompiled, floats, () => Rng.ManualSeed(seed));
    }

    private static Tensor Padding(int s) => Tensor.FromArray(Enumerable.Range(0, s).Select(p => p > 0 && p >= s - 2).ToArray(), s);   // never every key

    [Theory]
    [MemberData(nameof(Lengths))]
    public void SelfAttentionWeightsMatchEager(int t, bool training)
    {
        Rng.ManualSeed(301);
        var (model, twin) = CompiledAttentionOptionsTests.Twins(() => new UnbatchedSelfWeightsAttender());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var padding = Padding(t);
        var causal = Tensor.Ones([t, t], DType.Bool).Triu(1);
        var x = Tensor.Randn([t, 16], rng: new Rng(302));
        using (Autograd.NoGrad()) Assert.Equal([t, t], model.Forward(x, padding, causal).Shape);
        Compare(model, twin, (mm, a) => mm.Forward(a[0], padding, causal), [x], training, a => compiled.Forward(a[0], padding, causal), 303);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void SelfAttentionHeadWeightsAfterDropoutMatchEager(int t, bool training)
    {
        Rng.ManualSeed(304);
        var (model, twin) = CompiledAttentionOptionsTests.Twins(() => new UnbatchedSelfHeadWeightsAttender());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var x = Tensor.Randn([t, 8], rng: new Rng(305));
        using (Autograd.NoGrad()) Assert.Equal([2, t, t], model.Forward(x).Shape);
        Compare(model, twin, (mm, a) => mm.Forward(a[0]), [x], training, a => compiled.Forward(a[0]), 306);
    }

    [Theory]
    [InlineData(1, 3, true)]
    [InlineData(5, 2, true)]
    [InlineData(4, 7, false)]
    [InlineData(9, 6, true)]
    public void MemoryOfItsOwnLengthMatchesEager(int t, int s, bool training)
    {
        Rng.ManualSeed(307);
        var (model, twin) = CompiledAttentionOptionsTests.Twins(() => new UnbatchedMemoryLengthAttender());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(308);
        var padding = Padding(s);
        var bias = Tensor.Randn([t, s], rng: rng);
        Tensor[] inputs = [Tensor.Randn([t, 16], rng: rng), Tensor.Randn([s, 16], rng: rng)];
        using (Autograd.NoGrad()) Assert.Equal([t, 3], model.Forward(inputs[0], inputs[1], padding, bias).Shape);
        Compare(model, twin, (mm, a) => mm.Forward(a[0], a[1], padding, bias), inputs, training, a => compiled.Forward(a[0], a[1], padding, bias), 309);
    }

    [Theory]
    [InlineData(1, 3, true)]
    [InlineData(5, 2, false)]
    [InlineData(4, 7, true)]
    [InlineData(6, 6, false)]
    public void KeyAndValueOfTheirOwnLengthWeightsMatchEager(int t, int s, bool training)
    {
        Rng.ManualSeed(310);
        var (model, twin) = CompiledAttentionOptionsTests.Twins(() => new UnbatchedKeyLengthWeightsAttender());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(311);
        var mask = Tensor.Ones([t, s], DType.Bool).Triu(1);   // row p hides the keys after p (key 0 never hidden)
        Tensor[] inputs = [Tensor.Randn([t, 8], rng: rng), Tensor.Randn([s, 5], rng: rng), Tensor.Randn([s, 7], rng: rng)];
        using (Autograd.NoGrad()) Assert.Equal([2, t, s], model.Forward(inputs[0], inputs[1], inputs[2], mask).Shape);
        Compare(model, twin, (mm, a) => mm.Forward(a[0], a[1], a[2], mask), inputs, training, a => compiled.Forward(a[0], a[1], a[2], mask), 312);
    }

    /// <summary>A key and a value of different lengths are a clear error in both modes (PyTorch: key and value must have the same sequence length).</summary>
    [Fact]
    public void AKeyAndValueOfDifferentLengthsAreAClearError()
    {
        var model = new UnbatchedKeyLengthWeightsAttender();
        var compiled = model.Compile();
        var (x, k, v, mask) = (Tensor.Randn(4, 8), Tensor.Randn(3, 5), Tensor.Randn(5, 7), Tensor.Zeros([4, 3], DType.Bool));
        Assert.ThrowsAny<ArgumentException>(() => model.Forward(x, k, v, mask));
        var e = Assert.ThrowsAny<ArgumentException>(() => compiled.Forward(x, k, v, mask));
        Assert.Contains("S", e.Message, StringComparison.Ordinal);
    }
}
