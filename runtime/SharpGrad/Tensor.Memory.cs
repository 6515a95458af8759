using SharpGrad.Kernels;

namespace SharpGrad;

public partial class Tensor
{
    /// <summary>
    /// Converts to <paramref name="dtype"/> (PyTorch: <c>to(dtype)</c>). Returns this tensor when the dtype already matches;
    /// conversions between floating-point dtypes are differentiable.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public Tensor To(DType dtype)
    {
        if (dtype == DType) return this;
        var result = ToRaw(dtype);
        if (!ShouldRecord(this) || !dtype.IsFloatingPoint()) return result;
        var from = DType;
        return Record(result, "ToCopyBackward", [this], (g, n) => [g.To(from)]);
    }

    /// <summary>A contiguous copy converted to <paramref name="dtype"/>, without autograd.</summary>
    internal Tensor ToRaw(DType dtype)
    {
        var result = Empty(_shape, dtype);
        CopyConvert(this, result);
        return result;
    }

    /// <summary>Copies src into dst (same shape, any strides), converting dtypes.</summary>
    internal static void CopyConvert(Tensor src, Tensor dst)
    {
        switch (src.Storage)
        {
            case Storage<float> s: CopyFrom(s.Data, src, dst); break;
            case Storage<double> s: CopyFrom(s.Data, src, dst); break;
            case Storage<long> s: CopyFrom(s.Data, src, dst); break;
            case Storage<int> s: CopyFrom(s.Data, src, dst); break;
            case Storage<bool> s: CopyFrom(s.Data, src, dst); break;
            case Storage<byte> s: CopyFrom(s.Data, src, dst); break;
        }

        static void CopyFrom<TIn>(TIn[] data, Tensor src, Tensor dst) where TIn : unmanaged
        {
            var shape = dst._shape;
            var ss = ShapeUtil.BroadcastStrides(src._shape, src._strides, shape);
            switch (dst.Storage)
            {
                case Storage<float> d: Elementwise.Convert(shape, data, src.Offset, ss, d.Data, dst.Offset, dst._strides); break;
                case Storage<double> d: Elementwise.Convert(shape, data, src.Offset, ss, d.Data, dst.Offset, dst._strides); break;
                case Storage<long> d: Elementwise.Convert(shape, data, src.Offset, ss, d.Data, dst.Offset, dst._strides); break;
                case Storage<int> d: Elementwise.Convert(shape, data, src.Offset, ss, d.Data, dst.Offset, dst._strides); break;
                case Storage<bool> d: Elementwise.Convert(shape, data, src.Offset, ss, d.Data, dst.Offset, dst._strides); break;
                case Storage<byte> d: Elementwise.Convert(shape, data, src.Offset, ss, d.Data, dst.Offset, dst._strides); break;
            }
        }
    }

    /// <summary>Copies src into dst (same dtype; src broadcasts to dst's shape), without autograd.</summary>
    internal static void CopyRaw(Tensor src, Tensor dst)
    {
        if (src.DType != dst.DType)
        {
            CopyConvert(src, dst);
            return;
        }
        var shape = dst._shape;
        var ss = ShapeUtil.BroadcastStrides(src._shape, src._strides, shape);
        switch (dst.Storage)
        {
            case Storage<float> d: Elementwise.Copy(shape, src.Data<float>(), src.Offset, ss, d.Data, dst.Offset, dst._strides); break;
            case Storage<double> d: Elementwise.Copy(shape, src.Data<double>(), src.Offset, ss, d.Data, dst.Offset, dst._strides); break;
            case Storage<long> d: Elementwise.Copy(shape, src.Data<long>(), src.Offset, ss, d.Data, dst.Offset, dst._strides); break;
            case Storage<int> d: Elementwise.Copy(shape, src.Data<int>(), src.Offset, ss, d.Data, dst.Offset, dst._strides); break;
            case Storage<bool> d: Elementwise.Copy(shape, src.Data<bool>(), src.Offset, ss, d.Data, dst.Offset, dst._strides); break;
            case Storage<byte> d: Elementwise.Copy(shape, src.Data<byte>(), src.Offset, ss, d.Data, dst.Offset, dst._strides); break;
        }
    }

    /// <summary>A copy with its own storage; differentiable (PyTorch: <c>clone()</c>).</summary>
    public Tensor Clone()
    {
        var result = Empty(_shape, DType);
        CopyRaw(this, result);
        if (!ShouldRecord(this)) return result;
        return Record(result, "CloneBackward", [this], (g, n) => [g]);
    }

