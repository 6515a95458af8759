using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SharpGrad.Kernels;

// The attention's per-head work for heads of 64 keys on AVX-512 (the encoder's 64×64 heads, head_dim 32): the scores
// q·kᵀ and their softmax in one pass through registers (four query rows × four 512-bit vectors of keys, the scale and the
// softmax applied to the accumulators before they are stored as probabilities), the backward's gC·vᵀ and the softmax's
// backward likewise, and the head's other products as direct broadcast tiles without the GEMM entry's dispatch. Each
// element is the same FMA chain over the same terms in the same order as on the Gemm.Sgemm path (one chain from 0 over k
// ≤ 256, times alpha), and the softmax rows are SoftmaxRow512's and SoftmaxBackwardRow512's operations: the same bits
// (AttentionHeadKernelTests compares both paths bit for bit).
public static partial class AttentionKernel
{
    /// <summary>
    /// Whether a head of <paramref name="s"/> keys takes the fused kernels (<see cref="ScoresSoftmax64"/>,
    /// <see cref="GradScores64"/>): 64 keys (four 512-bit vectors per row) on AVX-512.
    /// </summary>
    internal static bool UseHeadKernels(int s) => Vector512.IsHardwareAccelerated && s == 64;

    /// <summary>
    /// probs[i, 0..64) = softmax(scale · Σ_f q[i, f]·kt[f, 0..64)) for the <paramref name="l"/> query rows
    /// (<paramref name="ldq"/> apart) of one head, <paramref name="kt"/> the head's keys transposed ([d, 64] contiguous):
    /// four rows at a time in 16 accumulators, each element one FMA chain over f from 0, times the scale, then
    /// <see cref="SoftmaxStore"/> on the row's four vectors.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoresSoftmax64(ref float q, nint ldq, ref float kt, int d, float scale, ref float probs, int l)
    {
        var vs = Vector512.Create(scale);
        int i = 0;
        for (; i + 4 <= l; i += 4)
        {
            ref float q0 = ref Unsafe.Add(ref q, i * ldq);
            ref float q1 = ref Unsafe.Add(ref q0, ldq);
            ref float q2 = ref Unsafe.Add(ref q1, ldq);
            ref float q3 = ref Unsafe.Add(ref q2, ldq);
            Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
            Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
            ref float kp = ref kt;
            for (int f = 0; f < d; f++)
            {
                var b0 = Vector512.LoadUnsafe(ref kp);
                var b1 = Vector512.LoadUnsafe(ref kp, 16);
                var b2 = Vector512.LoadUnsafe(ref kp, 32);
                var b3 = Vector512.LoadUnsafe(ref kp, 48);
                var a = Vector512.Create(Unsafe.Add(ref q0, f));
                c00 = Vector512.FusedMultiplyAdd(a, b0, c00); c01 = Vector512.FusedMultiplyAdd(a, b1, c01);
                c02 = Vector512.FusedMultiplyAdd(a, b2, c02); c03 = Vector512.FusedMultiplyAdd(a, b3, c03);
                a = Vector512.Create(Unsafe.Add(ref q1, f));
                c10 = Vector512.FusedMultiplyAdd(a, b0, c10); c11 = Vector512.FusedMultiplyAdd(a, b1, c11);
                c12 = Vector512.FusedMultiplyAdd(a, b2, c12); c13 = Vector512.FusedMultiplyAdd(a, b3, c13);
                a = Vector512.Create(Unsafe.Add(ref q2, f));
                c20 = Vector512.FusedMultiplyAdd(a, b0, c20); c21 = Vector512.FusedMultiplyAdd(a, b1, c21);
                c22 = Vector512.FusedMultiplyAdd(a, b2, c22); c23 = Vector512.FusedMultiplyAdd(a, b3, c23);
                a = Vector512.Create(Unsafe.Add(ref q3, f));
                c30 = Vector512.FusedMultiplyAdd(a, b0, c30); c31 = Vector512.FusedMultiplyAdd(a, b1, c31);
                c32 = Vector512.FusedMultiplyAdd(a, b2, c32); c33 = Vector512.FusedMultiplyAdd(a, b3, c33);
                kp = ref Unsafe.Add(ref kp, 64);
            }
            ref float pr = ref Unsafe.Add(ref probs, i * 64);
            SoftmaxStore(vs * c00, vs * c01, vs * c02, vs * c03, ref pr);
            SoftmaxStore(vs * c10, vs * c11, vs * c12, vs * c13, ref Unsafe.Add(ref pr, 64));
            SoftmaxStore(vs * c20, vs * c21, vs * c22, vs * c23, ref Unsafe.Add(ref pr, 128));
            SoftmaxStore(vs * c30, vs * c31, vs * c32, vs * c33, ref Unsafe.Add(ref pr, 192));
        }
        for (; i < l; i++)
        {
            ref float q0 = ref Unsafe.Add(ref q, i * ldq);
            Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
            ref float kp = ref kt;
            for (int f = 0; f < d; f++)
            {
                var a = Vector512.Create(Unsafe.Add(ref q0, f));
                c00 = Vector512.FusedMultiplyAdd(a, Vector512.LoadUnsafe(ref kp), c00);
                c01 = Vector512.FusedMultiplyAdd(a, Vector512.LoadUnsafe(ref kp, 16), c01);
                c02 = Vector512.FusedMultiplyAdd(a, Vector512.LoadUnsafe(ref kp, 32), c02);
                c03 = Vector512.FusedMultiplyAdd(a, Vector512.LoadUnsafe(ref kp, 48), c03);
                kp = ref Unsafe.Add(ref kp, 64);
            }
            SoftmaxStore(vs * c00, vs * c01, vs * c02, vs * c03, ref Unsafe.Add(ref probs, i * 64));
        }
    }

