namespace SharpGrad;

// The compiled loss head: a loss applied straight to a compiled program's output (the natural compiled loop,
// `Losses.CrossEntropy(c.Forward(x), y).Backward()`), recorded on the program's own tape node instead of a second node.
// The generator reroutes such calls here (an interceptor with the loss's own signature, docs/performance.md); anything
// this path does not fuse goes to the eager loss unchanged.
public static partial class CompiledSupport
{
    /// <summary>
    /// The tensor a compiled method returns: a copy of the first <paramref name="count"/> elements of the program's output
    /// buffer <paramref name="source"/>, its array from the caching allocator, flagged as a fresh compiled output so that a
    /// loss applied straight to it (<see cref="CrossEntropy"/>) may take the array over.
    /// </summary>
    public static Tensor Output(float[] source, int count, params int[] shape) => new(OutputStorage(source, count), shape);

    /// <summary>The storage of a compiled method's result: a copy of <paramref name="source"/>'s first <paramref name="count"/> elements, flagged as a fresh compiled output.</summary>
    private static Storage<float> OutputStorage(float[] source, int count)
    {
        ArgumentNullException.ThrowIfNull(source);
        var storage = Storage.CopyOf(source, count);
        storage.CompiledOutput = true;
        return storage;
    }

    /// <summary>
    /// <see cref="Output(float[], int, int[])"/> for a result of shape [<paramref name="rows"/>, <paramref name="columns"/>]
    /// (what generated code calls for a two-dimensional result): the tensor's shape and strides arrays are shared with the
    /// previous such output of the same shape (a tensor never changes its own), so a call allocates only the tensor, its
    /// storage and the storage's array.
    /// </summary>
    public static Tensor Output(float[] source, int count, int rows, int columns)
    {
        var storage = OutputStorage(source, count);
        var layout = s_lastOutputLayout;
        if (layout is null || layout.Shape[0] != rows || layout.Shape[1] != columns)
            s_lastOutputLayout = layout = new OutputLayout([rows, columns], [columns, 1]);
        return new Tensor(storage, layout.Shape, layout.Strides, 0);
    }

    // The last two-dimensional output's shape and strides (immutable once made; read and replaced as one reference, so
    // threads may race on it harmlessly).
    private static OutputLayout? s_lastOutputLayout;

    private sealed class OutputLayout(int[] shape, int[] strides)
    {
        public readonly int[] Shape = shape;
        public readonly int[] Strides = strides;
    }

