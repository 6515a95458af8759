using SharpGrad.Kernels;

namespace SharpGrad;

public partial class Tensor
{
    // ---------------- Where / MaskedFill ----------------

    /// <summary>
    /// Picks elements of <paramref name="x"/> where <paramref name="condition"/> is true and of <paramref name="y"/> elsewhere,
    /// broadcasting all three (PyTorch: <c>torch.where(condition, x, y)</c>). The gradient goes to x where true and to y where false.
    /// </summary>
    public static Tensor Where(Tensor condition, Tensor x, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(condition);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (condition.DType is not (DType.Bool or DType.UInt8))
        {
            throw new ArgumentException($"Where: the condition must be a Bool tensor, but got {condition.DType} (shape {ShapeUtil.Format(condition._shape)}). Build it with a comparison such as x.Gt(0).");
        }
        var shape = ShapeUtil.Broadcast(ShapeUtil.Broadcast(condition._shape, x._shape, "Where"), y._shape, "Where");
        var dtype = DTypes.Promote(x.DType, y.DType);
        var result = Empty(shape, dtype);
        CopyRaw(y.DType == dtype ? y : y.ToRaw(dtype), result);
        var xs = Empty(shape, dtype);
        CopyRaw(x.DType == dtype ? x : x.ToRaw(dtype), xs);
        var cs = Empty(shape, DType.Bool);
        CopyConvert(condition, cs);
        var c = cs.Span<bool>();
        switch (dtype)
        {
            case DType.Float32: WhereKernel.Select(c, xs.Span<float>(), result.Span<float>()); break;
            case DType.Float64: WhereKernel.Select(c, xs.Span<double>(), result.Span<double>()); break;
            case DType.Int64: WhereKernel.Select(c, xs.Span<long>(), result.Span<long>()); break;
            case DType.Int32: WhereKernel.Select(c, xs.Span<int>(), result.Span<int>()); break;
            case DType.Bool: WhereKernel.Select(c, xs.Span<bool>(), result.Span<bool>()); break;
            case DType.UInt8: WhereKernel.Select(c, xs.Span<byte>(), result.Span<byte>()); break;
        }
        if (!ShouldRecord(x, y)) return result;
        int[] sx = x._shape, sy = y._shape;
        return Record(result, "WhereBackward", [x, y], (g, n) =>
        {
            var zero = ZerosLike(g);
            return [
                n.NeedsInputGrad(0) ? Where(condition, g, zero).SumTo(sx) : null,
                n.NeedsInputGrad(1) ? Where(condition, zero, g).SumTo(sy) : null];
        }, condition);
    }

    /// <summary><see cref="Where(Tensor, Tensor, Tensor)"/> with a scalar for the false branch.</summary>
    public static Tensor Where(Tensor condition, Tensor x, double y) => Where(condition, x, ScalarLike(x, y));

    /// <summary><see cref="Where(Tensor, Tensor, Tensor)"/> with a scalar for the true branch.</summary>
    public static Tensor Where(Tensor condition, double x, Tensor y) => Where(condition, ScalarLike(y, x), y);

