using System.Numerics;

namespace SharpGrad;

public static partial class Losses
{
    /// <summary>
    /// Cross entropy between logits and class targets (PyTorch: <c>F.cross_entropy</c>). <paramref name="input"/> is
    /// [N, C], [C] or [N, C, d1, …]; <paramref name="target"/> is either class indices (Int64, shape [N] / [] / [N, d1, …])
    /// or class probabilities (floating point, the same shape as the input). Class-index targets run a fused
    /// log-softmax + NLL kernel with a dedicated backward.
    /// </summary>
    /// <param name="input">Unnormalised scores (logits).</param>
    /// <param name="target">Class indices (Int64) or class probabilities (same shape as input).</param>
    /// <param name="weight">Optional per-class weights, shape [C] (PyTorch: <c>weight</c>).</param>
    /// <param name="ignoreIndex">Targets equal to this contribute nothing (class-index targets only) (PyTorch: <c>ignore_index</c>).</param>
    /// <param name="labelSmoothing">Amount in [0, 1] of smoothing towards the uniform distribution (PyTorch: <c>label_smoothing</c>).</param>
    /// <param name="reduction">None, Mean (weighted mean over non-ignored targets) or Sum.</param>
    public static Tensor CrossEntropy(Tensor input, Tensor target, Tensor? weight = null, long ignoreIndex = -100,
        double labelSmoothing = 0, Reduction reduction = Reduction.Mean)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
        {
            throw new ArgumentException($"CrossEntropy: labelSmoothing must be in [0, 1], but got {labelSmoothing}.");
        }
        RequireFloat("CrossEntropy", input, "input");
        if (target.DType.IsFloatingPoint())
        {
            return CrossEntropyProbabilities(input, target, weight, labelSmoothing, reduction);
        }
        return ClassIndexLoss("CrossEntropy", input, target, weight, ignoreIndex, labelSmoothing, reduction, logSoftmax: true);
    }

    /// <summary>
    /// Negative log-likelihood of class targets given log-probabilities (PyTorch: <c>F.nll_loss</c>), for inputs [N, C],
    /// [C] or [N, C, d1, …] (e.g. the 2-d spatial case [N, C, H, W] with targets [N, H, W]).
    /// </summary>
    /// <param name="input">Log-probabilities.</param>
    /// <param name="target">Class indices (Int64).</param>
    /// <param name="weight">Optional per-class weights, shape [C].</param>
    /// <param name="ignoreIndex">Targets equal to this contribute nothing (PyTorch: <c>ignore_index</c>).</param>
    /// <param name="reduction">None, Mean (weighted mean over non-ignored targets) or Sum.</param>
    public static Tensor Nll(Tensor input, Tensor target, Tensor? weight = null, long ignoreIndex = -100, Reduction reduction = Reduction.Mean)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        RequireFloat("Nll", input, "input");
        return ClassIndexLoss("Nll", input, target, weight, ignoreIndex, 0, reduction, logSoftmax: false);
    }

    private static Tensor CrossEntropyProbabilities(Tensor input, Tensor target, Tensor? weight, double labelSmoothing, Reduction reduction)
    {
        if (!ShapeUtil.SameShape(input._shape, target._shape))
        {
            throw new ArgumentException(
                $"CrossEntropy: with probability targets (dtype {target.DType}) the target must have the input's shape, but input is {ShapeUtil.Format(input._shape)} and target is {ShapeUtil.Format(target._shape)}. For class-index targets use an Int64 tensor.");
        }
        int classDim = input.Rank == 1 ? 0 : 1;
        int c = input._shape[classDim];
        var t = target.To(input.DType);
        if (labelSmoothing > 0) t = t * K(t, 1 - labelSmoothing) + K(t, labelSmoothing / c);
        var logp = input.LogSoftmax(classDim);
        var prod = logp * t;
        if (weight is not null)
        {
            CheckWeight("CrossEntropy", weight, c);
            var shape = Enumerable.Repeat(1, input.Rank).ToArray();
            shape[classDim] = c;
            prod = prod * weight.To(input.DType).Reshape(shape);
        }
        var perSample = -prod.Sum(classDim);
        return reduction switch
        {
            Reduction.None => perSample,
            Reduction.Sum => perSample.Sum(),
            _ => perSample.Sum() / K(perSample, input.NumElements / Math.Max(c, 1)),
        };
    }

    private static void CheckWeight(string op, Tensor weight, int classes)
    {
        if (weight.Rank != 1 || weight._shape[0] != classes)
        {
            throw new ArgumentException($"{op}: weight must have shape [{classes}] (one value per class), but got {ShapeUtil.Format(weight._shape)}.");
        }
    }

    /// <summary>Shared fused kernel of CrossEntropy (logSoftmax: true) and Nll (false) with class-index targets.</summary>
    private static Tensor ClassIndexLoss(string op, Tensor input, Tensor target, Tensor? weight, long ignoreIndex, double smoothing,
        Reduction reduction, bool logSoftmax)
    {
        if (target.DType is not (DType.Int64 or DType.Int32))
        {
            throw new ArgumentException($"{op}: class-index targets must be Int64, but got {target.DType} (target shape {ShapeUtil.Format(target._shape)}).");
        }
        if (input.Rank == 0)
        {
            throw new ArgumentException($"{op}: input must have at least 1 dimension (the classes), but got a 0-d tensor.");
        }
        // Layout [N, C, S]; a 1-d input [C] is one sample with a 0-d target.
        int n, c, s;
        int[] outShape;
        if (input.Rank == 1)
        {
            n = 1; c = input._shape[0]; s = 1;
            outShape = [];
            if (target.Rank != 0)
            {
                throw new ArgumentException($"{op}: for an input of shape {ShapeUtil.Format(input._shape)} (one sample of {c} classes) the target must be 0-d, but got shape {ShapeUtil.Format(target._shape)}.");
            }
        }
        else
        {
            n = input._shape[0]; c = input._shape[1];
            s = 1;
            for (int d = 2; d < input.Rank; d++) s *= input._shape[d];
            outShape = [n, .. input._shape[2..]];
            if (!ShapeUtil.SameShape(outShape, target._shape))
            {
                throw new ArgumentException(
                    $"{op}: expected a target of shape {ShapeUtil.Format(outShape)} for an input of shape {ShapeUtil.Format(input._shape)} (dim 1 holds the {c} classes), but got target shape {ShapeUtil.Format(target._shape)}.");
            }
        }
        double[]? w = null;
        if (weight is not null)
        {
            CheckWeight(op, weight, c);
            w = weight.ToDoubleArray();
        }
        var tgt = target.ToLongArray();
        for (int i = 0; i < tgt.Length; i++)
        {
            long y = tgt[i];
            if (y != ignoreIndex && (y < 0 || y >= c))
            {
                throw new ArgumentException($"{op}: target {y} (at flat position {i}) is out of bounds: there are {c} classes, so targets must be in [0, {c - 1}] (or equal ignoreIndex, {ignoreIndex}).");
            }
        }
        var x = input.Contiguous();
        var k = new ClassIndexKernel(n, c, s, tgt, w, ignoreIndex, smoothing, reduction, logSoftmax);
        Tensor result = input.DType == DType.Float32 ? k.Forward<float>(x, outShape) : k.Forward<double>(x, outShape);
        if (!ShouldRecordInput(input)) return result;
        var inputShape = input._shape;
        return Record(result, logSoftmax ? "CrossEntropyLossBackward" : "NllLossBackward", input, (g, node) =>
            // With createGraph (grad mode on during backward) the gradient is built from Tensor ops so it can be differentiated again.
            [Autograd.IsGradEnabled
                ? k.DifferentiableBackward(g, input)
                : input.DType == DType.Float32 ? k.Backward<float>(g, inputShape) : k.Backward<double>(g, inputShape)]);
    }

    private static bool ShouldRecordInput(Tensor input) => input.RequiresGrad && Autograd.IsGradEnabled;

    private static Tensor Record(Tensor result, string name, Tensor input, BackwardFunction backward)
    {
        // The backward reads only the kernel's own log-probabilities, targets and weights, never the input's values.
        result.SetGradFn(new Node(name, [input], backward, null));
        return result;
    }

    private sealed class ClassIndexKernel(int n, int c, int s, long[] target, double[]? weight, long ignoreIndex, double smoothing,
        Reduction reduction, bool logSoftmax)
    {
        private Tensor? _logp;   // log-probabilities [N, C, S] (log-softmax output, or the input itself for Nll)
        private double _denomNll = 1, _denomSmooth = 1;

        private double W(int cls) => weight is null ? 1 : weight[cls];

        public Tensor Forward<T>(Tensor x, int[] outShape) where T : unmanaged, IFloatingPointIeee754<T>
        {
            var xs = x.Span<T>();
            Tensor logpT;
            if (logSoftmax)
            {
                logpT = Tensor.Empty(x._shape, x.DType);
                var lp = logpT.Span<T>();
                for (int i = 0; i < n; i++)
                {
                    for (int j = 0; j < s; j++)
                    {
                        int b = i * c * s + j;
                        double max = double.NegativeInfinity;
                        for (int k = 0; k < c; k++) max = Math.Max(max, double.CreateTruncating(xs[b + k * s]));
                        double sum = 0;
                        for (int k = 0; k < c; k++) sum += Math.Exp(double.CreateTruncating(xs[b + k * s]) - max);
                        double lse = max + Math.Log(sum);
                        for (int k = 0; k < c; k++) lp[b + k * s] = T.CreateTruncating(double.CreateTruncating(xs[b + k * s]) - lse);
                    }
                }
            }
            else
            {
                logpT = x;
            }
            _logp = logpT;
            var l = logpT.Span<T>();
            int rows = n * s;
            var perRow = new double[rows];
            double sumNll = 0, sumSmooth = 0, sumW = 0;
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < s; j++)
                {
                    int r = i * s + j;
                    long y = target[r];
                    if (y == ignoreIndex) continue;
                    int b = i * c * s + j;
                    double wy = W((int)y);
                    double nll = -wy * double.CreateTruncating(l[b + (int)y * s]);
                    sumW += wy;
                    sumNll += nll;
                    double smooth = 0;
                    if (smoothing > 0)
                    {
                        for (int k = 0; k < c; k++) smooth -= W(k) * double.CreateTruncating(l[b + k * s]);
                        sumSmooth += smooth;
                    }
                    perRow[r] = (1 - smoothing) * nll + smoothing / c * smooth;
                }
            }
            if (reduction == Reduction.None)
            {
                var outArr = new T[rows];
                for (int r = 0; r < rows; r++) outArr[r] = T.CreateTruncating(perRow[r]);
                return Tensor.Wrap(outArr, outShape);
            }
            if (reduction == Reduction.Mean)
            {
                _denomNll = sumW;
                // PyTorch: with class weights the smoothing term is normalised by the same weight sum; without, by the
                // number of target positions (ignored ones included, as smooth_loss.mean() does).
                _denomSmooth = weight is not null ? sumW : rows;
            }
            double total = (1 - smoothing) * sumNll / _denomNll + (smoothing > 0 ? smoothing / c * sumSmooth / _denomSmooth : 0);
            return Tensor.Wrap(new[] { T.CreateTruncating(total) }, []);
        }

        /// <summary>The same gradient as <see cref="Backward{T}"/>, from differentiable Tensor ops (for double backward).</summary>
        public Tensor DifferentiableBackward(Tensor g, Tensor input)
        {
            // coef[n, k, s] = d loss_row / d logp[n, k, s] per unit of the row's output gradient.
            var coef = new double[n * c * s];
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < s; j++)
                {
                    long y = target[i * s + j];
                    if (y == ignoreIndex) continue;
                    int b = i * c * s + j;
                    for (int k = 0; k < c; k++)
                    {
                        double ck = smoothing > 0 ? -smoothing / c * W(k) / _denomSmooth : 0;
                        if (k == y) ck -= (1 - smoothing) * W(k) / _denomNll;
                        coef[b + k * s] = ck;
                    }
                }
            }
            var coefT = Tensor.FromArray(coef, n, c, s).To(input.DType);
            var gB = reduction == Reduction.None ? g.Reshape(n, 1, s) : g;
            var cg = coefT * gB;
            Tensor grad3 = cg;
            if (logSoftmax)
            {
                var x3 = input.Reshape(n, c, s);
                grad3 = cg - x3.Softmax(1) * cg.Sum(1, keepDim: true);
            }
            return grad3.Reshape(input._shape);
        }

        public Tensor Backward<T>(Tensor g, int[] inputShape) where T : unmanaged, IFloatingPointIeee754<T>
        {
            var l = _logp!.Span<T>();
            var gc = g.To(_logp.DType).Contiguous();
            var gs = gc.Span<T>();
            var grad = Tensor.Empty(inputShape, _logp.DType);
            var o = grad.Span<T>();
            var coef = new double[c];
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < s; j++)
                {
                    int r = i * s + j;
                    long y = target[r];
                    if (y == ignoreIndex) continue; // gradient stays zero
                    double gr = double.CreateTruncating(reduction == Reduction.None ? gs[r] : gs[0]);
                    int b = i * c * s + j;
                    double a = -(1 - smoothing) * gr / _denomNll;
                    double bs = smoothing > 0 ? -smoothing / c * gr / _denomSmooth : 0;
                    double sumCoef = 0;
                    for (int k = 0; k < c; k++)
                    {
                        double ck = bs * W(k);
                        if (k == y) ck += a * W(k);
                        coef[k] = ck;
                        sumCoef += ck;
                    }
                    if (logSoftmax)
                    {
                        // d/dx of Σ coef·logp = coef - softmax·Σcoef
                        for (int k = 0; k < c; k++)
                        {
                            double p = Math.Exp(double.CreateTruncating(l[b + k * s]));
                            o[b + k * s] = T.CreateTruncating(coef[k] - p * sumCoef);
                        }
                    }
                    else
                    {
                        for (int k = 0; k < c; k++) o[b + k * s] = T.CreateTruncating(coef[k]);
                    }
                }
            }
            return grad;
        }
    }
}
