using System.Numerics;
using SharpGrad.Ops;

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
    public static Tensor CrossEntropy(Tensor input, Tensor target, Tensor? weight = null, long ignoreIndex = OpDefaults.CrossEntropy.IgnoreIndex,
        double labelSmoothing = OpDefaults.CrossEntropy.LabelSmoothing, Reduction reduction = (Reduction)OpDefaults.Reduction)
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
            return Kernels.ClassIndexLoss.ProbabilityTargets(input, target, weight, labelSmoothing, reduction);
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
    public static Tensor Nll(Tensor input, Tensor target, Tensor? weight = null, long ignoreIndex = OpDefaults.CrossEntropy.IgnoreIndex,
        Reduction reduction = (Reduction)OpDefaults.Reduction)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        RequireFloat("Nll", input, "input");
        return ClassIndexLoss("Nll", input, target, weight, ignoreIndex, 0, reduction, logSoftmax: false);
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
        // Layout [N, C, S]; a 1-d input [C] is one sample with a 0-d target (the shape rule is the catalogue's).
        var expected = Ops.ShapeRules.ClassIndexTarget(Ops.TensorShape.Of(input._shape));
        if (!expected.Equals(Ops.TensorShape.Of(target._shape)))
        {
            throw new ArgumentException(input.Rank == 1
                ? $"{op}: for an input of shape {ShapeUtil.Format(input._shape)} (one sample of {input._shape[0]} classes) the target must be 0-d, but got shape {ShapeUtil.Format(target._shape)}."
                : $"{op}: expected a target of shape {expected} for an input of shape {ShapeUtil.Format(input._shape)} (dim 1 holds the {input._shape[1]} classes), but got target shape {ShapeUtil.Format(target._shape)}.");
        }
        int[] outShape = expected.Sizes();
        int n = input.Rank == 1 ? 1 : input._shape[0], c = input._shape[input.Rank == 1 ? 0 : 1];
        int s = 1;
        for (int d = 2; d < input.Rank; d++) s *= input._shape[d];
        double[]? w = null;
        if (weight is not null)
        {
            CheckWeight(op, weight, c);
            w = weight.ToDoubleArray();
        }
        // The targets are read where they are (no copy); the node saves the target, so an in-place change of it before the
        // backward is an error, as in PyTorch (nll_loss saves its target).
        var targets = new Kernels.Indices(target);
        Kernels.ClassIndexLoss.CheckRange(op, targets, c, ignoreIndex);
        var setup = new Kernels.ClassIndexLoss.Setup
        {
            N = n, C = c, S = s, Weight = w, IgnoreIndex = ignoreIndex, Smoothing = smoothing, Reduction = reduction, LogSoftmax = logSoftmax,
        };
        var x = input.Contiguous();
        var logp = Tensor.Empty(x._shape, x.DType);
        // Only this loss (and its node) holds the log-probabilities: the node saves them, and the backward that frees the
        // node gives the array back to the caching allocator (no batch-sized garbage per training step).
        logp.Storage.Internal = true;
        var perRow = reduction == Reduction.None ? new double[n * s] : [];
        double total = input.DType == DType.Float32
            ? Kernels.ClassIndexLoss.Forward(x.Span<float>(), logp.Span<float>(), targets, ref setup, perRow)
            : Kernels.ClassIndexLoss.Forward(x.Span<double>(), logp.Span<double>(), targets, ref setup, perRow);
        var result = reduction == Reduction.None ? Tensor.FromArray(perRow, outShape).To(input.DType) : Tensor.Full([], total, input.DType);
        if (!ShouldRecordInput(input)) return result;
        var inputShape = input._shape;
        return Record(result, logSoftmax ? "CrossEntropyLossBackward" : "NllLossBackward", input, [logp, target], (g, node) =>
        {
            // With createGraph (grad mode on during backward) the gradient is built from Tensor ops so it can be differentiated again.
            if (Autograd.IsGradEnabled) return [Kernels.ClassIndexLoss.DifferentiableBackward(g, input, targets, setup)];
            var gc = g.To(input.DType).Contiguous();
            var grad = Tensor.Empty(inputShape, input.DType);
            if (input.DType == DType.Float32) Kernels.ClassIndexLoss.Backward(logp.Span<float>(), gc.Span<float>(), grad.Span<float>(), targets, setup, accumulate: false);
            else Kernels.ClassIndexLoss.Backward(logp.Span<double>(), gc.Span<double>(), grad.Span<double>(), targets, setup, accumulate: false);
            return [grad];
        });
    }

    private static bool ShouldRecordInput(Tensor input) => input.RequiresGrad && Autograd.IsGradEnabled;

    private static Tensor Record(Tensor result, string name, Tensor input, Tensor[] saved, BackwardFunction backward)
    {
        // The backward reads only the kernel's own log-probabilities, targets and weights, never the input's values.
        result.SetGradFn(new Node(name, [input], backward, saved));
        return result;
    }
}
