using System.Numerics;
using SharpGrad.Kernels;

namespace SharpGrad;

/// <summary>The binary arithmetic ops the dtype dispatcher knows.</summary>
internal enum BinaryKind { Add, Sub, Mul, Div, Maximum, Minimum, Prelu, Pow }

/// <summary>The comparison ops; each produces a Bool tensor.</summary>
internal enum CompareKind { Eq, Ne, Lt, Le, Gt, Ge }

public partial class Tensor
{
    // ---------------- raw kernels (no autograd) ----------------

    /// <summary>Applies a binary op with broadcasting, without recording; the result is contiguous.</summary>
    internal static Tensor BinaryRaw(Tensor a, Tensor b, BinaryKind op)
    {
        var dtype = DTypes.Promote(a.DType, b.DType);
        if (dtype is DType.Bool or DType.UInt8) dtype = DType.Int64;
        if (a.DType != dtype) a = a.ToRaw(dtype);
        if (b.DType != dtype) b = b.ToRaw(dtype);
        var shape = ShapeUtil.Broadcast(a._shape, b._shape, op.ToString());
        var result = Empty(shape, dtype);
        BinaryInto(result, a, b, op);
        return result;
    }

    /// <summary>dst = op(a, b), where a and b broadcast to dst's shape; dst may be strided (in-place ops).</summary>
    internal static void BinaryInto(Tensor dst, Tensor a, Tensor b, BinaryKind op)
    {
        switch (dst.DType)
        {
            case DType.Float32: BinaryTyped<float>(dst, a, b, op); break;
            case DType.Float64: BinaryTyped<double>(dst, a, b, op); break;
            case DType.Int64: BinaryTyped<long>(dst, a, b, op); break;
            case DType.Int32: BinaryTyped<int>(dst, a, b, op); break;
            default: throw new NotSupportedException($"{op} is not supported for dtype {dst.DType}; convert with .To(DType.Float32) first.");
        }
    }

    private static void BinaryTyped<T>(Tensor dst, Tensor a, Tensor b, BinaryKind op) where T : unmanaged, INumber<T>
    {
        if (a.DType != dst.DType) a = a.ToRaw(dst.DType);
        if (b.DType != dst.DType) b = b.ToRaw(dst.DType);
        var shape = dst._shape;
        var sa = ShapeUtil.BroadcastStrides(a._shape, a._strides, shape);
        var sb = ShapeUtil.BroadcastStrides(b._shape, b._strides, shape);
        T[] ad = a.Data<T>(), bd = b.Data<T>(), od = dst.Data<T>();
        var os = dst._strides;
        switch (op)
        {
            case BinaryKind.Add: AddOp.Forward(shape, ad, a.Offset, sa, bd, b.Offset, sb, od, dst.Offset, os); break;
            case BinaryKind.Sub: SubOp.Forward(shape, ad, a.Offset, sa, bd, b.Offset, sb, od, dst.Offset, os); break;
            case BinaryKind.Mul: MulOp.Forward(shape, ad, a.Offset, sa, bd, b.Offset, sb, od, dst.Offset, os); break;
            case BinaryKind.Div: DivOp.Forward(shape, ad, a.Offset, sa, bd, b.Offset, sb, od, dst.Offset, os); break;
            case BinaryKind.Maximum: MaximumOp.Forward(shape, ad, a.Offset, sa, bd, b.Offset, sb, od, dst.Offset, os); break;
            case BinaryKind.Minimum: MinimumOp.Forward(shape, ad, a.Offset, sa, bd, b.Offset, sb, od, dst.Offset, os); break;
            case BinaryKind.Prelu: PreluOp.Forward(shape, ad, a.Offset, sa, bd, b.Offset, sb, od, dst.Offset, os); break;
            case BinaryKind.Pow: PowOp.Forward(shape, ad, a.Offset, sa, bd, b.Offset, sb, od, dst.Offset, os); break;
        }
    }

    internal static Tensor CompareRaw(Tensor a, Tensor b, CompareKind op)
    {
        var dtype = DTypes.Promote(a.DType, b.DType);
        if (dtype is DType.Bool or DType.UInt8) dtype = DType.Int64;
        if (a.DType != dtype) a = a.ToRaw(dtype);
        if (b.DType != dtype) b = b.ToRaw(dtype);
        var shape = ShapeUtil.Broadcast(a._shape, b._shape, op.ToString());
        var result = Empty(shape, DType.Bool);
        switch (dtype)
        {
            case DType.Float32: CompareTyped<float>(result, a, b, op); break;
            case DType.Float64: CompareTyped<double>(result, a, b, op); break;
            case DType.Int64: CompareTyped<long>(result, a, b, op); break;
            case DType.Int32: CompareTyped<int>(result, a, b, op); break;
        }
        return result;
    }

