using SharpGrad.Kernels;

namespace SharpGrad;

public static partial class Functional
{
    /// <summary>The dense (contiguous, offset 0, exact length) storage array of a tensor, copying only when needed.</summary>
    internal static T[] Dense<T>(Tensor t) where T : unmanaged
    {
        if (t.IsContiguous && t.Offset == 0)
        {
            var data = t.Data<T>();
            if (data.Length == t.NumElements) return data;
        }
        return t.ToRaw(t.DType).Data<T>();
    }

    /// <summary>The promoted floating-point dtype of the given tensors, or an error naming the op.</summary>
    internal static DType FloatDType(string op, params Tensor?[] tensors)
    {
        DType? d = null;
        foreach (var t in tensors)
        {
            if (t is null) continue;
            if (!t.DType.IsFloatingPoint())
            {
                throw new NotSupportedException($"{op}: expected Float32 or Float64 tensors, but got a {t.DType} tensor of shape {ShapeUtil.Format(t._shape)}. Convert it with .To(DType.Float32).");
            }
            d = d is null ? t.DType : DTypes.Promote(d.Value, t.DType);
        }
        return d ?? DType.Float32;
    }

    private static Tensor CastRaw(Tensor t, DType dtype) => t.DType == dtype ? t : t.ToRaw(dtype);

