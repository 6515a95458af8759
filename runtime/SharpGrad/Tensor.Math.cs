using SharpGrad.Kernels;

namespace SharpGrad;

public partial class Tensor
{
    // ---------------- raw helpers (no autograd) ----------------

    /// <summary>This tensor if contiguous, else a contiguous copy; never recorded.</summary>
    internal Tensor ContiguousRaw()
    {
        if (IsContiguous) return this;
        var r = Empty(_shape, DType);
        CopyRaw(this, r);
        return r;
    }

    /// <summary>Applies a floating-point map elementwise (integer inputs are converted to Float32 first, like PyTorch).</summary>
    internal static Tensor MapRaw<TOp>(Tensor x, double a = 0, double b = 0) where TOp : IFloatMap
    {
        if (!x.DType.IsFloatingPoint()) x = x.ToRaw(DType.Float32);
        var src = x.ContiguousRaw();
        var result = Empty(x._shape, x.DType);
        MapInto<TOp>(src, result, a, b);
        return result;
    }

    /// <summary>dst = map(src) for two contiguous floating-point tensors of the same dtype (they may be the same tensor).</summary>
    internal static void MapInto<TOp>(Tensor src, Tensor dst, double a, double b) where TOp : IFloatMap
    {
        if (dst.DType == DType.Float32) TOp.Apply<float>(src.Span<float>(), dst.Span<float>(), a, b);
        else TOp.Apply<double>(src.Span<double>(), dst.Span<double>(), a, b);
    }

