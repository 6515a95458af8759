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

    /// <summary>
    /// y = a · b with PyTorch's matmul broadcasting of both operands' batch dims (<c>[N, H, T, d] · [N, 1, d, T]</c>,
    /// <c>[N, H, T, d] · [H, d, e]</c>): <paramref name="outBatch"/> is the output's dims before the last two,
    /// <paramref name="aBatch"/> and <paramref name="bBatch"/> each operand's, aligned to them from the right (1 where an
    /// operand is broadcast); one GEMM per output matrix.
    /// </summary>
    public static void MatMulBatchBroadcastForward(float[] a, float[] b, float[] y, MatMulShape shape, int[] outBatch, int[] aBatch, int[] bBatch)
    {
        int m = shape.M, k = shape.K, q = shape.N;
        int count = BatchCount(outBatch);
        for (int i = 0; i < count; i++)
        {
            BatchOffsets(i, outBatch, aBatch, bBatch, out int ai, out int bi);
            Gemm.Sgemm(false, false, m, q, k, 1f, a, ai * m * k, k, b, bi * k * q, q, 0f, y, i * m * q, q);
        }
    }

    /// <summary>
    /// The gradients of <see cref="MatMulBatchBroadcastForward"/>, added to: ga += gy · bᵀ, gb += aᵀ · gy per output matrix,
    /// so a broadcast operand's matrix receives the sum over the matrices that shared it. Either may be null.
    /// </summary>
    public static void MatMulBatchBroadcastBackward(float[] a, float[] b, float[] gy, float[]? ga, float[]? gb, MatMulShape shape, int[] outBatch, int[] aBatch, int[] bBatch)
    {
        int m = shape.M, k = shape.K, q = shape.N;
        int count = BatchCount(outBatch);
        for (int i = 0; i < count; i++)
        {
            BatchOffsets(i, outBatch, aBatch, bBatch, out int ai, out int bi);
            if (ga is not null) Gemm.Sgemm(false, true, m, k, q, 1f, gy, i * m * q, q, b, bi * k * q, q, 1f, ga, ai * m * k, k);
            if (gb is not null) Gemm.Sgemm(true, false, k, q, m, 1f, a, ai * m * k, k, gy, i * m * q, q, 1f, gb, bi * k * q, q);
        }
    }

    private static int BatchCount(int[] dims)
    {
        int count = 1;
        foreach (int d in dims) count *= d;
        return count;
    }

    /// <summary>The matrix of each operand that output matrix <paramref name="index"/> reads (row-major over the batch dims, broadcast dims read at 0).</summary>
    private static void BatchOffsets(int index, int[] outBatch, int[] aBatch, int[] bBatch, out int ai, out int bi)
    {
        ai = 0;
        bi = 0;
        int aStride = 1, bStride = 1;
        for (int d = outBatch.Length - 1; d >= 0; d--)
        {
            int at = index % outBatch[d];
            index /= outBatch[d];
            if (aBatch[d] != 1) ai += at * aStride;
            if (bBatch[d] != 1) bi += at * bStride;
            aStride *= aBatch[d];
            bStride *= bBatch[d];
        }
    }
}
