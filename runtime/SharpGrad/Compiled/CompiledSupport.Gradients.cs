namespace SharpGrad;

// Where a compiled program's backward writes a parameter's gradient. The generated backward accumulates each parameter's
// gradient into an array (the weight-gradient GEMMs run with β = 1); these helpers choose that array before the backward
// and deliver it after, so that the gradient is written once, where it ends up: in .Grad's own array (no clear, no copy),
// in the tensor that becomes .Grad, or in an array the engine takes as it is (docs/performance.md, "gradient binding").
public static partial class CompiledSupport
{
    /// <summary>
    /// The array a fused backward (<c>LossBackward</c>) accumulates <paramref name="parameter"/>'s gradient into (PyTorch:
    /// what <c>AccumulateGrad</c> adds to): <c>.Grad</c>'s own array when <c>.Grad</c> is a dense float32 tensor without a
    /// graph and the parameter has no hooks (accumulated in place: not cleared); when <c>.Grad</c> is null, the array of
    /// <paramref name="cache"/>, cleared (the tensor that becomes <c>.Grad</c>, reused by later calls unless user code
    /// kept it); otherwise a cleared array from the caching allocator, delivered through the hooks by
    /// <see cref="DeliverGrad"/>. Pair every call with <see cref="DeliverGrad"/> after the backward.
    /// </summary>
    public static float[] BindGrad(Tensor parameter, ref Tensor? cache) => BindGrad(parameter, ref cache, overwritten: false, out _);

