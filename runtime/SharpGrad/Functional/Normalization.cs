namespace SharpGrad;

public static partial class Functional
{
    /// <summary>1 / sqrt(var + eps), elementwise, without autograd (var is a fresh tensor).</summary>
    private static Tensor InvStd(Tensor variance, double eps)
    {
        var v = variance.Contiguous().ToRaw(variance.DType);
        if (v.DType == DType.Float32)
        {
            var s = v.Span<float>();
            for (int i = 0; i < s.Length; i++) s[i] = (float)(1.0 / Math.Sqrt(s[i] + eps));
        }
        else
        {
            var s = v.Span<double>();
            for (int i = 0; i < s.Length; i++) s[i] = 1.0 / Math.Sqrt(s[i] + eps);
        }
        return v;
    }

    /// <summary>
    /// 1 / sqrt(var + eps) with autograd (its backward is written with tensor ops, so it differentiates again).
    /// Used to rebuild the normalisation's statistics when a backward itself is being recorded (createGraph).
    /// </summary>
    private static Tensor Rsqrt(Tensor variance, double eps)
    {
        var result = InvStd(variance, eps);
        if (!Tensor.ShouldRecord(variance)) return result;
        return Tensor.Record(result, "RsqrtBackward", [variance], (g, n) => [g * -0.5f * result * result * result], result);
    }

