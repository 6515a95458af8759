using System.ComponentModel;
using System.Numerics.Tensors;
using SharpGrad.Kernels;
using SharpGrad.Layers;

namespace SharpGrad;

/// <summary>The unary elementwise ops compiled code runs through <see cref="CompiledSupport.UnaryForward"/>.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public enum CompiledUnary
{
    /// <summary>max(x, 0) (PyTorch: <c>torch.relu</c>).</summary>
    Relu,
    /// <summary>1 / (1 + e⁻ˣ) (PyTorch: <c>torch.sigmoid</c>).</summary>
    Sigmoid,
    /// <summary>tanh(x) (PyTorch: <c>torch.tanh</c>).</summary>
    Tanh,
    /// <summary>x·Φ(x); alpha 0 = exact (erf), 1 = tanh approximation (PyTorch: <c>F.gelu(approximate)</c>).</summary>
    Gelu,
    /// <summary>x·sigmoid(x) (PyTorch: <c>F.silu</c>).</summary>
    Silu,
    /// <summary>log(1 + e^(βx)) / β, x above the threshold; alpha = β, beta = threshold (PyTorch: <c>F.softplus</c>).</summary>
    Softplus,
    /// <summary>x &gt; 0 ? x : alpha·x (PyTorch: <c>F.leaky_relu(negative_slope)</c>).</summary>
    LeakyRelu,
    /// <summary>x &gt; 0 ? x : alpha·(eˣ − 1) (PyTorch: <c>F.elu(alpha)</c>).</summary>
    Elu,
    /// <summary>min(max(x, 0), 6) (PyTorch: <c>F.relu6</c>).</summary>
    Relu6,
    /// <summary>Clamp to [alpha, beta] (PyTorch: <c>F.hardtanh(min_val, max_val)</c>).</summary>
    Hardtanh,
    /// <summary>log(sigmoid(x)) (PyTorch: <c>F.logsigmoid</c>).</summary>
    LogSigmoid,
    /// <summary>eˣ (PyTorch: <c>torch.exp</c>).</summary>
    Exp,
    /// <summary>ln x (PyTorch: <c>torch.log</c>).</summary>
    Log,
    /// <summary>√x (PyTorch: <c>torch.sqrt</c>).</summary>
    Sqrt,
    /// <summary>|x| (PyTorch: <c>torch.abs</c>).</summary>
    Abs,
    /// <summary>−x (PyTorch: <c>torch.neg</c>).</summary>
    Neg,
}

/// <summary>The binary elementwise ops (with NumPy broadcasting) compiled code runs through <see cref="CompiledSupport.BinaryForward"/>.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public enum CompiledBinary
{
    /// <summary>a + b (PyTorch: <c>torch.add</c>).</summary>
    Add,
    /// <summary>a − b (PyTorch: <c>torch.sub</c>).</summary>
    Sub,
    /// <summary>a · b (PyTorch: <c>torch.mul</c>).</summary>
    Mul,
    /// <summary>a / b (PyTorch: <c>torch.div</c>).</summary>
    Div,
    /// <summary>max(a, b); the gradient goes to the larger, split evenly on ties (PyTorch: <c>torch.maximum</c>).</summary>
    Maximum,
    /// <summary>min(a, b) (PyTorch: <c>torch.minimum</c>).</summary>
    Minimum,
}

/// <summary>
/// The float32 kernels of compiled code. Conventions: every array is contiguous with element 0 at index 0 and sizes are
/// passed explicitly; forward outputs are overwritten; every gradient output ACCUMULATES (<c>+=</c>) into the array the
/// caller passes (the caller clears it), and a null gradient array means "not needed". The float[] paths allocate
/// nothing in the steady state. Semantics (formulas, eps handling, running statistics, RNG stream) are the eager ops'.
/// </summary>
public static partial class CompiledSupport
{
    // ======================================================================== unary

