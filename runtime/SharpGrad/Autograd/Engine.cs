namespace SharpGrad;

/// <summary>
/// Runs the backward pass: gathers the nodes reachable from the outputs, then runs each node once all of its
/// consumers have contributed to its gradient, latest-created first (like PyTorch's engine). A leaf receives its
/// gradient once, summed over all the ops that used it (PyTorch's <c>AccumulateGrad</c> node), as soon as the last of
/// them has run; callbacks queued during the pass (<see cref="Autograd.QueueCallback"/>) run when it ends.
/// </summary>
internal static class Engine
{
    /// <summary>The callbacks queued during the backward pass running on this thread; null when none is running.</summary>
    [ThreadStatic] private static List<Action>? t_callbacks;

    internal static bool IsRunning => t_callbacks is not null;

    internal static void QueueCallback(Action callback)
    {
        (t_callbacks ?? throw new InvalidOperationException(
            "Autograd.QueueCallback can only be called while a backward pass runs on this thread (from a gradient hook); " +
            "outside of one there is no end of backward to run it at.")).Add(callback);
    }

    public static Tensor?[]? Run(
        IReadOnlyList<Tensor> outputs,
        IReadOnlyList<Tensor?>? gradOutputs,
        bool retainGraph,
        bool createGraph,
        IReadOnlyList<Tensor>? captureInputs)
    {
        var outer = t_callbacks;
        var callbacks = t_callbacks = [];
        try
        {
            var captured = RunGraph(outputs, gradOutputs, retainGraph, createGraph, captureInputs);
            // Callbacks may queue more callbacks; they run too, in order (PyTorch: queue_callback).
            for (int i = 0; i < callbacks.Count; i++) callbacks[i]();
            return captured;
        }
        finally
        {
            t_callbacks = outer;
        }
    }

    private static Tensor?[]? RunGraph(
        IReadOnlyList<Tensor> outputs,
        IReadOnlyList<Tensor?>? gradOutputs,
        bool retainGraph,
        bool createGraph,
        IReadOnlyList<Tensor>? captureInputs)
    {
        if (gradOutputs is not null && gradOutputs.Count != outputs.Count)
        {
            throw new ArgumentException($"Got {gradOutputs.Count} gradients for {outputs.Count} outputs; give one gradient per output.");
        }

        var captured = captureInputs is null ? null : new Tensor?[captureInputs.Count];
        Dictionary<Tensor, int>? leafCapture = null;
        Dictionary<Node, int>? nodeCapture = null;
        if (captureInputs is not null)
        {
            for (int i = 0; i < captureInputs.Count; i++)
            {
                var t = captureInputs[i];
                if (t.GradFn is { } fn) (nodeCapture ??= new(ReferenceEqualityComparer.Instance as IEqualityComparer<Node>))[fn] = i;
                else (leafCapture ??= new(ReferenceEqualityComparer.Instance as IEqualityComparer<Tensor>))[t] = i;
            }
        }

        using var mode = Autograd.SetGradEnabled(createGraph);

        var pending = new Dictionary<Node, Tensor>(ReferenceEqualityComparer.Instance as IEqualityComparer<Node>);
        var leafPending = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance as IEqualityComparer<Tensor>);
        var roots = new List<Node>();
        for (int i = 0; i < outputs.Count; i++)
        {
            var output = outputs[i];
            if (!output.RequiresGrad)
            {
                throw new InvalidOperationException(
                    $"Element {i} of the outputs does not require grad and has no GradFn (shape {ShapeUtil.Format(output._shape)}), so there is nothing to differentiate. " +
                    "Make sure a parameter or an input with RequiresGrad = true was used to compute it, and that it was not computed inside Autograd.NoGrad().");
            }
            var grad = gradOutputs?[i];
            if (grad is null)
            {
                if (output.NumElements != 1)
                {
                    throw new InvalidOperationException(
                        $"Backward() needs a scalar, but the tensor has shape {ShapeUtil.Format(output._shape)} ({output.NumElements} elements): " +
                        "a gradient can be implicitly created only for scalar outputs. Reduce it with .Sum() or .Mean(), or pass gradient: with the same shape.");
                }
                grad = Tensor.OnesLike(output);
            }
            else if (!ShapeUtil.SameShape(grad._shape, output._shape))
            {
                throw new ArgumentException(
                    $"The gradient has shape {ShapeUtil.Format(grad._shape)}, but the output has shape {ShapeUtil.Format(output._shape)}; they must match.");
            }

            if (output.GradFn is { } fn)
            {
                pending[fn] = pending.TryGetValue(fn, out var existing) ? existing + grad : grad;
                roots.Add(fn);
            }
            else
            {
                leafPending[output] = leafPending.TryGetValue(output, out var existing) ? existing + grad : grad;
            }
        }

