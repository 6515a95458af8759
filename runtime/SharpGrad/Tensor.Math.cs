using SharpGrad.Kernels;

namespace SharpGrad;

public partial class Tensor
{
    // ---------------- raw helpers (no autograd) ----------------

    /// <summary>This tensor if contiguous, else a contiguous copy; never recorded.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal Tensor ContiguousRaw()
    {
        if (IsContiguous) return this;
        var r = Empty(_shape, DType);
        CopyRaw(this, r);
        return r;
    }

    /// <summary>A 0/1 tensor of <paramref name="dtype"/> from a Bool tensor, never recorded.</summary>
    internal static Tensor MaskOf(Tensor condition, DType dtype) => condition.ToRaw(dtype);

    /// <summary>An elementwise map over an integer tensor (Abs, Sign, Clamp, ReLU keep integer dtypes as in PyTorch).</summary>
    private static Tensor MapIntegral(Tensor x, Func<long, long> f)
    {
        var v = x.ToLongArray();
        for (int i = 0; i < v.Length; i++) v[i] = f(v[i]);
        return Wrap(v, (int[])x._shape.Clone()).ToRaw(x.DType);
    }

    /// <summary>Runs an in-place unary op: straight into storage without autograd, else out of place then commit.</summary>
    private Tensor InPlaceUnary<TOp>(string op, Func<Tensor, Tensor> outOfPlace, double a = 0, double b = 0) where TOp : IPointwiseOp
    {
        bool recording = ShouldRecord(this);
        CheckInPlace(op, recording);
        if (!DType.IsFloatingPoint())
        {
            throw new InvalidOperationException($"{op}: the in-place op needs a floating-point tensor, but this one is {DType} (shape {ShapeUtil.Format(_shape)}). Use the out-of-place op or convert with .To(DType.Float32).");
        }
        if (!recording)
        {
            if (IsContiguous) Pointwise.MapInto<TOp>(this, this, a, b);
            else CopyRaw(Pointwise.Map<TOp>(this, a, b), this);
            Storage.Version++;
            return this;
        }
        return CommitInPlace(outOfPlace(this));
    }

    // ---------------- pointwise math: kernels and derivatives in Kernels/PointwiseMath.cs and Kernels/Activations.cs ----------------

    /// <summary>eˣ elementwise (PyTorch: <c>torch.exp</c>).</summary>
    public Tensor Exp() => Pointwise.Apply<ExpOp>(this);

    /// <summary>In-place <see cref="Exp"/> (PyTorch: <c>exp_</c>).</summary>
    public Tensor Exp_() => InPlaceUnary<ExpOp>("Exp_", static t => t.Exp());

    /// <summary>Natural logarithm elementwise (PyTorch: <c>torch.log</c>).</summary>
    public Tensor Log() => Pointwise.Apply<LogOp>(this);

    /// <summary>Square root elementwise (PyTorch: <c>torch.sqrt</c>).</summary>
    public Tensor Sqrt() => Pointwise.Apply<SqrtOp>(this);

    /// <summary>1/√x elementwise (PyTorch: <c>torch.rsqrt</c>).</summary>
    public Tensor Rsqrt() => Pointwise.Apply<RsqrtOp>(this);

    /// <summary>Absolute value elementwise (PyTorch: <c>torch.abs</c>); the gradient at 0 is 0.</summary>
    public Tensor Abs() => DType.IsFloatingPoint() ? Pointwise.Apply<AbsOp>(this) : MapIntegral(this, Math.Abs);

    /// <summary>The sign (-1, 0 or 1) elementwise (PyTorch: <c>torch.sign</c>); its gradient is zero.</summary>
    public Tensor Sign() => DType.IsFloatingPoint() ? Pointwise.Apply<SignOp>(this) : MapIntegral(this, v => Math.Sign(v));

    /// <summary>xᵖ elementwise for a scalar exponent (PyTorch: <c>torch.pow(input, exponent)</c>).</summary>
    public Tensor Pow(double exponent) => Pointwise.Apply<PowScalarOp>(this, exponent);

    /// <summary>
    /// xʸ elementwise with a tensor exponent, broadcasting (PyTorch: <c>torch.pow(input, exponent)</c>); integer operands
    /// give Float32. One kernel (<see cref="PowOp"/>) with eager and compiled code, its derivatives PyTorch's (0 where they
    /// would be 0 · ∞ or 0 · log 0).
    /// </summary>
    public Tensor Pow(Tensor exponent)
    {
        ArgumentNullException.ThrowIfNull(exponent);
        var x = DTypes.Promote(DType, exponent.DType).IsFloatingPoint() ? this : To(DType.Float32);
        return Binary<PowOp>(x, exponent, BinaryKind.Pow);
    }

