namespace SharpGrad.Layers;

/// <summary>
/// The intermediates of one call of a composite layer of SharpGrad's own (a Transformer encoder or decoder layer or stack,
/// MultiheadAttention) for the eager caching allocator (PyTorch: libtorch's allocator gets every intermediate back when its
/// last reference goes). <see cref="Sequential"/> hands back what passes between its children (<c>PassedOn</c>); inside a
/// composite layer the tensors its own ops create (the projections, the normed rows, the feed-forward's hidden layer, the
/// residual sums) are never seen by user code either, but nothing marked them, so every eager step allocated them anew
/// (20 MB per step of transformer_train_step_b16, with the collections and page faults that brings; docs/performance.md,
/// "Session 11"). A call is bracketed by <see cref="Begin"/> and <see cref="End"/>: the tensors saved by the autograd nodes
/// the call recorded, created during the call and not returned, are marked internal, so each goes back to the allocator
/// when backward releases the last node that saved it; <see cref="Dead"/> hands back at once a result no node saved (a
/// residual block's output once it has been added). Inactive when user code could see inside the call: a module of the
/// tree is not SharpGrad's own or has a hook, or the allocator is off.
/// </summary>
internal readonly struct LayerIntermediates
{
    private readonly long _storageFrom, _nodeFrom;
    private readonly bool _active;

    private LayerIntermediates(long storageFrom, long nodeFrom) => (_storageFrom, _nodeFrom, _active) = (storageFrom, nodeFrom, true);

    /// <summary>Starts a call of <paramref name="module"/> (before it creates anything).</summary>
    internal static LayerIntermediates Begin(Module module) =>
        CachingAllocator.Enabled && IsOwnTreeWithoutHooks(module, 0) ? new(Storage.NextSequence, Node.NextSequence) : default;

    /// <summary>
    /// <paramref name="t"/>, created during the call, is read by nothing any more (no node saved it, it is not returned):
    /// its memory goes back to the allocator now (if a node did save it, when that node is released).
    /// </summary>
    internal void Dead(Tensor t)
    {
        var storage = t.Storage;
        if (!_active || storage.Sequence < _storageFrom || storage.Escaped || !storage.Recyclable) return;
        storage.Internal = true;
        storage.TryRecycle();
    }

    /// <summary>
    /// Ends the call that returns <paramref name="output"/> (and <paramref name="alsoReturned"/>, e.g. attention weights):
    /// every tensor a node of this call saved, created during the call and not over a returned storage, is marked internal.
    /// Returns <paramref name="output"/>.
    /// </summary>
    internal Tensor End(Tensor output, Tensor? alsoReturned = null)
    {
        if (!_active || output.GradFn is not { } root || root.Sequence < _nodeFrom) return output;
        var kept = output.Storage;
        var keptToo = alsoReturned?.Storage;
        var pending = new Stack<Node>();
        var seen = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        pending.Push(root);
        seen.Add(root);
        while (pending.Count > 0)
        {
            var node = pending.Pop();
            if (node.Saved is { } saved)
            {
                foreach (var t in saved)
                {
                    var storage = t.Storage;
                    if (storage.Sequence < _storageFrom || ReferenceEquals(storage, kept) || ReferenceEquals(storage, keptToo)
                        || storage.Escaped || !storage.Recyclable) continue;
                    storage.Internal = true;
                }
            }
            foreach (var next in node.NextFns)
            {
                // Nodes recorded before the call belong to the inputs' history (and to whoever holds those).
                if (next is not null && next.Sequence >= _nodeFrom && seen.Add(next)) pending.Push(next);
            }
        }
        return output;
    }

    /// <summary>True when every module of the tree is one of SharpGrad's own classes and none has a hook.</summary>
    private static bool IsOwnTreeWithoutHooks(Module module, int depth)
    {
        if (module.HasHooks || module.GetType().Assembly != typeof(LayerIntermediates).Assembly || depth > 16) return false;
        foreach (var (_, child) in Module.RegisteredChildrenOf(module))
        {
            if (child is not null && !IsOwnTreeWithoutHooks(child, depth + 1)) return false;
        }
        return true;
    }
}
