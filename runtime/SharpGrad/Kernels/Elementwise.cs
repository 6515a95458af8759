using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SharpGrad.Kernels;

/// <summary>A binary elementwise op: a scalar form and, when <see cref="Vectorizable"/>, a SIMD form.</summary>
internal interface IBinaryOp<T> where T : unmanaged
{
    static abstract bool Vectorizable { get; }
    static abstract T Invoke(T a, T b);
    static abstract Vector<T> Invoke(Vector<T> a, Vector<T> b);
}

/// <summary>A binary predicate producing a bool per element (comparisons).</summary>
internal interface IPredicate<T> where T : unmanaged
{
    static abstract bool Invoke(T a, T b);
}

/// <summary>Strided, broadcasting elementwise loops over storage arrays; the inner row is vectorised when it is dense.</summary>
internal static class Elementwise
{
    /// <summary>o = op(a, b) over <paramref name="shape"/>; every operand is given by array, offset and strides (0 = broadcast).</summary>
    public static void Binary<T, TOp>(ReadOnlySpan<int> shape, T[] a, int aOff, ReadOnlySpan<int> aStr, T[] b, int bOff, ReadOnlySpan<int> bStr, T[] o, int oOff, ReadOnlySpan<int> oStr)
        where T : unmanaged
        where TOp : IBinaryOp<T>
    {
        var it = new RowIterator(shape, oOff, oStr, aOff, aStr, bOff, bStr);
        int n = it.InnerCount, so = it.InnerStrideA, sa = it.InnerStrideB, sb = it.InnerStrideC;
        while (it.MoveNext())
        {
            int po = it.OffsetA, pa = it.OffsetB, pb = it.OffsetC;
            if (so == 1 && sa == 1 && sb == 1) BinaryDense<T, TOp>(a.AsSpan(pa, n), b.AsSpan(pb, n), o.AsSpan(po, n));
            else if (so == 1 && sa == 1 && sb == 0) BinaryScalarRight<T, TOp>(a.AsSpan(pa, n), b[pb], o.AsSpan(po, n));
            else if (so == 1 && sa == 0 && sb == 1) BinaryScalarLeft<T, TOp>(a[pa], b.AsSpan(pb, n), o.AsSpan(po, n));
            else
            {
                for (int i = 0; i < n; i++) o[po + i * so] = TOp.Invoke(a[pa + i * sa], b[pb + i * sb]);
            }
        }
    }