    /// <summary>
    /// A copy with <paramref name="value"/> wherever <paramref name="mask"/> (Bool, broadcastable to this shape) is true
    /// (PyTorch: <c>masked_fill</c>). The gradient flows to the unmasked elements.
    /// </summary>
    public Tensor MaskedFill(Tensor mask, double value)
    {
        ArgumentNullException.ThrowIfNull(mask);
        ShapeUtil.CheckBroadcastsTo(mask._shape, _shape, "MaskedFill (the mask)");
        if (DType is not (DType.Float32 or DType.Float64)) return Where(mask, ScalarLike(this, value), this);
        if (mask.DType is not (DType.Bool or DType.UInt8))
        {
            throw new ArgumentException($"MaskedFill: the mask must be a Bool tensor, but got {mask.DType} (shape {ShapeUtil.Format(mask._shape)}). Build it with a comparison such as x.Gt(0), or Tensor.Ones(t, t).Triu(1).Gt(0) for a causal mask.");
        }
        // The kernel repeats its mask over the input: eager passes the mask expanded to the input's shape.
        var full = Empty(_shape, DType.Bool);
        CopyConvert(mask, full);
        var src = ContiguousRaw();
        var r = Empty(_shape, DType);
        if (DType == DType.Float32) MaskedFillKernel.Forward(src.Span<float>(), full.Span<bool>(), (float)value, r.Span<float>());
        else MaskedFillKernel.Forward(src.Span<double>(), full.Span<bool>(), value, r.Span<double>());
        if (!ShouldRecord(this)) return r;
        return Record(r, "MaskedFillBackward", [this], (g, n) =>
        {
            if (Autograd.IsGradEnabled) return [g.MaskedFill(full, 0)];
            var gc = g.DType == r.DType ? g.ContiguousRaw() : g.ToRaw(r.DType);
            var o = Empty(r._shape, r.DType);
            if (r.DType == DType.Float32) MaskedFillKernel.Backward(full.Span<bool>(), gc.Span<float>(), o.Span<float>(), accumulate: false);
            else MaskedFillKernel.Backward(full.Span<bool>(), gc.Span<double>(), o.Span<double>(), accumulate: false);
            return [o];
        });
    }

    /// <summary>In-place <see cref="MaskedFill"/> (PyTorch: <c>masked_fill_</c>).</summary>
    public Tensor MaskedFill_(Tensor mask, double value)
    {
        ArgumentNullException.ThrowIfNull(mask);
        ShapeUtil.CheckBroadcastsTo(mask._shape, _shape, "MaskedFill_ (the mask)");
        bool recording = ShouldRecord(this);
        CheckInPlace("MaskedFill_", recording);
        if (!recording)
        {
            CopyRaw(Where(mask, ScalarLike(this, value), this), this);
            Storage.Version++;
            return this;
        }
        return CommitInPlace(MaskedFill(mask, value));
    }

    // ---------------- Gather / Scatter ----------------

