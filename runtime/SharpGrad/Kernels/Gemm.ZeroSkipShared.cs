namespace SharpGrad.Kernels;

// One list of a matrix's nonzeros for several skipping products. The transformer's feed-forward block has two weight
// gradients whose A is transposed and whose zeros are the same: linear2's over the activation act (actᵀ·gy) and linear1's
// over gFf (gFfᵀ·x), where gFf = ReLU's backward is zero wherever act is. Each listed its A's columns (ListColumns8: a
// strided pass over 2 MB, ~0.25–0.3 ms at the workload's 1024×512) on its own. With a SkipZerosListCache the first
// product keeps its lists (the nonzero positions of act), and the second walks the same positions, reading its own A's
// values at them (SkipZerosPart's ValuesFromA) instead of a list of values: a position whose value is an exact zero there
// adds 0·b to its chain, which leaves it unchanged (b is finite, the chain never holds −0: see Gemm.ZeroSkip.cs), so the
// product has the same bits as when it listed its own nonzeros.
public static partial class Gemm
{
    /// <summary>
    /// The lists of one skipping product's op(A) (<see cref="SkipZerosProduct"/>), kept for another product whose op(A) has
    /// the same shape and is zero wherever the first one's is (its nonzeros a subset of the listed positions): built by the
    /// first product that gets the cache unbuilt, reused (positions only, values read from the second A) by the next ones of
    /// the same shape. The owner calls <see cref="Release"/> when done (the arrays are the scratch pool's).
    /// </summary>
    internal sealed class SkipZerosListCache
    {
        internal float[]? Values;
        internal int[]? Rows;
        internal int[]? Ends;
        internal bool TransA;
        internal int M, K, Kb, ListStride;

        /// <summary>Tests: the products that walked these lists instead of listing their own A.</summary>
        internal int Reuses;

        /// <summary>Whether the lists hold a product's positions.</summary>
        internal bool Built => Rows is not null;

        /// <summary>Whether these lists can serve a product of this shape (the same op(A) rows, terms and k-blocks).</summary>
        internal bool Fits(bool transA, int m, int k, int kb, int listStride) =>
            Built && TransA == transA && M == m && K == k && Kb == kb && ListStride == listStride;

        /// <summary>Takes a product's freshly built lists (they are then the cache's to return).</summary>
        internal void Keep(float[] values, int[] rows, int[] ends, bool transA, int m, int k, int kb, int listStride)
        {
            Release();
            (Values, Rows, Ends, TransA, M, K, Kb, ListStride) = (values, rows, ends, transA, m, k, kb, listStride);
        }

        /// <summary>Returns the lists to the scratch pool; the cache is unbuilt after.</summary>
        internal void Release()
        {
            if (Values is not null) Scratch<float>.Pool.Return(Values);
            if (Rows is not null) Scratch<int>.Pool.Return(Rows);
            if (Ends is not null) Scratch<int>.Pool.Return(Ends);
            (Values, Rows, Ends) = (null, null, null);
        }
    }

    /// <summary>A compile-time flag as a type argument (folded by the JIT: the skipping kernels' value source).</summary>
    internal interface IFlag
    {
        static abstract bool Value { get; }
    }

    private readonly struct FlagOn : IFlag { public static bool Value => true; }
    private readonly struct FlagOff : IFlag { public static bool Value => false; }
}
