using SharpGrad.Kernels;

namespace SharpGrad;

// Glue for a compiled MatMul whose batch dims broadcast: one operand shared by every matrix of the other
// ([B, H, T, D] · [D, E], [T, T] · [N, T, D], [1, T, T] · [N, T, T]). The same GEMM kernel as every product.
public static partial class CompiledSupport
{
    /// <summary>y_i = a_i · b_i for <paramref name="count"/> matrices; a shared operand (<paramref name="aShared"/>, <paramref name="bShared"/>) is the same matrix for all.</summary>
    public static void MatMulBroadcastForward(float[] a, float[] b, float[] y, int count, MatMulShape shape, bool aShared, bool bShared)
    {
        int m = shape.M, k = shape.K, q = shape.N;
        for (int i = 0; i < count; i++)
        {
            Gemm.Sgemm(false, false, m, q, k, 1f, a, aShared ? 0 : i * m * k, k, b, bShared ? 0 : i * k * q, q, 0f, y, i * m * q, q);
        }
    }

    /// <summary>
    /// The gradients of <see cref="MatMulBroadcastForward"/>, added to: ga += gy · bᵀ, gb += aᵀ · gy per matrix; a shared
    /// operand's gradient is the sum over every matrix (the broadcast dims reduced). Either may be null.
    /// </summary>
    public static void MatMulBroadcastBackward(float[] a, float[] b, float[] gy, float[]? ga, float[]? gb, int count, MatMulShape shape, bool aShared, bool bShared)
    {
        int m = shape.M, k = shape.K, q = shape.N;
        for (int i = 0; i < count; i++)
        {
            int ao = aShared ? 0 : i * m * k, bo = bShared ? 0 : i * k * q;
            if (ga is not null) Gemm.Sgemm(false, true, m, k, q, 1f, gy, i * m * q, q, b, bo, q, 1f, ga, ao, k);
            if (gb is not null) Gemm.Sgemm(true, false, k, q, m, 1f, a, ao, k, gy, i * m * q, q, 1f, gb, bo, q);
        }
    }
}