    /// <summary>
    /// The remainder of each element divided by <paramref name="other"/>, with the sign of the divisor (PyTorch:
    /// <c>torch.remainder(input, other)</c>, Python's <c>%</c>; <c>5 % -3</c> is −1, <c>-5 % 3</c> is 1). The gradient in the
    /// input is 1. An integer tensor and an integral divisor give an integer tensor (dividing by 0 throws, as PyTorch);
    /// otherwise a float tensor, NaN where <paramref name="other"/> is 0.
    /// </summary>
    public Tensor Remainder(double other) => Modulo(other, floored: true);

    /// <summary>
    /// The remainder of each element divided by <paramref name="other"/>, with the sign of the dividend (PyTorch:
    /// <c>torch.fmod(input, other)</c>, C's <c>fmod</c>; <c>5 fmod -3</c> is 2, <c>-5 fmod 3</c> is −2). The gradient in the
    /// input is 1. An integer tensor and an integral divisor give an integer tensor (dividing by 0 throws, as PyTorch);
    /// otherwise a float tensor, NaN where <paramref name="other"/> is 0.
    /// </summary>
    public Tensor Fmod(double other) => Modulo(other, floored: false);

    private Tensor Modulo(double other, bool floored)
    {
        if (!DType.IsFloatingPoint() && DType != DType.Bool)
        {
            if (other == Math.Floor(other) && Math.Abs(other) < 9.2e18)
            {
                long d = (long)other;
                if (d == 0)
                {
                    throw new DivideByZeroException(
                        $"{(floored ? "Remainder" : "Fmod")}: integer division by zero (the {DType} tensor of shape {ShapeUtil.Format(_shape)} divided by 0); divide by a nonzero integer, or convert the tensor with To(DType.Float32) to get NaN as PyTorch does for floats.");
                }
                return MapIntegral(this, v =>
                {
                    long r = d == -1 ? 0 : v % d;
                    return floored && r != 0 && (r < 0) != (d < 0) ? r + d : r;
                });
            }
            return To(DType.Float32).Modulo(other, floored);
        }
        return floored ? Pointwise.Apply<RemainderScalarOp>(this, other) : Pointwise.Apply<FmodScalarOp>(this, other);
    }

    /// <summary>x² elementwise (PyTorch: <c>torch.square</c>).</summary>
    public Tensor Square() => DType.IsFloatingPoint() ? Pow(2) : Mul(this);

    /// <summary>1/x elementwise (PyTorch: <c>torch.reciprocal</c>).</summary>
    public Tensor Reciprocal() => Pointwise.Apply<ReciprocalOp>(this);

    /// <summary>Sine elementwise (PyTorch: <c>torch.sin</c>).</summary>
    public Tensor Sin() => Pointwise.Apply<SinOp>(this);

    /// <summary>Cosine elementwise (PyTorch: <c>torch.cos</c>).</summary>
    public Tensor Cos() => Pointwise.Apply<CosOp>(this);

    /// <summary>log(1 + x), accurate for small x (PyTorch: <c>torch.log1p</c>).</summary>
    public Tensor Log1p() => Pointwise.Apply<Log1pOp>(this);

    /// <summary>eˣ − 1, accurate for small x (PyTorch: <c>torch.expm1</c>).</summary>
    public Tensor Expm1() => Pointwise.Apply<Expm1Op>(this);

    /// <summary>The error function elementwise (PyTorch: <c>torch.erf</c>).</summary>
    public Tensor Erf() => Pointwise.Apply<ErfOp>(this);

