using SharpGrad;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// ReLU's backward kernel (vectorised, with a scalar tail) against the definition in double: o = s &gt; 0 ? g : 0, or
/// o += that, on odd lengths, with zeros, negative zeros and NaNs in the saved output (NaN &gt; 0 is false).
/// </summary>
public class ReluGradKernelTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(37)]
    [InlineData(1003)]
    public void MaskedMatchesTheDefinition(int n)
    {
        var rnd = new Random(n);
        double[] special = [0.0, -0.0, double.NaN, 1e-30, -1e-30];
        var s = new double[n]; var g = new double[n]; var o0 = new double[n];
        for (int i = 0; i < n; i++)
        {
            s[i] = rnd.Next(5) == 0 ? special[rnd.Next(special.Length)] : rnd.NextDouble() - 0.5;
            g[i] = rnd.Next(1, 17) * 0.0625;
            o0[i] = rnd.Next(-8, 9) * 0.5;
        }
        float[] F(double[] v) => v.Select(e => (float)e).ToArray();
        foreach (bool accumulate in new[] { false, true })
        {
            var of = F(o0);
            ReluGrad.Masked<float>(F(g), F(s), of, accumulate);
            var od = (double[])o0.Clone();
            ReluGrad.Masked<double>(g, s, od, accumulate);
            for (int i = 0; i < n; i++)
            {
                double expected = (accumulate ? o0[i] : 0) + (s[i] > 0 ? g[i] : 0);
                Assert.True(of[i] == (float)expected, $"n={n} accumulate={accumulate}: float o[{i}] = {of[i]}, expected {expected} (s = {s[i]}, g = {g[i]})");
                Assert.True(od[i] == expected, $"n={n} accumulate={accumulate}: double o[{i}] = {od[i]}, expected {expected}");
            }
        }
    }
}
