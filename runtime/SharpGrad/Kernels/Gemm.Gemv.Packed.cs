using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SharpGrad.Kernels;

// A Linear layer applied to one sample (batch-1 inference, y = x·Wᵀ + b) from a copy of W repacked into panels of 64
// output columns, each panel [k][64] contiguous: per input element p, one broadcast of x[p] and four 512-bit FMAs over
// W[j0..j0+64, p] (AVX2: eight 256-bit FMAs; the kernel is defined once for both widths, Gemm.Simd.cs). The kernel then reads W in memory order as one stream (the hardware prefetcher's best case) and needs
// no horizontal sums, where the row kernel (Gemm.Gemv.cs) reads eight rows 3 KB apart at once and reduces each. Measured
// on the workloads' fc1 (256×784, 803 KB, one core): 4.2–4.4 µs packed against 7.6–8.8 µs for the row kernel, with the
// plain read of the same bytes at 3.7–5.7 µs (bench/SharpGrad.Benchmarks `count gemm-b1-fc1-packed`, docs/performance.md).
//
// The packed copy is made from W's storage and tagged with its version counter (bumped by every in-place write: optimizer
// steps, Copy_, the init functions, load_state_dict), and used only while the version and the array are unchanged. It is
// made on the second consecutive call that sees the same version, so a batch-1 training loop (a new version each step)
// never pays for packing; it costs the weight's size once more and lives as long as the storage (a weak table).
public static partial class Gemm
{
    /// <summary>Output columns per panel of a packed weight (four 512-bit or eight 256-bit vectors of float).</summary>
    private const int RowPackPanel = 64;

    /// <summary>Whether the packed batch-1 kernels run: 512- or 256-bit vectors (AVX-512 or AVX2).</summary>
    private static bool RowPackVectors => Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated;

    /// <summary>Weights with fewer elements keep the row kernel (fc3 of the MLP, 10×128, is not worth a copy).</summary>
    private const int RowPackMinElements = 8 * 1024;

    /// <summary>The packed copies, one slot per weight storage; a slot dies with its storage.</summary>
    private static readonly ConditionalWeakTable<Storage, RowPackSlot> s_rowPacks = new();

    /// <summary>What is known about one weight storage: its newest packed copy and the version the last call saw.</summary>
    private sealed class RowPackSlot
    {
        /// <summary>The newest packed copy, or null; immutable, replaced as a whole (readers on other threads see either).</summary>
        public volatile RowPack? Pack;

        /// <summary>The storage version the last unpacked call saw (-1: none): a second call at that version packs.</summary>
        public int SeenVersion = -1;

        /// <summary>Counts the packed calls: odd calls read the panels in the reverse order (see <see cref="PackedRowPanels"/>).</summary>
        public int Calls;
    }

    /// <summary>
    /// W [n, k] (from <see cref="Source"/> at <see cref="Offset"/>, at <see cref="Version"/>) as panels of 64 columns (or,
    /// for a pair's second layer, transposed). <see cref="Finite"/>: every element is finite (checked when the copy is made;
    /// only then may a kernel skip the rows a zero multiplies, since 0·NaN and 0·∞ are NaN).
    /// </summary>
    /// <see cref="Panels"/> starts at element <see cref="Start"/>, the first 64-byte boundary of a pinned array: the kernels'
    /// 512-bit loads then each read one cache line instead of straddling two (a float[]'s elements start 16 bytes past a
    /// line; measured with a C loop over the MLP's 940 KB: min 4.4 µs aligned against 4.8–5.3 µs 16 bytes off).
    private sealed record RowPack(float[] Source, int Offset, int Version, int N, int K, float[] Panels, int Start, bool Finite = false);

    /// <summary>
    /// A pinned (never moved) array of at least <paramref name="length"/> floats from element <paramref name="start"/>, which
    /// is 64-byte aligned; reuses <paramref name="old"/> when it has that length.
    /// </summary>
    private static unsafe float[] AlignedPanels(long length, RowPack? old, out int start)
    {
        const int Slack = 64 / sizeof(float) - 1;
        if (length + Slack > Array.MaxLength)
            throw new ArgumentException($"Linear (batch 1): a weight of {length} elements is too large to pack.");
        if (old is not null && old.Panels.Length == length + Slack)
        {
            start = old.Start;
            return old.Panels;
        }
        var a = GC.AllocateUninitializedArray<float>((int)(length + Slack), pinned: true);
        fixed (float* p = a) start = (int)((64 - ((nint)p & 63)) & 63) / sizeof(float);
        return a;
    }

