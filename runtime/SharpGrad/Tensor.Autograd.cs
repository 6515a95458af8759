namespace SharpGrad;

public partial class Tensor
{
    /// <summary>
    /// Computes the gradient of this tensor with respect to every leaf that requires grad and adds it to their
    /// <see cref="Grad"/> (PyTorch: <c>backward()</c>). Without <paramref name="gradient"/>, the tensor must hold one element.
    /// The graph's saved tensors are freed afterwards unless <paramref name="retainGraph"/> is true.
    /// </summary>
    /// <param name="gradient">The gradient of some scalar with respect to this tensor (same shape); defaults to 1 for a scalar.</param>
    /// <param name="retainGraph">Keep the graph so that Backward can run through it again.</param>
    /// <param name="createGraph">Record the backward itself, for higher-order derivatives.</param>
    public void Backward(Tensor? gradient = null, bool retainGraph = false, bool createGraph = false)
        => Engine.Run([this], gradient is null ? null : [gradient], retainGraph || createGraph, createGraph, null);

    /// <summary>Makes a non-leaf keep its <see cref="Grad"/> after backward (PyTorch: <c>retain_grad()</c>). No effect on leaves.</summary>
    public Tensor RetainGrad()
    {
        if (GradFn is null)
        {
            if (!RequiresGrad)
            {
                throw new InvalidOperationException(
                    $"RetainGrad() was called on a tensor of shape {ShapeUtil.Format(_shape)} that does not require grad; there will never be a gradient to keep. Set RequiresGrad = true on the leaves it comes from.");
            }
            return this;
        }
        _gradFn!.RetainedTensor = this;
        return this;
    }

    /// <summary>A tensor sharing this one's data but cut from the graph: a leaf that does not require grad (PyTorch: <c>detach()</c>).</summary>
    public Tensor Detach() => new(Storage, _shape, _strides, Offset);

    /// <summary>
    /// Cuts this tensor from its graph in place (PyTorch: <c>detach_()</c>). Views can't be detached in place (their history is
    /// their base's); use <see cref="Detach"/>.
    /// </summary>
    public Tensor Detach_()
    {
        if (ViewBase is not null)
        {
            throw new InvalidOperationException(
                $"Detach_(): this tensor of shape {ShapeUtil.Format(_shape)} is a view of another tensor, and views can't be detached in place " +
                "(PyTorch: \"Can't detach views in-place\"). Use Detach(), which returns a new tensor cut from the graph.");
        }
        _gradFn = null;
        _requiresGrad = false;
        return this;
    }

    /// <summary>
    /// Registers a hook that runs when this tensor's gradient is computed (PyTorch: <c>register_hook</c>).
    /// The hook may return a replacement gradient (same shape) or null to keep it. Dispose the handle to remove it.
    /// </summary>
    public HookHandle RegisterHook(Func<Tensor, Tensor?> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        if (!RequiresGrad)
        {
            throw new InvalidOperationException(
                $"Cannot register a hook on a tensor of shape {ShapeUtil.Format(_shape)} that does not require grad: no gradient will ever flow through it.");
        }
        var list = GradFn is { } fn ? (fn.TensorHooks ??= []) : (LeafHooks ??= []);
        list.Add(hook);
        int index = list.Count - 1;
        return new HookHandle(() => list[index] = null);
    }

    /// <summary>Registers a hook that only observes the gradient.</summary>
    public HookHandle RegisterHook(Action<Tensor> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return RegisterHook(g => { hook(g); return null; });
    }

    /// <summary>
    /// Registers a hook that runs after a backward pass has accumulated this leaf's gradient into <see cref="Grad"/>
    /// (PyTorch: <c>register_post_accumulate_grad_hook</c>). It receives this tensor, whose <see cref="Grad"/> holds the
    /// new total; it runs once per backward pass that reaches the tensor (the gradients of all the ops that used it summed
    /// first), from the eager engine, from a compiled program's tape node and from a compiled <c>LossBackward</c>; not from
    /// <see cref="Autograd.Grad(IReadOnlyList{Tensor}, IReadOnlyList{Tensor}, IReadOnlyList{Tensor?}?, bool?, bool, bool)"/>,
    /// which accumulates nothing. Dispose the handle to remove it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The tensor is not a leaf, or does not require grad.</exception>
    public HookHandle RegisterPostAccumulateGradHook(Action<Tensor> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        if (_gradFn is not null)
        {
            throw new InvalidOperationException(
                $"Post-accumulate-grad hooks can only be registered on leaf tensors, but this tensor of shape {ShapeUtil.Format(_shape)} is the result of {_gradFn.Name}: " +
                "its gradient is never accumulated. Register the hook on the leaf (a parameter), or use RegisterHook to see this tensor's gradient.");
        }
        if (!RequiresGrad)
        {
            throw new InvalidOperationException(
                $"Cannot register a post-accumulate-grad hook on a tensor of shape {ShapeUtil.Format(_shape)} that does not require grad: no gradient will ever be accumulated into it.");
        }
        var list = PostAccumulateGradHooks ??= [];
        list.Add(hook);
        int index = list.Count - 1;
        return new HookHandle(() => list[index] = null);
    }

    /// <summary>True if an op on these inputs must be recorded.</summary>
    internal static bool ShouldRecord(Tensor a) => a.RequiresGrad && Autograd.IsGradEnabled;

    internal static bool ShouldRecord(Tensor a, Tensor b) => (a.RequiresGrad || b.RequiresGrad) && Autograd.IsGradEnabled;

    internal static bool ShouldRecord(ReadOnlySpan<Tensor?> inputs)
    {
        if (!Autograd.IsGradEnabled) return false;
        foreach (var t in inputs)
        {
            if (t is not null && t.RequiresGrad) return true;
        }
        return false;
    }

    /// <summary>
    /// Records <paramref name="result"/> as the output of an op on <paramref name="inputs"/> when autograd is on and an
    /// input requires grad. <paramref name="saved"/> lists the tensors backward reads, so in-place changes to them are caught.
    /// </summary>
    internal static Tensor Record(Tensor result, string name, Tensor?[] inputs, BackwardFunction backward, params Tensor[] saved)
    {
        if (!ShouldRecord(inputs)) return result;
        result.SetGradFn(new Node(name, inputs, backward, saved));
        return result;
    }
}

/// <summary>Removes a hook when disposed (PyTorch: <c>RemovableHandle.remove()</c>).</summary>
public sealed class HookHandle : IDisposable
{
    private Action? _remove;

    internal HookHandle(Action remove) => _remove = remove;

    /// <summary>Removes the hook (PyTorch: <c>remove()</c>). Safe to call twice.</summary>
    public void Remove() => Dispose();

    /// <summary>Removes the hook.</summary>
    public void Dispose()
    {
        _remove?.Invoke();
        _remove = null;
    }
}
