namespace SharpGrad;

/// <summary>
/// Switches gradient recording and computes gradients on demand (PyTorch: <c>torch.autograd</c>,
/// <c>torch.no_grad</c>, <c>torch.enable_grad</c>).
/// </summary>
public static class Autograd
{
    [ThreadStatic] private static bool t_gradDisabled;

    /// <summary>True unless inside <see cref="NoGrad"/> (PyTorch: <c>torch.is_grad_enabled()</c>).</summary>
    public static bool IsGradEnabled => !t_gradDisabled;

    /// <summary>
    /// Records nothing until the returned scope is disposed (PyTorch: <c>with torch.no_grad():</c>).
    /// <code>using (Autograd.NoGrad()) { var y = model.Forward(x); }</code>
    /// </summary>
    public static GradModeScope NoGrad() => SetGradEnabled(false);

    /// <summary>Records ops again inside a <see cref="NoGrad"/> scope (PyTorch: <c>torch.enable_grad()</c>).</summary>
    public static GradModeScope EnableGrad() => SetGradEnabled(true);

    /// <summary>Sets whether ops are recorded until the scope ends (PyTorch: <c>torch.set_grad_enabled</c>).</summary>
    public static GradModeScope SetGradEnabled(bool enabled)
    {
        var scope = new GradModeScope(!t_gradDisabled);
        t_gradDisabled = !enabled;
        return scope;
    }

    internal static void Restore(bool enabled) => t_gradDisabled = !enabled;

    /// <summary>
    /// Computes and returns the gradients of <paramref name="outputs"/> with respect to <paramref name="inputs"/>,
    /// without touching any <c>.Grad</c> (PyTorch: <c>torch.autograd.grad</c>).
    /// </summary>
    /// <param name="outputs">The tensors to differentiate.</param>
    /// <param name="inputs">The tensors to differentiate with respect to.</param>
    /// <param name="gradOutputs">The gradient of each output; null entries (or a null array) mean ones for one-element outputs.</param>
    /// <param name="retainGraph">Keep the graph so it can be differentiated again (defaults to <paramref name="createGraph"/>).</param>
    /// <param name="createGraph">Record the gradient computation itself, for higher-order derivatives.</param>
    /// <param name="allowUnused">Return null for inputs the outputs do not depend on, instead of throwing.</param>
    public static Tensor?[] Grad(
        IReadOnlyList<Tensor> outputs,
        IReadOnlyList<Tensor> inputs,
        IReadOnlyList<Tensor?>? gradOutputs = null,
        bool? retainGraph = null,
        bool createGraph = false,
        bool allowUnused = false)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(inputs);
        for (int i = 0; i < inputs.Count; i++)
        {
            if (!inputs[i].RequiresGrad)
            {
                throw new ArgumentException($"Autograd.Grad: input {i} (shape {ShapeUtil.Format(inputs[i]._shape)}) does not require grad, so no gradient can be computed for it. Set RequiresGrad = true on it before the forward.");
            }
        }
        var result = Engine.Run(outputs, gradOutputs, retainGraph ?? createGraph, createGraph, inputs);
        for (int i = 0; i < result!.Length; i++)
        {
            if (result[i] is null && !allowUnused)
            {
                throw new InvalidOperationException(
                    $"Autograd.Grad: input {i} (shape {ShapeUtil.Format(inputs[i]._shape)}) was not used to compute the outputs. Pass allowUnused: true if that is intended.");
            }
        }
        return result;
    }

    /// <summary>
    /// Computes the gradients of several roots at once and adds them to the leaves' <c>.Grad</c> (PyTorch:
    /// <c>torch.autograd.backward(tensors, grad_tensors, retain_graph, create_graph, inputs)</c>): one backward pass over the
    /// union of their graphs, so a node shared by two roots runs once with the sum of their gradients.
    /// </summary>
    /// <param name="tensors">The roots to differentiate.</param>
    /// <param name="gradTensors">The gradient of each root; null entries (or a null list) mean ones for one-element roots.</param>
    /// <param name="retainGraph">Keep the graph so it can be differentiated again (defaults to <paramref name="createGraph"/>).</param>
    /// <param name="createGraph">Record the gradient computation itself, for higher-order derivatives.</param>
    /// <param name="inputs">When given, only these tensors (leaves or not) get <c>.Grad</c>; every other leaf is left alone.</param>
    public static void Backward(
        IReadOnlyList<Tensor> tensors,
        IReadOnlyList<Tensor?>? gradTensors = null,
        bool? retainGraph = null,
        bool createGraph = false,
        IReadOnlyList<Tensor>? inputs = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0) throw new ArgumentException("Autograd.Backward: no tensors were given to differentiate.", nameof(tensors));
        bool retain = retainGraph ?? createGraph;
        if (inputs is null)
        {
            Engine.Run(tensors, gradTensors, retain, createGraph, null);
            return;
        }
        if (inputs.Count == 0) throw new ArgumentException("Autograd.Backward: inputs was given but is empty; pass null to accumulate into every leaf.", nameof(inputs));
        for (int i = 0; i < inputs.Count; i++)
        {
            if (!inputs[i].RequiresGrad)
            {
                throw new ArgumentException($"Autograd.Backward: input {i} (shape {ShapeUtil.Format(inputs[i]._shape)}) does not require grad, so no gradient can be accumulated into it.");
            }
        }
        var grads = Engine.Run(tensors, gradTensors, retain, createGraph, inputs)!;
        for (int i = 0; i < inputs.Count; i++)
        {
            if (grads[i] is { } g) Engine.AccumulateIntoGrad(inputs[i], g, createGraph);
        }
    }

    /// <summary>
    /// Queues <paramref name="callback"/> to run when the backward pass now running on this thread ends, after every
    /// gradient has been computed and accumulated (PyTorch: <c>Variable._execution_engine.queue_callback</c>). Call it
    /// from a hook; callbacks run in the order they were queued, and may queue more.
    /// </summary>
    /// <exception cref="InvalidOperationException">No backward pass is running on this thread.</exception>
    public static void QueueCallback(Action callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        Engine.QueueCallback(callback);
    }

    /// <summary>
    /// True while the autograd engine runs a backward pass on this thread (<see cref="Tensor.Backward"/> or
    /// <see cref="Grad(IReadOnlyList{Tensor}, IReadOnlyList{Tensor}, IReadOnlyList{Tensor?}?, bool?, bool, bool)"/>), so that
    /// <see cref="QueueCallback"/> may be called. A compiled <c>LossBackward</c> runs its fused backward without the engine.
    /// </summary>
    public static bool IsBackwardRunning => Engine.IsRunning;

    /// <summary>Convenience overload for one output and one input.</summary>
    public static Tensor Grad(Tensor output, Tensor input, Tensor? gradOutput = null, bool? retainGraph = null, bool createGraph = false)
        => Grad([output], [input], gradOutput is null ? null : [gradOutput], retainGraph, createGraph)[0]!;
}

/// <summary>The scope returned by <see cref="Autograd.NoGrad"/>; dispose it (with <c>using</c>) to restore the previous mode.</summary>
public readonly struct GradModeScope : IDisposable
{
    private readonly bool _previous;

    internal GradModeScope(bool previous) => _previous = previous;

    /// <summary>Restores the grad mode that was in force when the scope was created.</summary>
    public void Dispose() => Autograd.Restore(_previous);
}