    /// <summary>
    /// y[yOff .. yOff + n) = epi(x[xOff .. xOff + k) · Wᵀ) for the float32 weight W [n, k] (a contiguous rank-2 tensor) from
    /// its packed copy, split over the worker pool by panels when W is large and <paramref name="allowParallel"/>. Returns
    /// false, having done nothing, when the packed path does not apply (neither AVX-512 nor AVX2, a small or non-contiguous W, or the
    /// first call at W's current version): the caller then runs the GEMM.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static bool TryLinearRowPacked(Tensor weight, float[] x, int xOff, float[] y, int yOff, Epi<float> epi, bool allowParallel)
    {
        if (!RowPackVectors || weight.DType != DType.Float32 || weight.Rank != 2 || !weight.IsContiguous) return false;
        int n = weight._shape[0], k = weight._shape[1];
        if (n < RowPackPanel || k < 1 || (long)n * k < RowPackMinElements) return false;
        if (x.Length - xOff < k || y.Length - yOff < n)
            throw new ArgumentException($"Linear (batch 1): x needs {k} elements from {xOff} (has {x.Length - xOff}) and y {n} from {yOff} (has {y.Length - yOff}).");
        epi.Check(1, n);
        var storage = weight.Storage;
        int version = storage.Version;
        float[] w = weight.Data<float>();
        var slot = s_rowPacks.GetValue(storage, static _ => new RowPackSlot());
        var pack = slot.Pack;
        if (pack is null || !IsCurrent(pack, weight))
        {
            if (Volatile.Read(ref slot.SeenVersion) != version)
            {
                // First call at this version: no copy yet (a training loop changes the version at every step).
                Volatile.Write(ref slot.SeenVersion, version);
                return false;
            }
            pack = PackRows(w, weight.Offset, version, n, k, pack);
            slot.Pack = pack;
        }

        int panels = (n + RowPackPanel - 1) / RowPackPanel;
        bool reverse = (++slot.Calls & 1) != 0;
        int parts = 1;
        if (allowParallel && Parallelism.MaxThreads > 1 && (long)n * k * sizeof(float) >= RowGemvParallelBytes)
            parts = Math.Min(Parallelism.MaxThreads, panels);
        if (parts <= 1)
        {
            PackedRowPanels(x, xOff, pack.Panels, pack.Start, k, n, y, yOff, epi, 0, panels, reverse);
            return true;
        }
        // One contiguous run of panels per thread, so that each core streams its share of W from its own L2.
        int perPart = (panels + parts - 1) / parts;
        Parallelism.For((panels + perPart - 1) / perPart, new PackedRowPart(x, xOff, pack.Panels, pack.Start, k, n, y, yOff, epi, perPart, panels, reverse));
        return true;
    }

    /// <summary>Whether <paramref name="weight"/> has a packed copy at its current version (for tests).</summary>
    internal static bool HasCurrentRowPack(Tensor weight)
        => s_rowPacks.TryGetValue(weight.Storage, out var slot) && slot.Pack is { } p && IsCurrent(p, weight);

    /// <summary>Whether <paramref name="pack"/> is a copy of <paramref name="weight"/>'s current elements.</summary>
    private static bool IsCurrent(RowPack pack, Tensor weight)
        => pack.Version == weight.Storage.Version && ReferenceEquals(pack.Source, weight.Data<float>()) && pack.Offset == weight.Offset
           && pack.N == weight._shape[0] && pack.K == weight._shape[1];

    /// <summary>Repacks W [n, k] into panels (reusing <paramref name="old"/>'s array when the sizes match); the columns past n are zero.</summary>
    private static RowPack PackRows(float[] w, int offset, int version, int n, int k, RowPack? old)
    {
        int panels = (n + RowPackPanel - 1) / RowPackPanel;
        long length = (long)panels * RowPackPanel * k;
        if (length > Array.MaxLength)
            throw new ArgumentException($"Linear (batch 1): the weight [{n}, {k}] is too large to pack ({length} elements).");
        float[] packed = AlignedPanels(length, old, out int start);
        if (n % RowPackPanel != 0) packed.AsSpan(start + (int)((long)(panels - 1) * RowPackPanel * k), RowPackPanel * k).Clear();
        for (int j = 0; j < n; j++)
        {
            int q = j / RowPackPanel, c = j % RowPackPanel;
            var row = w.AsSpan(offset + j * k, k);
            int dst = start + q * RowPackPanel * k + c;
            for (int p = 0; p < k; p++) packed[dst + p * RowPackPanel] = row[p];
        }
        return new RowPack(w, offset, version, n, k, packed, start);
    }

    /// <summary>One run of panels of <see cref="TryLinearRowPacked"/>, as an item of <see cref="Parallelism.For{TBody}(int, TBody)"/>.</summary>
    private readonly struct PackedRowPart(float[] x, int xOff, float[] panels, int panelsOff, int k, int n, float[] y, int yOff, Epi<float> epi, int perPart, int count, bool reverse)
        : IParallelBody
    {
        public void Invoke(int index)
            => PackedRowPanels(x, xOff, panels, panelsOff, k, n, y, yOff, epi, index * perPart, Math.Min(count, (index + 1) * perPart), reverse);
    }

