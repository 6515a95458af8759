using SharpGrad.Kernels;
using SharpGrad.Ops;

namespace SharpGrad;

public static partial class Functional
{
    // The activations' forward and derivative are their kernels (Kernels/Activations.cs); their defaults are the op
    // catalogue's (Ops/Catalogue.Pointwise.cs). These entries only name them.

    private static void ActRequireFloat(Tensor x, string op)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!x.DType.IsFloatingPoint())
        {
            throw new InvalidOperationException($"{op} needs a floating-point tensor, but got {x.DType} (shape {ShapeUtil.Format(x._shape)}). Convert it first with .To(DType.Float32).");
        }
    }

    /// <summary>A pointwise activation of a floating-point tensor.</summary>
    private static Tensor Activation<TOp>(Tensor x, double a = 0, double b = 0) where TOp : IPointwiseOp
    {
        ActRequireFloat(x, TOp.Name);
        return Pointwise.Apply<TOp>(x, a, b);
    }

    /// <summary>The index of <paramref name="value"/> among a choice parameter's accepted strings (its catalogue row's), or an error naming them.</summary>
    internal static int Choice(string op, string parameter, string value)
    {
        var choices = OpCatalogue.Find(op)!.Param(parameter)!.Choices!;
        for (int i = 0; i < choices.Count; i++) if (choices[i] == value) return i;
        throw new ArgumentException($"{op}: {parameter} must be {string.Join(" or ", choices.Select(c => "\"" + c + "\""))}, but got \"{value}\".");
    }

    /// <summary>max(x, 0) (PyTorch: <c>F.relu</c>).</summary>
    public static Tensor Relu(Tensor x) => x.Relu();

    /// <summary>min(max(x, 0), 6) (PyTorch: <c>F.relu6</c>).</summary>
    public static Tensor Relu6(Tensor x) => Activation<Relu6Op>(x);

    /// <summary>1 / (1 + e⁻ˣ) (PyTorch: <c>F.sigmoid</c>).</summary>
    public static Tensor Sigmoid(Tensor x) => x.Sigmoid();

    /// <summary>tanh(x) (PyTorch: <c>F.tanh</c>).</summary>
    public static Tensor Tanh(Tensor x) => x.Tanh();

    /// <summary>x where x &gt; 0, else negativeSlope·x (PyTorch: <c>F.leaky_relu</c>).</summary>
    public static Tensor LeakyRelu(Tensor x, double negativeSlope = OpDefaults.LeakyRelu.NegativeSlope) => Activation<LeakyReluOp>(x, negativeSlope);

    /// <summary>x where x &gt; 0, else alpha·(eˣ − 1) (PyTorch: <c>F.elu</c>).</summary>
    public static Tensor Elu(Tensor x, double alpha = OpDefaults.Elu.Alpha) => Activation<EluOp>(x, alpha);

    /// <summary>
    /// x·Φ(x) with Φ the standard normal CDF (PyTorch: <c>F.gelu</c>). <paramref name="approximate"/> is "none" (exact, erf)
    /// or "tanh" (0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))).
    /// </summary>
    public static Tensor Gelu(Tensor x, string approximate = OpDefaults.Gelu.Approximate)
    {
        ActRequireFloat(x, "Gelu");
        return Pointwise.Apply<GeluOp>(x, Choice("Gelu", "approximate", approximate));
    }

    /// <summary>x·sigmoid(x) (PyTorch: <c>F.silu</c>).</summary>
    public static Tensor Silu(Tensor x) => Activation<SiluOp>(x);

    /// <summary>
    /// log(1 + e^(βx)) / β, reverting to x where βx &gt; threshold (PyTorch: <c>F.softplus(beta, threshold)</c>).
    /// </summary>
    public static Tensor Softplus(Tensor x, double beta = OpDefaults.Softplus.Beta, double threshold = OpDefaults.Softplus.Threshold)
        => Activation<SoftplusOp>(x, beta, threshold);

    /// <summary>log(sigmoid(x)), computed stably as min(x, 0) − log(1 + e^−|x|) (PyTorch: <c>F.logsigmoid</c>).</summary>
    public static Tensor LogSigmoid(Tensor x) => Activation<LogSigmoidOp>(x);

    /// <summary>x − λ where x &gt; λ, x + λ where x &lt; −λ, else 0 (PyTorch: <c>F.softshrink</c>).</summary>
    public static Tensor Softshrink(Tensor x, double lambd = OpDefaults.Softshrink.Lambd) => Activation<SoftshrinkOp>(x, lambd);

    /// <summary>x where |x| &gt; λ, else 0 (PyTorch: <c>F.hardshrink</c>).</summary>
    public static Tensor Hardshrink(Tensor x, double lambd = OpDefaults.Hardshrink.Lambd) => Activation<HardshrinkOp>(x, lambd);

    /// <summary>Softmax of −x along <paramref name="dim"/> (PyTorch: <c>F.softmin</c>).</summary>
    public static Tensor Softmin(Tensor x, int dim) => Softmax(x.Neg(), dim);

    /// <summary>x / (1 + |x|) (PyTorch: <c>F.softsign</c>).</summary>
    public static Tensor Softsign(Tensor x) => Activation<SoftsignOp>(x);

    /// <summary>
    /// scale·(max(0, x) + min(0, α·(eˣ − 1))) with PyTorch's fixed α ≈ 1.6733 and scale ≈ 1.0507 (PyTorch: <c>F.selu</c>).
    /// </summary>
    public static Tensor Selu(Tensor x) => Activation<SeluOp>(x);

    /// <summary>max(0, x) + min(0, α·(e^(x/α) − 1)) (PyTorch: <c>F.celu</c>).</summary>
    public static Tensor Celu(Tensor x, double alpha = OpDefaults.Celu.Alpha)
    {
        if (alpha == 0) throw new ArgumentException("Celu: alpha must not be 0.");
        return Activation<CeluOp>(x, alpha);
    }

    /// <summary>x·tanh(softplus(x)) (PyTorch: <c>F.mish</c>).</summary>
    public static Tensor Mish(Tensor x) => Activation<MishOp>(x);

    /// <summary>relu6(x + 3) / 6 (PyTorch: <c>F.hardsigmoid</c>).</summary>
    public static Tensor Hardsigmoid(Tensor x) => Activation<HardsigmoidOp>(x);

    /// <summary>x·relu6(x + 3) / 6 (PyTorch: <c>F.hardswish</c>).</summary>
    public static Tensor Hardswish(Tensor x) => Activation<HardswishOp>(x);

    /// <summary>
    /// Clamps to [minVal, maxVal] (PyTorch: <c>F.hardtanh</c>); the gradient is 1 strictly inside the interval, 0 at and beyond
    /// the bounds (PyTorch's convention).
    /// </summary>
    public static Tensor Hardtanh(Tensor x, double minVal = OpDefaults.Hardtanh.MinVal, double maxVal = OpDefaults.Hardtanh.MaxVal)
        => Activation<HardtanhOp>(x, minVal, maxVal);

    /// <summary>
    /// The gated linear unit (PyTorch: <c>F.glu</c>): the input split in two halves a and b along <paramref name="dim"/>
    /// (whose size must be even), a · σ(b).
    /// </summary>
    public static Tensor Glu(Tensor x, int dim = OpDefaults.Glu.Dim)
    {
        ActRequireFloat(x, "Glu");
        if (x.Rank == 0) throw new ArgumentException("Glu: the input must have at least 1 dimension, but got a 0-d tensor.");
        int d = Tensor.NormalizeDim(dim, x.Rank);
        if (x._shape[d] % 2 != 0)
        {
            throw new ArgumentException($"Glu: the size of dimension {dim} must be even (it is halved), but the input of shape {ShapeUtil.Format(x._shape)} has {x._shape[d]}.");
        }
        var (outer, size, inner) = Split(x._shape, d);
        int half = size / 2;
        var outShape = (int[])x._shape.Clone();
        outShape[d] = half;
        var src = x.ContiguousRaw();
        var r = Tensor.Empty(outShape, x.DType);
        if (x.DType == DType.Float32) GluKernel.Forward<float, F32>(src.Span<float>(), r.Span<float>(), outer, half, inner);
        else GluKernel.Forward<double, F64>(src.Span<double>(), r.Span<double>(), outer, half, inner);
        if (!Tensor.ShouldRecord(x)) return r;
        return Tensor.Record(r, "GluBackward", [x], (g, n) =>
        {
            if (Autograd.IsGradEnabled)
            {
                // Recording the backward (createGraph): the same derivatives over the two halves as tensors.
                var a = new TensorAlgebra(x.Narrow(d, 0, half));
                var b = new TensorAlgebra(x.Narrow(d, half, half));
                return [Tensor.Cat([g * GluKernel.DerivativeA(a, b).Value, g * GluKernel.DerivativeB(a, b).Value], d)];
            }
            var gx = Tensor.Zeros(x._shape, x.DType);
            var gc = g.DType == x.DType ? g.ContiguousRaw() : g.ToRaw(x.DType);
            if (x.DType == DType.Float32) GluKernel.Backward<float, F32>(src.Span<float>(), gc.Span<float>(), gx.Span<float>(), outer, half, inner);
            else GluKernel.Backward<double, F64>(src.Span<double>(), gc.Span<double>(), gx.Span<double>(), outer, half, inner);
            return [gx];
        }, x);
    }

    /// <summary>
    /// PReLU (PyTorch: <c>F.prelu</c>): x where x &gt; 0, else weight·x, with <paramref name="weight"/> 1-d of one slope for
    /// all channels or one per channel (dim 1 of the input).
    /// </summary>
    public static Tensor Prelu(Tensor x, Tensor weight)
    {
        ActRequireFloat(x, "Prelu");
        ArgumentNullException.ThrowIfNull(weight);
        int channels = x.Rank >= 2 ? x._shape[1] : 1;
        if (weight.Rank > 1 || (weight.NumElements != 1 && weight.NumElements != channels))
        {
            throw new ArgumentException(
                $"Prelu: the weight must be 1-d with 1 element or one per channel ({channels}, dim 1 of the input of shape {ShapeUtil.Format(x._shape)}), " +
                $"but got shape {ShapeUtil.Format(weight._shape)}. Construct PReLU with numParameters = 1 or {channels}.");
        }
        // One slope per channel: the weight seen as [C, 1, …, 1] broadcasts over the dims after the channels.
        var slopes = weight.NumElements == 1 || x.Rank <= 2 ? weight : weight.Reshape([weight.NumElements, .. Enumerable.Repeat(1, x.Rank - 2)]);
        return Tensor.Binary<PreluOp>(x, slopes, BinaryKind.Prelu);
    }

    /// <summary>[outer, size, inner] of a shape split at dim <paramref name="d"/>.</summary>
    internal static (int Outer, int Size, int Inner) Split(int[] shape, int d)
    {
        int outer = 1, inner = 1;
        for (int k = 0; k < d; k++) outer *= shape[k];
        for (int k = d + 1; k < shape.Length; k++) inner *= shape[k];
        return (outer, shape.Length == 0 ? 1 : shape[d], inner);
    }

    /// <summary>exp(x) / Σ exp(x) along <paramref name="dim"/>, computed stably (PyTorch: <c>F.softmax(x, dim)</c>).</summary>
    public static Tensor Softmax(Tensor x, int dim) => SoftmaxCore(x, dim, log: false);

    /// <summary>x − log Σ exp(x) along <paramref name="dim"/>, computed stably (PyTorch: <c>F.log_softmax(x, dim)</c>).</summary>
    public static Tensor LogSoftmax(Tensor x, int dim) => SoftmaxCore(x, dim, log: true);

    private static Tensor SoftmaxCore(Tensor x, int dim, bool log)
    {
        string op = log ? "LogSoftmax" : "Softmax";
        ActRequireFloat(x, op);
        int d = Tensor.NormalizeDim(dim, x.Rank);
        var (outer, size, inner) = Split(x._shape, d);
        var src = x.ContiguousRaw();
        var r = Tensor.Empty(x._shape, x.DType);
        if (x.DType == DType.Float32) SoftmaxKernel.Forward(src.Span<float>(), r.Span<float>(), outer, size, inner, log);
        else SoftmaxKernel.Forward(src.Span<double>(), r.Span<double>(), outer, size, inner, log);
        if (!Tensor.ShouldRecord(x)) return r;
        return Tensor.Record(r, op + "Backward", [x], (g, n) =>
        {
            if (x.Rank == 0) return [g - g];   // a softmax of one element is constant
            if (Autograd.IsGradEnabled) return [SoftmaxKernel.DifferentiableBackward(g, r, d, log)];
            var gc = g.DType == r.DType ? g.ContiguousRaw() : g.ToRaw(r.DType);
            var o = Tensor.Empty(r._shape, r.DType);
            if (r.DType == DType.Float32) SoftmaxKernel.Backward(r.Span<float>(), gc.Span<float>(), o.Span<float>(), outer, size, inner, log, accumulate: false);
            else SoftmaxKernel.Backward(r.Span<double>(), gc.Span<double>(), o.Span<double>(), outer, size, inner, log, accumulate: false);
            return [o];
        }, r);
    }

    /// <summary>
    /// One-hot encodes Int64 class indices: a tensor of shape [..., numClasses] with 1 at each label (PyTorch: <c>F.one_hot</c>).
    /// With <paramref name="numClasses"/> = -1 the count is the largest label + 1.
    /// </summary>
    public static Tensor OneHot(Tensor labels, int numClasses = -1)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.DType is not (DType.Int64 or DType.Int32))
        {
            throw new ArgumentException($"OneHot: the labels must be an Int64 tensor of class indices, but got {labels.DType} (shape {ShapeUtil.Format(labels._shape)}).");
        }
        var v = labels.ToLongArray();
        if (numClasses < 0)
        {
            if (v.Length == 0) throw new ArgumentException("OneHot: cannot infer numClasses from an empty tensor; pass numClasses.");
            numClasses = (int)v.Max() + 1;
        }
        var result = new long[checked(v.Length * numClasses)];
        for (int i = 0; i < v.Length; i++)
        {
            if (v[i] < 0 || v[i] >= numClasses)
            {
                throw new ArgumentException($"OneHot: label {v[i]} (at position {i}) is outside [0, {numClasses - 1}] for numClasses = {numClasses}.");
            }
            result[i * numClasses + v[i]] = 1;
        }
        return Tensor.Wrap(result, [.. labels._shape, numClasses]);
    }
}
