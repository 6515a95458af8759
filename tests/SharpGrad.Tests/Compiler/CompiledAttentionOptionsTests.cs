using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>Attention with a key and a value that are different tensors of the same size (packed in-projection), then a Linear.</summary>
[Module]
public sealed partial class KeyNotValueAttender
{
    private readonly MultiheadAttention attn = new(8, 2, batchFirst: true);
    private readonly Linear head = new(8, 3);

    public Tensor Forward([Shape("N", "T", 8)] Tensor x, [Shape("N", "S", 8)] Tensor keys, [Shape("N", "S", 8)] Tensor values)
        => head.Forward(attn.Forward(x, keys, values, needWeights: false).Output);
}

/// <summary>Attention with kdim/vdim ≠ embed_dim (separate q/k/v projection weights) and key ≠ value, then a Linear.</summary>
[Module]
public sealed partial class KdimVdimAttender
{
    private readonly MultiheadAttention attn = new(8, 2, kdim: 5, vdim: 7, batchFirst: true);
    private readonly Linear head = new(8, 3);

    public Tensor Forward([Shape("N", "T", 8)] Tensor x, [Shape("N", "S", 5)] Tensor keys, [Shape("N", "S", 7)] Tensor values)
        => head.Forward(attn.Forward(x, keys, values, needWeights: false).Output);
}

/// <summary>kdim/vdim without biases, the key and value one tensor of width 6 (separate projections over the same rows).</summary>
[Module]
public sealed partial class KdimNoBiasAttender
{
    private readonly MultiheadAttention attn = new(12, 3, bias: false, kdim: 6, vdim: 6, batchFirst: true);

    public Tensor Forward([Shape("N", "T", 12)] Tensor x, [Shape("N", "S", 6)] Tensor memory, [Shape("N", "S")] Tensor padding)
        => attn.Forward(x, memory, memory, keyPaddingMask: padding, needWeights: false).Output;
}

/// <summary>bias=False: a self-attention (x, x, x) under a causal mask, then attention over another sequence (key = value), residuals.</summary>
[Module]
public sealed partial class NoBiasAttender
{
    private readonly MultiheadAttention self = new(8, 2, bias: false, batchFirst: true);
    private readonly MultiheadAttention cross = new(8, 4, bias: false, batchFirst: true);

    public Tensor Forward([Shape("N", "T", 8)] Tensor x, [Shape("N", "S", 8)] Tensor memory, [Shape("T", "T")] Tensor causal)
    {
        var h = self.Forward(x, x, x, attnMask: causal, needWeights: false).Output + x;
        return cross.Forward(h, memory, memory, needWeights: false).Output + h;
    }
}

/// <summary>Dropout on the attention weights: a self-attention and an attention over separate key and value, with a Dropout layer between.</summary>
[Module]
public sealed partial class DropoutAttender
{
    internal readonly MultiheadAttention self = new(8, 2, dropout: 0.25, batchFirst: true);
    internal readonly Dropout drop = new(0.1);
    internal readonly MultiheadAttention cross = new(8, 2, dropout: 0.5, kdim: 5, vdim: 8, batchFirst: true);

    public Tensor Forward([Shape("N", "T", 8)] Tensor x, [Shape("N", "S", 5)] Tensor keys, [Shape("N", "S", 8)] Tensor values)
    {
        var h = drop.Forward(self.Forward(x, x, x, needWeights: false).Output);
        return cross.Forward(h, keys, values, needWeights: false).Output;
    }
}

