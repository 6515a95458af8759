using System.Numerics;

namespace SharpGrad;

public partial class Tensor
{
    // ---------------- helpers ----------------

    /// <summary>
    /// The elements of <paramref name="x"/> arranged as contiguous rows along <paramref name="dim"/> (that dim moved last),
    /// with the row count and length and the shape with <paramref name="dim"/> kept as size 1. Never recorded.
    /// </summary>
    internal static (Tensor Rows, int Outer, int Length, int[] Kept) RowsAlong(Tensor x, int dim)
    {
        var kept = (int[])x._shape.Clone();
        if (x.Rank == 0) return (x.ContiguousRaw(), 1, 1, kept);
        kept[dim] = 1;
        int rank = x.Rank;
        var shape = new int[rank];
        var strides = new int[rank];
        int k = 0;
        for (int d = 0; d < rank; d++)
        {
            if (d == dim) continue;
            shape[k] = x._shape[d];
            strides[k++] = x._strides[d];
        }
        shape[k] = x._shape[dim];
        strides[k] = x._strides[dim];
        var rows = new Tensor(x.Storage, shape, strides, x.Offset).ContiguousRaw();
        return (rows, ShapeUtil.Count(kept), x._shape[dim], kept);
    }

    /// <summary>Values and Int64 indices of the max/min along dim, kept as size 1; no autograd.</summary>
    private static (Tensor Values, Tensor Indices) ArgExtremeRaw(Tensor x, int dim, bool max, string op)
    {
        var kept = (int[])x._shape.Clone();
        if (x.Rank > 0) kept[dim] = 1;
        var (outer, n, inner) = Functional.Split(x._shape, dim);
        if (n == 0)
        {
            throw new ArgumentException($"{op}: cannot reduce over dimension {dim} of size 0 (tensor shape {ShapeUtil.Format(x._shape)}); the operation has no identity.");
        }
        var dtype = x.DType is DType.Bool or DType.UInt8 ? DType.Int64 : x.DType;
        var src = x.DType == dtype ? x.ContiguousRaw() : x.ToRaw(dtype);
        var values = Empty(kept, dtype);
        var indices = Empty(kept, DType.Int64);
        var idx = indices.Span<long>();
        switch (dtype)
        {
            case DType.Float32: Kernels.ReduceKernel.ArgExtreme(src.Span<float>(), values.Span<float>(), idx, outer, n, inner, max); break;
            case DType.Float64: Kernels.ReduceKernel.ArgExtreme(src.Span<double>(), values.Span<double>(), idx, outer, n, inner, max); break;
            case DType.Int64: Kernels.ReduceKernel.ArgExtreme(src.Span<long>(), values.Span<long>(), idx, outer, n, inner, max); break;
            case DType.Int32: Kernels.ReduceKernel.ArgExtreme(src.Span<int>(), values.Span<int>(), idx, outer, n, inner, max); break;
            default: throw new NotSupportedException($"{op} is not supported for dtype {dtype}.");
        }
        return (values, indices);
    }

    // ---------------- Max / Min ----------------

    /// <summary>
    /// The largest element, as a 0-d tensor (PyTorch: <c>max()</c>). The gradient is split evenly between all
    /// elements equal to the maximum, like PyTorch's.
    /// </summary>
    public Tensor Max() => ExtremeAll(max: true);

    /// <summary>The smallest element, as a 0-d tensor (PyTorch: <c>min()</c>); the gradient is split evenly among ties.</summary>
    public Tensor Min() => ExtremeAll(max: false);

