using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SharpGrad.Kernels;

// The LSTM cell's pointwise work of one step in one pass over each row: the four gates of a column block are read together
// (i, f, g, o are h apart), so the pre-activations, the cell and the output are each touched once, in SIMD registers
// (Gemm.Simd.cs: 512-bit vectors with AVX-512, 256-bit with AVX2), instead of seven library calls per row that each stream
// the row through memory. Columns after the last full vector, and machines without SIMD, take the scalar form of the same
// formulas (LstmForwardAt/LstmBackwardAt).
//   forward:  i, f, o = σ(a_i, a_f, a_o), g = tanh(a_g) with a = xw_t + h_{t−1}·W_hhᵀ + b_hh;
//             c = f·c_{t−1} + i·g; h = o·tanh(c)
//   backward: dc = dc_{t+1}·f_{t+1} + dh·o·(1 − tanh²c); da_i = dc·g·i(1−i); da_f = dc·c_{t−1}·f(1−f);
//             da_g = dc·i·(1−g²); da_o = dh·tanh(c)·o(1−o)
// σ(x) = 1/(1 + e^−x) and tanh(x) = 1 − 2/(e^2x + 1) in the vector form (float's eˣ inlined: Recurrent.Math.cs): both saturate to the right limits when e^x
// overflows or underflows, NaN stays NaN; tanh's absolute error near 0 is about one float ulp of 1 (1e-7).
public static partial class RecurrentKernel
{
    /// <summary>
    /// One LSTM step's cell for <paramref name="n"/> rows: gates [n, 4h] (i, f, g, o after their nonlinearities) from
    /// <paramref name="x"/> + <paramref name="hw"/> (+ <paramref name="bias"/> [4h], when not empty), then c, tanh(c) and h
    /// [n, h] (<paramref name="cPrev"/> empty: zeros).
    /// </summary>
    internal static void LstmStepForward<T>(int n, int h, ReadOnlySpan<T> x, ReadOnlySpan<T> hw, ReadOnlySpan<T> bias, Span<T> gates,
        ReadOnlySpan<T> cPrev, Span<T> c, Span<T> tanhC, Span<T> hOut) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int g = 4 * h;
        if (x.Length < n * g || hw.Length < n * g || gates.Length < n * g || c.Length < n * h || tanhC.Length < n * h || hOut.Length < n * h
            || (!bias.IsEmpty && bias.Length < g) || (!cPrev.IsEmpty && cPrev.Length < n * h))
            throw new ArgumentException($"LSTM step: the buffers are too small for {n} rows of hidden size {h}.");
        ref T x0 = ref MemoryMarshal.GetReference(x);
        ref T hw0 = ref MemoryMarshal.GetReference(hw);
        ref T b0 = ref MemoryMarshal.GetReference(bias);
        ref T a0 = ref MemoryMarshal.GetReference(gates);
        ref T cp0 = ref MemoryMarshal.GetReference(cPrev);
        ref T c0 = ref MemoryMarshal.GetReference(c);
        ref T tc0 = ref MemoryMarshal.GetReference(tanhC);
        ref T h0 = ref MemoryMarshal.GetReference(hOut);
        bool hasBias = !bias.IsEmpty, hasPrev = !cPrev.IsEmpty;
        for (int r = 0; r < n; r++)
        {
            int ro = r * g, so = r * h;
            ref T xr = ref Unsafe.Add(ref x0, ro);
            ref T hwr = ref Unsafe.Add(ref hw0, ro);
            ref T ar = ref Unsafe.Add(ref a0, ro);
            ref T cpr = ref Unsafe.Add(ref cp0, hasPrev ? so : 0);
            ref T cr = ref Unsafe.Add(ref c0, so);
            ref T tcr = ref Unsafe.Add(ref tc0, so);
            ref T hr = ref Unsafe.Add(ref h0, so);
            int j = 0;
            if (Vector512.IsHardwareAccelerated && h >= Vector512<T>.Count)
                j = LstmForwardRow<T, Gemm.Simd512<T>, Vector512<T>>(h, ref xr, ref hwr, ref b0, hasBias, ref ar, ref cpr, hasPrev, ref cr, ref tcr, ref hr);
            else if (Vector256.IsHardwareAccelerated && h >= Vector256<T>.Count)
                j = LstmForwardRow<T, Gemm.Simd256<T>, Vector256<T>>(h, ref xr, ref hwr, ref b0, hasBias, ref ar, ref cpr, hasPrev, ref cr, ref tcr, ref hr);
            for (; j < h; j++) LstmForwardAt(h, j, ref xr, ref hwr, ref b0, hasBias, ref ar, ref cpr, hasPrev, ref cr, ref tcr, ref hr);
        }
    }

    /// <summary>
    /// One LSTM step's cell backward for <paramref name="n"/> rows: with dh = <paramref name="gOut"/> + <paramref name="dhNext"/>
    /// [n, h] and the cell gradient <paramref name="dc"/> [n, h] (from step t + 1; replaced by the one for c_{t−1}), writes the
    /// gradient of the pre-activations [n, 4h] into <paramref name="dGates"/>.
    /// </summary>
    internal static void LstmStepBackward<T>(int n, int h, ReadOnlySpan<T> gOut, ReadOnlySpan<T> dhNext, ReadOnlySpan<T> gates, ReadOnlySpan<T> tanhC,
        ReadOnlySpan<T> cPrev, Span<T> dc, Span<T> dGates) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int g = 4 * h;
        if (gOut.Length < n * h || dhNext.Length < n * h || gates.Length < n * g || tanhC.Length < n * h || dc.Length < n * h || dGates.Length < n * g
            || (!cPrev.IsEmpty && cPrev.Length < n * h))
            throw new ArgumentException($"LSTM step backward: the buffers are too small for {n} rows of hidden size {h}.");
        ref T go0 = ref MemoryMarshal.GetReference(gOut);
        ref T dn0 = ref MemoryMarshal.GetReference(dhNext);
        ref T a0 = ref MemoryMarshal.GetReference(gates);
        ref T tc0 = ref MemoryMarshal.GetReference(tanhC);
        ref T cp0 = ref MemoryMarshal.GetReference(cPrev);
        ref T dc0 = ref MemoryMarshal.GetReference(dc);
        ref T dg0 = ref MemoryMarshal.GetReference(dGates);
        bool hasPrev = !cPrev.IsEmpty;
        for (int r = 0; r < n; r++)
        {
            int ro = r * g, so = r * h;
            ref T gor = ref Unsafe.Add(ref go0, so);
            ref T dnr = ref Unsafe.Add(ref dn0, so);
            ref T ar = ref Unsafe.Add(ref a0, ro);
            ref T tcr = ref Unsafe.Add(ref tc0, so);
            ref T cpr = ref Unsafe.Add(ref cp0, hasPrev ? so : 0);
            ref T dcr = ref Unsafe.Add(ref dc0, so);
            ref T dgr = ref Unsafe.Add(ref dg0, ro);
            int j = 0;
            if (Vector512.IsHardwareAccelerated && h >= Vector512<T>.Count)
                j = LstmBackwardRow<T, Gemm.Simd512<T>, Vector512<T>>(h, ref gor, ref dnr, ref ar, ref tcr, ref cpr, hasPrev, ref dcr, ref dgr);
            else if (Vector256.IsHardwareAccelerated && h >= Vector256<T>.Count)
                j = LstmBackwardRow<T, Gemm.Simd256<T>, Vector256<T>>(h, ref gor, ref dnr, ref ar, ref tcr, ref cpr, hasPrev, ref dcr, ref dgr);
            for (; j < h; j++) LstmBackwardAt(h, j, ref gor, ref dnr, ref ar, ref tcr, ref cpr, hasPrev, ref dcr, ref dgr);
        }
    }

    /// <summary>The full vectors of one row of <see cref="LstmStepForward{T}"/>; returns the first column it did not do.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int LstmForwardRow<T, V, TV>(int h, ref T x, ref T hw, ref T bias, bool hasBias, ref T act, ref T cPrev, bool hasPrev,
        ref T c, ref T tanhC, ref T hOut) where T : unmanaged, IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        int w = V.Count;
        nuint uh = (nuint)h;
        int j = 0;
        for (; j <= h - w; j += w)
        {
            nuint ji = (nuint)j, jf = ji + uh, jg = jf + uh, jo = jg + uh;
            var ai = V.Add(V.Load(ref x, ji), V.Load(ref hw, ji));
            var af = V.Add(V.Load(ref x, jf), V.Load(ref hw, jf));
            var ag = V.Add(V.Load(ref x, jg), V.Load(ref hw, jg));
            var ao = V.Add(V.Load(ref x, jo), V.Load(ref hw, jo));
            if (hasBias)
            {
                ai = V.Add(ai, V.Load(ref bias, ji));
                af = V.Add(af, V.Load(ref bias, jf));
                ag = V.Add(ag, V.Load(ref bias, jg));
                ao = V.Add(ao, V.Load(ref bias, jo));
            }
            LstmCellForward<T, V, TV>(ai, af, ag, ao, ji, uh, ref act, ref cPrev, hasPrev, ref c, ref tanhC, ref hOut);
        }
        return j;
    }

    /// <summary>
    /// The cell of one vector of units from the gates' pre-activations (<paramref name="ai"/>, <paramref name="af"/>,
    /// <paramref name="ag"/>, <paramref name="ao"/>): stores i, f, g, o at <paramref name="ji"/> + q·<paramref name="uh"/> of
    /// <paramref name="act"/>, and c, tanh(c) and h at <paramref name="ji"/>. Shared by the row loop and the fused step (Recurrent.Fused.cs).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void LstmCellForward<T, V, TV>(TV ai, TV af, TV ag, TV ao, nuint ji, nuint uh, ref T act, ref T cPrev, bool hasPrev,
        ref T c, ref T tanhC, ref T hOut) where T : unmanaged, IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        var one = V.Broadcast(T.One);
        var two = V.Broadcast(T.One + T.One);
        var zero = V.Broadcast(T.Zero);
        nuint jf = ji + uh, jg = jf + uh, jo = jg + uh;
        var i = V.Divide(one, V.Add(one, RecurrentMath.CellExp<T, V, TV>(V.Subtract(zero, ai))));
        var f = V.Divide(one, V.Add(one, RecurrentMath.CellExp<T, V, TV>(V.Subtract(zero, af))));
        var gg = V.Subtract(one, V.Divide(two, V.Add(RecurrentMath.CellExp<T, V, TV>(V.Add(ag, ag)), one)));
        var o = V.Divide(one, V.Add(one, RecurrentMath.CellExp<T, V, TV>(V.Subtract(zero, ao))));
        V.Store(i, ref act, ji);
        V.Store(f, ref act, jf);
        V.Store(gg, ref act, jg);
        V.Store(o, ref act, jo);
        var ig = V.Multiply(i, gg);
        var cc = hasPrev ? V.MultiplyAdd(f, V.Load(ref cPrev, ji), ig) : ig;
        V.Store(cc, ref c, ji);
        var tc = V.Subtract(one, V.Divide(two, V.Add(RecurrentMath.CellExp<T, V, TV>(V.Add(cc, cc)), one)));
        V.Store(tc, ref tanhC, ji);
        V.Store(V.Multiply(o, tc), ref hOut, ji);
    }

    /// <summary>Column <paramref name="j"/> of one row of <see cref="LstmStepForward{T}"/>, scalar.</summary>
    private static void LstmForwardAt<T>(int h, int j, ref T x, ref T hw, ref T bias, bool hasBias, ref T act, ref T cPrev, bool hasPrev,
        ref T c, ref T tanhC, ref T hOut) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T i = Sigmoid(Pre(j, ref x, ref hw, ref bias, hasBias)), f = Sigmoid(Pre(h + j, ref x, ref hw, ref bias, hasBias));
        T gg = T.Tanh(Pre(2 * h + j, ref x, ref hw, ref bias, hasBias)), o = Sigmoid(Pre(3 * h + j, ref x, ref hw, ref bias, hasBias));
        Unsafe.Add(ref act, j) = i;
        Unsafe.Add(ref act, h + j) = f;
        Unsafe.Add(ref act, 2 * h + j) = gg;
        Unsafe.Add(ref act, 3 * h + j) = o;
        T cc = i * gg + (hasPrev ? f * Unsafe.Add(ref cPrev, j) : T.Zero);
        T tc = T.Tanh(cc);
        Unsafe.Add(ref c, j) = cc;
        Unsafe.Add(ref tanhC, j) = tc;
        Unsafe.Add(ref hOut, j) = o * tc;
    }

    /// <summary>The pre-activation at <paramref name="q"/>: x + hw (+ bias).</summary>
    private static T Pre<T>(int q, ref T x, ref T hw, ref T bias, bool hasBias) where T : unmanaged, IFloatingPointIeee754<T>
        => Unsafe.Add(ref x, q) + Unsafe.Add(ref hw, q) + (hasBias ? Unsafe.Add(ref bias, q) : T.Zero);

    private static T Sigmoid<T>(T x) where T : IFloatingPointIeee754<T> => T.One / (T.One + T.Exp(-x));

    /// <summary>The full vectors of one row of <see cref="LstmStepBackward{T}"/>; returns the first column it did not do.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int LstmBackwardRow<T, V, TV>(int h, ref T gOut, ref T dhNext, ref T act, ref T tanhC, ref T cPrev, bool hasPrev, ref T dc, ref T dGates)
        where T : unmanaged, IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        int w = V.Count;
        nuint uh = (nuint)h;
        int j = 0;
        for (; j <= h - w; j += w)
        {
            nuint ji = (nuint)j;
            var dh = V.Add(V.Load(ref gOut, ji), V.Load(ref dhNext, ji));
            LstmCellBackward<T, V, TV>(dh, ji, uh, ref act, ref tanhC, ref cPrev, hasPrev, ref dc, ref dGates);
        }
        return j;
    }

    /// <summary>
    /// The cell backward of one vector of units: from dh (<paramref name="dh"/>) and the cell gradient at <paramref name="ji"/>
    /// of <paramref name="dc"/> (replaced by c_{t−1}'s), the pre-activations' gradients at <paramref name="ji"/> + q·<paramref name="uh"/>
    /// of <paramref name="dGates"/>. Shared by the row loop and the fused step (Recurrent.Fused.cs).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void LstmCellBackward<T, V, TV>(TV dh, nuint ji, nuint uh, ref T act, ref T tanhC, ref T cPrev, bool hasPrev, ref T dc, ref T dGates)
        where T : unmanaged, IFloatingPointIeee754<T> where V : struct, Gemm.ISimd<TV, T> where TV : struct
    {
        var one = V.Broadcast(T.One);
        nuint jf = ji + uh, jg = jf + uh, jo = jg + uh;
        var i = V.Load(ref act, ji);
        var f = V.Load(ref act, jf);
        var gg = V.Load(ref act, jg);
        var o = V.Load(ref act, jo);
        var th = V.Load(ref tanhC, ji);
        // dc = dc_{t+1}·f_{t+1} + dh·o·(1 − th²)
        var dcj = V.MultiplyAdd(V.Multiply(dh, o), V.Subtract(one, V.Multiply(th, th)), V.Load(ref dc, ji));
        V.Store(V.Multiply(V.Multiply(dcj, gg), V.Multiply(i, V.Subtract(one, i))), ref dGates, ji);
        if (hasPrev) V.Store(V.Multiply(V.Multiply(dcj, V.Load(ref cPrev, ji)), V.Multiply(f, V.Subtract(one, f))), ref dGates, jf);
        else V.Store(V.Broadcast(T.Zero), ref dGates, jf);
        V.Store(V.Multiply(V.Multiply(dcj, i), V.Subtract(one, V.Multiply(gg, gg))), ref dGates, jg);
        V.Store(V.Multiply(V.Multiply(dh, th), V.Multiply(o, V.Subtract(one, o))), ref dGates, jo);
        V.Store(V.Multiply(dcj, f), ref dc, ji);
    }

    /// <summary>Column <paramref name="j"/> of one row of <see cref="LstmStepBackward{T}"/>, scalar.</summary>
    private static void LstmBackwardAt<T>(int h, int j, ref T gOut, ref T dhNext, ref T act, ref T tanhC, ref T cPrev, bool hasPrev, ref T dc, ref T dGates)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T one = T.One;
        T i = Unsafe.Add(ref act, j), f = Unsafe.Add(ref act, h + j), gg = Unsafe.Add(ref act, 2 * h + j), o = Unsafe.Add(ref act, 3 * h + j);
        T th = Unsafe.Add(ref tanhC, j), dh = Unsafe.Add(ref gOut, j) + Unsafe.Add(ref dhNext, j);
        T dcj = Unsafe.Add(ref dc, j) + dh * o * (one - th * th);
        T cp = hasPrev ? Unsafe.Add(ref cPrev, j) : T.Zero;
        Unsafe.Add(ref dGates, j) = dcj * gg * i * (one - i);
        Unsafe.Add(ref dGates, h + j) = dcj * cp * f * (one - f);
        Unsafe.Add(ref dGates, 2 * h + j) = dcj * i * (one - gg * gg);
        Unsafe.Add(ref dGates, 3 * h + j) = dh * th * o * (one - o);
        Unsafe.Add(ref dc, j) = dcj * f;
    }
}
