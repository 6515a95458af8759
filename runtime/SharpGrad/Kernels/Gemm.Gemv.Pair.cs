using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SharpGrad.Kernels;

// Two Linear layers with a ReLU between them applied to one sample (batch-1 inference of an MLP block):
// h = relu(x·W1ᵀ + b1), y = epi(h·W2ᵀ), in one pass over the cores instead of one hand-off (and one serial layer) per layer.
// Each panel q of W1's packed copy (64 outputs of h, Gemm.Gemv.Packed.cs) is followed at once by the rows
// 64q .. 64q + 64 of W2ᵀ (a second packed copy, W2 transposed): part_q = h[64q .. 64q + 64) · W2ᵀ[64q .. 64q + 64, :], a
// partial of y that needs only the h values this panel has just computed. A core therefore runs its share of both layers
// without waiting for the other, and reads its share of both weights (its own part of the panels and the matching rows
// of W2ᵀ) from its own L2 from call to call; the caller adds the parts in panel order (the same bits whichever core or
// order computed them), then y's epilogue. Like the one-layer path, the panels are read in alternating order from call to
// call: the panel read last by one call is the one most recently cached, so the next call starts with the bytes most
// likely still in L2 (the weights of the workloads' MLP, 940 KB, fill the 1 MB L2 to the brim).
public static partial class Gemm
{
    /// <summary>W2ᵀ [k2, n2] copies of the second layer of a pair, one slot per weight storage (<see cref="s_rowPacks"/>' rules).</summary>
    private static readonly ConditionalWeakTable<Storage, RowPackSlot> s_transposedPacks = new();

    /// <summary>The partial results of the pairs run by this thread (panels × n2 floats, grown as needed).</summary>
    [ThreadStatic] private static float[]? t_pairParts;