    /// <summary>
    /// Clamps every element into [<paramref name="min"/>, <paramref name="max"/>]; either bound may be null (PyTorch: <c>torch.clamp</c>).
    /// The gradient is 1 where min ≤ x ≤ max (boundaries included, like PyTorch) and 0 elsewhere.
    /// </summary>
    public Tensor Clamp(double? min = null, double? max = null)
    {
        if (min is null && max is null)
        {
            throw new ArgumentException("Clamp: at least one of 'min' or 'max' must be given (both were null).");
        }
        if (!DType.IsFloatingPoint())
        {
            long lo = min is { } mn ? (long)Math.Ceiling(mn) : long.MinValue, hi = max is { } mx ? (long)Math.Floor(mx) : long.MaxValue;
            return MapIntegral(this, v => Math.Min(Math.Max(v, lo), hi));
        }
        double a = min ?? double.NaN, b = max ?? double.NaN;
        var r = Pointwise.Map<ClampOp>(this, a, b);
        if (!ShouldRecord(this)) return r;
        // The derivative is taken now (not from a saved input), so Clamp_ (which overwrites the input) still has the right gradient.
        var mask = Pointwise.DerivativeRaw<ClampOp>(this, a, b);
        // where(mask, g, 0) as PyTorch's clamp_backward: a NaN or ±∞ gradient outside the bounds gives 0 (IPointwiseOp.ZeroDerivativeSelects)
        return Record(r, "ClampBackward", [this], (g, n) => [Where(mask.Ne(0.0), g, 0.0)]);
    }

    /// <summary>
    /// Clamps elementwise between tensor bounds that broadcast with this tensor; either may be null (PyTorch:
    /// <c>torch.clamp(input, min=Tensor, max=Tensor)</c>). The gradient goes to the input inside the bounds and to the
    /// bound that was applied elsewhere.
    /// </summary>
    public Tensor Clamp(Tensor? min, Tensor? max)
    {
        if (min is null && max is null)
        {
            throw new ArgumentException("Clamp: at least one of 'min' or 'max' must be given (both were null).");
        }
        var r = this;
        if (min is not null) r = Where(r.Lt(min), min, r);
        if (max is not null) r = Where(r.Gt(max), max, r);
        return r;
    }

    /// <summary>Clamps from below (PyTorch: <c>torch.clamp_min</c>).</summary>
    public Tensor ClampMin(double min) => Clamp(min, null);

    /// <summary>Clamps from above (PyTorch: <c>torch.clamp_max</c>).</summary>
    public Tensor ClampMax(double max) => Clamp(null, max);

    /// <summary>In-place <see cref="Clamp(double?, double?)"/> (PyTorch: <c>clamp_</c>).</summary>
    public Tensor Clamp_(double? min = null, double? max = null)
    {
        if (min is null && max is null) throw new ArgumentException("Clamp_: at least one of 'min' or 'max' must be given (both were null).");
        return InPlaceUnary<ClampOp>("Clamp_", t => t.Clamp(min, max), min ?? double.NaN, max ?? double.NaN);
    }

    /// <summary>max(x, 0) elementwise (PyTorch: <c>torch.relu</c>).</summary>
    public Tensor Relu() => DType.IsFloatingPoint() ? Pointwise.Apply<ReluOp>(this) : MapIntegral(this, v => Math.Max(v, 0));

    /// <summary>In-place <see cref="Relu"/> (PyTorch: <c>relu_</c>).</summary>
    public Tensor Relu_() => InPlaceUnary<ReluOp>("Relu_", static t => t.Relu());

    /// <summary>1 / (1 + e⁻ˣ) elementwise (PyTorch: <c>torch.sigmoid</c>).</summary>
    public Tensor Sigmoid() => Pointwise.Apply<SigmoidOp>(this);

    /// <summary>In-place <see cref="Sigmoid"/> (PyTorch: <c>sigmoid_</c>).</summary>
    public Tensor Sigmoid_() => InPlaceUnary<SigmoidOp>("Sigmoid_", static t => t.Sigmoid());

    /// <summary>Hyperbolic tangent elementwise (PyTorch: <c>torch.tanh</c>).</summary>
    public Tensor Tanh() => Pointwise.Apply<TanhOp>(this);

    /// <summary>In-place <see cref="Tanh"/> (PyTorch: <c>tanh_</c>).</summary>
    public Tensor Tanh_() => InPlaceUnary<TanhOp>("Tanh_", static t => t.Tanh());
}

public partial class Tensor
{
    /// <summary>Softmax along <paramref name="dim"/> (PyTorch: <c>softmax(dim)</c>); see <see cref="Functional.Softmax"/>.</summary>
    public Tensor Softmax(int dim) => Functional.Softmax(this, dim);

    /// <summary>Log-softmax along <paramref name="dim"/> (PyTorch: <c>log_softmax(dim)</c>); see <see cref="Functional.LogSoftmax"/>.</summary>
    public Tensor LogSoftmax(int dim) => Functional.LogSoftmax(this, dim);
}