    private static void CompareTyped<T>(Tensor result, Tensor a, Tensor b, CompareKind op) where T : unmanaged, INumber<T>
    {
        var shape = result._shape;
        var sa = ShapeUtil.BroadcastStrides(a._shape, a._strides, shape);
        var sb = ShapeUtil.BroadcastStrides(b._shape, b._strides, shape);
        T[] ad = a.Data<T>(), bd = b.Data<T>();
        var od = result.Data<bool>();
        switch (op)
        {
            case CompareKind.Eq: Elementwise.Compare<T, EqOp<T>>(shape, ad, a.Offset, sa, bd, b.Offset, sb, od); break;
            case CompareKind.Ne: Elementwise.Compare<T, NeOp<T>>(shape, ad, a.Offset, sa, bd, b.Offset, sb, od); break;
            case CompareKind.Lt: Elementwise.Compare<T, LtOp<T>>(shape, ad, a.Offset, sa, bd, b.Offset, sb, od); break;
            case CompareKind.Le: Elementwise.Compare<T, LeOp<T>>(shape, ad, a.Offset, sa, bd, b.Offset, sb, od); break;
            case CompareKind.Gt: Elementwise.Compare<T, GtOp<T>>(shape, ad, a.Offset, sa, bd, b.Offset, sb, od); break;
            case CompareKind.Ge: Elementwise.Compare<T, GeOp<T>>(shape, ad, a.Offset, sa, bd, b.Offset, sb, od); break;
        }
    }

    /// <summary>A 0-d tensor holding <paramref name="value"/> in a dtype suitable for an op with <paramref name="like"/>.</summary>
    internal static Tensor ScalarLike(Tensor like, double value)
    {
        var dtype = like.DType;
        if (!dtype.IsFloatingPoint() && value != Math.Floor(value)) dtype = DType.Float32;
        if (dtype is DType.Bool or DType.UInt8) dtype = DType.Int64;
        return Full([], value, dtype);
    }

    // ---------------- differentiable arithmetic ----------------

    /// <summary>
    /// A differentiable binary op with broadcasting: the forward kernel of <typeparamref name="TOp"/>, and a backward that
    /// applies its partial derivatives (one fused pass; over tensors when the backward is itself recorded) and sums each
    /// gradient back to its operand's shape. Operands the derivatives read are saved.
    /// </summary>
    internal static Tensor Binary<TOp>(Tensor a, Tensor b, BinaryKind kind) where TOp : IBinaryPointwiseOp
    {
        var result = BinaryRaw(a, b, kind);
        if (!ShouldRecord(a, b)) return result;
        bool constant = TOp.ConstantA is not null && TOp.ConstantB is not null;
        return Record(result, TOp.Name + "Backward", [a, b], (g, n) => BinaryBackward<TOp>(g, a, b, n.NeedsInputGrad(0), n.NeedsInputGrad(1)),
            constant ? [] : [a, b]);
    }

    private static Tensor?[] BinaryBackward<TOp>(Tensor g, Tensor a, Tensor b, bool needA, bool needB) where TOp : IBinaryPointwiseOp
    {
        int[] sa = a._shape, sb = b._shape;
        Tensor? ga = null, gb = null;
        if (needA && TOp.ConstantA is { } ca) ga = (ca == 1 ? g : g * ScalarLike(g, ca)).SumTo(sa);
        if (needB && TOp.ConstantB is { } cb) gb = (cb == 1 ? g : g * ScalarLike(g, cb)).SumTo(sb);
        needA &= ga is null;
        needB &= gb is null;
        if (!needA && !needB) return [ga, gb];
        if (Autograd.IsGradEnabled || !g.DType.IsFloatingPoint())
        {
            // Recording the backward (createGraph): the same derivatives over tensors, differentiable again.
            var ta = new TensorAlgebra(a);
            var tb = new TensorAlgebra(b);
            if (needA) ga = (g * TOp.DerivativeA(ta, tb).Value).SumTo(sa);
            if (needB) gb = (g * TOp.DerivativeB(ta, tb).Value).SumTo(sb);
            return [ga, gb];
        }
        var dtype = g.DType;
        var gaFull = needA ? Zeros(sa, dtype) : null;
        var gbFull = needB ? Zeros(sb, dtype) : null;
        if (dtype == DType.Float32)
        {
            Kernels.Broadcast.Backward<TOp, float, F32>(Functional.DenseAs<float>(a, dtype), sa, Functional.DenseAs<float>(b, dtype), sb,
                Functional.DenseAs<float>(g, dtype), g._shape, gaFull?.Data<float>(), gbFull?.Data<float>());
        }
        else
        {
            Kernels.Broadcast.Backward<TOp, double, F64>(Functional.DenseAs<double>(a, dtype), sa, Functional.DenseAs<double>(b, dtype), sb,
                Functional.DenseAs<double>(g, dtype), g._shape, gaFull?.Data<double>(), gbFull?.Data<double>());
        }
        return [ga ?? gaFull, gb ?? gbFull];
    }

