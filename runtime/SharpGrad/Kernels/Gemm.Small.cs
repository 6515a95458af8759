using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SharpGrad.Kernels;

// The one-row kernels of the direct path (Gemm.Direct.cs): a product with at most SmallM rows, and the rows and columns
// left over at the edges of the direct path's register blocks.
public static partial class Gemm
{
    /// <summary>Up to this many rows, GEMM skips packing (a layer applied to a few samples).</summary>
    private const int SmallM = 4;

    /// <summary>x·Wᵀ with up to this many output columns skips packing (a classifier head).</summary>
    private const int SmallN = 16;

    /// <summary>Up to this depth (outer-product-like updates), GEMM skips packing.</summary>
    private const int SmallK = 4;

    /// <summary>C[i, j] += alpha · A[i, :]·B[j, :] for j in [j0, j1) (rows of A and B contiguous, length k).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SmallDot<T>(int m, int k, T alpha, T[] a, int aOff, int lda, T[] b, int bOff, int ldb,
        T[] c, int cOff, int ldc, int j0, int j1) where T : unmanaged, INumber<T>
    {
        ref T a0 = ref MemoryMarshal.GetArrayDataReference(a);
        ref T b0 = ref MemoryMarshal.GetArrayDataReference(b);
        int j = j0;
        for (; j + 4 <= j1; j += 4)
        {
            ref T bj = ref Unsafe.Add(ref b0, bOff + j * ldb);
            for (int i = 0; i < m; i++)
            {
                ref T ai = ref Unsafe.Add(ref a0, aOff + i * lda);
                Dot4(ref ai, ref bj, ldb, k, out T s0, out T s1, out T s2, out T s3);
                int ci = cOff + i * ldc + j;
                c[ci] += alpha * s0;
                c[ci + 1] += alpha * s1;
                c[ci + 2] += alpha * s2;
                c[ci + 3] += alpha * s3;
            }
        }
        for (; j < j1; j++)
        {
            var bj = b.AsSpan(bOff + j * ldb, k);
            for (int i = 0; i < m; i++)
            {
                c[cOff + i * ldc + j] += alpha * DotFast<T>(a.AsSpan(aOff + i * lda, k), bj);
            }
        }
    }

    /// <summary>Four dot products x·y0 … x·y3, the y rows <paramref name="ldy"/> apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot4<T>(ref T x, ref T y, int ldy, int k, out T s0, out T s1, out T s2, out T s3) where T : unmanaged, INumber<T>
    {
        ref T y1 = ref Unsafe.Add(ref y, ldy);
        ref T y2 = ref Unsafe.Add(ref y, 2 * ldy);
        ref T y3 = ref Unsafe.Add(ref y, 3 * ldy);
        int p = 0;
        s0 = s1 = s2 = s3 = T.Zero;
        if (Vector512.IsHardwareAccelerated && k >= Vector512<T>.Count)
        {
            int w = Vector512<T>.Count;
            Vector512<T> c0 = default, c1 = default, c2 = default, c3 = default;
            for (; p <= k - w; p += w)
            {
                var xv = Vector512.LoadUnsafe(ref x, (nuint)p);
                c0 = Fma(xv, Vector512.LoadUnsafe(ref y, (nuint)p), c0);
                c1 = Fma(xv, Vector512.LoadUnsafe(ref y1, (nuint)p), c1);
                c2 = Fma(xv, Vector512.LoadUnsafe(ref y2, (nuint)p), c2);
                c3 = Fma(xv, Vector512.LoadUnsafe(ref y3, (nuint)p), c3);
            }
            s0 = Vector512.Sum(c0); s1 = Vector512.Sum(c1); s2 = Vector512.Sum(c2); s3 = Vector512.Sum(c3);
        }
        else if (Vector256.IsHardwareAccelerated && k >= Vector256<T>.Count)
        {
            int w = Vector256<T>.Count;
            Vector256<T> c0 = default, c1 = default, c2 = default, c3 = default;
            for (; p <= k - w; p += w)
            {
                var xv = Vector256.LoadUnsafe(ref x, (nuint)p);
                c0 = Fma(xv, Vector256.LoadUnsafe(ref y, (nuint)p), c0);
                c1 = Fma(xv, Vector256.LoadUnsafe(ref y1, (nuint)p), c1);
                c2 = Fma(xv, Vector256.LoadUnsafe(ref y2, (nuint)p), c2);
                c3 = Fma(xv, Vector256.LoadUnsafe(ref y3, (nuint)p), c3);
            }
            s0 = Vector256.Sum(c0); s1 = Vector256.Sum(c1); s2 = Vector256.Sum(c2); s3 = Vector256.Sum(c3);
        }
        for (; p < k; p++)
        {
            T xv = Unsafe.Add(ref x, p);
            s0 += xv * Unsafe.Add(ref y, p);
            s1 += xv * Unsafe.Add(ref y1, p);
            s2 += xv * Unsafe.Add(ref y2, p);
            s3 += xv * Unsafe.Add(ref y3, p);
        }
    }

    /// <summary>Σ x·y with wide vectors and four accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T DotFast<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y) where T : unmanaged, INumber<T>
    {
        int p = 0, k = x.Length;
        T s = T.Zero;
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated && k >= Vector512<T>.Count)
        {
            int w = Vector512<T>.Count;
            Vector512<T> c0 = default, c1 = default, c2 = default, c3 = default;
            for (; p <= k - 4 * w; p += 4 * w)
            {
                c0 = Fma(Vector512.LoadUnsafe(ref xr, (nuint)p), Vector512.LoadUnsafe(ref yr, (nuint)p), c0);
                c1 = Fma(Vector512.LoadUnsafe(ref xr, (nuint)(p + w)), Vector512.LoadUnsafe(ref yr, (nuint)(p + w)), c1);
                c2 = Fma(Vector512.LoadUnsafe(ref xr, (nuint)(p + 2 * w)), Vector512.LoadUnsafe(ref yr, (nuint)(p + 2 * w)), c2);
                c3 = Fma(Vector512.LoadUnsafe(ref xr, (nuint)(p + 3 * w)), Vector512.LoadUnsafe(ref yr, (nuint)(p + 3 * w)), c3);
            }
            for (; p <= k - w; p += w)
            {
                c0 = Fma(Vector512.LoadUnsafe(ref xr, (nuint)p), Vector512.LoadUnsafe(ref yr, (nuint)p), c0);
            }
            s = Vector512.Sum((c0 + c1) + (c2 + c3));
        }
        else if (Vector256.IsHardwareAccelerated && k >= Vector256<T>.Count)
        {
            int w = Vector256<T>.Count;
            Vector256<T> c0 = default, c1 = default;
            for (; p <= k - 2 * w; p += 2 * w)
            {
                c0 = Fma(Vector256.LoadUnsafe(ref xr, (nuint)p), Vector256.LoadUnsafe(ref yr, (nuint)p), c0);
                c1 = Fma(Vector256.LoadUnsafe(ref xr, (nuint)(p + w)), Vector256.LoadUnsafe(ref yr, (nuint)(p + w)), c1);
            }
            for (; p <= k - w; p += w)
            {
                c0 = Fma(Vector256.LoadUnsafe(ref xr, (nuint)p), Vector256.LoadUnsafe(ref yr, (nuint)p), c0);
            }
            s = Vector256.Sum(c0 + c1);
        }
        for (; p < k; p++) s += Unsafe.Add(ref xr, p) * Unsafe.Add(ref yr, p);
        return s;
    }

    /// <summary>
    /// C[i, j0..j1) += alpha · Σ_p op(A)[i, p] · B[p, j0..j1): a strip of columns held in registers per row of C,
    /// the rows of B streamed (the strip of B stays in cache across the few rows of A).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SmallAxpy<T>(bool transA, int m, int k, T alpha, T[] a, int aOff, int lda, T[] b, int bOff, int ldb,
        T[] c, int cOff, int ldc, int j0, int j1) where T : unmanaged, INumber<T>
    {
        ref T a0 = ref MemoryMarshal.GetArrayDataReference(a);
        ref T b0 = ref MemoryMarshal.GetArrayDataReference(b);
        ref T c0r = ref MemoryMarshal.GetArrayDataReference(c);
        // A[i, p] is at ia + p·pa.
        int pa = transA ? lda : 1;
        int ja = transA ? 1 : lda;
        int j = j0;
        if (Vector512.IsHardwareAccelerated)
        {
            int w = Vector512<T>.Count;
            var va = Vector512.Create(alpha);
            for (; j + 4 * w <= j1; j += 4 * w)
            {
                for (int i = 0; i < m; i++)
                {
                    int ia = aOff + i * ja;
                    Vector512<T> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
                    ref T bj = ref Unsafe.Add(ref b0, bOff + j);
                    for (int p = 0; p < k; p++)
                    {
                        var av = Vector512.Create(Unsafe.Add(ref a0, ia + p * pa));
                        ref T bp = ref Unsafe.Add(ref bj, p * ldb);
                        acc0 = Fma(av, Vector512.LoadUnsafe(ref bp), acc0);
                        acc1 = Fma(av, Vector512.LoadUnsafe(ref bp, (nuint)w), acc1);
                        acc2 = Fma(av, Vector512.LoadUnsafe(ref bp, (nuint)(2 * w)), acc2);
                        acc3 = Fma(av, Vector512.LoadUnsafe(ref bp, (nuint)(3 * w)), acc3);
                    }
                    ref T ci = ref Unsafe.Add(ref c0r, cOff + i * ldc + j);
                    Fma(va, acc0, Vector512.LoadUnsafe(ref ci)).StoreUnsafe(ref ci);
                    Fma(va, acc1, Vector512.LoadUnsafe(ref ci, (nuint)w)).StoreUnsafe(ref ci, (nuint)w);
                    Fma(va, acc2, Vector512.LoadUnsafe(ref ci, (nuint)(2 * w))).StoreUnsafe(ref ci, (nuint)(2 * w));
                    Fma(va, acc3, Vector512.LoadUnsafe(ref ci, (nuint)(3 * w))).StoreUnsafe(ref ci, (nuint)(3 * w));
                }
            }
            for (; j + w <= j1; j += w)
            {
                for (int i = 0; i < m; i++)
                {
                    int ia = aOff + i * ja;
                    Vector512<T> acc0 = default;
                    ref T bj = ref Unsafe.Add(ref b0, bOff + j);
                    for (int p = 0; p < k; p++)
                    {
                        acc0 = Fma(Vector512.Create(Unsafe.Add(ref a0, ia + p * pa)), Vector512.LoadUnsafe(ref Unsafe.Add(ref bj, p * ldb)), acc0);
                    }
                    ref T ci = ref Unsafe.Add(ref c0r, cOff + i * ldc + j);
                    Fma(va, acc0, Vector512.LoadUnsafe(ref ci)).StoreUnsafe(ref ci);
                }
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            int w = Vector256<T>.Count;
            var va = Vector256.Create(alpha);
            for (; j + 2 * w <= j1; j += 2 * w)
            {
                for (int i = 0; i < m; i++)
                {
                    int ia = aOff + i * ja;
                    Vector256<T> acc0 = default, acc1 = default;
                    ref T bj = ref Unsafe.Add(ref b0, bOff + j);
                    for (int p = 0; p < k; p++)
                    {
                        var av = Vector256.Create(Unsafe.Add(ref a0, ia + p * pa));
                        ref T bp = ref Unsafe.Add(ref bj, p * ldb);
                        acc0 = Fma(av, Vector256.LoadUnsafe(ref bp), acc0);
                        acc1 = Fma(av, Vector256.LoadUnsafe(ref bp, (nuint)w), acc1);
                    }
                    ref T ci = ref Unsafe.Add(ref c0r, cOff + i * ldc + j);
                    Fma(va, acc0, Vector256.LoadUnsafe(ref ci)).StoreUnsafe(ref ci);
                    Fma(va, acc1, Vector256.LoadUnsafe(ref ci, (nuint)w)).StoreUnsafe(ref ci, (nuint)w);
                }
            }
            for (; j + w <= j1; j += w)
            {
                for (int i = 0; i < m; i++)
                {
                    int ia = aOff + i * ja;
                    Vector256<T> acc0 = default;
                    ref T bj = ref Unsafe.Add(ref b0, bOff + j);
                    for (int p = 0; p < k; p++)
                    {
                        acc0 = Fma(Vector256.Create(Unsafe.Add(ref a0, ia + p * pa)), Vector256.LoadUnsafe(ref Unsafe.Add(ref bj, p * ldb)), acc0);
                    }
                    ref T ci = ref Unsafe.Add(ref c0r, cOff + i * ldc + j);
                    Fma(va, acc0, Vector256.LoadUnsafe(ref ci)).StoreUnsafe(ref ci);
                }
            }
        }
        for (; j < j1; j++)
        {
            for (int i = 0; i < m; i++)
            {
                int ia = aOff + i * ja;
                T s = T.Zero;
                for (int p = 0; p < k; p++) s += Unsafe.Add(ref a0, ia + p * pa) * Unsafe.Add(ref b0, bOff + p * ldb + j);
                Unsafe.Add(ref c0r, cOff + i * ldc + j) += alpha * s;
            }
        }
    }
}
