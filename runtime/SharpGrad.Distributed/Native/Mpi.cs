using System.Runtime.InteropServices;

namespace SharpGrad.Distributed.Native;

/// <summary>
/// The part of MPI's C API that SharpGrad uses, bound with <c>LibraryImport</c> (no marshalling, no reflection:
/// NativeAOT-safe). Handles are the <c>int</c>s of the MPICH ABI (MPICH, Intel MPI, Cray MPICH, MVAPICH, MS-MPI), so the
/// constants below are that ABI's; Open MPI, whose handles are pointers, is refused when loaded (see <see cref="MpiLibrary"/>).
/// Every function returns an MPI error code (<see cref="Success"/> = 0); the communicators SharpGrad uses return errors
/// instead of aborting (<see cref="ErrorsReturn"/>), and <see cref="MpiLibrary.Check"/> turns them into exceptions.
/// </summary>
internal static unsafe partial class Mpi
{
    /// <summary>The name P/Invokes ask for; <see cref="MpiLibrary"/> resolves it to the MPI library found at run time.</summary>
    internal const string Library = "sharpgrad-mpi";

    internal const int Success = 0;
    internal const int ThreadMultiple = 3;
    internal const int MaxErrorString = 512;
    internal const int MaxLibraryVersionString = 8192;

    internal const int CommWorld = 0x44000000;
    internal const int CommNull = 0x04000000;
    internal const int RequestNull = 0x2c000000;
    internal const int ErrorsReturn = 0x54000001;

    internal const int Byte = 0x4c00010d;
    internal const int Int32 = 0x4c000405;
    internal const int Float = 0x4c00040a;
    internal const int Double = 0x4c00080b;
    internal const int Int64 = 0x4c00083a;
    internal const int UInt8 = 0x4c00013b;

    internal const int OpMax = 0x58000001;
    internal const int OpMin = 0x58000002;
    internal const int OpSum = 0x58000003;
    internal const int OpProd = 0x58000004;

    /// <summary>MPI_IN_PLACE: the send buffer is the receive buffer.</summary>
    internal static readonly void* InPlace = (void*)-1;

    /// <summary>MPI_STATUS_IGNORE.</summary>
    internal static readonly void* StatusIgnore = (void*)1;

    [LibraryImport(Library, EntryPoint = "MPI_Initialized")]
    internal static partial int Initialized(out int flag);

    [LibraryImport(Library, EntryPoint = "MPI_Finalized")]
    internal static partial int Finalized(out int flag);

    [LibraryImport(Library, EntryPoint = "MPI_Init_thread")]
    internal static partial int InitThread(int* argc, byte*** argv, int required, out int provided);

    [LibraryImport(Library, EntryPoint = "MPI_Finalize")]
    internal static partial int Finalize();

    [LibraryImport(Library, EntryPoint = "MPI_Abort")]
    internal static partial int Abort(int comm, int errorCode);

    [LibraryImport(Library, EntryPoint = "MPI_Get_library_version")]
    internal static partial int GetLibraryVersion(byte* version, out int length);

    [LibraryImport(Library, EntryPoint = "MPI_Error_string")]
    internal static partial int ErrorString(int errorCode, byte* text, out int length);

    [LibraryImport(Library, EntryPoint = "MPI_Comm_rank")]
    internal static partial int CommRank(int comm, out int rank);

    [LibraryImport(Library, EntryPoint = "MPI_Comm_size")]
    internal static partial int CommSize(int comm, out int size);

    [LibraryImport(Library, EntryPoint = "MPI_Comm_dup")]
    internal static partial int CommDup(int comm, out int newComm);

    [LibraryImport(Library, EntryPoint = "MPI_Comm_free")]
    internal static partial int CommFree(ref int comm);

    [LibraryImport(Library, EntryPoint = "MPI_Comm_set_errhandler")]
    internal static partial int CommSetErrhandler(int comm, int errhandler);

    [LibraryImport(Library, EntryPoint = "MPI_Iallreduce")]
    internal static partial int Iallreduce(void* sendBuffer, void* receiveBuffer, int count, int datatype, int op, int comm, out int request);

    [LibraryImport(Library, EntryPoint = "MPI_Ibcast")]
    internal static partial int Ibcast(void* buffer, int count, int datatype, int root, int comm, out int request);

    [LibraryImport(Library, EntryPoint = "MPI_Iallgather")]
    internal static partial int Iallgather(void* sendBuffer, int sendCount, int sendType, void* receiveBuffer, int receiveCount, int receiveType, int comm, out int request);

    [LibraryImport(Library, EntryPoint = "MPI_Test")]
    internal static partial int Test(ref int request, out int flag, void* status);
}
