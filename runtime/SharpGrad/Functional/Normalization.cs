using SharpGrad.Kernels;
using SharpGrad.Ops;

namespace SharpGrad;

public static partial class Functional
{
    /// <summary>A floating-point parameter as a dense array of <paramref name="dtype"/> (empty for none).</summary>
    private static T[] ParameterArray<T>(Tensor? t, DType dtype) where T : unmanaged => t is null ? [] : DenseAs<T>(t, dtype);

    /// <summary>
    /// Batch normalisation (PyTorch: <c>torch.nn.functional.batch_norm</c>) over a [N, C], [N, C, L] or [N, C, H, W] input,
    /// per channel C. In training (or without running statistics) it normalises with the batch mean and biased variance and,
    /// when running statistics are given, updates them in place: <c>running = (1 − momentum)·running + momentum·batch</c>,
    /// with the unbiased batch variance for <paramref name="runningVar"/>. In evaluation it normalises with the running statistics.
    /// </summary>
    public static Tensor BatchNorm(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double momentum = OpDefaults.Norm.Momentum, double eps = OpDefaults.Norm.Eps)
    {
        const string op = "BatchNorm";
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank is < 2 or > 5)
        {
            throw new ArgumentException($"{op}: expected a 2-d [N, C], 3-d [N, C, L] or 4-d [N, C, H, W] input, but got shape {ShapeUtil.Format(input._shape)}.");
        }
        int n = input._shape[0], c = input._shape[1];
        int l = c == 0 || n == 0 ? 0 : input.NumElements / (n * c);
        foreach (var (t, what) in new[] { (runningMean, "runningMean"), (runningVar, "runningVar"), (weight, "weight"), (bias, "bias") })
        {
            if (t is not null && (t.Rank != 1 || t._shape[0] != c))
            {
                throw new ArgumentException(
                    $"{op}: {what} must have shape [{c}] (the channel dimension, dim 1, of input {ShapeUtil.Format(input._shape)}), but got {ShapeUtil.Format(t._shape)}. " +
                    $"Construct the layer with num_features = {c}.");
            }
        }
        if ((runningMean is null) != (runningVar is null))
        {
            throw new ArgumentException($"{op}: pass both runningMean and runningVar, or neither.");
        }
        bool useBatchStats = training || runningMean is null;
        if (useBatchStats && n * l <= 1)
        {
            throw new ArgumentException($"{op}: expected more than 1 value per channel when training, but got input of shape {ShapeUtil.Format(input._shape)}.");
        }
        var dtype = FloatDType(op, input, weight, bias);
        var x = CastRaw(input, dtype).ContiguousRaw();
        var result = Tensor.Empty(input._shape, dtype);
        var saveMean = Tensor.Empty([c], dtype);
        var saveInvstd = Tensor.Empty([c], dtype);
        bool update = useBatchStats && runningMean is not null;
        var rm = runningMean is null ? null : CastRaw(runningMean, dtype).ContiguousRaw().Clone().Detach();
        var rv = runningVar is null ? null : CastRaw(runningVar, dtype).ContiguousRaw().Clone().Detach();
        if (dtype == DType.Float32)
        {
            NormKernel.BatchNormForward(x.Span<float>(), result.Span<float>(), n, c, l, ParameterArray<float>(weight, dtype), ParameterArray<float>(bias, dtype),
                rm is null ? [] : rm.Span<float>(), rv is null ? [] : rv.Span<float>(), useBatchStats, momentum, eps, saveMean.Span<float>(), saveInvstd.Span<float>());
        }
        else
        {
            NormKernel.BatchNormForward(x.Span<double>(), result.Span<double>(), n, c, l, ParameterArray<double>(weight, dtype), ParameterArray<double>(bias, dtype),
                rm is null ? [] : rm.Span<double>(), rv is null ? [] : rv.Span<double>(), useBatchStats, momentum, eps, saveMean.Span<double>(), saveInvstd.Span<double>());
        }
        if (update)
        {
            using (Autograd.NoGrad())
            {
                runningMean!.Copy_(rm!);
                runningVar!.Copy_(rv!);
            }
        }
        if (!Tensor.ShouldRecord([input, weight, bias])) return result;
        var inShape = input._shape;
        return Tensor.Record(result, "NativeBatchNormBackward", [input, weight, bias], (g, node) =>
        {
            Tensor? gx = null, gw = null, gb = null;
            if (Autograd.IsGradEnabled)
            {
                // Recording the backward (createGraph): the same formulas over tensors, differentiable again.
                var (dx, dw, db) = NormKernel.DifferentiableBackward(input.To(dtype).Reshape(n, c, l), g.To(dtype).Reshape(n, c, l),
                    weight?.To(dtype).Reshape(1, c, 1), [0, 2], [0, 2], eps,
                    useBatchStats ? null : saveMean.Reshape(1, c, 1), useBatchStats ? null : saveInvstd.Reshape(1, c, 1));
                if (node.NeedsInputGrad(0)) gx = dx.Reshape(inShape).To(input.DType);
                if (weight is not null && node.NeedsInputGrad(1)) gw = dw.To(weight.DType);
                if (bias is not null && node.NeedsInputGrad(2)) gb = db.To(bias.DType);
                return [gx, gw, gb];
            }
            var gc = CastRaw(g, dtype).ContiguousRaw();
            var gxFull = node.NeedsInputGrad(0) ? Tensor.Zeros(inShape, dtype) : null;
            var gwFull = weight is not null && node.NeedsInputGrad(1) ? Tensor.Zeros([c], dtype) : null;
            var gbFull = bias is not null && node.NeedsInputGrad(2) ? Tensor.Zeros([c], dtype) : null;
            if (dtype == DType.Float32)
            {
                NormKernel.BatchNormBackward(x.Span<float>(), gc.Span<float>(), gxFull is null ? [] : gxFull.Span<float>(), saveMean.Span<float>(),
                    saveInvstd.Span<float>(), ParameterArray<float>(weight, dtype), gwFull is null ? [] : gwFull.Span<float>(),
                    gbFull is null ? [] : gbFull.Span<float>(), n, c, l, useBatchStats);
            }
            else
            {
                NormKernel.BatchNormBackward(x.Span<double>(), gc.Span<double>(), gxFull is null ? [] : gxFull.Span<double>(), saveMean.Span<double>(),
                    saveInvstd.Span<double>(), ParameterArray<double>(weight, dtype), gwFull is null ? [] : gwFull.Span<double>(),
                    gbFull is null ? [] : gbFull.Span<double>(), n, c, l, useBatchStats);
            }
            return [gxFull?.To(input.DType), gwFull?.To(weight!.DType), gbFull?.To(bias!.DType)];
        }, weight is null ? [input] : [input, weight]);
    }

    /// <summary>
    /// Layer normalisation over the trailing dimensions given by <paramref name="normalizedShape"/>
    /// (PyTorch: <c>torch.nn.functional.layer_norm</c>), with optional elementwise <paramref name="weight"/> and <paramref name="bias"/>
    /// of that shape. Uses the biased variance.
    /// </summary>
    public static Tensor LayerNorm(Tensor input, int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = OpDefaults.Norm.Eps)
    {
        const string op = "LayerNorm";
        CheckNormalizedShape(op, input, normalizedShape, ("weight", weight), ("bias", bias));
        int cols = ShapeUtil.Count(normalizedShape);
        int rows = cols == 0 ? 0 : input.NumElements / cols;
        var dtype = FloatDType(op, input, weight, bias);
        var x = CastRaw(input, dtype).ContiguousRaw();
        var result = Tensor.Empty(input._shape, dtype);
        var saveMean = Tensor.Empty([rows], dtype);
        var saveInvstd = Tensor.Empty([rows], dtype);
        if (dtype == DType.Float32)
        {
            NormKernel.LayerNormForward(x.Span<float>(), result.Span<float>(), rows, cols, ParameterArray<float>(weight, dtype),
                ParameterArray<float>(bias, dtype), eps, saveMean.Span<float>(), saveInvstd.Span<float>());
        }
        else
        {
            NormKernel.LayerNormForward(x.Span<double>(), result.Span<double>(), rows, cols, ParameterArray<double>(weight, dtype),
                ParameterArray<double>(bias, dtype), eps, saveMean.Span<double>(), saveInvstd.Span<double>());
        }
        if (!Tensor.ShouldRecord([input, weight, bias])) return result;
        var inShape = input._shape;
        var ns = (int[])normalizedShape.Clone();
        return Tensor.Record(result, "NativeLayerNormBackward", [input, weight, bias], (g, node) =>
        {
            Tensor? gx = null, gw = null, gb = null;
            if (Autograd.IsGradEnabled)
            {
                // Recording the backward (createGraph): the same formulas over tensors, differentiable again.
                var (dx, dw, db) = NormKernel.DifferentiableBackward(input.To(dtype).Reshape(rows, cols), g.To(dtype).Reshape(rows, cols),
                    weight?.To(dtype).Reshape(1, cols), [1], [0], eps, null, null);
                if (node.NeedsInputGrad(0)) gx = dx.Reshape(inShape).To(input.DType);
                if (weight is not null && node.NeedsInputGrad(1)) gw = dw.Reshape(ns).To(weight.DType);
                if (bias is not null && node.NeedsInputGrad(2)) gb = db.Reshape(ns).To(bias.DType);
                return [gx, gw, gb];
            }
            var gc = CastRaw(g, dtype).ContiguousRaw();
            var gxFull = node.NeedsInputGrad(0) ? Tensor.Zeros(inShape, dtype) : null;
            var gwFull = weight is not null && node.NeedsInputGrad(1) ? Tensor.Zeros(ns, dtype) : null;
            var gbFull = bias is not null && node.NeedsInputGrad(2) ? Tensor.Zeros(ns, dtype) : null;
            if (dtype == DType.Float32)
            {
                NormKernel.LayerNormBackward(x.Span<float>(), gc.Span<float>(), gxFull is null ? [] : gxFull.Span<float>(), saveMean.Span<float>(),
                    saveInvstd.Span<float>(), ParameterArray<float>(weight, dtype), gwFull is null ? [] : gwFull.Span<float>(),
                    gbFull is null ? [] : gbFull.Span<float>(), rows, cols);
            }
            else
            {
                NormKernel.LayerNormBackward(x.Span<double>(), gc.Span<double>(), gxFull is null ? [] : gxFull.Span<double>(), saveMean.Span<double>(),
                    saveInvstd.Span<double>(), ParameterArray<double>(weight, dtype), gwFull is null ? [] : gwFull.Span<double>(),
                    gbFull is null ? [] : gbFull.Span<double>(), rows, cols);
            }
            if (!ReferenceEquals(gc.Storage, g.Storage))
            {
                // A copy of the incoming gradient made here (a strided or other-dtype gradient) that only this backward read.
                gc.Storage.Internal = true;
                gc.Storage.TryRecycle();
            }
            return [gxFull?.To(input.DType), gwFull?.To(weight!.DType), gbFull?.To(bias!.DType)];
        }, weight is null ? [input] : [input, weight]);
    }

    /// <summary>Throws unless <paramref name="normalizedShape"/> is the input's trailing shape and each parameter has that shape.</summary>
    private static void CheckNormalizedShape(string op, Tensor input, int[] normalizedShape, params (string Name, Tensor? Value)[] parameters)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(normalizedShape);
        int d = normalizedShape.Length;
        bool ok = d >= 1 && d <= input.Rank;
        for (int i = 0; ok && i < d; i++) ok = input._shape[input.Rank - d + i] == normalizedShape[i];
        if (!ok)
        {
            throw new ArgumentException(
                $"{op}: normalized_shape {ShapeUtil.Format(normalizedShape)} must match the trailing dimensions of the input, but got input of shape {ShapeUtil.Format(input._shape)}. " +
                $"Construct the layer with the input's last dimension(s).");
        }
        foreach (var (what, t) in parameters)
        {
            if (t is not null && !ShapeUtil.SameShape(t._shape, normalizedShape))
            {
                throw new ArgumentException($"{op}: {what} must have shape {ShapeUtil.Format(normalizedShape)} (normalized_shape), but got {ShapeUtil.Format(t._shape)}.");
            }
        }
    }
}