    /// <summary>acc_i += xp · W[p, j + i·w .. j + (i + 1)·w) for the w-float vectors at <paramref name="o"/> + i·w (four FMAs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PanelStep<V, TV>(float xp, ref float panel, nuint o, ref TV acc0, ref TV acc1, ref TV acc2, ref TV acc3)
        where V : struct, ISimd<TV, float> where TV : struct
    {
        var v = V.Broadcast(xp);
        nuint w = (nuint)V.Count;
        acc0 = V.MultiplyAdd(v, V.Load(ref panel, o), acc0);
        acc1 = V.MultiplyAdd(v, V.Load(ref panel, o + w), acc1);
        acc2 = V.MultiplyAdd(v, V.Load(ref panel, o + 2 * w), acc2);
        acc3 = V.MultiplyAdd(v, V.Load(ref panel, o + 3 * w), acc3);
    }

    /// <summary><see cref="PackedRowPanels{V, TV}"/> at the machine's widest vectors (AVX-512, else AVX2).</summary>
    private static void PackedRowPanels(float[] xs, int xOff, float[] panels, int panelsOff, int k, int n, float[] y, int yOff, Epi<float> epi, int q0, int q1, bool reverse)
    {
        if (Vector512.IsHardwareAccelerated) PackedRowPanels<Simd512<float>, Vector512<float>>(xs, xOff, panels, panelsOff, k, n, y, yOff, epi, q0, q1, reverse);
        else PackedRowPanels<Simd256<float>, Vector256<float>>(xs, xOff, panels, panelsOff, k, n, y, yOff, epi, q0, q1, reverse);
    }

    /// <summary>
    /// Panels [q0, q1): y[j] = Σ_p x[p]·W[j, p] for the panel's 64 columns, then the epilogue on those columns. Two sets of
    /// four accumulators: with 512-bit vectors (four per panel row) the even and the odd p, added at the end; with 256-bit
    /// vectors (eight per panel row, 16 registers) the first and the second 32 columns, each summed over p in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackedRowPanels<V, TV>(float[] xs, int xOff, float[] panels, int panelsOff, int k, int n, float[] y, int yOff, Epi<float> epi, int q0, int q1, bool reverse)
        where V : struct, ISimd<TV, float> where TV : struct
    {
        ref float x = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(xs), xOff);
        ref float w0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(panels), panelsOff);
        Span<float> tail = stackalloc float[RowPackPanel];
        int w = V.Count;
        bool wide = 4 * w == RowPackPanel;   // one panel row is four vectors (512-bit), else eight (256-bit)
        for (int i = q0; i < q1; i++)
        {
            int q = reverse ? q0 + q1 - 1 - i : i;
            ref float b = ref Unsafe.Add(ref w0, (nint)q * RowPackPanel * k);
            TV a0 = default, a1 = default, a2 = default, a3 = default;
            TV c0 = default, c1 = default, c2 = default, c3 = default;
            if (wide)
            {
                int p = 0;
                for (; p + 2 <= k; p += 2)
                {
                    nuint o = (nuint)p * RowPackPanel;
                    PanelStep<V, TV>(Unsafe.Add(ref x, p), ref b, o, ref a0, ref a1, ref a2, ref a3);
                    PanelStep<V, TV>(Unsafe.Add(ref x, p + 1), ref b, o + RowPackPanel, ref c0, ref c1, ref c2, ref c3);
                }
                if (p < k) PanelStep<V, TV>(Unsafe.Add(ref x, p), ref b, (nuint)p * RowPackPanel, ref a0, ref a1, ref a2, ref a3);
                a0 = V.Add(a0, c0); a1 = V.Add(a1, c1); a2 = V.Add(a2, c2); a3 = V.Add(a3, c3);
            }
            else
            {
                nuint half = (nuint)(4 * w);
                for (int p = 0; p < k; p++)
                {
                    nuint o = (nuint)p * RowPackPanel;
                    float xp = Unsafe.Add(ref x, p);
                    PanelStep<V, TV>(xp, ref b, o, ref a0, ref a1, ref a2, ref a3);
                    PanelStep<V, TV>(xp, ref b, o + half, ref c0, ref c1, ref c2, ref c3);
                }
            }
            int j0 = q * RowPackPanel, cols = Math.Min(RowPackPanel, n - j0);
            ref float t = ref cols == RowPackPanel ? ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(y), yOff + j0) : ref MemoryMarshal.GetReference(tail);
            nuint uw = (nuint)w;
            V.Store(a0, ref t, 0); V.Store(a1, ref t, uw); V.Store(a2, ref t, 2 * uw); V.Store(a3, ref t, 3 * uw);
            if (!wide) { V.Store(c0, ref t, 4 * uw); V.Store(c1, ref t, 5 * uw); V.Store(c2, ref t, 6 * uw); V.Store(c3, ref t, 7 * uw); }
            if (cols != RowPackPanel) tail[..cols].CopyTo(y.AsSpan(yOff + j0, cols));
            if (!epi.IsNone) epi.ApplyRows(y, yOff, 0, 0, 1, j0, j0 + cols);
        }
    }
}
