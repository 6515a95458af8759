using SharpGrad.Distributed.Native;

namespace SharpGrad.Distributed;

/// <summary>
/// The transport under a <see cref="ProcessGroup"/>: starts collectives on raw memory (in place where MPI allows) and
/// reports when they complete. <see cref="MpiCommunicator"/> is MPI; <see cref="SelfCommunicator"/> is the group of one
/// process a program gets when no launcher started it. Everything above it — agreement checks, timeouts, dtypes,
/// averaging — is written once, in <see cref="ProcessGroup"/>.
/// </summary>
internal abstract unsafe class Communicator
{
    public abstract int Rank { get; }

    public abstract int Size { get; }

    /// <summary>What the group runs on, for messages (PyTorch: <c>get_backend()</c>).</summary>
    public abstract string Backend { get; }

    /// <summary>Starts an in-place all-reduce of <paramref name="count"/> elements (Sum, Product, Max or Min); returns the request.</summary>
    public abstract int StartAllReduce(void* buffer, int count, DType dtype, ReduceOp op);

    /// <summary>Starts a broadcast of <paramref name="count"/> elements from <paramref name="root"/>; returns the request.</summary>
    public abstract int StartBroadcast(void* buffer, int count, DType dtype, int root);

    /// <summary>Starts an all-gather: every rank's <paramref name="count"/> elements, in rank order, into <paramref name="receive"/>.</summary>
    public abstract int StartAllGather(void* send, void* receive, int count, DType dtype);

    /// <summary>True once <paramref name="request"/> has completed (it is then released).</summary>
    public abstract bool Test(ref int request);

    /// <summary>Ends every process of the job with <paramref name="code"/> (MPI_Abort). Does not return.</summary>
    public abstract void Abort(int code);

    /// <summary>Releases the transport (MPI_Finalize).</summary>
    public abstract void Shutdown();
}

/// <summary>The group of a process started without a launcher: rank 0 of 1; every collective completes at once.</summary>
internal sealed unsafe class SelfCommunicator : Communicator
{
    public override int Rank => 0;

    public override int Size => 1;

    public override string Backend => "self (one process, no launcher)";

    public override int StartAllReduce(void* buffer, int count, DType dtype, ReduceOp op) => Mpi.RequestNull;

    public override int StartBroadcast(void* buffer, int count, DType dtype, int root) => Mpi.RequestNull;

    public override int StartAllGather(void* send, void* receive, int count, DType dtype)
    {
        long bytes = (long)count * dtype.ElementSize();
        Buffer.MemoryCopy(send, receive, bytes, bytes);
        return Mpi.RequestNull;
    }

    public override bool Test(ref int request) => true;

    public override void Abort(int code) => Environment.Exit(code);

    public override void Shutdown()
    {
    }
}

/// <summary>MPI through <see cref="Mpi"/>: a duplicate of MPI_COMM_WORLD whose errors are returned, not fatal.</summary>
internal sealed unsafe class MpiCommunicator : Communicator
{
    private int _comm;

    private MpiCommunicator(int comm, int rank, int size)
    {
        _comm = comm;
        Rank = rank;
        Size = size;
    }

    public override int Rank { get; }

    public override int Size { get; }

    public override string Backend => $"mpi ({MpiLibrary.LoadedFrom}: {FirstLine(MpiLibrary.Version)})";

    private static string FirstLine(string s) => s.Split('\n')[0].Trim();

    /// <summary>Loads MPI, initialises it (MPI_Init_thread, MPI_THREAD_MULTIPLE requested) and duplicates MPI_COMM_WORLD.</summary>
    public static MpiCommunicator Create()
    {
        MpiLibrary.Load();
        MpiLibrary.Check(Mpi.Finalized(out int finalized), "MPI_Finalized");
        if (finalized != 0)
        {
            throw new DistributedException(
                "ProcessGroup.InitMpi: MPI was already shut down in this process (by ProcessGroup.Dispose), and MPI can be initialised only once per process. " +
                "Keep one ProcessGroup for the whole program and dispose it at the end.");
        }
        MpiLibrary.Check(Mpi.Initialized(out int initialized), "MPI_Initialized");
        if (initialized == 0)
        {
            MpiLibrary.Check(Mpi.InitThread(null, null, Mpi.ThreadMultiple, out _), "MPI_Init_thread");
        }
        MpiLibrary.Check(Mpi.CommSetErrhandler(Mpi.CommWorld, Mpi.ErrorsReturn), "MPI_Comm_set_errhandler");
        MpiLibrary.Check(Mpi.CommDup(Mpi.CommWorld, out int comm), "MPI_Comm_dup");
        MpiLibrary.Check(Mpi.CommSetErrhandler(comm, Mpi.ErrorsReturn), "MPI_Comm_set_errhandler");
        MpiLibrary.Check(Mpi.CommRank(comm, out int rank), "MPI_Comm_rank");
        MpiLibrary.Check(Mpi.CommSize(comm, out int size), "MPI_Comm_size");
        return new MpiCommunicator(comm, rank, size);
    }

    private static int Datatype(DType dtype) => dtype switch
    {
        DType.Float32 => Mpi.Float,
        DType.Float64 => Mpi.Double,
        DType.Int64 => Mpi.Int64,
        DType.Int32 => Mpi.Int32,
        DType.UInt8 or DType.Bool => Mpi.UInt8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown dtype."),
    };

    private static int Operation(ReduceOp op) => op switch
    {
        ReduceOp.Sum or ReduceOp.Average => Mpi.OpSum,
        ReduceOp.Product => Mpi.OpProd,
        ReduceOp.Max => Mpi.OpMax,
        ReduceOp.Min => Mpi.OpMin,
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "Unknown reduction."),
    };

    public override int StartAllReduce(void* buffer, int count, DType dtype, ReduceOp op)
    {
        MpiLibrary.Check(Mpi.Iallreduce(Mpi.InPlace, buffer, count, Datatype(dtype), Operation(op), _comm, out int request), "MPI_Iallreduce");
        return request;
    }

    public override int StartBroadcast(void* buffer, int count, DType dtype, int root)
    {
        MpiLibrary.Check(Mpi.Ibcast(buffer, count, Datatype(dtype), root, _comm, out int request), "MPI_Ibcast");
        return request;
    }

    public override int StartAllGather(void* send, void* receive, int count, DType dtype)
    {
        int type = Datatype(dtype);
        MpiLibrary.Check(Mpi.Iallgather(send, count, type, receive, count, type, _comm, out int request), "MPI_Iallgather");
        return request;
    }

    public override bool Test(ref int request)
    {
        MpiLibrary.Check(Mpi.Test(ref request, out int flag, Mpi.StatusIgnore), "MPI_Test");
        return flag != 0;
    }

    public override void Abort(int code)
    {
        Mpi.Abort(Mpi.CommWorld, code);
        // MPI_Abort does not return; should it, end this process at least.
        Environment.Exit(code);
    }

    public override void Shutdown()
    {
        if (_comm != Mpi.CommNull) Mpi.CommFree(ref _comm);
        Mpi.Finalize();
    }
}