    // The data path's index methods (IndexSelect, IndexValues, CheckIndex) are compiled optimised at their first call, which in
    // a training loop is inside its first epoch, on the training thread: their error messages and IndexSelect's recording are
    // separate methods, compiled only if ever called, so that the compile of the hot part does not also resolve the string
    // formatting's and the closure's methods (docs/performance.md, "mnist at 2 threads, session 27").

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static Tensor CheckIndex(Tensor index, string op)
    {
        ArgumentNullException.ThrowIfNull(index);
        if (index.DType == DType.Int32) return index.ToRaw(DType.Int64);
        if (index.DType != DType.Int64) ThrowIndexDType(index, op);
        return index.ContiguousRaw();
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void ThrowIndexDType(Tensor index, string op) =>
        throw new ArgumentException($"{op}: the index must be an Int64 tensor, but got {index.DType} (shape {ShapeUtil.Format(index._shape)}). Convert it with .To(DType.Int64).");

    /// <summary>Checks the shape rules shared by Gather and Scatter: same rank; index no larger than the others off dim.</summary>
    private static void CheckGatherShapes(string op, int dim, Tensor self, Tensor index, Tensor? src)
    {
        if (index.Rank != self.Rank && !(self.Rank == 0 && index.Rank <= 1))
        {
            throw new ArgumentException(
                $"{op}: the index must have as many dimensions as the input, but the input has shape {ShapeUtil.Format(self._shape)} " +
                $"and the index has shape {ShapeUtil.Format(index._shape)}. Unsqueeze/expand the index to rank {self.Rank}.");
        }
        for (int d = 0; d < index.Rank && self.Rank > 0; d++)
        {
            if (d != dim && index._shape[d] > self._shape[d])
            {
                throw new ArgumentException(
                    $"{op}: the index of shape {ShapeUtil.Format(index._shape)} is larger than the input of shape {ShapeUtil.Format(self._shape)} " +
                    $"in dimension {d} ({index._shape[d]} > {self._shape[d]}); it may only be larger along dim {dim}.");
            }
            if (src is not null && (src.Rank != index.Rank || index._shape[d] > src._shape[d]))
            {
                throw new ArgumentException(
                    $"{op}: the source of shape {ShapeUtil.Format(src._shape)} must be at least as large as the index of shape {ShapeUtil.Format(index._shape)} in every dimension.");
            }
        }
    }

    /// <summary>
    /// Walks every position of <paramref name="index"/>; calls <paramref name="visit"/> with the index's linear position,
    /// the offset in <paramref name="other"/> at the same position, and the offset in <paramref name="target"/> with
    /// <paramref name="dim"/> replaced by the index value.
    /// </summary>
    private static void WalkIndex(string op, Tensor index, int dim, Tensor target, Tensor? other, Action<int, int, int> visit)
    {
        var idx = index.Data<long>();
        int n = index.NumElements;
        int rank = index.Rank;
        var pos = new int[rank];
        int size = target.Rank == 0 ? 1 : target._shape[dim];
        int tStride = target.Rank == 0 ? 0 : target._strides[dim];
        for (int k = 0; k < n; k++)
        {
            long j = idx[index.Offset + k];
            if (j < -size || j >= size)
            {
                throw new IndexOutOfRangeException($"{op}: index {j} is out of bounds for dimension {dim} with size {size} (input shape {ShapeUtil.Format(target._shape)}).");
            }
            if (j < 0) j += size;
            int tOff = target.Offset, oOff = other?.Offset ?? 0;
            for (int d = 0; d < rank; d++)
            {
                if (d != dim) tOff += pos[d] * target._strides[d];
                if (other is not null) oOff += pos[d] * other._strides[d];
            }
            tOff += (int)j * tStride;
            visit(k, oOff, tOff);
            for (int d = rank - 1; d >= 0; d--)
            {
                if (++pos[d] < index._shape[d]) break;
                pos[d] = 0;
            }
        }
    }

    /// <summary>
    /// Picks values along <paramref name="dim"/> at the positions in <paramref name="index"/> (Int64, same rank as this):
    /// <c>out[i][j][k] = self[i][index[i][j][k]][k]</c> for dim 1 (PyTorch: <c>torch.gather</c>). Backward scatter-adds.
    /// </summary>
    public Tensor Gather(int dim, Tensor index)
    {
        var idx = CheckIndex(index, "Gather");
        int d = NormalizeDim(dim, Rank);
        CheckGatherShapes("Gather", d, this, idx, null);
        var result = Empty(idx._shape, DType);
        switch (DType)
        {
            case DType.Float32: GatherTyped<float>(this, d, idx, result); break;
            case DType.Float64: GatherTyped<double>(this, d, idx, result); break;
            case DType.Int64: GatherTyped<long>(this, d, idx, result); break;
            case DType.Int32: GatherTyped<int>(this, d, idx, result); break;
            case DType.Bool: GatherTyped<bool>(this, d, idx, result); break;
            case DType.UInt8: GatherTyped<byte>(this, d, idx, result); break;
        }
        if (!ShouldRecord(this)) return result;
        var shape = _shape;
        return Record(result, "GatherBackward", [this], (g, n) => [Zeros(shape, g.DType).ScatterAdd(d, idx, g)], idx);

        static void GatherTyped<T>(Tensor x, int dim, Tensor index, Tensor result) where T : unmanaged
        {
            var src = x.Data<T>();
            var dst = result.Data<T>();
            WalkIndex("Gather", index, dim, x, null, (k, _, off) => dst[k] = src[off]);
        }
    }

    /// <summary>
    /// A copy of this tensor with values of <paramref name="src"/> written along <paramref name="dim"/> at the positions in
    /// <paramref name="index"/> (PyTorch: <c>scatter(dim, index, src)</c>). Differentiable in this tensor and in src.
    /// </summary>
    public Tensor Scatter(int dim, Tensor index, Tensor src) => ScatterCore(dim, index, src, accumulate: false, "Scatter");

    /// <summary>A copy with <paramref name="value"/> written at the positions in <paramref name="index"/> (PyTorch: <c>scatter(dim, index, value)</c>).</summary>
    public Tensor Scatter(int dim, Tensor index, double value)
    {
        var idx = CheckIndex(index, "Scatter");
        return ScatterCore(dim, idx, Full(idx._shape, value, DType), accumulate: false, "Scatter");
    }

    /// <summary>
    /// A copy of this tensor with the values of <paramref name="src"/> added along <paramref name="dim"/> at the positions in
    /// <paramref name="index"/>; repeated indices accumulate (PyTorch: <c>scatter_add</c>).
    /// </summary>
    public Tensor ScatterAdd(int dim, Tensor index, Tensor src) => ScatterCore(dim, index, src, accumulate: true, "ScatterAdd");

    private Tensor ScatterCore(int dim, Tensor index, Tensor src, bool accumulate, string op)
    {
        ArgumentNullException.ThrowIfNull(src);
        var idx = CheckIndex(index, op);
        int d = NormalizeDim(dim, Rank);
        CheckGatherShapes(op, d, this, idx, src);
        var result = Empty(_shape, DType);
        CopyRaw(this, result);
        var s = src.DType == DType ? src : src.ToRaw(DType);
        switch (DType)
        {
            case DType.Float32: ScatterTyped<float>(result, d, idx, s, accumulate, op); break;
            case DType.Float64: ScatterTyped<double>(result, d, idx, s, accumulate, op); break;
            case DType.Int64: ScatterTyped<long>(result, d, idx, s, accumulate, op); break;
            case DType.Int32: ScatterTyped<int>(result, d, idx, s, accumulate, op); break;
            default: throw new NotSupportedException($"{op} is not supported for dtype {DType}.");
        }
        if (!ShouldRecord(this, src)) return result;
        int[] srcShape = src._shape;
        return Record(result, accumulate ? "ScatterAddBackward" : "ScatterBackward", [this, src], (g, n) =>
        {
            Tensor? gSelf = null, gSrc = null;
            if (n.NeedsInputGrad(0)) gSelf = accumulate ? g : g.Scatter(d, idx, 0.0);
            if (n.NeedsInputGrad(1))
            {
                gSrc = g.Gather(d, idx);
                if (!ShapeUtil.SameShape(gSrc._shape, srcShape))
                {
                    // src may be larger than the index: only its leading part was read.
                    gSrc = PadTo(gSrc, srcShape);
                }
            }
            return [gSelf, gSrc];
        }, idx);

        static void ScatterTyped<T>(Tensor dst, int dim, Tensor index, Tensor src, bool accumulate, string op) where T : unmanaged, System.Numerics.INumber<T>
        {
            var o = dst.Data<T>();
            var s = src.Data<T>();
            if (accumulate) WalkIndex(op, index, dim, dst, src, (_, sOff, tOff) => o[tOff] += s[sOff]);
            else WalkIndex(op, index, dim, dst, src, (_, sOff, tOff) => o[tOff] = s[sOff]);
        }
    }

    /// <summary>Zero-pads <paramref name="t"/> at the end of each dim up to <paramref name="shape"/>, differentiably (via Cat).</summary>
    private static Tensor PadTo(Tensor t, int[] shape)
    {
        for (int d = 0; d < shape.Length; d++)
        {
            int missing = shape[d] - t._shape[d];
            if (missing <= 0) continue;
            var padShape = (int[])t._shape.Clone();
            padShape[d] = missing;
            t = Cat([t, Zeros(padShape, t.DType)], d);
        }
        return t;
    }

    // ---------------- IndexSelect / IndexAdd ----------------

    /// <summary>A raw (unrecorded) view of slice <paramref name="i"/> along <paramref name="dim"/>.</summary>
    private static Tensor RawSelect(Tensor t, int dim, int i)
    {
        var shape = t._shape.Where((_, k) => k != dim).ToArray();
        var strides = t._strides.Where((_, k) => k != dim).ToArray();
        return new Tensor(t.Storage, shape, strides, t.Offset + i * t._strides[dim]);
    }

    /// <summary>How many rows ahead <see cref="IndexSelect"/> prefetches a gathered row.</summary>
    private const int GatherPrefetchAhead = 2;

    /// <summary>
    /// The fewest bytes per part when <see cref="IndexSelect"/> gathers rows over the worker threads. A shuffled batch's rows
    /// come from a data set beyond the core's caches into fresh memory, so one core's copy is bound by its outstanding misses
    /// (mnist's 64×784 batch: ~45–50 µs per 200 KB in the workload against ~12 µs warm, `count mnist-batch`); two cores
    /// have twice as many in flight.
    /// </summary>
    private const double GatherBytesPerPart = 64 * 1024;

    /// <summary>
    /// Rows [part·n/Parts, (part + 1)·n/Parts) of a row gather (<see cref="IndexSelect"/>): row v[i] of the source (from
    /// element <paramref name="offset"/>, <paramref name="row"/> elements per row) copied to row i of
    /// <paramref name="dest"/>, each row's lines prefetched <see cref="GatherPrefetchAhead"/> rows ahead.
    /// </summary>
    private readonly struct GatherRows(Array source, int offset, int row, int elementSize, long[] v, Array dest, int parts) : Kernels.IParallelBody
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int index)
        {
            var (i0, count) = Kernels.Parallelism.PartRange(v.Length, parts, index);
            long rowBytes = (long)row * elementSize;
            for (int i = i0, i1 = i0 + count; i < i1; i++)
            {
                // The rows are scattered (a shuffled batch from a data set larger than the caches): ask for a later row's
                // lines while this one is copied, so its misses overlap the copy instead of following it.
                if (i + GatherPrefetchAhead < i1) PrefetchBytes(source, (offset + v[i + GatherPrefetchAhead] * row) * elementSize, rowBytes);
                Array.Copy(source, offset + (int)v[i] * row, dest, i * row, row);
            }
        }
    }

    /// <summary>The most bytes of one row <see cref="PrefetchBytes"/> asks for (longer rows: the hardware prefetcher follows the copy).</summary>
    private const long GatherPrefetchMaxBytes = 8192;

    /// <summary>
    /// Prefetches <paramref name="count"/> bytes (at most <see cref="GatherPrefetchMaxBytes"/>) of <paramref name="array"/>'s
    /// data from byte <paramref name="start"/>, one request per 64-byte line. A hint only: a prefetch never faults, so the
    /// array is not pinned (if the GC moved it meanwhile, the hint is wasted, not wrong).
    /// </summary>
    private static unsafe void PrefetchBytes(Array array, long start, long count)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported) return;
        ref byte data = ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(array);
        long end = start + Math.Min(count, GatherPrefetchMaxBytes);
        for (long b = start; b < end; b += 64)
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.CompilerServices.Unsafe.AddByteOffset(ref data, (nint)b)));
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private long[] IndexValues(Tensor index, int dim, string op)
    {
        var idx = CheckIndex(index, op);
        if (idx.Rank > 1) ThrowIndexRank(idx, op);
        // CheckIndex gave a contiguous Int64 tensor: its elements copied (ToLongArray's result, without its conversions)
        var v = idx.Span<long>().ToArray();
        int size = _shape[dim];
        for (int i = 0; i < v.Length; i++)
        {
            if (v[i] < -size || v[i] >= size) ThrowIndexOutOfBounds(v[i], dim, size, op);
            if (v[i] < 0) v[i] += size;
        }
        return v;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void ThrowIndexRank(Tensor idx, string op) =>
        throw new ArgumentException($"{op}: the index must be 1-D (or 0-D), but got shape {ShapeUtil.Format(idx._shape)}. Flatten it first.");

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void ThrowIndexOutOfBounds(long value, int dim, int size, string op) =>
        throw new IndexOutOfRangeException($"{op}: index {value} is out of bounds for dimension {dim} with size {size} (tensor shape {ShapeUtil.Format(_shape)}).");

    /// <summary>
    /// The slices along <paramref name="dim"/> listed in the 1-D Int64 <paramref name="index"/> (PyTorch: <c>index_select</c>).
    /// Backward index-adds the gradient.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public Tensor IndexSelect(int dim, Tensor index)
    {
        if (Rank == 0) throw new ArgumentException("IndexSelect: the input is 0-d; it has no dimension to index.");
        int d = NormalizeDim(dim, Rank);
        var v = IndexValues(index, d, "IndexSelect");
        var shape = (int[])_shape.Clone();
        shape[d] = v.Length;
        bool rows = d == 0 && IsContiguous;
        // Rows of a contiguous tensor overwrite every element of the result: its array is not cleared first.
        var result = rows ? new Tensor(Storage.AllocateUninitialized(DType, ShapeUtil.Count(shape)), shape) : Empty(shape, DType);
        if (rows)
        {
            // Rows of a contiguous tensor (a data loader gathering a shuffled batch): one block copy per index, no views; a
            // large batch by contiguous parts of its rows over the worker threads (GatherBytesPerPart).
            int row = _shape[0] == 0 ? 0 : NumElements / _shape[0];
            int parts = v.Length < 2 ? 1 : Kernels.Parallelism.Parts((double)v.Length * row * DType.ElementSize(), GatherBytesPerPart);
            var gather = new GatherRows(Storage.Array, Offset, row, DType.ElementSize(), v, result.Storage.Array, parts);
            if (parts == 1) gather.Invoke(0);
            else Kernels.Parallelism.For(parts, gather);
        }
        else
        {
            for (int i = 0; i < v.Length; i++) CopyRaw(RawSelect(this, d, (int)v[i]), RawSelect(result, d, i));
        }
        return ShouldRecord(this) ? RecordIndexSelect(result, d, v) : result;
    }

    /// <summary>IndexSelect's autograd record (apart: see CheckIndex's note).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private Tensor RecordIndexSelect(Tensor result, int d, long[] v)
    {
        var selfShape = _shape;
        var idx = Wrap(v, v.Length);
        return Record(result, "IndexSelectBackward", [this], (g, n) => [Zeros(selfShape, g.DType).IndexAdd(d, idx, g)]);
    }

    /// <summary>
    /// A copy of this tensor with the slices of <paramref name="source"/> added at the positions along <paramref name="dim"/>
    /// given by the 1-D <paramref name="index"/>; repeated indices accumulate (PyTorch: <c>index_add</c>).
    /// </summary>
    public Tensor IndexAdd(int dim, Tensor index, Tensor source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (Rank == 0) throw new ArgumentException("IndexAdd: the input is 0-d; it has no dimension to index.");
        int d = NormalizeDim(dim, Rank);
        var v = IndexValues(index, d, "IndexAdd");
        var expected = (int[])_shape.Clone();
        expected[d] = v.Length;
        if (!ShapeUtil.SameShape(expected, source._shape))
        {
            throw new ArgumentException($"IndexAdd: the source must have shape {ShapeUtil.Format(expected)} (the input's shape {ShapeUtil.Format(_shape)} with dim {d} set to the index length {v.Length}), but got {ShapeUtil.Format(source._shape)}.");
        }
        var result = Empty(_shape, DType);
        CopyRaw(this, result);
        var src = source.DType == DType ? source : source.ToRaw(DType);
        for (int i = 0; i < v.Length; i++)
        {
            var dst = RawSelect(result, d, (int)v[i]);
            BinaryInto(dst, dst, RawSelect(src, d, i), BinaryKind.Add);
        }
        if (!ShouldRecord(this, source)) return result;
        var idx = Wrap(v, v.Length);
        return Record(result, "IndexAddBackward", [this, source], (g, n) => [
            n.NeedsInputGrad(0) ? g : null,
            n.NeedsInputGrad(1) ? g.IndexSelect(d, idx) : null]);
    }
}
