using System.ComponentModel;
using System.Numerics;
using System.Runtime.CompilerServices;
using SharpGrad.Ops;

namespace SharpGrad.Kernels;

/// <summary>
/// One pointwise op (an activation or an elementwise math function): its forward over a span and its derivative, each
/// written once. Eager code (<see cref="Pointwise.Apply{TOp}"/>) and generated code (<see cref="Pointwise.Forward{TOp}"/>,
/// <see cref="Pointwise.Backward{TOp}"/>) call the same methods. Its catalogue row (<see cref="Name"/>) says which of the
/// input and the output the derivative reads. No PyTorch counterpart (PyTorch's kernel plus its derivatives.yaml entry).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IPointwiseOp
{
    /// <summary>The name of the op's catalogue row (<c>LeakyRelu</c>).</summary>
    static abstract string Name { get; }

    /// <summary>y = f(x) elementwise, with the op's scalars <paramref name="a"/> and <paramref name="b"/> (its row's kernel slots).</summary>
    static abstract void Forward<T>(ReadOnlySpan<T> x, Span<T> y, double a, double b) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>dy/dx at one element, from its input <paramref name="x"/> and/or its output <paramref name="y"/>.</summary>
    static abstract TA Derivative<TA>(TA x, TA y, double a, double b) where TA : IGradAlgebra<TA>;

    /// <summary>
    /// True when <see cref="Derivative"/> is piecewise constant — a 0/1 mask or a select between constants (ReLU, LeakyReLU,
    /// Hardtanh, the shrinks, Clamp, …), built from steps, selects, signs and arithmetic only. The backward then evaluates
    /// the same <see cref="Derivative"/> a SIMD vector at a time (<see cref="VectorAlgebra{T}"/>) instead of per element.
    /// </summary>
    static virtual bool PiecewiseConstantDerivative => false;

    /// <summary>
    /// True when PyTorch's backward of the op selects rather than multiplies: <c>where(f′ ≠ 0, g·f′, 0)</c>
    /// (<c>threshold_backward</c> for ReLU, <c>hardtanh_backward</c>, <c>clamp_backward</c>, the shrinks', <c>hardsigmoid_backward</c>;
    /// sign's gradient is zeros). A NaN or ±∞ upstream gradient where the derivative is 0 then gives 0, not NaN, and a
    /// negative one gives +0. False (the product g·f′, NaN·0 = NaN) for ops whose PyTorch backward multiplies (LeakyReLU, Abs, …).
    /// </summary>
    static virtual bool ZeroDerivativeSelects => false;
}