    /// <summary>
    /// <see cref="SoftmaxRow512"/> of a 64-element row held in four vectors, stored at <paramref name="row"/>: the maximum
    /// (the vectors in order), e^(x − m), the sum from +0 in order then <c>Vector512.Sum</c>, times 1/sum.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SoftmaxStore(Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3, ref float row)
    {
        var vm = Vector512.MaxNative(Vector512.MaxNative(Vector512.MaxNative(v0, v1), v2), v3);
        var v4 = Vector128.MaxNative(Vector128.MaxNative(vm.GetLower().GetLower(), vm.GetLower().GetUpper()),
            Vector128.MaxNative(vm.GetUpper().GetLower(), vm.GetUpper().GetUpper()));
        float m = MathF.Max(MathF.Max(v4.GetElement(0), v4.GetElement(1)), MathF.Max(v4.GetElement(2), v4.GetElement(3)));
        Vector512<float> e0, e1, e2, e3;
        if (float.IsInfinity(m))
        {
            // shifted by 0: lanes may be +∞
            e0 = RecurrentMath.Exp(v0);
            e1 = RecurrentMath.Exp(v1);
            e2 = RecurrentMath.Exp(v2);
            e3 = RecurrentMath.Exp(v3);
        }
        else
        {
            // x − m ≤ 0 (or −∞, NaN) for a finite maximum m
            var sh = Vector512.Create(m);
            e0 = RecurrentMath.ExpAtMostZero(v0 - sh);
            e1 = RecurrentMath.ExpAtMostZero(v1 - sh);
            e2 = RecurrentMath.ExpAtMostZero(v2 - sh);
            e3 = RecurrentMath.ExpAtMostZero(v3 - sh);
        }
        var sum = Vector512<float>.Zero;
        sum += e0;
        sum += e1;
        sum += e2;
        sum += e3;
        var f = Vector512.Create(1f / Vector512.Sum(sum + Vector512<float>.Zero));
        (e0 * f).StoreUnsafe(ref row);
        (e1 * f).StoreUnsafe(ref row, 16);
        (e2 * f).StoreUnsafe(ref row, 32);
        (e3 * f).StoreUnsafe(ref row, 48);
    }

