using System.Runtime.CompilerServices;
using System.Buffers;
using System.Numerics;

namespace SharpGrad.Kernels;

/// <summary>The geometry of a 2-d convolution (a 1-d one has H = kh = 1).</summary>
internal readonly record struct ConvGeometry(
    int N, int C, int H, int W, int O, int KH, int KW,
    int SH, int SW, int PH, int PW, int DH, int DW, int Groups, int HO, int WO)
{
    public int Cg => C / Groups;
    public int Og => O / Groups;
    /// <summary>Rows of the im2col matrix of one group: Cg·kh·kw.</summary>
    public int K => Cg * KH * KW;
    /// <summary>Output positions per plane.</summary>
    public int L => HO * WO;
    public bool IsPointwise => KH == 1 && KW == 1 && SH == 1 && SW == 1 && PH == 0 && PW == 0;
    public double Flops => 2.0 * N * O * K * L;
}

/// <summary>im2col/col2im and the convolution kernels built on <see cref="Gemm"/>.</summary>
internal static partial class Conv
{
    private const double ParallelFlops = 1e6;

    /// <summary>
    /// Unfolds x[c, H, W] (channels c0..c0+C) into cols[C·kh·kw, HO·WO]: cols[(c·kh + i)·kw + j, oh·WO + ow] =
    /// x[c, oh·sh − ph + i·dh, ow·sw − pw + j·dw] (zero outside).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Im2Col<T>(T[] x, int xOff, int C, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw,
        int dh, int dw, int HO, int WO, T[] cols) where T : unmanaged, INumber<T>
    {
        int L = HO * WO;
        for (int c = 0; c < C; c++)
        {
            for (int i = 0; i < kh; i++)
            {
                for (int j = 0; j < kw; j++)
                {
                    int row = ((c * kh + i) * kw + j) * L;
                    int colOff = j * dw - pw;
                    // ow range with 0 <= ow*sw + colOff < W
                    int owLo = colOff >= 0 ? 0 : Math.Min(WO, (-colOff + sw - 1) / sw);
                    int owHi = W - colOff <= 0 ? 0 : Math.Min(WO, (W - colOff + sw - 1) / sw);
                    if (owHi < owLo) owHi = owLo;
                    for (int oh = 0; oh < HO; oh++)
                    {
                        int ih = oh * sh - ph + i * dh;
                        var dst = cols.AsSpan(row + oh * WO, WO);
                        if ((uint)ih >= (uint)H)
                        {
                            dst.Clear();
                            continue;
                        }
                        int src = xOff + (c * H + ih) * W + colOff;
                        dst[..owLo].Clear();
                        if (sw == 1)
                        {
                            x.AsSpan(src + owLo, owHi - owLo).CopyTo(dst[owLo..owHi]);
                        }
                        else
                        {
                            for (int ow = owLo; ow < owHi; ow++) dst[ow] = x[src + ow * sw];
                        }
                        dst[owHi..].Clear();
                    }
                }
            }
        }
    }

    /// <summary>The adjoint of <see cref="Im2Col{T}"/>: adds cols back into x[c, H, W].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Col2Im<T>(T[] cols, int C, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw,
        int dh, int dw, int HO, int WO, T[] x, int xOff) where T : unmanaged, INumber<T>
    {
        int L = HO * WO;
        for (int c = 0; c < C; c++)
        {
            for (int i = 0; i < kh; i++)
            {
                for (int j = 0; j < kw; j++)
                {
                    int row = ((c * kh + i) * kw + j) * L;
                    int colOff = j * dw - pw;
                    int owLo = colOff >= 0 ? 0 : Math.Min(WO, (-colOff + sw - 1) / sw);
                    int owHi = W - colOff <= 0 ? 0 : Math.Min(WO, (W - colOff + sw - 1) / sw);
                    for (int oh = 0; oh < HO; oh++)
                    {
                        int ih = oh * sh - ph + i * dh;
                        if ((uint)ih >= (uint)H) continue;
                        int dst = xOff + (c * H + ih) * W + colOff;
                        int srcRow = row + oh * WO;
                        if (sw == 1 && owHi > owLo)
                        {
                            var d = x.AsSpan(dst + owLo, owHi - owLo);
                            Gemm.AddRow<T>(cols.AsSpan(srcRow + owLo, owHi - owLo), d);
                        }
                        else
                        {
                            for (int ow = owLo; ow < owHi; ow++) x[dst + ow * sw] += cols[srcRow + ow];
                        }
                    }
                }
            }
        }
    }

    /// <summary>How many parts (ranges of samples) a convolution over a batch is split into (1 = the calling thread alone).</summary>
    private static int Parts(in ConvGeometry g) => Math.Min(g.N, Parallelism.Parts(g.Flops, ParallelFlops, partsPerThread: 2));

    /// <summary>y[N, O, HO, WO] = conv(x[N, C, H, W], w[O, Cg, kh, kw]) + bias. All contiguous at offset 0.</summary>
    public static void Forward<T>(ConvGeometry g, T[] x, T[] w, T[]? bias, T[] y) where T : unmanaged, INumber<T>
        => Forward(g, x, w, bias, y, relu: false);

    /// <summary>
    /// y = conv(x, w) + bias, then ReLU when <paramref name="relu"/> (PyTorch: <c>relu(conv2d(x, w, bias))</c>, oneDNN's
    /// conv + eltwise post-op): the bias and the activation are applied by the GEMM's epilogue to each output tile while
    /// it is in cache, not in extra passes over the output.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward<T>(ConvGeometry g, T[] x, T[] w, T[]? bias, T[] y, bool relu) where T : unmanaged, INumber<T>
    {
        if (UseImplicit(g))
        {
            ForwardImplicit(g, x, w, bias, y, relu);
            return;
        }
        int parts = Parts(g);
        if (parts > 1)
        {
            Parallelism.For(parts, new ForwardPart<T>(g, parts, x, w, bias, y, relu));
        }
        else
        {
            var cols = Scratch<T>.Pool.Rent(g.K * g.L);
            for (int n = 0; n < g.N; n++) ForwardOne(g, n, x, w, bias, y, cols, true, relu);
            Scratch<T>.Pool.Return(cols);
        }
    }

    /// <summary>Samples [N·part/parts, N·(part+1)/parts) of a forward, each part with its own im2col buffer.</summary>
    private readonly struct ForwardPart<T>(ConvGeometry g, int parts, T[] x, T[] w, T[]? bias, T[] y, bool relu) : IParallelBody
        where T : unmanaged, INumber<T>
    {
        public void Invoke(int part)
        {
            var cols = Scratch<T>.Pool.Rent(g.K * g.L);
            for (int n = g.N * part / parts; n < g.N * (part + 1) / parts; n++) ForwardOne(g, n, x, w, bias, y, cols, false, relu);
            Scratch<T>.Pool.Return(cols);
        }
    }

    private static void ForwardOne<T>(in ConvGeometry g, int n, T[] x, T[] w, T[]? bias, T[] y, T[] cols, bool gemmParallel, bool relu)
        where T : unmanaged, INumber<T>
    {
        int K = g.K, L = g.L;
        for (int grp = 0; grp < g.Groups; grp++)
        {
            int xOff = (n * g.C + grp * g.Cg) * g.H * g.W;
            T[] src = cols;
            int srcOff = 0;
            if (g.IsPointwise) { src = x; srcOff = xOff; }
            else Im2Col(x, xOff, g.Cg, g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW, g.HO, g.WO, cols);
            int yOff = (n * g.O + grp * g.Og) * L;
            // bias (one per output channel = row of this GEMM) and ReLU fused into the GEMM's epilogue
            Gemm.Run(false, false, g.Og, L, K, T.One, w, grp * g.Og * K, K, src, srcOff, L, T.Zero, y, yOff, L, gemmParallel,
                new Epi<T>(bias, grp * g.Og, null, 0, 0, relu, rowBias: true));
        }
    }

    /// <summary>Gradients of <see cref="Forward{T}(ConvGeometry, T[], T[], T[], T[])"/>: gx (may be null), gw (may be null, overwritten), gb (may be null, overwritten).</summary>
    public static void Backward<T>(ConvGeometry g, T[] x, T[] w, T[] gy, T[]? gx, T[]? gw, T[]? gb) where T : unmanaged, INumber<T>
        => Backward(g, x, w, gy, gx, gw, gb, accumulateInput: false);

    /// <summary>
    /// Gradients of a convolution: gx (may be null) overwritten, or added to when <paramref name="accumulateInput"/> (the
    /// compiled backward adds into the gradient it holds, without a scratch buffer and a pass to add it); gw and gb (may be
    /// null) overwritten.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward<T>(ConvGeometry g, T[] x, T[] w, T[] gy, T[]? gx, T[]? gw, T[]? gb, bool accumulateInput) where T : unmanaged, INumber<T>
    {
        int K = g.K, L = g.L;
        // The bias gradient: per sample and channel a row sum of gy (BiasRows), added in sample order (AddBiasRows). With
        // the implicit weight gradient the row sums are taken inside its parallel parts, otherwise here: the same bits at
        // any thread count, and no serial pass over gy while the other core waits (cnn_train_step_b32 at 2 threads: ~20 and
        // ~40 µs before conv2's and conv1's weight-gradient loops; docs/performance.md, "The CNN step, session 23").
        bool implicitWeight = gw is not null && UseImplicit(g);
        T[]? biasRows = gb is null ? null : Scratch<T>.Pool.Rent(g.N * g.O);
        if (biasRows is not null && !implicitWeight)
        {
            for (int n = 0; n < g.N; n++) BiasRows(g, gy, n, biasRows);
            AddBiasRows(g, biasRows, gb!);
        }
        if (gx is null && gw is null) return;
        if (gw is not null) Array.Clear(gw);
        if (UseImplicit(g))
        {
            if (gw is not null) WeightGradImplicit(g, x, gy, gw, biasRows);
            if (biasRows is not null && implicitWeight) AddBiasRows(g, biasRows, gb!);
            if (gx is null || InputGradImplicit(g, w, gy, gx, accumulateInput)) return;
            gw = null;   // done: only the input gradient is left for the im2col path
        }
        if (gx is not null && !accumulateInput) Array.Clear(gx);
        int parts = Parts(g);
        if (parts > 1)
        {
            // Each part accumulates its samples' weight gradient in a buffer of its own; the buffers are added in part
            // order afterwards, so the result does not depend on which thread ran which part.
            var partial = gw is null ? null : Scratch<T>.Pool.Rent(parts * gw.Length);
            Parallelism.For(parts, new BackwardPart<T>(g, parts, x, w, gy, gx, gw is null ? 0 : gw.Length, partial));
            if (partial is not null)
            {
                for (int part = 0; part < parts; part++) Gemm.AddRow<T>(partial.AsSpan(part * gw!.Length, gw.Length), gw);
                Scratch<T>.Pool.Return(partial);
            }
        }
        else
        {
            var cols = Scratch<T>.Pool.Rent(K * L);
            for (int n = 0; n < g.N; n++) BackwardOne(g, n, x, w, gy, gx, gw, cols, true);
            Scratch<T>.Pool.Return(cols);
        }
    }

    /// <summary>Samples [N·part/parts, N·(part+1)/parts) of a backward; the weight gradient into this part's slice of <c>partial</c>.</summary>
    private readonly struct BackwardPart<T>(ConvGeometry g, int parts, T[] x, T[] w, T[] gy, T[]? gx, int gwLength, T[]? partial) : IParallelBody
        where T : unmanaged, INumber<T>
    {
        public void Invoke(int part)
        {
            var cols = Scratch<T>.Pool.Rent(g.K * g.L);
            T[]? gw = null;
            if (partial is not null)
            {
                gw = Scratch<T>.Pool.Rent(gwLength);
                Array.Clear(gw, 0, gwLength);
            }
            for (int n = g.N * part / parts; n < g.N * (part + 1) / parts; n++) BackwardOne(g, n, x, w, gy, gx, gw, cols, false);
            if (gw is not null)
            {
                gw.AsSpan(0, gwLength).CopyTo(partial.AsSpan(part * gwLength, gwLength));
                Scratch<T>.Pool.Return(gw);
            }
            Scratch<T>.Pool.Return(cols);
        }
    }

    private static void BackwardOne<T>(in ConvGeometry g, int n, T[] x, T[] w, T[] gy, T[]? gx, T[]? gw, T[] cols, bool gemmParallel)
        where T : unmanaged, INumber<T>
    {
        int K = g.K, L = g.L;
        for (int grp = 0; grp < g.Groups; grp++)
        {
            int xOff = (n * g.C + grp * g.Cg) * g.H * g.W;
            int yOff = (n * g.O + grp * g.Og) * L;
            if (gw is not null)
            {
                T[] src = cols;
                int srcOff = 0;
                if (g.IsPointwise) { src = x; srcOff = xOff; }
                else Im2Col(x, xOff, g.Cg, g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW, g.HO, g.WO, cols);
                // gw_g[Og, K] += gy[Og, L] · colsᵀ
                Gemm.Run(false, true, g.Og, K, L, T.One, gy, yOff, L, src, srcOff, L, T.One, gw, grp * g.Og * K, K, gemmParallel);
            }
            if (gx is not null)
            {
                if (g.IsPointwise)
                {
                    Gemm.Run(true, false, K, L, g.Og, T.One, w, grp * g.Og * K, K, gy, yOff, L, T.One, gx, xOff, L, gemmParallel);
                }
                else
                {
                    // gcols[K, L] = w_gᵀ · gy
                    Gemm.Run(true, false, K, L, g.Og, T.One, w, grp * g.Og * K, K, gy, yOff, L, T.Zero, cols, 0, L, gemmParallel);
                    Col2Im(cols, g.Cg, g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW, g.HO, g.WO, gx, xOff);
                }
            }
        }
    }

    // ---------------- transposed convolution ----------------
    // In a transposed convolution the roles swap: its output y[N, C, H, W] plays the convolution's input, and its input
    // x[N, O, HO, WO] plays the convolution's output; its weight w[O, Cg, kh, kw] is laid out like a convolution's
    // weight of the adjoint convolution. So ConvTranspose = the input-gradient of a convolution.

    /// <summary>y[N, C, H, W] = conv_transpose(x[N, O, HO, WO], w[O, Cg, kh, kw]) + bias[C].</summary>
    public static void TransposeForward<T>(ConvGeometry g, T[] x, T[] w, T[]? bias, T[] y) where T : unmanaged, INumber<T>
    {
        Array.Clear(y);
        // dy of conv == y of conv-transpose, with gy := x
        int parts = Parts(g);
        if (parts > 1)
        {
            Parallelism.For(parts, new BackwardPart<T>(g, parts, y, w, x, y, 0, null));
        }
        else
        {
            var cols = Scratch<T>.Pool.Rent(g.K * g.L);
            for (int n = 0; n < g.N; n++) BackwardOne(g, n, y, w, x, y, null, cols, true);
            Scratch<T>.Pool.Return(cols);
        }
        if (bias is not null)
        {
            int hw = g.H * g.W;
            for (int n = 0; n < g.N; n++)
                for (int c = 0; c < g.C; c++)
                {
                    var row = y.AsSpan((n * g.C + c) * hw, hw);
                    Gemm.AddScalar(bias[c], row);
                }
        }
    }

    /// <summary>Gradients of <see cref="TransposeForward{T}"/> given gy[N, C, H, W].</summary>
    public static void TransposeBackward<T>(ConvGeometry g, T[] x, T[] w, T[] gy, T[]? gx, T[]? gw, T[]? gb) where T : unmanaged, INumber<T>
    {
        if (gb is not null)
        {
            Array.Clear(gb);
            int hw = g.H * g.W;
            for (int n = 0; n < g.N; n++)
                for (int c = 0; c < g.C; c++)
                    gb[c] += Gemm.SumRow<T>(gy.AsSpan((n * g.C + c) * hw, hw));
        }
        // gx = conv(gy, w) (no bias); gw[O, Cg·kh·kw] = Σ x[O, L] · im2col(gy)ᵀ
        if (gx is not null) Forward(g, gy, w, null, gx);
        if (gw is not null) Backward(g, gy, w, x, null, gw, null);
    }
}
