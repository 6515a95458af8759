using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace SharpGrad.Distributed;

/// <summary>
/// Data-parallel training (PyTorch: <c>torch.nn.parallel.DistributedDataParallel</c>): every rank holds a replica of the
/// model, runs it on its own part of each batch, and after every backward pass holds the gradients averaged over all
/// ranks, so that identical optimizer steps keep the replicas identical.
/// </summary>
/// <remarks>
/// <para><b>Construction</b> checks that every rank wraps the same model (names, dtypes and shapes of its parameters and
/// buffers) and copies rank 0's parameters and buffers to the others.</para>
/// <para><b>During backward</b> — the eager engine's <c>loss.Backward()</c>, the backward of a compiled program's tape
/// node, or a compiled <c>LossBackward</c> — each parameter's gradient is copied into a bucket as soon as it has been
/// accumulated (<see cref="Tensor.RegisterPostAccumulateGradHook"/>). Buckets hold the parameters in reverse registration
/// order (the order their gradients usually become ready: last layer first), up to <c>bucketCapMb</c> MiB each (the
/// bucket of the first layers at most 1 MiB, as in PyTorch); a bucket's all-reduce starts as soon as its last gradient
/// arrives, overlapping the rest of the backward. At the end of the backward DDP waits for the all-reduces and writes
/// the averages into <c>.Grad</c>, then (unless <c>broadcastBuffers</c> is false) copies rank 0's buffers to the others.</para>
/// <para><b>Parameters without a gradient</b> in a backward (unused in that forward) are handled without any option: their
/// current <c>.Grad</c> (or zeros) joins the average when another rank did use them, and their <c>.Grad</c> is left as it
/// is when no rank did. Parameters that do not require grad are not reduced. A compiled <c>LossBackward</c> runs without
/// the autograd engine, so DDP ends its reduction when every parameter has its gradient; a model whose compiled loss
/// leaves some parameters without gradient must run the eager <c>Backward</c> (or freeze those parameters), and DDP says so.</para>
/// <para><b>What is synchronised</b>: gradients (averaged), buffers (copied from rank 0 after each synchronised backward,
/// as PyTorch copies them before each forward). Batch statistics of BatchNorm in training mode are each rank's own, as in
/// PyTorch without <c>SyncBatchNorm</c>. Random numbers (dropout masks) are each rank's own.</para>
/// </remarks>
public sealed class DistributedDataParallel : IDisposable
{
    private const long FirstBucketBytes = 1 << 20; // PyTorch: dist._DEFAULT_FIRST_BUCKET_BYTES

    private static readonly ConditionalWeakTable<Module, DistributedDataParallel> s_wrapped = new();

    private readonly ProcessGroup _group;
    private readonly Slot[] _slots;
    private readonly Bucket[] _buckets;
    private readonly int[] _requests;
    private readonly Tensor[] _buffers;
    private readonly HookHandle[] _hooks;
    private readonly long _layoutHash;
    private readonly long _totalElements;
    private readonly bool _broadcastBuffers;
    private int _noSyncDepth;
    private bool _stepStarted;
    private bool _engineDriven;
    private int _nextBucket;
    private long _steps;
    private long _waitTicks;
    private bool _disposed;

