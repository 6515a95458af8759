using SharpGrad;
using SharpGrad.Tests.Support;

namespace SharpGrad.Tests.Ops;

/// <summary>Shared driver: run a case of ops.safetensors forward and backward and compare with PyTorch.</summary>
internal static class OpsFixture
{
    public static void Run(string name, Func<Tensor[], Tensor> op, params string[] inputs)
    {
        var file = SafeTensorsFile.Load("ops.safetensors");
        var xs = inputs.Select(i => file[$"{name}.{i}"].RequiresGrad_()).ToArray();
        var outp = op(xs);
        var expected = file[$"{name}.out"];
        // Float32 values from PyTorch; 1e-5 relative (+1e-6 absolute for values near 0).
        TensorAssert.Close(expected, outp, 1e-5, 1e-6, $"{name}: out");
        Assert.Equal(expected.NumElements == 1 ? outp.Shape.Aggregate(1, (p, s) => p * s) : expected.NumElements, outp.NumElements);
        if (expected.NumElements != 1) Assert.Equal(expected.Shape, outp.Shape);
        var seed = file[$"{name}.seed_grad"].Reshape(outp.Shape);
        outp.Backward(seed);
        for (int k = 0; k < inputs.Length; k++)
        {
            Assert.True(xs[k].Grad is not null, $"{name}: no gradient for {inputs[k]}");
            TensorAssert.Close(file[$"{name}.grad_{inputs[k]}"], xs[k].Grad!, 1e-5, 1e-6, $"{name}: grad_{inputs[k]}");
        }
    }
}

public class PyTorchActivationTests
{
    [Theory]
    [InlineData("relu")]
    [InlineData("sigmoid")]
    [InlineData("tanh")]
    [InlineData("gelu")]
    [InlineData("silu")]
    [InlineData("elu")]
    [InlineData("leaky_relu")]
    [InlineData("softplus")]
    [InlineData("hardtanh")]
    public void ActivationMatchesPyTorch(string name)
    {
        Assert.Empty(Manifest.Case("ops.safetensors", name).GetProperty("params").EnumerateObject());
        Func<Tensor, Tensor> f = name switch
        {
            "relu" => Functional.Relu,
            "sigmoid" => Functional.Sigmoid,
            "tanh" => Functional.Tanh,
            "gelu" => x => Functional.Gelu(x),
            "silu" => Functional.Silu,
            "elu" => x => Functional.Elu(x),
            // The fixture was generated with negative_slope = 0.1 (not recorded in the manifest; the values show it:
            // out = 0.1·x for every negative x, where the default 0.01 would give a result 10× smaller).
            "leaky_relu" => x => Functional.LeakyRelu(x, 0.1),
            "softplus" => x => Functional.Softplus(x),
            "hardtanh" => x => Functional.Hardtanh(x),
            _ => throw new ArgumentException(name),
        };
        OpsFixture.Run(name, xs => f(xs[0]), "x");
    }

    [Fact]
    public void SoftmaxDim1MatchesPyTorch()
    {
        int dim = Manifest.Case("ops.safetensors", "softmax_dim1").GetProperty("params").GetProperty("dim").GetInt32();
        OpsFixture.Run("softmax_dim1", xs => Functional.Softmax(xs[0], dim), "x");
    }

    [Fact]
    public void LogSoftmaxLastDimMatchesPyTorch()
    {
        int dim = Manifest.Case("ops.safetensors", "log_softmax_dim_last").GetProperty("params").GetProperty("dim").GetInt32();
        OpsFixture.Run("log_softmax_dim_last", xs => Functional.LogSoftmax(xs[0], dim), "x");
    }
}

public class PyTorchMathTests
{
    [Theory]
    [InlineData("exp")]
    [InlineData("log")]
    [InlineData("sqrt")]
    [InlineData("abs")]
    public void PointwiseMatchesPyTorch(string name)
    {
        Func<Tensor, Tensor> f = name switch
        {
            "exp" => x => x.Exp(),
            // The fixture keeps log/sqrt in their domain: log(|x| + 0.5) and sqrt(|x| + 0.1) (read off the data; the
            // gradient then also goes through Abs).
            "log" => x => (x.Abs() + 0.5f).Log(),
            "sqrt" => x => (x.Abs() + 0.1f).Sqrt(),
            "abs" => x => x.Abs(),
            _ => throw new ArgumentException(name),
        };
        OpsFixture.Run(name, xs => f(xs[0]), "x");
    }

    [Fact]
    public void ViewSqueezeUnsqueezeMatchesPyTorch()
        => OpsFixture.Run("view_squeeze_unsqueeze", xs => (xs[0].View(3, 1, 20).Squeeze(1).Unsqueeze(0) * 2f), "x"); // the fixture scales by 2

    [Fact]
    public void TransposePermuteMatchesPyTorch()
        => OpsFixture.Run("transpose_permute", xs => xs[0].Transpose(0, 1).Permute(0, 2, 1) * 3f, "x"); // the fixture scales by 3

    [Fact]
    public void CatStackMatchesPyTorch()
        => OpsFixture.Run("cat_stack", xs => Tensor.Cat([xs[0], Tensor.Stack([xs[1], xs[1]], 0)], 1), "a", "c");
}

public class PyTorchReductionTests
{
    [Fact]
    public void SumDim1KeepDimMatchesPyTorch()
    {
        var p = Manifest.Case("ops.safetensors", "sum_dim1_keepdim").GetProperty("params");
        OpsFixture.Run("sum_dim1_keepdim", xs => xs[0].Sum(p.GetProperty("dim").GetInt32(), p.GetProperty("keepdim").GetBoolean()), "x");
    }

    [Fact]
    public void MeanDimsMatchesPyTorch()
    {
        var dims = Manifest.Case("ops.safetensors", "mean_dims").GetProperty("params").GetProperty("dims").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        OpsFixture.Run("mean_dims", xs => xs[0].Mean(dims), "x");
    }

    [Fact]
    public void MaxDim1ValuesAndIndicesMatchPyTorch()
    {
        int dim = Manifest.Case("ops.safetensors", "max_dim1_values").GetProperty("params").GetProperty("dim").GetInt32();
        Tensor? indices = null;
        OpsFixture.Run("max_dim1_values", xs =>
        {
            var (values, idx) = xs[0].Max(dim);
            indices = idx;
            return values;
        }, "x");
        var expected = SafeTensorsFile.Load("ops.safetensors")["max_dim1_values.indices"];
        Assert.Equal(DType.Int64, indices!.DType);
        Assert.Equal(expected.Shape, indices.Shape);
        Assert.Equal(expected.ToLongArray(), indices.ToLongArray());
        Assert.False(indices.RequiresGrad);
    }

    [Fact]
    public void MaxAllMatchesPyTorch()
        => OpsFixture.Run("max_all", xs => xs[0].Max(), "x");
}
