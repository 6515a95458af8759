namespace SharpGrad;

/// <summary>
/// The managed memory behind one or more tensors (PyTorch: <c>torch.UntypedStorage</c>).
/// Views share a storage, and with it the version counter that in-place ops bump.
/// </summary>
internal abstract class Storage
{
    /// <summary>Bumped by every in-place op on any tensor that shares this storage.</summary>
    public int Version;

    public abstract int Length { get; }

    public abstract DType DType { get; }

    public abstract Array Array { get; }

    public static Storage Allocate(DType dtype, int length)
    {
        Serialization.AllocationBudget.Charge(dtype, length); // bounded only while a model is rebuilt from a file
        return AllocateCore(dtype, length);
    }

    private static Storage AllocateCore(DType dtype, int length) => dtype switch
    {
        DType.Float32 => new Storage<float>(new float[length]),
        DType.Float64 => new Storage<double>(new double[length]),
        DType.Int64 => new Storage<long>(new long[length]),
        DType.Int32 => new Storage<int>(new int[length]),
        DType.Bool => new Storage<bool>(new bool[length]),
        DType.UInt8 => new Storage<byte>(new byte[length]),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown dtype."),
    };
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