    /// <summary>Elementwise sum with broadcasting (PyTorch: <c>torch.add</c>, <c>a + b</c>).</summary>
    public Tensor Add(Tensor other) => Binary<AddOp>(this, other, BinaryKind.Add);

    /// <summary>this + alpha * other (PyTorch: <c>torch.add(input, other, alpha=…)</c>).</summary>
    public Tensor Add(Tensor other, float alpha) => alpha == 1 ? Add(other) : Add(other * alpha);

    /// <summary>Elementwise difference with broadcasting (PyTorch: <c>torch.sub</c>, <c>a - b</c>).</summary>
    public Tensor Sub(Tensor other) => Binary<SubOp>(this, other, BinaryKind.Sub);

    /// <summary>Elementwise product with broadcasting (PyTorch: <c>torch.mul</c>, <c>a * b</c>).</summary>
    public Tensor Mul(Tensor other) => Binary<MulOp>(this, other, BinaryKind.Mul);

    /// <summary>Elementwise quotient with broadcasting (PyTorch: <c>torch.div</c>, <c>a / b</c>).</summary>
    public Tensor Div(Tensor other)
    {
        var a = this;
        var b = other;
        if (!a.DType.IsFloatingPoint() && !b.DType.IsFloatingPoint())
        {
            // PyTorch's true division: integers divide as floats.
            a = a.To(DType.Float32);
            b = b.To(DType.Float32);
        }
        return Binary<DivOp>(a, b, BinaryKind.Div);
    }

    /// <summary>Elementwise negation (PyTorch: <c>torch.neg</c>, <c>-a</c>).</summary>
    public Tensor Neg() => DType.IsFloatingPoint() ? Pointwise.Apply<NegOp>(this) : BinaryRaw(ScalarLike(this, 0), this, BinaryKind.Sub);

    /// <summary>Elementwise maximum of two tensors (PyTorch: <c>torch.maximum</c>); the gradient goes to the larger (split evenly on ties).</summary>
    public Tensor Maximum(Tensor other) => Binary<MaximumOp>(this, other, BinaryKind.Maximum);

    /// <summary>Elementwise minimum of two tensors (PyTorch: <c>torch.minimum</c>).</summary>
    public Tensor Minimum(Tensor other) => Binary<MinimumOp>(this, other, BinaryKind.Minimum);

    /// <summary>Sums a broadcast gradient back down to <paramref name="shape"/> (the reverse of broadcasting).</summary>
    internal Tensor SumTo(int[] shape)
    {
        if (ShapeUtil.SameShape(_shape, shape)) return this;
        int lead = Rank - shape.Length;
        var dims = new List<int>();
        for (int i = 0; i < Rank; i++)
        {
            if (i < lead) dims.Add(i);
            else if (shape[i - lead] == 1 && _shape[i] != 1) dims.Add(i);
        }
        var r = dims.Count == 0 ? this : Sum(dims.ToArray(), keepDim: true);
        return r.Reshape(shape);
    }

    // ---------------- comparisons (not differentiable) ----------------

