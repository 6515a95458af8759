using SharpGrad.Layers;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Compiler;

/// <summary>
/// A built-in decoder layer called inside an expression of a [Module] Forward, then a Linear: the layer's own program runs first,
/// into a local, and the head is a region reading it (since session 11; as a statement of its own, CompiledGptTests.DecoderLayerCalledAsAStatementRunsItsProgramAndMatchesEager).
/// </summary>
[Module]
public sealed partial class DecoderLayerHead
{
    private readonly TransformerDecoderLayer layer = new(8, 2, 16, dropout: 0.0, batchFirst: true);
    private readonly Linear head = new(8, 3);

    public Tensor Forward([Shape("N", 4, 8)] Tensor x, [Shape("N", 6, 8)] Tensor memory) => head.Forward(layer.Forward(x, memory));
}

/// <summary>Attention whose (head-averaged) weights are taken and used: compiled since issue 13's need_weights (CompiledAttentionWeightsTests).</summary>
[Module]
public sealed partial class WeightsTakenAttender
{
    private readonly MultiheadAttention attn = new(8, 2, batchFirst: true);

    public Tensor Forward([Shape("N", 4, 8)] Tensor x)
    {
        var (y, w) = attn.Forward(x, x, x);
        return w!.MatMul(y);
    }
}

/// <summary>A built-in encoder layer inside a [Module]: the generated program runs it as one fused node.</summary>
[Module]
public sealed partial class EncoderLayerInModule
{
    internal readonly TransformerEncoderLayer layer = new(8, 2, 16, dropout: 0.0, batchFirst: true);

    public Tensor Forward([Shape("N", 4, 8)] Tensor x) => layer.Forward(x);
}

/// <summary>
/// Attention-layer calls a generated program does not run inline (attention weights taken) are named in Compile()'s Explanation
/// (never silent) and run eagerly; a decoder layer inside an expression runs its own program. The output and the gradients of
/// the inputs and of every parameter equal eager's (never wrong). (kdim/vdim, key ≠ value, bias=False and dropout compile: CompiledAttentionOptionsTests.)
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class CompiledAttentionBreakTests
{
    internal static void Compare(Module eager, Module twin, Func<Tensor[], Tensor> runEager, Func<Tensor[], Tensor> runCompiled, Tensor[] floats)
    {
        Tensor[] Fresh() => floats.Select(f => f.Detach().Clone().RequiresGrad_()).ToArray();
        var (ea, ca) = (Fresh(), Fresh());
        var ey = runEager(ea);
        var cy = runCompiled(ca);
        TensorAssert.Close(ey.Detach(), cy.Detach(), 1e-5, 1e-5, "output");
        var g = Tensor.Randn(ey.Shape, rng: new Rng(77));
        (ey * g).Sum().Backward();
        (cy * g).Sum().Backward();
        for (int k = 0; k < floats.Length; k++) TensorAssert.Close(ea[k].Grad!, ca[k].Grad!, 1e-4, 1e-5, $"gradient of input {k}");
        var twinParams = twin.NamedParameters().ToDictionary(p => p.Name, p => p.Value);
        foreach (var (name, p) in eager.NamedParameters()) TensorAssert.Close(p.Grad!, twinParams[name].Grad!, 1e-4, 1e-5, "gradient of " + name);
    }

    /// <summary>Taking MultiheadAttention's weights is no longer a break: the whole method compiles, equal to eager.</summary>
    [Fact]
    public void TakenAttentionWeightsCompileAndEqualEager()
    {
        Rng.ManualSeed(148);
        var model = new WeightsTakenAttender();
        var twin = new WeightsTakenAttender();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var rng = new Rng(149);
        Compare(model, twin, a => model.Forward(a[0]), a => compiled.Forward(a[0]), [Tensor.Randn([3, 4, 8], rng: rng)]);
    }

    /// <summary>A TransformerDecoderLayer child called inside an expression runs its own program, the head around it compiled: no break, equal to eager.</summary>
    [Fact]
    public void DecoderLayerChildInsideAnExpressionCompilesAndEqualsEager()
    {
        Rng.ManualSeed(145);
        var model = new DecoderLayerHead();
        var twin = new DecoderLayerHead();
        twin.LoadStateDict(model.StateDict());
        var compiled = twin.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        Assert.Contains(compiled.Explanation.Regions, r => r.Contains(": layer: Forward", StringComparison.Ordinal));
        var rng = new Rng(146);
        Compare(model, twin, a => model.Forward(a[0], a[1]), a => compiled.Forward(a[0], a[1]), [Tensor.Randn([3, 4, 8], rng: rng), Tensor.Randn([3, 6, 8], rng: rng)]);
    }

    /// <summary>
    /// A hook on a submodule of an encoder layer that a generated program runs as one fused node cannot be called there:
    /// the call is a clear error naming the submodule (never a silently skipped hook); without the hook it compiles.
    /// </summary>
    [Fact]
    public void HookOnAFusedLayersSubmoduleIsAClearError()
    {
        var model = new EncoderLayerInModule();
        var compiled = model.Compile();
        Assert.True(compiled.Explanation.IsFullyCompiled, compiled.Explanation.ToString());
        var x = Tensor.Randn([2, 4, 8], rng: new Rng(147));
        var expected = compiled.Forward(x).Detach();
        int calls = 0;
        using (model.layer.Norm1.RegisterForwardHook((m, i, o) => calls++))
        {
            var e = Assert.Throws<InvalidOperationException>(() => compiled.Forward(x));
            Assert.Contains("'norm1'", e.Message, StringComparison.Ordinal);
            using (Autograd.NoGrad()) model.Forward(x);
            Assert.Equal(1, calls);
        }
        TensorAssert.Close(expected, compiled.Forward(x).Detach(), 0, 0, "without the hook, compiled again");
    }
}
