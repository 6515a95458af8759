namespace SharpGrad;

/// <summary>
/// The managed memory behind one or more tensors (PyTorch: <c>torch.UntypedStorage</c>).
/// Views share a storage, and with it the version counter that in-place ops bump.
/// </summary>
internal abstract class Storage
{
    private static long s_sequence;

    /// <summary>Bumped by every in-place op on any tensor that shares this storage.</summary>
    public int Version;

    /// <summary>Creation order: an op's result is a storage created after the op started (see <see cref="CachingAllocator"/>).</summary>
    internal readonly long Sequence = Interlocked.Increment(ref s_sequence);

    /// <summary>The sequence number the next storage will get (compare with <see cref="Sequence"/> to find what an op created).</summary>
    internal static long NextSequence => Volatile.Read(ref s_sequence) + 1;

    /// <summary>How many autograd nodes save a tensor over this storage (they hold it until backward releases them).</summary>
    internal int Holders;

    /// <summary>The array came from <see cref="CachingAllocator"/> (not from the user): it may go back there.</summary>
    internal bool Recyclable;

    /// <summary>Only SharpGrad's own code holds tensors over this storage (an intermediate of a Sequential, a gradient inside the engine).</summary>
    internal bool Internal;

    /// <summary>Handed to user code (a <c>Grad</c> getter, a hook, <c>Autograd.Grad</c>): never recycled, whatever else holds it.</summary>
    internal bool Escaped;

    /// <summary>
    /// The copy of a compiled program's output that its generated method returned (<see cref="CompiledSupport.Output(float[], int, int[])"/>):
    /// a loss applied straight to that call may read it as its own input (a fused loss head) and take the array over.
    /// </summary>
    internal bool CompiledOutput;

    private int _released;

    /// <summary>The array went back to the caching allocator: a tensor over this storage must not be used any more.</summary>
    internal bool Released => _released != 0;

    public abstract int Length { get; }

    public abstract DType DType { get; }

    public abstract Array Array { get; }

    /// <summary>A zero-filled storage of <paramref name="length"/> elements, its array from the caching allocator.</summary>
    public static Storage Allocate(DType dtype, int length)
    {
        Serialization.AllocationBudget.Charge(dtype, length); // bounded only while a model is rebuilt from a file
        return AllocateCore(dtype, length);
    }

    /// <summary>
    /// A float32 storage of <paramref name="data"/>'s first <paramref name="length"/> elements, its array from the caching
    /// allocator (recycled like any tensor's when SharpGrad drops it): a copy that allocates nothing in the steady state.
    /// </summary>
    public static Storage<float> CopyOf(float[] data, int length)
    {
        Serialization.AllocationBudget.Charge(DType.Float32, length);
        var array = CachingAllocator.Rent<float>(length, clear: false);   // every element is overwritten below
        data.AsSpan(0, length).CopyTo(array);
        return new Storage<float>(array) { Recyclable = true };
    }

    /// <summary>
    /// A storage of <paramref name="length"/> elements whose values are unspecified (PyTorch: <c>torch.empty</c>), for a
    /// caller that overwrites every element (a gather of whole rows): neither a cached array nor a new one is cleared.
    /// </summary>
    internal static Storage AllocateUninitialized(DType dtype, int length)
    {
        Serialization.AllocationBudget.Charge(dtype, length);
        return AllocateCore(dtype, length, clear: false);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static Storage AllocateCore(DType dtype, int length, bool clear = true) => dtype switch
    {
        DType.Float32 => new Storage<float>(CachingAllocator.Rent<float>(length, clear)) { Recyclable = true },
        DType.Float64 => new Storage<double>(CachingAllocator.Rent<double>(length, clear)) { Recyclable = true },
        DType.Int64 => new Storage<long>(CachingAllocator.Rent<long>(length, clear)) { Recyclable = true },
        DType.Int32 => new Storage<int>(CachingAllocator.Rent<int>(length, clear)) { Recyclable = true },
        DType.Bool => new Storage<bool>(CachingAllocator.Rent<bool>(length, clear)) { Recyclable = true },
        DType.UInt8 => new Storage<byte>(CachingAllocator.Rent<byte>(length, clear)) { Recyclable = true },
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown dtype."),
    };

    /// <summary>
    /// Gives the array back to the caching allocator if nothing outside SharpGrad can reach this storage any more: it is
    /// <see cref="Internal"/>, not <see cref="Escaped"/>, saved by no node, and came from the allocator. Called at the
    /// points where SharpGrad drops its own references (backward freeing a node's saved tensors, the engine consuming a
    /// gradient, ZeroGrad dropping a gradient, a Sequential passing an intermediate on). Returns whether it did.
    /// </summary>
    internal bool TryRecycle()
    {
        if (!Recyclable || !Internal || Escaped || Volatile.Read(ref Holders) != 0 || !CachingAllocator.Enabled) return false;
        if (Interlocked.Exchange(ref _released, 1) != 0) return false;
        CachingAllocator.Return(Array);
        return true;
    }

    /// <summary>Marks the storage as reachable by user code: it is never recycled.</summary>
    internal void Escape() => Escaped = true;
}

internal sealed class Storage<T>(T[] data) : Storage where T : unmanaged
{
    public readonly T[] Data = data;

    public override int Length => Data.Length;

    public override DType DType => TypeOf<T>.DType;

    public override Array Array => Data;
}

/// <summary>Maps a CLR element type to its <see cref="DType"/> without reflection.</summary>
internal static class TypeOf<T> where T : unmanaged
{
    public static readonly DType DType =
        typeof(T) == typeof(float) ? DType.Float32 :
        typeof(T) == typeof(double) ? DType.Float64 :
        typeof(T) == typeof(long) ? DType.Int64 :
        typeof(T) == typeof(int) ? DType.Int32 :
        typeof(T) == typeof(bool) ? DType.Bool :
        typeof(T) == typeof(byte) ? DType.UInt8 :
        throw new NotSupportedException($"No SharpGrad dtype for element type {typeof(T).Name}.");
}