    private Tensor ExtremeAll(bool max)
    {
        string op = max ? "Max" : "Min";
        if (NumElements == 0)
        {
            throw new ArgumentException($"{op}(): the tensor of shape {ShapeUtil.Format(_shape)} is empty; there is no {op.ToLowerInvariant()}imum. Use Amax/Amin with dims over non-empty dimensions.");
        }
        var all = Enumerable.Range(0, Rank).ToArray();
        var src = DType is DType.Bool or DType.UInt8 ? ToRaw(DType.Int64) : this;
        var r = ReduceRaw(src, all, max ? ReduceKind.Max : ReduceKind.Min).Reshape([]);
        if (DType is DType.Bool or DType.UInt8) r = r.ToRaw(DType);
        if (!ShouldRecord(this)) return r;
        var x = this;
        return Record(r, max ? "MaxBackward" : "MinBackward", [x], (g, n) =>
        {
            if (!Autograd.IsGradEnabled && g.DType is DType.Float32 or DType.Float64 && x.DType == g.DType)
            {
                // Split evenly among the ties by the kernel compiled programs call too.
                var xc = x.ContiguousRaw();
                var gc = g.ContiguousRaw();
                var gx = Zeros(x._shape, g.DType);
                if (g.DType == DType.Float32) Kernels.ReduceKernel.SpreadExtremeAll(xc.Span<float>(), r.Span<float>()[0], gc.Span<float>()[0], gx.Span<float>());
                else Kernels.ReduceKernel.SpreadExtremeAll(xc.Span<double>(), r.Span<double>()[0], gc.Span<double>()[0], gx.Span<double>());
                return [gx];
            }
            var mask = MaskOf(x.Eq(r), g.DType);
            var count = mask.Sum();
            return [g * BinaryRaw(mask, count, BinaryKind.Div)];
        }, x, r);
    }

    /// <summary>
    /// The maximum along <paramref name="dim"/> and its index (PyTorch: <c>max(dim, keepdim)</c>). Values are differentiable
    /// (the gradient goes to the selected index); Indices are Int64 and not differentiable. On ties the first index wins.
    /// </summary>
    public (Tensor Values, Tensor Indices) Max(int dim, bool keepDim = false) => ExtremeDim(dim, keepDim, max: true);

    /// <summary>The minimum along <paramref name="dim"/> and its index (PyTorch: <c>min(dim, keepdim)</c>).</summary>
    public (Tensor Values, Tensor Indices) Min(int dim, bool keepDim = false) => ExtremeDim(dim, keepDim, max: false);

    private (Tensor Values, Tensor Indices) ExtremeDim(int dim, bool keepDim, bool max)
    {
        string op = max ? "Max" : "Min";
        int d = NormalizeDim(dim, Rank);
        var (values, indices) = ArgExtremeRaw(this, d, max, op);
        var keptIndices = indices;
        if (!keepDim && Rank > 0)
        {
            var outShape = DropDims(_shape, [d]);
            values = values.Reshape(outShape);
            indices = indices.Reshape(outShape);
        }
        if (!ShouldRecord(this)) return (values, indices);
        var shape = _shape;
        int rank = Rank;
        values = Record(values, max ? "MaxBackward" : "MinBackward", [this], (g, n) =>
        {
            var gk = keepDim || rank == 0 ? g : g.Unsqueeze(d);
            if (Autograd.IsGradEnabled || !g.DType.IsFloatingPoint()) return [Zeros(shape, g.DType).Scatter(d, keptIndices, gk)];
            // The gradient to the positions of the extremes, by the kernel compiled programs call too.
            var (outer, size, inner) = Functional.Split(shape, rank == 0 ? 0 : d);
            var gx = Zeros(shape, g.DType);
            var gc = gk.ContiguousRaw();
            if (g.DType == DType.Float32) Kernels.ReduceKernel.ScatterExtreme(gc.Span<float>(), keptIndices.Span<long>(), gx.Span<float>(), outer, size, inner);
            else Kernels.ReduceKernel.ScatterExtreme(gc.Span<double>(), keptIndices.Span<long>(), gx.Span<double>(), outer, size, inner);
            return [gx];
        }, keptIndices);
        return (values, indices);
    }

    /// <summary>
    /// The index of the maximum along <paramref name="dim"/>, or of the flattened tensor when <paramref name="dim"/> is null
    /// (PyTorch: <c>argmax</c>). Int64, first index on ties.
    /// </summary>
    public Tensor ArgMax(int? dim = null, bool keepDim = false) => ArgExtreme(dim, keepDim, max: true);

    /// <summary>The index of the minimum (PyTorch: <c>argmin</c>); see <see cref="ArgMax"/>.</summary>
    public Tensor ArgMin(int? dim = null, bool keepDim = false) => ArgExtreme(dim, keepDim, max: false);

