namespace SharpGrad;

/// <summary>
/// Computes the gradients of an op's inputs from the gradient of its output.
/// Returns one entry per input of the node (null where an input needs no gradient).
/// Use <see cref="Node.NeedsInputGrad"/> to skip work for inputs that do not require grad.
/// </summary>
public delegate Tensor?[] BackwardFunction(Tensor gradOutput, Node node);

/// <summary>
/// One recorded operation of the autograd graph (PyTorch: a <c>grad_fn</c> such as <c>MulBackward0</c>).
/// Each node produces exactly one tensor; its <see cref="Name"/> appears in error messages.
/// </summary>
public sealed class Node
{
    internal readonly Tensor?[] Inputs;
    internal readonly Node?[] NextFns;
    private BackwardFunction? _backward;
    private readonly Tensor[]? _saved;
    private readonly int[]? _savedVersions;
    internal bool Released;

    /// <summary>Hooks registered on the (non-leaf) output tensor; see <see cref="Tensor.RegisterHook(Func{Tensor, Tensor?})"/>.</summary>
    internal List<Func<Tensor, Tensor?>?>? TensorHooks;

    /// <summary>The output tensor, when <see cref="Tensor.RetainGrad"/> was called on it.</summary>
    internal Tensor? RetainedTensor;

    /// <summary>Creation order, used to run backward in reverse order of the forward.</summary>
    internal readonly long Sequence;

    private static long s_sequence;

    /// <summary>The sequence number the next node will get (compare with <see cref="Sequence"/> to find the nodes a call recorded).</summary>
    internal static long NextSequence => Volatile.Read(ref s_sequence) + 1;

    /// <summary>The tensors this node saved for its backward (null when it saved none).</summary>
    internal Tensor[]? Saved => _saved;

    internal Node(string name, Tensor?[] inputs, BackwardFunction backward, Tensor[]? saved)
    {
        Name = name;
        Inputs = new Tensor?[inputs.Length];
        NextFns = new Node?[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            var t = inputs[i];
            if (t is null || !t.RequiresGrad) continue;
            if (t.GradFn is { } fn) NextFns[i] = fn;
            else Inputs[i] = t; // a leaf that requires grad: AccumulateGrad
        }
        _backward = backward;
        if (saved is { Length: > 0 })
        {
            _saved = saved;
            _savedVersions = new int[saved.Length];
            for (int i = 0; i < saved.Length; i++)
            {
                _savedVersions[i] = saved[i].Version;
                Interlocked.Increment(ref saved[i].Storage.Holders);
            }
        }
        Sequence = Interlocked.Increment(ref s_sequence);
    }

    /// <summary>The op's name, like PyTorch's (<c>MulBackward</c>, <c>AddmmBackward</c>, …).</summary>
    public string Name { get; private set; }

    /// <summary>
    /// The loss a compiled program's node computes after the program (a fused loss head,
    /// <see cref="CompiledSupport.CrossEntropy"/>): the node's output is then the loss, and the program's backward starts
    /// from the loss's gradient (<see cref="CompiledSupport.OutputGrad"/>). Null for every other node.
    /// </summary>
    internal CompiledLossHead? LossHead { get; private set; }

    /// <summary>The generation and batch size of the compiled call that recorded this node (<see cref="CompiledSupport.Generation"/>).</summary>
    internal int CompiledGeneration, CompiledBatch;

    /// <summary>Makes this compiled program's node compute <paramref name="head"/> after the program, under the loss's name.</summary>
    internal void AttachLossHead(CompiledLossHead head, string name)
    {
        LossHead = head;
        Name = name;
    }

    /// <summary>The number of inputs of the op.</summary>
    public int InputCount => Inputs.Length;

    /// <summary>True if input <paramref name="i"/> requires a gradient (PyTorch: <c>needs_input_grad</c>).</summary>
    public bool NeedsInputGrad(int i) => Inputs[i] is not null || NextFns[i] is not null;

    /// <summary>True if input <paramref name="i"/> is <paramref name="leaf"/> itself, a leaf whose gradient the engine
    /// accumulates into its <c>.Grad</c> (no node in between).</summary>
    internal bool IsLeafInput(int i, Tensor leaf) => ReferenceEquals(Inputs[i], leaf);

    /// <summary>The nodes this node passes gradients to (null entries for leaves and inputs without grad).</summary>
    public IReadOnlyList<Node?> NextFunctions => NextFns;

    internal Tensor?[] Apply(Tensor gradOutput)
    {
        if (Released || _backward is null)
        {
            throw new InvalidOperationException(
                $"Trying to backward through the graph a second time (through {Name}), but its saved tensors were already freed by the first Backward(). " +
                "Pass retainGraph: true to the first Backward() (or Autograd.Grad) if you need to backward through the same graph again.");
        }
        if (_saved is not null)
        {
            for (int i = 0; i < _saved.Length; i++)
            {
                if (_saved[i].Version != _savedVersions![i]) throw ModifiedInPlace(_saved[i], _savedVersions[i], Name);
            }
        }
        return _backward(gradOutput, this);
    }

    /// <summary>
    /// The error of a backward that finds a tensor it saved changed in place since (PyTorch's "one of the variables needed
    /// for gradient computation has been modified by an inplace operation"): <paramref name="saved"/> is at another version
    /// than <paramref name="expected"/>, the one <paramref name="name"/> recorded.
    /// </summary>
    internal static InvalidOperationException ModifiedInPlace(Tensor saved, int expected, string name) => new(
        $"One of the tensors needed for gradient computation has been modified by an in-place operation: the tensor of shape " +
        $"{ShapeUtil.Format(saved._shape)} saved by {name} is at version {saved.Version}; expected version {expected}. " +
        $"Use the out-of-place op (e.g. Relu instead of Relu_, x + y instead of x.Add_(y)) on tensors that {name} needs for backward.");

    /// <summary>Frees what backward needed; only nodes that saved tensors refuse a second backward, as in PyTorch.</summary>
    internal void Release()
    {
        if (_saved is not null && !Released)
        {
            Released = true;
            _backward = null;
            LossHead?.Release();
            // The saved tensors are no longer held by this node: an intermediate nothing else holds goes back to the caching allocator.
            foreach (var t in _saved)
            {
                var storage = t.Storage;
                if (Interlocked.Decrement(ref storage.Holders) == 0) storage.TryRecycle();
            }
        }
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