    /// <summary>Elementwise <c>==</c> as a Bool tensor (PyTorch: <c>torch.eq</c>).</summary>
    public Tensor Eq(Tensor other) => CompareRaw(this, other, CompareKind.Eq);
    /// <summary>Elementwise <c>==</c> with a scalar (PyTorch: <c>torch.eq</c>).</summary>
    public Tensor Eq(double other) => CompareRaw(this, ScalarLike(this, other), CompareKind.Eq);
    /// <summary>Elementwise <c>!=</c> (PyTorch: <c>torch.ne</c>).</summary>
    public Tensor Ne(Tensor other) => CompareRaw(this, other, CompareKind.Ne);
    /// <summary>Elementwise <c>!=</c> with a scalar (PyTorch: <c>torch.ne</c>).</summary>
    public Tensor Ne(double other) => CompareRaw(this, ScalarLike(this, other), CompareKind.Ne);
    /// <summary>Elementwise <c>&lt;</c> (PyTorch: <c>torch.lt</c>).</summary>
    public Tensor Lt(Tensor other) => CompareRaw(this, other, CompareKind.Lt);
    /// <summary>Elementwise <c>&lt;</c> with a scalar (PyTorch: <c>torch.lt</c>).</summary>
    public Tensor Lt(double other) => CompareRaw(this, ScalarLike(this, other), CompareKind.Lt);
    /// <summary>Elementwise <c>&lt;=</c> (PyTorch: <c>torch.le</c>).</summary>
    public Tensor Le(Tensor other) => CompareRaw(this, other, CompareKind.Le);
    /// <summary>Elementwise <c>&lt;=</c> with a scalar (PyTorch: <c>torch.le</c>).</summary>
    public Tensor Le(double other) => CompareRaw(this, ScalarLike(this, other), CompareKind.Le);
    /// <summary>Elementwise <c>&gt;</c> (PyTorch: <c>torch.gt</c>).</summary>
    public Tensor Gt(Tensor other) => CompareRaw(this, other, CompareKind.Gt);
    /// <summary>Elementwise <c>&gt;</c> with a scalar (PyTorch: <c>torch.gt</c>).</summary>
    public Tensor Gt(double other) => CompareRaw(this, ScalarLike(this, other), CompareKind.Gt);
    /// <summary>Elementwise <c>&gt;=</c> (PyTorch: <c>torch.ge</c>).</summary>
    public Tensor Ge(Tensor other) => CompareRaw(this, other, CompareKind.Ge);
    /// <summary>Elementwise <c>&gt;=</c> with a scalar (PyTorch: <c>torch.ge</c>).</summary>
    public Tensor Ge(double other) => CompareRaw(this, ScalarLike(this, other), CompareKind.Ge);

    // ---------------- operators ----------------

    /// <summary>Elementwise sum (PyTorch: <c>a + b</c>).</summary>
    public static Tensor operator +(Tensor a, Tensor b) => a.Add(b);
    /// <summary>Adds a scalar.</summary>
    public static Tensor operator +(Tensor a, float b) => a.Add(ScalarLike(a, b));
    /// <summary>Adds a scalar.</summary>
    public static Tensor operator +(float a, Tensor b) => ScalarLike(b, a).Add(b);
    /// <summary>Elementwise difference (PyTorch: <c>a - b</c>).</summary>
    public static Tensor operator -(Tensor a, Tensor b) => a.Sub(b);
    /// <summary>Subtracts a scalar.</summary>
    public static Tensor operator -(Tensor a, float b) => a.Sub(ScalarLike(a, b));
    /// <summary>Subtracts from a scalar.</summary>
    public static Tensor operator -(float a, Tensor b) => ScalarLike(b, a).Sub(b);
    /// <summary>Elementwise product (PyTorch: <c>a * b</c>).</summary>
    public static Tensor operator *(Tensor a, Tensor b) => a.Mul(b);
    /// <summary>Multiplies by a scalar.</summary>
    public static Tensor operator *(Tensor a, float b) => a.Mul(ScalarLike(a, b));
    /// <summary>Multiplies by a scalar.</summary>
    public static Tensor operator *(float a, Tensor b) => ScalarLike(b, a).Mul(b);
    /// <summary>Elementwise quotient (PyTorch: <c>a / b</c>).</summary>
    public static Tensor operator /(Tensor a, Tensor b) => a.Div(b);
    /// <summary>Divides by a scalar.</summary>
    public static Tensor operator /(Tensor a, float b) => a.Div(ScalarLike(a, b));
    /// <summary>Divides a scalar.</summary>
    public static Tensor operator /(float a, Tensor b) => ScalarLike(b, a).Div(b);
    /// <summary>The remainder with the sign of the divisor (PyTorch and Python: <c>a % b</c>, <c>torch.remainder</c>); see <see cref="Remainder(double)"/>.</summary>
    public static Tensor operator %(Tensor a, double b) => a.Remainder(b);
    /// <summary>Negation (PyTorch: <c>-a</c>).</summary>
    public static Tensor operator -(Tensor a) => a.Neg();
}
