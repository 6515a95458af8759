using SharpGrad.Kernels;

namespace SharpGrad;

/// <summary>The unary ops of the previous code generator (transitional: removed with it).</summary>
public enum CompiledUnary
{
    /// <summary>ReLU.</summary>
    Relu,
    /// <summary>Sigmoid.</summary>
    Sigmoid,
    /// <summary>Tanh.</summary>
    Tanh,
    /// <summary>GELU.</summary>
    Gelu,
    /// <summary>SiLU.</summary>
    Silu,
    /// <summary>Softplus.</summary>
    Softplus,
    /// <summary>LeakyReLU.</summary>
    LeakyRelu,
    /// <summary>ELU.</summary>
    Elu,
    /// <summary>ReLU6.</summary>
    Relu6,
    /// <summary>Hardtanh.</summary>
    Hardtanh,
    /// <summary>LogSigmoid.</summary>
    LogSigmoid,
    /// <summary>Exp.</summary>
    Exp,
    /// <summary>Log.</summary>
    Log,
    /// <summary>Sqrt.</summary>
    Sqrt,
    /// <summary>Abs.</summary>
    Abs,
    /// <summary>Neg.</summary>
    Neg,
}

/// <summary>The binary ops of the previous code generator (transitional: removed with it).</summary>
public enum CompiledBinary
{
    /// <summary>a + b.</summary>
    Add,
    /// <summary>a − b.</summary>
    Sub,
    /// <summary>a · b.</summary>
    Mul,
    /// <summary>a / b.</summary>
    Div,
    /// <summary>max(a, b).</summary>
    Maximum,
    /// <summary>min(a, b).</summary>
    Minimum,
}

// Transitional entry points of the previous code generator: each forwards to the shared kernel (removed with it).
public static partial class CompiledSupport
{
    /// <summary>Transitional.</summary>
    public static void UnaryForward(CompiledUnary op, float[] x, float[] y, int count, float alpha = 0, float beta = 0)
    {
        switch (op)
        {
            case CompiledUnary.Relu: Pointwise.Forward<ReluOp>(x, y, count); break;
            case CompiledUnary.Sigmoid: Pointwise.Forward<SigmoidOp>(x, y, count); break;
            case CompiledUnary.Tanh: Pointwise.Forward<TanhOp>(x, y, count); break;
            case CompiledUnary.Gelu: Pointwise.Forward<GeluOp>(x, y, count, alpha); break;
            case CompiledUnary.Silu: Pointwise.Forward<SiluOp>(x, y, count); break;
            case CompiledUnary.Softplus: Pointwise.Forward<SoftplusOp>(x, y, count, alpha == 0 ? 1 : alpha, alpha == 0 ? 20 : beta); break;
            case CompiledUnary.LeakyRelu: Pointwise.Forward<LeakyReluOp>(x, y, count, alpha); break;
            case CompiledUnary.Elu: Pointwise.Forward<EluOp>(x, y, count, alpha); break;
            case CompiledUnary.Relu6: Pointwise.Forward<Relu6Op>(x, y, count); break;
            case CompiledUnary.Hardtanh: Pointwise.Forward<HardtanhOp>(x, y, count, alpha, beta); break;
            case CompiledUnary.LogSigmoid: Pointwise.Forward<LogSigmoidOp>(x, y, count); break;
            case CompiledUnary.Exp: Pointwise.Forward<ExpOp>(x, y, count); break;
            case CompiledUnary.Log: Pointwise.Forward<LogOp>(x, y, count); break;
            case CompiledUnary.Sqrt: Pointwise.Forward<SqrtOp>(x, y, count); break;
            case CompiledUnary.Abs: Pointwise.Forward<AbsOp>(x, y, count); break;
            default: Pointwise.Forward<NegOp>(x, y, count); break;
        }
    }

