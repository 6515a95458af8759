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
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
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
            // A caller that overwrites every element does not need the GC to clear a new array either.
            var array = clear ? new T[length] : GC.AllocateUninitializedArray<T>(length);
            CountNewLargeArray(array, (long)length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
            return array;
        }
        return new T[length];
    }

    /// <summary>
    /// Arrays of at least this many bytes go to the GC's large object heap by default (the runtime's
    /// <c>System.GC.LOHThreshold</c>; SharpGrad's package raises it, see <c>build/SharpGrad.props</c>): smaller arrays are
    /// never checked.
    /// </summary>
    private const long LargeObjectBytes = 85_000;

    /// <summary>
    /// New large arrays (allocated, not reused) after which the allocator asks for a background gen-2 collection
    /// (PyTorch: the CUDA caching allocator's <c>garbage_collection_threshold</c>). A tensor the user holds cannot come
    /// back here, and the GC collects the large object heap only in gen-2 collections, which a loop that allocates little
    /// else (a compiled training step: 0 B) never triggers: each new batch (64 MNIST images: 200 KB) then lands on fresh
    /// pages, one page fault per 4 KB, and the step runs on cold memory (docs/performance.md, "mnist_mlp_5_epochs").
    /// </summary>
    internal const long CollectAfterLargeBytes = 32L << 20;

    private static long s_newLargeBytes;
    private static int s_gen2Seen;
    private static int s_collectionsRequested;

    /// <summary>How many gen-2 collections the allocator has asked for (tests read it: the collection itself runs when the GC decides).</summary>
    internal static int CollectionsRequested => Volatile.Read(ref s_collectionsRequested);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void CountNewLargeArray(Array array, long bytes)
    {
        // Only arrays that did land on the large object heap count (it reports them as generation 2): with a raised
        // System.GC.LOHThreshold a batch-sized array is an ordinary gen-0 object, reclaimed by the next gen-0 collection.
        if (bytes < LargeObjectBytes || !Enabled || GC.GetGeneration(array) != 2) return;
        int gen2 = GC.CollectionCount(2);
        if (gen2 != Volatile.Read(ref s_gen2Seen))
        {
            // a gen-2 collection ran since the last count: what was allocated before it has been reclaimed or is alive
            Volatile.Write(ref s_gen2Seen, gen2);
            Volatile.Write(ref s_newLargeBytes, 0);
        }
        if (Interlocked.Add(ref s_newLargeBytes, bytes) < CollectAfterLargeBytes) return;
        Volatile.Write(ref s_newLargeBytes, 0);
        Interlocked.Increment(ref s_collectionsRequested);
        GC.Collect(2, GCCollectionMode.Forced, blocking: false);   // a background collection where the runtime has one
    }

    /// <summary>
    /// Tests: fill every array that comes back with NaN (float, double) or −1 (integers), so that code still reading memory
    /// it gave back reads garbage at once instead of only when the array happens to be handed out again.
    /// </summary>
    internal static bool PoisonReturned;

    /// <summary>Keeps <paramref name="array"/> for a later <see cref="Rent{T}(int)"/> of its length (the caller no longer uses it).</summary>
    public static void Return(Array array)
    {
        int length = array.Length;
        if (length < MinLength || !Enabled) return;
        if (PoisonReturned) Poison(array);
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

    private static void Poison(Array array)
    {
        switch (array)
        {
            case float[] f: f.AsSpan().Fill(float.NaN); break;
            case double[] d: d.AsSpan().Fill(double.NaN); break;
            case long[] l: l.AsSpan().Fill(-1); break;
            case int[] i: i.AsSpan().Fill(-1); break;
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
