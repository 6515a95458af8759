using System.ComponentModel;
using System.Numerics;

namespace SharpGrad.Kernels;

/// <summary>
/// A loss of an input against a target of its shape, elementwise (MSE, L1, BCE with logits): its per-element value and
/// its partial derivatives, written once over <see cref="IGradAlgebra{TSelf}"/>. Eager <c>Losses</c> and generated code
/// call the same kernels (<see cref="ElementwiseLoss"/>).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IElementwiseLossOp
{
    /// <summary>The name of the loss's catalogue row (<c>Mse</c>).</summary>
    static abstract string Name { get; }

    /// <summary>The loss at one element.</summary>
    static abstract TA Loss<TA>(TA x, TA t) where TA : IGradAlgebra<TA>;

    /// <summary>∂loss/∂x at one element.</summary>
    static abstract TA DerivativeInput<TA>(TA x, TA t) where TA : IGradAlgebra<TA>;

    /// <summary>∂loss/∂t at one element.</summary>
    static abstract TA DerivativeTarget<TA>(TA x, TA t) where TA : IGradAlgebra<TA>;
}

/// <summary>Mean squared error (PyTorch: <c>F.mse_loss</c>): (x − t)².</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct MseLossOp : IElementwiseLossOp
{
    /// <inheritdoc/>
    public static string Name => "Mse";

    /// <inheritdoc/>
    public static TA Loss<TA>(TA x, TA t) where TA : IGradAlgebra<TA>
    {
        var d = x - t;
        return d * d;
    }

    /// <inheritdoc/>
    public static TA DerivativeInput<TA>(TA x, TA t) where TA : IGradAlgebra<TA> => (x - t) * 2.0;

    /// <inheritdoc/>
    public static TA DerivativeTarget<TA>(TA x, TA t) where TA : IGradAlgebra<TA> => (x - t) * -2.0;
}

/// <summary>Mean absolute error (PyTorch: <c>F.l1_loss</c>): |x − t|; the derivative is the sign (0 where x = t).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct L1LossOp : IElementwiseLossOp
{
    /// <inheritdoc/>
    public static string Name => "L1";

    /// <inheritdoc/>
    public static TA Loss<TA>(TA x, TA t) where TA : IGradAlgebra<TA>
    {
        var d = x - t;
        return TA.Sign(d) * d;
    }

    /// <inheritdoc/>
    public static TA DerivativeInput<TA>(TA x, TA t) where TA : IGradAlgebra<TA> => TA.Sign(x - t);

    /// <inheritdoc/>
    public static TA DerivativeTarget<TA>(TA x, TA t) where TA : IGradAlgebra<TA> => -TA.Sign(x - t);
}

/// <summary>
/// Binary cross entropy on logits (PyTorch: <c>F.binary_cross_entropy_with_logits</c>), computed stably: (1 − t)·x +
/// softplus(−x).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct BceWithLogitsLossOp : IElementwiseLossOp
{
    /// <inheritdoc/>
    public static string Name => "BinaryCrossEntropyWithLogits";

    /// <inheritdoc/>
    public static TA Loss<TA>(TA x, TA t) where TA : IGradAlgebra<TA> => ((1.0 - t) * x) + TA.Softplus(-x);

    /// <inheritdoc/>
    public static TA DerivativeInput<TA>(TA x, TA t) where TA : IGradAlgebra<TA>
        => (1.0 - t) - TA.Select(TA.Above(-x, 20), TA.Constant(x, 1), TA.Sigmoid(-x));

    /// <inheritdoc/>
    public static TA DerivativeTarget<TA>(TA x, TA t) where TA : IGradAlgebra<TA> => -x;
}

