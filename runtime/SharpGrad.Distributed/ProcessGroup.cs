using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Text;

namespace SharpGrad.Distributed;

/// <summary>
/// The processes of a data-parallel job and the collectives between them (PyTorch: the default process group of
/// <c>torch.distributed</c>, created by <c>init_process_group("mpi")</c>). Each process has a <see cref="Rank"/> in
/// 0 … <see cref="Size"/> − 1; every rank must call the same collectives in the same order with tensors of the same dtype
/// and shape. Collectives work in place on contiguous tensors and block until done.
/// </summary>
/// <remarks>
/// <para>Failures never hang: before each collective the ranks exchange a short description of what they are calling, so
/// a rank that calls something else (another collective, another shape, or shutting down) makes every rank throw a
/// <see cref="DistributedException"/> saying what each one called; a rank that does not arrive within
/// <see cref="Timeout"/> (stuck, or gone) ends the whole job (MPI_Abort) with a message; and an unhandled exception on any
/// rank of a multi-process group ends the whole job with that exception's message, instead of leaving the other ranks
/// waiting for it.</para>
/// <para>One group per process at a time; dispose it at the end of the program (PyTorch: <c>destroy_process_group()</c>).
/// MPI can be initialised only once per process, so after disposing an MPI group the process cannot create another.</para>
/// </remarks>
public sealed unsafe class ProcessGroup : IDisposable
{
    /// <summary>The default <see cref="Timeout"/>: 30 minutes, PyTorch's default for <c>init_process_group</c>.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(30);

    private static readonly object s_gate = new();
    private static readonly TimeSpan AbortGrace = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan SpinPhase = TimeSpan.FromMilliseconds(0.05);
    private static readonly TimeSpan YieldPhase = TimeSpan.FromMilliseconds(200);
    private static ProcessGroup? s_current;
    private static bool s_handlersInstalled;

    private readonly Communicator _comm;
    private readonly long[] _row = new long[CollectiveDescriptor.Length];
    private long _sequence;
    private TimeSpan _timeout;
    private bool _disposed;

    private ProcessGroup(Communicator comm, TimeSpan timeout)
    {
        _comm = comm;
        Timeout = timeout;
    }

    /// <summary>
    /// Joins the job the MPI launcher started (PyTorch: <c>init_process_group("mpi")</c>): run the program with
    /// <c>mpiexec -n N dotnet program.dll</c>. Started without a launcher, the program is a group of size 1 (rank 0) and
    /// needs no MPI library; every collective then leaves its tensor as it is.
    /// </summary>
    /// <param name="timeout">How long a collective waits for the other ranks before the job is ended (PyTorch:
    /// <c>timeout</c>); <see cref="DefaultTimeout"/> when null.</param>
    /// <exception cref="InvalidOperationException">A group is already initialised in this process.</exception>
    /// <exception cref="DistributedException">The launcher started the program but MPI could not be loaded or initialised.</exception>
    public static ProcessGroup InitMpi(TimeSpan? timeout = null)
    {
        lock (s_gate)
        {
            if (s_current is { _disposed: false })
            {
                throw new InvalidOperationException(
                    "ProcessGroup.InitMpi: a process group is already initialised in this process (PyTorch: init_process_group called twice). " +
                    "Use that group, or dispose it first.");
            }
            Communicator comm = LaunchedByMpi() ? MpiCommunicator.Create() : new SelfCommunicator();
            var group = new ProcessGroup(comm, timeout ?? DefaultTimeout);
            s_current = group;
            if (comm is MpiCommunicator && !s_handlersInstalled)
            {
                s_handlersInstalled = true;
                AppDomain.CurrentDomain.UnhandledException += OnUnhandledException;
                AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
            }
            return group;
        }
    }

