using SharpGrad.Kernels;
using SharpGrad.Ops;

namespace SharpGrad;

// Group, instance and RMS normalisation: argument checks and the autograd wiring of Kernels/GroupNorm.cs and Kernels/RmsNorm.cs.
public static partial class Functional
{
    /// <summary>
    /// Group normalisation (PyTorch: <c>torch.nn.functional.group_norm</c>) of [N, C, *] input: the C channels are split into
    /// <paramref name="numGroups"/> groups, each (sample, group) normalised by its own mean and biased variance, then scaled
    /// and shifted per channel by <paramref name="weight"/> and <paramref name="bias"/> ([C], optional).
    /// </summary>
    public static Tensor GroupNorm(Tensor input, int numGroups, Tensor? weight = null, Tensor? bias = null, double eps = OpDefaults.Norm.Eps)
    {
        const string op = "GroupNorm";
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank < 2) throw new ArgumentException($"{op}: expected an input [N, C, *] of at least 2 dims, but got shape {ShapeUtil.Format(input._shape)}.");
        int c = input._shape[1];
        if (numGroups <= 0 || c % numGroups != 0)
        {
            throw new ArgumentException(
                $"{op}: the {c} channels (dim 1 of input {ShapeUtil.Format(input._shape)}) must be divisible by num_groups ({numGroups}), and num_groups must be positive.");
        }
        CheckChannelParameters(op, input, c, ("weight", weight), ("bias", bias));
        return GroupNormCore(op, input, numGroups, weight, bias, eps, null).Output;
    }

    /// <summary>
    /// Instance normalisation (PyTorch: <c>torch.nn.functional.instance_norm</c>) of [N, C, *] input, per sample and channel.
    /// With <paramref name="useInputStats"/> (the default) it normalises with each instance's mean and biased variance and, when
    /// running statistics are given, updates them in place with the batch average of the instance statistics (the unbiased
    /// variance for <paramref name="runningVar"/>); otherwise it normalises with the running statistics.
    /// </summary>
    public static Tensor InstanceNorm(Tensor input, Tensor? runningMean = null, Tensor? runningVar = null, Tensor? weight = null, Tensor? bias = null,
        bool useInputStats = true, double momentum = OpDefaults.Norm.Momentum, double eps = OpDefaults.Norm.Eps)
    {
        const string op = "InstanceNorm";
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank < 3)
        {
            throw new ArgumentException($"{op}: expected an input [N, C, *] of at least 3 dims (batch, channels, spatial), but got shape {ShapeUtil.Format(input._shape)}.");
        }
        int n = input._shape[0], c = input._shape[1];
        CheckChannelParameters(op, input, c, ("runningMean", runningMean), ("runningVar", runningVar), ("weight", weight), ("bias", bias));
        if ((runningMean is null) != (runningVar is null)) throw new ArgumentException($"{op}: pass both runningMean and runningVar, or neither.");
        if (!useInputStats)
        {
            if (runningMean is null) throw new ArgumentException($"{op}: useInputStats = false needs runningMean and runningVar.");
            return BatchNorm(input, runningMean, runningVar, weight, bias, training: false, momentum, eps);
        }
        int l = n * c == 0 ? 0 : input.NumElements / (n * c);
        if (l <= 1)
        {
            throw new ArgumentException(
                $"{op}: expected more than 1 spatial element per channel when using input statistics, but got input of shape {ShapeUtil.Format(input._shape)}.");
        }
        var variance = runningMean is null ? null : new double[n * c];
        var result = GroupNormCore(op, input, c, weight, bias, eps, variance);
        if (runningMean is not null)
        {
            // PyTorch's instance_norm: batch_norm over [1, N·C, *] updates N copies of the running statistics, then averages them.
            // (the compiled program runs the same update on the float32 statistics in place).
            using (Autograd.NoGrad())
            {
                var rm = runningMean.ToDoubleArray();
                var rv = runningVar!.ToDoubleArray();
                GroupNormKernel.UpdateInstanceRunningStats<double>(result.SavedMean!, variance!, n, c, l, momentum, rm, rv);
                runningMean.Copy_(Tensor.FromArray(rm, c).To(runningMean.DType));
                runningVar.Copy_(Tensor.FromArray(rv, c).To(runningVar.DType));
            }
        }
        return result.Output;
    }

    private static void CheckChannelParameters(string op, Tensor input, int c, params (string Name, Tensor? Value)[] parameters)
    {
        foreach (var (what, t) in parameters)
        {
            if (t is not null && (t.Rank != 1 || t._shape[0] != c))
            {
                throw new ArgumentException(
                    $"{op}: {what} must have shape [{c}] (the channel dimension, dim 1, of input {ShapeUtil.Format(input._shape)}), but got {ShapeUtil.Format(t._shape)}. " +
                    $"Construct the layer with {c} channels.");
            }
        }
    }

    /// <summary>The normalised output and the per-(sample, group) means (for the running-statistics update).</summary>
    private readonly record struct GroupNormResult(Tensor Output, double[]? SavedMean);

    /// <summary>Group normalisation with autograd; <paramref name="variance"/> (n·groups, optional) receives the biased variances.</summary>
    private static GroupNormResult GroupNormCore(string op, Tensor input, int groups, Tensor? weight, Tensor? bias, double eps, double[]? variance)
    {
        int n = input._shape[0], c = input._shape[1];
        int l = n * c == 0 ? 0 : input.NumElements / (n * c);
        var dtype = FloatDType(op, input, weight, bias);
        var x = CastRaw(input, dtype).ContiguousRaw();
        var result = Tensor.Empty(input._shape, dtype);
        var saveMean = Tensor.Empty([n * groups], dtype);
        var saveInvstd = Tensor.Empty([n * groups], dtype);
        if (dtype == DType.Float32)
        {
            GroupNormKernel.Forward(x.Span<float>(), result.Span<float>(), n, c, l, groups, ParameterArray<float>(weight, dtype), ParameterArray<float>(bias, dtype),
                eps, saveMean.Span<float>(), saveInvstd.Span<float>(), variance);
        }
        else
        {
            GroupNormKernel.Forward(x.Span<double>(), result.Span<double>(), n, c, l, groups, ParameterArray<double>(weight, dtype), ParameterArray<double>(bias, dtype),
                eps, saveMean.Span<double>(), saveInvstd.Span<double>(), variance);
        }
        var means = variance is null ? null : saveMean.ToDoubleArray();
        if (!Tensor.ShouldRecord([input, weight, bias])) return new(result, means);
        var inShape = input._shape;
        var output = Tensor.Record(result, "NativeGroupNormBackward", [input, weight, bias], (g, node) =>
        {
            if (Autograd.IsGradEnabled)
            {
                // Recording the backward (createGraph): the same formulas over tensors, differentiable again.
                var (dx, dw, db) = NormKernel.DifferentiableBackward(input.To(dtype).Reshape(n, groups, c / groups, l), g.To(dtype).Reshape(n, groups, c / groups, l),
                    weight?.To(dtype).Reshape(1, groups, c / groups, 1), [2, 3], [0, 3], eps, null, null);
                return [node.NeedsInputGrad(0) ? dx.Reshape(inShape).To(input.DType) : null,
                    weight is not null && node.NeedsInputGrad(1) ? dw.Reshape(c).To(weight.DType) : null,
                    bias is not null && node.NeedsInputGrad(2) ? db.Reshape(c).To(bias.DType) : null];
            }
            var gc = CastRaw(g, dtype).ContiguousRaw();
            var gx = node.NeedsInputGrad(0) ? Tensor.Zeros(inShape, dtype) : null;
            var gw = weight is not null && node.NeedsInputGrad(1) ? Tensor.Zeros([c], dtype) : null;
            var gb = bias is not null && node.NeedsInputGrad(2) ? Tensor.Zeros([c], dtype) : null;
            if (dtype == DType.Float32)
            {
                GroupNormKernel.Backward(x.Span<float>(), gc.Span<float>(), gx is null ? [] : gx.Span<float>(), saveMean.Span<float>(), saveInvstd.Span<float>(),
                    ParameterArray<float>(weight, dtype), gw is null ? [] : gw.Span<float>(), gb is null ? [] : gb.Span<float>(), n, c, l, groups);
            }
            else
            {
                GroupNormKernel.Backward(x.Span<double>(), gc.Span<double>(), gx is null ? [] : gx.Span<double>(), saveMean.Span<double>(), saveInvstd.Span<double>(),
                    ParameterArray<double>(weight, dtype), gw is null ? [] : gw.Span<double>(), gb is null ? [] : gb.Span<double>(), n, c, l, groups);
            }
            return [gx?.To(input.DType), gw?.To(weight!.DType), gb?.To(bias!.DType)];
        }, weight is null ? [input] : [input, weight]);
        return new(output, means);
    }

    /// <summary>
    /// Root-mean-square normalisation over the trailing <paramref name="normalizedShape"/> dims (PyTorch 2.4:
    /// <c>torch.nn.functional.rms_norm</c>): y = x · rsqrt(mean(x²) + eps) · weight. A null <paramref name="eps"/> means the
    /// machine epsilon of the input's dtype (PyTorch: <c>torch.finfo(x.dtype).eps</c>).
    /// </summary>
    public static Tensor RmsNorm(Tensor input, int[] normalizedShape, Tensor? weight = null, double? eps = null)
    {
        const string op = "RmsNorm";
        CheckNormalizedShape(op, input, normalizedShape, ("weight", weight));
        var dtype = FloatDType(op, input, weight);
        double e = eps ?? (input.DType == DType.Float64 ? double.BitIncrement(1.0) - 1.0 : MathF.BitIncrement(1f) - 1f);
        int cols = ShapeUtil.Count(normalizedShape);
        int rows = cols == 0 ? 0 : input.NumElements / cols;
        var x = CastRaw(input, dtype).ContiguousRaw();
        var result = Tensor.Empty(input._shape, dtype);
        var saveInv = Tensor.Empty([rows], dtype);
        if (dtype == DType.Float32) RmsNormKernel.Forward(x.Span<float>(), result.Span<float>(), rows, cols, ParameterArray<float>(weight, dtype), e, saveInv.Span<float>());
        else RmsNormKernel.Forward(x.Span<double>(), result.Span<double>(), rows, cols, ParameterArray<double>(weight, dtype), e, saveInv.Span<double>());
        if (!Tensor.ShouldRecord([input, weight])) return result;
        var inShape = input._shape;
        var ns = (int[])normalizedShape.Clone();
        return Tensor.Record(result, "RmsNormBackward", [input, weight], (g, node) =>
        {
            if (Autograd.IsGradEnabled)
            {
                // Recording the backward (createGraph): the kernel's formulas over tensors, differentiable again.
                var xt = input.To(dtype).Reshape(rows, cols);
                var gt = g.To(dtype).Reshape(rows, cols);
                var inv = (xt * xt).Mean([1], keepDim: true).Add(Tensor.ScalarLike(xt, e)).Rsqrt();
                var xhat = xt * inv;
                var ghat = weight is null ? gt : gt * weight.To(dtype).Reshape(1, cols);
                var dx = inv * (ghat - xhat * (ghat * xhat).Mean([1], keepDim: true));
                return [node.NeedsInputGrad(0) ? dx.Reshape(inShape).To(input.DType) : null,
                    weight is not null && node.NeedsInputGrad(1) ? (gt * xhat).Sum([0]).Reshape(ns).To(weight.DType) : null];
            }
            var gc = CastRaw(g, dtype).ContiguousRaw();
            var gx = node.NeedsInputGrad(0) ? Tensor.Zeros(inShape, dtype) : null;
            var gw = weight is not null && node.NeedsInputGrad(1) ? Tensor.Zeros(ns, dtype) : null;
            if (dtype == DType.Float32)
            {
                RmsNormKernel.Backward(x.Span<float>(), gc.Span<float>(), gx is null ? [] : gx.Span<float>(), saveInv.Span<float>(), ParameterArray<float>(weight, dtype),
                    gw is null ? [] : gw.Span<float>(), rows, cols);
            }
            else
            {
                RmsNormKernel.Backward(x.Span<double>(), gc.Span<double>(), gx is null ? [] : gx.Span<double>(), saveInv.Span<double>(), ParameterArray<double>(weight, dtype),
                    gw is null ? [] : gw.Span<double>(), rows, cols);
            }
            return [gx?.To(input.DType), gw?.To(weight!.DType)];
        }, weight is null ? [input] : [input, weight]);
    }
}