    private Tensor ArgExtreme(int? dim, bool keepDim, bool max)
    {
        string op = max ? "ArgMax" : "ArgMin";
        if (dim is null)
        {
            var c = ContiguousRaw();
            var flat = new Tensor(c.Storage, [NumElements], [1], c.Offset);
            var (_, idx) = ArgExtremeRaw(flat, 0, max, op);
            return keepDim ? idx.Reshape(Enumerable.Repeat(1, Rank).ToArray()) : idx.Reshape([]);
        }
        int d = NormalizeDim(dim.Value, Rank);
        var (_, indices) = ArgExtremeRaw(this, d, max, op);
        return keepDim || Rank == 0 ? indices : indices.Reshape(DropDims(_shape, [d]));
    }

    /// <summary>
    /// The maximum over <paramref name="dims"/> (PyTorch: <c>amax</c>); the gradient is split evenly among tied maxima.
    /// </summary>
    public Tensor Amax(int[] dims, bool keepDim = false) => AExtreme(dims, keepDim, max: true);

    /// <summary>The maximum over one dimension (PyTorch: <c>amax</c>).</summary>
    public Tensor Amax(int dim, bool keepDim = false) => AExtreme([dim], keepDim, max: true);

    /// <summary>The minimum over <paramref name="dims"/> (PyTorch: <c>amin</c>); the gradient is split evenly among ties.</summary>
    public Tensor Amin(int[] dims, bool keepDim = false) => AExtreme(dims, keepDim, max: false);

    /// <summary>The minimum over one dimension (PyTorch: <c>amin</c>).</summary>
    public Tensor Amin(int dim, bool keepDim = false) => AExtreme([dim], keepDim, max: false);

    private Tensor AExtreme(int[] dims, bool keepDim, bool max)
    {
        string op = max ? "Amax" : "Amin";
        var (reduced, keptShape) = NormalizeReduceDims(dims.Length == 0 ? Enumerable.Range(0, Rank).ToArray() : dims);
        foreach (var d in reduced)
        {
            if (_shape[d] == 0) throw new ArgumentException($"{op}: cannot reduce over dimension {d} of size 0 (tensor shape {ShapeUtil.Format(_shape)}).");
        }
        var src = DType is DType.Bool or DType.UInt8 ? ToRaw(DType.Int64) : this;
        var kept = ReduceRaw(src, reduced, max ? ReduceKind.Max : ReduceKind.Min);
        var r = keepDim ? kept : kept.Reshape(DropDims(_shape, reduced));
        if (!ShouldRecord(this)) return r;
        var x = this;
        return Record(r, max ? "AmaxBackward" : "AminBackward", [x], (g, n) =>
        {
            var mask = MaskOf(x.Eq(kept), g.DType);
            var count = ReduceRaw(mask, reduced, ReduceKind.Sum);
            return [g.Reshape(keptShape) * BinaryRaw(mask, count, BinaryKind.Div)];
        }, x, kept);
    }

    // ---------------- Var / Std ----------------

    /// <summary>
    /// The variance over <paramref name="dims"/> (all elements when null) with Bessel's <paramref name="correction"/>
    /// (1 = unbiased, PyTorch's default) (PyTorch: <c>var(dim, correction=…, keepdim)</c>).
    /// </summary>
    public Tensor Var(int[]? dims = null, double correction = 1, bool keepDim = false) => Variance(dims, correction, keepDim, std: false);

