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
        var dtype = FloatDType("Dropout", input);
        Tensor mask;
        if (p == 1)
        {
            mask = Tensor.Zeros(input._shape, dtype);
        }
        else if (dtype == DType.Float32)
        {
            // The same routine compiled code calls, so one Rng state gives one mask in both modes.
            mask = Tensor.Empty(input._shape, dtype);
            Kernels.DropoutKernel.Mask(mask.Span<float>(), p, rng);
        }
        else
        {
            mask = Tensor.Rand(input._shape, dtype, rng: rng);
            double scale = 1.0 / (1.0 - p);
            var s = mask.Span<double>();
            for (int i = 0; i < s.Length; i++) s[i] = s[i] >= p ? scale : 0.0;
        }
        return input * mask;
    }
}
