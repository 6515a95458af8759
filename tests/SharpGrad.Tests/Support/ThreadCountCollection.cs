namespace SharpGrad.Tests.Support;

/// <summary>
/// Every test class that sets <see cref="SharpGrad.Kernels.Parallelism.MaxThreads"/> (process-wide, like <c>torch.set_num_threads</c>) runs in
/// this collection, alone: a class running in parallel that sets it too would turn another's 1-thread pass into a 2-thread
/// one or back (a recurrent last-step test compared a 1-thread pass with one that ran while another class had set 2 threads,
/// and the LSTM's bias gradient, summed per batch part, differed in its last bit), and a class that does not set it would see
/// its two compared runs at different thread counts.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreadCountCollection
{
    /// <summary>The collection's name, for <c>[Collection(ThreadCountCollection.Name)]</c>.</summary>
    public const string Name = "Thread count (Parallelism.MaxThreads)";

    /// <summary>Runs <paramref name="body"/> with <see cref="SharpGrad.Kernels.Parallelism.MaxThreads"/> set to <paramref name="threads"/>, then restores it.</summary>
    public static void WithThreads(int threads, Action body)
    {
        int before = SharpGrad.Kernels.Parallelism.MaxThreads;
        SharpGrad.Kernels.Parallelism.MaxThreads = threads;
        try { body(); }
        finally { SharpGrad.Kernels.Parallelism.MaxThreads = before; }
    }
}
