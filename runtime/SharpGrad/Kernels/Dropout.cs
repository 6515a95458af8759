using System.ComponentModel;

namespace SharpGrad.Kernels;

/// <summary>
/// The dropout mask (PyTorch: the mask of <c>F.dropout</c>): 0 with probability p, else 1/(1 − p), one
/// <see cref="Rng.NextFloat"/> per element, so one generator state gives one mask in eager and compiled code alike.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class DropoutKernel
{
    /// <summary>Throws for a probability outside [0, 1].</summary>
    internal static void CheckProbability(double p)
    {
        if (p < 0 || p > 1 || double.IsNaN(p))
        {
            throw new ArgumentException($"Dropout: the probability p must be between 0 and 1, but got {p}.");
        }
    }

    /// <summary>Float32 for generated code: fills the first <paramref name="count"/> elements of <paramref name="mask"/>.</summary>
    public static void Mask(float[] mask, int count, double p, Rng? rng) => Mask(new Span<float>(mask, 0, count), p, rng);

    /// <summary>
    /// Fills <paramref name="mask"/> with 0 or 1/(1 − p) from <paramref name="rng"/> (null: <see cref="Rng.Default"/>);
    /// p = 0 gives ones and p = 1 zeros, without drawing.
    /// </summary>
    public static void Mask(Span<float> mask, double p, Rng? rng)
    {
        CheckProbability(p);
        if (p == 0)
        {
            mask.Fill(1f);
            return;
        }
        if (p == 1)
        {
            mask.Clear();
            return;
        }
        rng ??= Rng.Default;
        float scale = (float)(1.0 / (1.0 - p));
        for (int i = 0; i < mask.Length; i++) mask[i] = rng.NextFloat() >= p ? scale : 0f;
    }

    /// <summary>
    /// Fills the first n·t·<paramref name="width"/> elements of <paramref name="mask"/>, batch-first rows [n, t, width], with
    /// <paramref name="site"/>'s mask drawn in eager's order: over [n, t, width] when <paramref name="batchSecond"/> is false, over
    /// [t, n, width] (a <c>batch_first=False</c> layer's tensor) when true, then moved to the rows through
    /// <paramref name="scratch"/> (grown when too small, reused across calls).
    /// </summary>
    internal static void MaskRows(DropoutSite site, float[] mask, int n, int t, int width, bool batchSecond, ref float[] scratch)
    {
        int count = n * t * width;
        if (!batchSecond)
        {
            Mask(mask, count, site.P, site.Rng);
            return;
        }
        if (scratch.Length < count) scratch = new float[count];
        Mask(scratch, count, site.P, site.Rng);
        AxisCopyKernel.SwapLeading(scratch, mask, t, n, width, accumulate: false);
    }
}

/// <summary>
/// One dropout of a fused layer as eager runs it (PyTorch: an <c>nn.Dropout</c> submodule, or a MultiheadAttention's dropout on
/// its weights): the probability in effect — the module's <c>p</c> in training, 0 in evaluation (inactive, nothing drawn) —
/// and the module's generator (null: <see cref="Rng.Default"/>).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct DropoutSite(double P, Rng? Rng)
{
    /// <summary>True when a mask is drawn (P &gt; 0).</summary>
    public bool IsActive => P > 0;
}
