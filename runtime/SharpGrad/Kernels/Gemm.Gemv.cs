using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SharpGrad.Kernels;

// One row times a weight matrix transposed, y = x·Wᵀ (a Linear layer applied to one sample: batch-1 inference). The
// product is a matrix-vector product bound by reading W (fc1 of the workloads' MLP: 256×784 floats, 803 KB, once per
// call), so the kernel is built around W's bytes: eight rows of W per pass (eight independent FMA chains, enough to keep
// both FMA pipes busy, x loaded once per eight W vectors), and, when W is large, the rows split over the worker pool so
// that each core streams its share from its own L2: one part per thread, so that from call to call the same core tends to
// take the same rows (the caller claims the first part; a two-core split halves the bytes each core reads and keeps its
// half in its own L2), and a worker that is not scheduled promptly leaves its part to the caller.
public static partial class Gemm
{
    /// <summary>Weights of at least this many bytes are split over the cores in a one-row product (fc2 of the MLP, 131 KB, is not).</summary>
    private const long RowGemvParallelBytes = 256 * 1024;

    /// <summary>The fewest output columns per part of a split one-row product.</summary>
    private const int RowGemvPartColumns = 32;

    /// <summary>Whether the one-row kernel takes x·Wᵀ (AVX-512 or AVX2, at least one vector of depth).</summary>
    private static bool UseRowGemv<T>(bool transA, bool transB, int m, int k) where T : unmanaged
        => m == 1 && transB && !transA
           && (Vector512.IsHardwareAccelerated ? k >= Vector512<T>.Count : Vector256.IsHardwareAccelerated && k >= Vector256<T>.Count);

    /// <summary>C[0, j] += alpha · x·B[j, :] for all n columns (then the epilogue), split over the pool when B is large.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowGemv<T>(int n, int k, T alpha, T[] a, int aOff, T[] b, int bOff, int ldb, T[] c, int cOff, bool allowParallel, Epi<T> epi)
        where T : unmanaged, INumber<T>
    {
        int parts = 1;
        if (allowParallel && Parallelism.MaxThreads > 1 && (long)n * k * Unsafe.SizeOf<T>() >= RowGemvParallelBytes)
            parts = Math.Min(Parallelism.MaxThreads, (n + RowGemvPartColumns - 1) / RowGemvPartColumns);
        if (parts <= 1)
        {
            RowGemvRange(k, alpha, a, aOff, b, bOff, ldb, c, cOff, epi, 0, n);
            return;
        }
        int chunk = RoundUp((n + parts - 1) / parts, 8);
        parts = (n + chunk - 1) / chunk;
        Parallelism.For(parts, new RowGemvPart<T>(n, k, alpha, a, aOff, b, bOff, ldb, c, cOff, epi, chunk));
    }

    /// <summary>One column range of <see cref="RowGemv{T}"/>, as an item of <see cref="Parallelism.For{TBody}(int, TBody)"/>.</summary>
    private readonly struct RowGemvPart<T>(int n, int k, T alpha, T[] a, int aOff, T[] b, int bOff, int ldb, T[] c, int cOff, Epi<T> epi, int chunk)
        : IParallelBody where T : unmanaged, INumber<T>
    {
        public void Invoke(int index)
        {
            int j0 = index * chunk;
            RowGemvRange(k, alpha, a, aOff, b, bOff, ldb, c, cOff, epi, j0, Math.Min(n, j0 + chunk));
        }
    }

    /// <summary><see cref="RowGemvRange{T, V, TV}"/> at the machine's widest vectors (AVX-512, else AVX2).</summary>
    private static void RowGemvRange<T>(int k, T alpha, T[] a, int aOff, T[] b, int bOff, int ldb, T[] c, int cOff, Epi<T> epi, int j0, int j1)
        where T : unmanaged, INumber<T>
    {
        if (Vector512.IsHardwareAccelerated) RowGemvRange<T, Simd512<T>, Vector512<T>>(k, alpha, a, aOff, b, bOff, ldb, c, cOff, epi, j0, j1);
        else RowGemvRange<T, Simd256<T>, Vector256<T>>(k, alpha, a, aOff, b, bOff, ldb, c, cOff, epi, j0, j1);
    }

