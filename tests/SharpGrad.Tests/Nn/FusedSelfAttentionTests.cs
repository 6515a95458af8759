using SharpGrad.Layers;

namespace SharpGrad.Tests.Nn;

/// <summary>
/// MultiheadAttention's fused float32 self-attention path (no masks, no dropout, no weights returned: one packed projection,
/// <c>AttentionKernel</c> on the heads where they lie, one autograd node) against the unfused ops the layer runs otherwise
/// (forced by asking for the weights): outputs, the gradients of the input and of every parameter, and a second-order
/// gradient (createGraph), batch first, sequence first and unbatched, at odd sizes.
/// </summary>
public class FusedSelfAttentionTests
{
    [Theory]
    [InlineData(true, 3, 5, 3)]
    [InlineData(false, 2, 7, 1)]
    [InlineData(true, 1, 1, 2)]
    public void FusedEqualsUnfused(bool batchFirst, int n, int l, int heads)
    {
        int e = 6 * heads;
        Rng.ManualSeed(n * 100 + l);
        var mha = new MultiheadAttention(e, heads, batchFirst: batchFirst);
        var x0 = Tensor.Randn(batchFirst ? [n, l, e] : [l, n, e]);
        var (fusedOut, fusedGrads) = Run(mha, x0, weights: false);
        var (plainOut, plainGrads) = Run(mha, x0, weights: true);
        AssertClose(plainOut, fusedOut);
        for (int i = 0; i < plainGrads.Length; i++) AssertClose(plainGrads[i], fusedGrads[i]);
    }

    [Fact]
    public void UnbatchedInputTakesTheFusedPathToo()
    {
        Rng.ManualSeed(5);
        var mha = new MultiheadAttention(8, 2);
        var x0 = Tensor.Randn([5, 8]);
        var (fusedOut, fusedGrads) = Run(mha, x0, weights: false);
        var (plainOut, plainGrads) = Run(mha, x0, weights: true);
        Assert.Equal([5, 8], fusedOut.Shape);
        AssertClose(plainOut, fusedOut);
        for (int i = 0; i < plainGrads.Length; i++) AssertClose(plainGrads[i], fusedGrads[i]);
    }

    [Fact]
    public void SecondOrderGradientMatchesTheUnfusedOps()
    {
        Rng.ManualSeed(9);
        var mha = new MultiheadAttention(8, 2, batchFirst: true);
        var x0 = Tensor.Randn([2, 4, 8]);
        Tensor GradNormGrad(bool weights)
        {
            var x = x0.Clone().RequiresGrad_();
            var (o, _) = mha.Forward(x, x, x, needWeights: weights);
            var gx = Autograd.Grad((o * o).Sum(), x, createGraph: true);
            return Autograd.Grad((gx * gx).Sum(), x);
        }
        AssertClose(GradNormGrad(weights: true), GradNormGrad(weights: false));
    }

    private static (Tensor Out, Tensor[] Grads) Run(MultiheadAttention mha, Tensor x0, bool weights)
    {
        mha.ZeroGrad();
        var x = x0.Clone().RequiresGrad_();
        var (o, w) = mha.Forward(x, x, x, needWeights: weights);
        Assert.Equal(weights, w is not null);
        Assert.Equal(!weights, Reaches(o.GradFn, "SelfAttentionBackward")); // which path ran
        // a non-uniform output gradient
        (o * Tensor.Arange(0.0, o.NumElements, 1.0).Reshape(o.Shape).Sin()).Sum().Backward();
        return (o.Detach(), [x.Grad!, .. mha.Parameters().Select(p => p.Grad!)]);
    }

    private static bool Reaches(Node? node, string name)
        => node is not null && (node.Name == name || node.NextFunctions.Any(next => Reaches(next, name)));

    private static void AssertClose(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var a = expected.ToArray();
        var b = actual.ToArray();
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-5 + 1e-4 * Math.Abs(a[i]), $"element {i}: expected {a[i]}, got {b[i]}");
    }
}