/// <summary>
/// MultiheadAttention options compiled (CrossAttentionRule over Kernels/CrossAttention.cs): key ≠ value, bias=False, kdim/vdim (the
/// separate q_proj_weight/k_proj_weight/v_proj_weight), dropout on the weights in training (the mask drawn from the same generator as
/// eager, in the same order). No graph break, and the output, the gradients of every input and of every parameter equal eager's at
/// batch 1, 3 and 64 and at two pairs of lengths. Eager MultiheadAttention with these options is checked against PyTorch in
/// SequenceLayerFixtureTests (mha_float_mask: key ≠ value; mha_kdim_vdim_unbatched: kdim/vdim with bias=False).
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledAttentionOptionsTests
{
    public static TheoryData<int, int, int> Sizes => new() { { 1, 5, 7 }, { 3, 5, 7 }, { 3, 9, 2 }, { 64, 4, 6 } };

    /// <summary>
    /// Runs eager on <paramref name="eager"/> and compiled on its twin (same weights), each after <paramref name="reseed"/> (the
    /// global generator reset for dropout), then compares the outputs, the inputs' gradients and the parameters' gradients
    /// (every input and parameter eager gives a gradient must get an equal one, and one eager gives none must get none:
    /// CompiledAttentionWeightsTests, a loss of the weights only).
    /// </summary>
    internal static void Compare(Module eager, Module twin, Func<Tensor[], Tensor> runEager, Func<Tensor[], Tensor> runCompiled, Tensor[] floats,
        Action? reseed = null)
    {
        Tensor[] Fresh() => floats.Select(f => f.Detach().Clone().RequiresGrad_()).ToArray();
        var (ea, ca) = (Fresh(), Fresh());
        reseed?.Invoke();
        var ey = runEager(ea);
        reseed?.Invoke();
        var cy = runCompiled(ca);
        Assert.Equal(ey.Shape, cy.Shape);
        TensorAssert.Close(ey.Detach(), cy.Detach(), 1e-5, 1e-5, "output");
        var g = Tensor.Randn(ey.Shape, rng: new Rng(77));
        (ey * g).Sum().Backward();
        (cy * g).Sum().Backward();
        for (int k = 0; k < floats.Length; k++) CloseGrad(ea[k].Grad, ca[k].Grad, $"gradient of input {k}");
        var twinParams = twin.NamedParameters().ToDictionary(p => p.Name, p => p.Value);
        foreach (var (name, p) in eager.NamedParameters()) CloseGrad(p.Grad, twinParams[name].Grad, "gradient of " + name);
    }

    /// <summary>
    /// Equal gradients, and none where eager leaves none (PyTorch: a leaf outside the graph of the tensor the backward starts from
    /// gets no gradient, not zeros; docs/compiler.md).
    /// </summary>
    internal static void CloseGrad(Tensor? eager, Tensor? compiled, string what)
    {
        if (eager is null)
        {
            Assert.True(compiled is null, $"{what}: eager gives none, the compiled program gave one");
            return;
        }
        Assert.True(compiled is not null, $"the compiled program gave no {what}");
        TensorAssert.Close(eager, compiled!, 1e-4, 1e-5, what);
    }

    internal static (TModel Model, TModel Twin) Twins<TModel>(Func<TModel> create) where TModel : Module
    {
        var model = create();
        var twin = create();
        twin.LoadStateDict(model.StateDict());
        return (model, twin);
    }

    internal static Tensor Padding(int n, int s)
    {
        var pad = new bool[n * s];
        for (int b = 0; b < n; b++)
            for (int p = Math.Max(1, s - b % 3); p < s; p++) pad[b * s + p] = true;   // never every key of a sequence
        return Tensor.FromArray(pad, n, s);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void KeyNotValueCompilesAndMatchesEager(int batch, int t, int s)
    {
        Rng.ManualSeed(141);
        var (model, twin) = Twins(() => new KeyNotValueAttender());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(142);
        Compare(model, twin, a => model.Forward(a[0], a[1], a[2]), a => compiled.Forward(a[0], a[1], a[2]),
            [Tensor.Randn([batch, t, 8], rng: rng), Tensor.Randn([batch, s, 8], rng: rng), Tensor.Randn([batch, s, 8], rng: rng)]);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void KdimVdimCompilesAndMatchesEager(int batch, int t, int s)
    {
        Rng.ManualSeed(143);
        var (model, twin) = Twins(() => new KdimVdimAttender());
        Assert.Equal(["attn.q_proj_weight", "attn.k_proj_weight", "attn.v_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight", "attn.out_proj.bias",
            "head.weight", "head.bias"], model.StateDict().Keys);
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(144);
        Compare(model, twin, a => model.Forward(a[0], a[1], a[2]), a => compiled.Forward(a[0], a[1], a[2]),
            [Tensor.Randn([batch, t, 8], rng: rng), Tensor.Randn([batch, s, 5], rng: rng), Tensor.Randn([batch, s, 7], rng: rng)]);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void KdimWithoutBiasOverOneMemoryMatchesEager(int batch, int t, int s)
    {
        Rng.ManualSeed(145);
        var (model, twin) = Twins(() => new KdimNoBiasAttender());
        Assert.Equal(["attn.q_proj_weight", "attn.k_proj_weight", "attn.v_proj_weight", "attn.out_proj.weight"], model.StateDict().Keys);
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(146);
        var padding = Padding(batch, s);
        Compare(model, twin, a => model.Forward(a[0], a[1], padding), a => compiled.Forward(a[0], a[1], padding),
            [Tensor.Randn([batch, t, 12], rng: rng), Tensor.Randn([batch, s, 6], rng: rng)]);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void NoBiasSelfAndCrossAttentionMatchEager(int batch, int t, int s)
    {
        Rng.ManualSeed(147);
        var (model, twin) = Twins(() => new NoBiasAttender());
        Assert.Equal(["self.in_proj_weight", "self.out_proj.weight", "cross.in_proj_weight", "cross.out_proj.weight"], model.StateDict().Keys);
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(148);
        var causal = Tensor.Ones([t, t], DType.Bool).Triu(1);
        Compare(model, twin, a => model.Forward(a[0], a[1], causal), a => compiled.Forward(a[0], a[1], causal),
            [Tensor.Randn([batch, t, 8], rng: rng), Tensor.Randn([batch, s, 8], rng: rng)]);
    }

    /// <summary>
    /// Training: the weights' dropout masks (and the Dropout layer's between them) are drawn from the global generator in eager's
    /// order, so with the same seed compiled equals eager, gradients included; the masks do drop (the output differs from
    /// evaluation's); in evaluation nothing is drawn.
    /// </summary>
    [Theory]
    [MemberData(nameof(Sizes))]
    public void DropoutInTrainingDrawsEagersMasks(int batch, int t, int s)
    {
        Rng.ManualSeed(149);
        var (model, twin) = Twins(() => new DropoutAttender());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(150);
        Tensor[] inputs = [Tensor.Randn([batch, t, 8], rng: rng), Tensor.Randn([batch, s, 5], rng: rng), Tensor.Randn([batch, s, 8], rng: rng)];
        Compare(model, twin, a => model.Forward(a[0], a[1], a[2]), a => compiled.Forward(a[0], a[1], a[2]), inputs, () => Rng.ManualSeed(151));

        model.Eval();
        twin.Eval();
        Tensor evaluated;
        using (Autograd.NoGrad()) evaluated = model.Forward(inputs[0], inputs[1], inputs[2]);
        Rng.ManualSeed(152);
        var before = Rng.Default.NextFloat();
        Rng.ManualSeed(152);
        using (Autograd.NoGrad()) TensorAssert.Close(evaluated, compiled.Forward(inputs[0], inputs[1], inputs[2]).Detach(), 1e-5, 1e-5, "evaluation output");
        Assert.Equal(before, Rng.Default.NextFloat());   // evaluation draws nothing

        model.Train();
        Rng.ManualSeed(151);
        Tensor trained;
        using (Autograd.NoGrad()) trained = model.Forward(inputs[0], inputs[1], inputs[2]);
        Assert.True((trained - evaluated).Abs().Max().Item() > 1e-3, "training dropped nothing");
    }

    /// <summary>A layer's own generator (<c>attn.Rng</c>) is the one the compiled program draws from, as eager's.</summary>
    [Fact]
    public void DropoutDrawsFromTheLayersOwnGenerator()
    {
        Rng.ManualSeed(153);
        var (model, twin) = Twins(() => new DropoutAttender());
        (model.self.Rng, twin.self.Rng) = (new Rng(9), new Rng(9));
        (model.cross.Rng, twin.cross.Rng) = (new Rng(10), new Rng(10));
        var compiled = twin.Compile();
        var rng = new Rng(154);
        Compare(model, twin, a => model.Forward(a[0], a[1], a[2]), a => compiled.Forward(a[0], a[1], a[2]),
            [Tensor.Randn([3, 4, 8], rng: rng), Tensor.Randn([3, 6, 5], rng: rng), Tensor.Randn([3, 6, 8], rng: rng)], () => Rng.ManualSeed(155));
    }

    [Fact]
    public void AKeyOfTheWrongWidthIsAClearError()
    {
        var compiled = new KdimVdimAttender().Compile();
        var e = Assert.ThrowsAny<ArgumentException>(() => compiled.Forward(Tensor.Randn(2, 4, 8), Tensor.Randn(2, 6, 6), Tensor.Randn(2, 6, 7)));
        Assert.Contains("5", e.Message, StringComparison.Ordinal);
    }
}
