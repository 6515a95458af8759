using SharpGrad;

namespace SharpGrad.Tests.Support;

/// <summary>Numerical comparisons that name the first element that differs.</summary>
public static class TensorAssert
{
    /// <summary>|actual - expected| &lt;= atol + rtol * |expected| for every element, and equal shapes (when given).</summary>
    public static void Close(Tensor expected, Tensor actual, double rtol = 1e-5, double atol = 1e-6, string? what = null)
    {
        Assert.True(expected.NumElements == actual.NumElements,
            $"{what}: expected {expected.NumElements} elements (shape [{string.Join(", ", expected.Shape)}]), got {actual.NumElements} (shape [{string.Join(", ", actual.Shape)}])");
        Close(expected.ToDoubleArray(), actual.ToDoubleArray(), rtol, atol, what);
    }

    public static void Close(double[] expected, double[] actual, double rtol = 1e-5, double atol = 1e-6, string? what = null)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: expected {expected.Length} elements, got {actual.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            if (double.IsInfinity(e) && e == a) continue;
            Assert.True(Math.Abs(a - e) <= atol + rtol * Math.Abs(e),
                $"{what}: element {i} differs: expected {e:G9}, got {a:G9} (|diff| {Math.Abs(a - e):G3}, allowed {atol + rtol * Math.Abs(e):G3})");
        }
    }

    public static void Close(float[] expected, float[] actual, double rtol = 1e-5, double atol = 1e-6, string? what = null)
        => Close(expected.Select(v => (double)v).ToArray(), actual.Select(v => (double)v).ToArray(), rtol, atol, what);
}
