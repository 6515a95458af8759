using System.Runtime.InteropServices;
using SharpGrad.Ops;

namespace SharpGrad.Onnx;

// The PyTorch ops and the ONNX nodes that compute them, one method each, in evaluation mode (as torch.onnx.export's
// default TrainingMode.EVAL). Shape rules live in OnnxShapes.cs.
public sealed partial class OnnxGraphBuilder
{
    // ---------------- constants ----------------

    /// <summary>A float32 scalar constant (a rank-0 initializer), for arithmetic with a number.</summary>
    public OnnxValue Scalar(float value) => Constant("Constant", OnnxElementType.Float32, [], MemoryMarshal.AsBytes([value]));

    /// <summary>A 1-d int64 constant (shapes, axes, slice bounds).</summary>
    public OnnxValue Int64s(params long[] values) => Constant("Constant", OnnxElementType.Int64, [values.Length], MemoryMarshal.AsBytes(values.AsSpan()));

    private OnnxValue Int64Scalar(long value) => Constant("Constant", OnnxElementType.Int64, [], MemoryMarshal.AsBytes([value]));

    private OnnxValue Floats(long[] dims, float value)
    {
        var data = new float[dims.Aggregate(1L, (a, b) => a * b)];
        Array.Fill(data, value);
        return Constant("Constant", OnnxElementType.Float32, dims, MemoryMarshal.AsBytes(data.AsSpan()));
    }

    // ---------------- layers ----------------

    /// <summary><c>F.linear(x, weight, bias)</c> (<c>nn.Linear</c>): <c>Gemm(x, W, b, transB=1)</c> for a 2-d input,
    /// <c>MatMul(x, Transpose(W)) + b</c> otherwise, as PyTorch exports it. <paramref name="weight"/> is [out, in].</summary>
    public OnnxValue Linear(OnnxValue x, OnnxValue weight, OnnxValue? bias = null)
    {
        var w = RequireShape(weight, 2, "Linear weight");
        var outShape = x.Shape is null ? null : x.Shape.Take(x.Shape.Count - 1).Append(w[0]).ToArray();
        if (x.Rank == 2)
            return Add("Gemm", [x, weight, bias], [OnnxAttribute.Int("transB", 1)], outShape);
        var wt = Add("Transpose", [weight], [OnnxAttribute.Ints("perm", 1, 0)], [w[1], w[0]]);
        var y = Add("MatMul", [x, wt], [], outShape);
        return bias is null ? y : Add("Add", [y, bias], [], outShape);
    }

    /// <summary><c>torch.matmul(a, b)</c>: <c>MatMul</c> (NumPy semantics, batched and broadcast).</summary>
    public OnnxValue MatMul(OnnxValue a, OnnxValue b) => Add("MatMul", [a, b], [], OnnxShapes.MatMul(a.Shape, b.Shape));

    /// <summary><c>F.conv1d</c>/<c>F.conv2d</c> (<c>nn.Conv1d</c>, <c>nn.Conv2d</c>): <c>Conv</c>; stride, padding and
    /// dilation have one entry per spatial dim (symmetric padding, as PyTorch's).</summary>
    public OnnxValue Conv(OnnxValue x, OnnxValue weight, OnnxValue? bias, int[] stride, int[] padding, int[] dilation, int groups = 1)
    {
        var w = RequireShape(weight, null, "Conv weight");
        int spatial = w.Count - 2;
        CheckSpatial("Conv", spatial, stride, padding, dilation);
        var kernel = w.Skip(2).Select(d => d.Value!.Value).ToArray();
        var attrs = new[]
        {
            OnnxAttribute.Ints("kernel_shape", kernel),
            OnnxAttribute.Ints("strides", Longs(stride)),
            OnnxAttribute.Ints("pads", Longs([.. padding, .. padding])),
            OnnxAttribute.Ints("dilations", Longs(dilation)),
            OnnxAttribute.Int("group", groups),
        };
        var shape = OnnxShapes.Window(x.Shape, w[0], kernel, stride, padding, dilation, ceilMode: false);
        return Add("Conv", [x, weight, bias], attrs, shape);
    }