    /// <summary>
    /// Fused backward o = f(g, saved) in one pass (no autograd). Callers use it only when grad mode is off, i.e. when the
    /// backward is not itself being recorded for a higher-order derivative.
    /// </summary>
    internal static Tensor GradMapRaw<TOp>(Tensor g, Tensor saved, double a = 0, double b = 0) where TOp : IGradMap
    {
        var gc = g.DType == saved.DType ? g.ContiguousRaw() : g.ToRaw(saved.DType);
        var sc = saved.ContiguousRaw();
        if (!ShapeUtil.SameShape(gc._shape, sc._shape))
        {
            var e = Empty(sc._shape, sc.DType);
            CopyRaw(gc, e);
            gc = e;
        }
        var o = Empty(sc._shape, sc.DType);
        if (o.DType == DType.Float32) TOp.Apply<float>(gc.Span<float>(), sc.Span<float>(), o.Span<float>(), a, b);
        else TOp.Apply<double>(gc.Span<double>(), sc.Span<double>(), o.Span<double>(), a, b);
        return o;
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
    private Tensor InPlaceUnary<TOp>(string op, Func<Tensor, Tensor> outOfPlace, double a = 0, double b = 0) where TOp : IFloatMap
    {
        bool recording = ShouldRecord(this);
        CheckInPlace(op, recording);
        if (!DType.IsFloatingPoint())
        {
            throw new InvalidOperationException($"{op}: the in-place op needs a floating-point tensor, but this one is {DType} (shape {ShapeUtil.Format(_shape)}). Use the out-of-place op or convert with .To(DType.Float32).");
        }
        if (!recording)
        {
            if (IsContiguous) MapInto<TOp>(this, this, a, b);
            else CopyRaw(MapRaw<TOp>(this, a, b), this);
            Storage.Version++;
            return this;
        }
        return CommitInPlace(outOfPlace(this));
    }

    // ---------------- pointwise math ----------------

    /// <summary>eˣ elementwise (PyTorch: <c>torch.exp</c>).</summary>
    public Tensor Exp()
    {
        var r = MapRaw<ExpMap>(this);
        if (!ShouldRecord(this)) return r;
        return Record(r, "ExpBackward", [this], (g, n) => [g * r], r);
    }

    /// <summary>In-place <see cref="Exp"/> (PyTorch: <c>exp_</c>).</summary>
    public Tensor Exp_() => InPlaceUnary<ExpMap>("Exp_", static t => t.Exp());

    /// <summary>Natural logarithm elementwise (PyTorch: <c>torch.log</c>).</summary>
    public Tensor Log()
    {
        var r = MapRaw<LogMap>(this);
        if (!ShouldRecord(this)) return r;
        var x = this;
        return Record(r, "LogBackward", [x], (g, n) => [g / x], x);
    }

    /// <summary>Square root elementwise (PyTorch: <c>torch.sqrt</c>).</summary>
    public Tensor Sqrt()
    {
        var r = MapRaw<SqrtMap>(this);
        if (!ShouldRecord(this)) return r;
        return Record(r, "SqrtBackward", [this], (g, n) => [g / (r * 2f)], r);
    }

    /// <summary>1/√x elementwise (PyTorch: <c>torch.rsqrt</c>).</summary>
    public Tensor Rsqrt()
    {
        var r = MapRaw<RsqrtMap>(this);
        if (!ShouldRecord(this)) return r;
        return Record(r, "RsqrtBackward", [this], (g, n) => [g * (r * r * r) * -0.5f], r);
    }

    /// <summary>Absolute value elementwise (PyTorch: <c>torch.abs</c>); the gradient at 0 is 0.</summary>
    public Tensor Abs()
    {
        if (!DType.IsFloatingPoint()) return MapIntegral(this, Math.Abs);
        var r = MapRaw<AbsMap>(this);
        if (!ShouldRecord(this)) return r;
        var x = this;
        return Record(r, "AbsBackward", [x], (g, n) => [g * x.Sign()], x);
    }

    /// <summary>The sign (-1, 0 or 1) elementwise (PyTorch: <c>torch.sign</c>); its gradient is zero.</summary>
    public Tensor Sign()
    {
        if (!DType.IsFloatingPoint()) return MapIntegral(this, v => Math.Sign(v));
        var r = MapRaw<SignMap>(this);
        if (!ShouldRecord(this)) return r;
        return Record(r, "SignBackward", [this], (g, n) => [ZerosLike(g)]);
    }

    /// <summary>xᵖ elementwise for a scalar exponent (PyTorch: <c>torch.pow(input, exponent)</c>).</summary>
    public Tensor Pow(double exponent)
    {
        var r = MapRaw<PowScalarMap>(this, exponent);
        if (!ShouldRecord(this)) return r;
        var x = this;
        return Record(r, "PowBackward", [x], (g, n) => [
            exponent == 0 ? ZerosLike(g) : g * x.Pow(exponent - 1).Mul(ScalarLike(g, exponent))], x);
    }

    /// <summary>xʸ elementwise with a tensor exponent, broadcasting (PyTorch: <c>torch.pow(input, exponent)</c>).</summary>
    public Tensor Pow(Tensor exponent)
    {
        ArgumentNullException.ThrowIfNull(exponent);
        var x = this;
        var e = exponent;
        var dtype = DTypes.Promote(x.DType, e.DType);
        if (!dtype.IsFloatingPoint()) dtype = DType.Float32;
        var shape = ShapeUtil.Broadcast(x._shape, e._shape, "Pow");
        var xs = Empty(shape, dtype);
        var es = Empty(shape, dtype);
        CopyRaw(x, xs);
        CopyRaw(e, es);
        var r = Empty(shape, dtype);
        if (dtype == DType.Float32) System.Numerics.Tensors.TensorPrimitives.Pow<float>(xs.Span<float>(), es.Span<float>(), r.Span<float>());
        else System.Numerics.Tensors.TensorPrimitives.Pow<double>(xs.Span<double>(), es.Span<double>(), r.Span<double>());
        if (!ShouldRecord(x, e)) return r;
        int[] sx = x._shape, se = e._shape;
        return Record(r, "PowBackward", [x, e], (g, n) =>
        {
            Tensor? gx = null, ge = null;
            if (n.NeedsInputGrad(0)) gx = (g * e * x.Pow(e - 1f)).SumTo(sx);
            if (n.NeedsInputGrad(1))
            {
                // PyTorch: the gradient is 0 where the base is 0 and the exponent is non-negative (instead of NaN from log 0).
                var zeroBase = x.Eq(0.0);
                var full = g * r * x.Log();
                ge = Where(zeroBase.Expand(full._shape), ZerosLike(full), full).SumTo(se);
            }
            return [gx, ge];
        }, x, e, r);
    }

    /// <summary>x² elementwise (PyTorch: <c>torch.square</c>).</summary>
    public Tensor Square() => DType.IsFloatingPoint() ? Pow(2) : Mul(this);

    /// <summary>1/x elementwise (PyTorch: <c>torch.reciprocal</c>).</summary>
    public Tensor Reciprocal()
    {
        var r = MapRaw<ReciprocalMap>(this);
        if (!ShouldRecord(this)) return r;
        return Record(r, "ReciprocalBackward", [this], (g, n) => [-g * r * r], r);
    }

    /// <summary>Sine elementwise (PyTorch: <c>torch.sin</c>).</summary>
    public Tensor Sin()
    {
        var r = MapRaw<SinMap>(this);
        if (!ShouldRecord(this)) return r;
        var x = this;
        return Record(r, "SinBackward", [x], (g, n) => [g * x.Cos()], x);
    }

    /// <summary>Cosine elementwise (PyTorch: <c>torch.cos</c>).</summary>
    public Tensor Cos()
    {
        var r = MapRaw<CosMap>(this);
        if (!ShouldRecord(this)) return r;
        var x = this;
        return Record(r, "CosBackward", [x], (g, n) => [-g * x.Sin()], x);
    }

    /// <summary>log(1 + x), accurate for small x (PyTorch: <c>torch.log1p</c>).</summary>
    public Tensor Log1p()
    {
        var r = MapRaw<Log1pMap>(this);
        if (!ShouldRecord(this)) return r;
        var x = this;
        return Record(r, "Log1pBackward", [x], (g, n) => [g / (x + 1f)], x);
    }

    /// <summary>eˣ − 1, accurate for small x (PyTorch: <c>torch.expm1</c>).</summary>
    public Tensor Expm1()
    {
        var r = MapRaw<Expm1Map>(this);
        if (!ShouldRecord(this)) return r;
        return Record(r, "Expm1Backward", [this], (g, n) => [g * (r + 1f)], r);
    }

    /// <summary>The error function elementwise (PyTorch: <c>torch.erf</c>).</summary>
    public Tensor Erf()
    {
        var r = MapRaw<ErfMap>(this);
        if (!ShouldRecord(this)) return r;
        var x = this;
        // d/dx erf(x) = 2/sqrt(pi) · exp(-x²)
        return Record(r, "ErfBackward", [x], (g, n) => [g * (x * x * -1f).Exp().Mul(ScalarLike(g, 1.1283791670955126))], x);
    }

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
        var r = MapRaw<ClampMap>(this, min ?? double.NaN, max ?? double.NaN);
        if (!ShouldRecord(this)) return r;
        // The mask is taken now, so Clamp_ (which overwrites the input) still has the right gradient.
        var mask = ClampMask(this, min, max, inclusive: true);
        return Record(r, "ClampBackward", [this], (g, n) => [g * mask]);
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
        return InPlaceUnary<ClampMap>("Clamp_", t => t.Clamp(min, max), min ?? double.NaN, max ?? double.NaN);
    }