    /// <summary>
    /// Wraps <paramref name="model"/> for data-parallel training over <paramref name="group"/> (PyTorch:
    /// <c>DistributedDataParallel(module, process_group=…, bucket_cap_mb=…, broadcast_buffers=…)</c>). Every rank must call it
    /// with the same model; rank 0's parameters and buffers are copied to the other ranks.
    /// </summary>
    /// <param name="model">The model; train it as usual (<c>model.Forward</c>, a compiled program, <c>Backward</c>, an optimizer).</param>
    /// <param name="group">The ranks to average over.</param>
    /// <param name="bucketCapMb">The largest bucket, in MiB (PyTorch: <c>bucket_cap_mb</c>).</param>
    /// <param name="broadcastBuffers">Copy rank 0's buffers (BatchNorm running statistics) to the other ranks after every
    /// synchronised backward (PyTorch: <c>broadcast_buffers</c>).</param>
    /// <exception cref="ArgumentException">A parameter or buffer is not contiguous, or the model is already wrapped.</exception>
    /// <exception cref="DistributedException">The ranks' models differ, or they called different collectives.</exception>
    public DistributedDataParallel(Module model, ProcessGroup group, int bucketCapMb = 25, bool broadcastBuffers = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(group);
        group.ThrowIfDisposed();
        if (bucketCapMb <= 0) throw new ArgumentOutOfRangeException(nameof(bucketCapMb), bucketCapMb, "DistributedDataParallel: bucketCapMb must be at least 1 (MiB).");
        lock (s_wrapped)
        {
            if (s_wrapped.TryGetValue(model, out var other) && !other._disposed)
            {
                throw new ArgumentException($"DistributedDataParallel: this {model.GetType().Name} is already wrapped by another DistributedDataParallel; dispose that one first.", nameof(model));
            }
            s_wrapped.AddOrUpdate(model, this);
        }
        Module = model;
        _group = group;
        _broadcastBuffers = broadcastBuffers;

        var parameters = model.NamedParameters().ToList();
        var buffers = model.NamedBuffers().ToList();
        var states = parameters.Concat(buffers).ToList();
        foreach (var (name, tensor) in states)
        {
            if (!tensor.IsContiguous)
            {
                throw new ArgumentException($"DistributedDataParallel: '{name}' (shape {ProcessGroup.Format(tensor.Shape)}) is not contiguous; replace it with a contiguous tensor first.", nameof(model));
            }
        }
        _layoutHash = LayoutHash(states);
        long stateElements = states.Sum(s => (long)s.Value.NumElements);
        group.Agree(CollectiveDescriptor.Ddp(CollectiveKind.DdpConstruction, states.Count, stateElements, _layoutHash, bucketCapMb));
        foreach (var (name, tensor) in states) group.BroadcastRaw(tensor, 0, $"new DistributedDataParallel(…): copying '{name}' from rank 0");
        _buffers = buffers.Select(b => b.Value).ToArray();

        var reduced = parameters.Where(p => p.Value.RequiresGrad).ToList();
        _slots = reduced.Select(p => new Slot(p.Name, p.Value)).ToArray();
        _buckets = AssignBuckets(_slots, (long)bucketCapMb << 20);
        _requests = new int[_buckets.Length];
        _totalElements = _buckets.Sum(b => (long)b.Length);
        ResetStep();

        _hooks = new HookHandle[_slots.Length];
        for (int i = 0; i < _slots.Length; i++)
        {
            var slot = _slots[i];
            _hooks[i] = slot.Parameter.RegisterPostAccumulateGradHook(_ => OnGradientAccumulated(slot));
        }
    }

    /// <summary>The wrapped model (PyTorch: <c>ddp.module</c>); save and load it as usual.</summary>
    public Module Module { get; }

    /// <summary>The ranks this model is averaged over (PyTorch: <c>ddp.process_group</c>).</summary>
    public ProcessGroup Group => _group;

    /// <summary>The names of the parameters in each bucket, in the order the buckets are reduced (the last layers first).</summary>
    public IReadOnlyList<IReadOnlyList<string>> Buckets => _buckets.Select(b => (IReadOnlyList<string>)b.Slots.Select(s => s.Name).ToArray()).ToArray();

    /// <summary>How many backward passes have had their gradients averaged.</summary>
    public long SynchronizedSteps => _steps;

    /// <summary>The time spent, at the end of synchronised backward passes, waiting for the all-reduces to finish (after the
    /// gradients were computed): the communication not hidden behind the backward (PyTorch: the reducer's
    /// <c>avg_backward_comm_time</c> minus its overlap, from DDP's logging data).</summary>
    public TimeSpan CommunicationWait => Stopwatch.GetElapsedTime(0, _waitTicks);

    /// <summary>How many buckets' all-reduces the backward now running has started (for tests of the overlap).</summary>
    internal int StartedBuckets => _nextBucket;

