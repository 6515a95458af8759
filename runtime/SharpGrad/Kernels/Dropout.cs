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
}
