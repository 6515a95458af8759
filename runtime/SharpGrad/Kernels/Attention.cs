using System.ComponentModel;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SharpGrad.Kernels;

/// <summary>
/// Where the rows of one operand of <see cref="AttentionKernel"/> live: the element of sequence <c>b</c>, position
/// <c>p</c>, feature <c>f</c> is at <c>Offset + b·BatchStride + p·StepStride + f</c>. Head <c>h</c> of the operand is
/// the <c>head_dim</c> features from <c>h·head_dim</c>. So q, k and v can be read straight out of a packed in-projection
/// ([N, T, 3E] with batch first: q at offset 0, k at E, v at 2E, step stride 3E, batch stride T·3E; [T, N, 3E] without:
/// step stride N·3E, batch stride 3E) and the context written straight into the merged-heads rows — no split or merge copies.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct HeadRows(float[] Data, int Offset, int BatchStride, int StepStride)
{
    /// <summary>The element offset of head <paramref name="head"/>'s first row in sequence <paramref name="b"/>.</summary>
    internal int Start(int b, int head, int headDim) => Offset + b * BatchStride + head * headDim;
}

/// <summary>
/// The additive masks of <see cref="AttentionKernel.Forward"/> (PyTorch's <c>attn_mask</c> and <c>key_padding_mask</c>, Bool
/// masks already turned into 0 / −∞): added to the scaled scores before the softmax. Each may be null.
/// </summary>
/// <param name="Shared">[l, s], the same for every sequence and head (a causal mask).</param>
/// <param name="PerHead">[n·heads, l, s], one per sequence and head.</param>
/// <param name="KeyPadding">[n, s], one per sequence, the same for every query and head.</param>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct AttentionMasks(float[]? Shared, float[]? PerHead, float[]? KeyPadding)
{
    /// <summary>True when no mask is given.</summary>
    public bool IsEmpty => Shared is null && PerHead is null && KeyPadding is null;

    /// <summary>Adds the masks to the scores of sequence <paramref name="b"/>, head-item <paramref name="index"/> ([l, s] at <paramref name="p"/>).</summary>
    internal void AddTo(float[] scores, int p, int index, int b, int l, int s)
    {
        for (int i = 0; i < l; i++)
        {
            var row = scores.AsSpan(p + i * s, s);
            if (Shared is not null) TensorPrimitives.Add(row, Shared.AsSpan(i * s, s), row);
            if (PerHead is not null) TensorPrimitives.Add(row, PerHead.AsSpan((index * l + i) * s, s), row);
            if (KeyPadding is not null) TensorPrimitives.Add(row, KeyPadding.AsSpan(b * s, s), row);
        }
    }
}

/// <summary>
/// Dropout on the attention weights (PyTorch: <c>dropout(softmax(…), p)</c> in <c>F.multi_head_attention_forward</c>) for
/// <see cref="AttentionKernel.Forward"/>: <paramref name="Mask"/> [n·heads, l, s] holds 0 or 1/(1 − p) per weight (drawn by
/// <see cref="DropoutKernel.Mask(float[], int, double, Rng?)"/>, in the order eager's Dropout draws them), <paramref name="Dropped"/>
/// [n·heads, l, s] receives the weights times the mask (what multiplies v). Inactive when <paramref name="Mask"/> is null.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct AttentionDropout(float[]? Mask, float[]? Dropped)
{
    /// <summary>True when a mask is given.</summary>
    public bool IsActive => Mask is not null;

    /// <summary>
    /// The weights that multiply v for the <paramref name="count"/> probabilities at <paramref name="p"/>: with a mask, probs·mask
    /// written into <see cref="Dropped"/> (the probabilities stay for the softmax's backward), else <paramref name="probs"/> itself.
    /// </summary>
    internal float[] WeightsFor(float[] probs, int p, int count)
    {
        if (!IsActive) return probs;
        TensorPrimitives.Multiply(probs.AsSpan(p, count), Mask!.AsSpan(p, count), Dropped!.AsSpan(p, count));
        return Dropped!;
    }
}

