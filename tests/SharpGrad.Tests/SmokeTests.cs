using SharpGrad;

namespace SharpGrad.Tests;

public class SmokeTests
{
    [Fact]
    public void MulAddBackward()
    {
        var x = Tensor.FromArray(new float[] { 1, 2, 3 }).RequiresGrad_();
        var w = Tensor.FromArray(new float[] { 4, 5, 6 }).RequiresGrad_();
        var y = (x * w + x).Sum();
        y.Backward();
        Assert.Equal(new float[] { 5, 6, 7 }, x.Grad!.ToArray());
        Assert.Equal(new float[] { 1, 2, 3 }, w.Grad!.ToArray());
        Assert.Equal(32f + 6f, y.Item());
    }

    [Fact]
    public void BroadcastAndViews()
    {
        var a = Tensor.Arange(0.0, 6.0).View(2, 3).RequiresGrad_();
        var b = Tensor.FromArray(new float[] { 1, 2, 3 }).RequiresGrad_();
        var c = a.Transpose(0, 1) * b.Unsqueeze(1);
        Assert.Equal(new[] { 3, 2 }, c.Shape);
        Assert.Equal(new float[] { 0, 3, 2, 8, 6, 15 }, c.ToArray());
        c.Sum().Backward();
        Assert.Equal(new float[] { 1, 2, 3, 1, 2, 3 }, a.Grad!.ToArray());
        Assert.Equal(new float[] { 3, 5, 7 }, b.Grad!.ToArray());
        #pragma warning disable SG2005 // the test checks the runtime's error for this very misuse
        var e = Assert.Throws<InvalidOperationException>(() => a.Transpose(0, 1).View(6));
        #pragma warning restore SG2005
        Assert.Contains("Reshape", e.Message);
        Assert.Contains("[3, 2]", e.Message);
        Assert.Equal(new float[] { 0, 3, 1, 4, 2, 5 }, a.Transpose(0, 1).Reshape(6).ToArray());
    }
}

public class SupportTests
{
    [Fact]
    public void FixtureReaderAndGradCheckWork()
    {
        var ops = Support.SafeTensorsFile.Load("ops.safetensors");
        var x = ops["broadcast_binary.a"];
        Assert.Equal(new[] { 3, 1, 5 }, x.Shape);
        Support.GradCheck.Check(xs => xs[0] * xs[1] + xs[0], Tensor.Randn([3, 4], DType.Float64), Tensor.Randn([4], DType.Float64));
        // A wrong gradient must be caught: Detach hides one path from autograd.
        Assert.ThrowsAny<Exception>(() => Support.GradCheck.Check(xs => xs[0] * xs[0].Detach(), Tensor.Randn([3], DType.Float64)));
    }
}