    /// <summary>
    /// <see cref="BindGrad(Tensor, ref Tensor?)"/> for a parameter whose first writer in the backward overwrites a fresh
    /// gradient (β = 0; the generator proves it is the first): when <c>.Grad</c> is null and the cached tensor is reused,
    /// the array is returned as it is and <paramref name="fresh"/> is true, so the writer overwrites instead of the array
    /// being cleared and added to (PyTorch: the gradient after <c>zero_grad(set_to_none=True)</c> is the first backward's).
    /// Otherwise (an existing <c>.Grad</c> is added to, hooks, a new tensor) <paramref name="fresh"/> is false and the array
    /// is the one the other overload returns.
    /// </summary>
    public static float[] BindGrad(Tensor parameter, ref Tensor? cache, out bool fresh) => BindGrad(parameter, ref cache, overwritten: true, out fresh);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static float[] BindGrad(Tensor parameter, ref Tensor? cache, bool overwritten, out bool fresh)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        fresh = false;
        int count = parameter.NumElements;
        if (parameter.LeafHooks is null)
        {
            var existing = parameter.GradInternal;
            if (existing is null)
            {
                // A cache that user code holds (read through .Grad: Escaped) keeps its values: a new tensor becomes .Grad,
                // as PyTorch allocates a new gradient after zero_grad(set_to_none=True).
                if (cache is null || cache.Storage.Escaped || cache.Storage.Released || !ShapeUtil.SameShape(cache._shape, parameter._shape) ||
                    cache.DType != DType.Float32)
                {
                    cache = Tensor.Zeros(parameter._shape, DType.Float32);
                    return cache.Data<float>();
                }
                var array = cache.Data<float>();
                if (overwritten) fresh = true;
                else Array.Clear(array, 0, count);
                return array;
            }
            if (Bindable(existing, count)) return existing.Data<float>();
        }
        return CachingAllocator.Rent<float>(count);
    }

    /// <summary>
    /// Delivers the gradient a fused backward accumulated into <paramref name="gradient"/> (the array
    /// <see cref="BindGrad(Tensor, ref Tensor?)"/> returned): bumps <c>.Grad</c>'s version when it was <c>.Grad</c>'s own array, makes
    /// <paramref name="cache"/> the <c>.Grad</c> when it was the cache's, and otherwise hands the array to the engine (the
    /// parameter's hooks run, then it is added to <c>.Grad</c>); then the post-accumulate-grad hooks run.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void DeliverGrad(Tensor parameter, float[] gradient, ref Tensor? cache)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        ArgumentNullException.ThrowIfNull(gradient);
        var existing = parameter.GradInternal;
        if (existing is not null && ReferenceEquals(existing.Storage.Array, gradient))
        {
            existing.Storage.Version++;
        }
        else if (existing is null && cache is not null && ReferenceEquals(cache.Storage.Array, gradient))
        {
            cache.Storage.Version++;
            parameter.SetGradUnchecked(cache);
        }
        else
        {
            Engine.DeliverToLeaf(parameter, WrapGradient(gradient, parameter.Shape));
            return; // the engine ran the post-accumulate-grad hooks
        }
        Engine.RunPostAccumulateGradHooks(parameter);
    }

    /// <summary>A cleared array from the caching allocator for the tape backward to accumulate a parameter's gradient into
    /// (then handed to the engine by <see cref="WrapGradient"/>, without a copy).</summary>
    public static float[] RentGrad(Tensor parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        return CachingAllocator.Rent<float>(parameter.NumElements);
    }

    /// <summary>
    /// The array the tape backward of a compiled node accumulates <paramref name="parameter"/>'s gradient into. When the
    /// engine would only add that gradient to <c>.Grad</c> — the pass accumulates into <c>.Grad</c> (no <c>Autograd.Grad</c>
    /// capture, no <c>createGraph</c>), input <paramref name="input"/> of <paramref name="node"/> is the parameter itself, and
    /// the parameter has no hooks — it is the array <see cref="BindGrad(Tensor, ref Tensor?)"/> chooses (<c>.Grad</c>'s own,
    /// or the cached tensor that becomes <c>.Grad</c>): the gradient is written where it ends up, and no tensor is handed to
    /// the engine. Otherwise a cleared array from the caching allocator (<see cref="RentGrad"/>). Pair it with
    /// <see cref="TapeGrad"/>. (A second consumer of the parameter is still summed by the engine, into the same <c>.Grad</c>.)
    /// </summary>
    public static float[] BindTapeGrad(Node node, int input, Tensor parameter, ref Tensor? cache)
        => WritesGradDirectly(node, input, parameter) ? BindGrad(parameter, ref cache) : RentGrad(parameter);

    /// <summary><see cref="BindTapeGrad(Node, int, Tensor, ref Tensor?)"/> for a parameter whose first writer overwrites a fresh
    /// gradient (see <see cref="BindGrad(Tensor, ref Tensor?, out bool)"/>).</summary>
    public static float[] BindTapeGrad(Node node, int input, Tensor parameter, ref Tensor? cache, out bool fresh)
    {
        fresh = false;
        return WritesGradDirectly(node, input, parameter) ? BindGrad(parameter, ref cache, out fresh) : RentGrad(parameter);
    }

    /// <summary>
    /// What the tape backward returns to the engine for <paramref name="parameter"/> after writing its gradient into
    /// <paramref name="gradient"/> (the array of <see cref="BindTapeGrad(Node, int, Tensor, ref Tensor?)"/>): null when it was
    /// written into <c>.Grad</c> (delivered here, as <see cref="DeliverGrad"/> does), else the array as a tensor for the engine.
    /// </summary>
    public static Tensor? TapeGrad(Tensor parameter, float[] gradient, ref Tensor? cache)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        ArgumentNullException.ThrowIfNull(gradient);
        var existing = parameter.GradInternal;
        bool bound = existing is not null ? ReferenceEquals(existing.Storage.Array, gradient) : cache is not null && ReferenceEquals(cache.Storage.Array, gradient);
        if (!bound) return WrapGradient(gradient, parameter.Shape);
        DeliverGrad(parameter, gradient, ref cache);
        return null;
    }

    /// <summary>
    /// <see cref="TapeGrad"/> into the tape backward's result: a gradient for the engine goes to <paramref name="grads"/>[<paramref name="index"/>],
    /// the array (of <paramref name="count"/> entries) allocated at the first such gradient; none when every gradient was written into <c>.Grad</c>.
    /// </summary>
    public static void SetTapeGrad(ref Tensor?[]? grads, int count, int index, Tensor parameter, float[] gradient, ref Tensor? cache)
    {
        if (TapeGrad(parameter, gradient, ref cache) is { } g) (grads ??= new Tensor?[count])[index] = g;
    }

    private static bool WritesGradDirectly(Node node, int input, Tensor parameter)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(parameter);
        return Engine.DeliversToGrad && node.IsLeafInput(input, parameter) && parameter.LeafHooks is null && parameter.PostAccumulateGradHooks is null;
    }

    /// <summary>A float32 tensor of <paramref name="shape"/> over <paramref name="gradient"/> itself (an array from
    /// <see cref="RentGrad"/> or <see cref="BindGrad(Tensor, ref Tensor?)"/> that the program no longer uses): no copy; the engine may make it
    /// <c>.Grad</c>, and <c>ZeroGrad</c> gives the array back to the caching allocator.</summary>
    public static Tensor WrapGradient(float[] gradient, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        int count = ShapeUtil.Count(ShapeUtil.Validate(shape));
        if (gradient.Length != count)
            throw new ArgumentException($"Compiled program: a gradient array of {gradient.Length} elements cannot be a tensor of shape {ShapeUtil.Format(shape)}.", nameof(gradient));
        return new Tensor(new Storage<float>(gradient) { Recyclable = true }, (int[])shape.Clone());
    }

    /// <summary>A <c>.Grad</c> the backward can accumulate into directly: float32, no graph, and exactly its own dense array.</summary>
    private static bool Bindable(Tensor grad, int count)
        => grad.DType == DType.Float32 && !grad.RequiresGrad && grad.Offset == 0 && grad.IsContiguous && grad.Storage.Array.Length == count &&
           !grad.Storage.Released;
}
