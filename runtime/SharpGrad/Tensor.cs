using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace SharpGrad;

/// <summary>
/// An n-dimensional array with autograd (PyTorch: <c>torch.Tensor</c>): a strided view over managed storage.
/// Views (<see cref="View"/>, <see cref="Transpose"/>, <see cref="Narrow"/>, …) share storage with their base.
/// Memory belongs to the garbage collector: there is nothing to dispose.
/// </summary>
public partial class Tensor
{
    internal readonly Storage Storage;
    internal readonly int[] _shape;
    internal readonly int[] _strides;
    internal readonly int Offset;
    private bool _requiresGrad;
    private Tensor? _grad;

    /// <summary>The autograd node that produced this tensor, or null for leaves (PyTorch: <c>grad_fn</c>).</summary>
    internal Node? _gradFn;

    /// <summary>
    /// For a differentiable view (made by <c>View</c>, <c>Select</c>, <c>Transpose</c>, …), the tensor it is ultimately a view of
    /// (PyTorch: <c>_base</c>); null for every other tensor, including <see cref="Detach"/>ed ones.
    /// </summary>
    internal Tensor? ViewBase;

    /// <summary>
    /// For a view, its base's <see cref="_gradFn"/> when this view's history was last made from it. An in-place op through
    /// another view of the same base gives the base a new history (CopySlices); this view's history is then remade from it on
    /// its next use (PyTorch regenerates a view's grad_fn the same way).
    /// </summary>
    private Node? _viewOfFn;

    /// <summary>Hooks on a leaf tensor's gradient (non-leaf hooks live on <see cref="_gradFn"/>).</summary>
    internal List<Func<Tensor, Tensor?>?>? LeafHooks;

    /// <summary>Hooks that run after a gradient was accumulated into this leaf's <see cref="Grad"/>; see <see cref="RegisterPostAccumulateGradHook"/>.</summary>
    internal List<Action<Tensor>?>? PostAccumulateGradHooks;

    internal Tensor(Storage storage, int[] shape, int[] strides, int offset)
    {
        Storage = storage;
        _shape = shape;
        _strides = strides;
        Offset = offset;
    }

    internal Tensor(Storage storage, int[] shape)
        : this(storage, shape, ContiguousStrides(shape), 0)
    {
    }

    /// <summary>Creates a tensor that shares <paramref name="other"/>'s data and autograd state; used by <see cref="Parameter"/>.</summary>
    protected Tensor(Tensor other)
        : this(other.Storage, other._shape, other._strides, other.Offset)
    {
        // A parameter is a leaf of its own, never a differentiable view (PyTorch: nn.Parameter(t) wraps t's data).
    }

    /// <summary>The size of each dimension (PyTorch: <c>shape</c> / <c>size()</c>). A copy: changing it changes nothing.</summary>
    public int[] Shape => (int[])_shape.Clone();

    /// <summary>The size of dimension <paramref name="dim"/>; negative dims count from the end (PyTorch: <c>size(dim)</c>).</summary>
    public int Size(int dim) => _shape[NormalizeDim(dim, Rank)];

    /// <summary>The stride of each dimension, in elements (PyTorch: <c>stride()</c>).</summary>
    public int[] Strides => (int[])_strides.Clone();

    /// <summary>The number of dimensions (PyTorch: <c>dim()</c> / <c>ndim</c>).</summary>
    public int Rank => _shape.Length;

    /// <summary>The number of elements (PyTorch: <c>numel()</c>).</summary>
    public int NumElements => ShapeUtil.Count(_shape);

    /// <summary>The element type (PyTorch: <c>dtype</c>).</summary>
    public DType DType => Storage.DType;

    /// <summary>The offset of the first element in the storage (PyTorch: <c>storage_offset()</c>).</summary>
    public int StorageOffset => Offset;

    /// <summary>The version counter that in-place ops bump (PyTorch: <c>_version</c>).</summary>
    public int Version => Storage.Version;

