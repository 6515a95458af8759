using System.ComponentModel;
using System.Numerics;

namespace SharpGrad.Kernels;

/// <summary>
/// The Int64 (or Int32) elements of an index tensor in row-major order, any strides or offset, read without a copy
/// (class-index targets, embedding indices).
/// </summary>
internal readonly struct Indices
{
    private readonly Tensor? _tensor;
    private readonly long[]? _longs;
    private readonly int[]? _ints;
    private readonly bool _contiguous;
    private readonly int _offset;

    public Indices(Tensor tensor)
    {
        _tensor = tensor;
        _longs = tensor.Storage is Storage<long> l ? l.Data : null;
        _ints = tensor.Storage is Storage<int> i ? i.Data : null;
        _contiguous = tensor.IsContiguous;
        _offset = tensor.Offset;
        Count = tensor.NumElements;
    }

    public Indices(long[] values)
    {
        _longs = values;
        _contiguous = true;
        Count = values.Length;
    }

    public int Count { get; }

    public long this[int k]
    {
        get
        {
            int p = _contiguous ? _offset + k : _tensor!.ElementOffsetOf(k);
            return _longs is not null ? _longs[p] : _ints![p];
        }
    }
}

/// <summary>
/// Cross entropy (PyTorch: <c>F.cross_entropy</c>) and negative log-likelihood (<c>F.nll_loss</c>) against class
/// indices, for input [n, c, s] (s = the product of any dims after the classes): log-softmax and the loss in one pass,
/// class weights, <c>ignore_index</c>, label smoothing and every reduction; the backward from the kept log-probabilities.
/// Eager <c>Losses.CrossEntropy</c>/<c>Losses.Nll</c> and generated code call the same kernels.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class ClassIndexLoss
{
    /// <summary>The loss's options and the normalisers its forward found (what its backward needs besides the log-probabilities).</summary>
    internal struct Setup
    {
        public int N, C, S;
        public double[]? Weight;
        public long IgnoreIndex;
        public double Smoothing;
        public Reduction Reduction;
        public bool LogSoftmax;
        public double DenomNll, DenomSmooth;

        public readonly double W(int cls) => Weight is null ? 1 : Weight[cls];
    }

    /// <summary>Checks class-index targets as PyTorch does (dtype, shape, range); throws naming what is wrong.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static void CheckTargets(string op, Tensor target, int n, int classes, long ignoreIndex)
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
        CheckRange(op, new Indices(target), classes, ignoreIndex);
    }

    /// <summary>Every target is a class in [0, classes) or the ignored index.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static void CheckRange(string op, Indices target, int classes, long ignoreIndex)
    {
        for (int i = 0; i < target.Count; i++)
        {
            long y = target[i];
            if (y != ignoreIndex && (y < 0 || y >= classes))
            {
                throw new ArgumentException($"{op}: target {y} (at flat position {i}) is out of bounds: there are {classes} classes, so targets must be in [0, {classes - 1}] (or equal ignoreIndex, {ignoreIndex}).");
            }
        }
    }

    private static Reduction ScalarReduction(string op, Reduction reduction) => reduction is Reduction.Mean or Reduction.Sum
        ? reduction
        : throw new ArgumentException($"{op}: compiled code returns a scalar loss, so reduction must be Mean or Sum, but got {reduction}.");

    /// <summary>
    /// Float32 forward for generated code, input [n, classes]: <paramref name="logp"/> receives the log-probabilities
    /// (the input itself is read as them for Nll, <paramref name="logSoftmax"/> false); returns the reduced loss.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static float Forward(float[] x, Tensor target, float[] logp, int n, int classes, Reduction reduction, long ignoreIndex, bool logSoftmax)
    {
        string op = logSoftmax ? "CrossEntropy" : "Nll";
        CheckTargets(op, target, n, classes, ignoreIndex);
        var setup = new Setup { N = n, C = classes, S = 1, IgnoreIndex = ignoreIndex, Reduction = ScalarReduction(op, reduction), LogSoftmax = logSoftmax };
        int count = n * classes;
        return (float)Forward<float>(new ReadOnlySpan<float>(x, 0, count), new Span<float>(logp, 0, count), new Indices(target), ref setup, []);
    }

    /// <summary>Float32 backward for generated code: <paramref name="gx"/> += the gradient for the loss gradient <paramref name="gLoss"/>.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Backward(float[] logp, Tensor target, float gLoss, float[]? gx, int n, int classes, Reduction reduction, long ignoreIndex, bool logSoftmax)
    {
        if (gx is null) return;
        string op = logSoftmax ? "CrossEntropy" : "Nll";
        CheckTargets(op, target, n, classes, ignoreIndex);
        var setup = new Setup { N = n, C = classes, S = 1, IgnoreIndex = ignoreIndex, Reduction = ScalarReduction(op, reduction), LogSoftmax = logSoftmax };
        var indices = new Indices(target);
        Normalisers(indices, ref setup);
        int count = n * classes;
        Backward<float>(new ReadOnlySpan<float>(logp, 0, count), [gLoss], new Span<float>(gx, 0, count), indices, setup, accumulate: true);
    }

    /// <summary>The Mean normalisers: the weight sum of the non-ignored targets (and, for smoothing, the positions).</summary>
    private static void Normalisers(Indices target, ref Setup setup)
    {
        setup.DenomNll = 1;
        setup.DenomSmooth = 1;
        if (setup.Reduction != Reduction.Mean) return;
        double sumW = 0;
        for (int r = 0; r < target.Count; r++)
        {
            long y = target[r];
            if (y != setup.IgnoreIndex) sumW += setup.W((int)y);
        }
        setup.DenomNll = sumW;
        // PyTorch: with class weights the smoothing term is normalised by the same weight sum; without, by the number of
        // target positions (ignored ones included, as smooth_loss.mean() does).
        setup.DenomSmooth = setup.Weight is not null ? sumW : target.Count;
    }

    /// <summary>
    /// The loss of x [n, c, s] against the targets: <paramref name="logp"/> receives the log-probabilities (log-softmax in
    /// double, or x itself for Nll); <paramref name="perRow"/> (when not empty, n·s values) the unreduced losses. Returns
    /// the reduced loss (for Mean/Sum) and fills the normalisers of <paramref name="setup"/>.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static double Forward<T>(ReadOnlySpan<T> x, Span<T> logp, Indices target, ref Setup setup, Span<double> perRow)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = setup.N, c = setup.C, s = setup.S;
        if (setup.LogSoftmax)
        {
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < s; j++)
                {
                    int b = i * c * s + j;
                    double max = double.NegativeInfinity;
                    for (int k = 0; k < c; k++) max = Math.Max(max, double.CreateTruncating(x[b + k * s]));
                    double sum = 0;
                    for (int k = 0; k < c; k++) sum += Math.Exp(double.CreateTruncating(x[b + k * s]) - max);
                    double lse = max + Math.Log(sum);
                    for (int k = 0; k < c; k++) logp[b + k * s] = T.CreateTruncating(double.CreateTruncating(x[b + k * s]) - lse);
                }
            }
        }
        else
        {
            x.CopyTo(logp);
        }
        double smoothing = setup.Smoothing, sumNll = 0, sumSmooth = 0;
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < s; j++)
            {
                int r = i * s + j;
                long y = target[r];
                if (y == setup.IgnoreIndex)
                {
                    if (!perRow.IsEmpty) perRow[r] = 0;
                    continue;
                }
                int b = i * c * s + j;
                double nll = -setup.W((int)y) * double.CreateTruncating(logp[b + (int)y * s]);
                sumNll += nll;
                double smooth = 0;
                if (smoothing > 0)
                {
                    for (int k = 0; k < c; k++) smooth -= setup.W(k) * double.CreateTruncating(logp[b + k * s]);
                    sumSmooth += smooth;
                }
                if (!perRow.IsEmpty) perRow[r] = (1 - smoothing) * nll + smoothing / c * smooth;
            }
        }
        Normalisers(target, ref setup);
        return (1 - smoothing) * sumNll / setup.DenomNll + (smoothing > 0 ? smoothing / c * sumSmooth / setup.DenomSmooth : 0);
    }

    /// <summary>
    /// The gradient with respect to x from the log-probabilities: <paramref name="g"/> is the loss gradient (one value, or
    /// n·s for reduction None). With log-softmax it is (coefficients − softmax·Σ coefficients); for Nll the coefficients.
    /// </summary>
    internal static void Backward<T>(ReadOnlySpan<T> logp, ReadOnlySpan<T> g, Span<T> gx, Indices target, Setup setup, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = setup.N, c = setup.C, s = setup.S;
        double smoothing = setup.Smoothing;
        if (!accumulate) gx.Clear();
        Span<double> coef = c <= 256 ? stackalloc double[c] : new double[c];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < s; j++)
            {
                int r = i * s + j;
                long y = target[r];
                if (y == setup.IgnoreIndex) continue;   // the gradient stays zero
                double gr = double.CreateTruncating(setup.Reduction == Reduction.None ? g[r] : g[0]);
                int b = i * c * s + j;
                double a = -(1 - smoothing) * gr / setup.DenomNll;
                double bs = smoothing > 0 ? -smoothing / c * gr / setup.DenomSmooth : 0;
                double sumCoef = 0;
                for (int k = 0; k < c; k++)
                {
                    double ck = bs * setup.W(k);
                    if (k == y) ck += a * setup.W(k);
                    coef[k] = ck;
                    sumCoef += ck;
                }
                for (int k = 0; k < c; k++)
                {
                    double d = setup.LogSoftmax ? coef[k] - Math.Exp(double.CreateTruncating(logp[b + k * s])) * sumCoef : coef[k];
                    gx[b + k * s] += T.CreateTruncating(d);
                }
            }
        }
    }

    /// <summary>The same gradient from tensor ops (differentiable again: <c>createGraph</c>); <paramref name="input"/> is [n, c, s]-shaped.</summary>
    internal static Tensor DifferentiableBackward(Tensor g, Tensor input, Indices target, Setup setup)
    {
        int n = setup.N, c = setup.C, s = setup.S;
        double smoothing = setup.Smoothing;
        // coef[n, k, s] = d loss_row / d logp[n, k, s] per unit of the row's output gradient.
        var coef = new double[n * c * s];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < s; j++)
            {
                long y = target[i * s + j];
                if (y == setup.IgnoreIndex) continue;
                int b = i * c * s + j;
                for (int k = 0; k < c; k++)
                {
                    double ck = smoothing > 0 ? -smoothing / c * setup.W(k) / setup.DenomSmooth : 0;
                    if (k == y) ck -= (1 - smoothing) * setup.W(k) / setup.DenomNll;
                    coef[b + k * s] = ck;
                }
            }
        }
        var coefT = Tensor.FromArray(coef, n, c, s).To(input.DType);
        var gB = setup.Reduction == Reduction.None ? g.Reshape(n, 1, s) : g;
        var cg = coefT * gB;
        if (!setup.LogSoftmax) return cg.Reshape(input._shape);
        var x3 = input.Reshape(n, c, s);
        return (cg - x3.Softmax(1) * cg.Sum(1, keepDim: true)).Reshape(input._shape);
    }

    /// <summary>
    /// Cross entropy against class probabilities of the input's shape (PyTorch: <c>F.cross_entropy</c> with a floating-point
    /// target): −Σ t·log_softmax(x) over the class dim, label smoothing and class weights applied, built from tensor ops.
    /// </summary>
    internal static Tensor ProbabilityTargets(Tensor input, Tensor target, Tensor? weight, double labelSmoothing, Reduction reduction)
    {
        if (!ShapeUtil.SameShape(input._shape, target._shape))
        {
            throw new ArgumentException(
                $"CrossEntropy: with probability targets (dtype {target.DType}) the target must have the input's shape, but input is {ShapeUtil.Format(input._shape)} and target is {ShapeUtil.Format(target._shape)}. For class-index targets use an Int64 tensor.");
        }
        int classDim = input.Rank == 1 ? 0 : 1;
        int c = input._shape[classDim];
        var t = target.To(input.DType);
        if (labelSmoothing > 0) t = t * Tensor.ScalarLike(t, 1 - labelSmoothing) + Tensor.ScalarLike(t, labelSmoothing / c);
        var logp = input.LogSoftmax(classDim);
        var prod = logp * t;
        if (weight is not null)
        {
            if (weight.Rank != 1 || weight._shape[0] != c)
            {
                throw new ArgumentException($"CrossEntropy: weight must have shape [{c}] (one value per class), but got {ShapeUtil.Format(weight._shape)}.");
            }
            var shape = Enumerable.Repeat(1, input.Rank).ToArray();
            shape[classDim] = c;
            prod = prod * weight.To(input.DType).Reshape(shape);
        }
        var perSample = -prod.Sum(classDim);
        return reduction switch
        {
            Reduction.None => perSample,
            Reduction.Sum => perSample.Sum(),
            _ => perSample.Sum() / Tensor.ScalarLike(perSample, input.NumElements / Math.Max(c, 1)),
        };
    }

}
