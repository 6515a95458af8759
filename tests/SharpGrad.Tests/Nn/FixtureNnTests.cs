using SharpGrad;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Nn;

/// <summary>The ops.safetensors cases of matmul, linear, convolution, pooling, normalisation, embedding and dropout.</summary>
public class FixtureNnTests
{
    private static SafeTensorsFile Ops => SafeTensorsFile.Load("ops.safetensors");

    /// <summary>
    /// Loads CASE.&lt;input&gt; for each input name, runs <paramref name="f"/>, compares CASE.out, back-propagates CASE.seed_grad
    /// and compares CASE.grad_&lt;input&gt; for every input that is differentiable.
    /// </summary>
    private static void RunCase(string name, string[] inputs, Func<Tensor[], Tensor> f, double rtol = 1e-5, double atol = 1e-6, string[]? noGrad = null)
    {
        var file = Ops;
        var xs = inputs.Select(i => file[$"{name}.{i}"]).ToArray();
        for (int i = 0; i < xs.Length; i++)
        {
            if (xs[i].DType.IsFloatingPoint() && (noGrad is null || !noGrad.Contains(inputs[i]))) xs[i].RequiresGrad = true;
        }
        var outp = f(xs);
        TensorAssert.Close(file[$"{name}.out"], outp, rtol, atol, $"{name}.out");
        Assert.Equal(file[$"{name}.out"].Shape, outp.Shape);
        outp.Backward(file[$"{name}.seed_grad"]);
        for (int i = 0; i < xs.Length; i++)
        {
            var key = $"{name}.grad_{inputs[i]}";
            if (!file.Contains(key)) continue;
            Assert.NotNull(xs[i].Grad);
            TensorAssert.Close(file[key], xs[i].Grad!, rtol, atol, key);
        }
    }

    private static int P(string name, string key, int fallback)
    {
        var c = Manifest.Case("ops.safetensors", name).GetProperty("params");
        return c.TryGetProperty(key, out var v) ? v.GetInt32() : fallback;
    }

    [Fact]
    public void Linear() => RunCase("linear", ["x", "w", "bias"], t => Functional.Linear(t[0], t[1], t[2]));

    [Fact]
    public void MatMulBatchedBroadcast() => RunCase("matmul_batched_broadcast", ["a", "m"], t => t[0].MatMul(t[1]), rtol: 1e-5, atol: 1e-5);

    [Fact]
    public void Bmm() => RunCase("bmm", ["a", "m"], t => Tensor.Bmm(t[0], t[1]));

    [Theory]
    [InlineData("conv2d_s1_p1_d1_g1")]
    [InlineData("conv2d_s2_p0_d1_g1")]
    [InlineData("conv2d_s1_p2_d2_g1")]
    [InlineData("conv2d_s2_p1_d1_g2")]
    public void Conv2d(string name)
    {
        int s = P(name, "stride", 1), p = P(name, "padding", 0), d = P(name, "dilation", 1), g = P(name, "groups", 1);
        // float32 sums of up to 2·9·8 products (grad_w): 1e-4 relative, 1e-5 absolute.
        RunCase(name, ["x", "w", "bias"], t => Functional.Conv2d(t[0], t[1], t[2], s, p, d, g), rtol: 1e-4, atol: 1e-5);
    }

    [Fact]
    public void Conv1d() => RunCase("conv1d", ["x", "w", "bias"],
        t => Functional.Conv1d(t[0], t[1], t[2], stride: P("conv1d", "stride", 1), padding: P("conv1d", "padding", 0)), rtol: 1e-4, atol: 1e-5);

    [Fact]
    public void ConvTranspose2d() => RunCase("conv_transpose2d", ["x", "w", "bias"],
        t => Functional.ConvTranspose2d(t[0], t[1], t[2], stride: P("conv_transpose2d", "stride", 1), padding: P("conv_transpose2d", "padding", 0)), rtol: 1e-4, atol: 1e-5);

    [Fact]
    public void MaxPool2d() => RunCase("max_pool2d", ["x"], t => Functional.MaxPool2d(t[0], P("max_pool2d", "kernel", 0)));

    [Fact]
    public void MaxPool2dK3S2P1() => RunCase("max_pool2d_k3_s2_p1", ["x"],
        t => Functional.MaxPool2d(t[0], P("max_pool2d_k3_s2_p1", "kernel", 0), P("max_pool2d_k3_s2_p1", "stride", 0), P("max_pool2d_k3_s2_p1", "padding", 0)));

    [Fact]
    public void AvgPool2d() => RunCase("avg_pool2d", ["x"], t => Functional.AvgPool2d(t[0], P("avg_pool2d", "kernel", 0)));

    [Fact]
    public void AdaptiveAvgPool2d()
    {
        var o = Manifest.Case("ops.safetensors", "adaptive_avg_pool2d").GetProperty("params").GetProperty("output").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        RunCase("adaptive_avg_pool2d", ["x"], t => Functional.AdaptiveAvgPool2d(t[0], (o[0], o[1])));
    }

    [Fact]
    public void BatchNorm2dTrain()
    {
        // PyTorch's batch_norm2d_train case: training-mode batch statistics (no running stats given to the fixture op).
        // float32 means over 40 values per channel: 1e-4 relative.
        RunCase("batch_norm2d_train", ["x", "weight", "bias"], t => Functional.BatchNorm(t[0], null, null, t[1], t[2], training: true), rtol: 1e-4, atol: 1e-5);
    }

    [Fact]
    public void LayerNorm() => RunCase("layer_norm", ["x", "weight", "bias"], t => Functional.LayerNorm(t[0], [t[0].Shape[^1]], t[1], t[2]), rtol: 1e-4, atol: 1e-5);

    [Fact]
    public void Embedding() => RunCase("embedding", ["idx", "w"], t => Functional.Embedding(t[0], t[1]));

    [Fact]
    public void DropoutEval() => RunCase("dropout_eval", ["x"], t => Functional.Dropout(t[0], 0.5, training: false) * 1f);
}