        // Count, for every reachable node and leaf, how many edges lead into it.
        var dependencies = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance as IEqualityComparer<Node>);
        var leafDependencies = new Dictionary<Tensor, int>(ReferenceEqualityComparer.Instance as IEqualityComparer<Tensor>);
        var stack = new Stack<Node>();
        foreach (var r in roots)
        {
            if (dependencies.TryAdd(r, 0)) stack.Push(r);
        }
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            for (int i = 0; i < n.NextFns.Length; i++)
            {
                var next = n.NextFns[i];
                if (next is null)
                {
                    if (n.Inputs[i] is { } leaf) leafDependencies[leaf] = leafDependencies.GetValueOrDefault(leaf) + 1;
                    continue;
                }
                if (dependencies.TryGetValue(next, out int c)) dependencies[next] = c + 1;
                else
                {
                    dependencies[next] = 1;
                    stack.Push(next);
                }
            }
        }

        // An output that is itself a leaf, and that no recorded op uses, gets its gradient now.
        foreach (var leaf in leafPending.Keys.ToArray())
        {
            if (!leafDependencies.ContainsKey(leaf)) DeliverPending(leaf);
        }

        // Ready nodes run latest-created first.
        var ready = new PriorityQueue<Node, long>();
        foreach (var r in roots)
        {
            if (dependencies[r] == 0)
            {
                dependencies[r] = -1;
                ready.Enqueue(r, -r.Sequence);
            }
        }

        // One edge into a leaf has been dealt with; once all have, the leaf gets the sum of what reached it.
        void ReleaseLeaf(Tensor leaf)
        {
            int remaining = leafDependencies[leaf] - 1;
            leafDependencies[leaf] = remaining;
            if (remaining == 0) DeliverPending(leaf);
        }

        void DeliverPending(Tensor leaf)
        {
            if (leafPending.Remove(leaf, out var g)) Deliver(leaf, g, createGraph, leafCapture, captured);
        }

        // One edge into `next` has been dealt with; once all have, it is ready to run.
        void Release(Node next)
        {
            int remaining = dependencies[next] - 1;
            dependencies[next] = remaining;
            if (remaining == 0)
            {
                dependencies[next] = -1;
                ready.Enqueue(next, -next.Sequence);
            }
        }

        while (ready.Count > 0)
        {
            var node = ready.Dequeue();
            if (!pending.Remove(node, out var grad))
            {
                // No gradient reached this node (every consumer returned null): pass "nothing" on, so that the
                // nodes and leaves below it are not left waiting for it.
                for (int i = 0; i < node.NextFns.Length; i++)
                {
                    if (node.NextFns[i] is { } next) Release(next);
                    else if (node.Inputs[i] is { } leaf) ReleaseLeaf(leaf);
                }
                continue;
            }

            if (node.TensorHooks is { } hooks)
            {
                foreach (var hook in hooks)
                {
                    if (hook is not null && hook(grad) is { } replaced) grad = CheckHookResult(replaced, grad, node.Name);
                }
            }
            if (node.RetainedTensor is { } retained)
            {
                retained.SetGradUnchecked(retained.Grad is null ? Own(grad, createGraph) : Accumulate(retained.Grad, grad, createGraph));
            }
            if (nodeCapture is not null && nodeCapture.TryGetValue(node, out int ci))
            {
                captured![ci] = grad;
            }

            var inputGrads = node.Apply(grad);
            if (!retainGraph) node.Release();

            for (int i = 0; i < node.Inputs.Length; i++)
            {
                var g = i < inputGrads.Length ? inputGrads[i] : null;
                var next = node.NextFns[i];
                if (next is not null)
                {
                    if (g is not null)
                    {
                        pending[next] = pending.TryGetValue(next, out var existing) ? existing + g : g;
                    }
                    Release(next);
                }
                else if (node.Inputs[i] is { } leaf)
                {
                    if (g is not null) leafPending[leaf] = leafPending.TryGetValue(leaf, out var existing) ? existing + g : g;
                    ReleaseLeaf(leaf);
                }
            }
        }

        return captured;
    }

    private static Tensor CheckHookResult(Tensor replaced, Tensor grad, string where)
    {
        if (!ShapeUtil.SameShape(replaced._shape, grad._shape))
        {
            throw new InvalidOperationException(
                $"A gradient hook (at {where}) returned a tensor of shape {ShapeUtil.Format(replaced._shape)}, but the gradient has shape {ShapeUtil.Format(grad._shape)}; a hook must keep the shape.");
        }
        return replaced;
    }

    /// <summary>Delivers a gradient computed outside the engine (a compiled program's fused backward) to a leaf: hooks, then accumulation.</summary>
    internal static void DeliverToLeaf(Tensor leaf, Tensor grad) => Deliver(leaf, grad, false, null, null);

    /// <summary>Runs a leaf's post-accumulate-grad hooks once its <c>.Grad</c> holds the new gradient (PyTorch: what
    /// <c>AccumulateGrad</c> does after accumulating).</summary>
    internal static void RunPostAccumulateGradHooks(Tensor leaf)
    {
        if (leaf.PostAccumulateGradHooks is not { } hooks) return;
        foreach (var hook in hooks) hook?.Invoke(leaf);
    }

    /// <summary>Runs a leaf's hooks, then accumulates into <c>.Grad</c> and runs its post-accumulate-grad hooks (or captures
    /// it for <see cref="Autograd.Grad(IReadOnlyList{Tensor}, IReadOnlyList{Tensor}, IReadOnlyList{Tensor?}?, bool?, bool, bool)"/>).</summary>
    private static void Deliver(Tensor leaf, Tensor grad, bool createGraph, Dictionary<Tensor, int>? leafCapture, Tensor?[]? captured)
    {
        int captureIndex = -1;
        if (captured is not null && (leafCapture is null || !leafCapture.TryGetValue(leaf, out captureIndex)))
        {
            // Autograd.Grad: a leaf that is not among the inputs gets nothing — its hooks don't run either (as in PyTorch).
            return;
        }
        if (leaf.LeafHooks is { } hooks)
        {
            foreach (var hook in hooks)
            {
                if (hook is not null && hook(grad) is { } replaced) grad = CheckHookResult(replaced, grad, "a leaf tensor");
            }
        }
        if (captured is not null)
        {
            captured[captureIndex] = captured[captureIndex] is null ? grad : captured[captureIndex]! + grad;
            return;
        }
        AccumulateIntoGrad(leaf, grad, createGraph);
    }

    /// <summary>Adds <paramref name="grad"/> to <paramref name="leaf"/>'s <c>.Grad</c> (PyTorch: what <c>AccumulateGrad</c> does).</summary>
    internal static void AccumulateIntoGrad(Tensor leaf, Tensor grad, bool createGraph)
    {
        var existing = leaf.Grad;
        if (existing is null)
        {
            // The incoming gradient may be shared with other consumers: keep our own copy.
            leaf.SetGradUnchecked(Own(grad, createGraph));
        }
        else
        {
            leaf.SetGradUnchecked(Accumulate(existing, grad, createGraph));
        }
        RunPostAccumulateGradHooks(leaf);
    }

    private static Tensor Own(Tensor grad, bool createGraph) => createGraph ? grad : grad.Detach().Clone();

    private static Tensor Accumulate(Tensor existing, Tensor grad, bool createGraph)
    {
        if (createGraph || existing.RequiresGrad) return existing + grad;
        existing.AddInPlaceUnchecked(grad);
        return existing;
    }
}