    /// <summary>This tensor if it is already contiguous, else a contiguous copy (PyTorch: <c>contiguous()</c>).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public Tensor Contiguous() => IsContiguous ? this : Clone();

    // ---------------- in-place ops ----------------

    /// <summary>
    /// Checks that an in-place op may run on this tensor under the current grad mode (PyTorch's rules), naming the op.
    /// </summary>
    internal void CheckInPlace(string op, bool recording)
    {
        if (!Autograd.IsGradEnabled) return;
        if (ViewBase is { } root && root.IsLeaf && root.RequiresGrad)
        {
            // Whether or not this view records (it may predate the base's RequiresGrad), writing through it would change a leaf.
            throw new InvalidOperationException(
                $"{op}: a view of a leaf tensor that requires grad (the view has shape {ShapeUtil.Format(_shape)}, the leaf {ShapeUtil.Format(root._shape)}) " +
                "is being used in an in-place operation (PyTorch: \"a view of a leaf Variable that requires grad is being used in an in-place operation\"). " +
                "Wrap the update in 'using (Autograd.NoGrad())', or Clone() the view first.");
        }
        if (!recording) return;
        if (IsLeaf && RequiresGrad)
        {
            throw new InvalidOperationException(
                $"{op}: a leaf tensor that requires grad (shape {ShapeUtil.Format(_shape)}) is being used in an in-place operation. " +
                "Wrap the update in 'using (Autograd.NoGrad())' (as optimizers do), or use the out-of-place op.");
        }
        if (ViewBase is { } b && !b.IsContiguous)
        {
            throw new NotSupportedException(
                $"{op}: in-place operations that autograd records on a view of a non-contiguous tensor (shape {ShapeUtil.Format(b._shape)}, strides " +
                $"{ShapeUtil.Format(b._strides)}) are not supported. Use the out-of-place op, or make the base contiguous first.");
        }
    }

    /// <summary>
    /// Finishes an in-place op: writes <paramref name="result"/> (computed out of place) into this tensor, bumps the version,
    /// and moves this tensor's history onto the result's node. On a view, the base's history is rebased instead (PyTorch:
    /// <c>CopySlices</c>): the base becomes "the old base with this region replaced by the result", and this view a view of it.
    /// </summary>
    internal Tensor CommitInPlace(Tensor result)
    {
        CopyRaw(result, this);
        Storage.Version++;
        if (result._gradFn is { } fn)
        {
            if (ViewBase is { } root) RebaseView(root, result);
            else SetGradFn(fn);
        }
        return this;
    }

    private void RebaseView(Tensor root, Tensor result)
    {
        var rootShape = root._shape;
        var shape = _shape;
        var strides = _strides;
        int relative = Offset - root.Offset;
        var copySlices = new Node("CopySlices", [root, result], (g, n) =>
        {
            var gRoot = Empty(rootShape, g.DType);
            CopyRaw(g, gRoot);
            var region = new Tensor(gRoot.Storage, shape, strides, relative);
            Tensor? gResult = null;
            if (n.NeedsInputGrad(1))
            {
                gResult = Empty(shape, g.DType);
                CopyRaw(region, gResult);
            }
            if (!n.NeedsInputGrad(0)) return [null, gResult];
            region.FillUnchecked(0); // the old values there were overwritten: no gradient flows to them
            return [gRoot, gResult];
        }, null);
        root.SetGradFn(copySlices);
        SetGradFn(ViewOfBaseNode(root, shape, strides, Offset));
        SetViewHistory(root);
    }

    /// <summary>Runs an in-place op: fast path (no autograd) straight into storage; otherwise out-of-place then commit.</summary>
    internal Tensor InPlaceBinary(Tensor other, BinaryKind kind, string op, Func<Tensor, Tensor, Tensor> outOfPlace)
    {
        bool recording = ShouldRecord(this, other);
        CheckInPlace(op, recording);
        if (!recording)
        {
            ShapeUtil.CheckBroadcastsTo(other._shape, _shape, op);
            if (!DType.IsFloatingPoint() && other.DType.IsFloatingPoint())
            {
                throw new InvalidOperationException($"{op}: the result of the op is floating-point, which cannot be written in place into a {DType} tensor.");
            }
            BinaryInto(this, other, kind);
            Storage.Version++;
            return this;
        }
        return CommitInPlace(outOfPlace(this, other));
    }

    private static void BinaryInto(Tensor dst, Tensor other, BinaryKind kind) => BinaryInto(dst, dst, other, kind);