/// <summary>
/// Runs <see cref="IPointwiseOp"/> kernels: on float32 arrays for generated code, and on tensors with autograd for eager
/// code. Not meant to be called by hand (the ops are <c>Functional</c> and tensor methods).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class Pointwise
{
    /// <summary><paramref name="y"/>[i] = f(<paramref name="x"/>[i]) for the first <paramref name="count"/> elements (<paramref name="y"/> may be <paramref name="x"/>).</summary>
    public static void Forward<TOp>(float[] x, float[] y, int count, double a = 0, double b = 0) where TOp : IPointwiseOp
        => TOp.Forward<float>(new ReadOnlySpan<float>(x, 0, count), new Span<float>(y, 0, count), a, b);

    /// <summary>
    /// <paramref name="gx"/>[i] += <paramref name="gy"/>[i] · f′ at element i, reading the input <paramref name="x"/> and/or the
    /// output <paramref name="y"/> (pass either for the one the op's derivative does not read). Does nothing when <paramref name="gx"/> is null.
    /// <paramref name="overwrite"/>: gx[i] = instead of += (the generated program's first writer of gx, which it does not clear).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Backward<TOp>(float[] x, float[] y, float[] gy, float[]? gx, int count, double a = 0, double b = 0, bool overwrite = false) where TOp : IPointwiseOp
    {
        if (gx is null) return;
        // Large arrays (the CNN step's ReLU gradients, 200 K and 400 K elements: ~50 and ~100 µs on one core, serial while
        // the other waited) in parts of whole 64-element blocks: each element takes the path (vector or scalar tail) and
        // the arithmetic it takes in one pass, so the same bits at any thread count.
        int parts = Parallelism.Parts(count, BackwardPartElements, partsPerThread: 2);
        if (parts > 1 && count >= 64 * parts)
        {
            Parallelism.For(parts, new BackwardParts<TOp>(x, y, gy, gx, count, parts, a, b, overwrite));
            return;
        }
        Backward<TOp, float, F32>(new ReadOnlySpan<float>(x, 0, count), new ReadOnlySpan<float>(y, 0, count),
            new ReadOnlySpan<float>(gy, 0, count), new Span<float>(gx, 0, count), accumulate: !overwrite, a, b);
    }

    /// <summary>Elements per part below which <see cref="Backward{TOp}(float[], float[], float[], float[], int, double, double, bool)"/> stays on one thread.</summary>
    private const int BackwardPartElements = 32768;

    /// <summary>Part p of a split <see cref="Backward{TOp}(float[], float[], float[], float[], int, double, double, bool)"/>: elements [start(p), start(p + 1)), starts multiples of 64.</summary>
    private readonly struct BackwardParts<TOp>(float[] x, float[] y, float[] gy, float[] gx, int count, int parts, double a, double b, bool overwrite) : IParallelBody
        where TOp : IPointwiseOp
    {
        public void Invoke(int index)
        {
            int s0 = Start(index), s1 = index == parts - 1 ? count : Start(index + 1);
            Backward<TOp, float, F32>(new ReadOnlySpan<float>(x, s0, s1 - s0), new ReadOnlySpan<float>(y, s0, s1 - s0),
                new ReadOnlySpan<float>(gy, s0, s1 - s0), new Span<float>(gx, s0, s1 - s0), accumulate: !overwrite, a, b);
        }

        private int Start(int p) => (int)((long)count * p / parts) & ~63;
    }

    /// <summary>o = g · f′ (or o += when <paramref name="accumulate"/>) over dense spans of one length.</summary>
    internal static void Backward<TOp, T, TA>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> g, Span<T> o, bool accumulate, double a, double b)
        where TOp : IPointwiseOp
        where T : unmanaged, IFloatingPointIeee754<T>
        where TA : IScalarAlgebra<TA, T>
    {
        int n = o.Length;
        if (x.Length < n || y.Length < n || g.Length < n)
            throw new ArgumentException($"{TOp.Name} backward: the input ({x.Length}), output ({y.Length}) and gradient ({g.Length}) must have the {n} elements of the result.");
        int i = TOp.PiecewiseConstantDerivative ? BackwardVectors<TOp, T>(x, y, g, o, accumulate, a, b) : 0;
        ScalarBackward<TOp, T, TA>(x[i..n], y[i..n], g[i..n], o[i..], accumulate, a, b);
    }

    /// <summary>The reference path: o = g · f′ (or +=) one element at a time on the scalar algebra (0 where f′ is 0 when <see cref="IPointwiseOp.ZeroDerivativeSelects"/>).</summary>
    internal static void ScalarBackward<TOp, T, TA>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> g, Span<T> o, bool accumulate, double a, double b)
        where TOp : IPointwiseOp
        where T : unmanaged, IFloatingPointIeee754<T>
        where TA : IScalarAlgebra<TA, T>
    {
        if (accumulate)
        {
            for (int i = 0; i < o.Length; i++) o[i] += Term(g[i], TOp.Derivative(TA.Of(x[i]), TA.Of(y[i]), a, b).Value);
        }
        else
        {
            for (int i = 0; i < o.Length; i++) o[i] = Term(g[i], TOp.Derivative(TA.Of(x[i]), TA.Of(y[i]), a, b).Value);
        }

        // g·f′, or 0 where f′ is 0 for an op whose PyTorch backward selects (a constant per op type: no branch otherwise)
        static T Term(T g, T d) => TOp.ZeroDerivativeSelects && d == T.Zero ? T.Zero : g * d;
    }

    /// <summary>
    /// The mask-derivative path: o = g · f′ (or +=) over whole SIMD vectors, f′ evaluated on <see cref="VectorAlgebra{T}"/>;
    /// returns how many leading elements it did (the rest is the scalar tail). 0 without hardware vectors.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int BackwardVectors<TOp, T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> g, Span<T> o, bool accumulate, double a, double b)
        where TOp : IPointwiseOp
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Vector.IsHardwareAccelerated || !Vector<T>.IsSupported) return 0;
        int n = o.Length, w = Vector<T>.Count, i = 0;
        for (; i <= n - w; i += w)
        {
            var d = TOp.Derivative(new VectorAlgebra<T>(new Vector<T>(x[i..])), new VectorAlgebra<T>(new Vector<T>(y[i..])), a, b).Value;
            var v = new Vector<T>(g[i..]) * d;
            if (TOp.ZeroDerivativeSelects) v = Vector.AndNot(v, Vector.Equals(d, Vector<T>.Zero));
            if (accumulate) v += new Vector<T>(o[i..]);
            v.CopyTo(o[i..]);
        }
        return i;
    }

    /// <summary>The op's catalogue row (what its backward reads), resolved once per op type.</summary>
    private static class Info<TOp> where TOp : IPointwiseOp
    {
        public static readonly OpRow Row = OpCatalogue.Find(TOp.Name)
            ?? throw new InvalidOperationException($"The pointwise kernel {TOp.Name} has no row in the op catalogue.");

        public static readonly bool ReadsInput = (Row.Reads & BackwardReads.Input) != 0;

        public static readonly bool ReadsOutput = (Row.Reads & BackwardReads.Output) != 0;

        public static readonly string BackwardName = Row.MethodName + "Backward";
    }

    /// <summary>f(x) as a new contiguous tensor, without autograd (integer inputs become Float32, like PyTorch's).</summary>
    internal static Tensor Map<TOp>(Tensor x, double a = 0, double b = 0) where TOp : IPointwiseOp
    {
        if (!x.DType.IsFloatingPoint()) x = x.ToRaw(DType.Float32);
        var src = x.ContiguousRaw();
        var result = Tensor.Empty(x._shape, x.DType);
        MapInto<TOp>(src, result, a, b);
        return result;
    }

    /// <summary>dst = f(src) for two contiguous floating-point tensors of one dtype (they may be the same tensor).</summary>
    internal static void MapInto<TOp>(Tensor src, Tensor dst, double a, double b) where TOp : IPointwiseOp
    {
        if (dst.DType == DType.Float32) TOp.Forward(src.Span<float>(), dst.Span<float>(), a, b);
        else TOp.Forward(src.Span<double>(), dst.Span<double>(), a, b);
    }

    /// <summary>
    /// The eager op: f(x) recorded on the tape, saving what its catalogue row says the derivative reads. Its backward is
    /// g · f′ in one fused pass, or, when the backward is itself recorded (<c>createGraph</c>), the same derivative over
    /// tensors (differentiable again).
    /// </summary>
    internal static Tensor Apply<TOp>(Tensor x, double a = 0, double b = 0) where TOp : IPointwiseOp
    {
        ArgumentNullException.ThrowIfNull(x);
        var r = Map<TOp>(x, a, b);
        if (!Tensor.ShouldRecord(x)) return r;
        var input = Info<TOp>.ReadsInput ? x : null;
        var output = Info<TOp>.ReadsOutput ? r : null;
        Tensor[] saved = input is null ? output is null ? [] : [output] : output is null ? [input] : [input, output];
        return Tensor.Record(r, Info<TOp>.BackwardName, [x], (g, n) => [Gradient<TOp>(g, input ?? output ?? r, output ?? input ?? r, a, b)], saved);
    }

    /// <summary>g · f′(x) (x and y: the op's input and output, or a stand-in of their shape for the one it does not read).</summary>
    internal static Tensor Gradient<TOp>(Tensor g, Tensor x, Tensor y, double a, double b) where TOp : IPointwiseOp
    {
        if (Autograd.IsGradEnabled)
        {
            var d = TOp.Derivative(new TensorAlgebra(x), new TensorAlgebra(y), a, b).Value;
            return TOp.ZeroDerivativeSelects ? Tensor.Where(d.Ne(0.0), g * d, 0.0) : g * d;
        }
        var xc = x.ContiguousRaw();
        var yc = y.DType == xc.DType ? y.ContiguousRaw() : y.ToRaw(xc.DType);
        var gc = g.DType == xc.DType ? g.ContiguousRaw() : g.ToRaw(xc.DType);
        if (!ShapeUtil.SameShape(gc._shape, xc._shape))
        {
            var full = Tensor.Empty(xc._shape, xc.DType);
            Tensor.CopyRaw(gc, full);
            gc = full;
        }
        var o = Tensor.Empty(xc._shape, xc.DType);
        if (o.DType == DType.Float32)
            Backward<TOp, float, F32>(xc.Span<float>(), yc.Span<float>(), gc.Span<float>(), o.Span<float>(), accumulate: false, a, b);
        else
            Backward<TOp, double, F64>(xc.Span<double>(), yc.Span<double>(), gc.Span<double>(), o.Span<double>(), accumulate: false, a, b);
        return o;
    }

    /// <summary>f′(x) as a tensor, without autograd (Clamp's mask, taken before an in-place change).</summary>
    internal static Tensor DerivativeRaw<TOp>(Tensor x, double a, double b) where TOp : IPointwiseOp
    {
        var xc = x.ContiguousRaw();
        var ones = Tensor.Empty(xc._shape, xc.DType);
        var o = Tensor.Empty(xc._shape, xc.DType);
        if (o.DType == DType.Float32)
        {
            ones.Span<float>().Fill(1f);
            Backward<TOp, float, F32>(xc.Span<float>(), xc.Span<float>(), ones.Span<float>(), o.Span<float>(), accumulate: false, a, b);
        }
        else
        {
            ones.Span<double>().Fill(1.0);
            Backward<TOp, double, F64>(xc.Span<double>(), xc.Span<double>(), ones.Span<double>(), o.Span<double>(), accumulate: false, a, b);
        }
        return o;
    }
}
