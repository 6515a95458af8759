using System.ComponentModel;
using System.Numerics;

namespace SharpGrad.Kernels;

/// <summary>
/// One elementwise op of two tensors with broadcasting: its forward (a vectorised elementwise kernel over a strided
/// index space) and its two partial derivatives, written once over <see cref="IGradAlgebra{TSelf}"/>. Eager tensor
/// arithmetic and generated code call the same methods. No PyTorch counterpart (PyTorch's kernel plus derivatives.yaml).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IBinaryPointwiseOp
{
    /// <summary>The name of the op's catalogue row (<c>Add</c>).</summary>
    static abstract string Name { get; }

    /// <summary>o = f(a, b) over <paramref name="shape"/>; every operand is an array, an offset and strides (0 = broadcast).</summary>
    static abstract void Forward<T>(ReadOnlySpan<int> shape, T[] a, int aOff, ReadOnlySpan<int> aStr, T[] b, int bOff, ReadOnlySpan<int> bStr,
        T[] o, int oOff, ReadOnlySpan<int> oStr) where T : unmanaged, INumber<T>;

    /// <summary>∂f/∂a at one element.</summary>
    static abstract TA DerivativeA<TA>(TA a, TA b) where TA : IGradAlgebra<TA>;

    /// <summary>∂f/∂b at one element.</summary>
    static abstract TA DerivativeB<TA>(TA a, TA b) where TA : IGradAlgebra<TA>;

    /// <summary>∂f/∂a when it is a constant (1 for Add), else null: the gradient then passes through without a pass over it.</summary>
    static abstract double? ConstantA { get; }

    /// <summary>∂f/∂b when it is a constant (−1 for Sub), else null.</summary>
    static abstract double? ConstantB { get; }
}

/// <summary>a + b (PyTorch: <c>torch.add</c>).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct AddOp : IBinaryPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Add";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<int> shape, T[] a, int aOff, ReadOnlySpan<int> aStr, T[] b, int bOff, ReadOnlySpan<int> bStr,
        T[] o, int oOff, ReadOnlySpan<int> oStr) where T : unmanaged, INumber<T>
        => Elementwise.Binary<T, AddVector<T>>(shape, a, aOff, aStr, b, bOff, bStr, o, oOff, oStr);

    /// <inheritdoc/>
    public static TA DerivativeA<TA>(TA a, TA b) where TA : IGradAlgebra<TA> => TA.Constant(a, 1);

    /// <inheritdoc/>
    public static TA DerivativeB<TA>(TA a, TA b) where TA : IGradAlgebra<TA> => TA.Constant(a, 1);

    /// <inheritdoc/>
    public static double? ConstantA => 1;

    /// <inheritdoc/>
    public static double? ConstantB => 1;
}

/// <summary>a − b (PyTorch: <c>torch.sub</c>).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct SubOp : IBinaryPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Sub";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<int> shape, T[] a, int aOff, ReadOnlySpan<int> aStr, T[] b, int bOff, ReadOnlySpan<int> bStr,
        T[] o, int oOff, ReadOnlySpan<int> oStr) where T : unmanaged, INumber<T>
        => Elementwise.Binary<T, SubVector<T>>(shape, a, aOff, aStr, b, bOff, bStr, o, oOff, oStr);

    /// <inheritdoc/>
    public static TA DerivativeA<TA>(TA a, TA b) where TA : IGradAlgebra<TA> => TA.Constant(a, 1);

    /// <inheritdoc/>
    public static TA DerivativeB<TA>(TA a, TA b) where TA : IGradAlgebra<TA> => TA.Constant(a, -1);

    /// <inheritdoc/>
    public static double? ConstantA => 1;

    /// <inheritdoc/>
    public static double? ConstantB => -1;
}

