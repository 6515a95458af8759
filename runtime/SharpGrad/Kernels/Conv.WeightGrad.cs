using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SharpGrad.Kernels;

// The weight gradient of a stride-1 convolution with the output channels in the vector lanes (used when O is a multiple
// of two vectors: the CNN's conv2, O = 32, at both widths, and conv1, O = 16, with AVX2). Per sample, gy is transposed to
// gyT[L, O]; then gwT[k, o] += Σ_l xp[off_k + l'] · gyT[l, o] is a broadcast product like the direct GEMM's AxpyTile:
// R = V.AxpyRows rows of the implicit im2col (xp's runs, through the offsets table) × 2 vectors of output channels, the
// positions l streamed. Against the dot-product form (Gemm.Dot4x4, two 2×4 passes on 16 registers) it has no horizontal
// sums, 12 FMAs per 8 loads instead of 8 per 6, and it skips the padded columns (the dot products run over the padded
// width, 2 of 16 columns wasted for 14-wide rows). Summation order: per output element, the positions in (oh, ow) order
// within a sample, the samples in order within a part, the parts in part order — independent of the threads.
internal static partial class Conv
{
    /// <summary>
    /// Adds the weight gradient Σ_n gy_n · im2col(x_n)ᵀ to <paramref name="gw"/>[O, K] with the output channels in the vector
    /// lanes of <typeparamref name="V"/> (<see cref="Gemm.Simd512{T}"/> or <see cref="Gemm.Simd256{T}"/>); requires the
    /// implicit path's geometry (<see cref="UseImplicit"/>) and O a multiple of 2·V.Count. Both widths run anywhere (a width
    /// the machine lacks is emulated), so the tests check both.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void WeightGradLanes<T, V, TV>(in ConvGeometry g, T[] x, T[] gy, T[] gw, T[]? biasRows = null)
        where T : unmanaged, INumber<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        int r = V.AxpyRows, w2 = 2 * V.Count;
        if (g.O % w2 != 0)
            throw new ArgumentException($"WeightGradLanes: O = {g.O} is not a multiple of {w2} (two vectors of {V.Count}); use the dot-product path.");
        var lay = new ImplicitLayout(g, w2, r);
        int kr = (lay.K + r - 1) / r * r;
        var offsets = Scratch<int>.Pool.Rent(Math.Max(kr, lay.K4));
        lay.FillOffsets(g, offsets);
        for (int p = lay.K; p < kr; p++) offsets[p] = lay.Zero;   // rows after K read zeros (their sums are dropped)
        int parts = Parts(g);
        int size = kr * g.O;
        var partial = Scratch<T>.Pool.Rent(parts * size);
        var body = new LanesWeightGradPart<T, V, TV>(g, lay, parts, kr, x, gy, offsets, partial, biasRows);
        if (parts > 1) Parallelism.For(parts, body);
        else body.Invoke(0);
        // gw[o, k] += Σ_part gwT_part[k, o], in part order: gw transposed into [K, O], the parts' first K·O elements added
        // to it one part after another (contiguous vector adds; each element's sum is gw + part 0 + part 1 + … as the
        // element-by-element loop before session 23 made it, which read the parts at a stride of O), then transposed back.
        int ko = lay.K * g.O;
        var acc = Scratch<T>.Pool.Rent(ko);
        RecurrentKernel.TransposeStrided(gw, 0, lay.K, g.O, lay.K, acc);
        for (int part = 0; part < parts; part++) Gemm.AddRow<T>(partial.AsSpan(part * size, ko), acc.AsSpan(0, ko));
        RecurrentKernel.TransposeStrided(acc, 0, g.O, lay.K, g.O, gw);
        Scratch<T>.Pool.Return(acc);
        Scratch<T>.Pool.Return(partial);
        Scratch<int>.Pool.Return(offsets);
    }

    private readonly struct LanesWeightGradPart<T, V, TV>(ConvGeometry g, ImplicitLayout lay, int parts, int kr, T[] x, T[] gy, int[] offsets, T[] partial, T[]? biasRows)
        : IParallelBody where T : unmanaged, INumber<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int part)
        {
            int r = V.AxpyRows, w2 = 2 * V.Count, l = g.HO * g.WO;
            var xp = Scratch<T>.Pool.Rent(lay.XpLength);
            var gyT = Scratch<T>.Pool.Rent(l * g.O);
            xp.AsSpan(0, lay.XpLength).Clear();
            int size = kr * g.O;
            var gwT = partial.AsSpan(part * size, size);
            gwT.Clear();
            ref T c0 = ref MemoryMarshal.GetReference(gwT);
            ref T x0 = ref MemoryMarshal.GetArrayDataReference(xp);
            ref T g0 = ref MemoryMarshal.GetArrayDataReference(gyT);
            ref int off0 = ref MemoryMarshal.GetArrayDataReference(offsets);
            for (int n = g.N * part / parts; n < g.N * (part + 1) / parts; n++)
            {
                if (biasRows is not null) BiasRows(g, gy, n, biasRows);
                lay.FillInput(g, x, n, xp);
                RecurrentKernel.TransposeStrided(gy, n * g.O * l, l, g.O, l, gyT);
                for (int k = 0; k < kr; k += r)
                    for (int o = 0; o < g.O; o += w2)
                        WeightGradTile<T, V, TV>(ref x0, ref Unsafe.Add(ref off0, k), ref Unsafe.Add(ref g0, o), g.O, g.HO, g.WO, lay.Wp,
                            ref Unsafe.Add(ref c0, k * g.O + o), g.O);
            }
            Scratch<T>.Pool.Return(gyT);
            Scratch<T>.Pool.Return(xp);
        }
    }

    /// <summary>
    /// C[r, 0..2w) += Σ_{oh &lt; ho, ow &lt; wo} xp[off[r] + oh·wp + ow] · gT[(oh·wo + ow)·ldg + 0..2w) for r &lt; R =
    /// <c>V.AxpyRows</c> (6 rows of 256-bit vectors, 8 of 512-bit: 12 or 16 accumulators), C's rows <paramref name="ldc"/> apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void WeightGradTile<T, V, TV>(ref T xp, ref int off, ref T gT, int ldg, int ho, int wo, int wp, ref T c, int ldc)
        where T : unmanaged, INumber<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        int w = V.Count;
        bool eight = V.AxpyRows == 8;
        nint o0 = off, o1 = Unsafe.Add(ref off, 1), o2 = Unsafe.Add(ref off, 2), o3 = Unsafe.Add(ref off, 3);
        nint o4 = Unsafe.Add(ref off, 4), o5 = Unsafe.Add(ref off, 5);
        nint o6 = eight ? Unsafe.Add(ref off, 6) : 0, o7 = eight ? Unsafe.Add(ref off, 7) : 0;
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        TV c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        nint step = ldg;
        ref T b = ref gT;
        for (int oh = 0; oh < ho; oh++)
        {
            ref T a = ref Unsafe.Add(ref xp, (nint)oh * wp);
            for (int ow = 0; ow < wo; ow++)
            {
                var b0 = V.Load(ref b, 0);
                var b1 = V.Load(ref b, (nuint)w);
                var v = V.Broadcast(Unsafe.Add(ref a, o0));
                c00 = V.MultiplyAdd(v, b0, c00); c01 = V.MultiplyAdd(v, b1, c01);
                v = V.Broadcast(Unsafe.Add(ref a, o1));
                c10 = V.MultiplyAdd(v, b0, c10); c11 = V.MultiplyAdd(v, b1, c11);
                v = V.Broadcast(Unsafe.Add(ref a, o2));
                c20 = V.MultiplyAdd(v, b0, c20); c21 = V.MultiplyAdd(v, b1, c21);
                v = V.Broadcast(Unsafe.Add(ref a, o3));
                c30 = V.MultiplyAdd(v, b0, c30); c31 = V.MultiplyAdd(v, b1, c31);
                v = V.Broadcast(Unsafe.Add(ref a, o4));
                c40 = V.MultiplyAdd(v, b0, c40); c41 = V.MultiplyAdd(v, b1, c41);
                v = V.Broadcast(Unsafe.Add(ref a, o5));
                c50 = V.MultiplyAdd(v, b0, c50); c51 = V.MultiplyAdd(v, b1, c51);
                if (eight)
                {
                    v = V.Broadcast(Unsafe.Add(ref a, o6));
                    c60 = V.MultiplyAdd(v, b0, c60); c61 = V.MultiplyAdd(v, b1, c61);
                    v = V.Broadcast(Unsafe.Add(ref a, o7));
                    c70 = V.MultiplyAdd(v, b0, c70); c71 = V.MultiplyAdd(v, b1, c71);
                }
                a = ref Unsafe.Add(ref a, 1);
                b = ref Unsafe.Add(ref b, step);
            }
        }
        AddTo<T, V, TV>(ref c, c00, c01, w);
        AddTo<T, V, TV>(ref Unsafe.Add(ref c, ldc), c10, c11, w);
        AddTo<T, V, TV>(ref Unsafe.Add(ref c, 2 * ldc), c20, c21, w);
        AddTo<T, V, TV>(ref Unsafe.Add(ref c, 3 * ldc), c30, c31, w);
        AddTo<T, V, TV>(ref Unsafe.Add(ref c, 4 * ldc), c40, c41, w);
        AddTo<T, V, TV>(ref Unsafe.Add(ref c, 5 * ldc), c50, c51, w);
        if (eight)
        {
            AddTo<T, V, TV>(ref Unsafe.Add(ref c, 6 * ldc), c60, c61, w);
            AddTo<T, V, TV>(ref Unsafe.Add(ref c, 7 * ldc), c70, c71, w);
        }
    }

    /// <summary>c[0..2w) += (v0, v1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddTo<T, V, TV>(ref T c, TV v0, TV v1, int w)
        where T : unmanaged, INumber<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        V.Store(V.Add(V.Load(ref c, 0), v0), ref c, 0);
        V.Store(V.Add(V.Load(ref c, (nuint)w), v1), ref c, (nuint)w);
    }
}
