using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>A decoder's attention over an encoded source: the memory a Linear of the source, key and value the same tensor, a key padding mask.</summary>
[Module]
public sealed partial class CompiledCrossAttender
{
    private readonly Linear memoryProjection = new(6, 8);
    private readonly MultiheadAttention attn = new(8, 2, batchFirst: true);
    private readonly Linear head = new(8, 3);

    public Tensor Forward([Shape("N", "T", 8)] Tensor x, [Shape("N", "S", 6)] Tensor source, [Shape("N", "S")] Tensor padding)
    {
        var memory = memoryProjection.Forward(source);
        var attended = attn.Forward(x, memory, memory, keyPaddingMask: padding, needWeights: false).Output;
        return head.Forward(attended + x);
    }
}

/// <summary>Cross-attention under an attention mask [T, S] only, the memory a method input (its gradient leaves the program).</summary>
[Module]
public sealed partial class CompiledCrossAttenderMasked
{
    private readonly MultiheadAttention attn = new(12, 3, batchFirst: true);

    public Tensor Forward([Shape("N", 4, 12)] Tensor x, [Shape("N", 7, 12)] Tensor memory, [Shape(4, 7)] Tensor mask)
        => attn.Forward(x, memory, memory, attnMask: mask, needWeights: false).Output;
}

/// <summary>
/// MultiheadAttention over another sequence (query ≠ key = value; a decoder's cross-attention) compiled (CrossAttentionRule over
/// Kernels/CrossAttention.cs): no graph break, and the output, the gradients of the query, of the memory (through the Linear
/// that made it, or as a method input) and of every parameter equal eager's at batch 1, 3 and 64 and at two pairs of lengths.
/// Eager MultiheadAttention is checked against PyTorch in SequenceLayerFixtureTests.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledCrossAttentionTests
{
    private static Tensor Padding(int n, int s)
    {
        var pad = new bool[n * s];
        for (int b = 0; b < n; b++)
            for (int p = s - b % 3; p < s; p++) pad[b * s + p] = true;   // never every key of a sequence
        return Tensor.FromArray(pad, n, s);
    }

    /// <summary>Runs eager on <paramref name="eager"/> and compiled on its twin (same weights), then compares every result.</summary>
    private static void Compare(Module eager, Module twin, Func<Tensor[], Tensor> runEager, Func<Tensor[], Tensor> runCompiled, Tensor[] floats, int seed)
    {
        var rng = new Rng(seed);
        Tensor[] Fresh() => floats.Select(f => f.Detach().Clone().RequiresGrad_()).ToArray();
        var (ea, ca) = (Fresh(), Fresh());
        var ey = runEager(ea);
        var cy = runCompiled(ca);
        Assert.Equal(ey.Shape, cy.Shape);
        TensorAssert.Close(ey.Detach(), cy.Detach(), 1e-5, 1e-5, "output");
        var g = Tensor.Randn(ey.Shape, rng: rng);
        (ey * g).Sum().Backward();
        (cy * g).Sum().Backward();
        for (int k = 0; k < floats.Length; k++) TensorAssert.Close(ea[k].Grad!, ca[k].Grad!, 1e-4, 1e-5, $"gradient of float input {k}");
        var twinParams = twin.NamedParameters().ToDictionary(p => p.Name, p => p.Value);
        foreach (var (name, p) in eager.NamedParameters())
        {
            Assert.True(twinParams[name].Grad is not null, $"the compiled program gave {name} no gradient");
            TensorAssert.Close(p.Grad!, twinParams[name].Grad!, 1e-4, 1e-5, "gradient of " + name);
        }
    }

    [Theory]
    [InlineData(1, 5, 7)]
    [InlineData(3, 5, 7)]
    [InlineData(3, 9, 2)]
    [InlineData(64, 4, 6)]
    public void CrossAttentionOverAProjectedMemoryMatchesEager(int batch, int t, int s)
    {
        Rng.ManualSeed(131);
        var model = new CompiledCrossAttender();
        var twin = new CompiledCrossAttender();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(132);
        var padding = Padding(batch, s);
        Compare(model, twin, a => model.Forward(a[0], a[1], padding), a => compiled.Forward(a[0], a[1], padding),
            [Tensor.Randn([batch, t, 8], rng: rng), Tensor.Randn([batch, s, 6], rng: rng)], seed: 133);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void CrossAttentionUnderAnAttentionMaskMatchesEager(int batch)
    {
        Rng.ManualSeed(134);
        var model = new CompiledCrossAttenderMasked();
        var twin = new CompiledCrossAttenderMasked();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(135);
        var mask = Tensor.Ones([4, 7], DType.Bool).Triu(3);   // query i may not see keys i+3 …
        Compare(model, twin, a => model.Forward(a[0], a[1], mask), a => compiled.Forward(a[0], a[1], mask),
            [Tensor.Randn([batch, 4, 12], rng: rng), Tensor.Randn([batch, 7, 12], rng: rng)], seed: 136);
    }

    [Fact]
    public void AMaskOfTheWrongShapeIsAClearError()
    {
        var compiled = new CompiledCrossAttenderMasked().Compile();
        var e = Assert.Throws<ArgumentException>(() => compiled.Forward(Tensor.Randn(2, 4, 12), Tensor.Randn(2, 7, 12), Tensor.Ones([4, 4], DType.Bool)));
        Assert.Contains("[4, 7]", e.Message, StringComparison.Ordinal);
    }
}