    /// <summary>In-place sum (PyTorch: <c>add_</c>).</summary>
    public Tensor Add_(Tensor other) => InPlaceBinary(other, BinaryKind.Add, "Add_", static (a, b) => a.Add(b));
    /// <summary>In-place <c>this += alpha * other</c> (PyTorch: <c>add_(other, alpha=…)</c>).</summary>
    public Tensor Add_(Tensor other, float alpha) => alpha == 1 ? Add_(other) : Add_(other * alpha);
    /// <summary>In-place sum with a scalar (PyTorch: <c>add_</c>).</summary>
    public Tensor Add_(float other) => Add_(ScalarLike(this, other));
    /// <summary>In-place difference (PyTorch: <c>sub_</c>).</summary>
    public Tensor Sub_(Tensor other) => InPlaceBinary(other, BinaryKind.Sub, "Sub_", static (a, b) => a.Sub(b));
    /// <summary>In-place difference with a scalar (PyTorch: <c>sub_</c>).</summary>
    public Tensor Sub_(float other) => Sub_(ScalarLike(this, other));
    /// <summary>In-place product (PyTorch: <c>mul_</c>).</summary>
    public Tensor Mul_(Tensor other) => InPlaceBinary(other, BinaryKind.Mul, "Mul_", static (a, b) => a.Mul(b));
    /// <summary>In-place product with a scalar (PyTorch: <c>mul_</c>).</summary>
    public Tensor Mul_(float other) => Mul_(ScalarLike(this, other));
    /// <summary>In-place quotient (PyTorch: <c>div_</c>).</summary>
    public Tensor Div_(Tensor other) => InPlaceBinary(other, BinaryKind.Div, "Div_", static (a, b) => a.Div(b));
    /// <summary>In-place quotient with a scalar (PyTorch: <c>div_</c>).</summary>
    public Tensor Div_(float other) => Div_(ScalarLike(this, other));

    /// <summary>Fills with zeros (PyTorch: <c>zero_()</c>).</summary>
    public Tensor Zero_() => Fill_(0);

    /// <summary>Fills with <paramref name="value"/> (PyTorch: <c>fill_()</c>).</summary>
    public Tensor Fill_(double value)
    {
        bool recording = ShouldRecord(this);
        CheckInPlace("Fill_", recording);
        FillUnchecked(value);
        Storage.Version++;
        if (recording)
        {
            // The new values do not depend on the old ones.
            var shape = _shape;
            SetGradFn(new Node("FillBackward", [this], (g, n) => [Zeros(shape, g.DType)], null));
        }
        return this;
    }

    /// <summary>Copies <paramref name="src"/> into this tensor (broadcasting, converting dtype) (PyTorch: <c>copy_()</c>).</summary>
    public Tensor Copy_(Tensor src)
    {
        ShapeUtil.CheckBroadcastsTo(src._shape, _shape, "Copy_");
        bool recording = ShouldRecord(this, src);
        CheckInPlace("Copy_", recording);
        if (!recording)
        {
            CopyRaw(src, this);
            Storage.Version++;
            return this;
        }
        var shape = _shape;
        var srcShape = src._shape;
        var self = this;
        var result = Record(src.Expand(shape).ToRaw(DType), "CopyBackward", [self, src], (g, n) => [
            n.NeedsInputGrad(0) ? Zeros(shape, g.DType) : null,
            n.NeedsInputGrad(1) ? g.SumTo(srcShape).To(src.DType) : null]);
        return CommitInPlace(result);
    }

    internal void FillUnchecked(double value)
    {
        switch (Storage)
        {
            case Storage<float> s when IsContiguous: s.Data.AsSpan(Offset, NumElements).Fill((float)value); return;
            case Storage<double> s when IsContiguous: s.Data.AsSpan(Offset, NumElements).Fill(value); return;
            case Storage<long> s when IsContiguous: s.Data.AsSpan(Offset, NumElements).Fill((long)value); return;
            case Storage<int> s when IsContiguous: s.Data.AsSpan(Offset, NumElements).Fill((int)value); return;
            case Storage<byte> s when IsContiguous: s.Data.AsSpan(Offset, NumElements).Fill((byte)value); return;
            case Storage<bool> s when IsContiguous: s.Data.AsSpan(Offset, NumElements).Fill(value != 0); return;
        }
        // A strided view: broadcast a one-element tensor of the value into it (a 0-d tensor is contiguous, so every dtype
        // above ends this recursion).
        CopyRaw(Full([], value, DType), this);
    }

    /// <summary>this += other without any checks (gradient accumulation).</summary>
    internal void AddInPlaceUnchecked(Tensor other)
    {
        BinaryInto(this, this, other, BinaryKind.Add);
        Storage.Version++;
    }
}