/// <summary>
/// Multi-head scaled dot-product attention with optional additive masks (<see cref="AttentionMasks"/>) and no dropout (PyTorch: the core of <c>F.multi_head_attention_forward</c>,
/// <c>softmax(q·kᵀ·scale)·v</c> per sequence and head) on float32 rows laid out as <see cref="HeadRows"/>, parallel over
/// sequences × heads on the worker pool (each item runs its head's small GEMMs and softmax rows on one core, so the
/// 64×64×32 products of a Transformer's heads do not each pay a parallel dispatch). The compiled encoder layer
/// (<see cref="TransformerLayerKernel"/>) and eager <c>MultiheadAttention</c> self-attention both call it. Not meant to be
/// called by hand.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static partial class AttentionKernel
{
    /// <summary>
    /// probs[b, h] = softmax(scale·q[b, h]·k[b, h]ᵀ) ([n·heads, l, s], kept for the backward) and context[b, h] = probs·v[b, h],
    /// for <paramref name="n"/> sequences of <paramref name="l"/> queries and <paramref name="s"/> keys.
    /// </summary>
    /// <remarks>
    /// The additive <paramref name="masks"/> (none by default) are added to the scaled scores before the softmax. A masked
    /// score's probability is 0, so <see cref="Backward"/> (which reads the probabilities) needs no mask; a query whose keys
    /// are all masked gives NaN, as PyTorch.
    /// </remarks>
    public static void Forward(int n, int heads, int l, int s, int headDim, float scale, HeadRows q, HeadRows k, HeadRows v, float[] probs,
        HeadRows context, AttentionMasks masks = default, AttentionDropout dropout = default)
    {
        Check(n, heads, l, s, headDim, probs);
        if (dropout.IsActive && (dropout.Mask!.Length < (long)n * heads * l * s || dropout.Dropped is null || dropout.Dropped.Length < (long)n * heads * l * s))
        {
            throw new ArgumentException($"AttentionKernel: the dropout mask and the dropped weights need {(long)n * heads * l * s} elements ([{n}·{heads}, {l}, {s}]), but have {dropout.Mask.Length} and {dropout.Dropped?.Length}.");
        }
        if ((masks.Shared is { } shared && shared.Length < l * s) || (masks.PerHead is { } perHead && perHead.Length < (long)n * heads * l * s)
            || (masks.KeyPadding is { } padding && padding.Length < (long)n * s))
        {
            throw new ArgumentException($"AttentionKernel: the masks must be [{l}, {s}], [{n}·{heads}, {l}, {s}] and [{n}, {s}], but have {masks.Shared?.Length}, {masks.PerHead?.Length} and {masks.KeyPadding?.Length} elements.");
        }
        Parallelism.For(n * heads, new ForwardItem(heads, l, s, headDim, scale, q, k, v, probs, context, masks, dropout, TransposedKeys, HeadKernels));
    }

    /// <summary>
    /// Whether the products with kᵀ (the forward's scores q·kᵀ, the backward's gC·vᵀ) multiply by a transposed copy of the
    /// head's keys (values), [head_dim, s], instead of taking dot products of rows: always. With AVX2 (16 registers) the
    /// dot-product kernel of a 64×64×32 head (<c>Gemm.Dot4x4</c>: 4 × 4 sums of 4 vectors, then 16 horizontal sums) ran at
    /// ~40 % of the broadcast kernel's rate on the same head's probs·v; the 2048-element transpose costs ~1 % of the product.
    /// AVX-512 kept the dot products until session 23, whose Zen 4 (512-bit FMAs on 256-bit units) was the first AVX-512
    /// machine to measure both: transposed, `count xfmr-attn-fwd 2000` 531–538 µs against 660–674 with the dot products,
    /// `xfmr-attn-bwd` 705–711 against 852–866 (1 thread, min, alternated). The sums' order is the broadcast kernel's (one
    /// FMA chain per element) instead of the dot products' lanes.
    /// </summary>
    internal static bool TransposedKeys => true;

    /// <summary>
    /// The gradients of <see cref="Forward"/> from the context's gradient <paramref name="gContext"/>: written (not added)
    /// into <paramref name="gq"/>, <paramref name="gk"/> and <paramref name="gv"/>. With the forward's <paramref name="dropout"/>,
    /// the gradient goes through the same mask. <paramref name="gWeights"/> (or null) is the gradient of the returned weights
    /// (PyTorch's <c>attn_output_weights</c>, the weights after dropout): averaged over the heads ([n, l, s],
    /// <c>average_attn_weights=True</c>), each head's weights receive it divided by the number of heads; per head
    /// (<paramref name="weightsPerHead"/>, [n, heads, l, s]) each head's weights receive theirs.
    /// </summary>
    public static void Backward(int n, int heads, int l, int s, int headDim, float scale, HeadRows q, HeadRows k, HeadRows v, float[] probs,
        HeadRows gContext, HeadRows gq, HeadRows gk, HeadRows gv, AttentionDropout dropout = default, float[]? gWeights = null, bool weightsPerHead = false)
    {
        Check(n, heads, l, s, headDim, probs);
        long needed = (long)n * (weightsPerHead ? heads : 1) * l * s;
        if (gWeights is not null && gWeights.Length < needed)
        {
            throw new ArgumentException($"AttentionKernel: the weights' gradient needs {needed} elements ([{n}{(weightsPerHead ? ", " + heads : "")}, {l}, {s}]), but the array has {gWeights.Length}.");
        }
        Parallelism.For(n * heads, new BackwardItem(heads, l, s, headDim, scale, q, k, v, probs, gContext, gq, gk, gv, dropout, gWeights, weightsPerHead,
            TransposedKeys, HeadKernels));
    }

    /// <summary>
    /// <paramref name="averaged"/>[b, i, j] = Σ_h <paramref name="weights"/>[b, h, i, j] / heads (PyTorch: <c>attn_output_weights.mean(dim=1)</c>,
    /// summed over the heads in order, then divided, as eager's <c>weights.Sum(1) / heads</c>).
    /// </summary>
    public static void AverageHeads(float[] weights, float[] averaged, int n, int heads, int l, int s)
    {
        int plane = l * s;
        for (int b = 0; b < n; b++)
        {
            var target = averaged.AsSpan(b * plane, plane);
            weights.AsSpan(b * heads * plane, plane).CopyTo(target);
            for (int h = 1; h < heads; h++) TensorPrimitives.Add(target, weights.AsSpan((b * heads + h) * plane, plane), target);
            TensorPrimitives.Divide(target, heads, target);
        }
    }

    private static void Check(int n, int heads, int l, int s, int headDim, float[] probs)
    {
        if (n < 0 || heads <= 0 || l <= 0 || s <= 0 || headDim <= 0)
        {
            throw new ArgumentException($"AttentionKernel: expected a non-negative batch and positive heads, lengths and head size, but got n {n}, heads {heads}, l {l}, s {s}, head_dim {headDim}.");
        }
        if (probs.Length < (long)n * heads * l * s)
        {
            throw new ArgumentException($"AttentionKernel: the probabilities need {(long)n * heads * l * s} elements ([{n}·{heads}, {l}, {s}]), but the array has {probs.Length}.");
        }
    }

    /// <summary>c[l, s] = alpha·x·yᵀ for a head's rows x [l, d] and y [s, d]: dot products, or (<paramref name="transposed"/>) x times a transposed copy of y.</summary>
    private static void TimesTransposed(bool transposed, int l, int s, int d, float alpha, float[] x, int xOff, int ldx, float[] y, int yOff, int ldy,
        float[] c, int cOff)
    {
        if (!transposed)
        {
            Gemm.Sgemm(false, true, l, s, d, alpha, x, xOff, ldx, y, yOff, ldy, 0f, c, cOff, s);
            return;
        }
        var yt = Scratch<float>.Pool.Rent(d * s);
        try
        {
            RecurrentKernel.TransposeStrided(y, yOff, ldy, s, d, yt);
            Gemm.Sgemm(false, false, l, s, d, alpha, x, xOff, ldx, yt, 0, s, 0f, c, cOff, s);
        }
        finally
        {
            Scratch<float>.Pool.Return(yt);
        }
    }

    /// <summary>Tests: <see cref="Forward"/> with the products by kᵀ taken as dot products or by a transposed copy, whatever the machine.</summary>
    internal static void ForwardWith(bool transposedKeys, int n, int heads, int l, int s, int headDim, float scale, HeadRows q, HeadRows k, HeadRows v, float[] probs,
        HeadRows context, bool headKernels = HeadKernels)
    {
        Check(n, heads, l, s, headDim, probs);
        Parallelism.For(n * heads, new ForwardItem(heads, l, s, headDim, scale, q, k, v, probs, context, default, default, transposedKeys, headKernels));
    }

    /// <summary>Tests: <see cref="Backward"/> with the products by vᵀ taken as dot products or by a transposed copy, whatever the machine.</summary>
    internal static void BackwardWith(bool transposedKeys, int n, int heads, int l, int s, int headDim, float scale, HeadRows q, HeadRows k, HeadRows v, float[] probs,
        HeadRows gContext, HeadRows gq, HeadRows gk, HeadRows gv, bool headKernels = HeadKernels)
    {
        Check(n, heads, l, s, headDim, probs);
        Parallelism.For(n * heads, new BackwardItem(heads, l, s, headDim, scale, q, k, v, probs, gContext, gq, gk, gv, default, null, false, transposedKeys,
            headKernels));
    }

    private readonly struct ForwardItem(int heads, int l, int s, int d, float scale, HeadRows q, HeadRows k, HeadRows v, float[] probs, HeadRows context,
        AttentionMasks masks, AttentionDropout dropout, bool transposedKeys, bool headKernels) : IParallelBody
    {
        public void Invoke(int index)
        {
            int b = index / heads, h = index % heads, p = index * l * s;
            if (headKernels && transposedKeys && masks.IsEmpty && UseHeadKernels(s))
            {
                FusedForward(b, h, p);
                return;
            }
            // The scale rides on the GEMM's alpha; the masks are added; softmax in place, row by row (the rows are in L1).
            TimesTransposed(transposedKeys, l, s, d, scale, q.Data, q.Start(b, h, d), q.StepStride, k.Data, k.Start(b, h, d), k.StepStride, probs, p);
            if (!masks.IsEmpty) masks.AddTo(probs, p, index, b, l, s);
            for (int i = 0; i < l; i++) SoftmaxRow(probs.AsSpan(p + i * s, s));
            var weights = dropout.WeightsFor(probs, p, l * s);
            Gemm.Sgemm(false, false, l, d, s, 1f, weights, p, s, v.Data, v.Start(b, h, d), v.StepStride, 0f, context.Data, context.Start(b, h, d),
                context.StepStride);
        }

        /// <summary>
        /// The item on the head kernels (Attention.Heads.cs): the scores and their softmax in one pass from the transposed
        /// keys (no masks), the dropout as above, then probs·v by the direct tiles.
        /// </summary>
        private void FusedForward(int b, int h, int p)
        {
            CheckRows(q, b, h, d, l);
            CheckRows(k, b, h, d, s);
            var kt = Scratch<float>.Pool.Rent(d * s);
            try
            {
                RecurrentKernel.TransposeStrided(k.Data, k.Start(b, h, d), k.StepStride, s, d, kt);
                ScoresSoftmax64(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(q.Data), q.Start(b, h, d)), q.StepStride,
                    ref MemoryMarshal.GetArrayDataReference(kt), d, scale, ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(probs), p), l);
            }
            finally
            {
                Scratch<float>.Pool.Return(kt);
            }
            var weights = dropout.WeightsFor(probs, p, l * s);
            HeadProduct(false, l, d, s, weights, p, s, v.Data, v.Start(b, h, d), v.StepStride, context.Data, context.Start(b, h, d), context.StepStride);
        }
    }

    private readonly struct BackwardItem(int heads, int l, int s, int d, float scale, HeadRows q, HeadRows k, HeadRows v, float[] probs,
        HeadRows gContext, HeadRows gq, HeadRows gk, HeadRows gv, AttentionDropout dropout, float[]? gWeights, bool weightsPerHead, bool transposedKeys,
        bool headKernels) : IParallelBody
    {
        public void Invoke(int index)
        {
            int b = index / heads, h = index % heads, p = index * l * s;
            if (headKernels && transposedKeys && gWeights is null && !dropout.IsActive && UseHeadKernels(s))
            {
                FusedBackward(b, h, p);
                return;
            }
            var gScores = Scratch<float>.Pool.Rent(l * s);
            try
            {
                int gc = gContext.Start(b, h, d);
                // gP = gC·vᵀ (+ the returned weights' gradient: this head's, or the averaged weights' / heads), through the dropout
                // mask; gv = Pᵀ·gC (P after dropout)
                TimesTransposed(transposedKeys, l, s, d, 1f, gContext.Data, gc, gContext.StepStride, v.Data, v.Start(b, h, d), v.StepStride, gScores, 0);
                if (gWeights is not null)
                {
                    var gs = gScores.AsSpan(0, l * s);
                    if (weightsPerHead) TensorPrimitives.Add(gWeights.AsSpan(p, l * s), gs, gs);
                    else TensorPrimitives.MultiplyAdd(gWeights.AsSpan(b * l * s, l * s), 1f / heads, gs, gs);
                }
                if (dropout.IsActive) TensorPrimitives.Multiply(gScores.AsSpan(0, l * s), dropout.Mask!.AsSpan(p, l * s), gScores.AsSpan(0, l * s));
                Gemm.Sgemm(true, false, s, d, l, 1f, dropout.IsActive ? dropout.Dropped! : probs, p, s, gContext.Data, gc, gContext.StepStride, 0f, gv.Data,
                    gv.Start(b, h, d), gv.StepStride);
                // gS = scale·P∘(gP − Σ gP∘P), in place
                for (int i = 0; i < l; i++) SoftmaxBackwardRow(probs.AsSpan(p + i * s, s), gScores.AsSpan(i * s, s), scale);
                // gq = gS·k; gk = gSᵀ·q
                Gemm.Sgemm(false, false, l, d, s, 1f, gScores, 0, s, k.Data, k.Start(b, h, d), k.StepStride, 0f, gq.Data, gq.Start(b, h, d), gq.StepStride);
                Gemm.Sgemm(true, false, s, d, l, 1f, gScores, 0, s, q.Data, q.Start(b, h, d), q.StepStride, 0f, gk.Data, gk.Start(b, h, d), gk.StepStride);
            }
            finally
            {
                Scratch<float>.Pool.Return(gScores);
            }
        }

        /// <summary>
        /// The item on the head kernels (Attention.Heads.cs; no dropout, no weights' gradient): gC·vᵀ and the softmax's
        /// backward in one pass from the transposed values, then gv = Pᵀ·gC, gq = gS·k and gk = gSᵀ·q by the direct tiles.
        /// </summary>
        private void FusedBackward(int b, int h, int p)
        {
            CheckRows(gContext, b, h, d, l);
            CheckRows(v, b, h, d, s);
            int gc = gContext.Start(b, h, d);
            var buffer = Scratch<float>.Pool.Rent(d * s + l * s);
            try
            {
                // the values transposed at 0, gS after them
                RecurrentKernel.TransposeStrided(v.Data, v.Start(b, h, d), v.StepStride, s, d, buffer);
                ref float buf = ref MemoryMarshal.GetArrayDataReference(buffer);
                GradScores64(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(gContext.Data), gc), gContext.StepStride, ref buf, d, scale,
                    ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(probs), p), ref Unsafe.Add(ref buf, d * s), l);
                HeadProduct(true, s, d, l, probs, p, s, gContext.Data, gc, gContext.StepStride, gv.Data, gv.Start(b, h, d), gv.StepStride);
                HeadProduct(false, l, d, s, buffer, d * s, s, k.Data, k.Start(b, h, d), k.StepStride, gq.Data, gq.Start(b, h, d), gq.StepStride);
                HeadProduct(true, s, d, l, buffer, d * s, s, q.Data, q.Start(b, h, d), q.StepStride, gk.Data, gk.Start(b, h, d), gk.StepStride);
            }
            finally
            {
                Scratch<float>.Pool.Return(buffer);
            }
        }
    }

    /// <summary>Whether the head kernels are on: always; tests pass false to <see cref="ForwardWith"/> and <see cref="BackwardWith"/> to run the GEMM path.</summary>
    internal const bool HeadKernels = true;

    /// <summary>Throws unless <paramref name="rows"/> rows of head <paramref name="h"/> of sequence <paramref name="b"/> lie inside the operand's array.</summary>
    private static void CheckRows(HeadRows r, int b, int h, int d, int rows)
    {
        long start = r.Start(b, h, d);
        if (start < 0 || start + (long)(rows - 1) * r.StepStride + d > r.Data.Length)
        {
            throw new ArgumentException($"AttentionKernel: {rows} rows of head {h} (size {d}, {r.StepStride} apart) of sequence {b} do not fit the operand's {r.Data.Length} elements.");
        }
    }

    /// <summary>
    /// Softmax of one row in place (as <see cref="SoftmaxKernel"/>: shifted by the maximum, by 0 when it is infinite). The
    /// maximum and the final scaling are this method's own vector loops (<c>TensorPrimitives.Max</c> and <c>Multiply</c> were
    /// two calls per 64-element row, ~5 % of the attention forward); the sum stays <c>TensorPrimitives.Sum</c>, whose order the
    /// probabilities' bits depend on. The maximum's bits do not matter beyond its value: a row with a NaN ends all NaN either
    /// way (its sum is NaN), and −0 against +0 changes no x − m but ±0 − ±0, whose exp is 1 (tested against the
    /// <c>TensorPrimitives</c> sequence bit for bit, <c>AttentionKernelTests.SoftmaxRowsEqualTheTensorPrimitivesSequence</c>).
    /// </summary>
    internal static void SoftmaxRow(Span<float> row)
    {
        if (NormKernel.RowsInVectors512(row.Length))
        {
            SoftmaxRow512(ref MemoryMarshal.GetReference(row), row.Length);
            return;
        }
        float m = MaxOf(row);
        if (float.IsInfinity(m)) m = 0;
        ExpShifted(row, m);
        ScaleRow(row, 1f / TensorPrimitives.Sum(row));
    }

    /// <summary>The largest element of <paramref name="row"/> (NaN or not when it holds one: see <see cref="SoftmaxRow"/>).</summary>
    private static float MaxOf(ReadOnlySpan<float> row)
    {
        ref float r = ref MemoryMarshal.GetReference(row);
        int n = row.Length, w = Vector<float>.Count, j = 0;
        float m = float.NegativeInfinity;
        if (Vector.IsHardwareAccelerated && n >= w)
        {
            var vm = Vector.LoadUnsafe(ref r);
            for (j = w; j <= n - w; j += w) vm = Vector.MaxNative(vm, Vector.LoadUnsafe(ref r, (nuint)j));
            for (int i = 0; i < w; i++) m = MathF.Max(m, vm[i]);
        }
        for (; j < n; j++) m = MathF.Max(m, Unsafe.Add(ref r, j));
        return m;
    }

    /// <summary>row = row·<paramref name="factor"/> element by element (the bits of <c>TensorPrimitives.Multiply(row, factor, row)</c>).</summary>
    private static void ScaleRow(Span<float> row, float factor)
    {
        ref float r = ref MemoryMarshal.GetReference(row);
        int n = row.Length, w = Vector<float>.Count, j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var f = new Vector<float>(factor);
            for (; j <= n - w; j += w) (Vector.LoadUnsafe(ref r, (nuint)j) * f).StoreUnsafe(ref r, (nuint)j);
        }
        for (; j < n; j++) Unsafe.Add(ref r, j) *= factor;
    }

    /// <summary>
    /// row = e^(row − <paramref name="shift"/>) in place, the full vectors by the LSTM cell's inlined exp (<see cref="RecurrentMath"/>,
    /// within 2 ulp; <c>TensorPrimitives.Exp</c> widens float to double and was a quarter of the attention forward with AVX2).
    /// </summary>
    internal static void ExpShifted(Span<float> row, float shift)
    {
        ref float r = ref MemoryMarshal.GetReference(row);
        int j = 0;
        if (Vector512.IsHardwareAccelerated && row.Length >= Vector512<float>.Count) j = ExpShifted<Gemm.Simd512<float>, Vector512<float>>(ref r, row.Length, shift);
        else if (Vector256.IsHardwareAccelerated && row.Length >= Vector256<float>.Count) j = ExpShifted<Gemm.Simd256<float>, Vector256<float>>(ref r, row.Length, shift);
        for (; j < row.Length; j++) row[j] = MathF.Exp(row[j] - shift);
    }

    /// <summary>The full vectors of <see cref="ExpShifted(Span{float}, float)"/> at one width; returns the first element it did not do.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int ExpShifted<V, TV>(ref float row, int count, float shift) where V : struct, Gemm.ISimd<TV, float> where TV : struct
    {
        var sh = V.Broadcast(shift);
        int w = V.Count, j = 0;
        for (; j <= count - w; j += w) V.Store(RecurrentMath.CellExp<float, V, TV>(V.Subtract(V.Load(ref row, (nuint)j), sh)), ref row, (nuint)j);
        return j;
    }

    /// <summary>
    /// g = ((g − Σ g∘y)∘y)·scale, in place: softmax's backward with the scores' scale. The dot product stays
    /// <c>TensorPrimitives.Dot</c> (its order sets the bits); the three element-wise steps are one vector loop with the same
    /// roundings (were three <c>TensorPrimitives</c> calls per 64-element row).
    /// </summary>
    internal static void SoftmaxBackwardRow(ReadOnlySpan<float> y, Span<float> g, float scale)
    {
        ref float gr = ref MemoryMarshal.GetReference(g);
        ref float yr = ref MemoryMarshal.GetReference(y);
        if (NormKernel.RowsInVectors512(g.Length) && y.Length == g.Length)
        {
            SoftmaxBackwardRow512(ref yr, ref gr, g.Length, scale);
            return;
        }
        float dot = TensorPrimitives.Dot(g, y);
        int n = g.Length, w = Vector<float>.Count, j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> vd = new(dot), vs = new(scale);
            for (; j <= n - w; j += w)
                ((Vector.LoadUnsafe(ref gr, (nuint)j) - vd) * Vector.LoadUnsafe(ref yr, (nuint)j) * vs).StoreUnsafe(ref gr, (nuint)j);
        }
        for (; j < n; j++) Unsafe.Add(ref gr, j) = (Unsafe.Add(ref gr, j) - dot) * Unsafe.Add(ref yr, j) * scale;
    }

    /// <summary>
    /// <see cref="SoftmaxRow"/> of a row of one to eight whole 512-bit vectors (<see cref="NormKernel.RowsInVectors512"/>; the
    /// encoder's 64 keys are four) in one pass through registers: the maximum, e^(x − m) by the same inlined exp, the sum as
    /// <c>TensorPrimitives.Sum</c> adds such a row (the vectors one after the other from +0, then <c>Vector512.Sum</c>: the
    /// same bits), the scaling by 1/sum. Was four calls per row (the maximum, the exps, the library's sum, the scaling),
    /// each a pass over the row with its call and loop overhead.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SoftmaxRow512(ref float r, int n)
    {
        var vm = Vector512.LoadUnsafe(ref r);
        for (int j = 16; j < n; j += 16) vm = Vector512.MaxNative(vm, Vector512.LoadUnsafe(ref r, (nuint)j));
        var v4 = Vector128.MaxNative(Vector128.MaxNative(vm.GetLower().GetLower(), vm.GetLower().GetUpper()),
            Vector128.MaxNative(vm.GetUpper().GetLower(), vm.GetUpper().GetUpper()));
        float m = MathF.Max(MathF.Max(v4.GetElement(0), v4.GetElement(1)), MathF.Max(v4.GetElement(2), v4.GetElement(3)));
        if (float.IsInfinity(m)) m = 0;
        var sh = Vector512.Create(m);
        var sum = Vector512<float>.Zero;
        for (int j = 0; j < n; j += 16)
        {
            var e = RecurrentMath.CellExp<float, Gemm.Simd512<float>, Vector512<float>>(Vector512.LoadUnsafe(ref r, (nuint)j) - sh);
            e.StoreUnsafe(ref r, (nuint)j);
            sum += e;
        }
        var f = Vector512.Create(1f / Vector512.Sum(sum + Vector512<float>.Zero));
        for (int j = 0; j < n; j += 16) (Vector512.LoadUnsafe(ref r, (nuint)j) * f).StoreUnsafe(ref r, (nuint)j);
    }

    /// <summary>
    /// <see cref="SoftmaxBackwardRow"/> of a row of one to eight whole 512-bit vectors: the dot product as <c>TensorPrimitives.Dot</c>
    /// adds such a row (the products g·y vector by vector from +0, then <c>Vector512.Sum</c>: the same bits), then
    /// ((g − dot)·y)·scale.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SoftmaxBackwardRow512(ref float y, ref float g, int n, float scale)
    {
        var acc = Vector512<float>.Zero;
        for (int j = 0; j < n; j += 16) acc += Vector512.LoadUnsafe(ref g, (nuint)j) * Vector512.LoadUnsafe(ref y, (nuint)j);
        Vector512<float> vd = Vector512.Create(Vector512.Sum(acc + Vector512<float>.Zero)), vs = Vector512.Create(scale);
        for (int j = 0; j < n; j += 16)
            ((Vector512.LoadUnsafe(ref g, (nuint)j) - vd) * Vector512.LoadUnsafe(ref y, (nuint)j) * vs).StoreUnsafe(ref g, (nuint)j);
    }
}
