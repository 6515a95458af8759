namespace SharpGrad.Kernels;

/// <summary>
/// The process-wide limit on the number of threads the kernels use (PyTorch: <c>torch.set_num_threads</c>).
/// Defaults to the number of processors; 1 makes every kernel run on the calling thread.
/// </summary>
public static class Parallelism
{
    private static int _maxThreads = Environment.ProcessorCount;
    private static ParallelOptions _options = new() { MaxDegreeOfParallelism = Environment.ProcessorCount };

    /// <summary>The maximum number of threads a kernel uses (PyTorch: <c>torch.get_num_threads</c>/<c>torch.set_num_threads</c>).</summary>
    public static int MaxThreads
    {
        get => _maxThreads;
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(value), value, $"Parallelism.MaxThreads: expected at least 1 thread, but got {value}.");
            _maxThreads = value;
            _options = new ParallelOptions { MaxDegreeOfParallelism = value };
        }
    }

    /// <summary>The options the kernels pass to <c>Parallel.For</c> (MaxDegreeOfParallelism = <see cref="MaxThreads"/>).</summary>
    internal static ParallelOptions Options => _options;
}