    /// <summary>
    /// h[hOff .. hOff + n1) = epi1(x·W1ᵀ) and y[yOff .. yOff + n2) = epi2(h·W2ᵀ) for float32 weights W1 [n1, k] and
    /// W2 [n2, n1] (contiguous, rank 2), where epi1 must end with the ReLU (PyTorch: <c>F.linear(F.relu(F.linear(x, W1,
    /// b1)), W2, b2)</c>). Runs from the packed copies of W1 and W2ᵀ, split over the worker pool by panels of W1 when
    /// <paramref name="allowParallel"/>. Returns false, having done nothing, when the path does not apply (neither AVX-512 nor AVX2, W1
    /// not packed at its current version yet, W2ᵀ at its first call at W2's version, sizes that do not chain): the caller
    /// then runs the two layers one after the other.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static bool TryLinearReluLinearRowPacked(Tensor w1, float[] x, int xOff, float[] h, int hOff, Epi<float> epi1,
        Tensor w2, float[] y, int yOff, Epi<float> epi2, bool allowParallel)
    {
        if (!epi1.Relu || w2.DType != DType.Float32 || w2.Rank != 2 || !w2.IsContiguous) return false;
        if (!RowPackVectors || w1.DType != DType.Float32 || w1.Rank != 2 || !w1.IsContiguous) return false;
        int n1 = w1._shape[0], k = w1._shape[1], n2 = w2._shape[0];
        if (w2._shape[1] != n1 || n2 < 1) return false;
        if (!s_rowPacks.TryGetValue(w1.Storage, out var slot1) || slot1.Pack is not { } pack1 || !IsCurrent(pack1, w1)) return false;
        if (x.Length - xOff < k || h.Length - hOff < n1 || y.Length - yOff < n2)
            throw new ArgumentException($"Linear, ReLU, Linear (batch 1): x needs {k} elements from {xOff} (has {x.Length - xOff}), h {n1} from {hOff} (has {h.Length - hOff}) and y {n2} from {yOff} (has {y.Length - yOff}).");
        epi1.Check(1, n1);
        epi2.Check(1, n2);

        var storage2 = w2.Storage;
        int version2 = storage2.Version;
        var slot2 = s_transposedPacks.GetValue(storage2, static _ => new RowPackSlot());
        var pack2 = slot2.Pack;
        if (pack2 is null || !IsCurrent(pack2, w2))
        {
            if (Volatile.Read(ref slot2.SeenVersion) != version2)
            {
                // First call at this version of W2: no copy yet (a training loop changes the version at every step).
                Volatile.Write(ref slot2.SeenVersion, version2);
                return false;
            }
            pack2 = PackTransposed(w2.Data<float>(), w2.Offset, version2, n2, n1, pack2);
            slot2.Pack = pack2;
        }

        int panels = (n1 + RowPackPanel - 1) / RowPackPanel;
        var parts = t_pairParts;
        if (parts is null || parts.Length < panels * n2) t_pairParts = parts = new float[panels * n2];
        bool reverse = (++slot1.Calls & 1) != 0;
        var body = new PairPart(x, xOff, pack1.Panels, pack1.Start, k, n1, h, hOff, epi1, pack2.Panels, pack2.Start, n2, parts, panels, panels, reverse, pack2.Finite);
        int split = 1;
        if (allowParallel && Parallelism.MaxThreads > 1 && (long)n1 * k * sizeof(float) >= RowGemvParallelBytes)
            split = Math.Min(Parallelism.MaxThreads, panels);
        if (split <= 1) body.Invoke(0);
        else
        {
            // One contiguous run of panels per thread, so that each core reads its share of both weights from its own L2.
            int perPart = (panels + split - 1) / split;
            Parallelism.For((panels + perPart - 1) / perPart, body with { PerPart = perPart });
        }

        // y = Σ_q part_q in panel order, then y's epilogue.
        var yd = y.AsSpan(yOff, n2);
        parts.AsSpan(0, n2).CopyTo(yd);
        for (int q = 1; q < panels; q++) AddTo(yd, parts.AsSpan(q * n2, n2));
        if (!epi2.IsNone) epi2.ApplyRows(y, yOff, 0, 0, 1, 0, n2);
        return true;
    }

    /// <summary>The addresses of the first used element of W1's packed copy and of W2's transposed copy, or null where none exists (for tests).</summary>
    internal static unsafe (long?, long?) RowPackAddresses(Tensor w1, Tensor w2)
    {
        static long? Address(ConditionalWeakTable<Storage, RowPackSlot> table, Tensor w)
        {
            if (!table.TryGetValue(w.Storage, out var slot) || slot.Pack is not { } p) return null;
            fixed (float* a = &p.Panels[p.Start]) return (long)a;
        }
        return (Address(s_rowPacks, w1), Address(s_transposedPacks, w2));
    }

    /// <summary>Copies W [n, k] transposed, as Wᵀ [k, n] row-major (reusing <paramref name="old"/>'s array when the sizes match).</summary>
    private static RowPack PackTransposed(float[] w, int offset, int version, int n, int k, RowPack? old)
    {
        float[] t = AlignedPanels((long)n * k, old, out int start);
        bool finite = true;
        for (int j = 0; j < n; j++)
        {
            var row = w.AsSpan(offset + j * k, k);
            for (int p = 0; p < k; p++)
            {
                float v = row[p];
                finite &= float.IsFinite(v);
                t[start + p * n + j] = v;
            }
        }
        return new RowPack(w, offset, version, n, k, t, start, finite);
    }

    /// <summary>acc += src, elementwise.</summary>
    private static void AddTo(Span<float> acc, ReadOnlySpan<float> src)
    {
        if (Vector512.IsHardwareAccelerated) AddTo<Simd512<float>, Vector512<float>>(acc, src);
        else AddTo<Simd256<float>, Vector256<float>>(acc, src);
    }

    /// <summary>acc += src, elementwise, in vectors of one width.</summary>
    private static void AddTo<V, TV>(Span<float> acc, ReadOnlySpan<float> src) where V : struct, ISimd<TV, float> where TV : struct
    {
        ref float a = ref MemoryMarshal.GetReference(acc);
        ref float b = ref MemoryMarshal.GetReference(src);
        int j = 0;
        for (; j + V.Count <= acc.Length; j += V.Count)
            V.Store(V.Add(V.Load(ref a, (nuint)j), V.Load(ref b, (nuint)j)), ref a, (nuint)j);
        for (; j < acc.Length; j++) Unsafe.Add(ref a, j) += Unsafe.Add(ref b, j);
    }

    /// <summary>
    /// The panels [i·PerPart, (i + 1)·PerPart) of a pair, in forward or reverse order: each panel of the first layer, then
    /// its partial of the second (an item of <see cref="Parallelism.For{TBody}(int, TBody)"/>).
    /// </summary>
    private readonly record struct PairPart(float[] X, int XOff, float[] Panels1, int Panels1Off, int K, int N1, float[] H, int HOff, Epi<float> Epi1,
        float[] W2t, int W2tOff, int N2, float[] Parts, int PerPart, int Count, bool Reverse, bool SkipZeros) : IParallelBody
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int index)
        {
            int q0 = index * PerPart, q1 = Math.Min(Count, q0 + PerPart);
            for (int i = q0; i < q1; i++)
            {
                int q = Reverse ? q0 + q1 - 1 - i : i;
                PackedRowPanels(X, XOff, Panels1, Panels1Off, K, N1, H, HOff, Epi1, q, q + 1, reverse: false);
                int p0 = q * RowPackPanel, rows = Math.Min(RowPackPanel, N1 - p0);
                RowsTimesMatrix(H, HOff + p0, W2t, W2tOff, p0, rows, N2, Parts, q * N2, SkipZeros);
            }
        }
    }

    /// <summary>
    /// out[outOff .. outOff + n) = Σ_{r &lt; rows} a[aOff + r] · B[b0 + r, :] for B [·, n] row-major (eight, then one vector
    /// of columns at a time), rows ≤ 64. With <paramref name="skipZeros"/> (only for a B whose elements are all finite) the
    /// rows whose a[aOff + r] is zero are not read: after a ReLU about half of them, and 0·w adds nothing to a sum that starts
    /// at +0 (it stays the same bits: an FMA chain from +0 never holds −0, and x + ±0 = x otherwise), so the result is
    /// the same bits as with every row. A NaN in a is not zero and is kept.
    /// </summary>
    private static void RowsTimesMatrix(float[] a, int aOff, float[] b, int bOff, int b0, int rows, int n, float[] outs, int outOff, bool skipZeros = false)
    {
        if (Vector512.IsHardwareAccelerated) RowsTimesMatrix<Simd512<float>, Vector512<float>>(a, aOff, b, bOff, b0, rows, n, outs, outOff, skipZeros);
        else RowsTimesMatrix<Simd256<float>, Vector256<float>>(a, aOff, b, bOff, b0, rows, n, outs, outOff, skipZeros);
    }

    /// <summary><see cref="RowsTimesMatrix(float[], int, float[], int, int, int, int, float[], int, bool)"/> in vectors of one width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void RowsTimesMatrix<V, TV>(float[] a, int aOff, float[] b, int bOff, int b0, int rows, int n, float[] outs, int outOff, bool skipZeros = false)
        where V : struct, ISimd<TV, float> where TV : struct
    {
        ref float av = ref MemoryMarshal.GetArrayDataReference(a);
        ref float bv = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(b), bOff);
        ref float ov = ref MemoryMarshal.GetArrayDataReference(outs);
        // The rows to read, as offsets from b0 (all of them, or those whose factor is not zero).
        Span<int> used = stackalloc int[RowPackPanel];
        int m = 0;
        if (skipZeros)
        {
            for (int r = 0; r < rows; r++)
            {
                used[m] = r;
                m += Unsafe.Add(ref av, aOff + r) != 0f ? 1 : 0;
            }
        }
        else
        {
            for (int r = 0; r < rows; r++) used[r] = r;
            m = rows;
        }
        ref int u = ref MemoryMarshal.GetReference(used);
        int vw = V.Count;
        nuint w = (nuint)vw;
        int j = 0;
        for (; j + 8 * vw <= n; j += 8 * vw)
        {
            TV c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
            for (int i = 0; i < m; i++)
            {
                int r = Unsafe.Add(ref u, i);
                var s = V.Broadcast(Unsafe.Add(ref av, aOff + r));
                nuint o = (nuint)((long)(b0 + r) * n + j);
                c0 = V.MultiplyAdd(s, V.Load(ref bv, o), c0); c1 = V.MultiplyAdd(s, V.Load(ref bv, o + w), c1);
                c2 = V.MultiplyAdd(s, V.Load(ref bv, o + 2 * w), c2); c3 = V.MultiplyAdd(s, V.Load(ref bv, o + 3 * w), c3);
                c4 = V.MultiplyAdd(s, V.Load(ref bv, o + 4 * w), c4); c5 = V.MultiplyAdd(s, V.Load(ref bv, o + 5 * w), c5);
                c6 = V.MultiplyAdd(s, V.Load(ref bv, o + 6 * w), c6); c7 = V.MultiplyAdd(s, V.Load(ref bv, o + 7 * w), c7);
            }
            ref float d = ref Unsafe.Add(ref ov, outOff + j);
            V.Store(c0, ref d, 0); V.Store(c1, ref d, w); V.Store(c2, ref d, 2 * w); V.Store(c3, ref d, 3 * w);
            V.Store(c4, ref d, 4 * w); V.Store(c5, ref d, 5 * w); V.Store(c6, ref d, 6 * w); V.Store(c7, ref d, 7 * w);
        }
        for (; j + vw <= n; j += vw)
        {
            TV c = default;
            for (int i = 0; i < m; i++)
            {
                int r = Unsafe.Add(ref u, i);
                c = V.MultiplyAdd(V.Broadcast(Unsafe.Add(ref av, aOff + r)), V.Load(ref bv, (nuint)((long)(b0 + r) * n + j)), c);
            }
            V.Store(c, ref Unsafe.Add(ref ov, outOff + j), 0);
        }
        for (; j < n; j++)
        {
            float s = 0;
            for (int i = 0; i < m; i++)
            {
                int r = Unsafe.Add(ref u, i);
                s = MathF.FusedMultiplyAdd(Unsafe.Add(ref av, aOff + r), Unsafe.Add(ref bv, (b0 + r) * n + j), s);
            }
            Unsafe.Add(ref ov, outOff + j) = s;
        }
    }
}
