using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SharpGrad.Kernels;

// Stride-1 convolutions as an implicit GEMM, without im2col. With the input zero-padded into xp[C, Hp, Wp] and the output
// computed over the padded width (HO rows of Wp positions, of which the last Wp − WO are discarded), row (c, i, j) of the
// im2col matrix is one contiguous run of xp: cols[(c, i, j), l] = xp[c·Hp·Wp + i·dh·Wp + j·dw + l]. So the direct GEMM's
// broadcast kernel reads it in place through a table of row offsets (Gemm.TableRows): y'[O, HO·Wp] = w[O, K] · cols, and
// the epilogue copies the valid columns into y with the bias and the ReLU. The price is Wp − WO wasted columns per output
// row (2 of 16 for a 14×14 image with padding 1), instead of writing and reading K·L im2col values per sample.
// The backward uses the same layout: the weight gradient is the dot products of gy' (gy at the padded width, zeros in the
// discarded columns) with those runs of xp; the input gradient is the forward convolution of gy with the flipped,
// transposed weights (the adjoint of a stride-1 convolution).
internal static partial class Conv
{
    /// <summary>The implicit path: stride 1, one group, not a plain 1×1 (whose input already is the im2col matrix), vector hardware.</summary>
    private static bool UseImplicit(in ConvGeometry g) =>
        g.SH == 1 && g.SW == 1 && g.Groups == 1 && !g.IsPointwise && (Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated);

