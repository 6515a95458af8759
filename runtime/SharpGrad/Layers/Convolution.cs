namespace SharpGrad.Layers
{
    using SharpGrad.Ops;

    /// <summary>
    /// 1-d convolution over [N, C_in, L] input (PyTorch: <c>torch.nn.Conv1d</c>). Weight [C_out, C_in / groups, k], bias [C_out];
    /// initialised like PyTorch (kaiming_uniform(a = √5), bias U(±1/√fan_in)).
    /// </summary>
    [Module]
    public sealed partial class Conv1d : Module
    {
        /// <summary>Creates the layer (PyTorch: <c>nn.Conv1d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)</c>).</summary>
        public Conv1d(int inChannels, int outChannels, int kernelSize, int stride = OpDefaults.Conv.Stride, int padding = OpDefaults.Conv.Padding, int dilation = OpDefaults.Conv.Dilation, int groups = OpDefaults.Conv.Groups,
            bool bias = OpDefaults.Conv.Bias, Rng? rng = null, DType dtype = DType.Float32)
        {
            ConvChecks.Channels("Conv1d", inChannels, outChannels, groups);
            if (kernelSize <= 0) throw new ArgumentException($"Conv1d: kernel_size must be positive, but got {kernelSize}.");
            InChannels = inChannels;
            OutChannels = outChannels;
            KernelSize = kernelSize;
            Stride = stride;
            Padding = padding;
            Dilation = dilation;
            Groups = groups;
            Weight = new Parameter(Tensor.Empty([outChannels, inChannels / groups, kernelSize], dtype));
            Bias = bias ? new Parameter(Tensor.Empty([outChannels], dtype)) : null;
            ResetParameters(rng);
        }

        /// <summary>Input channels (PyTorch: <c>in_channels</c>).</summary>
        public int InChannels { get; }
        /// <summary>Output channels (PyTorch: <c>out_channels</c>).</summary>
        public int OutChannels { get; }
        /// <summary>Kernel length (PyTorch: <c>kernel_size</c>).</summary>
        public int KernelSize { get; }
        /// <summary>Stride (PyTorch: <c>stride</c>).</summary>
        public int Stride { get; }
        /// <summary>Zero padding on both sides (PyTorch: <c>padding</c>).</summary>
        public int Padding { get; }
        /// <summary>Spacing between kernel taps (PyTorch: <c>dilation</c>).</summary>
        public int Dilation { get; }
        /// <summary>Blocked connections from input to output channels (PyTorch: <c>groups</c>).</summary>
        public int Groups { get; }

        /// <summary>The kernel [C_out, C_in / groups, k] (PyTorch: <c>weight</c>).</summary>
        public Parameter Weight { get; }

        /// <summary>The bias [C_out], or null (PyTorch: <c>bias</c>).</summary>
        public Parameter? Bias { get; }

        /// <summary>Re-initialises the parameters like PyTorch's <c>reset_parameters()</c>.</summary>
        public void ResetParameters(Rng? rng = null) => LayerInit.KaimingDefault(Weight, Bias, rng);

        /// <summary>Convolves [N, C_in, L] input (PyTorch: <c>forward</c>).</summary>
        public Tensor Forward(Tensor input) => Functional.Conv1d(input, Weight, Bias, Stride, Padding, Dilation, Groups);

        /// <inheritdoc/>
        protected override string ExtraRepr() => ConvChecks.Repr(InChannels, OutChannels, [KernelSize], [Stride], [Padding], [Dilation], [0], Groups, Bias is not null);
    }

    /// <summary>
    /// 2-d convolution over [N, C_in, H, W] input (PyTorch: <c>torch.nn.Conv2d</c>). Weight [C_out, C_in / groups, kH, kW], bias [C_out];
    /// initialised like PyTorch (kaiming_uniform(a = √5), bias U(±1/√fan_in)).
    /// </summary>
    [Module]
    public sealed partial class Conv2d : Module
    {
        /// <summary>Creates the layer with square kernel, stride, padding and dilation (PyTorch: <c>nn.Conv2d</c>).</summary>
        public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = OpDefaults.Conv.Stride, int padding = OpDefaults.Conv.Padding, int dilation = OpDefaults.Conv.Dilation, int groups = OpDefaults.Conv.Groups,
            bool bias = OpDefaults.Conv.Bias, Rng? rng = null, DType dtype = DType.Float32)
            : this(inChannels, outChannels, (kernelSize, kernelSize), (stride, stride), (padding, padding), (dilation, dilation), groups, bias, rng, dtype)
        {
        }

        /// <summary>Creates the layer with (height, width) kernel, stride, padding and dilation (PyTorch: <c>nn.Conv2d</c> with tuples).</summary>
        public Conv2d(int inChannels, int outChannels, (int H, int W) kernelSize, (int H, int W)? stride = null, (int H, int W)? padding = null,
            (int H, int W)? dilation = null, int groups = OpDefaults.Conv.Groups, bool bias = OpDefaults.Conv.Bias, Rng? rng = null, DType dtype = DType.Float32)
        {
            ConvChecks.Channels("Conv2d", inChannels, outChannels, groups);
            if (kernelSize.H <= 0 || kernelSize.W <= 0) throw new ArgumentException($"Conv2d: kernel_size must be positive, but got ({kernelSize.H}, {kernelSize.W}).");
            InChannels = inChannels;
            OutChannels = outChannels;
            KernelSize = kernelSize;
            Stride = stride ?? (1, 1);
            Padding = padding ?? (0, 0);
            Dilation = dilation ?? (1, 1);
            Groups = groups;
            Weight = new Parameter(Tensor.Empty([outChannels, inChannels / groups, kernelSize.H, kernelSize.W], dtype));
            Bias = bias ? new Parameter(Tensor.Empty([outChannels], dtype)) : null;
            ResetParameters(rng);
        }

        /// <summary>Input channels (PyTorch: <c>in_channels</c>).</summary>
        public int InChannels { get; }
        /// <summary>Output channels (PyTorch: <c>out_channels</c>).</summary>
        public int OutChannels { get; }
        /// <summary>Kernel (height, width) (PyTorch: <c>kernel_size</c>).</summary>
        public (int H, int W) KernelSize { get; }
        /// <summary>Stride (PyTorch: <c>stride</c>).</summary>
        public (int H, int W) Stride { get; }
        /// <summary>Zero padding (PyTorch: <c>padding</c>).</summary>
        public (int H, int W) Padding { get; }
        /// <summary>Spacing between kernel taps (PyTorch: <c>dilation</c>).</summary>
        public (int H, int W) Dilation { get; }
        /// <summary>Blocked connections from input to output channels (PyTorch: <c>groups</c>).</summary>
        public int Groups { get; }

        /// <summary>The kernel [C_out, C_in / groups, kH, kW] (PyTorch: <c>weight</c>).</summary>
        public Parameter Weight { get; }

        /// <summary>The bias [C_out], or null (PyTorch: <c>bias</c>).</summary>
        public Parameter? Bias { get; }

        /// <summary>Re-initialises the parameters like PyTorch's <c>reset_parameters()</c>.</summary>
        public void ResetParameters(Rng? rng = null) => LayerInit.KaimingDefault(Weight, Bias, rng);

        /// <summary>Convolves [N, C_in, H, W] input (PyTorch: <c>forward</c>).</summary>
        public Tensor Forward(Tensor input) => Functional.Conv2d(input, Weight, Bias, Stride, Padding, Dilation, Groups);

        /// <inheritdoc/>
        protected override string ExtraRepr() => ConvChecks.Repr(InChannels, OutChannels, [KernelSize.H, KernelSize.W], [Stride.H, Stride.W],
            [Padding.H, Padding.W], [Dilation.H, Dilation.W], [0, 0], Groups, Bias is not null);
    }

    /// <summary>
    /// 2-d transposed convolution (PyTorch: <c>torch.nn.ConvTranspose2d</c>). Weight [C_in, C_out / groups, kH, kW], bias [C_out];
    /// initialised like PyTorch (kaiming_uniform(a = √5) with fan_in computed from the weight, i.e. C_out/groups·kH·kW).
    /// </summary>
    [Module]
    public sealed partial class ConvTranspose2d : Module
    {
        /// <summary>Creates the layer with square settings (PyTorch: <c>nn.ConvTranspose2d</c>).</summary>
        public ConvTranspose2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int outputPadding = 0, int groups = 1,
            bool bias = true, int dilation = 1, Rng? rng = null, DType dtype = DType.Float32)
            : this(inChannels, outChannels, (kernelSize, kernelSize), (stride, stride), (padding, padding), (outputPadding, outputPadding), groups, bias, (dilation, dilation), rng, dtype)
        {
        }

        /// <summary>Creates the layer with (height, width) settings (PyTorch: <c>nn.ConvTranspose2d</c> with tuples).</summary>
        public ConvTranspose2d(int inChannels, int outChannels, (int H, int W) kernelSize, (int H, int W)? stride = null, (int H, int W)? padding = null,
            (int H, int W)? outputPadding = null, int groups = 1, bool bias = true, (int H, int W)? dilation = null, Rng? rng = null, DType dtype = DType.Float32)
        {
            ConvChecks.Channels("ConvTranspose2d", inChannels, outChannels, groups);
            if (kernelSize.H <= 0 || kernelSize.W <= 0) throw new ArgumentException($"ConvTranspose2d: kernel_size must be positive, but got ({kernelSize.H}, {kernelSize.W}).");
            InChannels = inChannels;
            OutChannels = outChannels;
            KernelSize = kernelSize;
            Stride = stride ?? (1, 1);
            Padding = padding ?? (0, 0);
            OutputPadding = outputPadding ?? (0, 0);
            Dilation = dilation ?? (1, 1);
            Groups = groups;
            Weight = new Parameter(Tensor.Empty([inChannels, outChannels / groups, kernelSize.H, kernelSize.W], dtype));
            Bias = bias ? new Parameter(Tensor.Empty([outChannels], dtype)) : null;
            ResetParameters(rng);
        }

        /// <summary>Input channels (PyTorch: <c>in_channels</c>).</summary>
        public int InChannels { get; }
        /// <summary>Output channels (PyTorch: <c>out_channels</c>).</summary>
        public int OutChannels { get; }
        /// <summary>Kernel (height, width) (PyTorch: <c>kernel_size</c>).</summary>
        public (int H, int W) KernelSize { get; }
        /// <summary>Stride (PyTorch: <c>stride</c>).</summary>
        public (int H, int W) Stride { get; }
        /// <summary>Implicit padding removed from the output (PyTorch: <c>padding</c>).</summary>
        public (int H, int W) Padding { get; }
        /// <summary>Extra size added to one side of the output (PyTorch: <c>output_padding</c>).</summary>
        public (int H, int W) OutputPadding { get; }
        /// <summary>Spacing between kernel taps (PyTorch: <c>dilation</c>).</summary>
        public (int H, int W) Dilation { get; }
        /// <summary>Blocked connections (PyTorch: <c>groups</c>).</summary>
        public int Groups { get; }

        /// <summary>The kernel [C_in, C_out / groups, kH, kW] (PyTorch: <c>weight</c>).</summary>
        public Parameter Weight { get; }

        /// <summary>The bias [C_out], or null (PyTorch: <c>bias</c>).</summary>
        public Parameter? Bias { get; }

        /// <summary>Re-initialises the parameters like PyTorch's <c>reset_parameters()</c>.</summary>
        public void ResetParameters(Rng? rng = null) => LayerInit.KaimingDefault(Weight, Bias, rng);

        /// <summary>Applies the transposed convolution to [N, C_in, H, W] input (PyTorch: <c>forward</c>).</summary>
        public Tensor Forward(Tensor input) => Functional.ConvTranspose2d(input, Weight, Bias, Stride, Padding, OutputPadding, Groups, Dilation);

        /// <inheritdoc/>
        protected override string ExtraRepr() => ConvChecks.Repr(InChannels, OutChannels, [KernelSize.H, KernelSize.W], [Stride.H, Stride.W],
            [Padding.H, Padding.W], [Dilation.H, Dilation.W], [OutputPadding.H, OutputPadding.W], Groups, Bias is not null);
    }

    /// <summary>
    /// 1-d transposed convolution over [N, C_in, L] input (PyTorch: <c>torch.nn.ConvTranspose1d</c>). Weight [C_in, C_out / groups, k],
    /// bias [C_out]; initialised like PyTorch (kaiming_uniform(a = √5) with fan_in computed from the weight, i.e. C_out/groups·k).
    /// </summary>
    [Module]
    public sealed partial class ConvTranspose1d : Module
    {
        /// <summary>
        /// Creates the layer (PyTorch: <c>nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride, padding, output_padding, groups,
        /// bias, dilation)</c>).
        /// </summary>
        public ConvTranspose1d(int inChannels, int outChannels, int kernelSize, int stride = OpDefaults.Conv.Stride, int padding = OpDefaults.Conv.Padding,
            int outputPadding = OpDefaults.Conv.OutputPadding, int groups = OpDefaults.Conv.Groups, bool bias = OpDefaults.Conv.Bias,
            int dilation = OpDefaults.Conv.Dilation, Rng? rng = null, DType dtype = DType.Float32)
        {
            ConvChecks.Channels("ConvTranspose1d", inChannels, outChannels, groups);
            if (kernelSize <= 0) throw new ArgumentException($"ConvTranspose1d: kernel_size must be positive, but got {kernelSize}.");
            InChannels = inChannels;
            OutChannels = outChannels;
            KernelSize = kernelSize;
            Stride = stride;
            Padding = padding;
            OutputPadding = outputPadding;
            Groups = groups;
            Dilation = dilation;
            Weight = new Parameter(Tensor.Empty([inChannels, outChannels / groups, kernelSize], dtype));
            Bias = bias ? new Parameter(Tensor.Empty([outChannels], dtype)) : null;
            ResetParameters(rng);
        }

        /// <summary>Input channels (PyTorch: <c>in_channels</c>).</summary>
        public int InChannels { get; }
        /// <summary>Output channels (PyTorch: <c>out_channels</c>).</summary>
        public int OutChannels { get; }
        /// <summary>Kernel length (PyTorch: <c>kernel_size</c>).</summary>
        public int KernelSize { get; }
        /// <summary>Stride (PyTorch: <c>stride</c>).</summary>
        public int Stride { get; }
        /// <summary>Implicit padding removed from both ends of the output (PyTorch: <c>padding</c>).</summary>
        public int Padding { get; }
        /// <summary>Extra size added to one end of the output (PyTorch: <c>output_padding</c>).</summary>
        public int OutputPadding { get; }
        /// <summary>Blocked connections (PyTorch: <c>groups</c>).</summary>
        public int Groups { get; }
        /// <summary>Spacing between kernel taps (PyTorch: <c>dilation</c>).</summary>
        public int Dilation { get; }

        /// <summary>The kernel [C_in, C_out / groups, k] (PyTorch: <c>weight</c>).</summary>
        public Parameter Weight { get; }

        /// <summary>The bias [C_out], or null (PyTorch: <c>bias</c>).</summary>
        public Parameter? Bias { get; }

        /// <summary>Re-initialises the parameters like PyTorch's <c>reset_parameters()</c>.</summary>
        public void ResetParameters(Rng? rng = null) => LayerInit.KaimingDefault(Weight, Bias, rng);

        /// <summary>Applies the transposed convolution to [N, C_in, L] input (PyTorch: <c>forward</c>).</summary>
        public Tensor Forward(Tensor input) => Functional.ConvTranspose1d(input, Weight, Bias, Stride, Padding, OutputPadding, Groups, Dilation);

        /// <inheritdoc/>
        protected override string ExtraRepr() => ConvChecks.Repr(InChannels, OutChannels, [KernelSize], [Stride], [Padding], [Dilation], [OutputPadding], Groups, Bias is not null);
    }

    internal static class ConvChecks
    {
        public static void Channels(string op, int inChannels, int outChannels, int groups)
        {
            if (groups <= 0) throw new ArgumentException($"{op}: groups must be a positive integer, but got {groups}.");
            if (inChannels <= 0 || outChannels <= 0) throw new ArgumentException($"{op}: in_channels ({inChannels}) and out_channels ({outChannels}) must be positive.");
            if (inChannels % groups != 0) throw new ArgumentException($"{op}: in_channels ({inChannels}) must be divisible by groups ({groups}).");
            if (outChannels % groups != 0) throw new ArgumentException($"{op}: out_channels ({outChannels}) must be divisible by groups ({groups}).");
        }

        /// <summary>PyTorch's <c>_ConvNd.extra_repr</c>.</summary>
        public static string Repr(int inC, int outC, int[] k, int[] s, int[] p, int[] d, int[] op, int groups, bool bias)
        {
            var sb = new System.Text.StringBuilder($"{inC}, {outC}, kernel_size={Py.Tuple(k)}, stride={Py.Tuple(s)}");
            if (p.Any(v => v != 0)) sb.Append($", padding={Py.Tuple(p)}");
            if (d.Any(v => v != 1)) sb.Append($", dilation={Py.Tuple(d)}");
            if (op.Any(v => v != 0)) sb.Append($", output_padding={Py.Tuple(op)}");
            if (groups != 1) sb.Append($", groups={groups}");
            if (!bias) sb.Append(", bias=False");
            return sb.ToString();
        }
    }
}