    /// <summary>
    /// gs[i, 0..64) = softmax's backward of gP[i] = Σ_f gc[i, f]·vt[f, 0..64) against probs[i] with the scale
    /// (<see cref="SoftmaxBackwardStore"/>), for the <paramref name="l"/> rows of one head's context gradient
    /// (<paramref name="ldgc"/> apart), <paramref name="vt"/> the head's values transposed ([d, 64] contiguous): four rows
    /// at a time, each element of gP one FMA chain over f from 0 (the product's alpha is 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GradScores64(ref float gc, nint ldgc, ref float vt, int d, float scale, ref float probs, ref float gs, int l)
    {
        var vs = Vector512.Create(scale);
        int i = 0;
        for (; i + 4 <= l; i += 4)
        {
            ref float g0 = ref Unsafe.Add(ref gc, i * ldgc);
            ref float g1 = ref Unsafe.Add(ref g0, ldgc);
            ref float g2 = ref Unsafe.Add(ref g1, ldgc);
            ref float g3 = ref Unsafe.Add(ref g2, ldgc);
            Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
            Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
            ref float vp = ref vt;
            for (int f = 0; f < d; f++)
            {
                var b0 = Vector512.LoadUnsafe(ref vp);
                var b1 = Vector512.LoadUnsafe(ref vp, 16);
                var b2 = Vector512.LoadUnsafe(ref vp, 32);
                var b3 = Vector512.LoadUnsafe(ref vp, 48);
                var a = Vector512.Create(Unsafe.Add(ref g0, f));
                c00 = Vector512.FusedMultiplyAdd(a, b0, c00); c01 = Vector512.FusedMultiplyAdd(a, b1, c01);
                c02 = Vector512.FusedMultiplyAdd(a, b2, c02); c03 = Vector512.FusedMultiplyAdd(a, b3, c03);
                a = Vector512.Create(Unsafe.Add(ref g1, f));
                c10 = Vector512.FusedMultiplyAdd(a, b0, c10); c11 = Vector512.FusedMultiplyAdd(a, b1, c11);
                c12 = Vector512.FusedMultiplyAdd(a, b2, c12); c13 = Vector512.FusedMultiplyAdd(a, b3, c13);
                a = Vector512.Create(Unsafe.Add(ref g2, f));
                c20 = Vector512.FusedMultiplyAdd(a, b0, c20); c21 = Vector512.FusedMultiplyAdd(a, b1, c21);
                c22 = Vector512.FusedMultiplyAdd(a, b2, c22); c23 = Vector512.FusedMultiplyAdd(a, b3, c23);
                a = Vector512.Create(Unsafe.Add(ref g3, f));
                c30 = Vector512.FusedMultiplyAdd(a, b0, c30); c31 = Vector512.FusedMultiplyAdd(a, b1, c31);
                c32 = Vector512.FusedMultiplyAdd(a, b2, c32); c33 = Vector512.FusedMultiplyAdd(a, b3, c33);
                vp = ref Unsafe.Add(ref vp, 64);
            }
            ref float pr = ref Unsafe.Add(ref probs, i * 64);
            ref float sr = ref Unsafe.Add(ref gs, i * 64);
            SoftmaxBackwardStore(c00, c01, c02, c03, ref pr, vs, ref sr);
            SoftmaxBackwardStore(c10, c11, c12, c13, ref Unsafe.Add(ref pr, 64), vs, ref Unsafe.Add(ref sr, 64));
            SoftmaxBackwardStore(c20, c21, c22, c23, ref Unsafe.Add(ref pr, 128), vs, ref Unsafe.Add(ref sr, 128));
            SoftmaxBackwardStore(c30, c31, c32, c33, ref Unsafe.Add(ref pr, 192), vs, ref Unsafe.Add(ref sr, 192));
        }
        for (; i < l; i++)
        {
            ref float g0 = ref Unsafe.Add(ref gc, i * ldgc);
            Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
            ref float vp = ref vt;
            for (int f = 0; f < d; f++)
            {
                var a = Vector512.Create(Unsafe.Add(ref g0, f));
                c00 = Vector512.FusedMultiplyAdd(a, Vector512.LoadUnsafe(ref vp), c00);
                c01 = Vector512.FusedMultiplyAdd(a, Vector512.LoadUnsafe(ref vp, 16), c01);
                c02 = Vector512.FusedMultiplyAdd(a, Vector512.LoadUnsafe(ref vp, 32), c02);
                c03 = Vector512.FusedMultiplyAdd(a, Vector512.LoadUnsafe(ref vp, 48), c03);
                vp = ref Unsafe.Add(ref vp, 64);
            }
            SoftmaxBackwardStore(c00, c01, c02, c03, ref Unsafe.Add(ref probs, i * 64), vs, ref Unsafe.Add(ref gs, i * 64));
        }
    }

