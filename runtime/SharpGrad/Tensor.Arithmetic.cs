using System.Numerics;
using SharpGrad.Kernels;

namespace SharpGrad;

/// <summary>The binary arithmetic ops the dtype dispatcher knows.</summary>
internal enum BinaryKind { Add, Sub, Mul, Div, Maximum, Minimum }

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
        switch (op)
        {
            case BinaryKind.Add: Elementwise.Binary<T, AddOp<T>>(shape, ad, a.Offset, sa, bd, b.Offset, sb, od, dst.Offset, dst._strides); break;
            case BinaryKind.Sub: Elementwise.Binary<T, SubOp<T>>(shape, ad, a.Offset, sa, bd, b.Offset, sb, od, dst.Offset, dst._strides); break;
            case BinaryKind.Mul: Elementwise.Binary<T, MulOp<T>>(shape, ad, a.Offset, sa, bd, b.Offset, sb, od, dst.Offset, dst._strides); break;
            case BinaryKind.Div: Elementwise.Binary<T, DivOp<T>>(shape, ad, a.Offset, sa, bd, b.Offset, sb, od, dst.Offset, dst._strides); break;
            case BinaryKind.Maximum: Elementwise.Binary<T, MaximumOp<T>>(shape, ad, a.Offset, sa, bd, b.Offset, sb, od, dst.Offset, dst._strides); break;
            case BinaryKind.Minimum: Elementwise.Binary<T, MinimumOp<T>>(shape, ad, a.Offset, sa, bd, b.Offset, sb, od, dst.Offset, dst._strides); break;
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

    /// <summary>Elementwise sum with broadcasting (PyTorch: <c>torch.add</c>, <c>a + b</c>).</summary>
    public Tensor Add(Tensor other)
    {
        var a = this;
        var b = other;
        var result = BinaryRaw(a, b, BinaryKind.Add);
        if (!ShouldRecord(a, b)) return result;
        int[] sa = a._shape, sb = b._shape;
        return Record(result, "AddBackward", [a, b], (g, n) => [
            n.NeedsInputGrad(0) ? g.SumTo(sa) : null,
            n.NeedsInputGrad(1) ? g.SumTo(sb) : null]);
    }

    /// <summary>this + alpha * other (PyTorch: <c>torch.add(input, other, alpha=…)</c>).</summary>
    public Tensor Add(Tensor other, float alpha) => alpha == 1 ? Add(other) : Add(other * alpha);

    /// <summary>Elementwise difference with broadcasting (PyTorch: <c>torch.sub</c>, <c>a - b</c>).</summary>
    public Tensor Sub(Tensor other)
    {
        var a = this;
        var b = other;
        var result = BinaryRaw(a, b, BinaryKind.Sub);
        if (!ShouldRecord(a, b)) return result;
        int[] sa = a._shape, sb = b._shape;
        return Record(result, "SubBackward", [a, b], (g, n) => [
            n.NeedsInputGrad(0) ? g.SumTo(sa) : null,
            n.NeedsInputGrad(1) ? (-g).SumTo(sb) : null]);
    }

    /// <summary>Elementwise product with broadcasting (PyTorch: <c>torch.mul</c>, <c>a * b</c>).</summary>
    public Tensor Mul(Tensor other)
    {
        var a = this;
        var b = other;
        var result = BinaryRaw(a, b, BinaryKind.Mul);
        if (!ShouldRecord(a, b)) return result;
        int[] sa = a._shape, sb = b._shape;
        return Record(result, "MulBackward", [a, b], (g, n) => [
            n.NeedsInputGrad(0) ? (g * b).SumTo(sa) : null,
            n.NeedsInputGrad(1) ? (g * a).SumTo(sb) : null], a, b);
    }

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
        var result = BinaryRaw(a, b, BinaryKind.Div);
        if (!ShouldRecord(a, b)) return result;
        int[] sa = a._shape, sb = b._shape;
        return Record(result, "DivBackward", [a, b], (g, n) => [
            n.NeedsInputGrad(0) ? (g / b).SumTo(sa) : null,
            n.NeedsInputGrad(1) ? (-g * a / (b * b)).SumTo(sb) : null], a, b);
    }

    /// <summary>Elementwise negation (PyTorch: <c>torch.neg</c>, <c>-a</c>).</summary>
    public Tensor Neg()
    {
        var result = BinaryRaw(ScalarLike(this, 0), this, BinaryKind.Sub);
        if (!ShouldRecord(this)) return result;
        return Record(result, "NegBackward", [this], (g, n) => [-g]);
    }

    /// <summary>Elementwise maximum of two tensors (PyTorch: <c>torch.maximum</c>); the gradient goes to the larger (split evenly on ties).</summary>
    public Tensor Maximum(Tensor other) => MinMaxBinary(other, BinaryKind.Maximum, "MaximumBackward");

    /// <summary>Elementwise minimum of two tensors (PyTorch: <c>torch.minimum</c>).</summary>
    public Tensor Minimum(Tensor other) => MinMaxBinary(other, BinaryKind.Minimum, "MinimumBackward");

    private Tensor MinMaxBinary(Tensor other, BinaryKind kind, string name)
    {
        var a = this;
        var b = other;
        var result = BinaryRaw(a, b, kind);
        if (!ShouldRecord(a, b)) return result;
        int[] sa = a._shape, sb = b._shape;
        return Record(result, name, [a, b], (g, n) =>
        {
            var aWins = kind == BinaryKind.Maximum ? CompareRaw(a, b, CompareKind.Gt) : CompareRaw(a, b, CompareKind.Lt);
            var tie = CompareRaw(a, b, CompareKind.Eq);
            var wa = aWins.To(g.DType) + tie.To(g.DType) * 0.5f;
            var wb = 1f - wa;
            return [
                n.NeedsInputGrad(0) ? (g * wa).SumTo(sa) : null,
                n.NeedsInputGrad(1) ? (g * wb).SumTo(sb) : null];
        }, a, b);
    }

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
    /// <summary>Negation (PyTorch: <c>-a</c>).</summary>
    public static Tensor operator -(Tensor a) => a.Neg();
}
