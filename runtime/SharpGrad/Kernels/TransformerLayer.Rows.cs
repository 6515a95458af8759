using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SharpGrad.Kernels;

// The encoder layer's bias gradients as column sums held in 512-bit registers across the rows (session 25), and the
// feed-forward block's ReLU backward fused with linear1's bias gradient: the same additions in the same order as the
// per-row TensorPrimitives.Add of ReduceKernel.Sum (each element gb + g[0] + g[1] + … in row order), so the same bits, without
// a library call per token row (1024 per bias and layer) and, for linear1, without a second pass over the 2 MB gradient.
public static partial class TransformerLayerKernel
{
    /// <summary>Whether <see cref="AddColumnSums"/> sums in registers rows of <paramref name="cols"/> elements: AVX-512 and whole vectors.</summary>
    internal static bool ColumnSumsInRegisters(int cols) => !t_columnSumsOff && Vector512.IsHardwareAccelerated && cols >= 16 && cols % 16 == 0;

    /// <summary>Tests and bench: true sends the bias gradients and linear1's ReLU backward down the old path (this thread only).</summary>
    [ThreadStatic] internal static bool t_columnSumsOff;

    /// <summary>
    /// sum[sumOff + j] += Σ_r g[r·cols + j] for r = 0..rows in order of r (<see cref="ReduceKernel.Sum{T}"/> with
    /// accumulate, inner = cols, outer = 1), the columns eight vectors at a time in registers, the rest one vector at a time.
    /// </summary>
    internal static void AddColumnSums(float[] g, int rows, int cols, float[] sum, int sumOff)
    {
        if (!ColumnSumsInRegisters(cols))
        {
            ReduceKernel.Sum<float>(g.AsSpan(0, rows * cols), sum.AsSpan(sumOff, cols), 1, rows, cols, 1f, accumulate: true);
            return;
        }
        if ((long)rows * cols > g.Length || sumOff < 0 || sumOff + cols > sum.Length)
            throw new ArgumentException($"Column sums of {rows} rows of {cols} need {(long)rows * cols} elements (have {g.Length}) and {cols} sums from {sumOff} (have {sum.Length}).");
        ColumnSums512(ref MemoryMarshal.GetArrayDataReference(g), ref MemoryMarshal.GetArrayDataReference(g), rows, cols,
            ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(sum), sumOff), relu: false);
    }

    /// <summary>
    /// ReLU's backward in place, g = g·(act &gt; 0 ? 1 : 0) (<c>Pointwise.Backward&lt;ReluOp&gt;</c>'s bits: the masked elements are
    /// g·0, ±0 or NaN), with the result's column sums added to <paramref name="bias"/> as <see cref="AddColumnSums"/> adds
    /// them: linear1's bias gradient in the same pass.
    /// </summary>
    internal static void ReluBackwardAddColumnSums(float[] act, float[] g, int rows, int cols, float[] bias)
    {
        if ((long)rows * cols > g.Length || (long)rows * cols > act.Length || cols > bias.Length || !ColumnSumsInRegisters(cols))
            throw new ArgumentException($"ReLU backward with column sums: {rows} rows of {cols} need whole 512-bit vectors and arrays that hold them.");
        ColumnSums512(ref MemoryMarshal.GetArrayDataReference(g), ref MemoryMarshal.GetArrayDataReference(act), rows, cols,
            ref MemoryMarshal.GetArrayDataReference(bias), relu: true);
    }

    /// <summary>
    /// The column sums of <paramref name="g"/> [rows, cols] added to <paramref name="sum"/>, each column's chain in row order; with
    /// <paramref name="relu"/> each element first becomes g·(act &gt; 0 ? 1 : 0) and is stored back.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ColumnSums512(ref float g, ref float act, int rows, int cols, ref float sum, bool relu)
    {
        nuint ld = (nuint)cols;
        int c = 0;
        for (; c + 128 <= cols; c += 128)
        {
            ref float s = ref Unsafe.Add(ref sum, c);
            Vector512<float> s0 = Vector512.LoadUnsafe(ref s, 0), s1 = Vector512.LoadUnsafe(ref s, 16), s2 = Vector512.LoadUnsafe(ref s, 32),
                s3 = Vector512.LoadUnsafe(ref s, 48), s4 = Vector512.LoadUnsafe(ref s, 64), s5 = Vector512.LoadUnsafe(ref s, 80),
                s6 = Vector512.LoadUnsafe(ref s, 96), s7 = Vector512.LoadUnsafe(ref s, 112);
            ref float gr = ref Unsafe.Add(ref g, c);
            ref float ar = ref Unsafe.Add(ref act, c);
            for (int r = 0; r < rows; r++)
            {
                s0 += Term(ref gr, ref ar, 0, relu);
                s1 += Term(ref gr, ref ar, 16, relu);
                s2 += Term(ref gr, ref ar, 32, relu);
                s3 += Term(ref gr, ref ar, 48, relu);
                s4 += Term(ref gr, ref ar, 64, relu);
                s5 += Term(ref gr, ref ar, 80, relu);
                s6 += Term(ref gr, ref ar, 96, relu);
                s7 += Term(ref gr, ref ar, 112, relu);
                gr = ref Unsafe.Add(ref gr, ld);
                ar = ref Unsafe.Add(ref ar, ld);
            }
            s0.StoreUnsafe(ref s, 0);
            s1.StoreUnsafe(ref s, 16);
            s2.StoreUnsafe(ref s, 32);
            s3.StoreUnsafe(ref s, 48);
            s4.StoreUnsafe(ref s, 64);
            s5.StoreUnsafe(ref s, 80);
            s6.StoreUnsafe(ref s, 96);
            s7.StoreUnsafe(ref s, 112);
        }
        for (; c < cols; c += 16)
        {
            ref float s = ref Unsafe.Add(ref sum, c);
            var s0 = Vector512.LoadUnsafe(ref s);
            ref float gr = ref Unsafe.Add(ref g, c);
            ref float ar = ref Unsafe.Add(ref act, c);
            for (int r = 0; r < rows; r++)
            {
                s0 += Term(ref gr, ref ar, 0, relu);
                gr = ref Unsafe.Add(ref gr, ld);
                ar = ref Unsafe.Add(ref ar, ld);
            }
            s0.StoreUnsafe(ref s);
        }
    }

    /// <summary>One vector of a row: g (or, with <paramref name="relu"/>, act &gt; 0 ? g : +0 — PyTorch's threshold_backward selects, so
    /// a NaN or ±∞ g at a dead unit gives 0 — stored back into g).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Term(ref float g, ref float act, nuint j, bool relu)
    {
        var v = Vector512.LoadUnsafe(ref g, j);
        if (!relu) return v;
        v &= Vector512.GreaterThan(Vector512.LoadUnsafe(ref act, j), Vector512<float>.Zero);
        v.StoreUnsafe(ref g, j);
        return v;
    }
}
