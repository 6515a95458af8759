namespace SharpGrad;

/// <summary>
/// The caching allocator of eager mode (PyTorch: <c>c10::CachingAllocator</c>; libtorch keeps freed blocks for reuse the
/// same way): tensor arrays are kept by element type and exact length when SharpGrad knows nothing else can reach them,
/// and handed out again to the next tensor of that size, so a training step that allocates the same intermediates and
/// gradients every time stops allocating (and stops touching fresh pages and paying for garbage collections). The GC owns
/// memory, so arrays come back only at explicit release points (<see cref="Storage.TryRecycle"/>); an array that is never
/// released is simply collected. At most <see cref="MaxCachedBytes"/> are kept.
/// </summary>
internal static class CachingAllocator
{
    /// <summary>The most memory the cache holds (arrays returned beyond it are left to the GC).</summary>
    public const long MaxCachedBytes = 512L << 20;

    /// <summary>Arrays shorter than this are not cached (the bookkeeping would cost more than the allocation).</summary>
    private const int MinLength = 16;

    private static readonly object s_gate = new();
    private static readonly Dictionary<(Type, int), Stack<Array>> s_free = [];
    private static long s_cachedBytes;

    /// <summary>
    /// False when the environment variable <c>SHARPGRAD_NO_MEMORY_CACHING</c> is 1 (PyTorch:
    /// <c>PYTORCH_NO_CUDA_MEMORY_CACHING</c>): nothing is recycled, every tensor gets a new array.
    /// </summary>
    public static readonly bool Enabled = Environment.GetEnvironmentVariable("SHARPGRAD_NO_MEMORY_CACHING") != "1";

    /// <summary>Bytes currently cached (for tests and diagnostics).</summary>
    public static long CachedBytes => Volatile.Read(ref s_cachedBytes);

    /// <summary>A zero-filled array of exactly <paramref name="length"/> elements: a cached one (cleared) or a new one.</summary>
    public static T[] Rent<T>(int length) where T : unmanaged => Rent<T>(length, clear: true);

    /// <summary>
    /// An array of exactly <paramref name="length"/> elements, a cached one or a new one; a cached one keeps its old values
    /// unless <paramref name="clear"/> (for a caller that overwrites every element: a copy).
    /// </summary>
    public static T[] Rent<T>(int length, bool clear) where T : unmanaged
    {
        if (length >= MinLength)
        {
            T[]? found = null;
            lock (s_gate)
            {
                if (s_free.TryGetValue((typeof(T), length), out var stack) && stack.Count > 0)
                {
                    found = (T[])stack.Pop();
                    s_cachedBytes -= (long)length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
                }
            }
            if (found is not null)
            {
                if (clear) Array.Clear(found);
                return found;
            }
        }
        return new T[length];
    }

    /// <summary>Keeps <paramref name="array"/> for a later <see cref="Rent{T}(int)"/> of its length (the caller no longer uses it).</summary>
    public static void Return(Array array)
    {
        int length = array.Length;
        if (length < MinLength || !Enabled) return;
        long bytes = (long)length * (array switch { float[] => 4, double[] => 8, long[] => 8, int[] => 4, _ => 1 });
        lock (s_gate)
        {
            if (s_cachedBytes + bytes > MaxCachedBytes) return;
            var key = (array.GetType().GetElementType()!, length);
            if (!s_free.TryGetValue(key, out var stack)) s_free[key] = stack = new Stack<Array>();
            stack.Push(array);
            s_cachedBytes += bytes;
        }
    }

    /// <summary>Drops every cached array (PyTorch: <c>torch.cuda.empty_cache</c>), e.g. before measuring memory.</summary>
    public static void EmptyCache()
    {
        lock (s_gate)
        {
            s_free.Clear();
            s_cachedBytes = 0;
        }
    }
}