    /// <summary>Transitional.</summary>
    public static void UnaryBackward(CompiledUnary op, float[] x, float[] y, float[] gy, float[]? gx, int count, float alpha = 0, float beta = 0)
    {
        switch (op)
        {
            case CompiledUnary.Relu: Pointwise.Backward<ReluOp>(x, y, gy, gx, count); break;
            case CompiledUnary.Sigmoid: Pointwise.Backward<SigmoidOp>(x, y, gy, gx, count); break;
            case CompiledUnary.Tanh: Pointwise.Backward<TanhOp>(x, y, gy, gx, count); break;
            case CompiledUnary.Gelu: Pointwise.Backward<GeluOp>(x, y, gy, gx, count, alpha); break;
            case CompiledUnary.Silu: Pointwise.Backward<SiluOp>(x, y, gy, gx, count); break;
            case CompiledUnary.Softplus: Pointwise.Backward<SoftplusOp>(x, y, gy, gx, count, alpha == 0 ? 1 : alpha, alpha == 0 ? 20 : beta); break;
            case CompiledUnary.LeakyRelu: Pointwise.Backward<LeakyReluOp>(x, y, gy, gx, count, alpha); break;
            case CompiledUnary.Elu: Pointwise.Backward<EluOp>(x, y, gy, gx, count, alpha); break;
            case CompiledUnary.Relu6: Pointwise.Backward<Relu6Op>(x, y, gy, gx, count); break;
            case CompiledUnary.Hardtanh: Pointwise.Backward<HardtanhOp>(x, y, gy, gx, count, alpha, beta); break;
            case CompiledUnary.LogSigmoid: Pointwise.Backward<LogSigmoidOp>(x, y, gy, gx, count); break;
            case CompiledUnary.Exp: Pointwise.Backward<ExpOp>(x, y, gy, gx, count); break;
            case CompiledUnary.Log: Pointwise.Backward<LogOp>(x, y, gy, gx, count); break;
            case CompiledUnary.Sqrt: Pointwise.Backward<SqrtOp>(x, y, gy, gx, count); break;
            case CompiledUnary.Abs: Pointwise.Backward<AbsOp>(x, y, gy, gx, count); break;
            default: Pointwise.Backward<NegOp>(x, y, gy, gx, count); break;
        }
    }

    /// <summary>Transitional.</summary>
    public static void ReluBackward(float[] y, float[] gy, float[] gx, int count) => Pointwise.Backward<ReluOp>(y, y, gy, gx, count);

    /// <summary>Transitional.</summary>
    public static void SumRows(float[] gy, int rows, int cols, float[] destination) => ReduceKernel.Sum(gy, destination, 1, rows, cols, 1f, accumulate: true);

    /// <summary>Transitional.</summary>
    public static void SoftmaxForward(float[] x, float[] y, int outer, int size, int inner, bool log) => SoftmaxKernel.Forward(x, y, outer, size, inner, log);

    /// <summary>Transitional.</summary>
    public static void SoftmaxBackward(float[] y, float[] gy, float[]? gx, int outer, int size, int inner, bool log)
        => SoftmaxKernel.Backward(y, gy, gx, outer, size, inner, log);

    /// <summary>Transitional.</summary>
    public static void ReduceSumForward(float[] x, float[] y, int outer, int size, int inner, float scale) => ReduceKernel.Sum(x, y, outer, size, inner, scale);

    /// <summary>Transitional.</summary>
    public static void ReduceSumBackward(float[] gy, float[]? gx, int outer, int size, int inner, float scale) => ReduceKernel.Spread(gy, gx, outer, size, inner, scale);

    /// <summary>Transitional.</summary>
    public static void BinaryForward(CompiledBinary op, float[] a, int[] aShape, float[] b, int[] bShape, float[] y, int[] yShape)
    {
        switch (op)
        {
            case CompiledBinary.Add: Broadcast.Forward<AddOp>(a, aShape, b, bShape, y, yShape); break;
            case CompiledBinary.Sub: Broadcast.Forward<SubOp>(a, aShape, b, bShape, y, yShape); break;
            case CompiledBinary.Mul: Broadcast.Forward<MulOp>(a, aShape, b, bShape, y, yShape); break;
            case CompiledBinary.Div: Broadcast.Forward<DivOp>(a, aShape, b, bShape, y, yShape); break;
            case CompiledBinary.Maximum: Broadcast.Forward<MaximumOp>(a, aShape, b, bShape, y, yShape); break;
            default: Broadcast.Forward<MinimumOp>(a, aShape, b, bShape, y, yShape); break;
        }
    }

