using System.Numerics;
using System.Numerics.Tensors;
using SharpGrad.Kernels;

namespace SharpGrad;

public partial class Tensor
{
    /// <summary>The sum of all elements, as a 0-d tensor (PyTorch: <c>sum()</c>).</summary>
    public Tensor Sum()
    {
        var x = Contiguous();
        var result = DType switch
        {
            DType.Float32 => Scalar(TensorPrimitives.Sum<float>(x.Span<float>())),
            DType.Float64 => Scalar(TensorPrimitives.Sum<double>(x.Span<double>())),
            _ => Full([], SumIntegral(x), DType.Int64),
        };
        if (!ShouldRecord(this)) return result;
        var shape = _shape;
        return Record(result, "SumBackward", [this], (g, n) => [g.Expand(shape)]);
    }

    private static double SumIntegral(Tensor x)
    {
        var v = x.ToLongArray();
        long s = 0;
        foreach (var e in v) s += e;
        return s;
    }

    /// <summary>Sums over one dimension (PyTorch: <c>sum(dim, keepdim)</c>).</summary>
    public Tensor Sum(int dim, bool keepDim = false) => Sum([dim], keepDim);

    /// <summary>Sums over several dimensions (PyTorch: <c>sum(dims, keepdim)</c>).</summary>
    public Tensor Sum(int[] dims, bool keepDim = false)
    {
        var (reduced, keptShape) = NormalizeReduceDims(dims);
        var src = DType.IsFloatingPoint() ? this : To(DType.Int64);
        var result = SumRange(src, reduced, keptShape) ?? ReduceRaw(src, reduced, ReduceKind.Sum);
        if (!keepDim) result = result.Reshape(DropDims(_shape, reduced));
        if (!ShouldRecord(this)) return result;
        var shape = _shape;
        return Record(result, "SumBackward", [this], (g, n) => [g.Reshape(keptShape).Expand(shape)]);
    }

    /// <summary>The mean of all elements (PyTorch: <c>mean()</c>).</summary>
    public Tensor Mean()
    {
        RequireFloat("Mean");
        return Sum() / Math.Max(1, NumElements);
    }

    /// <summary>The mean over one dimension (PyTorch: <c>mean(dim, keepdim)</c>).</summary>
    public Tensor Mean(int dim, bool keepDim = false) => Mean([dim], keepDim);

    /// <summary>The mean over several dimensions (PyTorch: <c>mean(dims, keepdim)</c>).</summary>
    public Tensor Mean(int[] dims, bool keepDim = false)
    {
        RequireFloat("Mean");
        var (reduced, _) = NormalizeReduceDims(dims);
        int count = 1;
        foreach (var d in reduced) count *= _shape[d];
        return Sum(dims, keepDim) / Math.Max(1, count);
    }

    internal void RequireFloat(string op)
    {
        if (!DType.IsFloatingPoint())
        {
            throw new InvalidOperationException($"{op} needs a floating-point tensor, but got {DType}. Convert it first with .To(DType.Float32).");
        }
    }

    /// <summary>Sorted, distinct, normalized reduce dims and the shape with those dims kept as 1.</summary>
    internal (int[] Dims, int[] KeptShape) NormalizeReduceDims(int[] dims)
    {
        var set = new SortedSet<int>();
        foreach (var d in dims)
        {
            if (!set.Add(NormalizeDim(d, Rank)))
            {
                throw new ArgumentException($"Dimension {d} appears more than once in the reduction dims ({string.Join(", ", dims)}).");
            }
        }
        var kept = (int[])_shape.Clone();
        foreach (var d in set) if (Rank > 0) kept[d] = 1;
        return (Rank == 0 ? [] : set.ToArray(), kept);
    }

    internal static int[] DropDims(int[] shape, int[] dims)
    {
        var result = new List<int>();
        for (int i = 0; i < shape.Length; i++) if (Array.IndexOf(dims, i) < 0) result.Add(shape[i]);
        return result.ToArray();
    }

    internal enum ReduceKind { Sum, Max, Min }

    /// <summary>
    /// The sum over a contiguous range of dims of a floating-point tensor by the [outer, size, inner] kernel that compiled
    /// programs call too (kept shape); null for other cases (ReduceRaw handles them).
    /// </summary>
    private static Tensor? SumRange(Tensor x, int[] dims, int[] keptShape)
    {
        if (!x.DType.IsFloatingPoint() || dims.Length == 0 || dims[^1] - dims[0] != dims.Length - 1) return null;
        int outer = 1, size = 1, inner = 1;
        for (int d = 0; d < x.Rank; d++)
        {
            if (d < dims[0]) outer *= x._shape[d];
            else if (d > dims[^1]) inner *= x._shape[d];
            else size *= x._shape[d];
        }
        var src = x.ContiguousRaw();
        var result = Empty(keptShape, x.DType);
        if (x.DType == DType.Float32) Kernels.ReduceKernel.Sum(src.Span<float>(), result.Span<float>(), outer, size, inner, 1f, accumulate: false);
        else Kernels.ReduceKernel.Sum(src.Span<double>(), result.Span<double>(), outer, size, inner, 1.0, accumulate: false);
        return result;
    }