namespace SharpGrad
{
    using SharpGrad.Kernels;
    using SharpGrad.Ops;

    // The convolutions' functional forms (PyTorch: torch.nn.functional.conv1d/conv2d/conv_transpose2d), beside their layers:
    // argument checks, the shared output-size rule (Ops/ShapeRules.cs) and the autograd wiring of the kernels in Kernels/Conv.cs.
    public static partial class Functional
    {
        /// <summary>
        /// 1-d convolution (PyTorch: <c>torch.nn.functional.conv1d</c>): input [N, C_in, L] (or unbatched [C_in, L]),
        /// weight [C_out, C_in / groups, k], bias [C_out].
        /// </summary>
        public static Tensor Conv1d(Tensor input, Tensor weight, Tensor? bias = null, int stride = OpDefaults.Conv.Stride, int padding = OpDefaults.Conv.Padding, int dilation = OpDefaults.Conv.Dilation, int groups = OpDefaults.Conv.Groups)
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
        public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias = null, int stride = OpDefaults.Conv.Stride, int padding = OpDefaults.Conv.Padding, int dilation = OpDefaults.Conv.Dilation, int groups = OpDefaults.Conv.Groups)
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
        /// 1-d transposed convolution (PyTorch: <c>torch.nn.functional.conv_transpose1d</c>): input [N, C_in, L] (or unbatched
        /// [C_in, L]), weight [C_in, C_out / groups, k], bias [C_out]. Output length (L − 1)·stride − 2·padding + dilation·(k − 1) + outputPadding + 1.
        /// </summary>
        public static Tensor ConvTranspose1d(Tensor input, Tensor weight, Tensor? bias = null, int stride = OpDefaults.Conv.Stride, int padding = OpDefaults.Conv.Padding,
            int outputPadding = OpDefaults.Conv.OutputPadding, int groups = OpDefaults.Conv.Groups, int dilation = OpDefaults.Conv.Dilation)
        {
            ArgumentNullException.ThrowIfNull(input);
            ArgumentNullException.ThrowIfNull(weight);
            if (input.Rank is not (2 or 3))
            {
                throw new ArgumentException($"ConvTranspose1d: expected a 3-d input [N, C_in, L] (or 2-d unbatched [C_in, L]), but got shape {ShapeUtil.Format(input._shape)}.");
            }
            if (weight.Rank != 3)
            {
                throw new ArgumentException($"ConvTranspose1d: expected a 3-d weight [C_in, C_out / groups, kernel], but got shape {ShapeUtil.Format(weight._shape)}.");
            }
            if (input._shape[^2] != weight._shape[0])
            {
                throw new ArgumentException(
                    $"ConvTranspose1d: expected input with {weight._shape[0]} channels (weight shape {ShapeUtil.Format(weight._shape)}: [C_in, C_out / groups, k]), " +
                    $"but got input of shape {ShapeUtil.Format(input._shape)} with {input._shape[^2]} channels. Fix the layer's in_channels to {input._shape[^2]} or the input's channel dimension.");
            }
            // The 2-d kernel on a [·, C, 1, L] view: height 1, kernel height 1.
            return ConvTranspose2d(input.Unsqueeze(-2), weight.Unsqueeze(2), bias, (1, stride), (0, padding), (0, outputPadding), groups, (1, dilation)).Squeeze(-2);
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
}