    /// <summary><c>F.conv2d(x, weight, bias, stride, padding, dilation, groups)</c> (<c>nn.Conv2d</c>): <c>Conv</c>.</summary>
    public OnnxValue Conv2d(OnnxValue x, OnnxValue weight, OnnxValue? bias, (int H, int W) stride, (int H, int W) padding, (int H, int W) dilation, int groups = 1)
        => Conv(x, weight, bias, [stride.H, stride.W], [padding.H, padding.W], [dilation.H, dilation.W], groups);

    /// <summary><c>F.conv_transpose2d</c> (<c>nn.ConvTranspose2d</c>): <c>ConvTranspose</c>. <paramref name="weight"/> is
    /// [in, out / groups, kH, kW], as PyTorch's.</summary>
    public OnnxValue ConvTranspose2d(OnnxValue x, OnnxValue weight, OnnxValue? bias, (int H, int W) stride, (int H, int W) padding,
        (int H, int W) outputPadding, int groups = 1, (int H, int W)? dilation = null)
    {
        var w = RequireShape(weight, 4, "ConvTranspose2d weight");
        var d = dilation ?? (1, 1);
        long[] kernel = [w[2].Value!.Value, w[3].Value!.Value];
        var attrs = new[]
        {
            OnnxAttribute.Ints("kernel_shape", kernel),
            OnnxAttribute.Ints("strides", stride.H, stride.W),
            OnnxAttribute.Ints("pads", padding.H, padding.W, padding.H, padding.W),
            OnnxAttribute.Ints("output_padding", outputPadding.H, outputPadding.W),
            OnnxAttribute.Ints("dilations", d.H, d.W),
            OnnxAttribute.Int("group", groups),
        };
        var channels = w[1].Value * groups is { } c ? OnnxDim.Fixed(c) : OnnxDim.Unknown;
        var shape = OnnxShapes.TransposedWindow(x.Shape, channels, kernel, [stride.H, stride.W], [padding.H, padding.W], [outputPadding.H, outputPadding.W], [d.H, d.W]);
        return Add("ConvTranspose", [x, weight, bias], attrs, shape);
    }

    /// <summary><c>F.max_pool2d</c> (<c>nn.MaxPool2d</c>): <c>MaxPool</c>.</summary>
    public OnnxValue MaxPool2d(OnnxValue x, (int H, int W) kernelSize, (int H, int W) stride, (int H, int W) padding, (int H, int W) dilation, bool ceilMode = false)
    {
        long[] k = [kernelSize.H, kernelSize.W];
        var attrs = new[]
        {
            OnnxAttribute.Ints("kernel_shape", k),
            OnnxAttribute.Ints("strides", stride.H, stride.W),
            OnnxAttribute.Ints("pads", padding.H, padding.W, padding.H, padding.W),
            OnnxAttribute.Ints("dilations", dilation.H, dilation.W),
            OnnxAttribute.Int("ceil_mode", ceilMode ? 1 : 0),
        };
        var shape = OnnxShapes.Window(x.Shape, null, k, [stride.H, stride.W], [padding.H, padding.W], [dilation.H, dilation.W], ceilMode);
        return Add("MaxPool", [x], attrs, shape);
    }

    /// <summary><c>F.avg_pool2d</c> (<c>nn.AvgPool2d</c>): <c>AveragePool</c>. A <paramref name="divisorOverride"/> has no
    /// ONNX equivalent and is refused.</summary>
    public OnnxValue AvgPool2d(OnnxValue x, (int H, int W) kernelSize, (int H, int W) stride, (int H, int W) padding, bool ceilMode = false,
        bool countIncludePad = true, int? divisorOverride = null)
    {
        if (divisorOverride is not null)
            throw new NotSupportedException($"AvgPool2d with divisor_override={divisorOverride} has no ONNX AveragePool equivalent; export the model without divisorOverride.");
        long[] k = [kernelSize.H, kernelSize.W];
        var attrs = new[]
        {
            OnnxAttribute.Ints("kernel_shape", k),
            OnnxAttribute.Ints("strides", stride.H, stride.W),
            OnnxAttribute.Ints("pads", padding.H, padding.W, padding.H, padding.W),
            OnnxAttribute.Int("ceil_mode", ceilMode ? 1 : 0),
            OnnxAttribute.Int("count_include_pad", countIncludePad ? 1 : 0),
        };
        var shape = OnnxShapes.Window(x.Shape, null, k, [stride.H, stride.W], [padding.H, padding.W], [1, 1], ceilMode);
        return Add("AveragePool", [x], attrs, shape);
    }