    /// <summary>
    /// Var or Std over <paramref name="dims"/> by <see cref="Kernels.VarianceKernel"/> (the kernel compiled programs call):
    /// the reduced dims moved last when they are not adjacent.
    /// </summary>
    private Tensor Variance(int[]? dims, double correction, bool keepDim, bool std)
    {
        string op = std ? "Std" : "Var";
        RequireFloat(op);
        var reduceDims = dims is null || dims.Length == 0 ? Enumerable.Range(0, Rank).ToArray() : dims;
        var (reduced, keptShape) = NormalizeReduceDims(reduceDims);
        var shape = _shape;
        int rank = Rank;
        bool adjacent = reduced.Length == 0 || reduced[reduced.Length - 1] - reduced[0] == reduced.Length - 1;
        var order = adjacent ? null : Enumerable.Range(0, rank).Where(d => Array.IndexOf(reduced, d) < 0).Concat(reduced).ToArray();
        int size = 1, inner = 1, outer = 1;
        foreach (var d in reduced) size *= shape[d];
        if (adjacent && reduced.Length > 0) for (int d = reduced[reduced.Length - 1] + 1; d < rank; d++) inner *= shape[d];
        outer = size == 0 ? 0 : NumElements / Math.Max(1, size * inner);
        var x = order is null ? ContiguousRaw() : Detach().Permute(order).ContiguousRaw();
        var result = Empty(keptShape, DType);
        if (DType == DType.Float32) Kernels.VarianceKernel.Forward(x.Span<float>(), result.Span<float>(), outer, size, inner, correction, std);
        else Kernels.VarianceKernel.Forward(x.Span<double>(), result.Span<double>(), outer, size, inner, correction, std);
        var r = keepDim ? result : result.Reshape(DropDims(shape, reduced));
        if (!ShouldRecord(this)) return r;
        var self = this;
        return Record(r, std ? "StdBackward" : "VarBackward", [this], (g, n) =>
        {
            var gk = g.Reshape(keptShape);
            double denominator = Math.Max(0, size - correction);
            if (Autograd.IsGradEnabled)
            {
                // Differentiable again (a gradient of the gradient): the same derivative from tensor ops.
                var diff = self - self.Mean(reduceDims, keepDim: true);
                var gv = std ? gk / (self.Std(reduceDims, correction, keepDim: true) * (float)denominator) : gk * (float)(2 / denominator);
                return [diff * gv];
            }
            var gc = gk.ContiguousRaw();
            var gx = Zeros(order is null ? shape : order.Select(d => shape[d]).ToArray(), g.DType);
            if (g.DType == DType.Float32) Kernels.VarianceKernel.Backward(x.Span<float>(), result.Span<float>(), gc.Span<float>(), gx.Span<float>(), outer, size, inner, correction, std);
            else Kernels.VarianceKernel.Backward(x.Span<double>(), result.Span<double>(), gc.Span<double>(), gx.Span<double>(), outer, size, inner, correction, std);
            if (order is null) return [gx];
            var inverse = new int[rank];
            for (int k = 0; k < rank; k++) inverse[order[k]] = k;
            return [gx.Permute(inverse).Contiguous()];
        }, x, result);
    }

    /// <summary>The variance over one dimension (PyTorch: <c>var(dim, unbiased, keepdim)</c>).</summary>
    public Tensor Var(int dim, bool unbiased = true, bool keepDim = false) => Var([dim], unbiased ? 1 : 0, keepDim);

    /// <summary>The variance of all elements (PyTorch: <c>var(unbiased)</c>).</summary>
    public Tensor Var(bool unbiased) => Var(null, unbiased ? 1 : 0);

    /// <summary>The standard deviation over <paramref name="dims"/> (PyTorch: <c>std(dim, correction=…, keepdim)</c>).</summary>
    public Tensor Std(int[]? dims = null, double correction = 1, bool keepDim = false) => Variance(dims, correction, keepDim, std: true);

    /// <summary>The standard deviation over one dimension (PyTorch: <c>std(dim, unbiased, keepdim)</c>).</summary>
    public Tensor Std(int dim, bool unbiased = true, bool keepDim = false) => Std([dim], unbiased ? 1 : 0, keepDim);

    /// <summary>The standard deviation of all elements (PyTorch: <c>std(unbiased)</c>).</summary>
    public Tensor Std(bool unbiased) => Std(null, unbiased ? 1 : 0);

    // ---------------- LogSumExp ----------------

    /// <summary>log(Σ exp(x)) over <paramref name="dim"/>, computed stably (PyTorch: <c>logsumexp(dim, keepdim)</c>).</summary>
    public Tensor LogSumExp(int dim, bool keepDim = false) => LogSumExp([dim], keepDim);

