using SharpGrad.Shared;

namespace SharpGrad.Generator.Tests;

/// <summary>Member names → PyTorch state names.</summary>
public class NamingTests
{
    [Theory]
    [InlineData("Weight", "weight")]
    [InlineData("Bias", "bias")]
    [InlineData("RunningMean", "running_mean")]
    [InlineData("NumBatchesTracked", "num_batches_tracked")]
    [InlineData("conv1", "conv1")]
    [InlineData("denseBlock", "dense_block")]
    [InlineData("HTTPLayer", "http_layer")]
    [InlineData("fc2", "fc2")]
    [InlineData("_weight", "weight")]
    [InlineData("m_runningVar", "running_var")]
    [InlineData("__hidden", "hidden")]
    [InlineData("already_snake", "already_snake")]
    [InlineData("Layer2Norm", "layer2_norm")]
    [InlineData("Conv2D", "conv2d")]
    [InlineData("InProj", "in_proj")]
    [InlineData("_", "_")]
    public void ToStateName(string member, string expected) => Assert.Equal(expected, Naming.ToStateName(member));
}