    /// <summary><c>F.adaptive_avg_pool2d</c> (<c>nn.AdaptiveAvgPool2d</c>): <c>GlobalAveragePool</c> for a 1×1 output;
    /// otherwise <c>AveragePool</c> when the input's height and width are fixed multiples of the output's (PyTorch's
    /// exporter has the same limit).</summary>
    public OnnxValue AdaptiveAvgPool2d(OnnxValue x, (int H, int W) outputSize)
    {
        var s = RequireShape(x, 4, "AdaptiveAvgPool2d input");
        if (outputSize == (1, 1))
            return Add("GlobalAveragePool", [x], [], [s[0], s[1], 1, 1]);
        if (s[2].Value is not { } h || s[3].Value is not { } w || h % outputSize.H != 0 || w % outputSize.W != 0)
        {
            throw new NotSupportedException(
                $"AdaptiveAvgPool2d to {outputSize} of an input of shape {OnnxDim.Format(s)} has no ONNX equivalent: ONNX needs a fixed input height and width divisible by the output's (or a 1x1 output).");
        }
        var (kh, kw) = (h / outputSize.H, w / outputSize.W);
        return AvgPool2d(x, ((int)kh, (int)kw), ((int)kh, (int)kw), (0, 0));
    }

    /// <summary><c>F.batch_norm</c> in evaluation mode (<c>nn.BatchNorm1d</c>/<c>2d</c> after <c>eval()</c>):
    /// <c>BatchNormalization</c> with the running statistics. A missing affine weight or bias is written as ones or zeros.</summary>
    public OnnxValue BatchNorm(OnnxValue x, OnnxValue? weight, OnnxValue? bias, OnnxValue? runningMean, OnnxValue? runningVar, double eps = OpDefaults.Norm.Eps)
    {
        if (runningMean is null || runningVar is null)
        {
            throw new NotSupportedException(
                "BatchNorm without running statistics (track_running_stats=False) normalises with the batch's own statistics even in evaluation, which ONNX BatchNormalization cannot express in inference mode; export a model whose BatchNorm tracks running statistics.");
        }
        var c = RequireShape(runningMean, 1, "BatchNorm running_mean")[0].Value!.Value;
        weight ??= Floats([c], 1f);
        bias ??= Floats([c], 0f);
        return Add("BatchNormalization", [x, weight, bias, runningMean, runningVar], [OnnxAttribute.Float("epsilon", (float)eps)], x.Shape?.ToArray());
    }

    /// <summary><c>F.layer_norm(x, normalized_shape, weight, bias, eps)</c> (<c>nn.LayerNorm</c>): <c>LayerNormalization</c>
    /// over the last <c>normalized_shape.Length</c> dims.</summary>
    public OnnxValue LayerNorm(OnnxValue x, int[] normalizedShape, OnnxValue? weight, OnnxValue? bias, double eps = OpDefaults.Norm.Eps)
    {
        ArgumentNullException.ThrowIfNull(normalizedShape);
        if (normalizedShape.Length == 0) throw new ArgumentException("LayerNorm needs a normalized shape of at least one dim.", nameof(normalizedShape));
        weight ??= Floats(Longs(normalizedShape), 1f);
        var attrs = new[] { OnnxAttribute.Int("axis", -normalizedShape.Length), OnnxAttribute.Float("epsilon", (float)eps) };
        return Add("LayerNormalization", [x, weight, bias], attrs, x.Shape?.ToArray());
    }

    /// <summary><c>F.dropout</c> / <c>nn.Dropout</c> in evaluation mode: the identity, so no node is written (as PyTorch's
    /// exporter does).</summary>
    public OnnxValue Dropout(OnnxValue x)
    {
        Own(x);
        return x;
    }

    /// <summary><c>F.embedding(indices, weight)</c> (<c>nn.Embedding</c>): <c>Gather(weight, indices, axis=0)</c>.</summary>
    public OnnxValue Embedding(OnnxValue indices, OnnxValue weight)
    {
        var w = RequireShape(weight, 2, "Embedding weight");
        var shape = indices.Shape?.Append(w[1]).ToArray();
        return Add("Gather", [weight, indices], [OnnxAttribute.Int("axis", 0)], shape, weight.ElementType);
    }

    // ---------------- activations ----------------