    /// <summary>
    /// Whether autograd records operations on this tensor (PyTorch: <c>requires_grad</c>).
    /// Only leaves can be changed, and only floating-point tensors can require gradients.
    /// </summary>
    public bool RequiresGrad
    {
        get
        {
            SyncViewHistory();
            return _requiresGrad;
        }
        set
        {
            if (GradFn is { } fn)
            {
                if (value) return; // a non-leaf already requires grad: a no-op, as in PyTorch
                throw new InvalidOperationException(
                    $"RequiresGrad can only be turned off on leaf tensors, but this tensor of shape {ShapeUtil.Format(_shape)} " +
                    $"is the result of {fn.Name}. To use it in a computation that is not differentiated, use Detach() (PyTorch: " +
                    "\"you can only change requires_grad flags of leaf variables\").");
            }
            if (value && !DType.IsFloatingPoint())
            {
                throw new InvalidOperationException(
                    $"Only tensors of floating-point dtype can require gradients, but this tensor is {DType}. Convert it first with .To(DType.Float32).");
            }
            _requiresGrad = value;
        }
    }

    /// <summary>Sets <see cref="RequiresGrad"/> and returns this tensor (PyTorch: <c>requires_grad_()</c>).</summary>
    public Tensor RequiresGrad_(bool requiresGrad = true)
    {
        RequiresGrad = requiresGrad;
        return this;
    }

    /// <summary>True for tensors created by the user, false for results of recorded ops (PyTorch: <c>is_leaf</c>).</summary>
    public bool IsLeaf => GradFn is null;

    /// <summary>The node that created this tensor, or null for a leaf (PyTorch: <c>grad_fn</c>).</summary>
    public Node? GradFn
    {
        get
        {
            SyncViewHistory();
            return _gradFn;
        }
    }

    /// <summary>Remakes a view's history from its base when an in-place op through another view changed the base's.</summary>
    private void SyncViewHistory()
    {
        if (ViewBase is not { } root || ReferenceEquals(root._gradFn, _viewOfFn)) return;
        _viewOfFn = root._gradFn;
        if (root._gradFn is null) return;
        _gradFn = ViewOfBaseNode(root, _shape, _strides, Offset);
        _requiresGrad = true;
    }

    /// <summary>Records, for the view (shape, strides, offset) of <paramref name="root"/>, that its values are part of the root's.</summary>
    internal void SetViewHistory(Tensor root)
    {
        _viewOfFn = root._gradFn;
    }

    /// <summary>
    /// The gradient accumulated by <see cref="Backward"/> (PyTorch: <c>grad</c>). Null until a backward reaches this tensor;
    /// for non-leaves it stays null unless <see cref="RetainGrad"/> was called.
    /// </summary>
    public Tensor? Grad
    {
        get
        {
            // Handed to user code: the caching allocator must never take this gradient's memory back (ZeroGrad would otherwise
            // recycle it; see CachingAllocator).
            _grad?.Storage.Escape();
            return _grad;
        }
        set
        {
            if (value is not null && !ShapeUtil.SameShape(value._shape, _shape))
            {
                throw new ArgumentException(
                    $"Cannot assign a gradient of shape {ShapeUtil.Format(value._shape)} to a tensor of shape {ShapeUtil.Format(_shape)}; the shapes must match.");
            }
            value?.Storage.Escape();
            _grad = value;
        }
    }

    /// <summary>
    /// Set while this tensor is a gradient that only the autograd engine holds (created by a backward function, not shared):
    /// the engine may hand it to a leaf as its <c>.Grad</c> without a copy, or recycle it once consumed.
    /// </summary>
    internal bool EngineOwned;

    /// <summary>
    /// Sets <see cref="Grad"/> to null (ZeroGrad's set_to_none), and gives its memory back to the caching allocator when no
    /// user code ever saw it (the next backward then reuses it instead of allocating).
    /// </summary>
    internal void ReleaseGrad()
    {
        var grad = _grad;
        _grad = null;
        if (grad is not null && grad._gradFn is null && ReferenceEquals(grad.ViewBase, null)) grad.Storage.TryRecycle();
    }

