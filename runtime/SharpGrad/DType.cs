namespace SharpGrad;

/// <summary>The element type of a <see cref="Tensor"/> (PyTorch: <c>torch.dtype</c>).</summary>
public enum DType
{
    /// <summary>32-bit float (<c>torch.float32</c>), the fast path.</summary>
    Float32,
    /// <summary>64-bit float (<c>torch.float64</c>), used for gradient checks.</summary>
    Float64,
    /// <summary>64-bit integer (<c>torch.int64</c>): labels and indices.</summary>
    Int64,
    /// <summary>32-bit integer (<c>torch.int32</c>).</summary>
    Int32,
    /// <summary>Boolean (<c>torch.bool</c>): masks and comparison results.</summary>
    Bool,
    /// <summary>Unsigned byte (<c>torch.uint8</c>): raw data such as image pixels.</summary>
    UInt8,
}

/// <summary>Facts about <see cref="DType"/> values.</summary>
public static class DTypes
{
    /// <summary>True for <see cref="DType.Float32"/> and <see cref="DType.Float64"/> (PyTorch: <c>dtype.is_floating_point</c>).</summary>
    public static bool IsFloatingPoint(this DType dtype) => dtype is DType.Float32 or DType.Float64;

    /// <summary>The size of one element in bytes (PyTorch: <c>dtype.itemsize</c>).</summary>
    public static int ElementSize(this DType dtype) => dtype switch
    {
        DType.Float32 => 4,
        DType.Float64 => 8,
        DType.Int64 => 8,
        DType.Int32 => 4,
        DType.Bool => 1,
        DType.UInt8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown dtype."),
    };

    /// <summary>The dtype of the result of a binary op between <paramref name="a"/> and <paramref name="b"/>
    /// (PyTorch: <c>torch.promote_types</c>).</summary>
    public static DType Promote(DType a, DType b)
    {
        if (a == b) return a;
        static int Rank(DType d) => d switch
        {
            DType.Bool => 0,
            DType.UInt8 => 1,
            DType.Int32 => 2,
            DType.Int64 => 3,
            DType.Float32 => 4,
            _ => 5,
        };
        return Rank(a) >= Rank(b) ? a : b;
    }
}
