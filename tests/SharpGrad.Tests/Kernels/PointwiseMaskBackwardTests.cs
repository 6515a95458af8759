using System.Numerics;
using System.Reflection;
using SharpGrad.Kernels;

namespace SharpGrad.Tests.Kernels;

/// <summary>
/// The mask-derivative path of <see cref="Pointwise"/>'s backward (whole SIMD vectors on <c>VectorAlgebra</c>, then a scalar
/// tail) against the scalar reference path (<c>Pointwise.ScalarBackward</c>, the same <c>Derivative</c> per element), for
/// every kernel that declares a piecewise-constant derivative: odd lengths, float and double, o = and o +=, inputs at the
/// ops' bounds (0, −0, ±0.3, ±0.5, 0.7, 1, 6, NaN, ±∞). Reflection is fine here: it is test code.
/// </summary>
public class PointwiseMaskBackwardTests
{
    /// <summary>The kernels whose struct declares <c>PiecewiseConstantDerivative => true</c>.</summary>
    public static TheoryData<string> MaskOps()
    {
        var data = new TheoryData<string>();
        foreach (var t in MaskOpTypes()) data.Add(t.Name);
        return data;
    }

    private static IEnumerable<Type> MaskOpTypes() =>
        typeof(IPointwiseOp).Assembly.GetTypes()
            .Where(t => t.IsValueType && typeof(IPointwiseOp).IsAssignableFrom(t))
            .Where(t => t.GetProperty(nameof(IPointwiseOp.PiecewiseConstantDerivative), BindingFlags.Public | BindingFlags.Static)?.GetValue(null) is true)
            .OrderBy(t => t.Name);

    [Fact]
    public void TheActivationsWithAMaskDerivativeTakeTheVectorPath()
    {
        string[] expected = ["AbsOp", "ClampOp", "FmodScalarOp", "HardshrinkOp", "HardsigmoidOp", "HardtanhOp", "LeakyReluOp", "NegOp", "Relu6Op", "ReluOp", "RemainderScalarOp", "SignOp", "SoftshrinkOp"];
        Assert.Equal(expected, MaskOpTypes().Select(t => t.Name).ToArray());
    }

    [Theory]
    [MemberData(nameof(MaskOps))]
    public void VectorPathEqualsTheScalarReference(string op)
    {
        var type = MaskOpTypes().Single(t => t.Name == op);
        var check = typeof(PointwiseMaskBackwardTests).GetMethod(nameof(Check), BindingFlags.NonPublic | BindingFlags.Static)!;
        foreach (int n in new[] { 1, 7, 17, 37, 1003 })
        {
            foreach (var (a, b) in new[] { (0.3, 0.7), (-0.5, double.NaN), (0.0, 6.0) })
            {
                check.MakeGenericMethod(type, typeof(float), typeof(F32)).Invoke(null, [n, a, b]);
                check.MakeGenericMethod(type, typeof(double), typeof(F64)).Invoke(null, [n, a, b]);
            }
        }
    }

    private static void Check<TOp, T, TA>(int n, double a, double b)
        where TOp : IPointwiseOp
        where T : unmanaged, IFloatingPointIeee754<T>
        where TA : IScalarAlgebra<TA, T>
    {
        var rnd = new Random(n);
        double[] special = [0.0, -0.0, 0.3, -0.3, 0.5, -0.5, 0.7, 1, -1, 6, double.NaN, double.PositiveInfinity, double.NegativeInfinity];
        T Draw() => T.CreateTruncating(rnd.Next(3) == 0 ? special[rnd.Next(special.Length)] : rnd.NextDouble() * 4 - 2);
        var x = new T[n]; var y = new T[n]; var g = new T[n]; var o0 = new T[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = Draw();
            y[i] = Draw();
            g[i] = T.CreateTruncating(rnd.Next(-16, 17) * 0.0625);
            o0[i] = T.CreateTruncating(rnd.Next(-8, 9) * 0.5);
        }
        foreach (bool accumulate in new[] { false, true })
        {
            var expected = (T[])o0.Clone();
            Pointwise.ScalarBackward<TOp, T, TA>(x, y, g, expected, accumulate, a, b);
            var actual = (T[])o0.Clone();
            Pointwise.Backward<TOp, T, TA>(x, y, g, actual, accumulate, a, b);
            int vectorised = Pointwise.BackwardVectors<TOp, T>(x, y, g, (T[])o0.Clone(), accumulate, a, b);
            Assert.Equal(Vector.IsHardwareAccelerated ? n - n % Vector<T>.Count : 0, vectorised);
            for (int i = 0; i < n; i++)
            {
                bool same = expected[i] == actual[i] || (T.IsNaN(expected[i]) && T.IsNaN(actual[i]));
                Assert.True(same, $"{TOp.Name} {typeof(T).Name} n={n} a={a} b={b} accumulate={accumulate}: o[{i}] = {actual[i]}, the scalar path gives {expected[i]} (x = {x[i]}, y = {y[i]}, g = {g[i]})");
            }
        }
    }
}