    /// <summary>log(Σ exp(x)) over several dims, computed stably (PyTorch: <c>logsumexp(dims, keepdim)</c>).</summary>
    public Tensor LogSumExp(int[] dims, bool keepDim = false)
    {
        RequireFloat("LogSumExp");
        var (reduced, keptShape) = NormalizeReduceDims(dims);
        var kept = LogSumExpRaw(this, reduced);
        var r = keepDim ? kept : kept.Reshape(DropDims(_shape, reduced));
        if (!ShouldRecord(this)) return r;
        var x = this;
        return Record(r, "LogsumexpBackward", [x], (g, n) => [g.Reshape(keptShape) * (x - r.Reshape(keptShape)).Exp()], x, r);
    }

    /// <summary>Stable log-sum-exp over the (normalized) dims, kept as size 1; no autograd.</summary>
    internal static Tensor LogSumExpRaw(Tensor x, int[] reduced)
    {
        var m = ReduceRaw(x, reduced, ReduceKind.Max);
        // An infinite max would give inf - inf = NaN: shift by 0 there instead (PyTorch does the same).
        var finite = MaskOf(m.Abs().Lt(double.PositiveInfinity), m.DType);
        m = Where(finite.Gt(0.0), m, ZerosLike(m));
        var e = Kernels.Pointwise.Map<Kernels.ExpOp>(BinaryRaw(x, m, BinaryKind.Sub));
        var s = ReduceRaw(e, reduced, ReduceKind.Sum);
        return BinaryRaw(Kernels.Pointwise.Map<Kernels.LogOp>(s), m, BinaryKind.Add);
    }
}

public partial class Tensor
{
    // ---------------- Prod ----------------

    /// <summary>The product of all elements, as a 0-d tensor (PyTorch: <c>prod()</c>). The gradient handles zeros exactly.</summary>
    public Tensor Prod()
    {
        var flat = Rank == 1 ? this : Reshape(NumElements);
        return flat.Prod(0);
    }

    /// <summary>The product over <paramref name="dim"/> (PyTorch: <c>prod(dim, keepdim)</c>). The gradient handles zeros exactly.</summary>
    public Tensor Prod(int dim, bool keepDim = false)
    {
        RequireFloat("Prod");
        int d = NormalizeDim(dim, Rank);
        var (rows, outer, n, kept) = RowsAlong(this, d);
        var keptResult = Empty(kept, DType);
        // exclusive[i] = Π_{j≠i} x_j per row, from prefix and suffix products (exact with zeros).
        var exclusiveRows = Empty(rows._shape, DType);
        if (DType == DType.Float32) ProdRows(rows.Span<float>(), keptResult.Span<float>(), exclusiveRows.Span<float>(), outer, n);
        else ProdRows(rows.Span<double>(), keptResult.Span<double>(), exclusiveRows.Span<double>(), outer, n);
        var r = keepDim || Rank == 0 ? keptResult : keptResult.Reshape(DropDims(_shape, [d]));
        if (!ShouldRecord(this)) return r;
        // Undo the "dim last" layout of the exclusive products.
        var inverse = new int[Rank];
        {
            var order = Enumerable.Range(0, Rank).Where(k => k != d).Append(d).ToArray();
            for (int k = 0; k < Rank; k++) inverse[order[k]] = k;
        }
        Tensor exclusive;
        using (Autograd.NoGrad()) exclusive = Rank == 0 ? exclusiveRows : exclusiveRows.Permute(inverse).Contiguous();
        var keptShape = kept;
        return Record(r, "ProdBackward", [this], (g, n) => [g.Reshape(keptShape) * exclusive]);
    }

    private static void ProdRows<T>(ReadOnlySpan<T> src, Span<T> dst, Span<T> exclusive, int outer, int n)
        where T : unmanaged, INumber<T>
    {
        for (int o = 0; o < outer; o++)
        {
            var row = src.Slice(o * n, n);
            var ex = exclusive.Slice(o * n, n);
            T acc = T.One;
            for (int i = 0; i < n; i++)
            {
                ex[i] = acc;
                acc *= row[i];
            }
            dst[o] = acc;
            T suffix = T.One;
            for (int i = n - 1; i >= 0; i--)
            {
                ex[i] *= suffix;
                suffix *= row[i];
            }
        }
    }
}