/// <summary>a · b (PyTorch: <c>torch.mul</c>).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct MulOp : IBinaryPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Mul";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<int> shape, T[] a, int aOff, ReadOnlySpan<int> aStr, T[] b, int bOff, ReadOnlySpan<int> bStr,
        T[] o, int oOff, ReadOnlySpan<int> oStr) where T : unmanaged, INumber<T>
        => Elementwise.Binary<T, MulVector<T>>(shape, a, aOff, aStr, b, bOff, bStr, o, oOff, oStr);

    /// <inheritdoc/>
    public static TA DerivativeA<TA>(TA a, TA b) where TA : IGradAlgebra<TA> => b;

    /// <inheritdoc/>
    public static TA DerivativeB<TA>(TA a, TA b) where TA : IGradAlgebra<TA> => a;

    /// <inheritdoc/>
    public static double? ConstantA => null;

    /// <inheritdoc/>
    public static double? ConstantB => null;
}

/// <summary>a / b (PyTorch: <c>torch.div</c>).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct DivOp : IBinaryPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Div";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<int> shape, T[] a, int aOff, ReadOnlySpan<int> aStr, T[] b, int bOff, ReadOnlySpan<int> bStr,
        T[] o, int oOff, ReadOnlySpan<int> oStr) where T : unmanaged, INumber<T>
        => Elementwise.Binary<T, DivVector<T>>(shape, a, aOff, aStr, b, bOff, bStr, o, oOff, oStr);

    /// <inheritdoc/>
    public static TA DerivativeA<TA>(TA a, TA b) where TA : IGradAlgebra<TA> => 1.0 / b;

    /// <inheritdoc/>
    public static TA DerivativeB<TA>(TA a, TA b) where TA : IGradAlgebra<TA> => -a / (b * b);

    /// <inheritdoc/>
    public static double? ConstantA => null;

    /// <inheritdoc/>
    public static double? ConstantB => null;
}

/// <summary>The elementwise maximum (PyTorch: <c>torch.maximum</c>); the gradient goes to the larger, split evenly on ties.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct MaximumOp : IBinaryPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Maximum";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<int> shape, T[] a, int aOff, ReadOnlySpan<int> aStr, T[] b, int bOff, ReadOnlySpan<int> bStr,
        T[] o, int oOff, ReadOnlySpan<int> oStr) where T : unmanaged, INumber<T>
        => Elementwise.Binary<T, MaximumVector<T>>(shape, a, aOff, aStr, b, bOff, bStr, o, oOff, oStr);

    /// <inheritdoc/>
    public static TA DerivativeA<TA>(TA a, TA b) where TA : IGradAlgebra<TA> => TA.Wins(a, b);

    /// <inheritdoc/>
    public static TA DerivativeB<TA>(TA a, TA b) where TA : IGradAlgebra<TA> => TA.Wins(b, a);

    /// <inheritdoc/>
    public static double? ConstantA => null;

    /// <inheritdoc/>
    public static double? ConstantB => null;
}

/// <summary>The elementwise minimum (PyTorch: <c>torch.minimum</c>).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct MinimumOp : IBinaryPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Minimum";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<int> shape, T[] a, int aOff, ReadOnlySpan<int> aStr, T[] b, int bOff, ReadOnlySpan<int> bStr,
        T[] o, int oOff, ReadOnlySpan<int> oStr) where T : unmanaged, INumber<T>
        => Elementwise.Binary<T, MinimumVector<T>>(shape, a, aOff, aStr, b, bOff, bStr, o, oOff, oStr);

    /// <inheritdoc/>
    public static TA DerivativeA<TA>(TA a, TA b) where TA : IGradAlgebra<TA> => TA.Wins(b, a);

    /// <inheritdoc/>
    public static TA DerivativeB<TA>(TA a, TA b) where TA : IGradAlgebra<TA> => TA.Wins(a, b);

    /// <inheritdoc/>
    public static double? ConstantA => null;

    /// <inheritdoc/>
    public static double? ConstantB => null;
}