    /// <summary>
    /// <see cref="SoftmaxBackwardRow512"/> of a 64-element row of gP held in four vectors against the probabilities at
    /// <paramref name="y"/>: the dot product from +0 vector by vector then <c>Vector512.Sum</c>, then ((g − dot)·y)·scale,
    /// stored at <paramref name="gs"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SoftmaxBackwardStore(Vector512<float> g0, Vector512<float> g1, Vector512<float> g2, Vector512<float> g3, ref float y,
        Vector512<float> vs, ref float gs)
    {
        var y0 = Vector512.LoadUnsafe(ref y);
        var y1 = Vector512.LoadUnsafe(ref y, 16);
        var y2 = Vector512.LoadUnsafe(ref y, 32);
        var y3 = Vector512.LoadUnsafe(ref y, 48);
        var acc = Vector512<float>.Zero;
        acc += g0 * y0;
        acc += g1 * y1;
        acc += g2 * y2;
        acc += g3 * y3;
        var vd = Vector512.Create(Vector512.Sum(acc + Vector512<float>.Zero));
        ((g0 - vd) * y0 * vs).StoreUnsafe(ref gs);
        ((g1 - vd) * y1 * vs).StoreUnsafe(ref gs, 16);
        ((g2 - vd) * y2 * vs).StoreUnsafe(ref gs, 32);
        ((g3 - vd) * y3 * vs).StoreUnsafe(ref gs, 48);
    }

    /// <summary>
    /// C = op(A)·B (overwritten) for one head's [m, k]·[k, n] product: the direct broadcast tiles (8 rows × 2 vectors,
    /// <see cref="Gemm.AxpyTile{T, TRows}"/>) called here when the product is whole tiles within one k-block on AVX-512, as
    /// <c>Gemm.Sgemm</c>'s direct path would run them (the same chains) without its dispatch, checks and edge handling per
    /// call; otherwise <c>Gemm.Sgemm</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void HeadProduct(bool transA, int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] c, int cOff, int ldc)
    {
        if (!Vector512.IsHardwareAccelerated || m % 8 != 0 || n % 32 != 0 || k > 256 || k <= 0)
        {
            Gemm.Sgemm(transA, false, m, n, k, 1f, a, aOff, lda, b, bOff, ldb, 0f, c, cOff, ldc);
            return;
        }
        if (aOff < 0 || bOff < 0 || cOff < 0 || (long)aOff + (transA ? (long)(k - 1) * lda + m : (long)(m - 1) * lda + k) > a.Length
            || (long)bOff + (long)(k - 1) * ldb + n > b.Length || (long)cOff + (long)(m - 1) * ldc + n > c.Length)
        {
            throw new ArgumentException($"AttentionKernel: a head product [{m}, {k}]·[{k}, {n}] does not fit its arrays.");
        }
        int ai = transA ? 1 : lda, ap = transA ? lda : 1;
        ref float a0 = ref MemoryMarshal.GetArrayDataReference(a);
        ref float b0 = ref MemoryMarshal.GetArrayDataReference(b);
        ref float c0 = ref MemoryMarshal.GetArrayDataReference(c);
        for (int j = 0; j < n; j += 32)
        {
            ref float bp = ref Unsafe.Add(ref b0, bOff + j);
            for (int i = 0; i < m; i += 8)
            {
                Gemm.AxpyTile<float, Gemm.StridedRows, Gemm.Simd512<float>, Vector512<float>>(ref Unsafe.Add(ref a0, aOff + i * ai), ai, ap, ref bp,
                    new Gemm.StridedRows(ldb), 0, k, 1f, ref Unsafe.Add(ref c0, cOff + i * ldc + j), ldc, accumulate: false);
            }
        }
    }
}
