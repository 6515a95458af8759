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

/// <summary>
/// <c>Functional.BatchNorm</c> as PyTorch users write <c>F.batch_norm(x, self.running_mean, self.running_var, self.weight,
/// self.bias, self.training, momentum, eps)</c>: with the module's own [Buffer] running statistics and parameters (the
/// running statistics updated in training, used in evaluation), with a weight alone and no running statistics (batch
/// statistics always), and with neither (null running statistics, no affine), over [N, C, L] and [N, C, H, W].
/// <c>: Module</c> is written because <c>Training</c> passed as an argument binds in the generator's view only when the class
/// names its base (otherwise the call is a "does not bind" break, as for <c>Functional.Dropout(x, p, Training)</c>).
/// </summary>
[Module]
public sealed partial class FunctionalBatchNormNet : Module
{
    private readonly Parameter proj = new(Tensor.Randn([24, 5]));
    private readonly Parameter bnWeight = new(Tensor.Rand(6));
    private readonly Parameter bnBias = new(Tensor.Randn(6));
    [Buffer] private readonly Tensor runningMean = Tensor.Zeros(6);
    [Buffer] private readonly Tensor runningVar = Tensor.Ones(6);
    private readonly Parameter scale = new(Tensor.Rand(4));

    public Tensor Forward([Shape("N", 5)] Tensor x)
    {
        var h = Functional.Linear(x, proj).View(-1, 6, 4);                                            // [N, 6, 4]
        var a = Functional.BatchNorm(h, runningMean, runningVar, bnWeight, bnBias, Training, 0.3, 1e-3); // the module's statistics
        var b = Functional.BatchNorm(Functional.Tanh(a).View(-1, 4, 3, 2), null, null, scale, training: true); // [N, 4, 3, 2]
        var c = Functional.BatchNorm(b.View(-1, 2, 12), null, null);                                   // batch statistics, no affine
        return c.Flatten(1) * 0.5f + a.Flatten(1);
    }
}

/// <summary>
/// <c>Functional.BatchNorm</c> over an image batch [N, 3, 4, 4] with the module's statistics and affine pair, the default
/// momentum and eps, and the training flag by name (<c>training: Training</c>).
/// <c>: Module</c> is written because <c>Training</c> passed as an argument binds in the generator's view only when the class
/// names its base (otherwise the call is a "does not bind" break, as for <c>Functional.Dropout(x, p, Training)</c>).
/// </summary>
[Module]
public sealed partial class FunctionalBatchNorm2dNet : Module
{
    private readonly Parameter weight = new(Tensor.Rand(3));
    private readonly Parameter bias = new(Tensor.Randn(3));
    [Buffer] private readonly Tensor runningMean = Tensor.Zeros(3);
    [Buffer] private readonly Tensor runningVar = Tensor.Ones(3);

    public Tensor Forward([Shape("N", 3, 4, 4)] Tensor x)
        => Functional.Relu(Functional.BatchNorm(x * 2f + 1f, runningMean, runningVar, weight, bias, training: Training)).Flatten(1);
}

/// <summary>
/// <c>Functional.ConvTranspose2d</c>/<c>ConvTranspose1d</c> over the module's own weights (PyTorch's
/// <c>F.conv_transpose2d(x, self.weight, self.bias, stride=2, padding=1, output_padding=1)</c>): with a bias, stride,
/// padding and output padding; without a bias with 3 groups; a 1-d one with stride, padding, dilation and a bias.
/// </summary>
[Module]
public sealed partial class FunctionalConvTransposeNet
{
    private readonly Parameter w1 = new(Tensor.Randn([4, 3, 3, 3]));
    private readonly Parameter b1 = new(Tensor.Randn(3));
    private readonly Parameter w2 = new(Tensor.Randn([3, 2, 2, 2]));
    private readonly Parameter w3 = new(Tensor.Randn([6, 2, 3]));
    private readonly Parameter b3 = new(Tensor.Randn(2));

    public Tensor Forward([Shape("N", 4, 3, 3)] Tensor x)
    {
        var h = Functional.Relu(Functional.ConvTranspose2d(x, w1, b1, stride: 2, padding: 1, outputPadding: 1)); // [N, 3, 6, 6]
        h = Functional.ConvTranspose2d(h, w2, groups: 3);                                                        // [N, 6, 7, 7]
        var s = Functional.Tanh(h.View(-1, 6, 49));                                                               // [N, 6, 49]
        return Functional.ConvTranspose1d(s, w3, b3, stride: 2, padding: 1, dilation: 2).Flatten(1);              // [N, 2, 99] → [N, 198]
    }
}

/// <summary>
/// InstanceNorm2d/InstanceNorm1d layers with track_running_stats=True (the running statistics updated from the instance
/// statistics in training, used in evaluation), one affine with another momentum.
/// </summary>
[Module]
public sealed partial class TrackedInstanceNormNet
{
    private readonly SharpGrad.Layers.Conv2d conv = new(2, 3, 3, padding: 1);
    private readonly SharpGrad.Layers.InstanceNorm2d norm2d = new(3, affine: true, trackRunningStats: true);
    private readonly SharpGrad.Layers.InstanceNorm1d norm1d = new(3, momentum: 0.3, trackRunningStats: true);

    public Tensor Forward([Shape("N", 2, 4, 4)] Tensor x)
    {
        var h = Functional.Relu(norm2d.Forward(conv.Forward(x)));              // [N, 3, 4, 4]
        return norm1d.Forward(h.View(-1, 3, 16) * 2f + 1f).Flatten(1);        // [N, 3, 16] → [N, 48]
    }
}

/// <summary>
/// <c>Functional.InstanceNorm</c> with the module's own [Buffer] running statistics, as PyTorch users write
/// <c>F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats=self.training, …)</c>,
/// and with running statistics always updated from the input's (the default useInputStats) and no affine.
/// <c>: Module</c> is written because <c>Training</c> passed as an argument binds in the generator's view only when the class
/// names its base (otherwise the call is a "does not bind" break, as for <c>Functional.Dropout(x, p, Training)</c>).
/// </summary>
[Module]
public sealed partial class FunctionalTrackedInstanceNormNet : Module
{
    private readonly Parameter proj = new(Tensor.Randn([24, 5]));
    private readonly Parameter inWeight = new(Tensor.Rand(4));
    private readonly Parameter inBias = new(Tensor.Randn(4));
    [Buffer] private readonly Tensor runningMean = Tensor.Zeros(4);
    [Buffer] private readonly Tensor runningVar = Tensor.Ones(4);
    [Buffer] private readonly Tensor alwaysMean = Tensor.Zeros(2);
    [Buffer] private readonly Tensor alwaysVar = Tensor.Ones(2);

    public Tensor Forward([Shape("N", 5)] Tensor x)
    {
        var h = Functional.Linear(x, proj).View(-1, 4, 6);                                                             // [N, 4, 6]
        var a = Functional.InstanceNorm(h, runningMean, runningVar, inWeight, inBias, useInputStats: Training, momentum: 0.3);
        var b = Functional.InstanceNorm(Functional.Tanh(a).View(-1, 2, 3, 4), alwaysMean, alwaysVar, eps: 1e-3);       // [N, 2, 3, 4]
        return b.Flatten(1) + a.Flatten(1) * 0.5f;
    }
}