    /// <summary>Transitional.</summary>
    public static void BinaryBackward(CompiledBinary op, float[] a, int[] aShape, float[] b, int[] bShape, float[] gy, int[] yShape, float[]? ga, float[]? gb)
    {
        switch (op)
        {
            case CompiledBinary.Add: Broadcast.Backward<AddOp>(a, aShape, b, bShape, gy, yShape, ga, gb); break;
            case CompiledBinary.Sub: Broadcast.Backward<SubOp>(a, aShape, b, bShape, gy, yShape, ga, gb); break;
            case CompiledBinary.Mul: Broadcast.Backward<MulOp>(a, aShape, b, bShape, gy, yShape, ga, gb); break;
            case CompiledBinary.Div: Broadcast.Backward<DivOp>(a, aShape, b, bShape, gy, yShape, ga, gb); break;
            case CompiledBinary.Maximum: Broadcast.Backward<MaximumOp>(a, aShape, b, bShape, gy, yShape, ga, gb); break;
            default: Broadcast.Backward<MinimumOp>(a, aShape, b, bShape, gy, yShape, ga, gb); break;
        }
    }

    /// <summary>Transitional.</summary>
    public static void DropoutMask(float[] mask, int count, double p, Rng? rng) => DropoutKernel.Mask(mask, count, p, rng);

    /// <summary>Transitional.</summary>
    public static float CrossEntropyForward(float[] logits, Tensor target, float[] probs, int n, int classes, Reduction reduction, long ignoreIndex = -100)
        => ClassIndexLoss.Forward(logits, target, probs, n, classes, reduction, ignoreIndex, logSoftmax: true);

    /// <summary>Transitional.</summary>
    public static void CrossEntropyBackward(float[] probs, Tensor target, float gLoss, float[]? gx, int n, int classes, Reduction reduction, long ignoreIndex = -100)
        => ClassIndexLoss.Backward(probs, target, gLoss, gx, n, classes, reduction, ignoreIndex, logSoftmax: true);

    /// <summary>Transitional.</summary>
    public static float NllForward(float[] logp, Tensor target, int n, int classes, Reduction reduction, long ignoreIndex = -100)
        => ClassIndexLoss.Forward(logp, target, new float[n * classes], n, classes, reduction, ignoreIndex, logSoftmax: false);

    /// <summary>Transitional.</summary>
    public static void NllBackward(Tensor target, float gLoss, float[]? gx, int n, int classes, Reduction reduction, long ignoreIndex = -100)
        => ClassIndexLoss.Backward(new float[n * classes], target, gLoss, gx, n, classes, reduction, ignoreIndex, logSoftmax: false);

    /// <summary>Transitional.</summary>
    public static float MseForward(float[] x, Tensor target, int count, Reduction reduction) => ElementwiseLoss.Forward<MseLossOp>(x, target, count, reduction);

    /// <summary>Transitional.</summary>
    public static void MseBackward(float[] x, Tensor target, float gLoss, float[]? gx, int count, Reduction reduction)
        => ElementwiseLoss.Backward<MseLossOp>(x, target, gLoss, gx, count, reduction);

    /// <summary>Transitional.</summary>
    public static float L1Forward(float[] x, Tensor target, int count, Reduction reduction) => ElementwiseLoss.Forward<L1LossOp>(x, target, count, reduction);

    /// <summary>Transitional.</summary>
    public static void L1Backward(float[] x, Tensor target, float gLoss, float[]? gx, int count, Reduction reduction)
        => ElementwiseLoss.Backward<L1LossOp>(x, target, gLoss, gx, count, reduction);

    /// <summary>Transitional.</summary>
    public static float BceWithLogitsForward(float[] x, Tensor target, int count, Reduction reduction)
        => ElementwiseLoss.Forward<BceWithLogitsLossOp>(x, target, count, reduction);