    /// <summary>Sizes of the implicit layout of one sample.</summary>
    private readonly struct ImplicitLayout
    {
        public readonly int Hp, Wp, Plane, Np, Nr, Zero, XpLength, K, K4, Mr, Or, Or4;

        public ImplicitLayout(in ConvGeometry g, int w2, int mr)
        {
            Hp = g.H + 2 * g.PH;
            Wp = g.W + 2 * g.PW;
            Plane = Hp * Wp;
            Np = g.HO * Wp;                              // outputs at the padded width
            Nr = (Np + w2 - 1) / w2 * w2;                // rounded up to whole strips of the kernel
            // The last run of xp ends at C·Plane + (kw − 1)·dw + (Nr − Np); after it, Nr zeros for the padding rows of the table.
            Zero = g.C * Plane + (g.KW - 1) * g.DW + (Nr - Np);
            XpLength = Zero + Nr;
            K = g.K;
            K4 = (K + 3) & ~3;
            Mr = mr;
            Or = (g.O + mr - 1) / mr * mr;
            Or4 = (g.O + 3) & ~3;
        }

        /// <summary>offsets[(c·kh + i)·kw + j] = where row (c, i, j) of the implicit im2col starts in xp; rows K…K4 point at zeros.</summary>
        public void FillOffsets(in ConvGeometry g, int[] offsets)
        {
            for (int c = 0; c < g.C; c++)
                for (int i = 0; i < g.KH; i++)
                    for (int j = 0; j < g.KW; j++)
                        offsets[(c * g.KH + i) * g.KW + j] = c * Plane + i * g.DH * Wp + j * g.DW;
            for (int p = K; p < K4; p++) offsets[p] = Zero;
        }

        /// <summary>Copies sample <paramref name="n"/> into the interior of xp (the borders and the tail stay zero).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void FillInput<T>(in ConvGeometry g, T[] x, int n, T[] xp) where T : unmanaged, INumber<T>
        {
            ref T src = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x), n * g.C * g.H * g.W);
            ref T dst = ref MemoryMarshal.GetArrayDataReference(xp);
            for (int c = 0; c < g.C; c++)
                for (int h = 0; h < g.H; h++)
                    CopyShort(ref Unsafe.Add(ref src, (c * g.H + h) * g.W), ref Unsafe.Add(ref dst, c * Plane + (h + g.PH) * Wp + g.PW), g.W);
        }
    }

    /// <summary>The shortest k (Cg·kh·kw) for which the forward takes <see cref="ForwardLanes{T, V, TV}"/>.</summary>
    private const int LanesMinK = 16;

    private static (int W2, int Mr) KernelShape<T>() where T : unmanaged =>
        Vector512.IsHardwareAccelerated ? (2 * Vector512<T>.Count, 8) : (2 * Vector256<T>.Count, 6);

    /// <summary>The forward on the implicit path (see the comment at the top of the file).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardImplicit<T>(in ConvGeometry g, T[] x, T[] w, T[]? bias, T[] y, bool relu, bool accumulate = false) where T : unmanaged, INumber<T>
    {
        // O a multiple of two vectors: the output channels in the lanes (Conv.ForwardLanes.cs), no padded rows or columns.
        // Not for a short k (conv1's K = 9: the tile's epilogue and the output's transpose cost more than the padded rows
        // and columns it saves; `count conv1-fwd` 252 µs against 236).
        if (g.K < LanesMinK) { }
        else if (Vector512.IsHardwareAccelerated)
        {
            if (g.O % (2 * Vector512<T>.Count) == 0)
            {
                ForwardLanes<T, Gemm.Simd512<T>, Vector512<T>>(g, x, w, bias, y, relu, accumulate);
                return;
            }
        }
        else if (g.O % (2 * Vector256<T>.Count) == 0)
        {
            ForwardLanes<T, Gemm.Simd256<T>, Vector256<T>>(g, x, w, bias, y, relu, accumulate);
            return;
        }
        var (w2, mr) = KernelShape<T>();
        var lay = new ImplicitLayout(g, w2, mr);
        var offsets = Scratch<int>.Pool.Rent(lay.K4);
        lay.FillOffsets(g, offsets);
        // The kernel computes whole blocks of mr rows: pad the weights with zero rows when O is not a multiple of mr.
        T[] wp = w;
        if (lay.Or != g.O)
        {
            wp = Scratch<T>.Pool.Rent(lay.Or * lay.K);
            w.AsSpan(0, g.O * lay.K).CopyTo(wp);
            wp.AsSpan(g.O * lay.K, (lay.Or - g.O) * lay.K).Clear();
        }
        int parts = Parts(g);
        var body = new ImplicitForwardPart<T>(g, lay, parts, x, wp, bias, y, relu, accumulate, offsets);
        if (parts > 1) Parallelism.For(parts, body);
        else body.Invoke(0);
        if (!ReferenceEquals(wp, w)) Scratch<T>.Pool.Return(wp);
        Scratch<int>.Pool.Return(offsets);
    }

    private readonly struct ImplicitForwardPart<T>(ConvGeometry g, ImplicitLayout lay, int parts, T[] x, T[] w, T[]? bias, T[] y, bool relu, bool accumulate, int[] offsets)
        : IParallelBody where T : unmanaged, INumber<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int part)
        {
            var xp = Scratch<T>.Pool.Rent(lay.XpLength);
            var yp = Scratch<T>.Pool.Rent(lay.Or * lay.Nr);
            xp.AsSpan(0, lay.XpLength).Clear();
            for (int n = g.N * part / parts; n < g.N * (part + 1) / parts; n++)
            {
                lay.FillInput(g, x, n, xp);
                ImplicitProduct(lay, w, xp, offsets, yp);
                // y[n, o, oh, ow] = act(y'[o, oh·Wp + ow] + bias[o]), or y += y' (accumulate)
                ref T y0 = ref MemoryMarshal.GetArrayDataReference(y);
                ref T yp0 = ref MemoryMarshal.GetArrayDataReference(yp);
                for (int o = 0; o < g.O; o++)
                {
                    T b = bias is null ? T.Zero : bias[o];
                    ref T dst = ref Unsafe.Add(ref y0, (n * g.O + o) * g.HO * g.WO);
                    ref T src = ref Unsafe.Add(ref yp0, o * lay.Nr);
                    if (accumulate)
                    {
                        for (int oh = 0; oh < g.HO; oh++) AddShort(ref Unsafe.Add(ref src, oh * lay.Wp), ref Unsafe.Add(ref dst, oh * g.WO), g.WO);
                    }
                    else
                    {
                        for (int oh = 0; oh < g.HO; oh++) BiasAct(ref Unsafe.Add(ref src, oh * lay.Wp), b, relu, ref Unsafe.Add(ref dst, oh * g.WO), g.WO);
                    }
                }
            }
            Scratch<T>.Pool.Return(yp);
            Scratch<T>.Pool.Return(xp);
        }
    }

    /// <summary>y'[Or, Nr] = w[Or, K] · cols, cols read in place from xp through the offsets (k-blocks of the direct GEMM's size).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ImplicitProduct<T>(in ImplicitLayout lay, T[] w, T[] xp, int[] offsets, T[] yp) where T : unmanaged, INumber<T>
    {
        int w2 = KernelShape<T>().W2, mr = lay.Mr;
        ref T w0 = ref MemoryMarshal.GetArrayDataReference(w);
        ref T x0 = ref MemoryMarshal.GetArrayDataReference(xp);
        ref T y0 = ref MemoryMarshal.GetArrayDataReference(yp);
        var rows = new Gemm.TableRows(offsets);
        const int kcMax = 256;
        for (int pc = 0; pc < lay.K; pc += kcMax)
        {
            int kc = Math.Min(kcMax, lay.K - pc);
            for (int j = 0; j < lay.Nr; j += w2)
            {
                ref T bj = ref Unsafe.Add(ref x0, j);
                for (int i = 0; i < lay.Or; i += mr)
                {
                    ref T a = ref Unsafe.Add(ref w0, i * lay.K + pc);
                    ref T c = ref Unsafe.Add(ref y0, i * lay.Nr + j);
                    Gemm.AxpyTile(ref a, lay.K, 1, ref bj, rows, pc, kc, T.One, ref c, lay.Nr, pc > 0);
                }
            }
        }
    }

    /// <summary>
    /// dst[0..len) = src[0..len) + b, then ReLU when <paramref name="relu"/> (NaN stays NaN and −0 becomes +0, like
    /// torch.relu). Rows here are short (28 or 14 outputs): whole vectors, then one more vector ending at the row's end
    /// (it recomputes a few outputs: src and dst do not overlap), so a row is two or three instructions of each kind, not a
    /// library call per operation (which cost more than the arithmetic at these lengths).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BiasAct<T>(ref T src, T b, bool relu, ref T dst, int len) where T : unmanaged, INumber<T>
    {
        if (Vector512.IsHardwareAccelerated && len >= Vector512<T>.Count)
        {
            int c = Vector512<T>.Count;
            var vb = Vector512.Create(b);
            for (int i = 0; ; i += c)
            {
                if (i + c > len) i = len - c;
                var v = Vector512.LoadUnsafe(ref src, (nuint)i) + vb;
                if (relu) v = Vector512.ConditionalSelect(Vector512.GreaterThan(v, Vector512<T>.Zero) | ~Vector512.Equals(v, v), v, Vector512<T>.Zero);
                v.StoreUnsafe(ref dst, (nuint)i);
                if (i + c == len) return;
            }
        }
        if (Vector256.IsHardwareAccelerated && len >= Vector256<T>.Count)
        {
            int c = Vector256<T>.Count;
            var vb = Vector256.Create(b);
            for (int i = 0; ; i += c)
            {
                if (i + c > len) i = len - c;
                var v = Vector256.LoadUnsafe(ref src, (nuint)i) + vb;
                if (relu) v = Vector256.ConditionalSelect(Vector256.GreaterThan(v, Vector256<T>.Zero) | ~Vector256.Equals(v, v), v, Vector256<T>.Zero);
                v.StoreUnsafe(ref dst, (nuint)i);
                if (i + c == len) return;
            }
        }
        for (int i = 0; i < len; i++)
        {
            T v = Unsafe.Add(ref src, i) + b;
            Unsafe.Add(ref dst, i) = relu && !(v > T.Zero || T.IsNaN(v)) ? T.Zero : v;
        }
    }

    /// <summary>dst[0..len) += src[0..len) (src and dst must not overlap): whole vectors, then the rest one by one (an overlapping last vector, as in <see cref="BiasAct{T}"/>, would add some elements twice).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddShort<T>(ref T src, ref T dst, int len) where T : unmanaged, INumber<T>
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + Vector512<T>.Count <= len; i += Vector512<T>.Count)
                (Vector512.LoadUnsafe(ref dst, (nuint)i) + Vector512.LoadUnsafe(ref src, (nuint)i)).StoreUnsafe(ref dst, (nuint)i);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + Vector256<T>.Count <= len; i += Vector256<T>.Count)
                (Vector256.LoadUnsafe(ref dst, (nuint)i) + Vector256.LoadUnsafe(ref src, (nuint)i)).StoreUnsafe(ref dst, (nuint)i);
        }
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i + Vector128<T>.Count <= len; i += Vector128<T>.Count)
                (Vector128.LoadUnsafe(ref dst, (nuint)i) + Vector128.LoadUnsafe(ref src, (nuint)i)).StoreUnsafe(ref dst, (nuint)i);
        }
        for (; i < len; i++) Unsafe.Add(ref dst, i) += Unsafe.Add(ref src, i);
    }

    /// <summary>dst[0..len) = src[0..len) (src and dst must not overlap); short rows as <see cref="BiasAct{T}"/> does them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyShort<T>(ref T src, ref T dst, int len) where T : unmanaged, INumber<T>
    {
        if (Vector512.IsHardwareAccelerated && len >= Vector512<T>.Count)
        {
            int c = Vector512<T>.Count;
            for (int i = 0; ; i += c)
            {
                if (i + c > len) i = len - c;
                Vector512.LoadUnsafe(ref src, (nuint)i).StoreUnsafe(ref dst, (nuint)i);
                if (i + c == len) return;
            }
        }
        if (Vector256.IsHardwareAccelerated && len >= Vector256<T>.Count)
        {
            int c = Vector256<T>.Count;
            for (int i = 0; ; i += c)
            {
                if (i + c > len) i = len - c;
                Vector256.LoadUnsafe(ref src, (nuint)i).StoreUnsafe(ref dst, (nuint)i);
                if (i + c == len) return;
            }
        }
        for (int i = 0; i < len; i++) Unsafe.Add(ref dst, i) = Unsafe.Add(ref src, i);
    }

    /// <summary>
    /// The weight gradient on the implicit path: gw[O, K] = Σ_n gy'_n[O, Nr] · cols_nᵀ, as 4×4 blocks of dot products between
    /// the rows of gy' and the runs of xp (Gemm.Dot4x4…), one partial sum per part, added in part order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightGradImplicit<T>(in ConvGeometry g, T[] x, T[] gy, T[] gw, T[]? biasRows = null) where T : unmanaged, INumber<T>
    {
        // O a multiple of two vectors: the output channels in the lanes (Conv.WeightGrad.cs), without horizontal sums.
        if (Vector512.IsHardwareAccelerated)
        {
            if (g.O % (2 * Vector512<T>.Count) == 0)
            {
                WeightGradLanes<T, Gemm.Simd512<T>, Vector512<T>>(g, x, gy, gw, biasRows);
                return;
            }
        }
        else if (g.O % (2 * Vector256<T>.Count) == 0)
        {
            WeightGradLanes<T, Gemm.Simd256<T>, Vector256<T>>(g, x, gy, gw, biasRows);
            return;
        }
        var (w2, mr) = KernelShape<T>();
        var lay = new ImplicitLayout(g, w2, mr);
        var offsets = Scratch<int>.Pool.Rent(lay.K4);
        lay.FillOffsets(g, offsets);
        int parts = Parts(g);
        int size = lay.Or4 * lay.K4;
        var partial = Scratch<T>.Pool.Rent(parts * size);
        var body = new ImplicitWeightGradPart<T>(g, lay, parts, x, gy, offsets, partial, biasRows);
        if (parts > 1) Parallelism.For(parts, body);
        else body.Invoke(0);
        for (int part = 0; part < parts; part++)
            for (int o = 0; o < g.O; o++)
                Gemm.AddRow<T>(partial.AsSpan(part * size + o * lay.K4, lay.K), gw.AsSpan(o * lay.K, lay.K));
        Scratch<T>.Pool.Return(partial);
        Scratch<int>.Pool.Return(offsets);
    }

    private readonly struct ImplicitWeightGradPart<T>(ConvGeometry g, ImplicitLayout lay, int parts, T[] x, T[] gy, int[] offsets, T[] partial, T[]? biasRows)
        : IParallelBody where T : unmanaged, INumber<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int part)
        {
            var xp = Scratch<T>.Pool.Rent(lay.XpLength);
            var gyp = Scratch<T>.Pool.Rent(lay.Or4 * lay.Nr);
            xp.AsSpan(0, lay.XpLength).Clear();
            gyp.AsSpan(0, lay.Or4 * lay.Nr).Clear();
            int size = lay.Or4 * lay.K4;
            var gwp = partial.AsSpan(part * size, size);
            gwp.Clear();
            ref T gw0 = ref MemoryMarshal.GetReference(gwp);
            ref T gy0 = ref MemoryMarshal.GetArrayDataReference(gyp);
            ref T x0 = ref MemoryMarshal.GetArrayDataReference(xp);
            var rows = new Gemm.TableRows(offsets);
            for (int n = g.N * part / parts; n < g.N * (part + 1) / parts; n++)
            {
                if (biasRows is not null) BiasRows(g, gy, n, biasRows);
                lay.FillInput(g, x, n, xp);
                // gy' = gy at the padded width (the discarded columns stay zero)
                ref T gySrc = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(gy), n * g.O * g.HO * g.WO);
                for (int o = 0; o < g.O; o++)
                    for (int oh = 0; oh < g.HO; oh++)
                        CopyShort(ref Unsafe.Add(ref gySrc, (o * g.HO + oh) * g.WO), ref Unsafe.Add(ref gy0, o * lay.Nr + oh * lay.Wp), g.WO);
                for (int q = 0; q < lay.K4; q += 4)
                {
                    for (int o = 0; o < lay.Or4; o += 4)
                    {
                        ref T a = ref Unsafe.Add(ref gy0, o * lay.Nr);
                        ref T c = ref Unsafe.Add(ref gw0, o * lay.K4 + q);
                        Gemm.Dot4x4(ref a, lay.Nr, ref x0, rows, q, lay.Nr, T.One, ref c, lay.K4);
                    }
                }
            }
            Scratch<T>.Pool.Return(gyp);
            Scratch<T>.Pool.Return(xp);
        }
    }

    /// <summary>The bias gradient's row sums of sample <paramref name="n"/>: rows[n·O + o] = Σ gy[n, o, ·] (<see cref="Gemm.SumRow{T}"/>; <c>Backward</c> takes them here, or the implicit weight gradient's parts).</summary>
    private static void BiasRows<T>(in ConvGeometry g, T[] gy, int n, T[] rows) where T : unmanaged, INumber<T>
    {
        int l = g.L;
        for (int o = 0; o < g.O; o++) rows[n * g.O + o] = Gemm.SumRow<T>(gy.AsSpan((n * g.O + o) * l, l));
    }

    /// <summary>gb = Σ_n rows[n·O + ·] in sample order (the bias gradient from <see cref="BiasRows"/>' per-sample sums); <paramref name="rows"/> returned to the pool.</summary>
    private static void AddBiasRows<T>(in ConvGeometry g, T[] rows, T[] gb) where T : unmanaged, INumber<T>
    {
        Array.Clear(gb);
        for (int n = 0; n < g.N; n++)
            for (int o = 0; o < g.O; o++) gb[o] += rows[n * g.O + o];
        Scratch<T>.Pool.Return(rows);
    }

    /// <summary>
    /// The input gradient of a stride-1 convolution is a stride-1 convolution of gy with the flipped, transposed weights
    /// (w'[c, o, i, j] = w[o, c, kh−1−i, kw−1−j]) and padding dh·(kh−1) − ph: returns false when that padding would be negative.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool InputGradImplicit<T>(in ConvGeometry g, T[] w, T[] gy, T[] gx, bool accumulate) where T : unmanaged, INumber<T>
    {
        int ph = g.DH * (g.KH - 1) - g.PH, pw = g.DW * (g.KW - 1) - g.PW;
        if (ph < 0 || pw < 0) return false;
        var gt = new ConvGeometry(g.N, g.O, g.HO, g.WO, g.C, g.KH, g.KW, 1, 1, ph, pw, g.DH, g.DW, 1, g.H, g.W);
        var wt = Scratch<T>.Pool.Rent(g.C * g.O * g.KH * g.KW);
        int taps = g.KH * g.KW;
        for (int o = 0; o < g.O; o++)
            for (int c = 0; c < g.C; c++)
                for (int t = 0; t < taps; t++)
                    wt[(c * g.O + o) * taps + (taps - 1 - t)] = w[(o * g.C + c) * taps + t];
        ForwardImplicit(gt, gy, wt, null, gx, relu: false, accumulate);
        Scratch<T>.Pool.Return(wt);
        return true;
    }
}
