using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpGrad.Kernels;

// The vector width a register-blocked micro-kernel is written for, as a type argument: each kernel of Gemm.Direct.cs is
// defined once (Dot4x4, AxpyTile) and instantiated for 512-bit vectors (AVX-512: 32 registers) and for 256-bit vectors
// (AVX2: 16 registers). The wrappers are single-field structs whose members are all inlined, so an instantiation compiles to
// the same code as a kernel written with Vector512<T> or Vector256<T> directly (the JIT keeps them in registers).
public static partial class Gemm
{
    /// <summary>One SIMD vector of <typeparamref name="T"/> of a fixed width, with the operations the micro-kernels use.</summary>
    internal interface ISimd<TSelf, T> where TSelf : struct, ISimd<TSelf, T> where T : unmanaged, INumber<T>
    {
        /// <summary>Elements per vector.</summary>
        static abstract int Count { get; }

        /// <summary>Rows of the broadcast kernel's tile: 8 with 32 vector registers (16 accumulators), 6 with 16 (12).</summary>
        static abstract int AxpyRows { get; }

        static abstract TSelf Load(ref T source, nuint index);

        static abstract void Store(TSelf value, ref T destination, nuint index);

        static abstract TSelf Broadcast(T value);

        /// <summary>a·b + c (fused for float and double).</summary>
        static abstract TSelf MultiplyAdd(TSelf a, TSelf b, TSelf c);

        static abstract TSelf Multiply(TSelf a, TSelf b);

        /// <summary>The lanes at index ≥ <paramref name="first"/> all ones, the others zero (a mask for <see cref="And"/>).</summary>
        static abstract TSelf LanesFrom(int first);

        static abstract TSelf And(TSelf a, TSelf b);

        /// <summary>c[0..4) += alpha · (Σ v0, Σ v1, Σ v2, Σ v3).</summary>
        static abstract void AddSums(ref T c, T alpha, TSelf v0, TSelf v1, TSelf v2, TSelf v3);
    }

    /// <summary>A 512-bit vector (AVX-512).</summary>
    internal readonly struct Simd512<T>(Vector512<T> v) : ISimd<Simd512<T>, T> where T : unmanaged, INumber<T>
    {
        private readonly Vector512<T> _v = v;

        public static int Count => Vector512<T>.Count;

        public static int AxpyRows => 8;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Simd512<T> Load(ref T source, nuint index) => new(Vector512.LoadUnsafe(ref source, index));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store(Simd512<T> value, ref T destination, nuint index) => value._v.StoreUnsafe(ref destination, index);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Simd512<T> Broadcast(T value) => new(Vector512.Create(value));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Simd512<T> MultiplyAdd(Simd512<T> a, Simd512<T> b, Simd512<T> c) => new(Fma(a._v, b._v, c._v));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Simd512<T> Multiply(Simd512<T> a, Simd512<T> b) => new(a._v * b._v);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Simd512<T> LanesFrom(int first) => new(Vector512.GreaterThanOrEqual(Vector512<T>.Indices, Vector512.Create(T.CreateTruncating(first))));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Simd512<T> And(Simd512<T> a, Simd512<T> b) => new(a._v & b._v);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void AddSums(ref T c, T alpha, Simd512<T> v0, Simd512<T> v1, Simd512<T> v2, Simd512<T> v3)
        {
            if (typeof(T) == typeof(float) && Avx512F.IsSupported)
            {
                // (Σ a, Σ b, Σ c, Σ d) in 13 instructions instead of four reductions: pairs interleaved and added within each
                // 128-bit lane (unpack), the four rows gathered per lane (shuffle), then the four lanes added.
                Vector512<float> a = v0._v.As<T, float>(), b = v1._v.As<T, float>(), cc = v2._v.As<T, float>(), d = v3._v.As<T, float>();
                var ab = Avx512F.UnpackLow(a, b) + Avx512F.UnpackHigh(a, b);
                var cd = Avx512F.UnpackLow(cc, d) + Avx512F.UnpackHigh(cc, d);
                var abcd = Avx512F.Shuffle(ab, cd, 0b01_00_01_00) + Avx512F.Shuffle(ab, cd, 0b11_10_11_10);
                var h = abcd.GetLower() + abcd.GetUpper();
                var s = h.GetLower() + h.GetUpper();
                ref float cf = ref Unsafe.As<T, float>(ref c);
                Vector128.FusedMultiplyAdd(Vector128.Create(Unsafe.As<T, float>(ref alpha)), s, Vector128.LoadUnsafe(ref cf)).StoreUnsafe(ref cf);
                return;
            }
            c += alpha * Vector512.Sum(v0._v);
            Unsafe.Add(ref c, 1) += alpha * Vector512.Sum(v1._v);
            Unsafe.Add(ref c, 2) += alpha * Vector512.Sum(v2._v);
            Unsafe.Add(ref c, 3) += alpha * Vector512.Sum(v3._v);
        }
    }

    /// <summary>A 256-bit vector (AVX2).</summary>
    internal readonly struct Simd256<T>(Vector256<T> v) : ISimd<Simd256<T>, T> where T : unmanaged, INumber<T>
    {
        private readonly Vector256<T> _v = v;

        public static int Count => Vector256<T>.Count;

        public static int AxpyRows => 6;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Simd256<T> Load(ref T source, nuint index) => new(Vector256.LoadUnsafe(ref source, index));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store(Simd256<T> value, ref T destination, nuint index) => value._v.StoreUnsafe(ref destination, index);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Simd256<T> Broadcast(T value) => new(Vector256.Create(value));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Simd256<T> MultiplyAdd(Simd256<T> a, Simd256<T> b, Simd256<T> c) => new(Fma(a._v, b._v, c._v));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Simd256<T> Multiply(Simd256<T> a, Simd256<T> b) => new(a._v * b._v);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Simd256<T> LanesFrom(int first) => new(Vector256.GreaterThanOrEqual(Vector256<T>.Indices, Vector256.Create(T.CreateTruncating(first))));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Simd256<T> And(Simd256<T> a, Simd256<T> b) => new(a._v & b._v);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void AddSums(ref T c, T alpha, Simd256<T> v0, Simd256<T> v1, Simd256<T> v2, Simd256<T> v3)
        {
            if (typeof(T) == typeof(float) && Avx.IsSupported)
            {
                Vector256<float> a = v0._v.As<T, float>(), b = v1._v.As<T, float>(), cc = v2._v.As<T, float>(), d = v3._v.As<T, float>();
                var ab = Avx.UnpackLow(a, b) + Avx.UnpackHigh(a, b);
                var cd = Avx.UnpackLow(cc, d) + Avx.UnpackHigh(cc, d);
                var abcd = Avx.Shuffle(ab, cd, 0b01_00_01_00) + Avx.Shuffle(ab, cd, 0b11_10_11_10);
                var s = abcd.GetLower() + abcd.GetUpper();
                ref float cf = ref Unsafe.As<T, float>(ref c);
                (Vector128.Create(Unsafe.As<T, float>(ref alpha)) * s + Vector128.LoadUnsafe(ref cf)).StoreUnsafe(ref cf);
                return;
            }
            c += alpha * Vector256.Sum(v0._v);
            Unsafe.Add(ref c, 1) += alpha * Vector256.Sum(v1._v);
            Unsafe.Add(ref c, 2) += alpha * Vector256.Sum(v2._v);
            Unsafe.Add(ref c, 3) += alpha * Vector256.Sum(v3._v);
        }
    }
}