    public static void BinaryDense<T, TOp>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> o)
        where T : unmanaged
        where TOp : IBinaryOp<T>
    {
        int i = 0;
        if (TOp.Vectorizable && Vector.IsHardwareAccelerated && a.Length >= Vector<T>.Count)
        {
            ref T ra = ref MemoryMarshal.GetReference(a);
            ref T rb = ref MemoryMarshal.GetReference(b);
            ref T ro = ref MemoryMarshal.GetReference(o);
            for (; i <= a.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                var va = Vector.LoadUnsafe(ref ra, (nuint)i);
                var vb = Vector.LoadUnsafe(ref rb, (nuint)i);
                TOp.Invoke(va, vb).StoreUnsafe(ref ro, (nuint)i);
            }
        }
        for (; i < a.Length; i++) o[i] = TOp.Invoke(a[i], b[i]);
    }

    private static void BinaryScalarRight<T, TOp>(ReadOnlySpan<T> a, T b, Span<T> o)
        where T : unmanaged
        where TOp : IBinaryOp<T>
    {
        int i = 0;
        if (TOp.Vectorizable && Vector.IsHardwareAccelerated && a.Length >= Vector<T>.Count)
        {
            var vb = new Vector<T>(b);
            ref T ra = ref MemoryMarshal.GetReference(a);
            ref T ro = ref MemoryMarshal.GetReference(o);
            for (; i <= a.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                TOp.Invoke(Vector.LoadUnsafe(ref ra, (nuint)i), vb).StoreUnsafe(ref ro, (nuint)i);
            }
        }
        for (; i < a.Length; i++) o[i] = TOp.Invoke(a[i], b);
    }

    private static void BinaryScalarLeft<T, TOp>(T a, ReadOnlySpan<T> b, Span<T> o)
        where T : unmanaged
        where TOp : IBinaryOp<T>
    {
        int i = 0;
        if (TOp.Vectorizable && Vector.IsHardwareAccelerated && b.Length >= Vector<T>.Count)
        {
            var va = new Vector<T>(a);
            ref T rb = ref MemoryMarshal.GetReference(b);
            ref T ro = ref MemoryMarshal.GetReference(o);
            for (; i <= b.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                TOp.Invoke(va, Vector.LoadUnsafe(ref rb, (nuint)i)).StoreUnsafe(ref ro, (nuint)i);
            }
        }
        for (; i < b.Length; i++) o[i] = TOp.Invoke(a, b[i]);
    }

    /// <summary>o = pred(a, b) as bools.</summary>
    public static void Compare<T, TOp>(ReadOnlySpan<int> shape, T[] a, int aOff, ReadOnlySpan<int> aStr, T[] b, int bOff, ReadOnlySpan<int> bStr, bool[] o)
        where T : unmanaged
        where TOp : IPredicate<T>
    {
        var oStr = SharpGrad.Tensor.ContiguousStrides(shape.ToArray());
        var it = new RowIterator(shape, 0, oStr, aOff, aStr, bOff, bStr);
        int n = it.InnerCount, so = it.InnerStrideA, sa = it.InnerStrideB, sb = it.InnerStrideC;
        while (it.MoveNext())
        {
            int po = it.OffsetA, pa = it.OffsetB, pb = it.OffsetC;
            for (int i = 0; i < n; i++) o[po + i * so] = TOp.Invoke(a[pa + i * sa], b[pb + i * sb]);
        }
    }

    /// <summary>Copies a strided source into a strided destination of the same shape and type.</summary>
    public static void Copy<T>(ReadOnlySpan<int> shape, T[] src, int sOff, ReadOnlySpan<int> sStr, T[] dst, int dOff, ReadOnlySpan<int> dStr)
        where T : unmanaged
    {
        var it = new RowIterator(shape, dOff, dStr, sOff, sStr);
        int n = it.InnerCount, sd = it.InnerStrideA, ss = it.InnerStrideB;
        while (it.MoveNext())
        {
            int pd = it.OffsetA, ps = it.OffsetB;
            if (sd == 1 && ss == 1) src.AsSpan(ps, n).CopyTo(dst.AsSpan(pd, n));
            else if (sd == 1 && ss == 0) dst.AsSpan(pd, n).Fill(src[ps]);
            else
            {
                for (int i = 0; i < n; i++) dst[pd + i * sd] = src[ps + i * ss];
            }
        }
    }

    /// <summary>Copies with conversion between element types, through <see cref="Convert{TIn, TOut}(TIn)"/>.</summary>
    public static void Convert<TIn, TOut>(ReadOnlySpan<int> shape, TIn[] src, int sOff, ReadOnlySpan<int> sStr, TOut[] dst, int dOff, ReadOnlySpan<int> dStr)
        where TIn : unmanaged
        where TOut : unmanaged
    {
        var it = new RowIterator(shape, dOff, dStr, sOff, sStr);
        int n = it.InnerCount, sd = it.InnerStrideA, ss = it.InnerStrideB;
        while (it.MoveNext())
        {
            int pd = it.OffsetA, ps = it.OffsetB;
            for (int i = 0; i < n; i++) dst[pd + i * sd] = Convert<TIn, TOut>(src[ps + i * ss]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TOut Convert<TIn, TOut>(TIn v)
        where TIn : unmanaged
        where TOut : unmanaged
    {
        if (typeof(TIn) == typeof(TOut)) return Unsafe.As<TIn, TOut>(ref v);
        if (typeof(TIn) == typeof(long) && typeof(TOut) == typeof(int)) { int r = checked((int)Unsafe.As<TIn, long>(ref v)); return Unsafe.As<int, TOut>(ref r); }
        if (typeof(TIn) == typeof(int) && typeof(TOut) == typeof(long)) { long r = Unsafe.As<TIn, int>(ref v); return Unsafe.As<long, TOut>(ref r); }
        if (typeof(TIn) == typeof(float) && typeof(TOut) == typeof(double)) { double r = Unsafe.As<TIn, float>(ref v); return Unsafe.As<double, TOut>(ref r); }
        return FromDouble<TOut>(ToDouble(v));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ToDouble<T>(T v) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Unsafe.As<T, float>(ref v);
        if (typeof(T) == typeof(double)) return Unsafe.As<T, double>(ref v);
        if (typeof(T) == typeof(long)) return Unsafe.As<T, long>(ref v);
        if (typeof(T) == typeof(int)) return Unsafe.As<T, int>(ref v);
        if (typeof(T) == typeof(bool)) return Unsafe.As<T, bool>(ref v) ? 1 : 0;
        if (typeof(T) == typeof(byte)) return Unsafe.As<T, byte>(ref v);
        throw new NotSupportedException();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T FromDouble<T>(double d) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) { float r = (float)d; return Unsafe.As<float, T>(ref r); }
        if (typeof(T) == typeof(double)) return Unsafe.As<double, T>(ref d);
        if (typeof(T) == typeof(long)) { long r = (long)d; return Unsafe.As<long, T>(ref r); }
        if (typeof(T) == typeof(int)) { int r = (int)d; return Unsafe.As<int, T>(ref r); }
        if (typeof(T) == typeof(bool)) { bool r = d != 0; return Unsafe.As<bool, T>(ref r); }
        if (typeof(T) == typeof(byte)) { byte r = (byte)d; return Unsafe.As<byte, T>(ref r); }
        throw new NotSupportedException();
    }
}

// ---- the basic arithmetic ops, generic over float/double/long/int (the forward of the binary kernels in Binary.cs) ----

internal readonly struct AddVector<T> : IBinaryOp<T> where T : unmanaged, INumber<T>
{
    public static bool Vectorizable => true;
    public static T Invoke(T a, T b) => a + b;
    public static Vector<T> Invoke(Vector<T> a, Vector<T> b) => a + b;
}

internal readonly struct SubVector<T> : IBinaryOp<T> where T : unmanaged, INumber<T>
{
    public static bool Vectorizable => true;
    public static T Invoke(T a, T b) => a - b;
    public static Vector<T> Invoke(Vector<T> a, Vector<T> b) => a - b;
}

internal readonly struct MulVector<T> : IBinaryOp<T> where T : unmanaged, INumber<T>
{
    public static bool Vectorizable => true;
    public static T Invoke(T a, T b) => a * b;
    public static Vector<T> Invoke(Vector<T> a, Vector<T> b) => a * b;
}

internal readonly struct DivVector<T> : IBinaryOp<T> where T : unmanaged, INumber<T>
{
    public static bool Vectorizable => typeof(T) == typeof(float) || typeof(T) == typeof(double);
    public static T Invoke(T a, T b) => a / b;
    public static Vector<T> Invoke(Vector<T> a, Vector<T> b) => a / b;
}

internal readonly struct MaximumVector<T> : IBinaryOp<T> where T : unmanaged, INumber<T>
{
    public static bool Vectorizable => true;
    public static T Invoke(T a, T b) => T.IsNaN(a) || T.IsNaN(b) ? a + b : (a > b ? a : b);
    public static Vector<T> Invoke(Vector<T> a, Vector<T> b) => Vector.Max(a, b);
}

/// <summary>aᵇ per element (no vector form: <c>Vector&lt;T&gt;</c> has no power).</summary>
internal readonly struct PowScalar<T> : IBinaryOp<T> where T : unmanaged, INumber<T>
{
    public static bool Vectorizable => false;

    public static T Invoke(T a, T b)
    {
        if (typeof(T) == typeof(float)) return (T)(object)MathF.Pow((float)(object)a, (float)(object)b);
        return T.CreateTruncating(Math.Pow(double.CreateTruncating(a), double.CreateTruncating(b)));
    }

    public static Vector<T> Invoke(Vector<T> a, Vector<T> b) => throw new NotSupportedException("PowScalar has no vector form.");
}

internal readonly struct MinimumVector<T> : IBinaryOp<T> where T : unmanaged, INumber<T>
{
    public static bool Vectorizable => true;
    public static T Invoke(T a, T b) => T.IsNaN(a) || T.IsNaN(b) ? a + b : (a < b ? a : b);
    public static Vector<T> Invoke(Vector<T> a, Vector<T> b) => Vector.Min(a, b);
}

internal readonly struct EqOp<T> : IPredicate<T> where T : unmanaged, INumber<T> { public static bool Invoke(T a, T b) => a == b; }
internal readonly struct NeOp<T> : IPredicate<T> where T : unmanaged, INumber<T> { public static bool Invoke(T a, T b) => a != b; }
internal readonly struct LtOp<T> : IPredicate<T> where T : unmanaged, INumber<T> { public static bool Invoke(T a, T b) => a < b; }
internal readonly struct LeOp<T> : IPredicate<T> where T : unmanaged, INumber<T> { public static bool Invoke(T a, T b) => a <= b; }
internal readonly struct GtOp<T> : IPredicate<T> where T : unmanaged, INumber<T> { public static bool Invoke(T a, T b) => a > b; }
internal readonly struct GeOp<T> : IPredicate<T> where T : unmanaged, INumber<T> { public static bool Invoke(T a, T b) => a >= b; }