    /// <summary><c>F.relu</c>: <c>Relu</c>.</summary>
    public OnnxValue Relu(OnnxValue x) => Unary("Relu", x);

    /// <summary><c>F.leaky_relu(x, negative_slope)</c>: <c>LeakyRelu</c>.</summary>
    public OnnxValue LeakyRelu(OnnxValue x, double negativeSlope = OpDefaults.LeakyRelu.NegativeSlope) => Add("LeakyRelu", [x], [OnnxAttribute.Float("alpha", (float)negativeSlope)], x.Shape?.ToArray());

    /// <summary><c>F.elu(x, alpha)</c>: <c>Elu</c>.</summary>
    public OnnxValue Elu(OnnxValue x, double alpha = OpDefaults.Elu.Alpha) => Add("Elu", [x], [OnnxAttribute.Float("alpha", (float)alpha)], x.Shape?.ToArray());

    /// <summary><c>torch.sigmoid</c>: <c>Sigmoid</c>.</summary>
    public OnnxValue Sigmoid(OnnxValue x) => Unary("Sigmoid", x);

    /// <summary><c>torch.tanh</c>: <c>Tanh</c>.</summary>
    public OnnxValue Tanh(OnnxValue x) => Unary("Tanh", x);

    /// <summary><c>F.silu</c>: <c>x · Sigmoid(x)</c>.</summary>
    public OnnxValue Silu(OnnxValue x) => Mul(x, Sigmoid(x));

    /// <summary><c>F.gelu(x, approximate)</c>: the <c>Gelu</c> op from opset 20; below it, PyTorch's decomposition —
    /// <c>0.5·x·(1 + Erf(x/√2))</c>, or with <c>"tanh"</c>, <c>0.5·x·(1 + Tanh(√(2/π)·(x + 0.044715·x³)))</c>.</summary>
    public OnnxValue Gelu(OnnxValue x, string approximate = OpDefaults.Gelu.Approximate)
    {
        if (approximate is not ("none" or "tanh"))
            throw new ArgumentException($"GELU's approximate is \"none\" or \"tanh\", as in PyTorch; got \"{approximate}\".", nameof(approximate));
        if (Opset >= 20)
            return Add("Gelu", [x], [OnnxAttribute.String("approximate", approximate)], x.Shape?.ToArray());
        OnnxValue inner = approximate == "none"
            ? Unary("Erf", Mul(x, (float)Kernels.GeluOp.InvSqrt2))
            : Tanh(Mul(Add(x, Mul(Mul(Mul(x, x), x), (float)Kernels.GeluOp.Cubic)), (float)Kernels.GeluOp.Sqrt2OverPi));
        return Mul(Mul(x, 0.5f), Add(inner, 1f));
    }

    /// <summary><c>F.softplus(x, beta, threshold)</c>: <c>Softplus</c>, with PyTorch's beta and its linear branch above
    /// the threshold written out when they matter.</summary>
    public OnnxValue Softplus(OnnxValue x, double beta = OpDefaults.Softplus.Beta, double threshold = OpDefaults.Softplus.Threshold)
    {
        // Above beta·x > threshold PyTorch returns x; log1p(exp(-t)) < 1e-8 of the exact value past t = 18.5.
        if (beta == 1.0 && threshold >= 18.5) return Unary("Softplus", x);
        var bx = beta == 1.0 ? x : Mul(x, (float)beta);
        var soft = beta == 1.0 ? Unary("Softplus", bx) : Div(Unary("Softplus", bx), (float)beta);
        var above = Add("Greater", [bx, Scalar((float)threshold)], [], OnnxShapes.Broadcast(bx.Shape, []));
        return Add("Where", [above, x, soft], [], x.Shape?.ToArray());
    }

    /// <summary><c>F.hardtanh(x, min_val, max_val)</c>: <c>Clip</c>.</summary>
    public OnnxValue Hardtanh(OnnxValue x, double minVal = OpDefaults.Hardtanh.MinVal, double maxVal = OpDefaults.Hardtanh.MaxVal)
        => Add("Clip", [x, Scalar((float)minVal), Scalar((float)maxVal)], [], x.Shape?.ToArray());

    /// <summary><c>F.relu6</c>: <c>Clip(x, 0, 6)</c>.</summary>
    public OnnxValue Relu6(OnnxValue x) => Hardtanh(x, 0, 6);

