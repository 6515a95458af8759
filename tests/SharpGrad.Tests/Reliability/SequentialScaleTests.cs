using SharpGrad.Layers;

namespace SharpGrad.Tests.Reliability;

/// <summary>
/// Issue 18, finding 5: each Sequential.Add compared the name with every earlier child, so 99,999 children took 21 s to build
/// (and 29 s to load). This is a hang guard, not a speed measurement: 400,000 adds took minutes when each one was linear.
/// </summary>
public class SequentialScaleTests
{
    [Fact]
    public async Task Add_ManyChildren_DoesNotGrowQuadratically()
    {
        const int n = 400_000;
        var relu = new ReLU();
        var seq = new Sequential();
        var build = Task.Run(() =>
        {
            for (int i = 0; i < n; i++) seq.Add("layer" + i, relu);
        });
        Assert.True(await Task.WhenAny(build, Task.Delay(TimeSpan.FromSeconds(60))) == build, "building a Sequential of 400,000 children did not finish within 60 s (quadratic name checks?)");
        Assert.Equal(n, seq.Count);
        // a duplicate name is still refused, whatever the position
        var ex = Assert.Throws<ArgumentException>(() => seq.Add("layer123456", relu));
        Assert.Contains("layer123456", ex.Message);
    }
}