    /// <summary>
    /// The tape backward's first step: the gradient of the program's output into <paramref name="destination"/> (its first
    /// <paramref name="count"/> elements). For a node that computes a fused loss after the program (<see cref="CrossEntropy"/>)
    /// <paramref name="g"/> is the loss's gradient and the loss's backward writes the output's gradient there; otherwise
    /// <paramref name="g"/> is the output's gradient, copied.
    /// </summary>
    public static void OutputGrad(Tensor g, Node node, float[] destination, int count)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (node.LossHead is { } head) head.Backward(g, destination, count);
        else CopyInto(g, destination, count);
    }

    /// <summary>
    /// <see cref="Losses.CrossEntropy"/> of a compiled method's output (PyTorch: <c>F.cross_entropy(model(x), y)</c> after
    /// <c>torch.compile</c>), what the generator calls for <c>Losses.CrossEntropy(c.Forward(x), y, …)</c>. When
    /// <paramref name="input"/> is the untouched output of a compiled call recorded on the tape, the targets are class
    /// indices of shape [N], and the reduction is Mean or Sum, the loss is computed in place of the output's copy (which no
    /// user code can reach) and recorded on the program's own node: its backward writes the loss's gradient into the
    /// program's output gradient and runs the program's backward (no second node, no logits or logits-gradient tensor).
    /// The value and every gradient are the eager loss's. Any other call is the eager <see cref="Losses.CrossEntropy"/>.
    /// </summary>
    public static Tensor CrossEntropy(Tensor input, Tensor target, Tensor? weight, long ignoreIndex, double labelSmoothing, Reduction reduction)
    {
        if (input?.Storage is not Storage<float> { CompiledOutput: true, Escaped: false, Holders: 0 } storage || input.GradFn is not { LossHead: null } node ||
            target is null || !Autograd.IsGradEnabled || input.Rank != 2 || !input.IsContiguous || input.Offset != 0 ||
            target.DType is not (DType.Int64 or DType.Int32) || target.Rank != 1 || target.Size(0) != input.Size(0) ||
            reduction is not (Reduction.Mean or Reduction.Sum) || !(labelSmoothing >= 0 && labelSmoothing <= 1) ||
            weight is not null && (weight.Rank != 1 || weight.Size(0) != input.Size(1)))
        {
            // The eager loss (and its checks and messages) for everything else.
            return Losses.CrossEntropy(input!, target!, weight, ignoreIndex, labelSmoothing, reduction);
        }
        storage.CompiledOutput = false;
        int n = input.Size(0), c = input.Size(1);
        var targets = new Kernels.Indices(target);
        Kernels.ClassIndexLoss.CheckRange("CrossEntropy", targets, c, ignoreIndex);
        var setup = new Kernels.ClassIndexLoss.Setup
        {
            N = n, C = c, S = 1, Weight = weight?.ToDoubleArray(), IgnoreIndex = ignoreIndex, Smoothing = labelSmoothing, Reduction = reduction, LogSoftmax = true,
        };
        // The log-probabilities overwrite the output's copy: only this loss reads them, at its backward.
        var values = new Span<float>(storage.Data, 0, n * c);
        double total = Kernels.ClassIndexLoss.Forward<float>(values, values, targets, ref setup, []);
        storage.Internal = true;
        var result = Tensor.Full([], total, DType.Float32);
        node.AttachLossHead(new CompiledLossHead(storage, target, targets, setup), "CrossEntropyLossBackward");
        result.SetGradFn(node);
        return result;
    }
}

/// <summary>
/// A loss recorded on a compiled program's node (<see cref="CompiledSupport.CrossEntropy"/>): the log-probabilities it
/// kept, the targets and the loss's options; its backward writes the gradient of the program's output.
/// </summary>
internal sealed class CompiledLossHead
{
    private readonly Storage<float> _logp;
    private readonly Tensor _target;
    private readonly int _targetVersion;
    private readonly Kernels.Indices _targets;
    private readonly Kernels.ClassIndexLoss.Setup _setup;

    public CompiledLossHead(Storage<float> logp, Tensor target, Kernels.Indices targets, Kernels.ClassIndexLoss.Setup setup)
    {
        _logp = logp;
        _target = target;
        _targetVersion = target.Version;
        _targets = targets;
        _setup = setup;
    }

    /// <summary>Writes d loss / d output for the loss gradient <paramref name="g"/> into <paramref name="destination"/>.</summary>
    public void Backward(Tensor g, float[] destination, int count)
    {
        // The eager loss saves its target (PyTorch: nll_loss does): an in-place change before the backward is an error.
        if (_target.Version != _targetVersion) throw Node.ModifiedInPlace(_target, _targetVersion, "CrossEntropyLossBackward");
        if (_logp.Released) throw new InvalidOperationException("CrossEntropyLossBackward: the loss's saved values were freed by an earlier backward.");
        Span<float> gLoss = [g.Item()];   // a scalar loss: its gradient is one value
        Kernels.ClassIndexLoss.Backward<float>(new ReadOnlySpan<float>(_logp.Data, 0, count), gLoss, new Span<float>(destination, 0, count), _targets, _setup, accumulate: false);
    }

    /// <summary>The node is freed: the log-probabilities' array goes back to the caching allocator.</summary>
    public void Release() => _logp.TryRecycle();
}
