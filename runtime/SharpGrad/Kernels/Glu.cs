using System.ComponentModel;
using System.Numerics;

namespace SharpGrad.Kernels;

/// <summary>
/// The gated linear unit (PyTorch: <c>F.glu</c>): the input viewed as [outer, 2·half, inner] is split along the middle
/// dim into a (first half) and b (second half), and y = a · σ(b). Its value and its two partial derivatives are written
/// once over <see cref="IGradAlgebra{TSelf}"/>; eager <c>Functional.Glu</c> and generated code call these kernels.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class GluKernel
{
    /// <summary>a · σ(b).</summary>
    internal static TA Value<TA>(TA a, TA b) where TA : IGradAlgebra<TA> => a * TA.Sigmoid(b);

    /// <summary>∂y/∂a = σ(b).</summary>
    internal static TA DerivativeA<TA>(TA a, TA b) where TA : IGradAlgebra<TA> => TA.Sigmoid(b);

    /// <summary>∂y/∂b = a · σ(b) · (1 − σ(b)).</summary>
    internal static TA DerivativeB<TA>(TA a, TA b) where TA : IGradAlgebra<TA>
    {
        var s = TA.Sigmoid(b);
        return a * s * (1.0 - s);
    }

    /// <summary>Float32 forward for generated code.</summary>
    public static void Forward(float[] x, float[] y, int outer, int half, int inner)
        => Forward<float, F32>(new ReadOnlySpan<float>(x, 0, outer * 2 * half * inner), new Span<float>(y, 0, outer * half * inner), outer, half, inner);

    /// <summary>Float32 backward for generated code: <paramref name="gx"/> += the gradient (nothing when it is null).</summary>
    public static void Backward(float[] x, float[] gy, float[]? gx, int outer, int half, int inner)
    {
        if (gx is null) return;
        int n = outer * 2 * half * inner;
        Backward<float, F32>(new ReadOnlySpan<float>(x, 0, n), new ReadOnlySpan<float>(gy, 0, n / 2), new Span<float>(gx, 0, n), outer, half, inner);
    }

    /// <summary>y[o, k, i] = a · σ(b) with a = x[o, k, i] and b = x[o, half + k, i].</summary>
    internal static void Forward<T, TA>(ReadOnlySpan<T> x, Span<T> y, int outer, int half, int inner)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TA : IScalarAlgebra<TA, T>
    {
        int block = half * inner;
        for (int o = 0; o < outer; o++)
        {
            var a = x.Slice(o * 2 * block, block);
            var b = x.Slice((o * 2 * block) + block, block);
            var yr = y.Slice(o * block, block);
            for (int i = 0; i < block; i++) yr[i] = Value(TA.Of(a[i]), TA.Of(b[i])).Value;
        }
    }

    /// <summary>gx += the gradient of both halves (ga = gy·∂y/∂a into the first half, gb into the second).</summary>
    internal static void Backward<T, TA>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx, int outer, int half, int inner)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TA : IScalarAlgebra<TA, T>
    {
        int block = half * inner;
        for (int o = 0; o < outer; o++)
        {
            int ao = o * 2 * block, bo = ao + block, yo = o * block;
            for (int i = 0; i < block; i++)
            {
                var a = TA.Of(x[ao + i]);
                var b = TA.Of(x[bo + i]);
                gx[ao + i] += gy[yo + i] * DerivativeA(a, b).Value;
                gx[bo + i] += gy[yo + i] * DerivativeB(a, b).Value;
            }
        }
    }
}