    /// <summary>Runs the model on <paramref name="inputs"/> with its hooks (PyTorch: <c>ddp_model(x)</c>); the same as <c>Module.Call</c>.</summary>
    public Tensor Call(params Tensor[] inputs) => Module.Call(inputs);

    /// <summary>
    /// Until the returned scope is disposed, backward passes accumulate gradients locally without averaging them (PyTorch:
    /// <c>with ddp.no_sync():</c>): for gradient accumulation over micro-batches, run all but the last micro-batch's
    /// backward inside it; the next backward outside averages the accumulated gradients.
    /// </summary>
    public IDisposable NoSync()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _noSyncDepth++;
        return new NoSyncScope(this);
    }

    /// <summary>Removes DDP's gradient hooks: the model trains on its own again.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var hook in _hooks) hook.Dispose();
        lock (s_wrapped) s_wrapped.Remove(Module);
    }

    private sealed class NoSyncScope(DistributedDataParallel owner) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            owner._noSyncDepth--;
        }
    }

    // ---------------- the reducer ----------------

    private void OnGradientAccumulated(Slot slot)
    {
        slot.Used = true;
        if (_noSyncDepth > 0) return;
        if (!_stepStarted) BeginStep();
        if (slot.Ready) throw PreviousStepUnfinished();
        MarkReady(slot);
        LaunchReadyBuckets();
        _group.Progress(_requests.AsSpan(0, _nextBucket));
        // Without the engine (a compiled LossBackward) there is no end-of-backward callback: the reduction ends when the
        // last gradient arrives.
        if (!_engineDriven && _nextBucket == _buckets.Length) FinishStep();
    }

    private void BeginStep()
    {
        try
        {
            _group.Agree(CollectiveDescriptor.Ddp(CollectiveKind.DdpReduction, _buckets.Length, _totalElements, _steps, _layoutHash));
        }
        catch
        {
            ResetStep();
            throw;
        }
        _stepStarted = true;
        _engineDriven = Autograd.IsBackwardRunning;
        if (_engineDriven) Autograd.QueueCallback(FinishStep);
    }

    private void MarkReady(Slot slot)
    {
        slot.Ready = true;
        var bucket = _buckets[slot.Bucket];
        bucket.CopyIn(slot);
        bucket.Pending--;
    }

    /// <summary>Starts the all-reduce of every complete bucket, in bucket order (all ranks must start them in the same order).</summary>
    private void LaunchReadyBuckets()
    {
        while (_nextBucket < _buckets.Length && _buckets[_nextBucket].Pending == 0)
        {
            _requests[_nextBucket] = _buckets[_nextBucket].StartAllReduce(_group.Communicator);
            _nextBucket++;
        }
    }

    /// <summary>The end of a synchronised backward: the parameters that got no gradient join with their current one, then
    /// wait for every all-reduce, write the averages, and copy rank 0's buffers.</summary>
    private void FinishStep()
    {
        if (!_stepStarted) return;
        foreach (var slot in _slots)
        {
            if (!slot.Ready) MarkReady(slot);
        }
        LaunchReadyBuckets();
        long start = Stopwatch.GetTimestamp();
        _group.WaitAll(_requests, $"the gradient reduction of DistributedDataParallel step {_steps}");
        _waitTicks += Stopwatch.GetTimestamp() - start;
        using (Autograd.NoGrad())
        {
            foreach (var slot in _slots) _buckets[slot.Bucket].WriteBack(slot, _group.Size);
        }
        ResetStep();
        _steps++;
        if (_broadcastBuffers)
        {
            foreach (var buffer in _buffers) _group.BroadcastRaw(buffer, 0, "DistributedDataParallel: copying buffers from rank 0");
        }
    }

    private void ResetStep()
    {
        _stepStarted = false;
        _engineDriven = false;
        _nextBucket = 0;
        foreach (var slot in _slots)
        {
            slot.Ready = false;
            slot.Used = false;
        }
        foreach (var bucket in _buckets) bucket.Pending = bucket.Slots.Length;
    }

    private InvalidOperationException PreviousStepUnfinished()
    {
        var missing = _slots.Where(s => !s.Ready).Select(s => s.Name).ToList();
        bool engine = _engineDriven;
        // The all-reduces already started use the buckets: let them finish before the buckets are filled again.
        _group.WaitAll(_requests.AsSpan(0, _nextBucket), "DistributedDataParallel: the all-reduces of an unfinished step");
        ResetStep();
        string names = string.Join(", ", missing.Take(10)) + (missing.Count > 10 ? $" and {missing.Count - 10} more" : "");
        return new InvalidOperationException(engine
            ? "DistributedDataParallel: a new backward pass started before the previous one finished averaging its gradients: the previous backward failed " +
              "(an exception was thrown during it), so its gradients were not averaged across ranks. Zero the gradients and run the step again."
            : "DistributedDataParallel: a new backward pass started before the previous one finished averaging: the previous one (a compiled LossBackward, which " +
              $"runs without the autograd engine) gave no gradient to {names}, so DDP could not tell that it had ended, and its gradients were not averaged " +
              "across ranks. Freeze those parameters (RequiresGrad = false), or compute the loss with the compiled Forward (or eagerly) and call Backward on it, " +
              "which tells DDP when the backward ends.");
    }

    // ---------------- buckets ----------------

    /// <summary>One parameter that DDP averages: where its gradient lives in its bucket, and its state in the current step.</summary>
    private sealed class Slot(string name, Tensor parameter)
    {
        public readonly string Name = name;
        public readonly Tensor Parameter = parameter;
        public int Bucket;
        public int Offset;
        public int FlagIndex;
        public bool Ready;
        public bool Used;
    }

    /// <summary>
    /// PyTorch's bucket assignment (<c>compute_bucket_assignment_by_size</c>): parameters in registration order, per dtype,
    /// a bucket closed when it reaches its limit (1 MiB for the first bucket of a dtype, then the cap); the buckets sorted by
    /// their first parameter, then reversed, so that the last layers' bucket is reduced first.
    /// </summary>
    private static Bucket[] AssignBuckets(Slot[] slots, long capBytes)
    {
        var open = new Dictionary<DType, List<Slot>>();
        var openBytes = new Dictionary<DType, long>();
        var closedCount = new Dictionary<DType, int>();
        var groups = new List<List<Slot>>();
        foreach (var slot in slots)
        {
            var dtype = slot.Parameter.DType;
            if (!open.TryGetValue(dtype, out var current)) open[dtype] = current = [];
            current.Add(slot);
            long bytes = openBytes[dtype] = openBytes.GetValueOrDefault(dtype) + (long)slot.Parameter.NumElements * dtype.ElementSize();
            long limit = closedCount.GetValueOrDefault(dtype) == 0 ? FirstBucketBytes : capBytes;
            if (bytes >= limit)
            {
                groups.Add(current);
                open.Remove(dtype);
                openBytes[dtype] = 0;
                closedCount[dtype] = closedCount.GetValueOrDefault(dtype) + 1;
            }
        }
        groups.AddRange(open.Values);
        var index = slots.Select((s, i) => (s, i)).ToDictionary(p => p.s, p => p.i);
        groups.Sort((a, b) => index[a[0]].CompareTo(index[b[0]]));
        groups.Reverse();
        var buckets = new Bucket[groups.Count];
        for (int b = 0; b < buckets.Length; b++)
        {
            var members = groups[b].ToArray();
            int offset = 0;
            foreach (var slot in members)
            {
                slot.Bucket = b;
                slot.Offset = offset;
                offset += slot.Parameter.NumElements;
            }
            // After the gradients, one "used" flag per parameter: how many ranks gave it a gradient.
            for (int i = 0; i < members.Length; i++) members[i].FlagIndex = offset + i;
            buckets[b] = new Bucket(members, members[0].Parameter.DType, offset + members.Length);
        }
        return buckets;
    }

    /// <summary>A stable hash of the names, dtypes and shapes of the model's state (FNV-1a): equal on every rank that wraps the same model.</summary>
    private static long LayoutHash(List<(string Name, Tensor Value)> states)
    {
        ulong h = 14695981039346656037UL;
        void Add(long v)
        {
            for (int i = 0; i < 8; i++, v >>= 8)
            {
                h ^= (byte)v;
                h *= 1099511628211UL;
            }
        }
        foreach (var (name, tensor) in states)
        {
            foreach (byte b in Encoding.UTF8.GetBytes(name)) Add(b);
            Add((long)tensor.DType);
            foreach (int d in tensor.Shape) Add(d);
        }
        return (long)(h >> 1);
    }

    /// <summary>The gradients of some parameters of one dtype, flattened into one pinned array, followed by one flag per
    /// parameter; all-reduced (summed) in place.</summary>
    private sealed unsafe class Bucket
    {
        public readonly Slot[] Slots;
        public readonly DType DType;
        public readonly int Length;
        public int Pending;
        private readonly float[]? _floats;
        private readonly double[]? _doubles;

        public Bucket(Slot[] slots, DType dtype, int length)
        {
            Slots = slots;
            DType = dtype;
            Length = length;
            // Pinned (the pinned object heap): MPI reads and writes them while the backward goes on.
            if (dtype == DType.Float32) _floats = GC.AllocateArray<float>(length, pinned: true);
            else _doubles = GC.AllocateArray<double>(length, pinned: true);
        }

        /// <summary>Copies the parameter's current gradient (zeros when it has none) into its place, and its used flag.</summary>
        public void CopyIn(Slot slot)
        {
            int n = slot.Parameter.NumElements;
            var grad = slot.Parameter.Grad;
            if (grad is not null && grad.DType != DType) grad = grad.To(DType);
            if (grad is not null && !grad.IsContiguous) grad = grad.Contiguous();
            if (_floats is not null)
            {
                var dst = _floats.AsSpan(slot.Offset, n);
                if (grad is null) dst.Clear();
                else grad.Data<float>().AsSpan(grad.StorageOffset, n).CopyTo(dst);
                _floats[slot.FlagIndex] = slot.Used ? 1 : 0;
            }
            else
            {
                var doubles = _doubles!;
                var dst = doubles.AsSpan(slot.Offset, n);
                if (grad is null) dst.Clear();
                else grad.Data<double>().AsSpan(grad.StorageOffset, n).CopyTo(dst);
                doubles[slot.FlagIndex] = slot.Used ? 1 : 0;
            }
        }

        public int StartAllReduce(Communicator comm)
        {
            // The arrays are pinned for their lifetime, so their address may be handed to MPI beyond this call.
            void* buffer = _floats is not null
                ? Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_floats))
                : Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_doubles!));
            return comm.StartAllReduce(buffer, Length, DType, ReduceOp.Sum);
        }

        /// <summary>Writes the average over the ranks into the parameter's <c>.Grad</c>, when at least one rank used it.</summary>
        public void WriteBack(Slot slot, int size)
        {
            int n = slot.Parameter.NumElements;
            var parameter = slot.Parameter;
            double users = _floats is not null ? _floats[slot.FlagIndex] : _doubles![slot.FlagIndex];
            if (users <= 0) return;
            var grad = parameter.Grad;
            if (grad is null || grad.DType != DType || !grad.IsContiguous || grad.RequiresGrad)
            {
                grad = Tensor.Zeros(parameter.Shape, DType);
                parameter.Grad = grad;
            }
            if (_floats is not null)
            {
                var src = _floats.AsSpan(slot.Offset, n);
                var dst = grad.Data<float>().AsSpan(grad.StorageOffset, n);
                for (int i = 0; i < n; i++) dst[i] = src[i] / size;
            }
            else
            {
                var src = _doubles.AsSpan(slot.Offset, n);
                var dst = grad.Data<double>().AsSpan(grad.StorageOffset, n);
                for (int i = 0; i < n; i++) dst[i] = src[i] / size;
            }
            grad.Storage.Version++;
        }
    }
}
