using System.Runtime.Intrinsics;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The LSTM cell's inlined float eˣ (Kernels/Recurrent.Math.cs) against Math.Exp in double: within 2 ulp over the whole
/// finite range on a dense grid and at the edges of its range reduction, +∞ above ln(float.MaxValue), 0 far below, NaN kept;
/// both vector widths lane by lane (every lane a different input).
/// </summary>
public class RecurrentMathTests
{
    private static IEnumerable<float> Inputs()
    {
        for (double x = -90; x <= 89; x += 0.0137) yield return (float)x;
        for (int k = -130; k <= 130; k++)
        {
            // the rounding boundaries of n = round(x·log₂e) and their neighbours
            float b = (float)((k + 0.5) * Math.Log(2));
            yield return b;
            yield return MathF.BitDecrement(b);
            yield return MathF.BitIncrement(b);
        }
        foreach (float x in new[] { 0f, -0f, 1e-30f, -1e-30f, 1e-7f, -1e-7f, 88.72f, 88.7228f, 88.72284f, -86.6f, -86.7f, -87.3f, -103f })
            yield return x;
    }

    private static void Check(float x, float got)
    {
        double want = Math.Exp(x);
        if (want > float.MaxValue)
        {
            Assert.True(float.IsPositiveInfinity(got), $"exp({x:R}) = {want:R} overflows float: got {got:R}, expected +∞");
            return;
        }
        if (want < 2.5e-38)
        {
            // below the normal range the cell's exp may flush to 0 (σ and tanh are exact either way)
            Assert.True(got >= 0 && got <= 2.5e-38, $"exp({x:R}) = {want:R}: got {got:R}, expected 0 or a value below 2.5e-38");
            return;
        }
        double ulp = Math.BitIncrement((double)(float)want) - (float)want;
        double ulpF = MathF.BitIncrement((float)want) - (float)want;
        Assert.True(Math.Abs(got - want) <= 2 * Math.Max(ulp, ulpF), $"exp({x:R}): got {got:R}, expected {want:R} (error {Math.Abs(got - want) / ulpF:F2} ulp)");
    }

    [Fact]
    public void Vector512ExpIsWithinTwoUlp()
    {
        var xs = Inputs().ToArray();
        for (int i = 0; i < xs.Length; i += 16)
        {
            var lanes = new float[16];
            for (int l = 0; l < 16; l++) lanes[l] = xs[(i + l) % xs.Length];
            var e = RecurrentMath.Exp(Vector512.Create(lanes));
            for (int l = 0; l < 16; l++) Check(lanes[l], e[l]);
        }
    }

    [Fact]
    public void Vector256ExpIsWithinTwoUlp()
    {
        var xs = Inputs().ToArray();
        for (int i = 0; i < xs.Length; i += 8)
        {
            var lanes = new float[8];
            for (int l = 0; l < 8; l++) lanes[l] = xs[(i + l) % xs.Length];
            var e = RecurrentMath.Exp(Vector256.Create(lanes));
            for (int l = 0; l < 8; l++) Check(lanes[l], e[l]);
        }
    }

    [Fact]
    public void LimitsAndNaN()
    {
        var x = Vector512.Create([float.PositiveInfinity, float.NegativeInfinity, float.NaN, 1000f, -1000f, 89f, -200f, 0f,
            float.MaxValue, float.MinValue, -float.NaN, 88.8f, -88f, 1f, -1f, 2f]);
        var e = RecurrentMath.Exp(x);
        Assert.True(float.IsPositiveInfinity(e[0]), $"exp(+∞) = {e[0]}");
        Assert.Equal(0f, e[1]);
        Assert.True(float.IsNaN(e[2]), $"exp(NaN) = {e[2]}");
        Assert.True(float.IsPositiveInfinity(e[3]), $"exp(1000) = {e[3]}");
        Assert.Equal(0f, e[4]);
        Assert.True(float.IsPositiveInfinity(e[5]), $"exp(89) = {e[5]}");
        Assert.Equal(0f, e[6]);
        Assert.Equal(1f, e[7]);
        Assert.True(float.IsPositiveInfinity(e[8]));
        Assert.Equal(0f, e[9]);
        Assert.True(float.IsNaN(e[10]));
        Assert.True(float.IsPositiveInfinity(e[11]));
        for (int l = 12; l < 16; l++) Check(x[l], e[l]);
    }
}