    /// <summary>True when an MPI launcher (mpiexec/mpirun of MPICH or Intel MPI, a PMI or PMIx launcher such as srun)
    /// started this process.</summary>
    private static bool LaunchedByMpi()
    {
        foreach (var name in (string[])["PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE"])
        {
            if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name))) return true;
        }
        return false;
    }

    /// <summary>This process's rank, 0 … <see cref="Size"/> − 1 (PyTorch: <c>get_rank()</c>).</summary>
    public int Rank => _comm.Rank;

    /// <summary>The number of processes (PyTorch: <c>get_world_size()</c>).</summary>
    public int Size => _comm.Size;

    /// <summary>What the group runs on: "mpi (library: version)" or "self" for a process started without a launcher
    /// (PyTorch: <c>get_backend()</c>).</summary>
    public string Backend => _comm.Backend;

    /// <summary>How long a collective waits for the other ranks; when it runs out, the job is ended (MPI_Abort) with a
    /// message naming the collective (PyTorch: the <c>timeout</c> of <c>init_process_group</c>).</summary>
    public TimeSpan Timeout
    {
        get => _timeout;
        set
        {
            if (value <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(value), value, "ProcessGroup.Timeout must be positive.");
            _timeout = value;
        }
    }

    /// <summary>
    /// Combines <paramref name="tensor"/> across the ranks with <paramref name="op"/>, leaving the result in it on every
    /// rank (PyTorch: <c>all_reduce(tensor, op)</c>). Float32, Float64, Int64, Int32 and UInt8 tensors; Bool with Max
    /// (or) and Min (and); Average needs a floating-point tensor.
    /// </summary>
    /// <exception cref="ArgumentException">The tensor is not contiguous, or <paramref name="op"/> does not apply to its dtype.</exception>
    /// <exception cref="DistributedException">The ranks called different collectives or passed different shapes or dtypes.</exception>
    public void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(tensor);
        CheckContiguous(tensor, "AllReduce");
        CheckReducible(tensor.DType, op);
        Agree(CollectiveDescriptor.ForTensor(CollectiveKind.AllReduce, tensor, (long)op));
        int count = tensor.NumElements;
        if (count == 0) return;
        fixed (byte* p = &TensorBytes(tensor))
        {
            int request = _comm.StartAllReduce(p, count, tensor.DType, op);
            Wait(ref request, $"AllReduce({op}) of a {tensor.DType} tensor of shape {Format(tensor.Shape)}");
        }
        if (op == ReduceOp.Average) DivideInPlace(tensor, Size);
        tensor.Storage.Version++;
    }

    /// <summary>
    /// Copies <paramref name="tensor"/> from rank <paramref name="root"/> into the same tensor on every other rank
    /// (PyTorch: <c>broadcast(tensor, src)</c>). Any dtype.
    /// </summary>
    /// <exception cref="ArgumentException">The tensor is not contiguous.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="root"/> is not a rank of the group.</exception>
    /// <exception cref="DistributedException">The ranks called different collectives or passed different shapes, dtypes or roots.</exception>
    public void Broadcast(Tensor tensor, int root = 0)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(tensor);
        CheckContiguous(tensor, "Broadcast");
        CheckRoot(root);
        Agree(CollectiveDescriptor.ForTensor(CollectiveKind.Broadcast, tensor, root));
        BroadcastRaw(tensor, root, $"Broadcast(root {root}) of a {tensor.DType} tensor of shape {Format(tensor.Shape)}");
    }

    /// <summary>
    /// Every rank's <paramref name="tensor"/>, in rank order, on every rank (PyTorch: <c>all_gather(tensor_list, tensor)</c>):
    /// element r is a new tensor with rank r's values (views of one [Size, …shape] tensor). Any dtype; every rank must pass
    /// the same shape.
    /// </summary>
    /// <exception cref="DistributedException">The ranks called different collectives or passed different shapes or dtypes.</exception>
    public Tensor[] AllGather(Tensor tensor)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(tensor);
        Agree(CollectiveDescriptor.ForTensor(CollectiveKind.AllGather, tensor, 0));
        var source = tensor.Contiguous();
        var output = Tensor.Zeros([Size, .. tensor.Shape], tensor.DType);
        int count = tensor.NumElements;
        if (count > 0)
        {
            fixed (byte* send = &TensorBytes(source))
            fixed (byte* receive = &TensorBytes(output))
            {
                int request = _comm.StartAllGather(send, receive, count, tensor.DType);
                Wait(ref request, $"AllGather of a {tensor.DType} tensor of shape {Format(tensor.Shape)}");
            }
        }
        var result = new Tensor[Size];
        for (int r = 0; r < Size; r++) result[r] = output.Select(0, r);
        return result;
    }

    /// <summary>Waits until every rank has called <c>Barrier</c> (PyTorch: <c>barrier()</c>).</summary>
    /// <exception cref="DistributedException">Another rank called a different collective.</exception>
    public void Barrier()
    {
        ThrowIfDisposed();
        Agree(CollectiveDescriptor.Plain(CollectiveKind.Barrier));
    }

    /// <summary>
    /// Runs <paramref name="save"/> on rank <paramref name="root"/> only, while the other ranks wait for it to finish (the
    /// PyTorch idiom <c>if rank == 0: torch.save(…)</c> followed by <c>barrier()</c>), e.g.
    /// <c>group.Checkpoint(() =&gt; model.Save(path))</c>. Returns on every rank once the checkpoint is written; if
    /// <paramref name="save"/> throws, the root rethrows its exception and every other rank throws a
    /// <see cref="DistributedException"/> with its message, so no rank goes on believing the checkpoint exists. The wait is
    /// bounded by <see cref="Timeout"/>.
    /// </summary>
    /// <exception cref="DistributedException">The save failed on the root (on the other ranks), or the ranks called different collectives.</exception>
    public void Checkpoint(Action save, int root = 0)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(save);
        CheckRoot(root);
        Agree(CollectiveDescriptor.Plain(CollectiveKind.Checkpoint, root));
        Exception? failure = null;
        if (Rank == root)
        {
            try
            {
                save();
            }
            catch (Exception e)
            {
                failure = e;
            }
        }
        var message = failure is null ? [] : Encoding.UTF8.GetBytes($"{failure.GetType().Name}: {failure.Message}");
        long[] status = [failure is null ? 0 : 1, message.Length];
        string what = $"Checkpoint(root {root}): waiting for rank {root} to save";
        BroadcastArray(status, DType.Int64, root, what);
        string text = "";
        if (status[0] != 0)
        {
            if (status[1] < 0 || status[1] > 1 << 20) throw new DistributedException($"Checkpoint: rank {root} reported a failure with a message of {status[1]} bytes.");
            if (Rank != root) message = new byte[status[1]];
            BroadcastArray(message, DType.UInt8, root, what);
            text = Encoding.UTF8.GetString(message);
        }
        if (failure is not null) ExceptionDispatchInfo.Throw(failure);
        if (status[0] != 0) throw new DistributedException($"Checkpoint: rank {root} failed to save the checkpoint ({text}); no rank should use it.");
    }

    /// <summary>
    /// Leaves the group (PyTorch: <c>destroy_process_group()</c>): waits until every rank leaves too (bounded by
    /// <see cref="Timeout"/>), then shuts MPI down. If another rank is still calling a collective, both report it and the
    /// job ends (MPI_Abort). A group not disposed is shut down the same way when the program ends.
    /// </summary>
    public void Dispose() => Shutdown(atExit: false);

    private void Shutdown(bool atExit)
    {
        lock (s_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        try
        {
            Agree(CollectiveDescriptor.Plain(CollectiveKind.Shutdown));
        }
        catch (DistributedException e)
        {
            AbortJob($"it is leaving the group ({(atExit ? "the program ended" : "ProcessGroup.Dispose")}) while another rank still calls a collective.\n{e.Message}");
        }
        _comm.Shutdown();
    }

    // ---------------- what DistributedDataParallel and the collectives share ----------------

    internal Communicator Communicator => _comm;

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>
    /// Exchanges <paramref name="descriptor"/> with every rank (one all-gather of a few integers) and throws, on every rank,
    /// a <see cref="DistributedException"/> listing what each rank called when they differ.
    /// </summary>
    internal void Agree(in CollectiveDescriptor descriptor)
    {
        long sequence = ++_sequence;
        if (Size == 1) return;
        const int length = CollectiveDescriptor.Length;
        descriptor.Encode(sequence, _row);
        var all = new long[length * Size];
        fixed (long* send = _row)
        fixed (long* receive = all)
        {
            int request = _comm.StartAllGather(send, receive, length, DType.Int64);
            Wait(ref request, CollectiveDescriptor.Describe(_row));
        }
        bool same = true;
        for (int r = 1; r < Size && same; r++) same = all.AsSpan(r * length, length).SequenceEqual(all.AsSpan(0, length));
        if (same) return;
        var sb = new StringBuilder("The ranks called different collectives; every rank must call the same collectives, in the same order, with tensors of the same dtype and shape:");
        for (int r = 0; r < Size; r++)
        {
            var row = all.AsSpan(r * length, length);
            sb.Append($"\n  rank {r}: {CollectiveDescriptor.Describe(row)} (its collective #{row[1]})");
        }
        throw new DistributedException(sb.ToString());
    }

    /// <summary>Waits for <paramref name="request"/>; ends the job if it does not complete within <see cref="Timeout"/>.</summary>
    internal void Wait(ref int request, string what) => WaitAll(new Span<int>(ref request), what);

    /// <summary>Waits for every request; ends the job if they do not all complete within <see cref="Timeout"/>.</summary>
    internal void WaitAll(Span<int> requests, string what)
    {
        long start = 0;
        for (int i = 0; i < requests.Length; i++)
        {
            while (!_comm.Test(ref requests[i]))
            {
                if (start == 0) start = Stopwatch.GetTimestamp();
                var waited = Stopwatch.GetElapsedTime(start);
                if (waited > _timeout)
                {
                    AbortJob($"{what} did not complete within {_timeout} (ProcessGroup.Timeout): at least one other rank did not join it — " +
                             "it may have failed, be stuck, or be calling something else.");
                }
                // Poll as MPI itself does (it moves data only inside its calls, and collectives on one machine take
                // microseconds): spin for a moment, then yield the core to any other runnable thread between polls (a rank
                // waiting for a slower one hands its core over), and only after a long wait sleep between polls.
                if (waited < SpinPhase) Thread.SpinWait(32);
                else if (waited < YieldPhase) Thread.Yield();
                else Thread.Sleep(1);
            }
        }
    }

    /// <summary>Gives MPI a chance to progress started requests (MPI moves data only inside its calls); marks the completed ones.</summary>
    internal void Progress(Span<int> requests)
    {
        for (int i = 0; i < requests.Length; i++) _comm.Test(ref requests[i]);
    }

    /// <summary>Broadcasts the elements of a contiguous tensor from <paramref name="root"/> (no agreement step) and bumps its version on the receivers.</summary>
    internal void BroadcastRaw(Tensor tensor, int root, string what)
    {
        Broadcast(ref TensorBytes(tensor), tensor.NumElements, tensor.DType, root, what);
        if (Rank != root && Size > 1) tensor.Storage.Version++;
    }

    /// <summary>Broadcasts an array of <paramref name="dtype"/> elements from <paramref name="root"/> (no agreement step).</summary>
    internal void BroadcastArray<T>(T[] array, DType dtype, int root, string what) where T : unmanaged
        => Broadcast(ref Unsafe.As<T, byte>(ref MemoryMarshal.GetArrayDataReference(array)), array.Length, dtype, root, what);

    private void Broadcast(ref byte first, int count, DType dtype, int root, string what)
    {
        if (count == 0 || Size == 1) return;
        fixed (byte* p = &first)
        {
            int request = _comm.StartBroadcast(p, count, dtype, root);
            Wait(ref request, what);
        }
    }

    /// <summary>Writes why to standard error and ends every rank of the job (MPI_Abort): used when waiting longer, or
    /// throwing, would leave another rank waiting forever.</summary>
    [DoesNotReturn]
    internal void AbortJob(string why)
    {
        try
        {
            Console.Out.Flush();
            Console.Error.WriteLine($"SharpGrad.Distributed: rank {Rank} of {Size}: {why.TrimEnd()}\nEnding every rank of the job (MPI_Abort).");
            Console.Error.Flush();
            // The launcher forwards each rank's output asynchronously and stops forwarding when it tears the job down:
            // give it a moment to pass the message on (and another failing rank time to write its own).
            Thread.Sleep(AbortGrace);
        }
        finally
        {
            _comm.Abort(1);
        }
        throw new UnreachableException();
    }

    /// <summary>A reference to the first byte of a contiguous tensor's elements (pin it with <c>fixed</c>).</summary>
    internal static ref byte TensorBytes(Tensor tensor)
    {
        var array = tensor.Storage.Array;
        return ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(array), (nint)tensor.StorageOffset * tensor.DType.ElementSize());
    }

    internal static string Format(int[] shape) => "[" + string.Join(", ", shape) + "]";

    private static void CheckContiguous(Tensor tensor, string what)
    {
        if (!tensor.IsContiguous)
        {
            throw new ArgumentException(
                $"ProcessGroup.{what}: the tensor of shape {Format(tensor.Shape)} is not contiguous (strides {Format(tensor.Strides)}); collectives work in place on " +
                "contiguous memory (PyTorch: 'Tensors must be contiguous'). Call it on t.Contiguous() and copy the result back, or on the tensor this one is a view of.", nameof(tensor));
        }
    }

    private static void CheckReducible(DType dtype, ReduceOp op)
    {
        if (op == ReduceOp.Average && !dtype.IsFloatingPoint())
        {
            throw new ArgumentException(
                $"ProcessGroup.AllReduce: ReduceOp.Average needs a floating-point tensor, but this one is {dtype}. Reduce with ReduceOp.Sum and divide by Size yourself, choosing the rounding.");
        }
        if (dtype == DType.Bool && op is not (ReduceOp.Max or ReduceOp.Min))
        {
            throw new ArgumentException($"ProcessGroup.AllReduce: a Bool tensor can be reduced with ReduceOp.Max (logical or) or ReduceOp.Min (logical and), not {op}; convert it to an integer dtype to count.");
        }
    }

    private void CheckRoot(int root)
    {
        if (root < 0 || root >= Size)
        {
            throw new ArgumentOutOfRangeException(nameof(root), root, $"ProcessGroup: root {root} is not a rank of this group of {Size} (ranks 0 to {Size - 1}).");
        }
    }

    private static void DivideInPlace(Tensor tensor, int size)
    {
        if (tensor.DType == DType.Float32)
        {
            var span = tensor.Data<float>().AsSpan(tensor.StorageOffset, tensor.NumElements);
            for (int i = 0; i < span.Length; i++) span[i] /= size;
        }
        else
        {
            var span = tensor.Data<double>().AsSpan(tensor.StorageOffset, tensor.NumElements);
            for (int i = 0; i < span.Length; i++) span[i] /= size;
        }
    }

    // ---------------- the process-wide failure handling of MPI groups ----------------

    private static void OnUnhandledException(object sender, UnhandledExceptionEventArgs e)
    {
        var group = s_current;
        if (group is null || group._disposed || group.Size == 1) return;
        group.AbortJob($"unhandled exception; this rank cannot take part in the job any more:\n{e.ExceptionObject}");
    }

    private static void OnProcessExit(object? sender, EventArgs e)
    {
        if (s_current is { _disposed: false } group) group.Shutdown(atExit: true);
    }
}
