using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace SharpGrad.Kernels;

/// <summary>
/// eˣ on float vectors, inlined into the LSTM cell (Recurrent.Lstm.cs). The runtime's <c>Vector512.Exp(Vector512&lt;float&gt;)</c>
/// widens to double, runs the double exp twice and narrows, in a call that is not inlined: it was half of the cell's time, and
/// the cell (five exponentials per hidden unit and step) as long as the step's GEMM. This is Cephes' expf: n = round(x·log₂e),
/// r = x − n·ln2 (ln2 in two parts, so r is exact), eʳ by a degree-6 polynomial on [−ln2/2, ln2/2], times 2ⁿ built in the
/// exponent bits; within 2 ulp of the exact value (RecurrentMathTests). Limits as the exact function rounds them: +∞ above
/// ln(float.MaxValue), 0 below −86.64 (where eˣ &lt; 2.4·10⁻³⁸, under the normal range, whose flushing changes no σ or tanh),
/// NaN stays NaN.
/// </summary>
internal static class RecurrentMath
{
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693359375f;            // exact in 9 bits: n·Ln2Hi is exact for |n| ≤ 2¹⁵
    private const float Ln2Lo = -2.12194440e-4f;
    private const float Hi = 88.72283935546875f;         // ln(float.MaxValue) rounded down
    private const float Lo = -86.64f;                    // n ≥ −125: 2ⁿ⁻¹ stays a normal float
    private const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f, P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    /// <summary>eˣ per lane (512-bit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var xc = Vector512.MinNative(Vector512.MaxNative(x, Vector512.Create(Lo)), Vector512.Create(Hi));
        var n = Vector512.Round(xc * Vector512.Create(Log2E));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), xc);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(P0), r, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P5));
        var y = Vector512.FusedMultiplyAdd(p, r * r, r + Vector512.Create(1f));
        // 2ⁿ = 2·2ⁿ⁻¹: n reaches 128 at the top of the range, one past the largest exponent. n is a whole number in
        // [−125, 128] (xc is clamped), so the platform's conversion is exact: the saturating ConvertToInt32 added a compare,
        // a mask and a blend per vector (4 of the ~37 instructions of each exponential on AVX2; session 21).
        var scale = Vector512.ShiftLeft(Vector512.ConvertToInt32Native(n) + Vector512.Create(126), 23).AsSingle();
        var e = (y + y) * scale;
        e = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(Hi)), Vector512.Create(float.PositiveInfinity), e);
        e = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(Lo)), Vector512<float>.Zero, e);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), e, x);
    }

    /// <summary>
    /// <see cref="Exp(Vector512{float})"/> of lanes that are ≤ 0, −∞ or NaN (a softmax row shifted by its finite maximum,
    /// AttentionKernel's head kernels): the same operations without the clamp to <c>Hi</c> and the +∞ select, which change
    /// no such lane, so the same bits. A copy of the body rather than a flag on it: Exp stays the code the LSTM cell inlines.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ExpAtMostZero(Vector512<float> x)
    {
        var xc = Vector512.MaxNative(x, Vector512.Create(Lo));
        var n = Vector512.Round(xc * Vector512.Create(Log2E));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), xc);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(P0), r, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P5));
        var y = Vector512.FusedMultiplyAdd(p, r * r, r + Vector512.Create(1f));
        // 2ⁿ as in Exp (n in [−125, 0] here)
        var scale = Vector512.ShiftLeft(Vector512.ConvertToInt32Native(n) + Vector512.Create(126), 23).AsSingle();
        var e = (y + y) * scale;
        e = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(Lo)), Vector512<float>.Zero, e);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), e, x);
    }

    /// <summary>eˣ per lane (256-bit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var xc = Vector256.MinNative(Vector256.MaxNative(x, Vector256.Create(Lo)), Vector256.Create(Hi));
        var n = Vector256.Round(xc * Vector256.Create(Log2E));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Hi), xc);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Lo), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(P0), r, Vector256.Create(P1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P5));
        var y = Vector256.FusedMultiplyAdd(p, r * r, r + Vector256.Create(1f));
        var scale = Vector256.ShiftLeft(Vector256.ConvertToInt32Native(n) + Vector256.Create(126), 23).AsSingle();  // exact: as above
        var e = (y + y) * scale;
        e = Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(Hi)), Vector256.Create(float.PositiveInfinity), e);
        e = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(Lo)), Vector256<float>.Zero, e);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), e, x);
    }

    /// <summary>
    /// eˣ for the LSTM cell's vectors of one width: float takes <see cref="Exp(Vector512{float})"/> or
    /// <see cref="Exp(Vector256{float})"/>, double the runtime's (already within 1 ulp and inlined as double).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV CellExp<T, V, TV>(TV x) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        if (typeof(T) == typeof(float) && typeof(TV) == typeof(Vector512<T>))
            return Unsafe.BitCast<Vector512<float>, TV>(Exp(Unsafe.BitCast<TV, Vector512<float>>(x)));
        if (typeof(T) == typeof(float) && typeof(TV) == typeof(Vector256<T>))
            return Unsafe.BitCast<Vector256<float>, TV>(Exp(Unsafe.BitCast<TV, Vector256<float>>(x)));
        return V.Exp(x);
    }
}
