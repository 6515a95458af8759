using SharpGrad.Kernels;

namespace SharpGrad;

public partial class Tensor
{
    /// <summary>A view sharing storage with this tensor, recorded as an op whose backward is <paramref name="backward"/>.</summary>
    private Tensor MakeView(int[] shape, int[] strides, int offset, string name, Func<Tensor, Tensor> backward)
    {
        var root = ViewBase ?? this;
        var view = new Tensor(Storage, shape, strides, offset) { ViewBase = root };
        view.SetViewHistory(root);
        if (!ShouldRecord(this)) return view;
        return Record(view, name, [this], (g, n) => [backward(g)]);
    }

    /// <summary>
    /// The same data seen with another shape, sharing storage (PyTorch: <c>view</c>). One dimension may be -1.
    /// Needs a compatible stride (a contiguous tensor always is); otherwise use <see cref="Reshape"/>.
    /// </summary>
    public Tensor View(params int[] shape)
    {
        var newShape = ResolveShape(shape, NumElements, "View");
        var strides = ComputeViewStrides(_shape, _strides, newShape)
            ?? throw new InvalidOperationException(
                $"View({string.Join(", ", shape)}): the tensor of shape {ShapeUtil.Format(_shape)} with strides {ShapeUtil.Format(_strides)} is not contiguous " +
                "in a way that allows this view (e.g. it comes from Transpose or Permute). Use .Reshape(...) instead, or call .Contiguous() before .View(...).");
        var oldShape = _shape;
        return MakeView(newShape, strides, Offset, "ViewBackward", g => g.Reshape(oldShape));
    }

    /// <summary>Like <see cref="View"/>, but copies when the strides do not allow a view (PyTorch: <c>reshape</c>).</summary>
    public Tensor Reshape(params int[] shape)
    {
        var newShape = ResolveShape(shape, NumElements, "Reshape");
        if (ComputeViewStrides(_shape, _strides, newShape) is not null) return View(newShape);
        return Contiguous().View(newShape);
    }

    /// <summary>Views this tensor with the shape of <paramref name="other"/> (PyTorch: <c>view_as</c>).</summary>
    public Tensor ViewAs(Tensor other) => View(other._shape);