    /// <summary>
    /// 1-d convolution (PyTorch: <c>torch.nn.functional.conv1d</c>): input [N, C_in, L] (or unbatched [C_in, L]),
    /// weight [C_out, C_in / groups, k], bias [C_out].
    /// </summary>
    public static Tensor Conv1d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        if (input.Rank is not (2 or 3))
        {
            throw new ArgumentException($"Conv1d: expected a 3-d input [N, C_in, L] (or 2-d unbatched [C_in, L]), but got shape {ShapeUtil.Format(input._shape)}.");
        }
        if (weight.Rank != 3)
        {
            throw new ArgumentException($"Conv1d: expected a 3-d weight [C_out, C_in / groups, kernel], but got shape {ShapeUtil.Format(weight._shape)}.");
        }
        bool unbatched = input.Rank == 2;
        var x = (unbatched ? input.Unsqueeze(0) : input).Unsqueeze(2);
        var y = ConvCore(x, weight.Unsqueeze(2), bias, 1, stride, 0, padding, 1, dilation, groups, "Conv1d", input, weight).Squeeze(2);
        return unbatched ? y.Squeeze(0) : y;
    }

    /// <summary>
    /// 2-d convolution (PyTorch: <c>torch.nn.functional.conv2d</c>): input [N, C_in, H, W] (or unbatched [C_in, H, W]),
    /// weight [C_out, C_in / groups, kH, kW], bias [C_out]; the same stride, padding and dilation for both dims.
    /// </summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1)
        => Conv2d(input, weight, bias, (stride, stride), (padding, padding), (dilation, dilation), groups);

    /// <summary>2-d convolution with separate (height, width) stride, padding and dilation (PyTorch: <c>conv2d</c> with tuples).</summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding = default, (int H, int W)? dilation = null, int groups = 1)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        if (input.Rank is not (3 or 4))
        {
            throw new ArgumentException($"Conv2d: expected a 4-d input [N, C_in, H, W] (or 3-d unbatched [C_in, H, W]), but got shape {ShapeUtil.Format(input._shape)}.");
        }
        if (weight.Rank != 4)
        {
            throw new ArgumentException($"Conv2d: expected a 4-d weight [C_out, C_in / groups, kH, kW], but got shape {ShapeUtil.Format(weight._shape)}.");
        }
        var d = dilation ?? (1, 1);
        bool unbatched = input.Rank == 3;
        var y = ConvCore(unbatched ? input.Unsqueeze(0) : input, weight, bias, stride.H, stride.W, padding.H, padding.W, d.H, d.W, groups, "Conv2d", input, weight);
        return unbatched ? y.Squeeze(0) : y;
    }

    private static void CheckConvArgs(string op, int sh, int sw, int ph, int pw, int dh, int dw, int groups)
    {
        if (sh <= 0 || sw <= 0) throw new ArgumentException($"{op}: stride must be positive, but got ({sh}, {sw}).");
        if (ph < 0 || pw < 0) throw new ArgumentException($"{op}: padding must be non-negative, but got ({ph}, {pw}).");
        if (dh <= 0 || dw <= 0) throw new ArgumentException($"{op}: dilation must be positive, but got ({dh}, {dw}).");
        if (groups <= 0) throw new ArgumentException($"{op}: groups must be positive, but got {groups}.");
    }

    /// <summary>Convolution of 4-d x by 4-d w, with autograd.</summary>
    private static Tensor ConvCore(Tensor x, Tensor w, Tensor? b, int sh, int sw, int ph, int pw, int dh, int dw, int groups,
        string op, Tensor userInput, Tensor userWeight)
    {
        CheckConvArgs(op, sh, sw, ph, pw, dh, dw, groups);
        int n = x._shape[0], c = x._shape[1], h = x._shape[2], wd = x._shape[3];
        int o = w._shape[0], cg = w._shape[1], kh = w._shape[2], kw = w._shape[3];
        if (o % groups != 0)
        {
            throw new ArgumentException(
                $"{op}: out_channels ({o}, from weight shape {ShapeUtil.Format(userWeight._shape)}) must be divisible by groups ({groups}).");
        }
        if (c % groups != 0)
        {
            throw new ArgumentException(
                $"{op}: in_channels ({c}, from input shape {ShapeUtil.Format(userInput._shape)}) must be divisible by groups ({groups}).");
        }
        if (cg * groups != c)
        {
            throw new ArgumentException(
                $"{op}: expected input with {cg * groups} channels (weight shape {ShapeUtil.Format(userWeight._shape)}, groups={groups}), " +
                $"but got input of shape {ShapeUtil.Format(userInput._shape)} with {c} channels. " +
                $"Fix the layer's in_channels to {c}, or the input's channel dimension (dim 1) to {cg * groups}.");
        }
        if (b is not null && (b.Rank != 1 || b._shape[0] != o))
        {
            throw new ArgumentException($"{op}: bias must have shape [{o}] (out_channels of weight {ShapeUtil.Format(userWeight._shape)}), but got {ShapeUtil.Format(b._shape)}.");
        }
        int ho = Ops.ShapeRules.OutputSize(h, kh, sh, ph, dh, ceil: false) ?? 0;
        int wo = Ops.ShapeRules.OutputSize(wd, kw, sw, pw, dw, ceil: false) ?? 0;
        if (ho <= 0 || wo <= 0)
        {
            throw new ArgumentException(
                $"{op}: the input of shape {ShapeUtil.Format(userInput._shape)} is too small for the kernel: padded size ({h + 2 * ph} × {wd + 2 * pw}) " +
                $"is smaller than the dilated kernel ({dh * (kh - 1) + 1} × {dw * (kw - 1) + 1}). Use a larger input, more padding or a smaller kernel.");
        }
        var dtype = FloatDType(op, x, w, b);
        var geom = new ConvGeometry(n, c, h, wd, o, kh, kw, sh, sw, ph, pw, dh, dw, groups, ho, wo);
        var result = Tensor.Empty([n, o, ho, wo], dtype);
        var xr = CastRaw(x, dtype);
        var wr = CastRaw(w, dtype);
        var br = b is null ? null : CastRaw(b, dtype);
        if (dtype == DType.Float32) Conv.Forward(geom, Dense<float>(xr), Dense<float>(wr), br is null ? null : Dense<float>(br), result.Data<float>());
        else Conv.Forward(geom, Dense<double>(xr), Dense<double>(wr), br is null ? null : Dense<double>(br), result.Data<double>());
        if (!Tensor.ShouldRecord([x, w, b])) return result;
        return Tensor.Record(result, "ConvolutionBackward", [x, w, b], (g, node) =>
        {
            if (Autograd.IsGradEnabled)
            {
                // Recording the backward (createGraph): the input and bias gradients as differentiable ops
                // (the input gradient of a convolution is a transposed convolution). The weight gradient is first-order only.
                int eh = Ops.ShapeRules.TransposedOutputSize(ho, kh, sh, ph, dh, 0), ew = Ops.ShapeRules.TransposedOutputSize(wo, kw, sw, pw, dw, 0);
                var dgx = node.NeedsInputGrad(0) ? ConvTranspose2d(g, w, null, (sh, sw), (ph, pw), (h - eh, wd - ew), groups, (dh, dw)).To(x.DType) : null;
                var dgb = b is not null && node.NeedsInputGrad(2) ? g.Sum([0, 2, 3]).To(b.DType) : null;
                Tensor? dgw = null;
                if (node.NeedsInputGrad(1))
                {
                    dgw = Tensor.Empty(w._shape, dtype);
                    var g0 = CastRaw(g, dtype);
                    if (dtype == DType.Float32) Conv.Backward(geom, Dense<float>(xr), Dense<float>(wr), Dense<float>(g0), null, dgw.Data<float>(), null);
                    else Conv.Backward(geom, Dense<double>(xr), Dense<double>(wr), Dense<double>(g0), null, dgw.Data<double>(), null);
                    dgw = dgw.To(w.DType);
                }
                return [dgx, dgw, dgb];
            }
            var gx = node.NeedsInputGrad(0) ? Tensor.Empty(x._shape, dtype) : null;
            var gw = node.NeedsInputGrad(1) ? Tensor.Empty(w._shape, dtype) : null;
            var gb = b is not null && node.NeedsInputGrad(2) ? Tensor.Empty([o], dtype) : null;
            var gr = CastRaw(g, dtype);
            if (dtype == DType.Float32)
            {
                Conv.Backward(geom, Dense<float>(xr), Dense<float>(wr), Dense<float>(gr), gx?.Data<float>(), gw?.Data<float>(), gb?.Data<float>());
            }
            else
            {
                Conv.Backward(geom, Dense<double>(xr), Dense<double>(wr), Dense<double>(gr), gx?.Data<double>(), gw?.Data<double>(), gb?.Data<double>());
            }
            return [gx?.To(x.DType), gw?.To(w.DType), b is null ? null : gb?.To(b.DType)];
        }, b is null ? [x, w] : [x, w, b]);
    }

    /// <summary>
    /// 2-d transposed convolution (PyTorch: <c>torch.nn.functional.conv_transpose2d</c>): input [N, C_in, H, W],
    /// weight [C_in, C_out / groups, kH, kW], bias [C_out]. Output size (H − 1)·stride − 2·padding + dilation·(kH − 1) + outputPadding + 1.
    /// </summary>
    public static Tensor ConvTranspose2d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int outputPadding = 0, int groups = 1, int dilation = 1)
        => ConvTranspose2d(input, weight, bias, (stride, stride), (padding, padding), (outputPadding, outputPadding), groups, (dilation, dilation));

    /// <summary>2-d transposed convolution with separate (height, width) settings (PyTorch: <c>conv_transpose2d</c> with tuples).</summary>
    public static Tensor ConvTranspose2d(Tensor input, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding = default,
        (int H, int W) outputPadding = default, int groups = 1, (int H, int W)? dilation = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        const string op = "ConvTranspose2d";
        var d = dilation ?? (1, 1);
        if (input.Rank is not (3 or 4))
        {
            throw new ArgumentException($"{op}: expected a 4-d input [N, C_in, H, W] (or 3-d unbatched), but got shape {ShapeUtil.Format(input._shape)}.");
        }
        if (weight.Rank != 4)
        {
            throw new ArgumentException($"{op}: expected a 4-d weight [C_in, C_out / groups, kH, kW], but got shape {ShapeUtil.Format(weight._shape)}.");
        }
        CheckConvArgs(op, stride.H, stride.W, padding.H, padding.W, d.H, d.W, groups);
        if (outputPadding.H < 0 || outputPadding.W < 0 || (outputPadding.H >= stride.H && outputPadding.H >= d.H) || (outputPadding.W >= stride.W && outputPadding.W >= d.W))
        {
            throw new ArgumentException($"{op}: output padding ({outputPadding.H}, {outputPadding.W}) must be non-negative and smaller than either stride ({stride.H}, {stride.W}) or dilation ({d.H}, {d.W}).");
        }
        bool unbatched = input.Rank == 3;
        var x = unbatched ? input.Unsqueeze(0) : input;
        var w = weight;
        var b = bias;
        int n = x._shape[0], cin = x._shape[1], h = x._shape[2], wd = x._shape[3];
        int wcin = w._shape[0], coutg = w._shape[1], kh = w._shape[2], kw = w._shape[3];
        if (wcin % groups != 0)
        {
            throw new ArgumentException($"{op}: in_channels ({wcin}, dim 0 of weight {ShapeUtil.Format(w._shape)}) must be divisible by groups ({groups}).");
        }
        if (cin != wcin)
        {
            throw new ArgumentException(
                $"{op}: expected input with {wcin} channels (weight shape {ShapeUtil.Format(w._shape)}: [C_in, C_out / groups, kH, kW]), " +
                $"but got input of shape {ShapeUtil.Format(input._shape)} with {cin} channels. Fix the layer's in_channels to {cin} or the input's channel dimension.");
        }
        int cout = coutg * groups;
        if (b is not null && (b.Rank != 1 || b._shape[0] != cout))
        {
            throw new ArgumentException($"{op}: bias must have shape [{cout}] (out_channels = weight dim 1 × groups), but got {ShapeUtil.Format(b._shape)}.");
        }
        int ho = Ops.ShapeRules.TransposedOutputSize(h, kh, stride.H, padding.H, d.H, outputPadding.H);
        int wo = Ops.ShapeRules.TransposedOutputSize(wd, kw, stride.W, padding.W, d.W, outputPadding.W);
        if (ho <= 0 || wo <= 0)
        {
            throw new ArgumentException($"{op}: the output size would be {ho} × {wo} for input {ShapeUtil.Format(input._shape)}; reduce the padding.");
        }
        var dtype = FloatDType(op, x, w, b);
        // In conv terms: the output [N, C_out, ho, wo] is the convolution's input; x is the convolution's output.
        var geom = new ConvGeometry(n, cout, ho, wo, cin, kh, kw, stride.H, stride.W, padding.H, padding.W, d.H, d.W, groups, h, wd);
        var result = Tensor.Empty([n, cout, ho, wo], dtype);
        var xr = CastRaw(x, dtype);
        var wr = CastRaw(w, dtype);
        var br = b is null ? null : CastRaw(b, dtype);
        if (dtype == DType.Float32) Conv.TransposeForward(geom, Dense<float>(xr), Dense<float>(wr), br is null ? null : Dense<float>(br), result.Data<float>());
        else Conv.TransposeForward(geom, Dense<double>(xr), Dense<double>(wr), br is null ? null : Dense<double>(br), result.Data<double>());
        Tensor y = result;
        if (Tensor.ShouldRecord([x, w, b]))
        {
            y = Tensor.Record(result, "ConvolutionBackward", [x, w, b], (g, node) =>
            {
                if (Autograd.IsGradEnabled)
                {
                    // Recording the backward (createGraph): the input gradient of a transposed convolution is a convolution.
                    var dgx = node.NeedsInputGrad(0) ? Conv2d(g, w, null, stride, padding, d, groups).To(x.DType) : null;
                    var dgb = b is not null && node.NeedsInputGrad(2) ? g.Sum([0, 2, 3]).To(b.DType) : null;
                    Tensor? dgw = null;
                    if (node.NeedsInputGrad(1))
                    {
                        dgw = Tensor.Empty(w._shape, dtype);
                        var g0 = CastRaw(g, dtype);
                        if (dtype == DType.Float32) Conv.TransposeBackward(geom, Dense<float>(xr), Dense<float>(wr), Dense<float>(g0), null, dgw.Data<float>(), null);
                        else Conv.TransposeBackward(geom, Dense<double>(xr), Dense<double>(wr), Dense<double>(g0), null, dgw.Data<double>(), null);
                        dgw = dgw.To(w.DType);
                    }
                    return [dgx, dgw, dgb];
                }
                var gx = node.NeedsInputGrad(0) ? Tensor.Empty(x._shape, dtype) : null;
                var gw = node.NeedsInputGrad(1) ? Tensor.Empty(w._shape, dtype) : null;
                var gb = b is not null && node.NeedsInputGrad(2) ? Tensor.Empty([cout], dtype) : null;
                var gr = CastRaw(g, dtype);
                if (dtype == DType.Float32)
                {
                    Conv.TransposeBackward(geom, Dense<float>(xr), Dense<float>(wr), Dense<float>(gr), gx?.Data<float>(), gw?.Data<float>(), gb?.Data<float>());
                }
                else
                {
                    Conv.TransposeBackward(geom, Dense<double>(xr), Dense<double>(wr), Dense<double>(gr), gx?.Data<double>(), gw?.Data<double>(), gb?.Data<double>());
                }
                return [gx?.To(x.DType), gw?.To(w.DType), b is null ? null : gb?.To(b.DType)];
            }, b is null ? [x, w] : [x, w, b]);
        }
        return unbatched ? y.Squeeze(0) : y;
    }
}