    /// <summary><c>F.logsigmoid</c>: <c>-Softplus(-x)</c>.</summary>
    public OnnxValue LogSigmoid(OnnxValue x) => Neg(Unary("Softplus", Neg(x)));

    /// <summary><c>F.softsign</c>: <c>Softsign</c>.</summary>
    public OnnxValue Softsign(OnnxValue x) => Unary("Softsign", x);

    /// <summary><c>F.softmax(x, dim)</c>: <c>Softmax(axis=dim)</c>.</summary>
    public OnnxValue Softmax(OnnxValue x, int dim) => Add("Softmax", [x], [OnnxAttribute.Int("axis", dim)], x.Shape?.ToArray());

    /// <summary><c>F.log_softmax(x, dim)</c>: <c>LogSoftmax(axis=dim)</c>.</summary>
    public OnnxValue LogSoftmax(OnnxValue x, int dim) => Add("LogSoftmax", [x], [OnnxAttribute.Int("axis", dim)], x.Shape?.ToArray());

    /// <summary><c>F.softmin(x, dim)</c>: <c>Softmax(-x)</c>.</summary>
    public OnnxValue Softmin(OnnxValue x, int dim) => Softmax(Neg(x), dim);

    // ---------------- elementwise ----------------

    /// <summary><c>a + b</c> (broadcast): <c>Add</c>.</summary>
    public OnnxValue Add(OnnxValue a, OnnxValue b) => Binary("Add", a, b);

    /// <summary><c>a - b</c> (broadcast): <c>Sub</c>.</summary>
    public OnnxValue Sub(OnnxValue a, OnnxValue b) => Binary("Sub", a, b);

    /// <summary><c>a * b</c> (broadcast): <c>Mul</c>.</summary>
    public OnnxValue Mul(OnnxValue a, OnnxValue b) => Binary("Mul", a, b);

    /// <summary><c>a / b</c> (broadcast): <c>Div</c>.</summary>
    public OnnxValue Div(OnnxValue a, OnnxValue b) => Binary("Div", a, b);

    /// <summary><c>torch.maximum(a, b)</c> (broadcast): <c>Max</c>.</summary>
    public OnnxValue Maximum(OnnxValue a, OnnxValue b) => Binary("Max", a, b);

    /// <summary><c>torch.minimum(a, b)</c> (broadcast): <c>Min</c>.</summary>
    public OnnxValue Minimum(OnnxValue a, OnnxValue b) => Binary("Min", a, b);

    /// <summary><c>x + c</c>.</summary>
    public OnnxValue Add(OnnxValue x, float c) => Add(x, Scalar(c));

    /// <summary><c>x - c</c>.</summary>
    public OnnxValue Sub(OnnxValue x, float c) => Sub(x, Scalar(c));

    /// <summary><c>x * c</c>.</summary>
    public OnnxValue Mul(OnnxValue x, float c) => Mul(x, Scalar(c));

    /// <summary><c>x / c</c>.</summary>
    public OnnxValue Div(OnnxValue x, float c) => Div(x, Scalar(c));

    /// <summary><c>torch.pow(x, exponent)</c>: <c>Pow</c>.</summary>
    public OnnxValue Pow(OnnxValue x, double exponent) => Binary("Pow", x, Scalar((float)exponent));

    /// <summary><c>-x</c>: <c>Neg</c>.</summary>
    public OnnxValue Neg(OnnxValue x) => Unary("Neg", x);

    /// <summary><c>torch.exp</c>: <c>Exp</c>.</summary>
    public OnnxValue Exp(OnnxValue x) => Unary("Exp", x);

    /// <summary><c>torch.log</c>: <c>Log</c>.</summary>
    public OnnxValue Log(OnnxValue x) => Unary("Log", x);

    /// <summary><c>torch.sqrt</c>: <c>Sqrt</c>.</summary>
    public OnnxValue Sqrt(OnnxValue x) => Unary("Sqrt", x);

    /// <summary><c>torch.abs</c>: <c>Abs</c>.</summary>
    public OnnxValue Abs(OnnxValue x) => Unary("Abs", x);

    // ---------------- views and indexing ----------------