    /// <summary>The gradient for SharpGrad's own code (the engine, the optimizers), which does not keep it: no escape.</summary>
    internal Tensor? GradInternal => _grad;

    /// <summary>True if <see cref="RetainGrad"/> was called on this non-leaf (PyTorch: <c>retains_grad</c>).</summary>
    public bool RetainsGrad => _gradFn?.RetainedTensor == this;

    /// <summary>True if the elements are laid out densely in row-major order (PyTorch: <c>is_contiguous()</c>).</summary>
    public bool IsContiguous
    {
        get
        {
            int expected = 1;
            for (int d = _shape.Length - 1; d >= 0; d--)
            {
                if (_shape[d] == 1) continue;
                if (_strides[d] != expected) return false;
                expected *= _shape[d];
            }
            return true;
        }
    }

    internal static int[] ContiguousStrides(int[] shape)
    {
        if (shape.Length == 0) return [];   // a scalar (a loss): no array per tensor
        var strides = new int[shape.Length];
        int s = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            strides[d] = s;
            s *= shape[d];
        }
        return strides;
    }

    internal static int NormalizeDim(int dim, int rank)
    {
        int r = Math.Max(rank, 1);
        if (dim < -r || dim >= r)
        {
            throw new ArgumentOutOfRangeException(nameof(dim),
                $"Dimension out of range: got {dim}, but the tensor has {rank} dimension(s), so dim must be in [{-r}, {r - 1}].");
        }
        return dim < 0 ? dim + r : dim;
    }

    /// <summary>The whole storage array as a span of <typeparamref name="T"/> (check <see cref="DType"/> first).</summary>
    internal T[] Data<T>() where T : unmanaged
    {
        if (Storage is Storage<T> s)
        {
            if (s.Released) throw ReleasedError();
            return s.Data;
        }
        throw new InvalidOperationException($"Expected a tensor of dtype {TypeOf<T>.DType}, but this tensor is {DType}.");
    }

    private InvalidOperationException ReleasedError() => new(
        $"Internal error: a tensor of shape {ShapeUtil.Format(_shape)} was used after SharpGrad's caching allocator took its memory back " +
        "(it was an intermediate that only SharpGrad held). Please report this; the environment variable SHARPGRAD_NO_MEMORY_CACHING=1 turns the caching off.");

    /// <summary>The elements of a contiguous tensor as a span (call <see cref="Contiguous"/> first if needed).</summary>
    internal Span<T> Span<T>() where T : unmanaged
    {
        if (!IsContiguous) throw new InvalidOperationException("Internal error: Span() needs a contiguous tensor.");
        return Data<T>().AsSpan(Offset, NumElements);
    }

    // ---------------- reading values ----------------

    /// <summary>Copies the elements, in row-major order, to a new <c>float[]</c> (converting from the dtype).</summary>
    public float[] ToArray()
    {
        if (DType == DType.Float32) return Contiguous().Span<float>().ToArray();
        return To(DType.Float32).Span<float>().ToArray();
    }

    /// <summary>Copies the elements, in row-major order, to a new <c>double[]</c>.</summary>
    public double[] ToDoubleArray() => To(DType.Float64).Contiguous().Span<double>().ToArray();

    /// <summary>Copies the elements, in row-major order, to a new <c>long[]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public long[] ToLongArray() => To(DType.Int64).Contiguous().Span<long>().ToArray();

    /// <summary>Copies the elements, in row-major order, to a new <c>bool[]</c>.</summary>
    public bool[] ToBoolArray() => To(DType.Bool).Contiguous().Span<bool>().ToArray();

    /// <summary>Copies the elements, in row-major order, to a new <c>byte[]</c>.</summary>
    public byte[] ToByteArray() => To(DType.UInt8).Contiguous().Span<byte>().ToArray();

    /// <summary>The value of a one-element tensor (PyTorch: <c>item()</c>).</summary>
    public float Item()
    {
        if (NumElements != 1)
        {
            throw new InvalidOperationException(
                $"Item() needs a tensor with exactly one element, but this one has shape {ShapeUtil.Format(_shape)} ({NumElements} elements). Index it first, or reduce it with Sum()/Mean().");
        }
        return (float)GetAsDouble(Offset);
    }

    /// <summary>The value of a one-element tensor as a double.</summary>
    public double ItemDouble()
    {
        if (NumElements != 1)
        {
            throw new InvalidOperationException(
                $"ItemDouble() needs a tensor with exactly one element, but this one has shape {ShapeUtil.Format(_shape)}.");
        }
        return GetAsDouble(Offset);
    }

    /// <summary>Reads one element (all indices given; negative indices count from the end).</summary>
    [IndexerName("At")]
    public float this[params int[] indices] => (float)GetAsDouble(ElementOffset(indices));

    internal int ElementOffset(ReadOnlySpan<int> indices)
    {
        if (indices.Length != Rank)
        {
            throw new ArgumentException(
                $"The indexer needs {Rank} indices for a tensor of shape {ShapeUtil.Format(_shape)}, but got {indices.Length}. Use Select/Narrow for partial indexing.");
        }
        int off = Offset;
        for (int d = 0; d < indices.Length; d++)
        {
            int i = indices[d];
            if (i < -_shape[d] || i >= _shape[d])
            {
                throw new IndexOutOfRangeException(
                    $"Index {i} is out of bounds for dimension {d} with size {_shape[d]} (tensor shape {ShapeUtil.Format(_shape)}).");
            }
            if (i < 0) i += _shape[d];
            off += i * _strides[d];
        }
        return off;
    }

    /// <summary>The storage index of the <paramref name="k"/>-th element in row-major order (any strides).</summary>
    internal int ElementOffsetOf(int k)
    {
        int off = Offset;
        for (int d = _shape.Length - 1; d >= 0; d--)
        {
            int s = _shape[d];
            off += (k % s) * _strides[d];
            k /= s;
        }
        return off;
    }

    internal double GetAsDouble(int storageIndex) => Storage switch
    {
        Storage<float> s => s.Data[storageIndex],
        Storage<double> s => s.Data[storageIndex],
        Storage<long> s => s.Data[storageIndex],
        Storage<int> s => s.Data[storageIndex],
        Storage<bool> s => s.Data[storageIndex] ? 1 : 0,
        Storage<byte> s => s.Data[storageIndex],
        _ => throw new InvalidOperationException("Unknown storage."),
    };

    /// <inheritdoc/>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("tensor(");
        const int maxShown = 64;
        int n = NumElements;
        if (Rank == 0)
        {
            sb.Append(FormatValue(GetAsDouble(Offset)));
        }
        else
        {
            var values = n <= maxShown ? ToDoubleArray() : Flatten().Narrow(0, 0, maxShown).ToDoubleArray();
            sb.Append('[');
            for (int i = 0; i < values.Length; i++)
            {
                if (i > 0) sb.Append(", ");
                sb.Append(FormatValue(values[i]));
            }
            if (n > maxShown) sb.Append(", …");
            sb.Append(']');
        }
        sb.Append(", shape=").Append(ShapeUtil.Format(_shape));
        if (DType != DType.Float32) sb.Append(", dtype=").Append(DType);
        if (_gradFn is not null) sb.Append(", gradFn=").Append(_gradFn.Name);
        else if (_requiresGrad) sb.Append(", requiresGrad=true");
        sb.Append(')');
        return sb.ToString();

        string FormatValue(double v) => DType.IsFloatingPoint()
            ? v.ToString("G6", CultureInfo.InvariantCulture)
            : v.ToString(CultureInfo.InvariantCulture);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetRequiresGradUnchecked(bool value) => _requiresGrad = value;

    internal void SetGradFn(Node node)
    {
        _gradFn = node;
        _requiresGrad = true;
    }

    internal void SetGradUnchecked(Tensor? grad) => _grad = grad;
}
