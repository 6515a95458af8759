using System.Runtime.Intrinsics;

namespace SharpGrad.Kernels;

// The feed-forward block's exact zeros (a ReLU's): ~52 % of linear1's output at the workload's initialisation (layer 0,
// `count xfmr-ff-zeros`), and the same positions (and more) of the gradient after ReLU's backward. Four of the block's six
// products have one of them as an operand, and skip its zeros through Gemm.ZeroSkip's kernel (Gemm.TrySgemmSkipZeros):
// linear2's forward act·W2ᵀ (A = act), linear2's weight gradient gyᵀ·act (as actᵀ·gy, A = act), linear1's input gradient
// gFf·W1 (A = gFf) and weight gradient gFfᵀ·x (A = gFf). The dense direct and packed kernels chain over k-blocks of 256 and
// add each block's chain to C; the skipping kernel does the same over A's nonzero terms in order (the first block written,
// the others added), which gives the dense kernels' bits on those paths (TransformerFeedForwardSkipTests); the skipped
// terms are 0·b with b finite, which leave a chain unchanged. A B with a
// NaN or ±Inf, or an A with too few zeros, runs the dense product (nothing written by the skipping one).
public static partial class TransformerLayerKernel
{
    /// <summary>Tests: the feed-forward block's products on this thread run dense (the reference the skipping ones are compared with).</summary>
    [ThreadStatic] internal static bool t_denseFeedForward;

    /// <summary>Tests: the products that skipped zeros on this thread (<see cref="ProductSkipZeros"/>).</summary>
    [ThreadStatic] internal static int t_skippedProducts;

    /// <summary>
    /// The largest fraction of nonzero elements of A for which the feed-forward block's products skip. On main's skipping
    /// kernel (session 17, 1 thread, `count xfmr-ff-*` against `-dense`, min, load ~21) the block at its 48 % nonzeros was
    /// slower skipping than dense: forward 5125–5432 against 4215–4264 µs, backward 15664–18742 against 11607–13156 µs (CPU
    /// 14.0 against 9.8–10.7 ms): the skipping chain ran at under half the dense kernels' rate per multiply-add, and the
    /// lists cost a pass over A. So it skips only A with at least three quarters zeros until that kernel is faster (then
    /// compare `xfmr-ff-fwd-skip` / `-bwd-skip`, which skip up to <see cref="Gemm.SkipZerosMaxDensity"/>, with `-dense`).
    /// Session 19, on session 18's faster kernel (load ~3.4): forward 3803–3806 against 3883–3948 µs, backward 6985–7048
    /// against 7007–7063, the whole layer 19590–20014 against 19758–20104: equal, the kernel's gain eaten by the per-k-block
    /// counting, lists, scratch sums and the separate epilogue (docs/performance.md, "The transformer step, session 19").
    /// Now only the two weight gradients (A transposed) use it. Session 21, with the two-row kernel (`count xfmr-zs-wg2` /
    /// `-dense`, 1 thread, min, load 13–15): linear2's weight gradient skipping 1706–1907 µs against dense 1562–1577 (the 2 MB
    /// transpose of act and the lists are ~25 % of the skipping path): the gate stays. Session 23 (Zen 4, AVX-512, 1 thread,
    /// `count`, min, alternated): `xfmr-zs-wg2` 1152–1174 µs against `-dense` 1303–1311, `xfmr-zs-dw` (linear1's weight
    /// gradient shape) 1145–1181 against 1196–1226, and the block's backward `xfmr-ff-bwd` 4659–4795 µs at 0.6 against
    /// 5076–5204 at 0.25: both weight gradients skip up to <see cref="Gemm.SkipZerosMaxDensity"/> now. (At 256 bits,
    /// `DOTNET_EnableAVX512=0`, every skipping and dense feed-forward product was 5–18 % slower than at 512.)
    /// </summary>
    internal const float FeedForwardSkipMaxDensity = Gemm.SkipZerosMaxDensity;

    /// <summary>
    /// The largest fraction of nonzero elements of A for which the products whose A is read in its own rows (linear2's
    /// forward act·W2ᵀ, linear1's input gradient gFf·W1: no transpose before the lists) skip. Session 20, with the chains
    /// restarted inside one call and the epilogue per finished row (1 thread, same binary, `count`, min, load 10–16):
    /// `xfmr-ff-fwd-skip` 3660–3708 against `-dense` 3939–4048 µs. The weight gradients (A transposed, 2 MB, before
    /// listing) keep <see cref="FeedForwardSkipMaxDensity"/>. Session 21 (two rows per pass): the product alone
    /// (`count xfmr-zs-fwd`, lists included) 1354–1404 µs against dense 1801 at 48 % nonzeros, break-even near 60 %.
    /// </summary>
    internal const float FeedForwardRowsSkipMaxDensity = Gemm.SkipZerosMaxDensity;

    /// <summary>Tests and profile pieces: the density limit on this thread instead of <see cref="FeedForwardSkipMaxDensity"/> (0: that).</summary>
    [ThreadStatic] internal static float t_skipMaxDensity;