    /// <summary><c>x.view(shape)</c> / <c>x.reshape(shape)</c> (one entry may be -1): <c>Reshape</c>.</summary>
    public OnnxValue View(OnnxValue x, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        // PyTorch's 0 is an empty dim, ONNX's (allowzero=0) copies the input's: say which.
        var attrs = shape.Contains(0) ? new[] { OnnxAttribute.Int("allowzero", 1) } : [];
        return Add("Reshape", [x, Int64s(shape)], attrs, OnnxShapes.Reshape(x.Shape, shape));
    }

    /// <summary><c>torch.flatten(x, start_dim, end_dim)</c> (<c>nn.Flatten</c> flattens from dim 1): <c>Flatten(axis=1)</c>
    /// for start 1 to the end, a <c>Reshape</c> keeping the other dims otherwise.</summary>
    public OnnxValue Flatten(OnnxValue x, int startDim = 0, int endDim = -1)
    {
        var s = RequireShape(x, null, "flatten input");
        int start = Dim(startDim, s.Count, "start_dim"), end = Dim(endDim, s.Count, "end_dim");
        if (start > end) throw new ArgumentException($"flatten: start_dim {startDim} comes after end_dim {endDim} for a rank-{s.Count} input.");
        var shape = s.Take(start).Append(OnnxShapes.Product(s.Skip(start).Take(end - start + 1))).Concat(s.Skip(end + 1)).ToArray();
        if (start == 1 && end == s.Count - 1)
            return Add("Flatten", [x], [OnnxAttribute.Int("axis", 1)], shape);
        // 0 copies the input's dim (allowzero=0), -1 takes the rest: symbolic dims stay symbolic.
        long[] target = [.. Enumerable.Repeat(0L, start), -1, .. Enumerable.Repeat(0L, s.Count - 1 - end)];
        return Add("Reshape", [x, Int64s(target)], [], shape);
    }

    /// <summary>A view to a shape known when the graph is built (what generated export code writes for <c>View</c>,
    /// <c>Reshape</c>, <c>Flatten</c>, <c>Unsqueeze</c> and <c>Squeeze</c>): one <c>Reshape</c> whose target keeps fixed
    /// dims, copies (0) a symbolic dim the input has at the same position, and infers (-1) one other symbolic dim. The
    /// value's tracked shape is <paramref name="shape"/>, symbolic names included.</summary>
    public OnnxValue Reshape(OnnxValue x, params OnnxDim[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var s = x.Shape;
        var target = new long[shape.Length];
        int inferred = -1;
        for (int k = 0; k < shape.Length; k++)
        {
            if (shape[k].Value is { } v && v > 0) target[k] = v;
            else if (shape[k].Param is { } p && s is not null && k < s.Count && s[k].Param == p) target[k] = 0; // copied
            else if (shape[k].Value is null && inferred < 0) (target[k], inferred) = (-1, k);
            else
            {
                throw new NotSupportedException(
                    $"reshape of '{x.Name}' {OnnxDim.Format(s ?? [])} to {OnnxDim.Format(shape)}: ONNX Reshape copies a symbolic dim at the same position and infers one other, and no more (an empty dim is not written either).");
            }
        }
        return Add("Reshape", [x, Int64s(target)], [], shape.ToArray());
    }

    /// <summary><c>x.unflatten(dim, sizes)</c> (<c>nn.Unflatten</c>): a <c>Reshape</c> that keeps the leading dims as they
    /// are (symbolic ones stay symbolic). One size may be -1; the dims after <paramref name="dim"/> must then be fixed.</summary>
    public OnnxValue Unflatten(OnnxValue x, int dim, params long[] sizes)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        var s = RequireShape(x, null, "unflatten input");
        int d = Dim(dim, s.Count, "dim");
        if (sizes.Length == 0 || sizes.Count(v => v == -1) > 1 || sizes.Any(v => v == 0 || v < -1))
            throw new ArgumentException($"unflatten: sizes ({string.Join(", ", sizes)}) must be positive, with at most one -1.", nameof(sizes));
        // Reshape's 0 copies the input's dim at the same position: right for the dims before `dim` only.
        bool inferred = sizes.Contains(-1);
        var trailing = new long[s.Count - 1 - d];
        for (int i = 0; i < trailing.Length; i++)
        {
            if (s[d + 1 + i].Value is { } v) trailing[i] = v;
            else if (!inferred) { trailing[i] = -1; inferred = true; }
            else throw new NotSupportedException($"unflatten of dim {dim} of {OnnxDim.Format(s)} into ({string.Join(", ", sizes)}): ONNX Reshape can infer one unknown dim only.");
        }
        long known = sizes.Where(v => v > 0).Aggregate(1L, (a, b) => a * b);
        var middle = sizes.Select(v => v > 0 ? OnnxDim.Fixed(v) : s[d].Value is { } n ? OnnxDim.Fixed(n / known) : OnnxDim.Unknown);
        var shape = s.Take(d).Concat(middle).Concat(s.Skip(d + 1)).ToArray();
        return Add("Reshape", [x, Int64s([.. Enumerable.Repeat(0L, d), .. sizes, .. trailing])], [], shape);
    }