/// <summary>
/// aᵇ with a tensor exponent (PyTorch: <c>torch.pow(input, exponent)</c>). As in PyTorch's derivatives, ∂/∂a is 0 where
/// b = 0 (not 0 · 0⁻¹), and ∂/∂b is 0 where a = 0 and b ≥ 0 (not 0 · log 0).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct PowOp : IBinaryPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "PowTensor";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<int> shape, T[] a, int aOff, ReadOnlySpan<int> aStr, T[] b, int bOff, ReadOnlySpan<int> bStr,
        T[] o, int oOff, ReadOnlySpan<int> oStr) where T : unmanaged, INumber<T>
        => Elementwise.Binary<T, PowScalar<T>>(shape, a, aOff, aStr, b, bOff, bStr, o, oOff, oStr);

    /// <inheritdoc/>
    public static TA DerivativeA<TA>(TA a, TA b) where TA : IGradAlgebra<TA>
        => TA.Select(Zero(b), TA.Constant(a, 0), b * TA.Pow(a, b + -1));

    /// <inheritdoc/>
    public static TA DerivativeB<TA>(TA a, TA b) where TA : IGradAlgebra<TA>
        => TA.Select(Zero(a) * (1.0 - TA.Below(b, 0)), TA.Constant(a, 0), TA.Pow(a, b) * TA.Log(a));

    /// <summary>1 where x = 0, else 0.</summary>
    private static TA Zero<TA>(TA x) where TA : IGradAlgebra<TA> => 1.0 - TA.Above(x, 0) - TA.Below(x, 0);

    /// <inheritdoc/>
    public static double? ConstantA => null;

    /// <inheritdoc/>
    public static double? ConstantB => null;
}

/// <summary>
/// PReLU (PyTorch: <c>F.prelu</c>): a where a &gt; 0, else b·a, b the learnable slope broadcast over the input (one per
/// channel, or one for all).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct PreluOp : IBinaryPointwiseOp
{
    /// <inheritdoc/>
    public static string Name => "Prelu";

    /// <inheritdoc/>
    public static void Forward<T>(ReadOnlySpan<int> shape, T[] a, int aOff, ReadOnlySpan<int> aStr, T[] b, int bOff, ReadOnlySpan<int> bStr,
        T[] o, int oOff, ReadOnlySpan<int> oStr) where T : unmanaged, INumber<T>
        => Elementwise.Binary<T, PreluVector<T>>(shape, a, aOff, aStr, b, bOff, bStr, o, oOff, oStr);

    /// <inheritdoc/>
    public static TA DerivativeA<TA>(TA a, TA b) where TA : IGradAlgebra<TA> => TA.Select(TA.Above(a, 0), TA.Constant(a, 1), b);

    /// <inheritdoc/>
    public static TA DerivativeB<TA>(TA a, TA b) where TA : IGradAlgebra<TA> => a * (1.0 - TA.Above(a, 0));

    /// <inheritdoc/>
    public static double? ConstantA => null;

    /// <inheritdoc/>
    public static double? ConstantB => null;
}

/// <summary>The vector form of <see cref="PreluOp"/>.</summary>
internal readonly struct PreluVector<T> : IBinaryOp<T> where T : unmanaged, INumber<T>
{
    public static bool Vectorizable => true;

    public static T Invoke(T a, T b) => a > T.Zero ? a : a * b;

    public static Vector<T> Invoke(Vector<T> a, Vector<T> b) => Vector.ConditionalSelect(Vector.GreaterThan(a, Vector<T>.Zero), a, a * b);
}