    /// <summary>Strides for viewing (shape, strides) as newShape without copying, or null if impossible (PyTorch's computeStride).</summary>
    internal static int[]? ComputeViewStrides(int[] oldShape, int[] oldStrides, int[] newShape)
    {
        var newStrides = new int[newShape.Length];
        if (ShapeUtil.Count(oldShape) == 0 || oldShape.Length == 0)
        {
            // Empty tensors, and 0-d tensors (one element), can take any shape of the same size.
            return ContiguousStrides(newShape);
        }
        int viewD = newShape.Length - 1;
        int chunkBaseStride = oldStrides.Length > 0 ? oldStrides[^1] : 1;
        long tensorNumel = 1;
        long viewNumel = 1;
        for (int tensorD = oldShape.Length - 1; tensorD >= 0; tensorD--)
        {
            tensorNumel *= oldShape[tensorD];
            if (tensorD == 0 || (oldShape[tensorD - 1] != 1 && oldStrides[tensorD - 1] != tensorNumel * chunkBaseStride))
            {
                while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] == 1))
                {
                    newStrides[viewD] = (int)(viewNumel * chunkBaseStride);
                    viewNumel *= newShape[viewD];
                    viewD--;
                }
                if (viewNumel != tensorNumel) return null;
                if (tensorD > 0)
                {
                    chunkBaseStride = oldStrides[tensorD - 1];
                    tensorNumel = 1;
                    viewNumel = 1;
                }
            }
        }
        if (viewD != -1) return null;
        return newStrides;
    }

    /// <summary>Removes all dimensions of size 1 (PyTorch: <c>squeeze()</c>).</summary>
    public Tensor Squeeze()
    {
        var shape = new List<int>();
        var strides = new List<int>();
        for (int d = 0; d < Rank; d++)
        {
            if (_shape[d] == 1) continue;
            shape.Add(_shape[d]);
            strides.Add(_strides[d]);
        }
        var old = _shape;
        return MakeView(shape.ToArray(), strides.ToArray(), Offset, "SqueezeBackward", g => g.Reshape(old));
    }

    /// <summary>Removes dimension <paramref name="dim"/> if its size is 1 (PyTorch: <c>squeeze(dim)</c>).</summary>
    public Tensor Squeeze(int dim)
    {
        dim = NormalizeDim(dim, Rank);
        if (Rank == 0 || _shape[dim] != 1) return MakeView(_shape, _strides, Offset, "SqueezeBackward", g => g);
        var shape = _shape.Where((_, i) => i != dim).ToArray();
        var strides = _strides.Where((_, i) => i != dim).ToArray();
        var old = _shape;
        return MakeView(shape, strides, Offset, "SqueezeBackward", g => g.Reshape(old));
    }

    /// <summary>Inserts a dimension of size 1 at <paramref name="dim"/> (PyTorch: <c>unsqueeze</c>).</summary>
    public Tensor Unsqueeze(int dim)
    {
        dim = NormalizeDim(dim, Rank + 1);
        var shape = _shape.ToList();
        var strides = _strides.ToList();
        int stride = dim < Rank ? _shape[dim] * _strides[dim] : 1;
        shape.Insert(dim, 1);
        strides.Insert(dim, stride);
        var old = _shape;
        return MakeView(shape.ToArray(), strides.ToArray(), Offset, "UnsqueezeBackward", g => g.Reshape(old));
    }

    /// <summary>Swaps two dimensions, as a view (PyTorch: <c>transpose</c>).</summary>
    public Tensor Transpose(int dim0, int dim1)
    {
        int a = NormalizeDim(dim0, Rank), b = NormalizeDim(dim1, Rank);
        var shape = (int[])_shape.Clone();
        var strides = (int[])_strides.Clone();
        (shape[a], shape[b]) = (shape[b], shape[a]);
        (strides[a], strides[b]) = (strides[b], strides[a]);
        return MakeView(shape, strides, Offset, "TransposeBackward", g => g.Transpose(a, b));
    }

    /// <summary>The transpose of a matrix (PyTorch: <c>t()</c> / <c>.T</c> for 2-d).</summary>
    public Tensor T()
    {
        if (Rank > 2) throw new InvalidOperationException($"T() expects a tensor with at most 2 dimensions, but got shape {ShapeUtil.Format(_shape)}; use Transpose(dim0, dim1) or Permute.");
        return Rank < 2 ? this : Transpose(0, 1);
    }

    /// <summary>Reorders the dimensions, as a view (PyTorch: <c>permute</c>).</summary>
    public Tensor Permute(params int[] dims)
    {
        if (dims.Length != Rank)
        {
            throw new ArgumentException($"Permute needs {Rank} dimensions for a tensor of shape {ShapeUtil.Format(_shape)}, but got ({string.Join(", ", dims)}).");
        }
        var perm = new int[Rank];
        var seen = new bool[Rank];
        for (int i = 0; i < Rank; i++)
        {
            perm[i] = NormalizeDim(dims[i], Rank);
            if (seen[perm[i]]) throw new ArgumentException($"Permute: dimension {perm[i]} appears twice in ({string.Join(", ", dims)}).");
            seen[perm[i]] = true;
        }
        var shape = new int[Rank];
        var strides = new int[Rank];
        var inverse = new int[Rank];
        for (int i = 0; i < Rank; i++)
        {
            shape[i] = _shape[perm[i]];
            strides[i] = _strides[perm[i]];
            inverse[perm[i]] = i;
        }
        return MakeView(shape, strides, Offset, "PermuteBackward", g => g.Permute(inverse));
    }

    /// <summary>Flattens dimensions startDim..endDim into one (PyTorch: <c>flatten</c>); a view when possible.</summary>
    public Tensor Flatten(int startDim = 0, int endDim = -1)
    {
        if (Rank == 0) return Reshape(1);
        int s = NormalizeDim(startDim, Rank), e = NormalizeDim(endDim, Rank);
        if (s > e) throw new ArgumentException($"Flatten: startDim ({startDim}) must not come after endDim ({endDim}) for shape {ShapeUtil.Format(_shape)}.");
        var shape = new List<int>();
        for (int i = 0; i < s; i++) shape.Add(_shape[i]);
        int m = 1;
        for (int i = s; i <= e; i++) m *= _shape[i];
        shape.Add(m);
        for (int i = e + 1; i < Rank; i++) shape.Add(_shape[i]);
        return Reshape(shape.ToArray());
    }

    /// <summary>Broadcasts size-1 dimensions to <paramref name="shape"/> without copying (PyTorch: <c>expand</c>); -1 keeps a size.</summary>
    public Tensor Expand(params int[] shape)
    {
        if (shape.Length < Rank)
        {
            throw new ArgumentException($"Expand: the target shape {ShapeUtil.Format(shape)} has fewer dimensions than the tensor's {ShapeUtil.Format(_shape)}.");
        }
        var target = (int[])shape.Clone();
        int lead = shape.Length - Rank;
        var strides = new int[shape.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            int d = i - lead;
            if (d < 0)
            {
                if (target[i] < 0) throw new ArgumentException($"Expand: -1 is not allowed for a new leading dimension in {ShapeUtil.Format(shape)}.");
                strides[i] = 0;
                continue;
            }
            if (target[i] == -1) target[i] = _shape[d];
            if (_shape[d] == target[i]) strides[i] = _strides[d];
            else if (_shape[d] == 1) strides[i] = 0;
            else
            {
                throw new ArgumentException(
                    $"Expand: the size of dimension {d} is {_shape[d]}, which cannot be expanded to {target[i]} (target shape {ShapeUtil.Format(shape)}); only size-1 dimensions can be expanded.");
            }
        }
        var old = _shape;
        return MakeView(target, strides, Offset, "ExpandBackward", g => g.SumTo(old));
    }

    /// <summary>Expands to the shape of <paramref name="other"/> (PyTorch: <c>expand_as</c>).</summary>
    public Tensor ExpandAs(Tensor other) => Expand(other._shape);

    /// <summary>The slice [start, start+length) of dimension <paramref name="dim"/>, as a view (PyTorch: <c>narrow</c>).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public Tensor Narrow(int dim, int start, int length)
    {
        dim = NormalizeDim(dim, Rank);
        if (start < 0) start += _shape[dim];
        if (start < 0 || length < 0 || start + length > _shape[dim])
        {
            throw new ArgumentOutOfRangeException(nameof(start),
                $"Narrow: [{start}, {start + length}) is outside dimension {dim} of size {_shape[dim]} (shape {ShapeUtil.Format(_shape)}).");
        }
        var shape = (int[])_shape.Clone();
        shape[dim] = length;
        var old = _shape;
        return MakeView(shape, _strides, Offset + start * _strides[dim], "NarrowBackward", g =>
        {
            if (Autograd.IsGradEnabled && g.RequiresGrad) return PadNarrowDifferentiable(g, old, dim, start);
            return WindowGradient(g, old, dim, start, 1);
        });
    }

    private static Tensor PadNarrowDifferentiable(Tensor g, int[] fullShape, int dim, int start)
    {
        var parts = new List<Tensor>();
        if (start > 0)
        {
            var s = (int[])fullShape.Clone();
            s[dim] = start;
            parts.Add(Zeros(s, g.DType));
        }
        parts.Add(g);
        int after = fullShape[dim] - start - g._shape[dim];
        if (after > 0)
        {
            var s = (int[])fullShape.Clone();
            s[dim] = after;
            parts.Add(Zeros(s, g.DType));
        }
        return Cat(parts, dim);
    }

    /// <summary>
    /// Python-style slicing of one dimension: elements start, start+step, … below end (PyTorch: <c>x[:, start:end:step]</c>).
    /// Negative start/end count from the end; the result is a view.
    /// </summary>
    public Tensor Slice(int dim, int start, int end, int step = 1)
    {
        dim = NormalizeDim(dim, Rank);
        if (step <= 0) throw new ArgumentException($"Slice: step must be positive, got {step}.");
        int size = _shape[dim];
        if (start < 0) start += size;
        if (end < 0) end += size;
        start = Math.Clamp(start, 0, size);
        end = Math.Clamp(end, start, size);
        int length = (end - start + step - 1) / step;
        if (step == 1) return Narrow(dim, start, length);
        var shape = (int[])_shape.Clone();
        var strides = (int[])_strides.Clone();
        shape[dim] = length;
        strides[dim] *= step;
        var old = _shape;
        return MakeView(shape, strides, Offset + start * _strides[dim], "SliceBackward", g => WindowGradient(g, old, dim, start, step));
    }

    /// <summary>
    /// The gradient of a window (Narrow, Slice, Select) for its input of shape <paramref name="fullShape"/>: zeros, with
    /// <paramref name="g"/> at axis positions start, start + step, … of <paramref name="dim"/> (the slicing kernel generated
    /// code calls too).
    /// </summary>
    private static Tensor WindowGradient(Tensor g, int[] fullShape, int dim, int start, int step)
    {
        var full = Zeros(fullShape, g.DType);
        int outer = 1, inner = 1;
        for (int k = 0; k < dim; k++) outer *= fullShape[k];
        for (int k = dim + 1; k < fullShape.Length; k++) inner *= fullShape[k];
        int count = g._shape[dim];
        if (g.DType == DType.Float32 && g.IsContiguous)
        {
            AxisCopyKernel.Copy<float>(g.Span<float>(), count, 0, 1, full.Span<float>(), fullShape[dim], start, step, outer, count, inner, accumulate: false);
            return full;
        }
        if (g.DType == DType.Float64 && g.IsContiguous)
        {
            AxisCopyKernel.Copy<double>(g.Span<double>(), count, 0, 1, full.Span<double>(), fullShape[dim], start, step, outer, count, inner, accumulate: false);
            return full;
        }
        var strides = (int[])full._strides.Clone();
        strides[dim] *= step;
        CopyRaw(g, new Tensor(full.Storage, g._shape, strides, start * full._strides[dim]));
        return full;
    }

    /// <summary>Selects index <paramref name="index"/> along <paramref name="dim"/>, removing that dimension (PyTorch: <c>select</c>, <c>x[i]</c>).</summary>
    public Tensor Select(int dim, int index)
    {
        dim = NormalizeDim(dim, Rank);
        int size = _shape[dim];
        if (index < -size || index >= size)
        {
            throw new IndexOutOfRangeException($"Select: index {index} is out of bounds for dimension {dim} with size {size} (shape {ShapeUtil.Format(_shape)}).");
        }
        if (index < 0) index += size;
        return Narrow(dim, index, 1).Squeeze(dim);
    }

    /// <summary>A new tensor object over the same elements (not recorded); used to give an op's output its own identity.</summary>
    internal Tensor Alias()
    {
        var alias = new Tensor(Storage, _shape, _strides, Offset) { ViewBase = ViewBase };
        if (ViewBase is { } root) alias.SetViewHistory(root);
        return alias;
    }

    /// <summary>
    /// The autograd node of a view (<paramref name="shape"/>, <paramref name="strides"/>, <paramref name="offset"/> in the
    /// storage) of the contiguous <paramref name="root"/> (PyTorch: <c>AsStridedBackward</c>): its gradient lands in that
    /// region of a zero gradient for the root.
    /// </summary>
    internal static Node ViewOfBaseNode(Tensor root, int[] shape, int[] strides, int offset)
    {
        var rootShape = root._shape;
        int relative = offset - root.Offset;
        return new Node("AsStridedBackward", [root], (g, n) =>
        {
            var gRoot = Zeros(rootShape, g.DType);
            CopyRaw(g, new Tensor(gRoot.Storage, shape, strides, relative));
            return [gRoot];
        }, null);
    }
}
