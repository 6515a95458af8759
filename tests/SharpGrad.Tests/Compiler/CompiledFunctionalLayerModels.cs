namespace SharpGrad.Tests.Compiler;

// [Module] classes calling the Functional form of a layer with the module's own parameters (issue 12 item 3,
// CompiledFunctionalLayerTests), as PyTorch users write F.linear(x, self.weight, self.bias).

/// <summary>A two-layer MLP from <c>Functional.Linear</c> over the module's own weights, with and without a bias.</summary>
[Module]
public sealed partial class FunctionalLinearMlp
{
    private readonly Parameter w1 = new(Tensor.Randn([8, 5]));
    private readonly Parameter b1 = new(Tensor.Randn(8));
    private readonly Parameter w2 = new(Tensor.Randn([3, 8]));

    public Tensor Forward([Shape("N", 5)] Tensor x) => Functional.Linear(Functional.Tanh(Functional.Linear(x, w1, b1)), w2);
}

/// <summary><c>Functional.Linear</c> over every position of a sequence of a length T read at each call.</summary>
[Module]
public sealed partial class FunctionalLinearOverLength
{
    private readonly Parameter weight = new(Tensor.Randn([6, 4]));
    private readonly Parameter bias = new(Tensor.Randn(6));

    public Tensor Forward([Shape("N", "T", 4)] Tensor x) => Functional.Sigmoid(Functional.Linear(x, weight, bias)).Mean(1) * 2f;
}

/// <summary>
/// <c>Functional.LayerNorm</c> with the module's own weight and bias over the last dim of a sequence (a length T read at
/// each call), and without them over the last two dims of a fixed-size view.
/// </summary>
[Module]
public sealed partial class FunctionalLayerNormNet
{
    private readonly Parameter lnWeight = new(Tensor.Randn(6));
    private readonly Parameter lnBias = new(Tensor.Randn(6));
    private readonly Parameter proj = new(Tensor.Randn([6, 4]));

    public Tensor Forward([Shape("N", "T", 4)] Tensor x)
    {
        var h = Functional.Linear(x, proj);                                            // [N, T, 6]
        var normed = Functional.LayerNorm(h, [6], lnWeight, lnBias, eps: 1e-3);       // [N, T, 6]
        var pooled = Functional.Gelu(normed).Mean(1).View(-1, 2, 3);                  // [N, 2, 3]
        return Functional.LayerNorm(pooled, [2, 3]).View(-1, 6) * 1.5f + normed.Sum(1);
    }
}

/// <summary>
/// <c>Functional.Conv2d</c>/<c>Conv1d</c> over the module's own weights (PyTorch's <c>F.conv2d(x, self.weight, self.bias, …)</c>):
/// with a bias and padding, without one with stride 2 and groups, and a 1-d convolution with stride, padding,
/// dilation and a bias over a view of the result.
/// </summary>
[Module]
public sealed partial class FunctionalConvNet
{
    private readonly Parameter w1 = new(Tensor.Randn([6, 2, 3, 3]));
    private readonly Parameter b1 = new(Tensor.Randn(6));
    private readonly Parameter w2 = new(Tensor.Randn([6, 2, 3, 3]));
    private readonly Parameter w3 = new(Tensor.Randn([4, 6, 3]));
    private readonly Parameter b3 = new(Tensor.Randn(4));

    public Tensor Forward([Shape("N", 2, 6, 6)] Tensor x)
    {
        var h = Functional.Relu(Functional.Conv2d(x, w1, b1, stride: 1, padding: 1));        // [N, 6, 6, 6]
        h = Functional.Conv2d(h, w2, stride: 2, padding: 1, groups: 3);                      // [N, 6, 3, 3]
        var s = Functional.Tanh(h.View(-1, 6, 9));                                           // [N, 6, 9]
        return Functional.Conv1d(s, w3, b3, stride: 2, padding: 1, dilation: 2).Flatten(1);  // [N, 4, 4] → [N, 16]
    }
}

/// <summary>
/// <c>Functional.GroupNorm</c> with the module's own weight and bias over [N, 6, 4] in 3 groups, and without them over
/// [N, 4, 2, 3] in 2 groups with another eps (PyTorch's <c>F.group_norm(x, g, self.weight, self.bias)</c>).
/// </summary>
[Module]
public sealed partial class FunctionalGroupNormNet
{
    private readonly Parameter proj = new(Tensor.Randn([24, 5]));
    private readonly Parameter gnWeight = new(Tensor.Randn(6));
    private readonly Parameter gnBias = new(Tensor.Randn(6));

    public Tensor Forward([Shape("N", 5)] Tensor x)
    {
        var h = Functional.Linear(x, proj).View(-1, 6, 4);                              // [N, 6, 4]
        var a = Functional.GroupNorm(h, 3, gnWeight, gnBias);                           // [N, 6, 4]
        var b = Functional.GroupNorm(Functional.Gelu(a).View(-1, 4, 2, 3), 2, eps: 1e-3); // [N, 4, 2, 3]
        return b.Flatten(1) * 1.5f + a.Flatten(1);
    }
}

/// <summary>
/// <c>Functional.GroupNorm</c> with the module's weight alone and with its bias alone (the other left out), and
/// <c>Functional.InstanceNorm</c> without and with the affine tensors (no running statistics): the GroupNorm kernel.
/// </summary>
[Module]
public sealed partial class FunctionalOneAffineNormNet
{
    private readonly SharpGrad.Layers.Linear fc = new(5, 24);
    private readonly Parameter gnWeight = new(Tensor.Randn(6));
    private readonly Parameter gnBias = new(Tensor.Randn(6));
    private readonly Parameter inWeight = new(Tensor.Randn(4));
    private readonly Parameter inBias = new(Tensor.Randn(4));

    public Tensor Forward([Shape("N", 5)] Tensor x)
    {
        var h = fc.Forward(x).View(-1, 6, 4);
        var a = Functional.GroupNorm(h, 3, gnWeight);                                         // [N, 6, 4], weight alone
        var b = Functional.GroupNorm(Functional.Tanh(a), 2, bias: gnBias);                    // bias alone
        var c = Functional.InstanceNorm(b.View(-1, 4, 2, 3));                                 // [N, 4, 2, 3]
        var d = Functional.InstanceNorm(Functional.Gelu(c), weight: inWeight, bias: inBias, eps: 1e-3);
        return d.Flatten(1) + a.Flatten(1);
    }
}
