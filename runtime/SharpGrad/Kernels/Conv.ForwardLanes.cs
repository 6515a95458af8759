using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SharpGrad.Kernels;

// The forward of a stride-1 convolution with the output channels in the vector lanes (used when O is a multiple of two
// vectors and k is not short: the CNN's conv2 forward, O = 32, at both widths; its input gradient, a convolution with 16
// outputs, with AVX2). yT[l, o] = Σ_k xp[off_k + l'] · wT[k, o]: tiles of R = V.AxpyRows output positions × 2 vectors of
// channels, the k rows streamed (R broadcasts from xp and two loads of wT per k), the bias and the ReLU applied to the
// accumulators; then yT is transposed (RecurrentKernel.TransposeStrided) and copied into y[o, l] (or added to it).
// Against the implicit GEMM with the positions in the lanes (Conv.Implicit.cs) it wastes no rows of the weights (O = 32
// in blocks of 6 computed 36) and no padded columns (only the valid positions: 196 of 198 computed for a 14×14 output,
// against 224), for one transpose of the output per sample in L1. Summation order per output: k = (c, i, j) in order.
internal static partial class Conv
{
    /// <summary>
    /// y = conv(x, w) + bias (ReLU when <paramref name="relu"/>), or y += conv(x, w) when <paramref name="accumulate"/> (no
    /// bias, no ReLU: the input gradient's form), with the output channels in the vector lanes of <typeparamref name="V"/>;
    /// requires the implicit path's geometry (<see cref="UseImplicit"/>) and O a multiple of 2·V.Count. Both widths run
    /// anywhere (a width the machine lacks is emulated), so the tests check both.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ForwardLanes<T, V, TV>(in ConvGeometry g, T[] x, T[] w, T[]? bias, T[] y, bool relu, bool accumulate)
        where T : unmanaged, INumber<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        int r = V.AxpyRows, w2 = 2 * V.Count;
        if (g.O % w2 != 0)
            throw new ArgumentException($"ForwardLanes: O = {g.O} is not a multiple of {w2} (two vectors of {V.Count}); use the implicit GEMM.");
        if (accumulate && (bias is not null || relu))
            throw new ArgumentException("ForwardLanes: an accumulated output takes neither a bias nor a ReLU.");
        var lay = new ImplicitLayout(g, w2, r);
        var offsets = Scratch<int>.Pool.Rent(lay.K4);
        lay.FillOffsets(g, offsets);
        var wT = Scratch<T>.Pool.Rent(lay.K * g.O);
        RecurrentKernel.TransposeStrided(w, 0, lay.K, g.O, lay.K, wT);
        int parts = Parts(g);
        var body = new LanesForwardPart<T, V, TV>(g, lay, parts, x, wT, bias, y, relu, accumulate, offsets);
        if (parts > 1) Parallelism.For(parts, body);
        else body.Invoke(0);
        Scratch<T>.Pool.Return(wT);
        Scratch<int>.Pool.Return(offsets);
    }

    private readonly struct LanesForwardPart<T, V, TV>(ConvGeometry g, ImplicitLayout lay, int parts, T[] x, T[] wT, T[]? bias, T[] y, bool relu, bool accumulate, int[] offsets)
        : IParallelBody where T : unmanaged, INumber<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int part)
        {
            int r = V.AxpyRows, w = V.Count, l = g.HO * g.WO;
            var xp = Scratch<T>.Pool.Rent(lay.XpLength);
            var yT = Scratch<T>.Pool.Rent(l * g.O);
            var yo = Scratch<T>.Pool.Rent(l * g.O);
            xp.AsSpan(0, lay.XpLength).Clear();
            Span<nint> pos = stackalloc nint[8];
            ref T x0 = ref MemoryMarshal.GetArrayDataReference(xp);
            ref T yT0 = ref MemoryMarshal.GetArrayDataReference(yT);
            ref T w0 = ref MemoryMarshal.GetArrayDataReference(wT);
            ref int off0 = ref MemoryMarshal.GetArrayDataReference(offsets);
            for (int n = g.N * part / parts; n < g.N * (part + 1) / parts; n++)
            {
                lay.FillInput(g, x, n, xp);
                for (int l0 = 0; l0 < l; l0 += r)
                {
                    int rows = Math.Min(r, l - l0);
                    // the tile's positions in xp (padded width); a short last tile repeats its last position (not stored)
                    for (int q = 0; q < r; q++)
                    {
                        int li = l0 + Math.Min(q, rows - 1);
                        pos[q] = (nint)(li / g.WO) * lay.Wp + li % g.WO;
                    }
                    for (int o = 0; o < g.O; o += 2 * w)
                    {
                        TV b0 = default, b1 = default;
                        if (bias is not null)
                        {
                            b0 = V.Load(ref bias[o], 0);
                            b1 = V.Load(ref bias[o], (nuint)w);
                        }
                        ForwardTile<T, V, TV>(ref x0, ref off0, lay.K, pos, ref Unsafe.Add(ref w0, o), g.O,
                            ref Unsafe.Add(ref yT0, l0 * g.O + o), g.O, rows, b0, b1, relu);
                    }
                }
                // y[n] = yTᵀ (or += it): transposed in L1, then one contiguous copy or add of the sample's O·L outputs
                RecurrentKernel.TransposeStrided(yT, 0, g.O, l, g.O, yo);
                var dst = y.AsSpan(n * g.O * l, g.O * l);
                if (accumulate) Gemm.AddRow<T>(yo.AsSpan(0, g.O * l), dst);
                else yo.AsSpan(0, g.O * l).CopyTo(dst);
            }
            Scratch<T>.Pool.Return(yo);
            Scratch<T>.Pool.Return(yT);
            Scratch<T>.Pool.Return(xp);
        }
    }

    /// <summary>
    /// C[r, 0..2w) = act(Σ_{q &lt; k} xp[off[q] + pos[r]] · wT[q·ldw + 0..2w) + (b0, b1)) for r &lt; <paramref name="rows"/> ≤ R =
    /// <c>V.AxpyRows</c> (12 or 16 accumulators), C's rows <paramref name="ldc"/> apart; act = ReLU (NaN kept, −0 → +0) or none.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ForwardTile<T, V, TV>(ref T xp, ref int off, int k, ReadOnlySpan<nint> pos, ref T wT, int ldw, ref T c, int ldc, int rows,
        TV b0, TV b1, bool relu)
        where T : unmanaged, INumber<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        int w = V.Count;
        bool eight = V.AxpyRows == 8;
        nint p0 = pos[0], p1 = pos[1], p2 = pos[2], p3 = pos[3], p4 = pos[4], p5 = pos[5];
        nint p6 = eight ? pos[6] : 0, p7 = eight ? pos[7] : 0;
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        TV c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        nint step = ldw;
        ref T wq = ref wT;
        for (int q = 0; q < k; q++)
        {
            ref T a = ref Unsafe.Add(ref xp, (nint)Unsafe.Add(ref off, q));
            var u0 = V.Load(ref wq, 0);
            var u1 = V.Load(ref wq, (nuint)w);
            var v = V.Broadcast(Unsafe.Add(ref a, p0));
            c00 = V.MultiplyAdd(v, u0, c00); c01 = V.MultiplyAdd(v, u1, c01);
            v = V.Broadcast(Unsafe.Add(ref a, p1));
            c10 = V.MultiplyAdd(v, u0, c10); c11 = V.MultiplyAdd(v, u1, c11);
            v = V.Broadcast(Unsafe.Add(ref a, p2));
            c20 = V.MultiplyAdd(v, u0, c20); c21 = V.MultiplyAdd(v, u1, c21);
            v = V.Broadcast(Unsafe.Add(ref a, p3));
            c30 = V.MultiplyAdd(v, u0, c30); c31 = V.MultiplyAdd(v, u1, c31);
            v = V.Broadcast(Unsafe.Add(ref a, p4));
            c40 = V.MultiplyAdd(v, u0, c40); c41 = V.MultiplyAdd(v, u1, c41);
            v = V.Broadcast(Unsafe.Add(ref a, p5));
            c50 = V.MultiplyAdd(v, u0, c50); c51 = V.MultiplyAdd(v, u1, c51);
            if (eight)
            {
                v = V.Broadcast(Unsafe.Add(ref a, p6));
                c60 = V.MultiplyAdd(v, u0, c60); c61 = V.MultiplyAdd(v, u1, c61);
                v = V.Broadcast(Unsafe.Add(ref a, p7));
                c70 = V.MultiplyAdd(v, u0, c70); c71 = V.MultiplyAdd(v, u1, c71);
            }
            wq = ref Unsafe.Add(ref wq, step);
        }
        StoreAct<T, V, TV>(ref c, c00, c01, b0, b1, relu, w);
        if (rows > 1) StoreAct<T, V, TV>(ref Unsafe.Add(ref c, ldc), c10, c11, b0, b1, relu, w);
        if (rows > 2) StoreAct<T, V, TV>(ref Unsafe.Add(ref c, 2 * ldc), c20, c21, b0, b1, relu, w);
        if (rows > 3) StoreAct<T, V, TV>(ref Unsafe.Add(ref c, 3 * ldc), c30, c31, b0, b1, relu, w);
        if (rows > 4) StoreAct<T, V, TV>(ref Unsafe.Add(ref c, 4 * ldc), c40, c41, b0, b1, relu, w);
        if (rows > 5) StoreAct<T, V, TV>(ref Unsafe.Add(ref c, 5 * ldc), c50, c51, b0, b1, relu, w);
        if (eight && rows > 6) StoreAct<T, V, TV>(ref Unsafe.Add(ref c, 6 * ldc), c60, c61, b0, b1, relu, w);
        if (eight && rows > 7) StoreAct<T, V, TV>(ref Unsafe.Add(ref c, 7 * ldc), c70, c71, b0, b1, relu, w);
    }

    /// <summary>c[0..2w) = act((v0, v1) + (b0, b1)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreAct<T, V, TV>(ref T c, TV v0, TV v1, TV b0, TV b1, bool relu, int w)
        where T : unmanaged, INumber<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        V.Store(Act<T, TV>(V.Add(v0, b0), relu), ref c, 0);
        V.Store(Act<T, TV>(V.Add(v1, b1), relu), ref c, (nuint)w);
    }

    /// <summary>ReLU of a vector as torch.relu (NaN stays NaN, −0 becomes +0) when <paramref name="relu"/>, else the vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Act<T, TV>(TV v, bool relu) where T : unmanaged, INumber<T> where TV : struct
    {
        if (!relu) return v;
        if (typeof(TV) == typeof(Vector512<T>))
        {
            var u = Unsafe.As<TV, Vector512<T>>(ref v);
            u = Vector512.ConditionalSelect(Vector512.GreaterThan(u, Vector512<T>.Zero) | ~Vector512.Equals(u, u), u, Vector512<T>.Zero);
            return Unsafe.As<Vector512<T>, TV>(ref u);
        }
        if (typeof(TV) == typeof(Vector256<T>))
        {
            var u = Unsafe.As<TV, Vector256<T>>(ref v);
            u = Vector256.ConditionalSelect(Vector256.GreaterThan(u, Vector256<T>.Zero) | ~Vector256.Equals(u, u), u, Vector256<T>.Zero);
            return Unsafe.As<Vector256<T>, TV>(ref u);
        }
        throw new NotSupportedException($"ReLU of {typeof(TV).Name}: only 256- and 512-bit vectors.");
    }
}
