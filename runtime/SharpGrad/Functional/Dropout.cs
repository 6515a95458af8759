namespace SharpGrad;

public static partial class Functional
{
    /// <summary>
    /// Dropout (PyTorch: <c>torch.nn.functional.dropout</c>): in training, zeroes each element with probability
    /// <paramref name="p"/> and scales the rest by 1 / (1 − p); in evaluation it returns the input unchanged.
    /// The mask comes from <paramref name="rng"/> (default <see cref="Rng.Default"/>).
    /// </summary>
    public static Tensor Dropout(Tensor input, double p = Ops.OpDefaults.Dropout.P, bool training = true, Rng? rng = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        Kernels.DropoutKernel.CheckProbability(p);
        if (!training || p == 0) return input;
        return input * DropoutMask(input._shape, FloatDType("Dropout", input), p, rng);
    }

    /// <summary>
    /// Channel dropout (PyTorch: <c>torch.nn.functional.dropout2d</c>): in training, zeroes each whole channel of
    /// [N, C, H, W] input with probability <paramref name="p"/> and scales the others by 1 / (1 − p); in evaluation it returns
    /// the input unchanged. A 3-d input is read as [N, C, L] (channel-wise 1-d dropout), as PyTorch does.
    /// </summary>
    public static Tensor Dropout2d(Tensor input, double p = Ops.OpDefaults.Dropout.P, bool training = true, Rng? rng = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        Kernels.DropoutKernel.CheckProbability(p);
        if (input.Rank is not (3 or 4))
        {
            throw new ArgumentException($"Dropout2d: expected a 4-d [N, C, H, W] or 3-d [N, C, L] input, but got shape {ShapeUtil.Format(input._shape)}.");
        }
        if (!training || p == 0) return input;
        var maskShape = new int[input.Rank];
        Array.Fill(maskShape, 1);
        maskShape[0] = input._shape[0];
        maskShape[1] = input._shape[1];
        return input * DropoutMask(maskShape, FloatDType("Dropout2d", input), p, rng);
    }

    /// <summary>A mask of <paramref name="shape"/>: 0 with probability p, else 1/(1 − p), one draw per element.</summary>
    private static Tensor DropoutMask(int[] shape, DType dtype, double p, Rng? rng)
    {
        if (p == 1) return Tensor.Zeros(shape, dtype);
        if (dtype == DType.Float32)
        {
            // The same routine compiled code calls, so one Rng state gives one mask in both modes.
            var mask = Tensor.Empty(shape, dtype);
            Kernels.DropoutKernel.Mask(mask.Span<float>(), p, rng);
            return mask;
        }
        var m = Tensor.Rand(shape, dtype, rng: rng);
        double scale = 1.0 / (1.0 - p);
        var s = m.Span<double>();
        for (int i = 0; i < s.Length; i++) s[i] = s[i] >= p ? scale : 0.0;
        return m;
    }
}