    /// <summary><c>x.masked_fill(mask, value)</c>: <c>Where(mask, value, x)</c> (<paramref name="mask"/> a Bool value that
    /// broadcasts to <paramref name="x"/>).</summary>
    public OnnxValue MaskedFill(OnnxValue x, OnnxValue mask, double value)
    {
        if (mask.ElementType != OnnxElementType.Bool)
            throw new ArgumentException($"masked_fill needs a Bool mask; '{mask.Name}' is {mask.ElementType}.", nameof(mask));
        return Add("Where", [mask, Scalar((float)value), x], [], OnnxShapes.Broadcast(mask.Shape, x.Shape), x.ElementType);
    }

    /// <summary><c>x.transpose(dim0, dim1)</c>: <c>Transpose</c>.</summary>
    public OnnxValue Transpose(OnnxValue x, int dim0, int dim1)
    {
        var s = RequireShape(x, null, "transpose input");
        var perm = Enumerable.Range(0, s.Count).ToArray();
        int a = Dim(dim0, s.Count, "dim0"), b = Dim(dim1, s.Count, "dim1");
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return Permute(x, perm);
    }

    /// <summary><c>x.permute(dims)</c>: <c>Transpose(perm=dims)</c>.</summary>
    public OnnxValue Permute(OnnxValue x, params int[] dims)
    {
        var s = RequireShape(x, dims.Length, "permute input");
        var perm = dims.Select(d => Dim(d, s.Count, "dims")).ToArray();
        if (perm.Distinct().Count() != perm.Length) throw new ArgumentException($"permute: the dims ({string.Join(", ", dims)}) repeat a dim.");
        return Add("Transpose", [x], [OnnxAttribute.Ints("perm", Longs(perm))], perm.Select(p => s[p]).ToArray());
    }

    /// <summary><c>x.unsqueeze(dim)</c>: <c>Unsqueeze</c>.</summary>
    public OnnxValue Unsqueeze(OnnxValue x, int dim)
    {
        var shape = x.Shape?.ToList();
        if (shape is not null)
        {
            int d = Dim(dim, shape.Count + 1, "dim");
            shape.Insert(d, 1);
        }
        return Add("Unsqueeze", [x, Int64s(dim)], [], shape?.ToArray());
    }

    /// <summary><c>x.squeeze(dim)</c> of a size-1 dim: <c>Squeeze</c>.</summary>
    public OnnxValue Squeeze(OnnxValue x, int dim)
    {
        var s = RequireShape(x, null, "squeeze input");
        int d = Dim(dim, s.Count, "dim");
        if (s[d].Value is { } v && v != 1) return x; // PyTorch leaves a dim that is not 1 alone
        return Add("Squeeze", [x, Int64s(d)], [], s.Where((_, i) => i != d).ToArray());
    }