/// <summary>
/// Runs <see cref="IBinaryPointwiseOp"/> kernels over dense arrays with NumPy broadcasting (generated code), and the
/// eager backward's fused pass. Allocates nothing. Not meant to be called by hand.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class Broadcast
{
    /// <summary>The contiguous strides of <paramref name="shape"/> seen from <paramref name="outShape"/> (0 where it broadcasts).</summary>
    private static void Strides(ReadOnlySpan<int> shape, ReadOnlySpan<int> outShape, Span<int> strides, string op)
    {
        int lead = outShape.Length - shape.Length;
        if (lead < 0) throw BroadcastError(op, shape, outShape);
        int acc = 1;
        for (int d = outShape.Length - 1; d >= 0; d--)
        {
            int k = d - lead;
            int n = k >= 0 ? shape[k] : 1;
            if (n != outShape[d] && n != 1) throw BroadcastError(op, shape, outShape);
            strides[d] = n == 1 ? 0 : acc;
            acc *= n;
        }
    }

    private static ArgumentException BroadcastError(string op, ReadOnlySpan<int> shape, ReadOnlySpan<int> outShape)
        => new($"{op}: a tensor of shape {ShapeUtil.Format(shape.ToArray())} does not broadcast to {ShapeUtil.Format(outShape.ToArray())}.");

    /// <summary><paramref name="y"/> = f(a, b) for dense arrays of the given shapes; <paramref name="yShape"/> is their broadcast shape.</summary>
    public static void Forward<TOp>(float[] a, int[] aShape, float[] b, int[] bShape, float[] y, int[] yShape) where TOp : IBinaryPointwiseOp
    {
        int rank = yShape.Length;
        Span<int> strides = stackalloc int[3 * Math.Max(rank, 1)];
        Span<int> sa = strides[..rank], sb = strides.Slice(rank, rank), sy = strides.Slice(2 * rank, rank);
        Strides(aShape, yShape, sa, TOp.Name);
        Strides(bShape, yShape, sb, TOp.Name);
        Strides(yShape, yShape, sy, TOp.Name);
        TOp.Forward<float>(yShape, a, 0, sa, b, 0, sb, y, 0, sy);
    }

    /// <summary>
    /// Gradients of <see cref="Forward{TOp}"/>: <paramref name="ga"/> += the gradient reduced to <paramref name="aShape"/>
    /// (summed over the dims a broadcasts along), <paramref name="gb"/> likewise; either may be null.
    /// </summary>
    public static void Backward<TOp>(float[] a, int[] aShape, float[] b, int[] bShape, float[] gy, int[] yShape, float[]? ga, float[]? gb)
        where TOp : IBinaryPointwiseOp
        => Backward<TOp, float, F32>(a, aShape, b, bShape, gy, yShape, ga, gb);

    /// <summary>The fused backward over dense arrays of any float type (eager first-order backward and generated code).</summary>
    internal static void Backward<TOp, T, TA>(T[] a, ReadOnlySpan<int> aShape, T[] b, ReadOnlySpan<int> bShape, T[] gy, ReadOnlySpan<int> yShape,
        T[]? ga, T[]? gb)
        where TOp : IBinaryPointwiseOp
        where T : unmanaged, IFloatingPointIeee754<T>
        where TA : IScalarAlgebra<TA, T>
    {
        if (ga is null && gb is null) return;
        int rank = yShape.Length;
        Span<int> strides = stackalloc int[2 * Math.Max(rank, 1)];
        Span<int> sa = strides[..rank], sb = strides.Slice(rank, rank);
        Strides(aShape, yShape, sa, TOp.Name);
        Strides(bShape, yShape, sb, TOp.Name);
        Span<int> contiguous = stackalloc int[Math.Max(rank, 1)];
        Strides(yShape, yShape, contiguous[..rank], TOp.Name);
        // Walk y in order; a and b at their broadcast strides (y is contiguous, so its offset is the row start).
        var it = new RowIterator(yShape, 0, contiguous[..rank], 0, sa, 0, sb);
        int inner = it.InnerCount, ia = it.InnerStrideB, ib = it.InnerStrideC;
        while (it.MoveNext())
        {
            int oy = it.OffsetA, oa = it.OffsetB, ob = it.OffsetC;
            if (ga is not null)
            {
                if (ia == 0)
                {
                    T acc = T.Zero;
                    for (int i = 0; i < inner; i++) acc += gy[oy + i] * TOp.DerivativeA(TA.Of(a[oa]), TA.Of(b[ob + i * ib])).Value;
                    ga[oa] += acc;
                }
                else
                {
                    for (int i = 0; i < inner; i++) ga[oa + i * ia] += gy[oy + i] * TOp.DerivativeA(TA.Of(a[oa + i * ia]), TA.Of(b[ob + i * ib])).Value;
                }
            }
            if (gb is not null)
            {
                if (ib == 0)
                {
                    T acc = T.Zero;
                    for (int i = 0; i < inner; i++) acc += gy[oy + i] * TOp.DerivativeB(TA.Of(a[oa + i * ia]), TA.Of(b[ob])).Value;
                    gb[ob] += acc;
                }
                else
                {
                    for (int i = 0; i < inner; i++) gb[ob + i * ib] += gy[oy + i] * TOp.DerivativeB(TA.Of(a[oa + i * ia]), TA.Of(b[ob + i * ib])).Value;
                }
            }
        }
    }
}