    /// <summary>Columns [j0, j1): eight rows of B at a time, the rest four and one at a time; then the epilogue on them (k ≥ one vector).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void RowGemvRange<T, V, TV>(int k, T alpha, T[] a, int aOff, T[] b, int bOff, int ldb, T[] c, int cOff, Epi<T> epi, int j0, int j1)
        where T : unmanaged, INumber<T> where V : struct, ISimd<TV, T> where TV : struct
    {
        ref T x = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(a), aOff);
        ref T b0 = ref MemoryMarshal.GetArrayDataReference(b);
        ref T c0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(c), cOff);
        int j = j0;
        for (; j + 8 <= j1; j += 8)
        {
            Dot8<T, V, TV>(ref x, ref Unsafe.Add(ref b0, bOff + j * ldb), ldb, k, out var s);
            ref T cj = ref Unsafe.Add(ref c0, j);
            for (int r = 0; r < 8; r++) Unsafe.Add(ref cj, r) += alpha * s[r];
        }
        if (j < j1) SmallDot(1, k, alpha, a, aOff, k, b, bOff, ldb, c, cOff, 0, j, j1);
        if (!epi.IsNone) epi.ApplyRows(c, cOff, 0, 0, 1, j0, j1);
    }

    /// <summary>Eight sums, one per row of <see cref="Dot8{T, V, TV}"/>.</summary>
    [InlineArray(8)]
    private struct Sums8<T> where T : unmanaged
    {
        private T _element0;
    }

    /// <summary>s[r] = Σ_p x[p]·y_r[p] for the eight rows y_0..7 (<paramref name="ldy"/> apart); k ≥ one vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot8<T, V, TV>(ref T x, ref T y, int ldy, int k, out Sums8<T> s)
        where T : unmanaged, INumber<T> where V : struct, ISimd<TV, T> where TV : struct
    {
        int w = V.Count;
        ref T y1 = ref Unsafe.Add(ref y, ldy); ref T y2 = ref Unsafe.Add(ref y, 2 * ldy); ref T y3 = ref Unsafe.Add(ref y, 3 * ldy);
        ref T y4 = ref Unsafe.Add(ref y, 4 * ldy); ref T y5 = ref Unsafe.Add(ref y, 5 * ldy); ref T y6 = ref Unsafe.Add(ref y, 6 * ldy);
        ref T y7 = ref Unsafe.Add(ref y, 7 * ldy);
        TV c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        int p = 0;
        for (; p <= k - w; p += w)
        {
            var v = V.Load(ref x, (nuint)p);
            c0 = V.MultiplyAdd(v, V.Load(ref y, (nuint)p), c0);
            c1 = V.MultiplyAdd(v, V.Load(ref y1, (nuint)p), c1);
            c2 = V.MultiplyAdd(v, V.Load(ref y2, (nuint)p), c2);
            c3 = V.MultiplyAdd(v, V.Load(ref y3, (nuint)p), c3);
            c4 = V.MultiplyAdd(v, V.Load(ref y4, (nuint)p), c4);
            c5 = V.MultiplyAdd(v, V.Load(ref y5, (nuint)p), c5);
            c6 = V.MultiplyAdd(v, V.Load(ref y6, (nuint)p), c6);
            c7 = V.MultiplyAdd(v, V.Load(ref y7, (nuint)p), c7);
        }
        if (p < k)
        {
            // The last k mod w elements: one more vector ending at k, its lanes before p (already counted) masked off in both
            // operands (0·0, so that an infinity there cannot turn into NaN).
            nuint q = (nuint)(k - w);
            var mask = V.LanesFrom(p - (k - w));
            var v = V.And(V.Load(ref x, q), mask);
            c0 = V.MultiplyAdd(v, V.And(V.Load(ref y, q), mask), c0);
            c1 = V.MultiplyAdd(v, V.And(V.Load(ref y1, q), mask), c1);
            c2 = V.MultiplyAdd(v, V.And(V.Load(ref y2, q), mask), c2);
            c3 = V.MultiplyAdd(v, V.And(V.Load(ref y3, q), mask), c3);
            c4 = V.MultiplyAdd(v, V.And(V.Load(ref y4, q), mask), c4);
            c5 = V.MultiplyAdd(v, V.And(V.Load(ref y5, q), mask), c5);
            c6 = V.MultiplyAdd(v, V.And(V.Load(ref y6, q), mask), c6);
            c7 = V.MultiplyAdd(v, V.And(V.Load(ref y7, q), mask), c7);
        }
        s = default;
        s[0] = Sum<T, TV>(c0); s[1] = Sum<T, TV>(c1); s[2] = Sum<T, TV>(c2); s[3] = Sum<T, TV>(c3);
        s[4] = Sum<T, TV>(c4); s[5] = Sum<T, TV>(c5); s[6] = Sum<T, TV>(c6); s[7] = Sum<T, TV>(c7);
    }

    /// <summary>The sum of the lanes of a 512- or 256-bit vector (the runtime's reduction of that width).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T Sum<T, TV>(TV v) where T : unmanaged where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<T>)) return Vector512.Sum(Unsafe.As<TV, Vector512<T>>(ref v));
        if (typeof(TV) == typeof(Vector256<T>)) return Vector256.Sum(Unsafe.As<TV, Vector256<T>>(ref v));
        throw new NotSupportedException($"Sum of {typeof(TV).Name}: only 512- and 256-bit vectors.");
    }
}