    /// <summary>
    /// y = f(x) over <paramref name="count"/> elements (PyTorch: the op named by <paramref name="op"/>). <paramref name="alpha"/> and
    /// <paramref name="beta"/> are the op's scalars, taken literally: LeakyRelu negative slope = alpha; Elu alpha = alpha;
    /// Hardtanh min = alpha, max = beta; Gelu alpha 0 = exact, 1 = tanh approximation; Softplus β = alpha and threshold = beta,
    /// except that alpha = 0 (an undefined β) means the eager defaults β = 1, threshold = 20. <paramref name="y"/> may be
    /// <paramref name="x"/> (in place).
    /// </summary>
    public static void UnaryForward(CompiledUnary op, float[] x, float[] y, int count, float alpha = 0, float beta = 0)
    {
        var xs = new ReadOnlySpan<float>(x, 0, count);
        var ys = new Span<float>(y, 0, count);
        switch (op)
        {
            case CompiledUnary.Relu: ReluMap.Apply(xs, ys, 0, 0); break;
            case CompiledUnary.Sigmoid: SigmoidMap.Apply(xs, ys, 0, 0); break;
            case CompiledUnary.Tanh: TanhMap.Apply(xs, ys, 0, 0); break;
            case CompiledUnary.Gelu: GeluMap.Apply(xs, ys, alpha == 0 ? 0 : 1, 0); break;
            case CompiledUnary.Silu: SiluMap.Apply(xs, ys, 0, 0); break;
            case CompiledUnary.Softplus:
            {
                var (b, t) = SoftplusArgs(alpha, beta);
                SoftplusMap.Apply(xs, ys, b, t);
                break;
            }
            case CompiledUnary.LeakyRelu: LeakyReluMap.Apply(xs, ys, alpha, 0); break;
            case CompiledUnary.Elu: EluMap.Apply(xs, ys, alpha, 0); break;
            case CompiledUnary.Relu6: ClampMap.Apply(xs, ys, 0, 6); break;
            case CompiledUnary.Hardtanh:
                if (alpha > beta) throw new ArgumentException($"Hardtanh: minVal ({alpha}) must not be greater than maxVal ({beta}).");
                ClampMap.Apply(xs, ys, alpha, beta);
                break;
            case CompiledUnary.LogSigmoid:
                // Eager: x.ClampMax(0) − Log1p(Exp(−|x|)), each step rounded to float.
                for (int i = 0; i < count; i++)
                {
                    float v = x[i];
                    float e = MathF.Exp(-MathF.Abs(v));
                    float l = (float)MathExtra.Log1p(e);
                    y[i] = (v > 0f ? 0f : v) - l;
                }
                break;
            case CompiledUnary.Exp: ExpMap.Apply(xs, ys, 0, 0); break;
            case CompiledUnary.Log: LogMap.Apply(xs, ys, 0, 0); break;
            case CompiledUnary.Sqrt: SqrtMap.Apply(xs, ys, 0, 0); break;
            case CompiledUnary.Abs: AbsMap.Apply(xs, ys, 0, 0); break;
            case CompiledUnary.Neg: TensorPrimitives.Subtract(0f, xs, ys); break; // eager: 0 − x
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "Unknown unary op.");
        }
    }

    /// <summary>
    /// gx += gy · f'(x) over <paramref name="count"/> elements, reading <paramref name="x"/> (the input) and/or
    /// <paramref name="y"/> (the forward output) as the eager backward does; same <paramref name="alpha"/>/<paramref name="beta"/>
    /// as <see cref="UnaryForward"/>. Does nothing when <paramref name="gx"/> is null.
    /// </summary>
    public static void UnaryBackward(CompiledUnary op, float[] x, float[] y, float[] gy, float[]? gx, int count, float alpha = 0, float beta = 0)
    {
        if (gx is null) return;
        switch (op)
        {
            case CompiledUnary.Relu:
                for (int i = 0; i < count; i++) if (y[i] > 0f) gx[i] += gy[i];
                break;
            case CompiledUnary.Sigmoid:
                for (int i = 0; i < count; i++) gx[i] += gy[i] * y[i] * (1f - y[i]);
                break;
            case CompiledUnary.Tanh:
                for (int i = 0; i < count; i++) gx[i] += gy[i] * (1f - y[i] * y[i]);
                break;
            case CompiledUnary.Gelu:
                if (alpha == 0)
                {
                    for (int i = 0; i < count; i++)
                    {
                        double v = x[i];
                        double d = 0.5 * (1 + MathExtra.Erf(v * 0.7071067811865476)) + v * Math.Exp(-0.5 * v * v) * 0.3989422804014327;
                        gx[i] += gy[i] * (float)d;
                    }
                }
                else
                {
                    const double k = 0.7978845608028654, c = 0.044715;
                    for (int i = 0; i < count; i++)
                    {
                        double v = x[i];
                        double t = Math.Tanh(k * (v + c * v * v * v));
                        double d = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * c * v * v);
                        gx[i] += gy[i] * (float)d;
                    }
                }
                break;
            case CompiledUnary.Silu:
                for (int i = 0; i < count; i++)
                {
                    float v = x[i];
                    float s = 1f / (1f + MathF.Exp(-v));
                    gx[i] += gy[i] * s * (1f + v * (1f - s));
                }
                break;
            case CompiledUnary.Softplus:
            {
                var (b, t) = SoftplusArgs(alpha, beta);
                float bf = (float)b;
                for (int i = 0; i < count; i++)
                {
                    float z = x[i] * bf;
                    gx[i] += z > t ? gy[i] : gy[i] * (1f / (1f + MathF.Exp(-z)));
                }
                break;
            }
            case CompiledUnary.LeakyRelu:
                for (int i = 0; i < count; i++) gx[i] += x[i] > 0f ? gy[i] : gy[i] * alpha;
                break;
            case CompiledUnary.Elu:
                for (int i = 0; i < count; i++) gx[i] += x[i] > 0f ? gy[i] : gy[i] * (y[i] + alpha);
                break;
            case CompiledUnary.Relu6:
                for (int i = 0; i < count; i++) if (x[i] > 0f && x[i] < 6f) gx[i] += gy[i];
                break;
            case CompiledUnary.Hardtanh:
                for (int i = 0; i < count; i++) if (x[i] > alpha && x[i] < beta) gx[i] += gy[i];
                break;
            case CompiledUnary.LogSigmoid:
                for (int i = 0; i < count; i++) gx[i] += gy[i] * (1f / (1f + MathF.Exp(x[i])));
                break;
            case CompiledUnary.Exp:
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(gy, 0, count), new ReadOnlySpan<float>(y, 0, count),
                    new ReadOnlySpan<float>(gx, 0, count), new Span<float>(gx, 0, count));
                break;
            case CompiledUnary.Log:
                for (int i = 0; i < count; i++) gx[i] += gy[i] / x[i];
                break;
            case CompiledUnary.Sqrt:
                for (int i = 0; i < count; i++) gx[i] += gy[i] / (y[i] * 2f);
                break;
            case CompiledUnary.Abs:
                for (int i = 0; i < count; i++)
                {
                    float v = x[i];
                    float sign = float.IsNaN(v) ? v : v > 0f ? 1f : v < 0f ? -1f : 0f;
                    gx[i] += gy[i] * sign;
                }
                break;
            case CompiledUnary.Neg:
                TensorPrimitives.Subtract(new ReadOnlySpan<float>(gx, 0, count), new ReadOnlySpan<float>(gy, 0, count), new Span<float>(gx, 0, count));
                break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "Unknown unary op.");
        }
    }

    private static (double Beta, double Threshold) SoftplusArgs(float alpha, float beta)
        => alpha == 0 ? (1.0, 20.0) : (alpha, beta);

    // ======================================================================== softmax

    /// <summary>
    /// Softmax (or log-softmax when <paramref name="log"/>) of <paramref name="x"/> viewed as [outer, size, inner], over
    /// the middle dimension (PyTorch: <c>F.softmax</c> / <c>F.log_softmax</c>), computed stably as eager does.
    /// </summary>
    public static void SoftmaxForward(float[] x, float[] y, int outer, int size, int inner, bool log)
    {
        if (inner == 1)
        {
            SoftmaxRows.Forward(new ReadOnlySpan<float>(x, 0, outer * size), new Span<float>(y, 0, outer * size), size, log);
            return;
        }
        for (int o = 0; o < outer; o++)
        {
            for (int i = 0; i < inner; i++)
            {
                int b = o * size * inner + i;
                float m = float.NegativeInfinity;
                for (int s = 0; s < size; s++)
                {
                    float v = x[b + s * inner];
                    if (v > m || float.IsNaN(v)) m = v;
                    if (float.IsNaN(v)) break;
                }
                if (float.IsInfinity(m)) m = 0f;
                float sum = 0f;
                if (log)
                {
                    for (int s = 0; s < size; s++) sum += MathF.Exp(x[b + s * inner] - m);
                    float ls = MathF.Log(sum);
                    for (int s = 0; s < size; s++) y[b + s * inner] = (x[b + s * inner] - m) - ls;
                }
                else
                {
                    for (int s = 0; s < size; s++)
                    {
                        float e = MathF.Exp(x[b + s * inner] - m);
                        y[b + s * inner] = e;
                        sum += e;
                    }
                    for (int s = 0; s < size; s++) y[b + s * inner] /= sum;
                }
            }
        }
    }

    /// <summary>
    /// Gradient of <see cref="SoftmaxForward"/> from its output <paramref name="y"/>: softmax gx += y·(gy − Σ gy·y);
    /// log-softmax gx += gy − exp(y)·Σ gy.
    /// </summary>
    public static void SoftmaxBackward(float[] y, float[] gy, float[]? gx, int outer, int size, int inner, bool log)
    {
        if (gx is null) return;
        for (int o = 0; o < outer; o++)
        {
            if (inner == 1)
            {
                var gr = new ReadOnlySpan<float>(gy, o * size, size);
                var yr = new ReadOnlySpan<float>(y, o * size, size);
                var xr = new Span<float>(gx, o * size, size);
                if (log)
                {
                    float s = TensorPrimitives.Sum(gr);
                    for (int k = 0; k < size; k++) xr[k] += gr[k] - MathF.Exp(yr[k]) * s;
                }
                else
                {
                    float dot = TensorPrimitives.Dot(gr, yr);
                    for (int k = 0; k < size; k++) xr[k] += yr[k] * (gr[k] - dot);
                }
                continue;
            }
            for (int i = 0; i < inner; i++)
            {
                int b = o * size * inner + i;
                if (log)
                {
                    float s = 0f;
                    for (int k = 0; k < size; k++) s += gy[b + k * inner];
                    for (int k = 0; k < size; k++) gx[b + k * inner] += gy[b + k * inner] - MathF.Exp(y[b + k * inner]) * s;
                }
                else
                {
                    float dot = 0f;
                    for (int k = 0; k < size; k++) dot += gy[b + k * inner] * y[b + k * inner];
                    for (int k = 0; k < size; k++) gx[b + k * inner] += y[b + k * inner] * (gy[b + k * inner] - dot);
                }
            }
        }
    }

    // ======================================================================== reductions

    /// <summary>
    /// y[o, i] = scale · Σₛ x[o, s, i] for <paramref name="x"/> viewed as [outer, size, inner] (PyTorch: <c>sum(dim)</c> with
    /// scale 1, <c>mean(dim)</c> with scale 1/size).
    /// </summary>
    public static void ReduceSumForward(float[] x, float[] y, int outer, int size, int inner, float scale)
    {
        for (int o = 0; o < outer; o++)
        {
            if (inner == 1)
            {
                y[o] = TensorPrimitives.Sum(new ReadOnlySpan<float>(x, o * size, size)) * scale;
                continue;
            }
            var yr = new Span<float>(y, o * inner, inner);
            if (size == 0)
            {
                yr.Clear();
                continue;
            }
            new ReadOnlySpan<float>(x, o * size * inner, inner).CopyTo(yr);
            for (int s = 1; s < size; s++) TensorPrimitives.Add(yr, new ReadOnlySpan<float>(x, (o * size + s) * inner, inner), yr);
            if (scale != 1f) TensorPrimitives.Multiply(yr, scale, yr);
        }
    }

    /// <summary>Gradient of <see cref="ReduceSumForward"/>: gx[o, s, i] += scale · gy[o, i].</summary>
    public static void ReduceSumBackward(float[] gy, float[]? gx, int outer, int size, int inner, float scale)
    {
        if (gx is null) return;
        for (int o = 0; o < outer; o++)
        {
            for (int s = 0; s < size; s++)
            {
                var xr = new Span<float>(gx, (o * size + s) * inner, inner);
                if (inner == 1) xr[0] += scale * gy[o];
                else TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(gy, o * inner, inner), scale, xr, xr);
            }
        }
    }

    // ======================================================================== broadcasting loops

    /// <summary>
    /// The loop nest of a broadcast binary op, without allocation: dims of size 1 dropped, neighbours merged where every
    /// operand stays dense, innermost first in the spans. Returns the number of loop dims (at least 1).
    /// </summary>
    private static int BroadcastLoops(string op, int[] yShape, int[] aShape, int[] bShape, Span<int> shape, Span<int> sa, Span<int> sb)
    {
        int rank = yShape.Length;
        if (aShape.Length > rank || bShape.Length > rank) throw BroadcastError(op, aShape, bShape, yShape);
        int accA = 1, accB = 1, m = 0;
        for (int d = rank - 1; d >= 0; d--)
        {
            int n = yShape[d];
            int da = d - (rank - aShape.Length), db = d - (rank - bShape.Length);
            int na = da >= 0 ? aShape[da] : 1, nb = db >= 0 ? bShape[db] : 1;
            if ((na != n && na != 1) || (nb != n && nb != 1)) throw BroadcastError(op, aShape, bShape, yShape);
            int strA = na == 1 ? 0 : accA, strB = nb == 1 ? 0 : accB;
            accA *= na;
            accB *= nb;
            if (n != 1) AppendLoop(shape, sa, sb, ref m, n, strA, strB);
        }
        return AtLeastOneLoop(shape, sa, sb, m);
    }

    /// <summary>
    /// Adds a loop of <paramref name="n"/> steps with strides (<paramref name="s1"/>, <paramref name="s2"/>) inside the
    /// ones collected so far, merged into the previous loop when both strides continue it (so contiguous runs are one loop).
    /// </summary>
    private static void AppendLoop(Span<int> shape, Span<int> strides1, Span<int> strides2, ref int m, int n, int s1, int s2)
    {
        if (m > 0 && strides1[m - 1] * shape[m - 1] == s1 && strides2[m - 1] * shape[m - 1] == s2)
        {
            shape[m - 1] *= n;
            return;
        }
        shape[m] = n;
        strides1[m] = s1;
        strides2[m] = s2;
        m++;
    }

    /// <summary>The loop count, with one single-step loop when every dim had size 1.</summary>
    private static int AtLeastOneLoop(Span<int> shape, Span<int> strides1, Span<int> strides2, int m)
    {
        if (m > 0) return m;
        shape[0] = 1;
        strides1[0] = 0;
        strides2[0] = 0;
        return 1;
    }

    private static ArgumentException BroadcastError(string op, int[] aShape, int[] bShape, int[] yShape)
        => new($"{op}: the shapes {ShapeUtil.Format(aShape)} and {ShapeUtil.Format(bShape)} do not broadcast to {ShapeUtil.Format(yShape)}.");

    /// <summary>Moves the outer loop indices (dims 1…m−1 of the nest) one step; offsets of the two strided operands follow.</summary>
    private static void Advance(Span<int> idx, ReadOnlySpan<int> shape, ReadOnlySpan<int> sa, ReadOnlySpan<int> sb, int m, ref int oa, ref int ob)
    {
        for (int d = 1; d < m; d++)
        {
            idx[d]++;
            oa += sa[d];
            ob += sb[d];
            if (idx[d] < shape[d]) return;
            oa -= sa[d] * shape[d];
            ob -= sb[d] * shape[d];
            idx[d] = 0;
        }
    }

    private static bool SameShape(int[] a, int[] b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++) if (a[i] != b[i]) return false;
        return true;
    }

    private static int Count(int[] shape)
    {
        int n = 1;
        for (int i = 0; i < shape.Length; i++) n *= shape[i];
        return n;
    }

    // ======================================================================== binary

    /// <summary>
    /// y = a op b with NumPy broadcasting (PyTorch: <c>torch.add/sub/mul/div/maximum/minimum</c>); shapes are right-aligned
    /// and <paramref name="yShape"/> is the broadcast shape. Same shapes and row broadcasts run as dense vector loops.
    /// </summary>
    public static void BinaryForward(CompiledBinary op, float[] a, int[] aShape, float[] b, int[] bShape, float[] y, int[] yShape)
    {
        if (SameShape(aShape, yShape) && SameShape(bShape, yShape))
        {
            int n = Count(yShape);
            BinaryRow(op, a, 0, 1, b, 0, 1, y, 0, n);
            return;
        }
        int total = Count(yShape);
        if (total == 0) return;
        int rank = Math.Max(yShape.Length, 1);
        Span<int> buf = stackalloc int[4 * rank];
        Span<int> shape = buf[..rank], sa = buf.Slice(rank, rank), sb = buf.Slice(2 * rank, rank), idx = buf.Slice(3 * rank, rank);
        idx.Clear();
        int m = BroadcastLoops("BinaryForward", yShape, aShape, bShape, shape, sa, sb);
        int inner = shape[0], rows = total / inner;
        int oa = 0, ob = 0;
        for (int r = 0; r < rows; r++)
        {
            BinaryRow(op, a, oa, sa[0], b, ob, sb[0], y, r * inner, inner);
            Advance(idx, shape, sa, sb, m, ref oa, ref ob);
        }
    }

    private static void BinaryRow(CompiledBinary op, float[] a, int oa, int ia, float[] b, int ob, int ib, float[] y, int oy, int n)
    {
        var ys = new Span<float>(y, oy, n);
        if (ia == 1 && ib == 1)
        {
            var av = new ReadOnlySpan<float>(a, oa, n);
            var bv = new ReadOnlySpan<float>(b, ob, n);
            switch (op)
            {
                case CompiledBinary.Add: TensorPrimitives.Add(av, bv, ys); return;
                case CompiledBinary.Sub: TensorPrimitives.Subtract(av, bv, ys); return;
                case CompiledBinary.Mul: TensorPrimitives.Multiply(av, bv, ys); return;
                case CompiledBinary.Div: TensorPrimitives.Divide(av, bv, ys); return;
                case CompiledBinary.Maximum: TensorPrimitives.Max(av, bv, ys); return;
                case CompiledBinary.Minimum: TensorPrimitives.Min(av, bv, ys); return;
            }
        }
        else if (ia == 1 && ib == 0)
        {
            var av = new ReadOnlySpan<float>(a, oa, n);
            float bv = b[ob];
            switch (op)
            {
                case CompiledBinary.Add: TensorPrimitives.Add(av, bv, ys); return;
                case CompiledBinary.Sub: TensorPrimitives.Subtract(av, bv, ys); return;
                case CompiledBinary.Mul: TensorPrimitives.Multiply(av, bv, ys); return;
                case CompiledBinary.Div: TensorPrimitives.Divide(av, bv, ys); return;
                case CompiledBinary.Maximum: TensorPrimitives.Max(av, bv, ys); return;
                case CompiledBinary.Minimum: TensorPrimitives.Min(av, bv, ys); return;
            }
        }
        else if (ia == 0 && ib == 1)
        {
            float av = a[oa];
            var bv = new ReadOnlySpan<float>(b, ob, n);
            switch (op)
            {
                case CompiledBinary.Add: TensorPrimitives.Add(bv, av, ys); return;
                case CompiledBinary.Sub: TensorPrimitives.Subtract(av, bv, ys); return;
                case CompiledBinary.Mul: TensorPrimitives.Multiply(bv, av, ys); return;
                case CompiledBinary.Div: TensorPrimitives.Divide(av, bv, ys); return;
                case CompiledBinary.Maximum: TensorPrimitives.Max(bv, av, ys); return;
                case CompiledBinary.Minimum: TensorPrimitives.Min(bv, av, ys); return;
            }
        }
        for (int i = 0; i < n; i++) ys[i] = Apply(op, a[oa + i * ia], b[ob + i * ib]);
    }

    private static float Apply(CompiledBinary op, float a, float b) => op switch
    {
        CompiledBinary.Add => a + b,
        CompiledBinary.Sub => a - b,
        CompiledBinary.Mul => a * b,
        CompiledBinary.Div => a / b,
        CompiledBinary.Maximum => float.IsNaN(a) || float.IsNaN(b) ? a + b : (a > b ? a : b),
        CompiledBinary.Minimum => float.IsNaN(a) || float.IsNaN(b) ? a + b : (a < b ? a : b),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "Unknown binary op."),
    };

    /// <summary>∂y/∂a · gy for one element (the eager backward's formula).</summary>
    private static float GradA(CompiledBinary op, float g, float a, float b) => op switch
    {
        CompiledBinary.Add or CompiledBinary.Sub => g,
        CompiledBinary.Mul => g * b,
        CompiledBinary.Div => g / b,
        CompiledBinary.Maximum => g * (a > b ? 1f : a == b ? 0.5f : 0f),
        _ => g * (a < b ? 1f : a == b ? 0.5f : 0f),
    };

    /// <summary>∂y/∂b · gy for one element (the eager backward's formula).</summary>
    private static float GradB(CompiledBinary op, float g, float a, float b) => op switch
    {
        CompiledBinary.Add => g,
        CompiledBinary.Sub => -g,
        CompiledBinary.Mul => g * a,
        CompiledBinary.Div => -g * a / (b * b),
        CompiledBinary.Maximum => g * (1f - (a > b ? 1f : a == b ? 0.5f : 0f)),
        _ => g * (1f - (a < b ? 1f : a == b ? 0.5f : 0f)),
    };

    /// <summary>
    /// Gradients of <see cref="BinaryForward"/>: <paramref name="ga"/> += the gradient reduced to <paramref name="aShape"/>
    /// (summed over broadcast dims), <paramref name="gb"/> likewise; either may be null. Same shapes and row broadcasts
    /// ([rows, F] op [F]) run as dense loops.
    /// </summary>
    public static void BinaryBackward(CompiledBinary op, float[] a, int[] aShape, float[] b, int[] bShape, float[] gy, int[] yShape, float[]? ga, float[]? gb)
    {
        if (ga is null && gb is null) return;
        int total = Count(yShape);
        if (total == 0) return;
        if (SameShape(aShape, yShape) && SameShape(bShape, yShape))
        {
            SameShapeBackward(op, a, b, gy, ga, gb, total);
            return;
        }
        int rank = Math.Max(yShape.Length, 1);
        Span<int> buf = stackalloc int[4 * rank];
        Span<int> shape = buf[..rank], sa = buf.Slice(rank, rank), sb = buf.Slice(2 * rank, rank), idx = buf.Slice(3 * rank, rank);
        idx.Clear();
        int m = BroadcastLoops("BinaryBackward", yShape, aShape, bShape, shape, sa, sb);
        int inner = shape[0], rows = total / inner, ia = sa[0], ib = sb[0];
        int oa = 0, ob = 0;
        for (int r = 0; r < rows; r++)
        {
            int oy = r * inner;
            if (ga is not null)
            {
                if (ia == 0)
                {
                    float acc = 0f;
                    for (int i = 0; i < inner; i++) acc += GradA(op, gy[oy + i], a[oa], b[ob + i * ib]);
                    ga[oa] += acc;
                }
                else
                {
                    for (int i = 0; i < inner; i++) ga[oa + i * ia] += GradA(op, gy[oy + i], a[oa + i * ia], b[ob + i * ib]);
                }
            }
            if (gb is not null)
            {
                if (ib == 0)
                {
                    float acc = 0f;
                    for (int i = 0; i < inner; i++) acc += GradB(op, gy[oy + i], a[oa + i * ia], b[ob]);
                    gb[ob] += acc;
                }
                else
                {
                    for (int i = 0; i < inner; i++) gb[ob + i * ib] += GradB(op, gy[oy + i], a[oa + i * ia], b[ob + i * ib]);
                }
            }
            Advance(idx, shape, sa, sb, m, ref oa, ref ob);
        }
    }

    private static void SameShapeBackward(CompiledBinary op, float[] a, float[] b, float[] gy, float[]? ga, float[]? gb, int n)
    {
        var g = new ReadOnlySpan<float>(gy, 0, n);
        if (ga is not null)
        {
            var d = new Span<float>(ga, 0, n);
            switch (op)
            {
                case CompiledBinary.Add or CompiledBinary.Sub: TensorPrimitives.Add(d, g, d); break;
                case CompiledBinary.Mul: TensorPrimitives.MultiplyAdd(g, new ReadOnlySpan<float>(b, 0, n), d, d); break;
                default:
                    for (int i = 0; i < n; i++) ga[i] += GradA(op, gy[i], a[i], b[i]);
                    break;
            }
        }
        if (gb is not null)
        {
            var d = new Span<float>(gb, 0, n);
            switch (op)
            {
                case CompiledBinary.Add: TensorPrimitives.Add(d, g, d); break;
                case CompiledBinary.Sub: TensorPrimitives.Subtract(d, g, d); break;
                case CompiledBinary.Mul: TensorPrimitives.MultiplyAdd(g, new ReadOnlySpan<float>(a, 0, n), d, d); break;
                default:
                    for (int i = 0; i < n; i++) gb[i] += GradB(op, gy[i], a[i], b[i]);
                    break;
            }
        }
    }

    // ======================================================================== permute

    /// <summary>
    /// The loop nest of a permutation: y (contiguous, shape xShape[perm[i]]) walked in order, x at the permuted strides.
    /// Returns the number of loop dims; <paramref name="sx"/> holds x's strides, <paramref name="sy"/> y's.
    /// </summary>
    private static int PermuteLoops(int[] xShape, int[] perm, Span<int> shape, Span<int> sx, Span<int> sy)
    {
        int rank = xShape.Length;
        if (perm.Length != rank) throw new ArgumentException($"Permute: the permutation has {perm.Length} entries, but the input of shape {ShapeUtil.Format(xShape)} has {rank} dimensions.");
        // x's contiguous strides, temporarily in sy.
        int acc = 1;
        for (int d = rank - 1; d >= 0; d--)
        {
            sy[d] = acc;
            acc *= xShape[d];
        }
        Span<int> permuted = stackalloc int[rank];
        int seen = 0;
        for (int i = 0; i < rank; i++)
        {
            int p = perm[i];
            if (p < 0 || p >= rank || (seen & (1 << p)) != 0)
            {
                throw new ArgumentException($"Permute: [{string.Join(", ", perm)}] is not a permutation of the {rank} dimensions of shape {ShapeUtil.Format(xShape)}.");
            }
            seen |= 1 << p;
            permuted[i] = sy[p];
        }
        int m = 0, accY = 1;
        for (int d = rank - 1; d >= 0; d--)
        {
            int n = xShape[perm[d]];
            int strX = permuted[d], strY = accY;
            accY *= n;
            if (n != 1) AppendLoop(shape, sx, sy, ref m, n, strX, strY);
        }
        return AtLeastOneLoop(shape, sx, sy, m);
    }

    /// <summary>y = x.Permute(perm).Contiguous() for a contiguous <paramref name="x"/> of <paramref name="xShape"/> (PyTorch: <c>permute</c> + <c>contiguous</c>).</summary>
    public static void PermuteForward(float[] x, int[] xShape, int[] perm, float[] y)
    {
        int total = Count(xShape);
        if (total == 0) return;
        int rank = Math.Max(xShape.Length, 1);
        Span<int> buf = stackalloc int[4 * rank];
        Span<int> shape = buf[..rank], sx = buf.Slice(rank, rank), sy = buf.Slice(2 * rank, rank), idx = buf.Slice(3 * rank, rank);
        idx.Clear();
        int m = PermuteLoops(xShape, perm, shape, sx, sy);
        int inner = shape[0], ix = sx[0], rows = total / inner;
        int ox = 0, oy = 0;
        for (int r = 0; r < rows; r++)
        {
            if (ix == 1) new ReadOnlySpan<float>(x, ox, inner).CopyTo(new Span<float>(y, oy, inner));
            else for (int i = 0; i < inner; i++) y[oy + i] = x[ox + i * ix];
            Advance(idx, shape, sx, sy, m, ref ox, ref oy);
        }
    }

    /// <summary>Gradient of <see cref="PermuteForward"/>: gx += the inverse permutation of <paramref name="gy"/>.</summary>
    public static void PermuteBackward(float[] gy, int[] xShape, int[] perm, float[]? gx)
    {
        if (gx is null) return;
        int total = Count(xShape);
        if (total == 0) return;
        int rank = Math.Max(xShape.Length, 1);
        Span<int> buf = stackalloc int[4 * rank];
        Span<int> shape = buf[..rank], sx = buf.Slice(rank, rank), sy = buf.Slice(2 * rank, rank), idx = buf.Slice(3 * rank, rank);
        idx.Clear();
        int m = PermuteLoops(xShape, perm, shape, sx, sy);
        int inner = shape[0], ix = sx[0], rows = total / inner;
        int ox = 0, oy = 0;
        for (int r = 0; r < rows; r++)
        {
            if (ix == 1)
            {
                var d = new Span<float>(gx, ox, inner);
                TensorPrimitives.Add(d, new ReadOnlySpan<float>(gy, oy, inner), d);
            }
            else for (int i = 0; i < inner; i++) gx[ox + i * ix] += gy[oy + i];
            Advance(idx, shape, sx, sy, m, ref ox, ref oy);
        }
    }

    // ======================================================================== normalisation

    private static BatchNormBase AsBatchNorm(Module layer, int c)
    {
        if (layer is not BatchNormBase bn)
        {
            throw new ArgumentException($"Compiled BatchNorm: expected a BatchNorm1d or BatchNorm2d layer, but got {layer?.GetType().Name ?? "null"}.");
        }
        if (bn.NumFeatures != c)
        {
            throw new ArgumentException($"BatchNorm: the input has {c} channels, but the layer was built for num_features = {bn.NumFeatures}.");
        }
        return bn;
    }

    /// <summary>The float32 element <paramref name="i"/> of a 1-d tensor (any stride).</summary>
    private static ref float At(Tensor t, int i) => ref t.Data<float>()[t.Offset + i * (t._strides.Length == 0 ? 0 : t._strides[0])];

    private static void RequireFloat32(Tensor t, string op, string what)
    {
        if (t.DType != DType.Float32)
        {
            throw new ArgumentException($"{op}: compiled code runs in float32, but {what} is {t.DType}. Use the eager Forward, or convert the layer with .To(DType.Float32).");
        }
    }

    /// <summary>
    /// Batch normalisation (PyTorch: <c>nn.BatchNorm1d</c>/<c>nn.BatchNorm2d</c> forward) of <paramref name="x"/> viewed as
    /// [n, c, l], reading <paramref name="layer"/>'s Weight, Bias, running statistics, Momentum (null = cumulative average),
    /// Eps, TrackRunningStats and Training exactly as its eager Forward does, and updating running_mean, running_var and
    /// num_batches_tracked the same way in training. <paramref name="saveMean"/>/<paramref name="saveInvstd"/> (c floats)
    /// receive the statistics used, for <see cref="BatchNormBackward"/>.
    /// </summary>
    public static void BatchNormForward(Module layer, float[] x, float[] y, int n, int c, int l, float[] saveMean, float[] saveInvstd)
    {
        var bn = AsBatchNorm(layer, c);
        bool training = bn.Training;
        double factor = bn.Momentum ?? 0.0;
        var nbt = bn.NumBatchesTracked;
        if (training && bn.TrackRunningStats && nbt is not null)
        {
            // Eager: num_batches_tracked.Add_(1) under NoGrad (bumps the version), then 1/n for a cumulative average.
            ref long count = ref nbt.Data<long>()[nbt.Offset];
            count++;
            nbt.Storage.Version++;
            if (bn.Momentum is null) factor = 1.0 / count;
        }
        bool passStats = !training || bn.TrackRunningStats;
        var rm = passStats ? bn.RunningMean : null;
        var rv = passStats ? bn.RunningVar : null;
        bool useBatchStats = training || rm is null;
        int cnt = n * l;
        if (useBatchStats && cnt <= 1)
        {
            throw new ArgumentException($"BatchNorm: expected more than 1 value per channel when training, but got input of shape {(l == 1 ? $"[{n}, {c}]" : $"[{n}, {c}, {l}]")}.");
        }
        var weight = bn.Weight;
        var bias = bn.Bias;
        if (weight is not null) RequireFloat32(weight, "BatchNorm", "the weight");
        if (rm is not null) RequireFloat32(rm, "BatchNorm", "running_mean");
        if (rv is not null) RequireFloat32(rv, "BatchNorm", "running_var");
        bool update = training && rm is not null;
        float keep = (float)(1 - factor), mom = (float)factor, unbias = (float)(cnt / (double)(cnt - 1));
        double eps = bn.Eps;
        for (int ch = 0; ch < c; ch++)
        {
            float mean, variance;
            if (useBatchStats)
            {
                double sum = 0;
                for (int i = 0; i < n; i++)
                {
                    sum += TensorPrimitives.Sum(new ReadOnlySpan<float>(x, (i * c + ch) * l, l));
                }
                mean = (float)(sum / cnt);
                double sq = 0;
                for (int i = 0; i < n; i++)
                {
                    int b = (i * c + ch) * l;
                    for (int k = 0; k < l; k++)
                    {
                        float d = x[b + k] - mean;
                        sq += d * d;
                    }
                }
                variance = (float)(sq / cnt);
                if (update)
                {
                    ref float m = ref At(rm!, ch);
                    m = m * keep + mean * mom;
                    ref float v = ref At(rv!, ch);
                    v = v * keep + variance * unbias * mom;
                }
            }
            else
            {
                mean = At(rm!, ch);
                variance = At(rv!, ch);
            }
            float invstd = (float)(1.0 / Math.Sqrt(variance + eps));
            saveMean[ch] = mean;
            saveInvstd[ch] = invstd;
            float w = weight is null ? 1f : At(weight, ch);
            float bb = bias is null ? 0f : At(bias, ch);
            for (int i = 0; i < n; i++)
            {
                int b = (i * c + ch) * l;
                for (int k = 0; k < l; k++)
                {
                    float xhat = (x[b + k] - mean) * invstd;
                    if (weight is not null) xhat *= w;
                    if (bias is not null) xhat += bb;
                    y[b + k] = xhat;
                }
            }
        }
        if (update)
        {
            rm!.Storage.Version++;
            rv!.Storage.Version++;
        }
    }

    /// <summary>
    /// Gradients of <see cref="BatchNormForward"/>. <paramref name="training"/> is the layer's Training flag when the forward
    /// ran (batch statistics are used when it is true or the layer keeps no running statistics). <paramref name="gx"/>
    /// (n·c·l), <paramref name="gWeight"/> and <paramref name="gBias"/> (c floats) accumulate; any may be null.
    /// </summary>
    public static void BatchNormBackward(Module layer, float[] x, float[] gy, float[]? gx, float[] saveMean, float[] saveInvstd,
        float[]? gWeight, float[]? gBias, int n, int c, int l, bool training)
    {
        var bn = AsBatchNorm(layer, c);
        bool useBatchStats = training || bn.RunningMean is null;
        var weight = bn.Weight;
        if (weight is null) gWeight = null;
        if (bn.Bias is null) gBias = null;
        int cnt = n * l;
        for (int ch = 0; ch < c; ch++)
        {
            float mean = saveMean[ch], invstd = saveInvstd[ch];
            float w = weight is null ? 1f : At(weight, ch);
            double sg = 0, sgx = 0, sgw = 0, sgb = 0;
            for (int i = 0; i < n; i++)
            {
                int b = (i * c + ch) * l;
                for (int k = 0; k < l; k++)
                {
                    float g = gy[b + k];
                    float xhat = (x[b + k] - mean) * invstd;
                    float gxhat = weight is null ? g : g * w;
                    sg += gxhat;
                    sgx += gxhat * xhat;
                    sgw += g * xhat;
                    sgb += g;
                }
            }
            if (gWeight is not null) gWeight[ch] += (float)sgw;
            if (gBias is not null) gBias[ch] += (float)sgb;
            if (gx is null) continue;
            float mg = (float)(sg / cnt), mgx = (float)(sgx / cnt);
            for (int i = 0; i < n; i++)
            {
                int b = (i * c + ch) * l;
                for (int k = 0; k < l; k++)
                {
                    float g = gy[b + k];
                    float gxhat = weight is null ? g : g * w;
                    if (useBatchStats)
                    {
                        float xhat = (x[b + k] - mean) * invstd;
                        gx[b + k] += invstd * (gxhat - mg - xhat * mgx);
                    }
                    else gx[b + k] += gxhat * invstd;
                }
            }
        }
    }

    private static LayerNorm AsLayerNorm(Module layer, int cols)
    {
        if (layer is not LayerNorm ln)
        {
            throw new ArgumentException($"Compiled LayerNorm: expected a LayerNorm layer, but got {layer?.GetType().Name ?? "null"}.");
        }
        int expected = Count(ln.NormalizedShape);
        if (expected != cols)
        {
            throw new ArgumentException($"LayerNorm: normalized_shape {ShapeUtil.Format(ln.NormalizedShape)} covers {expected} elements, but each row has {cols}.");
        }
        return ln;
    }

    /// <summary>
    /// Layer normalisation (PyTorch: <c>nn.LayerNorm</c> forward) of <paramref name="rows"/> rows of <paramref name="cols"/>
    /// elements (the normalised trailing dims), biased variance, the layer's eps and optional elementwise weight and bias.
    /// <paramref name="saveMean"/>/<paramref name="saveInvstd"/> (rows floats) receive the statistics for the backward.
    /// </summary>
    public static void LayerNormForward(Module layer, float[] x, float[] y, int rows, int cols, float[] saveMean, float[] saveInvstd)
    {
        var ln = AsLayerNorm(layer, cols);
        var weight = ln.Weight;
        var bias = ln.Bias;
        float[]? w = weight is null ? null : FloatData(weight);
        float[]? bb = bias is null ? null : FloatData(bias);
        int wo = weight?.Offset ?? 0, bo = bias?.Offset ?? 0;
        double eps = ln.Eps;
        for (int r = 0; r < rows; r++)
        {
            var xr = new ReadOnlySpan<float>(x, r * cols, cols);
            float mean = TensorPrimitives.Sum(xr) / Math.Max(1, cols);
            double sq = 0;
            for (int k = 0; k < cols; k++)
            {
                float d = xr[k] - mean;
                sq += d * d;
            }
            float variance = (float)(sq / Math.Max(1, cols));
            float invstd = (float)(1.0 / Math.Sqrt(variance + eps));
            saveMean[r] = mean;
            saveInvstd[r] = invstd;
            int o = r * cols;
            for (int k = 0; k < cols; k++)
            {
                float v = (xr[k] - mean) * invstd;
                if (w is not null) v *= w[wo + k];
                if (bb is not null) v += bb[bo + k];
                y[o + k] = v;
            }
        }
    }

    /// <summary>
    /// Gradients of <see cref="LayerNormForward"/>: <paramref name="gx"/> (rows·cols), <paramref name="gWeight"/> and
    /// <paramref name="gBias"/> (cols floats) accumulate; any may be null.
    /// </summary>
    public static void LayerNormBackward(Module layer, float[] x, float[] gy, float[]? gx, float[] saveMean, float[] saveInvstd,
        float[]? gWeight, float[]? gBias, int rows, int cols)
    {
        var ln = AsLayerNorm(layer, cols);
        float[]? w = ln.Weight is null ? null : FloatData(ln.Weight);
        int wo = ln.Weight?.Offset ?? 0;
        if (w is null) gWeight = null;
        if (ln.Bias is null) gBias = null;
        for (int r = 0; r < rows; r++)
        {
            float mean = saveMean[r], invstd = saveInvstd[r];
            int o = r * cols;
            double sg = 0, sgx = 0;
            for (int k = 0; k < cols; k++)
            {
                float g = gy[o + k];
                float xhat = (x[o + k] - mean) * invstd;
                float gxhat = w is null ? g : g * w[wo + k];
                sg += gxhat;
                sgx += gxhat * xhat;
                if (gWeight is not null) gWeight[k] += g * xhat;
                if (gBias is not null) gBias[k] += g;
            }
            if (gx is null) continue;
            float mg = (float)(sg / cols), mgx = (float)(sgx / cols);
            for (int k = 0; k < cols; k++)
            {
                float g = gy[o + k];
                float xhat = (x[o + k] - mean) * invstd;
                float gxhat = w is null ? g : g * w[wo + k];
                gx[o + k] += invstd * (gxhat - mg - xhat * mgx);
            }
        }
    }

    // ======================================================================== index tensors

    /// <summary>The storage index of the <paramref name="k"/>-th element (row-major) of <paramref name="t"/>, any strides.</summary>
    private static int StorageIndex(Tensor t, int k, bool contiguous)
    {
        if (contiguous) return t.Offset + k;
        int off = t.Offset;
        var shape = t._shape;
        var strides = t._strides;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            int s = shape[d];
            off += (k % s) * strides[d];
            k /= s;
        }
        return off;
    }

    /// <summary>The <paramref name="k"/>-th element of an Int64 or Int32 tensor.</summary>
    private static long IndexAt(Tensor t, long[]? l, int[]? i, int k, bool contiguous)
    {
        int p = StorageIndex(t, k, contiguous);
        return l is not null ? l[p] : i![p];
    }

    /// <summary>The <paramref name="k"/>-th element of a (float) target tensor, converted to float32 as eager's <c>To(Float32)</c> does.</summary>
    private static float TargetAt(Tensor t, float[]? f, int k, bool contiguous)
    {
        int p = StorageIndex(t, k, contiguous);
        return f is not null ? f[p] : (float)t.GetAsDouble(p);
    }

    private static void IndexArrays(Tensor t, out long[]? l, out int[]? i)
    {
        l = t.Storage is Storage<long> sl ? sl.Data : null;
        i = t.Storage is Storage<int> si ? si.Data : null;
    }

    // ======================================================================== embedding

    private static Embedding AsEmbedding(Module layer, Tensor indices, int count, int dim)
    {
        ArgumentNullException.ThrowIfNull(indices);
        if (layer is not Embedding emb)
        {
            throw new ArgumentException($"Compiled Embedding: expected an Embedding layer, but got {layer?.GetType().Name ?? "null"}.");
        }
        if (indices.DType is not (DType.Int64 or DType.Int32))
        {
            throw new ArgumentException($"Embedding: indices must be Int64 (or Int32), but got a {indices.DType} tensor of shape {ShapeUtil.Format(indices._shape)}. Convert with .To(DType.Int64).");
        }
        if (indices.NumElements != count || emb.EmbeddingDim != dim)
        {
            throw new ArgumentException($"Compiled Embedding: expected {count} indices of an embedding_dim {dim} table, but got indices of shape {ShapeUtil.Format(indices._shape)} for a table of shape {ShapeUtil.Format(emb.Weight._shape)}.");
        }
        return emb;
    }

    /// <summary>
    /// Embedding lookup (PyTorch: <c>nn.Embedding</c> forward): y[r, :] = weight[indices[r], :] for the <paramref name="count"/>
    /// Int64 (or Int32) <paramref name="indices"/> in row-major order (any strides or offset). An index out of range throws
    /// eager's error.
    /// </summary>
    public static void EmbeddingForward(Module layer, Tensor indices, float[] y, int count, int dim)
    {
        var emb = AsEmbedding(layer, indices, count, dim);
        var weight = emb.Weight;
        RequireFloat32(weight, "Embedding", "the weight");
        var wt = weight.IsContiguous ? weight : weight.Contiguous();
        var w = wt.Data<float>();
        int wo = wt.Offset, num = emb.NumEmbeddings;
        IndexArrays(indices, out var l, out var i32);
        bool contiguous = indices.IsContiguous;
        for (int r = 0; r < count; r++)
        {
            long idx = IndexAt(indices, l, i32, r, contiguous);
            if (idx < 0 || idx >= num)
            {
                throw new ArgumentException($"Embedding: index {idx} is out of range for an embedding table of shape {ShapeUtil.Format(weight._shape)}: indices must be in [0, {num - 1}].");
            }
            new ReadOnlySpan<float>(w, wo + (int)idx * dim, dim).CopyTo(new Span<float>(y, r * dim, dim));
        }
    }

    /// <summary>
    /// Gradient of <see cref="EmbeddingForward"/>: gWeight[indices[r], :] += gy[r, :], except the padding_idx row, which gets
    /// none. <paramref name="gWeight"/> is num_embeddings × dim floats.
    /// </summary>
    public static void EmbeddingBackward(Module layer, Tensor indices, float[] gy, float[]? gWeight, int count, int dim)
    {
        if (gWeight is null) return;
        var emb = AsEmbedding(layer, indices, count, dim);
        int num = emb.NumEmbeddings;
        long pad = emb.PaddingIdx ?? -1;
        IndexArrays(indices, out var l, out var i32);
        bool contiguous = indices.IsContiguous;
        for (int r = 0; r < count; r++)
        {
            long idx = IndexAt(indices, l, i32, r, contiguous);
            if (idx < 0 || idx >= num)
            {
                throw new ArgumentException($"Embedding: index {idx} is out of range for an embedding table of shape {ShapeUtil.Format(emb.Weight._shape)}: indices must be in [0, {num - 1}].");
            }
            if (idx == pad) continue;
            var d = new Span<float>(gWeight, (int)idx * dim, dim);
            TensorPrimitives.Add(d, new ReadOnlySpan<float>(gy, r * dim, dim), d);
        }
    }

    // ======================================================================== dropout

    /// <summary>
    /// Fills <paramref name="mask"/>[0..count) with 0 or 1/(1 − p), drawing one <see cref="Rng.NextFloat"/> per element from
    /// <paramref name="rng"/> (null = <see cref="Rng.Default"/>) — the routine eager <see cref="Functional.Dropout"/> uses for
    /// float32, so the same generator state gives the same mask (PyTorch: the mask of <c>F.dropout</c>). p = 0 gives ones
    /// and p = 1 zeros, without drawing (as eager, which draws nothing then).
    /// </summary>
    public static void DropoutMask(float[] mask, int count, double p, Rng? rng)
    {
        if (p < 0 || p > 1 || double.IsNaN(p))
        {
            throw new ArgumentException($"Dropout: the probability p must be between 0 and 1, but got {p}.");
        }
        var m = new Span<float>(mask, 0, count);
        if (p == 0)
        {
            m.Fill(1f);
            return;
        }
        if (p == 1)
        {
            m.Clear();
            return;
        }
        rng ??= Rng.Default;
        float scale = (float)(1.0 / (1.0 - p));
        for (int i = 0; i < m.Length; i++) m[i] = rng.NextFloat() >= p ? scale : 0f;
    }

    // ======================================================================== losses

    private static double Divisor(string op, Reduction reduction, double count) => reduction switch
    {
        Reduction.Mean => count,
        Reduction.Sum => 1.0,
        _ => throw new ArgumentException($"{op}: compiled code returns a scalar loss, so reduction must be Mean or Sum, but got {reduction}."),
    };

    /// <summary>Checks the class-index target (dtype, shape [n], values) as eager does; returns the number of non-ignored targets.</summary>
    private static int CheckClassTargets(string op, Tensor target, int n, int classes, long ignoreIndex)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (target.DType is not (DType.Int64 or DType.Int32))
        {
            throw new ArgumentException($"{op}: class-index targets must be Int64, but got {target.DType} (target shape {ShapeUtil.Format(target._shape)}).");
        }
        if (target.Rank != 1 || target._shape[0] != n)
        {
            throw new ArgumentException(
                $"{op}: expected a target of shape [{n}] for an input of shape [{n}, {classes}] (dim 1 holds the {classes} classes), but got target shape {ShapeUtil.Format(target._shape)}.");
        }
        IndexArrays(target, out var l, out var i32);
        bool contiguous = target.IsContiguous;
        int valid = 0;
        for (int i = 0; i < n; i++)
        {
            long y = IndexAt(target, l, i32, i, contiguous);
            if (y == ignoreIndex) continue;
            if (y < 0 || y >= classes)
            {
                throw new ArgumentException($"{op}: target {y} (at flat position {i}) is out of bounds: there are {classes} classes, so targets must be in [0, {classes - 1}] (or equal ignoreIndex, {ignoreIndex}).");
            }
            valid++;
        }
        return valid;
    }

    /// <summary>
    /// Cross entropy of logits [n, classes] against Int64 class indices (PyTorch: <c>F.cross_entropy(reduction, ignore_index)</c>):
    /// log-softmax computed once (in double, as eager), the softmax probabilities written to <paramref name="probs"/>
    /// (n × classes) for <see cref="CrossEntropyBackward"/>, and the loss returned (Mean divides by the non-ignored count).
    /// </summary>
    public static float CrossEntropyForward(float[] logits, Tensor target, float[] probs, int n, int classes, Reduction reduction, long ignoreIndex = -100)
    {
        const string op = "CrossEntropy";
        int valid = CheckClassTargets(op, target, n, classes, ignoreIndex);
        double divisor = Divisor(op, reduction, valid);
        IndexArrays(target, out var l, out var i32);
        bool contiguous = target.IsContiguous;
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            int b = i * classes;
            double max = double.NegativeInfinity;
            for (int k = 0; k < classes; k++) max = Math.Max(max, logits[b + k]);
            double sum = 0;
            for (int k = 0; k < classes; k++) sum += Math.Exp(logits[b + k] - max);
            double lse = max + Math.Log(sum);
            for (int k = 0; k < classes; k++)
            {
                float lp = (float)(logits[b + k] - lse);
                probs[b + k] = (float)Math.Exp(lp);
            }
            long y = IndexAt(target, l, i32, i, contiguous);
            if (y == ignoreIndex) continue;
            total -= (float)(logits[b + (int)y] - lse);
        }
        return (float)(total / divisor);
    }

    /// <summary>
    /// Gradient of <see cref="CrossEntropyForward"/> (softmax and cross entropy fused):
    /// gx += gLoss · (probs − onehot(target)) / count, rows with an ignored target getting none.
    /// </summary>
    public static void CrossEntropyBackward(float[] probs, Tensor target, float gLoss, float[]? gx, int n, int classes, Reduction reduction, long ignoreIndex = -100)
    {
        if (gx is null) return;
        const string op = "CrossEntropy";
        int valid = CheckClassTargets(op, target, n, classes, ignoreIndex);
        double scale = gLoss / Divisor(op, reduction, valid);
        IndexArrays(target, out var l, out var i32);
        bool contiguous = target.IsContiguous;
        for (int i = 0; i < n; i++)
        {
            long y = IndexAt(target, l, i32, i, contiguous);
            if (y == ignoreIndex) continue;
            int b = i * classes;
            for (int k = 0; k < classes; k++)
            {
                double coef = k == y ? probs[b + k] - 1.0 : probs[b + k];
                gx[b + k] += (float)(scale * coef);
            }
        }
    }

    /// <summary>
    /// Negative log-likelihood of log-probabilities [n, classes] against Int64 class indices (PyTorch: <c>F.nll_loss</c>):
    /// −Σ logp[i, target[i]] over non-ignored rows, divided by their count for Mean.
    /// </summary>
    public static float NllForward(float[] logp, Tensor target, int n, int classes, Reduction reduction, long ignoreIndex = -100)
    {
        const string op = "Nll";
        int valid = CheckClassTargets(op, target, n, classes, ignoreIndex);
        double divisor = Divisor(op, reduction, valid);
        IndexArrays(target, out var l, out var i32);
        bool contiguous = target.IsContiguous;
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            long y = IndexAt(target, l, i32, i, contiguous);
            if (y == ignoreIndex) continue;
            total -= logp[i * classes + (int)y];
        }
        return (float)(total / divisor);
    }

    /// <summary>Gradient of <see cref="NllForward"/>: gx[i, target[i]] += −gLoss / count.</summary>
    public static void NllBackward(Tensor target, float gLoss, float[]? gx, int n, int classes, Reduction reduction, long ignoreIndex = -100)
    {
        if (gx is null) return;
        const string op = "Nll";
        int valid = CheckClassTargets(op, target, n, classes, ignoreIndex);
        float g = (float)(-gLoss / Divisor(op, reduction, valid));
        IndexArrays(target, out var l, out var i32);
        bool contiguous = target.IsContiguous;
        for (int i = 0; i < n; i++)
        {
            long y = IndexAt(target, l, i32, i, contiguous);
            if (y == ignoreIndex) continue;
            gx[i * classes + (int)y] += g;
        }
    }

    private static float[]? CheckTarget(string op, Tensor target, int count)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (target.NumElements != count)
        {
            throw new ArgumentException($"{op}: the target of shape {ShapeUtil.Format(target._shape)} has {target.NumElements} elements, but the input has {count}; they must have the same shape.");
        }
        if (target.DType is DType.Bool)
        {
            throw new ArgumentException($"{op}: the target must be numeric, but got {target.DType} (shape {ShapeUtil.Format(target._shape)}).");
        }
        return target.Storage is Storage<float> f ? f.Data : null;
    }

    /// <summary>Mean (or summed) squared error (PyTorch: <c>F.mse_loss</c>) of <paramref name="x"/> against a same-shape target (any strides).</summary>
    public static float MseForward(float[] x, Tensor target, int count, Reduction reduction)
    {
        const string op = "Mse";
        var f = CheckTarget(op, target, count);
        double divisor = Divisor(op, reduction, count);
        bool contiguous = target.IsContiguous;
        double total = 0;
        for (int i = 0; i < count; i++)
        {
            float d = x[i] - TargetAt(target, f, i, contiguous);
            total += d * d;
        }
        return (float)(total / divisor);
    }

    /// <summary>Gradient of <see cref="MseForward"/>: gx += gLoss · 2(x − t) / count.</summary>
    public static void MseBackward(float[] x, Tensor target, float gLoss, float[]? gx, int count, Reduction reduction)
    {
        if (gx is null) return;
        const string op = "Mse";
        var f = CheckTarget(op, target, count);
        float g = (float)(gLoss / Divisor(op, reduction, count));
        bool contiguous = target.IsContiguous;
        for (int i = 0; i < count; i++)
        {
            float d = x[i] - TargetAt(target, f, i, contiguous);
            gx[i] += g * d + g * d;
        }
    }

    /// <summary>Mean (or summed) absolute error (PyTorch: <c>F.l1_loss</c>) of <paramref name="x"/> against a same-shape target.</summary>
    public static float L1Forward(float[] x, Tensor target, int count, Reduction reduction)
    {
        const string op = "L1";
        var f = CheckTarget(op, target, count);
        double divisor = Divisor(op, reduction, count);
        bool contiguous = target.IsContiguous;
        double total = 0;
        for (int i = 0; i < count; i++) total += MathF.Abs(x[i] - TargetAt(target, f, i, contiguous));
        return (float)(total / divisor);
    }

    /// <summary>Gradient of <see cref="L1Forward"/>: gx += gLoss · sign(x − t) / count (0 where x = t).</summary>
    public static void L1Backward(float[] x, Tensor target, float gLoss, float[]? gx, int count, Reduction reduction)
    {
        if (gx is null) return;
        const string op = "L1";
        var f = CheckTarget(op, target, count);
        float g = (float)(gLoss / Divisor(op, reduction, count));
        bool contiguous = target.IsContiguous;
        for (int i = 0; i < count; i++)
        {
            float d = x[i] - TargetAt(target, f, i, contiguous);
            float sign = float.IsNaN(d) ? d : d > 0f ? 1f : d < 0f ? -1f : 0f;
            gx[i] += g * sign;
        }
    }

    /// <summary>
    /// Binary cross entropy on logits (PyTorch: <c>F.binary_cross_entropy_with_logits</c>, no weights), computed stably as
    /// eager: (1 − t)·x + softplus(−x).
    /// </summary>
    public static float BceWithLogitsForward(float[] x, Tensor target, int count, Reduction reduction)
    {
        const string op = "BinaryCrossEntropyWithLogits";
        var f = CheckTarget(op, target, count);
        double divisor = Divisor(op, reduction, count);
        bool contiguous = target.IsContiguous;
        double total = 0;
        for (int i = 0; i < count; i++)
        {
            float v = x[i], t = TargetAt(target, f, i, contiguous);
            float z = -v;
            float sp = z > 20f ? z : (float)MathExtra.Log1p(Math.Exp(z));
            total += (1f - t) * v + sp;
        }
        return (float)(total / divisor);
    }

    /// <summary>Gradient of <see cref="BceWithLogitsForward"/>: gx += gLoss · (sigmoid(x) − t) / count (eager's softplus threshold kept).</summary>
    public static void BceWithLogitsBackward(float[] x, Tensor target, float gLoss, float[]? gx, int count, Reduction reduction)
    {
        if (gx is null) return;
        const string op = "BinaryCrossEntropyWithLogits";
        var f = CheckTarget(op, target, count);
        float g = (float)(gLoss / Divisor(op, reduction, count));
        bool contiguous = target.IsContiguous;
        for (int i = 0; i < count; i++)
        {
            float v = x[i], t = TargetAt(target, f, i, contiguous);
            float z = -v;
            float dsp = z > 20f ? 1f : 1f / (1f + MathF.Exp(-z));
            gx[i] += g * (1f - t) - g * dsp;
        }
    }

    // ======================================================================== pooling

    private static PoolGeometry AvgGeometry(int planes, int h, int w, int ho, int wo, int kh, int kw, int sh, int sw, int ph, int pw, bool ceilMode)
    {
        int eh = Ops.ShapeRules.OutputSize(h, kh, sh, ph, 1, ceilMode) ?? 0, ew = Ops.ShapeRules.OutputSize(w, kw, sw, pw, 1, ceilMode) ?? 0;
        if (eh != ho || ew != wo)
        {
            throw new ArgumentException($"AvgPool2d: an input of {h} × {w} with kernel ({kh}, {kw}), stride ({sh}, {sw}), padding ({ph}, {pw}) and ceil_mode={ceilMode} gives {eh} × {ew}, but the compiled code expects {ho} × {wo}.");
        }
        return new PoolGeometry(planes, h, w, ho, wo, kh, kw, sh, sw, ph, pw, 1, 1);
    }

    /// <summary>
    /// 2-d average pooling (PyTorch: <c>F.avg_pool2d</c>) over <paramref name="planes"/> (= n·c) contiguous h×w planes, with
    /// PyTorch's divisor rules for padding, ceil mode and count_include_pad; <paramref name="divisorOverride"/> &gt; 0 is
    /// PyTorch's <c>divisor_override</c> (0 = none).
    /// </summary>
    public static void AvgPool2dForward(float[] x, float[] y, int planes, int h, int w, int ho, int wo, int kh, int kw, int sh, int sw,
        int ph, int pw, bool ceilMode, bool countIncludePad, int divisorOverride = 0)
        => Pooling.AvgForward(AvgGeometry(planes, h, w, ho, wo, kh, kw, sh, sw, ph, pw, ceilMode), countIncludePad,
            divisorOverride > 0 ? divisorOverride : null, x, y);

    /// <summary>Gradient of <see cref="AvgPool2dForward"/>: <paramref name="gx"/> (planes·h·w) accumulates.</summary>
    public static void AvgPool2dBackward(float[] gy, float[]? gx, int planes, int h, int w, int ho, int wo, int kh, int kw, int sh, int sw,
        int ph, int pw, bool ceilMode, bool countIncludePad, int divisorOverride = 0)
    {
        if (gx is null) return;
        Pooling.AvgBackward(AvgGeometry(planes, h, w, ho, wo, kh, kw, sh, sw, ph, pw, ceilMode), countIncludePad,
            divisorOverride > 0 ? divisorOverride : null, gy, gx, accumulate: true);
    }

    /// <summary>
    /// 2-d adaptive average pooling (PyTorch: <c>F.adaptive_avg_pool2d</c>) of <paramref name="planes"/> h×w planes to ho×wo:
    /// cell (i, j) averages rows [⌊i·h/ho⌋, ⌈(i+1)·h/ho⌉) and the same for columns.
    /// </summary>
    public static void AdaptiveAvgPool2dForward(float[] x, float[] y, int planes, int h, int w, int ho, int wo)
        => Pooling.AdaptiveAvgForward(planes, h, w, ho, wo, x, y);

    /// <summary>Gradient of <see cref="AdaptiveAvgPool2dForward"/>: <paramref name="gx"/> (planes·h·w) accumulates.</summary>
    public static void AdaptiveAvgPool2dBackward(float[] gy, float[]? gx, int planes, int h, int w, int ho, int wo)
    {
        if (gx is null) return;
        Pooling.AdaptiveAvgBackward(planes, h, w, ho, wo, gy, gx, accumulate: true);
    }

    // ======================================================================== hooks

    /// <summary>True when <paramref name="m"/> has a forward pre-hook or forward hook registered (cheap, no allocation).</summary>
    public static bool HasForwardHooks(Module m) => m.HasForwardHooksCore();

    /// <summary>True when <paramref name="m"/> has a full backward hook registered (cheap, no allocation).</summary>
    public static bool HasBackwardHooks(Module m) => m.HasBackwardHooksCore();

    /// <summary>
    /// Runs <paramref name="m"/>'s forward pre-hooks in order, as its eager call does (PyTorch: <c>register_forward_pre_hook</c>);
    /// returns the replaced inputs, or null when no hook replaced them.
    /// </summary>
    public static Tensor[]? RunForwardPreHooks(Module m, Tensor[] inputs) => m.RunForwardPreHooks(inputs);

    /// <summary>
    /// Runs <paramref name="m"/>'s forward hooks in order with the inputs and output (PyTorch: <c>register_forward_hook</c>);
    /// returns the replacement output, or null when none replaced it.
    /// </summary>
    public static Tensor? RunForwardHooks(Module m, Tensor[] inputs, Tensor output) => m.RunForwardHooks(inputs, output);

    /// <summary>
    /// Runs <paramref name="m"/>'s full backward hooks in order with (gradInputs, gradOutputs) (PyTorch:
    /// <c>register_full_backward_hook</c>); returns the replacement input gradients, or null when none replaced them.
    /// </summary>
    public static Tensor?[]? RunBackwardHooks(Module m, Tensor?[] gradInputs, Tensor?[] gradOutputs) => m.RunBackwardHooks(gradInputs, gradOutputs);
}
