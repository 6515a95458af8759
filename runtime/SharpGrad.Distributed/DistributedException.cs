namespace SharpGrad.Distributed;

/// <summary>
/// A collective could not be carried out: the ranks called different collectives or passed tensors of different shapes,
/// MPI reported an error, or another rank failed (PyTorch: <c>torch.distributed.DistBackendError</c> /
/// <c>RuntimeError</c>). The message says what each rank called. When a rank does not arrive at all within
/// <see cref="ProcessGroup.Timeout"/>, nothing is thrown: the job is ended (MPI_Abort) with a message on standard error,
/// because a collective left waiting cannot be cancelled.
/// </summary>
public sealed class DistributedException : Exception
{
    /// <summary>Creates the exception with its message.</summary>
    public DistributedException(string message) : base(message) { }

    /// <summary>Creates the exception with its message and the exception that caused it.</summary>
    public DistributedException(string message, Exception inner) : base(message, inner) { }
}
