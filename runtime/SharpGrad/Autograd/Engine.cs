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

    /// <summary>True while the backward pass running on this thread accumulates leaf gradients into <c>.Grad</c> (no
    /// <c>Autograd.Grad</c> capture, no <c>createGraph</c>): a compiled node may then write a parameter's gradient into
    /// <c>.Grad</c> itself (<see cref="CompiledSupport.BindTapeGrad(Node, int, Tensor, ref Tensor?)"/>).</summary>
    [ThreadStatic] private static bool t_deliversToGrad;

    internal static bool DeliversToGrad => t_deliversToGrad;

    internal static void QueueCallback(Action callback)
    {
        (t_callbacks ?? throw new InvalidOperationException(
            "Autograd.QueueCallback can only be called while a backward pass runs on this thread (from a gradient hook); " +
            "outside of one there is no end of backward to run it at.")).Add(callback);
    }

    /// <summary>
    /// The bookkeeping collections of one backward pass, kept per thread and cleared after each pass, so that a training
    /// step's backward allocates no dictionaries, queues or lists (a nested pass, from a hook, gets its own).
    /// </summary>
    private sealed class Scratch
    {
        public readonly List<Action> Callbacks = [];
        public readonly Dictionary<Node, Tensor> Pending = new(ReferenceEqualityComparer.Instance as IEqualityComparer<Node>);
        public readonly Dictionary<Tensor, Tensor> LeafPending = new(ReferenceEqualityComparer.Instance as IEqualityComparer<Tensor>);
        public readonly List<Node> Roots = [];
        public readonly Dictionary<Node, int> Dependencies = new(ReferenceEqualityComparer.Instance as IEqualityComparer<Node>);
        public readonly Dictionary<Tensor, int> LeafDependencies = new(ReferenceEqualityComparer.Instance as IEqualityComparer<Tensor>);
        public readonly Stack<Node> Stack = new();
        public readonly PriorityQueue<Node, long> Ready = new();

        /// <summary>Drops every reference the pass left (the collections keep their capacity).</summary>
        public void Clear()
        {
            Callbacks.Clear();
            Pending.Clear();
            LeafPending.Clear();
            Roots.Clear();
            Dependencies.Clear();
            LeafDependencies.Clear();
            Stack.Clear();
            Ready.Clear();
        }
    }

    /// <summary>This thread's idle <see cref="Scratch"/> (null while a pass uses it).</summary>
    [ThreadStatic] private static Scratch? t_scratch;

    /// <summary>The float32 scalar 1 that seeds the backward of a fused compiled loss (never written, never shown to user code).</summary>
    private static readonly Tensor s_lossSeed = CreateLossSeed();

    private static Tensor CreateLossSeed()
    {
        var one = Tensor.Full([], 1.0, DType.Float32);
        one.Storage.Escape();   // never recycled
        return one;
    }

    public static Tensor?[]? Run(
        IReadOnlyList<Tensor> outputs,
        IReadOnlyList<Tensor?>? gradOutputs,
        bool retainGraph,
        bool createGraph,
        IReadOnlyList<Tensor>? captureInputs)
    {
        var outer = t_callbacks;
        bool outerDelivers = t_deliversToGrad;
        var scratch = t_scratch ?? new Scratch();
        t_scratch = null;
        var callbacks = t_callbacks = scratch.Callbacks;
        t_deliversToGrad = captureInputs is null && !createGraph;
        try
        {
            var captured = RunGraph(scratch, outputs, gradOutputs, retainGraph, createGraph, captureInputs);
            // Callbacks may queue more callbacks; they run too, in order (PyTorch: queue_callback).
            for (int i = 0; i < callbacks.Count; i++) callbacks[i]();
            return captured;
        }
        finally
        {
            t_callbacks = outer;
            t_deliversToGrad = outerDelivers;
            scratch.Clear();
            t_scratch = scratch;
        }
    }

    private static Tensor?[]? RunGraph(
        Scratch scratch,
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

        var pending = scratch.Pending;
        var leafPending = scratch.LeafPending;
        var roots = scratch.Roots;
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
                // The seed of a fused compiled loss is read by that loss's backward only (no hook, no capture sees it): a shared one.
                grad = output.GradFn is { LossHead: not null, TensorHooks: null, RetainedTensor: null } && output.DType == DType.Float32 &&
                       captureInputs is null && !createGraph
                    ? s_lossSeed
                    : Tensor.OnesLike(output);
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
        var dependencies = scratch.Dependencies;
        var leafDependencies = scratch.LeafDependencies;
        var stack = scratch.Stack;
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
        // (leafPending holds only such outputs here; an output listed twice is delivered once.)
        for (int i = 0; i < outputs.Count; i++)
        {
            var leaf = outputs[i];
            if (leaf.GradFn is null && !leafDependencies.ContainsKey(leaf)) DeliverPending(leaf);
        }

        // Ready nodes run latest-created first.
        var ready = scratch.Ready;
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
                Expose(grad);
                foreach (var hook in hooks)
                {
                    if (hook is not null && hook(grad) is { } replaced) grad = CheckHookResult(replaced, grad, node.Name);
                }
            }
            if (node.RetainedTensor is { } retained)
            {
                // (not recycled after the accumulation: grad still goes to this node's backward)
                retained.SetGradUnchecked(retained.GradInternal is null ? Own(grad, createGraph) : Accumulate(retained.GradInternal, grad, createGraph, recycle: false));
            }
            if (nodeCapture is not null && nodeCapture.TryGetValue(node, out int ci))
            {
                Expose(grad);
                captured![ci] = grad;
            }

            long createdFrom = Storage.NextSequence;
            var inputGrads = node.Apply(grad);
            if (!retainGraph) node.Release();
            if (!createGraph) TakeOwnership(grad, inputGrads, createdFrom);

            for (int i = 0; i < node.Inputs.Length; i++)
            {
                var g = i < inputGrads.Length ? inputGrads[i] : null;
                var next = node.NextFns[i];
                if (next is not null)
                {
                    if (g is not null)
                    {
                        pending[next] = pending.TryGetValue(next, out var existing) ? Sum(existing, g, createGraph) : g;
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

    /// <summary>
    /// After <c>node.Apply(grad)</c>: the results the backward function created (storages newer than
    /// <paramref name="createdFrom"/>, or the incoming gradient passed on when the engine owned it), each returned for one
    /// input only, are owned by the engine (<see cref="Tensor.EngineOwned"/>); the others are shared. The incoming gradient,
    /// if the engine owned it and nothing returned shares its memory, goes back to the caching allocator.
    /// </summary>
    private static void TakeOwnership(Tensor grad, Tensor?[] inputGrads, long createdFrom)
    {
        bool gradPassedOn = false;
        for (int i = 0; i < inputGrads.Length; i++)
        {
            var g = inputGrads[i];
            if (g is null) continue;
            var storage = g.Storage;
            bool shared = false;
            for (int j = 0; j < inputGrads.Length && !shared; j++)
                shared = j != i && inputGrads[j] is { } other && ReferenceEquals(other.Storage, storage);
            bool isIncoming = ReferenceEquals(storage, grad.Storage);
            gradPassedOn |= isIncoming;
            bool owned = !shared && storage.Recyclable && !storage.Escaped && g._gradFn is null
                && (storage.Sequence >= createdFrom || (isIncoming && grad.EngineOwned));
            g.EngineOwned = owned;
            if (owned) storage.Internal = true;
        }
        if (grad.EngineOwned && !gradPassedOn)
        {
            grad.EngineOwned = false;
            grad.Storage.TryRecycle();
        }
    }

    /// <summary>existing + g for two gradients of one node; the engine owns the sum, and the parts it owned are recycled.</summary>
    private static Tensor Sum(Tensor existing, Tensor g, bool createGraph)
    {
        var sum = existing + g;
        if (createGraph) return sum;
        sum.EngineOwned = sum.Storage.Recyclable;
        sum.Storage.Internal = true;
        foreach (var part in new[] { existing, g })
        {
            if (!part.EngineOwned) continue;
            part.EngineOwned = false;
            part.Storage.TryRecycle();
        }
        return sum;
    }

    /// <summary>A gradient shown to user code (a hook, <c>Autograd.Grad</c>): never recycled, never taken without a copy.</summary>
    private static void Expose(Tensor grad)
    {
        grad.EngineOwned = false;
        grad.Storage.Escape();
    }

    private static Tensor CheckHookResult(Tensor replaced, Tensor grad, string where)
    {
        if (!ShapeUtil.SameShape(replaced._shape, grad._shape))
        {
            throw new InvalidOperationException(
                $"A gradient hook (at {where}) returned a tensor of shape {ShapeUtil.Format(replaced._shape)}, but the gradient has shape {ShapeUtil.Format(grad._shape)}; a hook must keep the shape.");
        }
        Expose(replaced);
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
            Expose(grad);
            foreach (var hook in hooks)
            {
                if (hook is not null && hook(grad) is { } replaced) grad = CheckHookResult(replaced, grad, "a leaf tensor");
            }
        }
        if (captured is not null)
        {
            Expose(grad);
            captured[captureIndex] = captured[captureIndex] is null ? grad : captured[captureIndex]! + grad;
            return;
        }
        AccumulateIntoGrad(leaf, grad, createGraph);
    }

    /// <summary>Adds <paramref name="grad"/> to <paramref name="leaf"/>'s <c>.Grad</c> (PyTorch: what <c>AccumulateGrad</c> does).</summary>
    internal static void AccumulateIntoGrad(Tensor leaf, Tensor grad, bool createGraph)
    {
        var existing = leaf.GradInternal;
        if (existing is null)
        {
            leaf.SetGradUnchecked(Own(grad, createGraph));
        }
        else
        {
            leaf.SetGradUnchecked(Accumulate(existing, grad, createGraph, recycle: true));
        }
        RunPostAccumulateGradHooks(leaf);
    }

    /// <summary>
    /// The tensor that becomes a <c>.Grad</c>: the gradient itself when only the engine holds it (PyTorch's AccumulateGrad
    /// steals a gradient whose reference count is one), else a copy (it may be shared with other consumers).
    /// </summary>
    private static Tensor Own(Tensor grad, bool createGraph)
    {
        if (createGraph) return grad;
        if (grad.EngineOwned && grad.IsContiguous && grad.Offset == 0 && grad.NumElements == grad.Storage.Length)
        {
            grad.EngineOwned = false;   // the leaf owns it now (its Grad getter marks it escaped when user code reads it)
            return grad;
        }
        var copy = grad.Detach().Clone();
        copy.Storage.Internal = true;
        return copy;
    }

    private static Tensor Accumulate(Tensor existing, Tensor grad, bool createGraph, bool recycle)
    {
        if (createGraph || existing.RequiresGrad) return existing + grad;
        existing.AddInPlaceUnchecked(grad);
        if (recycle && grad.EngineOwned)
        {
            grad.EngineOwned = false;
            grad.Storage.TryRecycle();
        }
        return existing;
    }
}