/// <summary>Runs <see cref="IElementwiseLossOp"/> kernels: on float32 arrays for generated code, on tensors with autograd for eager code.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class ElementwiseLoss
{
    private static double Divisor(string op, Reduction reduction, int count) => reduction switch
    {
        Reduction.Mean => count,
        Reduction.Sum => 1.0,
        _ => throw new ArgumentException($"{op}: compiled code returns a scalar loss, so reduction must be Mean or Sum, but got {reduction}."),
    };

    /// <summary>The target's float32 storage when it has one, else null (then elements are converted one by one).</summary>
    private static float[]? CheckTarget(string op, Tensor target, int count)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (target.NumElements != count)
        {
            throw new ArgumentException($"{op}: the target of shape {ShapeUtil.Format(target._shape)} has {target.NumElements} elements, but the input has {count}; they must have the same shape.");
        }
        if (target.DType is DType.Bool)
        {
            throw new ArgumentException($"{op}: the target must be numeric, but got {target.DType} (shape {ShapeUtil.Format(target._shape)}).");
        }
        return target.Storage is Storage<float> f ? f.Data : null;
    }

    /// <summary>The k-th element of a target (any strides), converted to float32 as eager's <c>To(Float32)</c> does.</summary>
    private static float TargetAt(Tensor t, float[]? f, int k)
    {
        int p = t.IsContiguous ? t.Offset + k : t.ElementOffsetOf(k);
        return f is not null ? f[p] : (float)t.GetAsDouble(p);
    }

    /// <summary>Float32 forward for generated code: the reduced loss of the first <paramref name="count"/> elements.</summary>
    public static float Forward<TOp>(float[] x, Tensor target, int count, Reduction reduction) where TOp : IElementwiseLossOp
    {
        var f = CheckTarget(TOp.Name, target, count);
        double divisor = Divisor(TOp.Name, reduction, count);
        double total = 0;
        for (int i = 0; i < count; i++) total += TOp.Loss(new F32(x[i]), new F32(TargetAt(target, f, i))).Value;
        return (float)(total / divisor);
    }

    /// <summary>Float32 backward for generated code: <paramref name="gx"/> += gLoss · ∂loss/∂x (divided by the count for Mean).</summary>
    public static void Backward<TOp>(float[] x, Tensor target, float gLoss, float[]? gx, int count, Reduction reduction) where TOp : IElementwiseLossOp
    {
        if (gx is null) return;
        var f = CheckTarget(TOp.Name, target, count);
        float g = (float)(gLoss / Divisor(TOp.Name, reduction, count));
        for (int i = 0; i < count; i++) gx[i] += g * TOp.DerivativeInput(new F32(x[i]), new F32(TargetAt(target, f, i))).Value;
    }

    /// <summary>
    /// The eager loss of same-shape, same-dtype floating-point <paramref name="input"/> and <paramref name="target"/>:
    /// elementwise values reduced (None, Mean, Sum), recorded with both partial derivatives.
    /// </summary>
    internal static Tensor Apply<TOp>(Tensor input, Tensor target, Reduction reduction) where TOp : IElementwiseLossOp
    {
        var x = input.ContiguousRaw();
        var t = target.ContiguousRaw();
        int count = x.NumElements;
        var values = Tensor.Empty(x._shape, x.DType);
        if (x.DType == DType.Float32) Values<TOp, float, F32>(x.Span<float>(), t.Span<float>(), values.Span<float>());
        else Values<TOp, double, F64>(x.Span<double>(), t.Span<double>(), values.Span<double>());
        Tensor result = reduction switch
        {
            Reduction.None => values,
            Reduction.Sum => Tensor.Full([], Total(values), x.DType),
            _ => Tensor.Full([], Total(values) / Math.Max(count, 1), x.DType),
        };
        if (!Tensor.ShouldRecord(input, target)) return result;
        double scale = reduction == Reduction.Mean ? 1.0 / Math.Max(count, 1) : 1.0;
        return Tensor.Record(result, TOp.Name + "LossBackward", [input, target], (g, n) =>
        {
            var gs = reduction == Reduction.None ? g : g.Expand(x._shape);
            if (Autograd.IsGradEnabled)
            {
                // Recording the backward (createGraph): the same derivatives over tensors.
                var tx = new TensorAlgebra(input);
                var tt = new TensorAlgebra(target);
                var k = Tensor.ScalarLike(g, scale);
                return [
                    n.NeedsInputGrad(0) ? gs * TOp.DerivativeInput(tx, tt).Value * k : null,
                    n.NeedsInputGrad(1) ? gs * TOp.DerivativeTarget(tx, tt).Value * k : null];
            }
            var gc = gs.To(x.DType).Contiguous();
            Tensor? gx = n.NeedsInputGrad(0) ? Tensor.Empty(x._shape, x.DType) : null;
            Tensor? gt = n.NeedsInputGrad(1) ? Tensor.Empty(x._shape, x.DType) : null;
            if (x.DType == DType.Float32) Gradients<TOp, float, F32>(x.Span<float>(), t.Span<float>(), gc.Span<float>(), gx, gt, (float)scale);
            else Gradients<TOp, double, F64>(x.Span<double>(), t.Span<double>(), gc.Span<double>(), gx, gt, scale);
            return [gx, gt];
        }, input, target);
    }

    private static double Total(Tensor values) => values.DType == DType.Float32
        ? Sum(values.Span<float>())
        : Sum(values.Span<double>());

    private static double Sum<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double total = 0;
        foreach (var v in values) total += double.CreateTruncating(v);
        return total;
    }

    private static void Values<TOp, T, TA>(ReadOnlySpan<T> x, ReadOnlySpan<T> t, Span<T> values)
        where TOp : IElementwiseLossOp
        where T : unmanaged, IFloatingPointIeee754<T>
        where TA : IScalarAlgebra<TA, T>
    {
        for (int i = 0; i < values.Length; i++) values[i] = TOp.Loss(TA.Of(x[i]), TA.Of(t[i])).Value;
    }

    private static void Gradients<TOp, T, TA>(ReadOnlySpan<T> x, ReadOnlySpan<T> t, ReadOnlySpan<T> g, Tensor? gx, Tensor? gt, T scale)
        where TOp : IElementwiseLossOp
        where T : unmanaged, IFloatingPointIeee754<T>
        where TA : IScalarAlgebra<TA, T>
    {
        var dx = gx is null ? Span<T>.Empty : gx.Span<T>();
        var dt = gt is null ? Span<T>.Empty : gt.Span<T>();
        for (int i = 0; i < x.Length; i++)
        {
            var a = TA.Of(x[i]);
            var b = TA.Of(t[i]);
            if (!dx.IsEmpty) dx[i] = g[i] * scale * TOp.DerivativeInput(a, b).Value;
            if (!dt.IsEmpty) dt[i] = g[i] * scale * TOp.DerivativeTarget(a, b).Value;
        }
    }
}