    /// <summary>
    /// Batch normalisation (PyTorch: <c>torch.nn.functional.batch_norm</c>) over a [N, C], [N, C, L] or [N, C, H, W] input,
    /// per channel C. In training (or without running statistics) it normalises with the batch mean and biased variance and,
    /// when running statistics are given, updates them in place: <c>running = (1 − momentum)·running + momentum·batch</c>,
    /// with the unbiased batch variance for <paramref name="runningVar"/>. In evaluation it normalises with the running statistics.
    /// </summary>
    public static Tensor BatchNorm(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double momentum = 0.1, double eps = 1e-5)
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
        Tensor savedXhat, savedInvstd, result;
        using (Autograd.NoGrad())
        {
            var x3 = As(input, dtype).Reshape(n, c, l);
            Tensor mean, variance;
            if (useBatchStats)
            {
                mean = x3.Mean([0, 2], keepDim: true);
                var xc = x3 - mean;
                variance = (xc * xc).Mean([0, 2], keepDim: true);
                if (training && runningMean is not null)
                {
                    int count = n * l;
                    var keep = Tensor.Scalar(1 - momentum, dtype);
                    var mom = Tensor.Scalar(momentum, dtype);
                    var unbias = Tensor.Scalar(count / (double)(count - 1), dtype);
                    runningMean.Copy_((runningMean.To(dtype) * keep + mean.Reshape(c) * mom).To(runningMean.DType));
                    runningVar!.Copy_((runningVar.To(dtype) * keep + variance.Reshape(c) * unbias * mom).To(runningVar.DType));
                }
            }
            else
            {
                mean = runningMean!.To(dtype).Reshape(1, c, 1);
                variance = runningVar!.To(dtype).Reshape(1, c, 1);
            }
            savedInvstd = InvStd(variance, eps);
            savedXhat = (x3 - mean) * savedInvstd;
            var y = savedXhat;
            if (weight is not null) y = y * As(weight, dtype).Reshape(1, c, 1);
            if (bias is not null) y = y + As(bias, dtype).Reshape(1, c, 1);
            result = y.Reshape(input._shape).Contiguous();
        }
        if (!Tensor.ShouldRecord([input, weight, bias])) return result;
        var inShape = input._shape;
        return Tensor.Record(result, "NativeBatchNormBackward", [input, weight, bias], (g, node) =>
        {
            var g3 = g.To(dtype).Reshape(n, c, l);
            Tensor? gx = null, gw = null, gb = null;
            var xhat = savedXhat;
            var invstd = savedInvstd;
            if (Autograd.IsGradEnabled && input.RequiresGrad)
            {
                // Recording the backward (createGraph): rebuild the statistics from the input with differentiable ops,
                // so the gradient is itself differentiable with respect to the input.
                var x3 = input.To(dtype).Reshape(n, c, l);
                if (useBatchStats)
                {
                    var xc = x3 - x3.Mean([0, 2], keepDim: true);
                    invstd = Rsqrt((xc * xc).Mean([0, 2], keepDim: true), eps);
                    xhat = xc * invstd;
                }
                else xhat = (x3 - runningMean!.To(dtype).Reshape(1, c, 1)) * invstd;
            }
            if (node.NeedsInputGrad(0))
            {
                var gxhat = weight is null ? g3 : g3 * weight.To(dtype).Reshape(1, c, 1);
                gx = useBatchStats
                    ? invstd * (gxhat - gxhat.Mean([0, 2], keepDim: true) - xhat * (gxhat * xhat).Mean([0, 2], keepDim: true))
                    : gxhat * invstd;
                gx = gx.Reshape(inShape).To(input.DType);
            }
            if (weight is not null && node.NeedsInputGrad(1)) gw = (g3 * xhat).Sum([0, 2]).To(weight.DType);
            if (bias is not null && node.NeedsInputGrad(2)) gb = g3.Sum([0, 2]).To(bias.DType);
            return [gx, gw, gb];
        }, weight is null ? [input] : [input, weight]);
    }

    /// <summary>
    /// Layer normalisation over the trailing dimensions given by <paramref name="normalizedShape"/>
    /// (PyTorch: <c>torch.nn.functional.layer_norm</c>), with optional elementwise <paramref name="weight"/> and <paramref name="bias"/>
    /// of that shape. Uses the biased variance.
    /// </summary>
    public static Tensor LayerNorm(Tensor input, int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        const string op = "LayerNorm";
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
        foreach (var (t, what) in new[] { (weight, "weight"), (bias, "bias") })
        {
            if (t is not null && !ShapeUtil.SameShape(t._shape, normalizedShape))
            {
                throw new ArgumentException($"{op}: {what} must have shape {ShapeUtil.Format(normalizedShape)} (normalized_shape), but got {ShapeUtil.Format(t._shape)}.");
            }
        }
        int l = ShapeUtil.Count(normalizedShape);
        int m = l == 0 ? 0 : input.NumElements / l;
        var dtype = FloatDType(op, input, weight, bias);
        Tensor savedXhat, savedInvstd, result;
        using (Autograd.NoGrad())
        {
            var x2 = As(input, dtype).Reshape(m, l);
            var mean = x2.Mean(1, keepDim: true);
            var xc = x2 - mean;
            savedInvstd = InvStd((xc * xc).Mean(1, keepDim: true), eps);
            savedXhat = xc * savedInvstd;
            var y = savedXhat;
            if (weight is not null) y = y * As(weight, dtype).Reshape(1, l);
            if (bias is not null) y = y + As(bias, dtype).Reshape(1, l);
            result = y.Reshape(input._shape).Contiguous();
        }
        if (!Tensor.ShouldRecord([input, weight, bias])) return result;
        var inShape = input._shape;
        var ns = (int[])normalizedShape.Clone();
        return Tensor.Record(result, "NativeLayerNormBackward", [input, weight, bias], (g, node) =>
        {
            var g2 = g.To(dtype).Reshape(m, l);
            Tensor? gx = null, gw = null, gb = null;
            var xhat = savedXhat;
            var invstd = savedInvstd;
            if (Autograd.IsGradEnabled && input.RequiresGrad)
            {
                // Recording the backward (createGraph): rebuild the statistics with differentiable ops (see BatchNorm).
                var x2 = input.To(dtype).Reshape(m, l);
                var xc = x2 - x2.Mean(1, keepDim: true);
                invstd = Rsqrt((xc * xc).Mean(1, keepDim: true), eps);
                xhat = xc * invstd;
            }
            if (node.NeedsInputGrad(0))
            {
                var gxhat = weight is null ? g2 : g2 * weight.To(dtype).Reshape(1, l);
                gx = invstd * (gxhat - gxhat.Mean(1, keepDim: true) - xhat * (gxhat * xhat).Mean(1, keepDim: true));
                gx = gx.Reshape(inShape).To(input.DType);
            }
            if (weight is not null && node.NeedsInputGrad(1)) gw = (g2 * xhat).Sum(0).Reshape(ns).To(weight.DType);
            if (bias is not null && node.NeedsInputGrad(2)) gb = g2.Sum(0).Reshape(ns).To(bias.DType);
            return [gx, gw, gb];
        }, weight is null ? [input] : [input, weight]);
    }
}