    /// <summary>1 where x lies within the bounds (inclusive or strict), else 0, in x's dtype; never recorded.</summary>
    internal static Tensor ClampMask(Tensor x, double? min, double? max, bool inclusive)
    {
        Tensor? mask = null;
        if (min is { } lo) mask = MaskOf(inclusive ? x.Ge(lo) : x.Gt(lo), x.DType);
        if (max is { } hi)
        {
            var m2 = MaskOf(inclusive ? x.Le(hi) : x.Lt(hi), x.DType);
            mask = mask is null ? m2 : BinaryRaw(mask, m2, BinaryKind.Mul);
        }
        return mask!;
    }

    /// <summary>max(x, 0) elementwise (PyTorch: <c>torch.relu</c>).</summary>
    public Tensor Relu()
    {
        if (!DType.IsFloatingPoint()) return MapIntegral(this, v => Math.Max(v, 0));
        var r = MapRaw<ReluMap>(this);
        if (!ShouldRecord(this)) return r;
        return Record(r, "ReluBackward", [this], (g, n) => [Autograd.IsGradEnabled ? g * MaskOf(r.Gt(0.0), g.DType) : GradMapRaw<ReluGrad>(g, r)], r);
    }

    /// <summary>In-place <see cref="Relu"/> (PyTorch: <c>relu_</c>).</summary>
    public Tensor Relu_() => InPlaceUnary<ReluMap>("Relu_", static t => t.Relu());

    /// <summary>1 / (1 + e⁻ˣ) elementwise (PyTorch: <c>torch.sigmoid</c>).</summary>
    public Tensor Sigmoid()
    {
        var r = MapRaw<SigmoidMap>(this);
        if (!ShouldRecord(this)) return r;
        return Record(r, "SigmoidBackward", [this], (g, n) => [Autograd.IsGradEnabled ? g * r * (1f - r) : GradMapRaw<SigmoidGrad>(g, r)], r);
    }

    /// <summary>In-place <see cref="Sigmoid"/> (PyTorch: <c>sigmoid_</c>).</summary>
    public Tensor Sigmoid_() => InPlaceUnary<SigmoidMap>("Sigmoid_", static t => t.Sigmoid());

    /// <summary>Hyperbolic tangent elementwise (PyTorch: <c>torch.tanh</c>).</summary>
    public Tensor Tanh()
    {
        var r = MapRaw<TanhMap>(this);
        if (!ShouldRecord(this)) return r;
        return Record(r, "TanhBackward", [this], (g, n) => [Autograd.IsGradEnabled ? g * (1f - r * r) : GradMapRaw<TanhGrad>(g, r)], r);
    }

    /// <summary>In-place <see cref="Tanh"/> (PyTorch: <c>tanh_</c>).</summary>
    public Tensor Tanh_() => InPlaceUnary<TanhMap>("Tanh_", static t => t.Tanh());
}

public partial class Tensor
{
    /// <summary>Softmax along <paramref name="dim"/> (PyTorch: <c>softmax(dim)</c>); see <see cref="Functional.Softmax"/>.</summary>
    public Tensor Softmax(int dim) => Functional.Softmax(this, dim);

    /// <summary>Log-softmax along <paramref name="dim"/> (PyTorch: <c>log_softmax(dim)</c>); see <see cref="Functional.LogSoftmax"/>.</summary>
    public Tensor LogSoftmax(int dim) => Functional.LogSoftmax(this, dim);
}