    /// <summary>Transitional.</summary>
    public static void BceWithLogitsBackward(float[] x, Tensor target, float gLoss, float[]? gx, int count, Reduction reduction)
        => ElementwiseLoss.Backward<BceWithLogitsLossOp>(x, target, gLoss, gx, count, reduction);

    /// <summary>Transitional.</summary>
    public static void Conv2dForward(float[] x, Tensor weight, Tensor? bias, float[] y, int n, int c, int h, int w, int o,
        int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int groups, int ho, int wo, bool relu = false)
        => ConvForward(x, weight, bias, y, n, new ConvShape(c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, groups, ho, wo), relu);

    /// <summary>Transitional.</summary>
    public static void Conv2dBackward(float[] x, Tensor weight, float[] gy, float[]? gx, float[]? gw, float[]? gb, int n, int c, int h, int w, int o,
        int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int groups, int ho, int wo)
        => Conv.Backward(new ConvShape(c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, groups, ho, wo).For(n), x, ZeroOffset(weight), gy, gx, gw, gb);

    /// <summary>Transitional.</summary>
    public static void MaxPool2dForward(float[] x, float[] y, long[] indices, int planes, int h, int w, int ho, int wo,
        int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw)
        => Pooling.MaxForward(new PoolGeometry(planes, h, w, ho, wo, kh, kw, sh, sw, ph, pw, dh, dw), x, y, indices);

    /// <summary>Transitional.</summary>
    public static void MaxPool2dBackward(float[] gy, long[] indices, float[] gx, int planes, int hw, int lo) => Pooling.MaxBackward(planes, hw, lo, gy, indices, gx);

    /// <summary>Transitional.</summary>
    public static void AvgPool2dForward(float[] x, float[] y, int planes, int h, int w, int ho, int wo, int kh, int kw, int sh, int sw,
        int ph, int pw, bool ceilMode, bool countIncludePad, int divisorOverride = 0)
        => AvgPoolForward(x, y, planes, new PoolShape(1, h, w, ho, wo, kh, kw, sh, sw, ph, pw, 1, 1, ceilMode, countIncludePad), divisorOverride);

    /// <summary>Transitional.</summary>
    public static void AvgPool2dBackward(float[] gy, float[]? gx, int planes, int h, int w, int ho, int wo, int kh, int kw, int sh, int sw,
        int ph, int pw, bool ceilMode, bool countIncludePad, int divisorOverride = 0)
        => AvgPoolBackward(gy, gx, planes, new PoolShape(1, h, w, ho, wo, kh, kw, sh, sw, ph, pw, 1, 1, ceilMode, countIncludePad), divisorOverride);

    /// <summary>Transitional.</summary>
    public static void AdaptiveAvgPool2dForward(float[] x, float[] y, int planes, int h, int w, int ho, int wo)
        => AdaptivePoolForward(x, y, planes, new PoolShape(1, h, w, ho, wo));

    /// <summary>Transitional.</summary>
    public static void AdaptiveAvgPool2dBackward(float[] gy, float[]? gx, int planes, int h, int w, int ho, int wo)
        => AdaptivePoolBackward(gy, gx, planes, new PoolShape(1, h, w, ho, wo));

    /// <summary>Transitional.</summary>
    public static void ExtremeDimForward(float[] x, float[] y, int[] index, int outer, int size, int inner, bool max)
    {
        var indices = new long[index.Length];
        ReduceKernel.ArgExtreme(x, y, indices, outer, size, inner, max);
        for (int i = 0; i < index.Length; i++) index[i] = (int)indices[i];
    }

    /// <summary>Transitional.</summary>
    public static void ExtremeDimBackward(float[] gy, int[] index, float[] gx, int outer, int size, int inner)
    {
        var indices = new long[index.Length];
        for (int i = 0; i < index.Length; i++) indices[i] = index[i];
        ReduceKernel.ScatterExtreme(gy, indices, gx, outer, size, inner);
    }
}