    /// <summary>Reduces the given dims (kept as size 1), without autograd. Moves the reduced dims last, then reduces rows.</summary>
    internal static Tensor ReduceRaw(Tensor x, int[] dims, ReduceKind kind)
    {
        int rank = x.Rank;
        var keptShape = (int[])x._shape.Clone();
        foreach (var d in dims) keptShape[d] = 1;
        if (dims.Length == 0) return x.Contiguous().Clone().Detach();
        var perm = new List<int>();
        for (int i = 0; i < rank; i++) if (Array.IndexOf(dims, i) < 0) perm.Add(i);
        perm.AddRange(dims);
        Tensor moved;
        using (Autograd.NoGrad()) moved = x.Permute(perm.ToArray()).Contiguous();
        int inner = 1;
        foreach (var d in dims) inner *= x._shape[d];
        int outer = inner == 0 ? ShapeUtil.Count(keptShape) : moved.NumElements / Math.Max(inner, 1);
        var result = Empty(keptShape, x.DType);
        switch (x.DType)
        {
            case DType.Float32: ReduceRows(moved.Span<float>(), result.Span<float>(), outer, inner, kind); break;
            case DType.Float64: ReduceRows(moved.Span<double>(), result.Span<double>(), outer, inner, kind); break;
            case DType.Int64: ReduceRows(moved.Span<long>(), result.Span<long>(), outer, inner, kind); break;
            case DType.Int32: ReduceRows(moved.Span<int>(), result.Span<int>(), outer, inner, kind); break;
            default: throw new NotSupportedException($"Reductions are not supported for {x.DType}; convert first with .To(DType.Int64).");
        }
        return result;
    }

    private static void ReduceRows<T>(ReadOnlySpan<T> src, Span<T> dst, int outer, int inner, ReduceKind kind)
        where T : unmanaged, INumber<T>, IMinMaxValue<T>
    {
        for (int o = 0; o < outer; o++)
        {
            var row = inner == 0 ? ReadOnlySpan<T>.Empty : src.Slice(o * inner, inner);
            dst[o] = kind switch
            {
                ReduceKind.Sum => TensorPrimitives.Sum(row),
                ReduceKind.Max => row.Length == 0 ? throw EmptyReduction("max") : TensorPrimitives.Max(row),
                _ => row.Length == 0 ? throw EmptyReduction("min") : TensorPrimitives.Min(row),
            };
        }
    }

    private static InvalidOperationException EmptyReduction(string op)
        => new($"Cannot compute {op} over an empty dimension: the reduced dimensions have size 0.");

    // ---------------- joining ----------------

    /// <summary>Concatenates tensors along an existing dimension (PyTorch: <c>torch.cat</c>).</summary>
    public static Tensor Cat(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0) throw new ArgumentException("Cat needs at least one tensor.");
        var first = tensors[0];
        int d = NormalizeDim(dim, first.Rank);
        var dtype = first.DType;
        int total = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            if (t.Rank != first.Rank)
            {
                throw new ArgumentException($"Cat: tensor {i} has shape {ShapeUtil.Format(t._shape)}, but tensor 0 has shape {ShapeUtil.Format(first._shape)}; all must have the same number of dimensions.");
            }
            for (int k = 0; k < first.Rank; k++)
            {
                if (k != d && t._shape[k] != first._shape[k])
                {
                    throw new ArgumentException($"Cat along dim {d}: tensor {i} has shape {ShapeUtil.Format(t._shape)}, but tensor 0 has shape {ShapeUtil.Format(first._shape)}; sizes must match except in dimension {d}.");
                }
            }
            dtype = DTypes.Promote(dtype, t.DType);
            total += t._shape[d];
        }
        var shape = (int[])first._shape.Clone();
        shape[d] = total;
        var result = Empty(shape, dtype);
        int offset = 0;
        var sizes = new int[tensors.Count];
        int outer = 1, inner = 1;
        for (int k = 0; k < d; k++) outer *= shape[k];
        for (int k = d + 1; k < shape.Length; k++) inner *= shape[k];
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            sizes[i] = t._shape[d];
            // The joining kernel generated code calls too; other dtypes and strided inputs go through the strided copy.
            if (t.DType == dtype && t.IsContiguous && dtype is DType.Float32)
            {
                AxisCopyKernel.Copy<float>(t.Span<float>(), sizes[i], 0, 1, result.Span<float>(), total, offset, 1, outer, sizes[i], inner, accumulate: false);
            }
            else if (t.DType == dtype && t.IsContiguous && dtype is DType.Float64)
            {
                AxisCopyKernel.Copy<double>(t.Span<double>(), sizes[i], 0, 1, result.Span<double>(), total, offset, 1, outer, sizes[i], inner, accumulate: false);
            }
            else
            {
                var target = new Tensor(result.Storage, t._shape, result._strides, offset * result._strides[d]);
                CopyRaw(t, target);
            }
            offset += sizes[i];
        }
        var inputs = tensors.ToArray();
        if (!ShouldRecord(inputs)) return result;
        return Record(result, "CatBackward", inputs, (g, n) =>
        {
            var grads = new Tensor?[sizes.Length];
            int start = 0;
            for (int i = 0; i < sizes.Length; i++)
            {
                if (n.NeedsInputGrad(i)) grads[i] = g.Narrow(d, start, sizes[i]);
                start += sizes[i];
            }
            return grads;
        });
    }

    /// <summary>Stacks tensors of equal shape along a new dimension (PyTorch: <c>torch.stack</c>).</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0) throw new ArgumentException("Stack needs at least one tensor.");
        int d = NormalizeDim(dim, tensors[0].Rank + 1);
        for (int i = 1; i < tensors.Count; i++)
        {
            if (!ShapeUtil.SameShape(tensors[i]._shape, tensors[0]._shape))
            {
                throw new ArgumentException($"Stack expects tensors of equal shape, but tensor 0 has shape {ShapeUtil.Format(tensors[0]._shape)} and tensor {i} has shape {ShapeUtil.Format(tensors[i]._shape)}.");
            }
        }
        return Cat(tensors.Select(t => t.Unsqueeze(d)).ToArray(), d);
    }
}
