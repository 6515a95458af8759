using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpGrad.Kernels;

// The vector width a register-blocked micro-kernel is written for, as a type argument: each kernel of Gemm.Direct.cs is
// defined once (Dot4x4, AxpyTile) and instantiated for 512-bit vectors (AVX-512: 32 registers) and for 256-bit vectors
// (AVX2: 16 registers). The kernels' locals are the vectors themselves (TV = Vector512<T> or Vector256<T>), and the width
// type only supplies inlined static operations on them: an instantiation compiles to the same code as a kernel written
// with Vector512<T> or Vector256<T> directly (a single-field wrapper struct around the vector cost a register copy per FMA).
public static partial class Gemm
{
    /// <summary>
    /// The 8 × 8 floats at <paramref name="s"/> (rows <paramref name="ld"/> floats apart) transposed in AVX registers (unpack,
    /// shuffle, lane permute: 24 instructions per 64 elements): <paramref name="c0"/>…<paramref name="c7"/> are its columns
    /// 0–7. Shared by <see cref="RecurrentKernel.TransposeAvx"/> (which stores them as rows of the transpose) and the
    /// zero-skip lists of Aᵀ (<see cref="ListColumns8"/>, which lists them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(ref float s, nuint ld, out Vector256<float> c0, out Vector256<float> c1, out Vector256<float> c2,
        out Vector256<float> c3, out Vector256<float> c4, out Vector256<float> c5, out Vector256<float> c6, out Vector256<float> c7)
    {
        var r0 = Vector256.LoadUnsafe(ref s);
        var r1 = Vector256.LoadUnsafe(ref s, ld);
        var r2 = Vector256.LoadUnsafe(ref s, 2 * ld);
        var r3 = Vector256.LoadUnsafe(ref s, 3 * ld);
        var r4 = Vector256.LoadUnsafe(ref s, 4 * ld);
        var r5 = Vector256.LoadUnsafe(ref s, 5 * ld);
        var r6 = Vector256.LoadUnsafe(ref s, 6 * ld);
        var r7 = Vector256.LoadUnsafe(ref s, 7 * ld);
        // [a00 a10 a01 a11 | a04 a14 a05 a15], …
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        // [a00 a10 a20 a30 | a04 a14 a24 a34], …
        var u0 = Avx.Shuffle(t0, t2, 0x44);
        var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44);
        var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44);
        var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44);
        var u7 = Avx.Shuffle(t5, t7, 0xEE);
        c0 = Avx.Permute2x128(u0, u4, 0x20);
        c1 = Avx.Permute2x128(u1, u5, 0x20);
        c2 = Avx.Permute2x128(u2, u6, 0x20);
        c3 = Avx.Permute2x128(u3, u7, 0x20);
        c4 = Avx.Permute2x128(u0, u4, 0x31);
        c5 = Avx.Permute2x128(u1, u5, 0x31);
        c6 = Avx.Permute2x128(u2, u6, 0x31);
        c7 = Avx.Permute2x128(u3, u7, 0x31);
    }

    /// <summary>The operations the micro-kernels use on SIMD vectors <typeparamref name="TV"/> of <typeparamref name="T"/> of one width.</summary>
    internal interface ISimd<TV, T> where TV : struct where T : unmanaged, INumber<T>
    {
        /// <summary>Elements per vector.</summary>
        static abstract int Count { get; }

        /// <summary>Rows of the broadcast kernel's tile: 8 with 32 vector registers (16 accumulators), 6 with 16 (12).</summary>
        static abstract int AxpyRows { get; }

        static abstract TV Load(ref T source, nuint index);

        static abstract void Store(TV value, ref T destination, nuint index);

        static abstract TV Broadcast(T value);

        /// <summary>a·b + c (fused for float and double).</summary>
        static abstract TV MultiplyAdd(TV a, TV b, TV c);

        static abstract TV Multiply(TV a, TV b);

        static abstract TV Add(TV a, TV b);

        static abstract TV Subtract(TV a, TV b);

        static abstract TV Divide(TV a, TV b);

        /// <summary>eˣ per lane (float and double: the runtime's vectorised exp, within about 1 ulp).</summary>
        static abstract TV Exp(TV x);

        /// <summary>The lanes at index ≥ <paramref name="first"/> all ones, the others zero (a mask for <see cref="And"/>).</summary>
        static abstract TV LanesFrom(int first);

        static abstract TV And(TV a, TV b);

        /// <summary>c[0..4) += alpha · (Σ v0, Σ v1, Σ v2, Σ v3).</summary>
        static abstract void AddSums(ref T c, T alpha, TV v0, TV v1, TV v2, TV v3);
    }

    /// <summary>The operations on 512-bit vectors (AVX-512).</summary>
    internal readonly struct Simd512<T> : ISimd<Vector512<T>, T> where T : unmanaged, INumber<T>
    {
        public static int Count => Vector512<T>.Count;

        public static int AxpyRows => 8;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<T> Load(ref T source, nuint index) => Vector512.LoadUnsafe(ref source, index);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store(Vector512<T> value, ref T destination, nuint index) => value.StoreUnsafe(ref destination, index);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<T> Broadcast(T value) => Vector512.Create(value);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<T> MultiplyAdd(Vector512<T> a, Vector512<T> b, Vector512<T> c) => Fma(a, b, c);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<T> Multiply(Vector512<T> a, Vector512<T> b) => a * b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<T> Add(Vector512<T> a, Vector512<T> b) => a + b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<T> Subtract(Vector512<T> a, Vector512<T> b) => a - b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<T> Divide(Vector512<T> a, Vector512<T> b) => a / b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<T> Exp(Vector512<T> x)
        {
            if (typeof(T) == typeof(float)) return Vector512.Exp(x.As<T, float>()).As<float, T>();
            if (typeof(T) == typeof(double)) return Vector512.Exp(x.As<T, double>()).As<double, T>();
            throw new NotSupportedException($"Exp of {typeof(T).Name} vectors: only float and double.");
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<T> LanesFrom(int first) => Vector512.GreaterThanOrEqual(Vector512<T>.Indices, Vector512.Create(T.CreateTruncating(first)));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<T> And(Vector512<T> a, Vector512<T> b) => a & b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void AddSums(ref T c, T alpha, Vector512<T> v0, Vector512<T> v1, Vector512<T> v2, Vector512<T> v3)
        {
            if (typeof(T) == typeof(float) && Avx512F.IsSupported)
            {
                // (Σ a, Σ b, Σ c, Σ d) in 13 instructions instead of four reductions: pairs interleaved and added within each
                // 128-bit lane (unpack), the four rows gathered per lane (shuffle), then the four lanes added.
                Vector512<float> a = v0.As<T, float>(), b = v1.As<T, float>(), cc = v2.As<T, float>(), d = v3.As<T, float>();
                var ab = Avx512F.UnpackLow(a, b) + Avx512F.UnpackHigh(a, b);
                var cd = Avx512F.UnpackLow(cc, d) + Avx512F.UnpackHigh(cc, d);
                var abcd = Avx512F.Shuffle(ab, cd, 0b01_00_01_00) + Avx512F.Shuffle(ab, cd, 0b11_10_11_10);
                var h = abcd.GetLower() + abcd.GetUpper();
                var s = h.GetLower() + h.GetUpper();
                ref float cf = ref Unsafe.As<T, float>(ref c);
                Vector128.FusedMultiplyAdd(Vector128.Create(Unsafe.As<T, float>(ref alpha)), s, Vector128.LoadUnsafe(ref cf)).StoreUnsafe(ref cf);
                return;
            }
            c += alpha * Vector512.Sum(v0);
            Unsafe.Add(ref c, 1) += alpha * Vector512.Sum(v1);
            Unsafe.Add(ref c, 2) += alpha * Vector512.Sum(v2);
            Unsafe.Add(ref c, 3) += alpha * Vector512.Sum(v3);
        }
    }

    /// <summary>The operations on 256-bit vectors (AVX2).</summary>
    internal readonly struct Simd256<T> : ISimd<Vector256<T>, T> where T : unmanaged, INumber<T>
    {
        public static int Count => Vector256<T>.Count;

        public static int AxpyRows => 6;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<T> Load(ref T source, nuint index) => Vector256.LoadUnsafe(ref source, index);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store(Vector256<T> value, ref T destination, nuint index) => value.StoreUnsafe(ref destination, index);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<T> Broadcast(T value) => Vector256.Create(value);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<T> MultiplyAdd(Vector256<T> a, Vector256<T> b, Vector256<T> c) => Fma(a, b, c);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<T> Multiply(Vector256<T> a, Vector256<T> b) => a * b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<T> Add(Vector256<T> a, Vector256<T> b) => a + b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<T> Subtract(Vector256<T> a, Vector256<T> b) => a - b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<T> Divide(Vector256<T> a, Vector256<T> b) => a / b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<T> Exp(Vector256<T> x)
        {
            if (typeof(T) == typeof(float)) return Vector256.Exp(x.As<T, float>()).As<float, T>();
            if (typeof(T) == typeof(double)) return Vector256.Exp(x.As<T, double>()).As<double, T>();
            throw new NotSupportedException($"Exp of {typeof(T).Name} vectors: only float and double.");
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<T> LanesFrom(int first) => Vector256.GreaterThanOrEqual(Vector256<T>.Indices, Vector256.Create(T.CreateTruncating(first)));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<T> And(Vector256<T> a, Vector256<T> b) => a & b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void AddSums(ref T c, T alpha, Vector256<T> v0, Vector256<T> v1, Vector256<T> v2, Vector256<T> v3)
        {
            if (typeof(T) == typeof(float) && Avx.IsSupported)
            {
                Vector256<float> a = v0.As<T, float>(), b = v1.As<T, float>(), cc = v2.As<T, float>(), d = v3.As<T, float>();
                var ab = Avx.UnpackLow(a, b) + Avx.UnpackHigh(a, b);
                var cd = Avx.UnpackLow(cc, d) + Avx.UnpackHigh(cc, d);
                var abcd = Avx.Shuffle(ab, cd, 0b01_00_01_00) + Avx.Shuffle(ab, cd, 0b11_10_11_10);
                var s = abcd.GetLower() + abcd.GetUpper();
                ref float cf = ref Unsafe.As<T, float>(ref c);
                (Vector128.Create(Unsafe.As<T, float>(ref alpha)) * s + Vector128.LoadUnsafe(ref cf)).StoreUnsafe(ref cf);
                return;
            }
            c += alpha * Vector256.Sum(v0);
            Unsafe.Add(ref c, 1) += alpha * Vector256.Sum(v1);
            Unsafe.Add(ref c, 2) += alpha * Vector256.Sum(v2);
            Unsafe.Add(ref c, 3) += alpha * Vector256.Sum(v3);
        }
    }
}
