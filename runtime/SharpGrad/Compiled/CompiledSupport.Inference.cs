using SharpGrad.Kernels;

namespace SharpGrad;

public static partial class CompiledSupport
{
    /// <summary>
    /// Two Linear layers with the ReLU between them on one sample (PyTorch: <c>F.linear(F.relu(F.linear(x, W1, b1)), W2, b2)</c>,
    /// batch-1 inference of an MLP): h = relu(x · weight1ᵀ + bias1) and y = h · weight2ᵀ + bias2 (then
    /// <paramref name="activation2"/>) in one pass over the cores, from the packed copies of the weights
    /// (Kernels/Gemm.Gemv.Pair.cs). Returns false, having written nothing, when that pass does not apply (more than one
    /// row, the weights not packed yet at their current versions): the program then runs the two
    /// <see cref="LinearForward"/> calls.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static bool LinearReluLinearForward(float[] x, Tensor weight1, Tensor? bias1, float[] h, Tensor weight2, Tensor? bias2, float[] y,
        int n, LinearShape shape1, LinearShape shape2, GemmActivation activation2 = GemmActivation.None)
    {
        if (n * shape1.RowsPerItem != 1 || n * shape2.RowsPerItem != 1) return false;
        var epi1 = new GemmEpilogue(bias1 is null ? null : Dense(bias1), activation: GemmActivation.Relu).ToEpi();
        var epi2 = new GemmEpilogue(bias2 is null ? null : Dense(bias2), activation: activation2).ToEpi();
        return Gemm.TryLinearReluLinearRowPacked(weight1, x, 0, h, 0, epi1, weight2, y, 0, epi2, allowParallel: true);
    }
}