    /// <summary>
    /// Whether C (=, or += with <paramref name="accumulate"/>) op(A)·B, then <paramref name="epi"/>, ran skipping A's exact
    /// zeros (see the file's comment): false, with nothing written, when the product is small, a sample of A's rows has more
    /// than <see cref="FeedForwardSkipMaxDensity"/> (transA) or <see cref="FeedForwardRowsSkipMaxDensity"/> nonzeros, B holds a NaN or ±Inf, or the machine has no vectors. op(A) as
    /// in <see cref="Gemm.TrySgemmSkipZeros"/>. One call of the kernel over all of k: its chains restart at every 256-term
    /// block and add each block's chain to C, as the dense kernels do (session 20; before, one call per k-block, each
    /// counted, listed and summed in a scratch of its own). <paramref name="lists"/>: another product's lists of positions
    /// that cover A's nonzeros, walked instead of listing A when they fit this product's shape (else this product's lists
    /// are kept in it when it is unbuilt; see <see cref="Gemm.SkipZerosListCache"/>).
    /// </summary>
    internal static bool ProductSkipZeros(bool transA, int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
        float[] c, int cOff, int ldc, bool accumulate, Epi<float> epi = default, Gemm.SkipZerosListCache? lists = null)
    {
        if (t_denseFeedForward || m <= 0 || n <= 0 || k <= 0 || (long)m * n * k < Gemm.SkipZerosMinMacs) return false;
        if (!Vector256.IsHardwareAccelerated && !Vector512.IsHardwareAccelerated) return false;
        float maxDensity = t_skipMaxDensity > 0 ? t_skipMaxDensity : transA ? FeedForwardSkipMaxDensity : FeedForwardRowsSkipMaxDensity;
        // The decision from ≤ 64 of A's stored rows spread over all of it (a ReLU's zeros are spread evenly; the decision
        // only chooses the faster path, both give the same bits): ~1/16 of a counting pass at the workload's sizes.
        int storedRows = transA ? k : m, cols = transA ? m : k;
        int step = Math.Max(1, storedRows / 64), sampled = (storedRows + step - 1) / step;
        if (Gemm.CountNonZero(a, aOff, sampled, cols, lda * step) > maxDensity * ((double)sampled * cols)) return false;
        // maxDensity 1: not counted again; false only for a NaN or ±Inf in B (checked before anything is written)
        bool done = Vector512.IsHardwareAccelerated
            ? Gemm.TrySgemmSkipZeros<Gemm.Simd512<float>, Vector512<float>>(transA, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate,
                allowParallel: true, maxDensity: 1f, epi: epi, lists: lists)
            : Gemm.TrySgemmSkipZeros<Gemm.Simd256<float>, Vector256<float>>(transA, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate,
                allowParallel: true, maxDensity: 1f, epi: epi, lists: lists);
        if (done) t_skippedProducts++;
        return done;
    }

    /// <summary>
    /// gW[o0..o1) += gy[:, o0..o1)ᵀ·x (rows of a Linear's weight gradient, gW at <paramref name="weightOffset"/>) skipping the
    /// exact zeros of x (<paramref name="zerosInX"/>: computed as xᵀ·gy and stored transposed) or of gy; false, with nothing
    /// written, when <see cref="ProductSkipZeros"/> does not apply. The product is summed in a scratch and then added to gW,
    /// as the dense weight gradients add their product; with <paramref name="overwrite"/> (gW's old values are not kept) it is
    /// stored over gW instead: transposed into it, or (gy's zeros) written by the product itself. <paramref name="lists"/>: as
    /// <see cref="ProductSkipZeros"/> takes it (the feed-forward block's two weight gradients: actᵀ·gy lists act's columns,
    /// gFfᵀ·x walks them).
    /// </summary>
    internal static bool WeightGradSkipZeros(float[] x, float[] gy, float[] gWeight, int rows, int inF, int outF, int o0, int o1, int weightOffset, bool zerosInX,
        Gemm.SkipZerosListCache? lists = null, bool overwrite = false)
    {
        int m = o1 - o0;
        if (overwrite && !zerosInX)
            return ProductSkipZeros(true, m, inF, rows, gy, o0, outF, x, 0, inF, gWeight, weightOffset + o0 * inF, inF, accumulate: false, lists: lists);
        var product = Scratch<float>.Pool.Rent(m * inF);
        try
        {
            if (zerosInX)
            {
                if (!ProductSkipZeros(true, inF, m, rows, x, 0, inF, gy, o0, outF, product, 0, m, accumulate: false, lists: lists)) return false;
                Gemm.StoreTransposed(product, inF, m, gWeight, weightOffset + o0 * inF, accumulate: !overwrite);
            }
            else
            {
                if (!ProductSkipZeros(true, m, inF, rows, gy, o0, outF, x, 0, inF, product, 0, inF, accumulate: false, lists: lists)) return false;
                Gemm.AddRow<float>(product.AsSpan(0, m * inF), gWeight.AsSpan(weightOffset + o0 * inF, m * inF));
            }
            return true;
        }
        finally
        {
            Scratch<float>.Pool.Return(product);
        }
    }

    /// <summary>
    /// The lists of the feed-forward activation's columns kept by linear2's weight gradient (actᵀ·gy) for linear1's (gFfᵀ·x,
    /// gFf zero wherever act is) in one backward on this thread (<see cref="FeedForwardBackward"/>; released at its end).
    /// Session 24: one ListColumns8 pass over the 1024×512 activation less per layer.
    /// </summary>
    [ThreadStatic] internal static Gemm.SkipZerosListCache? t_ffLists;

    /// <summary>Tests and profile pieces: the feed-forward backward lists gFf's columns itself instead of walking act's (the path before session 24).</summary>
    [ThreadStatic] internal static bool t_unsharedFeedForwardLists;
}