    /// <summary><c>torch.cat(values, dim)</c>: <c>Concat</c>.</summary>
    public OnnxValue Cat(IReadOnlyList<OnnxValue> values, int dim)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0) throw new ArgumentException("cat needs at least one value.", nameof(values));
        return Add("Concat", [.. values], [OnnxAttribute.Int("axis", dim)], OnnxShapes.Concat(values.Select(v => v.Shape).ToArray(), dim));
    }

    /// <summary><c>x[..., start:end:step, ...]</c> along <paramref name="dim"/> (<c>Tensor.Slice</c>): <c>Slice</c>. An
    /// <paramref name="end"/> of null runs to the end.</summary>
    public OnnxValue Slice(OnnxValue x, int dim, long start, long? end = null, long step = 1)
    {
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, "slice step must be positive, as in PyTorch.");
        var shape = OnnxShapes.Slice(x.Shape, dim, start, end, step);
        return Add("Slice", [x, Int64s(start), Int64s(end ?? long.MaxValue), Int64s(dim), Int64s(step)], [], shape);
    }

    /// <summary><c>x.narrow(dim, start, length)</c>: <c>Slice</c>.</summary>
    public OnnxValue Narrow(OnnxValue x, int dim, long start, long length) => Slice(x, dim, start, start + length);

    /// <summary><c>x.select(dim, index)</c> (<c>x[:, i]</c>): <c>Gather</c> with a scalar index, which drops the dim.</summary>
    public OnnxValue Select(OnnxValue x, int dim, long index)
    {
        var shape = x.Shape?.Where((_, i) => i != Dim(dim, x.Shape.Count, "dim")).ToArray();
        return Add("Gather", [x, Int64Scalar(index)], [OnnxAttribute.Int("axis", dim)], shape);
    }

    /// <summary><c>torch.index_select(x, dim, indices)</c>: <c>Gather(axis=dim)</c>.</summary>
    public OnnxValue IndexSelect(OnnxValue x, int dim, OnnxValue indices)
    {
        var shape = x.Shape?.ToArray();
        if (shape is not null) shape[Dim(dim, shape.Length, "dim")] = indices.Shape is [var n] ? n : OnnxDim.Unknown;
        return Add("Gather", [x, indices], [OnnxAttribute.Int("axis", dim)], shape);
    }

    // ---------------- reductions ----------------

    /// <summary><c>x.mean(dims, keepdim)</c> (no dims: over every dim): <c>ReduceMean</c> (axes an attribute up to opset 17, an input from 18).</summary>
    public OnnxValue Mean(OnnxValue x, int[] dims, bool keepDim = false) => Reduce("ReduceMean", x, dims, keepDim, axesAsInputFrom: 18);

    /// <summary><c>x.sum(dims, keepdim)</c>: <c>ReduceSum</c>.</summary>
    public OnnxValue Sum(OnnxValue x, int[] dims, bool keepDim = false) => Reduce("ReduceSum", x, dims, keepDim, axesAsInputFrom: 13);

    private OnnxValue Reduce(string op, OnnxValue x, int[] dims, bool keepDim, int axesAsInputFrom)
    {
        ArgumentNullException.ThrowIfNull(dims);
        if (dims.Length == 0) dims = Enumerable.Range(0, RequireShape(x, null, op + " input").Count).ToArray(); // x.mean(): every dim
        var keep = OnnxAttribute.Int("keepdims", keepDim ? 1 : 0);
        var shape = OnnxShapes.Reduce(x.Shape, dims, keepDim);
        return Opset >= axesAsInputFrom
            ? Add(op, [x, Int64s(Longs(dims))], [keep], shape)
            : Add(op, [x], [OnnxAttribute.Ints("axes", Longs(dims)), keep], shape);
    }

    // ---------------- helpers ----------------

    private OnnxValue Unary(string op, OnnxValue x) => Add(op, [x], [], x.Shape?.ToArray());

    private OnnxValue Binary(string op, OnnxValue a, OnnxValue b) => Add(op, [a, b], [], OnnxShapes.Broadcast(a.Shape, b.Shape));

    private static IReadOnlyList<OnnxDim> RequireShape(OnnxValue v, int? rank, string what)
    {
        ArgumentNullException.ThrowIfNull(v);
        if (v.Shape is null)
            throw new ArgumentException($"The {what} '{v.Name}' has an unknown shape; its rank is needed here.");
        if (rank is { } r && v.Shape.Count != r)
            throw new ArgumentException($"The {what} '{v.Name}' has shape {OnnxDim.Format(v.Shape)}; expected rank {r}.");
        return v.Shape;
    }

    private static void CheckSpatial(string op, int spatial, params int[][] lists)
    {
        foreach (var l in lists)
            if (l.Length != spatial)
                throw new ArgumentException($"{op} over {spatial} spatial dims needs {spatial} strides, paddings and dilations; got ({string.Join(", ", l)}).");
    }

    private static int Dim(int dim, int rank, string what) => dim >= -rank && dim < rank
        ? (dim < 0 ? dim + rank : dim)
        : throw new ArgumentOutOfRangeException(what, dim, $"Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], but got {dim}).");

    private static long[] Longs(int[] values) => values.Select(v => (long)v).ToArray();
}
